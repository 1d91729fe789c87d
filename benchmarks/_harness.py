"""The small harness every workload script shares.

A workload is a list of backends (spdl and its peers). Each backend's ``setup``
imports its library, prepares what it needs for a given number of worker threads,
and returns ``run``: a zero-argument callable that does one round of the workload
(e.g. decode 256 JPEGs into one batch) and returns how many items it produced.

Each (backend, threads) case runs in a fresh Python process, so that its peak RSS
(``ru_maxrss``, a high-water mark of the whole process) belongs to that case alone
and one library's imports or caches never slow down another's. In that process
the harness calls ``run`` ``warmup`` times untimed, then ``rounds`` times timed,
and reports the median, min and max throughput over the rounds: the median is
robust to the noise of a shared two-core machine.

Results are JSON lines, one per case, appended to ``benchmarks/results/``.

Command line of every workload script::

    python benchmarks/w1_image_batch.py [--quick] [--threads 1 2] [--backends spdl,pillow]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_THREADS = (1, 2)

T = TypeVar("T")
Run = Callable[[], float]


@dataclass(frozen=True)
class Context:
    """What a backend's ``setup`` is told about the case it prepares."""

    threads: int
    quick: bool


@dataclass(frozen=True)
class Backend:
    """One way of running a workload: a library in its idiomatic fastest use.

    Attributes:
        name: Short identifier, used on the command line and in the results.
        description: How the library is called, for the report.
        setup: Imports the library and returns the round function for a context. The
            function may carry an ``info`` dict (e.g. which API it calls), recorded
            with the result.
        package: Distribution whose version the results record (e.g. ``"av"``).
        env: Environment variables set for the case's process only (e.g. spdl with
            its buffer cache off, or glibc told to keep a peer's freed memory), so that
            one workload can time a library under two setups side by side.
    """

    name: str
    description: str
    setup: Callable[[Context], Run]
    package: str
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Workload:
    """A workload: its backends, its unit of throughput, and how many rounds to run.

    Attributes:
        name: File stem of the script (``"w1_image_batch"``).
        title: Human title for the report.
        unit: Throughput unit, e.g. ``"images/s"``.
        backends: Every backend, spdl's first.
        rounds: Timed rounds per case as ``(quick, full)``.
        warmup: Untimed rounds before timing.
        busy_thread: Also time every round with a pure-Python busy thread running (W5).
        prepare: Generates the workload's media (called once, before any case).
        notes: Paragraphs the report prints under the workload's table.
        threads: Fixed worker counts, in place of the run's ``--threads`` (D1 gives
            every loader the same two workers).
        passes: A fixed number of passes, in place of the run's (D1 times the epochs of
            one loader in one process: its rounds cannot be split between processes).
    """

    name: str
    title: str
    unit: str
    backends: Sequence[Backend]
    prepare: Callable[[], object]
    rounds: tuple[int, int] = (3, 7)
    warmup: int = 1
    busy_thread: bool = False
    notes: Sequence[str] = field(default_factory=tuple)
    threads: Sequence[int] | None = None
    passes: int | None = None


def package_version(package: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def pool_map(
    pool: ThreadPoolExecutor | None, fn: Callable[[Any], T], items: Sequence[Any]
) -> list[T]:
    """``pool.map`` as a list, or a plain loop when ``pool`` is None (one thread)."""
    if pool is None:
        return [fn(item) for item in items]
    return list(pool.map(fn, items))


def make_pool(threads: int) -> ThreadPoolExecutor | None:
    """A pool of ``threads`` workers, or None for one worker (run in the calling thread)."""
    return ThreadPoolExecutor(threads) if threads > 1 else None


# ---------------------------------------------------------------------------------------
# Measurement (inside the case's own process)


class BusyThread:
    """A pure-Python thread that counts as fast as it can while the loader runs (W5)."""

    def __init__(self) -> None:
        self.stop = False
        self.count = 0
        self.elapsed_s = 0.0
        self._thread = threading.Thread(target=self._spin, daemon=True)

    def _spin(self) -> None:
        start = time.perf_counter()
        x = 0
        while not self.stop:
            x += 1
        self.count = x
        self.elapsed_s = time.perf_counter() - start

    def __enter__(self) -> BusyThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop = True
        self._thread.join()

    @property
    def mops(self) -> float:
        """Million loop iterations per second."""
        return self.count / self.elapsed_s / 1e6 if self.elapsed_s else 0.0


class BusyProcess:
    """A pure-Python spinning *process*: the CPU contention of ``BusyThread`` without
    the GIL contention. The W5 loss against it is the part that the GIL causes."""

    def __enter__(self) -> BusyProcess:
        command = [sys.executable, "-S", "-c", "while True: pass"]
        self._process = subprocess.Popen(command)
        time.sleep(0.1)  # let it start spinning before the timed round
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.kill()
        self._process.wait()


class ProcessTreeMonitor:
    """Peak memory and CPU time of this process together with all its descendants (Linux).

    A daemon thread sums the proportional set size (``Pss`` in
    ``/proc/<pid>/smaps_rollup``) of the process and of its descendants every
    ``interval`` seconds and keeps the largest sum. PSS charges each page shared by
    several processes to each of them in equal parts, so a page that forked workers
    share with their parent counts once in the sum (RSS would count it in every
    process). ``Pss_Anon`` + ``Pss_Shmem`` is the part no unrelated process can share:
    heap, copy-on-write pages and shared-memory tensors, without the libraries' code.
    The list of descendants is refreshed every ``refresh_every`` samples (listing them
    reads every process's ``/proc/<pid>/stat``: about 2 ms; one ``smaps_rollup``: 0.2 ms).

    Use as a context manager, or call ``start`` and ``stop``.
    """

    def __init__(self, interval: float = 0.05, refresh_every: int = 4) -> None:
        self.interval = interval
        self.refresh_every = refresh_every
        self.peak_pss_mb = 0.0
        self.peak_anon_mb = 0.0
        self.peak_processes = 1
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pss-sampler", daemon=True)
        self._pids: list[int] = [os.getpid()]

    def __enter__(self) -> ProcessTreeMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> ProcessTreeMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _stat(pid: int | str) -> list[str] | None:
        """The fields of ``/proc/<pid>/stat`` after the command name (state first)."""
        try:
            with open(f"/proc/{pid}/stat", "rb") as stream:
                text = stream.read().decode(errors="replace")
        except OSError:
            return None
        return text.rpartition(")")[2].split()  # the name may hold spaces and brackets

    @classmethod
    def descendants(cls, root: int | None = None) -> list[int]:
        """The pids of every live descendant of ``root`` (default: this process)."""
        children: dict[int, list[int]] = {}
        try:
            entries = [e for e in os.listdir("/proc") if e.isdigit()]
        except OSError:
            return []
        for entry in entries:
            fields = cls._stat(entry)
            if fields and len(fields) > 1:
                children.setdefault(int(fields[1]), []).append(int(entry))
        found, todo = [], [os.getpid() if root is None else root]
        while todo:
            kids = children.get(todo.pop(), [])
            found += kids
            todo += kids
        return found

    @staticmethod
    def memory_mb(pid: int) -> tuple[float, float] | None:
        """``(Pss, Pss_Anon + Pss_Shmem)`` of one process in MiB; None if it is gone."""
        fields: dict[str, int] = {}
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as stream:
                for line in stream.read().splitlines()[1:]:
                    name, _, rest = line.partition(b":")
                    fields[name.decode()] = int(rest.split()[0])  # kB
        except (OSError, ValueError, IndexError):
            return None
        pss = fields.get("Pss", 0) / 1024
        return pss, (fields.get("Pss_Anon", 0) + fields.get("Pss_Shmem", 0)) / 1024

    def sample(self) -> tuple[float, float, int]:
        """Sums the memory of the tree now: ``(PSS MiB, anon + shmem MiB, processes)``."""
        if self.samples % self.refresh_every == 0:
            self._pids = [os.getpid(), *self.descendants()]
        self.samples += 1
        found = [m for m in map(self.memory_mb, self._pids) if m is not None]
        pss = sum(m[0] for m in found)
        anon = sum(m[1] for m in found)
        self.peak_pss_mb = max(self.peak_pss_mb, pss)
        self.peak_anon_mb = max(self.peak_anon_mb, anon)
        self.peak_processes = max(self.peak_processes, len(found))
        return pss, anon, len(found)

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    @classmethod
    def cpu_seconds(cls) -> float:
        """User + system CPU seconds of the process, its reaped descendants and its live
        ones. Read it when no descendant is exiting (one that exits between the two
        reads would be missed): before workers start and after they were joined."""
        me = resource.getrusage(resource.RUSAGE_SELF)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = me.ru_utime + me.ru_stime + reaped.ru_utime + reaped.ru_stime
        ticks = os.sysconf("SC_CLK_TCK")
        for pid in cls.descendants():
            fields = cls._stat(pid)
            if fields and len(fields) > 14:
                # utime, stime, and the times of the descendants it reaped (cutime, cstime).
                total += sum(int(f) for f in fields[11:15]) / ticks
        return total


def _summary(
    items: Sequence[float], seconds: Sequence[float], cpu_seconds: Sequence[float]
) -> dict[str, Any]:
    rates = [n / s for n, s in zip(items, seconds, strict=True)]
    per_cpu = [n / c for n, c in zip(items, cpu_seconds, strict=True) if c > 0]
    return {
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        # Items per CPU-second of the whole process (all its threads, user + system):
        # what the work costs, whatever else the machine was running.
        "per_cpu_s": statistics.median(per_cpu) if per_cpu else None,
        "round_s": [round(s, 5) for s in seconds],
        "round_cpu_s": [round(c, 5) for c in cpu_seconds],
        "items_per_round": statistics.median(items),
    }


def _timed(run: Run) -> tuple[float, float, float]:
    """Runs one round; returns (items, wall seconds, CPU seconds of the process tree).

    The whole tree: spdl's demux helper processes work for the round too (counting
    this process alone credited spdl's W4 with 2025 x realtime per CPU-second where
    the tree did 1349). Read outside the wall time; /proc is read in ticks of 10 ms,
    which a round of 0.3 s and more smooths out over the rounds.
    """
    cpu_start = ProcessTreeMonitor.cpu_seconds()
    start = time.perf_counter()
    items = run()
    wall = time.perf_counter() - start
    return float(items), wall, ProcessTreeMonitor.cpu_seconds() - cpu_start


def _current_rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def measure_case(
    workload: Workload, backend: Backend, ctx: Context, rounds: int, warmup: int
) -> dict[str, Any]:
    """Sets the backend up and times its rounds; returns the case's result fields."""
    run = backend.setup(ctx)
    rss_before = _current_rss_mb()
    for _ in range(warmup):
        run()
    if not workload.busy_thread:
        result = _summary(*zip(*(_timed(run) for _ in range(rounds)), strict=True))
    else:
        # Alternate plain, busy-thread and busy-process rounds, so that all three see
        # the same machine load.
        with BusyThread() as alone:
            time.sleep(0.5)
        plain, busy, process, mops = [], [], [], []
        for _ in range(rounds):
            plain.append(_timed(run))
            with BusyThread() as spinner:
                busy.append(_timed(run))
            mops.append(spinner.mops)
            with BusyProcess():
                process.append(_timed(run))
        result = _summary(*zip(*busy, strict=True))
        baseline = _summary(*zip(*plain, strict=True))
        cpu_only = _summary(*zip(*process, strict=True))
        result["extra"] = {
            "baseline": baseline,
            "busy_process": cpu_only,
            "lost_pct": 100.0 * (1.0 - result["median"] / baseline["median"]),
            "lost_to_busy_process_pct": 100.0 * (1.0 - cpu_only["median"] / baseline["median"]),
            "busy_mops": statistics.median(mops),
            "busy_alone_mops": alone.mops,
        }
    info = getattr(run, "info", None)  # what the backend chose to call, if it says
    if info:
        result.setdefault("extra", {}).update(info)
    result["rss_before_mb"] = round(rss_before, 1)
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    return result


def _child_main(workload: Workload, args: argparse.Namespace) -> None:
    backend = {b.name: b for b in workload.backends}[args.child]
    ctx = Context(threads=args.threads[0], quick=args.quick)
    try:
        result: dict[str, Any] = measure_case(workload, backend, ctx, args.rounds, args.warmup)
    except BaseException as error:  # report every failure as a result row
        lines = traceback.format_exception_only(type(error), error)
        result = {"error": "".join(lines).strip(), "traceback": traceback.format_exc()}
    Path(args.result).write_text(json.dumps(result))


# ---------------------------------------------------------------------------------------
# Orchestration (one child process per case)


@dataclass(frozen=True)
class Options:
    """How to run a workload."""

    quick: bool = False
    threads: Sequence[int] = DEFAULT_THREADS
    backends: Sequence[str] | None = None
    rounds: int | None = None
    timeout_s: float | None = None
    passes: int | None = None  # None: 1 with quick, else 2 (see run_workload)


def _run_child(
    script: Path, backend: Backend, threads: int, rounds: int, warmup: int, opts: Options
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="spdl-bench-") as tmp:
        result_path = Path(tmp) / "result.json"
        command = [
            sys.executable,
            str(script),
            "--child",
            backend.name,
            "--threads",
            str(threads),
            "--rounds",
            str(rounds),
            "--warmup",
            str(warmup),
            "--result",
            str(result_path),
        ]
        if opts.quick:
            command.append("--quick")
        timeout = opts.timeout_s or (240.0 if opts.quick else 900.0)
        env = {**os.environ, **backend.env} if backend.env else None
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        if result_path.exists():
            return json.loads(result_path.read_text())
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"error": f"process exited with {proc.returncode}: " + " | ".join(tail)}


def _merge_passes(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One case's result from its passes: their rounds pooled, the first error kept."""
    failed = [r for r in results if r.get("error")]
    if failed:
        return failed[0]
    if len(results) == 1:
        return results[0]
    items = [r["items_per_round"] for r in results for _ in r["round_s"]]
    seconds = [s for r in results for s in r["round_s"]]
    cpu_seconds = [c for r in results for c in r["round_cpu_s"]]
    merged = {**results[0], **_summary(items, seconds, cpu_seconds)}
    merged["rss_before_mb"] = max(r["rss_before_mb"] for r in results)
    merged["peak_rss_mb"] = max(r["peak_rss_mb"] for r in results)
    merged["passes"] = len(results)
    return merged


def pass_schedule(cases: int, rounds: int, passes: int) -> list[tuple[int, int]]:
    """``(case index, rounds)`` in running order: passes alternately forward and
    reversed, the rounds split as evenly as they go (the earlier passes get the rest)."""
    return [
        (index, rounds // passes + (p < rounds % passes))
        for p in range(passes)
        for index in (range(cases) if p % 2 == 0 else reversed(range(cases)))
    ]


def run_workload(
    workload: Workload, script: Path, opts: Options, out: Path | None = None
) -> list[dict[str, Any]]:
    """Runs every (backend, threads) case in its own process; returns the result rows.

    Load on a shared machine drifts over minutes, and one backend timed while a
    neighbour was busy would skew the ratios between backends. So a full run
    times each case in two passes (``opts.passes``), each with half the rounds,
    in forward then reverse order (A B C, C B A): every backend gets rounds early
    and late, and the row pools them. W5 interleaves its own rounds and runs once.

    Each row is also appended as one JSON line to ``out`` (default:
    ``benchmarks/results/<workload>-<UTC time>.jsonl``).
    """
    from tqdm import tqdm

    workload.prepare()
    backends = [b for b in workload.backends if not opts.backends or b.name in opts.backends]
    rounds = opts.rounds or workload.rounds[0 if opts.quick else 1]
    warmup = workload.warmup
    # W5's row compares rounds its process interleaved: passes would mix processes.
    passes = 1 if workload.busy_thread else opts.passes or (1 if opts.quick else 2)
    passes = max(1, min(workload.passes or passes, rounds))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = out or RESULTS_DIR / f"{workload.name}-{stamp}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    cases = [(b, t) for b in backends for t in workload.threads or opts.threads]
    schedule = pass_schedule(len(cases), rounds, passes)
    results: list[list[dict[str, Any]]] = [[] for _ in cases]
    load_before = [0.0] * len(cases)
    rows = []
    # disable=None: a progress bar on a terminal, plain result lines in a log.
    bar = tqdm(schedule, desc=workload.name, unit="run", disable=None, dynamic_ncols=True)
    for index, case_rounds in bar:
        backend, threads = cases[index]
        bar.set_postfix_str(f"{backend.name} x{threads}")
        if not results[index]:
            load_before[index] = os.getloadavg()[0]
        elif results[index][-1].get("error"):
            continue  # a failed case is not run again
        results[index].append(_run_child(script, backend, threads, case_rounds, warmup, opts))
        failed = bool(results[index][-1].get("error"))
        if len(results[index]) < passes and not failed:
            continue
        row = {
            "workload": workload.name,
            "title": workload.title,
            "backend": backend.name,
            "description": backend.description,
            "package": backend.package,
            **({"env": dict(backend.env)} if backend.env else {}),
            "version": package_version(backend.package),
            "threads": threads,
            "unit": workload.unit,
            "quick": opts.quick,
            "rounds": rounds,
            "warmup": warmup,
            "loadavg_1min": round(load_before[index], 2),
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "error": None,
            **_merge_passes(results[index]),
        }
        row.pop("traceback", None)
        rows.append(row)
        bar.write(format_row(row))
    bar.close()
    # In the cases' order (the report lists backends as they first appear), not in
    # the order their last passes ended.
    order = {(b.name, t): i for i, (b, t) in enumerate(cases)}
    rows.sort(key=lambda row: order[row["backend"], row["threads"]])
    with out.open("a") as stream:
        stream.writelines(json.dumps(row) + "\n" for row in rows)
    return rows


def format_row(row: dict[str, Any]) -> str:
    """One line of text for a result row."""
    head = f"{row['workload']:>16} {row['backend']:<18} x{row['threads']}"
    if row.get("error"):
        return f"{head}  ERROR {row['error'][:160]}"
    text = (
        f"{head}  {row['median']:>9.1f} {row['unit']} "
        f"[{row['min']:.1f}-{row['max']:.1f}]  peak RSS {row['peak_rss_mb']:.0f} MB"
    )
    extra = row.get("extra") or {}
    if "lost_pct" in extra:
        text += (
            f"  lost {extra['lost_pct']:.0f}% to a busy thread, "
            f"{extra['lost_to_busy_process_pct']:.0f}% to a busy process"
        )
    return text


def host_info() -> dict[str, Any]:
    """The machine the numbers come from."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def parse_args(argv: Sequence[str] | None = None, description: str = "") -> argparse.Namespace:
    """The command line shared by the workload scripts (and their case processes)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (for development)")
    parser.add_argument("--threads", type=int, nargs="+", default=list(DEFAULT_THREADS))
    parser.add_argument("--backends", help="comma-separated backend names (default: all)")
    parser.add_argument("--rounds", type=int, help="timed rounds per case (default: per workload)")
    parser.add_argument(
        "--passes", type=int, help="split each case's rounds over N passes (default: 2, quick 1)"
    )
    parser.add_argument("--out", type=Path, help="JSON lines file to append the results to")
    # Used by the harness to run one case in its own process.
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    counts = [args.rounds, args.passes]
    if any(t < 1 for t in args.threads) or any(n is not None and n < 1 for n in counts):
        parser.error("--threads, --rounds and --passes must be at least 1")
    return args


def main(workload: Workload, script: str, argv: Sequence[str] | None = None) -> None:
    """Entry point of a workload script: runs its cases, or one case when ``--child``."""
    args = parse_args(argv, workload.title)
    if args.child:
        _child_main(workload, args)
        return
    names = [b.name for b in workload.backends]
    chosen = args.backends.split(",") if args.backends else None
    unknown = sorted(set(chosen or ()) - set(names))
    if unknown:
        raise SystemExit(f"unknown backend(s) {unknown}; choose from {names}")
    opts = Options(
        quick=args.quick,
        threads=args.threads,
        backends=chosen,
        rounds=args.rounds,
        passes=args.passes,
    )
    rows = run_workload(workload, Path(script).resolve(), opts, args.out)
    print(f"{len(rows)} results for {workload.name}")
