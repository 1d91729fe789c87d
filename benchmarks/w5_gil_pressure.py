"""W5 GIL pressure: W1, W4 and W3 while a pure-Python thread spins (``while not stop: x += 1``).

A training script's own Python threads compete with the loader for the GIL; a
loader that returns to Python for every image waits up to a switch interval
(5 ms) for each return. Every round of this workload times one W1 batch without
the busy thread and one with it, alternately (so both see the same machine load),
and reports the throughput with the busy thread and the loss against the plain
rounds of the same process and thread count.

It also reports how fast the busy thread counted while the loader ran, in million
iterations per second, next to its speed alone: a loader that holds the GIL slows
the user's Python code down as well.

On two cores, two loader threads plus the busy thread are three runnable threads:
even a loader that never needs the GIL loses about a third of its CPU time then.
To tell that CPU contention from GIL contention, every round also times the batch
while the same loop spins in a separate *process* (no GIL shared): the loss against
that control is "lost to a busy process"; the difference between the two losses is
what the GIL costs.

Backends: those of W1 (``spdl``, ``spdl-native-batch``, ``pillow``, ``opencv-linear``),
used the same way; and spdl's audio and video loaders (throughput in loads/s), each
also with PyAV demuxing in the loading threads (``SPDL_DEMUX_PROCESSES=0``, the path
before demux helper processes), to show what the helpers save:

* ``spdl-load-audio``: ``spdl.io.load_audio`` of W4's 60 s stereo AAC (2,586 packets),
  ``LOADS`` loads per round, T at a time;
* ``spdl-load-video``: ``spdl.io.load_video(path, width=224, height=224)`` of W2's 10 s
  720p H.264 clip (301 packets), T clips per round (2 with ``--quick``), T at a time;
* ``spdl-load-video-windows``: ``spdl.io.load_video_windows`` of W3's eight 1 s
  windows → 224×224 of the same clip, T clips per round, T at a time;
* ``...-in-thread``: the same with ``SPDL_DEMUX_PROCESSES=0``;
* ``gil-floor-audio``: the ceiling for a load as short as ``spdl-load-audio``'s: one
  GIL-free native call per load (``hashlib.sha256`` of a buffer sized so that one
  call takes as long as one quiet ``load_audio``), in the same pool. Whatever needs
  the GIL at all, a return to Python per load included, waits up to a switch
  interval beside the busy thread, so this is what even a loader that takes the
  GIL once per load loses.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import w1_image_batch as w1
import w2_video_decode as w2
import w3_clips as w3
import w4_audio as w4
from _harness import Backend, Context, Run, Workload, main, make_pool, pool_map

LOADS = 8  # audio loads per round


def _loads(ctx: Context, load: Callable[[], object], count: int, in_thread: bool) -> Run:
    """A round: ``count`` loads, T at a time; returns the loads done."""
    if in_thread:
        os.environ["SPDL_DEMUX_PROCESSES"] = "0"  # read at every load
    pool = make_pool(ctx.threads)
    pool_map(pool, lambda _: load(), range(ctx.threads))  # the helpers start untimed

    def run() -> int:
        pool_map(pool, lambda _: load(), range(count))
        return count

    return run


def _audio(in_thread: bool) -> Callable[[Context], Run]:
    def setup(ctx: Context) -> Run:
        import spdl.io

        path = w4.audio_path()

        def load() -> None:
            array = np.asarray(spdl.io.load_audio(path))
            w4._check(array.shape, array.dtype)

        return _loads(ctx, load, LOADS, in_thread)

    return setup


def _video(in_thread: bool) -> Callable[[Context], Run]:
    def setup(ctx: Context) -> Run:
        import spdl.io

        path = w2.clip_path()
        shape = (w2.SPEC.num_frames, w3.SIZE, w3.SIZE, 3)

        def load() -> None:
            w2._check(spdl.io.load_video(path, width=w3.SIZE, height=w3.SIZE).shape, shape)

        return _loads(ctx, load, ctx.threads * (1 if ctx.quick else 2), in_thread)

    return setup


def _windows(in_thread: bool) -> Callable[[Context], Run]:
    def setup(ctx: Context) -> Run:
        from spdl.io import load_video_windows

        path = w3.clip_path()

        def load() -> None:
            for buffer in load_video_windows(path, w3.WINDOWS, width=w3.SIZE, height=w3.SIZE):
                w3._check(buffer.shape)

        return _loads(ctx, load, ctx.threads * (1 if ctx.quick else 2), in_thread)

    return setup


def _floor_audio(ctx: Context) -> Run:
    import spdl.io

    path = w4.audio_path()
    spdl.io.load_audio(path)  # the helpers start untimed
    began = time.perf_counter()
    for _ in range(5):
        spdl.io.load_audio(path)
    per_load = (time.perf_counter() - began) / 5
    data = bytes(1 << 20)
    began = time.perf_counter()
    hashlib.sha256(data).digest()
    size = max(1 << 16, int(len(data) * per_load / (time.perf_counter() - began)))
    data = bytes(size)  # hashing it takes about one load; the GIL is released throughout

    def load() -> None:
        hashlib.sha256(data).digest()

    return _loads(ctx, load, LOADS, False)


def _media_backends() -> tuple[Backend, ...]:
    cases = (
        ("spdl-load-audio", "load_audio, 60 s AAC", _audio),
        ("spdl-load-video", "load_video, 10 s 720p → 224²", _video),
        ("spdl-load-video-windows", "load_video_windows, 8 × 1 s → 224²", _windows),
    )
    backends = []
    for name, what, setup in cases:
        backends.append(
            Backend(name, f"{what}; PyAV demuxes in helper processes", setup(False), "spdl")
        )
        backends.append(
            Backend(
                f"{name}-in-thread",
                f"{what}; PyAV demuxes in the loading threads",
                setup(True),
                "spdl",
            )
        )
    backends.append(
        Backend(
            "gil-floor-audio",
            "ceiling: one GIL-free native call per load, as long as one quiet load_audio",
            _floor_audio,
            "spdl",
        )
    )
    return tuple(backends)


def _prepare() -> None:
    w1.image_paths()
    w4.audio_path()
    w2.clip_path()


BACKENDS = (
    tuple(
        b for b in w1.BACKENDS if b.name in ("spdl", "spdl-native-batch", "pillow", "opencv-linear")
    )
    + _media_backends()
)

WORKLOAD = Workload(
    name="w5_gil_pressure",
    title="W5 GIL pressure: W1 and the audio/video loaders beside a pure-Python busy thread",
    unit="images/s (audio and video: loads/s)",
    backends=BACKENDS,
    prepare=_prepare,
    rounds=(2, 9),
    busy_thread=True,
)

if __name__ == "__main__":
    main(WORKLOAD, str(Path(__file__)))
