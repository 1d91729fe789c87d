#include "packets.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "decode_session.h"
#include "ffmpeg/error.h"
#include "first_frame_facts.h"

namespace spdl {

const char* to_string(MediaType type) {
  switch (type) {
    case MediaType::Image:
      return "image";
    case MediaType::Audio:
      return "audio";
    case MediaType::Video:
      return "video";
  }
  return "unknown";
}

std::string class_name(MediaType type, const char* kind) {
  const char* prefix = type == MediaType::Image   ? "Image"
                       : type == MediaType::Audio ? "Audio"
                                                  : "Video";
  return std::string(prefix) + kind;
}

Packets::Packets(MediaType type, std::string src_, CodecParams params_, Rational time_base_)
    : media_type(type), src(std::move(src_)), params(std::move(params_)), time_base(time_base_) {
  if (time_base.first <= 0 || time_base.second <= 0) {
    throw std::invalid_argument("time_base must be positive, got " +
                                std::to_string(time_base.first) + "/" +
                                std::to_string(time_base.second));
  }
}

const CodecParams& Packets::described() const {
  if (session) {
    return session->described(*this);  // the windows of one stream learn it once
  }
  std::call_once(described_once_, [this] { described_ = first_frame_facts(*this); });
  return described_;
}

int side_data_type(const std::string& name) {
  for (int t = 0; t < AV_PKT_DATA_NB; ++t) {
    const char* n = av_packet_side_data_name(static_cast<AVPacketSideDataType>(t));
    if (n && name == n) {
      return t;
    }
  }
  return -1;
}

std::unique_lock<std::shared_mutex> Packets::changing() const {
  std::unique_lock<std::shared_mutex> lock(access_, std::try_to_lock);
  if (!lock.owns_lock()) {
    throw std::invalid_argument(repr() +
                                " are being decoded in another thread: they cannot change "
                                "until that decode has ended.");
  }
  return lock;
}

std::vector<std::shared_lock<std::shared_mutex>> reading_all(
    const std::vector<const Packets*>& spans) {
  std::vector<const Packets*> unique(spans);
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  std::vector<std::shared_lock<std::shared_mutex>> locks;
  locks.reserve(unique.size());
  for (const Packets* span : unique) {
    if (span) {
      locks.push_back(span->reading());
    }
  }
  return locks;
}

void Packets::add(const uint8_t* data, size_t size, int64_t pts, int64_t dts, int64_t duration,
                  Flags flags, const SideData& side_data, bool to_lookahead) {
  if (size > static_cast<size_t>(INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE)) {
    throw std::invalid_argument("packet too large");
  }
  auto packet = ffmpeg::alloc_packet();
  ffmpeg::check(av_new_packet(packet.get(), static_cast<int>(size)),
                [&] { return "Failed to allocate a packet for " + src; });
  if (size) {
    std::memcpy(packet->data, data, size);
  }
  packet->pts = pts;
  packet->dts = dts;
  packet->duration = duration;
  packet->flags |= (flags.key ? AV_PKT_FLAG_KEY : 0) | (flags.discard ? AV_PKT_FLAG_DISCARD : 0);
  for (const auto& [name, bytes] : side_data) {
    const int type = side_data_type(name);
    if (type < 0) {
      continue;
    }
    uint8_t* dst = av_packet_new_side_data(packet.get(), static_cast<AVPacketSideDataType>(type),
                                           bytes.size());
    if (!dst) {
      throw std::bad_alloc();
    }
    std::memcpy(dst, bytes.data(), bytes.size());
  }
  (to_lookahead ? lookahead : packets).push_back(std::move(packet));
}

std::vector<double> Packets::pts_seconds() const {
  std::vector<double> ret;
  ret.reserve(packets.size());
  const double tb = static_cast<double>(time_base.first) / time_base.second;
  for (const auto& p : packets) {
    ret.push_back(p->pts == AV_NOPTS_VALUE ? std::numeric_limits<double>::quiet_NaN()
                                           : static_cast<double>(p->pts) * tb);
  }
  return ret;
}

namespace {

// A double as iostreams print it by default (6 significant digits), in no locale.
std::string format_seconds(double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof(text), value, std::chars_format::general, 6);
  return std::string(text, end.ptr);
}

}  // namespace

std::string Packets::repr(const CodecParams& shown) const {
  // Concatenation rather than iostreams: no locale is involved, which a module
  // linked with a static libstdc++ cannot share with the process's libstdc++.
  std::string s = class_name(media_type, "Packets");
  s += "(src=\"" + src + "\", codec=\"" + shown.codec_name + "\"";
  if (media_type == MediaType::Audio) {
    s += ", sample_rate=" + std::to_string(shown.sample_rate) +
         ", num_channels=" + std::to_string(shown.num_channels) + ", sample_fmt=\"" +
         shown.sample_fmt + "\"";
  } else {
    s += ", width=" + std::to_string(shown.width) + ", height=" + std::to_string(shown.height) +
         ", pix_fmt=\"" + shown.pix_fmt + "\"";
  }
  if (media_type == MediaType::Video && frame_rate.second) {
    s += ", frame_rate=" + std::to_string(frame_rate.first) + "/" +
         std::to_string(frame_rate.second);
  }
  s += ", time_base=" + std::to_string(time_base.first) + "/" + std::to_string(time_base.second) +
       ", num_packets=" + std::to_string(packets.size());
  if (window) {
    s += ", timestamp=(" + format_seconds(window->first) + ", " + format_seconds(window->second) +
         ")";
  }
  return s + ")";
}

void check_video_spans(const std::vector<const Packets*>& spans, const std::string& who) {
  if (spans.empty()) {
    throw std::invalid_argument(who + " needs at least one span of packets.");
  }
  const Packets& first = *spans.front();
  for (const Packets* span : spans) {
    if (span->media_type != MediaType::Video || span->src != first.src ||
        span->time_base != first.time_base || span->params.codec_name != first.params.codec_name) {
      throw std::invalid_argument(who + " takes spans of one video stream; got " + span->repr() +
                                  " after " + first.repr() + ".");
    }
  }
}

}  // namespace spdl
