"""The machinery behind a ``Pipeline``: an event loop in a background thread.

One thread per pipeline runs an asyncio event loop that drives every stage as a task;
sync ops run on the pipeline's worker pool (or a stage's own executor) and a sync
source iterates on a thread of its own. The user's thread reads the sink.

Every thread is a daemon, so ``stop(timeout)`` and interpreter exit can walk away from
an op that does not return; such a thread ends when its op returns. The background
threads hold the ``Runtime``, never the ``Pipeline`` object, so an unused pipeline is
garbage collected and its finalizer stops the threads. A hook run at interpreter exit
stops every pipeline still running and gives its threads a bounded time to end.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import logging
import threading
import time
from collections.abc import AsyncIterable, Iterable
from typing import Any

from ._failures import FailureBudget
from ._queues import Sink, SourceQueue, StageQueue
from ._stages import SourceStage, StageContext, StepSpec, cancel_all, make_stage
from ._stats import PipelineStats, QueueClock, StageCounters
from ._workers import WorkerPool

__all__ = ["Runtime"]

_LG = logging.getLogger("spdl.pipeline")

_ids = itertools.count(1)

# ``threading._register_atexit`` hooks run before the interpreter joins non-daemon
# threads, while the interpreter is fully alive (``atexit`` hooks run later).
_REGISTER_BEFORE_THREAD_JOIN = getattr(threading, "_register_atexit", None)
# The least room behind a sync source: its thread and the event loop wake each other up
# once per half of it, not per item (each wake hands the GIL over between two threads).
_SOURCE_QUEUE_SIZE = 16
# How long the exit hook waits for the threads of all pipelines together.
_EXIT_JOIN_TIMEOUT_S = 1.0


class Runtime:
    """Everything the background threads use: the stages, queues, counters, the loop."""

    def __init__(
        self,
        *,
        source: Iterable[Any] | AsyncIterable[Any],
        steps: list[StepSpec],
        buffer_size: int,
        num_threads: int,
        budget: FailureBudget,
        report_stats_interval: float | None,
    ) -> None:
        self.id = next(_ids)
        self.thread_prefix = f"spdl-pipeline-{self.id}"
        self.steps = steps
        self.num_threads = num_threads
        self.budget = budget
        self.report_stats_interval = report_stats_interval

        self.stage_counters = [StageCounters("source", "source", 1)]
        for step in steps:
            self.stage_counters.append(StageCounters(step.name, step.kind_name, step.concurrency))
        # The queue in front of a stage holds as many items as the stage runs at once;
        # a sync source's queue holds more, as its thread hands items over in bursts.
        names = [c.name for c in self.stage_counters] + ["sink"]
        sizes = [max(1, step.concurrency) for step in steps] + [buffer_size]
        if steps and not isinstance(source, AsyncIterable):
            sizes[0] = max(sizes[0], _SOURCE_QUEUE_SIZE)
        self.queue_clocks = [
            QueueClock(names[i], names[i + 1], sizes[i]) for i in range(len(sizes))
        ]
        self.source = SourceStage(
            source, self.stage_counters[0], thread_name=f"{self.thread_prefix}-source"
        )
        self.sink = Sink(self.queue_clocks[-1])

        # Re-entrant: the finalizer (request_stop) may run from a garbage collection
        # triggered inside a locked section on the same thread.
        self._lock = threading.RLock()
        self._state = "new"  # -> "running" -> "stopped"
        self._stop_requested = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._cancel_sent = False
        self._loop_started = threading.Event()
        self._error: BaseException | None = None
        # The error of a stage that cut the stages before it off (``_cut``): the stages
        # after it still deliver what they hold, then the consumer sees it.
        self._failure: BaseException | None = None
        self._cut_tasks: set[asyncio.Task[Any]] = set()
        self._start_ns: int | None = None
        self._end_ns: int | None = None
        self.executor: WorkerPool | None = None

    def describe(self) -> str:
        parts = ["source"]
        for step, counters in zip(self.steps, self.stage_counters[1:], strict=True):
            parts.append(f"{counters.name}[{step.concurrency}]")
        return " -> ".join([*parts, f"sink[{self.queue_clocks[-1].size}]"])

    # -- lifecycle (user's thread) ------------------------------------------------------

    def start(self, timeout: float | None) -> None:
        with self._lock:
            if self._state != "new":
                raise RuntimeError(
                    "The pipeline was already started."
                    if self._state == "running"
                    else "The pipeline was stopped; build a new one."
                )
            self._state = "running"
        self.executor = WorkerPool(self.num_threads, f"{self.thread_prefix}-worker")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=_run_loop_thread, args=(self,), name=f"{self.thread_prefix}-loop", daemon=True
        )
        _track(self)
        self._thread.start()
        if not self._loop_started.wait(timeout):
            raise TimeoutError(f"The pipeline's event loop did not start within {timeout} s.")

    def is_started(self) -> bool:
        return self._state != "new"

    def request_stop(self) -> None:
        """Ask the loop to cancel everything; returns at once (safe from any thread)."""
        with self._lock:
            if self._state == "new":
                self._state = "stopped"
            self._stop_requested = True
            loop, task = self._loop, self._main_task
        self.sink.close()
        self.source.close()
        if loop is not None and task is not None:
            try:
                loop.call_soon_threadsafe(self._cancel_main)
            except RuntimeError:  # the loop has already closed: nothing runs any more
                pass

    def stop(self, timeout: float | None) -> None:
        self.request_stop()
        with self._lock:
            self._state = "stopped"
        if threading.current_thread() in self.threads():
            return  # an op of this pipeline stops it: its threads end once it returns
        deadline = None if timeout is None else time.monotonic() + timeout
        self.join(deadline)
        alive = [t.name for t in self.threads() if t.is_alive()]
        if alive:
            _LG.warning(
                "Pipeline %d: stop() returned after %s s while %s still run; a sync op (or "
                "a blocking call in an async op or the source) cannot be interrupted, its "
                "thread ends when the call returns.",
                self.id,
                timeout,
                ", ".join(alive),
            )

    def join(self, deadline: float | None) -> None:
        """Wait for the threads to end, until ``deadline`` (``time.monotonic``)."""
        current = threading.current_thread()
        # The loop thread first: it shuts the worker pool down on its way out.
        for thread in [self._thread, *self.threads()]:
            if thread is not None and thread is not current:
                _join(thread, _remaining(deadline))

    def threads(self) -> list[threading.Thread]:
        """The pipeline's threads: the loop's, the source's and the workers."""
        threads = [t for t in (self._thread, self.source.thread) if t is not None]
        if self.executor is not None:
            threads += self.executor.threads()
        return threads

    # -- the event loop (background thread) --------------------------------------------

    def _cancel_main(self) -> None:
        if not self._cancel_sent and self._main_task is not None:
            self._cancel_sent = True
            self._main_task.cancel()

    def _stopping(self) -> bool:
        return self._stop_requested or self._error is not None

    def _abort(self, error: BaseException) -> None:
        """Stop the pipeline because of ``error``; the consumer sees it after the sink."""
        if self._error is None:
            self._error = error
        self._cancel_main()

    def _cut(self, stage: Any, error: BaseException, stages: list[Any], tasks: list[Any]) -> None:
        """End ``stage`` and the stages before it (and the source) because of ``error``."""
        if self._failure is None:
            self._failure = error
        index = stages.index(stage)
        self.source.cut_off = True
        for before in stages[: index + 1]:
            before.cut_off = True
        for task in tasks[: index + 1]:  # the source's and those of the stages before
            self._cut_tasks.add(task)
            task.cancel()

    async def _wait_for_stages(self, tasks: list[asyncio.Task[Any]]) -> None:
        """Wait until every stage has ended; a stage that crashed or was cancelled other
        than by ``_cut`` ends the wait at once (``gather``'s rule)."""
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task.cancelled():
                    if task not in self._cut_tasks:
                        raise asyncio.CancelledError
                elif (error := task.exception()) is not None:
                    raise error

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        assert self.executor is not None
        loop.set_default_executor(self.executor)  # asyncio.to_thread in async ops, too
        with self._lock:
            self._main_task = asyncio.current_task()
            stop_requested = self._stop_requested
        self._start_ns = time.perf_counter_ns()
        for clock in self.queue_clocks:
            clock.start()
        self._loop_started.set()
        if stop_requested:
            self._cancel_sent = True
            self._finish()
            return

        self.source.stopping = lambda: self.source.cut_off or self._stopping()
        stages: list[Any] = []
        tasks: list[asyncio.Task[Any]] = []
        context = StageContext(
            budget=self.budget,
            abort=self._abort,
            cut=lambda stage, error: self._cut(stage, error, stages, tasks),
            # A source that raised cut the stream too (its error is set before its end).
            cut_happened=lambda: self._failure is not None or self.source.error is not None,
            executor=self.executor,
            stopping=self._stopping,
        )
        stages += [
            make_stage(step, counters, context)
            for step, counters in zip(self.steps, self.stage_counters[1:], strict=True)
        ]
        queues: list[Any] = [StageQueue(clock) for clock in self.queue_clocks[:-1]]
        if queues and self.source.threaded:
            queues[0] = SourceQueue(self.queue_clocks[0], loop)
        queues.append(self.sink)
        name = self.thread_prefix
        tasks.append(loop.create_task(self.source.run(queues[0]), name=f"{name}:source"))
        for index, stage in enumerate(stages):
            coro = stage.run(queues[index], queues[index + 1])
            tasks.append(loop.create_task(coro, name=f"{name}:{stage.counters.name}"))
        if self.report_stats_interval:
            tasks.append(loop.create_task(self._report_periodically(self.report_stats_interval)))
            stage_tasks = tasks[:-1]
        else:
            stage_tasks = tasks
        try:
            await self._wait_for_stages(stage_tasks)
        except asyncio.CancelledError:
            pass  # stop() or _abort()
        except BaseException as error:  # a bug in a stage: make it visible to the consumer
            _LG.exception("Pipeline %d: a stage crashed.", self.id)
            self._error = self._error or error
        finally:
            self._cancel_sent = True  # nothing may cancel the cleanup below
            await cancel_all(tasks)
            self._finish()

    def _finish(self) -> None:
        self._end_ns = time.perf_counter_ns()
        for clock in self.queue_clocks[:-1]:
            clock.stop()
        if self.report_stats_interval:
            _LG.info("Pipeline %d finished. %s", self.id, self.stats().report())
        self.sink.finish(self._error or self._failure or self.source.error)

    async def _report_periodically(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            _LG.info("Pipeline %d: %s", self.id, self.stats().report())

    def stats(self) -> PipelineStats:
        if self._start_ns is None:
            elapsed_ns = 0
        else:
            end = self._end_ns if self._end_ns is not None else time.perf_counter_ns()
            elapsed_ns = end - self._start_ns
        return PipelineStats(
            elapsed_s=elapsed_ns / 1e9,
            stages=tuple(c.snapshot() for c in self.stage_counters),
            queues=tuple(c.snapshot() for c in self.queue_clocks),
        )


def _join(thread: threading.Thread, timeout: float | None) -> None:
    try:
        thread.join(timeout)
    except RuntimeError:  # recorded, not started yet: it sees the stop once it runs
        pass


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _run_loop_thread(runtime: Runtime) -> None:
    loop = runtime._loop
    assert loop is not None and runtime.executor is not None
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(runtime.main())
    except BaseException as error:  # never leave the consumer waiting
        _LG.exception("Pipeline %d: the event loop crashed.", runtime.id)
        runtime.sink.finish(error)
    finally:
        runtime._loop_started.set()
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException:
            _LG.debug("Closing async generators raised.", exc_info=True)
        # Idle workers exit now; a worker running a sync op exits when it returns.
        runtime.executor.shutdown(wait=False, cancel_futures=True)
        asyncio.set_event_loop(None)
        loop.close()
        _untrack(runtime)


# -- stopping every running pipeline at interpreter exit ----------------------------------

_live_lock = threading.Lock()
_live: set[Runtime] = set()
_exit_hook_installed = False


def _track(runtime: Runtime) -> None:
    global _exit_hook_installed
    with _live_lock:
        _live.add(runtime)
        if _exit_hook_installed:
            return
        _exit_hook_installed = True
    if _REGISTER_BEFORE_THREAD_JOIN is not None:
        try:
            _REGISTER_BEFORE_THREAD_JOIN(_stop_all_at_exit)
            return
        except RuntimeError:  # already shutting down
            pass
    atexit.register(_stop_all_at_exit)


def _untrack(runtime: Runtime) -> None:
    with _live_lock:
        _live.discard(runtime)


def _stop_all_at_exit() -> None:
    with _live_lock:
        running = list(_live)
    for runtime in running:
        runtime.request_stop()
    deadline = time.monotonic() + _EXIT_JOIN_TIMEOUT_S
    for runtime in running:
        runtime.join(deadline)
