"""Session fixtures: small media generated once per test session (see ``media.py``)."""

from __future__ import annotations

import pathlib

import pytest
from media import (
    AudioReference,
    ImageReference,
    VideoReference,
    remux_video_to_mpegts,
    write_aac_audio,
    write_h264_video,
    write_images,
    write_wav_audio,
)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def h264_video(media_dir: pathlib.Path) -> VideoReference:
    """3 s, 30 fps, 96x64 H.264 yuv420p MP4 with B-frames, and PyAV's decode of it."""
    return write_h264_video(media_dir / "gradient_h264.mp4")


@pytest.fixture(scope="session")
def h264_video_mpegts(media_dir: pathlib.Path, h264_video: VideoReference) -> pathlib.Path:
    """The same H.264 stream in MPEG-TS."""
    path = media_dir / "gradient_h264.ts"
    remux_video_to_mpegts(h264_video.path, path)
    return path


@pytest.fixture(scope="session")
def aac_audio(media_dir: pathlib.Path) -> AudioReference:
    """2 s AAC stereo 44.1 kHz M4A (audio only), and PyAV's decode of it."""
    return write_aac_audio(media_dir / "two_tones_aac.m4a")


@pytest.fixture(scope="session")
def wav_audio(media_dir: pathlib.Path) -> AudioReference:
    """1 s mono pcm_s16le 16 kHz WAV, and the exact PCM in it."""
    return write_wav_audio(media_dir / "sine_noise_mono.wav")


@pytest.fixture(scope="session")
def image_files(media_dir: pathlib.Path) -> dict[str, ImageReference]:
    """JPEG 64x48, PNG 80x60, WebP 72x40 and BMP 56x32, keyed by kind."""
    return write_images(media_dir)
