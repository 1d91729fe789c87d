// Decoding: packets -> (optional filter graph) -> frames, all in native code.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "cancel.h"
#include "frames.h"
#include "packets.h"

namespace spdl {

struct DecodeConfig {
  // Filter description applied to decoded frames; empty keeps them as decoded.
  std::string filter_desc;
  // Decoder name overriding the default one for the codec (e.g. "libdav1d").
  std::optional<std::string> decoder;
  std::map<std::string, std::string> decoder_options;
  int num_threads = 1;
};

// Opens a decoder for codec parameters given by name.
ffmpeg::CodecContextPtr open_decoder(const CodecParams& params, Rational time_base,
                                     const std::string& src, const DecodeConfig& config);

// Decodes every packet; stops early when the filter graph ends (e.g. trim) or
// when `cancel` is set, in which case MediaError("... cancelled") is thrown.
std::unique_ptr<Frames> decode_packets(const Packets& packets, const DecodeConfig& config,
                                       const CancelToken* cancel);

}  // namespace spdl
