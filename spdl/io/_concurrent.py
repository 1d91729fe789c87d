"""``concurrent.futures`` API: each phase as a function that returns a ``Future``.

Every function here validates its arguments in the caller's thread (raising
``ValueError`` / ``TypeError`` at once), submits the work to a shared pool at call
time and returns a ``concurrent.futures.Future``. A failure in the background surfaces
from the Future as :class:`AsyncIOFailure`.

Cancelling a returned Future removes the work from the pool's queue if it has not
started; a decode that is already running is told to stop at its next packet through
the ``CancelToken`` handed to the native decoder. The returned Futures stay *pending*
until they finish (``Future.running()`` is always ``False``), which is what lets
``Future.cancel()`` succeed on work that is already running (see :mod:`._futures`).
Composing Futures (:func:`chain_futures`, :func:`wait_futures`) lives in
:mod:`._chain`; both are re-exported here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future
from typing import Any

from spdl import _native

from . import _convert, _decode, _demux, _executor, _nvdec
from ._chain import chain_futures, wait_futures
from ._decode import Frames
from ._demux import Packets
from ._futures import AsyncIOFailure, describe_source, reject_unknown_options, submit, try_set

# AsyncIOFailure, chain_futures and wait_futures are defined in ._futures and ._chain.
__all__ = [
    "AsyncIOFailure",
    "chain_futures",
    "convert_frames",
    "convert_frames_cpu",
    "decode_packets",
    "decode_packets_nvdec",
    "demux_media",
    "streaming_demux",
    "wait_futures",
]

_PACKETS_TYPES = (_native.ImagePackets, _native.AudioPackets, _native.VideoPackets)
_CPU_FRAMES_TYPES = (_native.ImageFrames, _native.AudioFrames, _native.VideoFrames)
_MEDIA_TYPES = ("image", "audio", "video")


################################################################################
# Argument checks
################################################################################


def _demux_option_names() -> frozenset[str]:
    params = inspect.signature(_demux.demux).parameters.values()
    return frozenset(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def validate_demux_options(demux_options: Mapping[str, Any]) -> None:
    """Check that only known demux options (``format``, ``format_options``) are given.

    The values are checked by ``_demux.validate_demux_args``.

    Args:
        demux_options: Keyword options for the demuxer.

    Raises:
        TypeError: If an option is unknown.
    """
    reject_unknown_options("demux", demux_options, _demux_option_names())


def check_media_type(media_type: object) -> None:
    """Check that ``media_type`` is ``"image"``, ``"audio"`` or ``"video"``.

    Args:
        media_type: The value to check.

    Raises:
        ValueError: If it is anything else.
    """
    if media_type not in _MEDIA_TYPES:
        raise ValueError(f"`media_type` must be one of {_MEDIA_TYPES}, got {media_type!r}.")


def _check_executor(executor: object) -> None:
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(
            f"`executor` must be a concurrent.futures.Executor, got {type(executor).__name__}."
        )


################################################################################
# Demux
################################################################################


def demux_media(
    media_type: str,
    src: Any,
    timestamp: tuple[float, float] | None = None,
    *,
    executor: Executor | None = None,
    **demux_options: Any,
) -> Future[Packets]:
    """Demux one image, or one audio/video window, in the background.

    The arguments are validated at once and the work is submitted to the demux pool
    before this function returns.

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        timestamp: Half-open window ``(start, end)`` in seconds to extract from an
            audio/video source; ``None`` takes the whole stream. Must be ``None`` for
            images.
        executor: Executor to run on instead of the shared demux pool.
        **demux_options: ``format`` (force a container format, e.g. ``"mp4"``) and
            ``format_options`` (``dict[str, str]`` handed to the demuxer).

    Returns:
        A Future resolving to ``ImagePackets``, ``AudioPackets`` or ``VideoPackets``.
        It fails with :class:`AsyncIOFailure` (phase ``"demux"``) if the source
        cannot be demuxed.

    Raises:
        ValueError: If ``media_type`` or ``timestamp`` is invalid.
        TypeError: If ``src`` or an option has an unsupported type.

    Example:
        >>> future = spdl.io.demux_media("video", "clip.mp4", timestamp=(0.0, 1.0))
        >>> packets = future.result()
        >>> packets.codec_name, packets.timestamp
        ('h264', (0.0, 1.0))
    """
    check_media_type(media_type)
    _check_executor(executor)
    validate_demux_options(demux_options)
    _demux.validate_demux_args(media_type, src, timestamp, **demux_options)
    return submit(
        executor or _executor.get_demux_executor(),
        functools.partial(_demux.demux, media_type, src, timestamp, **demux_options),
        phase="demux",
        src=describe_source(src),
    )


def _check_timestamps(
    media_type: str, src: Any, timestamps: object, demux_options: Mapping[str, Any]
) -> list[tuple[float, float]]:
    if media_type == "image":
        raise ValueError("streaming_demux supports 'audio' and 'video', not 'image'.")
    if isinstance(timestamps, str | bytes) or not isinstance(timestamps, Sequence):
        raise TypeError(
            "`timestamps` must be a sequence of (start, end) pairs, "
            f"got {type(timestamps).__name__}."
        )
    if len(timestamps) == 0:
        raise ValueError("`timestamps` must contain at least one (start, end) window.")
    windows = []
    for window in timestamps:
        if isinstance(window, str | bytes) or not isinstance(window, Sequence) or len(window) != 2:
            raise TypeError(f"Each timestamp must be a (start, end) pair, got {window!r}.")
        _demux.validate_demux_args(media_type, src, tuple(window), **demux_options)
        windows.append((window[0], window[1]))
    return windows


def streaming_demux(
    media_type: str,
    src: Any,
    timestamps: Sequence[tuple[float, float]],
    *,
    executor: Executor | None = None,
    **demux_options: Any,
) -> list[Future[Packets]]:
    """Demux several windows of one audio/video source, opening the source once.

    One task on the demux pool reads the windows in order and resolves each window's
    Future as soon as that window is ready, so the caller can start decoding the first
    window while later ones are still being demuxed.

    Args:
        media_type: ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        timestamps: Half-open windows ``(start, end)`` in seconds.
        executor: Executor to run on instead of the shared demux pool.
        **demux_options: ``format`` and ``format_options``, as for :func:`demux_media`.

    Returns:
        One Future per window, in the order of ``timestamps``. If demuxing fails, the
        window being read and all later windows fail with :class:`AsyncIOFailure`.
        Cancelling every remaining Future stops the demuxing task.

    Raises:
        ValueError: If ``media_type`` is not audio/video or a window is invalid.
        TypeError: If ``src``, ``timestamps`` or an option has an unsupported type.

    Example:
        >>> futures = spdl.io.streaming_demux("video", "clip.mp4", [(0, 1), (1, 2)])
        >>> packets = [f.result() for f in futures]
        >>> [len(spdl.io.decode_packets(p).result()) for p in packets]  # frames per window
        [30, 30]
    """
    check_media_type(media_type)
    _check_executor(executor)
    validate_demux_options(demux_options)
    windows = _check_timestamps(media_type, src, timestamps, demux_options)
    futures: list[Future[Packets]] = [Future() for _ in windows]
    src_desc = describe_source(src)

    def run() -> None:
        if all(f.done() for f in futures):
            return
        packets_iter: Iterator[Packets] | None = None
        index = 0
        try:
            packets_iter = _demux.iter_demux(media_type, src, windows, **demux_options)
            for index, future in enumerate(futures):
                if all(f.done() for f in futures[index:]):
                    return  # everything left was cancelled
                try:
                    packets = next(packets_iter)
                except StopIteration:
                    raise RuntimeError(
                        f"the demuxer produced {index} windows, expected {len(futures)}"
                    ) from None
                try_set(future.set_result, packets)
        except Exception as error:
            failure = AsyncIOFailure.wrap("demux", src_desc, error)
            for future in futures[index:]:
                try_set(future.set_exception, failure)
        finally:
            close = getattr(packets_iter, "close", None)
            if close is not None:
                close()  # releases the source

    inner = (executor or _executor.get_demux_executor()).submit(run)

    def on_done(future: Future[Packets]) -> None:
        if future.cancelled() and all(f.done() for f in futures):
            inner.cancel()

    def on_inner_done(task: Future[None]) -> None:
        if task.cancelled():  # e.g. the executor was shut down with cancel_futures=True
            for future in futures:
                future.cancel()

    for future in futures:
        future.add_done_callback(on_done)
    inner.add_done_callback(on_inner_done)
    return futures


################################################################################
# Decode
################################################################################


def _check_packets(packets: object) -> None:
    if not isinstance(packets, _PACKETS_TYPES):
        raise TypeError(
            "`packets` must be ImagePackets, AudioPackets or VideoPackets, "
            f"got {type(packets).__name__}."
        )


def decode_packets(
    packets: Packets,
    *,
    executor: Executor | None = None,
    **decode_options: Any,
) -> Future[Frames]:
    """Decode packets into frames in the background, on the decode pool.

    Args:
        packets: Packets from :func:`demux_media` or :func:`streaming_demux`.
        executor: Executor to run on instead of the shared decode pool.
        **decode_options: ``width``, ``height``, ``pix_fmt`` (images/video),
            ``frame_rate``, ``num_frames``, ``pad_mode`` (video), ``sample_rate``,
            ``num_channels``, ``sample_fmt`` (audio), ``filter_desc``, ``decoder``,
            ``decoder_options`` and ``num_threads``.

    Returns:
        A Future resolving to ``ImageFrames``, ``AudioFrames`` or ``VideoFrames``. It
        fails with :class:`AsyncIOFailure` (phase ``"decode"``) if decoding fails.
        Cancelling it stops a running decode at its next packet.

    Raises:
        TypeError: If ``packets`` is not a Packets object or an option has the wrong
            type.
        ValueError: If an option has an invalid value.

    Example:
        >>> packets = spdl.io.demux_media("image", "foo.jpg").result()
        >>> frames = spdl.io.decode_packets(packets, width=64, height=48).result()
        >>> frames.width, frames.height, frames.pix_fmt
        (64, 48, 'rgb24')
    """
    _check_packets(packets)
    _check_executor(executor)
    _decode.validate_decode_options(packets.media_type, **decode_options)
    token = _native.CancelToken()
    return submit(
        executor or _executor.get_decode_executor(),
        functools.partial(_decode.decode, packets, cancel=token, **decode_options),
        phase="decode",
        src=describe_source(packets),
        token=token,
    )


def decode_packets_nvdec(
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
) -> Future[Any]:
    """Decode video/image packets on an NVIDIA GPU with NVDEC, in the background.

    H.264/HEVC packets are rewritten into Annex B by the native core and fed to a
    PyNvVideoCodec decoder kept per worker thread, device and codec. Each frame is
    cropped, resized and converted from NV12 on the GPU (a CUDA kernel compiled at
    run time by CuPy; BT.601/BT.709 and limited/full range taken from the stream)
    before the next packet is decoded. Frames outside the packets' window are
    dropped, as on the CPU. Needs the ``spdl[cuda]`` extra (PyNvVideoCodec, CuPy).

    Args:
        packets: ``VideoPackets`` or ``ImagePackets`` (H.264, HEVC, VP9, AV1, VP8,
            MPEG-1/2/4, VC-1, and JPEG where the GPU supports it).
        cuda_device_index: Index of the CUDA device to decode on.
        width: Output width after cropping; ``None`` keeps the cropped width.
        height: Output height after cropping; ``None`` keeps the cropped height.
        crop_left: Pixels removed from the left edge before resizing.
        crop_top: Pixels removed from the top edge.
        crop_right: Pixels removed from the right edge.
        crop_bottom: Pixels removed from the bottom edge.
        pix_fmt: ``"rgb"`` for planar ``(N, 3, H, W)``, ``"rgba"`` for
            ``(N, 4, H, W)``, or ``None`` for NV12 as decoded ``(N, 1, H * 1.5, W)``
            (no resize, even crop values). An image drops the leading ``N``.
        executor: Executor to run on instead of the shared decode pool.

    Returns:
        A Future resolving to ``CUDAFrames``; :func:`convert_frames` turns them into a
        ``CUDABuffer`` without a copy. It fails with :class:`AsyncIOFailure` (phase
        ``"decode"``) when NVDEC rejects the bitstream, the stream is outside the
        GPU's decoder limits (the message names them: HEVC below 144x144 on an
        H100, say), no frame comes out, or the GPU, its driver or NVDEC cannot be
        used (the message quotes the cause).

    Raises:
        TypeError: If ``packets`` is not video/image packets or an option has the
            wrong type.
        ValueError: If ``cuda_device_index`` is negative, an option is out of range,
            the crop leaves nothing, or NVDEC does not decode the codec.
        RuntimeError: If PyNvVideoCodec or CuPy is not installed (the message names
            the missing package and the ``spdl[cuda]`` extra).

    Example:
        >>> packets = spdl.io.demux_media("video", "clip.mp4").result()
        >>> frames = spdl.io.decode_packets_nvdec(packets, 0, width=224, height=224).result()
        >>> spdl.io.to_torch(spdl.io.convert_frames(frames).result()).shape
        torch.Size([90, 3, 224, 224])
    """
    _check_packets(packets)
    _check_executor(executor)
    if packets.media_type == "audio":
        raise TypeError("NVDEC decodes video and images, not audio packets.")
    if isinstance(cuda_device_index, bool) or not isinstance(cuda_device_index, int):
        raise TypeError(
            f"`cuda_device_index` must be an int, got {type(cuda_device_index).__name__}."
        )
    if cuda_device_index < 0:
        raise ValueError(f"`cuda_device_index` must be >= 0, got {cuda_device_index}.")
    options = _nvdec.validate_nvdec_options(
        packets,
        width=width,
        height=height,
        crop_left=crop_left,
        crop_top=crop_top,
        crop_right=crop_right,
        crop_bottom=crop_bottom,
        pix_fmt=pix_fmt,
    )
    _nvdec.check_dependencies()
    return submit(
        executor or _executor.get_decode_executor(),
        functools.partial(_nvdec.decode_nvdec, packets, cuda_device_index, options),
        phase="decode",
        src=describe_source(packets),
    )


################################################################################
# Convert
################################################################################


def _describe_frames(frames: Any) -> str:
    if isinstance(frames, list):
        return f"<batch of {len(frames)} frames>"
    src = getattr(frames, "src", None)
    if isinstance(src, str):
        return repr(src)
    return f"<{type(frames).__name__}>"


def submit_convert(
    frames: Frames | list[Any], *, executor: Executor | None = None, **convert_options: Any
) -> Future[Any]:
    """Submit a conversion of already validated arguments (used inside chains).

    Args:
        frames: Frames, or a list of image frames.
        executor: Executor to run on instead of the shared decode/convert pool.
        **convert_options: Passed to the conversion.

    Returns:
        A Future resolving to a ``CPUBuffer``.

    Raises:
        TypeError: If ``frames`` is not frames or a list of image frames.
        ValueError: If the frames of a batch differ in size or format.
    """
    if isinstance(frames, tuple):
        frames = list(frames)
    _convert.validate_frames(frames)
    return submit(
        executor or _executor.get_decode_executor(),
        functools.partial(_convert.convert, frames, **convert_options),
        phase="convert",
        src=_describe_frames(frames),
    )


def convert_frames(
    frames: Frames | Sequence[Any],
    *,
    executor: Executor | None = None,
) -> Future[Any]:
    """Copy decoded frames into one contiguous buffer, in the background.

    The frames are consumed: their memory is released as it is copied, and using them
    afterwards raises ``ValueError``.

    Args:
        frames: ``ImageFrames``, ``AudioFrames``, ``VideoFrames``, or a list of
            ``ImageFrames`` of the same size and format, which becomes one batch.
        executor: Executor to run on instead of the shared decode/convert pool.

    Returns:
        A Future resolving to a ``CPUBuffer``; see the shape table of
        :func:`spdl.io.to_numpy`. It fails with :class:`AsyncIOFailure` (phase
        ``"convert"``) if conversion fails.

    Raises:
        TypeError: If ``frames`` is not frames or a list of image frames.
        ValueError: If the frames of a batch differ in size or format, or the list is
            empty.

    Example:
        >>> packets = spdl.io.demux_media("video", "clip.mp4", timestamp=(0, 1)).result()
        >>> frames = spdl.io.decode_packets(packets).result()
        >>> buffer = spdl.io.convert_frames(frames).result()
        >>> spdl.io.to_numpy(buffer).shape
        (30, 64, 96, 3)
    """
    _check_executor(executor)
    return submit_convert(frames, executor=executor)


def check_cpu_frames(frames: object) -> None:
    """Refuse anything but CPU frames or a list of CPU image frames.

    Args:
        frames: The object to check.

    Raises:
        TypeError: If ``frames`` is not ``ImageFrames``/``AudioFrames``/
            ``VideoFrames`` or a list/tuple of ``ImageFrames`` (e.g. GPU frames).
    """
    if isinstance(frames, _CPU_FRAMES_TYPES):
        return
    if isinstance(frames, list | tuple) and all(isinstance(f, _native.ImageFrames) for f in frames):
        return
    if isinstance(frames, list | tuple):
        bad = next(f for f in frames if not isinstance(f, _native.ImageFrames))
        raise TypeError(
            f"A batch for CPU conversion must contain only ImageFrames, got {type(bad).__name__}."
        )
    raise TypeError(
        "Expected CPU frames (ImageFrames, AudioFrames, VideoFrames or a list of "
        f"ImageFrames), got {type(frames).__name__}."
    )


def convert_frames_cpu(
    frames: Frames | Sequence[Any],
    *,
    executor: Executor | None = None,
) -> Future[Any]:
    """Like :func:`convert_frames`, but only for frames held in CPU memory.

    Args:
        frames: ``ImageFrames``, ``AudioFrames``, ``VideoFrames``, or a list of
            ``ImageFrames``.
        executor: Executor to run on instead of the shared decode/convert pool.

    Returns:
        A Future resolving to a ``CPUBuffer``.

    Raises:
        TypeError: If ``frames`` are not CPU frames (for example frames decoded on a
            GPU).
        ValueError: If the frames of a batch differ in size or format.

    Example:
        >>> packets = [spdl.io.demux_media("image", src).result() for src in ("foo.jpg", "bar.png")]
        >>> frames = [spdl.io.decode_packets(p, width=64, height=48).result() for p in packets]
        >>> spdl.io.convert_frames_cpu(frames).result().shape  # a list of images: one batch
        (2, 48, 64, 3)
    """
    check_cpu_frames(frames)
    return convert_frames(frames, executor=executor)
