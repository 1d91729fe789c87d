// Decoded frames. Conversion consumes them: each frame is released as soon as
// it has been copied into the output buffer, keeping peak memory low.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ffmpeg/wrappers.h"
#include "packets.h"

namespace spdl {

class Frames {
 public:
  Frames(MediaType type, std::string src, Rational time_base);
  virtual ~Frames() = default;
  Frames(Frames&&) = default;

  MediaType media_type;
  std::string src;
  Rational time_base;
  std::vector<ffmpeg::FramePtr> frames;
  bool consumed = false;

  // What the frames were; stays readable after conversion released them.
  struct Summary {
    int format = -1;
    int width = 0;
    int height = 0;
    int sample_rate = 0;
    int num_channels = 0;
    int64_t num_samples = 0;
    size_t num_frames = 0;
  };
  Summary summary() const;
  // Releases the frames, keeping `summary` and the frames' times `pts` (seconds) for
  // the accessors: a caller reads the times of the frames it converted.
  void release(const Summary& summary, std::vector<double> pts);
  // Moves the frames into a Frames of their own and leaves this one consumed (with the
  // GIL held: another thread converting or reading it sees that at once).
  Frames take();

  // Throws std::invalid_argument (ValueError) when the frames were converted already.
  void ensure_valid() const;

  size_t size() const { return consumed ? summary_.num_frames : frames.size(); }
  std::vector<double> pts_seconds() const;

  // Format of the first frame; empty when there are no frames.
  std::string format_name() const;
  int width() const;
  int height() const;
  int sample_rate() const;
  int num_channels() const;
  int64_t num_samples() const;

  // Shares the underlying data (reference counted), no pixel copy.
  std::unique_ptr<Frames> slice(int64_t start, int64_t stop, int64_t step) const;
  // One frame of a video as an image.
  std::unique_ptr<Frames> image_at(int64_t index) const;

  std::string repr() const;

 private:
  Summary summary_;
  std::vector<double> pts_;  // once consumed
};

struct ImageFrames : Frames {
  using Frames::Frames;
};
struct AudioFrames : Frames {
  using Frames::Frames;
};
struct VideoFrames : Frames {
  using Frames::Frames;
};

// Creates the subclass matching `type`, so Python sees ImageFrames / AudioFrames / VideoFrames.
std::unique_ptr<Frames> make_frames(MediaType type, std::string src, Rational time_base);

}  // namespace spdl
