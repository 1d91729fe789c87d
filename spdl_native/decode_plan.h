// What one decode call is asked to do: the one value that crosses from Python
// (spdl.io._core.decode builds it, see docs/architecture.md) into the native core,
// bound as _native.DecodePlan. Whether FFmpeg's filters or the native writer
// (frame_writer.h) give the output its size and format is decided here, from
// the formats, and nowhere else (decode_steps).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "cancel.h"
#include "decoder.h"
#include "frame_writer.h"
#include "packets.h"

namespace spdl {

struct DecodePlan {
  // Filters Python writes from the window and the timing options (it has the
  // window's numbers as the user gave them). `pre_filters` (a video window's trim,
  // a frame rate) run before the output's size and format, `post_filters`
  // (num_frames' padding and cut) after them. An audio window's trim comes before
  // both, from the packets' window in samples of the decoded rate (FrameRouter).
  std::string pre_filters;
  std::string post_filters;
  // A user's filter graph: it replaces the output's size and format filters and
  // the native writer's sizing (a crop of a batch is still written natively).
  std::string filter_desc;
  OutputFormat output;  // width, height, pix_fmt ("": the decoder's), scale_algo
  // The audio output; zero / empty keeps the decoder's value.
  int sample_rate = 0;
  int num_channels = 0;
  std::string sample_fmt;
  std::optional<std::string> decoder;  // a decoder name overriding the codec's default
  std::map<std::string, std::string> decoder_options;
  int num_threads = 1;                  // FFmpeg's threads per decoder
  int64_t expected_frames = 0;          // sizes the first reservation of a video's buffer
  bool apply_exif_orientation = false;  // still images: put upright by their EXIF orientation
  bool apply_display_matrix = false;    // video: put upright by the stream's display matrix
  // The most pixels per image or video frame, against decompression bombs (see
  // pixel_limit.h); 0: no limit.
  int64_t max_pixels = kDefaultMaxPixels;
  // Stops the decode at its next packet once cancelled. Not owned: the binding
  // keeps the Python token alive for as long as the plan.
  const CancelToken* cancel = nullptr;
};

// Where decoded frames go.
enum class Destination {
  kFrames,       // to the caller, as Frames
  kBuffer,       // straight into one output buffer
  kCroppedBatch  // into a batch, each image cropped first (image_transform.h)
};

// How the core carries a plan out for one media type and destination.
struct DecodeSteps {
  // The decoder, the whole filter graph ("" for none) and the size hint.
  DecodeConfig config;
  // What the native writer makes of each frame; nullopt: frames are kept as the
  // filter graph leaves them (a buffer then takes them with OutputFormat{}).
  std::optional<OutputFormat> writer;
};

DecodeSteps decode_steps(const DecodePlan& plan, MediaType type, Destination destination);

// Whether decode_windows_to_buffers() carries `plan` out: video sized and
// converted by the native writer, with no filter at all.
bool decodes_windows(const DecodePlan& plan);

// The plan's decode of `packets` into frames / into one buffer.
std::unique_ptr<Frames> decode_frames(const Packets& packets, const DecodePlan& plan);
std::unique_ptr<CPUBuffer> decode_to_buffer(const Packets& packets, const DecodePlan& plan);

}  // namespace spdl
