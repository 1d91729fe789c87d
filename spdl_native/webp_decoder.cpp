#include "webp_decoder.h"

#include <stdexcept>
#include <string>

#include "ffmpeg/error.h"
#include "image_frame.h"
#include "webp/decoder_config.h"

extern "C" {
#include <libavutil/imgutils.h>
}

namespace spdl {

bool has_libwebp() {
#ifdef SPDL_HAS_LIBWEBP
  return true;
#else
  return false;
#endif
}

bool use_libwebp(const Packets& packets, const DecodeConfig& config) {
  const bool webp_image = packets.media_type == MediaType::Image &&
                          packets.params.codec_name == "webp" && packets.packets.size() == 1;
  if (!config.decoder) {
    return has_libwebp() && webp_image && config.decoder_options.empty();
  }
  if (*config.decoder != kLibwebpDecoder) {
    return false;  // an FFmpeg decoder, by name
  }
  const std::string where = " (" + packets.src + ").";
  if (!has_libwebp()) {
    throw std::invalid_argument(
        "The decoder \"libwebp\" is unavailable: this build of spdl has no libwebp" + where);
  }
  if (!webp_image) {
    throw std::invalid_argument("The decoder \"libwebp\" decodes WebP images only, not \"" +
                                packets.params.codec_name + "\" " + to_string(packets.media_type) +
                                where);
  }
  if (!config.decoder_options.empty()) {
    throw std::invalid_argument("The decoder \"libwebp\" takes no decoder options" + where);
  }
  return true;
}

#ifdef SPDL_HAS_LIBWEBP

namespace {

const char* describe(VP8StatusCode status) {
  switch (status) {
    case VP8_STATUS_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
      return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
      return "corrupt data";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return "unsupported feature";
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return "the data ended early";
    default:
      return "unknown error";
  }
}

// libwebp's mode for a packed RGB frame format; MODE_LAST for others.
WEBP_CSP_MODE rgb_mode(AVPixelFormat format) {
  switch (format) {
    case AV_PIX_FMT_RGB24:
      return MODE_RGB;
    case AV_PIX_FMT_BGR24:
      return MODE_BGR;
    case AV_PIX_FMT_RGBA:
      return MODE_RGBA;
    case AV_PIX_FMT_BGRA:
      return MODE_BGRA;
    default:
      return MODE_LAST;
  }
}

// libwebp could not decode: FFmpeg takes over (null), unless libwebp was forced.
ffmpeg::FramePtr give_up(const std::string& src, const std::string& why, bool forced) {
  if (forced) {
    throw MediaError("Failed to decode " + src + " with libwebp: " + why + ".");
  }
  return nullptr;
}

// Points libwebp's output at `frame`'s planes (a frame laid out for `mode`).
void set_output(WebPDecBuffer& output, WEBP_CSP_MODE mode, AVFrame* frame) {
  output.colorspace = mode;
  output.is_external_memory = 1;
  const auto bytes = [&](int plane, int rows) {
    return static_cast<size_t>(frame->linesize[plane]) * static_cast<size_t>(rows);
  };
  if (!WebPIsRGBMode(mode)) {
    const int chroma_rows = (frame->height + 1) / 2;
    WebPYUVABuffer& yuva = output.u.YUVA;
    yuva.y = frame->data[0];
    yuva.u = frame->data[1];
    yuva.v = frame->data[2];
    yuva.y_stride = frame->linesize[0];
    yuva.u_stride = frame->linesize[1];
    yuva.v_stride = frame->linesize[2];
    yuva.y_size = bytes(0, frame->height);
    yuva.u_size = bytes(1, chroma_rows);
    yuva.v_size = bytes(2, chroma_rows);
    if (mode == MODE_YUVA) {
      yuva.a = frame->data[3];
      yuva.a_stride = frame->linesize[3];
      yuva.a_size = bytes(3, frame->height);
    }
    return;
  }
  output.u.RGBA.rgba = frame->data[0];
  output.u.RGBA.stride = frame->linesize[0];
  output.u.RGBA.size = bytes(0, frame->height);
}

}  // namespace

ffmpeg::FramePtr decode_libwebp(const AVPacket& packet, const Packets& packets,
                                const DecodeConfig& config) {
  const std::string& src = packets.src;
  const bool forced = config.decoder.has_value();  // use_libwebp() admits only libwebp
  webp::DecoderConfig owner;
  if (!owner.initialised()) {
    return give_up(src, "libwebp does not match the version spdl was built with", forced);
  }
  WebPDecoderConfig& webp = owner.get();
  const auto size = static_cast<size_t>(packet.size);
  VP8StatusCode status = WebPGetFeatures(packet.data, size, &webp.input);
  if (status != VP8_STATUS_OK) {
    return give_up(src, describe(status), forced);
  }
  const WebPBitstreamFeatures& features = webp.input;
  if (features.has_animation) {
    return give_up(src, "an animated WebP", forced);
  }
  const int width = features.width, height = features.height;
  if (av_image_check_size(width, height, 0, nullptr) < 0) {
    return give_up(src, "invalid image size", forced);
  }
  // Packed RGB when the writer wants it; else FFmpeg's webp decoder's layout.
  constexpr int kLossless = 2;  // WebPBitstreamFeatures::format
  WEBP_CSP_MODE mode = rgb_mode(config.rgb_frames);
  AVPixelFormat format = config.rgb_frames;
  if (mode == MODE_LAST) {
    const bool lossless = features.format == kLossless;
    mode = lossless ? MODE_ARGB : features.has_alpha ? MODE_YUVA : MODE_YUV;
    format = lossless             ? AV_PIX_FMT_ARGB
             : features.has_alpha ? AV_PIX_FMT_YUVA420P
                                  : AV_PIX_FMT_YUV420P;
  }
  auto frame = alloc_image_frame(width, height, format, 0, config.transient_frames);
  set_output(webp.output, mode, frame.get());
  status = WebPDecode(packet.data, size, &webp);
  if (status != VP8_STATUS_OK) {
    return give_up(src, describe(status), forced);
  }
  // What FFmpeg's webp decoder sets for its own layouts.
  if (WebPIsRGBMode(mode) && format != AV_PIX_FMT_ARGB) {
    frame->color_range = AVCOL_RANGE_JPEG;
    frame->colorspace = AVCOL_SPC_RGB;
  } else if (!WebPIsRGBMode(mode)) {
    frame->color_range = AVCOL_RANGE_MPEG;
    frame->colorspace = AVCOL_SPC_BT470BG;
  }
  frame->sample_aspect_ratio = AVRational{packets.params.sample_aspect_ratio.first,
                                          packets.params.sample_aspect_ratio.second};
  frame->pict_type = AV_PICTURE_TYPE_I;
  ffmpeg::mark_key_frame(frame.get());
  frame->pts = frame->pkt_dts = frame->best_effort_timestamp = packet.pts;
  return frame;
}

#else

ffmpeg::FramePtr decode_libwebp(const AVPacket&, const Packets& packets, const DecodeConfig&) {
  throw std::logic_error("decode_libwebp called in a build without libwebp (" + packets.src + ").");
}

#endif  // SPDL_HAS_LIBWEBP

}  // namespace spdl
