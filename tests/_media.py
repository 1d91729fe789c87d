"""Media for the concurrent/asyncio API tests, generated with PyAV.

The session fixture lives in ``_aio_fixtures.py``. Every video frame is a flat gray
picture whose level encodes the frame index (:func:`gray_level`), so a test can tell
which frame it got.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

VIDEO_WIDTH, VIDEO_HEIGHT = 64, 48
VIDEO_FPS = 30
VIDEO_NUM_FRAMES = 90  # 3 seconds
VIDEO_GOP = 10  # a keyframe every 10 frames

AUDIO_SAMPLE_RATE = 16000
AUDIO_NUM_CHANNELS = 2
AUDIO_DURATION_S = 3

IMAGE_WIDTH, IMAGE_HEIGHT = 64, 48

LONG_VIDEO_WIDTH, LONG_VIDEO_HEIGHT = 320, 240
LONG_VIDEO_NUM_FRAMES = 300


def gray_level(index: int) -> int:
    """Luma level of video frame ``index``; adjacent frames differ by 6 levels."""
    return 20 + (index * 6) % 210


@dataclasses.dataclass(frozen=True)
class Media:
    """Paths to the generated media files."""

    video: Path  # H.264 64x48, 30 fps, 90 frames, keyframe every 10 frames, + AAC audio
    audio: Path  # AAC, 16 kHz, stereo, 3 seconds
    long_video: Path  # H.264 320x240, 300 frames (for cancellation)
    jpeg: Path  # 64x48
    png: Path  # 64x48
    jpeg_bytes: bytes
    png_bytes: bytes
    corrupt_image: Path  # .jpg extension, garbage content: demuxes (by name), fails to decode
    broken_png: Path  # valid PNG header, scrambled IDAT: demuxes, fails to decode
    truncated_video: Path  # a prefix of `video`, no index: fails to demux (any media type)
    gray_images: list[Path]  # 8 JPEGs 64x48, image i is flat gray_level(i)


def _gray_frame(width: int, height: int, level: int) -> av.VideoFrame:
    array = np.full((height, width), level, dtype=np.uint8)
    return av.VideoFrame.from_ndarray(array, format="gray").reformat(format="yuv420p")


def write_video(
    path: Path,
    *,
    width: int,
    height: int,
    num_frames: int,
    with_audio: bool,
    textured: bool = False,
) -> None:
    """Write an H.264 MP4 whose frame ``i`` is flat ``gray_level(i)`` (or noise)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=VIDEO_FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(VIDEO_GOP), "bf": "0", "preset": "ultrafast"}
        audio = None
        if with_audio:
            audio = container.add_stream("aac", rate=AUDIO_SAMPLE_RATE, layout="stereo")
        for index in range(num_frames):
            if textured:
                rgb = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame = frame.reformat(format="yuv420p")
            else:
                frame = _gray_frame(width, height, gray_level(index))
            frame.pts = index
            frame.time_base = Fraction(1, VIDEO_FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if audio is not None:
            _encode_audio(container, audio, num_frames / VIDEO_FPS)


def _encode_audio(
    container: av.container.OutputContainer, stream: av.AudioStream, seconds: float
) -> None:
    num_samples = int(AUDIO_SAMPLE_RATE * seconds)
    t = np.arange(num_samples) / AUDIO_SAMPLE_RATE
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    samples = np.stack([wave, wave])  # planar stereo
    chunk = 1024
    for start in range(0, num_samples, chunk):
        part = np.ascontiguousarray(samples[:, start : start + chunk])
        frame = av.AudioFrame.from_ndarray(part, format="fltp", layout="stereo")
        frame.sample_rate = AUDIO_SAMPLE_RATE
        frame.pts = start
        frame.time_base = Fraction(1, AUDIO_SAMPLE_RATE)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_audio(path: Path) -> None:
    """Write an AAC (M4A) file of :data:`AUDIO_DURATION_S` seconds."""
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=AUDIO_SAMPLE_RATE, layout="stereo")
        _encode_audio(container, stream, AUDIO_DURATION_S)


def encode_image(codec: str, rgb: np.ndarray) -> bytes:
    """Encode one RGB image as a still-image file (``"mjpeg"`` or ``"png"``)."""
    ctx = av.CodecContext.create(codec, "w")
    ctx.height, ctx.width = rgb.shape[:2]
    ctx.pix_fmt = "yuvj420p" if codec == "mjpeg" else "rgb24"
    ctx.time_base = Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=ctx.pix_fmt)
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def gradient_image(width: int = IMAGE_WIDTH, height: int = IMAGE_HEIGHT) -> np.ndarray:
    """A smooth RGB test picture (compresses well, so JPEG stays close to it)."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack(
        [xs * 255 // max(width - 1, 1), ys * 255 // max(height - 1, 1), np.full_like(xs, 128)],
        axis=-1,
    ).astype(np.uint8)


def generate(root: Path) -> Media:
    """Generate every file of :class:`Media` under ``root``."""
    video = root / "video.mp4"
    write_video(
        video, width=VIDEO_WIDTH, height=VIDEO_HEIGHT, num_frames=VIDEO_NUM_FRAMES, with_audio=True
    )
    audio = root / "audio.m4a"
    write_audio(audio)
    long_video = root / "long.mp4"
    write_video(
        long_video,
        width=LONG_VIDEO_WIDTH,
        height=LONG_VIDEO_HEIGHT,
        num_frames=LONG_VIDEO_NUM_FRAMES,
        with_audio=False,
        textured=True,
    )
    jpeg_bytes = encode_image("mjpeg", gradient_image())
    png_bytes = encode_image("png", gradient_image())
    jpeg, png = root / "image.jpg", root / "image.png"
    jpeg.write_bytes(jpeg_bytes)
    png.write_bytes(png_bytes)
    corrupt = root / "corrupt.jpg"
    corrupt.write_bytes(b"this is not an image" * 10)
    broken_png = root / "broken.png"
    idat = png_bytes.index(b"IDAT") + 4
    scrambled = bytes(b ^ 0x5A for b in png_bytes[idat : idat + 36])
    broken_png.write_bytes(png_bytes[:idat] + scrambled + png_bytes[idat + 36 :])
    truncated = root / "truncated.mp4"
    truncated.write_bytes(video.read_bytes()[:2000])
    gray_images = []
    for index in range(8):
        path = root / f"gray_{index}.jpg"
        level = gray_level(index)
        path.write_bytes(
            encode_image("mjpeg", np.full((IMAGE_HEIGHT, IMAGE_WIDTH, 3), level, np.uint8))
        )
        gray_images.append(path)
    return Media(
        video=video,
        audio=audio,
        long_video=long_video,
        jpeg=jpeg,
        png=png,
        jpeg_bytes=jpeg_bytes,
        png_bytes=png_bytes,
        corrupt_image=corrupt,
        broken_png=broken_png,
        truncated_video=truncated,
        gray_images=gray_images,
    )
