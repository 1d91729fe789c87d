"""Composing Futures without blocking a thread: :func:`chain_futures`, :func:`wait_futures`.

Everything here runs from ``add_done_callback``: a step resumes in the thread that
finished the Future it waited on, and cancelling the composed Future cancels the
Futures it is waiting on.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import CancelledError, Future
from threading import RLock
from typing import Any, ParamSpec, TypeVar

from spdl.io._runtime.futures import AsyncIOFailure, drop_own_frame, try_set

__all__ = ["chain_futures", "drive", "gather_futures", "wait_futures"]

_LG = logging.getLogger("spdl.io")

P = ParamSpec("P")
T = TypeVar("T")


def _outcome(future: Future[Any]) -> tuple[Any, BaseException | None]:
    if future.cancelled():
        return None, CancelledError()
    error = future.exception()
    if error is not None:
        return None, error
    return future.result(), None


def chain_futures(
    generator_function: Callable[P, Generator[Future[Any], Any, Any]],
) -> Callable[P, Future[Any]]:
    """Turn a generator of Futures into a function that returns one Future.

    The decorated generator yields Futures. When a yielded Future finishes, its result
    is sent back into the generator (or its exception thrown in, where the generator
    may catch it), all from ``add_done_callback``: no thread ever blocks waiting. The
    returned Future resolves to the result of the last yielded Future (or to the value
    the generator ``return``s, if not ``None``), or fails with the first error the
    generator does not handle. The generator runs up to its first ``yield`` during
    the call, so argument errors raised there reach the caller directly.

    Cancelling the returned Future cancels the Future the generator is waiting on and
    closes the generator.

    Args:
        generator_function: A generator function that yields
            ``concurrent.futures.Future`` objects.

    Returns:
        A function with the same arguments that returns a ``concurrent.futures.Future``.

    Raises:
        TypeError: (through the returned Future) if the generator yields something
            other than a Future.

    Example:
        >>> @spdl.io.chain_futures
        ... def load_image(src):
        ...     packets = yield spdl.io.demux_media("image", src)
        ...     frames = yield spdl.io.decode_packets(packets)
        ...     yield spdl.io.convert_frames(frames)
        >>> buffer = load_image("foo.jpg").result()
        >>> buffer.shape
        (240, 320, 3)
    """

    @functools.wraps(generator_function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Future[Any]:
        generator = generator_function(*args, **kwargs)
        if not inspect.isgenerator(generator):
            raise TypeError(
                f"{generator_function.__qualname__} must be a generator function "
                f"(one that yields Futures), got a {type(generator).__name__} from it."
            )
        return _Chain(generator).start()

    return wrapper


def drive(generator: Generator[Any, Any, T], to_future: Callable[[Any], Future[Any]]) -> Future[T]:
    """:func:`chain_futures` for a generator that yields objects ``to_future`` starts.

    Args:
        generator: Yields what ``to_future`` turns into Futures (``_operation.Step``).
        to_future: Called, in the thread that resumed the generator, for each yield.

    Returns:
        The Future of the generator's return value.
    """
    return _Chain(generator, to_future).start()


class _Waiting:
    """The Future a chain waits on, guarded by the lock that also guards its generator.

    The result's done-callback holds this, not the chain: Futures keep their
    callbacks, and a callback bound to the chain would form the cycle result ->
    callback -> chain -> result, keeping the result until a garbage-collection pass.
    """

    __slots__ = ("lock", "future")

    def __init__(self) -> None:
        self.lock = RLock()
        self.future: Future[Any] | None = None

    def cancel_on_cancelled(self, result: Future[Any]) -> None:
        # Without the lock: its holder may be submitting the next step to a pool whose
        # shutdown(cancel_futures=True) runs this callback under the lock submit needs.
        # A Future set after this read is cancelled by _wait, which checks the result.
        if result.cancelled() and (future := self.future) is not None:
            future.cancel()


class _Chain:
    """Drive a generator of Futures with done-callbacks (see :func:`chain_futures`)."""

    def __init__(
        self,
        generator: Generator[Any, Any, Any],
        to_future: Callable[[Any], Future[Any]] | None = None,
    ):
        self._generator = generator
        self._to_future = to_future
        self._result: Future[Any] = Future()
        self._waiting = _Waiting()
        self._lock = self._waiting.lock  # guards the generator and `_waiting.future`
        self._last: Any = None

    def start(self) -> Future[Any]:
        try:
            first = next(self._generator)
        except StopIteration as stop:
            self._result.set_result(stop.value)
            return self._result
        self._result.add_done_callback(self._waiting.cancel_on_cancelled)
        self._wait(first)
        return self._result

    def _wait(self, future: object) -> None:
        if self._to_future is not None:
            try:
                future = self._to_future(future)
            except Exception as error:  # e.g. the pool is shut down: the generator sees it
                self._step(None, error)
                return
        if not isinstance(future, Future):
            self._step(
                None,
                TypeError(
                    "A function decorated with chain_futures must yield "
                    f"concurrent.futures.Future objects, got {type(future).__name__}."
                ),
            )
            return
        with self._lock:
            self._waiting.future = future
        if self._result.cancelled():
            future.cancel()
        future.add_done_callback(self._on_yielded_done)

    def _on_yielded_done(self, future: Future[Any]) -> None:
        value, error = _outcome(future)
        self._step(value, error)

    def _step(self, value: Any, error: BaseException | None) -> None:
        # Resume the generator until it yields a Future that is not done yet.
        while True:
            with self._lock:
                self._waiting.future = None
                if self._result.done():  # cancelled from outside
                    self._generator.close()
                    return
                if error is None:
                    self._last = value
                try:
                    if error is not None:
                        future = self._generator.throw(error)
                    else:
                        future = self._generator.send(value)
                except StopIteration as stop:
                    outcome = self._last if stop.value is None else stop.value
                    try_set(self._result.set_result, outcome)
                    return
                except CancelledError:
                    self._result.cancel()
                    return
                except BaseException as unhandled:
                    drop_own_frame(unhandled)
                    if unhandled is error:
                        _drop_generator_frames(unhandled)
                    try_set(self._result.set_exception, unhandled)
                    return
            if isinstance(future, Future) and future.done():
                value, error = _outcome(future)
                continue
            self._wait(future)
            return


def _drop_generator_frames(error: BaseException) -> None:
    """Remove the generators' frames from the head of ``error``'s traceback.

    Called for an error the chain threw into its generator and that came back out:
    those frames (the chain's generator, and any it delegates to with ``yield from``)
    only mark the ``yield`` it passed through. From Python 3.12 a finished
    generator's frame also links back (``f_back``) to the frame that resumed it,
    which holds the chain, so keeping them would keep the chain's Future, and the
    error in it, until a garbage-collection pass.
    """
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_flags & inspect.CO_GENERATOR:
        tb = tb.tb_next
    error.__traceback__ = tb


def wait_futures(futures: Sequence[Future[T]], strict: bool = True) -> Future[list[T]]:
    """Return a Future that resolves when all the given Futures are done.

    Nothing blocks: completion is tracked with ``add_done_callback``. Cancelling the
    returned Future cancels the input Futures that are not done.

    Args:
        futures: The Futures to wait for.
        strict: If ``True``, the returned Future fails with the first error among
            ``futures`` as soon as it happens. If ``False``, failures are logged
            (logger ``"spdl.io"``) and the results of the successful Futures are
            returned; if every Future failed, the returned Future fails with
            :class:`AsyncIOFailure`.

    Returns:
        A Future resolving to the results in the order of ``futures`` (only the
        successful ones when ``strict=False``). An empty input resolves to ``[]``.

    Raises:
        TypeError: If an element of ``futures`` is not a ``concurrent.futures.Future``.

    Example:
        >>> futures = [spdl.io.demux_media("image", src) for src in ["foo.jpg", "bar.png"]]
        >>> packets = spdl.io.wait_futures(futures).result()
        >>> [p.codec_name for p in packets]
        ['mjpeg', 'png']
    """

    def log(index: int, error: BaseException) -> None:
        _LG.error("Future #%d failed: %s: %s", index, type(error).__name__, error)

    return gather_futures(futures, strict=strict, on_error=None if strict else log)


def gather_futures(
    futures: Iterable[Future[T]],
    *,
    strict: bool,
    on_error: Callable[[int, BaseException], None] | None = None,
    cancel_on_failure: bool = False,
) -> Future[list[T]]:
    """Implementation of :func:`wait_futures`, with a failure hook and lazy starting.

    ``futures`` may be a lazy iterable whose iteration *starts* the work (a generator
    expression of ``demux_media(...)`` calls, say). It is then consumed one Future at
    a time, and never again once the returned Future is done: after a strict failure
    (or a cancellation) no further work is started. Pulling the next Future and
    registering it happen under the same lock that the failure path takes before it
    cancels the registered Futures, so each started Future is either seen by that
    cancellation or is the last one started, and the failure is noticed before
    starting another. With a 1-worker executor this means no work queued after the
    failing one ever runs.

    Args:
        futures: The Futures to wait for: a sequence, or a lazy iterable of them.
        strict: See :func:`wait_futures`.
        on_error: Called as ``on_error(index, error)`` for each input that fails
            (cancelled inputs included) before the result is decided.
        cancel_on_failure: With ``strict``, cancel the other inputs as soon as one
            fails (queued work is dropped, running decodes stop at their next packet).

    Returns:
        See :func:`wait_futures`.

    Raises:
        TypeError: If an element of ``futures`` is not a ``concurrent.futures.Future``
            (for a sequence, before anything is waited on).
    """
    is_sequence = isinstance(futures, Sequence)
    if is_sequence:
        futures = list(futures)
        for future in futures:
            _check_is_future(future)
    result: Future[list[T]] = Future()
    lock = RLock()  # guards `tracked`, `state`, and pulling from `futures`
    tracked: list[Future[T]] = []  # inputs whose outcome counts, in input order
    # Every input that may be running: all of a sequence, the pulled ones of an iterable.
    started: list[Future[T]] = list(futures) if is_sequence else tracked
    state = {"remaining": 0, "all_tracked": False}

    def finish() -> None:
        outcomes = [_outcome(f) for f in tracked]
        values = [value for value, error in outcomes if error is None]
        errors = [error for _, error in outcomes if error is not None]
        if strict and errors:
            try_set(result.set_exception, errors[0])
        elif errors and not values:
            failure = AsyncIOFailure(
                f"All {len(tracked)} futures failed. First error: "
                f"{type(errors[0]).__name__}: {errors[0]}"
            )
            failure.__cause__ = errors[0]
            try_set(result.set_exception, failure)
        else:
            try_set(result.set_result, values)

    def on_done(index: int, future: Future[T]) -> None:
        _, error = _outcome(future)
        if error is not None and not result.done():
            if on_error is not None:
                on_error(index, error)
            if strict:
                try_set(result.set_exception, error)
        with lock:
            state["remaining"] -= 1
            last = state["all_tracked"] and state["remaining"] == 0
            drained = state["remaining"] == 0 and (last or result.done())
        if last:
            finish()
        if drained:
            # Every input keeps its callbacks (this one among them): holding the inputs
            # in these lists would keep them, and their results, in a cycle for the GC.
            with lock:
                tracked.clear()
                started.clear()

    def on_result_done(res: Future[list[T]]) -> None:
        if res.cancelled() or (cancel_on_failure and res.exception() is not None):
            with lock:
                to_cancel = list(started)
            for future in to_cancel:
                future.cancel()

    result.add_done_callback(on_result_done)
    iterator = iter(futures)
    while not result.done():  # a strict failure: start nothing more
        # Pulled without the lock: pulling may submit work, and a pool that cancels
        # its queue (shutdown) runs on_result_done, which takes the lock, in its own.
        try:
            future = next(iterator)
            _check_is_future(future)
        except StopIteration:
            with lock:
                state["all_tracked"] = True
                last = state["remaining"] == 0
            if last:
                finish()
            return result
        except BaseException:
            result.cancel()  # cancels what was started (on_result_done)
            raise
        with lock:
            late = result.done()  # on_result_done has not seen this one
            if not late:
                index = len(tracked)
                tracked.append(future)
                state["remaining"] += 1
        if late:
            if result.cancelled() or (cancel_on_failure and result.exception() is not None):
                future.cancel()
            return result
        future.add_done_callback(functools.partial(on_done, index))
    return result


def _check_is_future(future: object) -> None:
    if not isinstance(future, Future):
        raise TypeError(
            f"wait_futures expects concurrent.futures.Future objects, got {type(future).__name__}."
        )
