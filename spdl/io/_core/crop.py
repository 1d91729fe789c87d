"""Crop specifications for batches: an explicit box and the two ImageNet transforms.

A spec is turned into one box in source pixels by the native core, from each
image's real size, inside the batch decode; :func:`crop_box` computes the same box.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, TypeAlias

from spdl import _native
from spdl.io._core.numbers import as_int, is_int, is_real

__all__ = [
    "CenterCrop",
    "CropBox",
    "CropSpec",
    "RandomResizedCrop",
    "crop_box",
    "Transforms",
    "check_transforms",
]

_SEED_MODULUS = 2**64


def _check_int(owner: str, name: str, value: object, minimum: int) -> int:
    """``value`` as a Python int, in ``[minimum, INT_MAX]`` (the native core's ints)."""
    return as_int(f"{owner}: {name}", value, minimum)


def _check_range(owner: str, name: str, value: object) -> tuple[float, float]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise TypeError(f"{owner}: {name} must be a (min, max) pair, got {value!r}.")
    low, high = value
    for bound in (low, high):
        if not is_real(bound):
            raise TypeError(f"{owner}: {name} must hold numbers, got {value!r}.")
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low <= high):
        raise ValueError(f"{owner}: {name} must be (min, max) with 0 < min <= max, got {value!r}.")
    return float(low), float(high)


@dataclasses.dataclass(frozen=True)
class CropBox:
    """An explicit crop box, in pixels of the source image.

    A box that does not fit in an image fails that image, as a decode failure
    does, with a message naming the source, the box and the image size.

    Args:
        left: Column of the box's left edge.
        top: Row of the box's top edge.
        width: Width of the box.
        height: Height of the box.

    Raises:
        TypeError: If a field is not an int.
        ValueError: If ``left`` or ``top`` is negative, or ``width`` or ``height`` is not
            positive.

    Example:
        >>> box = spdl.io.CropBox(left=40, top=30, width=200, height=150)
        >>> buffer = spdl.io.batch_load_image(["foo.jpg"], 100, 75, crop=box)
        >>> buffer.shape
        (1, 75, 100, 3)
    """

    left: int
    top: int
    width: int
    height: int

    def __post_init__(self) -> None:
        for name, minimum in (("left", 0), ("top", 0), ("width", 1), ("height", 1)):
            value = _check_int("CropBox", name, getattr(self, name), minimum)
            object.__setattr__(self, name, value)

    def _native(self) -> _native.CropSpec:
        return _native.CropSpec.box(self.left, self.top, self.width, self.height)


@dataclasses.dataclass(frozen=True)
class CenterCrop:
    """The evaluation transform: resize the shorter side, then take the centre.

    Equivalent to torchvision's ``Resize(resize)`` followed by ``CenterCrop(size)``,
    computed as one box in the source image that is then resized to the output
    size: the box's side is ``size * shorter / resize``, centred with torchvision's
    rounding (``int(round((H' - h) / 2))`` in the resized image) mapped back to
    source pixels. Pass the output ``width`` and ``height`` equal to ``size``.

    Args:
        size: The crop's size in the resized image: ``(height, width)``, or one int
            for a square.
        resize: The length the shorter side is resized to first; ``None`` crops
            ``size`` source pixels from the centre, without resizing.

    Raises:
        TypeError: If ``size`` or ``resize`` is not an int (or a pair of ints).
        ValueError: If a size is not positive.

    Example:
        >>> crop = spdl.io.CenterCrop(224, resize=256)
        >>> spdl.io.crop_box(crop, width=500, height=375)  # (left, top, width, height)
        (85, 23, 328, 328)
    """

    size: int | tuple[int, int]
    resize: int | None = None

    def __post_init__(self) -> None:
        size = self.size
        if isinstance(size, Sequence) and not isinstance(size, str):
            if len(size) != 2:
                raise TypeError(
                    f"CenterCrop: size must be an int or (height, width), got {size!r}."
                )
            checked = tuple(
                _check_int("CenterCrop", f"size's {name}", value, 1)
                for name, value in zip(("height", "width"), size, strict=True)
            )
            object.__setattr__(self, "size", checked)
        else:
            object.__setattr__(self, "size", _check_int("CenterCrop", "size", size, 1))
        if self.resize is not None:
            object.__setattr__(self, "resize", _check_int("CenterCrop", "resize", self.resize, 1))

    @property
    def _height_width(self) -> tuple[int, int]:
        return (self.size, self.size) if isinstance(self.size, int) else self.size

    def _native(self) -> _native.CropSpec:
        height, width = self._height_width
        return _native.CropSpec.center(width, height, self.resize or 0)


@dataclasses.dataclass(frozen=True)
class RandomResizedCrop:
    """The training transform's box: a random area and aspect ratio, at a random place.

    Follows torchvision's ``RandomResizedCrop.get_params``: up to ten times, draw an
    area fraction uniformly from ``scale`` and an aspect ratio log-uniformly from
    ``ratio``, round the box's sides, and keep the first box that fits (at a uniformly
    drawn place); if none fits, take the centre crop with the aspect ratio clamped
    to ``ratio``. The box is chosen natively from each image's real size, with a
    small PRNG of spdl's own seeded by ``seed``: the same seed and image size give
    the same box on every platform.

    When one ``RandomResizedCrop`` is given for a whole batch, image ``i`` uses the
    seed of :meth:`for_image` ``(i)``, so the images get different boxes (image 0
    keeps the seed: a batch of one image crops as the spec alone does).

    Args:
        seed: The seed (any int; taken modulo 2**64).
        scale: Range of the box's area as a fraction of the image's area.
        ratio: Range of the box's aspect ratio (width / height).

    Raises:
        TypeError: If ``seed`` is not an int or a range is not a pair of numbers.
        ValueError: If a range is not ``(min, max)`` with ``0 < min <= max``.

    Example:
        >>> crop = spdl.io.RandomResizedCrop(seed=7)
        >>> buffer = spdl.io.batch_load_image(["foo.jpg", "bar.png"], 64, 64, crop=crop)
        >>> buffer.shape
        (2, 64, 64, 3)
        >>> spdl.io.crop_box(crop, 320, 240) == spdl.io.crop_box(crop, 320, 240)
        True
    """

    seed: int
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)

    def __post_init__(self) -> None:
        if not is_int(self.seed):
            raise TypeError(
                f"RandomResizedCrop: seed must be an int, got {type(self.seed).__name__}."
            )
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "scale", _check_range("RandomResizedCrop", "scale", self.scale))
        object.__setattr__(self, "ratio", _check_range("RandomResizedCrop", "ratio", self.ratio))

    def for_image(self, index: int) -> RandomResizedCrop:
        """The spec that image ``index`` of a batch uses when this one is given for all.

        Args:
            index: The image's position in the batch's sources.

        Returns:
            This spec with the seed derived from ``(seed, index)``.

        Raises:
            TypeError, ValueError: If ``index`` is not a non-negative int.

        Example:
            >>> crop = spdl.io.RandomResizedCrop(seed=7)
            >>> box = spdl.io.crop_box(crop.for_image(1), 320, 240)  # bar.png's box
            >>> crop.for_image(1) == crop.for_image(1), crop.for_image(1) == crop
            (True, False)
            >>> crop.for_image(0) == crop
            True
        """
        index = _check_int("RandomResizedCrop.for_image", "index", index, 0)
        seed = _native.derive_crop_seed(self.seed % _SEED_MODULUS, index % _SEED_MODULUS)
        return dataclasses.replace(self, seed=seed)

    def _native(self, per_image_seed: bool = False) -> _native.CropSpec:
        # per_image_seed: one spec for a whole batch, the native core derives the seeds.
        return _native.CropSpec.random_resized(
            self.seed % _SEED_MODULUS, *self.scale, *self.ratio, per_image_seed=per_image_seed
        )


CropSpec: TypeAlias = CropBox | CenterCrop | RandomResizedCrop
_SPEC_TYPES = (CropBox, CenterCrop, RandomResizedCrop)


def crop_box(spec: CropSpec, width: int, height: int) -> tuple[int, int, int, int]:
    """The box that ``spec`` crops from a ``width`` x ``height`` image.

    The same native computation the batch decoders use, so that the box an image
    was cropped with can be reproduced (for a ``RandomResizedCrop`` given for a
    whole batch, pass ``spec.for_image(i)`` for image ``i``).

    Args:
        spec: A :class:`CropBox`, :class:`CenterCrop` or :class:`RandomResizedCrop`.
        width: The image's width in pixels.
        height: The image's height in pixels.

    Returns:
        ``(left, top, width, height)`` in source pixels.

    Raises:
        TypeError: If ``spec`` is not a crop spec or a size is not an int.
        ValueError: If a size is not positive, or the box does not fit in the image.

    Example:
        >>> spdl.io.crop_box(spdl.io.CenterCrop(100), width=320, height=240)
        (110, 70, 100, 100)
    """
    if not isinstance(spec, _SPEC_TYPES):
        raise TypeError(
            f"spec must be a CropBox, CenterCrop or RandomResizedCrop, got {type(spec).__name__}."
        )
    width = _check_int("crop_box", "width", width, 1)
    height = _check_int("crop_box", "height", height, 1)
    return _native.crop_box(spec._native(), width, height)


@dataclasses.dataclass(frozen=True)
class Transforms:
    """The crops and flips of one batch, checked, one entry per source."""

    crops: tuple[CropSpec | None, ...]
    flips: tuple[bool, ...]
    shared: bool  # one spec given for every source (random seeds then derived per image)

    def to_native(self, indices: Sequence[int] | None = None) -> list[_native.ImageTransform]:
        """Native transforms for all sources, or for those at ``indices``."""
        if indices is None and self.shared:
            crop = self.crops[0]
            assert crop is not None  # `shared`: one spec for all
            if isinstance(crop, RandomResizedCrop):
                spec = crop._native(per_image_seed=True)
            else:
                spec = crop._native()
            kinds = {flip: _native.ImageTransform(spec, flip) for flip in (False, True)}
            return [kinds[flip] for flip in self.flips]
        result = []
        for i in range(len(self.crops)) if indices is None else indices:
            each = self.crops[i]
            if self.shared and isinstance(each, RandomResizedCrop):
                each = each.for_image(i)  # the seed image i gets in the whole batch
            native = None if each is None else each._native()
            result.append(_native.ImageTransform(native, self.flips[i]))
        return result


def _as_list(name: str, value: Any, num_srcs: int) -> list[Any]:
    if hasattr(value, "tolist") and not isinstance(value, _SPEC_TYPES):
        value = value.tolist()  # NumPy arrays, tensors
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"`{name}` must be a sequence, got {type(value).__name__}.")
    if len(value) != num_srcs:
        raise ValueError(f"`{name}` has {len(value)} entries for {num_srcs} sources.")
    return list(value)


def _as_flag(value: Any) -> bool | None:
    """``value`` as a Python bool if it is one, or a NumPy / torch bool scalar; else None."""
    if isinstance(value, bool):
        return value
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        item = value.item()
        return item if isinstance(item, bool) else None
    return None


def _type_name(value: Any) -> str:
    kind = type(value)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return module + kind.__qualname__


def check_transforms(
    crop: Any, hflip: Any, num_srcs: int, width: int | None, height: int | None, pix_fmt: str | None
) -> Transforms | None:
    """Checks ``crop`` and ``hflip`` of a batch call; None when there is nothing to do.

    Raises:
        TypeError: A spec or flag of the wrong type.
        ValueError: A sequence of the wrong length, a crop without an output size, or
            a flip of a pixel format that cannot be mirrored.
    """
    shared = crop is None or isinstance(crop, _SPEC_TYPES)
    if shared:
        crops = [crop] * num_srcs
    else:
        if isinstance(crop, str | bytes) or not isinstance(crop, Sequence):
            raise TypeError(
                "`crop` must be a CropBox, CenterCrop or RandomResizedCrop, a sequence of them "
                f"(one per source, None for no crop) or None, got {type(crop).__name__}."
            )
        crops = _as_list("crop", crop, num_srcs)
        for i, item in enumerate(crops):
            if item is not None and not isinstance(item, _SPEC_TYPES):
                raise TypeError(
                    f"`crop[{i}]` must be a CropBox, CenterCrop, RandomResizedCrop or None, "
                    f"got {type(item).__name__}."
                )
    if hflip is None or _as_flag(hflip) is not None:
        flips = [bool(_as_flag(hflip))] * num_srcs
    else:
        flips = []
        for i, flag in enumerate(_as_list("hflip", hflip, num_srcs)):
            checked = _as_flag(flag)
            if checked is None:
                raise TypeError(f"`hflip[{i}]` must be a bool, got {_type_name(flag)}.")
            flips.append(checked)
    has_crop = any(item is not None for item in crops)
    if not has_crop and not any(flips):
        return None
    if has_crop and (width is None or height is None):
        raise ValueError(
            "`crop` needs both `width` and `height`: each box is resized to width x height."
        )
    if any(flips) and pix_fmt is not None and not _native.pix_fmt_can_mirror(pix_fmt):
        raise ValueError(f"`hflip` cannot mirror images of pix_fmt {pix_fmt!r}.")
    return Transforms(tuple(crops), tuple(flips), shared and crop is not None)
