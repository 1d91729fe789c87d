"""Exact frames of a video by frame number: one native call decodes them all.

The frame numbers are turned into presentation timestamps with the stream's
:class:`~spdl.io._core.frame_index.VideoIndex`; the native core
(``frame_select.cpp``) decodes forward once through the packets, skipping the
GOPs that hold no wanted frame and stopping after the last, and writes each wanted
frame, sized and converted, into its entries of one buffer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spdl import _native
from spdl.io._core import decode as _decode
from spdl.io._core.demux import Packets
from spdl.io._core.frame_index import VideoIndex

__all__ = ["FrameBatch", "decode_frames", "validate_frame_options"]

# Options that change which frames come out: they do not apply to chosen frames.
_TIMING_OPTIONS = ("frame_rate", "num_frames", "pad_mode", "filter_desc")


@dataclass(frozen=True, eq=False)
class FrameBatch:
    """Frames of one video and the time of each.

    ``data`` leads with the dimensions of the selection: ``(N, ...)`` for
    :func:`spdl.io.load_video_frames`, ``(num_clips, num_frames_per_clip, ...)``
    for the clip samplers, followed by one image's shape (``(H, W, C)`` for
    packed formats such as ``rgb24``, ``(C, H, W)`` for planar ones; see the
    shapes table). ``spdl.io.to_torch(batch.data)`` and ``spdl.io.to_numpy(batch.data)``
    view it without a copy.

    Attributes:
        data: The frames, one CPUBuffer.
        pts_seconds: Each frame's presentation time in seconds (float64), shaped
            as the leading dimensions of ``data``.
        indices: Each frame's number in presentation order (int64), shaped alike.
    """

    data: _native.CPUBuffer
    pts_seconds: np.ndarray
    indices: np.ndarray

    def __repr__(self) -> str:
        return f"FrameBatch(data={self.data.shape}, pts_seconds={self.pts_seconds.shape})"


def validate_frame_options(options: Mapping[str, Any]) -> None:
    """Checks video decode options for chosen frames.

    Raises:
        TypeError, ValueError: As :func:`spdl.io._core.decode.validate_decode_options`;
            ``ValueError`` too for ``frame_rate``, ``num_frames``, ``pad_mode`` and
            ``filter_desc``, which choose frames themselves.
    """
    timing = sorted(name for name in _TIMING_OPTIONS if options.get(name) is not None)
    if timing:
        raise ValueError(
            f"Option(s) {', '.join(timing)} do not apply to chosen frames: pass width, "
            "height, pix_fmt, scale_algo, decoder, decoder_options or num_threads."
        )
    _decode.validate_decode_options("video", **options)


def decode_frames(
    packets: Packets | Sequence[Packets],
    index: VideoIndex,
    positions: np.ndarray,
    *,
    cancel: _native.CancelToken | None = None,
    **options: Any,
) -> FrameBatch:
    """Decodes the frames numbered ``positions`` in one native call (GIL released).

    Args:
        packets: The stream's packets (or spans of it, each from a keyframe, in
            stream order) holding every frame of ``positions``.
        index: The stream's index.
        positions: Frame numbers in ``[0, num_frames)``, any shape (its shape leads
            the output's), any order, repeats allowed.
        cancel: A token that stops the decode at its next packet when cancelled.
        **options: Video decode options that :func:`validate_frame_options` accepts.

    Returns:
        The frames and their times.

    Raises:
        TypeError, ValueError: Invalid options.
        MediaError: The packets cannot be decoded, or a frame does not come out.
    """
    validate_frame_options(options)
    spans = list(packets) if isinstance(packets, Sequence) else [packets]
    plan = _decode.make_plan("video", None, options, cancel=cancel)
    wanted = index.pts[positions]
    # Which of the frames sharing a pts each one is: index.pts is sorted, so its
    # frames at one pts follow each other.
    occurrences = positions - np.searchsorted(index.pts, wanted, side="left")
    data = _native.decode_frames_at(
        spans, wanted.ravel().tolist(), list(positions.shape), plan, occurrences.ravel().tolist()
    )
    seconds = wanted * float(index.time_base)
    seconds.flags.writeable = False
    frozen = np.array(positions, dtype=np.int64)
    frozen.flags.writeable = False
    return FrameBatch(data=data, pts_seconds=seconds, indices=frozen)
