#include "resample.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "simd_avx2.h"

namespace spdl {
namespace {

using resample::kChannels;
using resample::kHorizontalGroup;
using resample::kPlaneGroup;
using resample::kRound;
using resample::kVerticalGroup;
using resample::kWeightBits;

// The horizontal pass reads 16 bytes from its last group of 4 pixels (12 bytes).
constexpr ptrdiff_t kRowSlack = 16;

// The filters on [-1, 1] (Pillow's definitions).
double filter_value(ResampleFilter filter, double x) {
  x = std::abs(x);
  if (x >= 1.0) {
    return 0.0;
  }
  if (filter == ResampleFilter::kTriangle) {
    return 1.0 - x;
  }
  if (x == 0.0) {
    return 1.0;
  }
  const double pi_x = M_PI * x;
  return std::sin(pi_x) / pi_x * (0.54 + 0.46 * std::cos(pi_x));
}

// Stretched by the scale factor when downscaling, as wide as the triangle's.
double support(int in, int out) { return std::max(1.0, static_cast<double>(in) / out); }

int round_up(int n, int multiple) { return (n + multiple - 1) / multiple * multiple; }

// Samples within the filter's reach: at most ceil(2 * support), padded for the SIMD
// steps; all of the input when it is smaller (then not a multiple: scalar code).
int taps_for(int in, int out, int multiple) {
  const int taps =
      round_up(std::max(static_cast<int>(std::ceil(2 * support(in, out))), 2), multiple);
  return std::min(taps, in);
}

// Pillow's filters keep the weights of the samples inside the image (and
// renormalise); swscale's give the weights of samples beyond an edge to the edge
// sample (kTriangle, which stands in for swscale's bilinear, does the same).
ResampleAxis make_axis(int in, int out, int multiple, ResampleFilter filter) {
  const double scale = static_cast<double>(in) / out;
  const double width = support(in, out);
  const bool replicate_edges = filter == ResampleFilter::kTriangle;
  ResampleAxis axis;
  axis.taps = taps_for(in, out, multiple);
  axis.start.resize(out);
  axis.coeffs.assign(static_cast<size_t>(out) * axis.taps, 0);
  std::vector<double> weights(axis.taps);
  for (int i = 0; i < out; ++i) {
    // Pixel centres at +0.5: the output covers the input exactly, edge to edge.
    const double center = (i + 0.5) * scale;
    const int reach_first = static_cast<int>(std::floor(center - width + 0.5));
    const int reach_end = static_cast<int>(std::floor(center + width + 0.5));
    const int first = std::max(reach_first, 0);
    const int end = std::min({reach_end, in, first + axis.taps});
    // Every read stays inside the image: the window moves left near the end.
    const int start = std::min(first, in - axis.taps);
    std::fill(weights.begin(), weights.end(), 0.0);
    for (int j = replicate_edges ? reach_first : first; j < (replicate_edges ? reach_end : end);
         ++j) {
      const int sample = std::clamp(j, first, end - 1);
      weights[sample - start] += filter_value(filter, (j + 0.5 - center) / width);
    }
    double sum = 0.0;
    for (double weight : weights) {
      sum += weight;
    }
    int16_t* coeffs = &axis.coeffs[static_cast<size_t>(i) * axis.taps];
    int total = 0, largest = 0;
    for (int k = 0; k < axis.taps; ++k) {
      coeffs[k] = static_cast<int16_t>(std::lround(weights[k] / sum * (1 << kWeightBits)));
      total += coeffs[k];
      largest = weights[k] > weights[largest] ? k : largest;
    }
    coeffs[largest] += static_cast<int16_t>((1 << kWeightBits) - total);  // weights sum to 1
    axis.start[i] = start;
  }
  return axis;
}

// make_axis() through a small per-thread cache: a batch of images of many sizes
// repeats widths and heights far more often than whole sizes, and the Hamming
// filter's sin and cos per tap made an axis cost 30 us, a fifth of a resize.
const ResampleAxis& cached_axis(int in, int out, int multiple, ResampleFilter filter) {
  struct Entry {
    int in, out, multiple;
    ResampleFilter filter;
    ResampleAxis axis;
  };
  constexpr size_t kKept = 16;
  thread_local std::vector<Entry> cache;
  thread_local size_t next = 0;
  for (const Entry& entry : cache) {
    if (entry.in == in && entry.out == out && entry.multiple == multiple &&
        entry.filter == filter) {
      return entry.axis;
    }
  }
  Entry entry{in, out, multiple, filter, make_axis(in, out, multiple, filter)};
  if (cache.size() < kKept) {
    cache.push_back(std::move(entry));
    return cache.back().axis;
  }
  Entry& replaced = cache[next++ % kKept];  // the oldest
  replaced = std::move(entry);
  return replaced.axis;
}

uint8_t to_byte(int32_t sum) {
  const int32_t value = sum >> kWeightBits;
  return static_cast<uint8_t>(value < 0 ? 0 : value > 255 ? 255 : value);
}

// Scalar passes: the reference arithmetic, which the SIMD passes reproduce exactly.
void vertical_scalar(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst, ptrdiff_t dst_stride,
                     int row_bytes, int x_begin, const ResampleAxis& axis, int rows) {
  for (int y = 0; y < rows; ++y) {
    const int16_t* coeffs = &axis.coeffs[static_cast<size_t>(y) * axis.taps];
    const uint8_t* first = src + axis.start[y] * src_stride;
    uint8_t* out = dst + y * dst_stride;
    for (int x = x_begin; x < row_bytes; ++x) {
      int32_t sum = kRound;
      for (int k = 0; k < axis.taps; ++k) {
        sum += coeffs[k] * first[k * src_stride + x];
      }
      out[x] = to_byte(sum);
    }
  }
}

// Outputs [x_begin, out_w) of each row; `channels` interleaved samples per pixel.
void horizontal_scalar(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst, ptrdiff_t dst_stride,
                       int rows, const ResampleAxis& axis, int channels, int x_begin, int out_w) {
  for (int y = 0; y < rows; ++y) {
    const uint8_t* row = src + y * src_stride;
    uint8_t* out = dst + y * dst_stride;
    for (int x = x_begin; x < out_w; ++x) {
      const int16_t* coeffs = &axis.coeffs[static_cast<size_t>(x) * axis.taps];
      const uint8_t* pixels = row + axis.start[x] * channels;
      for (int c = 0; c < channels; ++c) {
        int32_t sum = kRound;
        for (int k = 0; k < axis.taps; ++k) {
          sum += coeffs[k] * pixels[k * channels + c];
        }
        out[x * channels + c] = to_byte(sum);
      }
    }
  }
}

}  // namespace

RowResampler::RowResampler(int src_h, int dst_h, ResampleFilter filter)
    : src_h_(src_h), dst_h_(dst_h), axis_(cached_axis(src_h, dst_h, kVerticalGroup, filter)) {
  // Each pair of weights as the two words of one 32-bit lane (madd's layout), so
  // that the SIMD pass broadcasts it with one load.
  if (axis_.taps % kVerticalGroup != 0) {
    return;  // scalar code only
  }
  pairs_.resize(axis_.coeffs.size() / kVerticalGroup);
  for (size_t i = 0; i < pairs_.size(); ++i) {
    pairs_[i] = word_pair(axis_.coeffs[2 * i], axis_.coeffs[2 * i + 1]);
  }
}

void RowResampler::run(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst, ptrdiff_t dst_stride,
                       int row_bytes) const {
  int done = 0;
#ifdef SPDL_AVX2
  // Tiny images have filters of an odd number of taps: scalar code takes them.
  if (has_avx2() && axis_.taps % kVerticalGroup == 0) {
    done = resample::avx2::vertical(src, src_stride, dst, dst_stride, row_bytes, axis_, pairs_,
                                    dst_h_);
  }
#endif
  vertical_scalar(src, src_stride, dst, dst_stride, row_bytes, done, axis_, dst_h_);
}

ColumnResampler::ColumnResampler(int src_w, int dst_w, ResampleFilter filter)
    : src_w_(src_w), dst_w_(dst_w), axis_(cached_axis(src_w, dst_w, kPlaneGroup, filter)) {}

void ColumnResampler::run(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst,
                          ptrdiff_t dst_stride, int rows) const {
  int done = 0;
#ifdef SPDL_AVX2
  // Planes narrower than a group have filters of fewer taps: scalar code takes them.
  if (has_avx2() && axis_.taps % kPlaneGroup == 0) {
    done = resample::avx2::plane_horizontal(src, src_stride, dst, dst_stride, rows, axis_, dst_w_);
  }
#endif
  horizontal_scalar(src, src_stride, dst, dst_stride, rows, axis_, 1, done, dst_w_);
}

RgbResampler::RgbResampler(int src_w, int src_h, int dst_w, int dst_h)
    : src_w_(src_w),
      src_h_(src_h),
      dst_w_(dst_w),
      dst_h_(dst_h),
      vertical_(src_h, dst_h, ResampleFilter::kHamming),
      horizontal_(cached_axis(src_w, dst_w, kHorizontalGroup, ResampleFilter::kHamming)),
      rows_stride_(static_cast<ptrdiff_t>(src_w) * kChannels + kRowSlack) {
  rows_.resize(static_cast<size_t>(rows_stride_) * dst_h);
  // Per pair of output pixels (x, x + 1) and group of 4 taps, two 32-byte vectors:
  // (w0 w1) x 4 of x, then of x + 1; the same with (w2 w3).
  const int groups = horizontal_.taps / kHorizontalGroup;
  const int pairs = (dst_w + 1) / 2;
  horizontal_pairs_.resize(static_cast<size_t>(pairs) * groups * 32);
  for (int x = 0; x < 2 * pairs; ++x) {
    const int16_t* coeffs =
        &horizontal_.coeffs[static_cast<size_t>(std::min(x, dst_w - 1)) * horizontal_.taps];
    for (int g = 0; g < groups; ++g) {
      for (int half = 0; half < 2; ++half) {
        int16_t* out =
            &horizontal_pairs_[((static_cast<size_t>(x / 2) * groups + g) * 2 + half) * 16 +
                               (x % 2) * 8];
        for (int j = 0; j < 4; ++j) {
          out[2 * j] = coeffs[g * 4 + half * 2];
          out[2 * j + 1] = coeffs[g * 4 + half * 2 + 1];
        }
      }
    }
  }
}

void RgbResampler::run(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst,
                       ptrdiff_t dst_stride) {
  vertical_.run(src, src_stride, rows_.data(), rows_stride_, src_w_ * kChannels);
#ifdef SPDL_AVX2
  if (has_avx2() && horizontal_.taps % kHorizontalGroup == 0) {
    resample::avx2::rgb_horizontal(rows_.data(), rows_stride_, dst, dst_stride, dst_h_, horizontal_,
                                   horizontal_pairs_, dst_w_);
    return;
  }
#endif
  horizontal_scalar(rows_.data(), rows_stride_, dst, dst_stride, dst_h_, horizontal_, kChannels, 0,
                    dst_w_);
}

}  // namespace spdl
