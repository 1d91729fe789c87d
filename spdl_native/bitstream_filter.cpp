#include "bitstream_filter.h"

#include <stdexcept>

#include "ffmpeg/error.h"

extern "C" {
#include <libavcodec/bsf.h>
}

namespace spdl {
namespace {

std::unique_ptr<Packets> make_packets(const Packets& like, CodecParams params) {
  switch (like.media_type) {
    case MediaType::Image:
      return std::make_unique<ImagePackets>(like.src, std::move(params), like.time_base);
    case MediaType::Audio:
      return std::make_unique<AudioPackets>(like.src, std::move(params), like.time_base);
    case MediaType::Video:
      break;
  }
  return std::make_unique<VideoPackets>(like.src, std::move(params), like.time_base);
}

// Only what a bitstream filter reads: the codec, its extradata and the size.
void fill_parameters(AVCodecParameters* par, const CodecParams& params, AVCodecID id,
                     AVMediaType type) {
  par->codec_type = type;
  par->codec_id = id;
  par->width = params.width;
  par->height = params.height;
  ffmpeg::copy_extradata(params.extradata, &par->extradata, &par->extradata_size);
}

}  // namespace

std::string annexb_filter(const std::string& codec_name) {
  if (codec_name == "h264") {
    return "h264_mp4toannexb";
  }
  if (codec_name == "hevc") {
    return "hevc_mp4toannexb";
  }
  return "";
}

std::unique_ptr<Packets> apply_bsf(const Packets& packets, const std::string& name) {
  const AVBitStreamFilter* filter = av_bsf_get_by_name(name.c_str());
  if (!filter) {
    throw std::invalid_argument("Unknown bitstream filter \"" + name +
                                "\": the system FFmpeg (libavcodec " LIBAVCODEC_IDENT
                                ") has none of that name.");
  }
  const AVCodecDescriptor* desc = avcodec_descriptor_get_by_name(packets.params.codec_name.c_str());
  if (!desc) {
    throw MediaError("Failed to filter " + packets.src + ": the codec \"" +
                     packets.params.codec_name + "\" is unknown to the system FFmpeg.");
  }
  const std::string context = "Failed to apply the bitstream filter \"" + name + "\" to " +
                              packets.src + " (" + packets.params.codec_name + ")";
  AVBSFContext* raw = nullptr;
  ffmpeg::check(av_bsf_alloc(filter, &raw), context);
  const ffmpeg::BsfContextPtr bsf(raw);
  fill_parameters(bsf->par_in, packets.params, desc->id, desc->type);
  bsf->time_base_in = AVRational{packets.time_base.first, packets.time_base.second};
  ffmpeg::check(av_bsf_init(bsf.get()), context);

  CodecParams params = packets.params;
  params.extradata.assign(reinterpret_cast<const char*>(bsf->par_out->extradata),
                          bsf->par_out->extradata ? bsf->par_out->extradata_size : 0);
  auto out = make_packets(packets, std::move(params));
  out->frame_rate = packets.frame_rate;
  out->window = packets.window;
  out->packets.reserve(packets.packets.size());

  auto drain = [&](size_t index) {
    while (true) {
      auto filtered = ffmpeg::alloc_packet();
      int ret = av_bsf_receive_packet(bsf.get(), filtered.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
        return;
      }
      ffmpeg::check(ret, [&] { return context + " (packet " + std::to_string(index) + ")"; });
      out->packets.push_back(std::move(filtered));
    }
  };
  for (size_t i = 0; i < packets.packets.size(); ++i) {
    auto input = ffmpeg::alloc_packet();
    ffmpeg::check(av_packet_ref(input.get(), packets.packets[i].get()), context);
    // On success the filter takes the reference and leaves `input` blank.
    ffmpeg::check(av_bsf_send_packet(bsf.get(), input.get()),
                  context + " (packet " + std::to_string(i) + ")");
    drain(i);
  }
  ffmpeg::check(av_bsf_send_packet(bsf.get(), nullptr), context + " (flush)");
  drain(packets.packets.size());
  return out;
}

}  // namespace spdl
