"""A training job's data loading, stopped and restarted: run by tests/test_resume.py.

``python _resume_worker.py first ORDER OUT STATE STOP_AFTER...`` iterates two epochs of
rank 0's and rank 1's loaders (world size 2, given explicitly), saves each rank's
``state_dict()`` to ``STATE`` (JSON) after ``STOP_AFTER[rank]`` batches, writes the batches
received up to then to ``OUT`` and exits at once, without stopping anything.
``python _resume_worker.py rest ORDER OUT STATE`` loads the states in a new process and
writes the batches that follow, up to the end of epoch 1. :func:`run` without a state or a
stop gives the uninterrupted run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from spdl.dataloader import DataLoader, MapSource, RandomSampler, Sample

NUM_ITEMS = 53  # 27 per rank, padded
WORLD_SIZE = 2
NUM_EPOCHS = 2
BATCH_SIZE = 4
SEED = 11
_LEFT_RUNNING: list[Any] = []


def _preprocess(sample: Sample) -> Sample | None:
    time.sleep(0.003 if sample.index % 4 == 0 else 0.0)  # items finish out of order
    return None if sample.index % 13 == 0 else sample  # dropped: must stay dropped


def _describe(samples: list[Sample]) -> list[list[Any]]:
    return [[sample.epoch, sample.index, sample.data] for sample in samples]


def _describe_slowly(samples: list[Sample]) -> list[list[Any]]:
    time.sleep(0.006 if samples[0].index % 2 else 0.0)  # batches finish out of order
    return _describe(samples)


def make_loader(order: str, rank: int) -> DataLoader:
    """Rank ``rank``'s loader: per-item work in source order, or atomic batches that are
    delivered as they complete."""
    sampler = RandomSampler(NUM_ITEMS, seed=SEED, rank=rank, world_size=WORLD_SIZE)
    source = MapSource([f"item-{i}" for i in range(NUM_ITEMS)], sampler)
    if order == "input":
        return DataLoader(
            source,
            preprocessor=_preprocess,
            batch_size=BATCH_SIZE,
            aggregator=_describe,
            num_threads=4,
            output_order="input",
        )
    return DataLoader(source, batch_size=BATCH_SIZE, aggregator=_describe_slowly, num_threads=4)


def run(
    order: str, rank: int, *, state: dict[str, Any] | None = None, stop_after: int | None = None
) -> tuple[list[Any], dict[str, Any] | None]:
    """The batches up to the end of the last epoch (or the stop), and the state at the stop."""
    loader = make_loader(order, rank)
    if state is not None:
        loader.load_state_dict(state)
    batches: list[Any] = []
    while loader.epoch < NUM_EPOCHS:
        epoch_batches = iter(loader)
        for batch in epoch_batches:
            batches.append(batch)
            if len(batches) == stop_after:
                _LEFT_RUNNING.append(epoch_batches)  # the process dies with it running
                return batches, loader.state_dict()
    return batches, None


def main(argv: list[str]) -> None:
    mode, order, out_path, state_path, *stops = argv
    if mode == "first":
        results = [run(order, rank, stop_after=int(stops[rank])) for rank in range(WORLD_SIZE)]
        with open(state_path, "w") as f:
            json.dump([state for _, state in results], f)
        with open(out_path, "w") as f:
            json.dump([batches for batches, _ in results], f)
        os._exit(0)  # as if killed after the checkpoint: nothing is stopped or joined
    with open(state_path) as f:
        states = json.load(f)
    outputs = [run(order, rank, state=states[rank])[0] for rank in range(WORLD_SIZE)]
    with open(out_path, "w") as f:
        json.dump(outputs, f)


if __name__ == "__main__":
    main(sys.argv[1:])
