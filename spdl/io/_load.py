"""Synchronous helpers for scripts: demux, decode and convert in one call."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

from spdl import _native
from spdl.io._decode import (
    audio_decode_stream,
    decode_to_buffer,
    decode_windows_to_buffers,
    validate_decode_options,
    writes_windows_natively,
)
from spdl.io._demux import (
    MediaType,
    Source,
    UnknownPacketOrder,
    Window,
    demux,
    demux_audio_chunks,
    demux_spans,
    describe_source,
    validate_demux_args,
)
from spdl.io._errors import MediaError

__all__ = ["load_image", "load_audio", "load_video", "load_video_windows", "split_options"]

_DEMUX_KEYS = ("format", "format_options")


def split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Splits keyword options into (demux options, decode options)."""
    demux_opts = {k: v for k, v in options.items() if k in _DEMUX_KEYS}
    decode_opts = {k: v for k, v in options.items() if k not in _DEMUX_KEYS}
    return demux_opts, decode_opts


def _load(
    media_type: MediaType, src: Source, timestamp: Window | None, options: dict[str, Any]
) -> _native.CPUBuffer:
    demux_opts, decode_opts = split_options(options)
    validate_demux_args(media_type, src, timestamp, **demux_opts)
    validate_decode_options(media_type, **decode_opts)
    if media_type == "audio":
        return _load_audio(src, timestamp, demux_opts, decode_opts)
    # The packets go straight to the CPU decoder: no probe decode at opening.
    packets = demux(media_type, src, timestamp, **demux_opts, probe=False)
    return decode_to_buffer(packets, **decode_opts)


def _load_audio(
    src: Source, timestamp: Window | None, demux_opts: dict[str, Any], decode_opts: dict[str, Any]
) -> _native.CPUBuffer:
    """Demuxes a chunk of packets, decodes it with the GIL released, and so on."""
    chunks = demux_audio_chunks(src, timestamp, **demux_opts)
    packets, seconds = next(chunks)  # there is at least one, or it raised
    decoder = audio_decode_stream(packets, seconds, **decode_opts)
    decoder.feed(packets)
    for packets, _ in chunks:
        decoder.feed(packets)
    return decoder.finish()


def _tell(src: Source) -> int | None:
    """The position of a file-like source (None for paths and bytes), to rewind it to."""
    if isinstance(src, str | os.PathLike | bytes | bytearray | memoryview):
        return None
    return src.seek(0, io.SEEK_CUR)


def _load_each(
    src: Source, windows: list[Window], options: dict[str, Any], start: int | None = None
) -> list[_native.CPUBuffer]:
    """``load_video`` per window; a file-like source is rewound before each."""
    start = _tell(src) if start is None else start
    buffers = []
    for window in windows:
        if start is not None:
            src.seek(start)  # type: ignore[union-attr]
        buffers.append(_load("video", src, window, options))
    return buffers


def load_image(src: Source, **options: Any) -> _native.CPUBuffer:
    """Loads one image.

    Args:
        src: A path, bytes-like object or binary file-like object.
        **options: Demux options (``format``, ``format_options``) and image decode
            options (``width``, ``height``, ``pix_fmt`` — default ``"rgb24"``,
            ``scale_algo``, ``filter_desc``, ``decoder``, ``decoder_options``).

    Returns:
        A CPUBuffer: ``(H, W, 3)`` uint8 for rgb24; see the shapes table for others.

    Raises:
        FileNotFoundError: A path that does not exist.
        TypeError, ValueError: Invalid arguments.
        MediaError: The data cannot be decoded.

    Example:
        >>> array = spdl.io.to_numpy(spdl.io.load_image("foo.jpg", width=224, height=224))
        >>> array.shape
        (224, 224, 3)
    """
    return _load("image", src, None, options)


def load_audio(src: Source, timestamp: Window | None = None, **options: Any) -> _native.CPUBuffer:
    """Loads audio, optionally only the half-open window ``[start, end)`` in seconds.

    Args:
        src: A path, bytes-like object or binary file-like object.
        timestamp: Optional ``(start, end)`` in seconds; the audio is cut to the sample.
        **options: Demux options and audio decode options (``sample_rate``,
            ``num_channels``, ``sample_fmt`` — default ``"fltp"``, ``filter_desc``,
            ``decoder``, ``decoder_options``).

    Returns:
        A CPUBuffer: ``(channels, samples)`` float32 for fltp; ``(samples, channels)``
        for packed formats such as ``"s16"``.

    Raises:
        FileNotFoundError: A path that does not exist.
        TypeError, ValueError: Invalid arguments.
        MediaError: The data cannot be decoded.

    Example:
        >>> spdl.io.to_numpy(spdl.io.load_audio("speech.wav", timestamp=(0, 1))).shape
        (2, 16000)
    """
    return _load("audio", src, timestamp, options)


def load_video(src: Source, timestamp: Window | None = None, **options: Any) -> _native.CPUBuffer:
    """Loads video frames, optionally only those whose time lies in ``[start, end)``.

    Args:
        src: A path, bytes-like object or binary file-like object.
        timestamp: Optional ``(start, end)`` in seconds.
        **options: Demux options and video decode options (``width``, ``height``,
            ``pix_fmt`` — default ``"rgb24"``, ``frame_rate``, ``num_frames``,
            ``pad_mode``, ``scale_algo``, ``filter_desc``, ``decoder``,
            ``decoder_options``, ``num_threads``).

    Returns:
        A CPUBuffer: ``(N, H, W, 3)`` uint8 for rgb24; see the shapes table for others.

    Raises:
        FileNotFoundError: A path that does not exist.
        TypeError, ValueError: Invalid arguments.
        MediaError: The data cannot be decoded.

    Example:
        >>> spdl.io.to_numpy(spdl.io.load_video("clip.mp4", timestamp=(0, 1))).shape
        (30, 64, 96, 3)
    """
    return _load("video", src, timestamp, options)


def load_video_windows(
    src: Source, timestamps: Sequence[Window], **options: Any
) -> list[_native.CPUBuffer]:
    """Loads several windows of one video, opening and decoding it once.

    Gives, for each window, what ``load_video(src, timestamp=window, **options)``
    gives (the same frames, the same pixels), at a fraction of the cost: the
    source is opened and demuxed once, and one native call (GIL released) decodes
    forward once through all the windows, writing each frame scaled and converted
    straight into the output of every window it lies in (overlapping windows share
    frames). Windows in the same GOP are decoded in one run; the GOPs between
    windows further apart are skipped by seeking, and frames no window shows are
    not decoded when no other frame references them.

    Options that need FFmpeg's filter graph (``frame_rate``, ``num_frames``,
    ``filter_desc``, or a ``pix_fmt`` other than the packed RGB formats ``rgb24``,
    ``bgr24``, ``rgba``, ``bgra``, ``argb``, ``abgr``) fall back to one
    :func:`load_video` call per window, with the same results; so do the rare
    containers whose demuxer reports neither the byte offset nor the decode time
    of packets.

    Args:
        src: A path, bytes-like object or binary file-like object.
        timestamps: Half-open windows ``(start, end)`` in seconds, in any order;
            they may overlap.
        **options: Demux options (``format``, ``format_options``) and video decode
            options as for :func:`load_video` (``width``, ``height``, ``pix_fmt`` —
            default ``"rgb24"``, ``scale_algo``, ``decoder``, ``decoder_options``,
            ``num_threads``, and through the fallback ``frame_rate``,
            ``num_frames``, ``pad_mode``, ``filter_desc``).

    Returns:
        One CPUBuffer per window, in the order of ``timestamps``: ``(N, H, W, 3)``
        uint8 for rgb24, where N is the number of frames whose presentation time
        lies in the window; see the shapes table for other formats.

    Raises:
        FileNotFoundError: A path that does not exist.
        TypeError, ValueError: Invalid arguments.
        MediaError: The data cannot be decoded, or a window holds no frame (e.g. it
            lies past the end of the video); the message names the source and the window.

    Example:
        >>> windows = ((0, 1), (1.5, 2.5), (2, 3))
        >>> buffers = spdl.io.load_video_windows("clip.mp4", windows, width=224, height=224)
        >>> [buffer.shape for buffer in buffers]
        [(30, 224, 224, 3), (30, 224, 224, 3), (30, 224, 224, 3)]
    """
    demux_opts, decode_opts = split_options(options)
    validate_demux_args("video", src, None, **demux_opts)
    windows = list(timestamps)
    for window in windows:
        validate_demux_args("video", src, window)
    validate_decode_options("video", **decode_opts)
    if not windows:
        return []
    if not writes_windows_natively(**decode_opts):
        return _load_each(src, windows, options)
    start = _tell(src)
    try:
        spans = demux_spans(src, windows, **demux_opts)
    except UnknownPacketOrder:
        return _load_each(src, windows, options, start)
    buffers = decode_windows_to_buffers(spans, windows, **decode_opts)
    for window, buffer in zip(windows, buffers, strict=True):
        if buffer is None:
            raise MediaError(
                f"Failed to decode {describe_source(src)}: no frame lies in the window {window}."
            )
    return buffers
