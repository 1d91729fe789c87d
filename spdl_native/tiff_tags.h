// Reading one tag of the first image file directory (IFD) of a TIFF structure:
// a TIFF file, or the EXIF block of a JPEG, PNG or WebP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace spdl {

// TIFF tags read by the still-image path.
inline constexpr uint16_t kTiffWidthTag = 256;   // ImageWidth
inline constexpr uint16_t kTiffHeightTag = 257;  // ImageLength
inline constexpr uint16_t kTiffCompressionTag = 259;
inline constexpr uint16_t kTiffOrientationTag = 274;

// The value of `tag` in the first IFD of the TIFF structure in `data`, when it
// holds one SHORT or LONG; nullopt when it is absent or the data is malformed.
std::optional<uint32_t> first_ifd_tag(const uint8_t* data, size_t size, uint16_t tag);

}  // namespace spdl
