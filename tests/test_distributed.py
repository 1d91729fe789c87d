"""Two ranks under ``torch.distributed.run`` (gloo, CPU) share a 103-item dataset.

The rank script (``_dist_worker.py``) takes rank and world size from the process group;
each rank must get the same number of items and batches (checked with an all_reduce in
the ranks), the ranks' shares must be disjoint except the padding and cover the dataset,
each epoch must reshuffle, and the order must be the one the sampler computes for that
seed anywhere (here, in this process).
"""

from __future__ import annotations

import json
import pathlib
import socket
import subprocess
import sys

import pytest

from spdl.dataloader import RandomSampler

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():
    pytest.skip("this torch build has no torch.distributed", allow_module_level=True)

WORKER = pathlib.Path(__file__).with_name("_dist_worker.py")
SEED = 7
NUM_ITEMS = 103
PER_RANK = {"pad": 52, "drop": 51}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out_dir = tmp_path_factory.mktemp("distributed")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        str(WORKER),
        str(out_dir),
        str(SEED),
    ]
    # cwd=out_dir: the ranks import the installed spdl, never a source tree.
    done = subprocess.run(command, cwd=out_dir, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads((out_dir / f"rank{rank}.json").read_text()) for rank in range(2)]


@pytest.mark.parametrize("uneven", ["pad", "drop"])
def test_rank_and_world_size_come_from_the_process_group(ranks, uneven):
    for rank, result in enumerate(ranks):
        assert (result["rank"], result["world_size"]) == (rank, 2)
        run = result["runs"][uneven]
        assert (run["sampler_rank"], run["sampler_world_size"]) == (rank, 2)


@pytest.mark.parametrize("uneven", ["pad", "drop"])
def test_every_rank_gets_the_same_number_of_items_and_batches(ranks, uneven):
    num_batches = -(-PER_RANK[uneven] // 8)
    for result in ranks:
        run = result["runs"][uneven]
        assert run["len"] == num_batches
        for epoch in run["epochs"]:
            assert len(epoch["indices"]) == PER_RANK[uneven]
            # all_reduce(MIN) == all_reduce(MAX): no rank ran short of batches.
            assert epoch["num_batches"] == epoch["min_batches"] == epoch["max_batches"]
            assert epoch["num_batches"] == num_batches


def test_pad_shares_are_disjoint_except_the_padding_and_cover_the_dataset(ranks):
    for epoch in range(3):
        share0, share1 = (set(r["runs"]["pad"]["epochs"][epoch]["indices"]) for r in ranks)
        assert share0 | share1 == set(range(NUM_ITEMS))
        # 104 slots for 103 items: one item (the permutation's first) is on both ranks.
        first = RandomSampler(NUM_ITEMS, seed=SEED, rank=0, world_size=1).indices(epoch)[0]
        assert share0 & share1 == {first}


def test_drop_shares_are_disjoint_and_leave_out_one_item(ranks):
    for epoch in range(3):
        share0, share1 = (r["runs"]["drop"]["epochs"][epoch]["indices"] for r in ranks)
        assert not set(share0) & set(share1)
        assert len(set(share0) | set(share1)) == NUM_ITEMS - 1


@pytest.mark.parametrize("uneven", ["pad", "drop"])
def test_each_epoch_reshuffles_and_matches_the_sampler_for_the_seed(ranks, uneven):
    for rank, result in enumerate(ranks):
        orders = [epoch["indices"] for epoch in result["runs"][uneven]["epochs"]]
        assert len({tuple(order) for order in orders}) == 3  # a new order each epoch
        assert set(orders[0]) != set(orders[1])  # and a new share
        for epoch, order in enumerate(orders):
            sampler = RandomSampler(NUM_ITEMS, seed=SEED, rank=rank, world_size=2, uneven=uneven)
            assert order == sampler.indices(epoch)  # same seed: same order, any process
