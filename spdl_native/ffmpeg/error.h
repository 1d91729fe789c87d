// Errors: one exception type for media failures and one helper that turns an
// FFmpeg return code into it, with FFmpeg's own message.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace spdl {

// Raised for failures caused by the media (corrupt data, missing codec...).
// Surfaces in Python as spdl.io.MediaError (a RuntimeError).
class MediaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace ffmpeg {

std::string av_error_string(int errnum);

// Throws MediaError("<what>: <FFmpeg message>") when `ret` is negative.
inline int check(int ret, const std::string& what) {
  if (ret < 0) {
    throw MediaError(what + ": " + av_error_string(ret));
  }
  return ret;
}

// The same, with the message built only on failure: for calls made per frame.
template <typename Describe, typename = decltype(std::string(std::declval<Describe>()()))>
int check(int ret, Describe&& describe) {
  if (ret < 0) {
    throw MediaError(std::string(describe()) + ": " + av_error_string(ret));
  }
  return ret;
}

}  // namespace ffmpeg
}  // namespace spdl
