"""One rank of tests/test_distributed.py, launched by ``torch.distributed.run`` (gloo, CPU).

``python -m torch.distributed.run --nproc_per_node=2 ... _dist_worker.py OUT_DIR SEED``
builds a RandomSampler over 103 items *without* rank or world size (they come from the
process group), iterates three epochs of a DataLoader in source order for
``uneven="pad"`` and ``"drop"``, all-reduces the per-rank batch counts (min and max) and
writes what it saw to ``OUT_DIR/rank<R>.json``.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import sys

import torch
import torch.distributed as dist

from spdl.dataloader import DataLoader, MapSource, RandomSampler, Sample

NUM_ITEMS = 103
BATCH_SIZE = 8
NUM_EPOCHS = 3


def _index(sample: Sample) -> int:
    return sample.index


def _all_reduce(value: int, op: dist.ReduceOp) -> int:
    tensor = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(tensor, op=op)
    return int(tensor.item())


def main(out_dir: pathlib.Path, seed: int) -> None:
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    rank = dist.get_rank()
    result = {"rank": rank, "world_size": dist.get_world_size(), "runs": {}}
    for uneven in ("pad", "drop"):
        sampler = RandomSampler(NUM_ITEMS, seed=seed, uneven=uneven)
        source = MapSource(list(range(NUM_ITEMS)), sampler)
        loader = DataLoader(
            source, preprocessor=_index, batch_size=BATCH_SIZE, num_threads=2, output_order="input"
        )
        epochs = []
        for epoch in range(NUM_EPOCHS):
            loader.set_epoch(epoch)
            indices, num_batches = [], 0
            for batch in loader:
                indices.extend(batch)
                num_batches += 1
            epochs.append(
                {
                    "indices": indices,
                    "num_batches": num_batches,
                    "min_batches": _all_reduce(num_batches, dist.ReduceOp.MIN),
                    "max_batches": _all_reduce(num_batches, dist.ReduceOp.MAX),
                }
            )
        result["runs"][uneven] = {
            "sampler_rank": sampler.rank,
            "sampler_world_size": sampler.world_size,
            "len": len(loader),
            "epochs": epochs,
        }
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]), int(sys.argv[2]))
