#include "jpeg_region.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "ffmpeg/error.h"
#include "image_frame.h"
#include "jpeg/libjpeg_decompressor.h"
#include "jpeg_decoder.h"
#include "pixel_limit.h"

extern "C" {
#include <libavutil/imgutils.h>
}

namespace spdl {
namespace {

std::atomic<uint64_t> g_images{0}, g_decoded_pixels{0}, g_image_pixels{0};

#ifdef SPDL_HAS_LIBJPEG

int ceil_div(int value, int divisor) { return (value + divisor - 1) / divisor; }
int round_div(int value, int divisor) { return (value + divisor / 2) / divisor; }

// The DCT-domain reduction (1/8, 1/4, 1/2 or none) for `box` resized to out_w x
// out_h: the largest that keeps every plane, subsampled chroma included, at
// least at the output's resolution (see turbojpeg_decode_size).
int reduction(const CropBox& box, int out_w, int out_h, int chroma_w, int chroma_h) {
  if (out_w <= 0 || out_h <= 0) {
    return 1;
  }
  for (int factor : {8, 4, 2}) {
    if (box.width / factor / chroma_w >= out_w && box.height / factor / chroma_h >= out_h) {
      return factor;
    }
  }
  return 1;
}

#endif  // SPDL_HAS_LIBJPEG

}  // namespace

bool has_libjpeg() {
#ifdef SPDL_HAS_LIBJPEG
  return true;
#else
  return false;
#endif
}

JpegRegionCounters jpeg_region_counters() {
  return {g_images.load(), g_decoded_pixels.load(), g_image_pixels.load()};
}

#ifdef SPDL_HAS_LIBJPEG

std::optional<JpegRegion> decode_jpeg_region(const uint8_t* data, size_t size,
                                             const std::string& src,
                                             const JpegRegionRequest& request, bool forced) {
  thread_local jpeg::LibjpegDecompressor decompressor;
  const auto give_up = [&](const std::string& why) -> std::optional<JpegRegion> {
    if (forced) {
      throw MediaError("Failed to decode " + src + " with libjpeg-turbo: " + why);
    }
    return std::nullopt;
  };
  j_decompress_ptr cinfo = decompressor.get();
  if (!cinfo) {
    return give_up(decompressor.message());
  }
  const jpeg::LibjpegDecompressor::Session session(decompressor);
  if (!decompressor.read_header(data, size)) {
    return give_up(decompressor.message());
  }
  const int width = static_cast<int>(cinfo->image_width);
  const int height = static_cast<int>(cinfo->image_height);
  check_pixel_limit(width, height, request.max_pixels, src);
  if (av_image_check_size(width, height, 0, nullptr) < 0) {
    return give_up("invalid image size");
  }
  const bool gray = cinfo->jpeg_color_space == JCS_GRAYSCALE;
  if (!gray && cinfo->jpeg_color_space != JCS_YCbCr && cinfo->jpeg_color_space != JCS_RGB) {
    return give_up("unsupported JPEG colour space (CMYK or YCCK)");
  }
  const CropBox box = request.box(width, height);

  int chroma_w = 1, chroma_h = 1;
  if (!gray && cinfo->num_components >= 3) {
    chroma_w = std::max(1, cinfo->max_h_samp_factor / cinfo->comp_info[1].h_samp_factor);
    chroma_h = std::max(1, cinfo->max_v_samp_factor / cinfo->comp_info[1].v_samp_factor);
  }
  const int factor = reduction(box, request.out_width, request.out_height, chroma_w, chroma_h);
  cinfo->scale_num = 1;
  cinfo->scale_denom = static_cast<unsigned int>(factor);
  cinfo->dct_method = JDCT_ISLOW;
  cinfo->do_fancy_upsampling = TRUE;
  const bool bgr = request.rgb_format == AV_PIX_FMT_BGR24;
  cinfo->out_color_space = gray ? JCS_GRAYSCALE : bgr ? JCS_EXT_BGR : JCS_EXT_RGB;
  const AVPixelFormat format = gray ? AV_PIX_FMT_GRAY8 : bgr ? AV_PIX_FMT_BGR24 : AV_PIX_FMT_RGB24;

  // The box at the decoded scale, and the region decoded around it: one pixel
  // more on each side, so that the chroma upsampled at the box's edges is
  // interpolated from its neighbours as in a full decode.
  const int scaled_w = ceil_div(width, factor), scaled_h = ceil_div(height, factor);
  const int x0 = std::min(round_div(box.left, factor), scaled_w - 1);
  const int y0 = std::min(round_div(box.top, factor), scaled_h - 1);
  const int x1 = std::clamp(round_div(box.left + box.width, factor), x0 + 1, scaled_w);
  const int y1 = std::clamp(round_div(box.top + box.height, factor), y0 + 1, scaled_h);
  const int region_top = std::max(0, y0 - 1), region_bottom = std::min(scaled_h, y1 + 1);
  JDIMENSION xoffset = static_cast<JDIMENSION>(std::max(0, x0 - 1));
  JDIMENSION columns = static_cast<JDIMENSION>(std::min(scaled_w, x1 + 1)) - xoffset;
  if (!decompressor.start(&xoffset, &columns, static_cast<JDIMENSION>(region_top))) {
    return give_up(decompressor.message());
  }
  if (static_cast<int>(cinfo->output_height) != scaled_h || cinfo->output_width != columns ||
      static_cast<int>(xoffset) > x0 || static_cast<int>(xoffset + columns) < x1) {
    return give_up("unexpected decoded size");
  }
  const int rows = region_bottom - region_top;
  // RGB rows start 16 bytes past 32-byte alignment (see decode_turbojpeg).
  auto frame =
      alloc_image_frame(static_cast<int>(columns), rows, format, gray ? 0 : 16, request.pooled);
  std::vector<JSAMPROW> row_pointers(static_cast<size_t>(rows));
  for (int y = 0; y < rows; ++y) {
    row_pointers[y] = frame->data[0] + static_cast<ptrdiff_t>(y) * frame->linesize[0];
  }
  if (!decompressor.read_rows(row_pointers.data(), static_cast<JDIMENSION>(rows))) {
    return give_up(decompressor.message());
  }
  // Corrupt data that libjpeg worked around: unless forced, FFmpeg gets the say,
  // as on the full-image path.
  if (cinfo->err->num_warnings > 0 && !forced) {
    return std::nullopt;
  }
  g_images.fetch_add(1, std::memory_order_relaxed);
  g_decoded_pixels.fetch_add(uint64_t{columns} * static_cast<uint64_t>(rows),
                             std::memory_order_relaxed);
  g_image_pixels.fetch_add(static_cast<uint64_t>(width) * static_cast<uint64_t>(height),
                           std::memory_order_relaxed);
  // RGB frames say neither range nor colorspace, as FFmpeg's PNG frames do: to a
  // YUV output swscale would otherwise expand full-range RGB once more, and take
  // AVCOL_SPC_RGB's coefficients for BT.709's.
  frame->color_range = AVCOL_RANGE_UNSPECIFIED;
  frame->colorspace = gray ? AVCOL_SPC_BT470BG : AVCOL_SPC_UNSPECIFIED;
  frame->pict_type = AV_PICTURE_TYPE_I;
  JpegRegion region;
  region.frame = std::move(frame);
  region.box = box;
  region.in_frame = {x0 - static_cast<int>(xoffset), y0 - region_top, x1 - x0, y1 - y0};
  return region;
}

#else

std::optional<JpegRegion> decode_jpeg_region(const uint8_t*, size_t, const std::string& src,
                                             const JpegRegionRequest&, bool) {
  throw std::logic_error("decode_jpeg_region called in a build without libjpeg (" + src + ").");
}

#endif  // SPDL_HAS_LIBJPEG

}  // namespace spdl
