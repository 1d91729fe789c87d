"""spdl.pipeline: failing items are logged, counted and dropped until the failure budget
is spent; then iteration raises PipelineFailure. A failing source ends the pipeline
with its own error."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import pickle
import random
import time
import traceback
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import pytest

from spdl.pipeline import Pipeline, PipelineBuilder, PipelineFailure

TIMEOUT_S = 30


class BadItem(ValueError):
    pass


def failing_on(bad: set[int]):
    def check(x: int) -> int:
        if x in bad:
            raise BadItem(f"item {x} is bad")
        return x

    return check


def build(op: Any, num_items: int, max_failures: int | float, **pipe: Any) -> Pipeline[Any]:
    return (
        PipelineBuilder()
        .add_source(range(num_items))
        .pipe(op, **pipe)
        .add_sink(2)
        .build(num_threads=2, max_failures=max_failures)
    )


def consume(pipeline: Pipeline[Any], into: list[Any]) -> None:
    with pipeline.auto_stop():
        for item in pipeline.get_iterator(timeout=TIMEOUT_S):
            into.append(item)


def test_by_default_the_first_failure_stops_the_pipeline(caplog: pytest.LogCaptureFixture):
    pipeline = build(failing_on({3}), 10, max_failures=0)
    received: list[int] = []
    with caplog.at_level(logging.WARNING, logger="spdl.pipeline"):
        with pytest.raises(PipelineFailure) as info:
            consume(pipeline, received)
    failure = info.value
    assert isinstance(failure, RuntimeError)
    assert failure.stage == "check" and failure.num_failures == 1
    assert "'check'" in str(failure) and "1 of" in str(failure)
    assert isinstance(failure.__cause__, BadItem)
    assert str(failure.__cause__) == "item 3 is bad"
    assert received == [0, 1, 2]  # what passed before the failing item
    logged = [r for r in caplog.records if r.name == "spdl.pipeline" and "'check'" in r.message]
    assert logged and "item 3 is bad" in logged[0].message and "3" in logged[0].message


def test_default_max_failures_is_zero():
    pipeline = (
        PipelineBuilder()
        .add_source(range(3))
        .pipe(failing_on({1}))
        .add_sink(1)
        .build(num_threads=1)
    )
    with pytest.raises(PipelineFailure):
        consume(pipeline, [])


def test_an_int_budget_allows_that_many_failures_per_stage(caplog: pytest.LogCaptureFixture):
    received: list[int] = []
    with caplog.at_level(logging.WARNING, logger="spdl.pipeline"):
        consume(build(failing_on({2, 5}), 12, max_failures=2, concurrency=3), received)
    assert sorted(received) == [x for x in range(12) if x not in (2, 5)]
    messages = [r.getMessage() for r in caplog.records if r.name == "spdl.pipeline"]
    for bad in (2, 5):
        assert any("'check'" in m and f"item {bad} is bad" in m for m in messages), messages


def test_the_failure_over_an_int_budget_raises_with_the_last_error_as_cause():
    pipeline = build(failing_on({2, 5, 7, 9}), 12, max_failures=2)
    received: list[int] = []
    with pytest.raises(PipelineFailure) as info:
        consume(pipeline, received)
    failure = info.value
    assert (failure.stage, failure.num_failures, failure.num_processed) == ("check", 3, 8)
    assert "3 of 8 items" in str(failure) and "max_failures=2" in str(failure)
    assert str(failure.__cause__) == "item 7 is bad"
    assert received == [0, 1, 3, 4, 6]
    assert pipeline.stats().stages[1].num_failures == 3


def test_failures_are_counted_per_stage():
    pipeline = (
        PipelineBuilder()
        .add_source(range(10))
        .pipe(failing_on({1, 2}), name="first")
        .pipe(failing_on({3, 4}), name="second")
        .add_sink(2)
        .build(num_threads=1, max_failures=2)
    )
    received: list[int] = []
    consume(pipeline, received)
    assert received == [0, 5, 6, 7, 8, 9]
    stages = {s.name: s for s in pipeline.stats().stages}
    assert stages["first"].num_failures == 2 and stages["second"].num_failures == 2


def test_a_stage_budget_given_to_pipe_replaces_the_pipeline_budget():
    pipeline = (
        PipelineBuilder()
        .add_source(range(10))
        .pipe(failing_on({1, 2, 3}), name="tolerant", max_failures=-1)
        .pipe(failing_on({5}), name="strict")
        .add_sink(2)
        .build(num_threads=1, max_failures=0)
    )
    received: list[int] = []
    with pytest.raises(PipelineFailure) as info:
        consume(pipeline, received)
    assert info.value.stage == "strict"
    assert received == [0, 4]


def test_a_negative_budget_allows_any_number_of_failures():
    received: list[int] = []
    consume(build(failing_on(set(range(0, 20, 2))), 20, max_failures=-1), received)
    assert received == list(range(1, 20, 2))


@pytest.mark.parametrize("budget", [0.25, Fraction(1, 4)])
def test_a_fraction_budget_allows_that_share_of_the_items(budget: float):
    bad = set(range(9, 100, 10))  # 10% fail, spread out: never over 25% after 10 items
    received: list[int] = []
    consume(build(failing_on(bad), 100, max_failures=budget, concurrency=4), received)
    assert sorted(received) == [x for x in range(100) if x not in bad]


def test_a_fraction_budget_lets_a_stage_failing_less_often_at_random_finish():
    # 5% of the items failing at random under a 10% budget: an early unlucky stretch
    # (2 failures in the first 10) stopped about 3 runs in 10.
    rng = random.Random(0)
    for _ in range(20):
        bad = {x for x in range(400) if rng.random() < 0.05}
        received: list[int] = []
        consume(build(failing_on(bad), 400, max_failures=0.1), received)
        assert sorted(received) == [x for x in range(400) if x not in bad]


def test_a_fraction_budget_stops_a_stage_that_fails_more_often():
    bad = set(range(0, 100, 2))  # 50% fail, budget 25%
    pipeline = build(failing_on(bad), 100, max_failures=0.25)
    with pytest.raises(PipelineFailure) as info:
        consume(pipeline, [])
    failure = info.value
    # Checked once the stage has processed max(10, 1 / 0.25) items.
    assert failure.num_processed >= 10 and failure.num_failures > 0.25 * failure.num_processed
    assert failure.num_processed < 100


def test_a_fraction_budget_is_checked_again_after_the_last_item():
    # Fewer items than the minimum count for the rate check: decided at the end.
    pipeline = build(failing_on({0, 1, 2}), 5, max_failures=0.5)
    received: list[int] = []
    with pytest.raises(PipelineFailure) as info:
        consume(pipeline, received)
    assert (info.value.num_failures, info.value.num_processed) == (3, 5)
    assert received == [3, 4]  # delivered before the failure is raised


def test_async_and_generator_ops_fail_the_same_way():
    async def afail(x: int) -> int:
        await asyncio.sleep(0)
        raise BadItem(f"async {x}")

    def gfail(x: int) -> Iterator[int]:
        yield x
        raise BadItem(f"generator {x}")

    for op, expected in ((afail, []), (gfail, [0])):
        received: list[int] = []
        with pytest.raises(PipelineFailure) as info:
            consume(build(op, 5, max_failures=0), received)
        assert info.value.stage == op.__name__
        assert isinstance(info.value.__cause__, BadItem)
        assert received == expected


def test_disaggregate_counts_an_item_that_is_not_iterable_as_a_failure():
    pipeline = (
        PipelineBuilder()
        .add_source([[1, 2], 3, [4]])
        .disaggregate()
        .add_sink(2)
        .build(num_threads=1, max_failures=1)
    )
    received: list[int] = []
    consume(pipeline, received)
    assert received == [1, 2, 4]
    assert pipeline.stats().stages[1].num_failures == 1


def test_the_error_keeps_being_raised_after_the_failure():
    pipeline = build(failing_on({0}), 3, max_failures=0)
    with pipeline.auto_stop():
        with pytest.raises(PipelineFailure) as first:
            pipeline.get_item(timeout=TIMEOUT_S)
        with pytest.raises(PipelineFailure) as again:
            pipeline.get_item(timeout=TIMEOUT_S)
        depth = len(traceback.extract_tb(again.value.__traceback__))
        for _ in range(3):  # a loop that catches it and goes on
            with pytest.raises(PipelineFailure) as later:
                pipeline.get_item(timeout=TIMEOUT_S)
    assert again.value is first.value is later.value
    # Each raise starts from the traceback it was recorded with: it does not grow (nor
    # keep every earlier caller's frames alive).
    assert len(traceback.extract_tb(later.value.__traceback__)) == depth


def test_a_source_error_ends_the_pipeline_with_that_error_after_the_items_before_it():
    error = ConnectionError("listing the bucket failed")

    def source() -> Iterator[int]:
        yield from range(5)
        raise error

    pipeline = (
        PipelineBuilder()
        .add_source(source())
        .pipe(lambda x: x * 10, concurrency=2, output_order="input")
        .add_sink(2)
        .build(num_threads=2)
    )
    received: list[int] = []
    with pytest.raises(ConnectionError) as info:
        consume(pipeline, received)
    assert info.value is error
    assert received == [0, 10, 20, 30, 40]


def test_a_batch_cut_short_by_a_source_error_is_not_delivered():
    # As after a stage's failure: the short batch is short because the stream was cut.
    def source() -> Iterator[int]:
        yield from range(6)
        raise OSError("disk gone")

    pipeline = PipelineBuilder().add_source(source()).aggregate(4).add_sink(2).build(num_threads=1)
    received: list[list[int]] = []
    with pytest.raises(OSError, match="disk gone"):
        consume(pipeline, received)
    assert received == [[0, 1, 2, 3]]


def test_an_async_source_error_ends_the_pipeline_with_that_error():
    error = KeyError("missing shard")

    async def source():
        yield 1
        raise error

    pipeline = PipelineBuilder().add_source(source()).add_sink(2).build(num_threads=1)
    received: list[int] = []
    with pytest.raises(KeyError) as info:
        consume(pipeline, received)
    assert info.value is error and received == [1]


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("error_type", [asyncio.CancelledError, KeyboardInterrupt])
def test_a_source_base_exception_comes_after_the_items_before_it(
    kind: str, error_type: type[BaseException]
):
    # An async source's own CancelledError (a Future it awaited was cancelled by its
    # owner) is its error, not the pipeline's stop; neither it nor a KeyboardInterrupt
    # may drop the items already produced.
    def sync_source() -> Iterator[int]:
        yield from range(5)
        raise error_type()

    async def async_source():
        for x in range(5):
            yield x
        if error_type is asyncio.CancelledError:
            waited = asyncio.get_running_loop().create_future()
            waited.cancel()
            await waited
        raise error_type()

    async def slow(x: int) -> int:
        await asyncio.sleep(0.01)
        return x

    source = sync_source() if kind == "sync" else async_source()
    pipeline = (
        PipelineBuilder()
        .add_source(source)
        .pipe(slow, concurrency=2, output_order="input")
        .add_sink(8)
        .build(num_threads=1)
    )
    received: list[int] = []
    with pytest.raises(error_type):
        consume(pipeline, received)
    assert received == [0, 1, 2, 3, 4]


def test_a_source_eoferror_is_not_mistaken_for_the_end_of_the_pipeline():
    def source() -> Iterator[int]:
        yield 1
        raise EOFError("truncated index file")

    pipeline = PipelineBuilder().add_source(source()).add_sink(2).build(num_threads=1)
    with pytest.raises(EOFError, match="truncated"):
        consume(pipeline, [])


@pytest.mark.parametrize("output_order", ["completion", "input"])
def test_a_future_cancelled_by_its_owner_is_a_failure_of_its_item(output_order: str):
    def submit(x: int) -> concurrent.futures.Future[int]:
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        if x == 2:
            future.cancel()  # e.g. its executor was shut down
        else:
            future.set_result(x)
        return future

    pipeline = build(submit, 6, -1, concurrency=2, output_order=output_order)
    with pipeline.auto_stop():
        items = list(pipeline.get_iterator(timeout=TIMEOUT_S))
    assert sorted(items) == [0, 1, 3, 4, 5]
    assert pipeline.stats().stages[1].num_failures == 1

    pipeline = build(submit, 6, 0, output_order=output_order)
    with pytest.raises(PipelineFailure) as failure, pipeline.auto_stop():
        list(pipeline.get_iterator(timeout=TIMEOUT_S))
    assert isinstance(failure.value.__cause__, asyncio.CancelledError)


def _raises_stop_iteration(x: int) -> int:
    return next(y for y in range(x) if y > 100)  # finds nothing: StopIteration


def _returns_future_failed_with_stop_iteration(x: int) -> concurrent.futures.Future[int]:
    future: concurrent.futures.Future[int] = concurrent.futures.Future()
    future.set_exception(StopIteration())
    return future


@pytest.mark.parametrize("case", ["pool", "own executor", "returned future"])
def test_an_op_that_raises_stop_iteration_fails_its_item(case: str):
    # asyncio cannot raise StopIteration into a task: without care the stage would wait
    # for the item forever instead of counting a failure.
    op: Any = _returns_future_failed_with_stop_iteration
    pipe: dict[str, Any] = {}
    if case != "returned future":
        op = _raises_stop_iteration
    executor = concurrent.futures.ThreadPoolExecutor(1)
    if case == "own executor":
        pipe["executor"] = executor
    received: list[int] = []
    try:
        with pytest.raises(PipelineFailure) as info:
            consume(build(op, 5, max_failures=0, **pipe), received)
    finally:
        executor.shutdown()
    cause = info.value.__cause__
    assert isinstance(cause, RuntimeError) and "StopIteration" in str(cause)
    assert isinstance(cause.__cause__, StopIteration)
    assert info.value.num_failures == 1


def test_pipeline_failure_survives_pickling_with_its_fields():
    # A pipeline run in a process pool sends its failure back to the parent.
    with pytest.raises(PipelineFailure) as info:
        consume(build(failing_on({0}), 3, max_failures=0), [])
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is PipelineFailure and str(copy) == str(info.value)
    fields = ("stage", "num_failures", "num_processed")
    assert [getattr(copy, f) for f in fields] == [getattr(info.value, f) for f in fields]
    with concurrent.futures.ProcessPoolExecutor(1) as pool:
        with pytest.raises(PipelineFailure, match="'check' failed"):
            pool.submit(_fail_in_a_process).result(timeout=TIMEOUT_S)


def _fail_in_a_process() -> None:
    consume(build(failing_on({1}), 3, max_failures=0), [])


@pytest.mark.parametrize("failing_stage", [0, 1])
def test_an_input_order_failure_comes_after_every_item_before_it_in_later_stages(
    failing_stage: int,
):
    # As torch's DataLoader: batches 0 and 1 come, then the error of batch 2 (item 9).
    # The later stages are slow, so those batches are still in them when item 9 fails.
    def slow(batch: list[int]) -> list[int]:
        time.sleep(0.05)
        return batch

    check = failing_on({9})
    first = check if failing_stage == 0 else (lambda x: x)
    second = slow if failing_stage == 0 else (lambda batch: [check(x) for x in slow(batch)])
    pipeline = (
        PipelineBuilder()
        .add_source(range(16))
        .pipe(first, concurrency=4, output_order="input")
        .aggregate(4)
        .pipe(second, concurrency=2, output_order="input")
        .pipe(slow, concurrency=2, output_order="input")
        .add_sink(2)
        .build(num_threads=4)
    )
    received: list[list[int]] = []
    with pytest.raises(PipelineFailure, match="item 9 is bad"):
        consume(pipeline, received)
    # Not [8]: the batch the failure cut short is not delivered.
    assert received == [[0, 1, 2, 3], [4, 5, 6, 7]]
