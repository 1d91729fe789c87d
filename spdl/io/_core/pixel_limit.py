"""The limit on the pixels of one decoded image or video frame (decompression bombs).

A file of a few hundred bytes can declare 16000x16000 pixels in its header; a
decoder that believes it allocates the picture (~770 MB of RGB) before it finds out
that the data is not there. Every decode checks the size a header declares against
this limit before it allocates: the limit in force when an operation is called
travels in its decode plan (``_native.DecodePlan.max_pixels``), and to PyAV's probe
decode on opening a source (FFmpeg's ``max_pixels`` codec option), in the demux
helper processes too.
"""

from __future__ import annotations

import os

from spdl import _native
from spdl.io._core.numbers import as_int

__all__ = [
    "MAX_IMAGE_PIXELS_ENV",
    "current_limit",
    "max_image_pixels",
    "pyav_options",
    "set_max_image_pixels",
]

MAX_IMAGE_PIXELS_ENV = "SPDL_MAX_IMAGE_PIXELS"
# Pillow's threshold for DecompressionBombError (2 * Image.MAX_IMAGE_PIXELS).
_DEFAULT: int = _native.DEFAULT_MAX_PIXELS
_MAX = 2**63 - 1  # the native core's int64_t
_UNSET = -1
_limit: int = _UNSET  # as set by set_max_image_pixels (0: no limit); _UNSET: the environment's


def _checked(name: str, value: object) -> int:
    """A limit as a Python int, 0 for None (no limit); NumPy integers too."""
    return 0 if value is None else as_int(f"`{name}` (pixels; None or 0: no limit)", value, 0, _MAX)


def _from_env() -> int:
    raw = os.environ.get(MAX_IMAGE_PIXELS_ENV)
    if raw is None or not raw.strip():
        return _DEFAULT
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"{MAX_IMAGE_PIXELS_ENV} must be a number of pixels (0: no limit), got {raw!r}."
        ) from None
    return _checked(MAX_IMAGE_PIXELS_ENV, value)


def current_limit() -> int:
    """The limit in force as the native core takes it: 0 for no limit."""
    return _from_env() if _limit == _UNSET else _limit


def max_image_pixels() -> int | None:
    """The most pixels one decoded image or video frame may have.

    Returns:
        The limit given to :func:`set_max_image_pixels`, otherwise
        ``SPDL_MAX_IMAGE_PIXELS``, otherwise 178,956,970 (Pillow's threshold for
        ``DecompressionBombError``); ``None`` when there is no limit.

    Raises:
        ValueError: If ``SPDL_MAX_IMAGE_PIXELS`` is not an integer, 0 or more.

    Example:
        >>> spdl.io.max_image_pixels()
        178956970
    """
    return current_limit() or None


def set_max_image_pixels(limit: int | None) -> None:
    """Set the most pixels one decoded image or video frame may have.

    Every decode checks the size that the file's header declares, before it
    allocates the picture: a crafted file of a few hundred bytes that declares
    16000x16000 pixels fails at once instead of taking gigabytes. An image (or a
    video frame) over the limit fails like a corrupt file: ``spdl.io.MediaError``
    from the synchronous loaders, ``spdl.io.AsyncIOFailure`` (its cause the
    ``MediaError``) from the Future and asyncio forms, one failed image of a batch.
    The message names the source, the declared size and the limit. The limit
    applies to operations called after this call. It takes precedence over the
    environment variable ``SPDL_MAX_IMAGE_PIXELS``.

    The same limit applies to each video frame: a video stream's header declares
    its frame size as an image's does, and the decoder allocates frames of that
    size; no real video comes near the default (8K UHD is 33 million pixels).

    Args:
        limit: The most pixels (width x height) per image or frame; ``None`` or
            ``0`` turns the check off. Default when never set:
            ``SPDL_MAX_IMAGE_PIXELS`` (``0``: no limit), or 178,956,970, as Pillow
            refuses images with ``DecompressionBombError``.

    Raises:
        TypeError: If ``limit`` is not an ``int`` or ``None``.
        ValueError: If ``limit`` is negative or past ``2**63 - 1``.

    Example:
        >>> spdl.io.set_max_image_pixels(400_000_000)  # trusted, very large scans
        >>> spdl.io.max_image_pixels()
        400000000
        >>> spdl.io.set_max_image_pixels(178_956_970)
    """
    global _limit
    _limit = _checked("limit", limit)


def pyav_options() -> dict[str, str]:
    """The codec options that make PyAV's probe decode on opening a source honour the
    limit (FFmpeg's ``max_pixels``); empty when there is no limit.

    The limit as it is: FFmpeg also counts each row's padding, so a picture just
    under the limit may fail the probe too, which only leaves its size unknown (the
    decode then checks the size exactly).
    """
    value = current_limit()
    # FFmpeg's option takes at most INT_MAX (more fails the open): as good as none.
    return {"max_pixels": str(min(value, 2**31 - 1))} if value else {}
