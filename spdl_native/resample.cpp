#include "resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "simd.h"

namespace spdl {
namespace {

constexpr int kWeightBits = 14;
constexpr int kChannels = 3;
constexpr int kHorizontalGroup = 4;  // pixels per horizontal SIMD step
constexpr int kVerticalGroup = 2;    // rows per vertical SIMD step (one madd)
constexpr int kMaxFetchRows = 16;    // rows the vertical pass prefetches per output row
constexpr int kPlaneGroup = 16;      // taps per SIMD step of a plane's horizontal pass
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

constexpr int32_t kRound = 1 << (kWeightBits - 1);

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

#ifdef SPDL_AVX2

// Two rows at a time: their bytes interleaved and widened to 16 bits, one madd
// multiplies and adds both rows' samples (4 x 8 outputs per 32 bytes).
__attribute__((target("avx2"))) int vertical_avx2(const uint8_t* src, ptrdiff_t src_stride,
                                                  uint8_t* dst, ptrdiff_t dst_stride, int row_bytes,
                                                  const ResampleAxis& axis,
                                                  const std::vector<uint32_t>& pairs, int rows) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i round = _mm256_set1_epi32(kRound);
  const int simd_bytes = row_bytes / 32 * 32;
  for (int y = 0; y < rows; ++y) {
    const uint32_t* row_pairs = &pairs[static_cast<size_t>(y) * axis.taps / kVerticalGroup];
    const uint8_t* first = src + axis.start[y] * src_stride;
    uint8_t* out = dst + y * dst_stride;
    // A decoded frame is mostly out of cache by the time it is shrunk (1.4 MB of
    // 720p, decoded between others), and walking `taps` rows at once defeats the
    // hardware prefetcher: fetching the rows the next output row adds, a row
    // ahead, cuts a cold 720p luma pass from 145 to 95 us.
    const int next_end = (y + 1 < rows ? axis.start[y + 1] : axis.start[y]) + axis.taps;
    const int fetch_begin = std::max(axis.start[y] + axis.taps, next_end - kMaxFetchRows);
    const uint8_t* fetch = src + fetch_begin * src_stride;
    const int fetch_rows = next_end - fetch_begin;
    for (int x = 0; x < simd_bytes; x += 32) {
      if ((x & 63) == 0) {
        for (int r = 0; r < fetch_rows; ++r) {
          _mm_prefetch(reinterpret_cast<const char*>(fetch + r * src_stride + x), _MM_HINT_T0);
        }
      }
      __m256i sum0 = round, sum1 = round, sum2 = round, sum3 = round;
      for (int k = 0; k < axis.taps; k += kVerticalGroup) {
        const __m256i pair = _mm256_set1_epi32(static_cast<int>(row_pairs[k / kVerticalGroup]));
        const auto* row0 = first + k * src_stride + x;
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row0));
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row0 + src_stride));
        const __m256i low = _mm256_unpacklo_epi8(a, b), high = _mm256_unpackhi_epi8(a, b);
        sum0 = _mm256_add_epi32(sum0, _mm256_madd_epi16(_mm256_unpacklo_epi8(low, zero), pair));
        sum1 = _mm256_add_epi32(sum1, _mm256_madd_epi16(_mm256_unpackhi_epi8(low, zero), pair));
        sum2 = _mm256_add_epi32(sum2, _mm256_madd_epi16(_mm256_unpacklo_epi8(high, zero), pair));
        sum3 = _mm256_add_epi32(sum3, _mm256_madd_epi16(_mm256_unpackhi_epi8(high, zero), pair));
      }
      // The unpacks and packs work within 128-bit lanes, so the bytes come back in order.
      const __m256i words = _mm256_packs_epi32(_mm256_srai_epi32(sum0, kWeightBits),
                                               _mm256_srai_epi32(sum1, kWeightBits));
      const __m256i words2 = _mm256_packs_epi32(_mm256_srai_epi32(sum2, kWeightBits),
                                                _mm256_srai_epi32(sum3, kWeightBits));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + x), _mm256_packus_epi16(words, words2));
    }
  }
  return simd_bytes;
}

// 16 bytes from `low` and 16 from `high`, as the low and high 128-bit lanes.
__attribute__((target("avx2"))) inline __m256i load2(const uint8_t* low, const uint8_t* high) {
  return _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(low))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(high)), 1);
}

// Two output pixels at a time, one per 128-bit lane: a shuffle turns 4 input
// pixels into (r0 r1 g0 g1 b0 b1 0 0) and (r2 r3 ...) words, and one madd per pair
// of pixels gives the weighted r, g, b sums. Needs kRowSlack readable bytes.
__attribute__((target("avx2"))) void horizontal_avx2(const uint8_t* src, ptrdiff_t src_stride,
                                                     uint8_t* dst, ptrdiff_t dst_stride, int rows,
                                                     const ResampleAxis& axis,
                                                     const std::vector<int16_t>& pairs, int out_w) {
  const __m256i first_two =
      _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 0, -1, 3, -1, 1,
                       -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const __m256i last_two =
      _mm256_setr_epi8(6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1, 6, -1, 9, -1, 7,
                       -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
  const __m256i round = _mm256_set1_epi32(kRound);
  const int groups = axis.taps / kHorizontalGroup;
  for (int y = 0; y < rows; ++y) {
    const uint8_t* row = src + y * src_stride;
    uint8_t* out = dst + y * dst_stride;
    const __m256i* weights = reinterpret_cast<const __m256i*>(pairs.data());
    for (int x = 0; x < out_w; x += 2) {
      const int x1 = std::min(x + 1, out_w - 1);  // an odd width computes the last pixel twice
      const uint8_t* pixels0 = row + axis.start[x] * kChannels;
      const uint8_t* pixels1 = row + axis.start[x1] * kChannels;
      __m256i sum = round;
      for (int g = 0; g < groups; ++g) {
        const __m256i pixels = load2(pixels0 + g * 12, pixels1 + g * 12);
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_shuffle_epi8(pixels, first_two),
                                                      _mm256_loadu_si256(weights + 2 * g)));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_shuffle_epi8(pixels, last_two),
                                                      _mm256_loadu_si256(weights + 2 * g + 1)));
      }
      weights += 2 * groups;
      const __m256i words = _mm256_packs_epi32(_mm256_srai_epi32(sum, kWeightBits), sum);
      const __m256i bytes = _mm256_packus_epi16(words, words);
      const auto rgb0 = static_cast<uint32_t>(_mm256_extract_epi32(bytes, 0));
      const auto rgb1 = static_cast<uint32_t>(_mm256_extract_epi32(bytes, 4));
      uint8_t* o = out + x * kChannels;
      if (x + 2 < out_w) {
        // 4 bytes each: the fourth is overwritten by the next pixel.
        std::memcpy(o, &rgb0, 4);
        std::memcpy(o + 3, &rgb1, 4);
      } else {
        const uint32_t last[2] = {rgb0, rgb1};
        for (int i = 0; i < 2 && x + i < out_w; ++i) {
          o[3 * i] = static_cast<uint8_t>(last[i]);
          o[3 * i + 1] = static_cast<uint8_t>(last[i] >> 8);
          o[3 * i + 2] = static_cast<uint8_t>(last[i] >> 16);
        }
      }
    }
  }
}

// One output's 8 partial sums: per group of 16 taps, the samples widened to words
// and one madd with the weights.
__attribute__((target("avx2"), always_inline)) inline __m256i weigh_samples(const uint8_t* samples,
                                                                            const int16_t* coeffs,
                                                                            int groups) {
  __m256i sum = _mm256_madd_epi16(
      _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(samples))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(coeffs)));
  for (int g = 1; g < groups; ++g) {
    const __m256i words = _mm256_cvtepu8_epi16(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(samples + g * kPlaneGroup)));
    sum = _mm256_add_epi32(
        sum,
        _mm256_madd_epi16(
            words, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(coeffs + g * kPlaneGroup))));
  }
  return sum;
}

// Four outputs' sums, per lane: the low lane holds their taps 0-7 of each group,
// the high lane taps 8-15.
__attribute__((target("avx2"), always_inline)) inline __m256i weigh_four(const uint8_t* row,
                                                                         const int* start,
                                                                         const int16_t* coeffs,
                                                                         int taps, int groups) {
  const __m256i a = weigh_samples(row + start[0], coeffs, groups);
  const __m256i b = weigh_samples(row + start[1], coeffs + taps, groups);
  const __m256i c = weigh_samples(row + start[2], coeffs + 2 * taps, groups);
  const __m256i d = weigh_samples(row + start[3], coeffs + 3 * taps, groups);
  return _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
}

// Eight outputs at a time; a swap of lanes brings the halves of their sums
// together, in order. Reads stay within [start, start + taps) of each output.
// Returns the outputs done per row. kGroups > 0 fixes the groups per output at
// compile time (one group, for shrinks of up to 8x, runs 20% faster unrolled);
// 0 reads them from the axis.
template <int kGroups>
__attribute__((target("avx2"))) int plane_horizontal_avx2(const uint8_t* src, ptrdiff_t src_stride,
                                                          uint8_t* dst, ptrdiff_t dst_stride,
                                                          int rows, const ResampleAxis& axis,
                                                          int out_w) {
  const __m256i round = _mm256_set1_epi32(kRound);
  const int taps = kGroups > 0 ? kGroups * kPlaneGroup : axis.taps;
  const int groups = kGroups > 0 ? kGroups : taps / kPlaneGroup;
  const int simd_w = out_w / 8 * 8;
  for (int y = 0; y < rows; ++y) {
    const uint8_t* row = src + y * src_stride;
    uint8_t* out = dst + y * dst_stride;
    for (int x = 0; x < simd_w; x += 8) {
      const int16_t* coeffs = &axis.coeffs[static_cast<size_t>(x) * taps];
      const __m256i first = weigh_four(row, &axis.start[x], coeffs, taps, groups);
      const __m256i last = weigh_four(row, &axis.start[x + 4], coeffs + 4 * taps, taps, groups);
      __m256i total = _mm256_add_epi32(_mm256_permute2x128_si256(first, last, 0x20),
                                       _mm256_permute2x128_si256(first, last, 0x31));
      total = _mm256_srai_epi32(_mm256_add_epi32(total, round), kWeightBits);
      const __m128i words =
          _mm_packs_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + x), _mm_packus_epi16(words, words));
    }
  }
  return simd_w;
}

#endif  // SPDL_AVX2

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
    done = vertical_avx2(src, src_stride, dst, dst_stride, row_bytes, axis_, pairs_, dst_h_);
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
    const auto pass = axis_.taps == kPlaneGroup       ? plane_horizontal_avx2<1>
                      : axis_.taps == 2 * kPlaneGroup ? plane_horizontal_avx2<2>
                                                      : plane_horizontal_avx2<0>;
    done = pass(src, src_stride, dst, dst_stride, rows, axis_, dst_w_);
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
    horizontal_avx2(rows_.data(), rows_stride_, dst, dst_stride, dst_h_, horizontal_,
                    horizontal_pairs_, dst_w_);
    return;
  }
#endif
  horizontal_scalar(rows_.data(), rows_stride_, dst, dst_stride, dst_h_, horizontal_, kChannels, 0,
                    dst_w_);
}

}  // namespace spdl
