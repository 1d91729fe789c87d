"""Fixed-length video clips, batched: an aggregator for the DataLoader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import spdl.io
from spdl.io._core.numbers import INT_MAX, is_int

from ._clips import ClipLoader, Offset
from ._image import describe

__all__ = ["VideoClipLoader"]


def _index(src: Any) -> spdl.io.VideoIndex:
    """The frames of ``src`` (a file-like source is put back where it was)."""
    position = src.tell() if hasattr(src, "seek") else None  # paths, bytes, memoryviews: None
    try:
        return spdl.io.index_video(src)
    finally:
        if position is not None:
            src.seek(position)


class VideoClipLoader(ClipLoader):
    """Loads ``num_frames`` consecutive frames of each video, resized, as one batch.

    Each item (a path, URL or bytes, a ``(source, label)`` pair, or a ``Sample`` whose
    data is one of those) gives one clip: ``num_frames`` consecutive frames at the
    video's own frame rate, scaled to ``width`` x ``height``, RGB. The first frame is
    chosen by ``offset``:

    - ``"random"``: uniformly among the frames where a whole clip fits, drawn from
      ``sample_seed(seed, epoch, index)`` (the same for the same sample and epoch,
      whatever the batch or the thread; other epochs differ; an item that is not a
      ``Sample`` draws from its path: the same on every pass);
    - ``"center"``: the clip in the middle of the video;
    - ``"start"``: the first frames.

    The video is indexed (:func:`spdl.io.index_video`: its packets demuxed, not
    decoded), so the frame count and the frames' order are exact whatever the
    container's header says, variable frame rates included; the clip's frames are
    then read by number with :func:`spdl.io.load_video_frames` (only their GOPs
    demuxed, one native decode with the GIL released). A video with fewer frames
    than ``num_frames`` is padded by repeating its last frame, so every clip has
    exactly ``num_frames`` frames.

    The loader keeps no state between calls: the DataLoader may call it from
    several threads at once.

    Called with a list of items it returns ``(clips, labels)``; :meth:`load_clip`
    loads one clip.

    Args:
        num_frames: Frames per clip.
        width: Output width.
        height: Output height.
        offset: ``"random"``, ``"center"`` or ``"start"`` (see above).
        seed: Seed of the random offsets.
        strict: Raise on the first video that fails to load; if ``False`` (the
            default), drop it and its label (the error is logged), so a batch may
            be shorter than its item list, or empty.
        to_torch: Return torch tensors (``torch`` is imported when the loader is
            created); ``False`` returns numpy arrays.

    Raises:
        ValueError: An argument has an invalid value.

    Example:
        >>> from spdl.dataloader import VideoClipLoader
        >>> loader = VideoClipLoader(8, 32, 24, offset="center")
        >>> clips, labels = loader([("clip.mp4", 3)])
        >>> clips.shape, labels.tolist()
        (torch.Size([1, 8, 24, 32, 3]), [3])
    """

    def __init__(
        self,
        num_frames: int,
        width: int,
        height: int,
        *,
        offset: Offset = "random",
        seed: int = 0,
        strict: bool = False,
        to_torch: bool = True,
    ) -> None:
        for name, value in (("num_frames", num_frames), ("width", width), ("height", height)):
            if not is_int(value) or not 0 < value <= INT_MAX:
                raise ValueError(f"`{name}` must be an int from 1 to {INT_MAX}, got {value!r}.")
        super().__init__(offset=offset, seed=seed, strict=strict, to_torch=to_torch)
        self.num_frames = int(num_frames)
        self.width = int(width)
        self.height = int(height)
        self._kind = "video"
        self._clip_shape = (self.num_frames, self.height, self.width, 3)
        self._dtype = np.uint8

    def _first_frame(self, num_frames: int, epoch: int, index: int) -> int:
        spare = max(num_frames - self.num_frames, 0)
        if self.offset == "start":
            return 0
        if self.offset == "center":
            return spare // 2
        return min(int(self._draw(epoch, index) * (spare + 1)), spare)

    def _load_into(self, out: np.ndarray, src: Any, epoch: int, index: int) -> None:
        video = _index(src)
        first = self._first_frame(video.num_frames, epoch, index)
        numbers = range(first, min(first + self.num_frames, video.num_frames))
        if not numbers:
            raise ValueError(f"{describe(src)} holds no video frame.")
        batch = spdl.io.load_video_frames(
            src, numbers, index=video, width=self.width, height=self.height, pix_fmt="rgb24"
        )
        frames = spdl.io.to_numpy(batch.data)
        out[: len(frames)] = frames
        out[len(frames) :] = frames[-1]

    def load_clip(self, item: Any) -> np.ndarray:
        """Loads the clip of one item.

        Args:
            item: A source, a ``(source, label)`` pair or a ``Sample``.

        Returns:
            uint8 ``(num_frames, height, width, 3)``.

        Raises:
            spdl.io.MediaError: The video cannot be decoded.
            FileNotFoundError: A path that does not exist.

        Example:
            >>> from spdl.dataloader import VideoClipLoader
            >>> loader = VideoClipLoader(4, 32, 24, offset="start")
            >>> loader.load_clip("clip.mp4").shape
            (4, 24, 32, 3)
        """
        return self._load_one(item)

    def __call__(self, items: Sequence[Any]) -> tuple[Any, Any]:
        """Loads a batch.

        Args:
            items: The batch's items: ``Sample``s, ``(source, label)`` pairs or sources.

        Returns:
            ``(clips, labels)``: ``clips`` uint8 ``(B, num_frames, height, width, 3)``;
            ``labels`` int64 ``(B,)``, ``-1`` for an item without a label. torch
            tensors, or numpy arrays with ``to_torch=False``. ``B`` is ``len(items)``
            less the items that failed.

        Raises:
            ValueError: ``items`` is empty.
            Exception: The first failure (``strict`` only): ``FileNotFoundError``,
                :class:`spdl.io.MediaError`, or PyAV's error for an unreadable header.
        """
        return self._load_batch(items)

    def __repr__(self) -> str:
        return (
            f"VideoClipLoader(num_frames={self.num_frames}, width={self.width}, "
            f"height={self.height}, offset={self.offset!r}, strict={self.strict})"
        )
