"""Native memory stays flat over many loads that stop reading early.

An image load reads one packet and a video window stops at its end: both drop
PyAV's demux generator before its end. PyAV's wheels build that generator without
a finalizer, so unless spdl closes it, each such load leaked the native packet it
read into (~290 bytes, invisible to tracemalloc). glibc's ``mallinfo2`` counts the
bytes malloc has handed out, native allocations included.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import pathlib

import numpy as np
import pytest
from media import ffmpeg_image_bytes

import spdl.io


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
            "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _malloc_in_use() -> int:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("glibc without mallinfo2")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    directory = tmp_path_factory.mktemp("memory")
    png = directory / "image.png"
    png.write_bytes(ffmpeg_image_bytes("png", np.zeros((16, 16, 3), np.uint8)))
    return {"png": png}


@pytest.mark.parametrize("load", ["demux", "load_image"])
def test_repeated_image_loads_keep_native_memory_flat(media: dict, load: str) -> None:
    def once() -> None:
        if load == "demux":
            spdl.io.demux_media("image", media["png"]).result()
        else:
            spdl.io.load_image(media["png"])

    for _ in range(500):  # warm-up: caches, pools, first-use allocations
        once()
    gc.collect()
    before = _malloc_in_use()
    count = 6000
    for _ in range(count):
        once()
    gc.collect()
    growth = _malloc_in_use() - before
    # The leak was ~290 bytes per load (1.7 MB here); allow a tenth of that.
    assert growth < count * 30, f"{growth} bytes of native memory kept over {count} loads"
