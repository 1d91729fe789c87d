// Python binding of build_info.h: one dict, built once per call.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "bindings.h"
#include "build_info.h"

namespace nb = nanobind;

namespace spdl {
namespace {

nb::dict versions(const LibraryVersions& libraries, const std::string& release) {
  nb::dict out;
  out["release"] = release;
  for (const auto& [name, version] : libraries) {
    out[name.c_str()] = version;
  }
  return out;
}

nb::object or_none(const std::string& text) {
  return text.empty() ? nb::none() : nb::object(nb::str(text.c_str()));
}

}  // namespace

void register_build_info(nb::module_& m) {
  m.def(
      "build_info",
      [] {
        const BuildInfo info = build_info();
        nb::dict fast_paths;
        fast_paths["turbojpeg"] = info.turbojpeg;
        fast_paths["libjpeg_region"] = info.libjpeg_region;
        fast_paths["libwebp"] = info.libwebp;
        fast_paths["avx2_kernels"] = info.avx2_kernels;
        nb::dict out;
        out["ffmpeg_build"] = versions(info.ffmpeg_build, info.ffmpeg_build_release);
        out["ffmpeg_runtime"] = versions(info.ffmpeg_runtime, info.ffmpeg_runtime_release);
        out["fast_paths"] = fast_paths;
        out["libjpeg_turbo_version"] = or_none(info.turbojpeg_version);
        out["libjpeg_version"] = or_none(info.libjpeg_version);
        out["libwebp_version"] = or_none(info.libwebp_version);
        out["cpu_avx2"] = info.cpu_avx2;
        out["compiler"] = info.compiler;
        out["build_type"] = info.build_type;
        out["allow_slow_build"] = info.allow_slow_build;
        return out;
      },
      "What the native core was built with and against, and the FFmpeg it runs on "
      "(see spdl.io.build_info).");
}

}  // namespace spdl
