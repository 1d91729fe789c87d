#include "write_strategies.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "convert.h"
#include "ffmpeg/error.h"
#include "frame_writer.h"
#include "yuv_to_rgb.h"

extern "C" {
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
}

namespace spdl {
namespace {

// FFmpeg's deprecated full-range "yuvj" formats; swscale wants the plain format plus a range.
AVPixelFormat strip_jpeg_range(AVPixelFormat fmt, bool* full_range) {
  switch (fmt) {
    case AV_PIX_FMT_YUVJ420P:
      *full_range = true;
      return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P:
      *full_range = true;
      return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P:
      *full_range = true;
      return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P:
      *full_range = true;
      return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P:
      *full_range = true;
      return AV_PIX_FMT_YUV411P;
    default:
      return fmt;
  }
}

bool is_gray(AVPixelFormat fmt) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(fmt);
  return desc && desc->nb_components <= 2 && !(desc->flags & AV_PIX_FMT_FLAG_RGB);
}

// The format of a planar 8-bit frame once its rows are shrunk, its chroma as tall
// as its luma (so that swscale filters no row again); NONE: not shrunk natively.
AVPixelFormat rows_shrunk_format(int fmt) {
  switch (fmt) {
    case AV_PIX_FMT_YUV420P:
    case AV_PIX_FMT_YUV422P:
      return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
      return AV_PIX_FMT_YUVJ422P;
    case AV_PIX_FMT_YUV444P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_GRAY8:
      return static_cast<AVPixelFormat>(fmt);
    default:
      return AV_PIX_FMT_NONE;
  }
}

// `*held`, replaced unless it already resizes `in` samples into `out` (bilinear).
template <typename Resampler>
const Resampler& bilinear(std::unique_ptr<Resampler>* held, int in, int out) {
  if (!*held || !(*held)->matches(in, out)) {
    *held = std::make_unique<Resampler>(in, out, ResampleFilter::kTriangle);
  }
  return **held;
}

// `*cached`, (re)allocated unless it has this size and format already, with the
// colour properties of `like`: the output of a native shrinking pass.
AVFrame* reuse_frame(ffmpeg::FramePtr* cached, int width, int height, AVPixelFormat format,
                     const AVFrame* like) {
  AVFrame* frame = cached->get();
  if (!frame || frame->width != width || frame->height != height || frame->format != format) {
    *cached = ffmpeg::alloc_frame();
    frame = cached->get();
    frame->width = width;
    frame->height = height;
    frame->format = format;
    ffmpeg::check(av_frame_get_buffer(frame, 0),
                  "Failed to allocate a " + describe_frame(frame) + " frame");
  }
  frame->color_range = like->color_range;
  frame->colorspace = like->colorspace;
  frame->color_primaries = like->color_primaries;
  frame->color_trc = like->color_trc;
  frame->chroma_location = like->chroma_location;
  return frame;
}

}  // namespace

bool is_rgb24_like(int format) { return format == AV_PIX_FMT_RGB24 || format == AV_PIX_FMT_BGR24; }

bool is_rgb(AVPixelFormat format) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  return desc && (desc->flags & AV_PIX_FMT_FLAG_RGB);
}

void CopyWrite::write(const AVFrame* frame, const WriteTarget& target, uint8_t* dst) {
  AVFrame shape{};
  shape.width = target.width;
  shape.height = target.height;
  shape.format = target.format;
  copy_image(dst, image_layout(&shape), frame);
}

void RgbResize::write(const AVFrame* frame, const WriteTarget& target, uint8_t* dst) {
  const int width = target.width, height = target.height;
  resampler(frame->width, frame->height, width, height)
      .run(frame->data[0], frame->linesize[0], dst, static_cast<ptrdiff_t>(width) * 3);
  if (target.format != frame->format) {  // rgb24 <-> bgr24: the resize is the same per channel
    for (size_t i = 0, n = static_cast<size_t>(width) * height * 3; i < n; i += 3) {
      std::swap(dst[i], dst[i + 2]);
    }
  }
}

RgbResampler& RgbResize::resampler(int src_w, int src_h, int dst_w, int dst_h) {
  constexpr size_t kKept = 8;
  for (auto& kept : resamplers_) {
    if (kept->matches(src_w, src_h, dst_w, dst_h)) {
      return *kept;
    }
  }
  if (resamplers_.size() == kKept) {
    resamplers_.erase(resamplers_.begin());  // the oldest
  }
  resamplers_.push_back(std::make_unique<RgbResampler>(src_w, src_h, dst_w, dst_h));
  return *resamplers_.back();
}

RgbFirst::~RgbFirst() = default;

ffmpeg::FramePtr RgbFirst::to_rgb(const AVFrame* frame, AVPixelFormat rgb) {
  if (!converter_) {
    OutputFormat same_size;
    same_size.pix_fmt = av_get_pix_fmt_name(rgb);
    same_size.interpolate_chroma = true;
    converter_ = std::make_unique<FrameWriter>(same_size);
  }
  return converter_->to_frame(frame);
}

PlaneShrink::Shape PlaneShrink::plan(const AVFrame* frame, const WriteTarget& target,
                                     bool bilinear) {
  Shape shape;
  shape.format = static_cast<AVPixelFormat>(frame->format);
  shape.width = frame->width;
  shape.height = frame->height;
  if (!bilinear || rows_shrunk_format(frame->format) == AV_PIX_FMT_NONE) {
    return shape;
  }
  if (target.height < frame->height) {
    shape.format = rows_shrunk_format(frame->format);
    shape.height = target.height;
    shape.rows = true;
  }
  // 4:2:0 keeps its columns: swscale's unscaled yuv420p conversion, which would
  // take the narrowed frame, repeats chroma rows instead of interpolating them.
  if (target.width < shape.width && av_pix_fmt_desc_get(shape.format)->log2_chroma_h == 0) {
    shape.width = target.width;
    shape.columns = true;
  }
  return shape;
}

const AVFrame* PlaneShrink::shrink(const AVFrame* frame, const Shape& shape) {
  if (shape.rows) {
    frame = shrink_rows(frame, shape.height);
  }
  if (shape.columns) {
    frame = shrink_columns(frame, shape.width);
  }
  return frame;
}

const AVFrame* PlaneShrink::shrink_rows(const AVFrame* frame, int height) {
  AVFrame* out =
      reuse_frame(&shrunk_rows_, frame->width, height, rows_shrunk_format(frame->format), frame);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
  const int chroma_height = AV_CEIL_RSHIFT(frame->height, desc->log2_chroma_h);
  const RowResampler& luma = bilinear(&luma_rows_, frame->height, height);
  const RowResampler& chroma = bilinear(&chroma_rows_, chroma_height, height);
  for (int plane = 0; plane < desc->nb_components; ++plane) {
    const int width = plane ? AV_CEIL_RSHIFT(frame->width, desc->log2_chroma_w) : frame->width;
    (plane ? chroma : luma)
        .run(frame->data[plane], frame->linesize[plane], out->data[plane], out->linesize[plane],
             width);
  }
  return out;
}

const AVFrame* PlaneShrink::shrink_columns(const AVFrame* frame, int width) {
  AVFrame* out = reuse_frame(&shrunk_columns_, width, frame->height,
                             static_cast<AVPixelFormat>(frame->format), frame);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
  const int chroma_src = AV_CEIL_RSHIFT(frame->width, desc->log2_chroma_w);
  const int chroma_dst = AV_CEIL_RSHIFT(width, desc->log2_chroma_w);
  const ColumnResampler& luma = bilinear(&luma_columns_, frame->width, width);
  const ColumnResampler& chroma = bilinear(&chroma_columns_, chroma_src, chroma_dst);
  for (int plane = 0; plane < desc->nb_components; ++plane) {
    const int rows = plane ? AV_CEIL_RSHIFT(frame->height, desc->log2_chroma_h) : frame->height;
    (plane ? chroma : luma)
        .run(frame->data[plane], frame->linesize[plane], out->data[plane], out->linesize[plane],
             rows);
  }
  return out;
}

bool YuvToRgb::takes(const PlaneShrink::Shape& frame, const WriteTarget& target) {
  return converts_yuv422p_to_rgb(frame.format, target.format) && frame.width == target.width &&
         frame.height == target.height;
}

void YuvToRgb::write(const AVFrame* frame, const WriteTarget& target, uint8_t* dst) {
  yuv422p_to_rgb(frame, target.format, dst, static_cast<ptrdiff_t>(target.width) * 3);
}

Swscale::Swscale(int flags, bool interpolate_chroma)
    : flags_(flags), interpolate_chroma_(interpolate_chroma) {}

void Swscale::write(const AVFrame* frame, const WriteTarget& target, uint8_t* dst) {
  if (!sws_ || frame->width != src_width_ || frame->height != src_height_ ||
      frame->format != src_format_ || frame->colorspace != src_space_ ||
      frame->color_range != src_range_ || target.width != target_.width ||
      target.height != target_.height || target.format != target_.format) {
    configure(frame, target);
  }
  const int width = target.width, height = target.height;
  uint8_t* planes[4] = {nullptr};
  int linesizes[4] = {0};
  ffmpeg::check(av_image_fill_arrays(planes, linesizes, dst, target.format, width, height, 1), [&] {
    return "Failed to lay out a " + std::to_string(width) + "x" + std::to_string(height) + " frame";
  });
  uint8_t* const out = planes[0];
  const int row_bytes = linesizes[0];
  if (padded_rows_) {
    // Room for the whole last group of 16 pixels (swscale's widest), 64-byte aligned.
    linesizes[0] = FFALIGN(FFALIGN(width, 16) * (row_bytes / width), 64);
    padded_.resize(static_cast<size_t>(linesizes[0]) * height + 64);
    planes[0] = padded_.data();
  }
  const int rows =
      sws_scale(sws_.get(), frame->data, frame->linesize, 0, frame->height, planes, linesizes);
  if (rows <= 0) {
    throw MediaError("Failed to convert a " + describe_frame(frame) + " frame.");
  }
  if (padded_rows_) {
    for (int y = 0; y < height; ++y) {
      std::memcpy(out + static_cast<ptrdiff_t>(y) * row_bytes,
                  planes[0] + static_cast<ptrdiff_t>(y) * linesizes[0], row_bytes);
    }
  }
  if (gray16_scale_ > 0) {
    auto* values = reinterpret_cast<uint16_t*>(out);
    for (size_t i = 0, n = static_cast<size_t>(width) * height; i < n; ++i) {
      const double full = (values[i] - gray16_black_) * gray16_scale_ + 0.5;
      values[i] = static_cast<uint16_t>(std::clamp(full, 0.0, 65535.0));
    }
  }
}

void Swscale::configure(const AVFrame* frame, const WriteTarget& target) {
  const int width = target.width, height = target.height;
  // An unspecified range means swscale's default, as in FFmpeg's scale filter:
  // full for gray (e.g. gray JPEG and PNG), limited for YUV.
  bool src_full = frame->color_range == AVCOL_RANGE_JPEG ||
                  (frame->color_range == AVCOL_RANGE_UNSPECIFIED &&
                   is_gray(static_cast<AVPixelFormat>(frame->format)));
  const auto src_fmt = strip_jpeg_range(static_cast<AVPixelFormat>(frame->format), &src_full);
  bool dst_full = false;
  const AVPixelFormat out_fmt = strip_jpeg_range(target.format, &dst_full);
  // Ranges are options set before initialisation: swscale picks its unscaled
  // fast paths at init time and would ignore a range set afterwards.
  const bool resize = width != frame->width || height != frame->height;
  dst_full = dst_full || is_rgb(out_fmt) || (is_gray(out_fmt) && src_full);
  // swscale 5.1 writes 16-bit gray from YUV and RGB to 255/256 of the full range
  // (white 65277, not 65535). Limited-range luma is taken as it is instead (no range
  // change: N-bit luma times 65535 / (2^N - 1)) and write() expands it; gray from RGB
  // (and palette) is stretched by 65535 / 65280 (within 4 of FFmpeg 8's).
  gray16_black_ = 0;
  gray16_scale_ = 0;
  if (out_fmt == AV_PIX_FMT_GRAY16LE && (is_rgb(src_fmt) || src_fmt == AV_PIX_FMT_PAL8)) {
    gray16_scale_ = 65535.0 / 65280.0;
  } else if (out_fmt == AV_PIX_FMT_GRAY16LE && !src_full && !is_gray(src_fmt)) {
    const int depth = av_pix_fmt_desc_get(src_fmt)->comp[0].depth;
    const double top = static_cast<double>((1 << depth) - 1);
    const double step = static_cast<double>(1 << (depth - 8));
    gray16_black_ = 16 * step * 65535 / top;  // black: 16 << (depth - 8)
    gray16_scale_ = top / (219 * step);       // white: 235 << (depth - 8)
    src_full = dst_full = true;
  }
  // Kept only once configured: a failure leaves no half-configured context behind.
  sws_.reset();
  ffmpeg::SwsContextPtr configured(sws_alloc_context());
  if (!configured) {
    throw std::bad_alloc();
  }
  SwsContext* sws = configured.get();
  const std::string context = "Failed to set up the conversion of " + describe_frame(frame);
  ffmpeg::check(av_opt_set_int(sws, "srcw", frame->width, 0), context);
  ffmpeg::check(av_opt_set_int(sws, "srch", frame->height, 0), context);
  ffmpeg::check(av_opt_set_int(sws, "src_format", src_fmt, 0), context);
  ffmpeg::check(av_opt_set_int(sws, "dstw", width, 0), context);
  ffmpeg::check(av_opt_set_int(sws, "dsth", height, 0), context);
  ffmpeg::check(av_opt_set_int(sws, "dst_format", out_fmt, 0), context);
  // Without resizing only chroma is interpolated; bicubic is what FFmpeg's format filter uses.
  const int chroma_flags = interpolate_chroma_ ? SWS_FULL_CHR_H_INT | SWS_ACCURATE_RND : 0;
  ffmpeg::check(av_opt_set_int(sws, "sws_flags", (resize ? flags_ : SWS_BICUBIC) | chroma_flags, 0),
                context);
  ffmpeg::check(av_opt_set_int(sws, "src_range", src_full ? 1 : 0, 0), context);
  ffmpeg::check(av_opt_set_int(sws, "dst_range", dst_full ? 1 : 0, 0), context);
  ffmpeg::check(sws_init_context(sws, nullptr, nullptr), context + " to " + std::to_string(width) +
                                                             "x" + std::to_string(height) + " " +
                                                             av_get_pix_fmt_name(target.format));
  if (frame->colorspace != AVCOL_SPC_UNSPECIFIED) {
    const int* coefficients = sws_getCoefficients(frame->colorspace);
    sws_setColorspaceDetails(sws, coefficients, src_full ? 1 : 0, coefficients, dst_full ? 1 : 0, 0,
                             1 << 16, 1 << 16);
  }
  // The unscaled YUV -> packed RGB fast path's conditions (swscale_unscaled.c).
  const bool fast_yuv_to_rgb = !resize && !(chroma_flags & SWS_ACCURATE_RND) && height % 2 == 0 &&
                               (src_fmt == AV_PIX_FMT_YUV420P || src_fmt == AV_PIX_FMT_YUV422P ||
                                src_fmt == AV_PIX_FMT_YUVA420P) &&
                               is_rgb(out_fmt) && av_pix_fmt_count_planes(out_fmt) == 1;
  padded_rows_ = fast_yuv_to_rgb && width % 16 != 0;
  sws_ = std::move(configured);
  src_width_ = frame->width;
  src_height_ = frame->height;
  src_format_ = frame->format;
  src_space_ = frame->colorspace;
  src_range_ = frame->color_range;
  target_ = target;
}

}  // namespace spdl
