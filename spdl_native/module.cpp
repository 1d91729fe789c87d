#include <nanobind/nanobind.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "ffmpeg/compat.h"
#include "ffmpeg/error.h"
#include "gil_release.h"

namespace nb = nanobind;

NB_MODULE(_native, m) {
  m.doc() = "spdl native core: decoding and conversion on the system FFmpeg, GIL released.";
  nb::exception<spdl::MediaError>(m, "MediaError", PyExc_RuntimeError);
  spdl::register_packets(m);
  spdl::register_packet_import(m);
  spdl::register_frames(m);
  spdl::register_buffer(m);
  spdl::register_decode(m);
  spdl::register_convert(m);
  spdl::register_image_batch(m);
  spdl::register_bitstream(m);
  spdl::register_frame_select(m);
  spdl::register_build_info(m);

  m.def("park_threads_at_exit", &spdl::park_threads_at_exit, nb::arg("idents"),
        "From now on, the threads ``idents`` (the daemon threads alive when the atexit "
        "handlers run) wait for the process's exit when they finish native work, instead "
        "of taking the GIL back; so do all but the caller once the interpreter finalizes.");
  m.attr("libavcodec_version") = LIBAVCODEC_IDENT;
#ifdef NDEBUG
  // Objects a daemon thread still holds when the program ends are not leaks; a
  // release build does not list them at exit (a debug build does).
  nb::set_leak_warnings(false);
#endif
  // Errors reach Python as exceptions; FFmpeg's own log would only duplicate them.
  av_log_set_level(AV_LOG_QUIET);
}
