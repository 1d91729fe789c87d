// Bitstream filters over demuxed packets. NVDEC takes H.264 / HEVC in Annex B
// (start codes, parameter sets in band), while MP4 and Matroska store them
// length-prefixed with the parameter sets in extradata; FFmpeg's
// *_mp4toannexb filters convert one into the other without decoding.
#pragma once

#include <memory>
#include <string>

#include "packets.h"

namespace spdl {

// The filter that turns `codec_name` packets into Annex B, or "" for codecs
// that need none (VP9, AV1, MJPEG... are fed to NVDEC as they are).
std::string annexb_filter(const std::string& codec_name);

// Runs every packet through FFmpeg's bitstream filter `name` and returns new
// packets of the same media type, source, window and frame rate, with the
// filter's output codec parameters (extradata included). Timestamps and key
// flags pass through the filter. Throws std::invalid_argument for a filter the
// system FFmpeg does not have, MediaError (with FFmpeg's message) when the
// filter rejects the stream or a packet.
std::unique_ptr<Packets> apply_bsf(const Packets& packets, const std::string& name);

}  // namespace spdl
