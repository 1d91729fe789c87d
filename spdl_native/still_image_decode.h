// What a still image's decode adds around FFmpeg's decoder (run_decoder and
// FrameRouter call it): a decoder outside FFmpeg takes the image first where
// the build has one for its format (libjpeg-turbo for JPEG, libwebp for WebP),
// and each decoded frame is put upright by its EXIF orientation when asked and,
// for an 8-bit RGB output, has its 16-bit samples cut to their high byte, as
// Pillow and OpenCV read 16-bit PNG and TIFF.
#pragma once

#include "cancel.h"
#include "decoder.h"

namespace spdl {

// Decodes `packets`, a still image, with libjpeg-turbo or libwebp where one takes
// them; null when none does (or it gave up), and FFmpeg decodes them. Throws
// MediaError first for an image that cannot be decoded at all: one whose header
// declares more than config.max_pixels pixels (pixel_limit.h), a JPEG-compressed TIFF.
ffmpeg::FramePtr decode_outside_ffmpeg(const Packets& packets, const DecodeConfig& config,
                                       const CancelToken* cancel);

// Prepares the decoded frames of one still image for the filter graph or the writer.
class StillImageFrames {
 public:
  StillImageFrames(const Packets& packets, const DecodeConfig& config);

  // Whether prepare() may change frames at all.
  bool active() const { return orientation_ != 1 || eight_bit_ || opaque_; }

  // `frame` itself, or a frame made from it that is kept until the next call.
  AVFrame* prepare(AVFrame* frame);

 private:
  int orientation_ = 1;
  bool eight_bit_ = false;
  bool opaque_ = false;  // a 32-bit BI_RGB BMP: its fourth byte is padding, not alpha
  ffmpeg::FramePtr made_;
};

}  // namespace spdl
