#include "display_order_clock.h"

namespace spdl {

void DisplayOrderClock::sent(const AVPacket* packet) {
  const int64_t time = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
  if (active_ && time != AV_NOPTS_VALUE && !(packet->flags & AV_PKT_FLAG_DISCARD)) {
    times_.push(time);
  }
}

void DisplayOrderClock::stamp(AVFrame* frame) {
  if (!active_ || times_.empty()) {
    return;
  }
  frame->best_effort_timestamp = frame->pts = times_.top();
  times_.pop();
}

void DisplayOrderClock::reset() { times_ = {}; }

}  // namespace spdl
