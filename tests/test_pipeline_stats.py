"""spdl.pipeline: per-stage and per-queue statistics, and the report that names the
bottleneck."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

import pytest

from spdl.pipeline import PipelineBuilder, PipelineStats, QueueStats, StageStats

TIMEOUT_S = 30


def test_stats_before_start_are_zero():
    pipeline = PipelineBuilder().add_source(range(3)).pipe(abs).add_sink(2).build(num_threads=1)
    stats = pipeline.stats()
    assert stats.elapsed_s == 0
    assert [s.num_items_in for s in stats.stages] == [0, 0]
    assert [(q.fraction_empty, q.fraction_full) for q in stats.queues] == [(0, 0), (0, 0)]
    assert "Bottleneck: not enough history yet." in stats.report()


def test_counts_follow_the_items_through_every_stage():
    def keep_even(x: int) -> int | None:
        return x if x % 2 == 0 else None

    def fail_on_six(x: int) -> int:
        if x == 6:
            raise ValueError("six")
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(range(20))
        .pipe(keep_even, concurrency=3)
        .pipe(fail_on_six)
        .aggregate(4)
        .disaggregate()
        .add_sink(3)
        .build(num_threads=2, max_failures=1)
    )
    with pipeline.auto_stop():
        assert sorted(pipeline.get_iterator(timeout=TIMEOUT_S)) == [0, 2, 4, 8, 10, 12, 14, 16, 18]
    stats = pipeline.stats()
    counts = [(s.name, s.num_items_in, s.num_items_out, s.num_failures) for s in stats.stages]
    assert counts == [
        ("source", 20, 20, 0),
        ("keep_even", 20, 10, 0),
        ("fail_on_six", 10, 9, 1),
        ("aggregate", 9, 3, 0),
        ("disaggregate", 3, 9, 0),
    ]
    assert [s.concurrency for s in stats.stages] == [1, 3, 1, 1, 1]
    assert [s.num_tasks for s in stats.stages] == [20, 20, 10, 0, 0]
    assert [q.num_items_put for q in stats.queues] == [20, 10, 9, 3, 9]
    assert stats.queues[-1].size == 3 and stats.queues[1].size == 1


def test_task_time_percentiles_are_ordered_and_bounded_by_the_sleep():
    delays = [0.002] * 16 + [0.02] * 4

    async def sleep(index: int) -> int:
        await asyncio.sleep(delays[index])
        return index

    pipeline = (
        PipelineBuilder()
        .add_source(range(len(delays)))
        .pipe(sleep, concurrency=4)
        .add_sink(2)
        .build(num_threads=1)
    )
    with pipeline.auto_stop():
        assert len(list(pipeline.get_iterator(timeout=TIMEOUT_S))) == len(delays)
    stage = pipeline.stats().stages[1]
    assert stage.num_tasks == len(delays)
    # Lower bounds only: a sleep never ends early (within the histogram's ~5%).
    assert 0.0019 <= stage.p50_task_time_s <= stage.p90_task_time_s <= stage.p99_task_time_s
    assert stage.p99_task_time_s >= 0.019
    assert stage.mean_task_time_s >= sum(delays) / len(delays) * 0.95


@pytest.mark.parametrize("kind", ["function", "generator"])
def test_task_time_leaves_out_the_wait_for_a_worker_thread(kind: str):
    # One thread, six calls at once: five wait behind the first, which sleeps. Their
    # own work is nothing, and so is their task time (the wait is the pool's limit).
    def op(x: int) -> int:
        if x == 0:
            time.sleep(0.3)
        return x

    def gen_op(x: int):
        yield op(x)

    pipeline = (
        PipelineBuilder()
        .add_source(range(6))
        .pipe(op if kind == "function" else gen_op, concurrency=6)
        .add_sink(6)
        .build(num_threads=1)
    )
    with pipeline.auto_stop():
        assert sorted(pipeline.get_iterator(timeout=TIMEOUT_S)) == list(range(6))
    stage = pipeline.stats().stages[1]
    assert stage.num_tasks == 6
    assert stage.p99_task_time_s >= 0.28  # the sleep
    assert stage.p50_task_time_s < 0.1  # not the 0.3 s the others waited for it


def test_queue_fractions_are_fractions_of_the_running_time():
    pipeline = (
        PipelineBuilder()
        .add_source(range(50))
        .pipe(lambda x: x, concurrency=2)
        .add_sink(2)
        .build(num_threads=2)
    )
    with pipeline.auto_stop():
        list(pipeline.get_iterator(timeout=TIMEOUT_S))
        stats = pipeline.stats()
    assert stats.elapsed_s > 0
    for queue in stats.queues:
        assert 0 <= queue.fraction_empty <= 1 and 0 <= queue.fraction_full <= 1
        assert queue.fraction_empty + queue.fraction_full <= 1 + 1e-9


def test_stats_are_frozen_dataclasses():
    stats = PipelineBuilder().add_source([]).add_sink(1).build(num_threads=1).stats()
    assert isinstance(stats, PipelineStats)
    assert isinstance(stats.stages[0], StageStats) and isinstance(stats.queues[0], QueueStats)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.stages[0].name = "other"  # type: ignore[misc]


def test_the_report_names_the_slow_stage():
    def parse(x: int) -> int:
        return x

    async def decode(x: int) -> int:
        await asyncio.sleep(0.02)
        return x

    async def tag(x: int) -> int:
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(range(40))
        .pipe(parse)
        .pipe(decode)
        .pipe(tag)
        .add_sink(4)
        .build(num_threads=1)
    )
    with pipeline.auto_stop():
        assert len(list(pipeline.get_iterator(timeout=TIMEOUT_S))) == 40
    report = pipeline.stats().report()
    assert "Bottleneck: stage 'decode'" in report, report
    assert "raise its concurrency" in report
    for name in ("source", "parse", "decode", "tag", "parse -> decode", "tag -> sink"):
        assert name in report


def test_the_report_names_a_slow_first_stage_behind_a_sync_source():
    # The source thread waits until half its queue is free: that queue read as full
    # 9-17% of the time, and the report said "none clear".
    def slow(x: int) -> int:
        time.sleep(0.01)
        return x

    pipeline = PipelineBuilder().add_source(range(60)).pipe(slow).add_sink(4).build(num_threads=1)
    with pipeline.auto_stop():
        assert len(list(pipeline.get_iterator(timeout=TIMEOUT_S))) == 60
    report = pipeline.stats().report()
    assert "Bottleneck: stage 'slow'" in report, report


def test_the_report_says_when_the_consumer_is_the_bottleneck():
    pipeline = (
        PipelineBuilder()
        .add_source(range(30))
        .pipe(lambda x: x, concurrency=2)
        .add_sink(2)
        .build(num_threads=2)
    )
    with pipeline.auto_stop():
        for _ in pipeline.get_iterator(timeout=TIMEOUT_S):
            time.sleep(0.01)  # a slow training step
    report = pipeline.stats().report()
    assert "Bottleneck: the consumer" in report, report
    assert "the pipeline keeps up" in report


def test_the_report_says_when_the_source_is_the_bottleneck():
    async def slow_listing():
        for index in range(20):
            await asyncio.sleep(0.01)  # e.g. listing a remote bucket
            yield index

    pipeline = (
        PipelineBuilder()
        .add_source(slow_listing())
        .pipe(lambda x: x, concurrency=2)
        .add_sink(2)
        .build(num_threads=2)
    )
    with pipeline.auto_stop():
        list(pipeline.get_iterator(timeout=TIMEOUT_S))
    report = pipeline.stats().report()
    assert "Bottleneck: the source" in report, report


def test_report_stats_interval_logs_the_report_while_running_and_at_the_end(
    caplog: pytest.LogCaptureFixture,
):
    async def slow(x: int) -> int:
        await asyncio.sleep(0.01)
        return x

    pipeline = (
        PipelineBuilder()
        .add_source(range(30))
        .pipe(slow)
        .add_sink(2)
        .build(num_threads=1, report_stats_interval=0.05)
    )
    with caplog.at_level(logging.INFO, logger="spdl.pipeline"):
        with pipeline.auto_stop():
            list(pipeline.get_iterator(timeout=TIMEOUT_S))
    reports = [r.getMessage() for r in caplog.records if "Pipeline stats after" in r.getMessage()]
    assert len(reports) >= 2, reports  # at least one while running (0.3 s) and the final one
    assert "finished" in reports[-1] and "slow" in reports[-1]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "spdl.pipeline")


def test_task_time_percentiles_are_within_five_percent_in_fixed_memory():
    from spdl.pipeline._stats import TaskTimes

    times = TaskTimes()
    for repeat in range(100):  # 100k tasks: memory does not grow with them
        for millis in range(1, 1001):
            times.add(millis * 1_000_000 + repeat)
    count, mean, p50, p90, p99 = times.summary()
    assert count == 100_000
    assert mean == pytest.approx(0.5005, rel=1e-3)
    assert p50 == pytest.approx(0.5, rel=0.05)
    assert p90 == pytest.approx(0.9, rel=0.05)
    assert p99 == pytest.approx(0.99, rel=0.05)
    single = TaskTimes()
    single.add(1234)
    assert single.summary() == (1, 1234e-9, 1234e-9, 1234e-9, 1234e-9)  # clamped to min/max
