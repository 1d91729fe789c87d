#include "decoder.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "audio_chunks.h"
#include "convert.h"
#include "decode_loop.h"
#include "ffmpeg/error.h"
#include "pixel_limit.h"

extern "C" {
#include <libavutil/intreadwrite.h>
}

namespace spdl {
namespace {

// Sets the decoder's layout from `description` (a name or channel names) if this
// FFmpeg parses it into `num_channels` channels (when known).
bool set_channel_layout(AVCodecContext* ctx, const std::string& description, int num_channels) {
  ffmpeg::ChannelLayout parsed;
  if (description.empty() || av_channel_layout_from_string(parsed.get(), description.c_str()) < 0) {
    return false;
  }
  if (num_channels && parsed.get()->nb_channels != num_channels) {
    return false;
  }
  return av_channel_layout_copy(&ctx->ch_layout, parsed.get()) >= 0;
}

// Bytes of one sample frame (every channel's sample) of a PCM decoder: what FFmpeg's
// PCM decoders (pcm.c) decode a packet in whole multiples of. 0 for other decoders,
// and for PCM ones that frame their data otherwise (pcm_dvd, pcm_bluray, pcm_lxf).
int pcm_frame_bytes(const AVCodecContext* ctx) {
  if (!ctx->codec || std::strncmp(ctx->codec->name, "pcm_", 4) != 0) {
    return 0;
  }
  const int bits = av_get_bits_per_sample(ctx->codec_id);
  return bits % 8 == 0 ? bits / 8 * ctx->ch_layout.nb_channels : 0;
}

// Whether `packet` is a Vorbis stream's first packet with samples to skip at its
// start (Matroska's CodecDelay). That packet only primes the decoder and gives no
// frame: FFmpeg 5.1 skips the samples from the frames after it, which are real
// audio (a WebM lost its first 1024 samples); newer releases drop the skip with the
// frameless packet. Sent without it, both decode the same samples.
bool skips_in_a_priming_packet(const AVCodecContext* ctx, const AVPacket* packet) {
  if (!packet || ctx->codec_id != AV_CODEC_ID_VORBIS) {
    return false;
  }
  size_t size = 0;
  const uint8_t* skip = av_packet_get_side_data(packet, AV_PKT_DATA_SKIP_SAMPLES, &size);
  return skip && size >= 4 && AV_RL32(skip) > 0;
}

}  // namespace

int send_packet(AVCodecContext* ctx, const AVPacket* packet) {
  const int frame_bytes = packet ? pcm_frame_bytes(ctx) : 0;
  const bool cut = frame_bytes > 0 && packet->size % frame_bytes != 0;
  const bool unskip = skips_in_a_priming_packet(ctx, packet);
  if (!cut && !unskip) {
    return avcodec_send_packet(ctx, packet);
  }
  if (cut && packet->size < frame_bytes) {
    return 0;
  }
  // A new reference: the data stays shared, the side data is copied.
  ffmpeg::PacketPtr sent = ffmpeg::alloc_packet();
  if (const int ret = av_packet_ref(sent.get(), packet); ret < 0) {
    return ret;
  }
  if (cut) {
    sent->size -= packet->size % frame_bytes;  // the bytes after the size are not read
  }
  if (unskip) {
    AV_WL32(av_packet_get_side_data(sent.get(), AV_PKT_DATA_SKIP_SAMPLES, nullptr), 0);
  }
  return avcodec_send_packet(ctx, sent.get());
}

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
  ctx->codec_tag = params.codec_tag;
  ctx->block_align = params.block_align;
  ctx->frame_size = params.frame_size;
  ctx->profile = params.profile;
  ctx->level = params.level;
  ctx->pkt_timebase = AVRational{time_base.first, time_base.second};
  ffmpeg::copy_extradata(params.extradata, &ctx->extradata, &ctx->extradata_size);
  if (desc->type == AVMEDIA_TYPE_VIDEO) {
    // The demuxer's size first; the decoder refuses a larger one in the bitstream
    // (av_image_check_size2) before it allocates a picture.
    check_pixel_limit(params.width, params.height, config.max_pixels, src);
    if (config.max_pixels > 0) {
      ctx->max_pixels = decoder_max_pixels(config.max_pixels);
    }
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
  if (desc->type != AVMEDIA_TYPE_AUDIO && desc->type != AVMEDIA_TYPE_VIDEO) {
    throw MediaError("Failed to decode " + src + ": \"" + params.codec_name +
                     "\" is neither an audio nor a video codec.");
  }
  return ctx;
}

ffmpeg::CodecContextPtr open_decoder(const Packets& packets, const DecodeConfig& config) {
  auto ctx = open_decoder(packets.params, packets.time_base, packets.src, config);
  const bool audio = packets.media_type == MediaType::Audio;
  if (ctx->codec_type != (audio ? AVMEDIA_TYPE_AUDIO : AVMEDIA_TYPE_VIDEO)) {
    throw MediaError("Failed to decode " + packets.src + ": \"" + packets.params.codec_name +
                     "\" is not " + (audio ? "an audio" : "a video") + " codec.");
  }
  return ctx;
}

DecodeConfig with_output_hints(const DecodeConfig& config, const OutputFormat& output) {
  DecodeConfig hinted = config;
  hinted.rgb_frames = config.filter_desc.empty() ? rgb_frame_format(output) : AV_PIX_FMT_NONE;
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
  // The router prepares still images for the output too (still_image_decode.h).
  const DecodeConfig hinted =
      output ? with_output_hints(config, output_for(*output, single)) : config;
  FrameRouter router(packets, hinted, [&](AVFrame* frame) {
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
  run_decoder(packets, hinted, cancel, router);
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
  const bool single = packets.media_type == MediaType::Image;
  FrameWriter writer(output_for(output, single));
  std::unique_ptr<CPUBuffer> buffer;
  ImageLayout layout;
  std::string first_description;
  int64_t count = 0;
  const DecodeConfig hinted = with_output_hints(config, output_for(output, single));
  FrameRouter router(packets, hinted, [&](AVFrame* frame) {
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
  run_decoder(packets, hinted, cancel, router);
  if (!buffer) {
    throw_no_frame(packets);
  }
  return buffer;
}

}  // namespace spdl
