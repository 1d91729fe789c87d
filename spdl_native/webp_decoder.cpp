#include "webp_decoder.h"

#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "ffmpeg/error.h"
#include "image_frame.h"
#include "pixel_limit.h"
#include "webp/decoder_config.h"
#include "webp/demuxer.h"

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

// Sets what FFmpeg's webp decoder sets on a frame decoded in `mode`.
ffmpeg::FramePtr finish_frame(ffmpeg::FramePtr frame, WEBP_CSP_MODE mode, const AVPacket& packet,
                              const Packets& packets) {
  if (!WebPIsRGBMode(mode)) {
    frame->color_range = AVCOL_RANGE_MPEG;
    frame->colorspace = AVCOL_SPC_BT470BG;
  } else if (mode != MODE_ARGB) {
    frame->color_range = AVCOL_RANGE_JPEG;
    frame->colorspace = AVCOL_SPC_RGB;
  }
  frame->sample_aspect_ratio = AVRational{packets.params.sample_aspect_ratio.first,
                                          packets.params.sample_aspect_ratio.second};
  frame->pict_type = AV_PICTURE_TYPE_I;
  ffmpeg::mark_key_frame(frame.get());
  frame->pts = frame->pkt_dts = frame->best_effort_timestamp = packet.pts;
  return frame;
}

// An animation's first frame as Pillow shows it (libwebp's WebPAnimDecoder):
// drawn on a canvas of transparent black. Packed RGB (config.rgb_frames, else
// rgba): FFmpeg decodes no animated WebP, so there is no layout of its to keep.
ffmpeg::FramePtr decode_first_frame(const AVPacket& packet, const Packets& packets,
                                    const DecodeConfig& config, bool forced) {
  const std::string& src = packets.src;
  const webp::Demuxer demuxer(packet.data, static_cast<size_t>(packet.size));
  const webp::FrameIterator first(demuxer, 1);
  if (!first.found()) {
    return give_up(src, "an animated WebP whose first frame cannot be read", forced);
  }
  const WebPIterator& part = first.get();
  const auto canvas_w = static_cast<int>(WebPDemuxGetI(demuxer.get(), WEBP_FF_CANVAS_WIDTH));
  const auto canvas_h = static_cast<int>(WebPDemuxGetI(demuxer.get(), WEBP_FF_CANVAS_HEIGHT));
  check_pixel_limit(canvas_w, canvas_h, config.max_pixels, src);
  if (av_image_check_size(canvas_w, canvas_h, 0, nullptr) < 0 || part.x_offset < 0 ||
      part.y_offset < 0 || part.x_offset + part.width > canvas_w ||
      part.y_offset + part.height > canvas_h) {
    return give_up(src, "an animated WebP whose first frame lies outside its canvas", forced);
  }
  const WEBP_CSP_MODE wanted = rgb_mode(config.rgb_frames);
  const WEBP_CSP_MODE mode = wanted == MODE_LAST ? MODE_RGBA : wanted;
  const AVPixelFormat format = wanted == MODE_LAST ? AV_PIX_FMT_RGBA : config.rgb_frames;
  auto frame = alloc_image_frame(canvas_w, canvas_h, format, 0, config.transient_frames);
  const int pixel = mode == MODE_RGB || mode == MODE_BGR ? 3 : 4;
  if (part.width != canvas_w || part.height != canvas_h) {
    for (int y = 0; y < canvas_h; ++y) {
      std::memset(frame->data[0] + static_cast<ptrdiff_t>(y) * frame->linesize[0], 0,
                  static_cast<size_t>(canvas_w) * pixel);
    }
  }
  webp::DecoderConfig owner;
  if (!owner.initialised()) {
    return give_up(src, "libwebp does not match the version spdl was built with", forced);
  }
  WebPDecBuffer& output = owner.get().output;
  output.colorspace = mode;
  output.is_external_memory = 1;
  const ptrdiff_t stride = frame->linesize[0];
  output.u.RGBA.rgba = frame->data[0] + part.y_offset * stride + part.x_offset * pixel;
  output.u.RGBA.stride = static_cast<int>(stride);
  output.u.RGBA.size =
      static_cast<size_t>(stride) * (part.height - 1) + static_cast<size_t>(part.width) * pixel;
  const VP8StatusCode status = WebPDecode(part.fragment.bytes, part.fragment.size, &owner.get());
  if (status != VP8_STATUS_OK) {
    return give_up(src, describe(status), forced);
  }
  return finish_frame(std::move(frame), mode, packet, packets);
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
  // A decompression bomb is refused, not handed to FFmpeg.
  check_pixel_limit(features.width, features.height, config.max_pixels, src);
  if (features.has_animation) {
    return decode_first_frame(packet, packets, config, forced);
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
  return finish_frame(std::move(frame), mode, packet, packets);
}

#else

ffmpeg::FramePtr decode_libwebp(const AVPacket&, const Packets& packets, const DecodeConfig&) {
  throw std::logic_error("decode_libwebp called in a build without libwebp (" + packets.src + ").");
}

#endif  // SPDL_HAS_LIBWEBP

}  // namespace spdl
