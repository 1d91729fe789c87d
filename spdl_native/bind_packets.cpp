#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "packets.h"

namespace nb = nanobind;

namespace spdl {
namespace {

void add_packet(Packets& self, nb::handle data, int64_t pts, int64_t dts, int64_t duration,
                bool is_key, const std::vector<std::pair<std::string, nb::bytes>>& side_data) {
  Packets::SideData side;
  for (const auto& [name, bytes] : side_data) {
    side.emplace_back(name, std::string(bytes.c_str(), bytes.size()));
  }
  Py_buffer view;
  if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_SIMPLE) != 0) {
    throw nb::python_error();
  }
  try {
    self.add(static_cast<const uint8_t*>(view.buf), static_cast<size_t>(view.len), pts, dts,
             duration, is_key, side);
  } catch (...) {
    PyBuffer_Release(&view);
    throw;
  }
  PyBuffer_Release(&view);
}

template <typename T>
void bind_media_packets(nb::module_& m, const char* name, const char* doc) {
  nb::class_<T, Packets>(m, name, doc)
      .def(nb::init<std::string, CodecParams, Rational>(), nb::arg("src"), nb::arg("params"),
           nb::arg("time_base"));
}

}  // namespace

void register_packets(nb::module_& m) {
  nb::class_<CodecParams>(m, "CodecParams", "Codec parameters, by name, for the native decoder.")
      .def(nb::init<>())
      .def_rw("codec_name", &CodecParams::codec_name)
      .def_prop_rw(
          "extradata",
          [](const CodecParams& p) { return nb::bytes(p.extradata.data(), p.extradata.size()); },
          [](CodecParams& p, nb::bytes b) { p.extradata.assign(b.c_str(), b.size()); })
      .def_rw("bit_rate", &CodecParams::bit_rate)
      .def_rw("bits_per_coded_sample", &CodecParams::bits_per_coded_sample)
      .def_rw("block_align", &CodecParams::block_align)
      .def_rw("frame_size", &CodecParams::frame_size)
      .def_rw("profile", &CodecParams::profile)
      .def_rw("level", &CodecParams::level)
      .def_rw("width", &CodecParams::width)
      .def_rw("height", &CodecParams::height)
      .def_rw("pix_fmt", &CodecParams::pix_fmt)
      .def_rw("sample_aspect_ratio", &CodecParams::sample_aspect_ratio)
      .def_rw("color_space", &CodecParams::color_space)
      .def_rw("color_range", &CodecParams::color_range)
      .def_rw("sample_rate", &CodecParams::sample_rate)
      .def_rw("num_channels", &CodecParams::num_channels)
      .def_rw("channel_layout", &CodecParams::channel_layout)
      .def_rw("sample_fmt", &CodecParams::sample_fmt);

  nb::class_<Packets>(m, "Packets", "Demuxed packets of one stream, ready for decoding.")
      .def_prop_ro("media_type", [](const Packets& p) { return to_string(p.media_type); })
      .def_ro("src", &Packets::src)
      .def_prop_ro("codec_name", [](const Packets& p) { return p.params.codec_name; })
      .def_ro("time_base", &Packets::time_base)
      .def_rw("frame_rate", &Packets::frame_rate)
      .def_rw("timestamp", &Packets::window, "The window (start, end) in seconds, or None.")
      .def_prop_ro("pts", &Packets::pts_seconds, "Presentation times of the packets, seconds.")
      .def_prop_ro("width", [](const Packets& p) { return p.params.width; })
      .def_prop_ro("height", [](const Packets& p) { return p.params.height; })
      .def_prop_ro("pix_fmt", [](const Packets& p) { return p.params.pix_fmt; })
      .def_prop_ro("sample_rate", [](const Packets& p) { return p.params.sample_rate; })
      .def_prop_ro("num_channels", [](const Packets& p) { return p.params.num_channels; })
      .def_prop_ro("sample_fmt", [](const Packets& p) { return p.params.sample_fmt; })
      .def_prop_ro("params", [](const Packets& p) { return p.params; })
      .def("add", &add_packet, nb::arg("data"), nb::arg("pts"), nb::arg("dts"), nb::arg("duration"),
           nb::arg("is_key"),
           nb::arg("side_data") = std::vector<std::pair<std::string, nb::bytes>>{},
           "Appends a copy of one packet's bytes.")
      .def("__len__", [](const Packets& p) { return p.packets.size(); })
      .def("__repr__", &Packets::repr);

  bind_media_packets<ImagePackets>(m, "ImagePackets", "The packet of one still image.");
  bind_media_packets<AudioPackets>(m, "AudioPackets", "Packets of an audio stream.");
  bind_media_packets<VideoPackets>(m, "VideoPackets", "Packets of a video stream.");
}

}  // namespace spdl
