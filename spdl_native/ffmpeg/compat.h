// The one place where differences between FFmpeg releases (5.1 .. 8) are handled.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/samplefmt.h>
}

// AVChannelLayout (ch_layout) exists from FFmpeg 5.1 on, which is our floor.
#if LIBAVCODEC_VERSION_INT < AV_VERSION_INT(59, 37, 100)
#error "spdl needs FFmpeg 5.1 or newer (libavcodec >= 59.37.100)"
#endif

namespace spdl::ffmpeg {

// AVFrame::key_frame was replaced by AV_FRAME_FLAG_KEY in FFmpeg 6.1 and removed in 7.
inline bool is_key_frame(const AVFrame* frame) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 29, 100)
  return frame->flags & AV_FRAME_FLAG_KEY;
#else
  return frame->key_frame;
#endif
}

// Marks a frame as a key frame, the counterpart of is_key_frame().
inline void mark_key_frame(AVFrame* frame) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 29, 100)
  frame->flags |= AV_FRAME_FLAG_KEY;
#else
  frame->key_frame = 1;
#endif
}

// AVFrame::duration replaced AVFrame::pkt_duration in FFmpeg 6.0.
inline int64_t frame_duration(const AVFrame* frame) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 2, 100)
  return frame->duration;
#else
  return frame->pkt_duration;
#endif
}

}  // namespace spdl::ffmpeg
