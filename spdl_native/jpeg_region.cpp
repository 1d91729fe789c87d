#include "jpeg_region.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "ffmpeg/error.h"
#include "jpeg_decoder.h"

extern "C" {
#include <libavutil/imgutils.h>
}

#ifdef SPDL_HAS_LIBJPEG
#include <jpeglib.h>

#include <csetjmp>
#include <cstdio>  // jpeglib.h uses FILE
#endif

namespace spdl {
namespace {

std::atomic<uint64_t> g_images{0}, g_decoded_pixels{0}, g_image_pixels{0};

#ifdef SPDL_HAS_LIBJPEG

// As libjpeg-turbo's TJFLAG_LIMITSCANS: a progressive JPEG with absurdly many
// scans makes the decoder loop for minutes (a denial-of-service vector).
constexpr int kMaxScans = 500;

// libjpeg reports errors through error_exit, which must not return. Ours
// longjmps back to the setjmp of the guarded function below that made the
// libjpeg call: only libjpeg's C frames lie between, never a C++ destructor,
// and the guarded functions hold only trivially destructible locals.
struct ErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg sees only this part
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = "";
};

ErrorManager* errors_of(j_common_ptr cinfo) { return reinterpret_cast<ErrorManager*>(cinfo->err); }
ErrorManager* errors_of(j_decompress_ptr cinfo) {
  return errors_of(reinterpret_cast<j_common_ptr>(cinfo));
}

void jump_on_error(j_common_ptr cinfo) {
  ErrorManager* errors = errors_of(cinfo);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Counts warnings (corrupt data libjpeg worked around) instead of printing them.
void count_warning(j_common_ptr cinfo, int level) {
  if (level < 0) {
    ++cinfo->err->num_warnings;
  }
}

void limit_scans(j_common_ptr cinfo) {
  auto* decompress = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (decompress->progressive_mode && decompress->input_scan_number > kMaxScans) {
    ErrorManager* errors = errors_of(cinfo);
    std::snprintf(errors->message, sizeof errors->message,
                  "progressive JPEG with more than %d scans", kMaxScans);
    std::longjmp(errors->jump, 1);
  }
}

// The guarded functions: each returns false when libjpeg failed (the reason is
// in the error manager's message).

bool create(j_decompress_ptr cinfo) {
  if (setjmp(errors_of(cinfo)->jump)) {
    return false;
  }
  jpeg_create_decompress(cinfo);
  return true;
}

bool read_header(j_decompress_ptr cinfo, const uint8_t* data, size_t size) {
  if (setjmp(errors_of(cinfo)->jump)) {
    return false;
  }
  jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
  if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK) {
    std::snprintf(errors_of(cinfo)->message, JMSG_LENGTH_MAX, "no image in the data");
    return false;
  }
  return true;
}

// Starts the decompression, keeps the columns [*xoffset, *xoffset + *width)
// (libjpeg widens them to iMCU boundaries) and skips the first `skip` rows.
bool start(j_decompress_ptr cinfo, JDIMENSION* xoffset, JDIMENSION* width, JDIMENSION skip) {
  if (setjmp(errors_of(cinfo)->jump)) {
    return false;
  }
  jpeg_start_decompress(cinfo);
  jpeg_crop_scanline(cinfo, xoffset, width);
  if (jpeg_skip_scanlines(cinfo, skip) != skip) {
    std::snprintf(errors_of(cinfo)->message, JMSG_LENGTH_MAX, "could not skip to the crop");
    return false;
  }
  return true;
}

bool read_rows(j_decompress_ptr cinfo, JSAMPROW* rows, JDIMENSION count) {
  if (setjmp(errors_of(cinfo)->jump)) {
    return false;
  }
  for (JDIMENSION done = 0; done < count;) {
    const JDIMENSION read = jpeg_read_scanlines(cinfo, rows + done, count - done);
    if (read == 0) {  // only a suspending data source returns none
      std::snprintf(errors_of(cinfo)->message, JMSG_LENGTH_MAX, "the data ended early");
      return false;
    }
    done += read;
  }
  return true;
}

void abort_quietly(j_decompress_ptr cinfo) {
  if (setjmp(errors_of(cinfo)->jump)) {
    return;
  }
  jpeg_abort_decompress(cinfo);
}

// Owns a jpeg_decompress_struct and its error manager; one per thread, reused
// for image after image (jpeg_abort_decompress between them).
class Decompressor {
 public:
  Decompressor() {
    cinfo_.err = jpeg_std_error(&errors_.pub);
    errors_.pub.error_exit = jump_on_error;
    errors_.pub.emit_message = count_warning;
    created_ = create(&cinfo_);
    progress_.progress_monitor = limit_scans;
    cinfo_.progress = &progress_;
  }
  ~Decompressor() {
    if (created_) {
      jpeg_destroy_decompress(&cinfo_);
    }
  }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  // Null when libjpeg could not set up (out of memory).
  j_decompress_ptr get() { return created_ ? &cinfo_ : nullptr; }
  std::string message() const { return errors_.message; }

 private:
  jpeg_decompress_struct cinfo_{};
  ErrorManager errors_{};
  jpeg_progress_mgr progress_{};
  bool created_ = false;
};

// One image's use of the thread's decompressor: it is reset at the end, however
// the decode ends (an error, a crop box that does not fit).
class Session {
 public:
  explicit Session(j_decompress_ptr cinfo) : cinfo_(cinfo) { cinfo->err->num_warnings = 0; }
  ~Session() { abort_quietly(cinfo_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

 private:
  j_decompress_ptr cinfo_;
};

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
  thread_local Decompressor decompressor;
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
  Session session(cinfo);
  if (!read_header(cinfo, data, size)) {
    return give_up(decompressor.message());
  }
  const int width = static_cast<int>(cinfo->image_width);
  const int height = static_cast<int>(cinfo->image_height);
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
  if (!start(cinfo, &xoffset, &columns, static_cast<JDIMENSION>(region_top))) {
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
  if (!read_rows(cinfo, row_pointers.data(), static_cast<JDIMENSION>(rows))) {
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
