// A video's display matrix: how a player turns (by a multiple of 90 degrees) and
// mirrors the stored frames to show them, as FFmpeg's mov demuxer reads it from
// the track header (AV_PKT_DATA_DISPLAYMATRIX, nine int32 values). The matrix
// crosses from PyAV as those 36 bytes (CodecParams::display_matrix); here it
// becomes one of the eight orientations of exif_orientation.h, and decoded frames
// are put upright by it before they are filtered or written.
#pragma once

#include <string>

#include "ffmpeg/wrappers.h"
#include "packets.h"

namespace spdl {

// The EXIF-style orientation (1-8) a player shows frames stored with `matrix`
// in: 1 for none, a malformed matrix, or a turn that is not a multiple of 90
// degrees (those frames are kept as stored).
int display_orientation(const std::string& matrix);

// Puts the decoded frames of one video stream upright by its display matrix
// (when `apply`; other media pass through).
class UprightFrames {
 public:
  UprightFrames(const Packets& packets, bool apply);

  bool active() const { return orientation_ != 1; }

  // A frame made from `frame`, kept until the next call.
  AVFrame* prepare(const AVFrame* frame);

 private:
  int orientation_ = 1;
  ffmpeg::FramePtr made_;
};

}  // namespace spdl
