"""The loaders, declared once (see :mod:`spdl.io._runtime.operation`); every form runs their steps.

``load_media`` raises :class:`AsyncIOFailure` naming the phase; ``load_image``,
``load_audio``, ``load_video`` and ``load_video_windows`` the phase's own error
(``MediaError``, ``FileNotFoundError``), in every form.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, BinaryIO, cast

from spdl import _native
from spdl.io._api import remote as _remote
from spdl.io._api.options import (
    DemuxArgs,
    check_decode_options,
    check_options,
    split_options,
    validate_convert_options,
)
from spdl.io._core import decode as _decode
from spdl.io._core import demux as _demux
from spdl.io._core.demux import Source, Window
from spdl.io._core.errors import MediaError
from spdl.io._runtime import demux_pool as _demux_pool
from spdl.io._runtime.operation import Plan, Step, operation

__all__ = ["load_audio", "load_image", "load_media", "load_video", "load_video_windows"]


def _load_steps(args: DemuxArgs, decode: Mapping[str, Any]) -> Plan[_native.CPUBuffer]:
    if _remote.is_url(args.src):  # fetched on the I/O pool first
        return (yield from _remote.with_source(args, lambda a: _load_steps(a, decode)))
    if args.media_type == "audio":
        with _demux_pool.audio_load(args.src) as through_helper:
            steps = _helper_audio_steps if through_helper else _audio_steps
            return (yield from steps(args, decode))
    packets = yield args.step()
    # One native call decodes and copies each frame into the output as it goes, so
    # the frames and the buffer never coexist in memory.
    fused = functools.partial(_decode.decode_to_buffer, packets, **decode)
    return (yield Step("decode", args.name, fused, cancellable=True))


def _audio_steps(args: DemuxArgs, decode: Mapping[str, Any]) -> Plan[_native.CPUBuffer]:
    """Demuxes a chunk of packets, decodes it with the GIL released, and so on: the
    packets are decoded while still in cache, and other threads demux meanwhile."""
    chunks = _demux.demux_audio_chunks(args.src, args.timestamp, **args.options)
    stream: list[_native.AudioDecodeStream] = []
    try:
        read = Step("demux", args.name, functools.partial(next, chunks, None), pool="demux")
        while chunk := (yield read):
            packets, seconds = chunk
            feed = functools.partial(_feed, stream, packets, seconds, decode)
            yield Step("decode", args.name, feed, cancellable=True)
        return (yield Step("decode", args.name, lambda: stream[0].finish()))
    finally:
        with contextlib.suppress(ValueError):  # else the step reading it closes it
            chunks.close()


def _helper_audio_steps(args: DemuxArgs, decode: Mapping[str, Any]) -> Plan[_native.CPUBuffer]:
    """A demux helper process demuxes the audio chunk by chunk, and one native call
    (GIL released) decodes each chunk while the helper demuxes the next: the loading
    thread takes the GIL once per load (see ``_demux_pool``). Errors of the demux
    keep their phase (``spdl_phase``)."""
    window = args.timestamp
    seconds = None if window is None else (float(window[0]), float(window[1]))
    plan = _decode.make_plan("audio", seconds, decode)  # as for the packets' window
    load = functools.partial(_demux_pool.load_audio, args.src, window, plan, **args.options)
    buffer = yield Step("decode", args.name, load, cancellable=True)
    if buffer is None:  # the request cannot travel to a helper
        return (yield from _audio_steps(args, decode))
    return buffer


def _feed(
    stream: list[_native.AudioDecodeStream],
    packets: _native.AudioPackets,
    seconds: float,
    decode: Mapping[str, Any],
    cancel: _native.CancelToken | None = None,
) -> None:
    if not stream:  # the first chunk opens the decoder
        stream.append(_decode.audio_decode_stream(packets, seconds, **decode))
    stream[0].feed(packets, cancel=cancel)


def _load(
    media_type: str,
    src: Source,
    timestamp: Window | None,
    demux: Mapping[str, Any],
    decode: Mapping[str, Any],
) -> Plan[_native.CPUBuffer]:
    args = DemuxArgs.check(media_type, src, timestamp, demux)
    return (yield from _load_steps(args, check_decode_options(media_type, decode)))


@operation("load_media", primary="sync", wrap=True, public=("sync", "async"))
def _load_media(
    media_type: str,
    src: Source,
    demux_options: Mapping[str, Any] | None = None,
    decode_options: Mapping[str, Any] | None = None,
    convert_options: Mapping[str, Any] | None = None,
) -> Plan[_native.CPUBuffer]:
    """Load one image, audio clip or video clip into a buffer.

    Demuxing (without PyAV's probe decode), decoding and conversion follow one another
    without returning to the caller in between; audio is demuxed and decoded chunk by
    chunk.

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        demux_options: ``timestamp`` (half-open ``(start, end)`` window in seconds,
            audio/video only), ``format``, ``format_options``.
        decode_options: ``width``, ``height``, ``pix_fmt``, ``frame_rate``,
            ``num_frames``, ``pad_mode``, ``apply_display_matrix``, ``sample_rate``,
            ``num_channels``,
            ``sample_fmt``, ``filter_desc``, ``decoder``, ``decoder_options``,
            ``num_threads``.
        convert_options: Options of the buffer conversion (none at present).

    Returns:
        A ``CPUBuffer`` shaped ``(H, W, C)`` for images, ``(N, H, W, C)`` for video
        (packed formats) and ``(channels, samples)`` for planar audio.

    Raises:
        ValueError: If an argument has an invalid value.
        TypeError: If an argument or option has an unsupported type or name.
        AsyncIOFailure: {if} a phase fails; the message names the source and the phase.

    Example:
        >>> buffer = {await}spdl.io.{async_}load_media(
        ...     "image", "foo.jpg", decode_options={"width": 64}){result}
        >>> buffer.shape  # the 320x240 image, scaled to width 64 keeping its aspect ratio
        (48, 64, 3)
    """
    demux = check_options("demux_options", demux_options)
    decode = check_options("decode_options", decode_options)
    validate_convert_options(check_options("convert_options", convert_options))
    return (yield from _load(media_type, src, demux.pop("timestamp", None), demux, decode))


@operation("load_image", primary="sync", wrap=False, public=("sync",))
def _load_image(src: Source, **options: Any) -> Plan[_native.CPUBuffer]:
    """Loads one image.

    Args:
        src: A path, bytes-like object or binary file-like object.
        **options: Demux options (``format``, ``format_options``) and image decode
            options (``width``, ``height``, ``pix_fmt`` — default ``"rgb24"``,
            ``scale_algo``, ``filter_desc``, ``decoder``, ``decoder_options``).

    Returns:
        A CPUBuffer: ``(H, W, 3)`` uint8 for rgb24; see the shapes table for others.

    Raises:
        TypeError, ValueError: Invalid arguments.
        FileNotFoundError: {if} the path does not exist.
        MediaError: {if} the data cannot be decoded.

    Example:
        >>> array = spdl.io.to_numpy(spdl.io.load_image("foo.jpg", width=224, height=224))
        >>> array.shape
        (224, 224, 3)
    """
    return (yield from _load("image", src, None, *split_options(options)))


@operation("load_audio", primary="sync", wrap=False, public=("sync",))
def _load_audio(
    src: Source, timestamp: Window | None = None, **options: Any
) -> Plan[_native.CPUBuffer]:
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
        TypeError, ValueError: Invalid arguments.
        FileNotFoundError: {if} the path does not exist.
        MediaError: {if} the data cannot be decoded.

    Example:
        >>> spdl.io.to_numpy(spdl.io.load_audio("speech.wav", timestamp=(0, 1))).shape
        (2, 16000)
    """
    return (yield from _load("audio", src, timestamp, *split_options(options)))


@operation("load_video", primary="sync", wrap=False, public=("sync",))
def _load_video(
    src: Source, timestamp: Window | None = None, **options: Any
) -> Plan[_native.CPUBuffer]:
    """Loads video frames, optionally only those whose time lies in ``[start, end)``.

    Args:
        src: A path, bytes-like object or binary file-like object.
        timestamp: Optional ``(start, end)`` in seconds.
        **options: Demux options and video decode options (``width``, ``height``,
            ``pix_fmt`` — default ``"rgb24"``, ``frame_rate``, ``num_frames``,
            ``pad_mode``, ``scale_algo``, ``filter_desc``, ``decoder``,
            ``decoder_options``, ``num_threads``, and ``apply_display_matrix`` —
            default ``True``: frames come out as a player shows them, turned and
            mirrored by the container's display matrix, and ``width`` / ``height``
            are those of the frame as shown; ``False`` keeps them as stored).

    Returns:
        A CPUBuffer: ``(N, H, W, 3)`` uint8 for rgb24; see the shapes table for others.

    Raises:
        TypeError, ValueError: Invalid arguments.
        FileNotFoundError: {if} the path does not exist.
        MediaError: {if} the data cannot be decoded.

    Example:
        >>> spdl.io.to_numpy(spdl.io.load_video("clip.mp4", timestamp=(0, 1))).shape
        (30, 64, 96, 3)
    """
    return (yield from _load("video", src, timestamp, *split_options(options)))


def _tell(src: Source) -> int | None:
    """The position of a file-like source (None for paths and bytes), to rewind it to."""
    if _demux.is_path_or_data(src):
        return None
    return cast(BinaryIO, src).seek(0, io.SEEK_CUR)


@operation("load_video_windows", primary="sync", wrap=False, public=("sync",))
def _load_video_windows(
    src: Source, timestamps: Sequence[Window], **options: Any
) -> Plan[list[_native.CPUBuffer]]:
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
    :func:`load_video` per window, with the same results; so do the rare
    containers whose demuxer reports neither the byte offset nor the decode time
    of packets.

    Args:
        src: A path, bytes-like object or binary file-like object.
        timestamps: Half-open windows ``(start, end)`` in seconds, in any order;
            they may overlap.
        **options: Demux options (``format``, ``format_options``) and video decode
            options as for :func:`load_video` (``width``, ``height``, ``pix_fmt`` —
            default ``"rgb24"``, ``scale_algo``, ``decoder``, ``decoder_options``,
            ``num_threads``, ``apply_display_matrix``, and through the fallback ``frame_rate``,
            ``num_frames``, ``pad_mode``, ``filter_desc``).

    Returns:
        One CPUBuffer per window, in the order of ``timestamps``: ``(N, H, W, 3)``
        uint8 for rgb24, where N is the number of frames whose presentation time
        lies in the window; see the shapes table for other formats.

    Raises:
        TypeError, ValueError: Invalid arguments.
        FileNotFoundError: {if} the path does not exist.
        MediaError: {if} the data cannot be decoded, or a window holds no frame (e.g.
            it lies past the end of the video); the message names the source and the
            window.

    Example:
        >>> windows = ((0, 1), (1.5, 2.5), (2, 3))
        >>> buffers = spdl.io.load_video_windows("clip.mp4", windows, width=224, height=224)
        >>> [buffer.shape for buffer in buffers]
        [(30, 224, 224, 3), (30, 224, 224, 3), (30, 224, 224, 3)]
    """
    demux, decode = split_options(options)
    args = DemuxArgs.check("video", src, None, demux)
    windows = args.windows(timestamps)
    decoding = check_decode_options("video", decode)
    if not windows:
        return []
    if _remote.is_url(src):  # a reader doing range requests, opened on the I/O pool
        steps = functools.partial(_windows_steps, windows=windows, decoding=decoding)
        return (yield from _remote.with_source(args, steps, windows=True))
    return (yield from _windows_steps(args, windows, decoding))


def _windows_steps(
    args: DemuxArgs, windows: list[Window], decoding: Mapping[str, Any]
) -> Plan[list[_native.CPUBuffer]]:
    src = args.src
    start = _tell(src)
    if _decode.writes_windows_natively(**decoding):
        spans = functools.partial(_demux_pool.demux_spans, src, windows, **args.options)
        try:
            spans = yield Step("demux", args.name, spans, pool="demux", cancellable=True)
        except _demux.UnknownPacketOrder:
            pass  # the demuxer cannot tell where packets lie: one window at a time
        else:
            decode_all = functools.partial(
                _decode.decode_windows_to_buffers, spans, windows, **decoding
            )
            buffers = yield Step("decode", args.name, decode_all, cancellable=True)
            for window, buffer in zip(windows, buffers, strict=True):
                if buffer is None:
                    raise MediaError(
                        f"Failed to decode {args.name}: no frame lies in the window {window}."
                    )
            return buffers
    buffers = []
    for window in windows:
        if start is not None:
            src.seek(start)  # type: ignore[union-attr]
        buffers.append((yield from _load_steps(replace(args, timestamp=window), decoding)))
    return buffers


load_media, load_media_future, async_load_media = _load_media[:3]
load_image, load_audio = _load_image.sync, _load_audio.sync
load_video, load_video_windows = _load_video.sync, _load_video_windows.sync
