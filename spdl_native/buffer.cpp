#include "buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

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

namespace {

// Below this size the heap is cheaper than a memory map.
constexpr size_t kMapThreshold = 1 << 20;
constexpr size_t kAlignment = 64;
constexpr size_t kTailSlack = 256;

size_t round_up(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// Freed output mappings, kept for the next buffer of a similar size: data loaders
// allocate the same sizes again and again, and a reused mapping is already backed
// by (huge) pages, so it costs neither page faults nor memory compaction.
class MapCache {
 public:
  static MapCache& instance() {
    static MapCache* cache = new MapCache();  // outlives every buffer, even at exit
    return *cache;
  }

  // A cached mapping of at least `size` bytes (and not wastefully larger), or null.
  void* take(size_t size, size_t* actual) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto best = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second >= size && it->second <= 2 * size &&
          (best == entries_.end() || it->second < best->second)) {
        best = it;
      }
    }
    if (best == entries_.end()) {
      return nullptr;
    }
    void* p = best->first;
    *actual = best->second;
    total_ -= best->second;
    entries_.erase(best);
    return p;
  }

  // Keeps the mapping if the cache has room, else unmaps it (oldest entries first).
  void give(void* p, size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (size > limit_) {
      munmap(p, size);
      return;
    }
    while (total_ + size > limit_ && !entries_.empty()) {
      munmap(entries_.front().first, entries_.front().second);
      total_ -= entries_.front().second;
      entries_.erase(entries_.begin());
    }
    entries_.emplace_back(p, size);
    total_ += size;
  }

 private:
  // The cache only keeps memory that was just in use, so it never raises the peak;
  // by default it may hold an eighth of physical memory (SPDL_BUFFER_CACHE_MB overrides).
  MapCache() {
    if (const char* env = std::getenv("SPDL_BUFFER_CACHE_MB")) {
      limit_ = std::strtoull(env, nullptr, 10) << 20;
    } else {
      const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
      limit_ =
          pages > 0 && page_size > 0 ? static_cast<size_t>(pages) * page_size / 8 : (1ULL << 30);
    }
  }

  std::mutex mutex_;
  std::vector<std::pair<void*, size_t>> entries_;
  size_t total_ = 0;
  size_t limit_ = 0;
};

}  // namespace

CPUBuffer::CPUBuffer(std::vector<int64_t> shape, DType dtype, int64_t reserve_leading)
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
  size_t wanted = nbytes_;
  if (!shape_.empty() && reserve_leading > shape_[0]) {
    wanted = static_cast<size_t>(reserve_leading) * static_cast<size_t>(strides_[0]);
  }
  reserve(wanted);
}

CPUBuffer::~CPUBuffer() { release(); }

void CPUBuffer::release() {
  if (mapped_) {
    MapCache::instance().give(data_, mapped_size_);
  } else {
    std::free(data_);
  }
  data_ = nullptr;
  capacity_ = 0;
}

void CPUBuffer::reserve(size_t bytes) {
  if (data_ && bytes <= capacity_) {
    return;
  }
  // SIMD converters (swscale) may write a little past the last row they fill.
  bytes += kTailSlack;
  if (bytes >= kMapThreshold) {
    size_t size = round_up(bytes, static_cast<size_t>(sysconf(_SC_PAGESIZE)));
    void* p = mapped_ ? mremap(data_, mapped_size_, size, MREMAP_MAYMOVE)
                      : MapCache::instance().take(size, &size);
    if (!p) {
      p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    if (p == MAP_FAILED) {
      throw std::bad_alloc();
    }
    if (!mapped_ && data_) {
      std::memcpy(p, data_, nbytes_);
      std::free(data_);
    }
    // Huge pages cut first-touch page faults 512-fold; faults serialize across
    // threads, so this is what lets concurrent decodes scale.
    madvise(p, size, MADV_HUGEPAGE);
    data_ = static_cast<uint8_t*>(p);
    capacity_ = size - kTailSlack;
    mapped_size_ = size;
    mapped_ = true;
    return;
  }
  const size_t size = round_up(std::max<size_t>(bytes, 1), kAlignment);
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(kAlignment, size));
  if (!p) {
    throw std::bad_alloc();
  }
  if (data_) {
    std::memcpy(p, data_, nbytes_);
    std::free(data_);
  }
  data_ = p;
  capacity_ = size - kTailSlack;
}

void CPUBuffer::resize_leading_dim(int64_t n) {
  if (shape_.empty() || n < 0) {
    throw std::invalid_argument("invalid leading dimension");
  }
  const size_t bytes = static_cast<size_t>(n) * static_cast<size_t>(strides_[0]);
  if (bytes > capacity_) {
    reserve(std::max(bytes, capacity_ + capacity_ / 2));
  }
  shape_[0] = n;
  nbytes_ = bytes;
}

void CPUBuffer::reshape(std::vector<int64_t> shape) {
  size_t bytes = itemsize();
  for (int64_t dim : shape) {
    if (dim < 0) {
      throw std::invalid_argument("invalid shape");
    }
    bytes *= static_cast<size_t>(dim);
  }
  if (bytes > capacity_) {
    throw std::invalid_argument("reshape beyond the reserved room");
  }
  shape_ = std::move(shape);
  strides_.assign(shape_.size(), 0);
  int64_t stride = static_cast<int64_t>(itemsize());
  for (size_t i = shape_.size(); i-- > 0;) {
    strides_[i] = stride;
    stride *= shape_[i];
  }
  nbytes_ = bytes;
}

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
