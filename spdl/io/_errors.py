"""Exceptions shared by every layer."""

from spdl._native import MediaError

__all__ = ["MediaError"]

MediaError.__doc__ = """Raised when media cannot be demuxed, decoded or converted.

A subclass of :class:`RuntimeError`. The message names the source and the cause,
including FFmpeg's own error text where FFmpeg reported one.
"""
