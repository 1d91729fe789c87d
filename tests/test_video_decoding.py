"""Video decoding: frame counts, layouts, windows, padding, frame-rate change, indexing."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from media import VideoReference, encode_video, smooth_rgb, write_h264_yuv422p_video
from reference_decode import (
    IMAGE_LAYOUTS,
    mean_abs_diff,
    nv12_from_yuv420p,
    pyav_decode_visual,
    pyav_exact_rgb,
    pyav_frame_rate_selection,
)

import spdl.io
from spdl.io._core.convert import convert
from spdl.io._core.decode import decode
from spdl.io._core.demux import demux

MAX_MEAN_ABS_DIFF = 3.0  # colour conversion by two FFmpeg builds (system vs PyAV's)


def load_array(src, timestamp=None, **options) -> np.ndarray:
    return spdl.io.to_numpy(spdl.io.load_video(src, timestamp, **options))


def frame_indices_in_window(video: VideoReference, start: float, end: float) -> list[int]:
    """Indices of the frames PyAV presents inside the half-open window [start, end)."""
    return [index for index, time in enumerate(video.times) if start <= time < end]


@pytest.fixture(scope="module")
def full_rgb24(h264_video: VideoReference) -> np.ndarray:
    """spdl's own decode of the whole clip, for comparisons that must be exact."""
    return load_array(h264_video.path)


def test_full_decode_yields_every_frame_pyav_decodes(
    h264_video: VideoReference, full_rgb24: np.ndarray
) -> None:
    num_frames = len(h264_video.times)
    assert num_frames == 90
    assert full_rgb24.shape == (num_frames, h264_video.height, h264_video.width, 3)
    assert full_rgb24.dtype == np.uint8


def test_frame_pts_equal_pyav_frame_times(h264_video: VideoReference) -> None:
    packets = demux("video", h264_video.path)
    assert len(packets) == 90
    frames = decode(packets)
    assert len(frames) == 90
    assert frames.pts == pytest.approx(list(h264_video.times), abs=1e-6)


def test_packets_and_frames_describe_the_stream(h264_video: VideoReference) -> None:
    packets = demux("video", h264_video.path)
    assert packets.media_type == "video"
    assert packets.src == str(h264_video.path)
    assert packets.codec_name == "h264"
    assert (packets.width, packets.height) == (96, 64)
    assert packets.pix_fmt == "yuv420p"
    assert packets.frame_rate[0] / packets.frame_rate[1] == pytest.approx(30)
    assert packets.timestamp is None
    assert sorted(packets.pts) == pytest.approx(list(h264_video.times), abs=1e-6)

    frames = decode(packets)
    assert frames.media_type == "video"
    assert (frames.width, frames.height) == (96, 64)
    assert frames.pix_fmt == "rgb24"


def test_rgb24_values_match_pyav_frame_by_frame(
    h264_video: VideoReference, full_rgb24: np.ndarray
) -> None:
    for index, (actual, expected) in enumerate(zip(full_rgb24, h264_video.rgb24, strict=True)):
        assert mean_abs_diff(actual, expected) <= MAX_MEAN_ABS_DIFF, f"frame {index}"


def test_consecutive_frames_differ(full_rgb24: np.ndarray) -> None:
    # The clip is a moving gradient: a decoder that repeated one frame would fail here.
    for index in range(1, len(full_rgb24)):
        assert mean_abs_diff(full_rgb24[index], full_rgb24[index - 1]) > 0.5, f"frame {index}"


@pytest.mark.parametrize("pix_fmt", ["rgb24", "bgr24", "rgba", "yuv444p", "gbrp", "gray"])
def test_pix_fmt_yields_documented_video_shape_and_values(
    h264_video: VideoReference, pix_fmt: str
) -> None:
    array = load_array(h264_video.path, pix_fmt=pix_fmt)
    assert array.shape == (90, *IMAGE_LAYOUTS[pix_fmt](64, 96))
    assert array.dtype == np.uint8
    expected = pyav_decode_visual(h264_video.path, pix_fmt)
    assert mean_abs_diff(array, expected) <= MAX_MEAN_ABS_DIFF


@pytest.mark.parametrize("size", [(32, 20), (96, 21), (30, 63)], ids=["both", "rows", "columns"])
def test_resized_frames_stay_within_rounding_of_ffmpegs_bilinear_scale(
    h264_video: VideoReference, size: tuple[int, int]
) -> None:
    # Frames that lose rows are filtered vertically, then horizontally, in YUV, and
    # the 4:2:2 result is converted exactly: against FFmpeg's bilinear scale to
    # 4:2:2 and the exact matrix, only the rounding between the passes differs.
    # (FFmpeg's own scaled conversion to rgb24 is about 1.5 levels darker.)
    width, height = size
    array = load_array(h264_video.path, width=width, height=height)
    assert array.shape == (90, height, width, 3)
    assert mean_abs_diff(array, pyav_exact_rgb(h264_video.path, width, height)) <= 0.6
    expected = pyav_decode_visual(h264_video.path, "rgb24", width, height)
    assert mean_abs_diff(array, expected) <= MAX_MEAN_ABS_DIFF


@pytest.mark.parametrize("pix_fmt", ["rgb24", "bgr24"])
@pytest.mark.parametrize(
    ("colorspace", "full_range"), [(2, False), (1, True)], ids=["bt601-limited", "bt709-full"]
)
def test_yuv422p_frames_convert_to_rgb_exactly(
    tmp_path: Path, pix_fmt: str, colorspace: int, full_range: bool
) -> None:
    path = tmp_path / "yuv422p.mp4"
    write_h264_yuv422p_video(path, colorspace, full_range)
    array = load_array(path, pix_fmt=pix_fmt)
    assert array.shape == (3, 48, 70, 3)
    expected = pyav_exact_rgb(path)
    if pix_fmt == "bgr24":
        expected = expected[..., ::-1]
    # 13-bit weights: at most one level from the exact value, rarely.
    diff = np.abs(array.astype(np.int16) - expected)
    assert diff.max() <= 1
    assert diff.mean() < 0.02


@pytest.mark.parametrize("pix_fmt", [None, "yuv420p"])
def test_native_yuv420p_is_bit_exact_with_pyav(
    h264_video: VideoReference, pix_fmt: str | None
) -> None:
    # H.264 decoding is bit-exact by specification, so both FFmpeg builds agree exactly.
    array = load_array(h264_video.path, pix_fmt=pix_fmt)
    assert array.shape == (90, 1, 96, 96)  # 64 luma rows + 32 rows of chroma
    np.testing.assert_array_equal(array, h264_video.yuv420p[:, None])


def test_nv12_interleaves_the_exact_chroma_planes(h264_video: VideoReference) -> None:
    array = load_array(h264_video.path, pix_fmt="nv12")
    assert array.shape == (90, 1, 96, 96)
    expected = np.stack([nv12_from_yuv420p(frame, 64, 96) for frame in h264_video.yuv420p])
    np.testing.assert_array_equal(array, expected[:, None])


WINDOWS = [
    (1.0, 2.0),  # both ends exactly on frame times
    (0.55, 1.25),  # both ends between frames
    (0.0, 0.5),
    (0.62, 0.72),  # three frames, none of them a key frame
    (2.5, 10.0),  # runs past the end of the clip
]


@pytest.mark.parametrize(("start", "end"), WINDOWS)
def test_window_yields_only_frames_inside_half_open_interval(
    h264_video: VideoReference, start: float, end: float
) -> None:
    expected = frame_indices_in_window(h264_video, start, end)
    packets = demux("video", h264_video.path, (start, end))
    assert packets.timestamp == pytest.approx((start, end))
    frames = decode(packets)
    assert len(frames) == len(expected)
    assert frames.pts == pytest.approx([h264_video.times[i] for i in expected], abs=1e-6)


def test_window_includes_frame_at_start_and_excludes_frame_at_end(
    h264_video: VideoReference,
) -> None:
    assert h264_video.times[30] == 1.0 and h264_video.times[60] == 2.0
    frames = decode(demux("video", h264_video.path, (1.0, 2.0)))
    assert len(frames) == 30
    assert frames.pts[0] == pytest.approx(1.0, abs=1e-9)
    assert frames.pts[-1] == pytest.approx(h264_video.times[59], abs=1e-9)


@pytest.mark.parametrize(("start", "end"), WINDOWS)
def test_window_pixels_equal_the_same_frames_of_a_full_decode(
    h264_video: VideoReference, full_rgb24: np.ndarray, start: float, end: float
) -> None:
    expected = frame_indices_in_window(h264_video, start, end)
    array = load_array(h264_video.path, (start, end))
    np.testing.assert_array_equal(array, full_rgb24[expected])


def test_num_frames_repeat_pads_with_copies_of_the_last_frame(
    h264_video: VideoReference, full_rgb24: np.ndarray
) -> None:
    window = (0.0, 0.5)  # 15 frames
    array = load_array(h264_video.path, window, num_frames=20, pad_mode="repeat")
    assert array.shape == (20, 64, 96, 3)
    np.testing.assert_array_equal(array[:15], full_rgb24[:15])
    for index in range(15, 20):
        np.testing.assert_array_equal(array[index], full_rgb24[14])


def test_num_frames_black_pads_with_zero_frames(
    h264_video: VideoReference, full_rgb24: np.ndarray
) -> None:
    array = load_array(h264_video.path, (0.0, 0.5), num_frames=20, pad_mode="black")
    assert array.shape == (20, 64, 96, 3)
    np.testing.assert_array_equal(array[:15], full_rgb24[:15])
    np.testing.assert_array_equal(array[15:], np.zeros((5, 64, 96, 3), np.uint8))


def test_num_frames_cuts_a_longer_decode(
    h264_video: VideoReference, full_rgb24: np.ndarray
) -> None:
    array = load_array(h264_video.path, (0.0, 0.5), num_frames=10, pad_mode="repeat")
    assert array.shape == (10, 64, 96, 3)
    np.testing.assert_array_equal(array, full_rgb24[:10])


def test_num_frames_equal_to_the_decode_leaves_it_unchanged(
    h264_video: VideoReference, full_rgb24: np.ndarray
) -> None:
    array = load_array(h264_video.path, (0.0, 0.5), num_frames=15, pad_mode="black")
    np.testing.assert_array_equal(array, full_rgb24[:15])


@pytest.mark.parametrize("frame_rate", [15, 10, 60])
def test_frame_rate_emits_the_frames_ffmpegs_fps_filter_selects(
    h264_video: VideoReference, full_rgb24: np.ndarray, frame_rate: int
) -> None:
    selection = pyav_frame_rate_selection(h264_video.path, frame_rate, h264_video.rgb24)
    assert len(selection) == 90 * frame_rate // 30  # 3 s of video at the new rate
    assert sorted(selection) == selection
    array = load_array(h264_video.path, frame_rate=frame_rate)
    assert array.shape == (len(selection), 64, 96, 3)
    np.testing.assert_array_equal(array, full_rgb24[selection])


def test_frame_rate_sets_output_pts_on_the_new_grid(h264_video: VideoReference) -> None:
    frames = decode(demux("video", h264_video.path), frame_rate=15)
    assert frames.pts == pytest.approx([slot / 15 for slot in range(45)], abs=1e-6)


def test_integer_index_selects_one_frame(
    h264_video: VideoReference, full_rgb24: np.ndarray
) -> None:
    frames = decode(demux("video", h264_video.path))
    fifth, last = frames[5], frames[-1]
    assert fifth.media_type == "image"
    assert fifth.pts == pytest.approx([h264_video.times[5]], abs=1e-6)
    np.testing.assert_array_equal(spdl.io.to_numpy(convert(fifth)), full_rgb24[5])
    np.testing.assert_array_equal(spdl.io.to_numpy(convert(last)), full_rgb24[-1])


def test_slice_selects_frames_and_leaves_the_source_frames_usable(
    h264_video: VideoReference, full_rgb24: np.ndarray
) -> None:
    frames = decode(demux("video", h264_video.path))
    selected = frames[10:20:3]
    assert selected.media_type == "video"
    assert len(selected) == 4
    assert selected.pts == pytest.approx(list(h264_video.times[10:20:3]), abs=1e-6)
    np.testing.assert_array_equal(spdl.io.to_numpy(convert(selected)), full_rgb24[10:20:3])
    np.testing.assert_array_equal(spdl.io.to_numpy(convert(frames)), full_rgb24)


def test_index_past_the_end_raises_index_error(h264_video: VideoReference) -> None:
    frames = decode(demux("video", h264_video.path, (0.0, 0.5)))
    assert len(frames) == 15
    with pytest.raises(IndexError):
        frames[15]
    with pytest.raises(IndexError):
        frames[-16]


def test_index_of_another_type_raises_type_error(h264_video: VideoReference) -> None:
    frames = decode(demux("video", h264_video.path, (0.0, 0.5)))
    with pytest.raises(TypeError, match="integers or slices, not str"):
        frames["1"]
    with pytest.raises(TypeError, match="not float"):
        frames[1.0]
    assert frames[np.int64(3)].pts == frames[3].pts  # any integer type with __index__


def test_video_frames_are_consumed_by_conversion(h264_video: VideoReference) -> None:
    frames = decode(demux("video", h264_video.path, (0.0, 0.5)))
    pts = frames.pts
    assert spdl.io.to_numpy(convert(frames)).shape == (15, 64, 96, 3)
    # What the frames were stays readable: a caller pairs the buffer with their times.
    assert frames.consumed and len(frames) == 15 and len(pts) == 15
    assert frames.pts == pts and (frames.width, frames.height) == (96, 64)
    with pytest.raises(ValueError):
        convert(frames)
    with pytest.raises(ValueError):
        frames[0]
    with pytest.raises(ValueError):
        frames[0:2]


@pytest.mark.parametrize(
    "window, options",
    [
        (None, {}),
        (None, {"pix_fmt": None}),
        ((1.0, 2.0), {"width": 48, "height": 32}),
        ((0.5, 1.7), {"pix_fmt": "yuv420p"}),
    ],
)
def test_video_demux_skips_the_probe_decode_with_the_same_result(
    h264_video: VideoReference,
    h264_video_mpegts: Path,
    window: tuple[float, float] | None,
    options: dict,
) -> None:
    from spdl.io._core.decode import decode_to_buffer

    probed = _probed_demux(h264_video.path, window)
    unprobed = demux("video", h264_video.path, window)
    # Only decoding tells the pixel format: the unprobed packets learn it from their
    # first keyframe when asked, which a decode never does.
    assert len(unprobed) == len(probed)
    expected = np.asarray(decode_to_buffer(probed, **options))
    np.testing.assert_array_equal(np.asarray(decode_to_buffer(unprobed, **options)), expected)
    np.testing.assert_array_equal(
        np.asarray(spdl.io.load_video(h264_video.path, window, **options)), expected
    )
    assert probed.pix_fmt == unprobed.pix_fmt == "yuv420p"
    # repr() tells what it would have told after a probe, before anything read it.
    assert 'pix_fmt="yuv420p"' in repr(demux("video", h264_video.path, window))
    assert demux("video", h264_video.path.read_bytes(), window).pix_fmt == "yuv420p"
    assert demux("video", h264_video_mpegts, window).pix_fmt == "yuv420p"


def _probed_demux(src: object, window: tuple[float, float] | None) -> object:
    """``demux`` as with PyAV's probe decode: every source opened by ``_open``."""
    from spdl.io._core import demux as _demux

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_demux, "_open_indexed", _demux._open)
        return demux("video", src, window)


def test_pyav_19_open_arguments_give_the_same_packets(
    h264_video: VideoReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyAV 19 dropped `stream_options`; the arguments spdl gives it instead (codec
    options through `options`, the pixel limit among them) are also PyAV 18's, so
    they are checked here too."""
    from spdl.io._core import demux as _demux
    from spdl.io._core.pixel_limit import pyav_options

    expected = demux("video", h264_video.path)
    monkeypatch.setattr(_demux, "_PYAV_MAJOR", 19)
    assert _demux._open_options({"probesize": "32"}, [{"skip_frame": "all"}]) == {
        "options": {"skip_frame": "all", **pyav_options()},
        "container_options": {"probesize": "32"},
    }
    arguments = _demux._open_options(None, _demux._NO_PROBE_DECODE)
    with av.open(str(h264_video.path), **arguments) as container:
        # The streams got skip_frame: no probe decode ran, so no pixel format is known.
        assert container.streams.video[0].codec_context.format is None
    unprobed = demux("video", h264_video.path)
    assert unprobed.pts == expected.pts
    assert unprobed.pix_fmt == "yuv420p"


def test_unprobed_demux_opens_each_source_once(
    h264_video: VideoReference, h264_video_mpegts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import av

    from spdl.io._core import demux as _demux

    opened: list[object] = []
    real_open = av.open

    def counting_open(target, *args, **kwargs):
        opened.append(target)
        return real_open(target, *args, **kwargs)

    monkeypatch.setattr(_demux.av, "open", counting_open)
    # MP4 is opened without the probe decode; MPEG-TS (no `ftyp` box) is probed
    # straight away instead of being opened twice.
    for src in (h264_video.path, h264_video.path.read_bytes(), h264_video_mpegts):
        opened.clear()
        packets = demux("video", src, (0.5, 1.5))
        assert len(opened) == 1 and len(packets) > 0
    assert demux("video", h264_video_mpegts.read_bytes()).pix_fmt == "yuv420p"


@pytest.mark.parametrize("width", [66, 340, 854])
def test_every_column_is_written_whatever_the_width(tmp_path: Path, width: int) -> None:
    # swscale's unscaled SIMD YUV -> RGB leaves the last group of pixels of a row
    # unwritten when the row has no room for the whole group (width % 16 of 2, 4, 6):
    # those columns held whatever the heap held (840 + 14 columns of 854x480).
    height = 32
    path = tmp_path / f"w{width}.mp4"
    pictures = [smooth_rgb(width, height, phase) for phase in (0.0, 0.3, 0.6)]
    encode_video(path, pictures, width=width, height=height, options={"crf": "10"})
    with av.open(str(path)) as container:
        reference = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    for pix_fmt, channels in (("rgb24", [0, 1, 2]), ("bgr24", [2, 1, 0]), ("rgba", [0, 1, 2])):
        decoded = [load_array(path, pix_fmt=pix_fmt) for _ in range(2)]
        np.testing.assert_array_equal(decoded[0], decoded[1])  # nothing left unwritten
        rgb = decoded[0][..., channels].astype(int)
        worst_column = np.abs(rgb - reference).mean(axis=(0, 1, 3)).max()
        assert worst_column <= MAX_MEAN_ABS_DIFF, pix_fmt
        if pix_fmt == "rgba":
            assert (decoded[0][..., 3] == 255).all()


@pytest.mark.parametrize("pix_fmt", ["gbrp", "yuv420p", "yuv422p"])
def test_a_decoder_that_reads_the_fourcc_decodes(tmp_path: Path, pix_fmt: str) -> None:
    # Ut Video (a lossless intermediate codec in AVI) takes its layout from the FourCC
    # (ULRG, ULY0, ULY2), which the decoder must be given with the other parameters.
    path = tmp_path / f"ut_{pix_fmt}.avi"
    pictures = [smooth_rgb(64, 48, phase) for phase in (0.0, 0.5)]
    encode_video(path, pictures, width=64, height=48, codec="utvideo", pix_fmt=pix_fmt)
    with av.open(str(path)) as container:
        reference = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert mean_abs_diff(load_array(path), reference) <= MAX_MEAN_ABS_DIFF


@pytest.mark.parametrize(("pix_fmt", "depth"), [("yuv444p", 8), ("yuv420p10le", 10)])
def test_gray16_from_limited_yuv_spans_the_full_16_bit_range(
    tmp_path: Path, pix_fmt: str, depth: int
) -> None:
    # swscale 5.1 scaled limited-range luma to 0..65280 (white 65277, not 65535).
    rgb = [smooth_rgb(48, 32, phase) for phase in (0.0, 0.5)]
    rgb[0][:4, :4] = 255  # white, and black below
    rgb[0][4:8, :4] = 0
    path = tmp_path / "ffv1.mkv"
    encode_video(path, rgb, width=48, height=32, codec="ffv1", pix_fmt=pix_fmt)
    luma = spdl.io.to_numpy(spdl.io.load_video(path, pix_fmt=None))
    luma = luma[:, 0, :32] if pix_fmt == "yuv420p10le" else luma[:, 0]  # planes stacked
    step = 1 << (depth - 8)
    expected = np.clip(np.rint((luma - 16.0 * step) * 65535 / (219 * step)), 0, 65535)
    gray = spdl.io.to_numpy(spdl.io.load_video(path, pix_fmt="gray16le"))
    assert gray.dtype == np.uint16 and gray.shape == (2, 1, 32, 48)
    assert np.abs(gray[:, 0] - expected).max() <= (0 if depth == 8 else 1)  # 10 -> 16 bits rounds
    assert gray[0, 0, 0, 0] == 65535 and gray[0, 0, 5, 0] == 0


def test_gray16_from_rgb_is_within_4_of_pyavs(tmp_path: Path) -> None:
    rgb = [smooth_rgb(48, 32, phase) for phase in (0.0, 0.5)]
    path = tmp_path / "rgb.mkv"
    encode_video(path, rgb, width=48, height=32, codec="ffv1", pix_fmt="bgr0")
    gray = spdl.io.to_numpy(spdl.io.load_video(path, pix_fmt="gray16le")).astype(np.int64)
    with av.open(str(path)) as container:
        pyav = np.stack([f.to_ndarray(format="gray16le") for f in container.decode(video=0)])
    assert np.abs(gray[:, 0] - pyav).max() <= 4
