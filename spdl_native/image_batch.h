// Still images decoded as a batch in one native call on native threads: the
// file is the only packet, so no Python demuxing is needed per image.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "buffer.h"
#include "cancel.h"
#include "decoder.h"
#include "frame_writer.h"

namespace spdl {

struct ImageSource {
  std::string name;               // path, or a label for in-memory data
  const uint8_t* data = nullptr;  // in-memory bytes (kept alive by the caller); null: read `name`
  size_t size = 0;
};

struct ImageBatchResult {
  std::unique_ptr<CPUBuffer> buffer;  // the decoded images in input order; null if none decoded
  std::vector<std::string> errors;    // one per source; empty string when it decoded
};

// Returns the FFmpeg codec name for the image format of `data`, or nullptr.
const char* sniff_image_codec(const uint8_t* data, size_t size);

// Decodes every source and writes it, scaled / converted by `output`, into one
// (B, ...) buffer. When `output` fixes the size and format, each image goes
// straight into its slot; otherwise the first decoded image sets the layout.
ImageBatchResult decode_image_batch(const std::vector<ImageSource>& sources,
                                    const DecodeConfig& config, const OutputFormat& output,
                                    int num_threads, const CancelToken* cancel);

}  // namespace spdl
