#include "webp/decoder_config.h"

#ifdef SPDL_HAS_LIBWEBP

namespace spdl::webp {

DecoderConfig::DecoderConfig() : initialised_(WebPInitDecoderConfig(&config_) != 0) {}

DecoderConfig::~DecoderConfig() {
  if (initialised_) {
    WebPFreeDecBuffer(&config_.output);
  }
}

}  // namespace spdl::webp

#endif  // SPDL_HAS_LIBWEBP
