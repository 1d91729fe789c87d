"""A video stream's display matrix, read from its MP4 / MOV track header.

Phones store video as the sensor saw it and say in the container how a player
turns it upright: a 3x3 matrix in the track header (``tkhd``), times the movie
header's (``mvhd``). FFmpeg's mov demuxer hands it on as the stream's
``AV_PKT_DATA_DISPLAYMATRIX`` side data (nine int32 values), which PyAV does not
expose for reading. So it is read here from the same bytes, as the mov demuxer
reads it, and crosses to the native core as those 36 bytes
(``CodecParams.display_matrix``), plain data as the two-FFmpeg rule wants; the
native core turns and mirrors the decoded frames by it
(``spdl_native/display_matrix.h``). Other containers carry none here (Matroska's
rare projection pose is not read).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["read_display_matrix", "orient_array", "swaps_sides"]

_IDENTITY = (1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30)
# The fixed-point shift of each column: 16.16, 16.16, 2.30.
_SHIFTS = (16, 16, 30)
_MAX_BOXES = 4096  # per level: a corrupt file must not make us walk forever

ReadAt = Callable[[int, int], bytes]


def _boxes(read_at: ReadAt, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The boxes in ``[start, end)``: ``(type, payload start, box end)``."""
    pos = start
    for _ in range(_MAX_BOXES):
        if pos + 8 > end:
            return
        header = read_at(pos, 16)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header[:8])
        offset = 8
        if size == 1:
            if len(header) < 16:
                return
            (size,) = struct.unpack(">Q", header[8:16])
            offset = 16
        elif size == 0:  # to the end of the file
            size = end - pos
        if size < offset:
            return
        yield kind, pos + offset, min(pos + size, end)
        pos += size


def _find(read_at: ReadAt, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    for found, payload, box_end in _boxes(read_at, start, end):
        if found == kind:
            return payload, box_end
    return None


def _matrix_at(read_at: ReadAt, payload: int, offsets: tuple[int, int]) -> list[int] | None:
    """The 3x3 matrix of a full box whose version 0 / 1 layout puts it at ``offsets``."""
    version = read_at(payload, 1)
    if len(version) != 1:
        return None
    data = read_at(payload + offsets[1 if version[0] == 1 else 0], 36)
    if len(data) != 36:
        return None
    return list(struct.unpack(">9i", data))


def _multiply(track: list[int], movie: list[int]) -> list[int]:
    """``track x movie`` in their fixed-point formats, as FFmpeg's mov demuxer does."""
    return [
        sum((track[i * 3 + e] * movie[e * 3 + j]) >> _SHIFTS[e] for e in range(3))
        for i in range(3)
        for j in range(3)
    ]


def _from_reader(read_at: ReadAt, index: int) -> bytes:
    limit = 1 << 62
    moov = _find(read_at, 0, limit, b"moov")
    if moov is None:
        return b""
    movie = list(_IDENTITY)
    tracks = 0
    for kind, payload, box_end in _boxes(read_at, *moov):
        if kind == b"mvhd":
            movie = _matrix_at(read_at, payload, (36, 48)) or movie
        elif kind == b"trak":
            if tracks == index:
                tkhd = _find(read_at, payload, box_end, b"tkhd")
                track = _matrix_at(read_at, tkhd[0], (40, 52)) if tkhd else None
                if track is None:
                    return b""
                matrix = _multiply(track, movie)
                if tuple(matrix) == _IDENTITY:
                    return b""
                return struct.pack("=9i", *(max(-(2**31), min(2**31 - 1, v)) for v in matrix))
            tracks += 1
    return b""


def read_display_matrix(container: Any, stream_index: int) -> bytes:
    """The display matrix of an open MP4 / MOV container's stream, as FFmpeg gives it.

    Args:
        container: A PyAV input container of the MP4 family, opened from a path or
            a seekable file-like object.
        stream_index: The stream's index (the mov demuxer makes one per track, in order).

    Returns:
        Nine native-endian int32 values (36 bytes), or ``b""`` when the track's matrix
        is the identity, or the header cannot be read.
    """
    file = getattr(container, "file", None)
    file = getattr(file, "file", file)  # PyAV's wrapper of a file-like source (PyIOFile)
    try:
        if file is None:
            path = container.name
            if not isinstance(path, str) or not os.path.isfile(path):
                return b""
            with open(path, "rb") as f:
                return _from_reader(lambda pos, size: os.pread(f.fileno(), size, pos), stream_index)
        if not (hasattr(file, "seekable") and file.seekable()):
            return b""
        position = file.tell()
        try:

            def read_at(pos: int, size: int) -> bytes:
                file.seek(pos)
                return bytes(file.read(size) or b"")

            return _from_reader(read_at, stream_index)
        finally:
            file.seek(position)
    except (OSError, ValueError, struct.error):
        return b""


def swaps_sides(orientation: int) -> bool:
    """Whether showing frames of an EXIF-style ``orientation`` swaps width and height."""
    return 5 <= orientation <= 8


def orient_array(array: Any, orientation: int, xp: Any, axes: tuple[int, int]) -> Any:
    """``array`` turned and mirrored as a player shows frames of ``orientation``.

    Args:
        array: A NumPy or CuPy array holding pictures.
        orientation: ``Packets.display_orientation`` (1-8).
        xp: ``numpy`` or ``cupy``.
        axes: The (rows, columns) axes of ``array``.

    Returns:
        A view of ``array`` (not contiguous unless the orientation is 1).
    """
    rows, cols = axes
    if orientation in (2, 3):
        array = xp.flip(array, axis=cols)
    if orientation in (3, 4):
        array = xp.flip(array, axis=rows)
    if orientation == 5:
        array = xp.swapaxes(array, rows, cols)
    elif orientation == 6:
        array = xp.rot90(array, k=-1, axes=axes)
    elif orientation == 7:
        array = xp.rot90(xp.swapaxes(array, rows, cols), k=2, axes=axes)
    elif orientation == 8:
        array = xp.rot90(array, k=1, axes=axes)
    return array
