// Decoding: packets -> (optional filter graph) -> frames, all in native code.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "buffer.h"
#include "cancel.h"
#include "frame_writer.h"
#include "frames.h"
#include "packets.h"
#include "pixel_limit.h"

namespace spdl {

struct DecodeConfig {
  // Filter description applied to decoded frames; empty keeps them as decoded.
  std::string filter_desc;
  // Audio: the channel count the frames are given after `filter_desc` (0: as they
  // come). Frames with that many channels keep their layout; others are mixed to
  // channel_layout_for(num_channels) (see FrameRouter).
  int num_channels = 0;
  // Decoder name overriding the default one for the codec (e.g. "libdav1d").
  std::optional<std::string> decoder;
  std::map<std::string, std::string> decoder_options;
  int num_threads = 1;
  // The output size the frames are resized to (0: that side is not resized, or
  // derived from the other with the aspect ratio). A decoder that downscales
  // cheaply (libjpeg-turbo's DCT scaling, see jpeg_decoder.h) may decode at a
  // smaller size that still gives exactly this output size, without upscaling.
  int min_width = 0;
  int min_height = 0;
  // The packed RGB format (rgb24, bgr24; rgba, bgra for still images not resized)
  // that the native writer takes best (rgb_frame_format): libjpeg-turbo and libwebp
  // then decode colour images to it directly. AV_PIX_FMT_NONE otherwise.
  AVPixelFormat rgb_frames = AV_PIX_FMT_NONE;
  // Each frame is written out and released within the native call that decodes
  // it (the native writer's paths), so a decoder may take its buffers from a
  // small per-thread pool; frames handed to the caller or kept must not.
  bool transient_frames = false;
  // A still image's frame is put upright by its EXIF orientation before it is
  // filtered or written (see still_image_decode.h).
  bool apply_exif_orientation = false;
  // A video's frames are put upright by its display matrix before they are
  // filtered or written (see display_matrix.h).
  bool apply_display_matrix = false;
  // The most pixels a decoded picture may have, checked on the size its header
  // declares before it is allocated (pixel_limit.h); 0: no limit.
  int64_t max_pixels = kDefaultMaxPixels;
};

// Opens a decoder for codec parameters given by name.
ffmpeg::CodecContextPtr open_decoder(const CodecParams& params, Rational time_base,
                                     const std::string& src, const DecodeConfig& config);

// Opens a decoder for `packets`' stream; MediaError when its codec is not of their
// media type (a video codec for images and video).
ffmpeg::CodecContextPtr open_decoder(const Packets& packets, const DecodeConfig& config);

// avcodec_send_packet, with a PCM packet cut to whole sample frames first (the
// last packet of a truncated WAV is not): FFmpeg 5.1's PCM decoders decode the
// whole frames, then refuse the 1 .. n-1 bytes left over (AVERROR_INVALIDDATA);
// newer releases drop them. A PCM packet shorter than one sample frame is not
// sent. A Vorbis stream's first packet goes without the skip at its start, which
// FFmpeg 5.1 took from the audio after it. Returns FFmpeg's code.
int send_packet(AVCodecContext* ctx, const AVPacket* packet);

// Decodes every packet; stops early when the filter graph ends (e.g. trim) or
// when `cancel` is set, in which case MediaError("... cancelled") is thrown.
// With `output`, each frame is scaled and converted by the native writer (as
// decode_packets_to_buffer would write it) instead of a filter graph.
std::unique_ptr<Frames> decode_packets(const Packets& packets, const DecodeConfig& config,
                                       const CancelToken* cancel,
                                       const OutputFormat* output = nullptr);

// `config` with the hints for an output written by the native writer.
DecodeConfig with_output_hints(const DecodeConfig& config, const OutputFormat& output);

// Decodes and converts images or video in one pass (audio: audio_decoder.h):
// each frame is copied into the output as soon as it leaves the filter graph and
// is released at once, so decoder and filter buffer pools are recycled and peak
// memory stays close to the output size. `expected_frames` sizes the first
// reservation; the buffer grows if needed. `output` scales / converts each frame
// while it is written (one swscale pass).
std::unique_ptr<CPUBuffer> decode_packets_to_buffer(const Packets& packets,
                                                    const DecodeConfig& config,
                                                    const OutputFormat& output,
                                                    const CancelToken* cancel,
                                                    int64_t expected_frames);

}  // namespace spdl
