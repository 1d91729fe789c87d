"""Video decoding throughput of spdl with one and with two worker threads.

Decodes ``--copies`` copies of a 720p H.264 clip (3 s, 30 fps, generated once into
``benchmarks/data/``) to rgb24 with ``spdl.io.load_video``, submitted to a thread
pool of one worker and to a pool of two. Each round times both pools; the script
prints the median frames/s over ``--rounds`` rounds for each and their ratio. spdl's
native decode releases the GIL for its whole duration, so on a machine with two free
cores the ratio should approach 2.

One JSON line with the figures is written to
``benchmarks/results/bench_video_threads-<UTC time>.json``.

Usage::

    python benchmarks/bench_video_threads.py --rounds 3 --copies 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

from _datasets import ClipSpec, ensure_clip

import spdl.io

RESULTS_DIR = Path(__file__).resolve().parent / "results"
WORKER_COUNTS = (1, 2)


def decode_num_frames(path: Path) -> int:
    """Decodes the whole clip to an rgb24 buffer and returns its frame count.

    The buffer is dropped on return, so at most one decoded clip per worker is alive.
    """
    buffer = spdl.io.load_video(str(path))
    return buffer.shape[0]


def frames_per_second(pool: ThreadPoolExecutor, paths: list[Path]) -> float:
    """Decodes every path on ``pool`` and returns the frames decoded per wall-clock second."""
    start = time.perf_counter()
    num_frames = sum(pool.map(decode_num_frames, paths))
    return num_frames / (time.perf_counter() - start)


def busy_cpu_seconds() -> float | None:
    """CPU time used by every process on the machine since boot (Linux ``/proc/stat``)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per pool size")
    parser.add_argument("--copies", type=int, default=8, help="clips decoded per round")
    args = parser.parse_args()
    if args.rounds < 1 or args.copies < 1:
        parser.error("--rounds and --copies must be at least 1")

    spec = ClipSpec(seconds=3)
    path = ensure_clip(spec)
    # Warm-up: page cache, lazy initialisation, and a check of what we measure.
    shape = spdl.io.load_video(str(path)).shape
    if shape != (spec.num_frames, spec.height, spec.width, 3):
        raise SystemExit(f"unexpected decoded shape {shape} for {path.name}")
    print(
        f"clip: {path.name} ({spec.num_frames} frames, {spec.width}x{spec.height})\n"
        f"decoding {args.copies} copies to rgb24 per round, {args.rounds} rounds, "
        f"{os.cpu_count()} CPUs"
    )

    paths = [path] * args.copies
    samples: dict[int, list[float]] = {workers: [] for workers in WORKER_COUNTS}
    pools = {workers: ThreadPoolExecutor(max_workers=workers) for workers in WORKER_COUNTS}
    # Other processes' CPU use during the timed rounds, in cores: on a small machine
    # anything else running takes cores from the two-worker pool and skews the ratio.
    busy_start, own_start, wall_start = busy_cpu_seconds(), time.process_time(), time.time()
    try:
        for _ in range(args.rounds):  # interleaved, so drift affects both pool sizes alike
            for workers, pool in pools.items():
                samples[workers].append(frames_per_second(pool, paths))
    finally:
        for pool in pools.values():
            pool.shutdown()

    busy_end = busy_cpu_seconds()
    other_cores = None
    if busy_start is not None and busy_end is not None:
        own = time.process_time() - own_start
        other_cores = max(0.0, busy_end - busy_start - own) / (time.time() - wall_start)

    median = {workers: statistics.median(fps) for workers, fps in samples.items()}
    ratio = median[2] / median[1]
    for workers, fps in samples.items():
        rounds = ", ".join(f"{value:.1f}" for value in fps)
        print(f"{workers} worker thread(s): {median[workers]:8.1f} frames/s  (rounds: {rounds})")
    print(f"ratio (2 workers / 1 worker): {ratio:.2f}x")
    if other_cores is not None and other_cores > 0.1:
        print(f"warning: other processes used {other_cores:.2f} cores meanwhile; figures skewed")

    now = datetime.now(timezone.utc)
    record = {
        "benchmark": "bench_video_threads",
        "time": now.isoformat(timespec="seconds"),
        "spdl": version("spdl"),
        "av": version("av"),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "clip": {"file": path.name, "frames": spec.num_frames, **asdict(spec)},
        "copies": args.copies,
        "rounds": args.rounds,
        "frames_per_second": {str(workers): fps for workers, fps in samples.items()},
        "median_frames_per_second": {str(workers): fps for workers, fps in median.items()},
        "ratio_2_over_1": ratio,
        "other_processes_cores": other_cores,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"bench_video_threads-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(record) + "\n")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
