"""Counters kept on every stage and queue, and the report that reads them.

Everything here is cheap enough to stay on always: a task time is one
``perf_counter_ns`` pair and one histogram increment, a queue records a timestamp
only when it changes between empty, partly filled and full.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PipelineStats", "QueueStats", "StageStats"]

# Task-time histogram: log-scale bins, 8 per doubling (each bin is ~9% wide), from
# 100 ns up to 2^44 times that (~20 days). Memory is fixed whatever the number of tasks.
_BINS_PER_OCTAVE = 8
_FIRST_BIN_NS = 100
_NUM_BINS = 44 * _BINS_PER_OCTAVE

# The bottleneck analysis needs some history before it says anything.
_MIN_ELAPSED_FOR_ANALYSIS_S = 0.05
# A sink full at least this often means the consumer is slower than the pipeline.
_CONSUMER_BOUND_FULL = 0.5
# A stage whose input queue is full and output queue empty this often (summed) is slow.
_STAGE_BOUND_SCORE = 1.2


class TaskTimes:
    """Running mean and log-scale histogram of one stage's task times."""

    __slots__ = ("_bins", "_lock", "count", "max_ns", "min_ns", "total_ns")

    def __init__(self) -> None:
        self._bins = [0] * _NUM_BINS
        self._lock = threading.Lock()
        self.count = 0
        self.total_ns = 0
        self.min_ns = 0
        self.max_ns = 0

    def add(self, elapsed_ns: int) -> None:
        """Record one task that took ``elapsed_ns`` nanoseconds."""
        if elapsed_ns > _FIRST_BIN_NS:
            octaves = math.log2(elapsed_ns / _FIRST_BIN_NS)
            index = min(int(octaves * _BINS_PER_OCTAVE), _NUM_BINS - 1)
        else:
            index = 0
        with self._lock:
            self._bins[index] += 1
            if self.count == 0 or elapsed_ns < self.min_ns:
                self.min_ns = elapsed_ns
            self.max_ns = max(self.max_ns, elapsed_ns)
            self.count += 1
            self.total_ns += elapsed_ns

    def summary(self) -> tuple[int, float, float, float, float]:
        """``(count, mean, p50, p90, p99)``, times in seconds (zeros before any task)."""
        with self._lock:
            bins, count, total = list(self._bins), self.count, self.total_ns
            low, high = self.min_ns, self.max_ns
        if count == 0:
            return 0, 0.0, 0.0, 0.0, 0.0
        p50, p90, p99 = (_percentile(bins, count, q, low, high) / 1e9 for q in (0.5, 0.9, 0.99))
        return count, total / count / 1e9, p50, p90, p99


def _percentile(bins: list[int], count: int, q: float, low: int, high: int) -> float:
    """The ``q`` quantile in nanoseconds: the middle of the bin holding that rank,
    kept inside the exact minimum and maximum."""
    rank = max(1, math.ceil(q * count))
    seen = 0
    for index, num in enumerate(bins):
        seen += num
        if seen >= rank:
            middle = _FIRST_BIN_NS * 2 ** ((index + 0.5) / _BINS_PER_OCTAVE)
            return min(max(middle, low), high)
    return float(high)


class StageCounters:
    """What one stage has done so far; updated on the event loop (a sync source's on its
    thread)."""

    __slots__ = ("concurrency", "kind", "name", "num_failures", "num_in", "num_out", "times")

    def __init__(self, name: str, kind: str, concurrency: int) -> None:
        self.name = name
        self.kind = kind
        self.concurrency = concurrency
        self.num_in = 0
        self.num_out = 0
        self.num_failures = 0
        self.times = TaskTimes()

    def snapshot(self) -> StageStats:
        count, mean, p50, p90, p99 = self.times.summary()
        return StageStats(
            name=self.name,
            kind=self.kind,
            concurrency=self.concurrency,
            num_items_in=self.num_in,
            num_items_out=self.num_out,
            num_failures=self.num_failures,
            num_tasks=count,
            mean_task_time_s=mean,
            p50_task_time_s=p50,
            p90_task_time_s=p90,
            p99_task_time_s=p99,
        )


_EMPTY, _PARTIAL, _FULL = 0, 1, 2


class QueueClock:
    """Time a bounded queue spends empty and full, from the pipeline's start to its end.

    ``update`` is called with the queue's new length after every put and get; only a
    change of state (empty / partly filled / full) costs a timestamp.
    """

    __slots__ = (
        "_durations_ns",
        "_end_ns",
        "_lock",
        "_since_ns",
        "_start_ns",
        "_state",
        "consumer",
        "name",
        "num_put",
        "producer",
        "size",
    )

    def __init__(self, producer: str, consumer: str, size: int) -> None:
        self.producer = producer
        self.consumer = consumer
        self.name = f"{producer} -> {consumer}"
        self.size = size
        self.num_put = 0
        self._lock = threading.Lock()
        self._state = _EMPTY
        self._durations_ns = [0, 0, 0]
        self._start_ns: int | None = None
        self._since_ns = 0
        self._end_ns: int | None = None

    def start(self) -> None:
        with self._lock:
            self._start_ns = self._since_ns = time.perf_counter_ns()

    def stop(self) -> None:
        with self._lock:
            if self._start_ns is not None and self._end_ns is None:
                self._end_ns = time.perf_counter_ns()
                self._durations_ns[self._state] += self._end_ns - self._since_ns
                self._since_ns = self._end_ns

    def update(self, length: int) -> None:
        state = _EMPTY if length == 0 else _FULL if length >= self.size else _PARTIAL
        if state == self._state:
            return
        with self._lock:
            if self._start_ns is None or self._end_ns is not None:
                self._state = state
                return
            now = time.perf_counter_ns()
            self._durations_ns[self._state] += now - self._since_ns
            self._state, self._since_ns = state, now

    def snapshot(self) -> QueueStats:
        with self._lock:
            durations = list(self._durations_ns)
            if self._start_ns is None:
                total = 0
            else:
                end = self._end_ns if self._end_ns is not None else time.perf_counter_ns()
                durations[self._state] += end - self._since_ns
                total = end - self._start_ns
        return QueueStats(
            name=self.name,
            producer=self.producer,
            consumer=self.consumer,
            size=self.size,
            num_items_put=self.num_put,
            fraction_empty=durations[_EMPTY] / total if total else 0.0,
            fraction_full=durations[_FULL] / total if total else 0.0,
        )


@dataclass(frozen=True)
class StageStats:
    """What one stage of a pipeline has done so far.

    Attributes:
        name: The stage's name (``"source"``, an op's name, ``"aggregate"``, ...).
        kind: ``"source"``, ``"pipe"``, ``"aggregate"`` or ``"disaggregate"``.
        concurrency: How many items the stage may process at once.
        num_items_in: Items the stage has taken from its input queue (for the source:
            items taken from the source iterable).
        num_items_out: Items the stage has put into its output queue.
        num_failures: Items on which the stage's op raised (they were dropped).
        num_tasks: Timed tasks: op calls for a pipe stage, ``next`` calls for the source.
        mean_task_time_s: Mean time of one task, in seconds: the op's own work, not
            the wait for a free worker thread (a sync op) nor for room downstream.
        p50_task_time_s: Median task time, in seconds (from a log-scale histogram,
            within about 5%).
        p90_task_time_s: 90th percentile of the task time, in seconds.
        p99_task_time_s: 99th percentile of the task time, in seconds.
    """

    name: str
    kind: str
    concurrency: int
    num_items_in: int
    num_items_out: int
    num_failures: int
    num_tasks: int
    mean_task_time_s: float
    p50_task_time_s: float
    p90_task_time_s: float
    p99_task_time_s: float


@dataclass(frozen=True)
class QueueStats:
    """How full one queue between two stages (or in front of the consumer) has been.

    Attributes:
        name: ``"<producer> -> <consumer>"``.
        producer: The stage that puts items into the queue.
        consumer: The stage that takes them (``"sink"`` for the pipeline's output
            queue, which the user's loop reads).
        size: The most items the queue holds.
        num_items_put: Items put into the queue so far.
        fraction_empty: Fraction of the pipeline's running time the queue was empty
            (its consumer was waiting for input).
        fraction_full: Fraction of the running time it was full (its producer was
            waiting for room).
    """

    name: str
    producer: str
    consumer: str
    size: int
    num_items_put: int
    fraction_empty: float
    fraction_full: float


@dataclass(frozen=True)
class PipelineStats:
    """A snapshot of a pipeline's per-stage and per-queue statistics.

    ``stages[0]`` is the source; ``queues[i]`` is the output queue of ``stages[i]``
    (the last one is the sink, read by the user's loop).

    Attributes:
        elapsed_s: Seconds from the pipeline's start to now (or to its end).
        stages: One entry per stage, in pipeline order.
        queues: One entry per queue, in pipeline order.

    Example:
        >>> from spdl.pipeline import PipelineBuilder
        >>> pipeline = PipelineBuilder().add_source(range(10)).add_sink(4).build(num_threads=1)
        >>> with pipeline.auto_stop():
        ...     items = list(pipeline)
        >>> stats = pipeline.stats()
        >>> stats.stages[0].name, stats.stages[0].num_items_out, stats.queues[0].name
        ('source', 10, 'source -> sink')
    """

    elapsed_s: float
    stages: tuple[StageStats, ...]
    queues: tuple[QueueStats, ...]

    def bottleneck(self) -> str:
        """One sentence saying what limits the pipeline's throughput.

        The stage whose input queue is most often full (upstream waits for it) while
        its output queue is most often empty (downstream waits for it) is the
        bottleneck. When the sink is mostly full, the consumer is.

        Returns:
            A sentence starting with ``"Bottleneck:"``.
        """
        if self.elapsed_s < _MIN_ELAPSED_FOR_ANALYSIS_S or not self.queues:
            return "Bottleneck: not enough history yet."
        sink = self.queues[-1]
        if sink.fraction_full >= _CONSUMER_BOUND_FULL:
            return (
                f"Bottleneck: the consumer (training loop); the pipeline keeps up "
                f"(the sink queue was full {sink.fraction_full:.0%} of the time)."
            )
        best, best_score = 0, -1.0
        for index in range(len(self.stages)):
            # The source's input (its iterable) is always ready, as a full queue would be.
            in_full = 1.0 if index == 0 else self.queues[index - 1].fraction_full
            score = in_full + self.queues[index].fraction_empty
            if score > best_score:
                best, best_score = index, score
        if best_score < _STAGE_BOUND_SCORE:
            return "Bottleneck: none clear (no stage kept its input full and its output empty)."
        output = self.queues[best]
        if best == 0:
            return (
                f"Bottleneck: the source (its output queue was empty "
                f"{output.fraction_empty:.0%} of the time; make the source iterable faster)."
            )
        stage = self.stages[best]
        return (
            f"Bottleneck: stage {stage.name!r} (its input queue was full "
            f"{self.queues[best - 1].fraction_full:.0%} of the time and its output queue "
            f"empty {output.fraction_empty:.0%}; raise its concurrency or make it faster)."
        )

    def report(self) -> str:
        """A plain-text table of the stages and queues, and the bottleneck.

        Returns:
            Several lines of text, the last one from :meth:`bottleneck`.
        """
        stage_rows: list[tuple[str, ...]] = [
            ("stage", "concurrency", "in", "out", "failures", "mean", "p50", "p90", "p99")
        ]
        for s in self.stages:
            stage_rows.append(
                (
                    s.name,
                    str(s.concurrency),
                    str(s.num_items_in),
                    str(s.num_items_out),
                    str(s.num_failures),
                    *(
                        _format_seconds(t) if s.num_tasks else "-"
                        for t in (
                            s.mean_task_time_s,
                            s.p50_task_time_s,
                            s.p90_task_time_s,
                            s.p99_task_time_s,
                        )
                    ),
                )
            )
        queue_rows = [("queue", "size", "items", "empty", "full")]
        for q in self.queues:
            queue_rows.append(
                (
                    q.name,
                    str(q.size),
                    str(q.num_items_put),
                    f"{q.fraction_empty:.0%}",
                    f"{q.fraction_full:.0%}",
                )
            )
        lines = [f"Pipeline stats after {self.elapsed_s:.2f} s:"]
        lines += _table(stage_rows)
        lines += _table(queue_rows)
        lines.append(self.bottleneck())
        return "\n".join(lines)


def _format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f}ms"
    if seconds >= 1e-5:
        return f"{seconds * 1e6:.0f}us"
    return f"{seconds * 1e6:.1f}us"


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    """Left-aligned first column, right-aligned numbers."""
    widths = [max(len(row[col]) for row in rows) for col in range(len(rows[0]))]
    return [
        "  "
        + "  ".join(
            cell.ljust(width) if col == 0 else cell.rjust(width)
            for col, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
