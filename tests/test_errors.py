"""Errors: bad arguments raise ValueError/TypeError, bad media raises spdl.io.MediaError.

Nothing here may crash the interpreter; messages name the source where there is one.
"""

from __future__ import annotations

import io
import math
import pathlib
import struct
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import av
import numpy as np
import pytest
from media import AudioReference, ImageReference, VideoReference, encode_video, ffmpeg_image_bytes
from reference_decode import mean_abs_diff

import spdl._native
import spdl.io
from spdl import _native
from spdl.io._core.convert import convert
from spdl.io._core.decode import decode
from spdl.io._core.demux import demux


def test_media_error_is_a_runtime_error() -> None:
    assert issubclass(spdl.io.MediaError, RuntimeError)
    assert not issubclass(spdl.io.MediaError, ValueError)


@pytest.fixture(scope="module")
def broken_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("broken")


@pytest.mark.parametrize("loader", ["load_image", "load_audio", "load_video"])
def test_missing_file_error_names_the_path(broken_dir: pathlib.Path, loader: str) -> None:
    path = broken_dir / "does_not_exist.mp4"
    with pytest.raises((FileNotFoundError, spdl.io.MediaError)) as excinfo:
        getattr(spdl.io, loader)(path)
    assert str(path) in str(excinfo.value)


@pytest.mark.parametrize("loader", ["load_image", "load_audio", "load_video"])
def test_empty_file_raises_media_error_naming_the_path(
    broken_dir: pathlib.Path, loader: str
) -> None:
    path = broken_dir / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(spdl.io.MediaError) as excinfo:
        getattr(spdl.io, loader)(path)
    assert str(path) in str(excinfo.value)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("loader", ["load_image", "load_audio", "load_video"])
def test_random_bytes_raise_media_error(loader: str, seed: int) -> None:
    data = np.random.default_rng(seed).bytes(4096)
    with pytest.raises(spdl.io.MediaError):
        getattr(spdl.io, loader)(data)


def test_random_bytes_file_error_names_the_path(broken_dir: pathlib.Path) -> None:
    path = broken_dir / "noise.jpg"
    path.write_bytes(np.random.default_rng(99).bytes(4096))
    with pytest.raises(spdl.io.MediaError) as excinfo:
        spdl.io.load_image(path)
    assert str(path) in str(excinfo.value)


def test_mp4_truncated_before_its_index_raises_media_error(
    broken_dir: pathlib.Path, h264_video: VideoReference
) -> None:
    # PyAV's MP4 muxer writes the index (moov) at the end, so half a file has none.
    data = h264_video.path.read_bytes()
    path = broken_dir / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(spdl.io.MediaError) as excinfo:
        spdl.io.load_video(path)
    assert str(path) in str(excinfo.value)


def test_mpegts_truncated_mid_stream_decodes_what_pyav_decodes_without_error(
    broken_dir: pathlib.Path, h264_video_mpegts: pathlib.Path
) -> None:
    # Observed outcome: no exception; the frames before the cut, exactly as PyAV decodes them.
    data = h264_video_mpegts.read_bytes()
    path = broken_dir / "truncated.ts"
    path.write_bytes(data[: len(data) * 6 // 10 + 77])  # cut inside a TS packet
    with av.open(str(path)) as container:
        reference = [(frame.time, frame.to_ndarray(format="rgb24")) for frame in container.decode()]
    assert 0 < len(reference) < 90

    frames = decode(demux("video", path))
    assert frames.pts == pytest.approx([time for time, _ in reference], abs=1e-6)
    array = spdl.io.to_numpy(convert(frames))
    assert array.shape == (len(reference), 64, 96, 3)
    for index, (_, expected) in enumerate(reference):
        assert mean_abs_diff(array[index], expected) <= 3.0, f"frame {index}"


def test_audio_only_file_demuxed_as_video_names_the_source(aac_audio: AudioReference) -> None:
    with pytest.raises(spdl.io.MediaError) as excinfo:
        demux("video", aac_audio.path)
    assert str(aac_audio.path) in str(excinfo.value)
    with pytest.raises(spdl.io.MediaError) as excinfo:
        spdl.io.load_video(aac_audio.path)
    assert str(aac_audio.path) in str(excinfo.value)


def test_video_only_file_loaded_as_audio_names_the_source(h264_video: VideoReference) -> None:
    with pytest.raises(spdl.io.MediaError) as excinfo:
        spdl.io.load_audio(h264_video.path)
    assert str(h264_video.path) in str(excinfo.value)


def test_unknown_decoder_name_raises_value_error(h264_video: VideoReference) -> None:
    packets = demux("video", h264_video.path, (0.0, 0.5))
    with pytest.raises(ValueError, match="no_such_decoder"):
        decode(packets, decoder="no_such_decoder")


@pytest.mark.parametrize("option", ["width", "height"])
def test_negative_size_raises_value_error(
    image_files: dict[str, ImageReference], option: str
) -> None:
    with pytest.raises(ValueError, match=option):
        spdl.io.load_image(image_files["png"].path, **{option: -8})


@pytest.mark.parametrize(
    ("loader", "options", "name"),
    [
        ("load_image", {"width": 2**31, "height": 4}, "width"),
        ("load_image", {"height": 2**40}, "height"),
        ("load_image", {"num_threads": 2**31}, "num_threads"),
        ("load_video", {"num_frames": 2**31}, "num_frames"),
        # FFmpeg's fps filter takes a C int rate: 2**40 "decoded no frame".
        ("load_video", {"frame_rate": 2**40}, "frame_rate"),
        ("load_video", {"frame_rate": 2.5e9}, "frame_rate"),
        ("load_video", {"frame_rate": 1e-7}, "frame_rate"),  # was rounded to 0
        ("load_video", {"frame_rate": (1, 3_000_000)}, "frame_rate"),
        ("load_audio", {"sample_rate": 2**31}, "sample_rate"),
        ("load_audio", {"sample_rate": 999}, "sample_rate"),
        ("load_audio", {"num_channels": 2**40}, "num_channels"),
    ],
)
def test_int_options_out_of_range_raise_value_error_naming_the_option(
    image_files: dict[str, ImageReference],
    h264_video: VideoReference,
    wav_audio: AudioReference,
    loader: str,
    options: dict[str, int],
    name: str,
) -> None:
    # Past the native core's C int, nanobind's TypeError listed DecodePlan's signature
    # (the Future forms raised it from the decode); a sample rate of 1 decoded nothing.
    src = {"load_image": image_files["png"], "load_video": h264_video, "load_audio": wav_audio}
    with pytest.raises(ValueError, match=f"^{name} must be at"):
        getattr(spdl.io, loader)(src[loader].path, **options)
    packets = spdl.io.demux_media(loader.removeprefix("load_"), src[loader].path).result()
    with pytest.raises(ValueError, match=f"^{name} must be at"):
        spdl.io.decode_packets(packets, **options)


def test_int_options_of_a_batch_out_of_range_raise_value_error(
    image_files: dict[str, ImageReference],
) -> None:
    path = image_files["png"].path
    with pytest.raises(ValueError, match="^width must be at most 2147483647"):
        spdl.io.batch_load_image([path], 2**31, 4)
    for make in (
        lambda: spdl.io.CropBox(0, 0, 2**31, 1),
        lambda: spdl.io.CropBox(2**31, 0, 1, 1),
        lambda: spdl.io.CenterCrop(2**31),
        lambda: spdl.io.CenterCrop(4, resize=2**40),
    ):
        with pytest.raises(ValueError, match="must be at most 2147483647"):
            make()


def test_bools_are_not_taken_as_int_options(wav_audio: AudioReference) -> None:
    with pytest.raises(TypeError, match="sample_rate must be an int"):
        spdl.io.load_audio(wav_audio.path, sample_rate=True)
    with pytest.raises(TypeError, match="timestamp values must be numbers"):
        spdl.io.load_audio(wav_audio.path, (np.bool_(False), 0.5))


def test_unknown_pix_fmt_raises_value_error(image_files: dict[str, ImageReference]) -> None:
    with pytest.raises(ValueError, match="no_such_format"):
        spdl.io.load_image(image_files["png"].path, pix_fmt="no_such_format")


@pytest.mark.skipif(_native.pix_fmt_is_output("nv16"), reason="this FFmpeg writes nv16")
def test_a_pix_fmt_swscale_cannot_write_is_refused_when_called(
    image_files: dict[str, ImageReference], h264_video: VideoReference
) -> None:
    # FFmpeg 5.1 knows nv16 but cannot convert to it: refused at once, not after
    # demuxing and decoding ("Failed to build the filter graph ... not implemented").
    for call in (
        lambda: spdl.io.load_image(image_files["png"].path, pix_fmt="nv16"),
        lambda: spdl.io.load_video(h264_video.path, pix_fmt="nv16"),
        lambda: spdl.io.load_video_frames(h264_video.path, [0], pix_fmt="nv16"),
    ):
        with pytest.raises(ValueError, match="'nv16' is not an output format"):
            call()


def test_unknown_sample_fmt_raises_value_error(wav_audio: AudioReference) -> None:
    with pytest.raises(ValueError, match="no_such_format"):
        spdl.io.load_audio(wav_audio.path, sample_fmt="no_such_format")


def test_unknown_pad_mode_raises_value_error(h264_video: VideoReference) -> None:
    with pytest.raises(ValueError, match="sideways"):
        spdl.io.load_video(h264_video.path, (0.0, 0.5), num_frames=20, pad_mode="sideways")


def test_unknown_media_type_raises_value_error(h264_video: VideoReference) -> None:
    with pytest.raises(ValueError, match="hologram"):
        spdl.io.demux_media("hologram", h264_video.path)


@pytest.mark.parametrize("window", [(2.0, 1.0), (1.0, 1.0)])
def test_empty_or_reversed_window_raises_value_error(
    h264_video: VideoReference, window: tuple[float, float]
) -> None:
    with pytest.raises(ValueError):
        spdl.io.demux_media("video", h264_video.path, window)


@pytest.mark.parametrize("window", [(1e300, 1e301), (2**62, 2**63), (0.0, 1e12)])
def test_a_window_past_what_a_stream_time_holds_raises_value_error(
    h264_video: VideoReference, wav_audio: AudioReference, window: tuple[float, float]
) -> None:
    # Not an OverflowError from the conversion to the stream's time base.
    with pytest.raises(ValueError, match="at most 1e\\+09 s"):
        spdl.io.load_video(h264_video.path, window)
    with pytest.raises(ValueError, match="at most 1e\\+09 s"):
        spdl.io.load_audio(wav_audio.path, window)
    everything = spdl.io.to_numpy(spdl.io.load_audio(wav_audio.path))
    to_the_end = spdl.io.to_numpy(spdl.io.load_audio(wav_audio.path, (0.0, math.inf)))
    np.testing.assert_array_equal(to_the_end, everything)


@pytest.mark.parametrize("src", [12345, 3.5, None, ["clip.mp4"]], ids=repr)
def test_wrong_source_type_raises_type_error(src: object) -> None:
    with pytest.raises(TypeError):
        spdl.io.demux_media("video", src)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        spdl.io.load_image(src)


def _write_wbmp(path: pathlib.Path) -> None:
    """Writes a 32x16 black WBMP image, a codec FFmpeg only learned after 5.1."""
    path.write_bytes(ffmpeg_image_bytes("wbmp", np.zeros((16, 32, 3), np.uint8), "monob"))


def test_codec_missing_from_system_ffmpeg_raises_media_error_naming_it(
    broken_dir: pathlib.Path,
) -> None:
    path = broken_dir / "black.wbmp"
    _write_wbmp(path)
    major = int(spdl._native.libavcodec_version.removeprefix("Lavc").split(".")[0])
    try:
        array = spdl.io.to_numpy(spdl.io.load_image(path))
    except spdl.io.MediaError as error:
        assert "wbmp" in str(error)
        assert "system FFmpeg" in str(error)
        assert str(path) in str(error)
    else:
        # Only a system FFmpeg newer than 5.1 (libavcodec 59) may know WBMP.
        assert major >= 60, "FFmpeg 5.1 has no WBMP decoder, yet the image decoded"
        assert array.shape == (16, 32, 3)
        assert array.max() == 0


@pytest.mark.parametrize(
    ("argument", "kind"), [("demux_options", "demux"), ("convert_options", "convert")]
)
def test_unknown_load_media_option_raises_type_error_naming_it(
    image_files: dict[str, ImageReference], argument: str, kind: str
) -> None:
    with pytest.raises(TypeError, match=f"Unexpected {kind} option.*no_such_option"):
        spdl.io.load_media("image", image_files["jpeg"].path, **{argument: {"no_such_option": 1}})


def test_packets_whose_codec_is_of_another_media_type_raise_media_error(
    h264_video: VideoReference, aac_audio: AudioReference
) -> None:
    """Every decoder opens through one check: the codec must be of the packets' kind."""
    video = demux("video", h264_video.path, (0.0, 0.5))
    audio = demux("audio", aac_audio.path, (0.0, 0.5))
    as_video = spdl._native.VideoPackets(str(aac_audio.path), audio.params, audio.time_base)
    as_audio = spdl._native.AudioPackets(str(h264_video.path), video.params, video.time_base)
    as_video.add(b"\x00" * 64, 0, 0, 1, True)
    as_audio.add(b"\x00" * 64, 0, 0, 1, True)
    with pytest.raises(spdl.io.MediaError, match=r'aac.m4a: "aac" is not a video codec'):
        decode(as_video)
    with pytest.raises(spdl.io.MediaError, match=r'\.mp4: "h264" is not an audio codec'):
        decode(as_audio)
    with pytest.raises(spdl.io.MediaError, match='"aac" is not a video codec'):
        plan = spdl._native.DecodePlan(pix_fmt="rgb24")
        spdl._native.decode_windows([as_video], [(0, 10**6)], plan)
    # Asked for, its pixel format stays unknown rather than raising.
    assert as_video.pix_fmt == ""


def test_frame_selections_and_windows_take_spans_of_one_video_stream(
    h264_video: VideoReference, aac_audio: AudioReference, tmp_path: pathlib.Path
) -> None:
    video = demux("video", h264_video.path, (0.0, 0.5))
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(h264_video.path.read_bytes())
    other = demux("video", copy, (0.5, 1.0))
    plan = spdl._native.DecodePlan(pix_fmt="rgb24")
    calls = {
        "decode_windows_to_buffers": lambda spans: spdl._native.decode_windows(
            spans, [(0, 10**6)], plan
        ),
        "The frame selection": lambda spans: spdl._native.decode_frames_at(spans, [0], [1], plan),
    }
    for who, call in calls.items():
        with pytest.raises(ValueError, match=f"^{who} needs at least one span of packets"):
            call([])
        with pytest.raises(ValueError, match=f"^{who} takes spans of one video stream; got"):
            call([video, other])
        audio = demux("audio", aac_audio.path, (0.0, 0.5))
        with pytest.raises(ValueError, match="copy.mp4|aac.m4a"):
            call([video, audio])


def _wav_without_a_decoder() -> bytes:
    """A WAV whose fmt chunk says IEEE float with 16-bit samples: FFmpeg has no decoder."""
    data = bytearray(_wav_declaring(16000))
    at = data.find(b"fmt ")
    data[at + 8 : at + 10] = struct.pack("<H", 3)
    return bytes(data)


def test_an_audio_window_of_a_codec_without_a_decoder_is_a_media_error() -> None:
    # With a window, the seek's pre-roll read the codec first: AttributeError on None.
    data = _wav_without_a_decoder()
    for options in ({}, {"timestamp": (0.0, 0.05)}):
        with pytest.raises(spdl.io.MediaError, match="no known codec"):
            spdl.io.load_audio(data, **options)


class _Reader(io.RawIOBase):
    """A seekable file-like object over ``file`` whose ``read`` calls ``on_read(n)``
    first, with the number of the read (1, 2, ...)."""

    def __init__(self, file: Any, on_read: Callable[[int], None], name: str = "") -> None:
        self._file, self._on_read, self._reads = file, on_read, 0
        self.name = name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def read(self, size: int = -1) -> bytes:
        self._reads += 1
        self._on_read(self._reads)
        return self._file.read(size)


def _exiting_reader(data: bytes) -> _Reader:
    """Reads once, then raises SystemExit (as a framework's cancellation might)."""

    def on_read(count: int) -> None:
        if count > 1:
            raise SystemExit("raised by read()")

    return _Reader(io.BytesIO(data), on_read)


def test_a_stream_whose_source_raises_a_base_exception_fails_every_window(
    h264_video: VideoReference, capfd: pytest.CaptureFixture[str]
) -> None:
    # The windows' Futures waited forever: only an Exception was set on them.
    source = _exiting_reader(h264_video.path.read_bytes())
    futures = spdl.io.streaming_demux("video", source, [(0, 0.3), (0.3, 0.6)])
    for future in futures:
        with pytest.raises(SystemExit, match="raised by read"):
            future.result(timeout=30)
    assert "exception being dropped" not in capfd.readouterr().err


def _wav_declaring(rate: int) -> bytes:
    """4800 samples of a mono 16-bit WAV whose header says ``rate`` Hz."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 4800), np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
    data = bytearray(buffer.getvalue())
    at = data.find(b"fmt ")
    data[at + 12 : at + 20] = struct.pack("<II", rate, rate * 2)  # sample and byte rate
    return bytes(data)


@pytest.mark.parametrize(
    ("rate", "output", "match"),
    [(1, 16000, "more than 1024 output samples per input sample"), (10**9, 44100, "outside")],
)
def test_resampling_a_corrupt_sample_rate_is_refused(rate: int, output: int, match: str) -> None:
    # Decompression bombs: a 96 KB WAV declaring 1 Hz gave 2.9 GB at 16 kHz, and
    # 1e9 Hz took 8 s and 1.4 GB to set up the resampler.
    with pytest.raises(spdl.io.MediaError, match=match):
        spdl.io.load_audio(_wav_declaring(rate), sample_rate=output)


def test_frame_rate_on_a_corrupt_time_base_ends(tmp_path: pathlib.Path) -> None:
    # An AVI whose stream header makes each frame last 2**31-1 s: fps repeated the last
    # frame for that long and the decode never returned. The filters now take a frame
    # to last at most 60 s (a tick longer than that: none).
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="avi") as container:
        stream = container.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuvj420p"
        for i in range(6):
            frame = np.full((24, 32, 3), 40 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = bytearray(buffer.getvalue())
    at = data.find(b"strh") + 8
    data[at + 20 : at + 28] = struct.pack("<II", 2**31 - 1, 1)  # dwScale, dwRate
    path = tmp_path / "corrupt.avi"
    path.write_bytes(bytes(data))
    code = (
        "import sys, spdl.io\n"
        "try:\n"
        "    spdl.io.load_video(sys.argv[1], timestamp=(0, 0.3), frame_rate=30)\n"
        "except spdl.io.MediaError as error:\n"
        "    print('MediaError', error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("MediaError") and "corrupt.avi" in done.stdout


def test_frame_rate_keeps_a_last_frames_duration_under_a_minute(tmp_path: pathlib.Path) -> None:
    # The 60 s bound leaves ordinary frames alone: 10 fps to 30 fps repeats the last
    # frame for its 0.1 s, as FFmpeg's fps filter does.
    path = tmp_path / "ten.mp4"
    frames = [np.full((16, 16, 3), 20 * i, np.uint8) for i in range(10)]
    encode_video(path, frames, width=16, height=16, frame_rate=10)
    assert spdl.io.to_numpy(spdl.io.load_video(path, frame_rate=30)).shape[0] == 30


def test_audio_whose_header_declares_74000_hours_loads_what_it_holds() -> None:
    # The output was reserved for the declared duration: MemoryError (std::bad_alloc),
    # no source, although the 0.3 s of audio decode.
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=16000, layout="mono")
        tone = (np.sin(np.arange(1152) / 5)[None] * 8000).astype(np.int16)
        for i in range(5):
            frame = av.AudioFrame.from_ndarray(tone, format="s16p", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1152
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = bytearray(buffer.getvalue())
    at = max(data.find(b"Info"), data.find(b"Xing"))
    data[at + 8 : at + 12] = struct.pack(">I", 0x7FFFFFFF)  # the declared frame count
    whole = spdl.io.to_numpy(spdl.io.load_audio(bytes(data)))
    packets = spdl.io.demux_media("audio", bytes(data)).result()
    frames = spdl.io.decode_packets(packets).result()
    np.testing.assert_array_equal(whole, spdl.io.to_numpy(spdl.io.convert_frames(frames).result()))


def test_a_high_sample_rate_loads_when_not_resampled() -> None:
    # A radio recording saved as WAV at 20 MHz: only resampling it is refused.
    data = _wav_declaring(20_000_000)
    assert spdl.io.to_numpy(spdl.io.load_audio(data)).shape == (1, 4800)
    with pytest.raises(spdl.io.MediaError, match="outside"):
        spdl.io.load_audio(data, sample_rate=16000)


def _closing_reader(path: pathlib.Path) -> _Reader:
    """A file closed by someone else at its third read (after the open)."""
    file = open(path, "rb")  # noqa: SIM115

    def on_read(count: int) -> None:
        if count == 3:
            file.close()

    return _Reader(file, on_read, str(path))


def test_a_file_object_closed_mid_read_is_a_media_error_naming_it(
    tmp_path: pathlib.Path,
) -> None:
    # It was a bare ValueError("read of closed file"), which a loop skipping MediaErrors
    # did not catch.
    path = tmp_path / "small.mp4"  # read whole by the open's first reads
    frames = [np.full((16, 16, 3), 8 * i, np.uint8) for i in range(30)]
    encode_video(path, frames, width=16, height=16)
    for load in (
        lambda f: spdl.io.load_video(f),
        lambda f: spdl.io.load_video_windows(f, [(0, 0.5)]),
    ):
        with pytest.raises(spdl.io.MediaError, match=f"Failed to read {path}: ValueError"):
            load(_closing_reader(path))
