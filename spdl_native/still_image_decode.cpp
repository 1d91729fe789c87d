#include "still_image_decode.h"

#include <string>
#include <utility>

#include "exif_orientation.h"
#include "ffmpeg/error.h"
#include "jpeg_decoder.h"
#include "pixel_limit.h"
#include "tiff_tags.h"
#include "webp_decoder.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace spdl {
namespace {

// An 8-bit format for a 16-bit packed RGB or gray one, and which byte of each
// 16-bit sample holds its high bits.
struct EightBit {
  AVPixelFormat format = AV_PIX_FMT_NONE;
  int high_byte = 0;
};

EightBit eight_bit_of(int format) {
  switch (format) {
    case AV_PIX_FMT_RGB48BE:
      return {AV_PIX_FMT_RGB24, 0};
    case AV_PIX_FMT_RGB48LE:
      return {AV_PIX_FMT_RGB24, 1};
    case AV_PIX_FMT_BGR48BE:
      return {AV_PIX_FMT_BGR24, 0};
    case AV_PIX_FMT_BGR48LE:
      return {AV_PIX_FMT_BGR24, 1};
    case AV_PIX_FMT_RGBA64BE:
      return {AV_PIX_FMT_RGBA, 0};
    case AV_PIX_FMT_RGBA64LE:
      return {AV_PIX_FMT_RGBA, 1};
    case AV_PIX_FMT_BGRA64BE:
      return {AV_PIX_FMT_BGRA, 0};
    case AV_PIX_FMT_BGRA64LE:
      return {AV_PIX_FMT_BGRA, 1};
    case AV_PIX_FMT_GRAY16BE:
      return {AV_PIX_FMT_GRAY8, 0};
    case AV_PIX_FMT_GRAY16LE:
      return {AV_PIX_FMT_GRAY8, 1};
    case AV_PIX_FMT_YA16BE:
      return {AV_PIX_FMT_YA8, 0};
    case AV_PIX_FMT_YA16LE:
      return {AV_PIX_FMT_YA8, 1};
    default:
      return {};
  }
}

// `frame` (16-bit packed samples) with each sample cut to its high byte; null
// for other formats.
ffmpeg::FramePtr high_bytes(const AVFrame* frame) {
  const EightBit target = eight_bit_of(frame->format);
  if (target.format == AV_PIX_FMT_NONE) {
    return nullptr;
  }
  auto out = ffmpeg::alloc_frame();
  out->format = target.format;
  out->width = frame->width;
  out->height = frame->height;
  const std::string context = "Failed to reduce a 16-bit image to 8 bits";
  ffmpeg::check(av_frame_get_buffer(out.get(), 0), context);
  ffmpeg::check(av_frame_copy_props(out.get(), frame), context);
  const size_t samples =
      static_cast<size_t>(frame->width) * av_pix_fmt_desc_get(target.format)->nb_components;
  for (int y = 0; y < frame->height; ++y) {
    const uint8_t* in = frame->data[0] + static_cast<ptrdiff_t>(y) * frame->linesize[0];
    uint8_t* row = out->data[0] + static_cast<ptrdiff_t>(y) * out->linesize[0];
    for (size_t i = 0; i < samples; ++i) {
      row[i] = in[2 * i + target.high_byte];
    }
  }
  return out;
}

// FFmpeg's TIFF decoder (5.1 to 7.1) turns a JPEG-compressed TIFF into a blank
// image without an error: such a file fails here, with the reason.
void refuse_jpeg_tiff(const Packets& packets) {
  if (packets.media_type != MediaType::Image || packets.params.codec_name != "tiff" ||
      packets.packets.size() != 1) {
    return;
  }
  const AVPacket& packet = *packets.packets.front();
  const auto compression =
      first_ifd_tag(packet.data, static_cast<size_t>(packet.size), kTiffCompressionTag);
  constexpr uint32_t kOldJpeg = 6, kJpeg = 7;
  if (compression == kOldJpeg || compression == kJpeg) {
    throw MediaError("Failed to decode " + packets.src +
                     ": JPEG-compressed TIFF is not supported (FFmpeg's TIFF decoder cannot "
                     "decode it); store it with LZW, Deflate or no compression.");
  }
}

// Whether a BMP is 32-bit BI_RGB: its fourth byte is padding (Pillow and browsers
// ignore it), which FFmpeg's decoder takes for alpha unless it is zero everywhere.
bool padded_bmp(const uint8_t* data, size_t size) {
  constexpr size_t kInfo = 14;  // BITMAPINFOHEADER after the 14-byte file header
  if (size < kInfo + 20) {
    return false;
  }
  const auto u16 = [&](size_t at) { return data[at] | data[at + 1] << 8; };
  const uint32_t header = u16(kInfo) | static_cast<uint32_t>(u16(kInfo + 2)) << 16;
  const uint32_t compression = u16(kInfo + 16) | static_cast<uint32_t>(u16(kInfo + 18)) << 16;
  constexpr uint32_t kBiRgb = 0;
  return header >= 40 && u16(kInfo + 14) == 32 && compression == kBiRgb;
}

// A library that decodes one still-image codec outside FFmpeg.
struct ImageLibrary {
  const char* name;   // the `decoder` option value that forces it (no fallback)
  const char* codec;  // FFmpeg's name of the codec it decodes
  const char* what;   // the format, in messages
  bool built;         // whether this build has it
};

// Whether `packets` go to `library` first: a still image of its codec in one
// packet, with no FFmpeg decoder or decoder option requested (those select
// FFmpeg). Throws std::invalid_argument when `decoder` names the library for
// packets it cannot take, or in a build without it.
bool goes_to(const ImageLibrary& library, const Packets& packets, const DecodeConfig& config) {
  const bool ours = packets.media_type == MediaType::Image &&
                    packets.params.codec_name == library.codec && packets.packets.size() == 1;
  if (!config.decoder) {
    return library.built && ours && config.decoder_options.empty();
  }
  if (*config.decoder != library.name) {
    return false;  // an FFmpeg decoder, by name
  }
  const std::string decoder = std::string("The decoder \"") + library.name + "\"";
  const std::string where = " (" + packets.src + ").";
  if (!library.built) {
    throw std::invalid_argument(decoder + " is unavailable: this build of spdl has no " +
                                library.name + where);
  }
  if (!ours) {
    throw std::invalid_argument(decoder + " decodes " + library.what + " images only, not \"" +
                                packets.params.codec_name + "\" " + to_string(packets.media_type) +
                                where);
  }
  if (!config.decoder_options.empty()) {
    throw std::invalid_argument(decoder + " takes no decoder options" + where);
  }
  return true;
}

}  // namespace

ffmpeg::FramePtr decode_outside_ffmpeg(const Packets& packets, const DecodeConfig& config,
                                       const CancelToken* cancel) {
  refuse_jpeg_tiff(packets);
  if (packets.media_type == MediaType::Image) {
    check_declared_pixels(packets, config.max_pixels);  // before any decoder allocates
  }
  const bool jpeg = goes_to({kTurboJpegDecoder, "mjpeg", "JPEG", has_turbojpeg()}, packets, config);
  if (!jpeg && !goes_to({kLibwebpDecoder, "webp", "WebP", has_libwebp()}, packets, config)) {
    return nullptr;
  }
  throw_if_cancelled(cancel, packets.src);
  const AVPacket& packet = *packets.packets.front();
  if (!jpeg) {
    return decode_libwebp(packet, packets, config);
  }
  // The size hint is the upright image's: a JPEG stored on its side decodes
  // (DCT-scaled) for the hint turned the same way.
  if (config.apply_exif_orientation && (config.min_width > 0 || config.min_height > 0) &&
      swaps_sides(exif_orientation(packet.data, static_cast<size_t>(packet.size)))) {
    DecodeConfig turned = config;
    std::swap(turned.min_width, turned.min_height);
    return decode_turbojpeg(packet, packets, turned);
  }
  return decode_turbojpeg(packet, packets, config);
}

StillImageFrames::StillImageFrames(const Packets& packets, const DecodeConfig& config) {
  if (packets.media_type != MediaType::Image || packets.packets.empty()) {
    return;
  }
  eight_bit_ = config.rgb_frames != AV_PIX_FMT_NONE;
  const AVPacket& packet = *packets.packets.front();
  if (config.apply_exif_orientation) {
    orientation_ = exif_orientation(packet.data, static_cast<size_t>(packet.size));
  }
  opaque_ = packets.params.codec_name == "bmp" &&
            padded_bmp(packet.data, static_cast<size_t>(packet.size));
}

AVFrame* StillImageFrames::prepare(AVFrame* frame) {
  if (opaque_ && frame->format == AV_PIX_FMT_BGRA) {
    frame->format = AV_PIX_FMT_BGR0;  // the same bytes; the fourth is ignored
  }
  if (eight_bit_) {
    if (auto reduced = high_bytes(frame)) {
      made_ = std::move(reduced);
      frame = made_.get();
    }
  }
  if (orientation_ != 1) {
    auto upright = orient_frame(frame, orientation_);
    made_ = std::move(upright);
    frame = made_.get();
  }
  return frame;
}

}  // namespace spdl
