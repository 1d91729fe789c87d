#include "buffer.h"

#include <cstdlib>
#include <new>
#include <stdexcept>

namespace spdl {

size_t itemsize(DType dtype) {
  switch (dtype) {
    case DType::UInt8:
      return 1;
    case DType::UInt16:
    case DType::Int16:
      return 2;
    case DType::Int32:
    case DType::Float32:
      return 4;
    case DType::Int64:
    case DType::Float64:
      return 8;
  }
  return 1;
}

CPUBuffer::CPUBuffer(std::vector<int64_t> shape, DType dtype)
    : dtype_(dtype), shape_(std::move(shape)), strides_(shape_.size()) {
  size_t count = 1;
  for (auto dim : shape_) {
    if (dim < 0) {
      throw std::invalid_argument("buffer dimensions must not be negative");
    }
    count *= static_cast<size_t>(dim);
  }
  nbytes_ = count * itemsize();
  int64_t stride = static_cast<int64_t>(itemsize());
  for (size_t i = shape_.size(); i-- > 0;) {
    strides_[i] = stride;
    stride *= shape_[i];
  }
  // 64-byte alignment suits SIMD loads and CUDA host copies.
  constexpr size_t alignment = 64;
  const size_t padded = ((nbytes_ + alignment - 1) / alignment) * alignment;
  data_ = static_cast<uint8_t*>(std::aligned_alloc(alignment, padded ? padded : alignment));
  if (!data_) {
    throw std::bad_alloc();
  }
}

CPUBuffer::~CPUBuffer() { std::free(data_); }

const char* CPUBuffer::typestr() const {
  switch (dtype_) {
    case DType::UInt8:
      return "|u1";
    case DType::UInt16:
      return "<u2";
    case DType::Int16:
      return "<i2";
    case DType::Int32:
      return "<i4";
    case DType::Int64:
      return "<i8";
    case DType::Float32:
      return "<f4";
    case DType::Float64:
      return "<f8";
  }
  return "|u1";
}

const char* CPUBuffer::format() const {
  switch (dtype_) {
    case DType::UInt8:
      return "B";
    case DType::UInt16:
      return "H";
    case DType::Int16:
      return "h";
    case DType::Int32:
      return "i";
    case DType::Int64:
      return "q";
    case DType::Float32:
      return "f";
    case DType::Float64:
      return "d";
  }
  return "B";
}

}  // namespace spdl
