#include "jpeg_decoder.h"

#include <stdexcept>
#include <vector>

#include "convert.h"
#include "ffmpeg/error.h"
#include "image_frame.h"
#include "jpeg/markers.h"
#include "jpeg/turbo_decompressor.h"
#include "pixel_limit.h"

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

// libjpeg-turbo's pixel format for a packed RGB frame format (rgb_frame_format).
int turbo_pixel_format(AVPixelFormat format) {
  switch (format) {
    case AV_PIX_FMT_BGR24:
      return TJPF_BGR;
    case AV_PIX_FMT_RGBA:
      return TJPF_RGBA;
    case AV_PIX_FMT_BGRA:
      return TJPF_BGRA;
    default:
      return TJPF_RGB;
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

// A format with the JPEG's chroma subsampling, for turbojpeg_decode_size.
AVPixelFormat sampling_format(int subsampling) {
  switch (subsampling) {
    case TJSAMP_GRAY:
      return AV_PIX_FMT_GRAY8;
    case TJSAMP_420:
      return AV_PIX_FMT_YUVJ420P;
    case TJSAMP_422:
      return AV_PIX_FMT_YUVJ422P;
    case TJSAMP_440:
      return AV_PIX_FMT_YUVJ440P;
    case TJSAMP_411:
      return AV_PIX_FMT_YUVJ411P;
    default:
      return AV_PIX_FMT_YUVJ444P;
  }
}

// CMYK to RGB as Pillow converts it: each of C, M, Y scaled by 1 - K, in 8-bit
// arithmetic rounded as Pillow rounds (its MULDIV255).
inline uint8_t cmyk_channel(int ink, int not_black) {
  const int product = ink * not_black + 128;
  const int scaled = ((product >> 8) + product) >> 8;
  return static_cast<uint8_t>(not_black - scaled);  // in [0, not_black]: no clipping needed
}

// Decodes the CMYK (or YCCK) JPEG in `packet` at `frame`'s size into `frame`
// (rgb24, bgr24, rgba or bgra). Adobe's JPEGs hold inverted inks. False when
// libjpeg-turbo failed (a warning included: FFmpeg then gets the say).
bool decode_cmyk(tjhandle decompressor, const AVPacket& packet, AVFrame* frame) {
  const int width = frame->width, height = frame->height;
  std::vector<uint8_t> inks(static_cast<size_t>(width) * height * 4);
  if (tjDecompress2(decompressor, packet.data, static_cast<unsigned long>(packet.size), inks.data(),
                    width, width * 4, height, TJPF_CMYK, kTurboFlags) != 0) {
    return false;
  }
  const bool inverted = jpeg::has_adobe_marker(packet.data, static_cast<size_t>(packet.size));
  const auto format = static_cast<AVPixelFormat>(frame->format);
  const bool bgr = format == AV_PIX_FMT_BGR24 || format == AV_PIX_FMT_BGRA;
  const bool alpha = format == AV_PIX_FMT_RGBA || format == AV_PIX_FMT_BGRA;
  const int step = alpha ? 4 : 3;
  for (int y = 0; y < height; ++y) {
    const uint8_t* in = inks.data() + static_cast<size_t>(y) * width * 4;
    uint8_t* out = frame->data[0] + static_cast<ptrdiff_t>(y) * frame->linesize[0];
    for (int x = 0; x < width; ++x, in += 4, out += step) {
      const int c = inverted ? 255 - in[0] : in[0];
      const int m = inverted ? 255 - in[1] : in[1];
      const int yellow = inverted ? 255 - in[2] : in[2];
      const int not_black = inverted ? in[3] : 255 - in[3];
      out[bgr ? 2 : 0] = cmyk_channel(c, not_black);
      out[1] = cmyk_channel(m, not_black);
      out[bgr ? 0 : 2] = cmyk_channel(yellow, not_black);
      if (alpha) {
        out[3] = 255;
      }
    }
  }
  return true;
}

// Sets what FFmpeg's mjpeg decoder sets on a frame of `ffmpeg_format` (its own
// layout; AV_PIX_FMT_NONE for a packed RGB frame), so that the conversion
// downstream is the same; it leaves the range of gray images unspecified.
ffmpeg::FramePtr finish_frame(ffmpeg::FramePtr frame, AVPixelFormat ffmpeg_format,
                              const AVPacket& packet, const Packets& packets) {
  const bool rgb = ffmpeg_format == AV_PIX_FMT_NONE;
  frame->color_range =
      ffmpeg_format == AV_PIX_FMT_GRAY8 ? AVCOL_RANGE_UNSPECIFIED : AVCOL_RANGE_JPEG;
  frame->colorspace = rgb ? AVCOL_SPC_RGB : AVCOL_SPC_BT470BG;
  frame->chroma_location = rgb ? AVCHROMA_LOC_UNSPECIFIED : AVCHROMA_LOC_CENTER;
  frame->sample_aspect_ratio = AVRational{packets.params.sample_aspect_ratio.first,
                                          packets.params.sample_aspect_ratio.second};
  frame->pict_type = AV_PICTURE_TYPE_I;
  ffmpeg::mark_key_frame(frame.get());
  frame->pts = frame->pkt_dts = frame->best_effort_timestamp = packet.pts;
  return frame;
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
  // A decompression bomb is refused, not handed to FFmpeg (nor decoded smaller).
  check_pixel_limit(width, height, config.max_pixels, src);
  const AVPixelFormat format = frame_format(subsampling, colorspace);
  // CMYK / YCCK and RGB JPEGs have no such layout: they always decode to packed RGB.
  // Nor have 4:4:0 and 4:1:1 here: into RGB, libjpeg-turbo interpolates their chroma
  // as Pillow does (FFmpeg's frames would be converted without it); else FFmpeg.
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  const bool odd_sampling = colorspace == TJCS_YCbCr && config.rgb_frames != AV_PIX_FMT_NONE &&
                            (subsampling == TJSAMP_440 || subsampling == TJSAMP_411);
  const bool rgb_only =
      cmyk || (colorspace == TJCS_RGB && subsampling == TJSAMP_444) || odd_sampling;
  if (format == AV_PIX_FMT_NONE && !rgb_only) {
    return give_up(src, "unsupported JPEG type (" + describe_flavour(subsampling, colorspace) + ")",
                   forced);
  }
  if (av_image_check_size(width, height, 0, nullptr) < 0) {
    return give_up(src, "invalid image size", forced);
  }
  const auto [decoded_w, decoded_h] = turbojpeg_decode_size(
      width, height, config.min_width, config.min_height, sampling_format(subsampling));

  // Colour straight to RGB when the writer takes RGB (libjpeg-turbo's SIMD
  // upsampling and conversion, as in Pillow and OpenCV); else FFmpeg's layout.
  const AVPixelFormat rgb_format =
      config.rgb_frames != AV_PIX_FMT_NONE ? config.rgb_frames : AV_PIX_FMT_RGB24;
  const bool rgb = rgb_only || (config.rgb_frames != AV_PIX_FMT_NONE && format != AV_PIX_FMT_GRAY8);
  if (cmyk) {
    auto frame = alloc_image_frame(decoded_w, decoded_h, rgb_format, 0, config.transient_frames);
    if (!decode_cmyk(decompressor, packet, frame.get())) {
      return give_up(src, tjGetErrorStr2(decompressor), forced);
    }
    return finish_frame(std::move(frame), AV_PIX_FMT_NONE, packet, packets);
  }
  const int pixel_format = turbo_pixel_format(rgb_format);
  // libjpeg-turbo's AVX2 colour conversion writes 32-byte aligned rows with
  // non-temporal stores, which bypass the cache, so the resize that reads them
  // next would miss on every line (+20% on a 500x375 decode + resize). Rows that
  // start 16 bytes past that alignment get its ordinary stores.
  // libjpeg-turbo writes the luma plane in whole MCU rows (82 rows for an 81-row
  // 4:2:0 image): the planes are laid out for that height, or the extra row would
  // overwrite the first chroma rows.
  const int planes_h = rgb ? decoded_h : tjPlaneHeight(0, decoded_h, subsampling);
  auto frame = alloc_image_frame(decoded_w, planes_h, rgb ? rgb_format : format, rgb ? 16 : 0,
                                 config.transient_frames);
  frame->height = decoded_h;
  unsigned char* planes[3] = {frame->data[0], frame->data[1], frame->data[2]};
  int strides[3] = {frame->linesize[0], frame->linesize[1], frame->linesize[2]};
  const int failed = rgb ? tjDecompress2(decompressor, packet.data, size, frame->data[0], decoded_w,
                                         frame->linesize[0], decoded_h, pixel_format, kTurboFlags)
                         : tjDecompressToYUVPlanes(decompressor, packet.data, size, planes,
                                                   decoded_w, strides, decoded_h, kTurboFlags);
  if (failed != 0) {
    // A warning (corrupt data libjpeg-turbo worked around) still leaves a decoded
    // image; unless forced, FFmpeg gets the say on such files, as without this path.
    if (!forced || tjGetErrorCode(decompressor) != TJERR_WARNING) {
      return give_up(src, tjGetErrorStr2(decompressor), forced);
    }
    thread_decompressor().reset();
  }
  return finish_frame(std::move(frame), rgb ? AV_PIX_FMT_NONE : format, packet, packets);
}

#else

ffmpeg::FramePtr decode_turbojpeg(const AVPacket&, const Packets& packets, const DecodeConfig&) {
  throw std::logic_error("decode_turbojpeg called in a build without libjpeg-turbo (" +
                         packets.src + ").");
}

#endif  // SPDL_HAS_TURBOJPEG

}  // namespace spdl
