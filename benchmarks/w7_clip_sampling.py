"""W7 clip sampling: 2 random clips x 16 frames (every 4th frame) per video -> rgb24 112x112.

A dataset of Kinetics-like videos (10 s, 340x256, 30 fps H.264 with B-frames), half
with a keyframe every 25 frames and half every 250 (one GOP for the whole video).
From each video a round samples two clips at random starts, each of 16 frames 4
apart (a clip spans 61 frames, 2 s), as video-training code does, and loads them
resized to 112x112 rgb24. The videos are spread over T worker threads; the
throughput is clips per second.

Backends:

* ``spdl``: ``spdl.io.clips_at_random_indices(path, num_clips=2,
  num_frames_per_clip=16, num_indices_between_frames=4, seed=..., width=112,
  height=112)``: one call per video demuxes it once (in a helper process), indexes
  its frames from the packets, and decodes both clips in one forward pass in one
  native call (GIL released).
* ``spdl-indexed``: the same, with each video's ``spdl.io.index_video`` made once
  (at setup) and passed as ``index=``: only the packets of the clips' GOPs are demuxed.
* ``spdl-frames``: ``spdl.io.load_video_frames(path, indices, width=112, height=112)``
  with the same frame indices the peers decode (drawn in Python).
* ``torchcodec``: ``torchcodec.samplers.clips_at_random_indices`` on a
  ``VideoDecoder(path, num_ffmpeg_threads=1, dimension_order="NHWC",
  seek_mode="approximate", transforms=[Resize((112, 112))])`` per video (CPU).
* ``decord``: ``VideoReader(path, width=112, height=112, num_threads=1)`` per video,
  ``get_batch`` of both clips' indices.

Every backend draws uniform random clip starts over the frames where a whole clip
fits (seeded per video and round, so every round samples new clips).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from _datasets import DATA_DIR, _write_atomically, encode_video, moving_frame
from _harness import Backend, Context, Run, Workload, main, make_pool, pool_map

WIDTH, HEIGHT, FPS, SECONDS = 340, 256, 30, 10
NUM_FRAMES = FPS * SECONDS
GOPS = (25, 250)
NUM_VIDEOS = 50  # half of each GOP
QUICK_VIDEOS = 8
SIZE = 112
NUM_CLIPS, FRAMES_PER_CLIP, STEP = 2, 16, 4
SPAN = STEP * (FRAMES_PER_CLIP - 1) + 1


def _write_video(path: Path, number: int, gop: int) -> None:
    encode_video(
        path,
        (moving_frame(index, WIDTH, HEIGHT, seed=number) for index in range(NUM_FRAMES)),
        width=WIDTH,
        height=HEIGHT,
        frame_rate=FPS,
        options={
            "preset": "veryfast",
            "bf": "3",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
        },
        container_format="mp4",
    )


def video_paths(count: int = NUM_VIDEOS) -> list[str]:
    """The dataset's first ``count`` videos (alternating GOPs), generated on first use."""
    paths = []
    for number in range(count):
        gop = GOPS[number % len(GOPS)]
        name = f"kinetics_like_{WIDTH}x{HEIGHT}_{SECONDS}s_gop{gop}_{number:02d}.mp4"
        path = _write_atomically(
            DATA_DIR / "w7" / name, lambda p, n=number, g=gop: _write_video(p, n, g)
        )
        paths.append(str(path))
    return paths


def _prepare() -> list[str]:
    return video_paths()


def _videos(ctx: Context) -> list[str]:
    return video_paths(QUICK_VIDEOS if ctx.quick else NUM_VIDEOS)


def clip_indices(rng: random.Random) -> list[int]:
    """Both clips' frame indices: uniform starts where a whole clip fits."""
    starts = [rng.randrange(0, NUM_FRAMES - SPAN + 1) for _ in range(NUM_CLIPS)]
    return [start + STEP * k for start in starts for k in range(FRAMES_PER_CLIP)]


def _check(shape: tuple[int, ...]) -> None:
    expected = (NUM_CLIPS, FRAMES_PER_CLIP, SIZE, SIZE, 3)
    if tuple(shape) != expected and tuple(shape) != (NUM_CLIPS * FRAMES_PER_CLIP, *expected[2:]):
        raise RuntimeError(f"expected {expected}, got {tuple(shape)}")


def _round(ctx: Context, load: Callable[[str, int], tuple]) -> Run:
    """A round: every video once over T workers, each seeded by (round, video)."""
    videos = _videos(ctx)
    pool = make_pool(ctx.threads)
    rounds = [0]

    def one(item: tuple[int, str]) -> int:
        number, path = item
        _check(load(path, rounds[0] * 1000 + number))
        return NUM_CLIPS

    one((0, videos[0]))

    def run() -> int:
        rounds[0] += 1
        return sum(pool_map(pool, one, list(enumerate(videos))))

    return run


def _spdl_sampler(ctx: Context, indexed: bool) -> Run:
    import spdl.io

    # A dataset that keeps indexes indexes each video once.
    indexes = {path: spdl.io.index_video(path) for path in _videos(ctx)} if indexed else {}

    def load(path: str, seed: int) -> tuple:
        batch = spdl.io.clips_at_random_indices(
            path,
            num_clips=NUM_CLIPS,
            num_frames_per_clip=FRAMES_PER_CLIP,
            num_indices_between_frames=STEP,
            seed=seed,
            index=indexes.get(path),
            width=SIZE,
            height=SIZE,
        )
        return batch.data.shape

    return _round(ctx, load)


def setup_spdl(ctx: Context) -> Run:
    return _spdl_sampler(ctx, indexed=False)


def setup_spdl_indexed(ctx: Context) -> Run:
    return _spdl_sampler(ctx, indexed=True)


def setup_spdl_frames(ctx: Context) -> Run:
    import spdl.io

    def load(path: str, seed: int) -> tuple:
        indices = clip_indices(random.Random(seed))
        return spdl.io.load_video_frames(path, indices, width=SIZE, height=SIZE).data.shape

    return _round(ctx, load)


def setup_torchcodec(ctx: Context) -> Run:
    import torch
    from torchcodec.decoders import VideoDecoder
    from torchcodec.samplers import clips_at_random_indices
    from torchcodec.transforms import Resize

    torch.set_num_threads(1)

    def load(path: str, seed: int) -> tuple:
        decoder = VideoDecoder(
            path,
            num_ffmpeg_threads=1,
            dimension_order="NHWC",
            seek_mode="approximate",
            transforms=[Resize(size=(SIZE, SIZE))],
        )
        torch.manual_seed(seed)  # torchcodec draws its starts from torch's generator
        clips = clips_at_random_indices(
            decoder,
            num_clips=NUM_CLIPS,
            num_frames_per_clip=FRAMES_PER_CLIP,
            num_indices_between_frames=STEP,
        )
        return tuple(clips.data.shape)

    return _round(ctx, load)


def setup_decord(ctx: Context) -> Run:
    import decord

    def load(path: str, seed: int) -> tuple:
        reader = decord.VideoReader(path, width=SIZE, height=SIZE, num_threads=1)
        batch = reader.get_batch(clip_indices(random.Random(seed))).asnumpy()
        return batch.reshape(NUM_CLIPS, FRAMES_PER_CLIP, *batch.shape[1:]).shape

    return _round(ctx, load)


BACKENDS = (
    Backend(
        "spdl",
        "clips_at_random_indices(path, 2 clips x 16 frames, step 4, 112x112): one call per video",
        setup_spdl,
        "spdl",
    ),
    Backend(
        "spdl-indexed",
        "the same with index= (index_video once per video, kept): only the clips' GOPs demuxed",
        setup_spdl_indexed,
        "spdl",
    ),
    Backend(
        "spdl-frames",
        "load_video_frames(path, the 32 indices, 112x112): one call per video",
        setup_spdl_frames,
        "spdl",
    ),
    Backend(
        "torchcodec",
        "samplers.clips_at_random_indices on VideoDecoder(Resize 112, approximate, 1 thread)",
        setup_torchcodec,
        "torchcodec",
    ),
    Backend(
        "decord",
        "VideoReader(112x112, 1 thread) per video, get_batch(the 32 indices)",
        setup_decord,
        "decord",
    ),
)

WORKLOAD = Workload(
    name="w7_clip_sampling",
    title=(
        f"W7 clip sampling: {NUM_CLIPS} random clips x {FRAMES_PER_CLIP} frames (step {STEP}) "
        f"per {SECONDS} s {WIDTH}x{HEIGHT} video -> rgb24 {SIZE}x{SIZE}"
    ),
    unit="clips/s",
    backends=BACKENDS,
    prepare=_prepare,
    rounds=(2, 5),
    warmup=1,
    notes=(
        f"{NUM_VIDEOS} videos ({QUICK_VIDEOS} with --quick), half with a keyframe every 25 "
        "frames, half every 250. spdl decodes both clips of a video in one forward pass, "
        "skipping the GOPs between them and non-reference frames outside the clips.",
    ),
)

if __name__ == "__main__":
    main(WORKLOAD, str(Path(__file__)))
