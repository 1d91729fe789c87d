// Demuxed packets plus the codec parameters needed to decode them. Filled from
// PyAV with plain data only (bytes, integers, names): no FFmpeg object crosses.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "ffmpeg/wrappers.h"

namespace spdl {

enum class MediaType { Image, Audio, Video };

const char* to_string(MediaType type);
// The Python class of `kind` ("Packets", "Frames") for `type`: "AudioPackets" ...
std::string class_name(MediaType type, const char* kind);

using Rational = std::pair<int, int>;

class DecodeSession;  // decode_session.h

// The AVPacketSideDataType named `name` (av_packet_side_data_name), or -1. Side data
// travels by name: the numeric values differ between FFmpeg versions.
int side_data_type(const std::string& name);

// Codec parameters by name, valid in any FFmpeg version.
struct CodecParams {
  std::string codec_name;  // codec descriptor name, e.g. "h264"
  std::string extradata;
  int64_t bit_rate = 0;
  int bits_per_coded_sample = 0;
  int block_align = 0;
  int frame_size = 0;
  int profile = -99;  // FF_PROFILE_UNKNOWN
  // The container's FourCC (AVCodecParameters::codec_tag; 0: none): some decoders
  // read their layout from it (utvideo, raw video).
  uint32_t codec_tag = 0;
  // The container stores each packet's decode time as its pts (AVI; H.264 / HEVC,
  // whose frames may be reordered): see display_order_clock.h.
  bool pts_in_decode_order = false;
  int level = -99;
  // video / image
  int width = 0;
  int height = 0;
  std::string pix_fmt;
  Rational sample_aspect_ratio{0, 1};
  // FFmpeg's names ("bt709", "tv"...); "" when the stream does not say.
  std::string color_space;
  std::string color_range;
  // The container's display matrix (AV_PKT_DATA_DISPLAYMATRIX: nine int32 values,
  // 36 bytes); "" when it has none. See display_matrix.h.
  std::string display_matrix;
  // audio
  int sample_rate = 0;
  int num_channels = 0;
  std::string channel_layout;
  // The layout by its channels ("FL+FR+..."): names differ between FFmpeg versions
  // (PyAV's names "5.1.4", which 5.1 does not know), channel names do not.
  std::string channel_names;
  std::string sample_fmt;
};

class Packets {
 public:
  Packets(MediaType type, std::string src, CodecParams params, Rational time_base);
  virtual ~Packets() = default;
  Packets(const Packets&) = delete;
  Packets& operator=(const Packets&) = delete;

  // Copies `size` bytes (FFmpeg needs padding after the payload anyway).
  // Side data arrives as (FFmpeg's descriptive name, bytes); unknown names are skipped.
  using SideData = std::vector<std::pair<std::string, std::string>>;

  // A packet's flags, as plain data.
  struct Flags {
    bool key = false;
    // Decoded for reference only, its frame not shown: the packets an edit list
    // starts before (a stream copy cut after a keyframe).
    bool discard = false;
  };

  // Copies `size` bytes (FFmpeg needs padding after the payload anyway); with
  // `to_lookahead`, to `lookahead` instead of `packets`.
  void add(const uint8_t* data, size_t size, int64_t pts, int64_t dts, int64_t duration,
           Flags flags, const SideData& side_data = {}, bool to_lookahead = false);

  MediaType media_type;
  std::string src;
  CodecParams params;
  Rational time_base;
  Rational frame_rate{0, 1};
  std::optional<std::pair<double, double>> window;
  std::vector<ffmpeg::PacketPtr> packets;
  // A streaming demux's window: the packets that follow its last one (from the one
  // whose decode time reached the window's end). A decode that continues in the
  // window's DecodeSession sends them to get the window's last frames out of the
  // decoder without draining it. Not counted by len() nor shown by pts.
  std::vector<ffmpeg::PacketPtr> lookahead;
  // The decoder the windows of one streaming demux share; null for other packets.
  std::shared_ptr<DecodeSession> session;
  // This window's place among the session's windows (0, 1, ... in demux order).
  int64_t session_index = 0;
  // Packets without a dts shown past the window's end that add_demuxed_from took,
  // over all its calls for this window (it stops after kMaxReorderedFrames).
  size_t undated_past_end = 0;

  std::vector<double> pts_seconds() const;
  // Names the codec parameters as `params` has them (error messages: nothing decoded).
  std::string repr() const { return repr(params); }
  // With the codec parameters `shown` (Python's repr shows described()).
  std::string repr(const CodecParams& shown) const;

  // `params`, with what only decoding tells (pixel format, colour) filled in from
  // the first frame for video demuxed without the probe decode: learned once, when
  // first asked (first_frame_facts.h), once for the windows of a decode session.
  // Safe from several threads at once.
  const CodecParams& described() const;

  // A decode reads the packets with the GIL released and holds `reading()` for its
  // call; a change (add, the setters, with the GIL held) holds `changing()`, which
  // refuses (ValueError) while a decode reads them: it would free what that reads.
  std::shared_lock<std::shared_mutex> reading() const {
    return std::shared_lock<std::shared_mutex>(access_);
  }
  std::unique_lock<std::shared_mutex> changing() const;

 private:
  mutable std::shared_mutex access_;
  mutable std::once_flag described_once_;
  mutable CodecParams described_;
};

struct ImagePackets : Packets {
  ImagePackets(std::string src, CodecParams params, Rational time_base)
      : Packets(MediaType::Image, std::move(src), std::move(params), time_base) {}
};
struct AudioPackets : Packets {
  AudioPackets(std::string src, CodecParams params, Rational time_base)
      : Packets(MediaType::Audio, std::move(src), std::move(params), time_base) {}
};
struct VideoPackets : Packets {
  VideoPackets(std::string src, CodecParams params, Rational time_base)
      : Packets(MediaType::Video, std::move(src), std::move(params), time_base) {}
};

// std::invalid_argument unless `spans` are one or more Packets of one video stream;
// `who` (the operation) opens the message.
void check_video_spans(const std::vector<const Packets*>& spans, const std::string& who);

// `reading()` of each of `spans` (once each: a span may be given twice).
std::vector<std::shared_lock<std::shared_mutex>> reading_all(
    const std::vector<const Packets*>& spans);

}  // namespace spdl
