// Conversion of 8-bit 4:2:2 YUV frames, what FrameWriter's shrinking passes leave
// (see there), into packed rgb24 / bgr24. swscale's unscaled SIMD code for this is
// fast but off by up to 2 levels, biased upwards, and its exact code costs 8x as
// much as the shrinking itself; this rounds once from 13-bit fixed-point weights.
#pragma once

#include <cstddef>
#include <cstdint>

#include "ffmpeg/compat.h"

namespace spdl {

// The fixed point that the scalar conversion (yuv_to_rgb.cpp) and the AVX2 one
// (simd_avx2.cpp) share.
namespace yuv_to_rgb {
inline constexpr int kBits = 13;  // 2.14 (BT.2020's blue weight) * 2^14 would overflow int16
inline constexpr int32_t kRound = 1 << (kBits - 1);

// R = y * luma + v * cr, G = y * luma - u * cgu - v * cgv, B = y * luma + u * cb,
// with y = Y - luma_offset, u = U - 128, v = V - 128, in units of 2^-13.
struct Matrix {
  int16_t luma_offset, luma, cr, cgu, cgv, cb;
};
}  // namespace yuv_to_rgb

// Whether yuv422p_to_rgb() converts frames of `src_fmt` into `dst_fmt`: 8-bit
// yuv422p or yuvj422p into rgb24 or bgr24 (of the same size).
bool converts_yuv422p_to_rgb(AVPixelFormat src_fmt, AVPixelFormat dst_fmt);

// Writes `frame` as rows of width * 3 bytes, `dst_stride` apart, in `dst_fmt`'s
// channel order, with the frame's matrix (BT.601 when unspecified, as swscale) and
// range. Each chroma sample serves its two pixels, as swscale's packed output does.
void yuv422p_to_rgb(const AVFrame* frame, AVPixelFormat dst_fmt, uint8_t* dst,
                    ptrdiff_t dst_stride);

}  // namespace spdl
