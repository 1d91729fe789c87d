#include "ffmpeg/wrappers.h"

#include <cstring>
#include <new>

#include "ffmpeg/error.h"

extern "C" {
#include <libavcodec/bsf.h>
#include <libswscale/swscale.h>
}

namespace spdl::ffmpeg {

void PacketDeleter::operator()(AVPacket* p) const { av_packet_free(&p); }
void FrameDeleter::operator()(AVFrame* p) const { av_frame_free(&p); }
void CodecContextDeleter::operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
void FilterGraphDeleter::operator()(AVFilterGraph* p) const { avfilter_graph_free(&p); }
void FilterInOutDeleter::operator()(AVFilterInOut* p) const { avfilter_inout_free(&p); }
void DictionaryDeleter::operator()(AVDictionary* p) const { av_dict_free(&p); }
void BufferPoolDeleter::operator()(AVBufferPool* p) const { av_buffer_pool_uninit(&p); }
void BsfContextDeleter::operator()(AVBSFContext* p) const { av_bsf_free(&p); }
void SwsContextDeleter::operator()(SwsContext* p) const { sws_freeContext(p); }

ChannelLayout::~ChannelLayout() { av_channel_layout_uninit(&layout_); }

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

FilterInOutPtr alloc_filter_inout(const char* name, AVFilterContext* ctx) {
  FilterInOutPtr io(avfilter_inout_alloc());
  if (!io) {
    throw std::bad_alloc();
  }
  io->name = av_strdup(name);
  if (!io->name) {
    throw std::bad_alloc();
  }
  io->filter_ctx = ctx;
  io->pad_idx = 0;
  io->next = nullptr;
  return io;
}

DictionaryPtr make_dictionary(const std::map<std::string, std::string>& options) {
  DictionaryParam dict;
  for (const auto& [key, value] : options) {
    check(av_dict_set(dict.address(), key.c_str(), value.c_str(), 0),
          "Failed to set option '" + key + "'");
  }
  return dict.release();
}

void copy_extradata(const std::string& extradata, uint8_t** data, int* size) {
  if (extradata.empty()) {
    return;
  }
  *data = static_cast<uint8_t*>(av_mallocz(extradata.size() + AV_INPUT_BUFFER_PADDING_SIZE));
  if (!*data) {
    throw std::bad_alloc();
  }
  std::memcpy(*data, extradata.data(), extradata.size());
  *size = static_cast<int>(extradata.size());
}

}  // namespace spdl::ffmpeg
