"""Test media: what the session fixtures write, and what was written into it.

Every file is small (the whole set is well under 1 MB) and generated with PyAV
and Pillow. Each reference records what the *source* data was (the exact pixels
written to lossless images, the exact PCM written to WAV) and what PyAV's own
decoder makes of the lossy files, so tests compare spdl against a reference decode.
"""

from __future__ import annotations

import dataclasses
import pathlib

import av
import numpy as np
from PIL import Image

VIDEO_WIDTH = 96
VIDEO_HEIGHT = 64
VIDEO_FRAME_RATE = 30
VIDEO_NUM_FRAMES = 90  # 3 seconds
VIDEO_GOP_SIZE = 15  # six key frames in the clip
VIDEO_MAX_B_FRAMES = 2

AAC_SAMPLE_RATE = 44100
AAC_DURATION_S = 2

WAV_SAMPLE_RATE = 16000
WAV_NUM_SAMPLES = 16000  # 1 second


@dataclasses.dataclass(frozen=True)
class VideoReference:
    """An H.264 clip and PyAV's decode of it."""

    path: pathlib.Path
    width: int
    height: int
    frame_rate: int
    times: tuple[float, ...]  # PyAV's ``frame.time`` of every decoded frame, in order
    rgb24: np.ndarray  # (N, H, W, 3) uint8, PyAV's conversion
    yuv420p: np.ndarray  # (N, H * 3 // 2, W) uint8, the decoder's own output


@dataclasses.dataclass(frozen=True)
class AudioReference:
    """An audio file, what was encoded into it, and PyAV's decode of it."""

    path: pathlib.Path
    sample_rate: int
    num_channels: int
    codec_name: str
    native_sample_fmt: str
    source: np.ndarray  # what was encoded, (channels, samples)
    decoded: np.ndarray  # PyAV's decode in the native format, (channels, samples)


@dataclasses.dataclass(frozen=True)
class ImageReference:
    """A still image file and the exact pixels that were written into it."""

    kind: str
    path: pathlib.Path
    width: int
    height: int
    codec_name: str
    native_pix_fmt: str
    lossless: bool
    source_rgb: np.ndarray  # (H, W, 3) uint8 handed to Pillow


def smooth_rgb(width: int, height: int, phase: float) -> np.ndarray:
    """A smooth colour pattern whose content moves with ``phase`` (no hard edges)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 128 + 100 * np.sin(2 * np.pi * (x / width + phase / 3))
    green = 128 + 100 * np.sin(2 * np.pi * (y / height - phase / 4))
    blue = 128 + 100 * np.sin(2 * np.pi * ((x + y) / (width + height) + phase / 2))
    return np.stack([red, green, blue], axis=-1).clip(0, 255).astype(np.uint8)


def write_h264_video(path: pathlib.Path) -> VideoReference:
    """3 s, 30 fps, 96x64 H.264 yuv420p with B-frames and a key frame every 15 frames."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=VIDEO_FRAME_RATE)
        stream.width = VIDEO_WIDTH
        stream.height = VIDEO_HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.options = {
            "g": str(VIDEO_GOP_SIZE),
            "bf": str(VIDEO_MAX_B_FRAMES),
            "crf": "18",
        }
        for index in range(VIDEO_NUM_FRAMES):
            rgb = smooth_rgb(VIDEO_WIDTH, VIDEO_HEIGHT, index / VIDEO_FRAME_RATE)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)

    times, rgb24, yuv420p = [], [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            times.append(frame.time)
            rgb24.append(frame.to_ndarray(format="rgb24"))
            yuv420p.append(frame.to_ndarray(format="yuv420p"))
    assert len(times) == VIDEO_NUM_FRAMES
    return VideoReference(
        path=path,
        width=VIDEO_WIDTH,
        height=VIDEO_HEIGHT,
        frame_rate=VIDEO_FRAME_RATE,
        times=tuple(times),
        rgb24=np.stack(rgb24),
        yuv420p=np.stack(yuv420p),
    )


def write_h264_yuv422p_video(path: pathlib.Path, colorspace: int, full_range: bool) -> None:
    """Three 70x48 frames of noise, H.264 4:2:2, tagged with ``colorspace`` (an
    AVColorSpace value) and full or limited range. 70 is not a multiple of 16, so
    that the last pixels of a row take the converters' scalar code."""
    rng = np.random.default_rng(7)
    range_value = 2 if full_range else 1  # AVCOL_RANGE_JPEG / AVCOL_RANGE_MPEG
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=VIDEO_FRAME_RATE)
        stream.width, stream.height, stream.pix_fmt = 70, 48, "yuv422p"
        stream.codec_context.colorspace = colorspace
        stream.codec_context.color_range = range_value
        for _ in range(3):
            rgb = rng.integers(0, 256, (48, 70, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv422p")
            frame.colorspace, frame.color_range = colorspace, range_value
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def remux_video_to_mpegts(source_path: pathlib.Path, path: pathlib.Path) -> None:
    """Copy the video stream of ``source_path`` into MPEG-TS, which survives truncation."""
    with av.open(str(source_path)) as source, av.open(str(path), "w", "mpegts") as target:
        in_stream = source.streams.video[0]
        out_stream = target.add_stream_from_template(in_stream)
        for packet in source.demux(in_stream):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = out_stream
            target.mux(packet)


def _pyav_decode_audio(path: pathlib.Path) -> np.ndarray:
    with av.open(str(path)) as container:
        chunks = [frame.to_ndarray() for frame in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1)


def _encode_audio(
    path: pathlib.Path, codec: str, sample_fmt: str, layout: str, rate: int, source: np.ndarray
) -> None:
    chunk = 1024
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        for offset in range(0, source.shape[1], chunk):
            samples = np.ascontiguousarray(source[:, offset : offset + chunk])
            frame = av.AudioFrame.from_ndarray(samples, format=sample_fmt, layout=layout)
            frame.sample_rate = rate
            frame.pts = offset
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_aac_audio(path: pathlib.Path) -> AudioReference:
    """2 s of AAC stereo at 44.1 kHz in M4A: a 440 Hz sine left, a 660 Hz sine right."""
    t = np.arange(AAC_SAMPLE_RATE * AAC_DURATION_S) / AAC_SAMPLE_RATE
    source = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)])
    source = source.astype(np.float32)
    _encode_audio(path, "aac", "fltp", "stereo", AAC_SAMPLE_RATE, source)
    return AudioReference(
        path=path,
        sample_rate=AAC_SAMPLE_RATE,
        num_channels=2,
        codec_name="aac",
        native_sample_fmt="fltp",
        source=source,
        decoded=_pyav_decode_audio(path),
    )


def write_wav_audio(path: pathlib.Path) -> AudioReference:
    """1 s of mono pcm_s16le WAV at 16 kHz: a 300 Hz sine plus seeded noise."""
    rng = np.random.default_rng(0)
    t = np.arange(WAV_NUM_SAMPLES) / WAV_SAMPLE_RATE
    pcm = 8000 * np.sin(2 * np.pi * 300 * t) + rng.integers(-2000, 2000, WAV_NUM_SAMPLES)
    source = pcm.astype(np.int16)[None, :]
    _encode_audio(path, "pcm_s16le", "s16", "mono", WAV_SAMPLE_RATE, source)
    decoded = _pyav_decode_audio(path)
    assert np.array_equal(decoded, source)  # PCM round-trips exactly
    return AudioReference(
        path=path,
        sample_rate=WAV_SAMPLE_RATE,
        num_channels=1,
        codec_name="pcm_s16le",
        native_sample_fmt="s16",
        source=source,
        decoded=decoded,
    )


def write_multichannel_wav(path: pathlib.Path, layout: str = "5.1.4") -> AudioReference:
    """0.375 s of pcm_s16le WAV at 8 kHz in ``layout`` (5.1.4: ten channels, a layout
    that PyAV's FFmpeg names and FFmpeg 5.1 does not); each channel its own ramp."""
    num_channels = av.AudioLayout(layout).nb_channels
    num_samples = 3000
    index = np.arange(num_channels * num_samples, dtype=np.int64)
    interleaved = (index * 7919 % 65536 - 32768).astype(np.int16)
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000, layout=layout)
        frame = av.AudioFrame.from_ndarray(interleaved[None], format="s16", layout=layout)
        frame.sample_rate, frame.pts = 8000, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    source = interleaved.reshape(num_samples, num_channels).T
    decoded = _pyav_decode_audio(path).reshape(num_samples, num_channels).T
    assert np.array_equal(decoded, source)  # PCM round-trips exactly
    return AudioReference(
        path=path,
        sample_rate=8000,
        num_channels=num_channels,
        codec_name="pcm_s16le",
        native_sample_fmt="s16",
        source=source,
        decoded=decoded,
    )


# kind -> (width, height, Pillow format, save options, FFmpeg codec, native pix_fmt, lossless)
_IMAGE_SPECS = {
    "jpeg": (64, 48, "JPEG", {"quality": 95}, "mjpeg", "yuvj420p", False),
    "png": (80, 60, "PNG", {}, "png", "rgb24", True),
    "webp": (72, 40, "WEBP", {"quality": 95}, "webp", "yuv420p", False),
    "bmp": (56, 32, "BMP", {}, "bmp", "bgr24", True),
}

IMAGE_KINDS = tuple(_IMAGE_SPECS)


def write_images(directory: pathlib.Path) -> dict[str, ImageReference]:
    """One JPEG, PNG, WebP and BMP image, each of a distinct size."""
    images = {}
    for phase, (kind, spec) in enumerate(_IMAGE_SPECS.items()):
        width, height, pil_format, save_options, codec_name, native_pix_fmt, lossless = spec
        source_rgb = smooth_rgb(width, height, phase / 2)
        path = directory / f"pattern.{kind}"  # no size in the name: messages must state it
        Image.fromarray(source_rgb).save(path, format=pil_format, **save_options)
        images[kind] = ImageReference(
            kind=kind,
            path=path,
            width=width,
            height=height,
            codec_name=codec_name,
            native_pix_fmt=native_pix_fmt,
            lossless=lossless,
            source_rgb=source_rgb,
        )
    return images
