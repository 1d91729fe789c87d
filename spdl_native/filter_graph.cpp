#include "filter_graph.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "ffmpeg/error.h"

namespace spdl {
namespace {

std::string layout_description(const AVChannelLayout& layout) {
  ffmpeg::ChannelLayout fallback;
  const AVChannelLayout* use = &layout;
  if (layout.order == AV_CHANNEL_ORDER_UNSPEC) {
    av_channel_layout_default(fallback.get(), layout.nb_channels);
    use = fallback.get();
  }
  char buf[128] = {0};
  av_channel_layout_describe(use, buf, sizeof(buf));
  return buf;
}

std::string source_args(MediaType type, const AVFrame* f, Rational tb) {
  std::string args = "time_base=" + std::to_string(tb.first) + "/" + std::to_string(tb.second);
  if (type == MediaType::Audio) {
    args += ":sample_rate=" + std::to_string(f->sample_rate) +
            ":sample_fmt=" + av_get_sample_fmt_name(static_cast<AVSampleFormat>(f->format)) +
            ":channel_layout=" + layout_description(f->ch_layout);
  } else {
    const AVRational sar = f->sample_aspect_ratio.num ? f->sample_aspect_ratio : AVRational{1, 1};
    args += ":video_size=" + std::to_string(f->width) + "x" + std::to_string(f->height) +
            ":pix_fmt=" + av_get_pix_fmt_name(static_cast<AVPixelFormat>(f->format)) +
            ":pixel_aspect=" + std::to_string(sar.num) + "/" + std::to_string(sar.den);
  }
  return args;
}

// True for a graph "source -> one format filter -> sink" (no filter that alters content).
bool only_format_filter(const AVFilterGraph* graph) {
  if (graph->nb_filters != 3) {
    return false;
  }
  for (unsigned i = 0; i < graph->nb_filters; ++i) {
    const std::string name = graph->filters[i]->filter->name;
    if (name != "buffer" && name != "abuffer" && name != "buffersink" && name != "abuffersink" &&
        name != "format" && name != "aformat" && name != "null" && name != "anull") {
      return false;
    }
  }
  return true;
}

// Channels added, in this order, to 7.1 for the counts FFmpeg 5.1 has no default
// layout of: pairs first, so that a layout's sides stay paired, then single channels,
// then channels without a name (ids 18-28 and 41-63).
constexpr std::array<AVChannel, 16> kPairs = {AV_CHAN_FRONT_LEFT_OF_CENTER,
                                              AV_CHAN_FRONT_RIGHT_OF_CENTER,
                                              AV_CHAN_TOP_FRONT_LEFT,
                                              AV_CHAN_TOP_FRONT_RIGHT,
                                              AV_CHAN_TOP_BACK_LEFT,
                                              AV_CHAN_TOP_BACK_RIGHT,
                                              AV_CHAN_WIDE_LEFT,
                                              AV_CHAN_WIDE_RIGHT,
                                              AV_CHAN_SURROUND_DIRECT_LEFT,
                                              AV_CHAN_SURROUND_DIRECT_RIGHT,
                                              AV_CHAN_TOP_SIDE_LEFT,
                                              AV_CHAN_TOP_SIDE_RIGHT,
                                              AV_CHAN_BOTTOM_FRONT_LEFT,
                                              AV_CHAN_BOTTOM_FRONT_RIGHT,
                                              AV_CHAN_STEREO_LEFT,
                                              AV_CHAN_STEREO_RIGHT};
constexpr std::array<AVChannel, 6> kSingles = {
    AV_CHAN_BACK_CENTER,     AV_CHAN_TOP_CENTER,      AV_CHAN_TOP_FRONT_CENTER,
    AV_CHAN_TOP_BACK_CENTER, AV_CHAN_LOW_FREQUENCY_2, AV_CHAN_BOTTOM_FRONT_CENTER};

uint64_t channel_mask(int num_channels) {
  switch (num_channels) {  // FFmpeg 5.1's default layouts
    case 1:
      return AV_CH_LAYOUT_MONO;
    case 2:
      return AV_CH_LAYOUT_STEREO;
    case 3:
      return AV_CH_LAYOUT_2POINT1;
    case 4:
      return AV_CH_LAYOUT_4POINT0;
    case 5:
      return AV_CH_LAYOUT_5POINT0_BACK;
    case 6:
      return AV_CH_LAYOUT_5POINT1_BACK;
    case 7:
      return AV_CH_LAYOUT_6POINT1;
    case 8:
      return AV_CH_LAYOUT_7POINT1;
    case 16:
      return AV_CH_LAYOUT_HEXADECAGONAL;
    case 24:
      return AV_CH_LAYOUT_22POINT2;
    default:
      break;
  }
  uint64_t mask = AV_CH_LAYOUT_7POINT1;
  int missing = num_channels - 8;
  const auto add = [&](int channel) {
    if (missing > 0 && !(mask & (uint64_t{1} << channel))) {
      mask |= uint64_t{1} << channel;
      --missing;
    }
  };
  for (size_t i = 0; i + 1 < kPairs.size() && missing >= 2; i += 2) {
    add(kPairs[i]);
    add(kPairs[i + 1]);
  }
  for (AVChannel channel : kSingles) {
    add(channel);
  }
  for (int channel = 0; channel < 64; ++channel) {
    add(channel);
  }
  return mask;
}

}  // namespace

std::string channel_layout_for(int num_channels) {
  if (num_channels < 1 || num_channels > kMaxOutputChannels) {
    throw std::invalid_argument("num_channels must be between 1 and " +
                                std::to_string(kMaxOutputChannels) + ", got " +
                                std::to_string(num_channels) + ".");
  }
  char text[19] = {0};  // "0x" and 16 hex digits
  std::snprintf(text, sizeof(text), "0x%llx",
                static_cast<unsigned long long>(channel_mask(num_channels)));
  return text;
}

FilterGraph::FilterGraph(const std::string& description, MediaType type, const AVFrame* first_frame,
                         Rational time_base, const std::string& src)
    : graph_(avfilter_graph_alloc()), type_(type), src_(src) {
  if (!graph_) {
    throw std::bad_alloc();
  }
  // Parallelism comes from many decoders at once, not from threads per graph.
  graph_->nb_threads = 1;
  const bool audio = type == MediaType::Audio;
  const bool resamples = description.find("aresample") != std::string::npos;
  if (audio && resamples &&
      (first_frame->sample_rate <= 0 || first_frame->sample_rate > kMaxSampleRate)) {
    // A corrupt header's rate: resampling 1e9 Hz took 8 s and 1.4 GB to set up (the
    // samples of a 20 MHz radio recording, not resampled, come as they are).
    throw MediaError("Failed to decode " + src + ": its audio has a sample rate of " +
                     std::to_string(first_frame->sample_rate) + " Hz, outside 1 .. " +
                     std::to_string(kMaxSampleRate) + " Hz.");
  }
  const std::string args = source_args(type, first_frame, time_base);
  const std::string context = "Failed to build the filter graph \"" + description + "\" for " + src;
  ffmpeg::check(
      avfilter_graph_create_filter(&source_, avfilter_get_by_name(audio ? "abuffer" : "buffer"),
                                   "in", args.c_str(), nullptr, graph_.get()),
      context + " (source " + args + ")");
  sink_ = avfilter_graph_alloc_filter(
      graph_.get(), avfilter_get_by_name(audio ? "abuffersink" : "buffersink"), "out");
  if (!sink_) {
    throw std::bad_alloc();
  }
  if (audio) {
    // Layouts without positions (a count alone, e.g. 10 channels) only negotiate with a
    // sink that takes any count. FFmpeg 7.1's sinks always do, and deprecate the option.
    const int ret = av_opt_set_int(sink_, "all_channel_counts", 1, AV_OPT_SEARCH_CHILDREN);
    if (ret != AVERROR_OPTION_NOT_FOUND) {
      ffmpeg::check(ret, context);
    }
  }
  ffmpeg::check(avfilter_init_str(sink_, nullptr), context);
  // The parser consumes the in/outs it links and leaves the others to free.
  ffmpeg::FilterInOutParam inputs(ffmpeg::alloc_filter_inout("out", sink_));
  ffmpeg::FilterInOutParam outputs(ffmpeg::alloc_filter_inout("in", source_));
  ffmpeg::check(avfilter_graph_parse_ptr(graph_.get(), description.c_str(), inputs.address(),
                                         outputs.address(), nullptr),
                context);
  ffmpeg::check(avfilter_graph_config(graph_.get(), nullptr), context);

  if (audio && av_buffersink_get_sample_rate(sink_) / first_frame->sample_rate > kMaxUpsampling) {
    // Each sample would become thousands: a 96 KB WAV declaring 1 Hz gave 2.9 GB.
    throw MediaError("Failed to decode " + src + ": resampling its " +
                     std::to_string(first_frame->sample_rate) + " Hz audio to " +
                     std::to_string(av_buffersink_get_sample_rate(sink_)) + " Hz is more than " +
                     std::to_string(kMaxUpsampling) + " output samples per input sample.");
  }
  max_duration_ = av_rescale_q(kMaxFrameDurationS, AVRational{1, 1},
                               AVRational{time_base.first, std::max(time_base.second, 1)});
  width_ = first_frame->width;
  height_ = first_frame->height;
  format_ = first_frame->format;
  sample_rate_ = first_frame->sample_rate;
  ffmpeg::check(av_channel_layout_copy(layout_.get(), &first_frame->ch_layout), context);
  identity_ = only_format_filter(graph_.get()) && av_buffersink_get_format(sink_) == format_;
  if (identity_ && audio) {
    ffmpeg::ChannelLayout out;
    identity_ = av_buffersink_get_sample_rate(sink_) == sample_rate_ &&
                av_buffersink_get_ch_layout(sink_, out.get()) >= 0 &&
                !av_channel_layout_compare(out.get(), layout_.get());
  } else if (identity_) {
    identity_ = av_buffersink_get_w(sink_) == width_ && av_buffersink_get_h(sink_) == height_;
  }
}

bool FilterGraph::accepts(const AVFrame* f) const {
  if (f->format != format_) {
    return false;
  }
  if (type_ == MediaType::Audio) {
    return f->sample_rate == sample_rate_ &&
           !av_channel_layout_compare(&f->ch_layout, layout_.get());
  }
  return f->width == width_ && f->height == height_;
}

void FilterGraph::push(AVFrame* frame) {
  const std::string context = "Failed to pass a frame to the filter graph for " + src_;
  if (!frame) {
    // Closing at the end of the last frame (not at its start) lets fps/tpad
    // give the last frame its full duration.
    ffmpeg::check(end_pts_ == AV_NOPTS_VALUE
                      ? av_buffersrc_add_frame(source_, nullptr)
                      : av_buffersrc_close(source_, end_pts_, AV_BUFFERSRC_FLAG_PUSH),
                  context);
    return;
  }
  if (frame->pts != AV_NOPTS_VALUE) {
    int64_t duration = ffmpeg::frame_duration(frame);
    if (type_ != MediaType::Audio) {
      // At least one tick, unless a tick itself is longer than the limit.
      duration = std::clamp<int64_t>(duration, std::min<int64_t>(1, max_duration_), max_duration_);
    }
    end_pts_ = frame->pts + std::max<int64_t>(duration, 0);
  }
  ffmpeg::check(av_buffersrc_add_frame(source_, frame), context);
}

bool FilterGraph::pull(AVFrame* out) {
  if (finished_) {
    return false;
  }
  int ret = av_buffersink_get_frame(sink_, out);
  if (ret == AVERROR(EAGAIN)) {
    return false;
  }
  if (ret == AVERROR_EOF) {
    finished_ = true;
    return false;
  }
  ffmpeg::check(ret, "Failed to filter a frame of " + src_);
  return true;
}

Rational FilterGraph::output_time_base() const {
  AVRational tb = av_buffersink_get_time_base(sink_);
  return {tb.num, tb.den};
}

}  // namespace spdl
