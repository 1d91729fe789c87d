"""W2 video decode: every frame of a 10 s 720p H.264 clip → ``(N, H, W, 3)`` rgb24.

Each round decodes ``CLIPS_PER_ROUND`` whole clips (2 with ``--quick``); with T
threads, T clips decode concurrently in a ThreadPoolExecutor of T workers, each clip
on a decoder of one FFmpeg thread (so the workers are the only parallelism). Throughput is decoded
frames per second. Every output array is dropped as soon as it is counted, so at
most T decoded clips are alive at once and the peak RSS shows how close each
library stays to the size of its output.

Backends:

* ``spdl-rgb24``: ``spdl.io.load_video(path)`` (rgb24 is the default).
* ``spdl-yuv420p``: ``spdl.io.load_video(path, pix_fmt="yuv420p")``, the decoder's
  native format, ``(N, 1, H·1.5, W)``: the cost of decoding without colour conversion.
* ``spdl-rgb24-1clip``: one clip at a time, ``load_video(path, num_threads=T)``:
  FFmpeg's own threading within one decoder instead of T concurrent clips.
* ``spdl-rgb24-nocache``: ``spdl-rgb24`` with ``SPDL_BUFFER_CACHE_MB=0``: every
  output buffer is a fresh mapping, as every peer's is.
* ``pyav``: ``av.open`` + ``frame.to_ndarray(format="rgb24")`` per frame, written
  into one ``(frames, H, W, 3)`` array allocated up front (the stream's frame count).
  Until 2026-12-08 it kept a list of frames and called ``np.stack``: a second clip of
  memory and a copy of it.
* ``torchcodec``: ``VideoDecoder(path, num_ffmpeg_threads=1, dimension_order="NHWC",
  seek_mode="approximate").get_all_frames().data``.
* ``decord``: ``VideoReader(path, num_threads=1).get_batch(range(len(vr))).asnumpy()``.
* ``<peer>-reuse``: the peer with glibc told to keep freed memory and hand it out
  again (``GLIBC_TUNABLES``, ``REUSE_TUNABLES``), as spdl's buffer cache does for its
  outputs: the peer's clip lands in memory that is already mapped and faulted in.

What the ratios are made of: all four libraries decode the same frames, bit for bit.
spdl keeps the mappings of freed output buffers (up to an eighth of RAM) and reuses
them, in huge pages where the kernel gives them, for the next clip; every peer gets
a fresh 791 MiB from glibc for each clip and faults it in page by page. How much
that costs depends on the machine (transparent huge pages, a VM's page faults): the
``-nocache`` and ``-reuse`` rows measure it in the same run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _datasets import ClipSpec, ensure_clip
from _harness import Backend, Context, Run, Workload, main, make_pool, pool_map

SPEC = ClipSpec()
CLIPS_PER_ROUND = 4
RGB_SHAPE = (SPEC.num_frames, SPEC.height, SPEC.width, 3)
OUTPUT_BYTES = SPEC.num_frames * SPEC.height * SPEC.width * 3  # one rgb24 clip


def clip_path() -> str:
    return str(ensure_clip(SPEC))


def _check(shape: tuple[int, ...], expected: tuple[int, ...] = RGB_SHAPE) -> int:
    if tuple(shape) != expected:
        raise RuntimeError(f"expected {expected}, got {tuple(shape)}")
    return shape[0]


def _concurrent_clips(ctx: Context, decode_clip) -> Run:
    """A round: CLIPS_PER_ROUND clips, T at a time; returns the frames decoded."""
    paths = [clip_path()] * (2 if ctx.quick else CLIPS_PER_ROUND)
    pool = make_pool(ctx.threads)
    # Checks the output, and warms up the way a round runs: T clips at once, so that
    # every worker's first output (page faults, allocator growth) happens untimed.
    pool_map(pool, decode_clip, paths[: ctx.threads])

    def run() -> int:
        return sum(pool_map(pool, decode_clip, paths))

    return run


def setup_spdl_rgb24(ctx: Context) -> Run:
    import spdl.io

    def decode_clip(path: str) -> int:
        return _check(spdl.io.load_video(path).shape)

    return _concurrent_clips(ctx, decode_clip)


def setup_spdl_yuv420p(ctx: Context) -> Run:
    import spdl.io

    yuv_shape = (SPEC.num_frames, 1, SPEC.height * 3 // 2, SPEC.width)

    def decode_clip(path: str) -> int:
        return _check(spdl.io.load_video(path, pix_fmt="yuv420p").shape, yuv_shape)

    return _concurrent_clips(ctx, decode_clip)


def setup_spdl_rgb24_one_clip(ctx: Context) -> Run:
    import spdl.io

    def decode_clip(path: str) -> int:
        return _check(spdl.io.load_video(path, num_threads=ctx.threads).shape)

    # One clip at a time: FFmpeg's threads inside the decoder are the parallelism.
    return _concurrent_clips(Context(threads=1, quick=ctx.quick), decode_clip)


def setup_pyav(ctx: Context) -> Run:
    import av

    def decode_clip(path: str) -> int:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            codec = stream.codec_context
            out = np.empty((stream.frames, codec.height, codec.width, 3), np.uint8)
            count = 0
            for count, frame in enumerate(container.decode(stream), 1):
                out[count - 1] = frame.to_ndarray(format="rgb24")
        return _check(out[:count].shape)

    return _concurrent_clips(ctx, decode_clip)


def setup_torchcodec(ctx: Context) -> Run:
    import torch
    from torchcodec.decoders import VideoDecoder

    torch.set_num_threads(1)

    def decode_clip(path: str) -> int:
        decoder = VideoDecoder(
            path, num_ffmpeg_threads=1, dimension_order="NHWC", seek_mode="approximate"
        )
        return _check(decoder.get_all_frames().data.shape)

    return _concurrent_clips(ctx, decode_clip)


def setup_decord(ctx: Context) -> Run:
    import decord

    def decode_clip(path: str) -> int:
        reader = decord.VideoReader(path, num_threads=1)
        return _check(reader.get_batch(list(range(len(reader)))).asnumpy().shape)

    return _concurrent_clips(ctx, decode_clip)


# glibc keeps freed blocks of any size in its heap (no mmap threshold, no trimming) and
# hands them out again: the peers' output memory reused from clip to clip. One arena:
# a worker thread's arena holds at most 64 MiB blocks, so without it the clips of the
# pool's threads would still be fresh mappings (only the main thread's reused).
REUSE_TUNABLES = {
    "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=4294967295:"
    "glibc.malloc.trim_threshold=8589934592:glibc.malloc.arena_max=1"
}
REUSE_NOTE = "; GLIBC_TUNABLES: glibc keeps and reuses freed memory"

_SPDL = (
    Backend("spdl-rgb24", "load_video(path): T clips concurrently", setup_spdl_rgb24, "spdl"),
    Backend(
        "spdl-rgb24-nocache",
        "load_video(path), T clips concurrently; SPDL_BUFFER_CACHE_MB=0: no buffer reuse",
        setup_spdl_rgb24,
        "spdl",
        env={"SPDL_BUFFER_CACHE_MB": "0"},
    ),
    Backend(
        "spdl-yuv420p",
        'load_video(path, pix_fmt="yuv420p"): native format, T clips concurrently',
        setup_spdl_yuv420p,
        "spdl",
    ),
    Backend(
        "spdl-rgb24-1clip",
        "load_video(path, num_threads=T): one clip at a time, FFmpeg threads",
        setup_spdl_rgb24_one_clip,
        "spdl",
    ),
)
_PEERS = (
    Backend(
        "pyav",
        'frame.to_ndarray(format="rgb24") into a preallocated array, T-worker pool',
        setup_pyav,
        "av",
    ),
    Backend(
        "torchcodec",
        "VideoDecoder(NHWC, approximate).get_all_frames(), T-worker pool",
        setup_torchcodec,
        "torchcodec",
    ),
    Backend(
        "decord",
        "VideoReader(num_threads=1).get_batch(all).asnumpy(), T-worker pool",
        setup_decord,
        "decord",
    ),
)
BACKENDS = (
    *_SPDL,
    *_PEERS,
    *(
        Backend(f"{b.name}-reuse", b.description + REUSE_NOTE, b.setup, b.package, REUSE_TUNABLES)
        for b in _PEERS
    ),
)

WORKLOAD = Workload(
    name="w2_video_decode",
    title=(
        f"W2 video decode: {SPEC.seconds} s {SPEC.width}x{SPEC.height} H.264 clip, "
        "every frame -> rgb24"
    ),
    unit="frames/s",
    backends=BACKENDS,
    prepare=clip_path,
    rounds=(2, 5),
    warmup=0,
)

if __name__ == "__main__":
    main(WORKLOAD, str(Path(__file__)))
