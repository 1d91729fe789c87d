"""Reference decodes with PyAV, laid out the way spdl lays out its buffers.

spdl's layouts (DESIGN.md, "Shapes and formats"):
packed rgb24/bgr24/rgba -> (H, W, C); planar yuv444p/gbrp -> (3, H, W) in plane order;
gray -> (1, H, W); yuv420p/yuvj420p/nv12 -> (1, H * 3 // 2, W). Video adds a leading N.

The reference runs PyAV's decoder and an FFmpeg filter graph built through PyAV, i.e. the
same kind of conversion spdl's native core performs, but with PyAV's own FFmpeg build.
Two differences between FFmpeg releases are pinned down explicitly:

* Since FFmpeg 7 the ``format`` filter may keep a full-range (JPEG) source full-range when
  converting to ``yuv420p``/``yuv444p``/``nv12`` and only tag the range; older releases
  (such as the system's 5.1) compress it to the limited (MPEG) range those formats
  conventionally mean. The reference asks for the conventional range with ``out_range``.
* PyAV's FFmpeg mis-converts the right-most columns of ``yuv420p`` to ``gbrp`` when the
  width is 8 more than a multiple of 16, so the ``gbrp`` reference converts through
  ``yuv444p`` (which also interpolates chroma, as FFmpeg's planar-RGB path does; its
  packed-RGB path repeats chroma samples instead).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import av
import numpy as np
from av.filter import Graph

# pix_fmt -> shape of one image of height H and width W
IMAGE_LAYOUTS = {
    "rgb24": lambda height, width: (height, width, 3),
    "bgr24": lambda height, width: (height, width, 3),
    "rgba": lambda height, width: (height, width, 4),
    "yuv444p": lambda height, width: (3, height, width),
    "gbrp": lambda height, width: (3, height, width),
    "gray": lambda height, width: (1, height, width),
    "yuv420p": lambda height, width: (1, height * 3 // 2, width),
    "yuvj420p": lambda height, width: (1, height * 3 // 2, width),
    "nv12": lambda height, width: (1, height * 3 // 2, width),
}

_LIMITED_RANGE_YUV = ("yuv420p", "yuv444p", "nv12")


def _run_graph(stream: av.stream.Stream, frames: Iterator, filter_desc: str) -> list:
    """Push decoded frames through ``filter_desc`` (comma-separated filters) and pull all output."""
    graph = Graph()
    if stream.type == "audio":
        last = graph.add_abuffer(template=stream)
    else:
        last = graph.add_buffer(template=stream)
    for spec in filter_desc.split(","):
        name, _, args = spec.partition("=")
        node = graph.add(name, args)
        last.link_to(node)
        last = node
    last.link_to(graph.add("abuffersink" if stream.type == "audio" else "buffersink"))
    graph.configure()

    output = []

    def drain() -> None:
        while True:
            try:
                output.append(graph.pull())
            except (av.BlockingIOError, av.EOFError):
                return

    for frame in frames:
        graph.push(frame)
        drain()
    graph.push(None)
    drain()
    return output


def _reference_filter(pix_fmt: str, width: int | None, height: int | None) -> str:
    scale = []
    if width is not None or height is not None:
        scale.append(f"w={width or -2}:h={height or -2}:flags=bilinear")
    if pix_fmt in _LIMITED_RANGE_YUV:
        scale.append("out_range=tv")
    filters = ["scale=" + ":".join(scale)] if scale else []
    if pix_fmt == "gbrp":
        filters.append("format=pix_fmts=yuv444p")
    return ",".join([*filters, f"format=pix_fmts={pix_fmt}"])


def _spdl_layout(frame: av.VideoFrame, pix_fmt: str) -> np.ndarray:
    if pix_fmt == "gbrp":  # the planes as stored: G, B, R (PyAV's to_ndarray reorders them)
        return np.stack(
            [
                np.frombuffer(plane, np.uint8).reshape(frame.height, -1)[:, : frame.width]
                for plane in frame.planes
            ]
        )
    array = frame.to_ndarray(format=pix_fmt)
    if pix_fmt in ("gray", "yuv420p", "yuvj420p", "nv12"):
        return array[None]
    return array


def pyav_decode_visual(
    path: str | os.PathLike,
    pix_fmt: str,
    width: int | None = None,
    height: int | None = None,
) -> np.ndarray:
    """PyAV's decode of every frame of an image or video, (N, ...) in spdl's layout.

    Resizing uses bilinear scaling, spdl's default.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        filter_desc = _reference_filter(pix_fmt, width, height)
        frames = _run_graph(stream, container.decode(stream), filter_desc)
    return np.stack([_spdl_layout(frame, pix_fmt) for frame in frames])


# (Kr, Kb) by AVColorSpace value; FFmpeg reads an unspecified matrix (2) as BT.601.
_LUMA_WEIGHTS = {1: (0.2126, 0.0722), 2: (0.299, 0.114), 5: (0.299, 0.114), 6: (0.299, 0.114)}


def rgb_from_yuv422p(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray], colorspace: int, full_range: bool
) -> np.ndarray:
    """8-bit 4:2:2 planes (Y, U, V) converted exactly, rounded once, into rgb24 (H, W, 3).

    Each chroma sample serves its two pixels, as FFmpeg's packed-RGB output does.
    """
    kr, kb = _LUMA_WEIGHTS[colorspace]
    kg = 1.0 - kr - kb
    y, u, v = (plane.astype(np.float64) for plane in planes)
    width = y.shape[1]
    u = np.repeat(u - 128.0, 2, axis=1)[:, :width]
    v = np.repeat(v - 128.0, 2, axis=1)[:, :width]
    if not full_range:
        y = (y - 16.0) * 255.0 / 219.0
        u, v = u * 255.0 / 224.0, v * 255.0 / 224.0
    r = y + 2.0 * (1.0 - kr) * v
    g = y - 2.0 * (1.0 - kb) * kb / kg * u - 2.0 * (1.0 - kr) * kr / kg * v
    b = y + 2.0 * (1.0 - kb) * u
    return np.clip(np.round(np.stack([r, g, b], axis=-1)), 0, 255).astype(np.uint8)


def pyav_exact_rgb(
    path: str | os.PathLike, width: int | None = None, height: int | None = None
) -> np.ndarray:
    """rgb24 (N, H, W, 3) of every frame of a video, converted exactly.

    PyAV decodes; FFmpeg scales (bilinear) to 4:2:2 unless the frames are 4:2:2 at
    the requested size already; rgb_from_yuv422p converts with each frame's matrix
    and range.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = container.decode(stream)
        if width is not None or height is not None:
            scale = f"scale=w={width or -2}:h={height or -2}:flags=bilinear"
            frames = _run_graph(stream, frames, f"{scale},format=pix_fmts=yuv422p")
        images = []
        for frame in frames:
            assert frame.format.name in ("yuv422p", "yuvj422p"), frame.format.name
            planes = tuple(
                np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[
                    :, : plane.width
                ]
                for plane in frame.planes
            )
            full_range = frame.color_range == 2 or frame.format.name == "yuvj422p"
            images.append(rgb_from_yuv422p(planes, frame.colorspace, full_range))
    return np.stack(images)


def pyav_decode_image(
    path: str | os.PathLike,
    pix_fmt: str,
    width: int | None = None,
    height: int | None = None,
) -> np.ndarray:
    """PyAV's decode of a still image in spdl's layout."""
    (image,) = pyav_decode_visual(path, pix_fmt, width, height)
    return image


def pyav_filter_audio(path: str | os.PathLike, filter_desc: str) -> np.ndarray:
    """PyAV's decode of the first audio stream through FFmpeg audio filters, (C, samples)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = _run_graph(stream, container.decode(stream), filter_desc)
    return np.concatenate([frame.to_ndarray() for frame in frames], axis=1)


def mean_abs_diff(actual: np.ndarray, expected: np.ndarray) -> float:
    """Mean absolute difference of two same-shaped arrays, computed without overflow."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return float(np.abs(actual.astype(np.float64) - expected.astype(np.float64)).mean())


def nv12_from_yuv420p(yuv420p: np.ndarray, height: int, width: int) -> np.ndarray:
    """Rearrange a (H * 3 // 2, W) yuv420p image into nv12 (Y plane, then interleaved U/V)."""
    luma = yuv420p[:height]
    chroma = yuv420p[height:].reshape(2, height // 2, width // 2)  # U plane, V plane
    interleaved = np.stack([chroma[0], chroma[1]], axis=-1).reshape(height // 2, width)
    return np.concatenate([luma, interleaved])


def pyav_frame_rate_selection(
    path: str | os.PathLike, frame_rate: int, source_rgb24: np.ndarray
) -> list[int]:
    """Which source frame FFmpeg's ``fps`` filter (PyAV's build) emits in each output slot.

    ``source_rgb24`` is PyAV's plain decode of the same file; every output frame of the
    filter is one of those frames, found by exact comparison.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = _run_graph(stream, container.decode(stream), f"fps={frame_rate}")
    selection = []
    for frame in frames:
        rgb = frame.to_ndarray(format="rgb24")
        matches = [i for i, source in enumerate(source_rgb24) if np.array_equal(rgb, source)]
        assert len(matches) == 1, f"output frame at {frame.time} s matches frames {matches}"
        selection.append(matches[0])
    return selection
