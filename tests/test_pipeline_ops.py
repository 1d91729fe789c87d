"""spdl.pipeline: what a stage does with each kind of op, aggregate/disaggregate, executors.

Every pipeline here runs for real (background event loop, thread pool) on small
integer sources.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import io
import math
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from spdl.dataloader import DataLoader
from spdl.pipeline import Pipeline, PipelineBuilder

TIMEOUT_S = 30


def run(pipeline: Pipeline[Any]) -> list[Any]:
    with pipeline.auto_stop():
        return list(pipeline.get_iterator(timeout=TIMEOUT_S))


def build(builder: PipelineBuilder, **kwargs: Any) -> Pipeline[Any]:
    return builder.add_sink(3).build(num_threads=kwargs.pop("num_threads", 2), **kwargs)


def test_sync_function_op_maps_every_item():
    def square(x: int) -> int:
        return x * x

    pipeline = build(PipelineBuilder().add_source(range(10)).pipe(square, concurrency=3))
    assert sorted(run(pipeline)) == [x * x for x in range(10)]


def test_async_function_op_maps_every_item():
    async def negate(x: int) -> int:
        await asyncio.sleep(0)
        return -x

    pipeline = build(PipelineBuilder().add_source(range(10)).pipe(negate, concurrency=4))
    assert sorted(run(pipeline)) == sorted(-x for x in range(10))


def test_sync_generator_op_yields_several_items_per_input():
    def repeat(x: int) -> Iterator[tuple[int, int]]:
        for copy in range(x % 3 + 1):
            yield (x, copy)

    pipeline = build(PipelineBuilder().add_source(range(9)).pipe(repeat, concurrency=2))
    expected = [(x, copy) for x in range(9) for copy in range(x % 3 + 1)]
    assert sorted(run(pipeline)) == expected


def test_async_generator_op_yields_several_items_per_input():
    async def repeat(x: int) -> AsyncIterator[tuple[int, int]]:
        for copy in range(3):
            await asyncio.sleep(0)
            yield (x, copy)

    pipeline = build(PipelineBuilder().add_source(range(7)).pipe(repeat, concurrency=3))
    assert sorted(run(pipeline)) == [(x, copy) for x in range(7) for copy in range(3)]


def test_generator_outputs_keep_their_order_within_one_input_in_input_order_mode():
    def spell(word: str) -> Iterator[str]:
        yield from word

    async def aspell(word: str) -> AsyncIterator[str]:
        for char in word:
            yield char

    words = ["spdl", "loads", "media"]
    for op in (spell, aspell):
        pipeline = build(
            PipelineBuilder().add_source(words).pipe(op, concurrency=3, output_order="input")
        )
        assert run(pipeline) == list("".join(words))


def test_none_outputs_are_dropped_for_every_op_kind():
    def even(x: int) -> int | None:
        return x if x % 2 == 0 else None

    async def aeven(x: int) -> int | None:
        return even(x)

    def geven(x: int) -> Iterator[int | None]:
        yield even(x)
        yield None

    async def ageven(x: int) -> AsyncIterator[int | None]:
        yield None
        yield even(x)

    for op in (even, aeven, geven, ageven):
        for order in ("completion", "input"):
            pipeline = build(
                PipelineBuilder().add_source(range(10)).pipe(op, concurrency=2, output_order=order)
            )
            assert sorted(run(pipeline)) == [0, 2, 4, 6, 8], (op.__name__, order)
            stage = pipeline.stats().stages[1]
            assert (stage.num_items_in, stage.num_items_out) == (10, 5)


def test_callable_objects_and_partials_are_called_by_their_kind():
    class Scale:
        def __init__(self, factor: int) -> None:
            self.factor = factor

        def __call__(self, x: int) -> int:
            return x * self.factor

    class AsyncScale(Scale):
        async def __call__(self, x: int) -> int:  # type: ignore[override]
            return x * self.factor

    async def add(x: int, offset: int) -> int:
        return x + offset

    pipeline = build(
        PipelineBuilder()
        .add_source(range(5))
        .pipe(Scale(2))
        .pipe(AsyncScale(3))
        .pipe(functools.partial(add, offset=1))
    )
    assert sorted(run(pipeline)) == [x * 6 + 1 for x in range(5)]
    names = [stage.name for stage in pipeline.stats().stages]
    assert names == ["source", "Scale", "AsyncScale", "add"]


def test_a_future_returned_by_an_op_is_awaited_and_its_result_passed_on():
    pool = concurrent.futures.ThreadPoolExecutor(2)
    try:

        def submit_double(x: int) -> concurrent.futures.Future[int]:
            return pool.submit(lambda: 2 * x)

        async def submit_triple(x: int) -> concurrent.futures.Future[int]:
            return pool.submit(lambda: 3 * x)

        pipeline = build(
            PipelineBuilder()
            .add_source(range(6))
            .pipe(submit_double, concurrency=2)
            .pipe(submit_triple, concurrency=2, output_order="input")
        )
        assert sorted(run(pipeline)) == [6 * x for x in range(6)]
    finally:
        pool.shutdown()


def test_a_coroutine_returned_by_a_sync_op_is_awaited():
    async def later(x: int) -> int:
        await asyncio.sleep(0)
        return x + 100

    pipeline = build(PipelineBuilder().add_source(range(4)).pipe(lambda x: later(x)))
    assert sorted(run(pipeline)) == [100, 101, 102, 103]


def test_async_iterable_source():
    async def numbers() -> AsyncIterator[int]:
        for x in range(5):
            await asyncio.sleep(0)
            yield x

    pipeline = build(PipelineBuilder().add_source(numbers()).pipe(lambda x: x + 1))
    assert sorted(run(pipeline)) == [1, 2, 3, 4, 5]


def test_a_source_that_is_a_file_is_read_but_left_open():
    lines = io.StringIO("first\nsecond\n")
    pipeline = build(PipelineBuilder().add_source(lines).pipe(str.strip))
    assert run(pipeline) == ["first", "second"]
    assert not lines.closed  # the pipeline closes only the generators it drives


def test_empty_source_gives_an_empty_pipeline():
    assert run(build(PipelineBuilder().add_source([]).pipe(lambda x: x))) == []


def test_aggregate_groups_items_and_keeps_the_short_last_group():
    pipeline = build(PipelineBuilder().add_source(range(10)).aggregate(4))
    assert run(pipeline) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_aggregate_with_drop_last_drops_the_short_last_group():
    pipeline = build(PipelineBuilder().add_source(range(10)).aggregate(4, drop_last=True))
    assert run(pipeline) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    full = build(PipelineBuilder().add_source(range(8)).aggregate(4, drop_last=True))
    assert run(full) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_disaggregate_flattens_lists_and_other_iterables():
    pipeline = build(
        PipelineBuilder()
        .add_source([[1, 2], [], (3,), range(4, 6)])
        .disaggregate()
        .aggregate(2)
        .disaggregate()
    )
    assert run(pipeline) == [1, 2, 3, 4, 5]


def test_generators_returned_by_ops_are_items_not_coroutines():
    # asyncio.iscoroutine takes a generator for one before Python 3.12: each item
    # failed with "object generator can't be used in 'await' expression".
    def digits(n: int) -> Iterator[int]:
        return (n * 10 + k for k in range(3))

    async def async_digits(n: int) -> Iterator[int]:
        return digits(n)

    for op in (digits, async_digits):
        pipeline = build(PipelineBuilder().add_source(range(3)).pipe(op).disaggregate())
        assert run(pipeline) == [0, 1, 2, 10, 11, 12, 20, 21, 22]


def test_disaggregate_passes_a_lazy_iterable_on_element_by_element():
    # A generator item: each element goes on as it is made (the first one before the
    # generator makes its second), neither freezing the loop nor reading ahead; a
    # failure part-way counts after the elements before it went on.
    second_asked = threading.Event()
    first_taken = threading.Event()

    def elements() -> Iterator[int]:
        yield 1
        second_asked.set()
        assert first_taken.wait(TIMEOUT_S)
        yield 2
        raise KeyError("lost shard")

    pipeline = (
        PipelineBuilder()
        .add_source([elements(), [3, 4]])
        .disaggregate()
        .add_sink(1)
        .build(num_threads=2, max_failures=1)
    )
    try:
        with pipeline.auto_stop():
            assert pipeline.get_item(timeout=5) == 1
            first_taken.set()
            assert second_asked.wait(TIMEOUT_S)
            assert run(pipeline) == [2, 3, 4]
    finally:
        first_taken.set()  # a failing run must not leave the generator waiting
    assert pipeline.stats().stages[1].num_failures == 1


def test_the_executor_option_runs_the_sync_op_there():
    seen: dict[str, set[str]] = {"custom": set(), "default": set()}
    lock = threading.Lock()

    def record(where: str):
        def op(x: int) -> int:
            with lock:
                seen[where].add(threading.current_thread().name)
            return x

        op.__name__ = where
        return op

    pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="my-own-pool")
    try:
        pipeline = build(
            PipelineBuilder()
            .add_source(range(20))
            .pipe(record("custom"), executor=pool, concurrency=2)
            .pipe(record("default"), concurrency=2)
        )
        assert sorted(run(pipeline)) == list(range(20))
        assert seen["custom"] and all(n.startswith("my-own-pool") for n in seen["custom"])
        assert seen["default"] and all(n.startswith("spdl-pipeline-") for n in seen["default"])
        # The pipeline does not shut down an executor it was given.
        assert pool.submit(lambda: "still open").result(TIMEOUT_S) == "still open"
    finally:
        pool.shutdown()


def test_asyncio_to_thread_in_an_async_op_uses_the_pipeline_thread_pool():
    async def where(x: int) -> str:
        thread = await asyncio.to_thread(threading.current_thread)
        return thread.name

    names = run(build(PipelineBuilder().add_source(range(4)).pipe(where, concurrency=2)))
    assert len(names) == 4 and all("-worker_" in n for n in names), names


def test_the_executor_option_runs_each_step_of_a_sync_generator_there():
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="generator-pool")

    def where(x: int) -> Iterator[str]:
        yield threading.current_thread().name
        yield threading.current_thread().name

    try:
        pipeline = build(PipelineBuilder().add_source(range(3)).pipe(where, executor=pool))
        names = run(pipeline)
        assert len(names) == 6 and all(n.startswith("generator-pool") for n in names)
    finally:
        pool.shutdown()


def test_stage_names_default_to_the_op_name_and_repeats_get_a_suffix():
    def decode(x: int) -> int:
        return x

    pipeline = build(
        PipelineBuilder()
        .add_source(range(3))
        .pipe(decode)
        .pipe(decode)
        .pipe(decode, name="resize")
        .pipe(lambda x: x)
        .aggregate(2)
        .disaggregate()
        .pipe(decode)
    )
    assert sorted(run(pipeline)) == [0, 1, 2]
    stats = pipeline.stats()
    assert [s.name for s in stats.stages] == [
        "source",
        "decode",
        "decode_1",
        "resize",
        "<lambda>",
        "aggregate",
        "disaggregate",
        "decode_2",
    ]
    assert [q.name for q in stats.queues][:2] == ["source -> decode", "decode -> decode_1"]
    assert stats.queues[-1].name == "decode_2 -> sink"


def test_builder_rejects_invalid_arguments():
    with pytest.raises(TypeError, match="iterable"):
        PipelineBuilder().add_source(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="already"):
        PipelineBuilder().add_source([]).add_source([])
    with pytest.raises(TypeError, match="callable"):
        PipelineBuilder().pipe("not an op")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="concurrency"):
        PipelineBuilder().pipe(abs, concurrency=0)
    with pytest.raises(ValueError, match="output_order"):
        PipelineBuilder().pipe(abs, output_order="random")

    async def coro(x: int) -> int:
        return x

    with (
        concurrent.futures.ThreadPoolExecutor(1) as pool,
        pytest.raises(ValueError, match="sync ops"),
    ):
        PipelineBuilder().pipe(coro, executor=pool)
    with pytest.raises(ValueError, match="num_items"):
        PipelineBuilder().aggregate(0)
    with pytest.raises(ValueError, match="buffer_size"):
        PipelineBuilder().add_sink(0)
    with pytest.raises(ValueError, match="add_source"):
        PipelineBuilder().add_sink(1).build(num_threads=1)
    with pytest.raises(ValueError, match="add_sink"):
        PipelineBuilder().add_source([]).build(num_threads=1)
    with pytest.raises(ValueError, match="num_threads"):
        PipelineBuilder().add_source([]).add_sink(1).build(num_threads=0)
    with pytest.raises(ValueError, match="max_failures"):
        PipelineBuilder().add_source([]).add_sink(1).build(num_threads=1, max_failures=1.5)
    with pytest.raises(TypeError, match="max_failures"):
        PipelineBuilder().add_source([]).add_sink(1).build(num_threads=1, max_failures="2")
    # 0 turned every report off and True read as 1 s, silently.
    for interval, error in ((0, ValueError), (-1.0, ValueError), (True, TypeError)):
        with pytest.raises(error, match="report_stats_interval"):
            PipelineBuilder().add_source([]).add_sink(1).build(
                num_threads=1, report_stats_interval=interval
            )
        with pytest.raises(error, match="report_stats_interval"):
            DataLoader(range(4), report_stats_interval=interval)
    builder = PipelineBuilder().add_source([1]).add_sink(1)  # inf: the final report only
    assert list(builder.build(num_threads=1, report_stats_interval=math.inf)) == [1]
