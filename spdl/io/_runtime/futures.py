"""Work on an executor as a ``Future`` whose cancellation reaches the work.

:func:`submit` runs a function on an executor and returns a Future of its own: it
stays *pending* until the work finishes (``Future.running()`` is always ``False``),
so ``Future.cancel()`` succeeds even on running work. Cancelling it removes queued
work from the executor's queue, and sets the ``CancelToken`` of running native work,
which then stops at its next packet. A failure surfaces as :class:`AsyncIOFailure`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import Executor, Future, InvalidStateError
from typing import Any, TypeVar

from spdl import _native
from spdl.io._runtime import executor as _executor

__all__ = ["AsyncIOFailure", "submit", "submit_with_token", "try_set"]

T = TypeVar("T")


class AsyncIOFailure(RuntimeError):
    """A demux, decode or convert operation failed in the background.

    Raised by ``Future.result()`` and by ``await`` on the objects returned by the
    ``spdl.io`` concurrent and asyncio functions. The message names the phase
    (``"demux"``, ``"decode"`` or ``"convert"``), the source, and contains the
    original error message (FFmpeg's text for media errors). The original exception
    is available as ``__cause__``.

    Attributes:
        phase: The phase that failed, or ``None`` when several sources failed.
        src: A printable description of the source, or ``None``.

    Example:
        >>> future = spdl.io.demux_media("video", "missing.mp4")
        >>> try:
        ...     future.result()
        ... except spdl.io.AsyncIOFailure as failure:
        ...     print(failure.phase, failure.src, type(failure.__cause__).__name__)
        demux missing.mp4 FileNotFoundError
    """

    def __init__(self, message: str, *, phase: str | None = None, src: str | None = None):
        super().__init__(message)
        self.phase = phase
        self.src = src

    @classmethod
    def wrap(cls, phase: str, src: str, error: BaseException) -> AsyncIOFailure:
        """Build the failure reported for ``error`` raised while running ``phase``.

        Args:
            phase: ``"demux"``, ``"decode"`` or ``"convert"``.
            src: Description of the source being processed.
            error: The original exception; it becomes ``__cause__``.

        Returns:
            ``error`` itself if it already is an ``AsyncIOFailure``, otherwise a new
            ``AsyncIOFailure`` whose ``__cause__`` is ``error``.
        """
        if isinstance(error, AsyncIOFailure):
            return error
        # A step that spans two phases (a demux helper's audio load) marks its errors.
        phase = getattr(error, "spdl_phase", phase)
        detail = f"{type(error).__name__}: {error}"
        # Media errors usually name the source already; do not repeat it.
        where = "" if src in str(error) else f" {src}"
        failure = cls(f"Failed to {phase}{where}: {detail}", phase=phase, src=src)
        failure.__cause__ = error
        return failure


def try_set(setter: Callable[[Any], None], value: Any) -> None:
    """Call ``setter(value)`` unless the Future is already done (e.g. cancelled).

    Args:
        setter: ``future.set_result`` or ``future.set_exception``.
        value: The result or exception.
    """
    # The outer Future may have been cancelled while the work ran: drop the outcome.
    try:
        setter(value)
    except InvalidStateError:
        pass


def drop_own_frame(error: BaseException) -> None:
    """Remove the catching frame from ``error``'s traceback.

    A Future that stores an exception caught in a frame that refers to the Future
    (through a closure or ``self``) would form the cycle Future -> exception ->
    traceback -> frame -> Future, which keeps the failed work's inputs (packets,
    frames: possibly megabytes) until a garbage-collection pass. The dropped frame
    is spdl's plumbing; the frames where the error was raised stay.

    Args:
        error: An exception being handled in the caller's frame.
    """
    if error.__traceback__ is not None:
        error.__traceback__ = error.__traceback__.tb_next


def submit(
    executor: Executor,
    fn: Callable[[], T],
    *,
    phase: str,
    src: str,
    token: _native.CancelToken | None = None,
    wrap: bool = True,
) -> Future[T]:
    """Run ``fn`` on ``executor``; return a Future whose cancellation reaches the work.

    Args:
        executor: Where ``fn`` runs.
        fn: The work, without arguments.
        phase: Phase named in :class:`AsyncIOFailure` messages.
        src: Source named in :class:`AsyncIOFailure` messages.
        token: The ``CancelToken`` that ``fn`` watches, set when the Future is
            cancelled; ``None`` for work that cannot stop once started.
        wrap: Whether a failure becomes an :class:`AsyncIOFailure` (else it stays as is).

    Returns:
        A Future of ``fn``'s result, failing with :class:`AsyncIOFailure` (``wrap``) or
        with ``fn``'s own error.
    """
    outer: Future[T] = Future()
    # `run` takes the Future out of this box instead of closing over it, and drops it
    # when done: a failure's traceback keeps run's frame (and the frames it called
    # link back to it), and a frame that still held the Future would make the cycle
    # Future -> exception -> traceback -> frame -> Future.
    box = [outer]

    def run() -> None:
        future = box.pop()
        try:
            if future.done():  # cancelled between dequeue and start
                return
            try:
                with _executor.track_cancel_token(token):
                    result = fn()
            except Exception as error:
                drop_own_frame(error)
                # No local may hold the failure: the frames of its cause link back here.
                try_set(
                    future.set_exception, AsyncIOFailure.wrap(phase, src, error) if wrap else error
                )
            except BaseException as error:  # KeyboardInterrupt, SystemExit
                try_set(future.set_exception, error)
                raise
            else:
                try_set(future.set_result, result)
        finally:
            del future

    inner = executor.submit(run)
    # Each callback drops its link once it has fired: Futures keep their callbacks,
    # and two Futures whose callbacks refer to each other would form a cycle that
    # holds the result (a whole decoded batch) until the garbage collector runs.
    links: dict[str, Future[Any]] = {"inner": inner, "outer": outer}

    def on_outer_done(future: Future[T]) -> None:
        other = links.pop("inner", None)
        if future.cancelled() and other is not None:
            other.cancel()  # drops it from the queue if it has not started
            if token is not None:
                token.cancel()  # stops a running native decode at its next packet

    def on_inner_done(future: Future[None]) -> None:
        other = links.pop("outer", None)
        if future.cancelled() and other is not None:
            other.cancel()  # e.g. the executor was shut down with cancel_futures=True

    outer.add_done_callback(on_outer_done)
    inner.add_done_callback(on_inner_done)
    return outer


def submit_with_token(
    fn: Callable[[_native.CancelToken], T],
    *,
    phase: str,
    src: str,
    executor: Executor | None = None,
) -> Future[T]:
    """Run ``fn(cancel_token)`` on the decode pool; cancelling the Future sets the token.

    Args:
        fn: Native work that takes a ``CancelToken`` and stops when it is set.
        phase: Phase named in :class:`AsyncIOFailure` messages.
        src: Source named in :class:`AsyncIOFailure` messages.
        executor: Executor to run on instead of the shared decode pool.

    Returns:
        A Future of ``fn``'s result.
    """
    token = _native.CancelToken()
    return submit(
        executor or _executor.get_decode_executor(),
        functools.partial(fn, token),
        phase=phase,
        src=src,
        token=token,
    )
