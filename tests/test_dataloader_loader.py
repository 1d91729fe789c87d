"""DataLoader: what a pass yields, in which order, how it stops, and how it resumes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import itertools
import json
import logging
import pickle
import re
import sys
import threading
import time

import numpy as np
import pytest
from _stop_helpers import run_with_limit
from hypothesis import given, settings
from hypothesis import strategies as st

from spdl.dataloader import DataLoader, MapSource, RandomSampler, Sample, SequentialSampler
from spdl.dataloader._positions import Progress
from spdl.pipeline import PipelineFailure, PipelineStats


def _jitter(x: int) -> None:
    """Makes later items finish first now and then, so completion order differs."""
    time.sleep(0.004 if x % 5 == 0 else 0.0)


def _slow_square(x: int) -> int:
    _jitter(x)
    return x * x


def _source(num_items: int, *, seed: int = 0, rank: int = 0, world_size: int = 1) -> MapSource:
    sampler = RandomSampler(num_items, seed=seed, rank=rank, world_size=world_size)
    return MapSource(list(range(num_items)), sampler)


def _index(sample: Sample) -> int:
    _jitter(sample.index)
    return sample.index


@pytest.fixture
def no_new_threads():
    """Fails if a test leaves threads behind (the pipelines must join theirs)."""
    before = set(threading.enumerate())
    yield
    new = [t for t in threading.enumerate() if t not in before]
    for thread in new:  # a thread ends once its op returns (after a timeout, say)
        thread.join(10)
    assert not [t.name for t in new if t.is_alive()]


def test_yields_every_item_once_in_completion_order(no_new_threads):
    loader = DataLoader(range(40), preprocessor=_slow_square, batch_size=6, num_threads=4)
    batches = list(loader)
    assert [len(batch) for batch in batches] == [6] * 6 + [4]
    assert sorted(x for batch in batches for x in batch) == [x * x for x in range(40)]


def test_input_order_keeps_the_source_order(no_new_threads):
    loader = DataLoader(
        range(40),
        preprocessor=_slow_square,
        batch_size=6,
        aggregator=tuple,
        num_threads=4,
        output_order="input",
    )
    squares = [x * x for x in range(40)]
    assert list(loader) == [tuple(squares[i : i + 6]) for i in range(0, 40, 6)]


def test_completion_order_passes_fast_batches_first():
    started = threading.Event()

    def aggregator(batch: list[int]) -> list[int]:
        if batch[0] == 0:  # the first batch waits until a later one was delivered
            assert started.wait(10)
        return batch

    loader = DataLoader(range(8), batch_size=2, aggregator=aggregator, num_threads=4)
    order = []
    for batch in loader:
        order.append(batch)
        started.set()
    assert order[0] != [0, 1]
    assert sorted(order) == [[0, 1], [2, 3], [4, 5], [6, 7]]


def test_len_counts_batches_and_honours_drop_last():
    assert len(DataLoader(range(10))) == 10
    assert len(DataLoader(range(10), batch_size=4)) == 3
    assert len(DataLoader(range(10), batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(range(12), batch_size=4, drop_last=True)) == 3
    assert len(DataLoader(_source(10, world_size=3), batch_size=2)) == 2  # 4 items per rank
    with pytest.raises(TypeError, match="has no len"):
        len(DataLoader(iter(range(3))))


def test_drop_last_drops_the_short_batch():
    loader = DataLoader(range(10), batch_size=4, drop_last=True, output_order="input")
    assert list(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_without_batch_size_items_come_one_by_one():
    loader = DataLoader(range(5), preprocessor=lambda x: -x, output_order="input")
    assert list(loader) == [0, -1, -2, -3, -4]
    assert list(DataLoader("abc", output_order="input")) == ["a", "b", "c"]


def test_preprocessor_returning_none_drops_the_item():
    loader = DataLoader(
        range(12),
        preprocessor=lambda x: None if x % 3 == 0 else x,
        batch_size=3,
        output_order="input",
    )
    assert list(loader) == [[1, 2, 4], [5, 7, 8], [10, 11]]


def test_async_and_future_returning_ops_are_awaited():
    executor = concurrent.futures.ThreadPoolExecutor(2)

    async def preprocess(x: int) -> int | None:
        await asyncio.sleep(0.001 * (x % 3))
        return None if x == 4 else x + 100

    def aggregate(items: list[int]) -> concurrent.futures.Future[int]:
        return executor.submit(sum, items)

    try:
        loader = DataLoader(
            range(10),
            preprocessor=preprocess,
            batch_size=3,
            aggregator=aggregate,
            output_order="input",
        )
        assert list(loader) == [100 + 101 + 102, 103 + 105 + 106, 107 + 108 + 109]
    finally:
        executor.shutdown()


def test_transfer_runs_on_one_thread_one_batch_at_a_time(no_new_threads):
    threads, running, most = set(), [0], [0]
    lock = threading.Lock()

    def transfer(batch: list[int]) -> tuple[int, ...]:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threads.add(threading.current_thread().name)
        time.sleep(0.002)
        with lock:
            running[0] -= 1
        return tuple(batch)

    loader = DataLoader(
        range(30), preprocessor=_slow_square, batch_size=3, transfer_fn=transfer, num_threads=6
    )
    batches = list(loader)
    assert sorted(x for batch in batches for x in batch) == [x * x for x in range(30)]
    assert all(isinstance(batch, tuple) for batch in batches)
    assert most[0] == 1
    assert len(threads) == 1 and threads != {threading.current_thread().name}


def _threads_started_since(before: set[threading.Thread]) -> list[str]:
    return [t.name for t in threading.enumerate() if t not in before]


def test_breaking_out_stops_the_pipeline_and_leaves_no_threads():
    before = set(threading.enumerate())
    loader = DataLoader(
        range(1000), preprocessor=_slow_square, batch_size=4, transfer_fn=list, num_threads=4
    )
    for index, _ in enumerate(loader):
        assert _threads_started_since(before)  # the pipeline runs in the background
        if index == 2:
            break
    assert _threads_started_since(before) == []
    assert loader.stats().stages[0].num_items_out < 1000  # the source stopped early


def test_an_abandoned_iterator_stops_its_pipeline():
    before = set(threading.enumerate())
    loader = DataLoader(range(1000), batch_size=4, transfer_fn=list)
    assert len(next(iter(loader))) == 4
    assert _threads_started_since(before) == []


def test_iterating_again_runs_a_new_pass():
    loader = DataLoader(range(9), batch_size=4, output_order="input")
    assert list(loader) == list(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8]]
    first = loader.stats()
    list(loader)
    assert loader.stats() is not first


def test_a_completed_pass_moves_a_map_source_to_the_next_epoch():
    loader = DataLoader(_source(20, seed=3), preprocessor=_index, output_order="input")
    epoch0, epoch1 = list(loader), list(loader)
    assert loader.epoch == 2
    assert epoch0 == RandomSampler(20, seed=3).indices(0)
    assert epoch1 == RandomSampler(20, seed=3).indices(1)
    loader.set_epoch(0)
    assert list(loader) == epoch0


def test_a_pass_closed_after_its_last_batch_is_complete_with_drop_last():
    # The items of the batch drop_last drops were still loading: the pipeline had not
    # ended when the iterator was closed, and the epoch stayed.
    def slow(sample: Sample) -> int:
        time.sleep(0.4 if sample.index in dropped else 0)
        return sample.index

    dropped = set(RandomSampler(10, seed=3).indices(0)[8:])
    loader = DataLoader(_source(10, seed=3), preprocessor=slow, batch_size=4, drop_last=True)
    list(itertools.islice(loader, len(loader)))
    assert loader.epoch == 1


@pytest.mark.parametrize("consume", ["zip", "islice", "next"])
def test_a_pass_closed_after_its_last_batch_is_complete(consume: str):
    # These never ask for the end: the epoch stayed, and the next pass repeated it.
    first = DataLoader(_source(20, seed=3), preprocessor=_index, batch_size=4)
    second = DataLoader(_source(20, seed=3), preprocessor=_index, batch_size=4)
    if consume == "zip":
        list(zip(first, second, strict=False))  # zip stops at `first`'s end: never asks `second`
    elif consume == "islice":
        list(itertools.islice(second, len(second)))
    else:
        passing = iter(second)
        [next(passing) for _ in range(len(second))]
        passing.close()
    assert second.epoch == 1
    assert second.state_dict()["epoch"] == 1 and second.state_dict()["delivered"] == []
    assert sorted(i for batch in second for i in batch) == list(range(20))
    assert second.epoch == 2


def test_an_invalid_epoch_keeps_a_loaded_resume_point():
    loader = DataLoader(_source(10), batch_size=3, output_order="input")
    loader.load_state_dict({**loader.state_dict(), "delivered": [[0, 6]]})
    with pytest.raises(ValueError, match="epoch"):
        loader.set_epoch(-1)  # it discarded the resume point before it raised
    assert len(_batches_from(loader)) == 2  # positions 6..9


def test_torch_samplers_are_refused_naming_what_they_lack():
    torch_data = pytest.importorskip("torch.utils.data")
    with pytest.raises(TypeError, match="RandomSampler: it lacks epoch, set_epoch"):
        MapSource(list(range(8)), torch_data.RandomSampler(range(8)))
    sampler = torch_data.distributed.DistributedSampler(range(8), num_replicas=1, rank=0)
    loader = DataLoader(MapSource(list(range(8)), sampler), preprocessor=_index, batch_size=2)
    assert sorted(i for batch in loader for i in batch) == list(range(8))
    with pytest.raises(TypeError, match="DistributedSampler: it lacks state_dict"):
        loader.state_dict()


def test_a_pass_after_one_broken_off_reads_the_next_epoch():
    # A loop with a fixed number of steps per epoch: as with torch's shuffle=True, each
    # pass draws a new order, so every pass sees other samples.
    loader = DataLoader(_source(20), preprocessor=_index, batch_size=4, output_order="input")
    seen = []
    for epoch in range(3):
        assert loader.epoch == epoch
        for step, batch in enumerate(loader):
            seen.append(batch)
            if step == 1:
                break
    assert seen == [
        RandomSampler(20).indices(epoch)[start : start + 4]
        for epoch in range(3)
        for start in (0, 4)
    ]
    # The broken pass's state still resumes it in a new loader.
    state = loader.state_dict()
    assert state["epoch"] == 2 and state["delivered"] == [[0, 8]]
    resumed = DataLoader(_source(20), preprocessor=_index, batch_size=4, output_order="input")
    resumed.load_state_dict(state)
    assert [i for batch in resumed for i in batch] == RandomSampler(20).indices(2)[8:]
    # Setting the epoch after a break reads that epoch again, from its start.
    loader.set_epoch(2)
    assert [i for batch in loader for i in batch] == RandomSampler(20).indices(2)
    assert loader.epoch == 3


def test_stage_errors_surface_as_pipeline_failure(no_new_threads):
    def fail_on_seven(x: int) -> int:
        if x == 7:
            raise ValueError("seven is not allowed")
        return x

    loader = DataLoader(range(20), preprocessor=fail_on_seven, batch_size=2)
    with pytest.raises(PipelineFailure) as failure:
        list(loader)
    assert failure.value.stage == "preprocessor"
    assert isinstance(failure.value.__cause__, ValueError)


def test_in_input_order_a_failure_comes_after_the_batches_before_it(no_new_threads):
    # As torch's DataLoader: batches 0 and 1 first, then the error of batch 2 (which
    # failed while batch 0 was still loading: they were dropped), and nothing after it.
    def aggregate(batch: list[Sample]) -> list[int]:
        first = batch[0].index
        if first == 4:
            raise ValueError("batch 2 is broken")
        if first == 0:
            time.sleep(0.3)
        return [sample.index for sample in batch]

    source = MapSource(list(range(16)), SequentialSampler(16, rank=0, world_size=1))
    loader = DataLoader(
        source, batch_size=2, aggregator=aggregate, num_threads=4, output_order="input"
    )
    got = []
    with pytest.raises(PipelineFailure) as caught:
        for batch in loader:
            got.append(batch)
    assert got == [[0, 1], [2, 3]]
    assert isinstance(caught.value.__cause__, ValueError)
    assert loader.state_dict()["delivered"] == [[0, 4]]


def test_timeout_names_the_wait(no_new_threads):
    release = threading.Event()

    def blocked(x: int) -> int:
        if x == 3:
            release.wait(30)
        return x

    loader = DataLoader(
        range(6), preprocessor=blocked, batch_size=2, timeout=0.2, output_order="input"
    )
    received = []
    try:
        with pytest.raises(TimeoutError, match=r"waited 0\.2 s \(timeout\) for batch 1"):
            for batch in loader:
                received.append(batch)
    finally:
        release.set()  # the blocked op returns, so its thread can end
    assert received == [[0, 1]]


def test_stats_report_every_stage():
    loader = DataLoader(range(10), preprocessor=abs, batch_size=5, transfer_fn=list)
    with pytest.raises(RuntimeError, match="no pass has started"):
        loader.stats()
    list(loader)
    stats = loader.stats()
    assert isinstance(stats, PipelineStats)
    names = [stage.name for stage in stats.stages]
    assert names == ["source", "preprocessor", "aggregate", "aggregator", "transfer"]
    assert "preprocessor" in stats.report()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 0}, ValueError, "batch_size must be at least 1"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be an int"),
        ({"drop_last": True}, ValueError, "drop_last=True needs a batch_size"),
        ({"aggregator": list}, ValueError, "aggregator needs a batch_size"),
        ({"num_threads": 0}, ValueError, "num_threads must be at least 1"),
        ({"buffer_size": 0}, ValueError, "buffer_size must be at least 1"),
        ({"timeout": 0}, ValueError, "timeout must be a positive"),
        ({"output_order": "sorted"}, ValueError, "output_order must be"),
        ({"preprocessor": 3}, TypeError, "preprocessor must be callable"),
        ({"preprocessor": lambda x: (yield x)}, TypeError, "not be a generator"),
    ],
)
def test_bad_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        DataLoader(range(3), **kwargs)


def test_numpy_integers_are_taken_as_counts():
    loader = DataLoader(range(5), batch_size=np.int64(2), num_threads=np.int32(2))
    assert list(loader) == [[0, 1], [2, 3], [4]]
    assert type(loader._batch_size) is int and type(loader._num_threads) is int


def test_a_source_that_is_not_iterable_is_rejected():
    with pytest.raises(TypeError, match="src must be iterable"):
        DataLoader(5)


def test_a_map_style_dataset_given_as_src_points_to_map_source():
    class TorchStyleDataset:  # __len__ and __getitem__, no __iter__
        def __len__(self) -> int:
            return 4

        def __getitem__(self, index: int) -> int:
            return index

    with pytest.raises(TypeError, match=r"src must be iterable.*MapSource\(dataset, "):
        DataLoader(TorchStyleDataset(), batch_size=2)


# Resume in one process (tests/test_resume.py restarts in a new process) ----------------


def _batches_from(loader: DataLoader) -> list[list[int]]:
    return [[sample.index for sample in batch] for batch in loader]


def test_state_dict_is_plain_data_and_resumes_at_the_next_batch():
    torch = pytest.importorskip("torch")
    loader = DataLoader(_source(23, seed=5), batch_size=4, output_order="input")
    full = _batches_from(DataLoader(_source(23, seed=5), batch_size=4, output_order="input"))
    received = []
    for batch in loader:
        received.append([sample.index for sample in batch])
        if len(received) == 2:
            state = loader.state_dict()
            break
    assert state == {
        "epoch": 0,
        "delivered": [[0, 8]],
        "source": {
            "epoch": 0,
            "num_items": 23,
            "rank": 0,
            "world_size": 1,
            "uneven": "pad",
            "seed": 5,
        },
    }
    assert json.loads(json.dumps(state)) == state
    import io

    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    restored_state = torch.load(buffer, weights_only=True)

    resumed = DataLoader(_source(23, seed=5), batch_size=4, output_order="input")
    resumed.load_state_dict(restored_state)
    assert received + _batches_from(resumed) == full
    assert resumed.state_dict()["epoch"] == 1  # the completed pass moved on
    assert resumed.state_dict()["delivered"] == []


def test_set_epoch_of_the_loaded_state_keeps_the_resume_point():
    loader = DataLoader(_source(10), batch_size=3, output_order="input")
    loader.load_state_dict({**loader.state_dict(), "delivered": [[0, 6]]})
    loader.set_epoch(0)  # as a torch-style loop does at the start of each epoch
    assert len(_batches_from(loader)) == 2  # positions 6..9
    loader.load_state_dict({**loader.state_dict(), "epoch": 1, "delivered": [[0, 6]]})
    with pytest.warns(RuntimeWarning, match="resume point is discarded"):
        loader.set_epoch(2)  # another epoch: a full pass
    assert len(_batches_from(loader)) == 4


def test_a_resume_point_lost_to_an_epoch_set_on_the_sampler_is_warned_about():
    sampler = RandomSampler(20, seed=1)
    loader = DataLoader(MapSource(list(range(20)), sampler), batch_size=4, output_order="input")
    loader.load_state_dict({**loader.state_dict(), "epoch": 2, "delivered": [[0, 8]]})
    sampler.set_epoch(0)  # e.g. a loop that starts again from a wrong epoch
    with pytest.warns(RuntimeWarning, match="resumes epoch 2 part-way, but the epoch is now 0"):
        assert len(_batches_from(loader)) == 5


def test_dropped_items_count_as_done():
    def drop_odd(sample: Sample) -> Sample | None:
        return None if sample.index % 2 else sample

    source = MapSource(list(range(10)), SequentialSampler(10))
    loader = DataLoader(source, preprocessor=drop_odd, batch_size=2, output_order="input")
    for _ in loader:
        break
    # Delivered 0 and 2; 1 was dropped; 3 may have been dropped already (in flight).
    delivered = loader.state_dict()["delivered"]
    assert delivered[0][0] == 0 and delivered[0][1] >= 3


def test_resume_state_of_another_configuration_is_rejected():
    state = DataLoader(_source(10, seed=1)).state_dict()
    with pytest.raises(ValueError, match="saved with seed=1"):
        DataLoader(_source(10, seed=2)).load_state_dict(state)
    with pytest.raises(ValueError, match="not a DataLoader state"):
        DataLoader(_source(10, seed=1)).load_state_dict({"epoch": 0})


def test_a_plain_iterable_source_is_not_resumable():
    loader = DataLoader(range(4))
    for name, call in [
        ("save the state", loader.state_dict),
        ("set the epoch", lambda: loader.set_epoch(1)),
    ]:
        with pytest.raises(TypeError, match=f"cannot {name}.*use a MapSource"):
            call()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 40), max_size=5), max_size=12))
def test_progress_ranges_are_the_done_positions_merged(additions):
    progress = Progress(3)
    for positions in additions:
        progress.add(positions)
    done = {position for positions in additions for position in positions}
    ranges = progress.ranges()
    assert [p for start, stop in ranges for p in range(start, stop)] == sorted(done)
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))  # merged
    assert [p for p in range(45) if p in progress] == sorted(done)
    restored = Progress(3, ranges)
    assert restored.ranges() == ranges
    assert [p for p in range(45) if p in restored] == sorted(done)


# Stopping, threads, and where the dataset is read -------------------------------------

# Leaving a pass must not wait for an op that does not return (issue: within 1 s).
PROMPT_STOP_S = 1.0


def test_breaking_out_of_a_blocking_stream_returns_promptly(no_new_threads):
    in_next = threading.Event()

    def stream():
        for index in itertools.count():
            in_next.set()
            time.sleep(0.2)  # records from a socket, say
            yield index

    def take_one() -> None:
        for item in DataLoader(stream()):
            assert item == 0
            in_next.clear()
            assert in_next.wait(30)  # the source is inside next() now
            break

    assert run_with_limit(take_one) < 0.2 + PROMPT_STOP_S


def test_breaking_out_while_an_op_is_stuck_returns_promptly(no_new_threads):
    release = threading.Event()

    def preprocess(x: int) -> int:
        if x >= 2:
            release.wait(30)
        return x

    def take_one() -> None:
        loader = DataLoader(
            range(100), preprocessor=preprocess, batch_size=1, num_threads=4, output_order="input"
        )
        for batch in loader:
            assert batch == [0]
            break

    try:
        assert run_with_limit(take_one) < PROMPT_STOP_S
    finally:
        release.set()  # the stuck threads end once their op returns


def test_an_async_transfer_fn_runs_on_the_loop_one_batch_at_a_time(no_new_threads):
    running, most = [0], [0]

    async def move(batch: list[int]) -> tuple[int, ...]:
        running[0] += 1
        most[0] = max(most[0], running[0])
        await asyncio.sleep(0.001)
        running[0] -= 1
        return tuple(batch)

    loader = DataLoader(
        range(9), preprocessor=_slow_square, batch_size=2, transfer_fn=move, output_order="input"
    )
    assert list(loader) == [(0, 1), (4, 9), (16, 25), (36, 49), (64,)]
    assert most[0] == 1


class _BlockingDataset:
    """A torch-style dataset whose ``__getitem__`` does the work: each read waits until
    ``parallel`` reads are under way, so reads done one at a time fail."""

    def __init__(self, num_items: int, parallel: int) -> None:
        self.num_items = num_items
        self.barrier = threading.Barrier(parallel, timeout=10)
        self.threads: set[str] = set()

    def __len__(self) -> int:
        return self.num_items

    def __getitem__(self, index: int) -> str:
        self.threads.add(threading.current_thread().name)
        self.barrier.wait()
        return f"item {index}"


def _sync_identity(sample: Sample) -> Sample:
    return sample


async def _async_identity(sample: Sample) -> Sample:
    await asyncio.sleep(0)
    return sample


def _batch_of(samples: list[Sample]) -> list[Sample]:
    return samples


@pytest.mark.parametrize(
    "stages",
    [
        {},
        {"preprocessor": _sync_identity},
        {"preprocessor": _async_identity},
        {"batch_size": 2},
        {"batch_size": 2, "aggregator": _batch_of},
    ],
    ids=["dataset", "preprocessor", "async-preprocessor", "batch", "aggregator"],
)
def test_a_map_source_is_read_in_the_worker_threads_at_once(stages, no_new_threads):
    dataset = _BlockingDataset(8, parallel=4)
    source = MapSource(dataset, SequentialSampler(8, rank=0, world_size=1))
    loader = DataLoader(source, num_threads=4, output_order="input", **stages)
    outputs = list(loader)
    samples = [s for batch in outputs for s in batch] if "batch_size" in stages else outputs
    assert samples == [Sample(index, 0, f"item {index}") for index in range(8)]
    assert all("-worker_" in name for name in dataset.threads), dataset.threads


def test_a_failing_dataset_read_is_a_failure_within_max_failures(caplog):
    class Flaky:
        def __len__(self) -> int:
            return 6

        def __getitem__(self, index: int) -> int:
            if index == 4:
                raise KeyError("missing file 4")
            return index

    def source() -> MapSource:
        return MapSource(Flaky(), SequentialSampler(6, rank=0, world_size=1))

    loader = DataLoader(source(), max_failures=1, output_order="input")
    assert [sample.data for sample in loader] == [0, 1, 2, 3, 5]
    assert any("missing file 4" in r.getMessage() for r in caplog.records)
    with pytest.raises(PipelineFailure) as failure:
        list(DataLoader(source(), batch_size=2))  # max_failures=0 by default
    assert isinstance(failure.value.__cause__, KeyError)


def test_report_stats_interval_logs_the_report(caplog):
    caplog.set_level(logging.INFO, logger="spdl.pipeline")
    loader = DataLoader(range(8), batch_size=4, report_stats_interval=60)
    assert len(list(loader)) == 2
    assert any("Bottleneck" in r.getMessage() for r in caplog.records)
    with pytest.raises(TypeError, match="report_stats_interval must be a number"):
        DataLoader(range(8), report_stats_interval="often")
    with pytest.raises(ValueError, match="max_failures must be"):
        DataLoader(range(8), max_failures=1.5)


def _fails_on_9(sample: Sample) -> int:
    if sample.index == 9:
        raise ValueError("sample 9 is bad")
    return sample.data


def _slow_batch(samples: list) -> list:
    time.sleep(0.05)  # a batch load takes a moment: batches 0 and 1 are still in it
    return [getattr(s, "data", s) for s in samples]


def _slow_copy(batch: list) -> list:
    time.sleep(0.05)
    return batch


@pytest.mark.parametrize(
    "stages",
    [
        {"preprocessor": _fails_on_9, "aggregator": _slow_batch},
        {"preprocessor": _fails_on_9},
        {
            "aggregator": lambda samples: [_fails_on_9(s) for s in samples],
            "transfer_fn": _slow_copy,
        },
    ],
    ids=["preprocessor", "preprocessor-no-aggregator", "aggregator"],
)
def test_in_input_order_a_failing_batch_comes_after_the_batches_before_it(stages: dict) -> None:
    # docs/dataloader.md: as in torch's DataLoader, batches 0 and 1, then the error.
    source = MapSource(list(range(16)), SequentialSampler(16, rank=0, world_size=1))
    loader = DataLoader(source, batch_size=4, output_order="input", num_threads=4, **stages)
    received = []
    with pytest.raises(PipelineFailure, match="sample 9 is bad"):
        for batch in loader:
            received.append(batch)
    assert received == [[0, 1, 2, 3], [4, 5, 6, 7]]


class _BadRecord:
    def __len__(self) -> int:
        return 16

    def __getitem__(self, index: int) -> int:
        if index == 15:
            raise KeyError("label")  # one bad record
        return index


def _identity_sample(sample: Sample) -> int:
    return sample.data


def _failed_future(sample: Sample) -> concurrent.futures.Future:
    future: concurrent.futures.Future = concurrent.futures.Future()
    if sample.index == 6:
        future.set_exception(ValueError("cannot decode"))
    else:
        future.set_result(sample.data)
    return future


@pytest.mark.parametrize(
    ("dataset", "stages", "where"),
    [
        (_BadRecord(), {"aggregator": list}, r"raised by dataset\[15\] \(epoch 0\)"),
        (_BadRecord(), {"preprocessor": _identity_sample}, r"raised by dataset\[15\] \(epoch 0\)"),
        (
            list(range(16)),
            {"preprocessor": _fails_on_9},
            r"raised by the preprocessor on sample 9 \(epoch 0\)",
        ),
        (
            list(range(16)),
            {"preprocessor": _failed_future},
            r"raised by the preprocessor on sample 6 \(epoch 0\)",
        ),
        (
            list(range(16)),
            {"aggregator": lambda samples: [_fails_on_9(s) for s in samples]},
            r"raised by the aggregator on samples \[8, 9, 10, 11\] \(epoch 0\)",
        ),
    ],
    ids=["dataset-in-batch", "dataset", "preprocessor", "future", "aggregator"],
)
def test_a_failure_names_the_sample(dataset, stages: dict, where: str) -> None:
    source = MapSource(dataset, SequentialSampler(16, rank=0, world_size=1))
    loader = DataLoader(source, batch_size=4, output_order="input", **stages)
    with pytest.raises(PipelineFailure, match=where) as failure:
        list(loader)
    if sys.version_info >= (3, 11):  # the note travels with the error (its traceback)
        assert any(re.search(where, note) for note in failure.value.__cause__.__notes__)


class _Record:
    """A user item whose attribute lookups go to a dict: KeyError, not AttributeError."""

    def __init__(self, fields: dict) -> None:
        self.__dict__["_fields"] = fields

    def __getattr__(self, name: str):
        return self._fields[name]


def _fails_later(record: _Record) -> concurrent.futures.Future:
    future: concurrent.futures.Future = concurrent.futures.Future()
    future.set_exception(ValueError(f"cannot load {record._fields['path']}"))
    return future


def _fails_now(record: _Record) -> int:
    raise ValueError(f"cannot load {record._fields['path']}")


@pytest.mark.parametrize("preprocessor", [_fails_later, _fails_now], ids=["future", "sync"])
def test_an_item_that_cannot_be_described_keeps_its_error(preprocessor) -> None:
    # Naming the sample read item.index, which raised KeyError here: the Future form
    # never completed (the loop waited forever) and the sync form lost the error.
    items = [_Record({"path": f"f{i}"}) for i in range(4)]
    loader = DataLoader(items, preprocessor=preprocessor, num_threads=2, timeout=30)
    raised: list[BaseException] = []

    def load_all() -> None:
        try:
            list(loader)
        except BaseException as error:  # noqa: BLE001 -- checked below
            raised.append(error)

    run_with_limit(load_all, 30)
    assert isinstance(raised[0], PipelineFailure), raised
    assert isinstance(raised[0].__cause__, ValueError)
    assert "cannot load f" in str(raised[0].__cause__)


def test_a_loader_pickles_and_deepcopies_after_a_pass_and_a_break():
    loader = DataLoader(_source(20), preprocessor=_index, batch_size=4, output_order="input")
    list(loader)
    for step, _ in enumerate(loader):
        if step == 1:
            break
    for copied in (pickle.loads(pickle.dumps(loader)), copy.deepcopy(loader)):
        assert copied.state_dict() == loader.state_dict()
        assert copied.epoch == 2  # the broken epoch 1 is left behind, as by the original
        assert [i for batch in copied for i in batch] == RandomSampler(20).indices(2)


def test_a_peek_before_training_leaves_the_samplers_set_epoch_in_charge():
    # A pass left early (a peek at one batch) used to move every later pass one epoch
    # ahead of sampler.set_epoch(e), and a mid-epoch checkpoint then did not resume.
    sampler = RandomSampler(8)
    loader = DataLoader(
        MapSource(list(range(8)), sampler), preprocessor=_index, batch_size=4, output_order="input"
    )
    next(iter(loader))
    for epoch in range(3):
        sampler.set_epoch(epoch)
        got = []
        for batch in loader:
            assert loader.epoch == epoch  # during a pass, its own epoch
            got += batch
            state = loader.state_dict()
        assert got == RandomSampler(8).indices(epoch)
    assert state["epoch"] == 2 and state["delivered"] == [[0, 8]]
