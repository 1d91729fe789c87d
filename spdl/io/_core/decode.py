"""Decoding: build one decode plan from checked options, make one native call.

The operations check decode options once, when called (:func:`validate_decode_options`,
through ``spdl.io._api.options``); the functions here take them checked.

The plan (:class:`spdl._native.DecodePlan`) carries what the native core needs:
the filters of the window and the timing options, a custom ``filter_desc``, the
output's size and format, the decoder, a size hint and the cancel token. The
native core decides from it whether FFmpeg's filters (``fps → scale → format →
trim to the window → pad/cut to num_frames`` for video, ``atrim → aresample →
aformat`` for audio) or its own writer give the output its size and format, and
decodes every packet with the GIL released. The plan also carries the pixel limit
in force (:mod:`.pixel_limit`), which every decode path checks on the size a header
declares before it allocates a picture.

JPEG images are decoded by libjpeg-turbo and WebP images by libwebp when the build
has them (FFmpeg's decoder takes over for flavours they cannot decode, and whenever
``decoder`` or ``decoder_options`` are given; ``decoder="libjpeg-turbo"`` or
``decoder="libwebp"`` forces one). When a JPEG is resized anyway, the requested size
is a hint that lets it decode at 1/2, 1/4 or 1/8 size in the DCT domain, where every
plane, chroma included, keeps at least the output's resolution (as Pillow's
``draft()``). Smooth images come out within a level of a full-size decode and
resize; fine detail (text, thin lines) can differ by a few levels on average, more
at its edges. ``decoder="mjpeg"`` decodes at full size. ``apply_exif_orientation``
(images) turns a still image upright by its EXIF orientation before it is resized;
``apply_display_matrix`` (video, default True) turns and mirrors each frame as the
container's display matrix tells a player to (``Packets.display_orientation``) before
it is resized, so ``width`` and ``height`` are those of the frame as shown.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, TypeAlias

import numpy as np

from spdl import _native
from spdl.io._core.demux import Packets, Source, window_pts
from spdl.io._core.numbers import INT_MAX, as_int, as_real, is_int, is_real
from spdl.io._core.pixel_limit import current_limit

__all__ = [
    "Frames",
    "decode",
    "decode_to_buffer",
    "audio_decode_stream",
    "decode_image_batch",
    "transform_image_batch",
    "decode_windows_to_buffers",
    "writes_windows_natively",
    "validate_decode_options",
    "make_plan",
]

Frames: TypeAlias = "_native.ImageFrames | _native.AudioFrames | _native.VideoFrames"

_VISUAL = {"width", "height", "pix_fmt", "scale_algo"}
_IMAGE = _VISUAL | {"apply_exif_orientation"}
_VIDEO = _VISUAL | {"frame_rate", "num_frames", "pad_mode", "apply_display_matrix"}
_AUDIO = {"sample_rate", "num_channels", "sample_fmt"}
_COMMON = {"filter_desc", "decoder", "decoder_options", "num_threads"}
_ALLOWED = {"image": _IMAGE | _COMMON, "video": _VIDEO | _COMMON, "audio": _AUDIO | _COMMON}
_PAD_MODES = {"repeat": "clone", "black": "add"}
# The range of each int option (the native core takes C ints). num_channels: the most
# channels an output is given a layout of (FFmpeg's swresample mixes fewer than 64;
# the native core's channel_layout_for). sample_rate: far below 1 kHz FFmpeg's
# resampler gives short outputs or none (a second at 25 Hz comes out 22 samples).
_INT_RANGES = {
    "width": (1, INT_MAX),
    "height": (1, INT_MAX),
    "num_frames": (1, INT_MAX),
    "sample_rate": (1000, INT_MAX),
    "num_channels": (1, 63),
    "num_threads": (0, INT_MAX),
}
# The decoder names that force a still-image decoder outside FFmpeg (no fallback to
# FFmpeg), with what they decode and whether this build has them.
_IMAGE_LIBRARIES = {
    "libjpeg-turbo": ("JPEG", _native.has_turbojpeg),
    "libwebp": ("WebP", _native.has_libwebp),
}
_SCALE_ALGOS = ("bilinear", "bicubic", "area", "lanczos", "neighbor", "fast_bilinear")
_DEFAULTS: dict[str, dict[str, Any]] = {
    "image": {"pix_fmt": "rgb24"},
    "video": {"pix_fmt": "rgb24"},
    "audio": {"sample_fmt": "fltp"},
}


def _check_chroma_steps(options: Mapping[str, Any]) -> None:
    """A size the output's subsampled chroma cannot divide fails when called, not after
    the decode (with a message that named no source)."""
    pix_fmt, width, height = (options.get(k) for k in ("pix_fmt", "width", "height"))
    if not (pix_fmt and (width or height)):
        return
    step_w, step_h = _native.pix_fmt_chroma_steps(pix_fmt)
    # A side not given is derived from the other, rounded to even.
    if (width and width % step_w) or (height and height % step_h):
        needs = [
            f"an even {side}" if step == 2 else f"a {side} divisible by {step}"
            for side, step in (("width", step_w), ("height", step_h))
            if step > 1
        ]
        raise ValueError(
            f"{pix_fmt} needs {' and '.join(needs)}, got width={width}, height={height}: "
            'pick another size or pix_fmt="rgb24".'
        )


def _as_fraction(name: str, value: object) -> Fraction:
    if isinstance(value, tuple) and len(value) == 2 and all(map(is_int, value)):
        numerator, denominator = map(int, value)
        if denominator == 0:
            raise ValueError(f"{name} must be positive, got {value!r}.")
        value = Fraction(numerator, denominator)
    if not is_real(value):
        raise TypeError(f"{name} must be a number or (num, den), got {value!r}.")
    number = as_real(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}.")
    if number > INT_MAX:
        raise ValueError(f"{name} must be at most {INT_MAX}, got {value!r}.")
    rate = Fraction(number).limit_denominator(1_000_000)
    if rate == 0:  # below a frame per 2e6 s: it rounds to no rate at all
        raise ValueError(f"{name} must be at least 1/1000000, got {value!r}.")
    if rate.numerator > INT_MAX:  # FFmpeg's rationals are C ints: a coarser denominator
        rate = Fraction(number).limit_denominator(INT_MAX // math.ceil(rate))
    return rate


def _int_option(options: Mapping[str, Any], name: str) -> int:
    """An int option checked already (:func:`validate_decode_options`) as a Python
    int; 0 when it is not given."""
    value = options.get(name)
    return 0 if value is None else int(value)


def validate_decode_options(media_type: str, **options: Any) -> None:
    """Checks decode options for a media type, raising at call time.

    Raises:
        TypeError: An unknown option, or an option of the wrong type.
        ValueError: An option out of range or not applicable to the media type.
    """
    unknown = set(options) - _IMAGE - _VIDEO - _AUDIO - _COMMON
    if unknown:
        raise TypeError(f"Unknown decode option(s): {', '.join(sorted(unknown))}.")
    misplaced = {k for k, v in options.items() if v is not None} - _ALLOWED[media_type]
    if misplaced:
        raise ValueError(f"Option(s) {', '.join(sorted(misplaced))} do not apply to {media_type}.")
    for name, (minimum, maximum) in _INT_RANGES.items():
        if options.get(name) is not None:
            as_int(name, options[name], minimum, maximum)
    pix_fmt = options.get("pix_fmt")
    if pix_fmt is not None and (
        not isinstance(pix_fmt, str) or not _native.pix_fmt_exists(pix_fmt)
    ):
        raise ValueError(f"Unknown pix_fmt {pix_fmt!r}.")
    if (
        pix_fmt is not None
        and pix_fmt.endswith("be")
        and _native.pix_fmt_exists(pix_fmt[:-2] + "le")
    ):
        raise ValueError(
            f"pix_fmt {pix_fmt!r} is big-endian, and arrays hold little-endian numbers: "
            f"use {pix_fmt[:-2] + 'le'!r}."
        )
    if pix_fmt is not None and not _native.pix_fmt_is_output(pix_fmt):
        # Found out at once, not after demuxing and decoding ("Function not implemented").
        raise ValueError(
            f"pix_fmt {pix_fmt!r} is not an output format of this build's FFmpeg (libswscale "
            "cannot write it); see docs/shapes.md for the formats spdl gives."
        )
    _check_chroma_steps(options)
    sample_fmt = options.get("sample_fmt")
    if sample_fmt is not None and (
        not isinstance(sample_fmt, str) or not _native.sample_fmt_exists(sample_fmt)
    ):
        raise ValueError(f"Unknown sample_fmt {sample_fmt!r}.")
    if options.get("frame_rate") is not None:
        _as_fraction("frame_rate", options["frame_rate"])
    pad_mode = options.get("pad_mode")
    if pad_mode is not None and pad_mode not in _PAD_MODES:
        raise ValueError(f"pad_mode must be one of {tuple(_PAD_MODES)}, got {pad_mode!r}.")
    algo = options.get("scale_algo")
    if algo is not None and algo not in _SCALE_ALGOS:
        raise ValueError(f"scale_algo must be one of {_SCALE_ALGOS}, got {algo!r}.")
    for name in ("filter_desc", "decoder"):
        if options.get(name) is not None and not isinstance(options[name], str):
            raise TypeError(f"{name} must be a str, got {type(options[name]).__name__}.")
    if options.get("decoder") in _IMAGE_LIBRARIES:
        _check_image_library(media_type, options)
    for name in ("apply_exif_orientation", "apply_display_matrix"):
        flag = options.get(name)
        if flag is not None and not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, got {type(flag).__name__}.")
    decoder_options = options.get("decoder_options")
    if decoder_options is not None and (
        not isinstance(decoder_options, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in decoder_options.items())
    ):
        raise TypeError("decoder_options must be a mapping of str to str.")


def _check_image_library(media_type: str, options: Mapping[str, Any]) -> None:
    name = options["decoder"]
    kind, built = _IMAGE_LIBRARIES[name]
    if media_type != "image":
        raise ValueError(f'decoder="{name}" decodes {kind} images only, not {media_type}.')
    if not built():
        raise ValueError(f'decoder="{name}" is unavailable: this build has no {name}.')
    if options.get("decoder_options"):
        raise ValueError(f'decoder="{name}" takes no decoder_options.')


def _trim(name: str, window: tuple[float, float] | None) -> list[str]:
    if window is None:
        return []
    start, end = window
    text = f"{name}=start={_seconds(start)}"
    return [text if math.isinf(end) else f"{text}:end={_seconds(end)}"]


def _trim_video(window: tuple[float, float] | None, time_base: tuple[int, int] | None) -> list[str]:
    if window is None or time_base is None:
        return _trim("trim", window)
    start, end = window_pts(window, time_base)
    return [f"trim=start_pts={start}" + ("" if end is None else f":end_pts={end}")]


def _seconds(value: float) -> str:
    # The digits of repr() without its exponent: FFmpeg's time options reject "5.7e-06".
    return np.format_float_positional(value, trim="-")


def _pre_filters(
    media_type: str,
    window: tuple[float, float] | None,
    opts: Mapping[str, Any],
    time_base: tuple[int, int] | None,
) -> list[str]:
    """The filters before the output's size and format: the window's trim, a frame rate.

    A custom ``filter_desc`` replaces the generated filters; the window trim still applies.
    """
    if media_type == "audio":
        return []  # the core trims to the packets' window, in samples (FrameRouter)
    parts = _trim_video(window, time_base) if media_type == "video" else []
    if opts.get("filter_desc") or opts.get("frame_rate") is None:
        return parts
    rate = _as_fraction("frame_rate", opts["frame_rate"])
    fps = f"fps={rate.numerator}/{rate.denominator}"
    if window is None:
        return [*parts, fps]
    # fps emits on a grid k/rate in a 1/rate time base, where the window start is
    # not representable: resample on a timeline shifted to start at the window,
    # then restore the timestamps in a fine time base and cut at the end exactly.
    start, end = window
    parts += [f"setpts=PTS-{start!r}/TB", fps, "settb=AVTB", f"setpts=PTS+{start!r}/TB"]
    if not math.isinf(end):
        parts.append(f"trim=end={end!r}")
    return parts


def _post_filters(opts: Mapping[str, Any]) -> list[str]:
    """The filters after the output's size and format: ``num_frames``' padding and cut."""
    num_frames = opts.get("num_frames")
    if not num_frames or opts.get("filter_desc"):
        return []
    mode = _PAD_MODES[opts.get("pad_mode") or "repeat"]
    return [f"tpad=stop={int(num_frames)}:stop_mode={mode}", f"trim=end_frame={int(num_frames)}"]


def make_plan(
    media_type: str,
    window: tuple[float, float] | None,
    options: Mapping[str, Any],
    *,
    cancel: _native.CancelToken | None = None,
    expected_frames: int = 0,
    time_base: tuple[int, int] | None = None,
) -> _native.DecodePlan:
    """The native decode plan for decode options (checked already, see
    :func:`validate_decode_options`), with the media type's defaults.

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        window: The half-open window ``(start, end)`` in seconds the packets were
            demuxed for, or None. Audio packets are trimmed to their own window by
            the core (in samples of the decoded rate), so it is not used for audio.
        options: Decode options, as for :func:`spdl.io.decode_packets`.
        cancel: A token that stops the decode at its next packet when cancelled.
        expected_frames: How many frames a video's output should make room for.
        time_base: The stream's time base, in which a video window's edges are set
            (:func:`window_pts`).

    Returns:
        One immutable plan, which the native decode calls take whole.
    """
    # A custom filter_desc keeps its own output unless a size or format is asked for.
    opts = dict(options) if options.get("filter_desc") else {**_DEFAULTS[media_type], **options}
    # Video is shown as a player shows it unless asked to keep the frames as stored.
    keep_stored = opts.get("apply_display_matrix") is False
    return _native.DecodePlan(
        pre_filters=",".join(_pre_filters(media_type, window, opts, time_base)),
        post_filters=",".join(_post_filters(opts)),
        filter_desc=opts.get("filter_desc") or "",
        width=_int_option(opts, "width"),
        height=_int_option(opts, "height"),
        pix_fmt=opts.get("pix_fmt") or "",
        scale_algo=opts.get("scale_algo") or "bilinear",
        sample_rate=_int_option(opts, "sample_rate"),
        num_channels=_int_option(opts, "num_channels"),
        sample_fmt=opts.get("sample_fmt") or "",
        decoder=opts.get("decoder"),
        decoder_options=dict(opts.get("decoder_options") or {}),
        num_threads=_int_option(opts, "num_threads") or 1,
        expected_frames=expected_frames,
        cancel=cancel,
        apply_exif_orientation=bool(opts.get("apply_exif_orientation")),
        apply_display_matrix=media_type == "video" and not keep_stored,
        max_pixels=current_limit(),
    )


def writes_windows_natively(**options: Any) -> bool:
    """Whether :func:`decode_windows_to_buffers` takes these video decode options.

    It writes frames with the native writer only: ``frame_rate``, ``num_frames``
    and ``filter_desc`` need a filter graph, as do pixel formats the writer does
    not produce. The native core decides (``DecodePlan.decodes_windows``).
    """
    return make_plan("video", None, options).decodes_windows()


def _window_ticks(window: tuple[float, float], time_base: tuple[int, int]) -> tuple[int, int]:
    start, end = window_pts(window, time_base)
    return start, 2**63 - 1 if end is None else end


def decode_windows_to_buffers(
    spans: Sequence[Packets],
    windows: Sequence[tuple[float, float]],
    *,
    cancel: _native.CancelToken | None = None,
    **options: Any,
) -> list[_native.CPUBuffer | None]:
    """Decodes several windows of one video in one native call (GIL released).

    The spans are decoded forward once, with one decoder; each frame whose time
    lies in a window is scaled / converted straight into that window's buffer.

    Args:
        spans: Packets of one video stream from :func:`spdl.io._core.demux.demux_spans`.
        windows: Half-open ``(start, end)`` windows in seconds, in any order.
        cancel: A token that stops the decode at its next packet when cancelled.
        **options: Video decode options that :func:`writes_windows_natively` accepts.

    Returns:
        One buffer ``(N, ...)`` per window, in the order of ``windows``; None for a
        window in which no frame lies.

    Raises:
        MediaError: The packets cannot be decoded.
    """
    return _native.decode_windows(
        list(spans),
        [_window_ticks(window, spans[0].time_base) for window in windows] if spans else [],
        make_plan("video", None, options, cancel=cancel),
    )


def decode(
    packets: Packets, *, cancel: _native.CancelToken | None = None, **options: Any
) -> Frames:
    """Decodes packets into frames with the GIL released.

    Args:
        packets: Packets from demuxing.
        cancel: A token that stops the decode at its next packet when cancelled.
        **options: Decode options; see :func:`spdl.io.decode_packets`.

    Returns:
        ImageFrames, AudioFrames or VideoFrames.

    Raises:
        MediaError: The packets cannot be decoded.
    """
    plan = make_plan(
        packets.media_type, packets.timestamp, options, cancel=cancel, time_base=packets.time_base
    )
    return _native.decode_packets(packets, plan)


def _expected_frames(packets: Packets, options: dict[str, Any]) -> int:
    """Estimates the number of output frames, to size the output buffer up front."""
    if options.get("num_frames"):
        return int(options["num_frames"])
    if options.get("frame_rate") is None or options.get("filter_desc"):
        return len(packets)
    pts = [t for t in packets.pts if math.isfinite(t)]
    window = packets.timestamp
    if pts:
        start, end = min(pts), max(pts)
        if window is not None:
            start, end = max(start, window[0]), min(end, window[1])
        rate = _as_fraction("frame_rate", options["frame_rate"])
        return int((end - start) * rate) + 2
    return len(packets)


def decode_to_buffer(
    packets: Packets, *, cancel: _native.CancelToken | None = None, **options: Any
) -> _native.CPUBuffer:
    """Decodes and converts in one native call (GIL released), frame by frame.

    Each frame is copied into the output as it is decoded and released at once,
    so peak memory stays close to the size of the output.

    Args:
        packets: Packets from demuxing.
        cancel: A token that stops the decode at its next packet when cancelled.
        **options: Decode options, as for :func:`decode`.

    Returns:
        A CPUBuffer, shaped as :func:`spdl.io.convert_frames` would shape it.

    Raises:
        MediaError: The packets cannot be decoded.
    """
    expected = _expected_frames(packets, options)
    plan = make_plan(
        packets.media_type,
        packets.timestamp,
        options,
        cancel=cancel,
        expected_frames=expected,
        time_base=packets.time_base,
    )
    return _native.decode_to_buffer(packets, plan)


def audio_decode_stream(
    packets: _native.AudioPackets, seconds: float = 0.0, **options: Any
) -> _native.AudioDecodeStream:
    """Opens a native decoder that an audio stream's packets are fed to in chunks.

    Args:
        packets: Audio packets of the stream (their codec, time base and window).
        seconds: The stream's duration, to size the output (``0.0``: unknown).
        **options: Audio decode options, as for :func:`decode`.

    Returns:
        An AudioDecodeStream: ``feed`` it the packets, then ``finish`` gives what
        :func:`decode_to_buffer` gives for all the packets at once.

    Raises:
        MediaError: The system FFmpeg has no decoder for the codec.
    """
    plan = make_plan(packets.media_type, packets.timestamp, options)
    return _native.AudioDecodeStream(packets, plan, seconds)


def decode_image_batch(
    srcs: Sequence[Source],
    *,
    width: int | None,
    height: int | None,
    pix_fmt: str | None = "rgb24",
    cancel: _native.CancelToken | None = None,
    num_threads: int = 1,
    transforms: Sequence[_native.ImageTransform] | None = None,
    region_decode: bool = True,
    **options: Any,
) -> tuple[_native.CPUBuffer | None, list[BaseException | None]]:
    """Decodes still images into one batch in a single native call (GIL released throughout).

    Files are read and decoded on ``num_threads`` native threads; no Python code
    runs per image. With ``transforms``, each image's crop box is resized to
    ``width`` x ``height`` by the native writer (never by a filter) and mirrored
    where asked; a cropped JPEG decodes only the region around its box.

    Args:
        srcs: Paths or bytes-like objects of still images (JPEG, PNG, WebP, BMP, GIF, TIFF, QOI).
        width: Output width (None keeps the source width; then all images must match).
        height: Output height.
        pix_fmt: Output pixel format.
        cancel: Stops the batch at the next image when cancelled.
        num_threads: Native threads to use.
        transforms: One ``ImageTransform`` per source (see :mod:`.crop`), or None.
        region_decode: Whether cropped JPEGs decode only their region (False decodes
            them whole, then crops: the same pixels, for comparisons).
        **options: Further image decode options (``scale_algo``, ``filter_desc``,
            ``decoder``, ``decoder_options``, ``apply_exif_orientation``).
            ``decoder="libjpeg-turbo"`` or ``"libwebp"`` forces the JPEG or WebP fast
            path (no fallback to FFmpeg); an FFmpeg decoder name such as ``"mjpeg"``
            turns it off.

    Returns:
        The batch of the images that decoded (None if none did), and one entry
        per source: None where it decoded, else the error.

    Raises:
        TypeError: A source that is neither a path nor bytes.
    """
    items: list[str | bytes | _native.PendingImage] = []
    for src in srcs:
        if isinstance(src, _native.PendingImage):  # bytes on their way: waited for natively
            items.append(src)
        elif isinstance(src, str | os.PathLike):
            items.append(os.fspath(src))
        elif isinstance(src, bytes):
            items.append(src)
        elif isinstance(src, bytearray | memoryview):
            items.append(bytes(src))
        else:
            raise TypeError(f"decode_image_batch takes paths or bytes, got {type(src).__name__}.")
    image_options = {"width": width, "height": height, "pix_fmt": pix_fmt, **options}
    buffer, messages = _native.decode_image_batch(
        items,
        make_plan("image", None, image_options, cancel=cancel),
        transforms=list(transforms or []),
        region_decode=region_decode,
        num_threads=max(1, num_threads),
    )
    return buffer, batch_errors(messages)


def transform_image_batch(
    frames: Sequence[_native.ImageFrames],
    transforms: Sequence[_native.ImageTransform],
    **options: Any,
) -> tuple[_native.CPUBuffer | None, list[BaseException | None]]:
    """Crops, resizes and mirrors decoded images into one batch (one native call, GIL released).

    The batch step for sources that :func:`decode_image_batch` does not take: their
    frames are decoded whole (no ``width``, ``height`` or ``pix_fmt``), then each
    one's box is cut, resized and mirrored here as it is in the batch decoder.

    Args:
        frames: One ImageFrames per image, decoded at full size.
        transforms: One ``ImageTransform`` per image.
        **options: ``width``, ``height``, ``pix_fmt``, ``scale_algo`` of the output.

    Returns:
        The batch of the images that were written (None if none was), and one entry
        per image: None where it was written, else the error.
    """
    output = _native.DecodePlan(
        width=_int_option(options, "width"),
        height=_int_option(options, "height"),
        pix_fmt=options.get("pix_fmt") or "",
        scale_algo=options.get("scale_algo") or "bilinear",
    )
    buffer, messages = _native.transform_image_batch(list(frames), list(transforms), output)
    return buffer, batch_errors(messages)


def batch_errors(messages: Sequence[str]) -> list[BaseException | None]:
    """The exceptions for a native batch's error strings ('' where an image succeeded)."""
    errors: list[BaseException | None] = []
    for message in messages:
        if not message:
            errors.append(None)
        elif "No such file or directory" in message:
            errors.append(FileNotFoundError(message))
        else:
            errors.append(_native.MediaError(message))
    return errors
