// RAII owners for the POSIX handles of the demux helper exchange: a file
// descriptor and a memory mapping. Nothing else in the core closes or unmaps by hand.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace spdl::posix {

// "<what>: <strerror(errno)>", for a failed system call.
inline std::runtime_error system_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      ::close(fd_);  // nothing to do on failure: the descriptor is gone either way
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A shared mapping of a whole file, unmapped when it goes.
class Mapping {
 public:
  Mapping(int fd, size_t size, int prot) : size_(size) {
    if (size_ == 0) {
      return;
    }
    // Populated at once: one call maps every page, instead of a fault per page.
    void* p = ::mmap(nullptr, size_, prot, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
      throw system_error("mmap of " + std::to_string(size_) + " bytes failed");
    }
    data_ = static_cast<unsigned char*>(p);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (data_) {
      ::munmap(data_, size_);
    }
  }

  unsigned char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  unsigned char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace spdl::posix
