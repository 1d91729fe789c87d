#include "frame_writer.h"

#include <cstring>
#include <stdexcept>
#include <utility>

#include "ffmpeg/error.h"
#include "smooth_yuv_to_rgb.h"

extern "C" {
#include <libavutil/mathematics.h>
#include <libswscale/swscale.h>
}

namespace spdl {

int sws_flags_from_name(const std::string& name) {
  if (name.empty() || name == "bilinear") return SWS_BILINEAR;
  if (name == "bicubic") return SWS_BICUBIC;
  if (name == "area") return SWS_AREA;
  if (name == "lanczos") return SWS_LANCZOS;
  if (name == "neighbor") return SWS_POINT;
  if (name == "fast_bilinear") return SWS_FAST_BILINEAR;
  throw std::invalid_argument("Unknown scale_algo \"" + name + "\".");
}

AVPixelFormat rgb_frame_format(const OutputFormat& format) {
  const AVPixelFormat fmt = av_get_pix_fmt(format.pix_fmt.c_str());
  if (format.width <= 0 && format.height <= 0) {
    const bool packed_rgb = is_rgb24_like(fmt) || fmt == AV_PIX_FMT_RGBA || fmt == AV_PIX_FMT_BGRA;
    return format.still_image && packed_rgb ? fmt : AV_PIX_FMT_NONE;
  }
  const bool bilinear = sws_flags_from_name(format.scale_algo) == SWS_BILINEAR;
  return bilinear && is_rgb24_like(fmt) ? fmt : AV_PIX_FMT_NONE;
}

OutputFormat output_for(OutputFormat output, bool still_image) {
  output.still_image = still_image;
  return output;
}

FrameWriter::FrameWriter(OutputFormat format)
    : format_(std::move(format)),
      flags_(sws_flags_from_name(format_.scale_algo)),
      // Still images convert chroma interpolated, as libjpeg-turbo and libwebp do:
      // swscale's unscaled 4:2:0 to RGB paths repeat chroma samples (and in
      // FFmpeg 5.1 write garbage into the last columns of some widths, e.g. 66).
      swscale_(flags_, format_.interpolate_chroma || format_.still_image) {
  if (!format_.pix_fmt.empty() && av_get_pix_fmt(format_.pix_fmt.c_str()) == AV_PIX_FMT_NONE) {
    throw std::invalid_argument("Unknown pix_fmt \"" + format_.pix_fmt + "\".");
  }
}

FrameWriter::~FrameWriter() = default;

WriteTarget FrameWriter::target(const AVFrame* frame) const {
  int w = format_.width, h = format_.height;
  // A missing side keeps the aspect ratio, rounded to an even size (like scale=W:-2).
  if (w > 0 && h <= 0) {
    h = static_cast<int>(av_rescale(w, frame->height, frame->width * 2LL) * 2);
  } else if (h > 0 && w <= 0) {
    w = static_cast<int>(av_rescale(h, frame->width, frame->height * 2LL) * 2);
  }
  WriteTarget target;
  target.width = w > 0 ? w : frame->width;
  target.height = h > 0 ? h : frame->height;
  target.format = format_.pix_fmt.empty()
                      ? native_byte_order(static_cast<AVPixelFormat>(frame->format))
                      : av_get_pix_fmt(format_.pix_fmt.c_str());
  return target;
}

FrameWriter::Strategy FrameWriter::choose(const AVFrame* frame, const WriteTarget& target,
                                          PlaneShrink::Shape* shrunk) const {
  const bool resize = target.width != frame->width || target.height != frame->height;
  if (!resize && target.format == frame->format) {
    return Strategy::kCopy;
  }
  if (!resize && (format_.interpolate_chroma || format_.still_image) &&
      SmoothYuvToRgb::takes(frame, target)) {
    return Strategy::kSmoothYuvToRgb;  // swscale's interpolating path is 10x slower
  }
  const bool bilinear = flags_ == SWS_BILINEAR;
  if (bilinear && resize && is_rgb24_like(target.format)) {
    if (is_rgb24_like(frame->format)) {
      return Strategy::kRgbResize;
    }
    if (format_.still_image) {
      return Strategy::kRgbFirst;
    }
  }
  *shrunk = PlaneShrink::plan(frame, target, bilinear);
  return YuvToRgb::takes(*shrunk, target) ? Strategy::kYuvToRgb : Strategy::kSwscale;
}

const ImageLayout& FrameWriter::cached_layout(const AVFrame* frame) {
  if (frame->width != cached_width_ || frame->height != cached_height_ ||
      frame->format != cached_format_) {
    cached_ = layout(frame);
    cached_width_ = frame->width;
    cached_height_ = frame->height;
    cached_format_ = frame->format;
  }
  return cached_;
}

ImageLayout FrameWriter::layout(const AVFrame* frame) const {
  const WriteTarget out = target(frame);
  AVFrame shape{};
  shape.width = out.width;
  shape.height = out.height;
  shape.format = out.format;
  return image_layout(&shape);
}

void FrameWriter::write(const AVFrame* frame, uint8_t* dst) {
  const WriteTarget out = target(frame);
  PlaneShrink::Shape shrunk;
  switch (choose(frame, out, &shrunk)) {
    case Strategy::kCopy:
      CopyWrite::write(frame, out, dst);
      return;
    case Strategy::kRgbResize:
      rgb_resize_.write(frame, out, dst);
      return;
    case Strategy::kRgbFirst: {
      const ffmpeg::FramePtr rgb = rgb_first_.to_rgb(frame, out.format);
      rgb_resize_.write(rgb.get(), out, dst);
      return;
    }
    case Strategy::kSmoothYuvToRgb:
      SmoothYuvToRgb::write(frame, out, dst);
      return;
    case Strategy::kYuvToRgb:
      YuvToRgb::write(shrink_.shrink(frame, shrunk), out, dst);
      return;
    case Strategy::kSwscale:
      swscale_.write(shrink_.shrink(frame, shrunk), out, dst);
      return;
  }
}

void FrameWriter::write_exact(const AVFrame* frame, uint8_t* dst) {
  PlaneShrink::Shape shrunk;
  if (choose(frame, target(frame), &shrunk) == Strategy::kRgbResize) {
    write(frame, dst);  // the resampler writes exactly the image's bytes
    return;
  }
  const size_t bytes = layout(frame).bytes;
  // Room for the converters' overshoot past the last row.
  scratch_.resize(bytes + 256);
  write(frame, scratch_.data());
  std::memcpy(dst, scratch_.data(), bytes);
}

ffmpeg::FramePtr FrameWriter::to_frame(const AVFrame* frame) {
  const WriteTarget out = target(frame);
  AVFrame shape{};
  shape.width = out.width;
  shape.height = out.height;
  shape.format = out.format;
  const size_t bytes = image_layout(&shape).bytes;
  auto result = ffmpeg::alloc_frame();
  ffmpeg::check(av_frame_copy_props(result.get(), frame), "Failed to copy frame properties");
  result->width = shape.width;
  result->height = shape.height;
  result->format = shape.format;
  // One contiguous buffer laid out as write() lays out its output.
  result->buf[0] = av_buffer_alloc(bytes + 256);  // room for the converters' overshoot
  if (!result->buf[0]) {
    throw std::bad_alloc();
  }
  ffmpeg::check(av_image_fill_arrays(result->data, result->linesize, result->buf[0]->data,
                                     out.format, shape.width, shape.height, 1),
                [&] { return "Failed to lay out a " + describe_frame(&shape) + " frame"; });
  write(frame, result->data[0]);
  if (is_rgb(out.format)) {
    result->colorspace = AVCOL_SPC_RGB;
    result->color_range = AVCOL_RANGE_JPEG;
  }
  return result;
}

}  // namespace spdl
