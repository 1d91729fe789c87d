// A filter graph "buffer source -> user description -> buffer sink", configured
// from the first decoded frame so that its input always matches the decoder.
#pragma once

#include <string>

#include "ffmpeg/wrappers.h"
#include "packets.h"

namespace spdl {

// The most channels an audio output can be given: swresample mixes layouts of fewer than 64.
constexpr int kMaxOutputChannels = 63;

// Resampling refuses a source rate past what audio has (FFmpeg decodes DSD512 at
// 2.8 MHz), a corrupt header's, and ratios past kMaxUpsampling output samples per
// input sample (128 Hz sensor data to 48 kHz is 375): MediaError, not gigabytes.
constexpr int kMaxSampleRate = 6'144'000;
// The longest a video frame may last for the filters: fps repeats the last frame to
// its end, and a corrupt time base made one last 2**31 s (the decode never returned).
constexpr int kMaxFrameDurationS = 60;
constexpr int kMaxUpsampling = 1024;

// The channel layout (an aformat channel_layouts value) of an audio output of
// `num_channels` channels, the same with every FFmpeg: FFmpeg 5.1's default layout
// for 1-8, 16 and 24 channels (mono, stereo, 2.1, 4.0, 5.0, 5.1, 6.1, 7.1,
// hexadecagonal, 22.2); for other counts 7.1 and pairs of channels (front left and
// right of centre, top front, top back, wide, surround direct, top side, bottom
// front, stereo downmix), then single ones (back centre, top centre ...), then
// unnamed ones, as swresample mixes to (the sides of a layout come in pairs).
// invalid_argument outside 1 .. kMaxOutputChannels.
std::string channel_layout_for(int num_channels);

class FilterGraph {
 public:
  FilterGraph(const std::string& description, MediaType type, const AVFrame* first_frame,
              Rational time_base, const std::string& src);
  FilterGraph(const FilterGraph&) = delete;
  FilterGraph& operator=(const FilterGraph&) = delete;

  // True when `frame` has the size / format the graph was configured for.
  bool accepts(const AVFrame* frame) const;

  // Takes the frame's data (the frame is left blank). nullptr signals the end.
  void push(AVFrame* frame);

  // Returns true and fills `out` when a frame is ready.
  bool pull(AVFrame* out);

  // True once the graph will produce no more frames (e.g. trim reached its end).
  bool finished() const { return finished_; }

  // True when the graph is only a format filter whose output equals its input
  // (e.g. aformat=fltp on fltp audio): frames can bypass it unchanged.
  bool is_identity() const { return identity_; }

  Rational output_time_base() const;

 private:
  ffmpeg::FilterGraphPtr graph_;
  AVFilterContext* source_ = nullptr;
  AVFilterContext* sink_ = nullptr;
  MediaType type_;
  std::string src_;
  int width_ = 0, height_ = 0, format_ = -1, sample_rate_ = 0;
  ffmpeg::ChannelLayout layout_;
  bool finished_ = false;
  bool identity_ = false;
  int64_t end_pts_ = AV_NOPTS_VALUE;  // where the last frame pushed ends
  int64_t max_duration_ = 0;          // kMaxFrameDurationS in the stream's time base
};

}  // namespace spdl
