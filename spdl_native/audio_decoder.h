// Audio decoded straight into one output buffer, whole or fed in chunks.
#pragma once

#include <memory>
#include <mutex>

#include "buffer.h"
#include "cancel.h"
#include "decoder.h"
#include "packets.h"

namespace spdl {

struct DecodePlan;  // decode_plan.h

// Decodes audio packets into one buffer: each frame's samples are copied into
// the output as they leave the decoder (or its filter graph), so frames go back
// to the decoder's pool at once. (channels, samples) for planar formats,
// (samples, channels) for packed ones.
std::unique_ptr<CPUBuffer> decode_audio_to_buffer(const Packets& packets,
                                                  const DecodeConfig& config,
                                                  const CancelToken* cancel);

// Decodes audio fed in chunks of packets into one output, exactly as
// decode_audio_to_buffer decodes all the packets at once: the decoder, the
// filter graph and the output live from one chunk to the next. So a loader can
// demux a chunk (PyAV, holding the GIL), decode it (GIL released), and so on:
// the packets are decoded while they are still in cache, and two loaders'
// demuxing interleaves with each other's decoding instead of waiting for it.
// Not for concurrent use.
class AudioDecodeStream {
 public:
  // `first`: packets of the stream (only its codec, time base and window are
  // read); `plan`: the decode (its cancel token is not used: feed() takes one);
  // `seconds`: how much audio to make room for (0: unknown).
  AudioDecodeStream(const Packets& first, const DecodePlan& plan, double seconds);
  ~AudioDecodeStream();
  AudioDecodeStream(const AudioDecodeStream&) = delete;
  AudioDecodeStream& operator=(const AudioDecodeStream&) = delete;

  // Decodes `packets`, the next ones of the stream.
  void feed(const Packets& packets, const CancelToken* cancel);
  // Drains the decoder; returns the output, shaped as decode_audio_to_buffer's.
  // The stream takes no packets after.
  std::unique_ptr<CPUBuffer> finish();

 private:
  std::unique_lock<std::mutex> enter();

  struct State;
  std::unique_ptr<State> state_;
  std::mutex mutex_;
};

}  // namespace spdl
