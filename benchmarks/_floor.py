"""The C floors of ``ffmpeg_floor.c``: the system FFmpeg demuxing and decoding what
a workload needs, with no conversion and no output. spdl's native core and
torchcodec decode with that same FFmpeg, so a floor's throughput is the most
either can reach; the report sets it beside the peers as the workload's ceiling.
"""

from __future__ import annotations

import ctypes
import shlex
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from _datasets import DATA_DIR

_SOURCE = Path(__file__).resolve().parent / "ffmpeg_floor.c"
_ERROR_SIZE = 256


@cache
def _library() -> ctypes.CDLL:
    """Compiles ffmpeg_floor.c against the system FFmpeg (pkg-config) and loads it."""
    library = DATA_DIR / "ffmpeg_floor.so"
    if not library.exists() or library.stat().st_mtime < _SOURCE.stat().st_mtime:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        flags = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "libavformat", "libavcodec", "libavutil"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        command = ["cc", "-O2", "-shared", "-fPIC", "-o", str(library), str(_SOURCE)]
        subprocess.run([*command, *shlex.split(flags), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))  # CDLL calls release the GIL
    lib.spdl_floor_decode_audio.restype = ctypes.c_double
    lib.spdl_floor_decode_audio.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    doubles = ctypes.POINTER(ctypes.c_double)
    lib.spdl_floor_decode_windows.restype = ctypes.c_int
    lib.spdl_floor_decode_windows.argtypes = [
        ctypes.c_char_p,
        doubles,
        doubles,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
    ]
    return lib


def libavcodec_version() -> str:
    """The version of the libavcodec the floors run on, e.g. ``"59.37.100"``."""
    v = _library().avcodec_version()  # resolved through the library's own FFmpeg
    return f"{v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF}"


def decode_audio(path: str) -> float:
    """Decodes the first audio stream; returns the seconds of audio decoded."""
    error = ctypes.create_string_buffer(_ERROR_SIZE)
    seconds = _library().spdl_floor_decode_audio(path.encode(), error, _ERROR_SIZE)
    if seconds < 0:
        raise RuntimeError(f"ffmpeg_floor.c failed on {path}: {error.value.decode()}")
    return seconds


def decode_windows(path: str, windows: Sequence[tuple[float, float]]) -> int:
    """Decodes the video frames shown in ``windows`` (sorted by start) as spdl's
    window decode does; returns how many frames lie in the windows."""
    n = len(windows)
    starts = (ctypes.c_double * n)(*(start for start, _ in windows))
    ends = (ctypes.c_double * n)(*(end for _, end in windows))
    error = ctypes.create_string_buffer(_ERROR_SIZE)
    frames = _library().spdl_floor_decode_windows(
        path.encode(), starts, ends, n, error, _ERROR_SIZE
    )
    if frames < 0:
        raise RuntimeError(f"ffmpeg_floor.c failed on {path}: {error.value.decode()}")
    return frames
