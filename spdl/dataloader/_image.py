"""Batches of images decoded, cropped, resized and flipped by one native call.

Also the pieces the media loaders share: how an item (a ``Sample``, a
``(path, label)`` pair or a bare source) is unpacked, and how a per-sample random
seed is derived from ``(seed, epoch, index)``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

import spdl.io
from spdl.io._api.batch import failures_logged_by_caller
from spdl.io._core.numbers import is_int

__all__ = ["ImageBatchLoader", "describe", "sample_seed", "unpack_item"]

_LG = logging.getLogger("spdl.dataloader")

_MASK64 = (1 << 64) - 1
# Salts that give independent streams from one sample seed.
_STREAM_CROP = 0x243F6A8885A308D3
_STREAM_FLIP = 0x13198A2E03707344
_STREAM_OFFSET = 0xA4093822299F31D0


def _mix64(value: int) -> int:
    """splitmix64's finaliser: a bijection on 64-bit integers; each input bit flips
    about half the output bits, so neighbouring inputs give unrelated outputs."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The random seed of one sample: a 64-bit hash of ``(seed, epoch, index)``.

    It depends on nothing else (not on the batch, the thread or the time), so the
    same sample in the same epoch gets the same random transform in every run,
    while another epoch or another index gets an unrelated one.

    Args:
        seed: The loader's seed.
        epoch: The epoch (``Sample.epoch``).
        index: The sample's index in the dataset (``Sample.index``).

    Returns:
        An integer in ``[0, 2**64)``.

    Raises:
        TypeError: An argument is not a Python or NumPy integer.

    Example:
        >>> from spdl.dataloader import sample_seed
        >>> sample_seed(0, 1, 7) == sample_seed(0, 1, 7) != sample_seed(0, 2, 7)
        True
    """
    for name, value in (("seed", seed), ("epoch", epoch), ("index", index)):
        if not is_int(value):
            raise TypeError(f"sample_seed: `{name}` must be an int, got {type(value).__name__}.")
    mixed = _mix64(int(seed) & _MASK64)
    mixed = _mix64(mixed ^ (int(epoch) & _MASK64))
    return _mix64(mixed ^ (int(index) & _MASK64))


def uniform(seed: int, stream: int) -> float:
    """A number in ``[0, 1)`` drawn from ``seed`` in the independent ``stream``."""
    return (_mix64(seed ^ stream) >> 11) * 2.0**-53


def describe(src: Any) -> str:
    """A short name of a source for messages: its path, or the size of its bytes."""
    if isinstance(src, str | os.PathLike):
        return repr(os.fspath(src))
    if isinstance(src, bytes | bytearray | memoryview):
        return f"<{memoryview(src).nbytes} bytes>"
    return f"<{type(src).__name__}>"


def _source_key(src: Any) -> int:
    """A stable index for a source that comes without one (a hash of its path or bytes)."""
    if isinstance(src, str | os.PathLike):
        data = os.fsencode(src)
    elif isinstance(src, bytes | bytearray | memoryview):
        data = bytes(src)
    else:
        return 0
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def unpack_item(item: Any) -> tuple[Any, int, int, int]:
    """Splits an item into ``(source, label, epoch, index)``.

    An item is a ``Sample`` (anything with ``index``, ``epoch`` and ``data``
    attributes) whose data is a source or a ``(source, label)`` pair, or such data
    alone. Data without a label gets ``-1``; an item without ``index`` and
    ``epoch`` gets epoch 0 and a hash of its path (or bytes) as index, so its random
    transform is the same on every call.
    """
    if hasattr(item, "data") and hasattr(item, "index") and hasattr(item, "epoch"):
        data, epoch, index = item.data, int(item.epoch), int(item.index)
    else:
        data, epoch, index = item, 0, None
    if isinstance(data, tuple) and len(data) == 2:
        src, label = data
    else:
        src, label = data, -1
    if index is None:
        index = _source_key(src)
    return src, int(label), epoch, index


def _check_pair(name: str, value: Any) -> tuple[float, float]:
    if not (isinstance(value, Sequence) and len(value) == 2):
        raise TypeError(f"`{name}` must be a pair (low, high), got {value!r}.")
    low, high = float(value[0]), float(value[1])
    if not 0 < low <= high:
        raise ValueError(f"`{name}` must satisfy 0 < low <= high, got {value!r}.")
    return low, high


def _check_size(size: Any) -> tuple[int, int]:
    """``size`` as ``(height, width)``: an int is a square."""
    pair = (size, size) if isinstance(size, int) else size
    if not (
        isinstance(pair, Sequence)
        and len(pair) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair)
    ):
        raise ValueError(f"`size` must be a positive int or (height, width), got {size!r}.")
    return pair[0], pair[1]


class ImageBatchLoader:
    """Loads a batch of images with one native call: an aggregator for the DataLoader.

    Called with a list of items (``Sample``s whose data is ``(path, label)``, as
    ``MapSource(ImageFolder(...), sampler)`` yields, or plain ``(path, label)``
    pairs), it decodes, crops, resizes and flips every image of the batch in ONE
    :func:`spdl.io.batch_load_image` call, which runs with the GIL released for
    the whole batch; no Python code runs per image besides building the crop list.

    The loader keeps no state between calls: the DataLoader may call it from
    several threads at once.

    Transforms:

    - ``"eval"``: resize the shorter side to ``resize``, then centre-crop ``size``
      (torchvision's ``Resize(resize)`` + ``CenterCrop(size)``), done as one crop
      box in source pixels scaled straight to ``size``.
    - ``"train"``: torchvision's ``RandomResizedCrop(size, scale, ratio)`` (the box
      is drawn natively from the real image size) and a horizontal flip with
      probability ``hflip_prob``. Both are drawn from
      ``sample_seed(seed, epoch, index)``: the same sample in the same epoch gets the
      same crop and flip whatever the batch or the thread; other epochs differ.
      An item that is not a ``Sample`` (a plain ``(path, label)`` pair) has no epoch
      or index: its draw comes from its path, the same on every pass and for every
      item of the same file (use a ``MapSource`` for draws that change).
    - ``None``: the whole image resized to ``size`` (aspect ratio not kept).

    Layout: ``"HWC"`` gives ``(B, H, W, 3)``, contiguous. ``"CHW"`` gives
    ``(B, 3, H, W)`` as a *view* of the same memory (``permute``, no copy): its
    strides are torch's ``channels_last`` memory format, which convolutions take
    as is (and run fastest in on GPUs); call ``.contiguous()`` for a packed
    ``(B, 3, H, W)`` copy. Channels are in RGB order in both layouts.

    Failures: with ``strict=False`` an image that fails to load is dropped together
    with its label (the error is logged), so the batch may be shorter than the
    item list, and empty when every image failed; with ``strict=True`` the first
    failure raises :class:`spdl.io.AsyncIOFailure`. (The batch call does not say
    which images failed, so a batch that comes back short is loaded again image by
    image, with the same crops and flips; only batches with a failure pay that.)

    Args:
        size: Output size: an int for a square, or ``(height, width)``.
        transform: ``"train"``, ``"eval"`` or ``None`` (see above).
        resize: ``"eval"``: the shorter side before the centre crop (at least
            ``max(size)``).
        seed: Seed of the ``"train"`` randomness.
        scale: ``"train"``: range of the crop area as a fraction of the image area.
        ratio: ``"train"``: range of the crop's aspect ratio (width / height).
        hflip_prob: ``"train"``: probability of a horizontal flip.
        layout: ``"HWC"`` or ``"CHW"`` (see above).
        strict: Raise on the first failed image instead of dropping it.
        to_torch: Return torch tensors (``torch`` is imported when the loader is
            created); ``False`` returns numpy arrays.

    Raises:
        ValueError: An argument has an invalid value.

    Example:
        >>> from spdl.dataloader import ImageBatchLoader
        >>> loader = ImageBatchLoader(64, transform="eval", resize=72)
        >>> images, labels = loader([("foo.jpg", 0), ("bar.png", 1)])
        >>> images.shape, images.dtype, labels.tolist()
        (torch.Size([2, 64, 64, 3]), torch.uint8, [0, 1])
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        *,
        transform: Literal["train", "eval"] | None = "train",
        resize: int = 256,
        seed: int = 0,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        hflip_prob: float = 0.5,
        layout: Literal["HWC", "CHW"] = "HWC",
        strict: bool = False,
        to_torch: bool = True,
    ) -> None:
        self.height, self.width = _check_size(size)
        if transform not in ("train", "eval", None):
            raise ValueError(f"`transform` must be 'train', 'eval' or None, got {transform!r}.")
        if layout not in ("HWC", "CHW"):
            raise ValueError(f"`layout` must be 'HWC' or 'CHW', got {layout!r}.")
        if not isinstance(seed, int | np.integer):  # a NumPy integer too
            raise TypeError(f"`seed` must be an int, got {type(seed).__name__}.")
        seed = int(seed)
        if transform == "eval" and not (
            isinstance(resize, int) and resize >= max(self.height, self.width)
        ):
            raise ValueError(
                f"`resize` must be an int of at least max(size) = "
                f"{max(self.height, self.width)}, got {resize!r}."
            )
        if not 0.0 <= hflip_prob <= 1.0:
            raise ValueError(f"`hflip_prob` must lie in [0, 1], got {hflip_prob!r}.")
        self.transform = transform
        self.resize = resize
        self.seed = seed
        self.scale = _check_pair("scale", scale)
        self.ratio = _check_pair("ratio", ratio)
        self.hflip_prob = float(hflip_prob)
        self.layout = layout
        self.strict = bool(strict)
        if to_torch:
            _import_torch()  # fails here, not in the loop, when torch is missing
        self._to_torch = to_torch  # not the module: the loader pickles (spawn workers)
        if transform == "eval":
            size_arg = self.width if self.width == self.height else (self.height, self.width)
            self._center = spdl.io.CenterCrop(size_arg, resize=resize)

    def transforms(self, items: Sequence[Any]) -> dict[str, Any]:
        """The ``crop`` and ``hflip`` arguments of the batch call for ``items``.

        Args:
            items: The batch's items.

        Returns:
            ``{"crop": ..., "hflip": ...}`` (empty when ``transform`` is ``None``).
        """
        if self.transform is None:
            return {}
        if self.transform == "eval":
            return {"crop": self._center, "hflip": False}
        crops, flips = [], []
        for item in items:
            _, _, epoch, index = unpack_item(item)
            key = sample_seed(self.seed, epoch, index)
            crops.append(
                spdl.io.RandomResizedCrop(
                    _mix64(key ^ _STREAM_CROP), scale=self.scale, ratio=self.ratio
                )
            )
            flips.append(uniform(key, _STREAM_FLIP) < self.hflip_prob)
        return {"crop": crops, "hflip": flips}

    def _load(self, srcs: list[Any], options: dict[str, Any], strict: bool) -> np.ndarray:
        with failures_logged_by_caller():  # a dropped image is logged once, below
            buffer = spdl.io.batch_load_image(
                srcs, self.width, self.height, pix_fmt="rgb24", strict=strict, **options
            )
        return spdl.io.to_numpy(buffer)

    def _load_one_by_one(
        self, srcs: list[Any], options: dict[str, Any]
    ) -> tuple[np.ndarray, list[int]]:
        """Loads each image alone: which of them fail, the batch call does not say."""
        images, kept = [], []
        for i, src in enumerate(srcs):
            # One-element lists: a lone RandomResizedCrop would be shared and re-seeded.
            single = {k: [v[i]] if isinstance(v, list) else v for k, v in options.items()}
            try:
                images.append(self._load([src], single, strict=True)[0])
            except spdl.io.AsyncIOFailure as error:
                _LG.warning("ImageBatchLoader: dropped image %s: %s", describe(src), error)
                continue
            kept.append(i)
        if not images:
            return np.empty((0, self.height, self.width, 3), np.uint8), kept
        return np.stack(images), kept

    def __call__(self, items: Sequence[Any]) -> tuple[Any, Any]:
        """Loads a batch.

        Args:
            items: The batch's items: ``Sample``s, ``(source, label)`` pairs or sources.

        Returns:
            ``(images, labels)``: ``images`` uint8 ``(B, H, W, 3)`` (layout ``"HWC"``)
            or ``(B, 3, H, W)`` (``"CHW"``); ``labels`` int64 ``(B,)``, ``-1`` for an
            item without a label. torch tensors, or numpy arrays with
            ``to_torch=False``. ``B`` is ``len(items)`` less the items that failed.

        Raises:
            ValueError: ``items`` is empty.
            spdl.io.AsyncIOFailure: An image failed to load and ``strict`` is set.
        """
        unpacked = [unpack_item(item) for item in items]
        srcs = [src for src, _, _, _ in unpacked]
        labels = [label for _, label, _, _ in unpacked]
        if not srcs:
            raise ValueError("ImageBatchLoader: the batch holds no item.")
        options = self.transforms(items)
        try:
            images = self._load(srcs, options, self.strict)
        except spdl.io.AsyncIOFailure:
            if self.strict:
                raise
            images = None  # every image failed, or the call could not run as one batch
        if images is None or len(images) != len(srcs):
            images, kept = self._load_one_by_one(srcs, options)
            labels = [labels[i] for i in kept]
        return self._output(images, np.asarray(labels, dtype=np.int64))

    def _output(self, images: np.ndarray, labels: np.ndarray) -> tuple[Any, Any]:
        if self._to_torch:
            torch = _import_torch()
            tensor, label_tensor = torch.from_numpy(images), torch.from_numpy(labels)
            return (tensor.permute(0, 3, 1, 2) if self.layout == "CHW" else tensor), label_tensor
        return (images.transpose(0, 3, 1, 2) if self.layout == "CHW" else images), labels

    def __repr__(self) -> str:
        return (
            f"ImageBatchLoader(size=({self.height}, {self.width}), transform={self.transform!r}, "
            f"layout={self.layout!r}, strict={self.strict})"
        )


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            "to_torch=True needs PyTorch (pip install spdl[torch]); pass to_torch=False "
            "for numpy arrays."
        ) from error
    return torch
