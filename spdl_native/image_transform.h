// Writes a region of a decoded image, resized to the output and optionally
// mirrored, straight into an output buffer: the crop is a view into the decoded
// planes (no copy), the resize is FrameWriter's single pass, and the mirror is
// done in place on the written image while it is still in cache.
#pragma once

#include <memory>

#include "frame_writer.h"
#include "image_crop.h"

namespace spdl {

// What is done to one image of a batch.
struct ImageTransform {
  CropSpec crop;  // CropKind::kNone: the whole image
  bool hflip = false;
};

// Whether images of `format` can be mirrored in place (no bitstream, palette or
// packed chroma-subsampled formats such as yuyv422).
bool can_mirror(AVPixelFormat format);

// Mirrors a `width` x `height` image of `format` laid out as FrameWriter writes it.
void mirror_image(uint8_t* data, AVPixelFormat format, int width, int height);

class TransformWriter {
 public:
  // Throws std::invalid_argument for an output FrameWriter refuses, or one that
  // `hflip` cannot mirror.
  TransformWriter(const OutputFormat& output, bool hflip);
  ~TransformWriter();
  TransformWriter(const TransformWriter&) = delete;
  TransformWriter& operator=(const TransformWriter&) = delete;

  // The layout of one output image written from `box` of `frame` (the output's
  // format, or `frame`'s when the output keeps the format).
  ImageLayout layout(const AVFrame* frame, const CropBox& box) const;

  // Writes `box` of `frame` (inside it) resized to the output, mirrored when
  // `hflip`. `exact`: touch only the image's bytes (see FrameWriter::write_exact).
  void write(const AVFrame* frame, const CropBox& box, bool hflip, uint8_t* dst, bool exact);

 private:
  FrameWriter& writer_for(const AVFrame* frame);
  // The aligned region of `view` converted to a format without chroma
  // subsampling at its own size, for boxes at odd chroma offsets.
  const AVFrame* full_chroma(const AVFrame* view);

  OutputFormat output_;
  FrameWriter shape_;                    // computes layouts only
  std::unique_ptr<FrameWriter> writer_;  // the output format, or the last frame's
  AVPixelFormat writer_format_ = AV_PIX_FMT_NONE;
  std::unique_ptr<FrameWriter> to_full_chroma_;
  AVPixelFormat full_chroma_format_ = AV_PIX_FMT_NONE;
  ffmpeg::FramePtr converted_;
};

}  // namespace spdl
