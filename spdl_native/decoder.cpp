#include "decoder.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "audio_chunks.h"
#include "convert.h"
#include "decode_plan.h"
#include "ffmpeg/error.h"
#include "filter_graph.h"
#include "jpeg_decoder.h"

namespace spdl {
namespace {

AVMediaType av_media_type(MediaType type) {
  return type == MediaType::Audio ? AVMEDIA_TYPE_AUDIO : AVMEDIA_TYPE_VIDEO;
}

// Sets the decoder's layout from `description` (a name or channel names) if this
// FFmpeg parses it into `num_channels` channels (when known).
bool set_channel_layout(AVCodecContext* ctx, const std::string& description, int num_channels) {
  av_channel_layout_uninit(&ctx->ch_layout);
  if (description.empty() ||
      av_channel_layout_from_string(&ctx->ch_layout, description.c_str()) < 0) {
    av_channel_layout_uninit(&ctx->ch_layout);
    return false;
  }
  if (num_channels && ctx->ch_layout.nb_channels != num_channels) {
    av_channel_layout_uninit(&ctx->ch_layout);
    return false;
  }
  return true;
}

// Routes decoded frames through the filter graph (when one is requested) to
// `emit`, which takes the frame's data; each emitted frame's time_base is set to
// that of its pts. The graph is (re)built from the actual decoded frames, so it
// always matches the decoder's output.
class FrameRouter {
 public:
  using Emit = std::function<bool(AVFrame*)>;  // returns false once no more frames are wanted

  FrameRouter(const Packets& packets, const DecodeConfig& config, Emit emit)
      : packets_(packets),
        config_(config),
        emit_(std::move(emit)),
        pulled_(ffmpeg::alloc_frame()) {}

  // Returns false once no more frames are wanted.
  bool add(AVFrame* frame) {
    frame->pts = frame->best_effort_timestamp;
    if (config_.filter_desc.empty()) {
      return emit(frame, packets_.time_base);
    }
    if (graph_ && !graph_->accepts(frame)) {
      drain(/*flush=*/true);  // the stream changed size or format mid-way
      graph_.reset();
    }
    if (!graph_) {
      graph_ = std::make_unique<FilterGraph>(config_.filter_desc, packets_.media_type, frame,
                                             packets_.time_base, packets_.src);
      output_time_base_ = graph_->output_time_base();
    }
    if (graph_->is_identity()) {
      return emit(frame, packets_.time_base);  // a no-op format filter would only cost a copy
    }
    graph_->push(frame);
    return drain(/*flush=*/false) && !graph_->finished();
  }

  void finish() {
    if (graph_) {
      drain(/*flush=*/true);
    }
  }

  Rational output_time_base() const { return output_time_base_; }

 private:
  bool emit(AVFrame* frame, Rational time_base) {
    frame->time_base = AVRational{time_base.first, time_base.second};
    return emit_(frame);
  }

  bool drain(bool flush) {
    if (flush && !graph_->finished()) {
      graph_->push(nullptr);
    }
    while (graph_->pull(pulled_.get())) {
      const bool more = emit(pulled_.get(), output_time_base_);
      av_frame_unref(pulled_.get());
      if (!more) {
        return false;
      }
    }
    return true;
  }

  const Packets& packets_;
  const DecodeConfig& config_;
  Emit emit_;
  ffmpeg::FramePtr pulled_;
  std::unique_ptr<FilterGraph> graph_;
  Rational output_time_base_;
};

// Sends packets to a decoder and each decoded frame to a router. The decoder
// lives between calls, so the packets may come in chunks (AudioDecodeStream);
// `header` gives the stream's codec, time base and window, and must outlive it.
class PacketFeeder {
 public:
  PacketFeeder(const Packets& header, const DecodeConfig& config, FrameRouter& router)
      : header_(header),
        router_(router),
        ctx_(open_decoder(header.params, header.time_base, header.src, config)),
        frame_(ffmpeg::alloc_frame()),
        context_("Failed to decode " + header.src) {
    if (ctx_->codec_type != av_media_type(header.media_type)) {
      throw MediaError(context_ + ": \"" + header.params.codec_name + "\" is not a " +
                       to_string(header.media_type) + " codec.");
    }
    // Frames shown before a window's start are dropped anyway; those no other frame
    // references need not be decoded at all (B-frames between the keyframe and start).
    if (header.media_type == MediaType::Video && header.window && header.window->first > 0) {
      skip_before_ = static_cast<int64_t>(header.window->first * header.time_base.second /
                                          header.time_base.first);
    }
  }

  // Sends `packets`; stops once no more frames are wanted.
  void feed(const Packets& packets, const CancelToken* cancel) {
    for (const auto& packet : packets.packets) {
      if (!wanted_) {
        return;
      }
      if (cancel && cancel->cancelled()) {
        throw MediaError("Decoding " + header_.src + " was cancelled.");
      }
      if (skip_before_ != AV_NOPTS_VALUE) {
        const bool before = packet->pts != AV_NOPTS_VALUE && packet->pts < skip_before_;
        ctx_->skip_frame = before ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      }
      ffmpeg::check(avcodec_send_packet(ctx_.get(), packet.get()),
                    [&] { return context_ + " (packet " + std::to_string(index_) + ")"; });
      ++index_;
      wanted_ = receive_all();
    }
  }

  size_t sent() const { return index_; }

  // Drains the decoder and the router, unless no more frames were wanted.
  void finish() {
    if (wanted_) {
      ffmpeg::check(avcodec_send_packet(ctx_.get(), nullptr), context_ + " (flush)");
      wanted_ = receive_all();
    }
    if (wanted_) {
      router_.finish();
    }
  }

 private:
  // Returns false once no more frames are wanted.
  bool receive_all() {
    while (true) {
      int ret = avcodec_receive_frame(ctx_.get(), frame_.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
        return true;
      }
      ffmpeg::check(ret, context_);
      const bool more = router_.add(frame_.get());
      av_frame_unref(frame_.get());
      if (!more) {
        return false;
      }
    }
  }

  const Packets& header_;
  FrameRouter& router_;
  ffmpeg::CodecContextPtr ctx_;
  ffmpeg::FramePtr frame_;
  const std::string context_;
  int64_t skip_before_ = AV_NOPTS_VALUE;
  size_t index_ = 0;
  bool wanted_ = true;
};

// Sends every packet to the decoder and every decoded frame to `router`.
void run_decoder(const Packets& packets, const DecodeConfig& config, const CancelToken* cancel,
                 FrameRouter& router) {
  if (use_turbojpeg(packets, config)) {
    if (cancel && cancel->cancelled()) {
      throw MediaError("Decoding " + packets.src + " was cancelled.");
    }
    if (auto frame = decode_turbojpeg(*packets.packets.front(), packets, config)) {
      if (router.add(frame.get())) {
        router.finish();
      }
      return;
    }  // else libjpeg-turbo cannot decode this JPEG: FFmpeg's decoder below takes it
  }
  PacketFeeder feeder(packets, config, router);
  feeder.feed(packets, cancel);
  feeder.finish();
}

// `count`: the packets decoded (default: all of `packets`).
[[noreturn]] void throw_no_frame(const Packets& packets, std::optional<size_t> count = {}) {
  throw MediaError("Failed to decode " + packets.src + ": no frame could be decoded from " +
                   std::to_string(count.value_or(packets.packets.size())) + " packet(s)" +
                   (packets.window ? " in the requested window." : "."));
}

// `seconds` of audio, capped by the length of the packets' window.
double within_window(const Packets& packets, double seconds) {
  return packets.window ? std::min(seconds, packets.window->second - packets.window->first)
                        : seconds;
}

// Seconds of audio the packets hold, from their durations; 0 when they do not say.
double packets_seconds(const Packets& packets) {
  int64_t duration = 0;
  for (const auto& packet : packets.packets) {
    duration += std::max<int64_t>(packet->duration, 0);
  }
  return static_cast<double>(duration) * packets.time_base.first / packets.time_base.second;
}

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
    capacity_ = seconds > 0 ? static_cast<int64_t>(seconds * frame->sample_rate)
                            : std::max<int64_t>(fallback_frames_, 64) * frame_samples;
    capacity_ += 2 * frame_samples;
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

std::unique_ptr<CPUBuffer> decode_audio_to_buffer(const Packets& packets,
                                                  const DecodeConfig& config,
                                                  const CancelToken* cancel) {
  AudioWriter writer(packets, packets_seconds(packets),
                     static_cast<int64_t>(packets.packets.size()));
  FrameRouter router(packets, config, [&](AVFrame* frame) { return writer.add(frame); });
  run_decoder(packets, config, cancel, router);
  return writer.finish(packets.packets.size());
}

}  // namespace

ffmpeg::CodecContextPtr open_decoder(const CodecParams& params, Rational time_base,
                                     const std::string& src, const DecodeConfig& config) {
  const AVCodecDescriptor* desc = avcodec_descriptor_get_by_name(params.codec_name.c_str());
  if (!desc) {
    throw MediaError("Failed to decode " + src + ": the codec \"" + params.codec_name +
                     "\" is unknown to the system FFmpeg (libavcodec " LIBAVCODEC_IDENT ").");
  }
  const AVCodec* codec = nullptr;
  if (config.decoder) {
    codec = avcodec_find_decoder_by_name(config.decoder->c_str());
    if (!codec) {
      throw std::invalid_argument("Unknown decoder \"" + *config.decoder + "\" for " + src +
                                  ": the system FFmpeg has no decoder of that name.");
    }
    if (codec->id != desc->id) {
      throw std::invalid_argument("The decoder \"" + *config.decoder + "\" cannot decode \"" +
                                  params.codec_name + "\" (" + src + ").");
    }
  } else {
    codec = avcodec_find_decoder(desc->id);
    if (!codec) {
      throw MediaError("Failed to decode " + src + ": the system FFmpeg (libavcodec " +
                       LIBAVCODEC_IDENT + ") has no decoder for the codec \"" + params.codec_name +
                       "\".");
    }
  }
  ffmpeg::CodecContextPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) {
    throw std::bad_alloc();
  }
  ctx->codec_type = desc->type;
  ctx->codec_id = desc->id;
  ctx->bit_rate = params.bit_rate;
  ctx->bits_per_coded_sample = params.bits_per_coded_sample;
  ctx->block_align = params.block_align;
  ctx->frame_size = params.frame_size;
  ctx->profile = params.profile;
  ctx->level = params.level;
  ctx->pkt_timebase = AVRational{time_base.first, time_base.second};
  ffmpeg::copy_extradata(params.extradata, &ctx->extradata, &ctx->extradata_size);
  if (desc->type == AVMEDIA_TYPE_VIDEO) {
    ctx->width = params.width;
    ctx->height = params.height;
    if (!params.pix_fmt.empty()) {
      ctx->pix_fmt = av_get_pix_fmt(params.pix_fmt.c_str());
    }
    ctx->sample_aspect_ratio =
        AVRational{params.sample_aspect_ratio.first, params.sample_aspect_ratio.second};
  } else if (desc->type == AVMEDIA_TYPE_AUDIO) {
    ctx->sample_rate = params.sample_rate;
    if (!params.sample_fmt.empty()) {
      ctx->sample_fmt = av_get_sample_fmt(params.sample_fmt.c_str());
    }
    if (!set_channel_layout(ctx.get(), params.channel_layout, params.num_channels) &&
        !set_channel_layout(ctx.get(), params.channel_names, params.num_channels) &&
        params.num_channels > 0) {
      av_channel_layout_default(&ctx->ch_layout, params.num_channels);
    }
  }
  ctx->thread_count = config.num_threads;
  ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;

  // avcodec_open2 replaces the options with those the decoder did not take.
  ffmpeg::DictionaryParam options(ffmpeg::make_dictionary(config.decoder_options));
  ffmpeg::check(avcodec_open2(ctx.get(), codec, options.address()),
                "Failed to open the decoder \"" + std::string(codec->name) + "\" for " + src);
  if (const AVDictionaryEntry* unused =
          av_dict_get(options.get(), "", nullptr, AV_DICT_IGNORE_SUFFIX)) {
    throw std::invalid_argument("The decoder \"" + std::string(codec->name) +
                                "\" has no option \"" + unused->key + "\" (" + src + ").");
  }
  if (desc->type != av_media_type(MediaType::Audio) && desc->type != AVMEDIA_TYPE_VIDEO) {
    throw MediaError("Failed to decode " + src + ": \"" + params.codec_name +
                     "\" is neither an audio nor a video codec.");
  }
  return ctx;
}

DecodeConfig with_output_hints(const DecodeConfig& config, const OutputFormat& output) {
  DecodeConfig hinted = config;
  hinted.rgb_frames = config.filter_desc.empty() ? rgb_resize_format(output) : AV_PIX_FMT_NONE;
  hinted.transient_frames = true;
  return hinted;
}

std::unique_ptr<Frames> decode_packets(const Packets& packets, const DecodeConfig& config,
                                       const CancelToken* cancel, const OutputFormat* output) {
  auto result = make_frames(packets.media_type, packets.src, packets.time_base);
  const bool single = packets.media_type == MediaType::Image;
  std::optional<FrameWriter> writer;
  if (output) {
    writer.emplace(output_for(*output, packets.media_type == MediaType::Image));
  }
  std::optional<AudioChunks> chunks;
  if (packets.media_type == MediaType::Audio) {
    chunks.emplace(result->frames, within_window(packets, packets_seconds(packets)), packets.src);
  }
  FrameRouter router(packets, config, [&](AVFrame* frame) {
    if (chunks) {
      chunks->add(frame);
    } else if (writer) {
      result->frames.push_back(writer->to_frame(frame));
    } else {
      result->frames.push_back(ffmpeg::alloc_frame());
      av_frame_move_ref(result->frames.back().get(), frame);
    }
    return !single;
  });
  run_decoder(packets, output ? with_output_hints(config, *output) : config, cancel, router);
  if (chunks) {
    chunks->finish();
  }
  if (result->frames.empty()) {
    throw_no_frame(packets);
  }
  if (!config.filter_desc.empty()) {
    result->time_base = router.output_time_base();
  }
  return result;
}

std::unique_ptr<CPUBuffer> decode_packets_to_buffer(const Packets& packets,
                                                    const DecodeConfig& config,
                                                    const OutputFormat& output,
                                                    const CancelToken* cancel,
                                                    int64_t expected_frames) {
  if (packets.media_type == MediaType::Audio) {
    return decode_audio_to_buffer(packets, config, cancel);
  }
  const bool single = packets.media_type == MediaType::Image;
  FrameWriter writer(output_for(output, single));
  std::unique_ptr<CPUBuffer> buffer;
  ImageLayout layout;
  std::string first_description;
  int64_t count = 0;
  FrameRouter router(packets, config, [&](AVFrame* frame) {
    if (!buffer) {
      layout = writer.layout(frame);
      first_description = describe_frame(frame);
      std::vector<int64_t> shape = layout.shape;
      if (!single) {
        shape.insert(shape.begin(), 0);
      }
      buffer = std::make_unique<CPUBuffer>(shape, layout.dtype,
                                           single ? 0 : std::max<int64_t>(expected_frames, 1));
    } else if (writer.layout(frame).shape != layout.shape) {
      throw std::invalid_argument("Frame " + std::to_string(count) + " of " + packets.src + " is " +
                                  describe_frame(frame) + " but frame 0 is " + first_description +
                                  "; pass width and height to give all frames one size.");
    }
    if (!single) {
      buffer->resize_leading_dim(count + 1);
    }
    writer.write(frame, buffer->data() + static_cast<size_t>(count) * layout.bytes);
    ++count;
    return !single;
  });
  run_decoder(packets, with_output_hints(config, output), cancel, router);
  if (!buffer) {
    throw_no_frame(packets);
  }
  return buffer;
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
