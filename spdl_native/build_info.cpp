#include "build_info.h"

#include "simd.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavutil/avutil.h>
#include <libavutil/ffversion.h>
#include <libswscale/swscale.h>
}

// Set by CMakeLists.txt for this file alone; the defaults keep it compiling elsewhere.
#ifndef SPDL_TURBOJPEG_VERSION
#define SPDL_TURBOJPEG_VERSION ""
#endif
#ifndef SPDL_LIBJPEG_VERSION
#define SPDL_LIBJPEG_VERSION ""
#endif
#ifndef SPDL_LIBWEBP_VERSION
#define SPDL_LIBWEBP_VERSION ""
#endif
#ifndef SPDL_BUILD_TYPE
#define SPDL_BUILD_TYPE ""
#endif
#ifndef SPDL_ALLOW_SLOW_BUILD_SET
#define SPDL_ALLOW_SLOW_BUILD_SET 0
#endif

namespace spdl {
namespace {

std::string dotted(unsigned version) {
  return std::to_string(AV_VERSION_MAJOR(version)) + "." +
         std::to_string(AV_VERSION_MINOR(version)) + "." +
         std::to_string(AV_VERSION_MICRO(version));
}

std::string compiler_name() {
#if defined(__clang__)
  return "Clang " __clang_version__;
#elif defined(__GNUC__)
  return "GCC " __VERSION__;
#else
  return "unknown";
#endif
}

}  // namespace

BuildInfo build_info() {
  BuildInfo info;
  info.ffmpeg_build_release = FFMPEG_VERSION;
  info.ffmpeg_runtime_release = av_version_info();
  // Only the libraries the extension links: asking libavformat its version would
  // make it a dependency of its own.
  info.ffmpeg_build = {{"libavcodec", dotted(LIBAVCODEC_VERSION_INT)},
                       {"libavfilter", dotted(LIBAVFILTER_VERSION_INT)},
                       {"libavutil", dotted(LIBAVUTIL_VERSION_INT)},
                       {"libswscale", dotted(LIBSWSCALE_VERSION_INT)}};
  info.ffmpeg_runtime = {{"libavcodec", dotted(avcodec_version())},
                         {"libavfilter", dotted(avfilter_version())},
                         {"libavutil", dotted(avutil_version())},
                         {"libswscale", dotted(swscale_version())}};
#ifdef SPDL_HAS_TURBOJPEG
  info.turbojpeg = true;
  info.turbojpeg_version = SPDL_TURBOJPEG_VERSION;
#endif
#ifdef SPDL_HAS_LIBJPEG
  info.libjpeg_region = true;
  info.libjpeg_version = SPDL_LIBJPEG_VERSION;
#endif
#ifdef SPDL_HAS_LIBWEBP
  info.libwebp = true;
  info.libwebp_version = SPDL_LIBWEBP_VERSION;
#endif
#ifdef SPDL_AVX2
  info.avx2_kernels = true;
  info.cpu_avx2 = has_avx2();
#endif
  info.compiler = compiler_name();
  info.build_type = SPDL_BUILD_TYPE;
  info.allow_slow_build = SPDL_ALLOW_SLOW_BUILD_SET;
  return info;
}

}  // namespace spdl
