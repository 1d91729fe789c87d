#include "decode_session.h"

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "decode_loop.h"
#include "ffmpeg/error.h"
#include "first_frame_facts.h"
#include "python_signals.h"

namespace spdl {
namespace {

// Seconds: more than a window's start may lie after its first frame (half a
// millisecond, spdl.io._core.decode.window_pts), less than any frame interval.
constexpr double kStartMargin = 6e-4;

// The decoder gave out a frame without a timestamp, or not after the one before:
// continuing it could give other frames than an independent decode.
struct OutOfOrder {};

bool same_decoder(const ParkedDecoder& parked, const DecodeConfig& config) {
  return parked.decoder == config.decoder && parked.decoder_options == config.decoder_options &&
         parked.num_threads == config.num_threads;
}

// The index after the packet whose pts is `pts`, when `packets` hold it and each
// pts names one packet (no packet without one, no two alike). Not dts: Matroska
// gives none to the first packets after a seek.
std::optional<size_t> index_after(const std::vector<ffmpeg::PacketPtr>& packets, int64_t pts) {
  std::optional<size_t> found;
  std::vector<int64_t> all;
  all.reserve(packets.size());
  for (size_t i = 0; i < packets.size(); ++i) {
    const int64_t current = packets[i]->pts;
    if (current == AV_NOPTS_VALUE) {
      return std::nullopt;
    }
    all.push_back(current);
    if (current == pts) {
      found = i + 1;
    }
  }
  std::sort(all.begin(), all.end());
  if (std::adjacent_find(all.begin(), all.end()) != all.end()) {
    return std::nullopt;
  }
  return found;
}

int64_t latest(int64_t a, int64_t b) { return a == AV_NOPTS_VALUE ? b : std::max(a, b); }

std::unique_ptr<ParkedDecoder> open_for(const Packets& packets, const DecodeConfig& config) {
  auto decoder = std::make_unique<ParkedDecoder>();
  decoder->ctx = open_decoder(packets, config);
  decoder->decoder = config.decoder;
  decoder->decoder_options = config.decoder_options;
  decoder->num_threads = config.num_threads;
  return decoder;
}

// Sends a window's packets to a decoder (parked or new) and the frames it gives
// out to the window's router, keeping the decoder's position up to date.
class WindowFeeder {
 public:
  WindowFeeder(const Packets& packets, ParkedDecoder& decoder, FrameRouter& router,
               const CancelToken* cancel, bool continued)
      : packets_(packets),
        decoder_(decoder),
        router_(router),
        cancel_(cancel),
        frame_(ffmpeg::alloc_frame()),
        kept_(ffmpeg::alloc_frame()),
        context_("Failed to decode " + packets.src) {
    // As PacketFeeder: frames shown before the start are dropped by the trim anyway.
    if (packets.window && packets.window->first > 0) {
      skip_before_ = static_cast<int64_t>(packets.window->first * packets.time_base.second /
                                          packets.time_base.first);
    }
    // A decoder opened at the window's keyframe gives out no frame shown before it:
    // those of a closed GOP before it are not sent, the leading frames of an open
    // GOP (which need the GOP before) are held back. A continued decoder has what
    // they need, so it drops them itself.
    if (continued) {
      hide_before_ = packets.packets.front()->pts;
    }
  }

  // Gives the window the frame the previous window stopped on, then those the
  // decoder holds ready already (a threaded one may hold several: it would refuse
  // the next packet until they are taken).
  void resume() {
    if (decoder_.pending) {
      ffmpeg::FramePtr frame = std::move(decoder_.pending);
      wanted_ = give(frame.get());
    }
    wanted_ = wanted_ && receive_all();
  }

  // Sends `packets` from `begin` on until the window wants no more frames. The
  // lookahead lies past the window's end: nothing in it is skipped.
  void feed(const std::vector<ffmpeg::PacketPtr>& packets, size_t begin, bool lookahead) {
    AVCodecContext* ctx = decoder_.ctx.get();
    for (size_t i = begin; i < packets.size() && wanted_; ++i) {
      check_stop(cancel_, packets_.src);
      const AVPacket* packet = packets[i].get();
      const bool skip = !lookahead && skip_before_ != AV_NOPTS_VALUE &&
                        packet->pts != AV_NOPTS_VALUE && packet->pts < skip_before_;
      ctx->skip_frame = skip ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      if (skip) {
        decoder_.passed_pts = latest(decoder_.passed_pts, packet->pts);
      }
      ffmpeg::check(send_packet(ctx, packet),
                    [&] { return context_ + " (packet " + std::to_string(i) + ")"; });
      decoder_.last_sent = packet->pts;
      ++sent_;
      wanted_ = receive_all();
    }
  }

  // Drains the decoder when the window still wants frames (its end lies past the
  // lookahead); returns whether it did, which leaves the decoder spent.
  bool finish() {
    if (!wanted_) {
      return false;
    }
    ffmpeg::check(avcodec_send_packet(decoder_.ctx.get(), nullptr), context_ + " (flush)");
    wanted_ = receive_all();
    if (wanted_) {
      router_.finish();
    }
    return true;
  }

  int64_t sent() const { return sent_; }

 private:
  bool receive_all() {
    while (true) {
      const int ret = avcodec_receive_frame(decoder_.ctx.get(), frame_.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
        return true;
      }
      ffmpeg::check(ret, context_);
      const int64_t pts = frame_->best_effort_timestamp;
      if (pts == AV_NOPTS_VALUE ||
          (decoder_.last_output != AV_NOPTS_VALUE && pts <= decoder_.last_output)) {
        throw OutOfOrder{};
      }
      decoder_.last_output = pts;
      const bool more = give(frame_.get());
      av_frame_unref(frame_.get());
      if (!more) {
        return false;
      }
    }
  }

  // Routes one frame; the frame a window stops on is kept for the next window.
  bool give(AVFrame* frame) {
    const int64_t pts = frame->best_effort_timestamp;
    if (hide_before_ != AV_NOPTS_VALUE && pts < hide_before_) {
      decoder_.passed_pts = latest(decoder_.passed_pts, pts);
      return true;
    }
    av_frame_unref(kept_.get());
    ffmpeg::check(av_frame_ref(kept_.get(), frame), context_);
    const bool more = router_.add(frame);
    if (more) {
      decoder_.passed_pts = latest(decoder_.passed_pts, pts);
    } else {
      decoder_.pending = std::move(kept_);
      kept_ = ffmpeg::alloc_frame();
    }
    return more;
  }

  const Packets& packets_;
  ParkedDecoder& decoder_;
  FrameRouter& router_;
  const CancelToken* cancel_;
  ffmpeg::FramePtr frame_;
  ffmpeg::FramePtr kept_;
  const std::string context_;
  int64_t skip_before_ = AV_NOPTS_VALUE;
  int64_t hide_before_ = AV_NOPTS_VALUE;
  int64_t sent_ = 0;
  bool wanted_ = true;
};

std::unique_ptr<Frames> decode_in_session(const Packets& packets, const DecodeConfig& config,
                                          const CancelToken* cancel, const OutputFormat* output,
                                          DecodeSession& session) {
  if (packets.params.pts_in_decode_order) {
    throw OutOfOrder{};  // its frames are timed by a clock of their own (decode_loop.h)
  }
  size_t next = 0;
  std::unique_ptr<ParkedDecoder> decoder = session.take(packets, config, &next);
  const bool continued = decoder != nullptr;
  if (!decoder) {
    decoder = open_for(packets, config);
  }
  auto result = make_frames(packets.media_type, packets.src, packets.time_base);
  // As decode_packets: with an output, the native writer sizes and converts each frame.
  std::optional<FrameWriter> writer;
  DecodeConfig routed = config;
  if (output) {
    const OutputFormat format = output_for(*output, /*still_image=*/false);
    writer.emplace(format);
    routed = with_output_hints(config, format);
  }
  FrameRouter router(packets, routed, [&](AVFrame* frame) {
    if (writer) {
      result->frames.push_back(writer->to_frame(frame));
    } else {
      result->frames.push_back(ffmpeg::alloc_frame());
      av_frame_move_ref(result->frames.back().get(), frame);
    }
    return true;
  });
  WindowFeeder feeder(packets, *decoder, router, cancel, continued);
  feeder.resume();
  feeder.feed(packets.packets, next, /*lookahead=*/false);
  feeder.feed(packets.lookahead, 0, /*lookahead=*/true);
  const bool spent = feeder.finish();
  session.count(feeder.sent(), continued);
  if (!spent) {
    session.park(std::move(decoder));
  }
  if (!config.filter_desc.empty()) {
    result->time_base = router.output_time_base();
  }
  return result;
}

}  // namespace

ParkedDecoder::ParkedDecoder() : owner(static_cast<int>(getpid())) {}

ParkedDecoder::~ParkedDecoder() {
  // Freeing a threaded decoder joins its threads, which a forked child does not have.
  if (num_threads != 1 && owner != static_cast<int>(getpid())) {
    static_cast<void>(ctx.release());
  }
}

std::unique_ptr<ParkedDecoder> DecodeSession::take(const Packets& window,
                                                   const DecodeConfig& config, size_t* next) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!parked_ || !window.window || !same_decoder(*parked_, config) ||
      parked_->owner != static_cast<int>(getpid())) {
    return nullptr;
  }
  if (parked_->passed_pts != AV_NOPTS_VALUE) {
    const double passed =
        static_cast<double>(parked_->passed_pts) * window.time_base.first / window.time_base.second;
    if (passed >= window.window->first - kStartMargin) {
      return nullptr;  // a frame of this window may have gone by already
    }
  }
  // A decoder opened for the window starts at its first packet, a keyframe.
  if (window.packets.empty() || !(window.packets.front()->flags & AV_PKT_FLAG_KEY)) {
    return nullptr;
  }
  const std::optional<size_t> after = index_after(window.packets, parked_->last_sent);
  if (!after) {
    return nullptr;
  }
  *next = *after;
  return std::move(parked_);
}

void DecodeSession::park(std::unique_ptr<ParkedDecoder> decoder) {
  std::unique_ptr<ParkedDecoder> dropped;  // freed outside the lock
  std::lock_guard<std::mutex> lock(mutex_);
  if (decoder->last_sent == AV_NOPTS_VALUE || !on() ||
      (parked_ && parked_->last_output >= decoder->last_output)) {
    dropped = std::move(decoder);
  } else {
    dropped = std::move(parked_);
    parked_ = std::move(decoder);
  }
}

void DecodeSession::turn_off() {
  std::unique_ptr<ParkedDecoder> dropped;
  std::lock_guard<std::mutex> lock(mutex_);
  off_.store(true, std::memory_order_relaxed);
  dropped = std::move(parked_);
}

const CodecParams& DecodeSession::described(const Packets& window) {
  std::call_once(described_once_, [&] { described_ = first_frame_facts(window); });
  return described_;
}

void DecodeSession::count(int64_t packets, bool continued) {
  packets_.fetch_add(packets, std::memory_order_relaxed);
  (continued ? continued_ : started_).fetch_add(1, std::memory_order_relaxed);
}

DecodeSession::Stats DecodeSession::stats() const {
  Stats stats;
  stats.packets_decoded = packets_.load(std::memory_order_relaxed);
  stats.windows_continued = continued_.load(std::memory_order_relaxed);
  stats.windows_started = started_.load(std::memory_order_relaxed);
  stats.windows_redone = redone_.load(std::memory_order_relaxed);
  return stats;
}

std::unique_ptr<Frames> decode_window_frames(const Packets& packets, const DecodeConfig& config,
                                             const CancelToken* cancel,
                                             const OutputFormat* output) {
  DecodeSession& session = *packets.session;
  if (session.on()) {
    std::unique_ptr<Frames> frames;
    try {
      frames = decode_in_session(packets, config, cancel, output, session);
    } catch (const OutOfOrder&) {
      session.turn_off();
    } catch (...) {
      if ((cancel && cancel->cancelled()) || raised_by_signal_handler()) {
        throw;
      }
      // A failure that an independent decode might not meet (in the lookahead, or
      // in a decoder with another past): its frames or its error are the answer.
    }
    if (frames) {
      if (frames->frames.empty()) {
        throw_no_frame(packets);
      }
      return frames;
    }
    session.count_redone();
  }
  return decode_packets(packets, config, cancel, output);
}

}  // namespace spdl
