"""One declaration per operation; its sync, Future and asyncio forms are generated.

An operation is declared once, as a *plan*: a function that checks its arguments
(raising ``ValueError`` / ``TypeError`` in the caller) and returns a :class:`Step`,
or a generator of Steps for a composite loader, which receives each step's result
and returns the operation's. A Step is one phase (demux, decode or convert): the call
to make, the pool it belongs on and the source that errors name. :func:`operation`
turns a plan into three functions with the plan's own parameters:

* sync: runs the steps one after another in the calling thread;
* future: submits each step to its pool (composites are driven by ``chain_futures``)
  and returns a ``concurrent.futures.Future`` at once; it adds ``executor=``;
* async: calls the future form, so the work is queued at call time, and returns a
  coroutine (:class:`Queued`) that waits for it.

The error contract belongs to the declaration: with ``wrap=True`` a failing step
raises :class:`AsyncIOFailure` naming the source and the phase (the original error is
its ``__cause__``) in every form; with ``wrap=False`` every form raises the phase's own
error (``MediaError``, ``FileNotFoundError``). A composite's generator sees its steps'
errors in that form, and may catch them. Cancelling a Future, or the task that awaits
a coroutine, drops the queued steps and sets the ``CancelToken`` of a running one.

The docstring is one text for all forms: its ``Returns:`` section names the value and
gets a per-form prefix, ``{if}`` in ``Raises:`` says when a background failure is
raised, an ``executor`` argument is added to the background forms, and the example's
``{await}``, ``{async_}`` and ``{result}`` become each public form's own call.
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
from typing import Any, Generic, TypeVar

from spdl import _native

from . import _executor
from ._chain import drive
from ._futures import AsyncIOFailure, drop_own_frame, submit, try_set

__all__ = ["OPERATIONS", "Operation", "Queued", "Step", "adopt", "doc_sections", "operation"]

T = TypeVar("T")
FORMS = ("sync", "future", "async")


@dataclass(frozen=True)
class Step(Generic[T]):
    """One phase of an operation: ``run()`` on the ``pool`` (``"demux"`` or ``"decode"``).

    A ``cancellable`` step's ``run`` takes ``cancel=``, a ``CancelToken`` that stops the
    native work at its next packet. A stream's step returns an iterator of ``count``
    items.
    """

    phase: str
    src: str
    run: Callable[..., T]
    pool: str = "decode"
    cancellable: bool = False
    count: int = 0

    def submit(self, executor: Executor | None, wrap: bool) -> Future[T]:
        """Queue ``run`` on ``executor`` or the step's shared pool."""
        token = _native.CancelToken() if self.cancellable else None
        run = functools.partial(self.run, cancel=token) if token else self.run
        pool = executor or _pool(self.pool)
        return submit(pool, run, phase=self.phase, src=self.src, token=token, wrap=wrap)


def _pool(name: str) -> Executor:
    if name == "demux":
        return _executor.get_demux_executor()
    return _executor.get_decode_executor()


Plan = Generator[Step[Any], Any, T]


def _failure(step: Step[Any], error: Exception, wrap: bool) -> Exception:
    return AsyncIOFailure.wrap(step.phase, step.src, error) if wrap else error


def _single(step: Step[T]) -> Plan[T]:
    return (yield step)


def run_inline(plan: Step[T] | Plan[T], wrap: bool) -> T:
    """The sync form: run each step in the calling thread and return the result."""
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
            send, value = steps.send, step.run()
        except Exception as error:
            send, value = steps.throw, _failure(step, error, wrap)


def _check_executor(executor: object) -> None:
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(
            f"`executor` must be a concurrent.futures.Executor, got {type(executor).__name__}."
        )


def run_future(plan: Step[T] | Plan[T], wrap: bool, executor: Executor | None) -> Future[T]:
    """The future form: each step on its pool, a composite's steps chained by callbacks."""
    _check_executor(executor)
    if isinstance(plan, Step):
        return plan.submit(executor, wrap)
    return drive(plan, lambda step: step.submit(executor, wrap))


class Queued(Coroutine[Any, Any, T], Generic[T]):
    """The coroutine an ``async_*`` function returns: its work is queued already.

    It waits for the Future of the work, under ``asyncio.run``, ``create_task``,
    ``gather``, ``TaskGroup`` or ``await`` alike. Cancelling the task that awaits it,
    closing it, or dropping it without awaiting it cancels the Future: queued work is
    dropped and a running decode stops at its next packet. ``asyncio.iscoroutine`` is
    true for it (it is a ``collections.abc.Coroutine``, not a native coroutine).
    """

    __slots__ = ("send", "throw", "close", "_steps", "_awaited")

    def __init__(self, future: Future[T]) -> None:
        self._steps = _wait(future)
        next(self._steps)  # started, so that throw() and close() run its `except`
        # The generator's own methods: no Python frame of ours enters a traceback.
        self.send, self.throw, self.close = self._steps.send, self._steps.throw, self._steps.close
        self._awaited = False

    def __await__(self) -> Generator[Any, None, T]:
        if self._awaited:
            raise RuntimeError("cannot reuse already awaited coroutine")
        self._awaited = True
        return self._steps


def _wait(future: Future[T]) -> Generator[Any, None, T]:
    try:
        yield  # the Queued is created; a task or an `await` resumes from here
        return (yield from asyncio.wrap_future(future))
    except BaseException as error:
        future.cancel()  # no-op when done; stops the work otherwise
        drop_own_frame(error)  # this frame holds the Future, which holds the error
        raise


def _stream_inline(step: Step[Iterator[T]], wrap: bool) -> Iterator[T]:
    try:
        yield from step.run()
    except AsyncIOFailure:
        raise
    except Exception as error:
        if not wrap:
            raise
        raise AsyncIOFailure.wrap(step.phase, step.src, error) from error


_END = object()


def _stream_futures(
    step: Step[Iterator[T]], wrap: bool, executor: Executor | None
) -> list[Future[T]]:
    """One task reads the stream and resolves each item's Future as soon as it is ready."""
    _check_executor(executor)
    futures: list[Future[T]] = [Future() for _ in range(step.count)]

    def run() -> None:
        items, index = None, 0
        try:
            items = step.run()
            for index in range(len(futures)):
                if all(f.done() for f in futures[index:]):
                    return  # everything left was cancelled
                item = next(items, _END)
                if item is _END:
                    raise RuntimeError(f"the stream ended after {index} of {step.count} items")
                try_set(futures[index].set_result, item)
        except Exception as error:
            # No local may hold a failure: the frames of its cause link back here.
            for late in range(index, len(futures)):
                try_set(futures[late].set_exception, _failure(step, error, wrap))
        finally:
            getattr(items, "close", lambda: None)()  # releases the source

    inner = (executor or _pool(step.pool)).submit(run)

    def on_done(future: Future[T]) -> None:
        if future.cancelled() and all(f.done() for f in futures):
            inner.cancel()

    def on_inner_done(task: Future[None]) -> None:
        if task.cancelled():  # e.g. the executor was shut down with cancel_futures=True
            for future in futures:
                future.cancel()

    for future in futures:
        future.add_done_callback(on_done)
    inner.add_done_callback(on_inner_done)
    return futures


async def _stream_async(futures: list[Future[T]]) -> AsyncIterator[T]:
    try:
        for future in futures:
            yield await asyncio.wrap_future(future)
    finally:
        for future in futures:
            future.cancel()


################################################################################
# Declarations
################################################################################

_RETURNS = {
    "sync": "{}",
    "future": "A ``concurrent.futures.Future`` of {} The work is submitted when this "
    "function is called.",
    "async": "A coroutine resolving to {} The work is queued when this function is called: "
    "the pools may start on it before the coroutine is awaited.",
    "stream-sync": "An iterator over {}",
    "stream-future": "A list of ``concurrent.futures.Future``, one per item, of {} One task "
    "reads them all, resolving each Future as soon as its item is ready; cancelling every "
    "Future that is not done stops it.",
    "stream-async": "An async iterator over {} One task reads them all from the call on; "
    "leaving the ``async for`` early cancels what is not read yet.",
}
_IF = {
    "sync": "If",
    "future": "Raised by ``Future.result()`` if",
    "async": "Raised when awaited, if",
    "stream-sync": "Raised while iterating, if",
    "stream-async": "Raised while iterating, if",
}
_TYPING_NAMES = {
    "Any": Any,
    "AsyncIterator": AsyncIterator,
    "Coroutine": Coroutine,
    "Executor": Executor,
    "Future": Future,
    "Iterator": Iterator,
}
_EXAMPLE = {
    "sync": ("", "", ""),
    "future": ("", "", ".result()"),
    "async": ("await ", "async_", ""),
}
_SECTION = re.compile(r"\n\n(Args|Returns|Raises|Example(?: \(\w+\))?):\n")


def doc_sections(doc: str) -> dict[str, str]:
    """The sections of a Google-style docstring by title (``""``: the text before them)."""
    head, *rest = _SECTION.split(inspect.cleandoc(doc))
    return {"": head, **dict(zip(rest[::2], rest[1::2], strict=True))}


def render_doc(template: str, form: str, stream: bool = False, public: bool = True) -> str:
    """The docstring of one form, from the operation's template (see the module doc)."""
    key = f"stream-{form}" if stream else form
    parts = doc_sections(template)
    args = parts["Args"]
    if form != "sync" and not re.search(r"^    executor:", args, re.MULTILINE):
        at = re.search(r"^    \*\*|\Z", args, re.MULTILINE).start()  # before **kwargs, as called
        executor = "    executor: Executor to run the work on instead of the shared pools."
        args = f"{args[:at].rstrip()}\n{executor}\n{args[at:]}".rstrip()
    value = " ".join(parts["Returns"].split())
    if form != "sync" or stream:
        value = value[0].lower() + value[1:]
    returns = textwrap.indent(
        textwrap.fill(_RETURNS.get(key, _RETURNS[form]).format(value), 84), "    "
    )
    raises = parts["Raises"].replace("{if}", _IF.get(key, _IF[form]))
    text = f"{parts['']}\n\nArgs:\n{args}\n\nReturns:\n{returns}\n\nRaises:\n{raises}"
    example = parts.get(f"Example ({form})", parts.get("Example"))
    if public and example:
        awaiting, prefix, result = _EXAMPLE[form]
        example = example.replace("{await}", awaiting).replace("{async_}", prefix)
        text += "\n\nExample:\n" + example.replace("{result}", result)
    return text


def _define(
    name: str, template: Callable[..., Any], target: Callable[..., Any], form: str, result: str
) -> Callable[..., Any]:
    """``def name(<template's parameters>): return target(<the same arguments>)``.

    Written as text and compiled (as ``dataclasses`` writes ``__init__``), so that the
    function has real parameters: ``inspect.signature``, ``help()``, IDEs and argument
    errors show them, and a call binds its arguments as fast as any function.
    """
    params = list(inspect.signature(template).parameters.values())
    if form != "sync" and "executor" not in (p.name for p in params):
        at = len(params) - (bool(params) and params[-1].kind is params[-1].VAR_KEYWORD)
        executor = inspect.Parameter("executor", inspect.Parameter.KEYWORD_ONLY, default=None)
        params.insert(at, executor.replace(annotation="Executor | None"))
    arguments, calls, starred = [], [], False
    for p in params:
        if p.kind is p.KEYWORD_ONLY and not starred:
            arguments.append("*")
        starred = starred or p.kind in (p.VAR_POSITIONAL, p.KEYWORD_ONLY)
        star = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        default = "" if p.default is p.empty else f"=_D[{p.name!r}]"
        arguments.append(star + p.name + default)
        calls.append(f"{p.name}={p.name}" if p.kind is p.KEYWORD_ONLY else star + p.name)
    source = (
        f"def make(_target, _D):\n def {name}({', '.join(arguments)}):\n"
        f"  return _target({', '.join(calls)})\n return {name}"
    )
    namespace: dict[str, Any] = {}
    # The globals let typing.get_type_hints() read the annotations of every form.
    exec(source, {**_TYPING_NAMES, **template.__globals__}, namespace)  # noqa: S102
    function = namespace["make"](target, {p.name: p.default for p in params})
    function.__qualname__ = name
    function.__module__ = template.__module__
    function.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not p.empty}
    function.__annotations__["return"] = result
    return function


@dataclass(frozen=True)
class Operation:
    """A declared operation: its name, error contract and its three forms."""

    name: str
    wrap: bool
    stream: bool
    forms: dict[str, Callable[..., Any]]

    @property
    def sync(self) -> Callable[..., Any]:
        return self.forms["sync"]

    @property
    def future(self) -> Callable[..., Any]:
        return self.forms["future"]

    @property
    def async_(self) -> Callable[..., Any]:
        return self.forms["async"]


OPERATIONS: dict[str, Operation] = {}
_RESULTS = {
    "sync": "{}",
    "future": "Future[{}]",
    "async": "Coroutine[Any, Any, {}]",
    "stream-sync": "Iterator[{}]",
    "stream-future": "list[Future[{}]]",
    "stream-async": "AsyncIterator[{}]",
}


def operation(
    name: str, *, primary: str, wrap: bool, stream: bool = False, public: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Operation]:
    """Declare the operation whose plan is the decorated function (see the module doc).

    Args:
        name: The primary form's name; the async form is ``async_<name>`` and the third
            ``<name>_future`` (primary ``"sync"``) or ``<name>_sync`` (primary ``"future"``).
        primary: ``"sync"`` or ``"future"``.
        wrap: ``True``: failures raise ``AsyncIOFailure``; ``False``: the phase's error.
        stream: The plan's step returns an iterator (of ``Step.count`` items).
        public: The forms exported by ``spdl.io``; only they get the example.

    Returns:
        A decorator that returns the :class:`Operation`, registered in ``OPERATIONS``.
    """

    def declare(plan: Callable[..., Any]) -> Operation:
        value = re.fullmatch(r"(?:Step|Plan)\[(.*)\]", plan.__annotations__["return"])[1]
        if stream:
            value = re.fullmatch(r"Iterator\[(.*)\]", value)[1]

        def sync(*args: Any, **kwargs: Any) -> Any:
            if stream:
                return _stream_inline(plan(*args, **kwargs), wrap)
            return run_inline(plan(*args, **kwargs), wrap)

        def future(*args: Any, executor: Executor | None = None, **kwargs: Any) -> Any:
            if stream:
                return _stream_futures(plan(*args, **kwargs), wrap, executor)
            return run_future(plan(*args, **kwargs), wrap, executor)

        def async_(*args: Any, **kwargs: Any) -> Any:
            return (_stream_async if stream else Queued)(future(*args, **kwargs))

        suffix = "_sync" if primary == "future" else "_future"
        names = {"sync": name, "future": name, "async": f"async_{name}"}
        names["sync" if primary == "future" else "future"] += suffix
        forms = {}
        for form, target in (("sync", sync), ("future", future), ("async", async_)):
            key = f"stream-{form}" if stream else form
            forms[form] = _define(names[form], plan, target, form, _RESULTS[key].format(value))
            forms[form].__doc__ = render_doc(plan.__doc__ or "", form, stream, form in public)
        OPERATIONS[name] = Operation(name, wrap, stream, forms)
        return OPERATIONS[name]

    return declare


def adopt(
    name: str,
    sync: Callable[..., Any],
    future: Callable[..., Future[Any]],
    template: str,
    module: str,
) -> Operation:
    """Declare an operation written elsewhere as a sync and a future function.

    Its async form, ``async_<name>`` in ``module``, is generated with ``future``'s
    parameters (read now) and documented from ``template``; failures raise
    ``AsyncIOFailure``.
    """
    result = re.fullmatch(r"Future\[(.*)\]", future.__annotations__["return"])
    returns = f"Coroutine[Any, Any, {result[1] if result else 'Any'}]"
    queue = functools.partial(_queue, future)
    forms = {"sync": sync, "future": future}
    forms["async"] = _define(f"async_{name}", future, queue, "async", returns)
    forms["async"].__doc__ = render_doc(template, "async")
    forms["async"].__module__ = module
    OPERATIONS[name] = Operation(name, True, False, forms)
    return OPERATIONS[name]


def _queue(future: Callable[..., Future[T]], *args: Any, **kwargs: Any) -> Queued[T]:
    return Queued(future(*args, **kwargs))
