// Exact frames of one video stream, chosen by presentation timestamp and decoded
// in one forward pass straight into one buffer (spdl.io.load_video_frames and the
// clip samplers). The frame table it selects from is read from the packets
// alone: nothing is decoded to build it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "buffer.h"
#include "decode_plan.h"
#include "packets.h"

namespace spdl {

// The frames of a stream as its packets tell them, in presentation order.
struct FrameTable {
  std::vector<int64_t> pts;  // stream time base, ascending; a packet without pts counts by dts
  std::vector<int64_t> durations;  // 0 where the container gives none
  std::vector<int64_t> keyframes;  // positions in `pts` of the frames whose packet is a keyframe
};

// The table of the packets of `spans` (one video stream, each span in decode
// order). Packets with neither pts nor dts are left out, and so are those flagged
// discard (an edit list starts after them: they are decoded, not shown) and, in a
// span that starts at a keyframe, those shown before it (the leading frames of an
// open GOP whose GOP before is not there: no decoder shows them).
FrameTable frame_table(const std::vector<const Packets*>& spans);

// Decodes the frames presented at `pts` (stream time base, any order, repeats
// allowed) from `spans` into one buffer shaped `leading` + one image's shape
// (`leading` empty: {pts.size()}); entry i holds the frame at pts[i], the
// occurrences[i]-th of the frames shown at that pts (in decode order; empty: all 0)
// where several share it (Matroska's millisecond times at over 1000 fps).
//
// The decode goes forward once. A GOP is sent from its keyframe up to its last
// wanted packet; a GOP without a wanted frame is skipped as a seek would skip it
// (the decoder is drained and flushed), except the one before an open GOP (whose
// leading frames, shown before its keyframe, reference it) that has a wanted frame:
// that one is sent whole. Nothing after the last wanted packet is sent. A packet
// whose frame is not wanted is sent with AVDISCARD_NONREF, so frames nothing
// references (non-reference B-frames) are not decoded at all. Each repeated frame
// is decoded and converted once, then copied. A wanted frame that did not come out
// (its GOP starts at a keyframe a decoder cannot start cold at: an open GOP without
// leading frames, an intra-refresh recovery point) is decoded in a second pass that
// sends the GOP before each of them whole first.
//
// `plan` sizes and converts as for decode_to_buffer, without timing filters.
// Throws std::invalid_argument for bad arguments and MediaError when the decode
// fails, is cancelled, or a wanted frame does not come out of the decoder.
std::unique_ptr<CPUBuffer> decode_frames_at(const std::vector<const Packets*>& spans,
                                            const std::vector<int64_t>& pts,
                                            const std::vector<int64_t>& leading,
                                            const DecodePlan& plan,
                                            const std::vector<int64_t>& occurrences = {});

}  // namespace spdl
