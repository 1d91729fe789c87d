#include "frame_select.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

#include "cancel.h"
#include "convert.h"
#include "decode_loop.h"
#include "decoder.h"
#include "ffmpeg/error.h"
#include "frame_writer.h"

namespace spdl {
namespace {

// A packet's presentation time; its decode time when the container gives no pts.
int64_t packet_time(const AVPacket* packet) {
  return packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
}

// The output entries of each wanted frame: by pts, then by which of the frames that
// share that pts it is (in decode order; most pts have one frame).
using Slots = std::unordered_map<int64_t, std::vector<std::vector<int64_t>>>;

// Whether each packet of each span must be sent to the decoder (see decode_frames_at).
std::vector<std::vector<bool>> packets_to_send(const std::vector<const Packets*>& spans,
                                               const Slots& slots, bool with_gop_before) {
  const auto wanted = [&](const AVPacket* packet) {
    return packet_time(packet) != AV_NOPTS_VALUE && slots.count(packet_time(packet)) > 0;
  };
  std::vector<std::vector<bool>> send;
  for (const Packets* span : spans) {
    const auto& packets = span->packets;
    std::vector<size_t> starts{0};  // of each GOP, in decode order
    for (size_t i = 1; i < packets.size(); ++i) {
      if (packets[i]->flags & AV_PKT_FLAG_KEY) {
        starts.push_back(i);
      }
    }
    starts.push_back(packets.size());
    const size_t gops = starts.size() - 1;
    std::vector<size_t> until(gops);  // per GOP: one past its last wanted packet
    for (size_t gop = 0; gop < gops; ++gop) {
      until[gop] = starts[gop];
      for (size_t i = starts[gop]; i < starts[gop + 1]; ++i) {
        until[gop] = wanted(packets[i].get()) ? i + 1 : until[gop];
      }
    }
    // An open GOP (frames shown before its keyframe follow it: leading frames)
    // references the GOP before, and a decoder entering it at its keyframe may
    // hold back its frames as unrecovered: that GOP is decoded whole first.
    std::vector<bool> whole(gops, false);
    for (size_t gop = 1; gop < gops; ++gop) {
      const int64_t key_time = packet_time(packets[starts[gop]].get());
      bool open = false;
      for (size_t i = starts[gop] + 1; i < starts[gop + 1] && !open; ++i) {
        const int64_t time = packet_time(packets[i].get());
        open = key_time != AV_NOPTS_VALUE && time != AV_NOPTS_VALUE && time < key_time;
      }
      whole[gop - 1] = (open || with_gop_before) && until[gop] > starts[gop];
    }
    std::vector<bool> flags(packets.size(), false);
    // Where packet times are decode times, a GOP's frames are timed only once all
    // of them came out (display_order_clock.h): a wanted frame's GOP is sent whole.
    const bool by_gops = span->params.pts_in_decode_order;
    for (size_t gop = 0; gop < gops; ++gop) {
      // The retry sends a wanted frame's GOP whole too: a decoder that holds frames
      // back until it recovers shows them as later packets come, not at a drain.
      const bool all = whole[gop] || ((with_gop_before || by_gops) && until[gop] > starts[gop]);
      const size_t end = all ? starts[gop + 1] : until[gop];
      std::fill(flags.begin() + starts[gop], flags.begin() + end, true);
    }
    send.push_back(std::move(flags));
  }
  return send;
}

// Writes each wanted frame into its entries of one buffer: converted once into
// the first, copied into the repeats.
class SlotWriter {
 public:
  SlotWriter(Slots slots, std::vector<int64_t> leading, const OutputFormat& output,
             const std::string& src)
      : slots_(std::move(slots)),
        leading_(std::move(leading)),
        writer_(output),
        src_(src),
        written_(std::accumulate(leading_.begin(), leading_.end(), int64_t{1},
                                 std::multiplies<int64_t>()),
                 false),
        remaining_(0) {
    for (const auto& [time, frames] : slots_) {
      for (const auto& entries : frames) {
        remaining_ += !entries.empty();
      }
    }
  }

  // Whether a frame at `pts` is wanted and not written yet.
  bool wants(int64_t pts) const {
    const auto found = slots_.find(pts);
    if (found == slots_.end()) {
      return false;
    }
    for (const auto& entries : found->second) {
      if (!entries.empty() && !written_[entries.front()]) {
        return true;
      }
    }
    return false;
  }

  // The entries of the `occurrence`-th frame at `pts`; null when it is not wanted or
  // written already.
  const std::vector<int64_t>* entries(int64_t pts, size_t occurrence) const {
    const auto found = slots_.find(pts);
    if (found == slots_.end() || occurrence >= found->second.size()) {
      return nullptr;
    }
    const std::vector<int64_t>& entries = found->second[occurrence];
    return entries.empty() || written_[entries.front()] ? nullptr : &entries;
  }

  void write(const AVFrame* frame, const std::vector<int64_t>& entries) {
    const ImageLayout& layout = writer_.cached_layout(frame);
    if (!buffer_) {
      std::vector<int64_t> shape = leading_;
      shape.insert(shape.end(), layout.shape.begin(), layout.shape.end());
      buffer_ = std::make_unique<CPUBuffer>(shape, layout.dtype);
      image_shape_ = layout.shape;
      first_description_ = describe_frame(frame);
    } else if (layout.shape != image_shape_) {
      throw std::invalid_argument("A frame of " + src_ + " is " + describe_frame(frame) +
                                  " but another is " + first_description_ +
                                  "; pass width and height to give all frames one size.");
    }
    const size_t first = static_cast<size_t>(entries.front());
    uint8_t* dst = buffer_->data() + first * layout.bytes;
    // write() may touch a few bytes past the image: never into one written already.
    if (first + 1 < written_.size() && written_[first + 1]) {
      writer_.write_exact(frame, dst);
    } else {
      writer_.write(frame, dst);
    }
    for (const int64_t entry : entries) {
      if (static_cast<size_t>(entry) != first) {
        std::memcpy(buffer_->data() + static_cast<size_t>(entry) * layout.bytes, dst, layout.bytes);
      }
      written_[static_cast<size_t>(entry)] = true;
    }
    --remaining_;
  }

  size_t remaining() const { return remaining_; }

  // The pts of the wanted frames not written, ascending.
  std::vector<int64_t> missing() const {
    std::vector<int64_t> pts;
    for (const auto& [time, frames] : slots_) {
      if (wants(time)) {
        pts.push_back(time);
      }
    }
    std::sort(pts.begin(), pts.end());
    return pts;
  }

  std::unique_ptr<CPUBuffer> release() { return std::move(buffer_); }

 private:
  const Slots slots_;
  const std::vector<int64_t> leading_;
  FrameWriter writer_;
  const std::string& src_;
  std::vector<bool> written_;
  size_t remaining_;
  std::unique_ptr<CPUBuffer> buffer_;
  std::vector<int64_t> image_shape_;
  std::string first_description_;
};

Slots slots_of(const std::vector<int64_t>& pts, const std::vector<int64_t>& occurrences) {
  if (!occurrences.empty() && occurrences.size() != pts.size()) {
    throw std::invalid_argument("The frame selection needs one occurrence per pts.");
  }
  Slots slots;
  for (size_t i = 0; i < pts.size(); ++i) {
    const int64_t occurrence = occurrences.empty() ? 0 : occurrences[i];
    if (occurrence < 0 || occurrence >= 1 << 16) {
      throw std::invalid_argument("An occurrence is out of range.");
    }
    auto& frames = slots[pts[i]];
    frames.resize(std::max(frames.size(), static_cast<size_t>(occurrence) + 1));
    frames[static_cast<size_t>(occurrence)].push_back(static_cast<int64_t>(i));
  }
  return slots;
}

std::vector<int64_t> check_leading(const std::vector<int64_t>& pts,
                                   const std::vector<int64_t>& leading) {
  if (pts.empty()) {
    throw std::invalid_argument("The frame selection needs at least one frame.");
  }
  if (leading.empty()) {
    return {static_cast<int64_t>(pts.size())};
  }
  int64_t count = 1;
  for (const int64_t dim : leading) {
    if (dim <= 0) {
      throw std::invalid_argument("The leading shape must be positive.");
    }
    count *= dim;
  }
  if (count != static_cast<int64_t>(pts.size())) {
    throw std::invalid_argument("The leading shape holds " + std::to_string(count) +
                                " frames, but " + std::to_string(pts.size()) + " were selected.");
  }
  return leading;
}

std::string seconds_list(const std::vector<int64_t>& pts, Rational time_base) {
  std::string text;
  for (size_t i = 0; i < pts.size() && i < 8; ++i) {
    const double seconds = static_cast<double>(pts[i]) * time_base.first / time_base.second;
    text += (i ? ", " : "") + std::to_string(seconds);
  }
  return text + (pts.size() > 8 ? ", ..." : "");
}

// One forward decode of the packets marked in `send`, writing the frames `slots`
// still wants.
void decode_pass(const std::vector<const Packets*>& spans,
                 const std::vector<std::vector<bool>>& send, const DecodeConfig& config,
                 const DecodePlan& plan, const std::string& context, SlotWriter& slots) {
  const Packets& first = *spans.front();
  // Frames leave a filter graph (scale / format: one out per frame in) in the
  // order they enter it: the entries of each wait here meanwhile.
  std::deque<const std::vector<int64_t>*> pending;
  FrameRouter router(first, config, [&](AVFrame* frame) {
    slots.write(frame, *pending.front());
    pending.pop_front();
    return true;
  });
  auto ctx = open_decoder(first, config);
  auto frame = ffmpeg::alloc_frame();
  DisplayOrderClock clock(first.params.pts_in_decode_order);
  // Frames that share a pts come out in the order their packets went in: which of
  // them each sent packet is (counted over every packet shown, as the table counts).
  std::unordered_map<int64_t, int64_t> counted;
  std::unordered_map<int64_t, std::deque<size_t>> sent_occurrences;
  const auto receive_all = [&]() {
    while (slots.remaining() > pending.size()) {
      const int ret = avcodec_receive_frame(ctx.get(), frame.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
        return;
      }
      ffmpeg::check(ret, context);
      clock.stamp(frame.get());
      const int64_t time = frame->pts != AV_NOPTS_VALUE ? frame->pts : frame->best_effort_timestamp;
      size_t occurrence = 0;
      if (auto found = sent_occurrences.find(time);
          found != sent_occurrences.end() && !found->second.empty()) {
        occurrence = found->second.front();
        found->second.pop_front();
      }
      if (const std::vector<int64_t>* entries = slots.entries(time, occurrence)) {
        if (std::find(pending.begin(), pending.end(), entries) == pending.end()) {
          pending.push_back(entries);
          router.add(frame.get());
        }
      }
      av_frame_unref(frame.get());
    }
  };
  const auto drain = [&]() {
    ffmpeg::check(avcodec_send_packet(ctx.get(), nullptr), context + " (flush)");
    receive_all();
  };

  bool sent = false, skipped = false;
  size_t index = 0;
  for (size_t span = 0; span < spans.size() && slots.remaining() > pending.size(); ++span) {
    skipped = sent;  // spans lie apart in the stream
    const auto& packets = spans[span]->packets;
    for (size_t i = 0; i < packets.size() && slots.remaining() > pending.size(); ++i, ++index) {
      check_stop(plan.cancel, first.src);
      const AVPacket* packet = packets[i].get();
      const int64_t time = packet_time(packet);
      const bool wanted = slots.wants(time);
      const int64_t occurrence =
          packet->flags & AV_PKT_FLAG_DISCARD || time == AV_NOPTS_VALUE ? -1 : counted[time]++;
      if (!send[span][i]) {
        skipped = sent;
        continue;
      }
      if (wanted && occurrence >= 0) {
        sent_occurrences[time].push_back(static_cast<size_t>(occurrence));
      }
      if (skipped) {  // a seek: what is decoded of the GOP before comes out first
        drain();
        avcodec_flush_buffers(ctx.get());
        clock.reset();
        skipped = false;
      }
      ctx->skip_frame = wanted || clock.active() ? AVDISCARD_DEFAULT : AVDISCARD_NONREF;
      ffmpeg::check(avcodec_send_packet(ctx.get(), packet),
                    [&] { return context + " (packet " + std::to_string(index) + ")"; });
      clock.sent(packet);
      sent = true;
      receive_all();
    }
  }
  if (sent && slots.remaining() > pending.size()) {
    drain();
  }
  router.finish();
}

}  // namespace

FrameTable frame_table(const std::vector<const Packets*>& spans) {
  check_video_spans(spans, "The frame selection");
  std::vector<std::pair<int64_t, const AVPacket*>> frames;
  for (const Packets* span : spans) {
    const auto& packets = span->packets;
    // Decoding starts at the span's first keyframe: the packets before it (a stream
    // cut mid-GOP, a capture joined late) reference frames that are not there, and
    // so do the leading frames of its GOP when the GOP is open (a stream copy cut at
    // it); no decoder shows them.
    const auto first_key = std::find_if(packets.begin(), packets.end(), [](const auto& packet) {
      return (packet->flags & AV_PKT_FLAG_KEY) && packet_time(packet.get()) != AV_NOPTS_VALUE;
    });
    const bool cut = first_key != packets.end();
    const size_t key_index = cut ? static_cast<size_t>(first_key - packets.begin()) : 0;
    const int64_t key_time = cut ? packet_time(first_key->get()) : 0;
    for (size_t i = key_index; i < packets.size(); ++i) {
      const AVPacket* packet = packets[i].get();
      const int64_t time = packet_time(packet);
      const bool leading = cut && time < key_time;
      // A discarded packet's frame is decoded (others reference it) but never shown.
      if (time != AV_NOPTS_VALUE && !(packet->flags & AV_PKT_FLAG_DISCARD) && !leading) {
        frames.emplace_back(time, packet);
      }
    }
  }
  std::stable_sort(frames.begin(), frames.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  FrameTable table;
  table.pts.reserve(frames.size());
  table.durations.reserve(frames.size());
  for (size_t i = 0; i < frames.size(); ++i) {
    table.pts.push_back(frames[i].first);
    table.durations.push_back(std::max<int64_t>(frames[i].second->duration, 0));
    if (frames[i].second->flags & AV_PKT_FLAG_KEY) {
      table.keyframes.push_back(static_cast<int64_t>(i));
    }
  }
  return table;
}

std::unique_ptr<CPUBuffer> decode_frames_at(const std::vector<const Packets*>& spans,
                                            const std::vector<int64_t>& pts,
                                            const std::vector<int64_t>& leading,
                                            const DecodePlan& plan,
                                            const std::vector<int64_t>& occurrences) {
  check_video_spans(spans, "The frame selection");
  if (!plan.pre_filters.empty() || !plan.post_filters.empty()) {
    throw std::invalid_argument(
        "The frame selection takes no timing filters (window, frame_rate, num_frames).");
  }
  const Packets& first = *spans.front();
  const DecodeSteps steps = decode_steps(plan, MediaType::Video, Destination::kBuffer);
  const OutputFormat output = output_for(steps.writer.value_or(OutputFormat{}), false);
  const DecodeConfig config = with_output_hints(steps.config, output);
  Slots wanted = slots_of(pts, occurrences);
  const std::vector<std::vector<bool>> send = packets_to_send(spans, wanted, false);
  SlotWriter slots(std::move(wanted), check_leading(pts, leading), output, first.src);
  const std::string context = "Failed to decode " + first.src;
  decode_pass(spans, send, config, plan, context, slots);
  if (slots.remaining() > 0) {
    // A GOP that starts at a keyframe a decoder cannot start cold at (an open GOP
    // without leading frames, an intra-refresh recovery point) holds its frames back
    // as unrecovered: its missing frames are decoded again after the GOP before it.
    Slots missing;
    for (const int64_t time : slots.missing()) {
      missing.emplace(time, std::vector<std::vector<int64_t>>{});
    }
    decode_pass(spans, packets_to_send(spans, missing, true), config, plan, context, slots);
  }
  if (slots.remaining() > 0) {
    const std::vector<int64_t> missing = slots.missing();
    throw MediaError(context + ": " + std::to_string(missing.size()) +
                     " requested frame(s) did not come out of the decoder (at " +
                     seconds_list(missing, first.time_base) + " s).");
  }
  return slots.release();
}

}  // namespace spdl
