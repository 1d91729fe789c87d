// RAII owners for FFmpeg objects. Nothing else in the core frees FFmpeg memory.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "ffmpeg/compat.h"

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
struct DictionaryDeleter {
  void operator()(AVDictionary* p) const;
};
struct BufferPoolDeleter {
  void operator()(AVBufferPool* p) const;
};

using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FilterGraphPtr = std::unique_ptr<AVFilterGraph, FilterGraphDeleter>;
using DictionaryPtr = std::unique_ptr<AVDictionary, DictionaryDeleter>;
// av_buffer_pool_uninit: the pool itself goes once its last buffer is returned.
using BufferPoolPtr = std::unique_ptr<AVBufferPool, BufferPoolDeleter>;

// Allocation helpers; they throw std::bad_alloc instead of returning null.
PacketPtr alloc_packet();
FramePtr alloc_frame();
FramePtr clone_frame(const AVFrame* src);

// Builds an AVDictionary from string options. Owned by the returned pointer.
AVDictionary* make_dictionary(const std::map<std::string, std::string>& options);

}  // namespace spdl::ffmpeg
