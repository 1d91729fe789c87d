// Presentation times for a container that stores each packet's decode time as its
// pts (AVI): with B-frames the decoder gives frames in presentation order but with
// their packets' times, which are in decode order ([1, 2, 4, 3, ...]). Every packet
// of such a stream holds one frame, and a decoder sent packets in decode order from
// a keyframe gives its frames out in presentation order: the k-th frame out is
// shown at the k-th smallest time sent (a GOP whose read stops before its end is
// drained only once whole, or its last frames would take too early times).
// CodecParams::pts_in_decode_order marks these streams.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "ffmpeg/compat.h"

namespace spdl {

class DisplayOrderClock {
 public:
  explicit DisplayOrderClock(bool active) : active_(active) {}

  bool active() const { return active_; }
  // A packet went to the decoder (one without a time gives none).
  void sent(const AVPacket* packet);
  // Sets the frame's best_effort_timestamp and pts to its presentation time.
  void stamp(AVFrame* frame);
  // The decoder was flushed: what was sent and not given out is gone.
  void reset();

 private:
  bool active_;
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> times_;
};

}  // namespace spdl
