#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "buffer.h"
#include "convert.h"
#include "ffmpeg/compat.h"
#include "image_batch.h"
#include "image_crop.h"
#include "image_transform.h"
#include "jpeg_region.h"

namespace nb = nanobind;

namespace spdl {
namespace {

int get_buffer(PyObject* exporter, Py_buffer* view, int flags) {
  CPUBuffer* self = nb::inst_ptr<CPUBuffer>(exporter);
  view->obj = exporter;
  Py_INCREF(exporter);
  view->buf = self->data();
  view->len = static_cast<Py_ssize_t>(self->nbytes());
  view->readonly = 0;
  view->itemsize = static_cast<Py_ssize_t>(self->itemsize());
  view->format = (flags & PyBUF_FORMAT) ? const_cast<char*>(self->format()) : nullptr;
  view->ndim = static_cast<int>(self->shape().size());
  // Py_ssize_t and int64_t are the same width on every supported platform.
  view->shape = reinterpret_cast<Py_ssize_t*>(const_cast<int64_t*>(self->shape().data()));
  view->strides = reinterpret_cast<Py_ssize_t*>(const_cast<int64_t*>(self->strides().data()));
  view->suboffsets = nullptr;
  view->internal = nullptr;
  return 0;
}

PyType_Slot buffer_slots[] = {{Py_bf_getbuffer, reinterpret_cast<void*>(get_buffer)}, {0, nullptr}};

nb::dlpack::dtype dlpack_dtype(DType dtype) {
  using code = nb::dlpack::dtype_code;
  const auto bits = static_cast<uint8_t>(itemsize(dtype) * 8);
  switch (dtype) {
    case DType::UInt8:
    case DType::UInt16:
      return {static_cast<uint8_t>(code::UInt), bits, 1};
    case DType::Float32:
    case DType::Float64:
      return {static_cast<uint8_t>(code::Float), bits, 1};
    default:
      return {static_cast<uint8_t>(code::Int), bits, 1};
  }
}

nb::dict array_interface(const CPUBuffer& self) {
  nb::dict d;
  nb::list shape;
  for (auto dim : self.shape()) {
    shape.append(dim);
  }
  d["shape"] = nb::tuple(shape);
  d["typestr"] = self.typestr();
  d["data"] = nb::make_tuple(reinterpret_cast<uintptr_t>(self.data()), false);
  d["strides"] = nb::none();
  d["version"] = 3;
  return d;
}

// Exports through nanobind's DLPack-capable array, owned by this buffer object.
nb::object dlpack(nb::pointer_and_handle<CPUBuffer> self_ph, nb::kwargs kwargs) {
  const CPUBuffer& self = *self_ph.p;
  nb::handle self_py = self_ph.h;
  std::vector<size_t> shape(self.shape().begin(), self.shape().end());
  std::vector<int64_t> strides;
  for (auto s : self.strides()) {
    strides.push_back(s / static_cast<int64_t>(self.itemsize()));
  }
  nb::ndarray<nb::array_api> array(self.data(), shape.size(), shape.data(), self_py, strides.data(),
                                   dlpack_dtype(self.dtype()), nb::device::cpu::value);
  return nb::cast(array).attr("__dlpack__")(**kwargs);
}

nb::object batch_result(ImageBatchResult result) {
  return nb::make_tuple(nb::cast(std::move(result.buffer)), nb::cast(result.errors));
}

nb::object decode_images(nb::list srcs, std::string filter_desc, std::optional<std::string> decoder,
                         std::map<std::string, std::string> decoder_options, int num_threads,
                         const CancelToken* cancel, int width, int height, std::string pix_fmt,
                         std::string scale_algo, int min_width, int min_height,
                         std::vector<ImageTransform> transforms, bool region_decode) {
  std::vector<ImageSource> sources;
  sources.reserve(nb::len(srcs));
  for (nb::handle item : srcs) {
    ImageSource source;
    if (nb::isinstance<nb::bytes>(item)) {
      nb::bytes b = nb::borrow<nb::bytes>(item);  // kept alive by `srcs`
      source.data = reinterpret_cast<const uint8_t*>(b.c_str());
      source.size = b.size();
      source.name = "<bytes " + std::to_string(sources.size()) + ">";
    } else {
      source.name = nb::cast<std::string>(item);
    }
    sources.push_back(std::move(source));
  }
  DecodeConfig config{std::move(filter_desc), std::move(decoder), std::move(decoder_options), 1};
  config.min_width = min_width;
  config.min_height = min_height;
  OutputFormat output{width, height, std::move(pix_fmt), std::move(scale_algo)};
  const BatchTransforms batch{std::move(transforms), region_decode};
  ImageBatchResult result;
  {
    nb::gil_scoped_release release;
    result = decode_image_batch(sources, config, output, num_threads, cancel, batch);
  }
  return batch_result(std::move(result));
}

nb::object transform_images(const std::vector<Frames*>& frames,
                            const std::vector<ImageTransform>& transforms, int width, int height,
                            std::string pix_fmt, std::string scale_algo) {
  const OutputFormat output{width, height, std::move(pix_fmt), std::move(scale_algo)};
  ImageBatchResult result;
  {
    nb::gil_scoped_release release;
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

// Docstrings (Google style; the API page renders them with mkdocstrings, and
// tests/test_docstring_examples.py runs their examples).

constexpr const char* kCPUBufferDoc = R"(Converted frames in one C-contiguous block of host memory.

Returned by ``convert_frames`` and the ``load_*`` functions. It exposes the NumPy
array interface (version 3), the Python buffer protocol and DLPack, so
``numpy.asarray``, ``memoryview``, ``torch.from_dlpack`` and ``spdl.io.to_numpy``
/ ``to_torch`` view its memory without a copy; every view keeps the buffer alive.
For the shape of each media type and format, see the shapes table.

Example:
    >>> buffer = spdl.io.load_image("foo.jpg")
    >>> buffer.shape, buffer.typestr, buffer.nbytes
    ((240, 320, 3), '|u1', 230400)
    >>> import numpy as np
    >>> np.asarray(buffer).ctypes.data == buffer.data_ptr  # a view, not a copy
    True)";

constexpr const char* kDLPackDoc = R"(Exports the memory as a DLPack capsule (the DLPack protocol).

Frameworks call it through ``from_dlpack``; the capsule keeps the buffer alive.

Args:
    **kwargs: The protocol's keyword arguments (``stream``, ``max_version``,
        ``dl_device``, ``copy``); with ``max_version`` of 1 or more the capsule is
        a versioned one.

Returns:
    A ``PyCapsule`` holding a ``DLManagedTensor`` for the buffer's memory.)";

}  // namespace

void register_buffer(nb::module_& m) {
  nb::class_<CPUBuffer>(m, "CPUBuffer", nb::type_slots(buffer_slots), kCPUBufferDoc)
      .def_prop_ro(
          "shape",
          [](const CPUBuffer& b) {
            nb::list l;
            for (auto dim : b.shape()) l.append(dim);
            return nb::tuple(l);
          },
          "The shape, e.g. ``(N, H, W, 3)`` for ``rgb24`` video.")
      .def_prop_ro("typestr", &CPUBuffer::typestr,
                   "The element type as a NumPy type string, e.g. ``\"|u1\"`` (uint8) or "
                   "``\"<f4\"`` (float32).")
      .def_prop_ro(
          "data_ptr", [](const CPUBuffer& b) { return reinterpret_cast<uintptr_t>(b.data()); },
          "The address of the first element (64-byte aligned).")
      .def_prop_ro("nbytes", &CPUBuffer::nbytes, "The size of the data in bytes.")
      .def_prop_ro("__array_interface__", &array_interface,
                   "The NumPy array interface (version 3): shape, typestr, data pointer.")
      .def("__dlpack__", &dlpack, kDLPackDoc)
      .def(
          "__dlpack_device__", [](const CPUBuffer&) { return nb::make_tuple(1, 0); },
          "Returns ``(1, 0)``: DLPack's CPU device type (``kDLCPU``) and device 0.")
      .def("__repr__", [](const CPUBuffer& b) {
        std::string s = "CPUBuffer(shape=(";
        for (size_t i = 0; i < b.shape().size(); ++i) {
          s += (i ? ", " : "") + std::to_string(b.shape()[i]);
        }
        return s + (b.shape().size() == 1 ? ",)" : ")") + ", typestr=\"" + b.typestr() + "\")";
      });

  m.def("convert_frames", &convert_frames, nb::arg("frames"),
        nb::call_guard<nb::gil_scoped_release>(),
        "Copies frames into one CPUBuffer (GIL released), releasing each frame as it goes.");
  m.def("convert_image_batch", &convert_image_batch, nb::arg("frames"),
        nb::call_guard<nb::gil_scoped_release>(),
        "Copies a list of single images into one (B, ...) CPUBuffer (GIL released).");
  m.def("decode_image_batch", &decode_images, nb::arg("srcs"), nb::arg("filter_desc") = "",
        nb::arg("decoder").none() = nb::none(),
        nb::arg("decoder_options") = std::map<std::string, std::string>{},
        nb::arg("num_threads") = 1, nb::arg("cancel").none() = nb::none(), nb::arg("width") = 0,
        nb::arg("height") = 0, nb::arg("pix_fmt") = "", nb::arg("scale_algo") = "bilinear",
        nb::arg("min_width") = 0, nb::arg("min_height") = 0,
        nb::arg("transforms") = std::vector<ImageTransform>{}, nb::arg("region_decode") = true,
        "Reads and decodes still images on native threads, GIL released for the whole batch, "
        "cropping, resizing and mirroring each as its transform says. Returns "
        "(CPUBuffer | None, errors) with one error string per source ('' if it decoded).");
  m.def("transform_image_batch", &transform_images, nb::arg("frames"), nb::arg("transforms"),
        nb::arg("width") = 0, nb::arg("height") = 0, nb::arg("pix_fmt") = "",
        nb::arg("scale_algo") = "bilinear",
        "Crops, resizes and mirrors the images of decoded ImageFrames into one batch (GIL "
        "released). Returns (CPUBuffer | None, errors) with one error string per item.");
  register_crops(m);
  m.def("sniff_image_codec", [](nb::bytes b) -> std::optional<std::string> {
    const char* codec = sniff_image_codec(reinterpret_cast<const uint8_t*>(b.c_str()), b.size());
    return codec ? std::optional<std::string>(codec) : std::nullopt;
  });
  m.def("pix_fmt_exists",
        [](const std::string& name) { return av_get_pix_fmt(name.c_str()) != AV_PIX_FMT_NONE; });
  m.def("sample_fmt_exists", [](const std::string& name) {
    return av_get_sample_fmt(name.c_str()) != AV_SAMPLE_FMT_NONE;
  });
}

}  // namespace spdl
