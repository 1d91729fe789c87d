// Writes decoded frames straight into an output buffer, scaling and converting
// the pixel format with one swscale pass: no intermediate frame, no extra copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "convert.h"
#include "ffmpeg/compat.h"
#include "ffmpeg/wrappers.h"
#include "write_strategies.h"

namespace spdl {

// The requested output; zero / empty keeps the source's value.
struct OutputFormat {
  int width = 0;
  int height = 0;
  std::string pix_fmt;
  std::string scale_algo = "bilinear";
  // Still images resize in RGB (see resample.h): a YUV frame resized into rgb24 /
  // bgr24 is converted at its own size first, chroma interpolated, as
  // libjpeg-turbo and libwebp decode to RGB. Video frames shrink in YUV.
  bool still_image = false;
  // swscale interpolates chroma horizontally and rounds accurately, in place of
  // its fast paths that repeat chroma samples.
  bool interpolate_chroma = false;
};

// `output` with still_image set as given.
OutputFormat output_for(OutputFormat output, bool still_image);

// Writes frames into output images of one requested size and format. Each frame
// goes one of the ways of write_strategies.h, chosen by choose() alone.
class FrameWriter {
 public:
  explicit FrameWriter(OutputFormat format);
  ~FrameWriter();
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  // The layout of one output image for frames like `frame`.
  ImageLayout layout(const AVFrame* frame) const;

  // layout(frame), recomputed only when the frames' size or format changes (a
  // decode loop asks once per frame).
  const ImageLayout& cached_layout(const AVFrame* frame);

  // Writes `frame` at `dst`, which has room for layout(frame).bytes. swscale may
  // write a few bytes past that room: callers writing images in order into one
  // buffer with tail slack (CPUBuffer) are safe.
  void write(const AVFrame* frame, uint8_t* dst);

  // Like write(), but touches exactly layout(frame).bytes at `dst` (goes through
  // a scratch buffer): for images written by several threads side by side.
  void write_exact(const AVFrame* frame, uint8_t* dst);

  // `frame` written into a new frame of the output's size and format (same props).
  ffmpeg::FramePtr to_frame(const AVFrame* frame);

 private:
  enum class Strategy { kCopy, kRgbResize, kRgbFirst, kSmoothYuvToRgb, kYuvToRgb, kSwscale };

  WriteTarget target(const AVFrame* frame) const;
  // The one place that picks how `frame` is written; for kYuvToRgb and kSwscale,
  // `shrunk` says what PlaneShrink makes of the frame first.
  Strategy choose(const AVFrame* frame, const WriteTarget& target,
                  PlaneShrink::Shape* shrunk) const;

  OutputFormat format_;
  int flags_;
  std::vector<uint8_t> scratch_;
  RgbResize rgb_resize_;
  RgbFirst rgb_first_;
  PlaneShrink shrink_;
  Swscale swscale_;
  ImageLayout cached_{{}, DType::UInt8, 0};
  int cached_width_ = -1, cached_height_ = -1, cached_format_ = -1;
};

// The packed RGB format a decoder that can produce it (libjpeg-turbo, libwebp)
// should decode to for this output: rgb24 or bgr24 when the writer resizes frames
// of that format itself, in RGB (see resample.h); for a still image that is not
// resized, the output's own rgb24, bgr24, rgba or bgra, which the writer copies.
// AV_PIX_FMT_NONE otherwise.
AVPixelFormat rgb_frame_format(const OutputFormat& format);

// Parses a swscale algorithm name ("bilinear", "bicubic", "area", ...).
int sws_flags_from_name(const std::string& name);

}  // namespace spdl
