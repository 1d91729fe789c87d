// The AVX2 kernels of the resampler (resample.h) and of the 4:2:2 to RGB
// conversion (yuv_to_rgb.h). They are compiled for AVX2 by function attribute,
// so the rest of the library runs on any x86-64, and are called only where
// has_avx2() (simd.h); each reproduces its scalar counterpart's arithmetic
// exactly. Declared only where SPDL_AVX2 is defined.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "resample.h"
#include "simd.h"
#include "yuv_to_rgb.h"

#ifdef SPDL_AVX2

namespace spdl::resample::avx2 {

// RowResampler's pass: `rows` output rows of `row_bytes` bytes, each a weighted
// sum of the input rows `axis` gives, with the weights in `pairs` (word_pair()
// of each two taps). Returns the bytes done per row: all of them, or none for
// rows shorter than 32 bytes (the scalar pass does the rest).
int vertical(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst, ptrdiff_t dst_stride,
             int row_bytes, const ResampleAxis& axis, const std::vector<uint32_t>& pairs, int rows);

// RgbResampler's horizontal pass over packed RGB rows, all `out_w` pixels of
// each; `pairs` are the coefficients laid out for madd (see RgbResampler).
// Reads up to 16 bytes past each row's last pixel.
void rgb_horizontal(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst, ptrdiff_t dst_stride,
                    int rows, const ResampleAxis& axis, const std::vector<int16_t>& pairs,
                    int out_w);

// ColumnResampler's pass over a plane of 1-byte samples, for taps a multiple of
// kPlaneGroup. Returns the outputs done per row (a multiple of 8).
int plane_horizontal(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst, ptrdiff_t dst_stride,
                     int rows, const ResampleAxis& axis, int out_w);

}  // namespace spdl::resample::avx2

namespace spdl::yuv_to_rgb::avx2 {

// yuv422p_to_rgb() of `frame`, 16 pixels at a time; returns the pixels done per
// row: the scalar code converts the rest.
int yuv422p_rows(const AVFrame* frame, uint8_t* dst, ptrdiff_t dst_stride, const Matrix& m,
                 bool bgr);

}  // namespace spdl::yuv_to_rgb::avx2

#endif  // SPDL_AVX2
