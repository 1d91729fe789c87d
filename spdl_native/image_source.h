// One still image of a batch: its bytes (a file, or memory the caller holds) as
// the one packet of an image, and its decode. No Python demuxing: the format is
// told from the first bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cancel.h"
#include "decoder.h"
#include "frames.h"
#include "pending_image.h"

namespace spdl {

struct ImageSource {
  std::string name;               // path, or a label for in-memory data
  const uint8_t* data = nullptr;  // in-memory bytes (kept alive by the caller); null: read `name`
  size_t size = 0;
  const PendingImage* pending = nullptr;  // bytes still being fetched (kept alive by the caller)
};

// Returns the FFmpeg codec name for the image format of `data`, or nullptr.
const char* sniff_image_codec(const uint8_t* data, size_t size);

// The source's bytes in a packet (padded, as FFmpeg needs); for a pending source,
// once they arrive (`cancel` stops the wait). MediaError when the file cannot be
// read or the pending bytes failed.
ffmpeg::PacketPtr read_packet(const ImageSource& source, const CancelToken* cancel = nullptr);

// Decodes `packet`, the whole of the image `name`, into frames as `config` says.
// MediaError for data that is no known still image format.
std::unique_ptr<Frames> decode_packet(ffmpeg::PacketPtr packet, const std::string& name,
                                      const DecodeConfig& config, const CancelToken* cancel);

// read_packet() then decode_packet(), unless `cancel` is set already.
std::unique_ptr<Frames> decode_one(const ImageSource& source, const DecodeConfig& config,
                                   const CancelToken* cancel);

}  // namespace spdl
