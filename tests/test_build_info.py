"""spdl.io.build_info() reports the build's FFmpeg, the running FFmpeg and the fast paths."""

from __future__ import annotations

import importlib.metadata
import pathlib
import re

import pytest
from media import ImageReference

import spdl.io
from spdl import _native

FFMPEG_LIBRARIES = ("libavcodec", "libavfilter", "libavutil", "libswscale")
VERSION = re.compile(r"\d+\.\d+\.\d+")


def _loaded_library(name: str) -> pathlib.Path:
    """The file of shared library ``name`` mapped into this process (Linux)."""
    maps = pathlib.Path("/proc/self/maps").read_text().splitlines()
    paths = {line.split()[-1] for line in maps if f"/{name}.so" in line}
    assert len(paths) == 1, f"{name} mapped from {sorted(paths)}"
    return pathlib.Path(paths.pop())


def test_build_info_has_every_documented_key_with_its_type() -> None:
    info = spdl.io.build_info()
    assert set(info) == {
        "spdl_version",
        "ffmpeg_build",
        "ffmpeg_runtime",
        "fast_paths",
        "libjpeg_turbo_version",
        "libjpeg_version",
        "libwebp_version",
        "cpu_avx2",
        "compiler",
        "build_type",
        "allow_slow_build",
    }
    assert info["spdl_version"] == importlib.metadata.version("spdl")
    for key in ("ffmpeg_build", "ffmpeg_runtime"):
        assert set(info[key]) == {"release", *FFMPEG_LIBRARIES}
        assert info[key]["release"], key
        for library in FFMPEG_LIBRARIES:
            assert VERSION.fullmatch(info[key][library]), (key, library, info[key][library])
    assert set(info["fast_paths"]) == {"turbojpeg", "libjpeg_region", "libwebp", "avx2_kernels"}
    assert all(isinstance(v, bool) for v in info["fast_paths"].values())
    assert isinstance(info["cpu_avx2"], bool) and isinstance(info["allow_slow_build"], bool)
    assert re.match(r"(GCC|Clang) \d+", info["compiler"]), info["compiler"]
    assert isinstance(info["build_type"], str)


def test_build_info_returns_a_new_dict_each_call() -> None:
    first = spdl.io.build_info()
    first["fast_paths"]["turbojpeg"] = "changed"
    first.clear()
    assert spdl.io.build_info()["fast_paths"]["turbojpeg"] in (True, False)


def test_ffmpeg_build_versions_are_those_of_the_headers() -> None:
    # LIBAVCODEC_IDENT, e.g. "Lavc59.37.100", is what open_decoder's errors name.
    ident = _native.libavcodec_version
    assert ident == "Lavc" + spdl.io.build_info()["ffmpeg_build"]["libavcodec"]


@pytest.mark.parametrize("library", FFMPEG_LIBRARIES)
def test_ffmpeg_runtime_versions_are_those_of_the_loaded_libraries(library: str) -> None:
    info = spdl.io.build_info()
    runtime_major = info["ffmpeg_runtime"][library].split(".")[0]
    # The soname carries the major version, so the build's and the runtime's agree.
    assert runtime_major == info["ffmpeg_build"][library].split(".")[0]
    # The file the dynamic loader mapped (libavcodec.so.59.37.100, or .so.59 alone).
    loaded = _loaded_library(library).name
    assert re.fullmatch(rf"{library}\.so\.{runtime_major}(\.\d+)*", loaded), loaded
    if loaded.count(".") == 4:  # the full version is in the name: the micro must agree too
        assert loaded.endswith(".so." + info["ffmpeg_runtime"][library])


def test_fast_paths_are_those_the_decoders_take(image_files: dict[str, ImageReference]) -> None:
    info = spdl.io.build_info()
    assert info["fast_paths"]["turbojpeg"] == _native.has_turbojpeg()
    assert info["fast_paths"]["libjpeg_region"] == _native.has_libjpeg()
    assert info["fast_paths"]["libwebp"] == _native.has_libwebp()
    assert (info["libjpeg_turbo_version"] is not None) == info["fast_paths"]["turbojpeg"]
    assert (info["libjpeg_version"] is not None) == info["fast_paths"]["libjpeg_region"]
    assert (info["libwebp_version"] is not None) == info["fast_paths"]["libwebp"]
    jpeg = image_files["jpeg"]
    if info["fast_paths"]["turbojpeg"]:
        forced = spdl.io.load_image(jpeg.path, decoder="libjpeg-turbo")
        assert spdl.io.to_numpy(forced).shape == (jpeg.height, jpeg.width, 3)
    else:
        with pytest.raises(ValueError, match="unavailable"):
            spdl.io.load_image(jpeg.path, decoder="libjpeg-turbo")


def test_cpu_avx2_is_what_the_cpu_reports() -> None:
    info = spdl.io.build_info()
    cpuinfo = pathlib.Path("/proc/cpuinfo").read_text()
    flags = {flag for line in cpuinfo.splitlines() if line.startswith("flags") for flag in
             line.split(":", 1)[1].split()}  # fmt: skip
    assert info["cpu_avx2"] == (info["fast_paths"]["avx2_kernels"] and "avx2" in flags)
