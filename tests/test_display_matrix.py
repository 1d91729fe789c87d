"""Upright video: frames come out as a player shows them, turned and mirrored by the
display matrix an MP4 stores in its track header, on every video path.

The clips are H.264 MP4s (B-frames, short GOPs) written with PyAV, whose
``set_display_rotation`` puts the matrix into the track header; PyAV reads it back
as its decoded frames' side data. The reference decodes every frame with PyAV and
turns it with NumPy by the rules FFmpeg's own player applies (``ffmpeg`` with
autorotate: the angle of ``av_display_rotation_get`` is counter-clockwise, the
player turns by its opposite, ``transpose`` for 90 / 270 degrees with the flips the
matrix's signs ask for) — an implementation independent of the native one, which
reads the matrix's signs.
"""

from __future__ import annotations

import contextlib
import io
import math
import pathlib
from collections.abc import Iterator
from typing import Any

import av
import numpy as np
import pytest
from media import encode_video, smooth_rgb

import spdl.io
from spdl import _native
from spdl.io._core import demux as _demux
from spdl.io._core.display_matrix import read_display_matrix
from spdl.io._core.nvdec import upright_nv12, validate_nvdec_options
from spdl.io._runtime import executor as _executor

WIDTH, HEIGHT, NUM_FRAMES, RATE = 64, 48, 14, 10

# name: (PyAV's rotation in degrees, hflip, vflip)
CASES = {
    "rot90": (90, False, False),
    "rot180": (180, False, False),
    "rot270": (270, False, False),
    "hflip": (0, True, False),
    "vflip": (0, False, True),
    "rot90_hflip": (90, True, False),
    "rot270_hflip": (270, True, False),
}
# What a player shows of each: the EXIF orientation and whether the sides swap.
SWAPPED = {"rot90", "rot270", "rot90_hflip", "rot270_hflip"}


def _write(dst: Any, rotation: float, hflip: bool, vflip: bool) -> None:
    encode_video(
        dst,
        (smooth_rgb(WIDTH, HEIGHT, index / 5) for index in range(NUM_FRAMES)),
        width=WIDTH,
        height=HEIGHT,
        frame_rate=RATE,
        options={"g": "4", "bf": "2"},
        container_format="mp4",
        rotation=rotation,
        hflip=hflip,
        vflip=vflip,
    )


def _player(array: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``array`` (rows, columns, ...) as FFmpeg's player shows it for ``matrix``."""
    scale0 = math.hypot(matrix[0], matrix[3])
    scale1 = math.hypot(matrix[1], matrix[4])
    counter_clockwise = -math.degrees(math.atan2(matrix[1] / scale1, matrix[0] / scale0))
    theta = round(-counter_clockwise) % 360  # the player's clockwise turn
    if theta == 90:
        # transpose=cclock_flip (a plain transpose) or transpose=clock
        return np.swapaxes(array, 0, 1) if matrix[3] > 0 else np.rot90(array, k=-1)
    if theta == 270:
        # transpose=clock_flip (clockwise, then upside down) or transpose=cclock
        return np.rot90(array, k=-1)[::-1] if matrix[3] < 0 else np.rot90(array, k=1)
    if theta == 180:
        array = array[:, ::-1] if matrix[0] < 0 else array
        return array[::-1] if matrix[4] < 0 else array
    assert theta == 0
    return array[::-1] if matrix[4] < 0 else array


def _planes_yuv420p(frame: av.VideoFrame) -> list[np.ndarray]:
    data = frame.to_ndarray(format="yuv420p")
    h, w = frame.height, frame.width
    return [
        data[:h],
        data[h : h + h // 4].reshape(h // 2, w // 2),
        data[h + h // 4 :].reshape(h // 2, w // 2),
    ]


def _pack_yuv420p(planes: list[np.ndarray]) -> np.ndarray:
    y, u, v = planes
    h, w = y.shape
    return np.concatenate([y, u.reshape(h // 4, w), v.reshape(h // 4, w)])[None]


class Clip:
    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        rgb, yuv, stored = [], [], []
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                # PyAV 18.1.1 iterates the container's keys (types), older ones its
                # side data.
                found = [x if hasattr(x, "type") else frame.side_data[x] for x in frame.side_data]
                sides = [s for s in found if "DISPLAYMATRIX" in str(s.type)]
                self.matrix = np.frombuffer(bytes(sides[0]), dtype=np.int32).astype(np.float64)
                rgb.append(_player(frame.to_ndarray(format="rgb24"), self.matrix))
                planes = _planes_yuv420p(frame)
                yuv.append(_pack_yuv420p([_player(p, self.matrix) for p in planes]))
                stored.append(_pack_yuv420p(planes))
                self.pts = getattr(self, "pts", []) + [float(frame.time)]
        self.rgb = np.stack(rgb)  # (N, H', W', 3) as shown
        self.yuv = np.stack(yuv)  # (N, 1, H' * 1.5, W') as shown, exact
        self.stored_yuv = np.stack(stored)  # as stored


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    root = tmp_path_factory.mktemp("display_matrix")
    made = {}
    for name, (rotation, hflip, vflip) in CASES.items():
        path = root / f"{name}.mp4"
        _write(str(path), rotation, hflip, vflip)
        made[name] = Clip(path)
    return made


@contextlib.contextmanager
def _demux_mode(mode: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        if mode == "in_thread":
            patch.setenv(_executor.DEMUX_PROCESSES_ENV, "0")
        assert (_executor.demux_processes() > 0) == (mode == "helpers")
        yield


MODES = ["helpers", "in_thread"]


def _close(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= 3, diff.max()


def test_the_reference_turns_as_pyav_reports(clips: dict[str, Clip]) -> None:
    """The reference's own check: PyAV's frame.rotation (counter-clockwise) and the
    player's turn agree, and the sides swap exactly for the 90 / 270 degree cases."""
    for name, clip in clips.items():
        shown = clip.rgb.shape[1:3]
        assert shown == ((WIDTH, HEIGHT) if name in SWAPPED else (HEIGHT, WIDTH)), name


@pytest.mark.parametrize("mode", MODES)
def test_packets_carry_the_matrix_and_the_index_the_shown_size(
    clips: dict[str, Clip], mode: str
) -> None:
    for name, clip in clips.items():
        with _demux_mode(mode):
            packets = spdl.io.demux_media("video", clip.path).result()
            index = spdl.io.index_video(clip.path)
        assert np.array_equal(
            np.frombuffer(packets.params.display_matrix, np.int32), clip.matrix.astype(np.int32)
        ), name
        assert (packets.width, packets.height) == (WIDTH, HEIGHT)  # as stored
        assert (index.height, index.width) == clip.rgb.shape[1:3], name
        assert index.display_orientation == packets.display_orientation != 1


@pytest.mark.parametrize("mode", MODES)
def test_load_video_shows_frames_as_a_player(clips: dict[str, Clip], mode: str) -> None:
    for name, clip in clips.items():
        with _demux_mode(mode):
            rgb = np.asarray(spdl.io.load_video(clip.path))  # the native writer
            yuv = np.asarray(spdl.io.load_video(clip.path, pix_fmt="yuv420p"))  # filters
        _close(rgb, clip.rgb)
        assert np.array_equal(yuv, clip.yuv), name


@pytest.mark.parametrize("name", ["rot90", "rot270_hflip"])
def test_decode_packets_filter_and_writer_paths(clips: dict[str, Clip], name: str) -> None:
    clip = clips[name]
    packets = spdl.io.demux_media("video", clip.path).result()
    frames = spdl.io.decode_packets(packets, pix_fmt="yuv420p").result()
    assert np.array_equal(np.asarray(spdl.io.convert_frames(frames).result()), clip.yuv)
    frames = spdl.io.decode_packets(packets).result()  # rgb24 by FFmpeg's format filter
    _close(np.asarray(spdl.io.convert_frames(frames).result()), clip.rgb)
    # Straight into one buffer: the native writer.
    buffer = _native.decode_to_buffer(packets, _decode_plan(pix_fmt="rgb24"))
    _close(np.asarray(buffer), clip.rgb)


def _decode_plan(**options: Any) -> _native.DecodePlan:
    from spdl.io._core.decode import make_plan

    return make_plan("video", None, options)


@pytest.mark.parametrize("name", ["rot90", "hflip"])
def test_width_and_height_are_those_of_the_shown_frame(clips: dict[str, Clip], name: str) -> None:
    clip = clips[name]
    for kwargs in ({}, {"pix_fmt": "yuv444p"}):
        array = np.asarray(spdl.io.load_video(clip.path, width=20, height=30, **kwargs))
        assert array.shape[-3:-1] == (30, 20) or array.shape[-2:] == (30, 20)
    packets = spdl.io.demux_media("video", clip.path).result()
    frames = spdl.io.decode_packets(packets, width=20, height=30).result()
    assert np.asarray(spdl.io.convert_frames(frames).result()).shape == (NUM_FRAMES, 30, 20, 3)


@pytest.mark.parametrize("mode", MODES)
def test_keeping_the_stored_orientation(clips: dict[str, Clip], mode: str) -> None:
    for name, clip in clips.items():
        with _demux_mode(mode):
            kept = spdl.io.load_video(clip.path, pix_fmt="yuv420p", apply_display_matrix=False)
            packets = spdl.io.demux_media("video", clip.path).result()
        assert np.array_equal(np.asarray(kept), clip.stored_yuv), name
        frames = spdl.io.decode_packets(
            packets, pix_fmt="yuv420p", apply_display_matrix=False
        ).result()
        assert np.array_equal(np.asarray(spdl.io.convert_frames(frames).result()), clip.stored_yuv)
        rgb = spdl.io.load_video(clip.path, apply_display_matrix=False)
        assert np.asarray(rgb).shape == (NUM_FRAMES, HEIGHT, WIDTH, 3)


@pytest.mark.parametrize("mode", MODES)
def test_load_video_windows(clips: dict[str, Clip], mode: str) -> None:
    windows = [(0.0, 0.5), (0.3, 0.9), (1.0, 1.4)]
    pts = np.asarray(clips["rot90"].pts)
    for name in ("rot90", "rot180", "rot270_hflip"):
        clip = clips[name]
        with _demux_mode(mode):
            buffers = spdl.io.load_video_windows(clip.path, windows)
            planar = spdl.io.load_video_windows(clip.path, windows, pix_fmt="yuv420p")
        for (start, end), buffer, yuv in zip(windows, buffers, planar, strict=True):
            inside = (pts >= start) & (pts < end)
            _close(np.asarray(buffer), clip.rgb[inside])
            assert np.array_equal(np.asarray(yuv), clip.yuv[inside]), name


@pytest.mark.parametrize("mode", MODES)
def test_streaming_windows_share_a_session_and_stay_upright(
    clips: dict[str, Clip], mode: str
) -> None:
    clip = clips["rot270"]
    pts = np.asarray(clip.pts)
    windows = [(0.0, 0.4), (0.4, 0.8), (0.8, 1.4)]
    with _demux_mode(mode):
        for (start, end), packets in zip(
            windows, spdl.io.streaming_demux("video", clip.path, windows), strict=True
        ):
            frames = spdl.io.decode_packets(packets.result(), pix_fmt="yuv420p").result()
            inside = (pts >= start) & (pts < end)
            actual = np.asarray(spdl.io.convert_frames(frames).result())
            assert np.array_equal(actual, clip.yuv[inside])


@pytest.mark.parametrize("mode", MODES)
def test_exact_frames_and_clip_samplers(clips: dict[str, Clip], mode: str) -> None:
    indices = [7, 0, 13, 7, 2]
    for name in ("rot90", "vflip", "rot90_hflip"):
        clip = clips[name]
        with _demux_mode(mode):
            batch = spdl.io.load_video_frames(clip.path, indices)
            planar = spdl.io.load_video_frames(clip.path, indices, pix_fmt="yuv420p")
            index = spdl.io.index_video(clip.path)
            kept = spdl.io.load_video_frames(
                clip.path, indices, index=index, pix_fmt="yuv420p", apply_display_matrix=False
            )
            clips_batch = spdl.io.clips_at_regular_indices(
                clip.path, num_clips=2, num_frames_per_clip=3, index=index
            )
        _close(np.asarray(batch.data), clip.rgb[indices])
        assert np.array_equal(np.asarray(planar.data), clip.yuv[indices]), name
        assert np.array_equal(np.asarray(kept.data), clip.stored_yuv[indices]), name
        data = np.asarray(clips_batch.data)
        assert data.shape == (2, 3, index.height, index.width, 3)
        seconds = np.asarray(clips_batch.pts_seconds).reshape(-1)
        chosen = [int(np.argmin(np.abs(np.asarray(clip.pts) - s))) for s in seconds]
        _close(data.reshape(-1, *data.shape[2:]), clip.rgb[chosen])


def test_in_memory_and_file_like_sources(clips: dict[str, Clip]) -> None:
    clip = clips["rot90_hflip"]
    data = clip.path.read_bytes()
    assert np.array_equal(np.asarray(spdl.io.load_video(data, pix_fmt="yuv420p")), clip.yuv)
    with open(clip.path, "rb") as f:
        buffer = spdl.io.load_video(f, pix_fmt="yuv420p")
        assert np.array_equal(np.asarray(buffer), clip.yuv)


def test_the_track_header_reader_follows_ffmpeg(clips: dict[str, Clip]) -> None:
    """The matrix read from the file's bytes is the one FFmpeg's mov demuxer gives; a
    file-like source is left where it was; a clip without a matrix gives none."""
    for clip in clips.values():
        data = clip.path.read_bytes()
        reader = io.BytesIO(data)
        with av.open(reader) as container:
            position = reader.tell()
            matrix = read_display_matrix(container, 0)
            assert reader.tell() == position
        assert np.array_equal(np.frombuffer(matrix, np.int32), clip.matrix.astype(np.int32))
    plain = io.BytesIO()
    _write(plain, 0, False, False)
    with av.open(io.BytesIO(plain.getvalue())) as container:
        assert read_display_matrix(container, 0) == b""
    packets = spdl.io.demux_media("video", plain.getvalue()).result()
    assert packets.display_orientation == 1
    assert _demux.describe_source(plain.getvalue())  # the source still opens as usual


def test_the_option_is_checked_at_call_time(clips: dict[str, Clip]) -> None:
    clip = clips["rot90"]
    with pytest.raises(TypeError, match="apply_display_matrix must be a bool"):
        spdl.io.load_video(clip.path, apply_display_matrix="no")
    with pytest.raises(ValueError, match="apply_display_matrix"):
        spdl.io.load_image(clip.path, apply_display_matrix=True)  # images: EXIF orientation


@pytest.mark.parametrize("name", list(CASES))
def test_nvdec_planes_turn_as_the_cpu_decoder_turns(clips: dict[str, Clip], name: str) -> None:
    """NVDEC's NV12 planes, turned on the device with the array calls the GPU path
    makes (run here with NumPy), equal the CPU decoder's upright NV12."""
    clip = clips[name]
    packets = spdl.io.demux_media("video", clip.path).result()
    stored = np.asarray(spdl.io.load_video(clip.path, pix_fmt="nv12", apply_display_matrix=False))
    shown = np.asarray(spdl.io.load_video(clip.path, pix_fmt="nv12"))
    for frame, expected in zip(stored, shown, strict=True):
        luma, chroma = frame[0, :HEIGHT], frame[0, HEIGHT:]
        upright_luma, upright_chroma = upright_nv12(np, luma, chroma, packets.display_orientation)
        assert upright_luma.flags.c_contiguous and upright_chroma.flags.c_contiguous
        assert np.array_equal(np.concatenate([upright_luma, upright_chroma]), expected[0])
    # The crop counts in the frame as shown.
    options = validate_nvdec_options(packets, 0, None, None, (0, 0, 0, 0), "rgb")
    assert options.orientation == packets.display_orientation
    shown_width = HEIGHT if name in SWAPPED else WIDTH
    with pytest.raises(ValueError, match="leaves nothing"):
        validate_nvdec_options(
            packets, 0, None, None, (shown_width // 2, 0, shown_width // 2, 0), "rgb"
        )
    kept = validate_nvdec_options(packets, 0, None, None, (0, 0, 0, 0), "rgb", False)
    assert kept.orientation == 1


def test_damaged_track_headers_give_no_matrix(clips: dict[str, Clip]) -> None:
    """Truncated or looping box sizes end the walk with no matrix, never an error."""
    from spdl.io._core.display_matrix import _from_reader

    data = clips["rot90"].path.read_bytes()
    moov = data.index(b"moov") - 4
    for damaged in (
        data[: moov + 40],  # cut inside the movie header
        data[:moov] + b"\x00\x00\x00\x08moov" * 10_000,  # empty boxes, over and over
        data[:moov] + b"\x00\x00\x00\x01moov" + b"\x00" * 8,  # a 64-bit size of 0
        b"\xff" * 64,
    ):

        def read_at(pos: int, size: int, damaged: bytes = damaged) -> bytes:
            return damaged[pos : pos + size]

        assert _from_reader(read_at, 0) == b""
    intact = _from_reader(lambda pos, size: data[pos : pos + size], 0)
    assert np.array_equal(np.frombuffer(intact, np.int32), clips["rot90"].matrix.astype(np.int32))
