"""Exceptions shared by every layer."""

from spdl._native import MediaError

__all__ = ["MediaError"]

MediaError.__doc__ = """Raised when media cannot be demuxed, decoded or converted.

A subclass of :class:`RuntimeError`. The message names the source and the cause,
including FFmpeg's own error text where FFmpeg reported one. The synchronous
helpers (``load_image`` …) raise it directly; the Future and asyncio functions
report it as the ``__cause__`` of an :class:`AsyncIOFailure`.

Example:
    >>> try:
    ...     spdl.io.load_image(b"not an image")
    ... except spdl.io.MediaError as error:
    ...     print(error)
    Failed to open <bytes of 12 bytes>: ...Invalid data found when processing input...
"""
