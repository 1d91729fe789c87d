#include "jpeg/libjpeg_decompressor.h"

#ifdef SPDL_HAS_LIBJPEG

namespace spdl::jpeg {
namespace {

// As libjpeg-turbo's TJFLAG_LIMITSCANS: a progressive JPEG with absurdly many
// scans makes the decoder loop for minutes (a denial-of-service vector).
constexpr int kMaxScans = 500;

}  // namespace

void LibjpegDecompressor::jump_on_error(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

void LibjpegDecompressor::count_warning(j_common_ptr cinfo, int level) {
  if (level < 0) {
    ++cinfo->err->num_warnings;
  }
}

void LibjpegDecompressor::limit_scans(j_common_ptr cinfo) {
  auto* decompress = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (decompress->progressive_mode && decompress->input_scan_number > kMaxScans) {
    auto* errors = reinterpret_cast<ErrorManager*>(cinfo->err);
    std::snprintf(errors->message, sizeof errors->message,
                  "progressive JPEG with more than %d scans", kMaxScans);
    std::longjmp(errors->jump, 1);
  }
}

LibjpegDecompressor::LibjpegDecompressor() {
  cinfo_.err = jpeg_std_error(&errors_.pub);
  errors_.pub.error_exit = jump_on_error;
  errors_.pub.emit_message = count_warning;
  created_ = create();
  progress_.progress_monitor = limit_scans;
  cinfo_.progress = &progress_;
}

LibjpegDecompressor::~LibjpegDecompressor() {
  if (created_) {
    jpeg_destroy_decompress(&cinfo_);
  }
}

// The methods below that call libjpeg return here through setjmp on failure.

bool LibjpegDecompressor::create() {
  if (setjmp(errors_.jump)) {
    return false;
  }
  jpeg_create_decompress(&cinfo_);
  return true;
}

bool LibjpegDecompressor::read_header(const uint8_t* data, size_t size) {
  if (setjmp(errors_.jump)) {
    return false;
  }
  jpeg_mem_src(&cinfo_, data, static_cast<unsigned long>(size));
  if (jpeg_read_header(&cinfo_, TRUE) != JPEG_HEADER_OK) {
    std::snprintf(errors_.message, JMSG_LENGTH_MAX, "no image in the data");
    return false;
  }
  return true;
}

bool LibjpegDecompressor::start(JDIMENSION* xoffset, JDIMENSION* width, JDIMENSION skip) {
  if (setjmp(errors_.jump)) {
    return false;
  }
  jpeg_start_decompress(&cinfo_);
  jpeg_crop_scanline(&cinfo_, xoffset, width);
  if (jpeg_skip_scanlines(&cinfo_, skip) != skip) {
    std::snprintf(errors_.message, JMSG_LENGTH_MAX, "could not skip to the crop");
    return false;
  }
  return true;
}

bool LibjpegDecompressor::read_rows(JSAMPROW* rows, JDIMENSION count) {
  if (setjmp(errors_.jump)) {
    return false;
  }
  for (JDIMENSION done = 0; done < count;) {
    const JDIMENSION read = jpeg_read_scanlines(&cinfo_, rows + done, count - done);
    if (read == 0) {  // only a suspending data source returns none
      std::snprintf(errors_.message, JMSG_LENGTH_MAX, "the data ended early");
      return false;
    }
    done += read;
  }
  return true;
}

void LibjpegDecompressor::abort_quietly() {
  if (setjmp(errors_.jump)) {
    return;
  }
  jpeg_abort_decompress(&cinfo_);
}

LibjpegDecompressor::Session::Session(LibjpegDecompressor& owner) : owner_(owner) {
  owner.cinfo_.err->num_warnings = 0;
}

LibjpegDecompressor::Session::~Session() { owner_.abort_quietly(); }

}  // namespace spdl::jpeg

#endif  // SPDL_HAS_LIBJPEG
