"""Decode phase on the GPU: NVDEC through PyNvVideoCodec, colour conversion with CuPy.

Flow of one call: the native core rewrites H.264/HEVC packets into Annex B; each
packet goes to a PyNvVideoCodec decoder kept per worker thread, device and codec;
every frame it returns is converted (crop, resize, NV12 → RGB) by a CUDA kernel
straight into the output batch, before the next packet is decoded (the decoder
reuses its surfaces); frames outside the packets' window are dropped.
PyNvVideoCodec and CuPy are imported on first use only.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
import threading
from dataclasses import dataclass
from typing import Any

from spdl import _native
from spdl.io._core.cuda import CUDAFrames, cuda_dependency_error
from spdl.io._core.display_matrix import orient_array, swaps_sides
from spdl.io._core.errors import MediaError
from spdl.io._core.numbers import as_int
from spdl.io._core.nv12 import KERNEL_SOURCE, color_coefficients, nv12_to_planar
from spdl.io._core.pixel_limit import current_limit

__all__ = [
    "NVDEC_CODECS",
    "PIX_FMTS",
    "check_dependencies",
    "decode_nvdec",
    "validate_nvdec_options",
]

# FFmpeg codec name → PyNvVideoCodec's cudaVideoCodec member.
NVDEC_CODECS = {
    "h264": "H264",
    "hevc": "HEVC",
    "vp9": "VP9",
    "av1": "AV1",
    "vp8": "VP8",
    "mpeg1video": "MPEG1",
    "mpeg2video": "MPEG2",
    "mpeg4": "MPEG4",
    "vc1": "VC1",
    "mjpeg": "JPEG",
}
PIX_FMTS = ("rgb", "rgba", None)
_CHANNELS = {"rgb": 3, "rgba": 4}


@dataclass(frozen=True)
class _Options:
    width: int | None
    height: int | None
    crop: tuple[int, int, int, int]  # left, top, right, bottom
    pix_fmt: str | None
    orientation: int = 1  # Packets.display_orientation applied to each frame (1: as stored)


def validate_nvdec_options(
    packets: object,
    device_index: int,
    width: int | None,
    height: int | None,
    crop: tuple[int, int, int, int],
    pix_fmt: str | None,
    apply_display_matrix: bool = True,
) -> _Options:
    """Checks the arguments of an NVDEC decode at call time.

    Args:
        packets: The packets to decode (their size bounds the crop).
        device_index: The CUDA device to decode on.
        width: Output width after cropping, or ``None`` for the cropped width.
        height: Output height after cropping, or ``None`` for the cropped height.
        crop: Pixels removed from the left, top, right and bottom edges.
        pix_fmt: ``"rgb"``, ``"rgba"`` or ``None`` (NV12 as decoded).
        apply_display_matrix: Turn and mirror each frame as the container's display
            matrix says (before the crop, which counts in the frame as shown).

    Returns:
        The validated options.

    Raises:
        TypeError: The packets are not video/image packets, or an option has the
            wrong type.
        ValueError: An option is out of range, the crop leaves nothing, NV12 output
            is asked with a resize or an odd crop, or the codec is not one NVDEC
            decodes.
    """
    if not isinstance(packets, _native.ImagePackets | _native.VideoPackets):
        raise TypeError(f"NVDEC decodes video and image packets, not {type(packets).__name__}.")
    as_int("`cuda_device_index`", device_index, 0)
    if pix_fmt not in PIX_FMTS:
        raise ValueError(f"`pix_fmt` must be one of {PIX_FMTS}, got {pix_fmt!r}.")
    width, height = (
        None if value is None else as_int(f"`{name}`", value, 1)
        for name, value in (("width", width), ("height", height))
    )
    names = ("crop_left", "crop_top", "crop_right", "crop_bottom")
    left, top, right, bottom = (
        as_int(f"`{name}`", value, 0) for name, value in zip(names, crop, strict=True)
    )
    crop = (left, top, right, bottom)
    if pix_fmt is None:
        if width is not None or height is not None:
            raise ValueError("NV12 output (`pix_fmt=None`) cannot be resized; pass pix_fmt='rgb'.")
        if any(value % 2 for value in crop):
            raise ValueError(f"NV12 output (`pix_fmt=None`) needs even crop values, got {crop}.")
    if packets.codec_name not in NVDEC_CODECS:
        raise ValueError(
            f"NVDEC cannot decode {packets.src}: codec {packets.codec_name!r} is not one of "
            f"{sorted(NVDEC_CODECS)}."
        )
    if not isinstance(apply_display_matrix, bool):
        raise TypeError(
            f"`apply_display_matrix` must be a bool, got {type(apply_display_matrix).__name__}."
        )
    orientation = packets.display_orientation if apply_display_matrix else 1
    src_w, src_h = packets.width, packets.height
    if swaps_sides(orientation):
        src_w, src_h = src_h, src_w
    if src_w and src_h and (crop[0] + crop[2] >= src_w or crop[1] + crop[3] >= src_h):
        raise ValueError(
            f"The crop {crop} (left, top, right, bottom) leaves nothing of the "
            f"{src_w}x{src_h} frames of {packets.src}."
        )
    return _Options(width, height, crop, pix_fmt, orientation)


def check_dependencies() -> None:
    """Raises at call time when PyNvVideoCodec or CuPy is not installed.

    Raises:
        RuntimeError: Naming the missing package and the ``spdl[cuda]`` extra.
    """
    for name in ("PyNvVideoCodec", "cupy"):
        if importlib.util.find_spec(name) is None:
            raise cuda_dependency_error(name, ModuleNotFoundError(f"No module named {name!r}"))


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception as e:  # ImportError, or a driver library failing to load
        raise cuda_dependency_error(name, e) from e


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.decoders: dict[tuple[int, str], tuple[tuple[int, int, str], Any]] = {}
        self.streams: dict[int, Any] = {}
        self.kernels: dict[int, Any] = {}


_state = _ThreadState()


def _stream(cupy: Any, device_index: int) -> Any:
    """This thread's stream on the device: decoder copies and kernels are ordered on it."""
    if device_index not in _state.streams:
        _state.streams[device_index] = cupy.cuda.Stream(non_blocking=True)
    return _state.streams[device_index]


def _kernel(cupy: Any, device_index: int) -> Any:
    if device_index not in _state.kernels:
        _state.kernels[device_index] = cupy.RawKernel(KERNEL_SOURCE, "nv12_to_planar")
    return _state.kernels[device_index]


def _decoder(nvc: Any, packets: Any, device_index: int, stream: Any, fresh: bool) -> Any:
    """This thread's decoder for the device and codec, re-created when the stream's
    size or format changes (or when ``fresh``)."""
    key = (device_index, packets.codec_name)
    shape = (packets.width, packets.height, packets.pix_fmt)
    cached = _state.decoders.get(key)
    if cached is not None and cached[0] == shape and not fresh:
        return cached[1]
    _state.decoders.pop(key, None)
    decoder = nvc.CreateDecoder(
        gpuid=device_index,
        codec=getattr(nvc.cudaVideoCodec, NVDEC_CODECS[packets.codec_name]),
        cudacontext=0,
        cudastream=int(stream.ptr),
        usedevicememory=True,
    )
    _state.decoders[key] = (shape, decoder)
    return decoder


def _bit_depth(pix_fmt: str) -> int:
    match = re.search(r"p(\d+)(le|be)?$", pix_fmt)
    return int(match.group(1)) if match else 8


def _outside_limits(nvc: Any, packets: Any, device_index: int) -> str | None:
    """Why NVDEC cannot take this stream, from the GPU's decoder capabilities.

    NVDEC answers such streams with an opaque ``cuvidCreateDecoder`` error; this
    names the limit instead. ``None`` when the capabilities allow the stream, or
    cannot be read.
    """
    name = NVDEC_CODECS[packets.codec_name]
    depth = _bit_depth(packets.pix_fmt or "")
    try:
        caps = dict(
            nvc.GetDecoderCaps(
                gpuid=device_index, codec=getattr(nvc.cudaVideoCodec, name), bitdepth=depth
            )
        )
    except Exception:
        return None
    what = f"{name} ({depth}-bit 4:2:0)"
    if not caps.get("supported", 1):
        return f"GPU {device_index}'s NVDEC does not decode {what}"
    width, height = packets.width, packets.height
    if not (width and height):
        return None
    low = (caps.get("width_min", 0), caps.get("height_min", 0))
    high = (caps.get("width_max", width), caps.get("height_max", height))
    if not (low[0] <= width <= high[0] and low[1] <= height <= high[1]):
        return (
            f"GPU {device_index}'s NVDEC decodes {what} from {low[0]}x{low[1]} to "
            f"{high[0]}x{high[1]}, and the stream is {width}x{height}"
        )
    macroblocks = math.ceil(width / 16) * math.ceil(height / 16)
    if macroblocks > caps.get("mb_num_max", macroblocks):
        return (
            f"GPU {device_index}'s NVDEC decodes {what} up to {caps['mb_num_max']} "
            f"macroblocks, and the {width}x{height} stream has {macroblocks}"
        )
    return None


def _planes(cupy: Any, frame: Any) -> tuple[Any, Any]:
    """CuPy views of a decoded NV12 frame's luma ``(H, W)`` and chroma ``(H/2, W)``."""
    fmt = str(getattr(frame, "format", "NV12"))
    if "NV12" not in fmt.upper():
        raise MediaError(f"NVDEC produced {fmt} frames; only 8-bit 4:2:0 (NV12) is supported.")
    views = [view.__cuda_array_interface__ for view in frame.cuda()]

    def view(cai: dict[str, Any], rows: int, cols: int, offset: int = 0) -> Any:
        pitch = cai["strides"][0] if cai.get("strides") else cols
        memory = cupy.cuda.UnownedMemory(cai["data"][0] + offset * pitch, rows * pitch, frame)
        pointer = cupy.cuda.MemoryPointer(memory, 0)
        return cupy.ndarray((rows, cols), cupy.uint8, pointer, strides=(pitch, 1))

    if len(views) >= 2:  # one view per plane
        height, width = views[0]["shape"][:2]
        return view(views[0], height, width), view(views[1], height // 2, width)
    rows, width = views[0]["shape"][:2]  # one (1.5 H, W) view
    height = rows * 2 // 3
    return view(views[0], height, width), view(views[0], height // 2, width, offset=height)


def upright_nv12(xp: Any, luma: Any, chroma: Any, orientation: int) -> tuple[Any, Any]:
    """An NV12 frame's planes turned and mirrored as a player shows them.

    Args:
        xp: ``cupy`` (or ``numpy``, which the CPU tests use).
        luma: ``(H, W)`` uint8 luma plane.
        chroma: ``(H/2, W)`` uint8 interleaved Cb/Cr plane.
        orientation: ``Packets.display_orientation`` (1-8).

    Returns:
        Contiguous ``(H', W')`` luma and ``(H'/2, W')`` chroma of the frame as shown
        (the planes themselves for orientation 1).
    """
    if orientation == 1:
        return luma, chroma
    pairs = chroma.reshape(chroma.shape[0], chroma.shape[1] // 2, 2)  # one Cb/Cr pair each
    luma = xp.ascontiguousarray(orient_array(luma, orientation, xp, (0, 1)))
    pairs = xp.ascontiguousarray(orient_array(pairs, orientation, xp, (0, 1)))
    return luma, pairs.reshape(pairs.shape[0], pairs.shape[1] * 2)


class _Output:
    """The batch being written: grows when more frames arrive than were expected."""

    def __init__(self, cupy: Any, capacity: int) -> None:
        self.cupy = cupy
        self.capacity = max(capacity, 1)
        self.array: Any = None
        self.count = 0

    def next_slot(self, frame_shape: tuple[int, ...]) -> Any:
        cupy = self.cupy
        if self.array is None:
            self.array = cupy.empty((self.capacity, *frame_shape), dtype=cupy.uint8)
        elif self.array.shape[1:] != frame_shape:
            raise MediaError(
                f"The frame size changed mid-stream ({self.array.shape[1:]} -> {frame_shape})."
            )
        if self.count == self.array.shape[0]:
            grown = cupy.empty((2 * self.count, *frame_shape), dtype=cupy.uint8)
            grown[: self.count] = self.array
            self.array = grown
        self.count += 1
        return self.array[self.count - 1]

    def result(self) -> Any:
        if self.count == self.array.shape[0]:
            return self.array
        # A copy only when many slots stay unused; a slice of the leading axis is contiguous.
        trimmed = self.array[: self.count]
        return trimmed.copy() if self.count < self.array.shape[0] // 2 else trimmed


def _expected_frames(packets: Any, table: list[tuple[int, int, int, bool, bool]]) -> int:
    window = packets.timestamp
    shown = [row for row in table if row[4]]
    if window is None:
        return len(shown)
    num, den = packets.time_base
    return sum(1 for row in shown if window[0] <= row[2] * num / den < window[1])


def _run(
    nvc: Any,
    cupy: Any,
    packets: _native.Packets,
    table: list[tuple[int, int, int, bool, bool]],
    options: _Options,
    device_index: int,
    stream: Any,
    fresh: bool,
) -> tuple[Any, list[float]]:
    decoder = _decoder(nvc, packets, device_index, stream, fresh)
    num, den = packets.time_base
    window = packets.timestamp
    output = _Output(cupy, _expected_frames(packets, table))
    coefficients = cupy.asarray(
        color_coefficients(packets.params.color_space, packets.params.color_range, packets.pix_fmt),
        dtype=cupy.float32,
    )
    kernel = _kernel(cupy, device_index)
    pts: list[float] = []
    hidden = {row[2] for row in table if not row[4]}  # before an edit list's start

    def take(frames: list[Any]) -> None:
        for frame in frames:
            seconds = frame.getPTS() * num / den
            if frame.getPTS() in hidden:
                continue
            if window is not None and not window[0] <= seconds < window[1]:
                continue
            luma, chroma = upright_nv12(cupy, *_planes(cupy, frame), options.orientation)
            height, width = luma.shape
            left, top, right, bottom = options.crop
            crop = (left, top, width - left - right, height - top - bottom)
            if crop[2] <= 0 or crop[3] <= 0:
                raise ValueError(f"The crop {options.crop} leaves nothing of {width}x{height}.")
            if options.pix_fmt is None:
                slot = output.next_slot((1, crop[3] * 3 // 2, crop[2]))
                slot[0, : crop[3]] = luma[top : top + crop[3], left : left + crop[2]]
                rows = slice(top // 2, (top + crop[3]) // 2)
                slot[0, crop[3] :] = chroma[rows, left : left + crop[2]]
            else:
                size = (options.height or crop[3], options.width or crop[2])
                slot = output.next_slot((_CHANNELS[options.pix_fmt], *size))
                nv12_to_planar(cupy, kernel, luma, chroma, crop, slot, coefficients)
            pts.append(seconds)
        # The decoder reuses its surfaces: the copies must finish before it decodes again.
        stream.synchronize()

    for address, size, timestamp, is_key, _ in table:
        packet = nvc.PacketData()
        packet.bsl_data, packet.bsl, packet.pts = address, size, timestamp
        if hasattr(packet, "key"):
            packet.key = int(is_key)
        take(decoder.Decode(packet))
    take(decoder.Decode(nvc.PacketData()))  # an empty packet flushes the decoder
    if output.count == 0:
        return None, pts
    return output.result(), pts


def decode_nvdec(packets: _native.Packets, device_index: int, options: _Options) -> CUDAFrames:
    """Decodes video or image packets on the GPU into converted frames.

    Args:
        packets: ``VideoPackets`` or ``ImagePackets``.
        device_index: The CUDA device to decode on.
        options: Options checked by :func:`validate_nvdec_options`.

    Returns:
        ``CUDAFrames`` holding ``(N, C, H, W)`` (``(C, H, W)`` for an image).

    Raises:
        RuntimeError: PyNvVideoCodec or CuPy cannot be imported.
        MediaError: NVDEC fails on the bitstream or no frame comes out, or the
            stream or image declares more pixels than ``spdl.io.max_image_pixels()``.
    """
    # NVDEC allocates its surfaces for the size the stream declares: refuse a bomb first.
    _native.check_declared_pixels(packets, current_limit())
    nvc = _import("PyNvVideoCodec")
    cupy = _import("cupy")
    annexb = _native.annexb_filter(packets.codec_name)
    source = _native.apply_bsf(packets, annexb) if annexb else packets
    table = _native.packet_table(source)
    with cupy.cuda.Device(device_index):
        stream = _stream(cupy, device_index)
        with stream:
            array: Any = None
            pts: list[float] = []
            for attempt in range(2):
                try:
                    array, pts = _run(
                        nvc, cupy, source, table, options, device_index, stream, attempt > 0
                    )
                except (MediaError, ValueError):
                    _state.decoders.pop((device_index, packets.codec_name), None)
                    raise
                except Exception as e:
                    # A decoder that failed is not trusted again.
                    _state.decoders.pop((device_index, packets.codec_name), None)
                    reason = _outside_limits(nvc, packets, device_index) or str(e)
                    raise MediaError(f"Failed to decode {packets.src} with NVDEC: {reason}") from e
                # A reused decoder that gives nothing gets one more try on a fresh one.
                if array is not None or not table:
                    break
    if array is None:
        raise MediaError(
            f"Failed to decode {packets.src} with NVDEC: no frame came out of "
            f"{len(table)} packet(s)"
            + (f" in the requested window {packets.timestamp}." if packets.timestamp else ".")
        )
    if packets.media_type == "image":
        array = array[0]
    return CUDAFrames(
        packets.src, packets.media_type, array, options.pix_fmt, device_index, stream, pts
    )
