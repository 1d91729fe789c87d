#include "audio_decoder.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "convert.h"
#include "decode_loop.h"
#include "decode_plan.h"

namespace spdl {
namespace {

// Copies each audio frame's samples straight into the output as it comes out of
// the decoder (or its filter graph), so the frame goes back to the decoder's pool
// at once instead of every frame being held until conversion. Planar rows are
// written with room to spare and packed together at the end.
class AudioWriter {
 public:
  // Makes room for `seconds` of audio, or when that is unknown (0), for
  // `fallback_frames` frames; grows as needed.
  AudioWriter(const Packets& header, double seconds, int64_t fallback_frames)
      : header_(header), seconds_(seconds), fallback_frames_(fallback_frames) {}

  bool add(AVFrame* frame) {
    const int64_t n = frame->nb_samples;
    if (!buffer_) {
      start(frame);
    } else if (frame->format != format_ || frame->ch_layout.nb_channels != channels_) {
      throw std::invalid_argument("Audio frames of " + header_.src +
                                  " change sample format or channel count mid-stream; pass "
                                  "sample_fmt and num_channels to decode_packets.");
    }
    if (!planar_) {
      buffer_->resize_leading_dim(count_ + n);
      copy_samples(frame, buffer_->data(), 0, count_);
      count_ += n;
      return true;
    }
    if (count_ + n > capacity_) {
      const int64_t grown = std::max(count_ + n, capacity_ + capacity_ / 2);
      auto bigger = std::make_unique<CPUBuffer>(std::vector<int64_t>{channels_, grown}, dtype_);
      for (int64_t c = 0; c < channels_; ++c) {
        std::memcpy(bigger->data() + c * grown * item_, buffer_->data() + c * capacity_ * item_,
                    count_ * item_);
      }
      buffer_ = std::move(bigger);
      capacity_ = grown;
    }
    copy_samples(frame, buffer_->data(), capacity_ * item_, count_);
    count_ += n;
    return true;
  }

  // `packets`: how many were decoded, for the error when none gave a frame.
  std::unique_ptr<CPUBuffer> finish(size_t packets) {
    if (!buffer_) {
      throw_no_frame(header_, packets);
    }
    if (planar_ && count_ < capacity_) {
      for (int64_t c = 1; c < channels_; ++c) {
        std::memmove(buffer_->data() + c * count_ * item_, buffer_->data() + c * capacity_ * item_,
                     count_ * item_);
      }
      buffer_->reshape({channels_, count_});
    }
    return std::move(buffer_);
  }

 private:
  void start(const AVFrame* frame) {
    format_ = frame->format;
    channels_ = frame->ch_layout.nb_channels;
    planar_ = av_sample_fmt_is_planar(static_cast<AVSampleFormat>(format_));
    dtype_ = sample_dtype(static_cast<AVSampleFormat>(format_));
    item_ = itemsize(dtype_);
    // A little more than needed is cheap: untouched pages cost no memory.
    const double seconds = within_window(header_, seconds_);
    const int64_t frame_samples = std::max(frame->nb_samples, 1);
    const int64_t estimate = std::max<int64_t>(fallback_frames_, 64) * frame_samples;
    // The declared duration is a header's word: one of 74,000 hours (0.3 s of MP3)
    // asked for more than the machine maps. Then the packets' estimate, grown as needed.
    const double declared = seconds * frame->sample_rate;
    capacity_ = seconds > 0 && declared < 1e15 ? static_cast<int64_t>(declared) : estimate;
    capacity_ += 2 * frame_samples;
    try {
      allocate();
    } catch (const std::bad_alloc&) {
      capacity_ = estimate + 2 * frame_samples;
      allocate();
    }
  }

  void allocate() {
    buffer_ =
        planar_
            ? std::make_unique<CPUBuffer>(std::vector<int64_t>{channels_, capacity_}, dtype_)
            : std::make_unique<CPUBuffer>(std::vector<int64_t>{0, channels_}, dtype_, capacity_);
  }

  const Packets& header_;
  const double seconds_;
  const int64_t fallback_frames_;
  std::unique_ptr<CPUBuffer> buffer_;
  int format_ = AV_SAMPLE_FMT_NONE;
  int64_t channels_ = 0;
  bool planar_ = false;
  DType dtype_ = DType::Float32;
  size_t item_ = 0;
  int64_t capacity_ = 0;  // samples per channel a planar row has room for
  int64_t count_ = 0;     // samples per channel written
};

}  // namespace

std::unique_ptr<CPUBuffer> decode_audio_to_buffer(const Packets& packets,
                                                  const DecodeConfig& config,
                                                  const CancelToken* cancel) {
  AudioWriter writer(packets, packets_seconds(packets),
                     static_cast<int64_t>(packets.packets.size()));
  FrameRouter router(packets, config, [&](AVFrame* frame) { return writer.add(frame); });
  run_decoder(packets, config, cancel, router);
  return writer.finish(packets.packets.size());
}

namespace {

// The stream's codec, time base and window, without packets.
std::unique_ptr<AudioPackets> packets_header(const Packets& packets) {
  auto header = std::make_unique<AudioPackets>(packets.src, packets.params, packets.time_base);
  header->window = packets.window;
  return header;
}

}  // namespace

struct AudioDecodeStream::State {
  State(const Packets& first, const DecodeConfig& decode_config, double seconds)
      : header(packets_header(first)),
        config(decode_config),
        writer(*header, seconds, 0),
        router(*header, config, [this](AVFrame* frame) { return writer.add(frame); }),
        feeder(*header, config, router) {}

  std::unique_ptr<AudioPackets> header;
  DecodeConfig config;
  AudioWriter writer;
  FrameRouter router;
  PacketFeeder feeder;
};

AudioDecodeStream::AudioDecodeStream(const Packets& first, const DecodePlan& plan, double seconds) {
  if (first.media_type != MediaType::Audio) {
    throw std::invalid_argument("AudioDecodeStream takes audio packets, not " +
                                std::string(to_string(first.media_type)) + " ones.");
  }
  const DecodeSteps steps = decode_steps(plan, MediaType::Audio, Destination::kBuffer);
  state_ = std::make_unique<State>(first, steps.config, seconds);
}

AudioDecodeStream::~AudioDecodeStream() = default;

// The calls run with the GIL released: a second thread calling in at the same
// time gets an error instead of a decoder used by two threads.
std::unique_lock<std::mutex> AudioDecodeStream::enter() {
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    throw std::runtime_error("An AudioDecodeStream was called from two threads at once.");
  }
  if (!state_) {
    throw std::runtime_error("This AudioDecodeStream has finished: it takes no more packets.");
  }
  return lock;
}

void AudioDecodeStream::feed(const Packets& packets, const CancelToken* cancel) {
  const auto lock = enter();
  if (packets.media_type != MediaType::Audio) {
    throw std::invalid_argument("AudioDecodeStream takes audio packets, not " +
                                std::string(to_string(packets.media_type)) + " ones.");
  }
  state_->feeder.feed(packets, cancel);
}

std::unique_ptr<CPUBuffer> AudioDecodeStream::finish() {
  const auto lock = enter();
  std::unique_ptr<State> state = std::move(state_);
  state->feeder.finish();
  return state->writer.finish(state->feeder.sent());
}

}  // namespace spdl
