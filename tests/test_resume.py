"""Resuming a DataLoader in a new process continues the epoch where the checkpoint was.

A first process iterates each rank's loader (world size 2, random sampler), saves
``state_dict()`` as JSON after a few batches and dies; a second process loads the state
and runs to the end of the next epoch. Together they must deliver what one uninterrupted
run delivers: the same batches in the same order with ``output_order="input"``, the same
batches (in completion order) with ``"completion"`` — no sample skipped or repeated.
"""

from __future__ import annotations

import collections
import json
import pathlib
import subprocess
import sys

import _resume_worker as worker
import pytest

from spdl.dataloader import RandomSampler

WORKER = pathlib.Path(__file__).with_name("_resume_worker.py")
# Rank 0 stops inside epoch 0, rank 1 inside epoch 1.
STOP_AFTER = {"input": (3, 8), "completion": (2, 9)}


def _run_worker(tmp_path: pathlib.Path, *args: object) -> None:
    # cwd=tmp_path: the worker imports the installed spdl, never a source tree.
    subprocess.run(
        [sys.executable, str(WORKER), *map(str, args)], cwd=tmp_path, check=True, timeout=120
    )


def _by_epoch(batches: list) -> dict[int, list]:
    epochs = collections.defaultdict(list)
    for batch in batches:
        assert len({epoch for epoch, _, _ in batch}) == 1  # a batch never spans epochs
        epochs[batch[0][0]].append(batch)
    return dict(epochs)


@pytest.fixture(scope="module")
def uninterrupted() -> dict[str, list]:
    return {
        order: [worker.run(order, rank)[0] for rank in range(worker.WORLD_SIZE)]
        for order in ("input", "completion")
    }


def test_the_uninterrupted_run_delivers_each_ranks_share_once_per_epoch(uninterrupted):
    for order, per_rank in uninterrupted.items():
        for rank, batches in enumerate(per_rank):
            epochs = _by_epoch(batches)
            assert sorted(epochs) == [0, 1]
            for epoch, epoch_batches in epochs.items():
                share = RandomSampler(53, seed=worker.SEED, rank=rank, world_size=2).indices(epoch)
                if order == "input":
                    share = [i for i in share if i % 13]  # the preprocessor drops these
                indices = [index for batch in epoch_batches for _, index, _ in batch]
                assert sorted(indices) == sorted(share), (order, rank, epoch)
                if order == "input":
                    assert indices == share


@pytest.mark.parametrize("order", ["input", "completion"])
def test_resume_in_a_new_process_delivers_what_an_uninterrupted_run_does(
    tmp_path, order, uninterrupted
):
    state_path, first_path, rest_path = (tmp_path / n for n in ("state", "first", "rest"))
    _run_worker(tmp_path, "first", order, first_path, state_path, *STOP_AFTER[order])
    _run_worker(tmp_path, "rest", order, rest_path, state_path)
    states = json.loads(state_path.read_text())
    first, rest = json.loads(first_path.read_text()), json.loads(rest_path.read_text())

    for rank in range(worker.WORLD_SIZE):
        assert len(first[rank]) == STOP_AFTER[order][rank]
        assert states[rank]["source"]["rank"] == rank
        resumed = first[rank] + rest[rank]
        full = uninterrupted[order][rank]
        if order == "input":
            assert resumed == full
        else:
            full_epochs, resumed_epochs = _by_epoch(full), _by_epoch(resumed)
            assert sorted(resumed_epochs) == sorted(full_epochs) == [0, 1]
            for epoch, batches in full_epochs.items():
                # The same atomic batches: nothing skipped, nothing repeated.
                assert sorted(resumed_epochs[epoch]) == sorted(batches), (rank, epoch)
    # Rank 1 stopped in epoch 1: its state says so, with that epoch's delivered samples.
    assert states[1]["epoch"] == 1 and states[1]["delivered"]
