// EXIF orientation: which of eight ways a camera stored an image (turned,
// mirrored), read from the bytes of a JPEG (APP1), PNG (eXIf), WebP (EXIF
// chunk) or TIFF (its first IFD), and a frame put upright by it as Pillow's
// ImageOps.exif_transpose puts it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ffmpeg/wrappers.h"

namespace spdl {

// The orientation (1-8) that the EXIF data of the still image in `data` gives;
// 1 (upright as stored) when it has none or the data is malformed.
int exif_orientation(const uint8_t* data, size_t size);

// Whether putting an image of `orientation` upright swaps its width and height.
bool swaps_sides(int orientation);

// `frame` put upright for `orientation` (2-8), in a new frame with the same
// properties: planes turned and mirrored sample by sample, in the same pixel
// format where it can be (4:2:2 turned becomes 4:4:0); formats whose samples
// cannot be moved one by one (1-bit, packed 4:2:2 ...) are converted first.
ffmpeg::FramePtr orient_frame(const AVFrame* frame, int orientation);

}  // namespace spdl
