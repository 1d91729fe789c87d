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
#include "resample.h"

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

class FrameWriter {
 public:
  explicit FrameWriter(OutputFormat format);
  ~FrameWriter();
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  // The layout of one output image for frames like `frame`.
  ImageLayout layout(const AVFrame* frame) const;

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
  void output_size(const AVFrame* frame, int* width, int* height) const;
  AVPixelFormat output_format(const AVFrame* frame) const;
  // Whether write() resizes `frame` with RgbResampler (which writes no byte past the image).
  bool resamples(const AVFrame* frame, int width, int height, AVPixelFormat dst_fmt) const;
  // `frame` shrunk natively towards width x height (RowResampler, then
  // ColumnResampler), or `frame` itself (see the .cpp).
  const AVFrame* shrink(const AVFrame* frame, int width, int height);
  const AVFrame* shrink_rows(const AVFrame* frame, int height);
  const AVFrame* shrink_columns(const AVFrame* frame, int width);
  // Whether write() converts `frame` to RGB at its size before resizing it (still images).
  bool converts_to_rgb_first(const AVFrame* frame, int width, int height,
                             AVPixelFormat dst_fmt) const;

  OutputFormat format_;
  std::vector<uint8_t> scratch_;
  int flags_;
  ffmpeg::SwsContextPtr sws_;
  // Packed RGB resizes (bilinear), one per recent source size: batches mix sizes.
  std::vector<std::unique_ptr<RgbResampler>> resamplers_;
  RgbResampler& resampler(int src_w, int src_h, int dst_w, int dst_h);
  // The outputs and filters (luma, chroma) of shrink_rows() and shrink_columns().
  ffmpeg::FramePtr shrunk_rows_, shrunk_columns_;
  std::unique_ptr<RowResampler> luma_rows_, chroma_rows_;
  std::unique_ptr<ColumnResampler> luma_columns_, chroma_columns_;
  // Converts still images to RGB at their size (converts_to_rgb_first).
  std::unique_ptr<FrameWriter> to_rgb_;
  // What sws_ was configured for, so that it is rebuilt only when this changes.
  int src_width_ = 0, src_height_ = 0, src_format_ = -1, src_space_ = -1, src_range_ = -1;
};

// rgb24 or bgr24 when the writer resizes frames of that format itself for this
// output, in RGB (see resample.h): a decoder that can produce it (libjpeg-turbo)
// should then do so. AV_PIX_FMT_NONE otherwise.
AVPixelFormat rgb_resize_format(const OutputFormat& format);

// Parses a swscale algorithm name ("bilinear", "bicubic", "area", ...).
int sws_flags_from_name(const std::string& name);

}  // namespace spdl
