#include "frame_writer.h"

#include <cstring>
#include <stdexcept>
#include <utility>

#include "ffmpeg/error.h"
#include "yuv_to_rgb.h"

extern "C" {
#include <libavutil/mathematics.h>
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

bool is_rgb(AVPixelFormat fmt) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(fmt);
  return desc && (desc->flags & AV_PIX_FMT_FLAG_RGB);
}

// Packed 8-bit RGB, resized by RgbResampler (the channel order does not matter to it).
bool is_rgb24_like(int fmt) { return fmt == AV_PIX_FMT_RGB24 || fmt == AV_PIX_FMT_BGR24; }

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

bool is_gray(AVPixelFormat fmt) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(fmt);
  return desc && desc->nb_components <= 2 && !(desc->flags & AV_PIX_FMT_FLAG_RGB);
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

int sws_flags_from_name(const std::string& name) {
  if (name.empty() || name == "bilinear") return SWS_BILINEAR;
  if (name == "bicubic") return SWS_BICUBIC;
  if (name == "area") return SWS_AREA;
  if (name == "lanczos") return SWS_LANCZOS;
  if (name == "neighbor") return SWS_POINT;
  if (name == "fast_bilinear") return SWS_FAST_BILINEAR;
  throw std::invalid_argument("Unknown scale_algo \"" + name + "\".");
}

AVPixelFormat rgb_resize_format(const OutputFormat& format) {
  const AVPixelFormat fmt = av_get_pix_fmt(format.pix_fmt.c_str());
  const bool resized = (format.width > 0 || format.height > 0) &&
                       sws_flags_from_name(format.scale_algo) == SWS_BILINEAR;
  return resized && is_rgb24_like(fmt) ? fmt : AV_PIX_FMT_NONE;
}

OutputFormat output_for(OutputFormat output, bool still_image) {
  output.still_image = still_image;
  return output;
}

FrameWriter::FrameWriter(OutputFormat format)
    : format_(std::move(format)), flags_(sws_flags_from_name(format_.scale_algo)) {
  if (!format_.pix_fmt.empty() && av_get_pix_fmt(format_.pix_fmt.c_str()) == AV_PIX_FMT_NONE) {
    throw std::invalid_argument("Unknown pix_fmt \"" + format_.pix_fmt + "\".");
  }
}

FrameWriter::~FrameWriter() = default;

void FrameWriter::output_size(const AVFrame* frame, int* width, int* height) const {
  int w = format_.width, h = format_.height;
  // A missing side keeps the aspect ratio, rounded to an even size (like scale=W:-2).
  if (w > 0 && h <= 0) {
    h = static_cast<int>(av_rescale(w, frame->height, frame->width * 2LL) * 2);
  } else if (h > 0 && w <= 0) {
    w = static_cast<int>(av_rescale(h, frame->width, frame->height * 2LL) * 2);
  }
  *width = w > 0 ? w : frame->width;
  *height = h > 0 ? h : frame->height;
}

AVPixelFormat FrameWriter::output_format(const AVFrame* frame) const {
  return format_.pix_fmt.empty() ? static_cast<AVPixelFormat>(frame->format)
                                 : av_get_pix_fmt(format_.pix_fmt.c_str());
}

ImageLayout FrameWriter::layout(const AVFrame* frame) const {
  AVFrame shape{};
  output_size(frame, &shape.width, &shape.height);
  shape.format = output_format(frame);
  return image_layout(&shape);
}

void FrameWriter::write(const AVFrame* frame, uint8_t* dst) {
  int width, height;
  output_size(frame, &width, &height);
  const AVPixelFormat dst_fmt = output_format(frame);
  if (width == frame->width && height == frame->height && dst_fmt == frame->format) {
    AVFrame shape{};
    shape.width = width;
    shape.height = height;
    shape.format = dst_fmt;
    copy_image(dst, image_layout(&shape), frame);
    return;
  }
  ffmpeg::FramePtr rgb;
  if (converts_to_rgb_first(frame, width, height, dst_fmt)) {
    if (!to_rgb_) {
      OutputFormat same_size;
      same_size.pix_fmt = av_get_pix_fmt_name(dst_fmt);
      same_size.interpolate_chroma = true;
      to_rgb_ = std::make_unique<FrameWriter>(same_size);
    }
    rgb = to_rgb_->to_frame(frame);
    frame = rgb.get();
  }
  if (resamples(frame, width, height, dst_fmt)) {
    resampler(frame->width, frame->height, width, height)
        .run(frame->data[0], frame->linesize[0], dst, static_cast<ptrdiff_t>(width) * 3);
    if (dst_fmt != frame->format) {  // rgb24 <-> bgr24: the resize is the same per channel
      for (size_t i = 0, n = static_cast<size_t>(width) * height * 3; i < n; i += 3) {
        std::swap(dst[i], dst[i + 2]);
      }
    }
    return;
  }
  frame = shrink(frame, width, height);
  if (converts_yuv422p_to_rgb(frame, dst_fmt, width, height)) {
    yuv422p_to_rgb(frame, dst_fmt, dst, static_cast<ptrdiff_t>(width) * 3);
    return;
  }
  if (!sws_ || frame->width != src_width_ || frame->height != src_height_ ||
      frame->format != src_format_ || frame->colorspace != src_space_ ||
      frame->color_range != src_range_) {
    sws_.reset();
    // An unspecified range means swscale's default, as in FFmpeg's scale filter:
    // full for gray (e.g. gray JPEG and PNG), limited for YUV.
    bool src_full = frame->color_range == AVCOL_RANGE_JPEG ||
                    (frame->color_range == AVCOL_RANGE_UNSPECIFIED &&
                     is_gray(static_cast<AVPixelFormat>(frame->format)));
    const auto src_fmt = strip_jpeg_range(static_cast<AVPixelFormat>(frame->format), &src_full);
    bool dst_full = false;
    const AVPixelFormat out_fmt = strip_jpeg_range(dst_fmt, &dst_full);
    // Ranges are options set before initialisation: swscale picks its unscaled
    // fast paths at init time and would ignore a range set afterwards.
    const bool resize = width != frame->width || height != frame->height;
    dst_full = dst_full || is_rgb(out_fmt) || (is_gray(out_fmt) && src_full);
    sws_.reset(sws_alloc_context());
    if (!sws_) {
      throw std::bad_alloc();
    }
    const std::string context = "Failed to set up the conversion of " + describe_frame(frame);
    ffmpeg::check(av_opt_set_int(sws_.get(), "srcw", frame->width, 0), context);
    ffmpeg::check(av_opt_set_int(sws_.get(), "srch", frame->height, 0), context);
    ffmpeg::check(av_opt_set_int(sws_.get(), "src_format", src_fmt, 0), context);
    ffmpeg::check(av_opt_set_int(sws_.get(), "dstw", width, 0), context);
    ffmpeg::check(av_opt_set_int(sws_.get(), "dsth", height, 0), context);
    ffmpeg::check(av_opt_set_int(sws_.get(), "dst_format", out_fmt, 0), context);
    // Without resizing only chroma is interpolated; bicubic is what FFmpeg's format filter uses.
    const int chroma_flags = format_.interpolate_chroma ? SWS_FULL_CHR_H_INT | SWS_ACCURATE_RND : 0;
    ffmpeg::check(
        av_opt_set_int(sws_.get(), "sws_flags", (resize ? flags_ : SWS_BICUBIC) | chroma_flags, 0),
        context);
    ffmpeg::check(av_opt_set_int(sws_.get(), "src_range", src_full ? 1 : 0, 0), context);
    ffmpeg::check(av_opt_set_int(sws_.get(), "dst_range", dst_full ? 1 : 0, 0), context);
    ffmpeg::check(sws_init_context(sws_.get(), nullptr, nullptr),
                  context + " to " + std::to_string(width) + "x" + std::to_string(height) + " " +
                      av_get_pix_fmt_name(dst_fmt));
    if (frame->colorspace != AVCOL_SPC_UNSPECIFIED) {
      const int* coefficients = sws_getCoefficients(frame->colorspace);
      sws_setColorspaceDetails(sws_.get(), coefficients, src_full ? 1 : 0, coefficients,
                               dst_full ? 1 : 0, 0, 1 << 16, 1 << 16);
    }
    src_width_ = frame->width;
    src_height_ = frame->height;
    src_format_ = frame->format;
    src_space_ = frame->colorspace;
    src_range_ = frame->color_range;
  }
  uint8_t* planes[4] = {nullptr};
  int linesizes[4] = {0};
  ffmpeg::check(av_image_fill_arrays(planes, linesizes, dst, dst_fmt, width, height, 1), [&] {
    return "Failed to lay out a " + std::to_string(width) + "x" + std::to_string(height) + " frame";
  });
  const int rows =
      sws_scale(sws_.get(), frame->data, frame->linesize, 0, frame->height, planes, linesizes);
  if (rows <= 0) {
    throw MediaError("Failed to convert a " + describe_frame(frame) + " frame.");
  }
}

bool FrameWriter::converts_to_rgb_first(const AVFrame* frame, int width, int height,
                                        AVPixelFormat dst_fmt) const {
  return format_.still_image && flags_ == SWS_BILINEAR && is_rgb24_like(dst_fmt) &&
         !is_rgb24_like(frame->format) && (width != frame->width || height != frame->height);
}

bool FrameWriter::resamples(const AVFrame* frame, int width, int height,
                            AVPixelFormat dst_fmt) const {
  return flags_ == SWS_BILINEAR && is_rgb24_like(frame->format) && is_rgb24_like(dst_fmt) &&
         (width != frame->width || height != frame->height);
}

void FrameWriter::write_exact(const AVFrame* frame, uint8_t* dst) {
  int width, height;
  output_size(frame, &width, &height);
  if (resamples(frame, width, height, output_format(frame))) {
    write(frame, dst);  // the resampler writes exactly the image's bytes
    return;
  }
  const size_t bytes = layout(frame).bytes;
  // Room for the converters' overshoot past the last row.
  scratch_.resize(bytes + 256);
  write(frame, scratch_.data());
  std::memcpy(dst, scratch_.data(), bytes);
}

// swscale scales every input row horizontally before it filters vertically, so
// when a frame loses most of its rows (720p video to 224 rows) most of that work is
// thrown away, and its horizontal filter takes a slow generic path when it has as
// many taps as a large downscale needs: 720p yuv420p to 224x224 rgb24 costs 0.65 ms.
// Filtering the rows first, then the columns, with the same bilinear filter and
// alignment as swscale (chroma centred), leaves a 4:2:2 frame of the output's size,
// which yuv_to_rgb converts exactly: 0.18 ms in all. (Against swscale's bilinear
// scale in YUV, only the 8-bit rounding between the passes differs.)
const AVFrame* FrameWriter::shrink(const AVFrame* frame, int width, int height) {
  if (flags_ != SWS_BILINEAR || rows_shrunk_format(frame->format) == AV_PIX_FMT_NONE) {
    return frame;
  }
  if (height < frame->height) {
    frame = shrink_rows(frame, height);
  }
  // 4:2:0 keeps its columns: swscale's unscaled yuv420p conversion, which would
  // take the narrowed frame, repeats chroma rows instead of interpolating them.
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
  if (width < frame->width && desc->log2_chroma_h == 0) {
    frame = shrink_columns(frame, width);
  }
  return frame;
}

const AVFrame* FrameWriter::shrink_rows(const AVFrame* frame, int height) {
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

const AVFrame* FrameWriter::shrink_columns(const AVFrame* frame, int width) {
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

RgbResampler& FrameWriter::resampler(int src_w, int src_h, int dst_w, int dst_h) {
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

ffmpeg::FramePtr FrameWriter::to_frame(const AVFrame* frame) {
  AVFrame shape{};
  output_size(frame, &shape.width, &shape.height);
  shape.format = output_format(frame);
  const size_t bytes = image_layout(&shape).bytes;
  auto out = ffmpeg::alloc_frame();
  ffmpeg::check(av_frame_copy_props(out.get(), frame), "Failed to copy frame properties");
  out->width = shape.width;
  out->height = shape.height;
  out->format = shape.format;
  // One contiguous buffer laid out as write() lays out its output.
  out->buf[0] = av_buffer_alloc(bytes + 256);  // room for the converters' overshoot
  if (!out->buf[0]) {
    throw std::bad_alloc();
  }
  ffmpeg::check(
      av_image_fill_arrays(out->data, out->linesize, out->buf[0]->data,
                           static_cast<AVPixelFormat>(shape.format), shape.width, shape.height, 1),
      [&] { return "Failed to lay out a " + describe_frame(&shape) + " frame"; });
  write(frame, out->data[0]);
  if (is_rgb(static_cast<AVPixelFormat>(shape.format))) {
    out->colorspace = AVCOL_SPC_RGB;
    out->color_range = AVCOL_RANGE_JPEG;
  }
  return out;
}

}  // namespace spdl
