"""asyncio API: every phase and loader as an awaitable.

The ``async_*`` phase functions are plain functions, not coroutines: they validate
their arguments, submit the work to the shared pools *when called*, and return an
``asyncio.Future`` (``asyncio.wrap_future`` of the ``concurrent.futures.Future`` from
:mod:`spdl.io._concurrent`). Cancelling the awaiting task — directly or through
``asyncio.wait_for`` — cancels the work: queued work is dropped and a running decode
stops at its next packet.

The loaders' ``concurrent.futures`` and synchronous forms live in :mod:`._load_media`
(one source) and :mod:`._batch` (a batch of images); ``load_media`` and
``batch_load_image`` are re-exported here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from typing import Any

from . import _concurrent
from ._batch import batch_load_image, batch_load_image_future
from ._decode import Frames
from ._demux import Packets
from ._load_media import load_media, load_media_future

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
        >>> packets.codec_name, packets.width, packets.height
        ('mjpeg', 320, 240)
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
        >>> windows = [(0, 1), (1, 2)]
        >>> async for packets in spdl.io.async_streaming_demux("audio", "speech.wav", windows):
        ...     frames = await spdl.io.async_decode_packets(packets)
        ...     print(frames.num_channels, frames.num_samples)
        2 16000
        2 16000
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
        >>> packets = await spdl.io.async_demux_media("image", "foo.jpg")
        >>> frames = await spdl.io.async_decode_packets(packets, width=121, height=121)
        >>> frames.width, frames.height, frames.pix_fmt
        (121, 121, 'rgb24')
    """
    loop = _running_loop("async_decode_packets")
    return _wrap(loop, _concurrent.decode_packets(packets, executor=executor, **decode_options))


def async_decode_packets_nvdec(
    packets: Packets,
    cuda_device_index: int,
    *,
    width: int | None = None,
    height: int | None = None,
    crop_left: int = 0,
    crop_top: int = 0,
    crop_right: int = 0,
    crop_bottom: int = 0,
    pix_fmt: str | None = "rgb",
    executor: Executor | None = None,
) -> asyncio.Future[Any]:
    """Decode video/image packets on an NVIDIA GPU with NVDEC; awaitable.

    The awaitable form of :func:`spdl.io.decode_packets_nvdec`: the decode is
    submitted at call time, cropping, resizing and NV12 → RGB conversion run on the
    GPU, and frames outside the packets' window are dropped.

    Args:
        packets: ``VideoPackets`` or ``ImagePackets``.
        cuda_device_index: Index of the CUDA device to decode on.
        width: Output width after cropping; ``None`` keeps the cropped width.
        height: Output height after cropping; ``None`` keeps the cropped height.
        crop_left: Pixels removed from the left edge before resizing.
        crop_top: Pixels removed from the top edge.
        crop_right: Pixels removed from the right edge.
        crop_bottom: Pixels removed from the bottom edge.
        pix_fmt: ``"rgb"`` (``(N, 3, H, W)``), ``"rgba"`` (``(N, 4, H, W)``) or
            ``None`` (NV12, ``(N, 1, H * 1.5, W)``).
        executor: Executor to run on instead of the shared decode pool.

    Returns:
        An ``asyncio.Future`` resolving to ``CUDAFrames``. Awaiting it raises
        :class:`AsyncIOFailure` when NVDEC rejects the bitstream or the GPU, its
        driver or NVDEC cannot be used.

    Raises:
        TypeError: If ``packets`` is not video/image packets or an option has the
            wrong type.
        ValueError: If ``cuda_device_index`` is negative, an option is out of range,
            or NVDEC does not decode the codec.
        RuntimeError: If called outside a running asyncio event loop, or if
            PyNvVideoCodec or CuPy is not installed.

    Example:
        >>> packets = await spdl.io.async_demux_media("video", "clip.mp4")
        >>> frames = await spdl.io.async_decode_packets_nvdec(packets, 0, pix_fmt="rgba")
        >>> buffer = await spdl.io.async_convert_frames(frames)
        >>> spdl.io.to_torch(buffer).shape
        torch.Size([90, 4, 64, 96])
    """
    loop = _running_loop("async_decode_packets_nvdec")
    future = _concurrent.decode_packets_nvdec(
        packets,
        cuda_device_index,
        width=width,
        height=height,
        crop_left=crop_left,
        crop_top=crop_top,
        crop_right=crop_right,
        crop_bottom=crop_bottom,
        pix_fmt=pix_fmt,
        executor=executor,
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
        >>> packets = await spdl.io.async_demux_media("video", "clip.mp4", (0, 1))
        >>> frames = await spdl.io.async_decode_packets(packets)
        >>> buffer = await spdl.io.async_convert_frames(frames)
        >>> spdl.io.to_numpy(buffer).shape
        (30, 64, 96, 3)
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
        >>> packets = await spdl.io.async_demux_media("audio", "speech.wav")
        >>> frames = await spdl.io.async_decode_packets(packets)
        >>> buffer = await spdl.io.async_convert_frames_cpu(frames)
        >>> buffer.shape
        (2, 32000)
    """
    loop = _running_loop("async_convert_frames_cpu")
    return _wrap(loop, _concurrent.convert_frames_cpu(frames, executor=executor))


################################################################################
# Loaders
################################################################################


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
        >>> spdl.io.to_numpy(buffer).shape  # the 60 frames of the first 2 seconds
        (60, 224, 224, 3)
    """
    loop = _running_loop("async_load_media")
    future = load_media_future(
        media_type, src, demux_options, decode_options, convert_options, executor=executor
    )
    return _wrap(loop, future)


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
