// JPEG fast path: libjpeg-turbo decodes a still JPEG image into a frame laid
// out exactly as FFmpeg's mjpeg decoder lays it out (yuvj420p / yuvj422p /
// yuvj444p / gray, full range, BT.601), so the filter graph and the frame
// writer downstream cannot tell which decoder ran, and every decode path
// (frames, fused buffer, image batch) gives the same pixels for a request;
// or, when the writer takes packed RGB (DecodeConfig::rgb_frames), straight
// into it, chroma interpolated as Pillow and OpenCV decode.
// Built only where CMake found libturbojpeg (SPDL_HAS_TURBOJPEG); without it
// FFmpeg decodes every JPEG.
#pragma once

#include <string>
#include <utility>

#include "decoder.h"

namespace spdl {

// The `decoder` option value that forces this path (no fallback to FFmpeg).
inline constexpr char kTurboJpegDecoder[] = "libjpeg-turbo";

// Whether this build decodes JPEG images with libjpeg-turbo.
bool has_turbojpeg();

// The size a `width` x `height` JPEG decoding to `format` (yuvj420p, ..., gray)
// is decoded at for the size hint of DecodeConfig (min_width, min_height): the
// smallest DCT-domain reduction (1/8, 1/4, 1/2) that gives exactly the output
// size a full-size decode gives, with every plane (chroma included) at least
// at the output's resolution; the full size when none qualifies or no hint.
std::pair<int, int> turbojpeg_decode_size(int width, int height, int min_width, int min_height,
                                          AVPixelFormat format);

// Decodes the JPEG in `packet` with libjpeg-turbo, at turbojpeg_decode_size().
// CMYK and YCCK JPEGs decode to packed RGB (config.rgb_frames, else rgb24),
// converted as Pillow converts CMYK. Returns null when libjpeg-turbo cannot
// decode it (an unsupported JPEG flavour such as 4:4:0, 12-bit or lossless, or
// corrupt data, warnings included), so that FFmpeg's decoder takes over; when
// `config.decoder` forces libjpeg-turbo, throws MediaError with libjpeg-turbo's
// message instead.
ffmpeg::FramePtr decode_turbojpeg(const AVPacket& packet, const Packets& packets,
                                  const DecodeConfig& config);

}  // namespace spdl
