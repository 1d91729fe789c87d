// Frames that still-image decoders outside FFmpeg (libjpeg-turbo, libwebp)
// write into: one buffer of aligned planes, from a per-thread pool when the
// frame is released within the native call that decodes it.
#pragma once

#include <cstddef>

#include "ffmpeg/wrappers.h"

namespace spdl {

// A frame of `format` for a decoder to write into: its planes lie in one
// buffer, rows 64-byte aligned and starting `offset` bytes into it. With
// `pooled` (frames released within the native call that decodes them, see
// DecodeConfig::transient_frames) the buffer comes from this thread's pools.
ffmpeg::FramePtr alloc_image_frame(int width, int height, AVPixelFormat format, size_t offset,
                                   bool pooled);

}  // namespace spdl
