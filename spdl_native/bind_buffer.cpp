// Python bindings of buffer.h: CPUBuffer and the protocols that share its memory.
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "buffer.h"

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
}

}  // namespace spdl
