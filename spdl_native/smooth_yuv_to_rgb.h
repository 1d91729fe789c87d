// Still 8-bit 4:2:0 and 4:2:2 YUV images converted to packed RGB at their own
// size, chroma interpolated as libjpeg-turbo's "fancy upsampling" does it: a
// triangle filter over chroma sited between the luma samples, with libjpeg's
// rounding (and, as libjpeg, repeated samples where chroma is at most 2 wide), then
// its 16-bit fixed-point matrix. A full-range BT.601 JPEG decoded
// by FFmpeg so gets libjpeg-turbo's conversion of the same planes byte for byte
// (and libwebp's upsampling is the same filter). swscale's exact conversion with
// interpolated chroma (SWS_FULL_CHR_H_INT | SWS_ACCURATE_RND), which this replaces
// for these formats, runs swscale's generic C code: 1.4 ms for a 500x375 JPEG, more
// than FFmpeg takes to decode it.
#pragma once

#include <cstdint>

#include "write_strategies.h"

namespace spdl {

struct SmoothYuvToRgb {
  // Whether `frame` (yuv420p, yuv422p or their yuvj twins) converts into `target`
  // (rgb24, bgr24, rgba, bgra, argb or abgr of the frame's size; alpha opaque).
  static bool takes(const AVFrame* frame, const WriteTarget& target);
  // Writes rows of width * 3 (or 4) bytes, one after the other, with the frame's matrix
  // (BT.601 when unspecified, as swscale) and range.
  static void write(const AVFrame* frame, const WriteTarget& target, uint8_t* dst);
};

}  // namespace spdl
