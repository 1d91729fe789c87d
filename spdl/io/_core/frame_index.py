"""The frame index of a video stream: every frame's time, read from its packets alone.

Built from demuxed packets (plain data: timestamps, durations, key flags) by one
native call, without decoding. Frame ``i`` is the ``i``-th frame in presentation
order; the frame count is the number of frames *found*, whatever the container's
header claims.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from spdl import _native
from spdl.io._core.demux import Packets, tick_slack
from spdl.io._core.display_matrix import swaps_sides
from spdl.io._core.errors import MediaError

__all__ = ["VideoIndex", "check_indices", "frames_shown_at"]


def _frozen(values: Sequence[int]) -> np.ndarray:
    array = np.asarray(values, dtype=np.int64)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class VideoIndex:
    """The frames of one video stream, read from its packets without decoding.

    Build one with :func:`spdl.io.index_video` and keep it: passed as ``index=`` to
    :func:`spdl.io.load_video_frames` or a clip sampler, it lets bad indices and
    sampling ranges fail when the call is made, and only the packets that hold the
    wanted frames are demuxed (from the keyframe before their GOP's on), not the
    whole stream.

    Attributes:
        src: The source, as messages name it.
        time_base: The stream's time base: timestamps count in these fractions of
            a second.
        pts: Each frame's presentation timestamp in ``time_base`` units, in
            presentation order (int64, read-only).
        durations: Each frame's duration in ``time_base`` units; 0 where the
            container gives none (int64, read-only).
        keyframes: The numbers of the frames that are keyframes (int64, read-only).
        width: The width of a frame as a player shows it, in pixels: the stored
            height when the container's display matrix turns the video by 90 or 270
            degrees (the size the decoders give by default, ``apply_display_matrix``).
        height: The height of a frame as a player shows it, in pixels.
        display_orientation: How the display matrix turns and mirrors the stored
            frames (an EXIF orientation, 1 for none; see
            ``Packets.display_orientation``).
    """

    src: str
    time_base: Fraction
    pts: np.ndarray
    durations: np.ndarray
    keyframes: np.ndarray
    width: int = 0
    height: int = 0
    display_orientation: int = 1

    @classmethod
    def from_packets(cls, packets: Packets) -> VideoIndex:
        """The index of the frames of ``packets`` (video packets of a whole stream).

        Raises:
            TypeError: ``packets`` are not VideoPackets.
            MediaError: No packet has a timestamp.
        """
        if not isinstance(packets, _native.VideoPackets):
            raise TypeError(f"Expected VideoPackets, got {type(packets).__name__}.")
        pts, durations, keyframes = _native.frame_table([packets])
        if not pts:
            raise MediaError(
                f"Failed to index {packets.src}: no packet has a timestamp, so frames cannot "
                "be numbered (a raw elementary stream such as .h264 has none): "
                "spdl.io.load_video decodes it whole, or remux it into a container."
            )
        orientation = packets.display_orientation
        swaps = swaps_sides(orientation)
        return cls(
            src=packets.src,
            time_base=Fraction(*packets.time_base),
            pts=_frozen(pts),
            durations=_frozen(durations),
            keyframes=_frozen(keyframes),
            width=packets.height if swaps else packets.width,
            height=packets.width if swaps else packets.height,
            display_orientation=orientation,
        )

    def __len__(self) -> int:
        return len(self.pts)

    @property
    def num_frames(self) -> int:
        """The number of frames found in the stream."""
        return len(self.pts)

    @property
    def pts_seconds(self) -> np.ndarray:
        """Each frame's presentation time in seconds (float64), in presentation order."""
        return self.pts * float(self.time_base)

    @property
    def begin_seconds(self) -> float:
        """When the first frame is shown, in seconds (``pts_seconds[0]``)."""
        return float(self.pts[0]) * float(self.time_base)  # as pts_seconds computes it

    @property
    def end_seconds(self) -> float:
        """When the last frame stops being shown, in seconds: its time plus its duration
        (the average frame interval where the container gives no duration)."""
        last = int(self.durations[-1])
        if last <= 0 and len(self.pts) > 1:
            last = round((int(self.pts[-1]) - int(self.pts[0])) / (len(self.pts) - 1))
        return float((int(self.pts[-1]) + max(last, 0)) * self.time_base)

    @property
    def duration_seconds(self) -> float:
        """``end_seconds - begin_seconds``."""
        return self.end_seconds - self.begin_seconds

    @property
    def average_fps(self) -> float:
        """Frames per second over the stream: ``num_frames / duration_seconds``."""
        duration = self.duration_seconds
        return len(self.pts) / duration if duration > 0 else math.nan

    def __repr__(self) -> str:
        return (
            f"VideoIndex(src={self.src!r}, num_frames={self.num_frames}, "
            f"size={self.width}x{self.height}, "
            f"keyframes={len(self.keyframes)}, begin_seconds={self.begin_seconds:.6g}, "
            f"end_seconds={self.end_seconds:.6g})"
        )


def check_indices(index: VideoIndex, indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """``indices`` as int64 frame numbers; negative ones count from the end.

    Raises:
        IndexError: An index lies outside ``[-num_frames, num_frames)``; the message
            names the source and the valid range.
    """
    given = np.asarray(indices)
    count = index.num_frames
    # Unsigned indices are checked before the cast, which would turn 2**64 - 1 into -1.
    outside = given >= count if given.dtype.kind == "u" else (given < -count) | (given >= count)
    if np.any(outside):
        raise IndexError(
            f"Frame index {int(given[outside][0])} is out of range for {index.src}: it has "
            f"{count} frames, so indices lie in [0, {count}) (or [-{count}, 0) from the end)."
        )
    positions = given.astype(np.int64)
    return np.where(positions < 0, positions + count, positions)


def frames_shown_at(index: VideoIndex, timestamps: Sequence[float] | np.ndarray) -> np.ndarray:
    """The number of the frame shown at each time: the last frame whose presentation
    time is at or before it, to within the slack that windows allow (``tick_slack``:
    Matroska stores 1/30 s as 33 ms, and 2/30 s as 67 ms, after 66.7 ms).

    Raises:
        ValueError: A time lies outside ``[begin_seconds, end_seconds)``; the message
            names the source and the valid range.
    """
    seconds = np.asarray(timestamps, dtype=np.float64)
    begin, end = index.begin_seconds, index.end_seconds
    finite = np.isfinite(seconds)
    ticks = np.floor(
        np.where(finite, seconds, 0) / float(index.time_base) + float(tick_slack(index.time_base))
    ).astype(np.int64)
    bad = seconds[~finite | (ticks < index.pts[0]) | (seconds >= end)]
    if bad.size:
        raise ValueError(
            f"Time {float(bad[0])!r} s is out of range for {index.src}: its frames are "
            f"shown in [{begin!r}, {end!r}) s."
        )
    return np.searchsorted(index.pts, ticks, side="right") - 1
