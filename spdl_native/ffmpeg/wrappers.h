// RAII owners for FFmpeg objects. Nothing else in the core frees FFmpeg memory.
#pragma once

#include <map>
#include <memory>
#include <new>
#include <string>

#include "ffmpeg/compat.h"

struct AVBSFContext;
struct SwsContext;

namespace spdl::ffmpeg {

struct PacketDeleter {
  void operator()(AVPacket* p) const;
};
struct FrameDeleter {
  void operator()(AVFrame* p) const;
};
struct CodecContextDeleter {
  void operator()(AVCodecContext* p) const;
};
struct FilterGraphDeleter {
  void operator()(AVFilterGraph* p) const;
};
struct FilterInOutDeleter {
  void operator()(AVFilterInOut* p) const;  // the whole list
};
struct DictionaryDeleter {
  void operator()(AVDictionary* p) const;
};
struct BufferPoolDeleter {
  void operator()(AVBufferPool* p) const;
};
struct BsfContextDeleter {
  void operator()(AVBSFContext* p) const;
};
struct SwsContextDeleter {
  void operator()(SwsContext* p) const;
};

using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FilterGraphPtr = std::unique_ptr<AVFilterGraph, FilterGraphDeleter>;
using FilterInOutPtr = std::unique_ptr<AVFilterInOut, FilterInOutDeleter>;
using DictionaryPtr = std::unique_ptr<AVDictionary, DictionaryDeleter>;
// av_buffer_pool_uninit: the pool itself goes once its last buffer is returned.
using BufferPoolPtr = std::unique_ptr<AVBufferPool, BufferPoolDeleter>;
using BsfContextPtr = std::unique_ptr<AVBSFContext, BsfContextDeleter>;
using SwsContextPtr = std::unique_ptr<SwsContext, SwsContextDeleter>;

// Holds an owned pointer for the FFmpeg calls that take `T**` and may free or
// replace what it points to (avcodec_open2's options, avfilter_graph_parse_ptr's
// in/outs): whatever it points to when the holder goes is freed.
template <typename T, typename Deleter>
class OutParam {
 public:
  explicit OutParam(std::unique_ptr<T, Deleter> owned = nullptr) : ptr_(owned.release()) {}
  ~OutParam() {
    if (ptr_) {
      Deleter()(ptr_);
    }
  }
  OutParam(const OutParam&) = delete;
  OutParam& operator=(const OutParam&) = delete;

  T* get() const { return ptr_; }
  T** address() { return &ptr_; }
  std::unique_ptr<T, Deleter> release() {
    T* p = ptr_;
    ptr_ = nullptr;
    return std::unique_ptr<T, Deleter>(p);
  }

 private:
  T* ptr_;
};

using DictionaryParam = OutParam<AVDictionary, DictionaryDeleter>;
using FilterInOutParam = OutParam<AVFilterInOut, FilterInOutDeleter>;

// Owns an AVChannelLayout (a layout of custom order allocates its channel map).
class ChannelLayout {
 public:
  ChannelLayout() = default;
  ~ChannelLayout();
  ChannelLayout(const ChannelLayout&) = delete;
  ChannelLayout& operator=(const ChannelLayout&) = delete;

  AVChannelLayout* get() { return &layout_; }
  const AVChannelLayout* get() const { return &layout_; }

 private:
  AVChannelLayout layout_{};
};

// Allocation helpers; they throw std::bad_alloc instead of returning null.
PacketPtr alloc_packet();
FramePtr alloc_frame();
FramePtr clone_frame(const AVFrame* src);
// One entry of a filter graph's in/out list: pad 0 of `ctx`, labelled `name`.
FilterInOutPtr alloc_filter_inout(const char* name, AVFilterContext* ctx);

// An AVBufferRef over the `size` bytes at `data`, which `owner` holds: FFmpeg
// deletes the owner with the buffer's last reference.
template <typename Owner>
AVBufferRef* buffer_owning(std::unique_ptr<Owner> owner, uint8_t* data, size_t size) {
  AVBufferRef* ref = av_buffer_create(
      data, size, [](void* opaque, uint8_t*) { delete static_cast<Owner*>(opaque); }, owner.get(),
      0);
  if (!ref) {
    throw std::bad_alloc();
  }
  owner.release();
  return ref;
}

// Builds an AVDictionary from string options (null for none).
DictionaryPtr make_dictionary(const std::map<std::string, std::string>& options);

// Sets `*data` / `*size` (a codec context's or codec parameters' extradata, which
// their owner frees) to a padded copy of `extradata`; leaves them for none.
void copy_extradata(const std::string& extradata, uint8_t** data, int* size);

}  // namespace spdl::ffmpeg
