// Gathers decoded audio frames into a few long frames as they leave the decoder.
// The chunks carry samples, layout and pts only: conversion copies them out.
// An AAC minute is ~2600 frames of 1024 samples: held one by one until
// conversion, each costs a zeroed pool allocation (the decoder's pool cannot
// recycle a frame still held) and a free, more than the decode itself. Copied
// into chunks, each decoded frame goes back to the pool at once and stays warm.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ffmpeg/wrappers.h"

namespace spdl {

class AudioChunks {
 public:
  // Appends finished chunks to `out`. `expected_seconds`: how much audio the
  // packets should give (0: unknown), to size the chunks of short clips; `src`
  // names the source in errors.
  AudioChunks(std::vector<ffmpeg::FramePtr>& out, double expected_seconds, std::string src);

  // Copies `frame`'s samples. Its pts and time_base tell a gap in the timestamps:
  // a new chunk starts there, so each chunk's pts stays true.
  void add(const AVFrame* frame);
  // Appends the open chunk.
  void finish();

 private:
  bool continues(const AVFrame* frame) const;
  // Samples per channel for the chunk `frame` starts.
  int64_t chunk_capacity(const AVFrame* frame) const;
  void start(const AVFrame* frame);

  std::vector<ffmpeg::FramePtr>& out_;
  const double expected_seconds_;
  const std::string src_;
  int64_t seen_samples_ = 0;
  ffmpeg::FramePtr chunk_;
  int64_t capacity_ = 0;  // samples per channel chunk_ has room for
  int64_t filled_ = 0;    // samples per channel written to chunk_
};

}  // namespace spdl
