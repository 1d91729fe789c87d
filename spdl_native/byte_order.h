// Unsigned integers of 1 to 4 bytes read from file headers (PNG and JPEG are big
// endian; RIFF/WebP, BMP and GIF little endian). The caller checks the bounds.
#pragma once

#include <cstdint>

namespace spdl {

inline uint32_t big_endian(const uint8_t* p, int bytes) {
  uint32_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value = (value << 8) | p[i];
  }
  return value;
}

inline uint32_t little_endian(const uint8_t* p, int bytes) {
  uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    value = (value << 8) | p[i];
  }
  return value;
}

}  // namespace spdl
