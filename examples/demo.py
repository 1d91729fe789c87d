"""Load images, audio and video with spdl and print their shapes and throughput.

With no argument, the demo writes a small deterministic sample set with PyAV into a
temporary directory (JPEG and PNG images, a 2 s 320x240 H.264 clip, a 3 s AAC clip)
and loads that. Given a directory, it loads every image, audio and video file found
in it (recursively), recognised by extension.

Usage::

    python examples/demo.py
    python examples/demo.py ~/Videos
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

import spdl.io

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
AUDIO_EXTENSIONS = {".wav", ".flac", ".mp3", ".aac", ".m4a", ".ogg", ".opus"}
VIDEO_EXTENSIONS = {".mp4", ".mkv", ".mov", ".avi", ".webm"}
# (file name, width, height) of the generated sample images
SAMPLE_IMAGES = (
    ("ramp0.jpg", 640, 480),
    ("ramp1.jpg", 320, 240),
    ("ramp2.png", 256, 256),
    ("ramp3.png", 640, 360),
)


# ---------------------------------------------------------------------------------------
# Sample media, written with PyAV. Pixel and sample values depend only on their index.
# ---------------------------------------------------------------------------------------


def _pattern(index: int, width: int, height: int) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 picture: colour ramps shifted by ``index``."""
    rows = np.arange(height, dtype=np.uint32)[:, None]
    cols = np.arange(width, dtype=np.uint32)[None, :]
    red, green = np.broadcast_arrays((cols * 2 + 7 * index) % 256, (rows * 2 + 3 * index) % 256)
    blue = (red + green) // 2
    return np.stack([red, green, blue], axis=-1).astype(np.uint8)


def write_image(path: Path, picture: np.ndarray) -> None:
    """Encodes one RGB picture as JPEG (``.jpg``) or PNG (``.png``)."""
    codec, pix_fmt = ("png", "rgb24") if path.suffix == ".png" else ("mjpeg", "yuvj420p")
    with av.open(str(path), mode="w", format="image2") as container:
        stream = container.add_stream(codec, rate=1)
        stream.height, stream.width = picture.shape[:2]
        stream.pix_fmt = pix_fmt
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_video(
    path: Path, seconds: int = 2, fps: int = 25, width: int = 320, height: int = 240
) -> None:
    """Encodes an H.264 (yuv420p) MP4 clip of moving colour ramps."""
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(_pattern(index, width, height), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_audio(path: Path, seconds: int = 3, sample_rate: int = 48_000) -> None:
    """Encodes a stereo AAC clip (440 Hz left, 660 Hz right) in an MP4 (``.m4a``) container."""
    samples_per_frame = 1024  # AAC's frame size
    total = seconds * sample_rate
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=sample_rate, layout="stereo")
        for start in range(0, total, samples_per_frame):
            t = np.arange(start, min(start + samples_per_frame, total)) / sample_rate
            wave = 0.3 * np.sin(2 * np.pi * np.array([[440.0], [660.0]]) * t)
            wave = wave.astype(np.float32)
            frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = sample_rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_samples(directory: Path) -> None:
    """Writes the demo's sample set into ``directory``."""
    for index, (name, width, height) in enumerate(SAMPLE_IMAGES):
        write_image(directory / name, _pattern(index, width, height))
    write_video(directory / "clip_320x240_2s.mp4")
    write_audio(directory / "tone_3s.m4a")


# ---------------------------------------------------------------------------------------
# Loading and measuring
# ---------------------------------------------------------------------------------------


@dataclass
class Result:
    """What loading one file gave, and how fast."""

    kind: str
    path: Path
    shape: tuple[int, ...]
    dtype: np.dtype
    seconds: float  # best wall-clock time of the repeats
    throughput: str


def media_kind(path: Path) -> str | None:
    """Returns "image", "audio" or "video" for a known extension, else None."""
    suffix = path.suffix.lower()
    for kind, extensions in (
        ("image", IMAGE_EXTENSIONS),
        ("audio", AUDIO_EXTENSIONS),
        ("video", VIDEO_EXTENSIONS),
    ):
        if suffix in extensions:
            return kind
    return None


def audio_sample_rate(path: Path) -> int:
    """The sample rate of the first audio stream, read from the container header."""
    with av.open(str(path)) as container:
        return container.streams.audio[0].sample_rate


def best_time(load: Callable[[], object], repeats: int) -> tuple[object, float]:
    """Calls ``load`` ``repeats`` times; returns the last result and the fastest time."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = load()
        best = min(best, time.perf_counter() - start)
    return result, best


def load(kind: str, path: Path, repeats: int) -> Result:
    """Loads ``path`` with the spdl loader for ``kind`` and measures it."""
    loader = {
        "image": spdl.io.load_image,
        "audio": spdl.io.load_audio,
        "video": spdl.io.load_video,
    }[kind]
    buffer, seconds = best_time(lambda: loader(str(path)), repeats)
    array = spdl.io.to_numpy(buffer)  # zero-copy view of the buffer
    if kind == "image":
        throughput = f"{1 / seconds:9.1f} images/s"
    elif kind == "video":
        throughput = f"{array.shape[0] / seconds:9.1f} frames/s"
    else:  # default sample_fmt "fltp": (channels, samples)
        duration_s = array.shape[-1] / audio_sample_rate(path)
        throughput = f"{duration_s / seconds:9.1f} x realtime"
    return Result(kind, path, array.shape, array.dtype, seconds, throughput)


def find_media(directory: Path) -> Iterable[tuple[str, Path]]:
    """Yields ``(kind, path)`` for every recognised media file under ``directory``."""
    for path in sorted(directory.rglob("*")):
        if path.is_file() and (kind := media_kind(path)) is not None:
            yield kind, path


def run(directory: Path, repeats: int) -> int:
    """Loads every media file in ``directory``, prints a table; returns the failure count."""
    print(f"{'kind':<6} {'file':<28} {'shape':<20} {'dtype':<8} {'time':>9}  throughput")
    failures = 0
    for kind, path in find_media(directory):
        name = str(path.relative_to(directory))
        try:
            result = load(kind, path, repeats)
        except Exception as error:  # report and go on: one bad file must not stop the demo
            failures += 1
            print(f"{kind:<6} {name:<28} failed: {type(error).__name__}: {error}")
            continue
        shape = str(tuple(result.shape))
        print(
            f"{kind:<6} {name:<28} {shape:<20} {str(result.dtype):<8} "
            f"{result.seconds * 1e3:6.2f} ms  {result.throughput}"
        )
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, help="media to load (default: samples)")
    parser.add_argument("--repeats", type=int, default=3, help="loads per file; the best counts")
    args = parser.parse_args(argv)

    if args.directory is not None:
        if not args.directory.is_dir():
            parser.error(f"not a directory: {args.directory}")
        return 1 if run(args.directory, args.repeats) else 0
    with tempfile.TemporaryDirectory(prefix="spdl-demo-") as tmp:
        print(f"writing sample media to {tmp}")
        write_samples(Path(tmp))
        return 1 if run(Path(tmp), args.repeats) else 0


if __name__ == "__main__":
    sys.exit(main())
