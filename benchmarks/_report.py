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
    """A goal for one measured figure: ``value >= goal`` (or ``<=`` when ``at_most``)."""

    name: str
    threads: int | str
    value: float | None
    goal: float
    at_most: bool = False
    unit: str = "x"
    why_missing: str | None = None
    cpu_value: float | None = None  # the same ratio in items per CPU-second

    @property
    def status(self) -> str:
        if self.value is None:
            return "n/a"
        met = self.value <= self.goal if self.at_most else self.value >= self.goal
        return "met" if met else "**MISSED**"

    def cells(self) -> list[str]:
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
    goal: float,
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


def compute_targets(res: Results, w2_output_bytes: int) -> list[Target]:
    """Every target of the benchmark suite that the rows allow computing."""
    targets: list[Target] = []
    for t in res.threads():
        targets += [
            _ratio_target(
                res, "W1 spdl / opencv-linear", "w1_image_batch", "spdl", ["opencv-linear"], 1.0, t
            ),
            _ratio_target(res, "W1 spdl / pillow", "w1_image_batch", "spdl", ["pillow"], 1.8, t),
            _ratio_target(
                res,
                "W2 spdl-rgb24 / torchcodec",
                "w2_video_decode",
                "spdl-rgb24",
                ["torchcodec"],
                1.3,
                t,
            ),
            _ratio_target(
                res, "W2 spdl-rgb24 / pyav", "w2_video_decode", "spdl-rgb24", ["pyav"], 1.3, t
            ),
            _ratio_target(
                res,
                "W3 spdl / best of decord, pyav",
                "w3_clips",
                "spdl",
                ["decord", "pyav"],
                1.3,
                t,
            ),
            _ratio_target(
                res,
                "W3 spdl-windows / best of decord, pyav",
                "w3_clips",
                "spdl-windows",
                ["decord", "pyav"],
                1.3,
                t,
            ),
            _ratio_target(
                res,
                "W3 spdl-streaming / best of decord, pyav",
                "w3_clips",
                "spdl-streaming",
                ["decord", "pyav"],
                1.3,
                t,
            ),
            # Not spdl: the C floor spdl-windows decodes on, without its conversion.
            _ratio_target(
                res,
                "W3 ceiling: ffmpeg-c (C, no conversion) / best of decord, pyav",
                "w3_clips",
                CEILING,
                ["decord", "pyav"],
                1.3,
                t,
            ),
            _ratio_target(res, "W4 spdl / torchcodec", "w4_audio", "spdl", ["torchcodec"], 2.0, t),
            # Not spdl: the C floor spdl and torchcodec decode on; below 2.0 none can meet W4.
            _ratio_target(
                res,
                "W4 ceiling: ffmpeg-c (C, no output) / torchcodec",
                "w4_audio",
                CEILING,
                ["torchcodec"],
                2.0,
                t,
            ),
        ]
    for t, goal in ((1, 10.0), (2, 40.0)):
        if t in res.threads("w5_gil_pressure"):
            targets.append(_w5_target(res, t, goal))
    targets.append(_scaling_target(res, "W1 spdl scaling", "w1_image_batch", "spdl", 1.85))
    targets.append(
        _scaling_target(res, "W2 spdl-rgb24 scaling", "w2_video_decode", "spdl-rgb24", 1.85)
    )
    for t in res.threads("w2_video_decode"):
        targets.append(_w2_rss_target(res, t, w2_output_bytes))
    return targets


# ---------------------------------------------------------------------------------------
# Markdown


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
                cells.append(_cell(row, None, lambda r: f"{r['extra']['lost_pct']:.0f}%"))
                cells.append(
                    _cell(row, None, lambda r: f"{r['extra']['lost_to_busy_process_pct']:.0f}%")
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
        "*Per CPU-second*: items per second of CPU time used by the whole process (user + "
        "system, all threads); unlike throughput it hardly changes when other processes "
        "compete for the cores, so it tells what the work costs on a noisy machine.",
        "",
        "## Targets",
        "",
        *targets_table(targets),
        "",
    ]
    for workload in res.workloads():
        out += [f"## {title[workload]}", "", f"Throughput in {unit[workload]}.", ""]
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
# Plots


def plot_workload(res: Results, workload: str, path: Path) -> bool:
    """Throughput vs threads, one line per backend (min–max as error bars); False if empty."""
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
        if not rows:
            continue
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
