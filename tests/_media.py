"""Media for the concurrent/asyncio API tests, generated with the encoders of ``media.py``.

The session fixture lives in ``_aio_fixtures.py``. Every video frame is a flat gray
picture whose level encodes the frame index (:func:`gray_level`), so a test can tell
which frame it got.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from media import encode_audio, encode_video, gray_frame, noise_rgb, sine_tone
from media import ffmpeg_image_bytes as encode_image

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


def _stereo_tone(seconds: float) -> np.ndarray:
    wave = sine_tone(AUDIO_SAMPLE_RATE, int(AUDIO_SAMPLE_RATE * seconds), 440)
    return np.stack([wave, wave])  # planar stereo


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

    def frames() -> Iterator[av.VideoFrame | np.ndarray]:
        for index in range(num_frames):
            if textured:
                rgb = noise_rgb(rng, width, height)
                yield av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            else:
                yield gray_frame(width, height, gray_level(index))

    encode_video(
        path,
        frames(),
        width=width,
        height=height,
        frame_rate=VIDEO_FPS,
        options={"g": str(VIDEO_GOP), "bf": "0", "preset": "ultrafast"},
        audio=_stereo_tone(num_frames / VIDEO_FPS) if with_audio else None,
        audio_rate=AUDIO_SAMPLE_RATE,
    )


def write_audio(path: Path) -> None:
    """Write an AAC (M4A) file of :data:`AUDIO_DURATION_S` seconds."""
    encode_audio(
        path, _stereo_tone(AUDIO_DURATION_S), rate=AUDIO_SAMPLE_RATE, container_format="mp4"
    )


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
