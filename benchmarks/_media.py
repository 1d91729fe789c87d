"""Deterministic media for the benchmarks, generated with PyAV and cached on disk.

Every clip is a pure function of its :class:`VideoSpec`: the pixels come from a fixed
seed and the frame index, and the encoder runs with fixed settings, so a clip
generated on one machine matches one generated on another with the same PyAV build.
Clips are written once into ``benchmarks/data/`` (git-ignored) and reused.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class VideoSpec:
    """What a generated clip looks like and how it is encoded."""

    width: int = 1280
    height: int = 720
    seconds: int = 3
    fps: int = 30
    codec: str = "libx264"
    preset: str = "medium"
    pix_fmt: str = "yuv420p"

    @property
    def num_frames(self) -> int:
        return self.seconds * self.fps

    @property
    def filename(self) -> str:
        return (
            f"{self.codec}_{self.preset}_{self.pix_fmt}_"
            f"{self.width}x{self.height}_{self.fps}fps_{self.seconds}s.mp4"
        )


@functools.lru_cache(maxsize=4)
def _scene(width: int, height: int, seed: int) -> np.ndarray:
    """A seeded noise texture over colour gradients, ``(H, W, 3)`` uint8."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 64, size=(height, width, 3), dtype=np.uint8)
    rows = np.linspace(0, 191, height, dtype=np.float32)[:, None]
    cols = np.linspace(0, 191, width, dtype=np.float32)[None, :]
    red, green = np.broadcast_arrays(rows, cols)
    gradient = np.stack([red, green, (red + green) / 2], axis=-1).astype(np.uint8)
    return gradient + texture


def moving_frame(index: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """Returns frame ``index`` of a moving scene as an ``(H, W, 3)`` uint8 array.

    The textured scene pans 6 px per frame and a bright square crosses it, so the
    encoder sees real motion and detail.
    """
    frame = np.roll(_scene(width, height, seed), shift=6 * index, axis=1)
    side = height // 5
    top = 5 * index % (height - side)
    left = 12 * index % (width - side)
    frame[top : top + side, left : left + side] = (250, 240, 40)
    return frame


def write_video(path: Path, spec: VideoSpec) -> None:
    """Encodes the clip described by ``spec`` into ``path`` (an MP4 container)."""
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(spec.codec, rate=spec.fps)
        stream.width = spec.width
        stream.height = spec.height
        stream.pix_fmt = spec.pix_fmt
        stream.options = {"preset": spec.preset}
        for index in range(spec.num_frames):
            rgb = moving_frame(index, spec.width, spec.height)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def ensure_video(spec: VideoSpec | None = None, data_dir: Path = DATA_DIR) -> Path:
    """Returns the path of the clip for ``spec``, generating it on first use.

    The clip is written to a temporary name and renamed into place, so an interrupted
    run never leaves a truncated file behind for the next one to reuse.
    """
    spec = spec or VideoSpec()
    path = data_dir / spec.filename
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            write_video(partial, spec)
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return path
