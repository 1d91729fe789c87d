#include "decode_plan.h"

#include <array>
#include <stdexcept>
#include <utility>
#include <vector>

#include "audio_decoder.h"
#include "decode_session.h"
#include "filter_graph.h"

namespace spdl {
namespace {

// The packed RGB outputs the native writer produces in one pass, and gray16le, whose
// range expansion it does exactly (swscale 5.1, behind the format filter, scales
// to 65280); other formats keep the semantics of FFmpeg's format filter.
bool writer_format(const std::string& pix_fmt) {
  static const std::array<const char*, 7> kFormats = {"rgb24", "bgr24", "rgba",    "bgra",
                                                      "argb",  "abgr",  "gray16le"};
  for (const char* format : kFormats) {
    if (pix_fmt == format) {
      return true;
    }
  }
  return false;
}

// Whether the native writer sizes and converts the output (else the filter graph does).
bool native_writer(const DecodePlan& plan, MediaType type, Destination destination) {
  if (destination == Destination::kCroppedBatch) {
    return true;  // crops are cut per image by the writer, which then sizes them too
  }
  if (type == MediaType::Audio || !plan.filter_desc.empty()) {
    return false;
  }
  // Frames handed to the caller are written as a buffer would be, so that decode +
  // convert equals load_image / load_video (and the batch, the windows, the clips).
  return writer_format(plan.output.pix_fmt);
}

// The filters that give the output its format: aresample / aformat for audio,
// scale / format for pictures. An audio channel count is left to the decode
// (DecodeConfig::num_channels: frames with as many channels keep their layout)
// unless a custom filter comes first, which may change the count.
void add_output_filters(const DecodePlan& plan, MediaType type, std::vector<std::string>* parts,
                        DecodeConfig* config) {
  if (type == MediaType::Audio) {
    if (plan.sample_rate > 0) {
      parts->push_back("aresample=" + std::to_string(plan.sample_rate));
    }
    std::string format;
    if (!plan.sample_fmt.empty()) {
      format = "sample_fmts=" + plan.sample_fmt;
    }
    if (plan.num_channels > 0 && !plan.filter_desc.empty()) {
      format += (format.empty() ? "" : ":") + std::string("channel_layouts=") +
                channel_layout_for(plan.num_channels);
    } else if (plan.num_channels > 0) {
      channel_layout_for(plan.num_channels);  // invalid_argument for a count out of range
      config->num_channels = plan.num_channels;
    }
    if (!format.empty()) {
      parts->push_back("aformat=" + format);
    }
    return;
  }
  const OutputFormat& output = plan.output;
  if (output.width > 0 || output.height > 0) {
    const auto side = [](int size) { return std::to_string(size > 0 ? size : -2); };
    parts->push_back("scale=" + side(output.width) + ":" + side(output.height) +
                     ":flags=" + (output.scale_algo.empty() ? "bilinear" : output.scale_algo));
  }
  if (!output.pix_fmt.empty()) {
    parts->push_back("format=pix_fmts=" + output.pix_fmt);
  }
}

std::string join(const std::vector<std::string>& parts) {
  std::string joined;
  for (const std::string& part : parts) {
    if (!part.empty()) {
      joined += (joined.empty() ? "" : ",") + part;
    }
  }
  return joined;
}

}  // namespace

DecodeSteps decode_steps(const DecodePlan& plan, MediaType type, Destination destination) {
  DecodeSteps steps;
  const bool writer = native_writer(plan, type, destination);
  std::vector<std::string> parts{plan.pre_filters};
  parts.push_back(plan.filter_desc);
  if (!writer) {
    add_output_filters(plan, type, &parts,
                       &steps.config);  // after a custom filter: what it asks for
  }
  parts.push_back(plan.post_filters);
  steps.config.filter_desc = join(parts);
  steps.config.decoder = plan.decoder;
  steps.config.decoder_options = plan.decoder_options;
  steps.config.num_threads = plan.num_threads;
  steps.config.apply_exif_orientation = plan.apply_exif_orientation;
  steps.config.apply_display_matrix = plan.apply_display_matrix;
  steps.config.max_pixels = plan.max_pixels;
  // The output size lets JPEG images decode smaller (DCT scaling); a custom
  // filter (which may crop or pad) gets the full image.
  if (type == MediaType::Image && plan.filter_desc.empty()) {
    steps.config.min_width = plan.output.width;
    steps.config.min_height = plan.output.height;
  }
  if (writer) {
    steps.writer = plan.output;
  }
  return steps;
}

bool decodes_windows(const DecodePlan& plan) {
  return plan.pre_filters.empty() && plan.post_filters.empty() &&
         native_writer(plan, MediaType::Video, Destination::kBuffer);
}

std::unique_ptr<Frames> decode_frames(const Packets& packets, const DecodePlan& plan) {
  const DecodeSteps steps = decode_steps(plan, packets.media_type, Destination::kFrames);
  // A window of a streaming demux continues the decoder of the window before it.
  if (packets.session && packets.media_type == MediaType::Video && packets.window) {
    return decode_window_frames(packets, steps.config, plan.cancel,
                                steps.writer ? &*steps.writer : nullptr);
  }
  return decode_packets(packets, steps.config, plan.cancel,
                        steps.writer ? &*steps.writer : nullptr);
}

std::unique_ptr<CPUBuffer> decode_to_buffer(const Packets& packets, const DecodePlan& plan) {
  const DecodeSteps steps = decode_steps(plan, packets.media_type, Destination::kBuffer);
  if (packets.media_type == MediaType::Audio) {
    return decode_audio_to_buffer(packets, steps.config, plan.cancel);
  }
  return decode_packets_to_buffer(packets, steps.config, steps.writer.value_or(OutputFormat{}),
                                  plan.cancel, plan.expected_frames);
}

}  // namespace spdl
