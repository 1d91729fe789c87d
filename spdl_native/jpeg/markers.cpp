#include "jpeg/markers.h"

#include <cstring>

namespace spdl::jpeg {
namespace {

constexpr uint8_t kStartOfScan = 0xDA;
constexpr uint8_t kEndOfImage = 0xD9;

// Markers without a length: TEM, RST0-7, SOI, EOI.
bool standalone(uint8_t marker) { return marker == 0x01 || (marker >= 0xD0 && marker <= 0xD9); }

// Start of frame: C0-CF but DHT (C4), JPG (C8) and DAC (CC).
bool start_of_frame(uint8_t marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

// The payload of the first segment before the first scan for which `wanted(marker,
// segment)` holds; an empty segment when there is none or the header is malformed.
template <typename Wanted>
Segment find_first(const uint8_t* data, size_t size, Wanted wanted) {
  if (size < 4 || data[0] != 0xFF || data[1] != 0xD8) {
    return {};
  }
  size_t pos = 2;
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) {
      // Bytes before a marker: libjpeg and FFmpeg skip them (a warning), and so does
      // this, or one stray byte hid the frame's size from the pixel limit.
      const void* next = std::memchr(data + pos, 0xFF, size - pos);
      if (next == nullptr) {
        return {};
      }
      pos = static_cast<size_t>(static_cast<const uint8_t*>(next) - data);
      continue;
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
    if (wanted(current, Segment{payload, payload_size})) {
      return {payload, payload_size};
    }
    pos += 2 + length;
  }
  return {};
}

}  // namespace

Segment find_segment(const uint8_t* data, size_t size, uint8_t marker, std::string_view prefix) {
  return find_first(data, size, [&](uint8_t current, const Segment& segment) {
    return current == marker && segment.size >= prefix.size() &&
           std::memcmp(segment.data, prefix.data(), prefix.size()) == 0;
  });
}

Segment find_frame_header(const uint8_t* data, size_t size) {
  return find_first(data, size, [](uint8_t current, const Segment& segment) {
    return start_of_frame(current) && segment.size >= 5;
  });
}

bool has_adobe_marker(const uint8_t* data, size_t size) {
  return find_segment(data, size, 0xEE, "Adobe").data != nullptr;
}

}  // namespace spdl::jpeg
