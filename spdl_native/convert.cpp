#include "convert.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ffmpeg/compat.h"

namespace spdl {
namespace {

std::string pix_fmt_name(int format) {
  const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(format));
  return name ? name : "unknown";
}

}  // namespace

std::string describe_frame(const AVFrame* f) {
  return std::to_string(f->width) + "x" + std::to_string(f->height) + " " + pix_fmt_name(f->format);
}

ImageLayout image_layout(const AVFrame* f) {
  const auto fmt = static_cast<AVPixelFormat>(f->format);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(fmt);
  if (!desc ||
      (desc->flags & (AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_PAL))) {
    throw std::invalid_argument("Cannot convert frames of pixel format \"" + pix_fmt_name(fmt) +
                                "\" to a buffer; decode with pix_fmt=\"rgb24\" (or another "
                                "byte-aligned format) instead.");
  }
  const int64_t w = f->width, h = f->height;
  const bool is_float = desc->flags & AV_PIX_FMT_FLAG_FLOAT;
  const int depth = desc->comp[0].depth;
  const DType dtype = is_float ? DType::Float32 : depth > 8 ? DType::UInt16 : DType::UInt8;
  const int64_t item = static_cast<int64_t>(itemsize(dtype));
  const int size = av_image_get_buffer_size(fmt, f->width, f->height, 1);
  if (size < 0) {
    throw std::invalid_argument("Invalid frame size " + describe_frame(f));
  }
  const int planes = av_pix_fmt_count_planes(fmt);
  const int64_t step_w = int64_t{1} << desc->log2_chroma_w;
  const int64_t step_h = int64_t{1} << desc->log2_chroma_h;
  ImageLayout layout{{}, dtype, static_cast<size_t>(size)};
  if (w % step_w || h % step_h) {
    // A row of yuyv422 or a plane of yuv420p would hold part of a chroma sample.
    const auto side = [](int64_t step, const std::string& name) {
      return step == 2 ? "an even " + name : "a " + name + " divisible by " + std::to_string(step);
    };
    std::string need = side(step_w, "width");
    if (step_h > 1) {
      need += " and " + side(step_h, "height");
    }
    throw std::invalid_argument("Cannot lay out a " + describe_frame(f) +
                                " frame: " + pix_fmt_name(fmt) + " needs " + need +
                                ". Resize or use pix_fmt=\"rgb24\".");
  }
  if (planes == 1 && desc->nb_components == 1) {
    layout.shape = {1, h, w};  // gray
  } else if (planes == 1) {
    const int64_t channels = av_get_padded_bits_per_pixel(desc) / 8 / item;  // packed
    layout.shape = {h, w, channels};
  } else if (step_w == 1 && step_h == 1 && planes == desc->nb_components) {
    layout.shape = {planes, h, w};  // planar without subsampling
  } else {
    // Subsampled or interleaved chroma planes are stacked under the luma plane:
    // (1, 1.5H, W) for yuv420p and nv12, (1, 3H, W) for nv24.
    layout.shape = {1, size / item / w, w};
  }
  int64_t elements = 1;
  for (const int64_t side : layout.shape) {
    elements *= side;
  }
  if (elements * item != size) {  // the copy writes `size` bytes: never past the buffer
    throw std::invalid_argument("Cannot lay out a " + describe_frame(f) +
                                " frame as an array; use pix_fmt=\"rgb24\" or another "
                                "byte-aligned format.");
  }
  return layout;
}

bool same_image_format(const AVFrame* a, const AVFrame* b) {
  return a->width == b->width && a->height == b->height && a->format == b->format;
}

AVPixelFormat native_byte_order(AVPixelFormat format) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  if (!desc || !(desc->flags & AV_PIX_FMT_FLAG_BE)) {
    return format;
  }
  const AVPixelFormat swapped = av_pix_fmt_swap_endianness(format);
  return swapped == AV_PIX_FMT_NONE ? format : swapped;
}

void copy_image(uint8_t* dst, const ImageLayout& layout, const AVFrame* f) {
  const auto format = static_cast<AVPixelFormat>(f->format);
  int ret = av_image_copy_to_buffer(dst, static_cast<int>(layout.bytes), f->data, f->linesize,
                                    format, f->width, f->height, 1);
  if (ret < 0) {
    throw std::runtime_error("Failed to copy a " + describe_frame(f) + " frame.");
  }
  // The dtype is little-endian: a big-endian frame (a 16-bit PNG is rgb48be) is
  // swapped to it, element by element.
  const size_t item = itemsize(layout.dtype);
  if (item > 1 && native_byte_order(format) != format) {
    for (uint8_t* element = dst; element + item <= dst + layout.bytes; element += item) {
      std::reverse(element, element + item);
    }
  }
}

namespace {

std::unique_ptr<CPUBuffer> convert_images(Frames& frames, bool batch_dim) {
  const AVFrame* first = frames.frames.front().get();
  const ImageLayout layout = image_layout(first);
  std::vector<int64_t> shape = layout.shape;
  if (batch_dim) {
    shape.insert(shape.begin(), static_cast<int64_t>(frames.frames.size()));
  }
  auto buffer = std::make_unique<CPUBuffer>(shape, layout.dtype);
  uint8_t* dst = buffer->data();
  for (size_t i = 0; i < frames.frames.size(); ++i) {
    auto& frame = frames.frames[i];
    copy_image(dst, layout, frame.get());
    dst += layout.bytes;
    if (i) {
      frame.reset();  // the first frame describes the layout until the end
    }
  }
  return buffer;
}

std::unique_ptr<CPUBuffer> convert_audio(Frames& frames) {
  const AVFrame* first = frames.frames.front().get();
  const auto fmt = static_cast<AVSampleFormat>(first->format);
  const int64_t channels = first->ch_layout.nb_channels;
  const int64_t samples = frames.num_samples();
  const bool planar = av_sample_fmt_is_planar(fmt);
  const DType dtype = sample_dtype(fmt);
  const size_t item = itemsize(dtype);
  auto buffer = std::make_unique<CPUBuffer>(
      planar ? std::vector<int64_t>{channels, samples} : std::vector<int64_t>{samples, channels},
      dtype);
  int64_t offset = 0;  // in samples
  for (auto& frame : frames.frames) {
    copy_samples(frame.get(), buffer->data(), samples * item, offset);
    offset += frame->nb_samples;
    frame.reset();
  }
  return buffer;
}

}  // namespace

void copy_samples(const AVFrame* frame, uint8_t* dst, size_t row_bytes, int64_t offset) {
  const auto fmt = static_cast<AVSampleFormat>(frame->format);
  const size_t item = static_cast<size_t>(av_get_bytes_per_sample(fmt));
  const size_t channels = static_cast<size_t>(frame->ch_layout.nb_channels);
  const size_t n = static_cast<size_t>(frame->nb_samples);
  const size_t start = static_cast<size_t>(offset);
  if (av_sample_fmt_is_planar(fmt)) {
    for (size_t c = 0; c < channels; ++c) {
      std::memcpy(dst + c * row_bytes + start * item, frame->extended_data[c], n * item);
    }
  } else {
    std::memcpy(dst + start * channels * item, frame->data[0], n * channels * item);
  }
}

DType sample_dtype(AVSampleFormat fmt) {
  switch (av_get_packed_sample_fmt(fmt)) {
    case AV_SAMPLE_FMT_U8:
      return DType::UInt8;
    case AV_SAMPLE_FMT_S16:
      return DType::Int16;
    case AV_SAMPLE_FMT_S32:
      return DType::Int32;
    case AV_SAMPLE_FMT_S64:
      return DType::Int64;
    case AV_SAMPLE_FMT_FLT:
      return DType::Float32;
    case AV_SAMPLE_FMT_DBL:
      return DType::Float64;
    default:
      throw std::invalid_argument("Unsupported sample format");
  }
}

void check_convertible(const Frames& frames) {
  frames.ensure_valid();
  if (frames.frames.empty()) {
    throw std::invalid_argument("There are no frames to convert (" + frames.src + ").");
  }
  const AVFrame* first = frames.frames.front().get();
  if (frames.media_type == MediaType::Audio) {
    sample_dtype(static_cast<AVSampleFormat>(first->format));
    for (const auto& frame : frames.frames) {
      if (frame->format != first->format ||
          frame->ch_layout.nb_channels != first->ch_layout.nb_channels) {
        throw std::invalid_argument("Audio frames of " + frames.src +
                                    " change sample format or channel count mid-stream; pass "
                                    "sample_fmt and num_channels to decode_packets.");
      }
    }
    return;
  }
  image_layout(first);
  if (frames.media_type == MediaType::Image) {
    return;  // extra frames (animations) are not converted
  }
  for (size_t i = 1; i < frames.frames.size(); ++i) {
    const AVFrame* frame = frames.frames[i].get();
    if (!same_image_format(first, frame)) {
      throw std::invalid_argument("Frame " + std::to_string(i) + " of " + frames.src + " is " +
                                  describe_frame(frame) + " but frame 0 is " +
                                  describe_frame(first) +
                                  "; pass width, height and pix_fmt to decode_packets.");
    }
  }
}

std::unique_ptr<CPUBuffer> convert_frames(Frames& frames) {
  const Frames::Summary summary = frames.summary();
  std::vector<double> pts = frames.pts_seconds();
  std::unique_ptr<CPUBuffer> buffer;
  switch (frames.media_type) {
    case MediaType::Audio:
      buffer = convert_audio(frames);
      break;
    case MediaType::Image: {
      // One image -> (C, H, W) / (H, W, C); extra frames (animations) are ignored.
      frames.frames.resize(1);
      buffer = convert_images(frames, /*batch_dim=*/false);
      break;
    }
    case MediaType::Video:
      buffer = convert_images(frames, /*batch_dim=*/true);
      break;
  }
  frames.release(summary, std::move(pts));
  return buffer;
}

void check_image_batch(const std::vector<Frames*>& batch) {
  if (batch.empty()) {
    throw std::invalid_argument("Cannot convert an empty list of frames.");
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->ensure_valid();
    if (batch[i]->media_type != MediaType::Image) {
      throw std::invalid_argument("Only ImageFrames can be batched; item " + std::to_string(i) +
                                  " holds " + to_string(batch[i]->media_type) + " frames.");
    }
    if (batch[i]->frames.empty()) {
      throw std::invalid_argument("Item " + std::to_string(i) + " has no frame.");
    }
  }
  const AVFrame* first = batch[0]->frames.front().get();
  image_layout(first);
  for (size_t i = 1; i < batch.size(); ++i) {
    const AVFrame* f = batch[i]->frames.front().get();
    if (!same_image_format(first, f)) {
      throw std::invalid_argument(
          "Cannot batch images of different size or format: item 0 (" + batch[0]->src + ") is " +
          describe_frame(first) + " but item " + std::to_string(i) + " (" + batch[i]->src +
          ") is " + describe_frame(f) + ". Pass width, height and pix_fmt when decoding.");
    }
  }
}

std::unique_ptr<CPUBuffer> convert_image_batch(const std::vector<const Frames*>& batch) {
  const ImageLayout layout = image_layout(batch[0]->frames.front().get());
  std::vector<int64_t> shape = layout.shape;
  shape.insert(shape.begin(), static_cast<int64_t>(batch.size()));
  auto buffer = std::make_unique<CPUBuffer>(shape, layout.dtype);
  for (size_t i = 0; i < batch.size(); ++i) {
    copy_image(buffer->data() + i * layout.bytes, layout, batch[i]->frames.front().get());
  }
  return buffer;
}

}  // namespace spdl
