"""GPU tests: collected everywhere, skipped (with the reason) without a usable NVDEC.

A usable NVDEC needs CuPy with at least one CUDA device, PyNvVideoCodec, and a
driver that exposes the video decoder (``libnvcuvid.so.1``).
"""

from __future__ import annotations

import ctypes
import pathlib

import numpy as np
import pytest
from gpu_media import HEIGHT, WIDTH, write_clip
from media import ffmpeg_image_bytes, has_encoder


def _gpu_missing() -> str | None:
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "no CUDA device"
    except Exception as e:  # no CuPy, no driver, no device
        return f"CuPy/CUDA unavailable: {type(e).__name__}: {e}"
    try:
        ctypes.CDLL("libnvcuvid.so.1")
    except OSError as e:
        return f"the driver exposes no NVDEC (libnvcuvid.so.1): {e}"
    try:
        import PyNvVideoCodec  # noqa: F401
    except Exception as e:
        return f"PyNvVideoCodec unavailable: {type(e).__name__}: {e}"
    return None


GPU_MISSING = _gpu_missing()
NVDEC_MIN_SIZE = {"width": 160, "height": 144}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if GPU_MISSING is None:
        return
    skip = pytest.mark.skip(reason=GPU_MISSING)
    for item in items:
        if pathlib.Path(str(item.fspath)).parent == pathlib.Path(__file__).parent:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def gpu_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    directory = tmp_path_factory.mktemp("gpu_media")
    media = {
        "h264": write_clip(directory / "solid.mp4"),
        "h264_bt709_full": write_clip(directory / "full.mp4", colorspace=1, color_range=2),
        "h264_gradient": write_clip(directory / "gradient.mp4", solid=False),
        "h264_small": write_clip(directory / "small.mp4", width=64, height=48),
    }
    # NVDEC's smallest HEVC is 144x144 (GetDecoderCaps on an H100); 128x96 VP9 failed too.
    if has_encoder("libx265"):
        media["hevc"] = write_clip(directory / "solid_hevc.mp4", "libx265", **NVDEC_MIN_SIZE)
        media["hevc_too_small"] = write_clip(directory / "small_hevc.mp4", "libx265")
    if has_encoder("libvpx-vp9"):
        media["vp9"] = write_clip(directory / "solid.webm", "libvpx-vp9", **NVDEC_MIN_SIZE)
    if has_encoder("libsvtav1"):
        media["av1"] = write_clip(directory / "solid_av1.mp4", "libsvtav1", **NVDEC_MIN_SIZE)
    for index, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        path = directory / f"image{index}.jpg"
        path.write_bytes(ffmpeg_image_bytes("mjpeg", np.full((HEIGHT, WIDTH, 3), colour, np.uint8)))
        media[f"jpeg{index}"] = path
    return media
