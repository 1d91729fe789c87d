"""Several windows of one video in one call: load_video_windows equals load_video per window."""

from __future__ import annotations

import io
import math
import pathlib
from fractions import Fraction

import av
import numpy as np
import pytest
from media import VideoReference, encode_video, remux_video, write_noisy_clip

import spdl.io
from spdl.io._api.loaders import load_video_windows
from spdl.io._core import demux as _demux
from spdl.io._core.demux import demux_spans

WIDTH, HEIGHT = 96, 64
FRAME_RATE = 30
NUM_FRAMES = 120  # 4 s
GOP_SIZE = 15  # a keyframe every 0.5 s
MAX_B_FRAMES = 3  # with x264's default b-pyramid: reference and non-reference B-frames


def _write_clip(path: pathlib.Path) -> pathlib.Path:
    return write_noisy_clip(
        path,
        width=WIDTH,
        height=HEIGHT,
        num_frames=NUM_FRAMES,
        frame_rate=FRAME_RATE,
        seed=0,
        options={
            "g": str(GOP_SIZE),
            "bf": str(MAX_B_FRAMES),
            "crf": "20",
            "x264-params": "scenecut=0",  # keyframes exactly every GOP_SIZE frames
        },
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """4 s, 30 fps, 96x64 H.264 MP4, GOP 15, up to 3 B-frames (some of them references)."""
    return _write_clip(tmp_path_factory.mktemp("windows") / "clip.mp4")


def _remux(source: pathlib.Path, path: pathlib.Path, format: str) -> pathlib.Path:
    remux_video(source, path, format)
    return path


@pytest.fixture(scope="module")
def clip_matroska(clip: pathlib.Path) -> pathlib.Path:
    return _remux(clip, clip.with_suffix(".mkv"), "matroska")


@pytest.fixture(scope="module")
def clip_mpegts(clip: pathlib.Path) -> pathlib.Path:
    return _remux(clip, clip.with_suffix(".ts"), "mpegts")


def _per_window(src, windows, **options) -> list[np.ndarray]:
    return [spdl.io.to_numpy(spdl.io.load_video(src, w, **options)) for w in windows]


def _assert_equal_to_load_video(src, windows, **options) -> list[np.ndarray]:
    """Asserts that each window equals load_video of it, exactly; returns the arrays."""
    got = [spdl.io.to_numpy(b) for b in load_video_windows(src, windows, **options)]
    expected = _per_window(src, windows, **options)
    assert len(got) == len(windows)
    for window, array, reference in zip(windows, got, expected, strict=True):
        assert array.shape == reference.shape, window
        assert array.dtype == reference.dtype, window
        np.testing.assert_array_equal(array, reference, err_msg=str(window))
    return got


def test_disjoint_windows_in_different_gops_equal_load_video(clip: pathlib.Path) -> None:
    arrays = _assert_equal_to_load_video(clip, [(0.1, 0.4), (1.3, 1.7), (2.9, 3.2)])
    assert [len(a) for a in arrays] == [9, 12, 9]


def test_windows_inside_one_gop_equal_load_video(clip: pathlib.Path) -> None:
    # One GOP: [1.0, 1.5). The second window continues where the first stopped.
    _assert_equal_to_load_video(clip, [(1.0, 1.1), (1.2, 1.3), (1.35, 1.45)])


def test_windows_across_gop_boundaries_equal_load_video(clip: pathlib.Path) -> None:
    _assert_equal_to_load_video(clip, [(0.3, 1.4), (1.45, 2.55), (2.6, 3.9)])


def test_overlapping_windows_share_frames(clip: pathlib.Path) -> None:
    windows = [(0.5, 1.5), (1.0, 2.0), (1.2, 1.3), (1.0, 2.0)]
    arrays = _assert_equal_to_load_video(clip, windows)
    # The frames in [1.0, 1.5) appear in both of the first two windows.
    np.testing.assert_array_equal(arrays[0][15:], arrays[1][:15])
    np.testing.assert_array_equal(arrays[1], arrays[3])


def test_unsorted_windows_come_back_in_the_callers_order(clip: pathlib.Path) -> None:
    windows = [(3.0, 3.3), (0.0, 0.2), (2.0, 2.1), (0.6, 1.1)]
    arrays = _assert_equal_to_load_video(clip, windows)
    assert [len(a) for a in arrays] == [9, 6, 3, 15]


def test_window_from_zero_and_open_ended_window(clip: pathlib.Path) -> None:
    arrays = _assert_equal_to_load_video(clip, [(0, 0.5), (3.5, math.inf)])
    assert [len(a) for a in arrays] == [15, 15]


def test_window_yields_only_frames_inside_half_open_interval(clip: pathlib.Path) -> None:
    # Boundaries on frame times: 1/3 s is frame 10 exactly; 2/3 s is frame 20.
    arrays = _assert_equal_to_load_video(clip, [(1 / 3, 2 / 3), (10 / 30, 11 / 30)])
    assert [len(a) for a in arrays] == [10, 1]


def test_scaling_and_packed_formats_equal_load_video(clip: pathlib.Path) -> None:
    windows = [(0.2, 0.5), (2.2, 2.6)]
    _assert_equal_to_load_video(clip, windows, width=32, height=24)
    _assert_equal_to_load_video(clip, windows, width=50, scale_algo="bicubic", pix_fmt="bgr24")
    arrays = _assert_equal_to_load_video(clip, windows, height=40, pix_fmt="rgba")
    assert arrays[0].shape == (9, 40, 60, 4)


def test_bytes_source_equals_path_source(clip: pathlib.Path) -> None:
    windows = [(0.4, 0.9), (2.5, 2.8)]
    data = clip.read_bytes()
    from_bytes = _assert_equal_to_load_video(data, windows, width=48, height=32)
    from_path = [
        spdl.io.to_numpy(b) for b in load_video_windows(clip, windows, width=48, height=32)
    ]
    for a, b in zip(from_bytes, from_path, strict=True):
        np.testing.assert_array_equal(a, b)
    _assert_equal_to_load_video(memoryview(data), windows)


def test_matroska_source_equals_load_video(clip_matroska: pathlib.Path) -> None:
    _assert_equal_to_load_video(clip_matroska, [(0.4, 0.9), (0.8, 1.2), (2.5, 2.8)])


@pytest.mark.parametrize("options", [{}, {"pix_fmt": "yuv420p"}])
def test_file_like_source_equals_load_video(clip: pathlib.Path, options: dict) -> None:
    # The fallback (pix_fmt="yuv420p") rewinds the file object before each window.
    windows = [(0.4, 0.9), (2.5, 2.8), (0.0, 0.3)]
    got = load_video_windows(io.BytesIO(clip.read_bytes()), windows, **options)
    expected = _per_window(clip, windows, **options)
    for window, buffer, reference in zip(windows, got, expected, strict=True):
        np.testing.assert_array_equal(spdl.io.to_numpy(buffer), reference, err_msg=str(window))


def test_mpegts_source_equals_load_video(clip_mpegts: pathlib.Path) -> None:
    # MPEG-TS has no index: its seeks may land between keyframes (demux checks, goes back).
    _assert_equal_to_load_video(clip_mpegts, [(0.0, 0.4), (0.0, 0.7), (0.5, 1.2), (1.0, 1.9)])


def test_window_between_two_frames_raises_media_error_naming_it(clip: pathlib.Path) -> None:
    # The message said "in the requested window" without saying which.
    with pytest.raises(spdl.io.MediaError, match=r"window \(0\.01, 0\.02\)"):
        spdl.io.load_video(clip, (0.01, 0.02))
    with pytest.raises(spdl.io.MediaError, match=r"\(0\.01, 0\.02\)"):
        load_video_windows(clip, [(0.01, 0.02)])


def test_window_past_the_end_raises_media_error_naming_it(clip: pathlib.Path) -> None:
    with pytest.raises(spdl.io.MediaError, match=r"clip\.mp4.*\(5\.0, 6\.0\)"):
        load_video_windows(clip, [(0.0, 0.5), (5.0, 6.0)])
    with pytest.raises(spdl.io.MediaError):
        spdl.io.load_video(clip, (5.0, 6.0))
    with pytest.raises(spdl.io.MediaError, match=r"\(7, 8\)"):
        load_video_windows(clip.read_bytes(), [(7, 8)])


@pytest.mark.parametrize(
    "options",
    [
        {"pix_fmt": "yuv420p"},
        {"pix_fmt": "gray", "width": 48, "height": 32},
        {"frame_rate": 10, "width": 48, "height": 32},
        {"num_frames": 8},
        {"filter_desc": "hflip"},
    ],
)
def test_options_that_need_a_filter_graph_fall_back_to_load_video(
    clip: pathlib.Path, options: dict
) -> None:
    _assert_equal_to_load_video(clip, [(2.2, 2.6), (0.1, 0.5)], **options)


def test_windows_far_apart_are_separate_spans_skipping_the_gops_between(
    clip: pathlib.Path,
) -> None:
    spans = demux_spans(clip, [(3.2, 3.3), (0.1, 0.2), (0.25, 0.3)])
    assert len(spans) == 2
    first, second = (sorted(t for t in span.pts if math.isfinite(t)) for span in spans)
    assert first[0] == 0.0 and first[-1] < 0.5  # the first GOP only
    assert second[0] == 3.0 and second[-1] < 3.5  # the GOP at 3.0 s only


def test_windows_in_one_gop_read_every_packet_once(clip: pathlib.Path) -> None:
    spans = demux_spans(clip, [(1.0, 1.1), (1.2, 1.3), (1.05, 1.25)])
    assert len(spans) == 1
    pts = [t for t in spans[0].pts if math.isfinite(t)]
    assert len(pts) == len(set(pts))
    assert min(pts) == 1.0


def test_no_windows_give_an_empty_list(clip: pathlib.Path) -> None:
    assert load_video_windows(clip, []) == []


@pytest.mark.parametrize(
    ("windows", "error"),
    [([(1.0, 0.5)], ValueError), ([(-1.0, 0.5)], ValueError), ([(0.0,)], TypeError)],
)
def test_invalid_windows_raise_at_call_time(clip: pathlib.Path, windows, error) -> None:
    with pytest.raises(error):
        load_video_windows(clip, windows)


def test_unknown_or_misplaced_option_raises_at_call_time(clip: pathlib.Path) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        load_video_windows(clip, [(0.0, 0.5)], sample_rate=8000)
    with pytest.raises(TypeError):
        load_video_windows(clip, [(0.0, 0.5)], sharpness=2)


def test_packets_of_unknown_position_fall_back_to_load_video(
    clip: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A demuxer that reports neither byte offsets nor dts: spans could overlap unseen.
    monkeypatch.setenv("SPDL_DEMUX_PROCESSES", "0")  # the patched demux runs in this process
    monkeypatch.setattr(_demux, "_position", lambda packet: None)
    with pytest.raises(_demux.UnknownPacketOrder):
        demux_spans(clip, [(0.4, 0.9), (0.8, 1.2)])
    _assert_equal_to_load_video(clip, [(0.4, 0.9), (0.8, 1.2), (2.5, 2.8)])


def test_cancelled_token_stops_the_decode(clip: pathlib.Path) -> None:
    from spdl import _native
    from spdl.io._core.decode import decode_windows_to_buffers

    windows = [(0.1, 0.4), (2.9, 3.2)]
    token = _native.CancelToken()
    token.cancel()
    with pytest.raises(spdl.io.MediaError, match="cancelled"):
        decode_windows_to_buffers(demux_spans(clip, windows), windows, cancel=token)


@pytest.mark.parametrize("start", [5.7e-06, 1e-07])
def test_a_window_starting_a_few_microseconds_in_equals_one_starting_at_zero(
    h264_video, wav_audio, start: float
) -> None:
    # Python writes such floats with an exponent ("5.7e-06"), which FFmpeg's trim rejects.
    video = spdl.io.to_numpy(spdl.io.load_video(h264_video.path, timestamp=(start, 0.5)))
    video_from_zero = spdl.io.to_numpy(spdl.io.load_video(h264_video.path, timestamp=(0.0, 0.5)))
    # The frame at 0 s lies less than one tick of the stream's time base before the start.
    assert len(video) in (len(video_from_zero), len(video_from_zero) - 1)
    np.testing.assert_array_equal(video, video_from_zero[len(video_from_zero) - len(video) :])
    audio = spdl.io.to_numpy(spdl.io.load_audio(wav_audio.path, timestamp=(start, 0.5)))
    expected = round((0.5 - start) * wav_audio.sample_rate)
    assert abs(audio.shape[-1] - expected) <= 1


@pytest.fixture(scope="module")
def clip_raw(clip: pathlib.Path) -> pathlib.Path:
    """The clip's H.264 stream without a container: its packets carry no timestamps."""
    return _remux(clip, clip.with_name("clip.h264"), "h264")


@pytest.mark.parametrize(("rate", "format_options"), [(25, None), (30, {"framerate": "30"})])
def test_a_raw_stream_is_timed_one_frame_duration_apart_as_ffmpeg_times_it(
    clip_raw: pathlib.Path, rate: int, format_options: dict | None
) -> None:
    # FFmpeg's raw H.264 demuxer gives no timestamps; its CLI shows frame k at k / rate
    # (25 fps unless `-framerate` says otherwise). B-frames make decode and shown order differ.
    options = {"format_options": format_options} if format_options else {}
    whole = spdl.io.to_numpy(spdl.io.load_video(clip_raw, **options))
    assert len(whole) == NUM_FRAMES
    windows = [(0.5, 1.0), (1.0, 2.0), (3.5, 10.0)]
    expected = [whole[math.ceil(start * rate) : math.ceil(end * rate)] for start, end in windows]
    for window, frames in zip(windows, expected, strict=True):
        got = spdl.io.to_numpy(spdl.io.load_video(clip_raw, timestamp=window, **options))
        np.testing.assert_array_equal(got, frames, str(window))
    buffers = load_video_windows(clip_raw, windows, **options)
    for buffer, frames in zip(buffers, expected, strict=True):
        np.testing.assert_array_equal(spdl.io.to_numpy(buffer), frames)
    futures = spdl.io.streaming_demux("video", clip_raw, windows, **options)
    for future, frames in zip(futures, expected, strict=True):
        decoded = spdl.io.decode_packets(future.result()).result()
        np.testing.assert_array_equal(
            spdl.io.to_numpy(spdl.io.convert_frames(decoded).result()), frames
        )


def test_an_mpegts_whose_times_wrap_starts_below_zero_and_keeps_its_windows(
    tmp_path: pathlib.Path,
) -> None:
    # A broadcast capture whose 33-bit pts wraps 0.5 s in: FFmpeg unwraps it so the
    # stream starts at -0.5 s. A window's seek that backed off to the start landed
    # at 0 s, past the one keyframe: windows failed or lost frames.
    path = tmp_path / "wrap.ts"
    pictures = [np.full((HEIGHT, WIDTH, 3), i * 4, np.uint8) for i in range(60)]
    encode_video(
        path,
        pictures,
        width=WIDTH,
        height=HEIGHT,
        container_format="mpegts",
        time_base=Fraction(1, 90000),
        pts=[2**33 - 45000 + i * 3000 for i in range(60)],
        options={"bf": "0", "g": "60", "sc_threshold": "0"},
    )
    with av.open(str(path)) as container:
        decoded = [(float(f.time), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    assert decoded[0][0] < -0.4
    for window in [(0.1, 0.5), (0.5, 0.8), (1.0, 1.3)]:
        expected = np.stack([a for t, a in decoded if window[0] <= t < window[1]])
        got = spdl.io.to_numpy(spdl.io.load_video(path, timestamp=window))
        assert got.shape == expected.shape, window
        assert np.abs(got.astype(int) - expected).mean() <= 3, window
        windowed = spdl.io.to_numpy(load_video_windows(path, [window])[0])
        np.testing.assert_array_equal(windowed, got)


def test_h264_without_b_frames_in_avi_keeps_the_spans(tmp_path: pathlib.Path) -> None:
    # Only H.264 with B-frames in AVI is timed by its own clock, one window at a time;
    # without B-frames, windows share one pass (4.5x faster for 18 windows).
    path = write_noisy_clip(
        tmp_path / "no_b.avi",
        width=WIDTH,
        height=HEIGHT,
        num_frames=NUM_FRAMES,
        frame_rate=FRAME_RATE,
        seed=0,
        options={"g": str(GOP_SIZE), "bf": "0"},
        container_format="avi",
    )
    windows = [(0.4, 0.9), (2.5, 2.8)]
    assert len(demux_spans(path, windows)) == 2  # no UnknownPacketOrder
    _assert_equal_to_load_video(path, windows)


def test_windows_must_be_a_sequence(h264_video: VideoReference) -> None:
    # A generator was read up by the check: load_video_windows returned [] for it.
    windows = ((t, t + 0.5) for t in (0.0, 1.0))
    with pytest.raises(TypeError, match="sequence of \\(start, end\\) pairs, got generator"):
        spdl.io.load_video_windows(h264_video.path, windows)
    with pytest.raises(TypeError, match="got list_iterator"):
        spdl.io.streaming_demux("video", h264_video.path, iter([(0.0, 0.5)]))
