// What this build of the native core was compiled with and against, and which
// FFmpeg it runs on: the facts behind spdl.io.build_info().
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace spdl {

// (library, "major.minor.micro") of each FFmpeg library the native core links.
using LibraryVersions = std::vector<std::pair<std::string, std::string>>;

struct BuildInfo {
  // The FFmpeg release of the headers built against (libavutil/ffversion.h) and
  // of the libavutil loaded now (av_version_info()), e.g. "5.1.6-0+deb12u1".
  std::string ffmpeg_build_release;
  std::string ffmpeg_runtime_release;
  // From the headers' LIB*_VERSION macros, and from avcodec_version() etc.
  LibraryVersions ffmpeg_build;
  LibraryVersions ffmpeg_runtime;
  // The fast paths compiled in.
  bool turbojpeg = false;       // libjpeg-turbo's TurboJPEG API decodes JPEG (SPDL_HAS_TURBOJPEG)
  bool libjpeg_region = false;  // libjpeg decodes only a crop's region (SPDL_HAS_LIBJPEG)
  bool libwebp = false;         // libwebp decodes WebP (SPDL_HAS_LIBWEBP)
  bool avx2_kernels = false;    // the resampler's and YUV->RGB AVX2 kernels (simd_avx2.h)
  bool cpu_avx2 = false;        // whether this CPU runs them
  // pkg-config's versions of the fast paths' libraries at build time ("" without).
  std::string turbojpeg_version;
  std::string libjpeg_version;
  std::string libwebp_version;
  std::string compiler;           // e.g. "GCC 12.2.0"
  std::string build_type;         // CMAKE_BUILD_TYPE
  bool allow_slow_build = false;  // SPDL_ALLOW_SLOW_BUILD was set
};

BuildInfo build_info();

}  // namespace spdl
