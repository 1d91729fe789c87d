#include "jpeg/markers.h"

#include <cstring>

namespace spdl::jpeg {
namespace {

constexpr uint8_t kStartOfScan = 0xDA;
constexpr uint8_t kEndOfImage = 0xD9;

// Markers without a length: TEM, RST0-7, SOI, EOI.
bool standalone(uint8_t marker) { return marker == 0x01 || (marker >= 0xD0 && marker <= 0xD9); }

}  // namespace

Segment find_segment(const uint8_t* data, size_t size, uint8_t marker, std::string_view prefix) {
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) {
    return {};
  }
  size_t pos = 2;
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) {
      return {};  // not at a marker: malformed
    }
    const uint8_t current = data[pos + 1];
    if (current == 0xFF) {
      ++pos;  // fill byte
      continue;
    }
    if (current == kStartOfScan || current == kEndOfImage) {
      return {};
    }
    if (standalone(current)) {
      pos += 2;
      continue;
    }
    const size_t length = (static_cast<size_t>(data[pos + 2]) << 8) | data[pos + 3];
    if (length < 2 || pos + 2 + length > size) {
      return {};
    }
    const uint8_t* payload = data + pos + 4;
    const size_t payload_size = length - 2;
    if (current == marker && payload_size >= prefix.size() &&
        std::memcmp(payload, prefix.data(), prefix.size()) == 0) {
      return {payload, payload_size};
    }
    pos += 2 + length;
  }
  return {};
}

bool has_adobe_marker(const uint8_t* data, size_t size) {
  return find_segment(data, size, 0xEE, "Adobe").data != nullptr;
}

}  // namespace spdl::jpeg
