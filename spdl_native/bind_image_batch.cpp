// Python bindings of image_batch.h and image_crop.h: still images decoded,
// cropped, resized and mirrored as a batch in one call (GIL released).
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "gil_release.h"
#include "image_batch.h"
#include "image_crop.h"
#include "image_transform.h"
#include "jpeg_region.h"
#include "pending_image.h"

namespace nb = nanobind;

namespace spdl {
namespace {

nb::object batch_result(ImageBatchResult result) {
  return nb::make_tuple(nb::cast(std::move(result.buffer)), nb::cast(result.errors));
}

std::vector<ImageSource> image_sources(nb::list srcs) {
  std::vector<ImageSource> sources;
  sources.reserve(nb::len(srcs));
  for (nb::handle item : srcs) {
    ImageSource source;
    if (nb::isinstance<PendingImage>(item)) {
      const PendingImage* pending = nb::cast<const PendingImage*>(item);  // alive: `srcs`
      source.pending = pending;
      source.name = pending->name();
    } else if (nb::isinstance<nb::bytes>(item)) {
      nb::bytes b = nb::borrow<nb::bytes>(item);  // kept alive by `srcs`
      source.data = reinterpret_cast<const uint8_t*>(b.c_str());
      source.size = b.size();
      source.name = "<bytes " + std::to_string(sources.size()) + ">";
    } else {
      source.name = nb::cast<std::string>(item);
    }
    sources.push_back(std::move(source));
  }
  return sources;
}

nb::object decode_images(nb::list srcs, const DecodePlan* plan,
                         std::vector<ImageTransform> transforms, bool region_decode,
                         int num_threads) {
  const std::vector<ImageSource> sources = image_sources(srcs);
  static const DecodePlan kDefault;
  const ImageBatchOptions batch{std::move(transforms), region_decode, num_threads};
  ImageBatchResult result;
  {
    GilRelease release;
    result = decode_image_batch(sources, plan ? *plan : kDefault, batch);
  }
  return batch_result(std::move(result));
}

nb::object transform_images(const std::vector<Frames*>& frames,
                            const std::vector<ImageTransform>& transforms, const DecodePlan* plan) {
  const OutputFormat output = plan ? plan->output : OutputFormat{};
  ImageBatchResult result;
  {
    GilRelease release;
    result = transform_image_batch(frames, transforms, output);
  }
  return batch_result(std::move(result));
}

void register_crops(nb::module_& m) {
  nb::class_<CropSpec>(m, "CropSpec", "A crop, as the native batch decoder takes it.")
      .def_static("box", &CropSpec::box, nb::arg("left"), nb::arg("top"), nb::arg("width"),
                  nb::arg("height"))
      .def_static("center", &CropSpec::center, nb::arg("width"), nb::arg("height"),
                  nb::arg("resize"))
      .def_static("random_resized", &CropSpec::random_resized, nb::arg("seed"),
                  nb::arg("scale_min"), nb::arg("scale_max"), nb::arg("ratio_min"),
                  nb::arg("ratio_max"), nb::arg("per_image_seed"))
      .def("__repr__", &CropSpec::describe);
  nb::class_<ImageTransform>(m, "ImageTransform", "What is done to one image of a batch.")
      .def(
          "__init__",
          [](ImageTransform* self, std::optional<CropSpec> crop, bool hflip) {
            new (self) ImageTransform{crop.value_or(CropSpec{}), hflip};
          },
          nb::arg("crop").none(), nb::arg("hflip"));
  m.def(
      "crop_box",
      [](const CropSpec& spec, int width, int height, uint64_t index) {
        const CropBox box = compute_crop_box(spec, width, height, index);
        return nb::make_tuple(box.left, box.top, box.width, box.height);
      },
      nb::arg("spec"), nb::arg("width"), nb::arg("height"), nb::arg("index") = 0,
      "The (left, top, width, height) box of a crop in a width x height image.");
  m.def("derive_crop_seed", &derive_crop_seed, nb::arg("seed"), nb::arg("index"),
        "The seed that image `index` of a batch uses for one random crop given for all.");
  m.def(
      "pix_fmt_can_mirror",
      [](const std::string& name) { return can_mirror(av_get_pix_fmt(name.c_str())); },
      nb::arg("pix_fmt"));
  m.def("has_libjpeg", &has_libjpeg, "Whether cropped JPEGs decode only the region they need.");
  m.def(
      "jpeg_region_counters",
      [] {
        const JpegRegionCounters counters = jpeg_region_counters();
        nb::dict d;
        d["images"] = counters.images;
        d["decoded_pixels"] = counters.decoded_pixels;
        d["image_pixels"] = counters.image_pixels;
        return d;
      },
      "Totals of the crop-aware JPEG decodes since the process started (for tests).");
}

}  // namespace

void register_pending(nb::module_& m) {
  nb::class_<PendingImage>(m, "PendingImage",
                           "A still image of a batch whose bytes arrive while the batch runs "
                           "(fetched by another thread); decode_image_batch waits for them.")
      .def(nb::init<std::string>(), nb::arg("name"))
      .def_prop_ro("name", &PendingImage::name)
      .def(
          "set",
          [](PendingImage& self, nb::bytes data) {
            self.set(reinterpret_cast<const uint8_t*>(data.c_str()), data.size());
          },
          nb::arg("data"), "The image's bytes (copied); the first of set and fail counts.")
      .def(
          "set_buffer",
          [](PendingImage& self, nb::bytearray data) {
            self.set(reinterpret_cast<const uint8_t*>(data.c_str()), data.size());
          },
          nb::arg("data"), "set() for a bytearray.")
      .def("fail", &PendingImage::fail, nb::arg("message"),
           "The image cannot be had: the batch fails it with `message`.")
      .def_prop_ro("done", &PendingImage::done);
}

void register_image_batch(nb::module_& m) {
  register_crops(m);
  register_pending(m);
  m.def("decode_image_batch", &decode_images, nb::arg("srcs"), nb::arg("plan").none() = nb::none(),
        nb::arg("transforms") = std::vector<ImageTransform>{}, nb::arg("region_decode") = true,
        nb::arg("num_threads") = 1,
        "Reads and decodes still images as the plan says on `num_threads` native threads, GIL "
        "released for the whole batch, cropping, resizing and mirroring each as its transform "
        "says. Returns (CPUBuffer | None, errors) with one error string per source ('' if it "
        "decoded).");
  m.def("transform_image_batch", &transform_images, nb::arg("frames"), nb::arg("transforms"),
        nb::arg("plan").none() = nb::none(),
        "Crops, resizes and mirrors the images of decoded ImageFrames into one batch of the "
        "plan's output size and format (GIL released). Returns (CPUBuffer | None, errors) with "
        "one error string per item.");
  m.def("sniff_image_codec", [](nb::bytes b) -> std::optional<std::string> {
    const char* codec = sniff_image_codec(reinterpret_cast<const uint8_t*>(b.c_str()), b.size());
    return codec ? std::optional<std::string>(codec) : std::nullopt;
  });
}

}  // namespace spdl
