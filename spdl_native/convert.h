// Frames -> CPUBuffer with the layouts of DESIGN.md. Conversion consumes the
// frames: each is released right after it is copied.
#pragma once

#include <memory>
#include <vector>

#include "buffer.h"
#include "frames.h"

namespace spdl {

std::unique_ptr<CPUBuffer> convert_frames(Frames& frames);

// A list of single images -> one (B, ...) batch; all must share size and format.
std::unique_ptr<CPUBuffer> convert_image_batch(const std::vector<Frames*>& batch);

}  // namespace spdl
