#include "clip_decoder.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "convert.h"
#include "display_matrix.h"
#include "ffmpeg/error.h"

extern "C" {
#include <libavutil/mathematics.h>
}

namespace spdl {
namespace {

// One window's output: the frames whose presentation time lies in [start_pts, end_pts).
struct WindowOutput {
  int64_t start_pts = 0;
  int64_t end_pts = INT64_MAX;  // stream time base; INT64_MAX: open
  int64_t expected_frames = 0;  // sizes the first reservation of `buffer`
  std::unique_ptr<CPUBuffer> buffer;
  std::vector<int64_t> image_shape;  // of one frame in `buffer`
  std::string first_description;
  int64_t count = 0;

  // Like the trim filter: a frame without a timestamp lies in no window.
  bool contains(int64_t pts) const {
    return pts != AV_NOPTS_VALUE && pts >= start_pts && pts < end_pts;
  }
};

// Writes each decoded frame into every window it lies in: converted once (one
// swscale pass into the first such window), copied into the others.
class WindowRouter {
 public:
  WindowRouter(std::vector<WindowOutput>& windows, const OutputFormat& output,
               const std::string& src)
      : windows_(windows), writer_(output), src_(src) {}

  // True when the frame at `pts` lies in some window.
  bool wanted(int64_t pts) const {
    return std::any_of(windows_.begin(), windows_.end(),
                       [pts](const WindowOutput& window) { return window.contains(pts); });
  }

  void add(const AVFrame* frame) {
    const int64_t pts = frame->best_effort_timestamp;
    const uint8_t* written = nullptr;
    for (WindowOutput& window : windows_) {
      if (!window.contains(pts)) {
        continue;
      }
      const ImageLayout& layout = writer_.cached_layout(frame);
      if (!window.buffer) {
        std::vector<int64_t> shape = layout.shape;
        shape.insert(shape.begin(), 0);
        window.buffer = std::make_unique<CPUBuffer>(shape, layout.dtype,
                                                    std::max<int64_t>(window.expected_frames, 1));
        window.image_shape = layout.shape;
        window.first_description = describe_frame(frame);
      } else if (layout.shape != window.image_shape) {
        throw std::invalid_argument("Frame " + std::to_string(window.count) + " of " + src_ +
                                    " is " + describe_frame(frame) + " but frame 0 is " +
                                    window.first_description +
                                    "; pass width and height to give all frames one size.");
      }
      window.buffer->resize_leading_dim(window.count + 1);
      uint8_t* dst = window.buffer->data() + static_cast<size_t>(window.count) * layout.bytes;
      if (written) {
        std::memcpy(dst, written, layout.bytes);
      } else {
        writer_.write(frame, dst);
        written = dst;
      }
      ++window.count;
    }
  }

 private:
  std::vector<WindowOutput>& windows_;
  FrameWriter writer_;
  const std::string& src_;
};

void check_spans(const std::vector<const Packets*>& spans, const DecodePlan& plan) {
  check_video_spans(spans, "decode_windows_to_buffers");
  if (!decodes_windows(plan)) {
    throw std::invalid_argument(
        "decode_windows_to_buffers writes rgb24-like formats natively, without filters (no "
        "filter_desc, frame_rate or num_frames).");
  }
}

std::vector<WindowOutput> make_outputs(const std::vector<const Packets*>& spans,
                                       const std::vector<WindowPts>& windows) {
  std::vector<WindowOutput> outputs(windows.size());
  for (size_t i = 0; i < windows.size(); ++i) {
    outputs[i].start_pts = windows[i].first;
    outputs[i].end_pts = windows[i].second;
  }
  for (const Packets* span : spans) {
    for (const auto& packet : span->packets) {
      for (WindowOutput& output : outputs) {
        output.expected_frames += output.contains(packet->pts) ? 1 : 0;
      }
    }
  }
  return outputs;
}

}  // namespace

std::vector<std::unique_ptr<CPUBuffer>> decode_windows_to_buffers(
    const std::vector<const Packets*>& spans, const std::vector<WindowPts>& windows,
    const DecodePlan& plan) {
  check_spans(spans, plan);
  const DecodeSteps steps = decode_steps(plan, MediaType::Video, Destination::kBuffer);
  const DecodeConfig& config = steps.config;
  const CancelToken* cancel = plan.cancel;
  const Packets& first = *spans.front();
  std::vector<WindowOutput> outputs = make_outputs(spans, windows);
  WindowRouter router(outputs, *steps.writer, first.src);
  UprightFrames upright(first, plan.apply_display_matrix);

  auto ctx = open_decoder(first, config);
  auto frame = ffmpeg::alloc_frame();
  const std::string context = "Failed to decode " + first.src;
  auto receive_all = [&]() {
    while (true) {
      const int ret = avcodec_receive_frame(ctx.get(), frame.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
        return;
      }
      ffmpeg::check(ret, context);
      const AVFrame* shown = frame.get();
      if (upright.active() && router.wanted(frame->best_effort_timestamp)) {
        shown = upright.prepare(frame.get());  // only the frames some window keeps
      }
      router.add(shown);
      av_frame_unref(frame.get());
    }
  };

  size_t index = 0;
  for (size_t span = 0; span < spans.size(); ++span) {
    if (span > 0) {
      avcodec_flush_buffers(ctx.get());  // the next span starts at a keyframe further on
    }
    for (const auto& packet : spans[span]->packets) {
      check_stop(cancel, first.src);
      // A frame outside every window is dropped anyway; if no other frame references
      // it, it need not be decoded at all.
      const bool unwanted = packet->pts != AV_NOPTS_VALUE && !router.wanted(packet->pts);
      ctx->skip_frame = unwanted ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
      const int ret = avcodec_send_packet(ctx.get(), packet.get());
      if (ret < 0) {
        ffmpeg::check(ret, context + " (packet " + std::to_string(index) + ")");
      }
      ++index;
      receive_all();
    }
    ffmpeg::check(avcodec_send_packet(ctx.get(), nullptr), context + " (flush)");
    receive_all();
  }

  std::vector<std::unique_ptr<CPUBuffer>> buffers;
  buffers.reserve(outputs.size());
  for (WindowOutput& output_window : outputs) {
    buffers.push_back(std::move(output_window.buffer));
  }
  return buffers;
}

}  // namespace spdl
