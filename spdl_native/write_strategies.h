// The ways FrameWriter (frame_writer.h) writes a decoded frame into an output
// image of a given size and pixel format, one small type each. FrameWriter
// picks one per frame in one place (FrameWriter::choose); each keeps what it
// reuses from frame to frame (resamplers, a swscale context, scratch frames).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ffmpeg/wrappers.h"
#include "resample.h"

namespace spdl {

class FrameWriter;

// The output image one frame is written as.
struct WriteTarget {
  int width = 0;
  int height = 0;
  AVPixelFormat format = AV_PIX_FMT_NONE;
};

// Packed 8-bit RGB (rgb24, bgr24): what RgbResize resizes.
bool is_rgb24_like(int format);
// Any RGB format (packed or planar).
bool is_rgb(AVPixelFormat format);

// The frame is the output already (same size and format): a copy of its planes.
struct CopyWrite {
  static void write(const AVFrame* frame, const WriteTarget& target, uint8_t* dst);
};

// Packed RGB resized into packed RGB (rgb24 <-> bgr24 included) by RgbResampler,
// in RGB (see resample.h). Writes exactly the image's bytes.
class RgbResize {
 public:
  void write(const AVFrame* frame, const WriteTarget& target, uint8_t* dst);

 private:
  RgbResampler& resampler(int src_w, int src_h, int dst_w, int dst_h);

  // One per recent source size: batches mix sizes.
  std::vector<std::unique_ptr<RgbResampler>> resamplers_;
};

// A still YUV or gray image resized into packed RGB is first converted to RGB at
// its own size, chroma interpolated (as libjpeg-turbo and libwebp decode to
// RGB), then resized by RgbResize: a resize in YUV mixes colours before the
// conversion clips them to the RGB gamut.
class RgbFirst {
 public:
  ~RgbFirst();  // where FrameWriter is complete

  // `frame` converted to `rgb` (rgb24 or bgr24) at its own size.
  ffmpeg::FramePtr to_rgb(const AVFrame* frame, AVPixelFormat rgb);

 private:
  std::unique_ptr<FrameWriter> converter_;
};

// swscale scales every input row horizontally before it filters vertically, so
// when a frame loses most of its rows (720p video to 224 rows) most of that work is
// thrown away, and its horizontal filter takes a slow generic path when it has as
// many taps as a large downscale needs: 720p yuv420p to 224x224 rgb24 costs 0.65 ms.
// Filtering the rows first, then the columns, with the same bilinear filter and
// alignment as swscale (chroma centred), leaves a 4:2:2 frame of the output's size,
// which YuvToRgb converts exactly: 0.18 ms in all. (Against swscale's bilinear
// scale in YUV, only the 8-bit rounding between the passes differs.) A pass
// before YuvToRgb or Swscale, for planar 8-bit YUV and gray with bilinear scaling.
class PlaneShrink {
 public:
  // What shrink() makes of a frame: its format and size, and which passes run.
  struct Shape {
    AVPixelFormat format = AV_PIX_FMT_NONE;
    int width = 0, height = 0;
    bool rows = false, columns = false;
  };

  // The shape shrink() gives `frame` for `target` (its own when nothing shrinks).
  static Shape plan(const AVFrame* frame, const WriteTarget& target, bool bilinear);

  // `frame` shrunk as `shape` says (a frame this object owns), or `frame` itself.
  const AVFrame* shrink(const AVFrame* frame, const Shape& shape);

 private:
  const AVFrame* shrink_rows(const AVFrame* frame, int height);
  const AVFrame* shrink_columns(const AVFrame* frame, int width);

  ffmpeg::FramePtr shrunk_rows_, shrunk_columns_;
  std::unique_ptr<RowResampler> luma_rows_, chroma_rows_;
  std::unique_ptr<ColumnResampler> luma_columns_, chroma_columns_;
};

// 8-bit 4:2:2 (what PlaneShrink leaves) into packed RGB of the same size, with
// the conversion of yuv_to_rgb.h.
struct YuvToRgb {
  static bool takes(const PlaneShrink::Shape& frame, const WriteTarget& target);
  static void write(const AVFrame* frame, const WriteTarget& target, uint8_t* dst);
};

// Everything else: one swscale pass. May write a few bytes past the image.
class Swscale {
 public:
  // `flags`: the scaler when the size changes (sws_flags_from_name); with
  // `interpolate_chroma`, chroma is interpolated horizontally and rounded
  // accurately, in place of swscale's fast paths that repeat chroma samples.
  Swscale(int flags, bool interpolate_chroma);

  void write(const AVFrame* frame, const WriteTarget& target, uint8_t* dst);

 private:
  void configure(const AVFrame* frame, const WriteTarget& target);

  const int flags_;
  const bool interpolate_chroma_;
  ffmpeg::SwsContextPtr sws_;
  // swscale's unscaled SIMD YUV -> packed RGB (FFmpeg 5.1, x86) converts rows in
  // whole groups of pixels and leaves the last group unwritten when the row stride
  // has no room for it: such frames go through rows padded for it, then are copied.
  bool padded_rows_ = false;
  std::vector<uint8_t> padded_;
  // What sws_ was configured for, so that it is rebuilt only when this changes.
  int src_width_ = 0, src_height_ = 0, src_format_ = -1, src_space_ = -1, src_range_ = -1;
  WriteTarget target_;
  // gray16le output corrected after swscale: (value - black) * scale; 0: as written.
  double gray16_black_ = 0, gray16_scale_ = 0;
};

}  // namespace spdl
