#include "simd_avx2.h"

#ifdef SPDL_AVX2

#include <algorithm>
#include <cstring>

// In the namespaces of their constants (resample.h, yuv_to_rgb.h), which they
// use unqualified.
namespace spdl::resample::avx2 {
namespace {

constexpr int kMaxFetchRows = 16;  // rows the vertical pass prefetches per output row

// 16 bytes from `low` and 16 from `high`, as the low and high 128-bit lanes.
__attribute__((target("avx2"))) inline __m256i load2(const uint8_t* low, const uint8_t* high) {
  return _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(low))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(high)), 1);
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
__attribute__((target("avx2"))) int plane_horizontal_of(const uint8_t* src, ptrdiff_t src_stride,
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

}  // namespace

// Two rows at a time: their bytes interleaved and widened to 16 bits, one madd
// multiplies and adds both rows' samples (4 x 8 outputs per 32 bytes).
__attribute__((target("avx2"))) int vertical(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst,
                                             ptrdiff_t dst_stride, int row_bytes,
                                             const ResampleAxis& axis,
                                             const std::vector<uint32_t>& pairs, int rows) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i round = _mm256_set1_epi32(kRound);
  // A row's last block ends at its end and overlaps the one before (both write the
  // same values there): no scalar tail, which cost a third of the pass for a
  // 500-pixel RGB row. Rows shorter than a block are left to scalar code.
  const int simd_bytes = row_bytes < 32 ? 0 : row_bytes;
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
    for (int block = 0; block < simd_bytes; block += 32) {
      const int x = std::min(block, simd_bytes - 32);
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

// Two output pixels at a time, one per 128-bit lane: a shuffle turns 4 input
// pixels into (r0 r1 g0 g1 b0 b1 0 0) and (r2 r3 ...) words, and one madd per pair
// of pixels gives the weighted r, g, b sums. Needs kRowSlack readable bytes.
__attribute__((target("avx2"))) void rgb_horizontal(const uint8_t* src, ptrdiff_t src_stride,
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

int plane_horizontal(const uint8_t* src, ptrdiff_t src_stride, uint8_t* dst, ptrdiff_t dst_stride,
                     int rows, const ResampleAxis& axis, int out_w) {
  const auto pass = axis.taps == kPlaneGroup       ? plane_horizontal_of<1>
                    : axis.taps == 2 * kPlaneGroup ? plane_horizontal_of<2>
                                                   : plane_horizontal_of<0>;
  return pass(src, src_stride, dst, dst_stride, rows, axis, out_w);
}

}  // namespace spdl::resample::avx2

namespace spdl::yuv_to_rgb::avx2 {
namespace {

// pshufb masks that spread 16 bytes of one channel over the three 16-byte blocks
// of 16 packed pixels: [block][channel][byte], -128 for the other channels' bytes.
struct InterleaveMasks {
  int8_t m[3][3][16];
};

constexpr InterleaveMasks make_interleave_masks() {
  InterleaveMasks masks{};
  for (int block = 0; block < 3; ++block) {
    for (int i = 0; i < 16; ++i) {
      const int byte = 16 * block + i;
      for (int channel = 0; channel < 3; ++channel) {
        masks.m[block][channel][i] = static_cast<int8_t>(byte % 3 == channel ? byte / 3 : -128);
      }
    }
  }
  return masks;
}

constexpr InterleaveMasks kInterleave = make_interleave_masks();

// Weights a, b in every 32-bit lane, as madd takes them.
__attribute__((target("avx2"))) inline __m256i pair_of(int16_t a, int16_t b) {
  return _mm256_set1_epi32(static_cast<int>(word_pair(a, b)));
}

// (lo . weights_lo + hi . weights_hi + round) >> 13 for the 16 pixels whose word pairs
// are `lo` (pixels 0-3 and 8-11) and `hi` (4-7 and 12-15), as 16 words in order.
__attribute__((target("avx2"))) inline __m256i weigh(__m256i lo, __m256i hi, __m256i weights,
                                                     __m256i round) {
  return _mm256_packs_epi32(
      _mm256_srai_epi32(_mm256_add_epi32(_mm256_madd_epi16(lo, weights), round), kBits),
      _mm256_srai_epi32(_mm256_add_epi32(_mm256_madd_epi16(hi, weights), round), kBits));
}

// 8 chroma samples less 128, each doubled: pixels 0-7 in the low lane, 8-15 in the high.
__attribute__((target("avx2"))) inline __m256i doubled_chroma(const uint8_t* samples) {
  const __m128i c =
      _mm_sub_epi16(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(samples))),
                    _mm_set1_epi16(128));
  return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi16(c, c)),
                                 _mm_unpackhi_epi16(c, c), 1);
}

}  // namespace

__attribute__((target("avx2"))) int yuv422p_rows(const AVFrame* frame, uint8_t* dst,
                                                 ptrdiff_t dst_stride, const Matrix& m, bool bgr) {
  const int simd_w = frame->width / 16 * 16;
  const __m256i round = _mm256_set1_epi32(kRound);
  const __m256i luma_offset = _mm256_set1_epi16(m.luma_offset);
  const __m256i red = pair_of(m.luma, m.cr);
  const __m256i green_yu = pair_of(m.luma, static_cast<int16_t>(-m.cgu));
  const __m256i green_v = pair_of(static_cast<int16_t>(-m.cgv), 0);
  const __m256i blue = pair_of(m.luma, m.cb);
  const __m256i zero = _mm256_setzero_si256();
  __m128i masks[9];
  for (int i = 0; i < 9; ++i) {
    masks[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kInterleave.m[i / 3][i % 3]));
  }
  for (int row = 0; row < frame->height; ++row) {
    const uint8_t* y_row = frame->data[0] + row * static_cast<ptrdiff_t>(frame->linesize[0]);
    const uint8_t* u_row = frame->data[1] + row * static_cast<ptrdiff_t>(frame->linesize[1]);
    const uint8_t* v_row = frame->data[2] + row * static_cast<ptrdiff_t>(frame->linesize[2]);
    uint8_t* out = dst + row * dst_stride;
    for (int x = 0; x < simd_w; x += 16) {
      const __m256i y = _mm256_sub_epi16(
          _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(y_row + x))),
          luma_offset);
      const __m256i u = doubled_chroma(u_row + x / 2), v = doubled_chroma(v_row + x / 2);
      const __m256i r = weigh(_mm256_unpacklo_epi16(y, v), _mm256_unpackhi_epi16(y, v), red, round);
      const __m256i b =
          weigh(_mm256_unpacklo_epi16(y, u), _mm256_unpackhi_epi16(y, u), blue, round);
      const __m256i g = _mm256_packs_epi32(
          _mm256_srai_epi32(
              _mm256_add_epi32(
                  _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpacklo_epi16(y, u), green_yu),
                                   _mm256_madd_epi16(_mm256_unpacklo_epi16(v, zero), green_v)),
                  round),
              kBits),
          _mm256_srai_epi32(
              _mm256_add_epi32(
                  _mm256_add_epi32(_mm256_madd_epi16(_mm256_unpackhi_epi16(y, u), green_yu),
                                   _mm256_madd_epi16(_mm256_unpackhi_epi16(v, zero), green_v)),
                  round),
              kBits));
      // Bytes: (r 0-7, g 0-7 | r 8-15, g 8-15) and (b 0-7, b 0-7 | b 8-15, b 8-15),
      // then the 64-bit quarters in the order 0, 2, 1, 3.
      const __m256i rg = _mm256_permute4x64_epi64(_mm256_packus_epi16(r, g), 0xd8);
      const __m256i bb = _mm256_permute4x64_epi64(_mm256_packus_epi16(b, b), 0xd8);
      const __m128i channels[3] = {_mm256_castsi256_si128(bgr ? bb : rg),
                                   _mm256_extracti128_si256(rg, 1),
                                   _mm256_castsi256_si128(bgr ? rg : bb)};
      for (int block = 0; block < 3; ++block) {
        const __m128i bytes =
            _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(channels[0], masks[block * 3]),
                                      _mm_shuffle_epi8(channels[1], masks[block * 3 + 1])),
                         _mm_shuffle_epi8(channels[2], masks[block * 3 + 2]));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 3 * x + 16 * block), bytes);
      }
    }
  }
  return simd_w;
}

}  // namespace spdl::yuv_to_rgb::avx2

#endif  // SPDL_AVX2
