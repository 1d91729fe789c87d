#include "jpeg/turbo_decompressor.h"

#ifdef SPDL_HAS_TURBOJPEG

namespace spdl::jpeg {

TurboDecompressor::TurboDecompressor() : handle_(tjInitDecompress()) {}

TurboDecompressor::~TurboDecompressor() { destroy(); }

void TurboDecompressor::reset() {
  destroy();
  handle_ = tjInitDecompress();
}

void TurboDecompressor::destroy() {
  if (handle_) {
    tjDestroy(handle_);
    handle_ = nullptr;
  }
}

}  // namespace spdl::jpeg

#endif  // SPDL_HAS_TURBOJPEG
