// Python bindings of convert.h: frames copied into one CPUBuffer (GIL released).
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <map>

#include "bindings.h"
#include "convert.h"
#include "gil_release.h"

namespace nb = nanobind;

namespace spdl {

namespace {

// The frames are checked, then taken from their object, with the GIL held: two threads
// converting one object get one buffer and one ValueError, and a refusal leaves them.
std::unique_ptr<CPUBuffer> convert_taken(Frames& frames) {
  check_convertible(frames);
  Frames taken = frames.take();
  GilRelease release;
  return convert_frames(taken);
}

std::unique_ptr<CPUBuffer> convert_taken_batch(const std::vector<Frames*>& batch) {
  check_image_batch(batch);
  std::vector<Frames> taken;
  taken.reserve(batch.size());
  std::map<const Frames*, size_t> index;  // an object given twice is taken once
  std::vector<size_t> which;
  for (Frames* frames : batch) {
    const auto [at, fresh] = index.emplace(frames, taken.size());
    if (fresh) {
      taken.push_back(frames->take());
    }
    which.push_back(at->second);
  }
  std::vector<const Frames*> items;
  for (const size_t i : which) {
    items.push_back(&taken[i]);
  }
  GilRelease release;
  return convert_image_batch(items);
}

}  // namespace

void register_convert(nb::module_& m) {
  m.def("convert_frames", &convert_taken, nb::arg("frames"),
        "Copies frames into one CPUBuffer (GIL released), releasing each frame as it goes.");
  m.def("convert_image_batch", &convert_taken_batch, nb::arg("frames"),
        "Copies a list of single images into one (B, ...) CPUBuffer (GIL released).");
}

}  // namespace spdl
