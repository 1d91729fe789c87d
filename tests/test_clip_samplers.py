"""Clip samplers: where clips start, what they hold, and that they are the exact frames."""

from __future__ import annotations

import asyncio
import pathlib
import random
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from frame_media import HEIGHT, NUM_FRAMES, WIDTH, Reference, pyav_reference, write_named_clip

import spdl.io


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """60 frames of H.264 with B-frames at 30 fps, a GOP every 15 frames."""
    return pyav_reference(write_named_clip(tmp_path_factory.mktemp("clips"), "h264_bframes"))


def _yuv(batch: spdl.io.FrameBatch) -> np.ndarray:
    """(clips, frames, H * 3 // 2, W) of a yuv420p batch."""
    return spdl.io.to_numpy(batch.data)[:, :, 0]


def _assert_exact(batch: spdl.io.FrameBatch, clip: Reference) -> None:
    """The batch holds the reference frames and times of its indices."""
    np.testing.assert_array_equal(_yuv(batch), clip.yuv420p[batch.indices])
    np.testing.assert_allclose(batch.pts_seconds, clip.seconds[batch.indices], atol=1e-9)


def test_random_indices_shape_spacing_and_frames(clip: Reference) -> None:
    batch = spdl.io.clips_at_random_indices(
        clip.path,
        num_clips=5,
        num_frames_per_clip=4,
        num_indices_between_frames=3,
        seed=11,
        pix_fmt="yuv420p",
    )
    assert batch.data.shape == (5, 4, 1, HEIGHT * 3 // 2, WIDTH)
    assert batch.indices.shape == batch.pts_seconds.shape == (5, 4)
    starts = batch.indices[:, 0]
    assert ((starts >= 0) & (starts <= NUM_FRAMES - 10)).all()  # every clip fits by default
    np.testing.assert_array_equal(np.diff(batch.indices, axis=1), 3)
    _assert_exact(batch, clip)


def test_packed_and_planar_layouts(clip: Reference) -> None:
    packed = spdl.io.clips_at_regular_indices(clip.path, num_clips=2, num_frames_per_clip=3)
    assert packed.data.shape == (2, 3, HEIGHT, WIDTH, 3)
    planar = spdl.io.clips_at_regular_indices(
        clip.path, num_clips=2, num_frames_per_clip=3, pix_fmt="yuv444p", width=32, height=16
    )
    assert planar.data.shape == (2, 3, 3, 16, 32)
    whole = spdl.io.to_numpy(spdl.io.load_video(clip.path, pix_fmt="yuv444p", width=32, height=16))
    np.testing.assert_array_equal(spdl.io.to_numpy(planar.data), whole[planar.indices])
    torch = pytest.importorskip("torch")
    assert spdl.io.to_torch(packed.data).dtype == torch.uint8


def test_a_seed_gives_the_same_clips_and_other_seeds_differ(clip: Reference) -> None:
    def starts(seed: int | random.Random) -> list[int]:
        batch = spdl.io.clips_at_random_indices(clip.path, num_clips=6, seed=seed, width=16)
        return batch.indices[:, 0].tolist()

    assert starts(3) == starts(3)
    assert starts(3) != starts(4)
    # A random.Random is drawn from: two calls continue its sequence.
    rng, replay = random.Random(9), random.Random(9)
    assert starts(rng) + starts(rng) == starts(replay) + starts(replay)


def test_the_three_forms_give_the_same_random_clips(clip: Reference) -> None:
    kwargs = {"num_clips": 3, "num_frames_per_clip": 2, "seed": 5}
    sync = spdl.io.clips_at_random_timestamps(clip.path, **kwargs)
    coroutine = spdl.io.async_clips_at_random_timestamps(clip.path, **kwargs)
    from_async = asyncio.run(coroutine)
    np.testing.assert_array_equal(from_async.indices, sync.indices)
    np.testing.assert_array_equal(spdl.io.to_numpy(from_async.data), spdl.io.to_numpy(sync.data))


def test_regular_indices_spread_over_the_range_first_and_last_included(clip: Reference) -> None:
    batch = spdl.io.clips_at_regular_indices(
        clip.path, num_clips=4, num_frames_per_clip=5, pix_fmt="yuv420p"
    )
    # Clips of 5 frames may start at 0 .. 55.
    assert batch.indices[:, 0].tolist() == [0, 18, 36, 55]
    assert batch.indices[-1].tolist() == list(range(55, 60))
    _assert_exact(batch, clip)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("repeat_last", [56, 58, 58, 58]),
        ("wrap", [56, 58, 56, 58]),
    ],
)
def test_a_clip_past_the_end_follows_the_policy(
    clip: Reference, policy: str, expected: list[int]
) -> None:
    batch = spdl.io.clips_at_regular_indices(
        clip.path,
        num_clips=1,
        num_frames_per_clip=4,
        num_indices_between_frames=2,
        sampling_range_start=56,
        sampling_range_end=57,
        policy=policy,
        pix_fmt="yuv420p",
    )
    assert batch.indices.tolist() == [expected]
    _assert_exact(batch, clip)


def test_the_error_policy_raises_for_a_clip_past_the_end(clip: Reference) -> None:
    with pytest.raises(IndexError, match="runs past its last frame"):
        spdl.io.clips_at_regular_indices(
            clip.path,
            num_frames_per_clip=4,
            sampling_range_start=58,
            sampling_range_end=59,
            policy="error",
        )
    with pytest.raises(ValueError, match="runs past the end"):
        spdl.io.clips_at_regular_timestamps(
            clip.path,
            seconds_between_clip_starts=1.0,
            num_frames_per_clip=3,
            seconds_between_frames=0.5,
            sampling_range_start=1.5,
            sampling_range_end=1.6,
            policy="error",
        )


def test_sampling_ranges_bound_where_clips_start(clip: Reference) -> None:
    batch = spdl.io.clips_at_random_indices(
        clip.path,
        num_clips=20,
        num_frames_per_clip=2,
        sampling_range_start=-20,
        sampling_range_end=-10,
        seed=1,
        width=16,
    )
    starts = batch.indices[:, 0]
    assert ((starts >= 40) & (starts < 50)).all()
    timed = spdl.io.clips_at_random_timestamps(
        clip.path, num_clips=20, sampling_range_start=0.5, sampling_range_end=1.0, seed=2, width=16
    )
    assert ((timed.pts_seconds >= 0.5 - 1 / 30) & (timed.pts_seconds < 1.0)).all()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sampling_range_start": 60},
        {"sampling_range_start": 30, "sampling_range_end": 30},
        # Clips of 20 frames stay inside the video by default: they start before 41.
        {"num_frames_per_clip": 20, "sampling_range_start": 45},
    ],
)
def test_an_empty_sampling_range_raises_value_error(clip: Reference, kwargs: dict) -> None:
    with pytest.raises(ValueError, match=str(clip.path)):
        spdl.io.clips_at_random_indices(clip.path, **kwargs)


def test_a_kept_index_checks_the_range_when_called(clip: Reference) -> None:
    index = spdl.io.index_video(clip.path)
    with pytest.raises(ValueError):
        spdl.io.async_clips_at_random_indices(clip.path, sampling_range_start=90, index=index)
    batch = spdl.io.clips_at_random_indices(clip.path, num_clips=2, seed=0, index=index)
    again = spdl.io.clips_at_random_indices(clip.path, num_clips=2, seed=0)
    np.testing.assert_array_equal(batch.indices, again.indices)


def test_random_timestamps_are_the_frames_shown_at_the_clip_times(clip: Reference) -> None:
    batch = spdl.io.clips_at_random_timestamps(
        clip.path,
        num_clips=4,
        num_frames_per_clip=3,
        seconds_between_frames=0.25,
        seed=7,
        pix_fmt="yuv420p",
    )
    assert batch.data.shape[:2] == (4, 3)
    # 0.25 s is 7.5 frames: consecutive frames of a clip are 7 or 8 apart.
    assert set(np.diff(batch.indices, axis=1).ravel().tolist()) <= {7, 8}
    _assert_exact(batch, clip)


def test_regular_timestamps_start_every_interval(clip: Reference) -> None:
    batch = spdl.io.clips_at_regular_timestamps(
        clip.path, seconds_between_clip_starts=0.5, num_frames_per_clip=2, pix_fmt="yuv420p"
    )
    # Clips of two frames 1/30 s apart start before 2.0 - 1/30 s: at 0, 0.5, 1.0, 1.5.
    assert batch.indices.tolist() == [[0, 1], [15, 16], [30, 31], [45, 46]]
    np.testing.assert_allclose(batch.pts_seconds[:, 0], [0.0, 0.5, 1.0, 1.5], atol=1e-9)
    _assert_exact(batch, clip)


@pytest.mark.parametrize(
    ("sampler", "kwargs", "error"),
    [
        (spdl.io.clips_at_random_indices, {"num_clips": 0}, ValueError),
        (spdl.io.clips_at_random_indices, {"num_frames_per_clip": 1.5}, TypeError),
        (spdl.io.clips_at_random_indices, {"num_indices_between_frames": 0}, ValueError),
        (spdl.io.clips_at_random_indices, {"policy": "clamp"}, ValueError),
        (spdl.io.clips_at_random_indices, {"seed": 1.5}, TypeError),
        (spdl.io.clips_at_regular_indices, {"sampling_range_end": 2.5}, TypeError),
        (spdl.io.clips_at_random_timestamps, {"seconds_between_frames": -1}, ValueError),
        (spdl.io.clips_at_random_timestamps, {"sampling_range_start": "0"}, TypeError),
        (spdl.io.clips_at_regular_timestamps, {"seconds_between_clip_starts": 0}, ValueError),
        (
            spdl.io.clips_at_regular_timestamps,
            {"frame_rate": 5, "seconds_between_clip_starts": 1},
            ValueError,
        ),
    ],
)
def test_bad_arguments_fail_when_called(
    clip: Reference, sampler: object, kwargs: dict, error: type
) -> None:
    with pytest.raises(error):
        sampler(clip.path, **kwargs)  # type: ignore[operator]


def test_a_missing_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        spdl.io.clips_at_random_indices(tmp_path / "missing.mp4")


def test_matroska_millisecond_times_give_each_frame_once(tmp_path: pathlib.Path) -> None:
    # Matroska stores frame 2 of 30 fps at 67 ms, after 2/30 s: frames by time allow
    # the half millisecond windows allow, or clips repeat a frame and skip the next.
    reference = pyav_reference(write_named_clip(tmp_path, "h264_mkv"))
    assert reference.pts[:4] == [0, 33, 67, 100]
    times = [i / 30 for i in range(12)]
    batch = spdl.io.load_video_frames(reference.path, timestamps=times, pix_fmt="yuv420p")
    assert batch.indices.tolist() == list(range(12))
    clips = spdl.io.clips_at_regular_timestamps(
        reference.path, seconds_between_clip_starts=0.5, num_frames_per_clip=8
    )
    assert clips.indices.tolist() == [list(range(s, s + 8)) for s in (0, 15, 30, 45)]
    window = spdl.io.load_video(reference.path, timestamp=(2 / 30, 3 / 30), pix_fmt="yuv420p")
    window = spdl.io.to_numpy(window)
    np.testing.assert_array_equal(spdl.io.to_numpy(batch.data)[2:3], window)


def test_the_first_frames_own_time_is_in_range(tmp_path: pathlib.Path) -> None:
    # A first frame at 23 frames of 30 fps in 1/15360 ticks: pts_seconds[0] is the
    # float product, one ulp below the exact fraction begin_seconds was rounded from.
    path = tmp_path / "late.mp4"
    tb = Fraction(1, 15360)
    with av.open(str(path), "w", options={"movie_timescale": "15360"}) as container:
        stream = container.add_stream("libx264", rate=30, options={"bf": "0"})
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.codec_context.time_base = tb
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 8, np.uint8), "rgb24")
            frame.pts, frame.time_base = (23 + i) * 512, tb
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    index = spdl.io.index_video(path)
    assert index.pts[0] == 23 * 512 and index.begin_seconds == index.pts_seconds[0]
    batch = spdl.io.load_video_frames(path, timestamps=index.pts_seconds, index=index)
    assert batch.indices.tolist() == list(range(10))
    start = float(index.pts_seconds[0])
    clips = spdl.io.clips_at_random_timestamps(path, sampling_range_start=start, index=index)
    assert clips.indices.shape == (1, 1)


def test_numpy_numbers_and_tensors_are_taken(clip: Reference) -> None:
    rng = np.random.default_rng(0)
    seed = rng.integers(1000)
    expected = spdl.io.clips_at_random_indices(
        clip.path, num_clips=2, num_frames_per_clip=4, sampling_range_start=5, seed=int(seed)
    )
    batch = spdl.io.clips_at_random_indices(
        clip.path,
        num_clips=np.int64(2),
        num_frames_per_clip=np.int64(4),
        sampling_range_start=np.int64(5),
        seed=seed,
    )
    assert batch.indices.tolist() == expected.indices.tolist()
    timed = spdl.io.clips_at_random_timestamps(
        clip.path,
        sampling_range_start=np.float32(0.5),
        seconds_between_frames=np.float32(0.1),
        num_frames_per_clip=2,
        seed=0,
    )
    assert timed.indices[0, 1] - timed.indices[0, 0] == 3
    frames = spdl.io.load_video_frames(clip.path, torch.tensor([3, 1]))
    assert frames.indices.tolist() == [3, 1]
    timed_frames = spdl.io.load_video_frames(clip.path, timestamps=torch.tensor([0.5, 0.0]))
    assert timed_frames.indices.tolist() == [15, 0]
