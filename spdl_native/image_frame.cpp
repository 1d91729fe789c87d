#include "image_frame.h"

#include <array>
#include <new>
#include <string>

#include "convert.h"
#include "ffmpeg/error.h"

extern "C" {
#include <libavutil/buffer.h>
#include <libavutil/imgutils.h>
}

namespace spdl {
namespace {

// Per-thread pools of frame buffers, one per recent buffer size, for frames
// released within the native call that decodes them (DecodeConfig::
// transient_frames), so that a pool holds about one buffer per thread: an
// AVBufferPool keeps every buffer returned to it. A batch decodes image after
// image of a few sizes, and a fresh allocation of an image's size is a fresh
// memory mapping, every page of which faults when the decoder writes it: that
// cost 15% of decoding a 500x375 JPEG. A pool outlives its thread while frames
// still hold its buffers (av_buffer_pool_uninit frees it after them).
class FramePools {
 public:
  AVBufferRef* get(size_t size) {
    // Sizes rounded up to 64 KiB, so that images of nearly the same size (a
    // dataset's many aspect ratios) share a pool instead of replacing pools.
    constexpr size_t kBucket = size_t{1} << 16;
    size = (size + kBucket - 1) / kBucket * kBucket;
    Entry* entry = nullptr;
    for (auto& candidate : pools_) {
      if (candidate.pool && candidate.size == size) {
        entry = &candidate;
      }
    }
    if (!entry) {
      entry = &pools_[next_++ % pools_.size()];  // replaces the oldest
      entry->size = size;
      entry->pool.reset(av_buffer_pool_init(size, nullptr));
      if (!entry->pool) {
        throw std::bad_alloc();
      }
    }
    AVBufferRef* buffer = av_buffer_pool_get(entry->pool.get());
    if (!buffer) {
      throw std::bad_alloc();
    }
    return buffer;
  }

 private:
  struct Entry {
    size_t size = 0;
    ffmpeg::BufferPoolPtr pool;
  };
  std::array<Entry, 4> pools_;
  size_t next_ = 0;
};

}  // namespace

ffmpeg::FramePtr alloc_image_frame(int width, int height, AVPixelFormat format, size_t offset,
                                   bool pooled) {
  constexpr int kAlign = 64;
  thread_local FramePools pools;
  auto frame = ffmpeg::alloc_frame();
  frame->width = width;
  frame->height = height;
  frame->format = format;
  const auto context = [&] {
    return "Failed to allocate a " + describe_frame(frame.get()) + " frame";
  };
  ffmpeg::check(av_image_fill_linesizes(frame->linesize, format, FFALIGN(width, kAlign)), context);
  ptrdiff_t linesizes[4];
  for (int i = 0; i < 4; ++i) {
    linesizes[i] = frame->linesize[i];
  }
  size_t sizes[4] = {0, 0, 0, 0};
  ffmpeg::check(av_image_fill_plane_sizes(sizes, format, height, linesizes), context);
  size_t total = 0;
  for (size_t size : sizes) {
    total += size;
  }
  // The padding FFmpeg's own frame buffers have: SIMD readers may read past the end.
  const size_t bytes = offset + total + AV_INPUT_BUFFER_PADDING_SIZE;
  frame->buf[0] = pooled ? pools.get(bytes) : av_buffer_alloc(bytes);
  if (!frame->buf[0]) {
    throw std::bad_alloc();
  }
  ffmpeg::check(av_image_fill_pointers(frame->data, format, height, frame->buf[0]->data + offset,
                                       frame->linesize),
                context);
  return frame;
}

}  // namespace spdl
