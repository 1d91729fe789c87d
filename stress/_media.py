"""Small valid and damaged media for the soak and stress runs (generated, deterministic).

The encoders are those of ``tests/media.py``, the repository's one media generator;
this module only picks the stress runs' sizes and damage.
"""

from __future__ import annotations

import io
import pathlib
import sys

import numpy as np

sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from media import encode_audio, encode_video, garble, image_bytes, sine_tone  # noqa: E402


def _image(index: int, fmt: str) -> bytes:
    yy, xx = np.mgrid[0:60, 0:80]
    pixels = np.stack([(xx * 3 + index) % 256, (yy * 4) % 256, (xx + yy + 7 * index) % 256], -1)
    return image_bytes(pixels.astype(np.uint8), fmt)


def _video(index: int, num_frames: int = 24) -> bytes:
    buffer = io.BytesIO()
    frames = (np.full((64, 96, 3), (i * 9 + index * 31) % 256, np.uint8) for i in range(num_frames))
    encode_video(
        buffer,
        frames,
        width=96,
        height=64,
        frame_rate=24,
        options={"g": "8"},
        container_format="mp4",
    )
    return buffer.getvalue()


def _audio(index: int, seconds: float = 0.5) -> bytes:
    """AAC in MP4: its first packet carries skip-samples side data (encoder priming)."""
    rate = 16_000
    tone = sine_tone(rate, int(seconds * rate), 220 + 40 * index, amplitude=1.0)
    buffer = io.BytesIO()
    encode_audio(buffer, np.stack([tone, tone]), rate=rate, container_format="mp4")
    return buffer.getvalue()


def make_media(root: pathlib.Path) -> dict[str, list[pathlib.Path]]:
    """Writes valid and invalid images, videos and audio; returns their paths by kind."""
    root.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, list[pathlib.Path]] = {
        "image": [],
        "bad_image": [],
        "video": [],
        "bad_video": [],
        "audio": [],
        "bad_audio": [],
    }

    def write(kind: str, name: str, data: bytes) -> None:
        path = root / name
        path.write_bytes(data)
        kinds[kind].append(path)

    for i in range(16):
        write("image", f"image_{i}.jpg", _image(i, "JPEG"))
        write("image", f"image_{i}.png", _image(i, "PNG"))
    for i in range(8):
        good = _image(i, "JPEG")
        write("bad_image", f"truncated_{i}.jpg", good[: len(good) // (i + 2)])
        write("bad_image", f"random_{i}.jpg", np.random.default_rng(i).bytes(500 + 100 * i))
    for i in range(6):
        write("video", f"video_{i}.mp4", _video(i))
        good = _video(i)
        write("bad_video", f"truncated_{i}.mp4", good[: len(good) // 2])
        write("bad_video", f"garbled_{i}.mp4", garble(good, i))
    for i in range(4):
        good = _audio(i)
        write("audio", f"audio_{i}.m4a", good)
        # The index (moov) comes last: a cut file fails to open, while noise over
        # the samples (mdat) reaches the demuxer and the decoder.
        write("bad_audio", f"truncated_{i}.m4a", good[: len(good) // 2])
        write("bad_audio", f"garbled_{i}.m4a", garble(good, i))
    return kinds
