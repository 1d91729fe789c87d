"""A video window gives exactly the frames shown in ``[start, end)``, whatever the container.

Regression cases where seeking or the window's edges used to pick other frames:
MPEG-TS (its seek lands on a non-keyframe, or on a keyframe shown after the start),
open GOPs (the B-frames shown before a keyframe are decoded after it and refer to the
GOP before), Matroska with B-frames (no dts on the packets after a seek) and AVI
(timestamps in whole frames, where rounding a window's edge to the nearest tick moved
it by up to half a frame). The reference is PyAV's decode of every frame, and
``load_video_frames`` picks frames by number.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from frame_media import GOP, pyav_reference, write_clip, write_named_clip

import spdl.io
from spdl.io._core import demux as _demux

X264 = {"g": str(GOP), "bf": "3", "x264-params": "scenecut=0"}
# name -> (file name, encoder, options, container format)
CASES = {
    "mpegts": ("clip.ts", "libx264", X264, "mpegts"),
    "mpeg4_open_gop": ("open.mp4", "mpeg4", {"g": "12", "bf": "2"}, None),
    "avi": ("clip.avi", "mpeg4", {"g": "12"}, "avi"),
}


@pytest.fixture(scope="module", params=[*CASES, "h264_mkv", "h264_open_gop", "hevc"])
def clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("exact")
    if request.param in CASES:
        file_name, encoder, options, container_format = CASES[request.param]
        path = write_clip(directory / file_name, encoder, options, container_format)
    else:
        path = write_named_clip(directory, request.param)
    return pyav_reference(path)


def _windows(seconds: np.ndarray) -> list[tuple[float, float]]:
    """Windows from frame times and from between them, near keyframes and in GOPs."""
    t = seconds.tolist()
    windows = [(t[a], t[b]) for a, b in ((1, 7), (10, 20), (11, 13), (28, 30), (44, 47))]
    windows += [((t[a] + t[a + 1]) / 2, (t[b] + t[b + 1]) / 2) for a, b in ((9, 16), (29, 31))]
    windows += [(t[a] + 0.01, t[b] + 0.01) for a, b in ((9, 13), (40, 44))]
    return windows + [(t[48], t[50]), (t[0], t[2])]


def test_windows_give_the_frames_shown_in_them(clip) -> None:
    seconds = clip.seconds
    windows = _windows(seconds)
    natively = spdl.io.load_video_windows(clip.path, windows)
    for window, buffer in zip(windows, natively, strict=True):
        numbers = [i for i, t in enumerate(seconds) if window[0] <= t < window[1]]
        expected = spdl.io.to_numpy(spdl.io.load_video_frames(clip.path, numbers).data)
        got = spdl.io.to_numpy(spdl.io.load_video(clip.path, timestamp=window))
        assert got.shape == expected.shape, (window, numbers)
        np.testing.assert_array_equal(got, expected, err_msg=str(window))
        np.testing.assert_array_equal(spdl.io.to_numpy(buffer), expected, err_msg=str(window))


def test_avi_window_edges_are_not_rounded_to_whole_frames(tmp_path: pathlib.Path) -> None:
    # Time base 1/30: 0.31 s is 9.3 ticks, which rounding took to the frame at 0.3 s.
    path = write_clip(tmp_path / "clip.avi", "mpeg4", {"g": "12"}, "avi")
    for load in (
        lambda w: spdl.io.load_video(path, timestamp=w),
        lambda w: spdl.io.load_video_windows(path, [w])[0],
    ):
        expected = spdl.io.to_numpy(spdl.io.load_video_frames(path, [10, 11, 12, 13]).data)
        np.testing.assert_array_equal(spdl.io.to_numpy(load((0.31, 0.45))), expected)


def test_a_window_starting_at_a_keyframe_is_read_from_that_keyframe(tmp_path: pathlib.Path):
    # Its float start is a hair below the keyframe's exact time (1/3 s is 5120/15360):
    # taken for "shown after the start", the demux went back a GOP or two.
    path = write_clip(tmp_path / "clip.mp4", "libx264", {**X264, "g": "10"})  # 1/3 s GOPs
    index = spdl.io.index_video(path)
    for key in index.keyframes[1:]:
        start = float(index.pts_seconds[key])
        (span,) = _demux.demux_spans(path, [(start, start + 0.1)])
        assert span.pts[0] == pytest.approx(start), start


def test_mpeg_ps_windows_together_equal_windows_alone(tmp_path: pathlib.Path):
    # MPEG-PS seeks land on other frames and most of its packets have no byte offset:
    # the spans compared offsets with dts, and a window's frames came out twice.
    path = write_clip(tmp_path / "clip.mpg", "mpeg2video", {"g": "12", "bf": "2"}, "mpeg")
    windows = [(0.9, 1.3), (1.0, 1.2), (1.5, 1.7)]
    together = spdl.io.load_video_windows(path, windows)
    for window, buffer in zip(windows, together, strict=True):
        alone = spdl.io.to_numpy(spdl.io.load_video(path, timestamp=window))
        np.testing.assert_array_equal(spdl.io.to_numpy(buffer), alone, err_msg=str(window))
