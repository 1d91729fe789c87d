// Several timestamp windows of one video, decoded in one forward pass: every
// decoded frame goes straight into the output of each window it lies in.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "buffer.h"
#include "cancel.h"
#include "decode_plan.h"
#include "packets.h"

namespace spdl {

// A half-open window [start, end) in the spans' time base, as the trim filter's
// start_pts / end_pts (so that a window selects exactly the frames a trim of it
// keeps); INT64_MAX as the end leaves the window open.
using WindowPts = std::pair<int64_t, int64_t>;

// Decodes `spans` (packets of one video stream, in stream order; each starts at
// a keyframe) with one decoder, flushed between spans, and writes every frame
// whose presentation time lies in a window, scaled / converted by `output`, into
// that window's buffer (N, ...). Non-reference frames outside every window are
// not decoded. Returns one buffer per window, in the order of `windows`; null
// for a window in which no frame was decoded. `plan` must be one that
// decodes_windows() takes. Checks its cancel token before each packet:
// MediaError("... cancelled").
std::vector<std::unique_ptr<CPUBuffer>> decode_windows_to_buffers(
    const std::vector<const Packets*>& spans, const std::vector<WindowPts>& windows,
    const DecodePlan& plan);

}  // namespace spdl
