"""The phases, each declared once (see :mod:`spdl.io._runtime.operation`): demux, decode, convert.

``demux_media``… are the Future forms, ``async_demux_media``… the asyncio forms.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future
from typing import Any

from spdl import _native
from spdl.io._api import remote as _remote
from spdl.io._api.options import DemuxArgs, check_decode_options
from spdl.io._core import convert as _convert
from spdl.io._core import decode as _decode
from spdl.io._core import nvdec as _nvdec
from spdl.io._core.cuda import CUDABuffer, CUDAFrames
from spdl.io._core.decode import Frames
from spdl.io._core.demux import Packets, Source, Window, describe_source
from spdl.io._runtime import demux_pool as _demux_pool
from spdl.io._runtime.chain import chain_futures, wait_futures
from spdl.io._runtime.futures import AsyncIOFailure
from spdl.io._runtime.operation import Step, operation

# Re-exported: AsyncIOFailure, chain_futures, wait_futures.
__all__ = ["AsyncIOFailure", "chain_futures", "submit_convert"]
__all__ += ["wait_futures", "demux_media", "streaming_demux", "decode_packets"]
__all__ += ["decode_packets_nvdec", "convert_frames", "convert_frames_cpu"]

_PUBLIC = ("future", "async")


@operation("demux_media", primary="future", wrap=True, public=_PUBLIC)
def _demux_media(
    media_type: str, src: Source, timestamp: Window | None = None, **demux_options: Any
) -> Step[Packets]:
    """Demux one image, or one audio/video window.

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        timestamp: Half-open window ``(start, end)`` in seconds to extract from an
            audio/video source; ``None`` takes the whole stream. Must be ``None`` for
            images.
        **demux_options: ``format`` (force a container format, e.g. ``"mp4"``) and
            ``format_options`` (``dict[str, str]`` handed to the demuxer).

    Returns:
        ``ImagePackets``, ``AudioPackets`` or ``VideoPackets``.

    Raises:
        ValueError: If ``media_type`` or ``timestamp`` is invalid.
        TypeError: If ``src`` or an option has an unsupported type.
        AsyncIOFailure: {if} the source cannot be demuxed (phase ``"demux"``).

    Example:
        >>> packets = {await}spdl.io.{async_}demux_media("video", "clip.mp4", (0.0, 1.0)){result}
        >>> packets.codec_name, packets.timestamp
        ('h264', (0.0, 1.0))
    """
    args = DemuxArgs.check(media_type, src, timestamp, demux_options)
    if _remote.is_url(src):  # fetched on the I/O pool, then demuxed
        return _remote.demux(args)  # type: ignore[return-value]
    return args.step()


@operation("streaming_demux", primary="future", wrap=True, stream=True, public=_PUBLIC)
def _streaming_demux(
    media_type: str, src: Source, timestamps: Sequence[Window], **demux_options: Any
) -> Step[Iterator[Packets]]:
    """Demux several windows of one audio/video source, opening the source once (Ogg
    audio: once per window, as FFmpeg's Ogg demuxer mistimes a second seek).

    In the background forms one task on the demux pool reads the windows in order and
    hands each over as soon as it is read, so decoding the first window can start
    while later ones are still demuxed. Cancelling every Future not done yet, or
    leaving the ``async for`` early, stops it.

    Video windows share a decoder: :func:`decode_packets` of a window decoded after
    the window before it goes on from where that one stopped, instead of decoding
    again from the keyframe before its start. So that it can, the decode of a window
    submitted while the decode of the window before it is pending starts when that
    one is done (no thread waits meanwhile). Windows decoded out of order or
    overlapping decode on their own. The frames are the same either way.

    Args:
        media_type: ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        timestamps: Half-open windows ``(start, end)`` in seconds, read in this order.
        **demux_options: ``format`` and ``format_options``, as for :func:`demux_media`.

    Returns:
        The ``AudioPackets`` / ``VideoPackets`` of each window, in the order of
        ``timestamps``.

    Raises:
        ValueError: If ``media_type`` is not audio/video or a window is invalid.
        TypeError: If ``src``, ``timestamps`` or an option has an unsupported type.
        AsyncIOFailure: {if} demuxing fails, for the window being read and every
            later window.

    Example (future):
        >>> futures = spdl.io.streaming_demux("video", "clip.mp4", [(0, 1), (1, 2)])
        >>> packets = [f.result() for f in futures]
        >>> [len(spdl.io.decode_packets(p).result()) for p in packets]  # frames per window
        [30, 30]

    Example (async):
        >>> windows = [(0, 1), (1, 2)]
        >>> async for packets in spdl.io.async_streaming_demux("audio", "speech.wav", windows):
        ...     frames = await spdl.io.async_decode_packets(packets)
        ...     print(frames.num_channels, frames.num_samples)
        2 16000
        2 16000
    """
    if media_type == "image":
        raise ValueError("streaming_demux supports 'audio' and 'video', not 'image'.")
    args = DemuxArgs.check(media_type, src, None, demux_options)
    windows = args.windows(timestamps)
    if not windows:
        raise ValueError("`timestamps` must contain at least one (start, end) window.")
    if _remote.is_url(src):
        demux = _remote.stream(args, windows)
    else:
        demux = functools.partial(
            _demux_pool.iter_demux, args.media_type, src, windows, **args.options
        )
    # Its token stops the fetch or the helper process the stream waits for.
    return Step("demux", args.name, demux, pool="demux", count=len(windows), cancellable=True)


@operation("decode_packets", primary="future", wrap=True, public=_PUBLIC)
def _decode_packets(packets: Packets, **decode_options: Any) -> Step[Frames]:
    """Decode packets into frames, with the GIL released.

    Cancelling the work (its Future, or the task awaiting it) stops a running decode at
    its next packet. Frames are sized and converted as the loaders write them, so
    :func:`convert_frames` of them gives the pixels of :func:`spdl.io.load_image` or
    :func:`spdl.io.load_video` with the same options.

    Args:
        packets: Packets from :func:`demux_media` or :func:`streaming_demux`.
        **decode_options: ``width``, ``height``, ``pix_fmt`` (images/video),
            ``frame_rate``, ``num_frames``, ``pad_mode``, ``apply_display_matrix``
            (video: default ``True``, frames turned and mirrored as a player shows
            them, before ``width`` / ``height`` apply), ``sample_rate``,
            ``num_channels``, ``sample_fmt`` (audio), ``filter_desc``, ``decoder``,
            ``decoder_options`` and ``num_threads``.

    Returns:
        ``ImageFrames``, ``AudioFrames`` or ``VideoFrames``.

    Raises:
        TypeError: If ``packets`` is not a Packets object or an option has the wrong
            type.
        ValueError: If an option has an invalid value.
        AsyncIOFailure: {if} decoding fails (phase ``"decode"``).

    Example:
        >>> packets = {await}spdl.io.{async_}demux_media("image", "foo.jpg"){result}
        >>> frames = {await}spdl.io.{async_}decode_packets(packets, width=64, height=48){result}
        >>> frames.width, frames.height, frames.pix_fmt
        (64, 48, 'rgb24')
    """
    if not isinstance(packets, _native.Packets):
        raise TypeError(
            "`packets` must be ImagePackets, AudioPackets or VideoPackets, "
            f"got {type(packets).__name__}."
        )
    options = check_decode_options(packets.media_type, decode_options)
    decode = functools.partial(_decode.decode, packets, **options)
    # A streaming demux's windows decode one after the other, sharing a decoder.
    window = packets.decode_session_window
    return Step("decode", packets.src, decode, cancellable=True, window=window)


@operation("decode_packets_nvdec", primary="future", wrap=True, public=_PUBLIC)
def _decode_packets_nvdec(
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
    apply_display_matrix: bool = True,
) -> Step[CUDAFrames]:
    """Decode video/image packets on an NVIDIA GPU with NVDEC.

    A PyNvVideoCodec decoder is kept per worker thread, device and codec; each frame is
    cropped, resized and converted from NV12 on the GPU (BT.601/BT.709, limited/full
    range from the stream) before the next packet is decoded, and frames outside the
    packets' window are dropped. Needs the ``spdl[cuda]`` extra (PyNvVideoCodec, CuPy).

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
        apply_display_matrix: Turn and mirror each frame as the container's display
            matrix tells a player to (``packets.display_orientation``), as the CPU
            decoders do; the crop and the size count in the frame as shown.
            ``False`` keeps the frames as stored.

    Returns:
        ``CUDAFrames``; :func:`convert_frames` turns them into a ``CUDABuffer``
        without a copy.

    Raises:
        TypeError: If ``packets`` is not video/image packets or an option has the
            wrong type.
        ValueError: If ``cuda_device_index`` is negative, an option is out of range,
            the crop leaves nothing, or NVDEC does not decode the codec.
        RuntimeError: If PyNvVideoCodec or CuPy is not installed (the message names
            the missing package and the ``spdl[cuda]`` extra).
        AsyncIOFailure: {if} NVDEC rejects the bitstream, the stream is outside the
            GPU's decoder limits (the message names them: HEVC below 144x144 on an
            H100, say), no frame comes out, or the GPU, its driver or NVDEC cannot be
            used (the message quotes the cause).

    Example:
        >>> packets = {await}spdl.io.{async_}demux_media("video", "clip.mp4"){result}
        >>> frames = {await}spdl.io.{async_}decode_packets_nvdec(
        ...     packets, 0, width=224, height=224){result}
        >>> buffer = {await}spdl.io.{async_}convert_frames(frames){result}
        >>> spdl.io.to_torch(buffer).shape
        torch.Size([90, 3, 224, 224])
    """
    crop = (crop_left, crop_top, crop_right, crop_bottom)
    options = _nvdec.validate_nvdec_options(
        packets, cuda_device_index, width, height, crop, pix_fmt, apply_display_matrix
    )
    _nvdec.check_dependencies()
    decode = functools.partial(_nvdec.decode_nvdec, packets, cuda_device_index, options)
    return Step("decode", packets.src, decode)


def _convert_step(frames: Any) -> Step[Any]:
    frames = list(frames) if isinstance(frames, tuple) else frames
    _convert.validate_frames(frames)
    convert = functools.partial(_convert.convert, frames)
    return Step("convert", describe_source(frames), convert)


@operation("convert_frames", primary="future", wrap=True, public=_PUBLIC)
def _convert_frames(
    frames: Frames | CUDAFrames | Sequence[Any],
) -> Step[_native.CPUBuffer | CUDABuffer]:
    """Copy decoded frames into one contiguous buffer.

    The frames are consumed: their memory is released as it is copied. Their sizes,
    formats, ``pts`` and ``len()`` stay readable; converting or indexing them again
    raises ``ValueError``.

    Args:
        frames: ``ImageFrames``, ``AudioFrames``, ``VideoFrames``, or a list of
            ``ImageFrames`` of the same size and format, which becomes one batch;
            ``CUDAFrames`` (or a list of them) give a ``CUDABuffer``.

    Returns:
        A ``CPUBuffer``; see the shape table of :func:`spdl.io.to_numpy`.

    Raises:
        TypeError: If ``frames`` is not frames or a list of image frames.
        ValueError: If the frames of a batch differ in size or format, or the list is
            empty.
        AsyncIOFailure: {if} conversion fails (phase ``"convert"``).

    Example:
        >>> packets = {await}spdl.io.{async_}demux_media("video", "clip.mp4", (0, 1)){result}
        >>> frames = {await}spdl.io.{async_}decode_packets(packets){result}
        >>> buffer = {await}spdl.io.{async_}convert_frames(frames){result}
        >>> spdl.io.to_numpy(buffer).shape
        (30, 64, 96, 3)
    """
    return _convert_step(frames)


@operation("convert_frames_cpu", primary="future", wrap=True, public=_PUBLIC)
def _convert_frames_cpu(frames: Frames | Sequence[_native.ImageFrames]) -> Step[_native.CPUBuffer]:
    """Like :func:`convert_frames`, but only for frames held in CPU memory.

    Args:
        frames: ``ImageFrames``, ``AudioFrames``, ``VideoFrames``, or a list of
            ``ImageFrames``.

    Returns:
        A ``CPUBuffer``.

    Raises:
        TypeError: If ``frames`` are not CPU frames (for example frames decoded on a
            GPU).
        ValueError: If the frames of a batch differ in size or format.
        AsyncIOFailure: {if} conversion fails (phase ``"convert"``).

    Example:
        >>> packets = {await}spdl.io.{async_}demux_media("audio", "speech.wav"){result}
        >>> frames = {await}spdl.io.{async_}decode_packets(packets){result}
        >>> buffer = {await}spdl.io.{async_}convert_frames_cpu(frames){result}
        >>> buffer.shape
        (2, 32000)
    """
    if isinstance(frames, list | tuple):
        bad = [type(f).__name__ for f in frames if not isinstance(f, _native.ImageFrames)]
        if bad:
            raise TypeError(f"A batch for CPU conversion must hold only ImageFrames, got {bad[0]}.")
    elif not isinstance(frames, _native.Frames):
        raise TypeError(
            "Expected CPU frames (ImageFrames, AudioFrames, VideoFrames or a list of "
            f"ImageFrames), got {type(frames).__name__}."
        )
    return _convert_step(frames)


demux_media, async_demux_media = _demux_media.future, _demux_media.async_
streaming_demux, async_streaming_demux = _streaming_demux.future, _streaming_demux.async_
decode_packets, async_decode_packets = _decode_packets.future, _decode_packets.async_
decode_packets_nvdec = _decode_packets_nvdec.future
async_decode_packets_nvdec = _decode_packets_nvdec.async_
convert_frames, async_convert_frames = _convert_frames.future, _convert_frames.async_
convert_frames_cpu = _convert_frames_cpu.future
async_convert_frames_cpu = _convert_frames_cpu.async_


def submit_convert(frames: Any, *, executor: Executor | None = None, **_: Any) -> Future[Any]:
    """:func:`convert_frames` for ``_batch`` (which checked its convert options: none)."""
    return convert_frames(frames, executor=executor)
