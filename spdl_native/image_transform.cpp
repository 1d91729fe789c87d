#include "image_transform.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "ffmpeg/error.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/mathematics.h>
}

namespace spdl {
namespace {

bool is_chroma_plane(int plane) { return plane == 1 || plane == 2; }  // as imgutils lays them out

// The byte step of one pixel in `plane`, or 0 when its components differ (yuyv422).
int plane_step(const AVPixFmtDescriptor& desc, int plane) {
  int step = 0;
  for (int c = 0; c < desc.nb_components; ++c) {
    if (desc.comp[c].plane != plane) {
      continue;
    }
    if (step && desc.comp[c].step != step) {
      return 0;
    }
    step = desc.comp[c].step;
  }
  return step;
}

template <int kStep>
void reverse_pixels(uint8_t* row, int count, int step = kStep) {
  uint8_t* left = row;
  uint8_t* right = row + static_cast<ptrdiff_t>(count - 1) * step;
  for (; left < right; left += step, right -= step) {
    for (int k = 0; k < (kStep ? kStep : step); ++k) {
      std::swap(left[k], right[k]);
    }
  }
}

void reverse_row(uint8_t* row, int count, int step) {
  switch (step) {
    case 1:
      std::reverse(row, row + count);
      return;
    case 3:
      reverse_pixels<3>(row, count);
      return;
    case 4:
      reverse_pixels<4>(row, count);
      return;
    default:
      reverse_pixels<0>(row, count, step);
  }
}

// A frame that shows `box` of `frame`: the same memory, the data pointers moved
// to the box (`box.left` / `box.top` must be multiples of the chroma subsampling).
// It holds no reference: `frame` must outlive it.
ffmpeg::FramePtr view_of(const AVFrame* frame, const CropBox& box) {
  auto view = ffmpeg::alloc_frame();
  ffmpeg::check(av_frame_copy_props(view.get(), frame), "Failed to copy frame properties");
  const auto format = static_cast<AVPixelFormat>(frame->format);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  view->format = frame->format;
  view->width = box.width;
  view->height = box.height;
  for (int plane = 0; plane < AV_NUM_DATA_POINTERS && frame->data[plane]; ++plane) {
    view->linesize[plane] = frame->linesize[plane];
    if ((desc->flags & AV_PIX_FMT_FLAG_PAL) && plane == 1) {
      view->data[plane] = frame->data[plane];  // the palette, not a plane
      continue;
    }
    const int row = is_chroma_plane(plane) ? box.top >> desc->log2_chroma_h : box.top;
    const int column_bytes = av_image_get_linesize(format, box.left, plane);
    view->data[plane] = frame->data[plane] + static_cast<ptrdiff_t>(row) * frame->linesize[plane] +
                        std::max(column_bytes, 0);
  }
  return view;
}

// `box` grown by two chroma samples on each side (within the frame), starting on a
// chroma sample; the whole frame where that leaves two chroma columns or fewer
// (SmoothYuvToRgb repeats such chroma instead of interpolating it).
CropBox with_margin(const AVFrame* frame, const CropBox& box, const AVPixFmtDescriptor& desc) {
  const int step_w = 1 << desc.log2_chroma_w, step_h = 1 << desc.log2_chroma_h;
  const int left = std::max(0, box.left - 2 * step_w) & ~(step_w - 1);
  const int top = std::max(0, box.top - 2 * step_h) & ~(step_h - 1);
  const int right = std::min(frame->width, box.left + box.width + 2 * step_w);
  const int bottom = std::min(frame->height, box.top + box.height + 2 * step_h);
  if (AV_CEIL_RSHIFT(right - left, desc.log2_chroma_w) <= 2) {
    return {0, 0, frame->width, frame->height};
  }
  return {left, top, right - left, bottom - top};
}

// The output size FrameWriter gives a `width` x `height` frame (a missing side
// keeps the aspect ratio, rounded to an even size, like scale=W:-2).
std::pair<int, int> output_size(const OutputFormat& output, int width, int height) {
  int w = output.width, h = output.height;
  if (w > 0 && h <= 0) {
    h = static_cast<int>(av_rescale(w, height, width * 2LL) * 2);
  } else if (h > 0 && w <= 0) {
    w = static_cast<int>(av_rescale(h, width, height * 2LL) * 2);
  }
  return {w > 0 ? w : width, h > 0 ? h : height};
}

}  // namespace

bool can_mirror(AVPixelFormat format) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  if (!desc || (desc->flags & (AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL |
                               AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BAYER))) {
    return false;
  }
  for (int plane = 0; plane < av_pix_fmt_count_planes(format); ++plane) {
    if (plane_step(*desc, plane) == 0) {
      return false;
    }
  }
  return true;
}

void mirror_image(uint8_t* data, AVPixelFormat format, int width, int height) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  uint8_t* planes[4] = {nullptr};
  int linesizes[4] = {0};
  ffmpeg::check(av_image_fill_arrays(planes, linesizes, data, format, width, height, 1),
                "Failed to lay out an image to mirror");
  for (int plane = 0; plane < av_pix_fmt_count_planes(format); ++plane) {
    const bool chroma = is_chroma_plane(plane);
    const int columns = chroma ? AV_CEIL_RSHIFT(width, desc->log2_chroma_w) : width;
    const int rows = chroma ? AV_CEIL_RSHIFT(height, desc->log2_chroma_h) : height;
    const int step = plane_step(*desc, plane);
    for (int y = 0; y < rows; ++y) {
      reverse_row(planes[plane] + static_cast<ptrdiff_t>(y) * linesizes[plane], columns, step);
    }
  }
}

TransformWriter::TransformWriter(const OutputFormat& output, bool hflip)
    : output_(output), shape_(output), writer_(std::make_unique<FrameWriter>(output)) {
  if (!output_.pix_fmt.empty()) {
    writer_format_ = av_get_pix_fmt(output_.pix_fmt.c_str());
    if (hflip && !can_mirror(writer_format_)) {
      throw std::invalid_argument("hflip cannot mirror images of pix_fmt \"" + output_.pix_fmt +
                                  "\".");
    }
  }
}

TransformWriter::~TransformWriter() = default;

ImageLayout TransformWriter::layout(const AVFrame* frame, const CropBox& box) const {
  AVFrame shape{};
  shape.width = box.width;
  shape.height = box.height;
  shape.format = native_byte_order(static_cast<AVPixelFormat>(frame->format));
  return shape_.layout(&shape);
}

FrameWriter& TransformWriter::writer_for(const AVFrame* frame) {
  const AVPixelFormat format = native_byte_order(static_cast<AVPixelFormat>(frame->format));
  if (output_.pix_fmt.empty() && format != writer_format_) {
    // The output keeps each frame's format; the writer is told it explicitly, so
    // that a frame converted on the way (full_chroma) still comes out in it.
    OutputFormat keep = output_;
    keep.pix_fmt = av_get_pix_fmt_name(format);
    writer_ = std::make_unique<FrameWriter>(keep);
    writer_format_ = format;
  }
  return *writer_;
}

const AVFrame* TransformWriter::full_chroma(const AVFrame* view) {
  const auto format = static_cast<AVPixelFormat>(view->format);
  const AVPixFmtDescriptor* out_desc = av_pix_fmt_desc_get(writer_format_);
  // RGB outputs are resized in RGB anyway (FrameWriter converts still images at
  // their size first); other outputs keep YUV, and JPEG's full range.
  AVPixelFormat target = AV_PIX_FMT_RGB24;
  if (!(out_desc->flags & AV_PIX_FMT_FLAG_RGB)) {
    const bool full_range = view->color_range == AVCOL_RANGE_JPEG ||
                            format == AV_PIX_FMT_YUVJ420P || format == AV_PIX_FMT_YUVJ422P ||
                            format == AV_PIX_FMT_YUVJ440P || format == AV_PIX_FMT_YUVJ411P;
    target = full_range ? AV_PIX_FMT_YUVJ444P : AV_PIX_FMT_YUV444P;
  }
  if (!to_full_chroma_ || target != full_chroma_format_) {
    OutputFormat same_size;
    same_size.pix_fmt = av_get_pix_fmt_name(target);
    same_size.interpolate_chroma = true;
    to_full_chroma_ = std::make_unique<FrameWriter>(same_size);
    full_chroma_format_ = target;
  }
  converted_ = to_full_chroma_->to_frame(view);
  return converted_.get();
}

void TransformWriter::write(const AVFrame* frame, const CropBox& box, bool hflip, uint8_t* dst,
                            bool exact) {
  FrameWriter& writer = writer_for(frame);
  const auto format = static_cast<AVPixelFormat>(frame->format);
  if (hflip && !can_mirror(writer_format_)) {
    throw std::invalid_argument(std::string("hflip cannot mirror images of pix_fmt \"") +
                                av_get_pix_fmt_name(writer_format_) + "\".");
  }
  if (box.left < 0 || box.top < 0 || box.width <= 0 || box.height <= 0 ||
      box.left + box.width > frame->width || box.top + box.height > frame->height) {
    throw std::logic_error("A crop box outside its frame reached the writer.");
  }
  const AVFrame* source = frame;
  ffmpeg::FramePtr view;
  if (box.width != frame->width || box.height != frame->height) {
    const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
    const int left = box.left & ~((1 << desc->log2_chroma_w) - 1);
    const int top = box.top & ~((1 << desc->log2_chroma_h) - 1);
    const bool by_bits = desc->flags & AV_PIX_FMT_FLAG_BITSTREAM;
    const bool subsampled = desc->log2_chroma_w > 0 || desc->log2_chroma_h > 0;
    const AVPixFmtDescriptor* out_desc = av_pix_fmt_desc_get(writer_format_);
    if (subsampled && !by_bits && (out_desc->flags & AV_PIX_FMT_FLAG_RGB)) {
      // Into RGB the box is converted with two chroma samples around it: the chroma
      // at its edges is then interpolated from the samples outside it, as a decode of
      // the region (the native batch) and a crop of the whole decode (load_image)
      // give it. (Converting the whole image cost 4x for a small box of a photo.)
      const CropBox region = with_margin(frame, box, *desc);
      const AVFrame* converted = full_chroma(view_of(frame, region).get());
      view =
          view_of(converted, {box.left - region.left, box.top - region.top, box.width, box.height});
    } else if (left == box.left && top == box.top && !by_bits) {
      view = view_of(frame, box);
    } else {
      // Chroma samples cannot start mid-pair: convert the region that starts at
      // the pair (or the whole of a bit-packed frame) to full chroma, then crop.
      const CropBox aligned =
          by_bits ? CropBox{0, 0, frame->width, frame->height}
                  : CropBox{left, top, box.left + box.width - left, box.top + box.height - top};
      const AVFrame* converted = full_chroma(by_bits ? frame : view_of(frame, aligned).get());
      view = view_of(converted,
                     {box.left - aligned.left, box.top - aligned.top, box.width, box.height});
    }
    source = view.get();
  }
  if (exact) {
    writer.write_exact(source, dst);
  } else {
    writer.write(source, dst);
  }
  if (hflip) {
    const auto [width, height] = output_size(output_, box.width, box.height);
    mirror_image(dst, writer_format_, width, height);
  }
}

}  // namespace spdl
