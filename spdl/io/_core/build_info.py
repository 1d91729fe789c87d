"""What this installation of spdl was built with, and the FFmpeg it runs on."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from spdl import _native

__all__ = ["build_info"]


def build_info() -> dict[str, Any]:
    """Reports how spdl was built and which FFmpeg it runs on.

    A build lacks a fast path only when the user opted out of it (see the
    install guide, ``SPDL_ALLOW_SLOW_BUILD``): this tells which ones a given
    installation has, for instance before comparing its speed with the benchmarks.

    Returns:
        A new dict with these keys:

        - ``spdl_version`` (str): the installed distribution's version.
        - ``ffmpeg_build`` (dict[str, str]): the FFmpeg the native core was compiled
          against: ``"release"`` (e.g. ``"5.1.6-0+deb12u1"``, from
          ``libavutil/ffversion.h``) and ``"libavcodec"``, ``"libavfilter"``,
          ``"libavutil"``, ``"libswscale"`` (``"major.minor.micro"`` from the
          headers' ``LIB*_VERSION`` macros): the libraries it links.
        - ``ffmpeg_runtime`` (dict[str, str]): the same keys for the libraries
          loaded now (``av_version_info()``, ``avcodec_version()`` …). The major
          versions match the build's (they are the libraries' sonames); the rest
          may differ after a system update.
        - ``fast_paths`` (dict[str, bool]): which fast paths are compiled in:
          ``"turbojpeg"`` (JPEG decoded by libjpeg-turbo, downscaled in the DCT
          domain), ``"libjpeg_region"`` (a cropped JPEG decodes only its region),
          ``"libwebp"`` (WebP decoded by libwebp) and ``"avx2_kernels"`` (the
          resizer's and the YUV-to-RGB conversion's AVX2 code).
        - ``libjpeg_turbo_version`` (str | None): libjpeg-turbo's version that the
          TurboJPEG path was built with; None without that path.
        - ``libjpeg_version`` (str | None): the same for the libjpeg API of the
          region path.
        - ``libwebp_version`` (str | None): libwebp's version that the WebP path
          was built with; None without that path.
        - ``cpu_avx2`` (bool): whether this CPU runs the AVX2 kernels (otherwise
          their scalar twins run, with the same results).
        - ``compiler`` (str): the C++ compiler of the native core, e.g.
          ``"GCC 12.2.0"``.
        - ``build_type`` (str): CMake's build type, e.g. ``"Release"``.
        - ``allow_slow_build`` (bool): whether the build was configured with
          ``SPDL_ALLOW_SLOW_BUILD``, the opt-out from the fast-path check.

    Example:
        >>> info = spdl.io.build_info()
        >>> sorted(info["fast_paths"])
        ['avx2_kernels', 'libjpeg_region', 'libwebp', 'turbojpeg']
        >>> info["ffmpeg_runtime"]["libavcodec"].split(".")[0] == (
        ...     info["ffmpeg_build"]["libavcodec"].split(".")[0])
        True
    """
    info: dict[str, Any] = {"spdl_version": importlib.metadata.version("spdl")}
    info.update(_native.build_info())
    return info
