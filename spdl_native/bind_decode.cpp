// Python bindings of decode_plan.h: the plan, the decode calls that carry it
// out (GIL released), the cancel token, and the decode options' vocabulary.
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include "audio_decoder.h"
#include "bindings.h"
#include "clip_decoder.h"
#include "decode_plan.h"
#include "gil_release.h"
#include "jpeg_decoder.h"
#include "pixel_limit.h"
#include "webp_decoder.h"

extern "C" {
#include <libswscale/swscale.h>
}

namespace nb = nanobind;

namespace spdl {
namespace {

const DecodePlan& or_default(const DecodePlan* plan) {
  static const DecodePlan kDefault;
  return plan ? *plan : kDefault;
}

void init_plan(DecodePlan* self, std::string pre_filters, std::string post_filters,
               std::string filter_desc, int width, int height, std::string pix_fmt,
               std::string scale_algo, int sample_rate, int num_channels, std::string sample_fmt,
               std::optional<std::string> decoder,
               std::map<std::string, std::string> decoder_options, int num_threads,
               int64_t expected_frames, const CancelToken* cancel, bool apply_exif_orientation,
               bool apply_display_matrix, int64_t max_pixels) {
  if (max_pixels < 0) {
    throw std::invalid_argument("max_pixels must be 0 (no limit) or more, got " +
                                std::to_string(max_pixels) + ".");
  }
  DecodePlan* plan = new (self) DecodePlan();
  plan->pre_filters = std::move(pre_filters);
  plan->post_filters = std::move(post_filters);
  plan->filter_desc = std::move(filter_desc);
  plan->output.width = width;
  plan->output.height = height;
  plan->output.pix_fmt = std::move(pix_fmt);
  plan->output.scale_algo = std::move(scale_algo);
  plan->sample_rate = sample_rate;
  plan->num_channels = num_channels;
  plan->sample_fmt = std::move(sample_fmt);
  plan->decoder = std::move(decoder);
  plan->decoder_options = std::move(decoder_options);
  plan->num_threads = num_threads;
  plan->expected_frames = expected_frames;
  plan->cancel = cancel;
  plan->apply_exif_orientation = apply_exif_orientation;
  plan->apply_display_matrix = apply_display_matrix;
  plan->max_pixels = max_pixels;
}

std::unique_ptr<Frames> decode_packets_with(const Packets& packets, const DecodePlan* plan) {
  const auto reading = packets.reading();
  return decode_frames(packets, or_default(plan));
}

std::unique_ptr<CPUBuffer> decode_to_buffer_with(const Packets& packets, const DecodePlan* plan) {
  const auto reading = packets.reading();
  return decode_to_buffer(packets, or_default(plan));
}

std::vector<std::unique_ptr<CPUBuffer>> decode_windows(const std::vector<const Packets*>& spans,
                                                       const std::vector<WindowPts>& windows,
                                                       const DecodePlan* plan) {
  const auto reading = reading_all(spans);
  return decode_windows_to_buffers(spans, windows, or_default(plan));
}

// Docstrings (Google style; the API page renders them with mkdocstrings).

constexpr const char* kDecodePlanDoc = R"(What one native decode call is asked to do.

``spdl.io._core.decode`` builds one from checked decode options and passes it to
``decode_packets``, ``decode_to_buffer``, ``decode_windows``,
``AudioDecodeStream`` or ``decode_image_batch``. The native core decides from
it whether FFmpeg's filters or the native writer give the output its size and
format. Immutable once made.)";

constexpr const char* kDecodePlanInitDoc = R"(Makes a plan; every argument is keyword-only.

Args:
    pre_filters: Filters before the output's size and format (a video window's
        trim, a frame rate), FFmpeg's filter-graph syntax. Audio packets with a
        window are trimmed to it before these, each edge at the nearest sample.
    post_filters: Filters after them (``num_frames``' padding and cut).
    filter_desc: A user's filter graph, in place of the output's size and
        format filters.
    width: Output width in pixels (0: the source's, or kept in proportion).
    height: Output height in pixels (0: likewise).
    pix_fmt: Output pixel format (``""``: the decoder's).
    scale_algo: The scaler (``"bilinear"``, ``"bicubic"``, ``"area"`` ...).
    sample_rate: Output sample rate (0: the decoder's).
    num_channels: Output channel count, 1 to 63 (0: the decoder's); frames with
        that many channels keep their layout.
    sample_fmt: Output sample format (``""``: the decoder's).
    decoder: A decoder name overriding the codec's default one.
    decoder_options: Options of the decoder.
    num_threads: FFmpeg's threads per decoder.
    expected_frames: How many frames to make room for (a video's buffer grows
        past it).
    cancel: A token that stops the decode at its next packet when cancelled;
        the plan keeps it alive.
    apply_exif_orientation: Put still images upright by their EXIF
        orientation before they are filtered, cropped or resized.
    apply_display_matrix: Put video frames upright by the stream's display
        matrix (``Packets.display_orientation``) before they are filtered or
        written.
    max_pixels: The most pixels one image or video frame may have, checked on
        the size its header declares before it is allocated; more fails the
        decode with MediaError (0: no limit). Default: ``DEFAULT_MAX_PIXELS``.

Raises:
    ValueError: If ``max_pixels`` is negative.)";

constexpr const char* kCheckDeclaredPixelsDoc =
    R"(Raises MediaError when packets declare pictures over a pixel limit.

Checks the stream's size (the demuxer's) and, for a still image, the size its
header declares (JPEG, PNG, WebP, BMP, GIF, TIFF, QOI), as every native decode
does before it allocates a picture; for decoders outside the native core (NVDEC).

Args:
    packets: Image or video packets (audio passes).
    max_pixels: The most pixels per picture; 0: no limit.

Raises:
    MediaError: A picture declares more pixels than ``max_pixels``; the message
        names the source, the size, the limit and how to raise it.)";

constexpr const char* kAudioDecodeStreamDoc =
    R"(Decodes an audio stream fed in chunks of packets into one buffer.

What ``load_audio`` uses: it demuxes a chunk of packets (PyAV, holding the
GIL), feeds it (GIL released), and so on, so the packets are decoded while they
are still in cache and other threads' demuxing runs while this one decodes. The
result equals ``decode_to_buffer`` of all the packets at once. Not for use by
two threads at once.)";

constexpr const char* kAudioDecodeStreamInitDoc = R"(Opens the decoder for a stream.

Args:
    packets: Audio packets of the stream: their codec, time base and window are
        used, not their packets (feed them).
    plan: The decode (``None``: the decoder's own format); its cancel token is
        not used (``feed`` takes one).
    seconds: How much audio to make room for (``0``: unknown); more audio
        grows the output.

Raises:
    ValueError: If the packets are not audio, or an option is unknown.
    MediaError: If the system FFmpeg has no decoder for the codec.)";

constexpr const char* kAudioDecodeStreamFeedDoc =
    R"(Decodes the next packets of the stream, with the GIL released.

Args:
    packets: The next audio packets, in decode order.
    cancel: A token that stops the decode at its next packet when cancelled.

Raises:
    MediaError: If a packet cannot be decoded, or on cancellation.
    RuntimeError: After ``finish``, or when another thread is in a call.)";

constexpr const char* kAudioDecodeStreamFinishDoc =
    R"(Drains the decoder and returns the output, with the GIL released.

Returns:
    A CPUBuffer: ``(channels, samples)`` for planar formats, ``(samples,
    channels)`` for packed ones.

Raises:
    MediaError: If no frame was decoded.
    RuntimeError: When called twice, or when another thread is in a call.)";

}  // namespace

void register_decode(nb::module_& m) {
  nb::class_<CancelToken>(m, "CancelToken",
                          "Set by cancel(); a running native decode stops at its next packet.")
      .def(nb::init<>())
      .def("cancel", &CancelToken::cancel)
      .def_prop_ro("cancelled", &CancelToken::cancelled);

  nb::class_<DecodePlan>(m, "DecodePlan", kDecodePlanDoc)
      .def("__init__", &init_plan, nb::kw_only(), nb::arg("pre_filters") = "",
           nb::arg("post_filters") = "", nb::arg("filter_desc") = "", nb::arg("width") = 0,
           nb::arg("height") = 0, nb::arg("pix_fmt") = "", nb::arg("scale_algo") = "bilinear",
           nb::arg("sample_rate") = 0, nb::arg("num_channels") = 0, nb::arg("sample_fmt") = "",
           nb::arg("decoder").none() = nb::none(),
           nb::arg("decoder_options") = std::map<std::string, std::string>{},
           nb::arg("num_threads") = 1, nb::arg("expected_frames") = 0,
           nb::arg("cancel").none() = nb::none(), nb::arg("apply_exif_orientation") = false,
           nb::arg("apply_display_matrix") = false, nb::arg("max_pixels") = kDefaultMaxPixels,
           nb::keep_alive<1, 16>(), kDecodePlanInitDoc)
      .def_ro("pre_filters", &DecodePlan::pre_filters)
      .def_ro("post_filters", &DecodePlan::post_filters)
      .def_ro("filter_desc", &DecodePlan::filter_desc)
      .def_prop_ro("width", [](const DecodePlan& p) { return p.output.width; })
      .def_prop_ro("height", [](const DecodePlan& p) { return p.output.height; })
      .def_prop_ro("pix_fmt", [](const DecodePlan& p) { return p.output.pix_fmt; })
      .def_prop_ro("scale_algo", [](const DecodePlan& p) { return p.output.scale_algo; })
      .def_ro("sample_rate", &DecodePlan::sample_rate)
      .def_ro("num_channels", &DecodePlan::num_channels)
      .def_ro("sample_fmt", &DecodePlan::sample_fmt)
      .def_ro("decoder", &DecodePlan::decoder)
      .def_ro("decoder_options", &DecodePlan::decoder_options)
      .def_ro("num_threads", &DecodePlan::num_threads)
      .def_ro("expected_frames", &DecodePlan::expected_frames)
      .def_ro("apply_exif_orientation", &DecodePlan::apply_exif_orientation)
      .def_ro("apply_display_matrix", &DecodePlan::apply_display_matrix)
      .def_ro("max_pixels", &DecodePlan::max_pixels)
      .def_prop_ro(
          "cancel", [](const DecodePlan& p) { return p.cancel; }, nb::rv_policy::reference)
      .def("decodes_windows", &decodes_windows,
           "Whether ``decode_windows`` takes this plan: video written by the native writer "
           "(a packed RGB ``pix_fmt``), with no filter at all.");

  m.def("decode_packets", &decode_packets_with, nb::arg("packets"),
        nb::arg("plan").none() = nb::none(), nb::call_guard<GilRelease>(),
        "Decodes packets into frames as the plan says, GIL released.");
  m.def("decode_to_buffer", &decode_to_buffer_with, nb::arg("packets"),
        nb::arg("plan").none() = nb::none(), nb::call_guard<GilRelease>(),
        "Decodes and converts in one pass, GIL released: frames go straight into the buffer.");
  m.def("decode_windows", &decode_windows, nb::arg("spans"), nb::arg("windows"),
        nb::arg("plan").none() = nb::none(), nb::call_guard<GilRelease>(),
        "Decodes several windows of one video stream in one forward pass, GIL released. "
        "spans: VideoPackets in stream order, each from a keyframe; windows: [start, end) in "
        "the spans' time base (end INT64_MAX: open); plan: one that decodes_windows(). Returns one "
        "buffer per window, None where no frame lies in the window.");
  nb::class_<AudioDecodeStream>(m, "AudioDecodeStream", kAudioDecodeStreamDoc)
      .def(
          "__init__",
          [](AudioDecodeStream* self, const Packets& packets, const DecodePlan* plan,
             double seconds) { new (self) AudioDecodeStream(packets, or_default(plan), seconds); },
          nb::arg("packets"), nb::arg("plan").none() = nb::none(), nb::arg("seconds") = 0.0,
          kAudioDecodeStreamInitDoc)
      .def(
          "feed",
          [](AudioDecodeStream& stream, const Packets& packets, const CancelToken* cancel) {
            const auto reading = packets.reading();
            stream.feed(packets, cancel);
          },
          nb::arg("packets"), nb::arg("cancel").none() = nb::none(), nb::call_guard<GilRelease>(),
          kAudioDecodeStreamFeedDoc)
      .def("finish", &AudioDecodeStream::finish, nb::call_guard<GilRelease>(),
           kAudioDecodeStreamFinishDoc);

  m.attr("DEFAULT_MAX_PIXELS") = kDefaultMaxPixels;
  m.def("check_declared_pixels", &check_declared_pixels, nb::arg("packets"), nb::arg("max_pixels"),
        kCheckDeclaredPixelsDoc);

  m.def("has_turbojpeg", &has_turbojpeg,
        "Whether this build decodes JPEG images with libjpeg-turbo (decoder=\"libjpeg-turbo\").");
  m.def("has_libwebp", &has_libwebp,
        "Whether this build decodes WebP images with libwebp (decoder=\"libwebp\").");
  m.def(
      "turbojpeg_decode_size",
      [](int width, int height, int min_width, int min_height, const std::string& pix_fmt) {
        const AVPixelFormat format = av_get_pix_fmt(pix_fmt.c_str());
        if (format == AV_PIX_FMT_NONE) {
          throw std::invalid_argument("Unknown pix_fmt \"" + pix_fmt + "\".");
        }
        return turbojpeg_decode_size(width, height, min_width, min_height, format);
      },
      nb::arg("width"), nb::arg("height"), nb::arg("min_width"), nb::arg("min_height"),
      nb::arg("pix_fmt"),
      "The (width, height) libjpeg-turbo decodes a JPEG of this size at for a size hint.");
  m.def("pix_fmt_exists",
        [](const std::string& name) { return av_get_pix_fmt(name.c_str()) != AV_PIX_FMT_NONE; });
  m.def(
      "pix_fmt_is_output",
      [](const std::string& name) {
        const AVPixelFormat format = av_get_pix_fmt(name.c_str());
        return format != AV_PIX_FMT_NONE && sws_isSupportedOutput(format) > 0;
      },
      nb::arg("name"), "Whether frames can be converted to this pixel format (swscale writes it).");
  m.def(
      "pix_fmt_chroma_steps",
      [](const std::string& name) {
        const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(av_get_pix_fmt(name.c_str()));
        if (!desc) {
          throw std::invalid_argument("Unknown pix_fmt \"" + name + "\".");
        }
        return std::make_pair(1 << desc->log2_chroma_w, 1 << desc->log2_chroma_h);
      },
      nb::arg("name"),
      "(width, height) that a size in this format must be a multiple of: (2, 2) for "
      "yuv420p, (1, 1) for rgb24.");
  m.def("sample_fmt_exists", [](const std::string& name) {
    return av_get_sample_fmt(name.c_str()) != AV_SAMPLE_FMT_NONE;
  });
}

}  // namespace spdl
