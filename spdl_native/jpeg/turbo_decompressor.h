// RAII owner of a libjpeg-turbo (TurboJPEG API) decompressor. Only in builds
// with libjpeg-turbo (SPDL_HAS_TURBOJPEG).
#pragma once

#ifdef SPDL_HAS_TURBOJPEG

#include <turbojpeg.h>

#include <memory>

namespace spdl::jpeg {

class TurboDecompressor {
 public:
  TurboDecompressor();

  // Null when libjpeg-turbo could not set one up (tjGetErrorStr2(nullptr) says why).
  tjhandle get() const { return handle_.get(); }

  // A failed call can leave the decompressor mid-header (tjDecompressHeader3
  // returns without aborting), and the next image would then continue from that
  // state: start afresh after any failure.
  void reset();

 private:
  struct Destroy {
    void operator()(tjhandle handle) const;
  };
  std::unique_ptr<void, Destroy> handle_;
};

}  // namespace spdl::jpeg

#endif  // SPDL_HAS_TURBOJPEG
