// Antialiasing resize of 8-bit samples. RgbResampler resizes packed RGB images
// (rgb24, bgr24): still images, whose colours must be resized after the conversion
// to RGB, since a resize in YUV mixes colours before the conversion clips them to
// the RGB gamut, which puts visible fringes on saturated edges (and is what
// swscale does). RowResampler and ColumnResampler are the vertical and the
// horizontal pass alone, which FrameWriter runs on the YUV planes of video frames
// it shrinks, before they are converted (see there).
//
// Separable, like Pillow's resampling: each output sample is a weighted sum of
// the input samples under a filter stretched by the scale factor when
// downscaling (so every input pixel contributes: no aliasing), vertical pass
// first (it is the cheaper one per sample, and it cuts the rows the horizontal
// pass reads). RgbResampler's filter is a Hamming-windowed sinc of the bilinear
// (triangle) filter's width: the same number of taps and cost, but sharper
// (Pillow's HAMMING). 14-bit fixed-point weights; AVX2 where the CPU has it, else
// scalar code with exactly the same arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace spdl {

enum class ResampleFilter {
  kTriangle,  // bilinear: swscale's SWS_BILINEAR, Pillow's BILINEAR
  kHamming,   // Pillow's HAMMING: as wide as the triangle, sharper
};

// The filter for one axis: output i is the sum over k < taps of
// coeffs[i * taps + k] * input[start[i] + k], in units of 2^-14.
struct ResampleAxis {
  int taps = 0;
  std::vector<int> start;
  std::vector<int16_t> coeffs;
};

// The fixed point and the SIMD steps that the scalar passes (resample.cpp) and
// the AVX2 ones (simd_avx2.cpp) share.
namespace resample {
inline constexpr int kWeightBits = 14;  // ResampleAxis::coeffs are in units of 2^-14
inline constexpr int32_t kRound = 1 << (kWeightBits - 1);
inline constexpr int kChannels = 3;         // of RgbResampler's packed pixels
inline constexpr int kHorizontalGroup = 4;  // pixels per horizontal SIMD step of RGB
inline constexpr int kVerticalGroup = 2;    // rows per vertical SIMD step (one madd)
inline constexpr int kPlaneGroup = 16;      // taps per SIMD step of a plane's horizontal pass
}  // namespace resample

// Resizes a plane's columns: each output row is a weighted sum of input rows,
// byte by byte, so any layout of 8-bit samples in a row works (planes, packed pixels).
class RowResampler {
 public:
  RowResampler(int src_h, int dst_h, ResampleFilter filter);

  bool matches(int src_h, int dst_h) const { return src_h == src_h_ && dst_h == dst_h_; }

  // Rows are `src_stride` / `dst_stride` bytes apart; `row_bytes` of each are resized.
  void run(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst, ptrdiff_t dst_stride,
           int row_bytes) const;

 private:
  int src_h_, dst_h_;
  ResampleAxis axis_;
  std::vector<uint32_t> pairs_;  // the weights in pairs, for the SIMD pass
};

// Resizes a plane's rows: each output sample is a weighted sum of the samples
// around it in its row, for planes of 1-byte samples (Y, U, V, gray).
class ColumnResampler {
 public:
  ColumnResampler(int src_w, int dst_w, ResampleFilter filter);

  bool matches(int src_w, int dst_w) const { return src_w == src_w_ && dst_w == dst_w_; }

  // `rows` rows, `src_stride` / `dst_stride` bytes apart, of src_w samples into dst_w.
  void run(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst, ptrdiff_t dst_stride,
           int rows) const;

 private:
  int src_w_, dst_w_;
  ResampleAxis axis_;
};

class RgbResampler {
 public:
  // All sizes positive.
  RgbResampler(int src_w, int src_h, int dst_w, int dst_h);

  bool matches(int src_w, int src_h, int dst_w, int dst_h) const {
    return src_w == src_w_ && src_h == src_h_ && dst_w == dst_w_ && dst_h == dst_h_;
  }

  // Resizes 3-channel packed pixels; rows are `src_stride` / `dst_stride` bytes apart.
  void run(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst, ptrdiff_t dst_stride);

 private:
  int src_w_, src_h_, dst_w_, dst_h_;
  RowResampler vertical_;
  ResampleAxis horizontal_;
  std::vector<int16_t> horizontal_pairs_;  // horizontal coefficients laid out for madd
  std::vector<uint8_t> rows_;              // the vertical pass's output, dst_h rows of src_w pixels
  ptrdiff_t rows_stride_;
};

}  // namespace spdl
