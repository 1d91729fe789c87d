#include "decoder.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include "convert.h"
#include "ffmpeg/error.h"
#include "filter_graph.h"
#include "jpeg_decoder.h"

namespace spdl {
namespace {

AVMediaType av_media_type(MediaType type) {
  return type == MediaType::Audio ? AVMEDIA_TYPE_AUDIO : AVMEDIA_TYPE_VIDEO;
}

void copy_extradata(AVCodecContext* ctx, const std::string& extradata) {
  if (extradata.empty()) {
    return;
  }
  ctx->extradata =
      static_cast<uint8_t*>(av_mallocz(extradata.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!ctx->extradata) {
    throw std::bad_alloc();
  }
  std::memcpy(ctx->extradata, extradata.data(), extradata.size());
  ctx->extradata_size = static_cast<int>(extradata.size());
}

// Routes decoded frames through the filter graph (when one is requested) to
// `emit`, which takes the frame's data. The graph is (re)built from the actual
// decoded frames, so it always matches the decoder's output.
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
      return emit_(frame);
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
      return emit_(frame);  // a no-op format filter would only cost a copy per frame
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
  bool drain(bool flush) {
    if (flush && !graph_->finished()) {
      graph_->push(nullptr);
    }
    while (graph_->pull(pulled_.get())) {
      const bool more = emit_(pulled_.get());
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

// Sends every packet to the decoder and every decoded frame to `router`.
void run_decoder(const Packets& packets, const DecodeConfig& config, const CancelToken* cancel,
                 FrameRouter& router) {
  auto check_cancelled = [&]() {
    if (cancel && cancel->cancelled()) {
      throw MediaError("Decoding " + packets.src + " was cancelled.");
    }
  };
  if (use_turbojpeg(packets, config)) {
    check_cancelled();
    if (auto frame = decode_turbojpeg(*packets.packets.front(), packets, config)) {
      if (router.add(frame.get())) {
        router.finish();
      }
      return;
    }  // else libjpeg-turbo cannot decode this JPEG: FFmpeg's decoder below takes it
  }
  auto ctx = open_decoder(packets.params, packets.time_base, packets.src, config);
  if (ctx->codec_type != av_media_type(packets.media_type)) {
    throw MediaError("Failed to decode " + packets.src + ": \"" + packets.params.codec_name +
                     "\" is not a " + to_string(packets.media_type) + " codec.");
  }
  auto frame = ffmpeg::alloc_frame();
  const std::string context = "Failed to decode " + packets.src;

  // Returns false once no more frames are wanted.
  auto receive_all = [&]() {
    while (true) {
      int ret = avcodec_receive_frame(ctx.get(), frame.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
        return true;
      }
      ffmpeg::check(ret, context);
      const bool more = router.add(frame.get());
      av_frame_unref(frame.get());
      if (!more) {
        return false;
      }
    }
  };

  // Frames shown before a window's start are dropped anyway; those no other frame
  // references need not be decoded at all (B-frames between the keyframe and start).
  int64_t skip_before = AV_NOPTS_VALUE;
  if (packets.media_type == MediaType::Video && packets.window && packets.window->first > 0) {
    skip_before = static_cast<int64_t>(packets.window->first * packets.time_base.second /
                                       packets.time_base.first);
  }
  bool wanted = true;
  size_t index = 0;
  for (const auto& packet : packets.packets) {
    check_cancelled();
    if (skip_before != AV_NOPTS_VALUE) {
      const bool before = packet->pts != AV_NOPTS_VALUE && packet->pts < skip_before;
      ctx->skip_frame = before ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    }
    ffmpeg::check(avcodec_send_packet(ctx.get(), packet.get()),
                  [&] { return context + " (packet " + std::to_string(index) + ")"; });
    ++index;
    if (!(wanted = receive_all())) {
      break;
    }
  }
  if (wanted) {
    ffmpeg::check(avcodec_send_packet(ctx.get(), nullptr), context + " (flush)");
    wanted = receive_all();
  }
  if (wanted) {
    router.finish();
  }
}

[[noreturn]] void throw_no_frame(const Packets& packets) {
  throw MediaError("Failed to decode " + packets.src + ": no frame could be decoded from " +
                   std::to_string(packets.packets.size()) + " packet(s)" +
                   (packets.window ? " in the requested window." : "."));
}

// Samples per channel the packets should decode to at `sample_rate`, from their
// durations; a little more than needed is cheap (untouched pages cost no memory).
int64_t estimate_samples(const Packets& packets, int sample_rate, int64_t frame_samples) {
  int64_t duration = 0;
  for (const auto& packet : packets.packets) {
    duration += std::max<int64_t>(packet->duration, 0);
  }
  if (duration == 0) {
    return static_cast<int64_t>(packets.packets.size()) * frame_samples + frame_samples;
  }
  double seconds =
      static_cast<double>(duration) * packets.time_base.first / packets.time_base.second;
  if (packets.window) {
    seconds = std::min(seconds, packets.window->second - packets.window->first);
  }
  return static_cast<int64_t>(seconds * sample_rate) + 2 * frame_samples;
}

// Audio straight into the output: each frame's samples are copied as it comes
// out of the decoder (or its filter graph) and the frame goes back to the
// decoder's pool at once, instead of every frame being held until conversion.
// Planar rows are written with room to spare and packed together at the end.
std::unique_ptr<CPUBuffer> decode_audio_to_buffer(const Packets& packets,
                                                  const DecodeConfig& config,
                                                  const CancelToken* cancel) {
  std::unique_ptr<CPUBuffer> buffer;
  int format = AV_SAMPLE_FMT_NONE;
  int64_t channels = 0;
  bool planar = false;
  DType dtype = DType::Float32;
  size_t item = 0;
  int64_t capacity = 0;  // samples per channel a planar row has room for
  int64_t count = 0;     // samples per channel written
  FrameRouter router(packets, config, [&](AVFrame* frame) {
    const int64_t n = frame->nb_samples;
    if (!buffer) {
      format = frame->format;
      channels = frame->ch_layout.nb_channels;
      planar = av_sample_fmt_is_planar(static_cast<AVSampleFormat>(format));
      dtype = sample_dtype(static_cast<AVSampleFormat>(format));
      item = itemsize(dtype);
      capacity = estimate_samples(packets, frame->sample_rate, n);
      buffer =
          planar ? std::make_unique<CPUBuffer>(std::vector<int64_t>{channels, capacity}, dtype)
                 : std::make_unique<CPUBuffer>(std::vector<int64_t>{0, channels}, dtype, capacity);
    } else if (frame->format != format || frame->ch_layout.nb_channels != channels) {
      throw std::invalid_argument("Audio frames of " + packets.src +
                                  " change sample format or channel count mid-stream; pass "
                                  "sample_fmt and num_channels to decode_packets.");
    }
    if (!planar) {
      buffer->resize_leading_dim(count + n);
      std::memcpy(buffer->data() + count * channels * item, frame->data[0], n * channels * item);
      count += n;
      return true;
    }
    if (count + n > capacity) {
      const int64_t grown = std::max(count + n, capacity + capacity / 2);
      auto bigger = std::make_unique<CPUBuffer>(std::vector<int64_t>{channels, grown}, dtype);
      for (int64_t c = 0; c < channels; ++c) {
        std::memcpy(bigger->data() + c * grown * item, buffer->data() + c * capacity * item,
                    count * item);
      }
      buffer = std::move(bigger);
      capacity = grown;
    }
    for (int64_t c = 0; c < channels; ++c) {
      std::memcpy(buffer->data() + (c * capacity + count) * item, frame->extended_data[c],
                  n * item);
    }
    count += n;
    return true;
  });
  run_decoder(packets, config, cancel, router);
  if (!buffer) {
    throw_no_frame(packets);
  }
  if (planar && count < capacity) {
    for (int64_t c = 1; c < channels; ++c) {
      std::memmove(buffer->data() + c * count * item, buffer->data() + c * capacity * item,
                   count * item);
    }
    buffer->reshape({channels, count});
  }
  return buffer;
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
  copy_extradata(ctx.get(), params.extradata);
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
    if (params.channel_layout.empty() ||
        av_channel_layout_from_string(&ctx->ch_layout, params.channel_layout.c_str()) < 0 ||
        (params.num_channels && ctx->ch_layout.nb_channels != params.num_channels)) {
      av_channel_layout_uninit(&ctx->ch_layout);
      if (params.num_channels > 0) {
        av_channel_layout_default(&ctx->ch_layout, params.num_channels);
      }
    }
  }
  ctx->thread_count = config.num_threads;
  ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;

  AVDictionary* raw = ffmpeg::make_dictionary(config.decoder_options);
  ffmpeg::DictionaryPtr options(raw);
  int ret = avcodec_open2(ctx.get(), codec, &raw);
  options.release();
  options.reset(raw);
  ffmpeg::check(ret, "Failed to open the decoder \"" + std::string(codec->name) + "\" for " + src);
  if (const AVDictionaryEntry* unused = av_dict_get(raw, "", nullptr, AV_DICT_IGNORE_SUFFIX)) {
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
  FrameRouter router(packets, config, [&](AVFrame* frame) {
    if (writer) {
      result->frames.push_back(writer->to_frame(frame));
    } else {
      result->frames.push_back(ffmpeg::alloc_frame());
      av_frame_move_ref(result->frames.back().get(), frame);
    }
    return !single;
  });
  run_decoder(packets, output ? with_output_hints(config, *output) : config, cancel, router);
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

}  // namespace spdl
