"""Samplers and MapSource: how an epoch's indices are shared between ranks, and resumed."""

from __future__ import annotations

import collections
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spdl.dataloader import DataLoader, MapSource, RandomSampler, Sample, Sampler, SequentialSampler


def _shares(num_items, world_size, uneven, epoch=0, seed=0, kind=RandomSampler):
    shares = []
    for rank in range(world_size):
        extra = {"seed": seed} if kind is RandomSampler else {}
        sampler = kind(num_items, rank=rank, world_size=world_size, uneven=uneven, **extra)
        sampler.set_epoch(epoch)
        shares.append(list(sampler))
    return shares


@settings(max_examples=150, deadline=None)
@given(
    num_items=st.integers(1, 60),
    world_size=st.integers(1, 7),
    epoch=st.integers(0, 5),
    seed=st.integers(0, 2**32),
    kind=st.sampled_from([RandomSampler, SequentialSampler]),
)
def test_pad_gives_every_rank_ceil_items_covering_the_dataset(
    num_items, world_size, epoch, seed, kind
):
    shares = _shares(num_items, world_size, "pad", epoch, seed, kind)
    per_rank = -(-num_items // world_size)
    assert [len(share) for share in shares] == [per_rank] * world_size
    drawn = [index for share in shares for index in share]
    assert set(drawn) == set(range(num_items))  # coverage
    counts = collections.Counter(drawn)
    if num_items >= world_size:
        # Disjoint except the padding: per_rank * world_size - num_items items appear twice.
        assert sorted(counts.values()) == [1] * (2 * num_items - len(drawn)) + [2] * (
            len(drawn) - num_items
        )
        for share in shares:  # a rank never gets the same item twice
            assert len(set(share)) == len(share)
    else:  # fewer items than ranks: the permutation is repeated whole
        assert max(counts.values()) - min(counts.values()) <= 1


@settings(max_examples=150, deadline=None)
@given(
    num_items=st.integers(1, 60),
    world_size=st.integers(1, 7),
    epoch=st.integers(0, 5),
    seed=st.integers(0, 2**32),
    kind=st.sampled_from([RandomSampler, SequentialSampler]),
)
def test_drop_gives_every_rank_floor_items_disjoint(num_items, world_size, epoch, seed, kind):
    if num_items < world_size:
        with pytest.raises(ValueError, match="leaves no items"):
            _shares(num_items, world_size, "drop", epoch, seed, kind)
        return
    shares = _shares(num_items, world_size, "drop", epoch, seed, kind)
    per_rank = num_items // world_size
    assert [len(share) for share in shares] == [per_rank] * world_size
    drawn = [index for share in shares for index in share]
    assert len(set(drawn)) == len(drawn) == per_rank * world_size  # disjoint
    assert set(drawn) <= set(range(num_items))


def test_pad_repeats_the_start_of_the_epoch_permutation():
    whole = list(RandomSampler(10, seed=3, rank=0, world_size=1))
    shares = _shares(10, 4, "pad", seed=3)
    # Slot s of the padded order (whole + whole[:2]) goes to rank s % 4.
    padded = whole + whole[:2]
    assert shares == [padded[rank::4] for rank in range(4)]
    drop_shares = _shares(10, 4, "drop", seed=3)
    assert drop_shares == [whole[:8][rank::4] for rank in range(4)]


def test_random_sampler_reshuffles_each_epoch_and_repeats_for_the_same_seed():
    orders = {}
    for seed in (0, 1):
        for epoch in range(3):
            sampler = RandomSampler(50, seed=seed, rank=0, world_size=1)
            sampler.set_epoch(epoch)
            orders[seed, epoch] = list(sampler)
            assert sorted(orders[seed, epoch]) == list(range(50))
            again = RandomSampler(50, seed=seed, rank=0, world_size=1)
            again.set_epoch(epoch)
            assert list(again) == orders[seed, epoch]  # same seed and epoch: same order
    assert len({tuple(order) for order in orders.values()}) == 6  # all differ
    assert orders[0, 0] != list(range(50))


def test_sequential_sampler_is_the_same_every_epoch():
    sampler = SequentialSampler(7, rank=1, world_size=3)
    first = list(sampler)
    sampler.set_epoch(4)
    assert list(sampler) == first == [1, 4, 0]


def test_iteration_fixes_the_epoch_when_it_starts():
    sampler = RandomSampler(20, seed=0, rank=0, world_size=1)
    iterator = iter(sampler)
    sampler.set_epoch(1)
    epoch0 = RandomSampler(20, seed=0, rank=0, world_size=1)
    assert list(iterator) == list(epoch0)
    assert sampler.indices(0) == list(epoch0)


def test_indices_are_plain_ints():
    assert all(type(index) is int for index in RandomSampler(30, rank=0, world_size=1))


def test_sampler_state_is_plain_data_and_restores_the_epoch():
    sampler = RandomSampler(40, seed=7, rank=1, world_size=2, uneven="drop")
    sampler.set_epoch(5)
    state = json.loads(json.dumps(sampler.state_dict()))
    restored = RandomSampler(40, seed=7, rank=1, world_size=2, uneven="drop")
    restored.load_state_dict(state)
    assert restored.epoch == 5
    assert list(restored) == list(sampler)


@pytest.mark.parametrize(
    ("other", "key"),
    [
        ({"num_items": 41}, "num_items"),
        ({"seed": 8}, "seed"),
        ({"rank": 0}, "rank"),
        ({"world_size": 4, "rank": 1}, "world_size"),
        ({"uneven": "pad"}, "uneven"),
    ],
)
def test_loading_a_state_saved_with_another_configuration_fails(other, key):
    config = {"num_items": 40, "seed": 7, "rank": 1, "world_size": 2, "uneven": "drop"}
    saved = RandomSampler(**config).state_dict()
    config.update(other)
    num_items = config.pop("num_items")
    with pytest.raises(ValueError, match=f"saved with {key}="):
        RandomSampler(num_items, **config).load_state_dict(saved)


def test_loading_an_incomplete_state_fails():
    with pytest.raises(ValueError, match="lacks"):
        SequentialSampler(4, rank=0, world_size=1).load_state_dict({"epoch": 1})


def test_rank_and_world_size_default_to_a_single_process_without_a_process_group(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    sampler = RandomSampler(9)
    assert (sampler.rank, sampler.world_size) == (0, 1)
    assert sorted(sampler) == list(range(9))


@pytest.mark.parametrize("kind", [RandomSampler, SequentialSampler])
def test_under_torchrun_before_the_process_group_the_environment_gives_the_rank(
    monkeypatch: pytest.MonkeyPatch, kind
):
    # torchrun sets these for every rank; a sampler built before init_process_group
    # (or without one) must not read the whole dataset on every rank.
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    sampler = kind(10)
    assert (sampler.rank, sampler.world_size) == (1, 3)
    assert list(sampler) == kind(10, rank=1, world_size=3).indices(0)
    assert (kind(10, rank=0, world_size=1).rank, kind(10, world_size=5).world_size) == (0, 5)
    monkeypatch.setenv("RANK", "one")
    with pytest.raises(ValueError, match="RANK='one'.*pass rank= and world_size="):
        len(kind(10))  # read when first needed


def test_a_dataset_given_for_num_items_says_to_pass_its_length():
    with pytest.raises(TypeError, match=r"pass len\(dataset\)"):
        RandomSampler(["a.jpg", "b.jpg"])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_items": 0}, ValueError, "num_items must be at least 1"),
        ({"num_items": 2.0}, TypeError, "num_items must be an int"),
        ({"num_items": 5, "rank": 2, "world_size": 2}, ValueError, "rank must be in"),
        ({"num_items": 5, "rank": -1, "world_size": 2}, ValueError, "rank must be at least 0"),
        ({"num_items": 5, "world_size": 0}, ValueError, "world_size must be at least 1"),
        ({"num_items": 5, "uneven": "wrap"}, ValueError, "uneven must be"),
        ({"num_items": 5, "seed": -1}, ValueError, "seed must be at least 0"),
    ],
)
def test_bad_arguments_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        RandomSampler(**kwargs)


def test_set_epoch_rejects_negative_and_non_int():
    sampler = SequentialSampler(3)
    with pytest.raises(ValueError, match="epoch must be at least 0"):
        sampler.set_epoch(-1)
    with pytest.raises(TypeError, match="epoch must be an int"):
        sampler.set_epoch("1")


def test_samplers_satisfy_the_protocol():
    assert isinstance(RandomSampler(3), Sampler)
    assert isinstance(SequentialSampler(3), Sampler)


def test_map_source_yields_samples_in_sampler_order():
    dataset = [f"item{i}" for i in range(12)]
    sampler = RandomSampler(12, seed=1, rank=1, world_size=3)
    source = MapSource(dataset, sampler)
    source.set_epoch(2)
    expected = [Sample(index, 2, dataset[index]) for index in sampler.indices(2)]
    assert list(source) == expected
    assert len(source) == 4
    assert source.epoch == 2
    assert source.state_dict() == sampler.state_dict()


def test_map_source_positions_skip_without_reading_the_skipped_items():
    read = []

    class Recording:
        def __len__(self):
            return 6

        def __getitem__(self, index):
            read.append(index)
            return index * 10

    sampler = RandomSampler(6, seed=2, rank=0, world_size=1)
    order = list(sampler)
    pairs = list(MapSource(Recording(), sampler).iter_positions(skip={0, 1, 4}))
    assert pairs == [(pos, Sample(order[pos], 0, order[pos] * 10)) for pos in (2, 3, 5)]
    assert read == [order[pos] for pos in (2, 3, 5)]


def test_map_source_rejects_a_sampler_of_another_size():
    with pytest.raises(ValueError, match="draws from 5 items but the dataset has 4"):
        MapSource([1, 2, 3, 4], SequentialSampler(5))


def test_map_source_state_round_trip():
    source = MapSource(list(range(8)), RandomSampler(8, seed=4, rank=0, world_size=2))
    source.set_epoch(3)
    restored = MapSource(list(range(8)), RandomSampler(8, seed=4, rank=0, world_size=2))
    restored.load_state_dict(json.loads(json.dumps(source.state_dict())))
    assert list(restored) == list(source)


def test_a_default_rank_is_read_when_first_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    # mp.spawn sets no RANK / WORLD_SIZE: a sampler built before init_process_group
    # read (0, 1) at once, and every rank read the whole dataset. The variables stand
    # for the group here (they are read the same way when none is initialised).
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    sampler = RandomSampler(10, seed=0)
    loader = DataLoader(MapSource(list(range(10)), sampler), batch_size=2)
    assert "rank=None, world_size=None" in repr(sampler)  # a log line reads nothing yet
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert len(loader) == 3 and (sampler.rank, sampler.world_size) == (1, 2)
    assert list(sampler) == RandomSampler(10, seed=0, rank=1, world_size=2).indices(0)
    monkeypatch.setenv("RANK", "0")
    assert sampler.rank == 1  # fixed once read


def test_a_seed_may_be_any_non_negative_int():
    # Seeds above 2**63 - 1 (random.getrandbits(64), a SeedSequence's 128 bits) were refused.
    seed = 2**127 + 5
    assert RandomSampler(10, seed=seed).indices(0) == RandomSampler(10, seed=seed).indices(0)
    assert RandomSampler(10, seed=seed).indices(0) != RandomSampler(10, seed=seed + 1).indices(0)
