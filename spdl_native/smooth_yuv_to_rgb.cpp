#include "smooth_yuv_to_rgb.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "simd.h"

extern "C" {
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace spdl {
namespace {

// R = (y * luma + v * cr) >> 16, G = (y * luma - u * cgu - v * cgv) >> 16,
// B = (y * luma + u * cb) >> 16, rounded, with y = Y - luma_offset, u = U - 128,
// v = V - 128, in 16.16 fixed point: for full range, libjpeg's ycc_rgb_convert
// exactly.
struct Matrix16 {
  int32_t luma_offset, luma, cr, cgu, cgv, cb;
};

bool is_full_range_format(int format) {
  return format == AV_PIX_FMT_YUVJ420P || format == AV_PIX_FMT_YUVJ422P;
}

Matrix16 matrix_of(const AVFrame* frame) {
  // swscale's table (16.16, limited-range chroma stretch included), as yuv_to_rgb.cpp.
  const int space = frame->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : frame->colorspace;
  const int* c = sws_getCoefficients(space);
  const bool full = frame->color_range == AVCOL_RANGE_JPEG || is_full_range_format(frame->format);
  const double chroma = full ? 224.0 / 255.0 : 1.0;
  auto fixed = [](double weight) { return static_cast<int32_t>(std::lround(weight)); };
  return Matrix16{full ? 0 : 16,        fixed(full ? 65536.0 : 65536.0 * 255.0 / 219.0),
                  fixed(c[0] * chroma), fixed(c[2] * chroma),
                  fixed(c[3] * chroma), fixed(c[1] * chroma)};
}

// Where R, G, B and alpha (-1: none) go in a pixel of a packed RGB format.
struct Channels {
  int count, r, g, b, a;
};

// The packed 8-bit RGB formats written; count 0 for the others.
Channels channels_of(AVPixelFormat format) {
  switch (format) {
    case AV_PIX_FMT_RGB24:
      return {3, 0, 1, 2, -1};
    case AV_PIX_FMT_BGR24:
      return {3, 2, 1, 0, -1};
    case AV_PIX_FMT_RGBA:
      return {4, 0, 1, 2, 3};
    case AV_PIX_FMT_BGRA:
      return {4, 2, 1, 0, 3};
    case AV_PIX_FMT_ARGB:
      return {4, 1, 2, 3, 0};
    case AV_PIX_FMT_ABGR:
      return {4, 3, 2, 1, 0};
    default:
      return {0, 0, 0, 0, -1};
  }
}

// What one image's conversion reads and writes; the rows are scratch.
struct Job {
  const AVFrame* frame;
  Matrix16 m;
  Channels channels;
  bool vertical;  // 4:2:0: chroma rows are interpolated too
  // As libjpeg (JPEG's full range): not when chroma is 2 samples wide or less (then
  // repeated); libwebp (limited range) has no such rule.
  bool fancy;
  uint8_t* dst;
  int16_t* sums;               // chroma_width
  uint8_t *u, *v, *r, *g, *b;  // 2 * chroma_width
};

[[gnu::always_inline]] inline uint8_t to_byte(int32_t sum) {
  const int32_t value = sum >> 16;
  return static_cast<uint8_t>(value < 0 ? 0 : value > 255 ? 255 : value);
}

// One row of full-width chroma from rows `near` and `far` of a chroma plane: each
// sample is 3/4 of its own column and 1/4 of its neighbour's, and for 4:2:0 3/4 of
// the nearer row and 1/4 of the farther, the edges repeated, with libjpeg's
// alternating rounding (h2v2: 8 then 7 over 16; h2v1, whose sums are 4 times the
// row here: 1 then 2 over 4). Without `fancy`, each sample of row `near` is repeated.
[[gnu::always_inline]] inline void upsample_row(const uint8_t* __restrict near,
                                                const uint8_t* __restrict far, int chroma_width,
                                                bool vertical, bool fancy, int16_t* __restrict sums,
                                                uint8_t* __restrict out) {
  if (!fancy) {
    for (int i = 0; i < chroma_width; ++i) {
      out[2 * i] = out[2 * i + 1] = near[i];
    }
    return;
  }
  const int near_weight = vertical ? 3 : 4, far_weight = vertical ? 1 : 0;
  for (int i = 0; i < chroma_width; ++i) {
    sums[i] = static_cast<int16_t>(near_weight * near[i] + far_weight * far[i]);
  }
  const int even_bias = vertical ? 8 : 4, odd_bias = vertical ? 7 : 8;
  const int last = chroma_width - 1;
  out[0] = static_cast<uint8_t>((4 * sums[0] + even_bias) >> 4);
  for (int i = 0; i < last; ++i) {
    out[2 * i + 1] = static_cast<uint8_t>((3 * sums[i] + sums[i + 1] + odd_bias) >> 4);
    out[2 * i + 2] = static_cast<uint8_t>((3 * sums[i + 1] + sums[i] + even_bias) >> 4);
  }
  out[2 * last + 1] = static_cast<uint8_t>((4 * sums[last] + odd_bias) >> 4);
}

// Planar R, G, B first (a loop compilers vectorise), then packed.
[[gnu::always_inline]] inline void convert_row(const uint8_t* __restrict y_row,
                                               const uint8_t* __restrict a_row, const Job& job,
                                               uint8_t* __restrict out) {
  const Matrix16 m = job.m;
  const int width = job.frame->width;
  uint8_t* __restrict r = job.r;
  uint8_t* __restrict g = job.g;
  uint8_t* __restrict b = job.b;
  const uint8_t* __restrict u = job.u;
  const uint8_t* __restrict v = job.v;
  for (int x = 0; x < width; ++x) {
    const int32_t y = (y_row[x] - m.luma_offset) * m.luma + (1 << 15);
    const int32_t cu = u[x] - 128, cv = v[x] - 128;
    r[x] = to_byte(y + cv * m.cr);
    g[x] = to_byte(y - cu * m.cgu - cv * m.cgv);
    b[x] = to_byte(y + cu * m.cb);
  }
  const Channels c = job.channels;
  if (c.count == 3) {  // rgb24, bgr24
    const uint8_t* __restrict first = c.r == 0 ? r : b;
    const uint8_t* __restrict third = c.r == 0 ? b : r;
    for (int x = 0; x < width; ++x) {
      out[3 * x] = first[x];
      out[3 * x + 1] = g[x];
      out[3 * x + 2] = third[x];
    }
    return;
  }
  for (int x = 0; x < width; ++x) {
    out[4 * x + c.r] = r[x];
    out[4 * x + c.g] = g[x];
    out[4 * x + c.b] = b[x];
    out[4 * x + c.a] = a_row ? a_row[x] : 255;
  }
}

[[gnu::always_inline]] inline void convert(const Job& job) {
  const AVFrame* frame = job.frame;
  const int width = frame->width, height = frame->height;
  const int chroma_width = (width + 1) / 2;
  const int chroma_height = job.vertical ? (height + 1) / 2 : height;
  for (int row = 0; row < height; ++row) {
    const int near = job.vertical ? row / 2 : row;
    const int far =
        job.vertical ? std::clamp(row % 2 ? near + 1 : near - 1, 0, chroma_height - 1) : near;
    for (int plane = 1; plane <= 2; ++plane) {
      const ptrdiff_t stride = frame->linesize[plane];
      upsample_row(frame->data[plane] + near * stride, frame->data[plane] + far * stride,
                   chroma_width, job.vertical, job.fancy, job.sums, plane == 1 ? job.u : job.v);
    }
    const uint8_t* alpha = frame->format == AV_PIX_FMT_YUVA420P
                               ? frame->data[3] + row * static_cast<ptrdiff_t>(frame->linesize[3])
                               : nullptr;
    convert_row(frame->data[0] + row * static_cast<ptrdiff_t>(frame->linesize[0]), alpha, job,
                job.dst + row * static_cast<ptrdiff_t>(width) * job.channels.count);
  }
}

// The same source twice: for any x86-64 (or other CPU), and vectorised with AVX2
// where the CPU has it; integer arithmetic, so both give the same bytes.
void convert_default(const Job& job) { convert(job); }
#ifdef SPDL_AVX2
__attribute__((target("avx2"))) void convert_avx2(const Job& job) { convert(job); }
#endif

bool full_range(const AVFrame* frame) {
  const int f = frame->format;
  return frame->color_range == AVCOL_RANGE_JPEG || f == AV_PIX_FMT_YUVJ420P ||
         f == AV_PIX_FMT_YUVJ422P;
}

}  // namespace

bool SmoothYuvToRgb::takes(const AVFrame* frame, const WriteTarget& target) {
  const int f = frame->format;
  // yuva420p: lossy WebP with alpha (FFmpeg's decoder), its alpha passed through.
  const bool yuv = f == AV_PIX_FMT_YUV420P || f == AV_PIX_FMT_YUVJ420P || f == AV_PIX_FMT_YUV422P ||
                   f == AV_PIX_FMT_YUVJ422P || f == AV_PIX_FMT_YUVA420P;
  return yuv && channels_of(target.format).count && target.width == frame->width &&
         target.height == frame->height;
}

void SmoothYuvToRgb::write(const AVFrame* frame, const WriteTarget& target, uint8_t* dst) {
  const int chroma_width = (frame->width + 1) / 2;
  std::vector<int16_t> sums(chroma_width);
  std::vector<uint8_t> rows(5 * 2 * static_cast<size_t>(chroma_width));
  const size_t row = 2 * static_cast<size_t>(chroma_width);
  Job job{frame,
          matrix_of(frame),
          channels_of(target.format),
          av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format))->log2_chroma_h == 1,
          chroma_width > 2 || !full_range(frame),
          dst,
          sums.data(),
          rows.data(),
          rows.data() + row,
          rows.data() + 2 * row,
          rows.data() + 3 * row,
          rows.data() + 4 * row};
#ifdef SPDL_AVX2
  if (has_avx2()) {
    convert_avx2(job);
    return;
  }
#endif
  convert_default(job);
}

}  // namespace spdl
