"""Media for the GPU tests, written by PyAV: solid-colour and gradient clips, JPEGs."""

from __future__ import annotations

import pathlib
from fractions import Fraction

import av
import numpy as np
from media import encode_video

WIDTH, HEIGHT, RATE, NUM_FRAMES = 128, 96, 24, 48
# Solid YUV colours, changing every 8 frames.
PALETTE = [
    (81, 90, 240),
    (145, 54, 34),
    (41, 240, 110),
    (170, 166, 16),
    (128, 128, 128),
    (235, 128, 128),
]


def solid_yuv(index: int) -> tuple[int, int, int]:
    return PALETTE[(index // 8) % len(PALETTE)]


def _frame(index: int, width: int, height: int, solid: bool) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    if solid:
        values = [np.full((h, w), v, np.uint8) for (h, w), v in zip(
            [(height, width), (height // 2, width // 2), (height // 2, width // 2)],
            solid_yuv(index), strict=True)]  # fmt: skip
    else:
        ys, xs = np.mgrid[0:height, 0:width]
        luma = ((xs * 2 + ys + index * 3) % 220 + 16).astype(np.uint8)
        values = [luma, np.full((height // 2, width // 2), 100, np.uint8),
                  np.full((height // 2, width // 2), 160, np.uint8)]  # fmt: skip
    for plane, value in zip(frame.planes, values, strict=True):
        data = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
        data = data.copy()
        data[: value.shape[0], : value.shape[1]] = value
        plane.update(data)
    frame.pts = index
    frame.time_base = Fraction(1, RATE)
    return frame


def write_clip(
    path: pathlib.Path,
    codec: str = "libx264",
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    solid: bool = True,
    container_format: str | None = None,
    **tags: int,
) -> pathlib.Path:
    """A clip of NUM_FRAMES frames: solid colours, or a moving gradient (``solid=False``)."""
    attributes: dict[str, int] = {}
    if codec in ("libx264", "libx265"):
        attributes.update(gop_size=12, max_b_frames=2)
    encode_video(
        path,
        (_frame(index, width, height, solid) for index in range(NUM_FRAMES)),
        width=width,
        height=height,
        frame_rate=RATE,
        codec=codec,
        options={"x265-params": "log-level=none"} if codec == "libx265" else None,
        container_format=container_format,
        codec_attributes={**attributes, **tags},
    )
    return path
