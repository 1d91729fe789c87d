"""What the video and audio clip loaders share: the offset policy, the header probe and
the batch loop that drops failed items together with their labels."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import av
import numpy as np

import spdl.io

from ._image import _STREAM_OFFSET, _import_torch, describe, sample_seed, uniform, unpack_item

__all__ = ["ClipLoader", "Offset", "open_header"]

_LG = logging.getLogger("spdl.dataloader")

Offset = Literal["random", "center", "start"]
_OFFSETS = ("random", "center", "start")


@contextlib.contextmanager
def open_header(src: Any) -> Iterator[Any]:
    """Opens ``src`` (a path, bytes or a binary file-like object) with PyAV for its header.

    Only the header is read (no packet): it gives the stream's duration and rate.
    A file-like source is put back where it was.
    """
    position = None
    if isinstance(src, str | os.PathLike):
        opened = os.fspath(src)
    elif isinstance(src, bytes | bytearray | memoryview):
        opened = io.BytesIO(bytes(src))
    else:
        opened, position = src, src.tell()
    try:
        try:
            container = av.open(opened)
        except FileNotFoundError:
            raise  # PyAV's names the path, and is a FileNotFoundError
        except av.FFmpegError as error:  # PyAV names bytes '<none>'
            raise spdl.io.MediaError(f"Failed to open {describe(src)}: {error}") from error
        with container:
            yield container
    finally:
        if position is not None:
            src.seek(position)


class ClipLoader:
    """Base of the clip loaders: one fixed-shape clip per item, stacked into a batch.

    A subclass sets ``_kind`` (``"video"``, ``"audio"``), ``_clip_shape`` and
    ``_dtype``, and implements ``_load_into(out, src, epoch, index)``.
    """

    _kind = "clip"
    _clip_shape: tuple[int, ...] = ()
    _dtype: Any = np.float32

    def __init__(self, *, offset: Offset, seed: int, strict: bool, to_torch: bool) -> None:
        if offset not in _OFFSETS:
            raise ValueError(f"`offset` must be one of {_OFFSETS}, got {offset!r}.")
        if not isinstance(seed, int | np.integer):  # a NumPy integer too
            raise TypeError(f"`seed` must be an int, got {type(seed).__name__}.")
        seed = int(seed)
        self.offset = offset
        self.seed = seed
        self.strict = bool(strict)
        if to_torch:
            _import_torch()  # fails here, not in the loop, when torch is missing
        self._to_torch = to_torch  # not the module: the loader pickles (spawn workers)

    def _draw(self, epoch: int, index: int) -> float:
        """A number in ``[0, 1)`` fixed by ``(seed, epoch, index)``: the random offset."""
        return uniform(sample_seed(self.seed, epoch, index), _STREAM_OFFSET)

    def _load_into(self, out: np.ndarray, src: Any, epoch: int, index: int) -> None:
        raise NotImplementedError

    def _load_one(self, item: Any) -> np.ndarray:
        src, _, epoch, index = unpack_item(item)
        out = np.empty(self._clip_shape, self._dtype)
        self._load_into(out, src, epoch, index)
        return out

    def _load_batch(self, items: Sequence[Any]) -> tuple[Any, Any]:
        name = type(self).__name__
        if not items:
            raise ValueError(f"{name}: the batch holds no item.")
        clips = np.empty((len(items), *self._clip_shape), self._dtype)
        labels: list[int] = []
        for item in items:
            src, label, epoch, index = unpack_item(item)
            try:
                self._load_into(clips[len(labels)], src, epoch, index)
            except Exception as error:
                if self.strict:
                    raise
                _LG.warning("%s: dropped %s %s: %s", name, self._kind, describe(src), error)
                continue
            labels.append(label)
        clips = clips[: len(labels)]
        labels_array = np.asarray(labels, dtype=np.int64)
        if self._to_torch:
            torch = _import_torch()
            return torch.from_numpy(clips), torch.from_numpy(labels_array)
        return clips, labels_array
