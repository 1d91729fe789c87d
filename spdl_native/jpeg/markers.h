// The marker segments of a JPEG's header (those before its first scan), read
// without a decoder: the EXIF block (APP1), Adobe's colour transform (APP14) and
// the frame header (SOFn), which declares the image's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace spdl::jpeg {

struct Segment {
  const uint8_t* data = nullptr;  // the payload, after the marker and its length
  size_t size = 0;
};

// The payload of the first `marker` segment (0xE1 for APP1 ...) before the first
// scan whose payload starts with `prefix` (which the payload returned still
// holds); an empty segment when there is none or the header is malformed.
Segment find_segment(const uint8_t* data, size_t size, uint8_t marker, std::string_view prefix);

// Whether an Adobe APP14 segment marks the JPEG: Adobe's CMYK JPEGs store inverted
// samples (as Photoshop writes them, and Pillow reads and writes them).
bool has_adobe_marker(const uint8_t* data, size_t size);

// The payload of the frame header (the first SOFn segment: precision, height,
// width, components ...); an empty segment when there is none before the first
// scan or the header is malformed.
Segment find_frame_header(const uint8_t* data, size_t size);

}  // namespace spdl::jpeg
