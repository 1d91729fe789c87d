// RAII owner of a libwebp decoder configuration (its features, options and
// output buffer). Only in builds with libwebp (SPDL_HAS_LIBWEBP).
#pragma once

#ifdef SPDL_HAS_LIBWEBP

#include <webp/decode.h>

namespace spdl::webp {

// A WebPDecoderConfig, initialised for this libwebp's ABI. Whatever output
// buffer libwebp allocated itself (none when the output is external memory) is
// freed with it.
class DecoderConfig {
 public:
  DecoderConfig();
  ~DecoderConfig();
  DecoderConfig(const DecoderConfig&) = delete;
  DecoderConfig& operator=(const DecoderConfig&) = delete;

  // False when this libwebp's ABI does not match the headers it was built with.
  bool initialised() const { return initialised_; }
  WebPDecoderConfig& get() { return config_; }

 private:
  WebPDecoderConfig config_{};
  bool initialised_ = false;
};

}  // namespace spdl::webp

#endif  // SPDL_HAS_LIBWEBP
