#include "ffmpeg/error.h"

extern "C" {
#include <libavutil/error.h>
}

namespace spdl::ffmpeg {

std::string av_error_string(int errnum) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(errnum, buf, sizeof(buf));
  return std::string(buf) + " (" + std::to_string(errnum) + ")";
}

}  // namespace spdl::ffmpeg
