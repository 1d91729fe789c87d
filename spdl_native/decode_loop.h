// The decode loop every packet decode shares: packets go to an FFmpeg decoder
// (or, for a still JPEG or WebP, to libjpeg-turbo or libwebp), each decoded frame through the
// filter graph when one is asked for, and on to whoever writes it (frames,
// a buffer, audio chunks).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cancel.h"
#include "decoder.h"
#include "display_matrix.h"
#include "display_order_clock.h"
#include "filter_graph.h"
#include "packets.h"
#include "still_image_decode.h"

namespace spdl {

// Routes decoded frames through the filter graph (when one is requested) to
// `emit`, which takes the frame's data; each emitted frame's time_base is set to
// that of its pts. The graph is (re)built from the actual decoded frames, so it
// always matches the decoder's output. A still image's frame is prepared first
// (StillImageFrames: EXIF orientation, 16-bit samples for an 8-bit output), a
// video's frame is put upright by its display matrix (UprightFrames). The frames
// of a video whose packets carry no timestamps (a raw H.264 / HEVC elementary
// stream) are timed as ffmpeg's CLI times them: each one frame duration after the
// frame before it, from 0, in the order the decoder shows them.
class FrameRouter {
 public:
  using Emit = std::function<bool(AVFrame*)>;  // returns false once no more frames are wanted

  FrameRouter(const Packets& packets, const DecodeConfig& config, Emit emit);

  // Returns false once no more frames are wanted.
  bool add(AVFrame* frame);
  void finish();

  Rational output_time_base() const { return output_time_base_; }

 private:
  bool emit(AVFrame* frame, Rational time_base);
  bool drain(bool flush);
  // The graph `frame` goes through ("": none at all): for audio, the trim to the
  // packets' window in samples of the frame's rate; the configured filters; for
  // audio, a mix to the configured channel count when the frame has another.
  std::string graph_description(const AVFrame* frame) const;
  // The frame's pts: its best-effort timestamp, or the untimed stream's next time.
  int64_t time_of(const AVFrame* frame);

  const Packets& packets_;
  const DecodeConfig& config_;
  // Whether any frame may go through a filter graph (graph_description).
  bool filtered_;
  Emit emit_;
  StillImageFrames still_;
  UprightFrames upright_;
  ffmpeg::FramePtr pulled_;
  std::unique_ptr<FilterGraph> graph_;
  Rational output_time_base_;
  bool timed_ = false;  // a frame had a timestamp: the stream is not untimed
  int64_t untimed_frames_ = 0;
};

// Sends packets to a decoder and each decoded frame to a router. The decoder
// lives between calls, so the packets may come in chunks (AudioDecodeStream);
// `header` gives the stream's codec, time base and window, and must outlive it.
class PacketFeeder {
 public:
  PacketFeeder(const Packets& header, const DecodeConfig& config, FrameRouter& router);

  // Sends `packets`; stops once no more frames are wanted.
  void feed(const Packets& packets, const CancelToken* cancel);
  size_t sent() const { return index_; }
  // Drains the decoder and the router, unless no more frames were wanted.
  void finish();

 private:
  // Returns false once no more frames are wanted.
  bool receive_all();

  const Packets& header_;
  FrameRouter& router_;
  ffmpeg::CodecContextPtr ctx_;
  ffmpeg::FramePtr frame_;
  const std::string context_;
  const int64_t max_pixels_;  // the limit the decoder was opened for (pixel_limit.h)
  int64_t skip_before_ = AV_NOPTS_VALUE;
  DisplayOrderClock clock_;
  size_t index_ = 0;
  bool wanted_ = true;
};

// Sends every packet to the decoder and every decoded frame to `router`.
void run_decoder(const Packets& packets, const DecodeConfig& config, const CancelToken* cancel,
                 FrameRouter& router);

// MediaError: no frame came out of `count` packets (default: all of `packets`).
[[noreturn]] void throw_no_frame(const Packets& packets, std::optional<size_t> count = {});

// `seconds` of audio, capped by the length of the packets' window.
double within_window(const Packets& packets, double seconds);

// Seconds of audio the packets hold, from their durations; 0 when they do not say.
double packets_seconds(const Packets& packets);

}  // namespace spdl
