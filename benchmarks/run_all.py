"""Runs every benchmark workload and writes a dated report with plots.

1. Generates the chosen workloads' media deterministically into ``benchmarks/data/``
   (git-ignored; reused when already there).
2. Runs W1–W5 (``w*_*.py``) and D1 (``d1_dataloader.py``), each backend and thread
   count in a fresh process.
3. Writes into ``benchmarks/results/``:
   ``<date>[-quick].jsonl`` (every result row), ``<date>[-quick].md`` (tables and
   the targets, with spdl/peer ratios) and ``<date>[-quick]-<workload>.png``
   (throughput vs threads per backend; bar charts for D1). A run of a subset of the
   workloads adds their keys to the name (``2026-12-07-d1.md``).
4. With ``--docs``, also rewrites the generated block of each workload it ran on
   ``docs/performance.md`` (between ``<!-- bench:<workload> -->`` and
   ``<!-- /bench:<workload> -->``) and copies the plots to ``docs/assets/bench/``.

Usage::

    python benchmarks/run_all.py --quick          # a few minutes on two cores
    python benchmarks/run_all.py                  # more rounds per case
    python benchmarks/run_all.py --workloads w1,w5 --threads 1 2 4
    python benchmarks/run_all.py --from-rows benchmarks/results/2026-01-31.jsonl  # re-render
    python benchmarks/run_all.py --workloads d1 --docs   # D1 only, then update the docs page
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import _datasets
import _report
import d1_dataloader
import w1_image_batch
import w2_video_decode
import w3_clips
import w4_audio
import w5_gil_pressure
import w7_clip_sampling
import w8_remote
from _harness import DEFAULT_THREADS, RESULTS_DIR, Options, host_info, run_workload

WORKLOADS = {
    "w1": w1_image_batch,
    "w2": w2_video_decode,
    "w3": w3_clips,
    "w4": w4_audio,
    "w5": w5_gil_pressure,
    "w7": w7_clip_sampling,
    "w8": w8_remote,
    "d1": d1_dataloader,
}
DOCS_PAGE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


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


def update_docs(
    page: Path, res: _report.Results, meta: dict, report: str, plots: dict[str, Path]
) -> None:
    """Rewrites the page's block of every workload in ``res`` that has one, and copies
    its plot to ``assets/bench/<workload>.png`` beside the page."""
    text = page.read_text()
    for workload in res.workloads():
        try:
            text = _report.replace_block(
                text, workload, _report.docs_block(res, workload, meta, report)
            )
        except KeyError:
            print(f"{page} has no block for {workload}; not updated")
            continue
        if workload in plots:
            assets = page.parent / "assets" / "bench"
            assets.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(plots[workload], assets / f"{workload}.png")
        print(f"Updated {workload} on {page}")
    page.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds: minutes, not tens")
    parser.add_argument("--threads", type=int, nargs="+", default=list(DEFAULT_THREADS))
    parser.add_argument(
        "--workloads", default=",".join(WORKLOADS), help="comma-separated subset of w1..w5,d1"
    )
    parser.add_argument("--rounds", type=int, help="timed rounds per case for every workload")
    parser.add_argument(
        "--passes", type=int, help="split each case's rounds over N passes (default: 2, quick 1)"
    )
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--from-rows", type=Path, help="only re-render the report of a JSON lines file of rows"
    )
    parser.add_argument(
        "--docs",
        type=Path,
        nargs="?",
        const=DOCS_PAGE,
        help="also update the workloads' blocks on the performance page (default: "
        "docs/performance.md) and copy their plots next to it",
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
        date = stem[:10]  # <date>[-quick][-<workloads>]
        quick = bool(rows and rows[0].get("quick"))
        chosen = [
            k for k, m in WORKLOADS.items() if m.WORKLOAD.name in {r["workload"] for r in rows}
        ]
    else:
        print("Generating media into", _datasets.DATA_DIR, flush=True)
        for key in chosen:  # only what the chosen workloads read
            WORKLOADS[key].WORKLOAD.prepare()
        print(f"  ready after {time.perf_counter() - started:.0f} s", flush=True)

        date = datetime.now().strftime("%Y-%m-%d")
        quick = args.quick
        stem = f"{date}-quick" if quick else date
        if chosen != list(WORKLOADS):
            stem += "-" + "-".join(chosen)  # a subset does not overwrite the day's whole run
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
    if args.docs:
        update_docs(
            args.docs, res, meta, report.name, {w: args.out_dir / p for w, p in plots.items()}
        )
    print()
    print("\n".join(_report.targets_table(targets)))
    print(f"\nReport: {report}\nWall time: {meta['wall_s']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
