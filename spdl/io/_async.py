"""asyncio API, and the high-level loaders with their synchronous twins.

The ``async_*`` phase functions are plain functions, not coroutines: they validate
their arguments, submit the work to the shared pools *when called*, and return an
``asyncio.Future`` (``asyncio.wrap_future`` of the ``concurrent.futures.Future`` from
:mod:`spdl.io._concurrent`). Cancelling the awaiting task — directly or through
``asyncio.wait_for`` — cancels the work: queued work is dropped and a running decode
stops at its next packet.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
from collections.abc import AsyncIterator, Callable, Generator, Mapping, Sequence
from concurrent.futures import Executor, Future
from typing import Any

from spdl import _native

from . import _concurrent, _convert, _decode, _demux, _executor
from ._concurrent import AsyncIOFailure, describe_source
from ._decode import Frames
from ._demux import Packets

__all__ = [
    "async_batch_load_image",
    "async_convert_frames",
    "async_convert_frames_cpu",
    "async_decode_packets",
    "async_decode_packets_nvdec",
    "async_demux_media",
    "async_load_media",
    "async_streaming_demux",
    "batch_load_image",
    "load_media",
]

_LG = logging.getLogger("spdl.io")


def _running_loop(name: str) -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            f"spdl.io.{name} must be called from code running in an asyncio event loop. "
            f"Outside asyncio, use the concurrent.futures variant "
            f"(spdl.io.{name.removeprefix('async_')})."
        ) from None


def _wrap(loop: asyncio.AbstractEventLoop, future: Future[Any]) -> asyncio.Future[Any]:
    return asyncio.wrap_future(future, loop=loop)


################################################################################
# Low-level phases
################################################################################


def async_demux_media(
    media_type: str,
    src: Any,
    timestamp: tuple[float, float] | None = None,
    *,
    executor: Executor | None = None,
    **demux_options: Any,
) -> asyncio.Future[Packets]:
    """Demux one image, or one audio/video window; awaitable.

    The work is submitted when this function is called, before the result is awaited.

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        timestamp: Half-open window ``(start, end)`` in seconds for audio/video;
            ``None`` takes the whole stream. Must be ``None`` for images.
        executor: Executor to run on instead of the shared demux pool.
        **demux_options: ``format`` and ``format_options`` (``dict[str, str]``).

    Returns:
        An ``asyncio.Future`` resolving to ``ImagePackets``, ``AudioPackets`` or
        ``VideoPackets``; awaiting it raises :class:`AsyncIOFailure` if demuxing fails.

    Raises:
        ValueError: If ``media_type`` or ``timestamp`` is invalid.
        TypeError: If ``src`` or an option has an unsupported type.
        RuntimeError: If called outside a running asyncio event loop.

    Example:
        >>> packets = await spdl.io.async_demux_media("image", "foo.jpg")
    """
    loop = _running_loop("async_demux_media")
    return _wrap(
        loop,
        _concurrent.demux_media(media_type, src, timestamp, executor=executor, **demux_options),
    )


def async_streaming_demux(
    media_type: str,
    src: Any,
    timestamps: Sequence[tuple[float, float]],
    *,
    executor: Executor | None = None,
    **demux_options: Any,
) -> AsyncIterator[Packets]:
    """Demux several windows of one audio/video source; async iterator of Packets.

    The source is opened once and all windows are read by one background task, which
    starts when this function is called. Each iteration yields the packets of the next
    window, in the order of ``timestamps``. Leaving the ``async for`` early (``break``,
    an exception, or cancellation) cancels the windows not yet read.

    Args:
        media_type: ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        timestamps: Half-open windows ``(start, end)`` in seconds.
        executor: Executor to run on instead of the shared demux pool.
        **demux_options: ``format`` and ``format_options``.

    Returns:
        An async generator yielding ``AudioPackets`` / ``VideoPackets``, one per window.
        Iterating raises :class:`AsyncIOFailure` if demuxing fails.

    Raises:
        ValueError: If ``media_type`` is not audio/video or a window is invalid.
        TypeError: If ``src``, ``timestamps`` or an option has an unsupported type.

    Example:
        >>> async for packets in spdl.io.async_streaming_demux("audio", "foo.wav", [(0, 1)]):
        ...     frames = await spdl.io.async_decode_packets(packets)
    """
    futures = _concurrent.streaming_demux(
        media_type, src, timestamps, executor=executor, **demux_options
    )
    return _iter_futures(futures)


async def _iter_futures(futures: list[Future[Packets]]) -> AsyncIterator[Packets]:
    try:
        for future in futures:
            yield await asyncio.wrap_future(future)
    finally:
        for future in futures:
            future.cancel()


def async_decode_packets(
    packets: Packets,
    *,
    executor: Executor | None = None,
    **decode_options: Any,
) -> asyncio.Future[Frames]:
    """Decode packets into frames; awaitable.

    The work is submitted when this function is called. Cancelling the awaiting task
    stops a running decode at its next packet.

    Args:
        packets: Packets from :func:`async_demux_media` or :func:`async_streaming_demux`.
        executor: Executor to run on instead of the shared decode pool.
        **decode_options: ``width``, ``height``, ``pix_fmt``, ``frame_rate``,
            ``num_frames``, ``pad_mode``, ``sample_rate``, ``num_channels``,
            ``sample_fmt``, ``filter_desc``, ``decoder``, ``decoder_options``,
            ``num_threads``.

    Returns:
        An ``asyncio.Future`` resolving to ``ImageFrames``, ``AudioFrames`` or
        ``VideoFrames``; awaiting it raises :class:`AsyncIOFailure` if decoding fails.

    Raises:
        TypeError: If ``packets`` is not a Packets object or an option has the wrong
            type.
        ValueError: If an option has an invalid value.
        RuntimeError: If called outside a running asyncio event loop.

    Example:
        >>> frames = await spdl.io.async_decode_packets(packets, width=121, height=121)
    """
    loop = _running_loop("async_decode_packets")
    return _wrap(loop, _concurrent.decode_packets(packets, executor=executor, **decode_options))


def async_decode_packets_nvdec(
    packets: Packets,
    cuda_device_index: int,
    *,
    executor: Executor | None = None,
    **decode_options: Any,
) -> asyncio.Future[Any]:
    """Decode video/image packets on an NVIDIA GPU with NVDEC; awaitable.

    Note:
        NVDEC decoding is not available yet; after validating its arguments this
        function raises ``NotImplementedError`` explaining what is missing.

    Args:
        packets: ``VideoPackets`` or ``ImagePackets``.
        cuda_device_index: Index of the CUDA device to decode on.
        executor: Executor to run on instead of the shared decode pool.
        **decode_options: Options for the GPU decoder.

    Returns:
        An ``asyncio.Future`` resolving to frames on the GPU.

    Raises:
        TypeError: If ``packets`` is not video/image packets or ``cuda_device_index``
            is not an int.
        ValueError: If ``cuda_device_index`` is negative.
        NotImplementedError: Always, until NVDEC support lands.
        RuntimeError: If called outside a running asyncio event loop.

    Example:
        >>> frames = await spdl.io.async_decode_packets_nvdec(packets, cuda_device_index=0)
    """
    loop = _running_loop("async_decode_packets_nvdec")
    future = _concurrent.decode_packets_nvdec(
        packets, cuda_device_index, executor=executor, **decode_options
    )
    return _wrap(loop, future)


def async_convert_frames(
    frames: Frames | Sequence[Any],
    *,
    executor: Executor | None = None,
) -> asyncio.Future[Any]:
    """Copy decoded frames into one contiguous buffer; awaitable.

    The frames are consumed (their memory is released while copied).

    Args:
        frames: ``ImageFrames``, ``AudioFrames``, ``VideoFrames``, or a list of
            ``ImageFrames`` of one size and format, which becomes one batch.
        executor: Executor to run on instead of the shared decode/convert pool.

    Returns:
        An ``asyncio.Future`` resolving to a ``CPUBuffer``; awaiting it raises
        :class:`AsyncIOFailure` if conversion fails.

    Raises:
        TypeError: If ``frames`` is not frames or a list of image frames.
        ValueError: If the frames of a batch differ in size or format.
        RuntimeError: If called outside a running asyncio event loop.

    Example:
        >>> buffer = await spdl.io.async_convert_frames(frames)
        >>> array = spdl.io.to_numpy(buffer)
    """
    loop = _running_loop("async_convert_frames")
    return _wrap(loop, _concurrent.convert_frames(frames, executor=executor))


def async_convert_frames_cpu(
    frames: Frames | Sequence[Any],
    *,
    executor: Executor | None = None,
) -> asyncio.Future[Any]:
    """Like :func:`async_convert_frames`, but only for frames held in CPU memory.

    Args:
        frames: ``ImageFrames``, ``AudioFrames``, ``VideoFrames``, or a list of
            ``ImageFrames``.
        executor: Executor to run on instead of the shared decode/convert pool.

    Returns:
        An ``asyncio.Future`` resolving to a ``CPUBuffer``.

    Raises:
        TypeError: If ``frames`` are not CPU frames.
        ValueError: If the frames of a batch differ in size or format.
        RuntimeError: If called outside a running asyncio event loop.

    Example:
        >>> buffer = await spdl.io.async_convert_frames_cpu(frames)
    """
    loop = _running_loop("async_convert_frames_cpu")
    return _wrap(loop, _concurrent.convert_frames_cpu(frames, executor=executor))


################################################################################
# High-level: one source
################################################################################


def _convert_option_names() -> frozenset[str]:
    params = list(inspect.signature(_convert.convert).parameters.values())[1:]
    return frozenset(p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD)


def _check_options(
    name: str, options: Mapping[str, Any] | None, reserved: Sequence[str] = ()
) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"`{name}` must be a mapping or None, got {type(options).__name__}.")
    clash = sorted(set(options) & set(reserved))
    if clash:
        raise TypeError(f"{clash} must be passed as arguments, not in `{name}`.")
    return dict(options)


def _validate_convert_options(options: Mapping[str, Any]) -> None:
    unknown = set(options) - _convert_option_names()
    if unknown:
        raise TypeError(
            f"Unexpected convert option(s) {sorted(unknown)}; "
            f"accepted: {sorted(_convert_option_names())}."
        )


@_concurrent.chain_futures
def _load_media_chain(
    media_type: str,
    src: Any,
    demux_options: dict[str, Any],
    decode_options: dict[str, Any],
    convert_options: dict[str, Any],
    executor: Executor | None,
) -> Generator[Future[Any], Any, None]:
    packets = yield _concurrent.demux_media(media_type, src, executor=executor, **demux_options)
    fused = getattr(_decode, "decode_to_buffer", None)
    if fused is not None and not convert_options:
        # One native call decodes and copies each frame into the output as it goes,
        # so the frames and the buffer never coexist in memory.
        yield _concurrent.submit_with_token(
            functools.partial(_call_with_cancel, fused, packets, decode_options),
            phase="decode",
            src=describe_source(packets),
            executor=executor,
        )
        return
    frames = yield _concurrent.decode_packets(packets, executor=executor, **decode_options)
    yield _concurrent.submit_convert(frames, executor=executor, **convert_options)


def _call_with_cancel(
    fn: Callable[..., Any], packets: Packets, options: dict[str, Any], cancel: Any
) -> Any:
    return fn(packets, cancel=cancel, **options)


def load_media_future(
    media_type: str,
    src: Any,
    demux_options: Mapping[str, Any] | None = None,
    decode_options: Mapping[str, Any] | None = None,
    convert_options: Mapping[str, Any] | None = None,
    *,
    executor: Executor | None = None,
) -> Future[Any]:
    """``concurrent.futures`` form of :func:`async_load_media` (arguments alike).

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        demux_options: ``timestamp``, ``format``, ``format_options``.
        decode_options: Options of :func:`spdl.io.decode_packets`.
        convert_options: Options of the buffer conversion (none at present).
        executor: Executor for all phases instead of the shared pools.

    Returns:
        A Future resolving to a ``CPUBuffer``.

    Raises:
        ValueError: If an argument has an invalid value.
        TypeError: If an argument or option has an unsupported type or name.
    """
    demux_options = _check_options("demux_options", demux_options)
    decode_options = _check_options("decode_options", decode_options)
    convert_options = _check_options("convert_options", convert_options)
    _concurrent.check_media_type(media_type)
    _decode.validate_decode_options(media_type, **decode_options)
    _validate_convert_options(convert_options)
    # The demux arguments are validated by demux_media, which the chain calls now.
    return _load_media_chain(
        media_type, src, demux_options, decode_options, convert_options, executor
    )


def async_load_media(
    media_type: str,
    src: Any,
    demux_options: Mapping[str, Any] | None = None,
    decode_options: Mapping[str, Any] | None = None,
    convert_options: Mapping[str, Any] | None = None,
    *,
    executor: Executor | None = None,
) -> asyncio.Future[Any]:
    """Load one image, audio clip or video clip into a buffer; awaitable.

    Demuxing starts when this function is called; decoding and conversion follow in
    the background without returning to the event loop in between.

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        demux_options: ``timestamp`` (half-open ``(start, end)`` window in seconds,
            audio/video only), ``format``, ``format_options``.
        decode_options: ``width``, ``height``, ``pix_fmt``, ``frame_rate``,
            ``num_frames``, ``pad_mode``, ``sample_rate``, ``num_channels``,
            ``sample_fmt``, ``filter_desc``, ``decoder``, ``decoder_options``,
            ``num_threads``.
        convert_options: Options of the buffer conversion (none at present).
        executor: Executor for all phases instead of the shared pools.

    Returns:
        An ``asyncio.Future`` resolving to a ``CPUBuffer`` shaped ``(H, W, C)`` for
        images, ``(N, H, W, C)`` for video (packed formats) and ``(channels, samples)``
        for planar audio. Awaiting it raises :class:`AsyncIOFailure` naming the source
        and the phase that failed.

    Raises:
        ValueError: If an argument has an invalid value.
        TypeError: If an argument or option has an unsupported type or name.
        RuntimeError: If called outside a running asyncio event loop.

    Example:
        >>> buffer = await spdl.io.async_load_media(
        ...     "video", "clip.mp4", demux_options={"timestamp": (0, 2)},
        ...     decode_options={"width": 224, "height": 224})
        >>> array = spdl.io.to_numpy(buffer)  # (N, 224, 224, 3) uint8
    """
    loop = _running_loop("async_load_media")
    future = load_media_future(
        media_type, src, demux_options, decode_options, convert_options, executor=executor
    )
    return _wrap(loop, future)


def _run_phase(phase: str, src: str, fn: functools.partial[Any]) -> Any:
    try:
        return fn()
    except Exception as error:
        raise AsyncIOFailure.wrap(phase, src, error) from error


def load_media(
    media_type: str,
    src: Any,
    demux_options: Mapping[str, Any] | None = None,
    decode_options: Mapping[str, Any] | None = None,
    convert_options: Mapping[str, Any] | None = None,
) -> Any:
    """Load one image, audio clip or video clip into a buffer, in the calling thread.

    Synchronous twin of :func:`async_load_media`: same arguments and results, with the
    three phases run one after another in the calling thread.

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        demux_options: ``timestamp``, ``format``, ``format_options``.
        decode_options: Options of :func:`spdl.io.decode_packets`.
        convert_options: Options of the buffer conversion (none at present).

    Returns:
        A ``CPUBuffer`` (see :func:`async_load_media` for shapes).

    Raises:
        ValueError: If an argument has an invalid value.
        TypeError: If an argument or option has an unsupported type or name.
        AsyncIOFailure: If a phase fails; the message names the source and phase.

    Example:
        >>> buffer = spdl.io.load_media("image", "foo.jpg", decode_options={"width": 64})
    """
    demux_options = _check_options("demux_options", demux_options)
    decode_options = _check_options("decode_options", decode_options)
    convert_options = _check_options("convert_options", convert_options)
    _concurrent.check_media_type(media_type)
    timestamp = demux_options.pop("timestamp", None)
    _concurrent.validate_demux_options(demux_options)
    _demux.validate_demux_args(media_type, src, timestamp, **demux_options)
    _decode.validate_decode_options(media_type, **decode_options)
    _validate_convert_options(convert_options)

    src_desc = describe_source(src)
    demux = functools.partial(_demux.demux, media_type, src, timestamp, **demux_options)
    packets = _run_phase("demux", src_desc, demux)
    fused = getattr(_decode, "decode_to_buffer", None)
    if fused is not None and not convert_options:
        return _run_phase("decode", src_desc, functools.partial(fused, packets, **decode_options))
    decode = functools.partial(_decode.decode, packets, **decode_options)
    frames = _run_phase("decode", src_desc, decode)
    convert = functools.partial(_convert.convert, frames, **convert_options)
    return _run_phase("convert", src_desc, convert)


################################################################################
# High-level: batch of images
################################################################################

# Still-image files that the native batch decoder reads directly (no PyAV demuxing).
_IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".qoi"}
)
_IMAGE_MAGICS = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"BM",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF, little endian
    b"MM\x00*",  # TIFF, big endian
    b"qoif",
)
# Decode options the native batch decoder understands (besides width/height/pix_fmt).
_FAST_PATH_OPTIONS = frozenset({"scale_algo", "filter_desc", "decoder_options", "num_threads"})


def _is_still_image(src: Any) -> bool:
    if isinstance(src, str | os.PathLike):
        return os.path.splitext(os.fspath(src))[1].lower() in _IMAGE_EXTENSIONS
    if isinstance(src, bytes | bytearray | memoryview):
        head = bytes(memoryview(src).cast("B")[:12])
        is_webp = head.startswith(b"RIFF") and head[8:12] == b"WEBP"
        return is_webp or head.startswith(_IMAGE_MAGICS)
    return False


def _check_batch_args(
    srcs: Sequence[Any],
    width: int | None,
    height: int | None,
    pix_fmt: str | None,
    demux_options: Mapping[str, Any] | None,
    decode_options: Mapping[str, Any] | None,
    convert_options: Mapping[str, Any] | None,
    strict: bool,
) -> tuple[list[Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    if isinstance(srcs, str | bytes | bytearray | memoryview) or not isinstance(srcs, Sequence):
        raise TypeError(f"`srcs` must be a sequence of sources, got {type(srcs).__name__}.")
    srcs = list(srcs)
    if not srcs:
        raise ValueError("`srcs` must contain at least one source.")
    if not isinstance(strict, bool):
        raise TypeError(f"`strict` must be a bool, got {type(strict).__name__}.")
    demux = _check_options("demux_options", demux_options, reserved=("timestamp",))
    decode = _check_options("decode_options", decode_options, ("width", "height", "pix_fmt"))
    convert = _check_options("convert_options", convert_options)
    _concurrent.validate_demux_options(demux)
    for src in srcs:
        _demux.validate_demux_args("image", src, None, **demux)
    decode.update(width=width, height=height, pix_fmt=pix_fmt)
    _decode.validate_decode_options("image", **decode)
    _validate_convert_options(convert)
    return srcs, demux, decode, convert


def _log_failure(src: Any, error: BaseException) -> None:
    _LG.error("Failed to load image %s: %s", describe_source(src), error)


def _fast_batch_future(
    srcs: list[Any],
    decode_options: dict[str, Any],
    strict: bool,
    executor: Executor | None,
) -> Future[Any]:
    decode_image_batch = _decode.decode_image_batch
    options = {k: v for k, v in decode_options.items() if k != "num_threads"}
    # `num_threads` of decode options is FFmpeg's per-decoder threading, which does not
    # apply here: the batch decoder spreads the images over as many native threads as
    # the decode pool has.
    num_threads = min(len(srcs), _executor.executor_sizes()[1])

    def run(cancel: _native.CancelToken) -> Any:
        buffer, errors = decode_image_batch(srcs, cancel=cancel, num_threads=num_threads, **options)
        failures = [
            (src, AsyncIOFailure.wrap(_batch_phase(error), describe_source(src), error))
            for src, error in zip(srcs, errors, strict=True)
            if error is not None
        ]
        for src, failure in failures:
            _log_failure(src, failure)
        if failures and strict:
            raise failures[0][1]
        if buffer is None:
            raise _all_failed(len(srcs), failures[0][1] if failures else None)
        return buffer

    return _concurrent.submit_with_token(
        run, phase="decode", src=f"<batch of {len(srcs)} images>", executor=executor
    )


def _batch_phase(error: BaseException) -> str:
    # A source that cannot be read fails where the per-source path fails: in demux.
    return "demux" if isinstance(error, OSError) else "decode"


def _all_failed(num_srcs: int, first: BaseException | None) -> AsyncIOFailure:
    failure = AsyncIOFailure(f"All {num_srcs} images failed to load. First error: {first}")
    failure.__cause__ = first
    return failure


@_concurrent.chain_futures
def _decode_image_chain(
    src: Any,
    demux_options: dict[str, Any],
    decode_options: dict[str, Any],
    executor: Executor | None,
) -> Generator[Future[Any], Any, None]:
    packets = yield _concurrent.demux_media("image", src, executor=executor, **demux_options)
    yield _concurrent.decode_packets(packets, executor=executor, **decode_options)


@_concurrent.chain_futures
def _batch_chain(
    srcs: list[Any],
    demux_options: dict[str, Any],
    decode_options: dict[str, Any],
    convert_options: dict[str, Any],
    strict: bool,
    executor: Executor | None,
) -> Generator[Future[Any], Any, None]:
    futures = [_decode_image_chain(s, demux_options, decode_options, executor) for s in srcs]
    gathered = _concurrent.gather_futures(
        futures, strict=strict, on_error=lambda i, error: _log_failure(srcs[i], error)
    )
    try:
        frames = yield gathered
    except Exception as error:
        for future in futures:  # do not leave the other images decoding
            future.cancel()
        if not strict and isinstance(error, AsyncIOFailure) and error.phase is None:
            raise _all_failed(len(srcs), error.__cause__) from error.__cause__
        raise
    yield _concurrent.submit_convert(frames, executor=executor, **convert_options)


def batch_load_image_future(
    srcs: Sequence[Any],
    width: int | None,
    height: int | None,
    pix_fmt: str | None = "rgb24",
    demux_options: Mapping[str, Any] | None = None,
    decode_options: Mapping[str, Any] | None = None,
    convert_options: Mapping[str, Any] | None = None,
    strict: bool = True,
    *,
    executor: Executor | None = None,
) -> Future[Any]:
    """``concurrent.futures`` form of :func:`async_batch_load_image` (arguments alike).

    Args:
        srcs: Image sources.
        width: Output width.
        height: Output height.
        pix_fmt: Output pixel format.
        demux_options: ``format``, ``format_options``.
        decode_options: Other options of :func:`spdl.io.decode_packets`.
        convert_options: Options of the buffer conversion (none at present).
        strict: Fail if any image fails, instead of batching the others.
        executor: Executor for all phases instead of the shared pools.

    Returns:
        A Future resolving to a ``CPUBuffer`` batch.

    Raises:
        ValueError: If ``srcs`` is empty or an argument has an invalid value.
        TypeError: If an argument or option has an unsupported type or name.
    """
    srcs, demux, decode, convert = _check_batch_args(
        srcs, width, height, pix_fmt, demux_options, decode_options, convert_options, strict
    )
    use_fast_path = (
        hasattr(_decode, "decode_image_batch")
        and not demux
        and not convert
        and set(decode) - {"width", "height", "pix_fmt"} <= _FAST_PATH_OPTIONS
        and all(_is_still_image(src) for src in srcs)
    )
    if use_fast_path:
        return _fast_batch_future(srcs, decode, strict, executor)
    return _batch_chain(srcs, demux, decode, convert, strict, executor)


def async_batch_load_image(
    srcs: Sequence[Any],
    width: int | None,
    height: int | None,
    pix_fmt: str | None = "rgb24",
    demux_options: Mapping[str, Any] | None = None,
    decode_options: Mapping[str, Any] | None = None,
    convert_options: Mapping[str, Any] | None = None,
    strict: bool = True,
    *,
    executor: Executor | None = None,
) -> asyncio.Future[Any]:
    """Load images into one batch buffer, decoding them concurrently; awaitable.

    Still images given as paths or bytes (JPEG, PNG, BMP, WebP) are decoded natively
    in one call; other sources are demuxed and decoded one by one in the shared pools.
    Each failure is logged with its source (logger ``"spdl.io"``).

    Args:
        srcs: Image sources: paths, bytes-like objects or binary file-like objects.
        width: Width of every output image; ``None`` keeps the decoded width (then all
            images must already share one size).
        height: Height of every output image; ``None`` keeps the decoded height.
        pix_fmt: Output pixel format; ``None`` keeps the decoder's format.
        demux_options: ``format``, ``format_options``.
        decode_options: Other options of :func:`spdl.io.decode_packets`
            (``filter_desc``, ``decoder``, ``decoder_options``, ``num_threads``).
        convert_options: Options of the buffer conversion (none at present).
        strict: If ``True``, fail as soon as any image fails (the others are
            cancelled). If ``False``, batch the images that loaded.
        executor: Executor for all phases instead of the shared pools.

    Returns:
        An ``asyncio.Future`` resolving to a ``CPUBuffer`` of shape
        ``(B, height, width, 3)`` for ``rgb24`` (see the shape table for others), where
        ``B`` is ``len(srcs)``, or the number of images that loaded when
        ``strict=False``. Awaiting it raises :class:`AsyncIOFailure` if an image failed
        (``strict=True``) or if every image failed.

    Raises:
        ValueError: If ``srcs`` is empty or an argument has an invalid value.
        TypeError: If an argument or option has an unsupported type or name.
        RuntimeError: If called outside a running asyncio event loop.

    Example:
        >>> buffer = await spdl.io.async_batch_load_image(
        ...     ["foo.jpg", "bar.png"], width=121, height=121)
        >>> spdl.io.to_numpy(buffer).shape
        (2, 121, 121, 3)
    """
    loop = _running_loop("async_batch_load_image")
    future = batch_load_image_future(
        srcs,
        width,
        height,
        pix_fmt,
        demux_options,
        decode_options,
        convert_options,
        strict,
        executor=executor,
    )
    return _wrap(loop, future)


def batch_load_image(
    srcs: Sequence[Any],
    width: int | None,
    height: int | None,
    pix_fmt: str | None = "rgb24",
    demux_options: Mapping[str, Any] | None = None,
    decode_options: Mapping[str, Any] | None = None,
    convert_options: Mapping[str, Any] | None = None,
    strict: bool = True,
    *,
    executor: Executor | None = None,
) -> Any:
    """Load images into one batch buffer; blocks until done.

    Synchronous twin of :func:`async_batch_load_image`: same arguments, results and
    errors; the images are decoded concurrently in the shared pools while the calling
    thread waits.

    Args:
        srcs: Image sources: paths, bytes-like objects or binary file-like objects.
        width: Width of every output image; ``None`` keeps the decoded width.
        height: Height of every output image; ``None`` keeps the decoded height.
        pix_fmt: Output pixel format; ``None`` keeps the decoder's format.
        demux_options: ``format``, ``format_options``.
        decode_options: Other options of :func:`spdl.io.decode_packets`.
        convert_options: Options of the buffer conversion (none at present).
        strict: If ``True``, fail if any image fails; if ``False``, batch the others.
        executor: Executor for all phases instead of the shared pools.

    Returns:
        A ``CPUBuffer`` of shape ``(B, height, width, 3)`` for ``rgb24``.

    Raises:
        ValueError: If ``srcs`` is empty or an argument has an invalid value.
        TypeError: If an argument or option has an unsupported type or name.
        AsyncIOFailure: If an image failed (``strict=True``) or every image failed.

    Example:
        >>> buffer = spdl.io.batch_load_image(["foo.jpg", "bar.png"], 121, 121)
    """
    future = batch_load_image_future(
        srcs,
        width,
        height,
        pix_fmt,
        demux_options,
        decode_options,
        convert_options,
        strict,
        executor=executor,
    )
    try:
        return future.result()
    finally:
        future.cancel()  # no-op when done; stops the work on KeyboardInterrupt
