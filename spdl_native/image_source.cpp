#include "image_source.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "ffmpeg/error.h"

namespace spdl {
namespace {

bool starts_with(const uint8_t* data, size_t size, const char* magic, size_t n, size_t offset = 0) {
  return size >= offset + n && std::memcmp(data + offset, magic, n) == 0;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

const char* sniff_image_codec(const uint8_t* data, size_t size) {
  if (starts_with(data, size, "\xFF\xD8\xFF", 3)) return "mjpeg";
  if (starts_with(data, size, "\x89PNG\r\n\x1A\n", 8)) return "png";
  if (starts_with(data, size, "RIFF", 4) && starts_with(data, size, "WEBP", 4, 8)) return "webp";
  if (starts_with(data, size, "BM", 2)) return "bmp";
  if (starts_with(data, size, "GIF87a", 6) || starts_with(data, size, "GIF89a", 6)) return "gif";
  if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4)) return "tiff";
  if (starts_with(data, size, "qoif", 4)) return "qoi";
  return nullptr;
}

ffmpeg::PacketPtr read_packet(const ImageSource& source, const CancelToken* cancel) {
  if (source.pending) {
    return source.pending->take(cancel);
  }
  auto packet = ffmpeg::alloc_packet();
  if (source.data) {
    ffmpeg::check(av_new_packet(packet.get(), static_cast<int>(source.size)),
                  "Failed to allocate a packet for " + source.name);
    std::memcpy(packet->data, source.data, source.size);
    return packet;
  }
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(source.name.c_str(), "rb"));
  if (!file) {
    throw MediaError("Failed to open " + source.name + ": " + std::strerror(errno));
  }
  std::fseek(file.get(), 0, SEEK_END);
  const long size = std::ftell(file.get());
  std::fseek(file.get(), 0, SEEK_SET);
  if (size < 0 || size > INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE) {
    throw MediaError("Failed to read " + source.name + ": unsupported file size.");
  }
  ffmpeg::check(av_new_packet(packet.get(), static_cast<int>(size)),
                "Failed to allocate a packet for " + source.name);
  if (std::fread(packet->data, 1, static_cast<size_t>(size), file.get()) !=
      static_cast<size_t>(size)) {
    throw MediaError("Failed to read " + source.name + ": " + std::strerror(errno));
  }
  return packet;
}

std::unique_ptr<Frames> decode_packet(ffmpeg::PacketPtr packet, const std::string& name,
                                      const DecodeConfig& config, const CancelToken* cancel) {
  const char* codec = sniff_image_codec(packet->data, static_cast<size_t>(packet->size));
  if (!codec) {
    throw MediaError("Failed to decode " + name +
                     ": not a recognised still image (JPEG, PNG, WebP, BMP, GIF, TIFF, QOI)" +
                     (packet->size ? "." : "; the data is empty."));
  }
  CodecParams params;
  params.codec_name = codec;
  ImagePackets packets(name, params, {1, 1});
  packet->pts = packet->dts = 0;
  packet->flags |= AV_PKT_FLAG_KEY;
  packets.packets.push_back(std::move(packet));
  return decode_packets(packets, config, cancel);
}

std::unique_ptr<Frames> decode_one(const ImageSource& source, const DecodeConfig& config,
                                   const CancelToken* cancel) {
  throw_if_cancelled(cancel, source.name);
  return decode_packet(read_packet(source, cancel), source.name, config, cancel);
}

}  // namespace spdl
