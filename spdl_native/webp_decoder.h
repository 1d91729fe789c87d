// WebP fast path: libwebp decodes a still WebP image, as Pillow and OpenCV do;
// FFmpeg's own WebP decoders take about 1.7x as long (W1, 500x375 images). A
// frame for an output in packed RGB (DecodeConfig::rgb_frames) comes straight
// from libwebp's conversion, chroma interpolated ("fancy upsampling": Pillow's
// pixels); any other frame is laid out as FFmpeg's webp decoder lays it out
// (yuv420p, yuva420p with alpha, argb when lossless), so the writer downstream
// cannot tell which decoder ran. Built only where CMake found libwebp
// (SPDL_HAS_LIBWEBP); without it FFmpeg decodes every WebP.
#pragma once

#include "decoder.h"

namespace spdl {

// The `decoder` option value that forces this path (no fallback to FFmpeg).
inline constexpr char kLibwebpDecoder[] = "libwebp";

// Whether this build decodes WebP images with libwebp.
bool has_libwebp();

// Decodes the WebP in `packet` with libwebp; of an animation, its first frame
// (packed RGB: rgba unless config.rgb_frames says). Returns null when libwebp
// cannot decode it (corrupt data), so that FFmpeg's decoder takes over; when
// `config.decoder` forces libwebp, throws MediaError with libwebp's reason.
ffmpeg::FramePtr decode_libwebp(const AVPacket& packet, const Packets& packets,
                                const DecodeConfig& config);

}  // namespace spdl
