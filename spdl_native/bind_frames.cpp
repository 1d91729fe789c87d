#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "buffer.h"
#include "cancel.h"
#include "clip_decoder.h"
#include "decoder.h"
#include "frames.h"
#include "jpeg_decoder.h"

namespace nb = nanobind;

namespace spdl {
namespace {

std::unique_ptr<Frames> decode(const Packets& packets, std::string filter_desc,
                               std::optional<std::string> decoder,
                               std::map<std::string, std::string> decoder_options, int num_threads,
                               const CancelToken* cancel, int min_width, int min_height, int width,
                               int height, std::string pix_fmt, std::string scale_algo) {
  DecodeConfig config{std::move(filter_desc), std::move(decoder), std::move(decoder_options),
                      num_threads};
  config.min_width = min_width;
  config.min_height = min_height;
  if (pix_fmt.empty()) {
    return decode_packets(packets, config, cancel);
  }
  const OutputFormat output{width, height, std::move(pix_fmt), std::move(scale_algo)};
  return decode_packets(packets, config, cancel, &output);
}

std::unique_ptr<CPUBuffer> decode_to_buffer(const Packets& packets, std::string filter_desc,
                                            std::optional<std::string> decoder,
                                            std::map<std::string, std::string> decoder_options,
                                            int num_threads, const CancelToken* cancel,
                                            int64_t expected_frames, int width, int height,
                                            std::string pix_fmt, std::string scale_algo,
                                            int min_width, int min_height) {
  DecodeConfig config{std::move(filter_desc), std::move(decoder), std::move(decoder_options),
                      num_threads};
  config.min_width = min_width;
  config.min_height = min_height;
  OutputFormat output{width, height, std::move(pix_fmt), std::move(scale_algo)};
  return decode_packets_to_buffer(packets, config, output, cancel, expected_frames);
}

std::vector<std::unique_ptr<CPUBuffer>> decode_windows(
    const std::vector<const Packets*>& spans, const std::vector<WindowUs>& windows,
    std::optional<std::string> decoder, std::map<std::string, std::string> decoder_options,
    int num_threads, const CancelToken* cancel, int width, int height, std::string pix_fmt,
    std::string scale_algo) {
  DecodeConfig config{"", std::move(decoder), std::move(decoder_options), num_threads};
  OutputFormat output{width, height, std::move(pix_fmt), std::move(scale_algo)};
  return decode_windows_to_buffers(spans, windows, config, output, cancel);
}

nb::object get_item(const Frames& self, nb::handle key) {
  self.ensure_valid();
  const auto n = static_cast<Py_ssize_t>(self.size());
  if (PySlice_Check(key.ptr())) {
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(key.ptr(), &start, &stop, &step) < 0) {
      throw nb::python_error();
    }
    PySlice_AdjustIndices(n, &start, &stop, step);
    return nb::cast(self.slice(start, stop, step));
  }
  Py_ssize_t i = nb::cast<Py_ssize_t>(key);
  if (i < 0) {
    i += n;
  }
  if (i < 0 || i >= n) {
    throw nb::index_error("frame index out of range");
  }
  return nb::cast(self.image_at(i));
}

}  // namespace

void register_frames(nb::module_& m) {
  nb::class_<CancelToken>(m, "CancelToken",
                          "Set by cancel(); a running native decode stops at its next packet.")
      .def(nb::init<>())
      .def("cancel", &CancelToken::cancel)
      .def_prop_ro("cancelled", &CancelToken::cancelled);

  nb::class_<Frames>(m, "Frames", "Decoded frames; consumed by conversion.")
      .def_prop_ro("media_type", [](const Frames& f) { return to_string(f.media_type); })
      .def_ro("src", &Frames::src)
      .def_ro("time_base", &Frames::time_base)
      .def_ro("consumed", &Frames::consumed)
      .def_prop_ro("pts", &Frames::pts_seconds, "Presentation time of each frame, seconds.")
      .def("__len__", &Frames::size)
      .def("__repr__", &Frames::repr);
  nb::class_<ImageFrames, Frames>(m, "ImageFrames", "A decoded still image.")
      .def_prop_ro("pix_fmt", &Frames::format_name)
      .def_prop_ro("width", &Frames::width)
      .def_prop_ro("height", &Frames::height);
  nb::class_<VideoFrames, Frames>(m, "VideoFrames", "Decoded video frames.")
      .def_prop_ro("pix_fmt", &Frames::format_name)
      .def_prop_ro("width", &Frames::width)
      .def_prop_ro("height", &Frames::height)
      .def("__getitem__", &get_item, nb::arg("key"));
  nb::class_<AudioFrames, Frames>(m, "AudioFrames", "Decoded audio frames.")
      .def_prop_ro("sample_fmt", &Frames::format_name)
      .def_prop_ro("sample_rate", &Frames::sample_rate)
      .def_prop_ro("num_channels", &Frames::num_channels)
      .def_prop_ro("num_samples", &Frames::num_samples);

  m.def("decode_packets", &decode, nb::arg("packets"), nb::arg("filter_desc") = "",
        nb::arg("decoder").none() = nb::none(),
        nb::arg("decoder_options") = std::map<std::string, std::string>{},
        nb::arg("num_threads") = 1, nb::arg("cancel").none() = nb::none(), nb::arg("min_width") = 0,
        nb::arg("min_height") = 0, nb::arg("width") = 0, nb::arg("height") = 0,
        nb::arg("pix_fmt") = "", nb::arg("scale_algo") = "bilinear",
        nb::call_guard<nb::gil_scoped_release>(),
        "Decodes packets (and filters the frames) with the GIL released. min_width / "
        "min_height: the size the frames are resized to, a hint for DCT-domain JPEG scaling. "
        "A pix_fmt makes the native writer scale and convert each frame (as decode_to_buffer).");
  m.def("decode_to_buffer", &decode_to_buffer, nb::arg("packets"), nb::arg("filter_desc") = "",
        nb::arg("decoder").none() = nb::none(),
        nb::arg("decoder_options") = std::map<std::string, std::string>{},
        nb::arg("num_threads") = 1, nb::arg("cancel").none() = nb::none(),
        nb::arg("expected_frames") = 0, nb::arg("width") = 0, nb::arg("height") = 0,
        nb::arg("pix_fmt") = "", nb::arg("scale_algo") = "bilinear", nb::arg("min_width") = 0,
        nb::arg("min_height") = 0, nb::call_guard<nb::gil_scoped_release>(),
        "Decodes and converts in one pass, GIL released: frames go straight into the buffer.");
  m.def("decode_windows", &decode_windows, nb::arg("spans"), nb::arg("windows"),
        nb::arg("decoder").none() = nb::none(),
        nb::arg("decoder_options") = std::map<std::string, std::string>{},
        nb::arg("num_threads") = 1, nb::arg("cancel").none() = nb::none(), nb::arg("width") = 0,
        nb::arg("height") = 0, nb::arg("pix_fmt") = "", nb::arg("scale_algo") = "bilinear",
        nb::call_guard<nb::gil_scoped_release>(),
        "Decodes several windows of one video stream in one forward pass, GIL released. "
        "spans: VideoPackets in stream order, each from a keyframe; windows: [start, end) in "
        "microseconds (end INT64_MAX: open). Returns one buffer per window, None where no "
        "frame lies in the window.");
  m.def("has_turbojpeg", &has_turbojpeg,
        "Whether this build decodes JPEG images with libjpeg-turbo (decoder=\"libjpeg-turbo\").");
  m.def(
      "turbojpeg_decode_size",
      [](int width, int height, int min_width, int min_height, const std::string& pix_fmt) {
        const AVPixelFormat format = av_get_pix_fmt(pix_fmt.c_str());
        if (format == AV_PIX_FMT_NONE) {
          throw std::invalid_argument("Unknown pix_fmt \"" + pix_fmt + "\".");
        }
        return turbojpeg_decode_size(width, height, min_width, min_height, format);
      },
      nb::arg("width"), nb::arg("height"), nb::arg("min_width"), nb::arg("min_height"),
      nb::arg("pix_fmt"),
      "The (width, height) libjpeg-turbo decodes a JPEG of this size at for a size hint.");
}

}  // namespace spdl
