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
  // `reserve_leading` reserves room for that many entries of the leading dimension.
  CPUBuffer(std::vector<int64_t> shape, DType dtype, int64_t reserve_leading = 0);
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

  // Sets the leading dimension, keeping the data. Large buffers are memory maps
  // that grow with mremap, so growing never copies and untouched room costs no RAM.
  void resize_leading_dim(int64_t n);
  // Gives the data a new shape that fits in the room already reserved (e.g. once
  // planar rows written with spare room between them have been packed together).
  void reshape(std::vector<int64_t> shape);

  const char* typestr() const;  // NumPy array-interface type string, e.g. "|u1"
  const char* format() const;   // struct-module format for the buffer protocol

 private:
  void reserve(size_t bytes);
  void release();

  uint8_t* data_ = nullptr;
  size_t nbytes_ = 0;
  size_t capacity_ = 0;     // usable bytes; the allocation has slack after them
  size_t mapped_size_ = 0;  // length of the memory map when mapped_
  bool mapped_ = false;
  DType dtype_;
  std::vector<int64_t> shape_;
  std::vector<int64_t> strides_;
};

}  // namespace spdl
