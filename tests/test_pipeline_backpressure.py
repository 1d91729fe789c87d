"""spdl.pipeline: a consumer that stops reading stops the pipeline after a bounded number
of items.

The bound is computed from the pipeline's own queue sizes (as its statistics report
them) and the stages' concurrency: every item taken from the source is either
consumed, in a queue, held by one of a stage's tasks, or held by the source while it
waits for room.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spdl.pipeline import PipelineBuilder, PipelineStats

TIMEOUT_S = 30


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


class CountingSource:
    """An endless source that counts the items taken from it."""

    def __init__(self) -> None:
        self.num_taken = 0
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[int]:
        for index in itertools.count():
            with self._lock:
                self.num_taken += 1
            yield index


def most_items_in_flight(stats: PipelineStats) -> int:
    queued = sum(queue.size for queue in stats.queues)
    in_tasks = sum(stage.concurrency for stage in stats.stages[1:])
    return queued + in_tasks + 1  # + the item the source holds while waiting for room


def sync_identity(x: int) -> int:
    return x


async def async_identity(x: int) -> int:
    await asyncio.sleep(0)
    return x


@pytest.mark.parametrize("output_order", ["completion", "input"])
def test_a_stalled_consumer_bounds_the_items_taken_from_the_source(output_order: str):
    source = CountingSource()
    pipeline = (
        PipelineBuilder()
        .add_source(source)
        .pipe(sync_identity, concurrency=3, output_order=output_order)
        .pipe(async_identity, concurrency=5, output_order=output_order)
        .pipe(sync_identity, concurrency=2, output_order=output_order)
        .add_sink(4)
        .build(num_threads=3)
    )
    with pipeline.auto_stop():
        iterator = pipeline.get_iterator(timeout=TIMEOUT_S)
        consumed = [next(iterator) for _ in range(5)]
        bound = len(consumed) + most_items_in_flight(pipeline.stats())
        # The pipeline fills up to its sink while nobody reads ...
        wait_until(lambda: pipeline.stats().queues[-1].num_items_put >= len(consumed) + 4)
        time.sleep(0.3)  # ... and then stops taking items (it would keep going otherwise)
        assert source.num_taken <= bound, (source.num_taken, bound)
        # Reading again lets it go on.
        consumed += [next(iterator) for _ in range(bound)]
        assert source.num_taken > bound
    if output_order == "input":
        assert consumed == list(range(len(consumed)))


def test_a_generator_stage_waits_for_room_between_the_items_it_yields():
    num_yielded = 0

    def explode(x: int) -> Iterator[int]:
        nonlocal num_yielded
        for index in range(1000):
            num_yielded += 1
            yield x * 1000 + index

    pipeline = (
        PipelineBuilder()
        .add_source(range(10))
        .pipe(explode)
        .pipe(async_identity, concurrency=2)
        .add_sink(3)
        .build(num_threads=1)
    )
    with pipeline.auto_stop():
        first = pipeline.get_item(timeout=TIMEOUT_S)
        time.sleep(0.3)
        # sink 3 + queue 2 + 2 tasks + 1 held by the generator stage + the one consumed
        assert num_yielded <= 9, num_yielded
    assert first == 0


def test_an_aggregating_pipeline_holds_at_most_its_queues_worth_of_batches():
    source = CountingSource()
    pipeline: Any = (
        PipelineBuilder()
        .add_source(source)
        .aggregate(8)
        .pipe(async_identity, concurrency=2)
        .add_sink(2)
        .build(num_threads=1)
    )
    with pipeline.auto_stop():
        assert pipeline.get_item(timeout=TIMEOUT_S) == list(range(8))
        time.sleep(0.3)
        # Batches of 8: consumed 1 + sink 2 + 2 tasks + queue 2 + 1 that the aggregate
        # holds while waiting for room; plus the aggregate's input queue (the room behind
        # a sync source, as the stats report it) and the item the source holds.
        source_queue = pipeline.stats().queues[0].size
        assert source.num_taken <= 8 * 8 + source_queue + 1, source.num_taken


@pytest.mark.parametrize("output_order", ["completion", "input"])
def test_generator_tasks_with_concurrency_wait_for_room(output_order: str):
    num_yielded = 0
    lock = threading.Lock()

    def explode(x: int) -> Iterator[tuple[int, int]]:
        nonlocal num_yielded
        for index in range(100_000):
            with lock:
                num_yielded += 1
            yield x, index

    concurrency, sink_size = 3, 2
    pipeline = (
        PipelineBuilder()
        .add_source(range(4))
        .pipe(explode, concurrency=concurrency, output_order=output_order)
        .add_sink(sink_size)
        .build(num_threads=concurrency)
    )
    with pipeline.auto_stop():
        iterator = pipeline.get_iterator(timeout=TIMEOUT_S)
        first = next(iterator)
        time.sleep(0.3)
        # The one consumed, the sink's, and per task: one waiting for room, one in its
        # queue (input order, behind the oldest task), and the one the stage passes on.
        bound = 1 + sink_size + 2 * concurrency + 1
        assert num_yielded <= bound, num_yielded
        rest = [next(iterator) for _ in range(20)]
    if output_order == "input":
        assert [first, *rest] == [(0, index) for index in range(21)]
