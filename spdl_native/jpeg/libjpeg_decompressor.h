// RAII owner of a libjpeg (libjpeg-turbo's libjpeg API) decompressor, whose
// errors come back as return values. Only in builds with libjpeg-turbo's libjpeg
// (SPDL_HAS_LIBJPEG).
#pragma once

#ifdef SPDL_HAS_LIBJPEG

#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

// After <cstdio> and <cstddef>: jpeglib.h uses FILE and size_t without including them.
// clang-format off
#include <jpeglib.h>
// clang-format on

namespace spdl::jpeg {

// Owns a jpeg_decompress_struct and its error manager; meant to be reused for
// image after image on one thread (see Session). libjpeg reports errors through
// error_exit, which must not return: ours longjmps back to the setjmp of the
// method that made the libjpeg call, so only libjpeg's C frames lie between,
// never a C++ destructor, and those methods hold only trivially destructible
// locals. Corrupt data libjpeg works around is counted in err->num_warnings,
// not printed.
class LibjpegDecompressor {
 public:
  LibjpegDecompressor();
  ~LibjpegDecompressor();
  LibjpegDecompressor(const LibjpegDecompressor&) = delete;
  LibjpegDecompressor& operator=(const LibjpegDecompressor&) = delete;

  // Null when libjpeg could not set up (out of memory; message() says why).
  j_decompress_ptr get() { return created_ ? &cinfo_ : nullptr; }
  // Why the last call failed.
  std::string message() const { return errors_.message; }

  // Each returns false when libjpeg failed; message() then says why.
  bool read_header(const uint8_t* data, size_t size);
  // Starts the decompression, keeps the columns [*xoffset, *xoffset + *width)
  // (libjpeg widens them to iMCU boundaries) and skips the first `skip` rows.
  bool start(JDIMENSION* xoffset, JDIMENSION* width, JDIMENSION skip);
  bool read_rows(JSAMPROW* rows, JDIMENSION count);

  // One image's use of the decompressor: it is reset when the session ends,
  // however the decode ends (an error, a crop box that does not fit).
  class Session {
   public:
    explicit Session(LibjpegDecompressor& owner);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

   private:
    LibjpegDecompressor& owner_;
  };

 private:
  struct ErrorManager {
    jpeg_error_mgr pub;  // first: libjpeg sees only this part
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX] = "";
  };

  static void jump_on_error(j_common_ptr cinfo);
  static void count_warning(j_common_ptr cinfo, int level);
  static void limit_scans(j_common_ptr cinfo);
  bool create();
  void abort_quietly();

  jpeg_decompress_struct cinfo_{};
  ErrorManager errors_{};
  jpeg_progress_mgr progress_{};
  bool created_ = false;
};

}  // namespace spdl::jpeg

#endif  // SPDL_HAS_LIBJPEG
