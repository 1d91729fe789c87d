#include "yuv_to_rgb.h"

#include <cmath>

#include "simd_avx2.h"

extern "C" {
#include <libswscale/swscale.h>
}

namespace spdl {
namespace {

using yuv_to_rgb::kBits;
using yuv_to_rgb::kRound;
using yuv_to_rgb::Matrix;

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

}  // namespace

bool converts_yuv422p_to_rgb(AVPixelFormat src_fmt, AVPixelFormat dst_fmt) {
  return (src_fmt == AV_PIX_FMT_YUV422P || src_fmt == AV_PIX_FMT_YUVJ422P) &&
         (dst_fmt == AV_PIX_FMT_RGB24 || dst_fmt == AV_PIX_FMT_BGR24);
}

void yuv422p_to_rgb(const AVFrame* frame, AVPixelFormat dst_fmt, uint8_t* dst,
                    ptrdiff_t dst_stride) {
  const Matrix m = matrix_of(frame);
  const bool bgr = dst_fmt == AV_PIX_FMT_BGR24;
  int done = 0;
#ifdef SPDL_AVX2
  if (has_avx2()) {
    done = yuv_to_rgb::avx2::yuv422p_rows(frame, dst, dst_stride, m, bgr);
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
