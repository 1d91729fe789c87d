"""The benchmark harness's pass schedule and the pooling of a case's passes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
_harness = pytest.importorskip("_harness")


def test_passes_alternate_direction_and_split_the_rounds() -> None:
    assert _harness.pass_schedule(3, 7, 2) == [(0, 4), (1, 4), (2, 4), (2, 3), (1, 3), (0, 3)]
    assert _harness.pass_schedule(2, 5, 1) == [(0, 5), (1, 5)]
    schedule = _harness.pass_schedule(4, 9, 3)
    for case in range(4):
        assert sum(rounds for index, rounds in schedule if index == case) == 9


def _pass(seconds: list[float], peak: float) -> dict:
    items = [8.0] * len(seconds)
    return {
        **_harness._summary(items, seconds, seconds),
        "rss_before_mb": 100.0,
        "peak_rss_mb": peak,
    }


def test_merged_passes_pool_their_rounds() -> None:
    merged = _harness._merge_passes([_pass([1.0, 2.0], 150.0), _pass([4.0], 180.0)])
    assert merged["round_s"] == [1.0, 2.0, 4.0]
    assert merged["median"] == pytest.approx(4.0)  # 8 items in 2 s
    assert merged["min"] == pytest.approx(2.0)
    assert merged["max"] == pytest.approx(8.0)
    assert merged["peak_rss_mb"] == 180.0
    assert merged["passes"] == 2


def test_a_failed_pass_fails_the_case() -> None:
    failed = {"error": "process exited with 1: boom"}
    assert _harness._merge_passes([_pass([1.0], 100.0), failed]) == failed


_ENV_WORKLOAD = """
import os, sys
sys.path.insert(0, {bench!r})
import _harness

def setup(ctx):
    items = float(os.environ["SPDL_BENCH_TEST_ITEMS"])
    return lambda: items

BACKEND = _harness.Backend("b", "b", setup, "none")
WORKLOAD = _harness.Workload("t", "t", "items/s", (BACKEND,), prepare=lambda: None)
_harness.main(WORKLOAD, __file__)
"""


def test_a_backend_env_reaches_its_case_process_only(tmp_path: Path) -> None:
    import os

    bench = str(Path(_harness.__file__).resolve().parent)
    script = tmp_path / "workload.py"
    script.write_text(_ENV_WORKLOAD.format(bench=bench))
    env = {"SPDL_BENCH_TEST_ITEMS": "3"}
    backend = _harness.Backend("b", "b", lambda ctx: lambda: 0.0, "none", env=env)
    result = _harness._run_child(script, backend, 1, 2, 0, _harness.Options())
    assert result.get("error") is None, result
    assert result["items_per_round"] == 3.0  # the case's process saw the variable
    assert "SPDL_BENCH_TEST_ITEMS" not in os.environ


# ---------------------------------------------------------------------------------------
# Measuring a process tree (D1's loaders run in several processes)

_ALLOCATE_AND_WAIT = (
    "import sys\n"
    "block = bytearray(64 * 2**20)\n"
    "block[:: 4096] = b'x' * len(block[:: 4096])\n"  # touch every page
    "print('ready', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_tree_monitor_sums_the_memory_of_its_child_processes() -> None:
    import subprocess

    monitor = _harness.ProcessTreeMonitor()
    alone_pss, _, alone_count = monitor.sample()
    child = subprocess.Popen(
        [sys.executable, "-c", _ALLOCATE_AND_WAIT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        assert child.pid in monitor.descendants()
        monitor.samples = 0  # refresh the list of processes on this sample
        pss, anon, count = monitor.sample()
        # The child's 64 MiB are its own anonymous memory, counted once in the sum.
        assert count == alone_count + 1
        assert pss >= alone_pss + 60
        assert anon >= 60
        assert monitor.peak_pss_mb >= pss
    finally:
        child.communicate("")
    monitor.samples = 0
    assert monitor.sample()[2] == alone_count


_BURN_CPU = (
    "import sys, time\n"
    "start = time.process_time()\n"
    "while time.process_time() - start < 0.3:\n"
    "    pass\n"
    "print(time.process_time(), flush=True)\n"
    "sys.stdin.read()\n"
)


def test_tree_cpu_seconds_count_live_and_reaped_children() -> None:
    import subprocess

    before = _harness.ProcessTreeMonitor.cpu_seconds()
    child = subprocess.Popen(
        [sys.executable, "-c", _BURN_CPU], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    burned = float(child.stdout.readline())  # the child's own CPU time so far
    live = _harness.ProcessTreeMonitor.cpu_seconds() - before
    child.communicate("")
    reaped = _harness.ProcessTreeMonitor.cpu_seconds() - before
    assert live >= burned - 0.02  # /proc/<pid>/stat counts in clock ticks (10 ms)
    assert reaped >= burned


# ---------------------------------------------------------------------------------------
# The report: D1's figures and targets, W3/W4 against the C ceilings, the docs page

_report = pytest.importorskip("_report")


def _d1_row(
    backend: str, epoch_s: float, first_s: float, cpu_s: float, pss: float, before: float = 0.0
) -> dict:
    return {
        "workload": "d1_dataloader",
        "title": "D1",
        "backend": backend,
        "description": f"{backend} loader",
        "package": "spdl",
        "version": "1.0",
        "threads": 2,
        "unit": "images/s",
        "error": None,
        "median": 320 / epoch_s,
        "min": 320 / epoch_s,
        "max": 320 / epoch_s,
        "extra": {
            "num_images": 330,
            "batch_size": 32,
            "workers": 2,
            "images": [320, 320],
            "epoch_s": [epoch_s, epoch_s],
            "first_batch_s": [first_s, first_s],
            "cpu_s": [cpu_s, cpu_s],
            "peak_pss_mb": pss,
            "peak_anon_shmem_mb": pss / 2,
            "baseline_pss_mb": before,
            "processes": 3 if backend.startswith("torch") else 1,
        },
    }


def test_loader_figures_come_from_every_epoch() -> None:
    figures = _report.loader_figures(_d1_row("spdl", 2.0, 0.4, 1.6, 300.0))
    assert figures.images_per_s == pytest.approx(640 / 4.0)
    # Each epoch's first batch (32 images) and its wait are left out of the steady rate.
    assert figures.steady_images_per_s == pytest.approx((640 - 64) / (4.0 - 0.8))
    assert figures.steps_per_s == pytest.approx(640 / 4.0 / 32)
    assert figures.first_batch_s == pytest.approx(0.4)
    assert figures.cpu_ms_per_image == pytest.approx(1000 * 3.2 / 640)
    assert figures.peak_pss_mb == 300.0
    assert _report.loader_figures({**_d1_row("spdl", 1, 0.1, 1, 1), "error": "boom"}) is None


def _d1_results(with_train: bool = True) -> object:
    rows = [
        _d1_row("spdl", 1.0, 0.02, 0.8, 200.0),
        _d1_row("spdl-bare", 0.8, 0.01, 0.7, 190.0),
        _d1_row("torch-pillow", 3.0, 0.5, 3.0, 500.0),
        _d1_row("torch-spdl", 1.5, 0.3, 1.0, 450.0),
    ]
    if with_train:
        rows += [
            _d1_row("spdl+train", 2.0, 0.05, 2.0, 400.0),
            _d1_row("torch-pillow+train", 2.0, 0.5, 4.0, 700.0),
        ]
    return _report.Results(rows)


def test_d1_targets_compare_spdl_with_the_peers_of_the_same_run() -> None:
    targets = {t.name: t for t in _report.compute_targets(_d1_results(), 0)}
    assert all(name.startswith("D1") for name in targets)  # no W rows, no W targets
    # Rates over all epochs (320 images each): 320 / epoch_s images per second.
    pillow = targets["D1 spdl / torch-pillow images/s"]
    assert (pillow.value, pillow.status) == (pytest.approx(3.0 / 1.0), "met")
    assert pillow.cpu_value == pytest.approx(3.0 / 0.8)  # images per CPU-second
    assert targets["D1 spdl / torch-spdl images/s"].value == pytest.approx(1.5)
    bare = targets["D1 spdl / spdl-bare images/s (pipeline overhead)"]
    assert (bare.value, bare.status) == (pytest.approx(0.8), "**MISSED**")
    memory = targets["D1 spdl / torch-pillow peak PSS"]
    assert (memory.value, memory.status) == (pytest.approx(0.4), "met")
    first = targets["D1 spdl / torch-pillow time to first batch"]
    assert (first.value, first.status) == (pytest.approx(0.04), "met")
    train = targets["D1 spdl / torch-pillow steps/s with a training step per batch"]
    assert (train.value, train.status) == (pytest.approx(1.0), "**MISSED**")


def test_d1_memory_lines_give_the_ceiling_and_what_each_loader_adds() -> None:
    rows = [
        _d1_row("spdl", 1.0, 0.02, 0.8, 260.0, before=230.0),
        _d1_row("torch-pillow", 3.0, 0.5, 3.0, 280.0, before=200.0),
    ]
    targets = {t.name: t for t in _report.compute_targets(_report.Results(rows), 0)}
    ceiling = targets["D1 ceiling: PSS before any loader / torch-pillow peak PSS"]
    assert (ceiling.value, ceiling.status) == (pytest.approx(230 / 280), "reference")
    added = targets["D1 spdl / torch-pillow PSS added by the loader"]
    assert (added.value, added.status) == (pytest.approx(30 / 80), "reference")


def test_d1_target_without_its_rows_says_which_is_missing() -> None:
    targets = {t.name: t for t in _report.compute_targets(_d1_results(with_train=False), 0)}
    train = targets["D1 spdl / torch-pillow steps/s with a training step per batch"]
    assert train.value is None
    assert train.status == "n/a"
    assert "spdl+train: not run" in train.cells()[2]


def _rate_row(workload: str, backend: str, threads: int, rate: float) -> dict:
    return {
        "workload": workload,
        "title": workload,
        "backend": backend,
        "description": backend,
        "version": None,
        "threads": threads,
        "unit": "items/s",
        "error": None,
        "median": rate,
        "min": rate,
        "max": rate,
        "per_cpu_s": rate,
        "peak_rss_mb": 100.0,
    }


def test_w3_and_w4_goals_sit_next_to_their_c_ceilings() -> None:
    rates = {
        "w3_clips": {"spdl-windows": (12.6, 28.0), "decord": (10.0, 14.0), "pyav": (6.0, 9.0)},
        "w4_audio": {"spdl": (1900.0, 3500.0), "torchcodec": (1800.0, 3800.0)},
    }
    rows = [
        _rate_row(workload, backend, t, rate)
        for workload, backends in rates.items()
        for backend, pair in backends.items()
        for t, rate in zip((1, 2), pair, strict=True)
    ]
    rows += [_rate_row("w3_clips", "ffmpeg-c", t, r) for t, r in ((1, 13.0), (2, 30.0))]
    rows += [_rate_row("w4_audio", "ffmpeg-c", t, r) for t, r in ((1, 3000.0), (2, 6000.0))]
    targets = {(t.name, t.threads): t for t in _report.compute_targets(_report.Results(rows), 0)}
    w3 = "W3 spdl-windows / best of decord, pyav"
    assert (targets[w3, 1].goal, targets[w3, 1].value, targets[w3, 1].status) == (
        1.25,
        pytest.approx(1.26),
        "met",
    )
    assert (targets[w3, 2].goal, targets[w3, 2].value) == (1.3, pytest.approx(2.0))
    w4 = "W4 spdl / torchcodec"
    assert (targets[w4, 1].goal, targets[w4, 1].status) == (1.0, "met")
    assert (targets[w4, 2].value, targets[w4, 2].status) == (
        pytest.approx(3500 / 3800),
        "**MISSED**",
    )
    ceiling = targets["W4 ceiling: ffmpeg-c (C, no output) / torchcodec", 1]
    assert ceiling.value == pytest.approx(3000 / 1800)
    assert ceiling.status == "reference"
    assert ceiling.cells()[3] == "–"
    share = targets["W3 spdl-windows / ffmpeg-c ceiling", 1]
    assert share.value == pytest.approx(12.6 / 13.0)
    assert not any(name.startswith(("W1", "W2", "W5", "D1")) for name, _ in targets)


_META = {
    "date": "2026-01-31",
    "quick": True,
    "commit": "abc1234",
    "host": {"cpu": "Some CPU", "cores": 2, "python": "3.11.7", "platform": "Linux"},
}


def test_docs_block_compares_loaders_without_the_project_targets() -> None:
    block = "\n".join(_report.docs_block(_d1_results(), "d1_dataloader", _META, "x.md"))
    assert "2026-01-31 (quick run, spdl commit `abc1234`) on Some CPU, 2 cores" in block
    assert "`benchmarks/results/x.md`" in block
    assert "![D1](assets/bench/d1_dataloader.png)" in block
    assert "MISSED" not in block and "| met |" not in block
    # spdl's rate over torch-pillow's, in torch-pillow's row.
    pillow_line = next(line for line in block.splitlines() if line.startswith("| `torch-pillow`"))
    assert "| 3.00× |" in pillow_line


def test_replace_block_rewrites_only_between_the_markers() -> None:
    start, end = _report.block_markers("w1_image_batch")
    page = f"# Title\n\nintro\n{start}\nold\nlines\n{end}\n\nafter\n"
    new = _report.replace_block(page, "w1_image_batch", ["new"])
    assert new == f"# Title\n\nintro\n{start}\nnew\n{end}\n\nafter\n"
    with pytest.raises(KeyError):
        _report.replace_block(page, "w2_video_decode", ["new"])


# ---------------------------------------------------------------------------------------
# D1's own pieces: the Pillow train transform's crop and the command line

_d1 = pytest.importorskip("d1_dataloader")


def test_crop_box_fits_the_image_and_the_ratio_range() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    for _ in range(500):
        width, height = (int(v) for v in rng.integers(20, 800, size=2))
        left, top, w, h = _d1.crop_box(
            width,
            height,
            lambda lo, hi: float(rng.uniform(lo, hi)),
            lambda lo, hi: int(rng.integers(lo, hi + 1)),
        )
        assert 0 <= left and left + w <= width and 0 < w
        assert 0 <= top and top + h <= height and 0 < h


def test_crop_box_falls_back_to_a_centred_crop_clamped_to_the_ratio() -> None:
    # The largest area at the widest ratio never fits a 1000x10 strip: ten misses.
    always_high = lambda lo, hi: hi  # noqa: E731
    assert _d1.crop_box(1000, 10, always_high, always_high) == (493, 0, 13, 10)
    # In range: the whole image.
    assert _d1.crop_box(100, 90, always_high, always_high) == (0, 0, 100, 90)


def test_d1_command_line_turns_into_the_harness_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_d1.IMAGES_ENV, "")  # restored after the test, which sets it
    argv = _d1.translate_args(["--images", "200", "--epochs", "1", "--consumer", "train"])
    assert argv == ["--rounds", "1", "--backends", "spdl+train,torch-pillow+train,torch-spdl+train"]
    assert _d1.num_images(quick=False) == 200
    argv = _d1.translate_args(["--consumer", "train", "--backends", "spdl,torch-pillow"])
    assert argv == ["--backends", "spdl+train,torch-pillow+train"]
    assert _d1.translate_args(["--quick"]) == ["--quick"]
