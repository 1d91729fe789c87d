#include "decode_loop.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <utility>

#include "ffmpeg/error.h"
#include "pixel_limit.h"
#include "python_signals.h"

extern "C" {
#include <libavutil/mathematics.h>
}

namespace spdl {

namespace {

// Samples of `sample_rate` in `seconds` (>= 0), rounded to the nearest one.
int64_t nearest_sample(double seconds, int sample_rate) {
  const double samples = std::round(seconds * sample_rate);
  return samples > 0 ? static_cast<int64_t>(std::min(samples, 0x1p62)) : 0;
}

// The trim to an audio window, its edges in samples (atrim's start_pts / end_pts
// count samples), each rounded to the nearest sample. Not atrim's start / end in
// seconds: FFmpeg parses those to whole microseconds, dropping the rest, which
// moved an edge within a microsecond past a half sample by one sample.
std::string audio_trim(const std::pair<double, double>& window, int sample_rate) {
  std::string trim = "atrim=start_pts=" + std::to_string(nearest_sample(window.first, sample_rate));
  if (std::isfinite(window.second)) {
    trim += ":end_pts=" + std::to_string(nearest_sample(window.second, sample_rate));
  }
  return trim;
}

}  // namespace

FrameRouter::FrameRouter(const Packets& packets, const DecodeConfig& config, Emit emit)
    : packets_(packets),
      config_(config),
      filtered_(!config.filter_desc.empty() || config.num_channels != 0 ||
                (packets.media_type == MediaType::Audio && packets.window)),
      emit_(std::move(emit)),
      still_(packets, config),
      upright_(packets, config.apply_display_matrix),
      pulled_(ffmpeg::alloc_frame()) {}

bool FrameRouter::add(AVFrame* frame) {
  if (still_.active()) {
    frame = still_.prepare(frame);
  }
  if (upright_.active()) {
    frame = upright_.prepare(frame);
  }
  frame->pts = time_of(frame);
  if (!filtered_) {
    return emit(frame, packets_.time_base);
  }
  if (graph_ && !graph_->accepts(frame)) {
    drain(/*flush=*/true);  // the stream changed size or format mid-way
    graph_.reset();
  }
  if (!graph_) {
    const std::string description = graph_description(frame);
    if (description.empty()) {
      return emit(frame, packets_.time_base);
    }
    graph_ = std::make_unique<FilterGraph>(description, packets_.media_type, frame,
                                           packets_.time_base, packets_.src);
    output_time_base_ = graph_->output_time_base();
  }
  if (graph_->is_identity()) {
    return emit(frame, packets_.time_base);  // a no-op format filter would only cost a copy
  }
  graph_->push(frame);
  return drain(/*flush=*/false) && !graph_->finished();
}

int64_t FrameRouter::time_of(const AVFrame* frame) {
  const int64_t pts = frame->best_effort_timestamp;
  timed_ = timed_ || pts != AV_NOPTS_VALUE;
  const Rational rate = packets_.frame_rate;
  const Rational tb = packets_.time_base;
  if (timed_ || packets_.media_type != MediaType::Video || rate.first <= 0 || rate.second <= 0 ||
      tb.first <= 0 || tb.second <= 0) {
    return pts;
  }
  // Counted in frames, so no rounding adds up.
  return av_rescale_q(untimed_frames_++, AVRational{rate.second, rate.first},
                      AVRational{tb.first, tb.second});
}

void FrameRouter::finish() {
  if (graph_) {
    drain(/*flush=*/true);
  }
}

std::string FrameRouter::graph_description(const AVFrame* frame) const {
  std::string description;
  const auto add = [&description](const std::string& part) {
    if (!part.empty()) {
      description += (description.empty() ? "" : ",") + part;
    }
  };
  if (packets_.media_type == MediaType::Audio && packets_.window) {
    add(audio_trim(*packets_.window, frame->sample_rate));
  }
  add(config_.filter_desc);
  if (config_.num_channels != 0 && frame->ch_layout.nb_channels != config_.num_channels) {
    add("aformat=channel_layouts=" + channel_layout_for(config_.num_channels));
  }
  return description;
}

bool FrameRouter::emit(AVFrame* frame, Rational time_base) {
  frame->time_base = AVRational{time_base.first, time_base.second};
  return emit_(frame);
}

bool FrameRouter::drain(bool flush) {
  if (flush && !graph_->finished()) {
    graph_->push(nullptr);
  }
  while (graph_->pull(pulled_.get())) {
    poll_python_signals();  // a flush may put out many frames (reverse, loop)
    const bool more = emit(pulled_.get(), output_time_base_);
    av_frame_unref(pulled_.get());
    if (!more) {
      return false;
    }
  }
  return true;
}

PacketFeeder::PacketFeeder(const Packets& header, const DecodeConfig& config, FrameRouter& router)
    : header_(header),
      router_(router),
      ctx_(open_decoder(header, config)),
      frame_(ffmpeg::alloc_frame()),
      context_("Failed to decode " + header.src),
      max_pixels_(config.max_pixels),
      clock_(header.params.pts_in_decode_order) {
  // Frames shown before a window's start are dropped anyway; those no other frame
  // references need not be decoded at all (B-frames between the keyframe and start).
  // Not where packet times are decode times: every frame must come out (see clock_).
  if (header.media_type == MediaType::Video && header.window && header.window->first > 0 &&
      !clock_.active()) {
    skip_before_ = static_cast<int64_t>(header.window->first * header.time_base.second /
                                        header.time_base.first);
  }
}

void PacketFeeder::feed(const Packets& packets, const CancelToken* cancel) {
  for (const auto& packet : packets.packets) {
    if (!wanted_) {
      return;
    }
    check_stop(cancel, header_.src);
    if (skip_before_ != AV_NOPTS_VALUE) {
      const bool before = packet->pts != AV_NOPTS_VALUE && packet->pts < skip_before_;
      ctx_->skip_frame = before ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    }
    const int sent = send_packet(ctx_.get(), packet.get());
    check_refused_size(ctx_.get(), sent, max_pixels_, header_.src);
    ffmpeg::check(sent, [&] { return context_ + " (packet " + std::to_string(index_) + ")"; });
    clock_.sent(packet.get());
    ++index_;
    wanted_ = receive_all();
  }
}

void PacketFeeder::finish() {
  if (wanted_) {
    const int flushed = avcodec_send_packet(ctx_.get(), nullptr);
    check_refused_size(ctx_.get(), flushed, max_pixels_, header_.src);
    ffmpeg::check(flushed, context_ + " (flush)");
    wanted_ = receive_all();
  }
  if (wanted_) {
    router_.finish();
  }
}

bool PacketFeeder::receive_all() {
  while (true) {
    int ret = avcodec_receive_frame(ctx_.get(), frame_.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
      return true;
    }
    check_refused_size(ctx_.get(), ret, max_pixels_, header_.src);
    ffmpeg::check(ret, context_);
    poll_python_signals();  // also while the flush drains a frame-threaded decoder
    clock_.stamp(frame_.get());
    const bool more = router_.add(frame_.get());
    av_frame_unref(frame_.get());
    if (!more) {
      return false;
    }
  }
}

void run_decoder(const Packets& packets, const DecodeConfig& config, const CancelToken* cancel,
                 FrameRouter& router) {
  if (auto frame = decode_outside_ffmpeg(packets, config, cancel)) {
    if (router.add(frame.get())) {
      router.finish();
    }
    return;
  }  // else no other decoder takes these packets, or it cannot: FFmpeg's decoder takes them
  PacketFeeder feeder(packets, config, router);
  feeder.feed(packets, cancel);
  feeder.finish();
}

namespace {

// The shortest text that reads back as `value`, as Python's repr() writes it.
std::string shortest(double value) {
  std::array<char, 32> text{};
  const auto end = std::to_chars(text.data(), text.data() + text.size(), value).ptr;
  return std::string(text.data(), end);
}

}  // namespace

void throw_no_frame(const Packets& packets, std::optional<size_t> count) {
  const std::string where = packets.window
                                ? " in the requested window (" + shortest(packets.window->first) +
                                      ", " + shortest(packets.window->second) + ")"
                                : "";
  throw MediaError("Failed to decode " + packets.src + ": no frame could be decoded from " +
                   std::to_string(count.value_or(packets.packets.size())) + " packet(s)" + where +
                   ".");
}

double within_window(const Packets& packets, double seconds) {
  return packets.window ? std::min(seconds, packets.window->second - packets.window->first)
                        : seconds;
}

double packets_seconds(const Packets& packets) {
  int64_t duration = 0;
  for (const auto& packet : packets.packets) {
    duration += std::max<int64_t>(packet->duration, 0);
  }
  return static_cast<double>(duration) * packets.time_base.first / packets.time_base.second;
}

}  // namespace spdl
