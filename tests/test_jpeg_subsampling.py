"""JPEGs with 4:4:0 and 4:1:1 chroma give Pillow's pixels, as the other subsamplings do.

Pillow and FFmpeg's encoder write only 4:4:4, 4:2:2 and 4:2:0: the files are made
with libjpeg-turbo's own compressor (``tjCompress2``, through ctypes). Into RGB,
libjpeg-turbo interpolates the chroma (as Pillow does); FFmpeg's frames of them were
converted without that (a mean 1.5 levels off for 4:4:0, 4.6 for 4:1:1).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io

import numpy as np
import pytest
from media import smooth_rgb
from PIL import Image

import spdl.io
from spdl import _native

TJPF_RGB = 0
TJSAMP = {"4:4:0": 4, "4:1:1": 5}


def _compress(rgb: np.ndarray, subsampling: str) -> bytes:
    path = ctypes.util.find_library("turbojpeg")
    if path is None:
        pytest.skip("libturbojpeg is not installed: nothing can write 4:4:0 or 4:1:1")
    lib = ctypes.CDLL(path)
    lib.tjInitCompress.restype = ctypes.c_void_p
    lib.tjCompress2.argtypes = (
        [ctypes.c_void_p, ctypes.c_char_p]
        + [ctypes.c_int] * 4
        + [
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_ulong),
        ]
        + [ctypes.c_int] * 3
    )
    lib.tjFree.argtypes = [ctypes.c_void_p]
    lib.tjDestroy.argtypes = [ctypes.c_void_p]
    handle = lib.tjInitCompress()
    out, size = ctypes.c_void_p(), ctypes.c_ulong(0)
    height, width, _ = rgb.shape
    data = np.ascontiguousarray(rgb).tobytes()
    try:
        status = lib.tjCompress2(
            handle,
            data,
            width,
            width * 3,
            height,
            TJPF_RGB,
            ctypes.byref(out),
            ctypes.byref(size),
            TJSAMP[subsampling],
            90,
            0,
        )
        assert status == 0, "tjCompress2 failed"
        return ctypes.string_at(out, size.value)
    finally:
        lib.tjFree(out)
        lib.tjDestroy(handle)


@pytest.mark.skipif(not _native.has_turbojpeg(), reason="FFmpeg decodes every JPEG")
@pytest.mark.parametrize("subsampling", ["4:4:0", "4:1:1"])
@pytest.mark.parametrize("size", [(67, 45), (17, 9)])
def test_odd_subsamplings_give_pillows_pixels(subsampling: str, size: tuple[int, int]) -> None:
    width, height = size
    noise = np.random.default_rng(0).integers(0, 60, (height, width, 3))
    rgb = np.clip(smooth_rgb(width, height, 0.0).astype(int) + noise, 0, 255).astype(np.uint8)
    data = _compress(rgb, subsampling)
    pillow = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    for array in (
        spdl.io.to_numpy(spdl.io.load_image(data)),
        spdl.io.to_numpy(spdl.io.batch_load_image([data], width, height))[0],
    ):
        assert array.shape == (height, width, 3)
        assert np.abs(array.astype(int) - pillow).max() <= 1, subsampling
