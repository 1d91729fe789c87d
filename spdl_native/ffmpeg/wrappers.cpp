#include "ffmpeg/wrappers.h"

#include <new>

#include "ffmpeg/error.h"

namespace spdl::ffmpeg {

void PacketDeleter::operator()(AVPacket* p) const { av_packet_free(&p); }
void FrameDeleter::operator()(AVFrame* p) const { av_frame_free(&p); }
void CodecContextDeleter::operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
void FilterGraphDeleter::operator()(AVFilterGraph* p) const { avfilter_graph_free(&p); }
void DictionaryDeleter::operator()(AVDictionary* p) const { av_dict_free(&p); }
void BufferPoolDeleter::operator()(AVBufferPool* p) const { av_buffer_pool_uninit(&p); }

PacketPtr alloc_packet() {
  AVPacket* p = av_packet_alloc();
  if (!p) {
    throw std::bad_alloc();
  }
  return PacketPtr(p);
}

FramePtr alloc_frame() {
  AVFrame* p = av_frame_alloc();
  if (!p) {
    throw std::bad_alloc();
  }
  return FramePtr(p);
}

FramePtr clone_frame(const AVFrame* src) {
  AVFrame* p = av_frame_clone(src);
  if (!p) {
    throw std::bad_alloc();
  }
  return FramePtr(p);
}

AVDictionary* make_dictionary(const std::map<std::string, std::string>& options) {
  AVDictionary* dict = nullptr;
  for (const auto& [key, value] : options) {
    int ret = av_dict_set(&dict, key.c_str(), value.c_str(), 0);
    if (ret < 0) {
      av_dict_free(&dict);
      check(ret, "Failed to set option '" + key + "'");
    }
  }
  return dict;
}

}  // namespace spdl::ffmpeg
