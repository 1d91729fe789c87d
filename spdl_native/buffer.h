// CPUBuffer: one 64-byte aligned, C-contiguous allocation with a shape and an
// element type; exported to Python without copies (array interface, buffer
// protocol, DLPack).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace spdl {

enum class DType { UInt8, UInt16, Int16, Int32, Int64, Float32, Float64 };

size_t itemsize(DType dtype);

class CPUBuffer {
 public:
  CPUBuffer(std::vector<int64_t> shape, DType dtype);
  ~CPUBuffer();
  CPUBuffer(const CPUBuffer&) = delete;
  CPUBuffer& operator=(const CPUBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  DType dtype() const { return dtype_; }
  size_t itemsize() const { return spdl::itemsize(dtype_); }
  const std::vector<int64_t>& shape() const { return shape_; }
  // C-contiguous strides in bytes.
  const std::vector<int64_t>& strides() const { return strides_; }

  const char* typestr() const;  // NumPy array-interface type string, e.g. "|u1"
  const char* format() const;   // struct-module format for the buffer protocol

 private:
  uint8_t* data_ = nullptr;
  size_t nbytes_ = 0;
  DType dtype_;
  std::vector<int64_t> shape_;
  std::vector<int64_t> strides_;
};

}  // namespace spdl
