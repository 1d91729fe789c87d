"""Turns result rows (JSON lines) into a Markdown report with tables and PNG plots.

Every ratio in the targets table compares medians measured in the same run, on
the same machine, at the same thread count.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Row = dict[str, Any]
MB = 2**20


def load_rows(paths: Iterable[Path]) -> list[Row]:
    """Reads result rows from JSON lines files."""
    rows = []
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


class Results:
    """Result rows indexed by (workload, backend, threads)."""

    def __init__(self, rows: Sequence[Row]):
        self.rows = list(rows)
        self._index = {(r["workload"], r["backend"], r["threads"]): r for r in rows}

    def get(self, workload: str, backend: str, threads: int) -> Row | None:
        row = self._index.get((workload, backend, threads))
        return None if row is None or row.get("error") else row

    def median(self, workload: str, backend: str, threads: int) -> float | None:
        row = self.get(workload, backend, threads)
        return None if row is None else row["median"]

    def per_cpu(self, workload: str, backend: str, threads: int) -> float | None:
        row = self.get(workload, backend, threads)
        return None if row is None else row.get("per_cpu_s")

    def error(self, workload: str, backend: str, threads: int) -> str | None:
        row = self._index.get((workload, backend, threads))
        if row is None:
            return "not run"
        return row.get("error")

    def workloads(self) -> list[str]:
        return list(dict.fromkeys(r["workload"] for r in self.rows))

    def threads(self, workload: str | None = None) -> list[int]:
        return sorted({r["threads"] for r in self.rows if workload in (None, r["workload"])})

    def backends(self, workload: str) -> list[str]:
        return list(dict.fromkeys(r["backend"] for r in self.rows if r["workload"] == workload))


# ---------------------------------------------------------------------------------------
# Targets


@dataclass(frozen=True)
class Target:
    """A goal for one measured figure: ``value >= goal`` (or ``<=`` when ``at_most``).
    Without a goal, a reference line (a ceiling's ratio, spdl's share of it)."""

    name: str
    threads: int | str
    value: float | None
    goal: float | None
    at_most: bool = False
    unit: str = "x"
    why_missing: str | None = None
    cpu_value: float | None = None  # the same ratio in items per CPU-second

    @property
    def status(self) -> str:
        if self.goal is None:
            return "reference"
        if self.value is None:
            return "n/a"
        met = self.value <= self.goal if self.at_most else self.value >= self.goal
        return "met" if met else "**MISSED**"

    def cells(self) -> list[str]:
        goal = "–"
        if self.goal is not None:
            goal = f"{'≤' if self.at_most else '≥'} {_num(self.goal)}{self.unit}"
        if self.value is None:
            value = f"n/a ({self.why_missing})" if self.why_missing else "n/a"
        else:
            value = f"{_num(self.value)}{self.unit}"
        cpu = f"{_num(self.cpu_value)}{self.unit}" if self.cpu_value is not None else ""
        return [self.name, str(self.threads), value, goal, self.status, cpu]


# The backend that decodes from C with the system FFmpeg: a bound, not a peer.
CEILING = "ffmpeg-c"


def _num(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio_target(
    res: Results,
    name: str,
    workload: str,
    backend: str,
    peers: Sequence[str],
    goal: float | None,
    threads: int,
) -> Target:
    """spdl's median over the best median among ``peers`` at one thread count."""
    ours = res.median(workload, backend, threads)
    theirs = [(res.median(workload, p, threads), p) for p in peers]
    theirs_ok = [(v, p) for v, p in theirs if v is not None]
    missing = None
    if ours is None:
        missing = f"{backend}: {_short(res.error(workload, backend, threads))}"
    elif not theirs_ok:
        missing = "; ".join(f"{p}: {_short(res.error(workload, p, threads))}" for p in peers)
    value = ours / max(theirs_ok)[0] if ours is not None and theirs_ok else None
    cpu_value = None
    if value is not None:
        best_peer = max(theirs_ok)[1]
        ours_cpu = res.per_cpu(workload, backend, threads)
        theirs_cpu = res.per_cpu(workload, best_peer, threads)
        if ours_cpu and theirs_cpu:
            cpu_value = ours_cpu / theirs_cpu
    return Target(name, threads, value, goal, why_missing=missing, cpu_value=cpu_value)


def _scaling_target(res: Results, name: str, workload: str, backend: str, goal: float) -> Target:
    one, two = res.median(workload, backend, 1), res.median(workload, backend, 2)
    value = two / one if one and two else None
    return Target(name, "1→2", value, goal, why_missing=None if value else "missing rows")


def _w5_target(res: Results, threads: int, goal: float) -> Target:
    row = res.get("w5_gil_pressure", "spdl", threads)
    value = row["extra"]["lost_pct"] if row else None
    missing = None if row else _short(res.error("w5_gil_pressure", "spdl", threads))
    return Target(
        "W5 spdl throughput lost to a busy Python thread",
        threads,
        value,
        goal,
        at_most=True,
        unit="%",
        why_missing=missing,
    )


def _w2_rss_target(res: Results, threads: int, output_bytes: int) -> Target:
    row = res.get("w2_video_decode", "spdl-rgb24", threads)
    # T clips decode at once: T output arrays are alive at the peak.
    goal = (1.1 * threads * output_bytes + 100 * MB) / MB
    value = row["peak_rss_mb"] if row else None
    return Target(
        f"W2 spdl-rgb24 peak RSS (≤ 1.1 × {threads} output + 100 MB)",
        threads,
        value,
        goal,
        at_most=True,
        unit=" MB",
        why_missing=None if row else "missing row",
    )


# W3 asks for the C ceiling measured at 1 worker (1.25x the best of decord and PyAV:
# what decoding the windows' frames alone reaches); at 2 workers the earlier 1.3x.
W3_GOALS = {1: 1.25, 2: 1.3}
W4_GOAL = 1.0  # torchcodec decodes with the same system AAC decoder


def _w3_w4_targets(res: Results, threads: int) -> list[Target]:
    """W3 and W4 against their peers, next to the C ceilings (``ffmpeg-c``): the
    ceiling's own ratio to the peers, and spdl's share of the ceiling."""
    w3_peers = ["decord", "pyav"]
    w3_goal = W3_GOALS.get(threads, W3_GOALS[2])
    targets = [
        _ratio_target(
            res,
            "W3 spdl-windows / best of decord, pyav",
            "w3_clips",
            "spdl-windows",
            w3_peers,
            w3_goal,
            threads,
        ),
        _ratio_target(
            res,
            "W3 ceiling: ffmpeg-c (C, no conversion) / best of decord, pyav",
            "w3_clips",
            CEILING,
            w3_peers,
            None,
            threads,
        ),
        _ratio_target(
            res,
            "W3 spdl-windows / ffmpeg-c ceiling",
            "w3_clips",
            "spdl-windows",
            [CEILING],
            None,
            threads,
        ),
        # The spec's streaming path (issue 22): 0.9x the windows loader, and 1.1x the
        # best peer at one worker.
        _ratio_target(
            res,
            "W3 spdl-streaming / spdl-windows",
            "w3_clips",
            "spdl-streaming",
            ["spdl-windows"],
            0.9,
            threads,
        ),
        _ratio_target(
            res,
            "W3 spdl-streaming / best of decord, pyav",
            "w3_clips",
            "spdl-streaming",
            w3_peers,
            1.1 if threads == 1 else None,
            threads,
        ),
        _ratio_target(
            res, "W4 spdl / torchcodec", "w4_audio", "spdl", ["torchcodec"], W4_GOAL, threads
        ),
        _ratio_target(
            res,
            "W4 ceiling: ffmpeg-c (C, no output) / torchcodec",
            "w4_audio",
            CEILING,
            ["torchcodec"],
            None,
            threads,
        ),
        _ratio_target(
            res, "W4 spdl / ffmpeg-c ceiling", "w4_audio", "spdl", [CEILING], None, threads
        ),
    ]
    workloads = {"W3": "w3_clips", "W4": "w4_audio"}
    return [x for x in targets if threads in res.threads(workloads[x.name[:2]])]


W1 = "w1_image_batch"


def format_of(backend: str) -> str | None:
    """The image format of a W1 per-format backend (``spdl@png`` -> ``png``), else None."""
    return backend.partition("@")[2] or None


def _w1_format_targets(res: Results, threads: int) -> list[Target]:
    """W1 per format: spdl against OpenCV (the goal) and Pillow, and for WebP the C
    ceiling of every libwebp-based loader beside them."""
    formats = [format_of(b) for b in res.backends(W1) if b.startswith("spdl@")]
    targets = []
    for fmt in formats:
        spdl, opencv, pillow = f"spdl@{fmt}", f"opencv-linear@{fmt}", f"pillow@{fmt}"
        targets += [
            _ratio_target(res, f"W1 {fmt}: spdl / opencv-linear", W1, spdl, [opencv], 1.0, threads),
            _ratio_target(res, f"W1 {fmt}: spdl / pillow", W1, spdl, [pillow], None, threads),
        ]
        ceiling = f"libwebp-c@{fmt}"
        if ceiling in res.backends(W1):
            targets += [
                _ratio_target(
                    res, f"W1 {fmt} ceiling: libwebp-c (C, no resize) / opencv-linear", W1,
                    ceiling, [opencv], None, threads,
                ),
                _ratio_target(
                    res, f"W1 {fmt}: spdl / libwebp-c ceiling", W1, spdl, [ceiling], None,
                    threads,
                ),
            ]  # fmt: skip
    return targets


def compute_targets(res: Results, w2_output_bytes: int) -> list[Target]:
    """Every target of the benchmark suite for the workloads the rows hold."""
    targets: list[Target] = []
    for t in res.threads():
        if t in res.threads("w1_image_batch"):
            targets += [
                _ratio_target(
                    res, "W1 spdl / opencv-linear", "w1_image_batch", "spdl", ["opencv-linear"],
                    1.0, t,
                ),
                _ratio_target(
                    res, "W1 spdl / pillow", "w1_image_batch", "spdl", ["pillow"], 1.8, t
                ),
            ]  # fmt: skip
            targets += _w1_format_targets(res, t)
        if t in res.threads("w2_video_decode"):
            targets += [
                _ratio_target(
                    res, "W2 spdl-rgb24 / torchcodec", "w2_video_decode", "spdl-rgb24",
                    ["torchcodec"], 1.3, t,
                ),
                _ratio_target(
                    res, "W2 spdl-rgb24 / pyav", "w2_video_decode", "spdl-rgb24", ["pyav"], 1.3, t
                ),
            ]  # fmt: skip
        targets += _w3_w4_targets(res, t)
        if t in res.threads("w7_clip_sampling"):
            targets.append(
                _ratio_target(
                    res, "W7 spdl / best of torchcodec, decord", "w7_clip_sampling", "spdl",
                    ["torchcodec", "decord"], 1.3, t,
                )
            )  # fmt: skip
        if t in res.threads("w8_remote"):
            targets += [
                _ratio_target(
                    res, "W8 spdl-http / spdl-local (20 ms per request)", "w8_remote",
                    "spdl-http", ["spdl-local"], 0.8, t,
                ),
                _ratio_target(
                    res, "W8 spdl-http / requests-pillow", "w8_remote", "spdl-http",
                    ["requests-pillow"], None, t,
                ),
            ]  # fmt: skip
    for t, goal in ((1, 10.0), (2, 40.0)):
        if t in res.threads("w5_gil_pressure"):
            targets.append(_w5_target(res, t, goal))
    if "w1_image_batch" in res.workloads():
        targets.append(_scaling_target(res, "W1 spdl scaling", "w1_image_batch", "spdl", 1.85))
    if "w2_video_decode" in res.workloads():
        targets.append(
            _scaling_target(res, "W2 spdl-rgb24 scaling", "w2_video_decode", "spdl-rgb24", 1.85)
        )
    for t in res.threads("w2_video_decode"):
        targets.append(_w2_rss_target(res, t, w2_output_bytes))
    targets += d1_targets(res)
    return targets


# ---------------------------------------------------------------------------------------
# D1: data loaders (one worker count; figures from each row's per-epoch measurements)

D1 = "d1_dataloader"
TRAIN_SUFFIX = "+train"


@dataclass(frozen=True)
class LoaderFigures:
    """What a D1 row measured, over all its epochs."""

    images_per_s: float  # all images over all epochs' wall time
    # Without each epoch's first batch and the wait for it; biased upwards by what the
    # workers prepared during that wait (up to prefetch_factor batches each for torch).
    steady_images_per_s: float
    steps_per_s: float  # batches per second (the training consumer's rate)
    first_batch_s: float  # mean over the epochs
    first_batch_first_epoch_s: float
    cpu_ms_per_image: float  # the whole process tree's CPU time
    images_per_cpu_s: float
    peak_pss_mb: float
    peak_anon_shmem_mb: float
    baseline_pss_mb: float
    processes: int
    epochs: int


def loader_figures(row: Row | None) -> LoaderFigures | None:
    """The D1 figures of a row; None for a failed or missing row."""
    if row is None or row.get("error"):
        return None
    extra = row["extra"]
    images, seconds = sum(extra["images"]), sum(extra["epoch_s"])
    firsts, cpu = extra["first_batch_s"], sum(extra["cpu_s"])
    batch = extra["batch_size"]
    epochs = len(extra["images"])
    steady_images = images - batch * epochs
    steady_s = seconds - sum(firsts)
    return LoaderFigures(
        images_per_s=images / seconds,
        steady_images_per_s=steady_images / steady_s if steady_s > 0 else images / seconds,
        steps_per_s=images / seconds / batch,
        first_batch_s=sum(firsts) / epochs,
        first_batch_first_epoch_s=firsts[0],
        cpu_ms_per_image=1000.0 * cpu / images,
        images_per_cpu_s=images / cpu if cpu > 0 else float("nan"),
        peak_pss_mb=extra["peak_pss_mb"],
        peak_anon_shmem_mb=extra.get("peak_anon_shmem_mb", extra["peak_pss_mb"]),
        baseline_pss_mb=extra.get("baseline_pss_mb", 0.0),
        processes=extra.get("processes", 1),
        epochs=epochs,
    )


def _d1_figures(res: Results, backend: str) -> tuple[LoaderFigures | None, str | None]:
    threads = res.threads(D1)
    t = threads[0] if threads else 0
    return loader_figures(res.get(D1, backend, t)), res.error(D1, backend, t)


def _d1_target(
    res: Results,
    name: str,
    ours: str,
    theirs: str,
    figure: str,
    goal: float,
    at_most: bool = False,
) -> Target:
    """``figure`` of ``ours`` over the same figure of ``theirs`` (one D1 row each)."""
    (mine, my_error), (other, other_error) = _d1_figures(res, ours), _d1_figures(res, theirs)
    missing = None
    if mine is None:
        missing = f"{ours}: {_short(my_error)}"
    elif other is None:
        missing = f"{theirs}: {_short(other_error)}"
    value = getattr(mine, figure) / getattr(other, figure) if mine and other else None
    cpu_value = None
    if mine and other and figure in ("images_per_s", "steps_per_s"):
        cpu_value = mine.images_per_cpu_s / other.images_per_cpu_s
    workers = res.threads(D1)[0] if res.threads(D1) else "–"
    return Target(name, workers, value, goal, at_most, why_missing=missing, cpu_value=cpu_value)


def _d1_memory_references(res: Results) -> list[Target]:
    """The PSS goal's ceiling, measured in the same run, and what the loaders add.

    Every loader's peak includes the training process itself (Python, torch, the
    libraries: "before the loader"), and torch's forked workers share those pages, so
    no loader in that process can go below ``before / torch-pillow's peak``; the second
    line compares only what each loader adds to its process tree.
    """
    (mine, _), (other, _) = _d1_figures(res, "spdl"), _d1_figures(res, "torch-pillow")
    if mine is None or other is None:
        return []
    workers = res.threads(D1)[0] if res.threads(D1) else "–"
    floor = mine.baseline_pss_mb / other.peak_pss_mb
    added_mine = mine.peak_pss_mb - mine.baseline_pss_mb
    added_other = other.peak_pss_mb - other.baseline_pss_mb
    added = added_mine / added_other if added_other > 0 else None
    return [
        Target("D1 ceiling: PSS before any loader / torch-pillow peak PSS", workers, floor, None),
        Target("D1 spdl / torch-pillow PSS added by the loader", workers, added, None),
    ]


def d1_targets(res: Results) -> list[Target]:
    """D1's goals: spdl's loader against torch's with Pillow and with spdl in its workers,
    against a bare loop over the same decoder, and under a training consumer."""
    if D1 not in res.workloads():
        return []
    rate = "images_per_s"
    train = TRAIN_SUFFIX
    return [
        _d1_target(res, "D1 spdl / torch-pillow images/s", "spdl", "torch-pillow", rate, 2.5),
        _d1_target(res, "D1 spdl / torch-spdl images/s", "spdl", "torch-spdl", rate, 1.1),
        _d1_target(
            res, "D1 spdl / spdl-bare images/s (pipeline overhead)", "spdl", "spdl-bare", rate, 0.9
        ),
        _d1_target(
            res, "D1 spdl / torch-pillow peak PSS", "spdl", "torch-pillow", "peak_pss_mb", 0.5,
            at_most=True,
        ),
        *_d1_memory_references(res),
        _d1_target(
            res, "D1 spdl / torch-pillow time to first batch", "spdl", "torch-pillow",
            "first_batch_s", 0.25, at_most=True,
        ),
        _d1_target(
            res, "D1 spdl / torch-pillow steps/s with a training step per batch",
            f"spdl{train}", f"torch-pillow{train}", "steps_per_s", 1.1,
        ),
    ]  # fmt: skip


def _d1_rows(res: Results, train: bool) -> list[str]:
    return [b for b in res.backends(D1) if b.endswith(TRAIN_SUFFIX) == train]


def _version(res: Results, workload: str, backend: str) -> str:
    first = next(r for r in res.rows if r["workload"] == workload and r["backend"] == backend)
    libavcodec = (first.get("extra") or {}).get("libavcodec")
    return first.get("version") or (f"libavcodec {libavcodec}" if libavcodec else "–")


def _description(res: Results, workload: str, backend: str, limit: int = 90) -> str:
    first = next(r for r in res.rows if r["workload"] == workload and r["backend"] == backend)
    return _short(first["description"], limit)


def d1_table(res: Results, train: bool, reference: str | None = None) -> list[str]:
    """D1's table for the plain (``train=False``) or the training consumer's rows.

    With ``reference`` (a backend), a column gives its rate over each row's.
    """
    rate_name = "steps/s" if train else "images/s"
    header = ["backend", "how", rate_name]
    if reference:
        header.append(f"`{reference}` ÷ this")
    header += [
        "time to first batch, s (epoch 1 / mean)",
        "CPU ms per image",
        "peak PSS MB (anon + shm)",
        "PSS MB before the loader",
        "processes",
        "version",
    ]
    ref, _ = _d1_figures(res, reference) if reference else (None, None)
    lines = []
    for backend in _d1_rows(res, train):
        figures, error = _d1_figures(res, backend)
        cells = [f"`{backend}`", _description(res, D1, backend)]
        if figures is None:
            cells.append(f"error: {_short(error)}")
            cells += ["–"] * (len(header) - 3)
            lines.append(cells)
            continue
        if train:
            cells.append(f"**{_num(figures.steps_per_s)}** ({_num(figures.images_per_s)} images/s)")
        else:
            cells.append(
                f"**{_num(figures.images_per_s)}** (after the first batch: "
                f"{_num(figures.steady_images_per_s)})"
            )
        if reference:
            mine = ref.steps_per_s if train and ref else ref.images_per_s if ref else None
            theirs = figures.steps_per_s if train else figures.images_per_s
            cells.append("–" if backend == reference else _ratio(mine, theirs))
        cells += [
            f"{figures.first_batch_first_epoch_s:.2f} / {figures.first_batch_s:.2f}",
            f"{figures.cpu_ms_per_image:.2f}",
            f"**{figures.peak_pss_mb:.0f}** ({figures.peak_anon_shmem_mb:.0f})",
            f"{figures.baseline_pss_mb:.0f}",
            str(figures.processes),
            _version(res, D1, backend),
        ]
        lines.append(cells)
    return _table(header, lines)


# ---------------------------------------------------------------------------------------
# Markdown


def _pct(value: float) -> str:
    """A percentage without a sign on a rounded zero."""
    return f"{value:.0f}%" if round(value) else "0%"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return f"{_num(numerator / denominator)}×" if numerator and denominator else "–"


def _short(text: str | None, limit: int = 120) -> str:
    text = (text or "").replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _cell(row: Row | None, error: str | None, value: Callable[[Row], str]) -> str:
    if row is None:
        return f"error: {_short(error)}" if error else "–"
    return value(row)


def _throughput(row: Row) -> str:
    return f"**{_num(row['median'])}** ({_num(row['min'])}–{_num(row['max'])})"


def targets_table(targets: Sequence[Target]) -> list[str]:
    """The targets as Markdown table lines."""
    header = ["target", "threads", "measured", "goal", "status", "same ratio per CPU-second"]
    return _table(header, (t.cells() for t in targets))


def workload_table(res: Results, workload: str) -> list[str]:
    """The workload's table: one line per backend, one throughput column per thread count."""
    threads = res.threads(workload)
    busy = workload == "w5_gil_pressure"
    header = ["backend", "how"]
    for t in threads:
        header.append(f"{t} thread{'s' if t > 1 else ''}")
        if busy:
            header += [
                f"no busy thread ({t})",
                f"lost ({t})",
                f"lost to a busy process ({t})",
                f"busy thread Mops/s ({t})",
            ]
    if len(threads) > 1:
        header.append(f"{threads[-1]}/{threads[0]}")
    listed = ", ".join(map(str, threads))
    if not busy:
        header.append(f"per CPU-second ({listed})")
    header += [f"peak RSS MB ({listed})", "version"]
    lines = []
    for backend in res.backends(workload):
        first = next(r for r in res.rows if r["workload"] == workload and r["backend"] == backend)
        cells = [f"`{backend}`", _short(first["description"], 90)]
        for t in threads:
            row, err = res.get(workload, backend, t), res.error(workload, backend, t)
            cells.append(_cell(row, err, _throughput))
            if busy:
                cells.append(_cell(row, None, lambda r: _num(r["extra"]["baseline"]["median"])))
                cells.append(_cell(row, None, lambda r: _pct(r["extra"]["lost_pct"])))
                cells.append(
                    _cell(row, None, lambda r: _pct(r["extra"]["lost_to_busy_process_pct"]))
                )
                cells.append(
                    _cell(
                        row,
                        None,
                        lambda r: (
                            f"{r['extra']['busy_mops']:.1f} "
                            f"(alone {r['extra']['busy_alone_mops']:.1f})"
                        ),
                    )
                )
        if len(threads) > 1:
            lo = res.median(workload, backend, threads[0])
            hi = res.median(workload, backend, threads[-1])
            cells.append(f"{hi / lo:.2f}×" if lo and hi else "–")
        if not busy:
            per_cpu = [res.per_cpu(workload, backend, t) for t in threads]
            cells.append(" / ".join(_num(v) if v else "–" for v in per_cpu))
        rss = [res.get(workload, backend, t) for t in threads]
        cells.append(" / ".join(f"{r['peak_rss_mb']:.0f}" if r else "–" for r in rss))
        libavcodec = (first.get("extra") or {}).get("libavcodec")
        cells.append(first.get("version") or (f"libavcodec {libavcodec}" if libavcodec else "–"))
        lines.append(cells)
    return _table(header, lines)


def d1_section(res: Results) -> list[str]:
    """D1's tables: the loaders alone, then with a training step per batch."""
    done = [r for r in res.rows if r["workload"] == D1 and not r.get("error")]
    out = []
    if done:
        extra = done[0]["extra"]
        out += [
            f"{extra['num_images']} images, {len(extra['images'])} "
            f"epoch{'s' if len(extra['images']) > 1 else ''} per loader, batches of "
            f"{extra['batch_size']} ({extra['images'][0]} images an epoch, the last partial "
            f"batch dropped), {extra['workers']} workers.",
            "",
        ]
    out += [
        "Each loader alone (its batches are only counted). images/s: all images over all "
        "epochs' time, each epoch from building its iterator to its last batch; *after the "
        "first batch* leaves out each epoch's first batch and the wait for it (it overstates "
        "loaders whose workers prepared more batches during that wait). "
        "CPU: user + system time of the training process and its workers; peak PSS: the "
        "largest sum of the loader's processes' proportional set sizes (sampled every 50 ms), "
        "in brackets its anonymous + shared-memory part (no library code); *before the "
        "loader*: the training process alone, with Python, torch and the loader's library "
        "imported, which every loader's peak includes.",
        "",
        *d1_table(res, train=False, reference="spdl"),
    ]
    if _d1_rows(res, train=True):
        out += [
            "",
            "With a training step per batch (a small CNN, forward + backward + SGD, "
            "`torch.set_num_threads(1)`) in the training process:",
            "",
            *d1_table(res, train=True, reference=f"spdl{TRAIN_SUFFIX}"),
        ]
    return out


def render_markdown(
    res: Results,
    meta: dict[str, Any],
    plots: dict[str, str],
    targets: Sequence[Target],
    notes: dict[str, Sequence[str]] | None = None,
) -> str:
    """The whole report."""
    unit = {r["workload"]: r["unit"] for r in res.rows}
    title = {r["workload"]: r["title"] for r in res.rows}
    loads = [r["loadavg_1min"] for r in res.rows if "loadavg_1min" in r]
    out = [
        f"# spdl benchmarks — {meta['date']}{' (quick)' if meta.get('quick') else ''}",
        "",
        f"- spdl commit: `{meta.get('commit', '?')}`; mode: "
        f"{'quick' if meta.get('quick') else 'full'}; wall time {meta.get('wall_s', 0):.0f} s",
        f"- machine: {meta['host']['cpu']}, {meta['host']['cores']} cores, "
        f"Python {meta['host']['python']}, {meta['host']['platform']}",
        f"- 1-min load average before each case: {min(loads, default=0):.2f}–"
        f"{max(loads, default=0):.2f} (it includes the previous case; well above the number "
        "of threads of a case means other processes competed, and numbers are noisy)",
        "- Each cell: **median** (min–max) throughput over the timed rounds of one fresh "
        "process per (backend, threads); threads = worker threads, or spdl's native decode "
        "threads for the image batch. Peak RSS is the process's `ru_maxrss` (imports included). "
        "*Per CPU-second*: items per second of CPU time used by the process and its "
        "children, spdl's demux helpers included (user + system, all threads); unlike "
        "throughput it hardly changes when other processes "
        "compete for the cores, so it tells what the work costs on a noisy machine.",
        "",
        "## Targets",
        "",
        *targets_table(targets),
        "",
    ]
    for workload in res.workloads():
        out += [f"## {title[workload]}", ""]
        if workload == D1:
            out += d1_section(res)
        else:
            out += [f"Throughput in {unit[workload]}.", ""]
            out += workload_table(res, workload)
        for note in (notes or {}).get(workload, ()):
            out += ["", note]
        if workload in plots:
            out += ["", f"![{workload}]({plots[workload]})"]
        out.append("")
    errors = [r for r in res.rows if r.get("error")]
    if errors:
        out += ["## Errors", ""]
        out += [
            f"- `{r['workload']}` `{r['backend']}` x{r['threads']}: {r['error']}" for r in errors
        ]
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# The documentation's performance page (docs/performance.md)

# The spdl backend each workload's comparison is made against.
REFERENCE = {
    "w1_image_batch": "spdl",
    "w2_video_decode": "spdl-rgb24",
    "w3_clips": "spdl-windows",
    "w4_audio": "spdl",
    "w5_gil_pressure": "spdl",
    D1: "spdl",
}
# Backends counted in another unit than their workload's reference (W5's audio and
# video loads against its images, W8's video windows against its images): a ratio of
# their rates would mean nothing.
OTHER_UNIT = {
    "w5_gil_pressure": ("spdl-load-", "gil-floor-audio"),
    "w8_remote": ("spdl-window",),
}


def docs_table(res: Results, workload: str) -> list[str]:
    """A workload's rates per thread count with the reference spdl backend's rate over
    each backend's (no targets: the page compares loaders)."""
    threads = res.threads(workload)
    listed = ", ".join(map(str, threads))
    reference = REFERENCE.get(workload, res.backends(workload)[0])
    busy = workload == "w5_gil_pressure"
    header = ["backend", "how"]
    for t in threads:
        plural = "s" if t > 1 else ""
        header += (
            [f"{t} thread{plural}, busy thread", "without it", "lost"]
            if busy
            else [f"{t} thread{plural}"]
        )
    header.append(f"`{reference}` ÷ this ({listed})")
    header.append(f"lost to a busy process ({listed})" if busy else f"per CPU-second ({listed})")
    header += [f"peak RSS MB ({listed})", "version"]
    lines = []
    for backend in res.backends(workload):
        ceiling = backend == CEILING or backend.startswith("libwebp-c@")
        name = f"`{backend}`" + (" (ceiling, not a loader)" if ceiling else "")
        cells = [name, _description(res, workload, backend, 110)]
        # A W1 per-format backend compares with spdl on the same format.
        fmt = format_of(backend) if workload == W1 else None
        ours = f"spdl@{fmt}" if fmt else reference
        ratios = []
        for t in threads:
            row, error = res.get(workload, backend, t), res.error(workload, backend, t)
            cells.append(_cell(row, error, _throughput))
            if busy:
                cells.append(_cell(row, None, lambda r: _num(r["extra"]["baseline"]["median"])))
                cells.append(_cell(row, None, lambda r: _pct(r["extra"]["lost_pct"])))
            ratios.append(_ratio(res.median(workload, ours, t), res.median(workload, backend, t)))
        other_unit = backend.startswith(OTHER_UNIT.get(workload, ()))
        cells.append("–" if backend == ours or other_unit else " / ".join(ratios))
        if busy:
            rows = [res.get(workload, backend, t) for t in threads]
            cells.append(
                " / ".join(_pct(r["extra"]["lost_to_busy_process_pct"]) if r else "–" for r in rows)
            )
        else:
            per_cpu = [res.per_cpu(workload, backend, t) for t in threads]
            cells.append(" / ".join(_num(v) if v else "–" for v in per_cpu))
        rss = [res.get(workload, backend, t) for t in threads]
        cells.append(" / ".join(f"{r['peak_rss_mb']:.0f}" if r else "–" for r in rss))
        cells.append(_version(res, workload, backend))
        lines.append(cells)
    return _table(header, lines)


def docs_block(res: Results, workload: str, meta: dict[str, Any], report: str) -> list[str]:
    """The generated part of a workload's section of the performance page: which run,
    the table(s) of rates and ratios, and the plot (copied to ``docs/assets/bench``)."""
    host = meta["host"]
    mode = "quick" if meta.get("quick") else "full"
    title = next(r["title"] for r in res.rows if r["workload"] == workload)
    loads = [
        r["loadavg_1min"] for r in res.rows if r["workload"] == workload and "loadavg_1min" in r
    ]
    busy = ""
    if loads:
        busy = f" The 1-minute load average before its cases was {min(loads):.1f}–{max(loads):.1f}"
        if max(loads) > host["cores"]:
            busy += (
                ": other jobs shared the cores, which lowers the rates and spreads them, "
                "more than the CPU time per item"
            )
        busy += "."
    done = [r for r in res.rows if r["workload"] == workload and not r.get("error")]
    rounds = ""
    if workload != D1 and done and all("rounds" in r for r in done):
        # How thin each median is: a quick run's two or three rounds are a rough figure.
        counts = sorted({r["rounds"] for r in done})
        passes = sorted({r.get("passes", 1) for r in done})
        rounds = " " + "–".join(map(str, counts)) + " timed rounds a case"
        rounds += " in one pass" if passes == [1] else f" in {'–'.join(map(str, passes))} passes"
        rounds += "."
    out = [
        f"Measured on {meta['date']} ({mode} run, spdl commit `{meta.get('commit', '?')}`) on "
        f"{host['cpu']}, {host['cores']} cores, Python {host['python']}; the whole report "
        f"with the project's targets: `benchmarks/results/{report}`.{rounds}{busy}",
        "",
    ]
    if workload == D1:
        out += d1_section(res)
    else:
        unit = next(r["unit"] for r in res.rows if r["workload"] == workload)
        out += [f"Throughput in {unit}, **median** (min–max) over the timed rounds.", ""]
        out += docs_table(res, workload)
    out += ["", f"![{_short(title)}](assets/bench/{workload}.png)"]
    return out


def block_markers(workload: str) -> tuple[str, str]:
    """The comments that enclose a workload's generated block on the performance page."""
    return f"<!-- bench:{workload} -->", f"<!-- /bench:{workload} -->"


def replace_block(text: str, workload: str, block: Sequence[str]) -> str:
    """``text`` with the lines between the workload's markers replaced by ``block``.

    Raises:
        KeyError: The page has no block for the workload.
    """
    start, end = block_markers(workload)
    head, found, rest = text.partition(start + "\n")
    _, found_end, tail = rest.partition(end)
    if not found or not found_end:
        raise KeyError(f"no {start} ... {end} block")
    return head + start + "\n" + "\n".join(block) + "\n" + end + tail


# ---------------------------------------------------------------------------------------
# Plots


def plot_workload(res: Results, workload: str, path: Path) -> bool:
    """Throughput vs threads, one line per backend (min–max as error bars); False if empty.
    D1 (one worker count) gets bar charts instead (:func:`plot_d1`)."""
    if workload == D1:
        return plot_d1(res, path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threads = res.threads(workload)
    unit = next(r["unit"] for r in res.rows if r["workload"] == workload)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    drawn = False
    for backend in res.backends(workload):
        rows = [(t, res.get(workload, backend, t)) for t in threads]
        rows = [(t, r) for t, r in rows if r is not None]
        if not rows or (workload == W1 and format_of(backend)):
            continue  # W1's per-format cases are in its table and the targets
        xs = [t for t, _ in rows]
        med = [r["median"] for _, r in rows]
        err = [
            [m - r["min"] for m, (_, r) in zip(med, rows, strict=True)],
            [r["max"] - m for m, (_, r) in zip(med, rows, strict=True)],
        ]
        style: dict[str, Any] = {"linewidth": 2.5 if backend.startswith("spdl") else 1.5}
        label = backend
        if backend == CEILING:
            style.update(linestyle="--", color="grey")
            label = f"{backend} (ceiling, not a loader)"
        line = ax.errorbar(xs, med, yerr=err, marker="o", capsize=4, label=label, **style)
        drawn = True
        if workload == "w5_gil_pressure":
            base = [r["extra"]["baseline"]["median"] for _, r in rows]
            ax.plot(xs, base, linestyle=":", color=line[0].get_color(), alpha=0.7)
    if not drawn:
        plt.close(fig)
        return False
    title = next(r["title"] for r in res.rows if r["workload"] == workload)
    if workload == "w5_gil_pressure":
        title += "\n(dotted: the same backend without the busy thread)"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("threads")
    ax.set_ylabel(unit)
    ax.set_xticks(threads)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def plot_d1(res: Results, path: Path) -> bool:
    """D1 as four bar charts: images/s, training steps/s, CPU per image, peak PSS."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plain = [(b, _d1_figures(res, b)[0]) for b in _d1_rows(res, train=False)]
    trained = [(b, _d1_figures(res, b)[0]) for b in _d1_rows(res, train=True)]
    plain = [(b, f) for b, f in plain if f is not None]
    trained = [(b.removesuffix(TRAIN_SUFFIX), f) for b, f in trained if f is not None]
    if not plain and not trained:
        return False
    panels = [
        ("images/s (all epochs, start-up included)", plain, lambda f: f.images_per_s),
        ("steps/s with a training step per batch", trained, lambda f: f.steps_per_s),
        ("CPU ms per image (all processes)", plain, lambda f: f.cpu_ms_per_image),
        ("peak PSS MB (all processes)", plain, lambda f: f.peak_pss_mb),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(9, 6), dpi=110)
    palette = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = list(dict.fromkeys([b for b, _ in plain] + [b for b, _ in trained]))
    colours = {name: palette[i % len(palette)] for i, name in enumerate(names)}
    for ax, (label, rows, value) in zip(axes.flat, panels, strict=True):
        if not rows:
            ax.set_visible(False)
            continue
        values = [value(f) for _, f in rows]
        bars = ax.barh(
            [b for b, _ in rows], values, color=[colours[b] for b, _ in rows], height=0.6
        )
        ax.bar_label(bars, labels=[_num(v) for v in values], padding=3, fontsize=8)
        ax.set_title(label, fontsize=9)
        ax.invert_yaxis()
        ax.set_xlim(0, max(values) * 1.25)
        ax.tick_params(labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    title = next(r["title"] for r in res.rows if r["workload"] == D1)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True
