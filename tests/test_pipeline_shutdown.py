"""spdl.pipeline: stopping leaves no thread behind and never hangs.

Covers ``stop()``, ``auto_stop()`` (also when the consumer raises), ``break`` followed
by dropping the pipeline, garbage collection of a pipeline never stopped, interpreter
exit without ``stop()`` (in a subprocess), and the cancellation of in-flight work:
asyncio ops and the ``concurrent.futures.Future`` objects that ops return (spdl.io's:
test_pipeline_spdl_io.py). The pipeline's threads are found by name (``spdl-pipeline-<id>-...``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import itertools
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _stop_helpers import run_with_limit

from spdl.pipeline import Pipeline, PipelineBuilder

TIMEOUT_S = 30
# stop() must return this fast when every op in flight can be cancelled.
PROMPT_STOP_S = 1.0


def pipeline_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("spdl-pipeline-")}


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def no_new_threads(before: set[threading.Thread]) -> bool:
    return pipeline_threads() <= before


def endless_pipeline(num_threads: int = 2) -> Pipeline[Any]:
    async def touch(x: int) -> int:
        await asyncio.sleep(0)
        return x

    return (
        PipelineBuilder()
        .add_source(itertools.count())
        .pipe(lambda x: x + 1, concurrency=2, output_order="input")
        .pipe(touch, concurrency=2, output_order="input")
        .add_sink(2)
        .build(num_threads=num_threads)
    )


def test_threads_are_named_after_the_pipeline():
    before = pipeline_threads()
    pipeline = endless_pipeline()
    pipeline.start()
    try:
        assert pipeline.get_item(timeout=TIMEOUT_S) == 1
        names = {t.name for t in pipeline_threads() - before}
        assert any(n.endswith("-loop") for n in names), names
        assert any("-worker_" in n for n in names), names
        assert len({n.split("-")[2] for n in names}) == 1  # one pipeline id
    finally:
        pipeline.stop(timeout=TIMEOUT_S)


def test_stop_joins_every_thread():
    before = pipeline_threads()
    pipeline = endless_pipeline()
    pipeline.start()
    assert [pipeline.get_item(timeout=TIMEOUT_S) for _ in range(3)] == [1, 2, 3]
    pipeline.stop(timeout=TIMEOUT_S)
    assert no_new_threads(before)
    # Iteration ends after stop, and stop can be called again.
    assert list(pipeline) == []
    pipeline.stop()


def test_stop_right_after_start_never_raises():
    # Threads are recorded before they start (the loop's, the workers'): a stop that
    # comes in between has nothing to join there, and must not fail on it.
    before = pipeline_threads()
    for _ in range(100):
        pipeline = endless_pipeline()
        pipeline.start()
        pipeline.stop(timeout=0)
    for _ in range(100):
        pipeline = endless_pipeline()
        watchdog = threading.Thread(target=pipeline.stop)
        watchdog.start()  # stops it while next() below is starting it
        with pytest.raises(StopIteration):
            while True:
                next(iter(pipeline))
        watchdog.join(TIMEOUT_S)
    wait_until(lambda: no_new_threads(before))


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_an_op_can_stop_its_own_pipeline(kind: str):
    # An early-stopping op: stop() on one of the pipeline's own threads asks for the
    # stop and returns (waiting there for the threads would wait for itself).
    before = pipeline_threads()
    returned = threading.Event()
    holder: list[Pipeline[Any]] = []

    def stop_at_three(x: int) -> int:
        if x == 3:
            holder[0].stop(timeout=None)
            returned.set()
        return x

    async def async_stop_at_three(x: int) -> int:
        return stop_at_three(x)

    pipeline = (
        PipelineBuilder()
        .add_source(range(100))
        .pipe(lambda x: x)  # a sync stage: its workers end when the loop shuts them
        .pipe(async_stop_at_three if kind == "async" else stop_at_three)
        .add_sink(2)
        .build(num_threads=2)
    )
    holder.append(pipeline)
    received = list(pipeline.get_iterator(timeout=TIMEOUT_S))
    assert returned.wait(5), "stop() called by an op did not return"
    assert received == list(range(len(received))) and len(received) <= 4
    wait_until(lambda: no_new_threads(before))


def test_a_pipeline_that_ran_to_its_end_has_no_threads_left():
    before = pipeline_threads()
    pipeline = PipelineBuilder().add_source(range(5)).pipe(abs).add_sink(2).build(num_threads=2)
    assert list(pipeline) == [0, 1, 2, 3, 4]  # iterating starts it
    wait_until(lambda: no_new_threads(before))


def test_start_twice_or_after_stop_raises():
    pipeline = endless_pipeline()
    pipeline.start()
    with pytest.raises(RuntimeError, match="already started"):
        pipeline.start()
    pipeline.stop(timeout=TIMEOUT_S)
    with pytest.raises(RuntimeError, match="stopped"):
        pipeline.start()
    never_started = endless_pipeline()
    never_started.stop()  # nothing to do


def test_auto_stop_stops_when_the_consumer_raises():
    before = pipeline_threads()
    pipeline = endless_pipeline()
    with pytest.raises(ZeroDivisionError):
        with pipeline.auto_stop():
            for item in pipeline:
                if item == 4:
                    _ = 1 / 0
    assert no_new_threads(before)


def test_break_and_dropping_the_pipeline_stops_its_threads():
    before = pipeline_threads()
    pipeline = endless_pipeline()
    for item in pipeline:
        if item == 3:
            break
    ref = weakref.ref(pipeline)
    del pipeline
    assert ref() is None  # nothing (no background thread) keeps it alive
    wait_until(lambda: no_new_threads(before))


def test_garbage_collecting_an_unstopped_pipeline_stops_its_threads():
    before = pipeline_threads()
    pipeline = endless_pipeline()
    pipeline.start()
    pipeline.get_item(timeout=TIMEOUT_S)
    cycle: list[Any] = [pipeline]
    cycle.append(cycle)  # only the cycle collector can free it
    ref = weakref.ref(pipeline)
    del pipeline, cycle
    gc.collect()
    assert ref() is None
    wait_until(lambda: no_new_threads(before))


def test_stop_returns_promptly_while_ops_await_long_sleeps():
    before = pipeline_threads()
    started = 0

    async def sleep_long(x: int) -> int:
        nonlocal started
        started += 1
        await asyncio.sleep(3600)
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(itertools.count())
        .pipe(sleep_long, concurrency=4)
        .add_sink(2)
        .build(num_threads=2)
    )
    pipeline.start()
    wait_until(lambda: started == 4)
    begin = time.monotonic()
    pipeline.stop(timeout=TIMEOUT_S)
    assert time.monotonic() - begin < PROMPT_STOP_S
    assert no_new_threads(before)


def test_stop_cancels_the_futures_that_ops_returned():
    before = pipeline_threads()
    futures: list[concurrent.futures.Future[int]] = []
    lock = threading.Lock()

    def never_done(x: int) -> concurrent.futures.Future[int]:
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        with lock:
            futures.append(future)
        return future

    pipeline = (
        PipelineBuilder()
        .add_source(itertools.count())
        .pipe(never_done, concurrency=3)
        .add_sink(2)
        .build(num_threads=2)
    )
    pipeline.start()
    wait_until(lambda: len(futures) == 3)
    begin = time.monotonic()
    pipeline.stop(timeout=TIMEOUT_S)
    assert time.monotonic() - begin < PROMPT_STOP_S
    assert len(futures) == 3 and all(f.cancelled() for f in futures)
    assert no_new_threads(before)


def test_a_future_returned_after_stop_by_a_running_sync_op_is_cancelled(
    caplog: pytest.LogCaptureFixture,
):
    release = threading.Event()
    running = threading.Event()
    returned: list[concurrent.futures.Future[int]] = []

    def slow_submit(x: int) -> concurrent.futures.Future[int]:
        running.set()
        assert release.wait(TIMEOUT_S)
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        returned.append(future)
        return future

    before = pipeline_threads()
    pipeline = (
        PipelineBuilder().add_source(range(1)).pipe(slow_submit).add_sink(1).build(num_threads=1)
    )
    pipeline.start()
    assert running.wait(TIMEOUT_S)
    # The op is running in a thread: stop() cannot interrupt it and returns at its
    # timeout, saying which thread still runs.
    pipeline.stop(timeout=0.2)
    assert any("worker" in r.getMessage() for r in caplog.records if r.name == "spdl.pipeline")
    release.set()
    wait_until(lambda: bool(returned) and returned[0].cancelled())
    wait_until(lambda: no_new_threads(before))


def test_get_iterator_timeout_raises_timeout_error():
    async def slow(x: int) -> int:
        await asyncio.sleep(3600)
        return x

    pipeline = PipelineBuilder().add_source(range(3)).pipe(slow).add_sink(1).build(num_threads=1)
    with pipeline.auto_stop():
        iterator = pipeline.get_iterator(timeout=0.05)
        with pytest.raises(TimeoutError):
            next(iterator)


EXIT_WITHOUT_STOP = textwrap.dedent(
    """
    import asyncio, itertools, time
    from spdl.pipeline import PipelineBuilder

    async def touch(x):
        await asyncio.sleep(0.01)
        return x

    def work(x):
        time.sleep(0.01)
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(itertools.count())
        .pipe(work, concurrency=2)
        .pipe(touch, concurrency=4)
        .add_sink(2)
        .build(num_threads=2)
    )
    {start}
    print("got", pipeline.get_item(timeout=30), flush=True)
    """
)


@pytest.mark.parametrize(
    "start", ["pipeline.start()", "", "iterator = iter(pipeline); next(iterator)"]
)
def test_interpreter_exits_without_stop(start: str):
    script = EXIT_WITHOUT_STOP.format(start=start)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("got ")
    assert "Traceback" not in result.stderr, result.stderr


# -- a sync source runs on a thread of its own -------------------------------------------


def test_stop_returns_promptly_while_a_sync_source_feeding_the_sink_is_in_next():
    in_next = threading.Event()

    def slow_stream() -> Iterator[int]:
        for index in itertools.count():
            in_next.set()
            time.sleep(0.2)  # a socket read, say
            yield index

    before = pipeline_threads()
    pipeline = PipelineBuilder().add_source(slow_stream()).add_sink(4).build(num_threads=1)
    pipeline.start()
    assert pipeline.get_item(timeout=TIMEOUT_S) == 0
    in_next.clear()
    assert in_next.wait(TIMEOUT_S)  # the source is inside next() now
    assert run_with_limit(pipeline.stop) < PROMPT_STOP_S
    wait_until(lambda: no_new_threads(before))


def test_leaving_auto_stop_takes_no_more_items_from_a_finite_source():
    taken = 0
    in_next = threading.Event()

    def stream() -> Iterator[int]:
        nonlocal taken
        for index in range(3000):
            taken += 1
            if index == 3:
                in_next.set()
                time.sleep(0.2)  # inside next() when the consumer stops the pipeline
            yield index

    pipeline = PipelineBuilder().add_source(stream()).add_sink(2).build(num_threads=1)

    def consume_one() -> None:
        with pipeline.auto_stop():
            assert next(iter(pipeline)) == 0
            assert in_next.wait(TIMEOUT_S)

    run_with_limit(consume_one)
    # Items 0-2 went to the consumer and the sink; the stop came during the 4th next().
    assert taken == 4, taken
    assert pipeline.stats().stages[0].num_items_out == 3


def test_a_blocked_sync_source_does_not_hold_up_the_stages():
    release = threading.Event()

    def stream() -> Iterator[int]:
        yield 0
        assert release.wait(TIMEOUT_S)  # blocks until the consumer has item 0
        yield 1

    async def touch(x: int) -> int:
        await asyncio.sleep(0)
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(stream())
        .pipe(touch, concurrency=8)
        .add_sink(3)
        .build(num_threads=1)
    )
    with pipeline.auto_stop():
        try:
            first = pipeline.get_item(timeout=5)
        finally:
            release.set()
        assert [first, *pipeline] == [0, 1]


def test_stop_returns_promptly_while_a_sync_op_runs():
    running = threading.Event()
    release = threading.Event()

    def stuck(x: int) -> int:
        running.set()
        release.wait(TIMEOUT_S)
        return x

    before = pipeline_threads()
    pipeline = (
        PipelineBuilder().add_source(range(10)).pipe(stuck, concurrency=2).add_sink(2)
    ).build(num_threads=2)
    pipeline.start()
    assert running.wait(TIMEOUT_S)
    try:
        assert run_with_limit(pipeline.stop) < PROMPT_STOP_S  # the default timeout
    finally:
        release.set()
    wait_until(lambda: no_new_threads(before))  # the worker ends once its op returns


def test_no_failures_are_logged_for_work_cut_short_by_stop(caplog: pytest.LogCaptureFixture):
    blocking = threading.Event()

    async def hog(x: int) -> int:
        if x == 20:
            blocking.set()
            time.sleep(0.3)  # blocks the event loop: stop() returns before it ends
        return x

    before = pipeline_threads()
    pipeline = (
        PipelineBuilder()
        .add_source(itertools.count())
        .pipe(abs, concurrency=4)
        .pipe(hog, concurrency=4)
        .add_sink(100)
        .build(num_threads=2)
    )
    pipeline.start()
    assert blocking.wait(TIMEOUT_S)
    pipeline.stop(timeout=0.01)
    wait_until(lambda: no_new_threads(before))
    failures = [r.getMessage() for r in caplog.records if "failed on item" in r.getMessage()]
    assert failures == []
    assert sum(stage.num_failures for stage in pipeline.stats().stages) == 0


EXIT_WHILE_A_CALL_BLOCKS = {
    "a sync source in next()": """
        def stream():
            for index in itertools.count():
                time.sleep(0.2)
                yield index
        pipeline = PipelineBuilder().add_source(stream()).add_sink(4).build(num_threads=1)
        """,
    "a sync op that never returns": """
        def stuck(x):
            threading.Event().wait()
        pipeline = (
            PipelineBuilder().add_source(range(9)).pipe(stuck, concurrency=2).add_sink(2)
        ).build(num_threads=2)
        """,
    "an async op blocking the loop": """
        async def blocking(x):
            time.sleep(3600)
        pipeline = PipelineBuilder().add_source(range(9)).pipe(blocking).add_sink(2).build(
            num_threads=1
        )
        """,
}


@pytest.mark.parametrize("case", sorted(EXIT_WHILE_A_CALL_BLOCKS))
def test_interpreter_exits_while_a_call_blocks_a_pipeline_thread(case: str):
    script = "import itertools, threading, time\n"
    script += "from spdl.pipeline import PipelineBuilder\n"
    script += textwrap.dedent(EXIT_WHILE_A_CALL_BLOCKS[case])
    script += "pipeline.start()\ntime.sleep(0.3)\nprint('end of script', flush=True)\n"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "end of script\n"
    assert "Traceback" not in result.stderr, result.stderr
