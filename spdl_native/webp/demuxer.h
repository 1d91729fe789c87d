// RAII owners of libwebp's demuxer (the chunks of an animated or extended WebP)
// and of an iterator over its frames. Only in builds with libwebp
// (SPDL_HAS_LIBWEBP).
#pragma once

#ifdef SPDL_HAS_LIBWEBP

#include <webp/demux.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace spdl::webp {

// The chunks of the WebP in `data` (which must outlive it); null when the data
// is no complete WebP.
class Demuxer {
 public:
  Demuxer(const uint8_t* data, size_t size);
  WebPDemuxer* get() const { return demuxer_.get(); }

 private:
  struct Delete {
    void operator()(WebPDemuxer* demuxer) const;
  };
  std::unique_ptr<WebPDemuxer, Delete> demuxer_;
};

// Frame `number` (1 for the first) of a demuxer; found() is false when there is none.
class FrameIterator {
 public:
  FrameIterator(const Demuxer& demuxer, int number);
  ~FrameIterator();
  FrameIterator(const FrameIterator&) = delete;
  FrameIterator& operator=(const FrameIterator&) = delete;

  bool found() const { return found_; }
  const WebPIterator& get() const { return iterator_; }

 private:
  WebPIterator iterator_{};
  bool found_ = false;
};

}  // namespace spdl::webp

#endif  // SPDL_HAS_LIBWEBP
