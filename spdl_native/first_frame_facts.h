// What only decoding tells about a video stream: its pixel format and, where the
// container does not say, its colour. PyAV learns them by the probe decode of
// opening (several frames, ~30 ms for 720p H.264); packets demuxed without it
// (an MP4's index says everything else) learn them here, from their first frame,
// when first asked (Packets::described).
#pragma once

#include "packets.h"

namespace spdl {

// `packets.params` with the pixel format and colour of the first frame filled in
// where they are empty. Decodes one keyframe with the system FFmpeg; the params
// as they are when there is none or it cannot be decoded (as after a probe that
// failed to decode).
CodecParams first_frame_facts(const Packets& packets);

}  // namespace spdl
