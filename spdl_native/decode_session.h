// The windows of one streaming demux share a decoder. Decoding window k+1 after
// window k (they often lie in one GOP) continues the decoder where window k left
// it instead of decoding again from the keyframe before window k+1's start.
//
// A decode takes the session's parked decoder when it can continue into its
// window: the window's packets hold the last packet the decoder was sent (matched
// by pts, which must name one packet each), and no frame at or after the window's start was given
// out or skipped yet. It sends the packets after that one (frames before the start are dropped by
// the window's trim, and those no frame references are not decoded, as in an
// independent decode), then the window's lookahead packets until the window's
// filter graph has seen a frame past its end, and parks the decoder again, with
// that frame, which the next window sees first. Otherwise (windows decoded out of
// order, overlapping, or at once from several threads, or a different decoder) the
// window opens a decoder of its own, as before, and parks that one.
//
// The frames are those of an independent decode (decode_packets): the decoder
// gives out frames in presentation order (checked; a stream where it does not
// turns the session off), so a frame past the window's end means every frame of
// the window came out. Any failure of a session decode is answered by the
// independent decode, which gives today's frames or today's error.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "cancel.h"
#include "decoder.h"
#include "frames.h"
#include "packets.h"

namespace spdl {

// A decoder between two windows, and where it stands in the stream.
struct ParkedDecoder {
  ParkedDecoder();
  ~ParkedDecoder();
  ParkedDecoder(const ParkedDecoder&) = delete;
  ParkedDecoder& operator=(const ParkedDecoder&) = delete;

  ffmpeg::CodecContextPtr ctx;
  int owner;  // the process that opened it: a forked child has none of its threads
  // What it was opened with (a window decoded with other options opens its own).
  std::optional<std::string> decoder;
  std::map<std::string, std::string> decoder_options;
  int num_threads = 1;
  int64_t last_sent = AV_NOPTS_VALUE;    // pts of the last packet sent (names it)
  int64_t last_output = AV_NOPTS_VALUE;  // pts of the last frame it gave out
  // The latest pts of a frame given to a window's filter graph (not `pending`) or
  // of a packet sent to be skipped: a window starting after it lost no frame.
  int64_t passed_pts = AV_NOPTS_VALUE;
  // The frame the last window stopped on (past its end): the next window's first.
  ffmpeg::FramePtr pending;
};

class DecodeSession {
 public:
  struct Stats {
    int64_t packets_decoded = 0;    // packets sent to decoders by this session's windows
    int64_t windows_continued = 0;  // decoded by a parked decoder
    int64_t windows_started = 0;    // decoded by a decoder opened for the window
    int64_t windows_redone = 0;     // decoded independently after all (session off, failure)
  };

  // The parked decoder, when it can continue into `window` with `config`; then
  // `*next` is the index of the first of `window`'s packets it was not sent.
  std::unique_ptr<ParkedDecoder> take(const Packets& window, const DecodeConfig& config,
                                      size_t* next);
  // Parks `decoder` unless a decoder further on in the stream (by the last frame it
  // gave out) is parked already.
  void park(std::unique_ptr<ParkedDecoder> decoder);
  // The stream's frames do not come out in presentation order: no more continuing.
  void turn_off();
  bool on() const { return !off_.load(std::memory_order_relaxed); }

  // Packets::described() of the session's windows: one stream, learned once.
  const CodecParams& described(const Packets& window);

  void count(int64_t packets, bool continued);
  void count_redone() { redone_.fetch_add(1, std::memory_order_relaxed); }
  Stats stats() const;

 private:
  std::mutex mutex_;
  std::unique_ptr<ParkedDecoder> parked_;
  std::once_flag described_once_;
  CodecParams described_;
  std::atomic<bool> off_{false};
  std::atomic<int64_t> packets_{0}, continued_{0}, started_{0}, redone_{0};
};

// decode_packets() of one window of a streaming demux (`packets.session` set, video
// with a window), continuing the session's decoder where it can; the same frames,
// written by the native writer with `output` as decode_packets() writes them.
std::unique_ptr<Frames> decode_window_frames(const Packets& packets, const DecodeConfig& config,
                                             const CancelToken* cancel,
                                             const OutputFormat* output = nullptr);

}  // namespace spdl
