#include "frames.h"

#include <limits>
#include <sstream>
#include <stdexcept>

namespace spdl {

Frames::Frames(MediaType type, std::string src_, Rational time_base_)
    : media_type(type), src(std::move(src_)), time_base(time_base_) {}

void Frames::ensure_valid() const {
  if (consumed) {
    throw std::invalid_argument("The frames of " + src +
                                " were already converted to a buffer (conversion releases "
                                "them); decode the packets again to convert once more.");
  }
}

std::vector<double> Frames::pts_seconds() const {
  std::vector<double> ret;
  ret.reserve(frames.size());
  const double tb = static_cast<double>(time_base.first) / time_base.second;
  for (const auto& f : frames) {
    ret.push_back(f->pts == AV_NOPTS_VALUE ? std::numeric_limits<double>::quiet_NaN()
                                           : static_cast<double>(f->pts) * tb);
  }
  return ret;
}

std::string Frames::format_name() const {
  if (frames.empty()) {
    return "";
  }
  const AVFrame* f = frames.front().get();
  const char* name = media_type == MediaType::Audio
                         ? av_get_sample_fmt_name(static_cast<AVSampleFormat>(f->format))
                         : av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format));
  return name ? name : "";
}

int Frames::width() const { return frames.empty() ? 0 : frames.front()->width; }
int Frames::height() const { return frames.empty() ? 0 : frames.front()->height; }
int Frames::sample_rate() const { return frames.empty() ? 0 : frames.front()->sample_rate; }
int Frames::num_channels() const {
  return frames.empty() ? 0 : frames.front()->ch_layout.nb_channels;
}
int64_t Frames::num_samples() const {
  int64_t n = 0;
  for (const auto& f : frames) {
    n += f->nb_samples;
  }
  return n;
}

std::unique_ptr<Frames> make_frames(MediaType type, std::string src, Rational time_base) {
  switch (type) {
    case MediaType::Image:
      return std::make_unique<ImageFrames>(type, std::move(src), time_base);
    case MediaType::Audio:
      return std::make_unique<AudioFrames>(type, std::move(src), time_base);
    case MediaType::Video:
      break;
  }
  return std::make_unique<VideoFrames>(type, std::move(src), time_base);
}

std::unique_ptr<Frames> Frames::slice(int64_t start, int64_t stop, int64_t step) const {
  ensure_valid();
  auto ret = make_frames(media_type, src, time_base);
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    ret->frames.push_back(ffmpeg::clone_frame(frames.at(static_cast<size_t>(i)).get()));
  }
  return ret;
}

std::unique_ptr<Frames> Frames::image_at(int64_t index) const {
  ensure_valid();
  auto ret = make_frames(MediaType::Image, src, time_base);
  ret->frames.push_back(ffmpeg::clone_frame(frames.at(static_cast<size_t>(index)).get()));
  return ret;
}

std::string Frames::repr() const {
  std::ostringstream s;
  s << (media_type == MediaType::Image   ? "ImageFrames"
        : media_type == MediaType::Audio ? "AudioFrames"
                                         : "VideoFrames")
    << "(src=\"" << src << "\"";
  if (consumed) {
    s << ", consumed)";
    return s.str();
  }
  s << ", num_frames=" << frames.size();
  if (media_type == MediaType::Audio) {
    s << ", sample_fmt=\"" << format_name() << "\", sample_rate=" << sample_rate()
      << ", num_channels=" << num_channels() << ", num_samples=" << num_samples();
  } else {
    s << ", pix_fmt=\"" << format_name() << "\", width=" << width() << ", height=" << height();
  }
  s << ")";
  return s.str();
}

}  // namespace spdl
