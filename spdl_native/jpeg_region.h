// Crop-aware JPEG decoding with libjpeg-turbo's libjpeg API: of an image that
// is cropped, only the rows and the iMCU columns the crop box needs are decoded
// (jpeg_skip_scanlines, jpeg_crop_scanline), at the largest DCT-domain reduction
// that keeps every plane of the box at least at the output's resolution (the
// policy of turbojpeg_decode_size). A random resized crop keeps about half of
// an image on average, so this skips about half of the IDCT, upsampling and
// colour conversion (entropy decoding must still read the rows above and left
// of the box). Built where CMake found libjpeg-turbo's libjpeg
// (SPDL_HAS_LIBJPEG); without it cropped JPEGs are decoded whole.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "ffmpeg/wrappers.h"
#include "image_crop.h"

namespace spdl {

struct JpegRegionRequest {
  // The crop box for an image of the given size (may throw CropError).
  std::function<CropBox(int width, int height)> box;
  int out_width = 0, out_height = 0;            // the size the box is resized to
  AVPixelFormat rgb_format = AV_PIX_FMT_RGB24;  // rgb24 or bgr24, for colour images
  bool pooled = false;  // the frame is released within the native call (see alloc_image_frame)
  // MediaError for an image that declares more pixels (pixel_limit.h); 0: no limit.
  int64_t max_pixels = 0;
};

struct JpegRegion {
  ffmpeg::FramePtr frame;  // rgb24 / bgr24 / gray8: the box with its iMCU-aligned surroundings
  CropBox box;             // the box in the source image
  CropBox in_frame;        // the box in `frame`'s pixels (DCT-scaled and rounded)
};

// Whether this build decodes cropped JPEG regions with libjpeg.
bool has_libjpeg();

// Decodes the region of the JPEG in `data` around request.box(width, height).
// Returns nullopt when libjpeg cannot decode it (CMYK, 12-bit, lossless, corrupt
// data, warnings included), so that a full FFmpeg decode takes over; when
// `forced`, throws MediaError with libjpeg's message instead.
std::optional<JpegRegion> decode_jpeg_region(const uint8_t* data, size_t size,
                                             const std::string& src,
                                             const JpegRegionRequest& request, bool forced);

// Totals since the process started, for tests that check what was skipped.
struct JpegRegionCounters {
  uint64_t images = 0;
  uint64_t decoded_pixels = 0;  // pixels written by libjpeg (at the decoded scale)
  uint64_t image_pixels = 0;    // pixels of the source images
};
JpegRegionCounters jpeg_region_counters();

}  // namespace spdl
