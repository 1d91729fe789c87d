#include "first_frame_facts.h"

#include "decoder.h"

namespace spdl {
namespace {

// The colour spaces spdl.io._core.demux names from a probed stream (the others stay "").
bool named_color_space(AVColorSpace space) {
  switch (space) {
    case AVCOL_SPC_RGB:
    case AVCOL_SPC_BT709:
    case AVCOL_SPC_FCC:
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M:
    case AVCOL_SPC_SMPTE240M:
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL:
      return true;
    default:
      return false;
  }
}

// The first frame of the first keyframe: sent alone, then the decoder is drained,
// so no frame after it is decoded.
ffmpeg::FramePtr decode_first_keyframe(const Packets& packets) {
  for (const auto& packet : packets.packets) {
    if (!(packet->flags & AV_PKT_FLAG_KEY)) {
      continue;
    }
    auto ctx = open_decoder(packets, DecodeConfig{});
    auto frame = ffmpeg::alloc_frame();
    // A keyframe that does not decode leaves the facts unknown, as a failed probe
    // does; decoding the packets then raises FFmpeg's error where it belongs.
    if (avcodec_send_packet(ctx.get(), packet.get()) < 0 ||
        avcodec_send_packet(ctx.get(), nullptr) < 0 ||
        avcodec_receive_frame(ctx.get(), frame.get()) < 0) {
      return nullptr;
    }
    return frame;
  }
  return nullptr;
}

}  // namespace

CodecParams first_frame_facts(const Packets& packets) {
  CodecParams params = packets.params;
  if (packets.media_type != MediaType::Video || !params.pix_fmt.empty()) {
    return params;
  }
  ffmpeg::FramePtr frame;
  try {
    frame = decode_first_keyframe(packets);
  } catch (const std::exception&) {
    return params;  // no decoder for it: the decode says why, when asked to decode
  }
  if (!frame) {
    return params;
  }
  if (const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame->format))) {
    params.pix_fmt = name;
  }
  if (params.color_space.empty() && named_color_space(frame->colorspace)) {
    params.color_space = av_color_space_name(frame->colorspace);
  }
  if (params.color_range.empty() && frame->color_range != AVCOL_RANGE_UNSPECIFIED) {
    params.color_range = av_color_range_name(frame->color_range);
  }
  return params;
}

}  // namespace spdl
