"""W3 clips: eight 1 s windows spread over a 10 s 720p clip → rgb24 224×224.

The windows start at ``i · (10 - 1) / 7`` s for ``i = 0 … 7`` (0 s, 1.29 s, … 9 s),
each the half-open ``[start, start + 1)``: 30 frames at 30 fps. The clip has a
keyframe every 2 s, so every window costs a seek plus up to 2 s of decoding. Every
backend runs the same round: T clips at once, one per worker thread, each worker
loading its clip's eight windows in order (``8 · T`` windows); the throughput is
windows (of 30 frames, 224×224) per second. (Until 2026-12-08 the per-window
backends spread the eight windows of one clip over the T workers, so at T = 2 each
peer's reader jumped over every other window and seeked, where ``spdl-windows``
decoded on through its own clip.)

Backends:

* ``spdl``: ``spdl.io.load_video(path, timestamp=(s, s + 1), width=224, height=224)``
  per window, each worker walking its clip's windows.
* ``spdl-windows``: ``spdl.io.load_video_windows(path, WINDOWS, width=224, height=224)``:
  one call per clip opens and demuxes it once and decodes forward once through the
  eight windows in one native call (GIL released). A round runs T clips at once,
  one per worker (``8 · T`` windows).
* ``spdl-streaming``: the spec's streaming path, in its asyncio form as the spec
  writes it: ``async for packets in spdl.io.async_streaming_demux(...)`` demuxes the
  clip once for all eight windows, and each window is decoded
  (``async_decode_packets(..., width=224, height=224)``) and converted as soon as it
  is demuxed, so the windows of a clip decode in order and share one decoder. A
  round runs T clips at once in one event loop (``8 · T`` windows), as
  ``spdl-windows`` does; the pools have T threads.
* ``spdl-streaming-futures``: the same path through Futures, T clips at once (one
  per worker thread): ``spdl.io.streaming_demux`` demuxes the clip, each window's
  packets go to ``spdl.io.decode_packets`` as soon as they are demuxed, all eight
  decodes submitted at once, then ``spdl.io.convert_frames``; the pools have T
  threads. Each window's decode starts when the one before it is done (they share a
  decoder), so one clip keeps one decode thread busy at a time.
* ``pyav``: per window, seek to the keyframe before ``s``, decode, keep the frames in
  the window, ``frame.reformat(224, 224, "rgb24", interpolation="BILINEAR")``.
* ``pyav-forward``: PyAV the way ``spdl-windows`` reads a clip: one container per
  clip, decoded forward once from the start, the frames that fall in a window
  reformatted as above and stacked per window (every frame is decoded; spdl-windows
  also skips non-reference frames outside the windows).
* ``decord``: ``VideoReader(path, width=224, height=224, num_threads=1)`` per worker
  thread (reused across windows, as decord is meant to be used), ``get_batch``
  with the window's frame indices.
* ``torchcodec``: ``VideoDecoder(path, transforms=[Resize((224, 224))],
  dimension_order="NHWC", num_ffmpeg_threads=1, seek_mode="approximate")`` per worker
  thread, ``get_frames_in_range`` with the window's frame indices
  (``get_frames_played_in_range`` would add the frame whose display straddles ``s``).

* ``ffmpeg-c`` (a reference, not a peer): ``ffmpeg_floor.c`` (``_floor.py``) decodes the
  windows' frames from C with the system FFmpeg the way spdl-windows does (one pass,
  non-reference frames outside the windows skipped) and converts none of them: the
  most spdl's native core can reach on this workload.

PyAV, decord and torchcodec keep one open decoder per worker thread; spdl opens the
source per window (its per-call API), so it pays the container parsing each time;
spdl-windows opens it once per clip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _datasets import ClipSpec, ensure_clip
from _harness import Backend, Context, Run, Workload, main, make_pool, pool_map

SPEC = ClipSpec()
SIZE = 224
NUM_WINDOWS = 8
WINDOW_S = 1.0
STARTS = [i * (SPEC.seconds - WINDOW_S) / (NUM_WINDOWS - 1) for i in range(NUM_WINDOWS)]
WINDOWS = [(start, start + WINDOW_S) for start in STARTS]
FRAMES_PER_WINDOW = int(WINDOW_S * SPEC.fps)


def window_indices(window: tuple[float, float], fps: float = SPEC.fps) -> range:
    """Indices of the frames whose presentation time lies in ``[start, end)``."""
    start, end = window
    return range(int(np.ceil(start * fps - 1e-6)), int(np.ceil(end * fps - 1e-6)))


def clip_path() -> str:
    return str(ensure_clip(SPEC))


def _check(shape: tuple[int, ...]) -> None:
    expected = (FRAMES_PER_WINDOW, SIZE, SIZE, 3)
    if tuple(shape) != expected:
        raise RuntimeError(f"expected {expected} per window, got {tuple(shape)}")


def _windows_round(ctx: Context, load_window: Callable[[tuple[float, float]], tuple]) -> Run:
    """A round as spdl-windows runs it: T clips at once, one per worker, each worker
    loading its clip's eight windows in order; returns the windows loaded (8 · T)."""
    pool = make_pool(ctx.threads)

    def load_clip(_: int) -> int:
        for window in WINDOWS:
            _check(load_window(window))
        return NUM_WINDOWS

    load_clip(0)  # check every window once

    def run() -> int:
        return sum(pool_map(pool, load_clip, range(ctx.threads)))

    return run


def _per_thread(factory: Callable[[], object]) -> Callable[[], object]:
    """Returns a getter for one object per thread, made by ``factory`` on first use."""
    local = threading.local()

    def get() -> object:
        if not hasattr(local, "value"):
            local.value = factory()
        return local.value

    return get


def setup_spdl(ctx: Context) -> Run:
    import spdl.io

    path = clip_path()

    def load_window(window: tuple[float, float]) -> tuple:
        return spdl.io.load_video(path, timestamp=window, width=SIZE, height=SIZE).shape

    return _windows_round(ctx, load_window)


def setup_spdl_windows(ctx: Context) -> Run:
    from spdl.io import load_video_windows

    path = clip_path()
    pool = make_pool(ctx.threads)

    def load_clip(_: int) -> int:
        for buffer in load_video_windows(path, WINDOWS, width=SIZE, height=SIZE):
            _check(buffer.shape)
        return NUM_WINDOWS

    load_clip(0)  # check every window once

    def run() -> int:
        return sum(pool_map(pool, load_clip, range(ctx.threads)))

    return run


def setup_spdl_streaming(ctx: Context) -> Run:
    import asyncio

    import spdl.io

    path = clip_path()
    spdl.io.set_executor_sizes(demux=ctx.threads, decode=ctx.threads)

    async def load_clip() -> int:
        # The spec's loop: each window decoded and converted as it is demuxed.
        async for packets in spdl.io.async_streaming_demux("video", path, WINDOWS):
            frames = await spdl.io.async_decode_packets(packets, width=SIZE, height=SIZE)
            _check((await spdl.io.async_convert_frames(frames)).shape)
        return NUM_WINDOWS

    async def load_clips() -> int:
        return sum(await asyncio.gather(*(load_clip() for _ in range(ctx.threads))))

    def run() -> int:
        return asyncio.run(load_clips())

    run()
    return run


def setup_spdl_streaming_futures(ctx: Context) -> Run:
    import spdl.io

    path = clip_path()
    spdl.io.set_executor_sizes(demux=ctx.threads, decode=ctx.threads)
    pool = make_pool(ctx.threads)

    def load_clip(_: int) -> int:
        packets = spdl.io.streaming_demux("video", path, WINDOWS)
        # Every window's decode is submitted as soon as its packets are demuxed.
        frames = [spdl.io.decode_packets(p.result(), width=SIZE, height=SIZE) for p in packets]
        for future in frames:
            _check(spdl.io.convert_frames(future.result()).result().shape)
        return NUM_WINDOWS

    load_clip(0)

    def run() -> int:
        return sum(pool_map(pool, load_clip, range(ctx.threads)))

    return run


def setup_pyav(ctx: Context) -> Run:
    import av

    path = clip_path()

    def open_clip() -> tuple:
        container = av.open(path)
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        return container, stream

    get_clip = _per_thread(open_clip)

    def load_window(window: tuple[float, float]) -> tuple:
        start, end = window
        container, stream = get_clip()
        container.seek(int(start / stream.time_base), stream=stream, backward=True)
        frames = []
        for frame in container.decode(stream):
            if frame.time < start:
                continue
            if frame.time >= end:
                break
            small = frame.reformat(SIZE, SIZE, "rgb24", interpolation="BILINEAR")
            frames.append(small.to_ndarray())
        return np.stack(frames).shape

    return _windows_round(ctx, load_window)


def setup_pyav_forward(ctx: Context) -> Run:
    import av

    path = clip_path()
    pool = make_pool(ctx.threads)
    last_end = WINDOWS[-1][1]

    def load_clip(_: int) -> int:
        windows: list[list[np.ndarray]] = [[] for _ in WINDOWS]
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            for frame in container.decode(stream):
                at = frame.time
                if at >= last_end:
                    break
                for frames, (start, end) in zip(windows, WINDOWS, strict=True):
                    if start <= at < end:
                        small = frame.reformat(SIZE, SIZE, "rgb24", interpolation="BILINEAR")
                        frames.append(small.to_ndarray())
                        break
        for frames in windows:
            _check(np.stack(frames).shape)
        return NUM_WINDOWS

    load_clip(0)  # check every window once

    def run() -> int:
        return sum(pool_map(pool, load_clip, range(ctx.threads)))

    return run


def setup_decord(ctx: Context) -> Run:
    import decord

    path = clip_path()
    get_reader = _per_thread(
        lambda: decord.VideoReader(path, width=SIZE, height=SIZE, num_threads=1)
    )

    def load_window(window: tuple[float, float]) -> tuple:
        return get_reader().get_batch(list(window_indices(window))).asnumpy().shape

    return _windows_round(ctx, load_window)


def setup_torchcodec(ctx: Context) -> Run:
    import torch
    from torchcodec.decoders import VideoDecoder
    from torchcodec.transforms import Resize

    torch.set_num_threads(1)
    path = clip_path()
    get_decoder = _per_thread(
        lambda: VideoDecoder(
            path,
            num_ffmpeg_threads=1,
            dimension_order="NHWC",
            seek_mode="approximate",
            transforms=[Resize(size=(SIZE, SIZE))],
        )
    )

    def load_window(window: tuple[float, float]) -> tuple:
        indices = window_indices(window)
        return get_decoder().get_frames_in_range(indices.start, indices.stop).data.shape

    return _windows_round(ctx, load_window)


def setup_ffmpeg_c(ctx: Context) -> Run:
    import _floor

    path = clip_path()
    pool = make_pool(ctx.threads)

    def load_clip(_: int) -> int:
        frames = _floor.decode_windows(path, WINDOWS)
        if frames != NUM_WINDOWS * FRAMES_PER_WINDOW:
            raise RuntimeError(f"expected {NUM_WINDOWS * FRAMES_PER_WINDOW} frames, got {frames}")
        return NUM_WINDOWS

    load_clip(0)

    def run() -> int:
        return sum(pool_map(pool, load_clip, range(ctx.threads)))

    run.info = {"libavcodec": _floor.libavcodec_version()}  # type: ignore[attr-defined]
    return run


BACKENDS = (
    Backend(
        "spdl",
        "load_video(path, timestamp=w, width=224, height=224) per window, T-worker pool",
        setup_spdl,
        "spdl",
    ),
    Backend(
        "spdl-windows",
        "load_video_windows(path, windows, width=224, height=224): one call per clip, "
        "T clips at once",
        setup_spdl_windows,
        "spdl",
    ),
    Backend(
        "spdl-streaming",
        "async for packets in async_streaming_demux: await async_decode_packets, "
        "async_convert_frames; T clips at once, decode pool of T",
        setup_spdl_streaming,
        "spdl",
    ),
    Backend(
        "spdl-streaming-futures",
        "streaming_demux + decode_packets + convert_frames futures, every window's decode "
        "submitted at once; T clips at once",
        setup_spdl_streaming_futures,
        "spdl",
    ),
    Backend(
        "pyav",
        'seek + decode + reformat(224, 224, "rgb24"), one container per worker',
        setup_pyav,
        "av",
    ),
    Backend(
        "pyav-forward",
        'one container per clip, decoded forward once; window frames reformat(224, 224, "rgb24")',
        setup_pyav_forward,
        "av",
    ),
    Backend(
        "decord",
        "VideoReader(224x224) per worker, get_batch(window indices)",
        setup_decord,
        "decord",
    ),
    Backend(
        "torchcodec",
        "VideoDecoder(Resize 224) per worker, get_frames_in_range(window indices)",
        setup_torchcodec,
        "torchcodec",
    ),
    Backend(
        "ffmpeg-c",
        "reference: the windows' frames decoded from C with the system FFmpeg, not converted",
        setup_ffmpeg_c,
        "ffmpeg-c",
    ),
)

WORKLOAD = Workload(
    name="w3_clips",
    title=f"W3 clips: {NUM_WINDOWS} x 1 s windows of a 720p clip -> rgb24 224x224",
    unit="windows/s",
    backends=BACKENDS,
    prepare=clip_path,
    rounds=(3, 9),
    warmup=1,
    notes=(
        "decord's reader, reused across windows, decodes straight on from where the last "
        "window ended when the next one lies ahead in the same GOP, as spdl-streaming's "
        "windows continue their clip's decoder; spdl (per window) and PyAV seek to the "
        "keyframe before each window and decode from there, up to 2 s of 720p frames "
        "that are thrown away.",
        "spdl-windows decodes each clip forward once: a window whose keyframe was already "
        "read goes on from there (here one run through the clip), windows in later GOPs "
        "start with a seek; non-reference frames outside every window are not decoded.",
    ),
)

if __name__ == "__main__":
    main(WORKLOAD, str(Path(__file__)))
