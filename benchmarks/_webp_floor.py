"""The C ceiling of ``webp_floor.c``: libwebp (the system's, which spdl links)
reading and decoding WebP files to RGB, with no resize and no output array.
Every loader that decodes WebP with libwebp does at least this much; the report
sets it beside the peers as the ceiling of W1's WebP cases.
"""

from __future__ import annotations

import ctypes
import shlex
import subprocess
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from _datasets import DATA_DIR

_SOURCE = Path(__file__).resolve().parent / "webp_floor.c"


@cache
def _library() -> ctypes.CDLL:
    """Compiles webp_floor.c against the system libwebp (pkg-config) and loads it."""
    library = DATA_DIR / "webp_floor.so"
    if not library.exists() or library.stat().st_mtime < _SOURCE.stat().st_mtime:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        flags = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "libwebp"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        command = ["cc", "-O2", "-shared", "-fPIC", "-o", str(library), str(_SOURCE)]
        subprocess.run([*command, *shlex.split(flags)], check=True, capture_output=True)
    lib = ctypes.CDLL(str(library))  # CDLL calls release the GIL
    lib.spdl_floor_decode_webp.restype = ctypes.c_int
    lib.spdl_floor_decode_webp.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int]
    lib.WebPGetDecoderVersion.restype = ctypes.c_int
    return lib


def libwebp_version() -> str:
    """The version of the libwebp the ceiling runs on, e.g. ``"1.2.4"``."""
    v = _library().WebPGetDecoderVersion()
    return f"{v >> 16}.{(v >> 8) & 0xFF}.{v & 0xFF}"


def decode_files(paths: Sequence[str]) -> int:
    """Reads and decodes ``paths`` in one C call; returns how many decoded."""
    array = (ctypes.c_char_p * len(paths))(*(p.encode() for p in paths))
    decoded = _library().spdl_floor_decode_webp(array, len(paths))
    if decoded < 0:
        raise RuntimeError(f"webp_floor.c failed on {paths[-1 - decoded]}")
    return decoded
