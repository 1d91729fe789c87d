#include "yuv_to_rgb.h"

#include <cmath>

#include "simd.h"

extern "C" {
#include <libswscale/swscale.h>
}

namespace spdl {
namespace {

constexpr int kBits = 13;  // 2.14 (BT.2020's blue weight) * 2^14 would overflow int16
constexpr int32_t kRound = 1 << (kBits - 1);

// R = y * luma + v * cr, G = y * luma - u * cgu - v * cgv, B = y * luma + u * cb,
// with y = Y - luma_offset, u = U - 128, v = V - 128, in units of 2^-13.
struct Matrix {
  int16_t luma_offset, luma, cr, cgu, cgv, cb;
};

Matrix matrix_of(const AVFrame* frame) {
  // swscale's table of the matrices, indexed by AVColorSpace; its weights (16.16)
  // include the stretch of limited-range chroma (255 / 224).
  const int space = frame->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : frame->colorspace;
  const int* c = sws_getCoefficients(space);
  const bool full = frame->color_range == AVCOL_RANGE_JPEG || frame->format == AV_PIX_FMT_YUVJ422P;
  const double chroma = full ? 224.0 / 255.0 : 1.0;
  const double luma = full ? 1.0 : 255.0 / 219.0;
  auto fixed = [](double weight) {
    return static_cast<int16_t>(std::lround(weight * (1 << kBits)));
  };
  return Matrix{static_cast<int16_t>(full ? 0 : 16), fixed(luma),
                fixed(c[0] / 65536.0 * chroma),      fixed(c[2] / 65536.0 * chroma),
                fixed(c[3] / 65536.0 * chroma),      fixed(c[1] / 65536.0 * chroma)};
}

uint8_t to_byte(int32_t sum) {
  const int32_t value = sum >> kBits;
  return static_cast<uint8_t>(value < 0 ? 0 : value > 255 ? 255 : value);
}

// The reference arithmetic, which the SIMD code reproduces exactly: pixels
// [x_begin, width) of one row.
void row_scalar(const uint8_t* y_row, const uint8_t* u_row, const uint8_t* v_row, uint8_t* out,
                int x_begin, int width, const Matrix& m, bool bgr) {
  for (int x = x_begin; x < width; ++x) {
    const int32_t y = (y_row[x] - m.luma_offset) * m.luma + kRound;
    const int32_t u = u_row[x / 2] - 128, v = v_row[x / 2] - 128;
    const uint8_t r = to_byte(y + v * m.cr), g = to_byte(y - u * m.cgu - v * m.cgv),
                  b = to_byte(y + u * m.cb);
    out[3 * x] = bgr ? b : r;
    out[3 * x + 1] = g;
    out[3 * x + 2] = bgr ? r : b;
  }
}

#ifdef SPDL_AVX2

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

// 16 pixels at a time; returns the pixels done per row.
__attribute__((target("avx2"))) int rows_avx2(const AVFrame* frame, uint8_t* dst,
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

#endif  // SPDL_AVX2

}  // namespace

bool converts_yuv422p_to_rgb(const AVFrame* frame, AVPixelFormat dst_fmt, int width, int height) {
  return (frame->format == AV_PIX_FMT_YUV422P || frame->format == AV_PIX_FMT_YUVJ422P) &&
         (dst_fmt == AV_PIX_FMT_RGB24 || dst_fmt == AV_PIX_FMT_BGR24) && frame->width == width &&
         frame->height == height;
}

void yuv422p_to_rgb(const AVFrame* frame, AVPixelFormat dst_fmt, uint8_t* dst,
                    ptrdiff_t dst_stride) {
  const Matrix m = matrix_of(frame);
  const bool bgr = dst_fmt == AV_PIX_FMT_BGR24;
  int done = 0;
#ifdef SPDL_AVX2
  if (has_avx2()) {
    done = rows_avx2(frame, dst, dst_stride, m, bgr);
  }
#endif
  if (done == frame->width) {
    return;
  }
  for (int row = 0; row < frame->height; ++row) {
    row_scalar(frame->data[0] + row * static_cast<ptrdiff_t>(frame->linesize[0]),
               frame->data[1] + row * static_cast<ptrdiff_t>(frame->linesize[1]),
               frame->data[2] + row * static_cast<ptrdiff_t>(frame->linesize[2]),
               dst + row * dst_stride, done, frame->width, m, bgr);
  }
}

}  // namespace spdl
