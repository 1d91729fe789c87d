// Python bindings of convert.h: frames copied into one CPUBuffer (GIL released).
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "convert.h"

namespace nb = nanobind;

namespace spdl {

void register_convert(nb::module_& m) {
  m.def("convert_frames", &convert_frames, nb::arg("frames"),
        nb::call_guard<nb::gil_scoped_release>(),
        "Copies frames into one CPUBuffer (GIL released), releasing each frame as it goes.");
  m.def("convert_image_batch", &convert_image_batch, nb::arg("frames"),
        nb::call_guard<nb::gil_scoped_release>(),
        "Copies a list of single images into one (B, ...) CPUBuffer (GIL released).");
}

}  // namespace spdl
