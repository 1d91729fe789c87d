"""Small valid and damaged media for the soak and stress runs (generated, deterministic)."""

from __future__ import annotations

import io
import pathlib

import av
import numpy as np
from PIL import Image


def _image(index: int, fmt: str) -> bytes:
    yy, xx = np.mgrid[0:60, 0:80]
    pixels = np.stack([(xx * 3 + index) % 256, (yy * 4) % 256, (xx + yy + 7 * index) % 256], -1)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def _video(index: int, num_frames: int = 24) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"g": "8"}
        for i in range(num_frames):
            frame = np.full((64, 96, 3), (i * 9 + index * 31) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def _audio(index: int, seconds: float = 0.5) -> bytes:
    """AAC in MP4: its first packet carries skip-samples side data (encoder priming)."""
    rate = 16_000
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "stereo"
        t = np.arange(int(seconds * rate)) / rate
        tone = np.sin(2 * np.pi * (220 + 40 * index) * t).astype(np.float32)
        for start in range(0, len(t), 1024):
            chunk = np.stack([tone[start : start + 1024]] * 2)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
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
        write("bad_video", f"garbled_{i}.mp4", _garble(good, i))
    for i in range(4):
        good = _audio(i)
        write("audio", f"audio_{i}.m4a", good)
        # The index (moov) comes last: a cut file fails to open, while noise over
        # the samples (mdat) reaches the demuxer and the decoder.
        write("bad_audio", f"truncated_{i}.m4a", good[: len(good) // 2])
        write("bad_audio", f"garbled_{i}.m4a", _garble(good, i))
    return kinds


def _garble(data: bytes, seed: int) -> bytes:
    """`data` with noise over its second fifth to its half."""
    start, end = len(data) // 5, len(data) // 2
    noise = np.random.default_rng(seed).bytes(end - start)
    return data[:start] + noise + data[end:]
