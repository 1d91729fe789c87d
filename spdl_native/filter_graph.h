// A filter graph "buffer source -> user description -> buffer sink", configured
// from the first decoded frame so that its input always matches the decoder.
#pragma once

#include <string>

#include "ffmpeg/wrappers.h"
#include "packets.h"

namespace spdl {

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
};

}  // namespace spdl
