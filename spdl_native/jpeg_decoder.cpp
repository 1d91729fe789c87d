#include "jpeg_decoder.h"

#include <array>
#include <stdexcept>

#include "convert.h"
#include "ffmpeg/error.h"
#include "jpeg/turbo_decompressor.h"

extern "C" {
#include <libavutil/buffer.h>
#include <libavutil/imgutils.h>
#include <libavutil/mathematics.h>
}

namespace spdl {
namespace {

// DCT-domain scaling: libjpeg-turbo's inverse DCT can produce each 8x8 block
// at 1/2, 1/4 or 1/8 of its size from the block's low frequencies alone (1/8
// is exactly the block's mean). That is an area-like reduction, free of the
// aliasing a sparse resampler shows, and the output scaler then has less left
// to do (the idea of PIL's Image.draft(), with the same factors). A reduction
// is taken only when every plane of the reduced image, subsampled chroma
// included, still has at least the output's resolution: it then drops only
// detail the resize drops anyway, the result is a full-size decode + resize
// up to rounding, and nothing is upscaled. (Stopping at the luma would leave
// 4:2:0 chroma at half the output's resolution: visibly softer colour edges.)
// libjpeg-turbo also offers M/8 factors (7/8 ... 3/8), but their inverse DCTs
// are scalar C and, as entropy decoding dominates, decode slower than the SIMD
// full-size path (libjpeg-turbo 2.1.5, x86-64: 5/8 costs 1.15x the CPU of
// 8/8), so only the halvings are used.
constexpr int kReductions[] = {8, 4, 2};  // the largest first

int reduced(int size, int factor) { return (size + factor - 1) / factor; }  // as TJSCALED

// The other side of an output given one side, as FrameWriter and scale=W:-2 compute it.
int64_t derived_side(int side, int other_source, int side_source) {
  return av_rescale(side, other_source, side_source * 2LL) * 2;
}

// Whether decoding at scaled_w x scaled_h instead of width x height gives the
// same output size, with every plane at least at the output's resolution.
bool keeps_output(int scaled_w, int scaled_h, int width, int height, int min_w, int min_h,
                  const AVPixFmtDescriptor& format) {
  int64_t out_w = min_w, out_h = min_h;
  if (min_w > 0 && min_h <= 0) {
    out_h = derived_side(min_w, height, width);
    if (derived_side(min_w, scaled_h, scaled_w) != out_h) {
      return false;  // the aspect ratio, rounded, would give another height
    }
  } else if (min_h > 0 && min_w <= 0) {
    out_w = derived_side(min_h, width, height);
    if (derived_side(min_h, scaled_w, scaled_h) != out_w) {
      return false;
    }
  } else if (min_w <= 0) {
    return false;  // no hint: the output keeps the decoded size
  }
  return AV_CEIL_RSHIFT(scaled_w, format.log2_chroma_w) >= out_w &&
         AV_CEIL_RSHIFT(scaled_h, format.log2_chroma_h) >= out_h;
}

// Per-thread pools of frame buffers, one per recent buffer size, for frames
// released within the native call that decodes them (DecodeConfig::
// transient_frames), so that a pool holds about one buffer per thread: an
// AVBufferPool keeps every buffer returned to it. A batch decodes image after
// image of a few sizes, and a fresh allocation of an image's size is a fresh
// memory mapping, every page of which faults when the decoder writes it: that
// cost 15% of decoding a 500x375 JPEG. A pool outlives its thread while frames
// still hold its buffers (av_buffer_pool_uninit frees it after them).
class FramePools {
 public:
  AVBufferRef* get(size_t size) {
    // Sizes rounded up to 64 KiB, so that images of nearly the same size (a
    // dataset's many aspect ratios) share a pool instead of replacing pools.
    constexpr size_t kBucket = size_t{1} << 16;
    size = (size + kBucket - 1) / kBucket * kBucket;
    Entry* entry = nullptr;
    for (auto& candidate : pools_) {
      if (candidate.pool && candidate.size == size) {
        entry = &candidate;
      }
    }
    if (!entry) {
      entry = &pools_[next_++ % pools_.size()];  // replaces the oldest
      entry->size = size;
      entry->pool.reset(av_buffer_pool_init(size, nullptr));
      if (!entry->pool) {
        throw std::bad_alloc();
      }
    }
    AVBufferRef* buffer = av_buffer_pool_get(entry->pool.get());
    if (!buffer) {
      throw std::bad_alloc();
    }
    return buffer;
  }

 private:
  struct Entry {
    size_t size = 0;
    ffmpeg::BufferPoolPtr pool;
  };
  std::array<Entry, 4> pools_;
  size_t next_ = 0;
};

}  // namespace

ffmpeg::FramePtr alloc_image_frame(int width, int height, AVPixelFormat format, size_t offset,
                                   bool pooled) {
  constexpr int kAlign = 64;
  thread_local FramePools pools;
  auto frame = ffmpeg::alloc_frame();
  frame->width = width;
  frame->height = height;
  frame->format = format;
  const auto context = [&] {
    return "Failed to allocate a " + describe_frame(frame.get()) + " frame";
  };
  ffmpeg::check(av_image_fill_linesizes(frame->linesize, format, FFALIGN(width, kAlign)), context);
  ptrdiff_t linesizes[4];
  for (int i = 0; i < 4; ++i) {
    linesizes[i] = frame->linesize[i];
  }
  size_t sizes[4] = {0, 0, 0, 0};
  ffmpeg::check(av_image_fill_plane_sizes(sizes, format, height, linesizes), context);
  size_t total = 0;
  for (size_t size : sizes) {
    total += size;
  }
  // The padding FFmpeg's own frame buffers have: SIMD readers may read past the end.
  const size_t bytes = offset + total + AV_INPUT_BUFFER_PADDING_SIZE;
  frame->buf[0] = pooled ? pools.get(bytes) : av_buffer_alloc(bytes);
  if (!frame->buf[0]) {
    throw std::bad_alloc();
  }
  ffmpeg::check(av_image_fill_pointers(frame->data, format, height, frame->buf[0]->data + offset,
                                       frame->linesize),
                context);
  return frame;
}

namespace {

#ifdef SPDL_HAS_TURBOJPEG

// libjpeg-turbo versions, all in one place. CMake requires >= 2.0, which has
// tjDecompressHeader3, tjGetErrorStr2 / tjGetErrorCode and scaled decoding in
// tjDecompressToYUVPlanes; 3.x still provides this API.
#ifdef TJFLAG_LIMITSCANS  // 2.1+: refuse progressive JPEGs with absurd scan counts (a DoS vector)
constexpr int kTurboFlags = TJFLAG_LIMITSCANS;
#else
constexpr int kTurboFlags = 0;
#endif

// One decompressor per thread: no locks, and no set-up per image.
jpeg::TurboDecompressor& thread_decompressor() {
  thread_local jpeg::TurboDecompressor decompressor;
  return decompressor;
}

// FFmpeg's mjpeg decoder output format for the JPEG flavours taken here.
AVPixelFormat frame_format(int subsampling, int colorspace) {
  if (colorspace == TJCS_GRAY && subsampling == TJSAMP_GRAY) {
    return AV_PIX_FMT_GRAY8;
  }
  if (colorspace != TJCS_YCbCr) {
    return AV_PIX_FMT_NONE;  // RGB, CMYK, YCCK
  }
  switch (subsampling) {
    case TJSAMP_420:
      return AV_PIX_FMT_YUVJ420P;
    case TJSAMP_422:
      return AV_PIX_FMT_YUVJ422P;
    case TJSAMP_444:
      return AV_PIX_FMT_YUVJ444P;
    default:
      return AV_PIX_FMT_NONE;  // 4:4:0, 4:1:1: FFmpeg decodes them
  }
}

std::string describe_flavour(int subsampling, int colorspace) {
  static const char* const colorspaces[] = {"RGB", "YCbCr", "gray", "CMYK", "YCCK"};
  static const char* const subsamplings[] = {"4:4:4", "4:2:2", "4:2:0", "gray", "4:4:0", "4:1:1"};
  return std::string("colorspace ") +
         (colorspace >= 0 && colorspace < 5 ? colorspaces[colorspace] : "unknown") +
         ", subsampling " +
         (subsampling >= 0 && subsampling < 6 ? subsamplings[subsampling] : "unknown");
}

// libjpeg-turbo could not decode: FFmpeg takes over (null), unless libjpeg-turbo
// was forced. `why` is a copy: libjpeg-turbo's message dies with the reset.
ffmpeg::FramePtr give_up(const std::string& src, const std::string& why, bool forced) {
  thread_decompressor().reset();
  if (forced) {
    throw MediaError("Failed to decode " + src + " with libjpeg-turbo: " + why);
  }
  return nullptr;
}

#endif  // SPDL_HAS_TURBOJPEG

}  // namespace

bool has_turbojpeg() {
#ifdef SPDL_HAS_TURBOJPEG
  return true;
#else
  return false;
#endif
}

bool use_turbojpeg(const Packets& packets, const DecodeConfig& config) {
  const bool jpeg_image = packets.media_type == MediaType::Image &&
                          packets.params.codec_name == "mjpeg" && packets.packets.size() == 1;
  if (!config.decoder) {
    return has_turbojpeg() && jpeg_image && config.decoder_options.empty();
  }
  if (*config.decoder != kTurboJpegDecoder) {
    return false;  // an FFmpeg decoder, by name
  }
  const std::string where = " (" + packets.src + ").";
  if (!has_turbojpeg()) {
    throw std::invalid_argument(
        "The decoder \"libjpeg-turbo\" is unavailable: this build of spdl has no libjpeg-turbo" +
        where);
  }
  if (!jpeg_image) {
    throw std::invalid_argument("The decoder \"libjpeg-turbo\" decodes JPEG images only, not \"" +
                                packets.params.codec_name + "\" " + to_string(packets.media_type) +
                                where);
  }
  if (!config.decoder_options.empty()) {
    throw std::invalid_argument("The decoder \"libjpeg-turbo\" takes no decoder options" + where);
  }
  return true;
}

std::pair<int, int> turbojpeg_decode_size(int width, int height, int min_width, int min_height,
                                          AVPixelFormat format) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  if (!desc) {
    throw std::invalid_argument("Unknown pixel format for a JPEG decode size.");
  }
  for (int factor : kReductions) {
    const int scaled_w = reduced(width, factor), scaled_h = reduced(height, factor);
    if (keeps_output(scaled_w, scaled_h, width, height, min_width, min_height, *desc)) {
      return {scaled_w, scaled_h};
    }
  }
  return {width, height};
}

#ifdef SPDL_HAS_TURBOJPEG

ffmpeg::FramePtr decode_turbojpeg(const AVPacket& packet, const Packets& packets,
                                  const DecodeConfig& config) {
  const std::string& src = packets.src;
  const bool forced = config.decoder.has_value();  // use_turbojpeg() admits only libjpeg-turbo
  tjhandle decompressor = thread_decompressor().get();
  if (!decompressor) {
    return give_up(src, tjGetErrorStr2(nullptr), forced);
  }
  const auto size = static_cast<unsigned long>(packet.size);
  int width = 0, height = 0, subsampling = -1, colorspace = -1;
  if (tjDecompressHeader3(decompressor, packet.data, size, &width, &height, &subsampling,
                          &colorspace) != 0) {
    return give_up(src, tjGetErrorStr2(decompressor), forced);
  }
  const AVPixelFormat format = frame_format(subsampling, colorspace);
  if (format == AV_PIX_FMT_NONE) {
    return give_up(src, "unsupported JPEG type (" + describe_flavour(subsampling, colorspace) + ")",
                   forced);
  }
  if (av_image_check_size(width, height, 0, nullptr) < 0) {
    return give_up(src, "invalid image size", forced);
  }
  const auto [decoded_w, decoded_h] =
      turbojpeg_decode_size(width, height, config.min_width, config.min_height, format);

  // Colour straight to RGB when the writer resizes in RGB (libjpeg-turbo's SIMD
  // upsampling and conversion, as in Pillow and OpenCV); else FFmpeg's layout.
  const bool rgb = config.rgb_frames != AV_PIX_FMT_NONE && format != AV_PIX_FMT_GRAY8;
  const bool bgr = config.rgb_frames == AV_PIX_FMT_BGR24;
  // libjpeg-turbo's AVX2 colour conversion writes 32-byte aligned rows with
  // non-temporal stores, which bypass the cache, so the resize that reads them
  // next would miss on every line (+20% on a 500x375 decode + resize). Rows that
  // start 16 bytes past that alignment get its ordinary stores.
  auto frame = alloc_image_frame(decoded_w, decoded_h, rgb ? config.rgb_frames : format,
                                 rgb ? 16 : 0, config.transient_frames);
  unsigned char* planes[3] = {frame->data[0], frame->data[1], frame->data[2]};
  int strides[3] = {frame->linesize[0], frame->linesize[1], frame->linesize[2]};
  const int failed =
      rgb ? tjDecompress2(decompressor, packet.data, size, frame->data[0], decoded_w,
                          frame->linesize[0], decoded_h, bgr ? TJPF_BGR : TJPF_RGB, kTurboFlags)
          : tjDecompressToYUVPlanes(decompressor, packet.data, size, planes, decoded_w, strides,
                                    decoded_h, kTurboFlags);
  if (failed != 0) {
    // A warning (corrupt data libjpeg-turbo worked around) still leaves a decoded
    // image; unless forced, FFmpeg gets the say on such files, as without this path.
    if (!forced || tjGetErrorCode(decompressor) != TJERR_WARNING) {
      return give_up(src, tjGetErrorStr2(decompressor), forced);
    }
    thread_decompressor().reset();
  }
  // What FFmpeg's mjpeg decoder sets, so that the conversion downstream is the
  // same; it leaves the range of gray images unspecified.
  frame->color_range = format == AV_PIX_FMT_GRAY8 ? AVCOL_RANGE_UNSPECIFIED : AVCOL_RANGE_JPEG;
  frame->colorspace = rgb ? AVCOL_SPC_RGB : AVCOL_SPC_BT470BG;
  frame->chroma_location = rgb ? AVCHROMA_LOC_UNSPECIFIED : AVCHROMA_LOC_CENTER;
  frame->sample_aspect_ratio = AVRational{packets.params.sample_aspect_ratio.first,
                                          packets.params.sample_aspect_ratio.second};
  frame->pict_type = AV_PICTURE_TYPE_I;
  ffmpeg::mark_key_frame(frame.get());
  frame->pts = frame->pkt_dts = frame->best_effort_timestamp = packet.pts;
  return frame;
}

#else

ffmpeg::FramePtr decode_turbojpeg(const AVPacket&, const Packets& packets, const DecodeConfig&) {
  throw std::logic_error("decode_turbojpeg called in a build without libjpeg-turbo (" +
                         packets.src + ").");
}

#endif  // SPDL_HAS_TURBOJPEG

}  // namespace spdl
