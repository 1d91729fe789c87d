#include "frames.h"

#include <limits>
#include <stdexcept>
#include <utility>

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
  if (consumed) {
    return pts_;
  }
  std::vector<double> ret;
  ret.reserve(frames.size());
  const double tb = static_cast<double>(time_base.first) / time_base.second;
  for (const auto& f : frames) {
    ret.push_back(f->pts == AV_NOPTS_VALUE ? std::numeric_limits<double>::quiet_NaN()
                                           : static_cast<double>(f->pts) * tb);
  }
  return ret;
}

Frames::Summary Frames::summary() const {
  if (consumed) {
    return summary_;
  }
  Summary sum;
  sum.num_frames = frames.size();
  if (frames.empty()) {
    return sum;
  }
  const AVFrame* f = frames.front().get();
  sum.format = f->format;
  sum.width = f->width;
  sum.height = f->height;
  sum.sample_rate = f->sample_rate;
  sum.num_channels = f->ch_layout.nb_channels;
  for (const auto& frame : frames) {
    sum.num_samples += frame->nb_samples;
  }
  return sum;
}

void Frames::release(const Summary& summary, std::vector<double> pts) {
  summary_ = summary;
  pts_ = std::move(pts);
  frames.clear();
  consumed = true;
}

Frames Frames::take() {
  ensure_valid();
  Frames taken(media_type, src, time_base);
  taken.frames = std::move(frames);
  release(taken.summary(), taken.pts_seconds());
  return taken;
}

std::string Frames::format_name() const {
  const int format = summary().format;
  if (format < 0) {
    return "";
  }
  const char* name = media_type == MediaType::Audio
                         ? av_get_sample_fmt_name(static_cast<AVSampleFormat>(format))
                         : av_get_pix_fmt_name(static_cast<AVPixelFormat>(format));
  return name ? name : "";
}

int Frames::width() const { return summary().width; }
int Frames::height() const { return summary().height; }
int Frames::sample_rate() const { return summary().sample_rate; }
int Frames::num_channels() const { return summary().num_channels; }
int64_t Frames::num_samples() const { return summary().num_samples; }

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
  // Concatenation rather than iostreams (see Packets::repr).
  std::string s = class_name(media_type, "Frames");
  s += "(src=\"" + src + "\", num_frames=" + std::to_string(size());
  if (media_type == MediaType::Audio) {
    s += ", sample_fmt=\"" + format_name() + "\", sample_rate=" + std::to_string(sample_rate()) +
         ", num_channels=" + std::to_string(num_channels()) +
         ", num_samples=" + std::to_string(num_samples());
  } else {
    s += ", pix_fmt=\"" + format_name() + "\", width=" + std::to_string(width()) +
         ", height=" + std::to_string(height());
  }
  return s + (consumed ? ", consumed)" : ")");
}

}  // namespace spdl
