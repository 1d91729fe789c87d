"""spdl.pipeline: output_order="input" restores the source order, "completion" loses nothing.

Items are made to finish out of order two ways: deterministically (the first item of
each group waits until a later item has started, or has gone through the next stage)
and with random delays.
"""

from __future__ import annotations

import asyncio
import collections
import random
import threading
import time
from typing import Any

import pytest

from spdl.pipeline import PipelineBuilder

TIMEOUT_S = 30
NUM_ITEMS = 48
CONCURRENCY = 4


def collect(builder: PipelineBuilder, num_threads: int = CONCURRENCY) -> list[Any]:
    pipeline = builder.add_sink(2).build(num_threads=num_threads)
    with pipeline.auto_stop():
        return list(pipeline.get_iterator(timeout=TIMEOUT_S))


def gated_sync_op():
    """Item ``4k`` finishes only after item ``4k + 3`` has started: out of order for sure."""
    started = collections.defaultdict(threading.Event)

    def op(x: int) -> int:
        started[x].set()
        if x % CONCURRENCY == 0 and x + CONCURRENCY - 1 < NUM_ITEMS:
            assert started[x + CONCURRENCY - 1].wait(TIMEOUT_S)
        return x

    return op


def gated_async_op():
    started: collections.defaultdict[int, asyncio.Event] = collections.defaultdict(asyncio.Event)

    async def op(x: int) -> int:
        started[x].set()
        if x % CONCURRENCY == 0 and x + CONCURRENCY - 1 < NUM_ITEMS:
            await asyncio.wait_for(started[x + CONCURRENCY - 1].wait(), TIMEOUT_S)
        return x

    return op


@pytest.mark.parametrize("make_op", [gated_sync_op, gated_async_op], ids=["sync", "async"])
def test_input_order_is_the_source_order_when_items_finish_out_of_order(make_op):
    builder = PipelineBuilder().add_source(range(NUM_ITEMS))
    builder.pipe(make_op(), concurrency=CONCURRENCY, output_order="input")
    assert collect(builder) == list(range(NUM_ITEMS))


def test_completion_order_passes_items_on_as_they_finish_sync():
    seen_downstream = threading.Event()

    def first_waits(x: int) -> int:
        if x == 0:  # finishes only after item 3 went through the next stage
            assert seen_downstream.wait(TIMEOUT_S)
        return x

    def watch(x: int) -> int:
        if x == 3:
            seen_downstream.set()
        return x

    builder = PipelineBuilder().add_source(range(NUM_ITEMS))
    builder.pipe(first_waits, concurrency=CONCURRENCY).pipe(watch)
    output = collect(builder)
    assert sorted(output) == list(range(NUM_ITEMS))  # each item exactly once
    assert output.index(3) < output.index(0)


def test_completion_order_passes_items_on_as_they_finish_async():
    seen_downstream = asyncio.Event()

    async def first_waits(x: int) -> int:
        if x == 0:
            await asyncio.wait_for(seen_downstream.wait(), TIMEOUT_S)
        return x

    async def watch(x: int) -> int:
        if x == 3:
            seen_downstream.set()
        return x

    builder = PipelineBuilder().add_source(range(NUM_ITEMS))
    builder.pipe(first_waits, concurrency=CONCURRENCY).pipe(watch)
    output = collect(builder)
    assert sorted(output) == list(range(NUM_ITEMS))
    assert output.index(3) < output.index(0)


def random_delays(seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.choice([0.0, 0.0005, 0.002, 0.004]) for _ in range(NUM_ITEMS)]


@pytest.mark.parametrize("output_order", ["input", "completion"])
def test_random_delays_in_sync_and_async_stages(output_order: str):
    delays = random_delays(seed=7)

    def sync_delay(x: int) -> int:
        time.sleep(delays[x])
        return x

    async def async_delay(x: int) -> int:
        await asyncio.sleep(delays[-1 - x])
        return x

    builder = (
        PipelineBuilder()
        .add_source(range(NUM_ITEMS))
        .pipe(sync_delay, concurrency=3, output_order=output_order)
        .pipe(async_delay, concurrency=5, output_order=output_order)
    )
    output = collect(builder, num_threads=3)
    if output_order == "input":
        assert output == list(range(NUM_ITEMS))
    else:
        assert sorted(output) == list(range(NUM_ITEMS))


def test_input_order_through_generators_aggregate_and_disaggregate():
    delays = random_delays(seed=11)

    def pairs(x: int):
        time.sleep(delays[x])
        yield 2 * x
        yield 2 * x + 1

    async def identity(batch: list[int]) -> list[int]:
        await asyncio.sleep(delays[batch[0] % NUM_ITEMS])
        return batch

    builder = (
        PipelineBuilder()
        .add_source(range(NUM_ITEMS))
        .pipe(pairs, concurrency=4, output_order="input")
        .aggregate(3)
        .pipe(identity, concurrency=4, output_order="input")
        .disaggregate()
    )
    assert collect(builder) == list(range(2 * NUM_ITEMS))
