"""Synchronous helpers for scripts: demux, decode and convert in one call."""

from __future__ import annotations

from typing import Any

from spdl import _native
from spdl.io._decode import decode_to_buffer, validate_decode_options
from spdl.io._demux import MediaType, Source, Window, demux, validate_demux_args

__all__ = ["load_image", "load_audio", "load_video", "split_options"]

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
    packets = demux(media_type, src, timestamp, **demux_opts)
    return decode_to_buffer(packets, **decode_opts)


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
        >>> spdl.io.to_numpy(spdl.io.load_audio("foo.wav", timestamp=(0, 1))).shape
        (2, 44100)
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
        >>> spdl.io.to_numpy(spdl.io.load_video("foo.mp4", timestamp=(0, 1))).shape
        (30, 240, 320, 3)
    """
    return _load("video", src, timestamp, options)
