"""One declaration per operation; its sync, Future and asyncio forms are generated.

An operation is a *plan*: a function that checks its arguments (``ValueError`` /
``TypeError`` in the caller) and returns a :class:`Step`, or a generator of Steps (a
loader) that is sent each step's result. :func:`operation` makes three functions of
it with its parameters: *sync* runs the steps in the calling thread; *future* submits
each to its pool (chained by ``chain_futures``) and returns a Future; *async* calls
the future form and returns a :class:`Queued` coroutine. ``wrap`` is the error
contract of all three: ``AsyncIOFailure`` naming source and phase, or the phase's own
error. docs/architecture.md ("One declaration, three forms") tells the whole story,
the docstring templates included.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import re
import textwrap
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeAlias, TypeVar, cast, overload

from spdl import _native
from spdl.io._runtime import executor as _executor
from spdl.io._runtime.chain import drive
from spdl.io._runtime.futures import AsyncIOFailure, drop_own_frame, submit, try_set
from spdl.io._runtime.window_order import after_previous_window

__all__ = ["OPERATIONS", "Forms", "Operation", "Plan", "Queued", "Step", "StreamOperation"]
__all__ += ["operation"]

T = TypeVar("T")


@dataclass(frozen=True)
class Step(Generic[T]):
    """One phase: ``run()`` on the ``"demux"``, ``"decode"`` or ``"io"`` pool, named in errors.

    A ``cancellable`` step's ``run`` takes ``cancel=`` (a ``CancelToken``); a stream's
    returns an iterator of ``count`` items. A ``spawn`` step's ``run(executor=)`` is
    called in the caller's thread and returns the Future of work it started itself
    (several sources at once); the sync form waits for it. A step with a decode
    session ``window`` is submitted once the window before it is decoded
    (:mod:`spdl.io._runtime.window_order`).
    """

    phase: str
    src: str
    run: Callable[..., T]
    pool: str = "decode"
    cancellable: bool = False
    count: int = 0
    spawn: bool = False
    window: tuple[int, int] | None = None

    def submit(self, executor: Executor | None, wrap: bool) -> Future[T]:
        if self.spawn:
            return cast("Future[T]", self.run(executor=executor))  # run starts it
        token = _native.CancelToken() if self.cancellable else None
        run = functools.partial(self.run, cancel=token) if token else self.run

        def start(pool: Executor | None = None) -> Future[T]:
            # A waiting window looks its pool up when it starts (or is given one).
            pool = pool or executor or getattr(_executor, f"get_{self.pool}_executor")()
            return submit(pool, run, phase=self.phase, src=self.src, token=token, wrap=wrap)

        return start() if self.window is None else after_previous_window(self.window, start)

    def failure(self, error: Exception, wrap: bool) -> Exception:
        return AsyncIOFailure.wrap(self.phase, self.src, error) if wrap else error


Plan = Generator[Step[Any], Any, T]


def _single(step: Step[T]) -> Plan[T]:
    return (yield step)


def run_inline(plan: Step[T] | Plan[T], wrap: bool) -> T:
    """The sync form: each step in the calling thread."""
    steps = _single(plan) if isinstance(plan, Step) else plan
    send, value = steps.send, None
    while True:
        try:
            step = send(value)
        except StopIteration as stop:
            return stop.value
        finally:
            value = None  # a failure thrown in must not stay in this frame (a cycle)
        try:
            send, value = steps.send, _run_here(step)
        except Exception as error:
            send, value = steps.throw, step.failure(error, wrap)


def _run_here(step: Step[T]) -> T:
    if step.spawn:
        return _wait_for(cast("Future[T]", step.run(executor=None)))  # no local: no cycle
    if not step.cancellable:
        return step.run()
    token = _native.CancelToken()
    with _executor.track_cancel_token(token, in_caller=True):  # exit stops a daemon's
        return step.run(cancel=token)


def _wait_for(future: Future[T] | None) -> T:
    """``future.result()`` in the sync forms, cancelling it when the wait is interrupted."""
    assert future is not None
    try:
        return future.result()
    finally:
        future.cancel()  # no-op when done; stops the work on KeyboardInterrupt
        # The error's traceback holds this frame: without the Future in it, no cycle
        # keeps the Future, the error and the caller's sources alive until a GC pass.
        future = None


def _check_executor(executor: object) -> None:
    if executor is not None and not isinstance(executor, Executor):
        name = type(executor).__name__
        raise TypeError(f"`executor` must be a concurrent.futures.Executor, got {name}.")


def run_future(plan: Step[T] | Plan[T], wrap: bool, executor: Executor | None) -> Future[T]:
    """The future form: each step on its pool, a composite's steps chained by callbacks."""
    _check_executor(executor)
    if isinstance(plan, Step):
        return plan.submit(executor, wrap)
    return drive(plan, lambda step: step.submit(executor, wrap))


class Queued(Coroutine[Any, Any, T], Generic[T]):
    """The coroutine an ``async_*`` function returns: it waits for work already queued.

    Cancelling the task that awaits it, closing it, or dropping it unawaited cancels
    the work. It is a ``collections.abc.Coroutine`` (``asyncio.iscoroutine`` is true),
    so ``asyncio.run``, ``create_task``, ``gather`` and ``TaskGroup`` take it.
    """

    __slots__ = ("throw", "close", "_steps", "_awaited")
    # The generator's own methods: no frame of ours enters a traceback (a cycle).
    throw: Callable[..., Any]
    close: Callable[[], None]

    def __init__(self, future: Future[T]) -> None:
        self._steps, self._awaited = _wait(future), False
        next(self._steps)  # started: throw() and close() reach its `except`
        self.throw, self.close = self._steps.throw, self._steps.close

    @property
    def send(self) -> Callable[[Any], Any]:
        # A finished one refuses, as a native coroutine does (a second asyncio.run of
        # it would otherwise give None).
        steps = cast("Any", self._steps)
        return steps.send if steps.gi_frame is not None else _reused

    def __await__(self) -> Generator[Any, None, T]:
        steps = cast("Any", self._steps)  # a generator: gi_frame, gi_yieldfrom
        # A task drives it through send() (it is then past its first yield), and a
        # finished or closed one has no frame: awaiting it again would give None.
        if self._awaited or steps.gi_frame is None or steps.gi_yieldfrom is not None:
            raise RuntimeError("cannot reuse already awaited coroutine")
        self._awaited = True
        return steps


def _reused(value: object) -> None:
    raise RuntimeError("cannot reuse already awaited coroutine")


def _wait(future: Future[T]) -> Generator[Any, None, T]:
    try:
        yield  # a task or an `await` resumes from here
        return (yield from asyncio.wrap_future(future))
    except BaseException as error:
        future.cancel()  # no-op when done; stops the work otherwise
        drop_own_frame(error)  # this frame holds the Future, which holds the error
        raise


def _closed_after(items: Iterator[T], count: int) -> Iterator[T]:
    """``items``, closed once its ``count``-th item is out and before that item is
    handed on: the caller who has the last item may use the source again at once."""
    close = getattr(items, "close", lambda: None)
    try:
        for index, item in enumerate(items, 1):
            if index == count:
                close()
            yield item
            if index == count:
                return
    finally:
        close()


def _stream_inline(step: Step[Iterator[T]], wrap: bool) -> Iterator[T]:
    try:
        yield from _closed_after(
            step.run(cancel=None) if step.cancellable else step.run(), step.count
        )
    except AsyncIOFailure:
        raise
    except Exception as error:
        if not wrap:
            raise
        raise AsyncIOFailure.wrap(step.phase, step.src, error) from error


def _stream_futures(
    step: Step[Iterator[T]], wrap: bool, executor: Executor | None
) -> list[Future[T]]:
    """One task reads the stream and resolves each item's Future as soon as it is ready."""
    _check_executor(executor)
    futures: list[Future[T]] = [Future() for _ in range(step.count)]
    token = _native.CancelToken() if step.cancellable else None

    def run() -> None:
        items, index = None, 0
        try:
            with _executor.track_cancel_token(token):  # interpreter exit stops it too
                items = _closed_after(step.run(cancel=token) if token else step.run(), step.count)
                for index, future in enumerate(futures):
                    if all(f.done() for f in futures[index:]):
                        return  # everything left was cancelled
                    try_set(future.set_result, next(items))
        except Exception as error:
            drop_own_frame(error)  # this frame holds the Futures the error goes into
            for late in futures[index:]:
                try_set(late.set_exception, step.failure(error, wrap))
        except BaseException as error:  # SystemExit, KeyboardInterrupt: as submit() does
            for late in futures[index:]:  # (the items' Futures waited forever)
                try_set(late.set_exception, error)
            raise
        finally:
            getattr(items, "close", lambda: None)()  # releases the source

    inner = (executor or getattr(_executor, f"get_{step.pool}_executor")()).submit(run)
    links = _StreamLinks(inner, futures, token)
    for future in [*futures, inner]:
        future.add_done_callback(links.on_done)
    return futures


class _StreamLinks:
    """Cancels a stream's task (and sets its token: a fetch in flight stops) with its
    items' Futures, and the items with the task.

    Every Future keeps its callbacks: once all are done this lets go of them, or the
    Futures (and the items in them) would wait in a cycle for the garbage collector.
    """

    __slots__ = ("inner", "futures", "token")

    def __init__(
        self, inner: Future[None], futures: list[Future[Any]], token: _native.CancelToken | None
    ) -> None:
        self.inner: Future[None] | None = inner
        self.futures = list(futures)
        self.token = token

    def on_done(self, future: Future[Any]) -> None:
        inner, futures = self.inner, self.futures
        if inner is None:
            return
        if future is inner and inner.cancelled():  # e.g. shutdown(cancel_futures=True)
            for each in futures:
                each.cancel()
        elif future.cancelled() and all(f.done() for f in futures):
            inner.cancel()
            if self.token is not None:
                self.token.cancel()
        if inner.done() and all(f.done() for f in futures):
            self.inner, self.futures, self.token = None, [], None


async def _stream_async(futures: list[Future[T]]) -> AsyncIterator[T]:
    try:
        for future in futures:
            yield await asyncio.wrap_future(future)
    finally:
        for future in futures:
            future.cancel()


# Per form: the return annotation, the Returns text, how a failure surfaces.
_FORMS = {
    "sync": ("{}", "{}", "If"),
    "future": (
        "Future[{}]",
        "A ``concurrent.futures.Future`` of {} The work is submitted when this is called.",
        "Raised by ``Future.result()`` if",
    ),
    "async": (
        "Coroutine[Any, Any, {}]",
        "A coroutine resolving to {} The work is queued when this is called: the pools "
        "may start on it before the coroutine is awaited.",
        "Raised when awaited, if",
    ),
    "stream-sync": ("Iterator[{}]", "An iterator over {}", "Raised while iterating, if"),
    "stream-future": (
        "list[Future[{}]]",
        "One ``concurrent.futures.Future`` per item, of {} One task reads them all.",
        "Raised by ``Future.result()`` if",
    ),
    "stream-async": (
        "AsyncIterator[{}]",
        "An async iterator over {} One task reads them all, from the call on.",
        "Raised while iterating, if",
    ),
}
# Per form: what the example's {await}, {async_} and {result} become.
_EXAMPLE_CALLS = {
    "sync": {"{await}": "", "{async_}": "", "{result}": ""},
    "future": {"{await}": "", "{async_}": "", "{result}": ".result()"},
    "async": {"{await}": "await ", "{async_}": "async_", "{result}": ""},
}
_SECTION = re.compile(r"\n\n(Args|Returns|Raises|Example(?: \(\w+\))?):\n")
_EXECUTOR = "    executor: Executor to run the work on instead of the shared pools."


def doc_sections(doc: str) -> dict[str, str]:
    """The sections of a Google-style docstring by title (``""``: the text before them)."""
    head, *rest = _SECTION.split(inspect.cleandoc(doc))
    return {"": head, **dict(zip(rest[::2], rest[1::2], strict=True))}


def _render(template: str, form: str, key: str, public: bool, executor: bool) -> str:
    parts, (_, returns, when) = doc_sections(template), _FORMS[key]
    args = parts["Args"]
    if executor and not re.search(r"^    executor:", args, re.MULTILINE):
        kwargs = re.search(r"^    \*\*", args, re.MULTILINE)
        at = kwargs.start() if kwargs else len(args)  # before **kwargs
        args = f"{args[:at].rstrip()}\n{_EXECUTOR}\n{args[at:]}".rstrip()
    value = " ".join(parts["Returns"].split())
    value = value if key == "sync" else value[0].lower() + value[1:]
    returns = textwrap.indent(textwrap.fill(returns.format(value), 84), "    ")
    raises = parts["Raises"].replace("{if}", when)
    text = f"{parts['']}\n\nArgs:\n{args}\n\nReturns:\n{returns}\n\nRaises:\n{raises}"
    example = parts.get(f"Example ({form})", parts.get("Example"))
    if public and example:
        for token, call in _EXAMPLE_CALLS[form].items():
            example = example.replace(token, call)
        text += f"\n\nExample:\n{example}"
    return text


def _form(name: str, plan: Callable[..., Any], executor: bool, returns: str, call: Callable) -> Any:
    """Name ``call`` and give it the plan's parameters (and ``executor`` if it takes one)."""
    params = list(inspect.signature(plan).parameters.values())
    if executor and "executor" not in (p.name for p in params):
        at = len(params) - (bool(params) and params[-1].kind is params[-1].VAR_KEYWORD)
        param = inspect.Parameter("executor", inspect.Parameter.KEYWORD_ONLY, default=None)
        params.insert(at, param.replace(annotation="Executor | None"))
    call.__name__ = call.__qualname__ = name
    call.__module__ = plan.__module__
    call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]  # for inspect
        params, return_annotation=returns
    )
    return call


S = TypeVar("S")
F = TypeVar("F")
A = TypeVar("A")


class Forms(tuple[S, F, A], Generic[S, F, A]):
    """A declared operation: its sync, future and async forms, and its error contract.

    A tuple of the three forms, so ``sync, future, async_ = forms`` names them; typed
    by :data:`Operation` / :data:`StreamOperation`, so the forms' results are known to
    type checkers (their parameters only to ``inspect``: ``executor`` is added).
    """

    wrap: bool
    stream: bool

    def __new__(
        cls, sync: S, future: F, async_: A, *, wrap: bool = True, stream: bool = False
    ) -> Forms[S, F, A]:
        forms = super().__new__(cls, (sync, future, async_))
        forms.wrap, forms.stream = wrap, stream
        return forms

    @property
    def sync(self) -> S:
        return self[0]

    @property
    def future(self) -> F:
        return self[1]

    @property
    def async_(self) -> A:
        return self[2]


Operation: TypeAlias = Forms[
    Callable[..., T], Callable[..., Future[T]], Callable[..., Coroutine[Any, Any, T]]
]
StreamOperation: TypeAlias = Forms[
    Callable[..., Iterator[T]], Callable[..., list[Future[T]]], Callable[..., AsyncIterator[T]]
]

OPERATIONS: dict[str, Forms[Any, Any, Any]] = {}


@overload
def operation(
    name: str,
    *,
    primary: str,
    wrap: bool,
    stream: Literal[False] = False,
    public: tuple[str, ...] = (),
    sync_executor: bool = False,
) -> Callable[[Callable[..., Step[T] | Plan[T]]], Operation[T]]: ...


@overload
def operation(
    name: str,
    *,
    primary: str,
    wrap: bool,
    stream: Literal[True],
    public: tuple[str, ...] = (),
    sync_executor: bool = False,
) -> Callable[[Callable[..., Step[Iterator[T]]]], StreamOperation[T]]: ...


def operation(
    name: str,
    *,
    primary: str,
    wrap: bool,
    stream: bool = False,
    public: tuple[str, ...] = (),
    sync_executor: bool = False,
) -> Callable[[Callable[..., Any]], Forms[Any, Any, Any]]:
    """Declare the operation whose plan is the decorated function (see the module doc).

    The ``primary`` form (``"sync"`` or ``"future"``) is called ``name``, the other
    ``name_future`` / ``name_sync``, the async one ``async_name``. ``wrap`` is the
    error contract, ``stream`` marks a plan whose step returns an iterator, and only
    the ``public`` forms (exported by ``spdl.io``) get the docstring's example. With
    ``sync_executor`` the sync form takes ``executor=`` too: given one, it runs the
    steps there (as the future form does) and waits.
    """

    def declare(plan: Callable[..., Any]) -> Forms[Any, Any, Any]:
        plan.__qualname__ = name  # a call with a wrong argument names the operation
        value = plan.__annotations__["return"].partition("[")[2][:-1]  # Step[T], Plan[T]
        value = value.partition("[")[2][:-1] if stream else value  # Iterator[T]
        drivers = (_stream_inline, _stream_futures) if stream else (run_inline, run_future)

        def sync(*args: Any, **kwargs: Any) -> Any:
            executor = kwargs.pop("executor", None) if sync_executor else None
            if executor is None:
                return drivers[0](plan(*args, **kwargs), wrap)
            return _wait_for(future(*args, executor=executor, **kwargs))

        def future(*args: Any, executor: Executor | None = None, **kwargs: Any) -> Any:
            return drivers[1](plan(*args, **kwargs), wrap, executor)

        def async_(*args: Any, **kwargs: Any) -> Any:
            return (_stream_async if stream else Queued)(future(*args, **kwargs))

        other = "sync" if primary == "future" else "future"
        names = {primary: name, other: f"{name}_{other}", "async": f"async_{name}"}
        for form, call in (("sync", sync), ("future", future), ("async", async_)):
            key = f"stream-{form}" if stream else form
            executor = form != "sync" or sync_executor
            _form(names[form], plan, executor, _FORMS[key][0].format(value), call)
            call.__doc__ = _render(plan.__doc__ or "", form, key, form in public, executor)
        OPERATIONS[name] = Forms(sync, future, async_, wrap=wrap, stream=stream)
        return OPERATIONS[name]

    return declare
