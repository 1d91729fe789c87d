#include "pixel_limit.h"

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "byte_order.h"
#include "ffmpeg/error.h"
#include "jpeg/markers.h"
#include "tiff_tags.h"

namespace spdl {
namespace {

// 178956970 as "178,956,970": limits and sizes are read by people.
std::string grouped(int64_t value) {
  std::string digits = std::to_string(value);
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) {
    digits.insert(static_cast<size_t>(at), ",");
  }
  return digits;
}

std::string advice(int64_t max_pixels) {
  return "more than the limit of " + grouped(max_pixels) +
         " pixels per image or video frame (a guard against decompression bombs). If the file is "
         "trusted, raise the limit with spdl.io.set_max_image_pixels() or the environment "
         "variable SPDL_MAX_IMAGE_PIXELS (0: no limit).";
}

using Size = std::optional<std::pair<int64_t, int64_t>>;

Size png_size(const uint8_t* data, size_t size) {
  // The signature (8 bytes), then IHDR: its length, its type, width, height.
  if (size < 24 || std::string_view(reinterpret_cast<const char*>(data) + 12, 4) != "IHDR") {
    return std::nullopt;
  }
  return std::pair<int64_t, int64_t>{big_endian(data + 16, 4), big_endian(data + 20, 4)};
}

Size gif_size(const uint8_t* data, size_t size) {
  // The logical screen, which FFmpeg's decoder allocates whatever the frames' size.
  if (size < 10) {
    return std::nullopt;
  }
  return std::pair<int64_t, int64_t>{little_endian(data + 6, 2), little_endian(data + 8, 2)};
}

Size bmp_size(const uint8_t* data, size_t size) {
  constexpr size_t kInfo = 14;  // the DIB header after the 14-byte file header
  if (size < kInfo + 12) {
    return std::nullopt;
  }
  const uint32_t header = little_endian(data + kInfo, 4);
  if (header == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sides
    return std::pair<int64_t, int64_t>{little_endian(data + kInfo + 4, 2),
                                       little_endian(data + kInfo + 6, 2)};
  }
  // BITMAPINFOHEADER and later: signed 32-bit sides; a negative height is top-down.
  const auto width = static_cast<int32_t>(little_endian(data + kInfo + 4, 4));
  const auto height = static_cast<int32_t>(little_endian(data + kInfo + 8, 4));
  return std::pair<int64_t, int64_t>{std::llabs(width), std::llabs(height)};
}

Size webp_size(const uint8_t* data, size_t size) {
  // RIFF header (12 bytes), then the first chunk's type and size (8 bytes).
  if (size < 30) {
    return std::nullopt;
  }
  const std::string_view chunk(reinterpret_cast<const char*>(data) + 12, 4);
  const uint8_t* payload = data + 20;
  if (chunk == "VP8X") {  // extended: the canvas, 24-bit sides minus one
    return std::pair<int64_t, int64_t>{little_endian(payload + 4, 3) + 1,
                                       little_endian(payload + 7, 3) + 1};
  }
  if (chunk == "VP8L" && payload[0] == 0x2F) {  // lossless: 14-bit sides minus one
    const uint32_t bits = little_endian(payload + 1, 4);
    return std::pair<int64_t, int64_t>{(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (chunk == "VP8 " && payload[3] == 0x9D && payload[4] == 0x01 && payload[5] == 0x2A) {
    // lossy: after the frame tag and start code, 14-bit sides (2 bits of scale)
    return std::pair<int64_t, int64_t>{little_endian(payload + 6, 2) & 0x3FFF,
                                       little_endian(payload + 8, 2) & 0x3FFF};
  }
  return std::nullopt;
}

Size jpeg_size(const uint8_t* data, size_t size) {
  const jpeg::Segment frame = jpeg::find_frame_header(data, size);
  if (!frame.data) {
    return std::nullopt;
  }
  // Precision (1 byte), then the number of lines and of samples per line.
  return std::pair<int64_t, int64_t>{big_endian(frame.data + 3, 2), big_endian(frame.data + 1, 2)};
}

Size tiff_size(const uint8_t* data, size_t size) {
  const auto width = first_ifd_tag(data, size, kTiffWidthTag);
  const auto height = first_ifd_tag(data, size, kTiffHeightTag);
  if (!width || !height) {
    return std::nullopt;
  }
  return std::pair<int64_t, int64_t>{*width, *height};
}

Size qoi_size(const uint8_t* data, size_t size) {
  if (size < 12) {
    return std::nullopt;
  }
  return std::pair<int64_t, int64_t>{big_endian(data + 4, 4), big_endian(data + 8, 4)};
}

}  // namespace

void check_pixel_limit(int64_t width, int64_t height, int64_t max_pixels, const std::string& src) {
  // Divided, not multiplied: two 32-bit sides overflow an int64_t product.
  if (max_pixels <= 0 || width <= 0 || height <= 0 || width <= max_pixels / height) {
    return;
  }
  const bool fits = width <= INT64_MAX / height;
  throw MediaError("Failed to decode " + src + ": it declares " + std::to_string(width) + "x" +
                   std::to_string(height) + " = " +
                   (fits ? grouped(width * height) : std::string("more than 2**63")) + " pixels, " +
                   advice(max_pixels));
}

std::optional<std::pair<int64_t, int64_t>> declared_image_size(const std::string& codec,
                                                               const uint8_t* data, size_t size) {
  if (!data) {
    return std::nullopt;
  }
  if (codec == "mjpeg") return jpeg_size(data, size);
  if (codec == "png") return png_size(data, size);
  if (codec == "webp") return webp_size(data, size);
  if (codec == "bmp") return bmp_size(data, size);
  if (codec == "gif") return gif_size(data, size);
  if (codec == "tiff") return tiff_size(data, size);
  if (codec == "qoi") return qoi_size(data, size);
  return std::nullopt;
}

void check_declared_pixels(const Packets& packets, int64_t max_pixels) {
  if (max_pixels <= 0 || packets.media_type == MediaType::Audio) {
    return;
  }
  check_pixel_limit(packets.params.width, packets.params.height, max_pixels, packets.src);
  if (packets.media_type != MediaType::Image || packets.packets.empty()) {
    return;
  }
  const AVPacket& packet = *packets.packets.front();
  if (const auto declared = declared_image_size(packets.params.codec_name, packet.data,
                                                static_cast<size_t>(packet.size))) {
    check_pixel_limit(declared->first, declared->second, max_pixels, packets.src);
  }
}

int64_t decoder_max_pixels(int64_t max_pixels) {
  constexpr int64_t kNarrow = 64 * 4096;
  // FFmpeg's option takes [0, INT_MAX] (a larger value fails to open the decoder):
  // a limit that large is as good as none there, and the headers were checked.
  if (max_pixels <= 0 || max_pixels >= (INT_MAX - kNarrow) / 2) {
    return max_pixels > 0 ? INT_MAX : 0;
  }
  return 2 * max_pixels + kNarrow;
}

void check_refused_size(const AVCodecContext* ctx, int ret, int64_t max_pixels,
                        const std::string& src) {
  if (ret != AVERROR(EINVAL) || ctx->codec_type != AVMEDIA_TYPE_VIDEO || max_pixels <= 0) {
    return;
  }
  check_pixel_limit(ctx->width, ctx->height, max_pixels, src);
  // ff_set_dimensions zeroes the sides that av_image_check_size2 refuses.
  if (ctx->width == 0 || ctx->height == 0) {
    throw MediaError("Failed to decode " + src + ": " + ffmpeg::av_error_string(ret) +
                     " (FFmpeg's decoder refused the picture's size: an invalid size, or " +
                     advice(max_pixels) + ")");
  }
}

}  // namespace spdl
