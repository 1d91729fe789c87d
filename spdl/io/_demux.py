"""Demuxing with PyAV: open a source, pick a stream, copy its packets to native Packets.

Only plain data crosses into the native core (bytes, integers, names), never an
FFmpeg object of PyAV's FFmpeg: the two FFmpeg builds differ.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from fractions import Fraction
from typing import BinaryIO, Literal, TypeAlias

import av

from spdl import _native
from spdl.io._errors import MediaError

__all__ = ["MediaType", "Source", "Packets", "demux", "iter_demux", "validate_demux_args"]

MediaType: TypeAlias = Literal["image", "audio", "video"]
Source: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO"
Packets: TypeAlias = "_native.ImagePackets | _native.AudioPackets | _native.VideoPackets"
Window: TypeAlias = tuple[float, float]

_MEDIA_TYPES = ("image", "audio", "video")
_NOPTS = -(2**63)
_AUDIO_PREROLL_S = 0.2
_PACKET_CLASSES = {
    "image": _native.ImagePackets,
    "audio": _native.AudioPackets,
    "video": _native.VideoPackets,
}


class _BytesReader(io.RawIOBase):
    """A seekable reader over caller-owned memory: the whole input is never copied."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        super().__init__()
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._pos + size
        chunk = self._view[self._pos : end].tobytes()
        self._pos += len(chunk)
        return chunk

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


def describe_source(src: Source) -> str:
    """Returns a short human-readable name of a source for messages."""
    if isinstance(src, str | os.PathLike):
        return os.fspath(src)
    if isinstance(src, bytes | bytearray | memoryview):
        return f"<{type(src).__name__} of {memoryview(src).nbytes} bytes>"
    name = getattr(src, "name", None)
    return str(name) if isinstance(name, str) else f"<{type(src).__name__}>"


def validate_demux_args(
    media_type: str,
    src: object,
    timestamp: Window | None = None,
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
) -> None:
    """Checks demux arguments, raising at call time.

    Raises:
        ValueError: Unknown media type or an invalid window.
        TypeError: The source or an option has the wrong type.
    """
    if media_type not in _MEDIA_TYPES:
        raise ValueError(f"media_type must be one of {_MEDIA_TYPES}, got {media_type!r}.")
    is_reader = hasattr(src, "read") and hasattr(src, "seek")
    if not isinstance(src, str | os.PathLike | bytes | bytearray | memoryview) and not is_reader:
        raise TypeError(
            "src must be a path, bytes-like object or a binary file-like object, "
            f"got {type(src).__name__}."
        )
    if timestamp is not None:
        _validate_window(timestamp)
        if media_type == "image":
            raise ValueError("A timestamp window does not apply to images.")
    if format is not None and not isinstance(format, str):
        raise TypeError(f"format must be a str, got {type(format).__name__}.")
    if format_options is not None and not isinstance(format_options, Mapping):
        raise TypeError(f"format_options must be a mapping, got {type(format_options).__name__}.")


def _validate_window(timestamp: object) -> None:
    if not isinstance(timestamp, tuple | list) or len(timestamp) != 2:
        raise TypeError(f"timestamp must be a (start, end) pair in seconds, got {timestamp!r}.")
    start, end = timestamp
    if not all(
        isinstance(t, int | float | Fraction) and not isinstance(t, bool) for t in (start, end)
    ):
        raise TypeError(f"timestamp values must be numbers, got {timestamp!r}.")
    if math.isnan(start) or math.isnan(end) or start < 0 or not start < end:
        raise ValueError(f"timestamp must satisfy 0 <= start < end, got {timestamp!r}.")


def _open(src: Source, format: str | None, format_options: Mapping[str, str] | None):
    name = describe_source(src)
    if isinstance(src, str | os.PathLike):
        path = os.fspath(src)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file: {path!r}")
        target: object = path
    elif isinstance(src, bytes | bytearray | memoryview):
        if memoryview(src).nbytes == 0:
            raise MediaError(f"Failed to open {name}: the data is empty.")
        target = _BytesReader(src)
    else:
        target = src
    try:
        # Tags of damaged files can hold any bytes: never fail on their encoding.
        return av.open(
            target,
            mode="r",
            format=format,
            options=dict(format_options or {}),
            metadata_errors="replace",
        )
    except av.FFmpegError as e:
        raise MediaError(f"Failed to open {name}: {e}") from e
    except (ValueError, TypeError, OSError) as e:
        # PyAV's own parsing of damaged headers raises these too.
        raise MediaError(f"Failed to open {name}: {type(e).__name__}: {e}") from e


def _pick_stream(container, media_type: MediaType, name: str):
    streams = container.streams.audio if media_type == "audio" else container.streams.video
    if not streams:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise MediaError(
            f"{name} has no {'audio' if media_type == 'audio' else 'video/image'} stream "
            f"(streams found: {', '.join(kinds)})."
        )
    return streams[0]


def _codec_params(stream, media_type: MediaType, name: str) -> _native.CodecParams:
    cc = stream.codec_context
    if cc is None or cc.codec is None:
        raise MediaError(f"Failed to demux {name}: its {media_type} stream has no known codec.")
    params = _native.CodecParams()
    params.codec_name = cc.codec.canonical_name
    params.extradata = cc.extradata or b""
    params.bit_rate = cc.bit_rate or 0
    params.bits_per_coded_sample = getattr(cc, "bits_per_coded_sample", 0) or 0
    if media_type == "audio":
        params.sample_rate = cc.sample_rate or 0
        params.num_channels = cc.layout.nb_channels if cc.layout else 0
        params.channel_layout = cc.layout.name if cc.layout else ""
        params.sample_fmt = cc.format.name if cc.format else ""
        params.frame_size = cc.frame_size or 0
    else:
        params.width = cc.width or 0
        params.height = cc.height or 0
        params.pix_fmt = cc.format.name if cc.format else ""
        sar = cc.sample_aspect_ratio
        if sar:
            params.sample_aspect_ratio = (sar.numerator, sar.denominator)
    return params


def _new_packets(stream, media_type: MediaType, name: str, window: Window | None):
    tb = stream.time_base or Fraction(1, 1)
    packets = _PACKET_CLASSES[media_type](
        name, _codec_params(stream, media_type, name), (tb.numerator, tb.denominator)
    )
    if media_type == "video":
        rate = stream.average_rate or stream.guessed_rate
        if rate:
            packets.frame_rate = (rate.numerator, rate.denominator)
    if window is not None:
        packets.timestamp = (float(window[0]), float(window[1]))
    return packets


def _read(container, stream, media_type: MediaType, name: str, window: Window | None):
    packets = _new_packets(stream, media_type, name, window)
    tb = stream.time_base or Fraction(1, 1)
    if window is not None and window[0] > 0:
        # Audio decoders (AAC, MP3, Opus...) need pre-roll: their first frame after a
        # seek overlaps the previous one. The decode trims to the exact sample anyway.
        seek_s = max(0.0, window[0] - _AUDIO_PREROLL_S) if media_type == "audio" else window[0]
        try:
            container.seek(int(seek_s / tb), stream=stream, backward=True, any_frame=False)
        except av.FFmpegError as e:
            raise MediaError(f"Failed to seek {name} to {window[0]} s: {e}") from e
    end = None if window is None or math.isinf(window[1]) else window[1] / tb
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            pts, dts = packet.pts, packet.dts
            if end is not None:
                # A frame shown before `end` is decoded before it, so stop on decode order;
                # reordered B-frames are complete once dts passes `end`.
                order = dts if dts is not None else pts
                if order is not None and order >= end:
                    break
            packets.add(
                packet,
                _NOPTS if pts is None else pts,
                _NOPTS if dts is None else dts,
                packet.duration or 0,
                packet.is_keyframe,
                [(sd.data_desc, bytes(sd)) for sd in packet.iter_sidedata()],
            )
            if media_type == "image":
                break
    except av.FFmpegError as e:
        raise MediaError(f"Failed to demux {name}: {e}") from e
    if len(packets) == 0:
        where = f" in the window {window}" if window is not None else ""
        raise MediaError(f"Failed to demux {name}: no {media_type} packet found{where}.")
    return packets


def demux(
    media_type: MediaType,
    src: Source,
    timestamp: Window | None = None,
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
) -> Packets:
    """Demuxes one stream of a source (synchronously, holding the GIL between FFmpeg calls).

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: A path, bytes-like object (not copied) or binary file-like object.
        timestamp: Optional half-open window ``(start, end)`` in seconds.
        format: Force a demuxer (FFmpeg short name), e.g. ``"mp4"``.
        format_options: Demuxer options.

    Returns:
        ImagePackets, AudioPackets or VideoPackets.

    Raises:
        FileNotFoundError: The path does not exist.
        MediaError: The data cannot be opened or has no stream of that type.
    """
    validate_demux_args(media_type, src, timestamp, format=format, format_options=format_options)
    name = describe_source(src)
    with _open(src, format, format_options) as container:
        stream = _pick_stream(container, media_type, name)
        return _read(container, stream, media_type, name, timestamp)


def iter_demux(
    media_type: MediaType,
    src: Source,
    timestamps: Sequence[Window],
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
) -> Iterator[Packets]:
    """Demuxes several windows of one source, opening it once.

    Args:
        media_type: ``"audio"`` or ``"video"``.
        src: As in :func:`demux`.
        timestamps: Windows ``(start, end)`` in seconds, demuxed in the given order.
        format: Force a demuxer.
        format_options: Demuxer options.

    Yields:
        One Packets per window.

    Raises:
        ValueError: ``media_type`` is ``"image"`` or a window is invalid.
        MediaError: The data cannot be demuxed.
    """
    if media_type == "image":
        raise ValueError("Streaming demux applies to audio and video, not images.")
    validate_demux_args(media_type, src, None, format=format, format_options=format_options)
    for window in timestamps:
        _validate_window(window)
    name = describe_source(src)
    with _open(src, format, format_options) as container:
        stream = _pick_stream(container, media_type, name)
        for window in timestamps:
            if window[0] == 0:
                container.seek(0, stream=stream, backward=True, any_frame=False)
            yield _read(container, stream, media_type, name, window)
