"""Exact frames of a video and clip samplers, declared once (see
:mod:`spdl.io._runtime.operation`): each demuxes the video stream once (no probe
decode), indexes its frames from the packets, and decodes every wanted frame in one
native call. They raise the phase's own error (``MediaError``, ``FileNotFoundError``)
and ``IndexError`` / ``ValueError`` for frames outside the video, in every form.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from spdl import _native
from spdl.io._api import remote as _remote
from spdl.io._api.options import DemuxArgs, check_decode_options, split_options
from spdl.io._core import clip_sampling as _clips
from spdl.io._core import demux as _demux
from spdl.io._core import frame_select as _select
from spdl.io._core.demux import Source
from spdl.io._core.errors import MediaError
from spdl.io._core.frame_index import VideoIndex, check_indices, frames_shown_at
from spdl.io._core.frame_select import FrameBatch
from spdl.io._runtime import demux_pool as _demux_pool
from spdl.io._runtime.operation import Plan, Step, operation

__all__ = [
    "async_clips_at_random_indices",
    "async_clips_at_random_timestamps",
    "async_clips_at_regular_indices",
    "async_clips_at_regular_timestamps",
    "async_index_video",
    "async_load_video_frames",
    "clips_at_random_indices",
    "clips_at_random_timestamps",
    "clips_at_regular_indices",
    "clips_at_regular_timestamps",
    "index_video",
    "load_video_frames",
]

Choose = Callable[[VideoIndex], np.ndarray]


def _check(src: Source, index: VideoIndex | None, options: Mapping[str, Any]) -> tuple:
    """The demux arguments and the frozen decode options, checked when called."""
    demux, decode = split_options(options)
    args = DemuxArgs.check("video", src, None, demux)
    _select.validate_frame_options(decode)
    if index is not None and not isinstance(index, VideoIndex):
        raise TypeError(f"index must be a VideoIndex or None, got {type(index).__name__}.")
    return args, check_decode_options("video", decode)


def _frames_steps(
    args: DemuxArgs, index: VideoIndex | None, decode: Mapping[str, Any], choose: Choose
) -> Plan[FrameBatch]:
    """Demux the stream, index it unless ``index`` is given, decode the chosen frames.

    With an index, only the spans of packets that hold the chosen frames are
    demuxed (paths and in-memory data); the whole stream when they turn out not to
    cover them (a demuxer that seeks elsewhere) or cannot be told apart.
    """
    if _remote.is_url(args.src):  # fetched on the I/O pool: a range reader for spans
        steps = functools.partial(_frames_steps, index=index, decode=decode, choose=choose)
        return (yield from _remote.with_source(args, steps, windows=index is not None))
    packets: Any = None
    if index is not None:
        positions = choose(index)  # bad frames fail when the function is called
        windows = _span_windows(index, positions)
        seekable = str | os.PathLike | bytes | bytearray | memoryview | _remote.RangeReader
        if windows and isinstance(args.src, seekable):
            spans = functools.partial(_demux_pool.demux_spans, args.src, windows, **args.options)
            try:
                packets = yield Step("demux", args.name, spans, pool="demux", cancellable=True)
            except _demux.UnknownPacketOrder:
                pass
            if packets is not None and not _covers(packets, index, positions):
                packets = None
    from_spans = packets is not None
    if packets is None:
        packets = yield args.step()
    if index is None:
        index = VideoIndex.from_packets(packets)
        positions = choose(index)
    run = functools.partial(_select.decode_frames, packets, index, positions, **decode)
    if not from_spans:
        return (yield Step("decode", args.name, run, cancellable=True))
    try:
        return (yield Step("decode", args.name, run, cancellable=True))
    except MediaError:
        # A frame a decoder shows only after more than the spans hold (one that holds
        # frames back until it recovers, in a stream cut at an open GOP): decoded from
        # the whole stream, as without an index. A real failure fails again.
        packets = yield args.step()
    run = functools.partial(_select.decode_frames, packets, index, positions, **decode)
    return (yield Step("decode", args.name, run, cancellable=True))


def _keyframes_before(index: VideoIndex, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The frame numbers of the keyframe at or before each frame and of the keyframe
    before that one (the GOP an open GOP references); the first frame where none."""
    keys = index.keyframes
    at = np.searchsorted(keys, frames, side="right") - 1
    first = int(keys[0]) if len(keys) else 0
    own = np.where(at >= 0, keys[np.maximum(at, 0)], first) if len(keys) else frames * 0
    before = np.where(at >= 1, keys[np.maximum(at - 1, 0)], first) if len(keys) else frames * 0
    return np.minimum(own, frames), np.minimum(before, frames)


def _span_windows(index: VideoIndex, positions: np.ndarray) -> list[tuple[float, float]]:
    """Windows in seconds whose spans (demux_spans) hold the frames ``positions`` and
    what they reference: one per run of frames with no keyframe between them, from the
    keyframe before their GOP's to halfway to the frame after the last. Empty when the
    times do not make valid windows (negative timestamps)."""
    frames = np.unique(positions)
    own, before = _keyframes_before(index, frames)
    seconds, count = index.pts_seconds, index.num_frames
    windows: list[tuple[float, float]] = []
    previous = -1
    for frame, key, start in zip(frames.tolist(), own.tolist(), before.tolist(), strict=True):
        end = math.inf if frame + 1 >= count else float(seconds[frame] + seconds[frame + 1]) / 2
        if windows and key <= previous:  # no keyframe since the last frame: one run
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((max(float(seconds[start]), 0.0), end))
        previous = frame
    if any(not 0 <= start < end for start, end in windows):
        return []
    return windows


def _covers(spans: Sequence[Any], index: VideoIndex, positions: np.ndarray) -> bool:
    """Whether ``spans`` hold every chosen frame and the keyframes its decode starts at."""
    frames = np.unique(positions)
    own, before = _keyframes_before(index, frames)
    needed = set(index.pts[np.concatenate([frames, own, before])].tolist())
    found, _, _ = _native.frame_table(list(spans))
    return needed <= set(found)


@operation("index_video", primary="sync", wrap=False, public=("sync", "async"))
def _index_video(src: Source, **options: Any) -> Plan[VideoIndex]:
    """Indexes the frames of a video by demuxing it, without decoding.

    Reads every packet of the first video stream: each frame's presentation time,
    duration and whether it is a keyframe. The frame count is the number of frames
    found, whatever the container's header claims. Cheap (a few milliseconds for
    a minute of video); keep the index to pass it as ``index=`` to
    :func:`load_video_frames` and the clip samplers, which then check frame numbers
    and sampling ranges when called.

    Args:
        src: A path, bytes-like object or binary file-like object.
        **options: Demux options (``format``, ``format_options``).

    Returns:
        A VideoIndex.

    Raises:
        TypeError, ValueError: Invalid arguments.
        FileNotFoundError: {if} the path does not exist.
        MediaError: {if} the data cannot be demuxed or has no video stream.

    Example:
        >>> index = {await}spdl.io.{async_}index_video("clip.mp4"){result}
        >>> index.num_frames, index.keyframes.tolist(), index.end_seconds
        (90, [0], 3.0)
    """
    args = DemuxArgs.check("video", src, None, options)
    if _remote.is_url(src):  # fetched whole on the I/O pool, then demuxed
        packets = yield from _remote.demux(args)
    else:
        packets = yield args.step()
    return VideoIndex.from_packets(packets)


def _as_array(name: str, values: object, kind: type) -> np.ndarray:
    # A sequence, or an array of any library NumPy reads (a torch tensor, say).
    is_array = isinstance(values, Sequence | np.ndarray) or hasattr(values, "__array__")
    if isinstance(values, str | bytes) or not is_array:
        raise TypeError(f"{name} must be a sequence of numbers, got {type(values).__name__}.")
    array = np.asarray(values)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty flat sequence, got shape {array.shape}.")
    if kind is int and array.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold ints, got {array.dtype}.")
    if kind is float and array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold numbers, got {array.dtype}.")
    if kind is int and array.dtype.kind == "u":
        return array  # check_indices checks it before the cast, which could wrap it
    return array.astype(np.int64 if kind is int else np.float64)


@operation("load_video_frames", primary="sync", wrap=False, public=("sync", "async"))
def _load_video_frames(
    src: Source,
    indices: Sequence[int] | None = None,
    *,
    timestamps: Sequence[float] | None = None,
    index: VideoIndex | None = None,
    **options: Any,
) -> Plan[FrameBatch]:
    """Loads exact frames of a video, by frame number or by time, into one buffer.

    Frame ``i`` is the ``i``-th frame in presentation order (as the stream's
    :class:`VideoIndex` counts them); the frame at time ``t`` is the one shown then,
    the last whose presentation time is at or before ``t``. Numbers and times may
    come in any order and repeat. The video is demuxed once and the frames are
    decoded in one native call (GIL released) that goes forward once: GOPs without a
    wanted frame are skipped, frames after the last wanted one are not decoded, nor
    are frames nothing references (non-reference B-frames), and a repeated frame is
    decoded once.

    Args:
        src: A path, bytes-like object or binary file-like object.
        indices: Frame numbers; negative ones count from the end.
        timestamps: Times in seconds, in place of ``indices``.
        index: The video's index from :func:`index_video`: ``indices`` /
            ``timestamps`` are checked when called, and only the packets that hold
            the frames are demuxed (without it, the whole stream is, to index it).
        **options: Demux options (``format``, ``format_options``) and the decode
            options of :func:`load_video` that size and convert frames (``width``,
            ``height``, ``pix_fmt`` — default ``"rgb24"``, ``scale_algo``,
            ``decoder``, ``decoder_options``, ``num_threads``,
            ``apply_display_matrix``).

    Returns:
        A FrameBatch: ``data`` ``(N, H, W, 3)`` uint8 for rgb24 (see the shapes
        table for others), in the order asked, and each frame's ``pts_seconds`` and
        ``indices``.

    Raises:
        TypeError, ValueError: Invalid arguments, or both or neither of ``indices``
            and ``timestamps``.
        IndexError: {if} a frame number lies outside the video (the message gives
            the valid range); with an ``index``, when called.
        ValueError: {if} a time lies outside ``[begin_seconds, end_seconds)``;
            likewise.
        FileNotFoundError: {if} the path does not exist.
        MediaError: {if} the data cannot be decoded.

    Example:
        >>> batch = {await}spdl.io.{async_}load_video_frames("clip.mp4", [60, 0, 60]){result}
        >>> batch.data.shape, batch.pts_seconds.tolist()
        ((3, 64, 96, 3), [2.0, 0.0, 2.0])
        >>> spdl.io.to_torch(batch.data).shape
        torch.Size([3, 64, 96, 3])
    """
    args, decode = _check(src, index, options)
    if (indices is None) == (timestamps is None):
        raise TypeError("Pass either indices or timestamps (exactly one of them).")
    if indices is not None:
        wanted = _as_array("indices", indices, int)
        choose: Choose = functools.partial(check_indices, indices=wanted)
    else:
        seconds = _as_array("timestamps", timestamps, float)
        choose = functools.partial(frames_shown_at, timestamps=seconds)
    return (yield from _frames_steps(args, index, decode, choose))


def _sampler(
    src: Source,
    index: VideoIndex | None,
    options: Mapping[str, Any],
    clips_of: Callable[..., np.ndarray],
    **params: Any,
) -> Plan[FrameBatch]:
    """A sampler's plan: its arguments checked now; ``clips_of(index, **params)``
    (``index_clips`` or ``time_clips``) chooses the frames once the index is known."""
    args, decode = _check(src, index, options)
    _clips.check_clip_args(
        params["num_clips"],
        params["num_frames_per_clip"],
        params["policy"],
        params["sampling_range_start"],
        params["sampling_range_end"],
        by_time=clips_of is _clips.time_clips,
    )
    if "num_indices_between_frames" in params:
        _clips.check_int("num_indices_between_frames", params["num_indices_between_frames"], 1)
    for name in ("seconds_between_clip_starts", "seconds_between_frames"):
        if params.get(name) is not None:
            _clips.check_positive_number(name, params[name])
    # NumPy scalars as Python numbers: the arithmetic and messages are Python's.
    plain = {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}
    choose = functools.partial(clips_of, **plain)
    return (yield from _frames_steps(args, index, decode, choose))


@operation("clips_at_random_indices", primary="sync", wrap=False, public=("sync", "async"))
def _clips_at_random_indices(
    src: Source,
    *,
    num_clips: int = 1,
    num_frames_per_clip: int = 1,
    num_indices_between_frames: int = 1,
    sampling_range_start: int = 0,
    sampling_range_end: int | None = None,
    policy: _clips.Policy = "repeat_last",
    seed: int | random.Random | None = None,
    index: VideoIndex | None = None,
    **options: Any,
) -> Plan[FrameBatch]:
    """Samples clips of a video starting at random frames, decoded in one pass.

    Each clip holds ``num_frames_per_clip`` frames, ``num_indices_between_frames``
    apart, from a start drawn uniformly from the sampling range (starts may repeat).
    All clips are decoded by one native call going forward once through the video;
    frames shared by clips are decoded once.

    Args:
        src: A path, bytes-like object or binary file-like object.
        num_clips: How many clips.
        num_frames_per_clip: Frames per clip.
        num_indices_between_frames: The step between the frames of a clip (1:
            consecutive frames).
        sampling_range_start: The first frame a clip may start at; negative counts
            from the end.
        sampling_range_end: Clips start before this frame (negative counts from the
            end); ``None``: the last start that keeps every clip inside the video.
        policy: How a clip that runs past the end of the video is completed:
            ``"repeat_last"`` repeats its last frame, ``"wrap"`` starts over from its
            first frame, ``"error"`` raises ``IndexError``.
        seed: An int, or a ``random.Random`` (drawn from when called), for
            reproducible clips; ``None`` draws fresh ones.
        index: The video's index from :func:`index_video`: the sampling range is
            checked when called, and only the packets of the clips are demuxed.
        **options: Demux and decode options, as for :func:`load_video_frames`.

    Returns:
        A FrameBatch: ``data`` ``(num_clips, num_frames_per_clip, H, W, 3)`` uint8 for
        rgb24 (``(num_clips, num_frames_per_clip, C, H, W)`` for planar formats), and
        ``pts_seconds`` and ``indices`` ``(num_clips, num_frames_per_clip)``.

    Raises:
        TypeError, ValueError: Invalid arguments, or an empty sampling range.
        IndexError: ``policy="error"`` and a clip runs past the last frame.
        FileNotFoundError: {if} the path does not exist.
        MediaError: {if} the data cannot be decoded.

    Example:
        >>> clips = {await}spdl.io.{async_}clips_at_random_indices(
        ...     "clip.mp4", num_clips=2, num_frames_per_clip=4,
        ...     num_indices_between_frames=2, seed=0, width=32, height=32){result}
        >>> clips.data.shape, clips.indices.tolist()
        ((2, 4, 32, 32, 3), [[70, 72, 74, 76], [63, 65, 67, 69]])
    """
    draws = _clips.draw(seed, int(num_clips)) if isinstance(num_clips, numbers.Integral) else None
    return (
        yield from _sampler(
            src,
            index,
            options,
            _clips.index_clips,
            draws=draws,
            num_clips=num_clips,
            num_frames_per_clip=num_frames_per_clip,
            num_indices_between_frames=num_indices_between_frames,
            sampling_range_start=sampling_range_start,
            sampling_range_end=sampling_range_end,
            policy=policy,
        )
    )


@operation("clips_at_regular_indices", primary="sync", wrap=False, public=("sync", "async"))
def _clips_at_regular_indices(
    src: Source,
    *,
    num_clips: int = 1,
    num_frames_per_clip: int = 1,
    num_indices_between_frames: int = 1,
    sampling_range_start: int = 0,
    sampling_range_end: int | None = None,
    policy: _clips.Policy = "repeat_last",
    index: VideoIndex | None = None,
    **options: Any,
) -> Plan[FrameBatch]:
    """Samples clips of a video starting at equally spaced frames, decoded in one pass.

    The starts are spread evenly over the sampling range, its first and last start
    included (rounded down to whole frames; more clips than starts repeat some).

    Args:
        src: A path, bytes-like object or binary file-like object.
        num_clips: How many clips.
        num_frames_per_clip: Frames per clip.
        num_indices_between_frames: The step between the frames of a clip.
        sampling_range_start: The first frame a clip may start at; negative counts
            from the end.
        sampling_range_end: Clips start before this frame (negative counts from the
            end); ``None``: the last start that keeps every clip inside the video.
        policy: How a clip that runs past the end of the video is completed:
            ``"repeat_last"``, ``"wrap"`` or ``"error"`` (raises ``IndexError``).
        index: The video's index from :func:`index_video`: the sampling range is
            checked when called, and only the packets of the clips are demuxed.
        **options: Demux and decode options, as for :func:`load_video_frames`.

    Returns:
        A FrameBatch: ``data`` ``(num_clips, num_frames_per_clip, H, W, 3)`` uint8 for
        rgb24 (``(num_clips, num_frames_per_clip, C, H, W)`` for planar formats), and
        ``pts_seconds`` and ``indices`` ``(num_clips, num_frames_per_clip)``.

    Raises:
        TypeError, ValueError: Invalid arguments, or an empty sampling range.
        IndexError: ``policy="error"`` and a clip runs past the last frame.
        FileNotFoundError: {if} the path does not exist.
        MediaError: {if} the data cannot be decoded.

    Example:
        >>> clips = {await}spdl.io.{async_}clips_at_regular_indices(
        ...     "clip.mp4", num_clips=3, num_frames_per_clip=2, pix_fmt="yuv444p"){result}
        >>> clips.data.shape, clips.indices.tolist()
        ((3, 2, 3, 64, 96), [[0, 1], [44, 45], [88, 89]])
    """
    return (
        yield from _sampler(
            src,
            index,
            options,
            _clips.index_clips,
            draws=None,
            num_clips=num_clips,
            num_frames_per_clip=num_frames_per_clip,
            num_indices_between_frames=num_indices_between_frames,
            sampling_range_start=sampling_range_start,
            sampling_range_end=sampling_range_end,
            policy=policy,
        )
    )


@operation("clips_at_random_timestamps", primary="sync", wrap=False, public=("sync", "async"))
def _clips_at_random_timestamps(
    src: Source,
    *,
    num_clips: int = 1,
    num_frames_per_clip: int = 1,
    seconds_between_frames: float | None = None,
    sampling_range_start: float | None = None,
    sampling_range_end: float | None = None,
    policy: _clips.Policy = "repeat_last",
    seed: int | random.Random | None = None,
    index: VideoIndex | None = None,
    **options: Any,
) -> Plan[FrameBatch]:
    """Samples clips of a video starting at random times, decoded in one pass.

    A clip starting at ``t`` holds the frames shown at ``t``, ``t + s``, ...
    ``t + (num_frames_per_clip - 1) * s``, with ``s = seconds_between_frames``; the
    starts are drawn uniformly from the sampling range.

    Args:
        src: A path, bytes-like object or binary file-like object.
        num_clips: How many clips.
        num_frames_per_clip: Frames per clip.
        seconds_between_frames: The time between the frames of a clip; ``None``: the
            video's average frame interval.
        sampling_range_start: The earliest start in seconds; ``None``: when the first
            frame is shown.
        sampling_range_end: Clips start before this time; ``None``: the last start
            that keeps every clip inside the video.
        policy: How a clip that runs past the end of the video is completed:
            ``"repeat_last"``, ``"wrap"`` or ``"error"`` (raises ``ValueError``).
        seed: An int, or a ``random.Random`` (drawn from when called), for
            reproducible clips; ``None`` draws fresh ones.
        index: The video's index from :func:`index_video`: the sampling range is
            checked when called, and only the packets of the clips are demuxed.
        **options: Demux and decode options, as for :func:`load_video_frames`.

    Returns:
        A FrameBatch: ``data`` ``(num_clips, num_frames_per_clip, H, W, 3)`` uint8 for
        rgb24 (``(num_clips, num_frames_per_clip, C, H, W)`` for planar formats), and
        ``pts_seconds`` and ``indices`` ``(num_clips, num_frames_per_clip)``.

    Raises:
        TypeError, ValueError: Invalid arguments, an empty sampling range, or
            ``policy="error"`` and a clip runs past the end of the video.
        FileNotFoundError: {if} the path does not exist.
        MediaError: {if} the data cannot be decoded.

    Example:
        >>> clips = {await}spdl.io.{async_}clips_at_random_timestamps(
        ...     "clip.mp4", num_clips=2, num_frames_per_clip=3,
        ...     seconds_between_frames=0.5, seed=1, pix_fmt="gray"){result}
        >>> clips.data.shape
        (2, 3, 1, 64, 96)
    """
    draws = _clips.draw(seed, int(num_clips)) if isinstance(num_clips, numbers.Integral) else None
    return (
        yield from _sampler(
            src,
            index,
            options,
            _clips.time_clips,
            draws=draws,
            num_clips=num_clips,
            seconds_between_clip_starts=None,
            num_frames_per_clip=num_frames_per_clip,
            seconds_between_frames=seconds_between_frames,
            sampling_range_start=sampling_range_start,
            sampling_range_end=sampling_range_end,
            policy=policy,
        )
    )


@operation("clips_at_regular_timestamps", primary="sync", wrap=False, public=("sync", "async"))
def _clips_at_regular_timestamps(
    src: Source,
    *,
    seconds_between_clip_starts: float,
    num_frames_per_clip: int = 1,
    seconds_between_frames: float | None = None,
    sampling_range_start: float | None = None,
    sampling_range_end: float | None = None,
    policy: _clips.Policy = "repeat_last",
    index: VideoIndex | None = None,
    **options: Any,
) -> Plan[FrameBatch]:
    """Samples clips of a video starting every ``seconds_between_clip_starts``,
    decoded in one pass.

    Clips start at the start of the sampling range and every
    ``seconds_between_clip_starts`` after it, before its end; a clip starting at
    ``t`` holds the frames shown at ``t``, ``t + s``, ... with
    ``s = seconds_between_frames``.

    Args:
        src: A path, bytes-like object or binary file-like object.
        seconds_between_clip_starts: The time between the starts of two clips.
        num_frames_per_clip: Frames per clip.
        seconds_between_frames: The time between the frames of a clip; ``None``: the
            video's average frame interval.
        sampling_range_start: The first start in seconds; ``None``: when the first
            frame is shown.
        sampling_range_end: Clips start before this time; ``None``: the last start
            that keeps every clip inside the video.
        policy: How a clip that runs past the end of the video is completed:
            ``"repeat_last"``, ``"wrap"`` or ``"error"`` (raises ``ValueError``).
        index: The video's index from :func:`index_video`: the sampling range is
            checked when called, and only the packets of the clips are demuxed.
        **options: Demux and decode options, as for :func:`load_video_frames`.

    Returns:
        A FrameBatch: ``data`` ``(clips, num_frames_per_clip, H, W, 3)`` uint8 for
        rgb24 (``(clips, num_frames_per_clip, C, H, W)`` for planar formats), and
        ``pts_seconds`` and ``indices`` ``(clips, num_frames_per_clip)``.

    Raises:
        TypeError, ValueError: Invalid arguments, an empty sampling range, or
            ``policy="error"`` and a clip runs past the end of the video.
        FileNotFoundError: {if} the path does not exist.
        MediaError: {if} the data cannot be decoded.

    Example:
        >>> clips = {await}spdl.io.{async_}clips_at_regular_timestamps(
        ...     "clip.mp4", seconds_between_clip_starts=1.0, num_frames_per_clip=2){result}
        >>> clips.data.shape, clips.pts_seconds[:, 0].tolist()
        ((3, 2, 64, 96, 3), [0.0, 1.0, 2.0])
    """
    check = _clips.check_positive_number
    check("seconds_between_clip_starts", seconds_between_clip_starts)
    return (
        yield from _sampler(
            src,
            index,
            options,
            _clips.time_clips,
            draws=None,
            num_clips=None,
            seconds_between_clip_starts=seconds_between_clip_starts,
            num_frames_per_clip=num_frames_per_clip,
            seconds_between_frames=seconds_between_frames,
            sampling_range_start=sampling_range_start,
            sampling_range_end=sampling_range_end,
            policy=policy,
        )
    )


index_video, async_index_video = _index_video.sync, _index_video.async_
load_video_frames = _load_video_frames.sync
async_load_video_frames = _load_video_frames.async_
clips_at_random_indices = _clips_at_random_indices.sync
async_clips_at_random_indices = _clips_at_random_indices.async_
clips_at_regular_indices = _clips_at_regular_indices.sync
async_clips_at_regular_indices = _clips_at_regular_indices.async_
clips_at_random_timestamps = _clips_at_random_timestamps.sync
async_clips_at_random_timestamps = _clips_at_random_timestamps.async_
clips_at_regular_timestamps = _clips_at_regular_timestamps.sync
async_clips_at_regular_timestamps = _clips_at_regular_timestamps.async_
