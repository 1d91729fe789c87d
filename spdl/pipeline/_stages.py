"""The stages' coroutines: source, pipe, aggregate and disaggregate.

Each stage reads its input queue until it sees ``EOF``, then puts ``EOF`` into its
output queue. An op's exception on one item is a *failure*: it is logged, counted
and the item is dropped; a stage over its failure budget (and any non-``Exception``
error) aborts the whole pipeline through the ``abort`` callback.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import reprlib
import threading
import time
from collections.abc import AsyncIterable, Callable, Iterable, Sized
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from ._failures import FailureBudget, PipelineFailure
from ._ops import Emit, Op, OpKind, Stopwatch, await_future, close_generator
from ._queues import EOF, SourceQueue, call_soon
from ._stats import StageCounters

_LG = logging.getLogger("spdl.pipeline")
_END = object()  # next()'s default: the iterable is exhausted

Queue = Any  # StageQueue, SourceQueue or Sink


@dataclass
class StageContext:
    """What every stage of one pipeline shares."""

    budget: FailureBudget
    abort: Callable[[BaseException], None]
    # Ends the stages up to the given one (cancelling those before it) with the error,
    # while the stages after it deliver what they hold: an input-order stage's failure
    # comes after the items before it (see ``PipeStage``).
    cut: Callable[[Any, BaseException], None]
    # True once a stage was cut off: the items still coming are the last ones.
    cut_happened: Callable[[], bool]
    executor: Executor
    # True once the pipeline is ending (stop() or an abort): an op's error then is a
    # consequence of the stop (a shut-down executor, a closed resource), not a failure.
    stopping: Callable[[], bool]


class SourceStage:
    """Takes items from the source iterable.

    A sync source runs on a thread of its own and puts into its output queue from
    there (a :class:`SourceQueue`, or the sink), so a source that blocks (sleeps,
    waits for the network) holds neither the event loop nor ``stop``. An async source
    runs on the loop.
    """

    def __init__(
        self,
        source: Iterable[Any] | AsyncIterable[Any],
        counters: StageCounters,
        thread_name: str,
    ) -> None:
        self.source = source
        self.counters = counters
        self.thread_name = thread_name
        self.error: BaseException | None = None
        self.cut_off = False  # a stage's failure ended the run (StageContext.cut)
        self.thread: threading.Thread | None = None
        self._output: Queue = None
        # Set by the runtime: whether the pipeline is ending (its CancelledError is then
        # the stop's, not the source's).
        self.stopping: Callable[[], bool] = lambda: False

    @property
    def threaded(self) -> bool:
        """Whether the source runs on its own thread (it is not an async iterable)."""
        return not isinstance(self.source, AsyncIterable)

    async def run(self, output: Queue) -> None:
        if self.threaded:
            await self._run_in_thread(output)
            return
        try:
            await self._run_async(self.source, output)  # type: ignore[arg-type]
        except asyncio.CancelledError as error:
            if _being_cancelled() or self.stopping():
                raise
            self._fail(error)  # the source's own (a Future it awaited was cancelled)
        except BaseException as error:  # noqa: BLE001 -- as the threaded source: after its items
            self._fail(error)
        await output.put(EOF)

    def close(self) -> None:
        """Make the source's thread stop at its next put (safe from any thread)."""
        if isinstance(self._output, SourceQueue):
            self._output.close()

    def _fail(self, error: BaseException) -> None:
        # Ends the stream: the consumer sees this error after the items before it.
        _LG.error("The source iterable raised %s: %s", type(error).__name__, error)
        self.error = error

    async def _run_in_thread(self, output: Queue) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._output = output

        def run() -> None:
            try:
                self._iterate(output)
            finally:
                call_soon(loop, _set_done, done)

        self.thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self.thread.start()
        try:
            await done
        except asyncio.CancelledError:
            self.close()  # the sink is closed or finished by the runtime
            raise

    def _iterate(self, output: Queue) -> None:
        """The source's thread: ``next``, then wait for room, until the end or a stop."""
        counters = self.counters
        iterator: Any = None
        try:
            iterator = iter(self.source)  # type: ignore[arg-type]
            while True:
                start = time.perf_counter_ns()
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                counters.times.add(time.perf_counter_ns() - start)
                counters.num_in += 1
                if not output.put_blocking(item):
                    return  # stopped
                counters.num_out += 1
        except BaseException as error:  # noqa: BLE001 -- a thread has nobody to raise to
            self._fail(error)
        finally:
            if inspect.isgenerator(iterator):  # only what iteration created, not e.g. a file
                close_generator(iterator)
        output.put_blocking(EOF)

    async def _run_async(self, source: AsyncIterable[Any], output: Queue) -> None:
        iterator = source.__aiter__()
        counters = self.counters
        try:
            while True:
                start = time.perf_counter_ns()
                try:
                    item = await iterator.__anext__()
                except StopAsyncIteration:
                    return
                counters.times.add(time.perf_counter_ns() - start)
                counters.num_in += 1
                await output.put(item)
                counters.num_out += 1
        finally:
            if inspect.isasyncgen(iterator):
                try:
                    await iterator.aclose()
                except Exception:
                    _LG.debug("Closing the source iterator raised.", exc_info=True)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _ItemStage:
    """Shared failure handling for the stages that process items."""

    def __init__(
        self, counters: StageCounters, context: StageContext, budget: FailureBudget | None = None
    ) -> None:
        self.counters = counters
        self.context = context
        self.budget = budget or context.budget
        self._num_processed = 0
        self._last_error: BaseException | None = None
        self.cut_off = False  # ended by a failure here or after it (StageContext.cut)

    def _stopping(self) -> bool:
        return self.cut_off or self.context.stopping()

    def _record_failure(self, item: Any, error: BaseException) -> None:
        if self._stopping():
            _LG.debug("Stage %r: %r after the pipeline was stopped.", self.counters.name, error)
            return
        counters = self.counters
        counters.num_failures += 1
        first = counters.num_failures == 1
        _LG.warning(
            "Stage %r failed on item %s: %s: %s",
            counters.name,
            reprlib.repr(item),
            type(error).__name__,
            error,
            exc_info=error if first else None,  # the traceback once per stage
        )
        self._last_error = error
        self._check_budget(final=False)

    def _check_budget(self, *, final: bool) -> None:
        counters, budget = self.counters, self.budget
        if self.cut_off:
            return  # over budget already
        if counters.num_failures and budget.exceeded(
            counters.num_failures, self._num_processed, final=final
        ):
            # The error's notes say where it arose (the DataLoader names the sample).
            notes = "; ".join(getattr(self._last_error, "__notes__", None) or ())
            failure = PipelineFailure(
                f"Stage {counters.name!r} failed on {counters.num_failures} of "
                f"{self._num_processed} items, more than {budget.describe()} allows; "
                f"the last error was {type(self._last_error).__name__}: {self._last_error}"
                + (f" ({notes})" if notes else ""),
                stage=counters.name,
                num_failures=counters.num_failures,
                num_processed=self._num_processed,
            )
            failure.__cause__ = self._last_error
            self._over_budget(failure)

    def _over_budget(self, failure: PipelineFailure) -> None:
        self.context.abort(failure)


class PipeStage(_ItemStage):
    """Applies an op to every item, ``concurrency`` items at a time."""

    def __init__(
        self,
        op: Callable[..., Any],
        *,
        kind: OpKind,
        executor: Executor | None,
        output_order: str,
        budget: FailureBudget | None,
        counters: StageCounters,
        context: StageContext,
    ) -> None:
        super().__init__(counters, context, budget)
        self.op = Op(op, kind, executor or context.executor)
        self.output_order = output_order

    def _over_budget(self, failure: PipelineFailure) -> None:
        if self.output_order == "input":
            # Its turn came: the items before it are on their way downstream, and are
            # delivered before the error (as torch's DataLoader delivers the batches
            # before a failing one).
            self.context.cut(self, failure)
        else:
            self.context.abort(failure)

    async def run(self, input: Queue, output: Queue) -> None:
        if self.output_order == "input":
            await self._run_in_input_order(input, output)
        else:
            await self._run_in_completion_order(input, output)
        self._check_budget(final=True)
        await output.put(EOF)

    async def _run_in_completion_order(self, input: Queue, output: Queue) -> None:
        slots = asyncio.Semaphore(self.counters.concurrency)
        tasks: set[asyncio.Task[None]] = set()

        async def emit(value: Any) -> None:
            await output.put(value)
            self.counters.num_out += 1

        async def process(item: Any) -> None:
            try:
                await self._process(item, emit)
            finally:
                slots.release()

        try:
            while True:
                await slots.acquire()  # before taking an item: in flight <= concurrency
                item = await input.get()
                if item is EOF:
                    break
                task = asyncio.get_running_loop().create_task(process(item))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.wait(set(tasks))
        finally:
            await cancel_all(tasks)

    async def _run_in_input_order(self, input: Queue, output: Queue) -> None:
        slots = asyncio.Semaphore(self.counters.concurrency)
        # (task, its outputs) in input order; its length is bounded by ``slots``. A
        # function's one output waits in a list; a generator's outputs go through a
        # queue holding one, so a generator behind the oldest task pauses there until
        # its turn comes, instead of collecting everything it yields.
        in_flight: collections.deque[tuple[asyncio.Task[None], Any, list[Any]]] = (
            collections.deque()
        )
        arrived = asyncio.Event()
        input_done = False
        loop = asyncio.get_running_loop()
        generator = self.op.kind in (OpKind.GENERATOR, OpKind.ASYNC_GENERATOR)

        async def stream(item: Any, outbox: asyncio.Queue[Any], failures: list[Any]) -> None:
            await self._process(item, outbox.put, failures)
            await outbox.put(EOF)

        async def feed() -> None:
            nonlocal input_done
            while True:
                await slots.acquire()
                item = await input.get()
                if item is EOF:
                    input_done = True
                    arrived.set()
                    return
                outputs: Any
                # A failure counts when its turn comes: the items before it are
                # delivered first, even when it fails (and ends the run) before them.
                failures: list[tuple[Any, BaseException]] = []
                if generator:
                    outputs = asyncio.Queue(1)
                    task = loop.create_task(stream(item, outputs, failures))
                else:
                    outputs = []
                    task = loop.create_task(self._process(item, _appender(outputs), failures))
                in_flight.append((task, outputs, failures))
                arrived.set()

        feeder = loop.create_task(feed())
        try:
            while True:
                if not in_flight:
                    if input_done:
                        break
                    arrived.clear()
                    await arrived.wait()
                    continue
                task, outputs, failures = in_flight[0]
                if generator:
                    while (value := await outputs.get()) is not EOF:
                        await output.put(value)
                        self.counters.num_out += 1
                else:
                    await task  # failures go to `failures`; it never raises
                    for value in outputs:
                        await output.put(value)
                        self.counters.num_out += 1
                for item, error in failures:
                    self._failed(item, error, None)
                if self._stopping():
                    return  # a failure ended the run: nothing after it goes out
                in_flight.popleft()
                slots.release()
            await feeder
        finally:
            await cancel_all([feeder, *(task for task, _, _ in in_flight)])

    async def _process(
        self, item: Any, emit: Emit, failures: list[tuple[Any, BaseException]] | None = None
    ) -> None:
        """Run the op on one item and emit its outputs; failures are recorded, not raised
        (or put in ``failures``, for the caller to record in input order).

        The task time covers the op's work (failed tasks included), not the waits for
        room downstream, nor a task cut short by cancellation.
        """
        self.counters.num_in += 1
        watch = Stopwatch()
        try:
            await self.op.apply(item, emit, watch)
        except asyncio.CancelledError as error:
            if _being_cancelled() or self._stopping():
                raise
            # Not this task: a Future the op returned was cancelled by its owner (an
            # executor shut down, say). The item failed; the stage goes on.
            watch.pause()
            self._failed(item, error, failures)
        except Exception as error:
            watch.pause()
            self.counters.times.add(watch.elapsed_ns)
            self._failed(item, error, failures)
        except BaseException as error:  # e.g. KeyboardInterrupt raised inside an op
            self.context.abort(error)
        else:
            self.counters.times.add(watch.elapsed_ns)
            self._num_processed += 1

    def _failed(
        self, item: Any, error: BaseException, failures: list[tuple[Any, BaseException]] | None
    ) -> None:
        if failures is not None:
            failures.append((item, error))
            return
        self._num_processed += 1
        self._record_failure(item, error)


class AggregateStage(_ItemStage):
    """Groups ``num_items`` items into a list."""

    def __init__(
        self, num_items: int, drop_last: bool, counters: StageCounters, context: StageContext
    ) -> None:
        super().__init__(counters, context)
        self.num_items = num_items
        self.drop_last = drop_last

    async def run(self, input: Queue, output: Queue) -> None:
        batch: list[Any] = []
        while True:
            item = await input.get()
            if item is EOF:
                break
            self.counters.num_in += 1
            batch.append(item)
            if len(batch) == self.num_items:
                await output.put(batch)
                self.counters.num_out += 1
                batch = []
        # After a failure upstream the last batch is not whole because the stream was
        # cut, not because it ended: it is not delivered.
        if batch and not self.drop_last and not self.context.cut_happened():
            await output.put(batch)
            self.counters.num_out += 1
        await output.put(EOF)


class DisaggregateStage(_ItemStage):
    """Puts each element of an item (a list, or any iterable) separately.

    A collection (an object with a length) is in memory already and is read on the
    loop; any other iterable (a generator, a file's lines) may compute or wait for
    each element, so each ``next`` runs on the worker pool and each element goes on
    before the next is read: the stage neither holds the loop nor reads ahead of the
    queue's room.
    """

    async def run(self, input: Queue, output: Queue) -> None:
        while True:
            item = await input.get()
            if item is EOF:
                break
            self.counters.num_in += 1
            try:
                await self._put_each(item, output)
            except Exception as error:  # the elements before it have gone on
                self._num_processed += 1
                self._record_failure(item, error)
                continue
            self._num_processed += 1
        self._check_budget(final=True)
        await output.put(EOF)

    async def _put_each(self, item: Any, output: Queue) -> None:
        if isinstance(item, Sized):
            for element in list(cast("Iterable[Any]", item)):
                await output.put(element)
                self.counters.num_out += 1
            return
        iterator = iter(item)
        step: Future[Any] | None = None
        try:
            while True:
                step = self.context.executor.submit(next, iterator, _END)
                element = await await_future(step)
                step = None
                if element is _END:
                    return
                await output.put(element)
                self.counters.num_out += 1
        finally:
            if inspect.isgenerator(iterator):  # only what iteration created, not e.g. a file
                if step is not None and not step.done():
                    step.add_done_callback(lambda _: close_generator(iterator))
                else:
                    close_generator(iterator)


def _appender(outputs: list[Any]) -> Emit:
    async def append(value: Any) -> None:
        outputs.append(value)

    return append


def _being_cancelled() -> bool:
    """Whether the running task has been asked to cancel (Python 3.11+ can tell; before,
    ``StageContext.stopping`` alone decides)."""
    cancelling = getattr(asyncio.current_task(), "cancelling", None)
    return cancelling is not None and cancelling() > 0


async def cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel the tasks and wait until they have finished (their cleanup included)."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


@dataclass(frozen=True)
class PipeSpec:
    """One ``pipe`` step as the builder recorded it."""

    name: str
    op: Callable[..., Any]
    kind: OpKind
    concurrency: int
    executor: Executor | None
    output_order: str
    budget: FailureBudget | None  # None: the pipeline's
    kind_name: ClassVar[str] = "pipe"


@dataclass(frozen=True)
class AggregateSpec:
    name: str
    num_items: int
    drop_last: bool
    concurrency: int = 1
    kind_name: ClassVar[str] = "aggregate"


@dataclass(frozen=True)
class DisaggregateSpec:
    name: str
    concurrency: int = 1
    kind_name: ClassVar[str] = "disaggregate"


StepSpec = PipeSpec | AggregateSpec | DisaggregateSpec


def make_stage(spec: StepSpec, counters: StageCounters, context: StageContext) -> Any:
    if isinstance(spec, PipeSpec):
        return PipeStage(
            spec.op,
            kind=spec.kind,
            executor=spec.executor,
            output_order=spec.output_order,
            budget=spec.budget,
            counters=counters,
            context=context,
        )
    if isinstance(spec, AggregateSpec):
        return AggregateStage(spec.num_items, spec.drop_last, counters, context)
    return DisaggregateStage(counters, context)
