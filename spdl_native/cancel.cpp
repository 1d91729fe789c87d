#include "cancel.h"

#include "ffmpeg/error.h"
#include "python_signals.h"

namespace spdl {

void throw_if_cancelled(const CancelToken* cancel, const std::string& src) {
  if (cancel && cancel->cancelled()) {
    throw MediaError("Decoding " + src + " was cancelled.");
  }
}

void check_stop(const CancelToken* cancel, const std::string& src) {
  throw_if_cancelled(cancel, src);
  poll_python_signals();
}

}  // namespace spdl
