"""Runs every benchmark workload and writes a dated report with plots.

1. Generates the media deterministically into ``benchmarks/data/`` (git-ignored;
   reused when already there).
2. Runs W1–W5 (``w*_*.py``), each backend and thread count in a fresh process.
3. Writes into ``benchmarks/results/``:
   ``<date>[-quick].jsonl`` (every result row), ``<date>[-quick].md`` (tables and
   the targets, with spdl/peer ratios) and ``<date>[-quick]-<workload>.png``
   (throughput vs threads per backend).

Usage::

    python benchmarks/run_all.py --quick          # a few minutes on two cores
    python benchmarks/run_all.py                  # more rounds per case
    python benchmarks/run_all.py --workloads w1,w5 --threads 1 2 4
    python benchmarks/run_all.py --from-rows benchmarks/results/2026-01-31.jsonl  # re-render
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import _datasets
import _report
import w1_image_batch
import w2_video_decode
import w3_clips
import w4_audio
import w5_gil_pressure
from _harness import DEFAULT_THREADS, RESULTS_DIR, Options, host_info, run_workload

WORKLOADS = {
    "w1": w1_image_batch,
    "w2": w2_video_decode,
    "w3": w3_clips,
    "w4": w4_audio,
    "w5": w5_gil_pressure,
}


def git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        # The run's own report and plots (tracked, rewritten by the run) do not count.
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":!benchmarks/results",
            ],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{head}{' (with local changes)' if dirty else ''}" if head else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds: minutes, not tens")
    parser.add_argument("--threads", type=int, nargs="+", default=list(DEFAULT_THREADS))
    parser.add_argument(
        "--workloads", default=",".join(WORKLOADS), help="comma-separated subset of w1..w5"
    )
    parser.add_argument("--rounds", type=int, help="timed rounds per case for every workload")
    parser.add_argument(
        "--passes", type=int, help="split each case's rounds over N passes (default: 2, quick 1)"
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--from-rows", type=Path, help="only re-render the report of a JSON lines file of rows"
    )
    args = parser.parse_args()
    chosen = args.workloads.split(",")
    unknown = sorted(set(chosen) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s) {unknown}; choose from {list(WORKLOADS)}")

    started = time.perf_counter()
    if args.from_rows:
        rows = _report.load_rows([args.from_rows])
        args.out_dir = args.from_rows.parent
        stem = args.from_rows.stem
        date = stem.removesuffix("-quick")
        quick = bool(rows and rows[0].get("quick"))
        chosen = [
            k for k, m in WORKLOADS.items() if m.WORKLOAD.name in {r["workload"] for r in rows}
        ]
    else:
        print("Generating media into", _datasets.DATA_DIR, flush=True)
        _datasets.ensure_all()
        print(f"  ready after {time.perf_counter() - started:.0f} s", flush=True)

        date = datetime.now().strftime("%Y-%m-%d")
        quick = args.quick
        stem = f"{date}-quick" if quick else date
        args.out_dir.mkdir(parents=True, exist_ok=True)
        jsonl = args.out_dir / f"{stem}.jsonl"
        jsonl.unlink(missing_ok=True)
        opts = Options(quick=quick, threads=args.threads, rounds=args.rounds, passes=args.passes)
        rows = []
        for key in chosen:
            module = WORKLOADS[key]
            rows += run_workload(module.WORKLOAD, Path(module.__file__), opts, jsonl)

    res = _report.Results(rows)
    plots = {}
    for workload in res.workloads():
        png = args.out_dir / f"{stem}-{workload}.png"
        if _report.plot_workload(res, workload, png):
            plots[workload] = png.name
    targets = _report.compute_targets(res, w2_video_decode.OUTPUT_BYTES)
    meta_path = args.out_dir / f"{stem}.meta.json"
    if args.from_rows and meta_path.exists():
        meta = json.loads(meta_path.read_text())
    else:
        meta = {
            "date": date,
            "quick": quick,
            "commit": git_commit(),
            "host": host_info(),
            "wall_s": time.perf_counter() - started,
        }
    notes = {WORKLOADS[k].WORKLOAD.name: WORKLOADS[k].WORKLOAD.notes for k in chosen}
    markdown = _report.render_markdown(res, meta, plots, targets, notes)
    report = args.out_dir / f"{stem}.md"
    report.write_text(markdown)
    meta_path.write_text(json.dumps(meta, indent=2))
    print()
    print("\n".join(_report.targets_table(targets)))
    print(f"\nReport: {report}\nWall time: {meta['wall_s']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
