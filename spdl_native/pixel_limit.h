// The limit on the pixels of one decoded picture (a still image, or one video
// frame), against decompression bombs: a file of a few hundred bytes whose header
// declares 16000x16000 pixels makes a decoder allocate ~770 MB before it finds
// out that the data is not there. Every decode path checks the size a header
// declares against DecodeConfig::max_pixels before it allocates the picture:
// still images by their header before any decoder sees them
// (decode_outside_ffmpeg), libjpeg-turbo and libwebp again on the header they
// read, and FFmpeg's decoders by the stream's size and AVCodecContext::max_pixels
// (open_decoder). Python puts the limit in each decode plan
// (spdl.io.set_max_image_pixels): nothing global is read without the GIL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "packets.h"

namespace spdl {

// Pillow's threshold for DecompressionBombError: 2 * Image.MAX_IMAGE_PIXELS.
inline constexpr int64_t kDefaultMaxPixels = 178'956'970;

// Throws MediaError naming `src`, the size and the limit when `width` x `height`
// is more than `max_pixels` pixels (0: no limit).
void check_pixel_limit(int64_t width, int64_t height, int64_t max_pixels, const std::string& src);

// The size (width, height) the header of a still image of `codec` declares
// (mjpeg, png, webp, bmp, gif, tiff, qoi); nullopt for other codecs, or a header
// too short or malformed to say.
std::optional<std::pair<int64_t, int64_t>> declared_image_size(const std::string& codec,
                                                               const uint8_t* data, size_t size);

// check_pixel_limit() on what `packets` declare: their stream's size (the
// demuxer's) and, for a still image, its header's.
void check_declared_pixels(const Packets& packets, int64_t max_pixels);

// The AVCodecContext::max_pixels for a limit of `max_pixels` (0: none): a backstop
// for sizes no header told beforehand (a video's size changing mid-stream, formats
// not read by declared_image_size). FFmpeg checks it on the size given and again
// on the width padded to its stride alignment (up to 64), so it is looser than
// the limit: twice it covers that padding for pictures at least 64 wide, the
// constant it covers narrow ones of up to 4096 rows.
int64_t decoder_max_pixels(int64_t max_pixels);

// FFmpeg's decoders fail with "Invalid argument" on a picture over their
// max_pixels. When `ret` is that failure of `ctx`, opened for a limit of
// `max_pixels`, throws the limit's message instead (naming the size where the
// decoder kept it); else returns.
void check_refused_size(const AVCodecContext* ctx, int ret, int64_t max_pixels,
                        const std::string& src);

}  // namespace spdl
