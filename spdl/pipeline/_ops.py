"""How one op runs on one item, whatever its kind (function, async function, generator
function, async generator function), and how its outputs are resolved."""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor
from typing import Any

_LG = logging.getLogger("spdl.pipeline")

Emit = Callable[[Any], Awaitable[None]]


class OpKind(enum.Enum):
    FUNCTION = "function"
    COROUTINE = "async function"
    GENERATOR = "generator function"
    ASYNC_GENERATOR = "async generator function"


def classify_op(op: Callable[..., Any]) -> OpKind:
    """How an op is called: looks through ``functools.partial`` and callable objects."""
    target: Any = op
    while isinstance(target, functools.partial):
        target = target.func
    if not (inspect.isroutine(target) or inspect.isclass(target)):
        # A callable object: what matters is its class's ``__call__``.
        target = type(target).__call__
    if inspect.isasyncgenfunction(target):
        return OpKind.ASYNC_GENERATOR
    if inspect.iscoroutinefunction(target):
        return OpKind.COROUTINE
    if inspect.isgeneratorfunction(target):
        return OpKind.GENERATOR
    return OpKind.FUNCTION


def op_name(op: Callable[..., Any]) -> str:
    target: Any = op
    while isinstance(target, functools.partial):
        target = target.func
    return getattr(target, "__name__", None) or type(target).__name__


_NEXT_DONE = object()


def _cancel_returned_future(call: concurrent.futures.Future[Any]) -> None:
    """Done-callback of a sync op call whose waiter was cancelled: the op may still have
    returned a Future or a coroutine (spdl.io-style work); cancel that work too."""
    if not call.cancelled() and call.exception() is None:
        result = call.result()
        if isinstance(result, concurrent.futures.Future):
            result.cancel()
        elif is_coroutine(result):
            result.close()


async def await_future(future: concurrent.futures.Future[Any]) -> Any:
    """The result of a ``concurrent.futures.Future``; cancelling the awaiting task
    cancels it.

    A ``StopIteration`` it failed with comes as a ``RuntimeError`` (its ``__cause__``):
    asyncio refuses to raise one into a task (``asyncio.wrap_future`` would leave the
    task waiting forever), and a sync op's ``next(...)`` that finds nothing raises it.
    """
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def settle(done: concurrent.futures.Future[Any]) -> None:
        if waiter.done():
            return
        if done.cancelled():
            waiter.cancel()
        elif (error := done.exception()) is None:
            waiter.set_result(done.result())
        elif isinstance(error, StopIteration):
            failure = RuntimeError(f"the op raised StopIteration({error.value!r})")
            failure.__cause__ = error
            waiter.set_exception(failure)
        else:
            waiter.set_exception(error)

    def on_done(done: concurrent.futures.Future[Any]) -> None:
        try:
            loop.call_soon_threadsafe(settle, done)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    future.add_done_callback(on_done)
    try:
        return await waiter
    except asyncio.CancelledError:
        future.cancel()
        raise


async def call_in_executor(executor: Executor, fn: Callable[..., Any], *args: Any) -> Any:
    call = executor.submit(fn, *args)
    try:
        return await await_future(call)
    except asyncio.CancelledError:
        call.cancel()  # drops it if it has not started; a running call ends on its own
        call.add_done_callback(_cancel_returned_future)
        raise


async def resolve(value: Any) -> Any:
    """An op's output that is a ``concurrent.futures.Future`` or a coroutine stands for
    its result.

    Cancelling the awaiting task cancels the Future.
    """
    if isinstance(value, concurrent.futures.Future):
        return await await_future(value)
    if is_coroutine(value):
        return await value
    return value


def is_coroutine(value: object) -> bool:
    """Whether an op's output is a coroutine to await: one of ``async def``, or any
    ``collections.abc.Coroutine`` (spdl.io's ``async_*`` return one of their own).
    Not ``asyncio.iscoroutine``: before Python 3.12 it takes a generator for one, and
    an op whose items are generators failed on each ("can't be used in 'await'")."""
    return isinstance(value, Coroutine)


def close_generator(gen: Any) -> None:
    try:
        gen.close()
    except Exception:
        _LG.debug("Closing a generator op raised.", exc_info=True)


class Stopwatch:
    """Adds up the time between ``start`` and ``pause`` calls."""

    __slots__ = ("_since_ns", "elapsed_ns")

    def __init__(self) -> None:
        self.elapsed_ns = 0
        self._since_ns: int | None = None

    def start(self) -> None:
        self._since_ns = time.perf_counter_ns()

    def pause(self) -> None:
        if self._since_ns is not None:
            self.elapsed_ns += time.perf_counter_ns() - self._since_ns
            self._since_ns = None


def _timed(watch: Stopwatch, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a worker thread, timed from there: a task's time leaves out its
    wait for a free thread (when the stages run more calls at once than there are
    threads, that wait is the pool's limit, not the op's)."""
    watch.start()
    return fn(*args)


class Op:
    """An op with its kind and the executor that runs it if it is sync."""

    def __init__(self, fn: Callable[..., Any], kind: OpKind, executor: Executor) -> None:
        self.fn = fn
        self.kind = kind
        self.executor = executor

    async def apply(self, item: Any, emit: Emit, watch: Stopwatch) -> None:
        """Run the op on ``item``, passing each output that is not ``None`` to ``emit``.

        ``watch`` runs while the op works, not while ``emit`` waits for room.
        """
        kind = self.kind
        watch.start()
        if kind is OpKind.FUNCTION or kind is OpKind.COROUTINE:
            if kind is OpKind.FUNCTION:
                value = await call_in_executor(self.executor, _timed, watch, self.fn, item)
            else:
                value = await self.fn(item)
            value = await resolve(value)
            watch.pause()
            if value is not None:
                await emit(value)
        elif kind is OpKind.GENERATOR:
            await self._apply_generator(item, emit, watch)
        else:
            await self._apply_async_generator(item, emit, watch)

    async def _apply_generator(self, item: Any, emit: Emit, watch: Stopwatch) -> None:
        # Each step runs in the executor, so the items are passed on as they come.
        gen = self.fn(item)
        step: concurrent.futures.Future[Any] | None = None
        try:
            while True:
                step = self.executor.submit(_timed, watch, next, gen, _NEXT_DONE)
                value = await await_future(step)
                step = None
                if value is _NEXT_DONE:
                    break
                value = await resolve(value)
                if value is not None:
                    watch.pause()
                    await emit(value)
                    watch.start()
        finally:
            watch.pause()
            if step is not None and not step.done():
                # The generator is running in a worker thread: close it when it yields.
                step.add_done_callback(lambda _: close_generator(gen))
            else:
                close_generator(gen)

    async def _apply_async_generator(self, item: Any, emit: Emit, watch: Stopwatch) -> None:
        agen = self.fn(item)
        try:
            while True:
                try:
                    value = await agen.__anext__()
                except StopAsyncIteration:
                    break
                value = await resolve(value)
                if value is not None:
                    watch.pause()
                    await emit(value)
                    watch.start()
        finally:
            watch.pause()
            try:
                await agen.aclose()
            except Exception:
                _LG.debug("Closing an async generator op raised.", exc_info=True)
