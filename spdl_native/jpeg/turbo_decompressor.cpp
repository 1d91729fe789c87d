#include "jpeg/turbo_decompressor.h"

#ifdef SPDL_HAS_TURBOJPEG

namespace spdl::jpeg {

TurboDecompressor::TurboDecompressor() : handle_(tjInitDecompress()) {}

void TurboDecompressor::reset() { handle_.reset(tjInitDecompress()); }

void TurboDecompressor::Destroy::operator()(tjhandle handle) const { tjDestroy(handle); }

}  // namespace spdl::jpeg

#endif  // SPDL_HAS_TURBOJPEG
