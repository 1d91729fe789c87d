#include "tiff_tags.h"

namespace spdl {
namespace {

constexpr uint16_t kShortType = 3;
constexpr uint16_t kLongType = 4;

uint32_t read_bytes(const uint8_t* p, int bytes, bool little) {
  uint32_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value = (value << 8) | p[little ? bytes - 1 - i : i];
  }
  return value;
}

}  // namespace

std::optional<uint32_t> first_ifd_tag(const uint8_t* data, size_t size, uint16_t tag) {
  if (!data || size < 8) {
    return std::nullopt;
  }
  const bool little = data[0] == 'I' && data[1] == 'I';
  if (!little && !(data[0] == 'M' && data[1] == 'M')) {
    return std::nullopt;
  }
  const auto read = [&](size_t offset, int bytes) {
    return read_bytes(data + offset, bytes, little);
  };
  if (read(2, 2) != 42) {
    return std::nullopt;  // BigTIFF (43) included
  }
  const size_t ifd = read(4, 4);
  if (ifd > size - 2) {
    return std::nullopt;
  }
  const size_t entries = read(ifd, 2);
  for (size_t i = 0; i < entries; ++i) {
    const size_t entry = ifd + 2 + 12 * i;
    if (entry + 12 > size) {  // `size - 12` would wrap for a block under 12 bytes
      return std::nullopt;
    }
    if (read(entry, 2) != tag) {
      continue;
    }
    const uint32_t type = read(entry + 2, 2);
    if (read(entry + 4, 4) != 1 || (type != kShortType && type != kLongType)) {
      return std::nullopt;
    }
    return read(entry + 8, type == kShortType ? 2 : 4);
  }
  return std::nullopt;
}

}  // namespace spdl
