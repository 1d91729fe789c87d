"""Where clips of a video lie: the frame numbers of every frame of every clip.

Pure arithmetic on a :class:`~spdl.io._core.frame_index.VideoIndex`; the frames are
then decoded in one pass by :func:`spdl.io._core.frame_select.decode_frames`. The
random draws are made when the sampler is called (:func:`draw`), so that a seed
gives the same clips in every form, whichever thread plans the decode.

A clip of ``F`` frames spaced ``step`` apart starting at frame ``s`` holds
``s, s + step, ... s + (F - 1) * step``; the sampling range bounds where clips
may *start* (half-open), and by default keeps every clip inside the video. A
clip that runs past the end is completed by the ``policy``: ``"repeat_last"``
repeats its last frame, ``"wrap"`` starts over from its first, ``"error"`` raises.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Literal, TypeAlias

import numpy as np

from spdl.io._core.frame_index import VideoIndex, frames_shown_at
from spdl.io._core.numbers import as_int, as_real, is_int, is_real

__all__ = [
    "Policy",
    "check_clip_args",
    "check_int",
    "check_positive_number",
    "draw",
    "index_clips",
    "time_clips",
]

Policy: TypeAlias = Literal["repeat_last", "wrap", "error"]
POLICIES = ("repeat_last", "wrap", "error")
MAX_REGULAR_CLIPS = 100_000  # clips_at_regular_timestamps: a tiny spacing fails, not hangs


def check_int(name: str, value: object, minimum: int) -> None:
    """``TypeError`` unless ``value`` is an integer (NumPy's included), ``ValueError``
    unless it is at least ``minimum``."""
    as_int(name, value, minimum, maximum=2**62)


def check_positive_number(name: str, value: object) -> None:
    """``TypeError`` unless ``value`` is a real number, ``ValueError`` unless it is > 0."""
    if not is_real(value):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}.")
    number = float(as_real(value))
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be positive, got {value!r}.")


def _check_optional_number(name: str, value: object) -> None:
    if value is not None and not is_real(value):
        raise TypeError(f"{name} must be a number or None, got {type(value).__name__}.")
    if value is not None and math.isnan(float(as_real(value))):
        raise ValueError(f"{name} must not be NaN.")


def check_clip_args(
    num_clips: int | None,
    num_frames_per_clip: int,
    policy: str,
    sampling_range_start: object,
    sampling_range_end: object,
    *,
    by_time: bool,
) -> None:
    """Checks the arguments every sampler shares, when it is called.

    Raises:
        TypeError: An argument of the wrong type.
        ValueError: A count below 1 or an unknown policy.
    """
    if num_clips is not None:
        check_int("num_clips", num_clips, 1)
    check_int("num_frames_per_clip", num_frames_per_clip, 1)
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}.")
    for name, value in (
        ("sampling_range_start", sampling_range_start),
        ("sampling_range_end", sampling_range_end),
    ):
        if by_time:
            _check_optional_number(name, value)
        elif value is not None:
            check_int(name, value, -(2**62))
    if not by_time and sampling_range_start is None:
        raise TypeError("sampling_range_start must be an int, got NoneType.")


def draw(seed: int | random.Random | None, count: int) -> list[float]:
    """``count`` uniform numbers in ``[0, 1)``: from ``seed`` (an int, or a
    ``random.Random`` whose state advances), or fresh ones for ``None``."""
    if isinstance(seed, random.Random):
        rng = seed
    elif seed is None:
        rng = random.Random()
    elif is_int(seed):
        rng = random.Random(int(seed))  # NumPy's integers too (random.Random refuses them)
    else:
        raise TypeError(f"seed must be an int, a random.Random or None, got {type(seed).__name__}.")
    return [rng.random() for _ in range(count)]


def _complete(values: list, length: int, policy: str, overflow: Callable[[], Exception]) -> list:
    if len(values) >= length:
        return values
    if policy == "repeat_last":
        return values + [values[-1]] * (length - len(values))
    if policy == "wrap":
        return (values * (length // len(values) + 1))[:length]
    raise overflow()


def _index_range(index: VideoIndex, start: int, end: int | None, span: int) -> tuple[int, int]:
    count = index.num_frames
    first = start + count if start < 0 else start
    if not 0 <= first < count:
        raise ValueError(
            f"sampling_range_start {start} is out of range for {index.src}: it has {count} frames."
        )
    if end is None:
        last = max(count - span + 1, 1)
    else:
        last = min(end + count if end < 0 else end, count)
    if first >= last:
        raise ValueError(
            f"Clips of {index.src} may start in [{first}, {last}), which is empty: "
            f"sampling_range_start={start}, sampling_range_end={end}, a clip spans {span} "
            f"frames and the video has {count}."
        )
    return first, last


def index_clips(
    index: VideoIndex,
    *,
    draws: Sequence[float] | None,
    num_clips: int,
    num_frames_per_clip: int,
    num_indices_between_frames: int,
    sampling_range_start: int,
    sampling_range_end: int | None,
    policy: str,
) -> np.ndarray:
    """The frame numbers of every clip, ``(num_clips, num_frames_per_clip)``.

    Clips start at ``draws`` mapped onto the sampling range (random clips), or
    equally spaced over it, first and last start included (``draws`` None).

    Raises:
        ValueError: The sampling range is empty or outside the video.
        IndexError: ``policy="error"`` and a clip runs past the last frame.
    """
    step, count = num_indices_between_frames, index.num_frames
    span = step * (num_frames_per_clip - 1) + 1
    first, last = _index_range(index, sampling_range_start, sampling_range_end, span)
    if draws is None:
        starts = np.linspace(first, last - 1, num_clips).astype(np.int64).tolist()
    else:
        starts = [first + min(int(u * (last - first)), last - first - 1) for u in draws]

    def overflow() -> Exception:
        return IndexError(
            f'policy="error": a clip of {index.src} runs past its last frame ({count - 1}).'
        )

    clips = [
        _complete(list(range(s, min(s + span, count), step)), num_frames_per_clip, policy, overflow)
        for s in starts
    ]
    return np.asarray(clips, dtype=np.int64).reshape(len(starts), num_frames_per_clip)


def time_clips(
    index: VideoIndex,
    *,
    draws: Sequence[float] | None,
    num_clips: int | None,
    seconds_between_clip_starts: float | None,
    num_frames_per_clip: int,
    seconds_between_frames: float | None,
    sampling_range_start: float | None,
    sampling_range_end: float | None,
    policy: str,
) -> np.ndarray:
    """The frame numbers of every clip, ``(clips, num_frames_per_clip)``: the frames
    shown at each clip's times.

    Clips start at ``draws`` mapped onto the sampling range (random clips), or every
    ``seconds_between_clip_starts`` from its start (``draws`` None).

    Raises:
        ValueError: The sampling range is empty or outside the video, or
            ``policy="error"`` and a clip runs past the end of the video.
    """
    begin, end = index.begin_seconds, index.end_seconds
    spacing = seconds_between_frames
    if spacing is None:
        spacing = 1 / index.average_fps
    first = begin if sampling_range_start is None else float(sampling_range_start)
    if not begin <= first < end:
        raise ValueError(
            f"sampling_range_start {first!r} s is out of range for {index.src}: its frames "
            f"are shown in [{begin!r}, {end!r}) s."
        )
    if sampling_range_end is None:
        last = end - (num_frames_per_clip - 1) * spacing
    else:
        last = float(sampling_range_end)
    last = min(last, end)
    if first >= last:
        raise ValueError(
            f"Clips of {index.src} may start in [{first!r}, {last!r}) s, which is empty "
            f"(sampling_range_start={sampling_range_start}, sampling_range_end="
            f"{sampling_range_end}, frames {spacing!r} s apart)."
        )
    if draws is not None:
        starts = [first + u * (last - first) for u in draws]
    else:
        assert seconds_between_clip_starts is not None
        count = math.ceil((last - first) / seconds_between_clip_starts)
        if count > MAX_REGULAR_CLIPS:
            raise ValueError(
                f"seconds_between_clip_starts={seconds_between_clip_starts!r} gives {count} "
                f"clips in [{first!r}, {last!r}) s of {index.src}; at most "
                f"{MAX_REGULAR_CLIPS} are sampled at once."
            )
        starts = [s for k in range(count) if (s := first + k * seconds_between_clip_starts) < last]

    def overflow() -> Exception:
        return ValueError(
            f'policy="error": a clip of {index.src} runs past the end of the video ({end!r} s).'
        )

    times = [
        _complete(
            [t for k in range(num_frames_per_clip) if (t := s + k * spacing) < end],
            num_frames_per_clip,
            policy,
            overflow,
        )
        for s in starts
    ]
    seconds = np.asarray(times, dtype=np.float64).reshape(len(starts), num_frames_per_clip)
    return frames_shown_at(index, seconds)
