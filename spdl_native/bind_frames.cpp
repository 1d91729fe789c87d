#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "buffer.h"
#include "cancel.h"
#include "clip_decoder.h"
#include "decoder.h"
#include "frames.h"
#include "jpeg_decoder.h"

namespace nb = nanobind;

namespace spdl {
namespace {

std::unique_ptr<Frames> decode(const Packets& packets, std::string filter_desc,
                               std::optional<std::string> decoder,
                               std::map<std::string, std::string> decoder_options, int num_threads,
                               const CancelToken* cancel, int min_width, int min_height, int width,
                               int height, std::string pix_fmt, std::string scale_algo) {
  DecodeConfig config{std::move(filter_desc), std::move(decoder), std::move(decoder_options),
                      num_threads};
  config.min_width = min_width;
  config.min_height = min_height;
  // An empty pix_fmt keeps the source format (OutputFormat), which a size alone
  // still resizes through the writer; neither one leaves the frames as decoded.
  if (pix_fmt.empty() && width <= 0 && height <= 0) {
    return decode_packets(packets, config, cancel);
  }
  const OutputFormat output{width, height, std::move(pix_fmt), std::move(scale_algo)};
  return decode_packets(packets, config, cancel, &output);
}

std::unique_ptr<CPUBuffer> decode_to_buffer(const Packets& packets, std::string filter_desc,
                                            std::optional<std::string> decoder,
                                            std::map<std::string, std::string> decoder_options,
                                            int num_threads, const CancelToken* cancel,
                                            int64_t expected_frames, int width, int height,
                                            std::string pix_fmt, std::string scale_algo,
                                            int min_width, int min_height) {
  DecodeConfig config{std::move(filter_desc), std::move(decoder), std::move(decoder_options),
                      num_threads};
  config.min_width = min_width;
  config.min_height = min_height;
  OutputFormat output{width, height, std::move(pix_fmt), std::move(scale_algo)};
  return decode_packets_to_buffer(packets, config, output, cancel, expected_frames);
}

std::vector<std::unique_ptr<CPUBuffer>> decode_windows(
    const std::vector<const Packets*>& spans, const std::vector<WindowUs>& windows,
    std::optional<std::string> decoder, std::map<std::string, std::string> decoder_options,
    int num_threads, const CancelToken* cancel, int width, int height, std::string pix_fmt,
    std::string scale_algo) {
  DecodeConfig config{"", std::move(decoder), std::move(decoder_options), num_threads};
  OutputFormat output{width, height, std::move(pix_fmt), std::move(scale_algo)};
  return decode_windows_to_buffers(spans, windows, config, output, cancel);
}

nb::object get_item(const Frames& self, nb::handle key) {
  self.ensure_valid();
  const auto n = static_cast<Py_ssize_t>(self.size());
  if (PySlice_Check(key.ptr())) {
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(key.ptr(), &start, &stop, &step) < 0) {
      throw nb::python_error();
    }
    PySlice_AdjustIndices(n, &start, &stop, step);
    return nb::cast(self.slice(start, stop, step));
  }
  if (!PyIndex_Check(key.ptr())) {
    throw nb::type_error((std::string("frame indices must be integers or slices, not ") +
                          Py_TYPE(key.ptr())->tp_name)
                             .c_str());
  }
  Py_ssize_t i = PyNumber_AsSsize_t(key.ptr(), PyExc_IndexError);
  if (i == -1 && PyErr_Occurred()) {
    throw nb::python_error();
  }
  if (i < 0) {
    i += n;
  }
  if (i < 0 || i >= n) {
    throw nb::index_error("frame index out of range");
  }
  return nb::cast(self.image_at(i));
}

// Docstrings (Google style; the API page renders them with mkdocstrings, and
// tests/test_docstring_examples.py runs their examples).

constexpr const char* kFramesDoc = R"(Decoded frames of one source, in presentation order.

The base class of ``ImageFrames``, ``AudioFrames`` and ``VideoFrames``, returned by
``decode_packets``. ``convert_frames`` copies them into one ``CPUBuffer`` and
releases each frame as it is copied: afterwards the frames are *consumed*: their
sizes, formats and ``len()`` stay readable, but converting or indexing them again
raises ``ValueError``.)";

constexpr const char* kImageFramesDoc = R"(A decoded still image (or one frame of a video).

Converts to ``(H, W, C)`` for packed formats such as ``rgb24``, ``(C, H, W)`` for
planar ones; a list of ``ImageFrames`` of one size and format converts to one batch
``(B, ...)``.

Example:
    >>> packets = spdl.io.demux_media("image", "bar.png").result()
    >>> frames = spdl.io.decode_packets(packets).result()
    >>> frames.width, frames.height, frames.pix_fmt
    (200, 150, 'rgb24'))";

constexpr const char* kAudioFramesDoc = R"(Decoded audio, in chunks of samples.

The decode gathers the decoder's frames (1024 samples each for AAC) into chunks of
up to 262144 samples per channel as they come out, so a long track is a few frames:
``len(frames)`` counts the chunks, ``pts`` gives the time of each chunk's first
sample, and a gap in the timestamps starts a new chunk.

Converts to ``(channels, samples)`` for planar sample formats such as the default
``fltp``, ``(samples, channels)`` for packed ones such as ``s16``.

Example:
    >>> packets = spdl.io.demux_media("audio", "speech.wav").result()
    >>> frames = spdl.io.decode_packets(packets, sample_fmt="s16").result()
    >>> frames.sample_fmt, frames.sample_rate, frames.num_channels, frames.num_samples
    ('s16', 16000, 2, 32000)
    >>> spdl.io.convert_frames(frames).result().shape
    (32000, 2))";

constexpr const char* kVideoFramesDoc = R"(Decoded video frames.

Converts to ``(N, H, W, C)`` for packed formats such as ``rgb24``, ``(N, C, H, W)``
for planar ones. Indexing selects frames without copying pixels.

Example:
    >>> packets = spdl.io.demux_media("video", "clip.mp4", timestamp=(0, 1)).result()
    >>> frames = spdl.io.decode_packets(packets).result()
    >>> len(frames), frames.width, frames.height, frames.pix_fmt
    (30, 96, 64, 'rgb24'))";

constexpr const char* kGetItemDoc = R"(Selects frames without copying pixels (the data is shared).

Args:
    key: A frame index (negative counts from the end) or a slice.

Returns:
    ``ImageFrames`` holding one frame for an index; ``VideoFrames`` for a slice.
    Either converts on its own and leaves these frames usable.

Raises:
    IndexError: If the index is out of range.
    TypeError: If ``key`` is neither an integer nor a slice.
    ValueError: If the frames were converted already.

Example:
    >>> packets = spdl.io.demux_media("video", "clip.mp4").result()
    >>> frames = spdl.io.decode_packets(packets).result()
    >>> frames[-1]
    ImageFrames(src="clip.mp4", num_frames=1, pix_fmt="rgb24", width=96, height=64)
    >>> spdl.io.convert_frames(frames[10:20:3]).result().shape
    (4, 64, 96, 3))";

constexpr const char* kPixFmtDoc =
    "Pixel format of the frames, e.g. ``\"rgb24\"`` (the ``pix_fmt`` asked of the decode).";
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
    seconds: How much audio to make room for (``0``: unknown); more audio
        grows the output.
    filter_desc: Filter graph applied to the decoded frames (resampling, trim).
    decoder: A decoder name overriding the codec's default one.
    decoder_options: Options of the decoder.
    num_threads: Decoder threads.

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

constexpr const char* kWidthDoc = "Width of the frames in pixels.";
constexpr const char* kHeightDoc = "Height of the frames in pixels.";

}  // namespace

void register_frames(nb::module_& m) {
  nb::class_<CancelToken>(m, "CancelToken",
                          "Set by cancel(); a running native decode stops at its next packet.")
      .def(nb::init<>())
      .def("cancel", &CancelToken::cancel)
      .def_prop_ro("cancelled", &CancelToken::cancelled);

  nb::class_<Frames>(m, "Frames", kFramesDoc)
      .def_prop_ro(
          "media_type", [](const Frames& f) { return to_string(f.media_type); },
          "``\"image\"``, ``\"audio\"`` or ``\"video\"``.")
      .def_ro("src", &Frames::src, "The source of the packets, as messages name it.")
      .def_ro("time_base", &Frames::time_base,
              "The time base ``(numerator, denominator)`` of the frames' timestamps.")
      .def_ro("consumed", &Frames::consumed,
              "Whether conversion has released the frames (they convert only once).")
      .def_prop_ro("pts", &Frames::pts_seconds,
                   "Presentation time of each frame in seconds; empty once the frames are "
                   "consumed.")
      .def("__len__", &Frames::size,
           "The number of frames (for audio, of chunks of samples: see ``num_samples``); "
           "still known once the frames are consumed.")
      .def("__repr__", &Frames::repr);
  nb::class_<ImageFrames, Frames>(m, "ImageFrames", kImageFramesDoc)
      .def_prop_ro("pix_fmt", &Frames::format_name, kPixFmtDoc)
      .def_prop_ro("width", &Frames::width, kWidthDoc)
      .def_prop_ro("height", &Frames::height, kHeightDoc);
  nb::class_<VideoFrames, Frames>(m, "VideoFrames", kVideoFramesDoc)
      .def_prop_ro("pix_fmt", &Frames::format_name, kPixFmtDoc)
      .def_prop_ro("width", &Frames::width, kWidthDoc)
      .def_prop_ro("height", &Frames::height, kHeightDoc)
      .def("__getitem__", &get_item, nb::arg("key"), kGetItemDoc);
  nb::class_<AudioFrames, Frames>(m, "AudioFrames", kAudioFramesDoc)
      .def_prop_ro("sample_fmt", &Frames::format_name,
                   "Sample format of the frames, e.g. ``\"fltp\"`` (the ``sample_fmt`` "
                   "asked of the decode).")
      .def_prop_ro("sample_rate", &Frames::sample_rate, "Samples per second.")
      .def_prop_ro("num_channels", &Frames::num_channels, "Number of audio channels.")
      .def_prop_ro("num_samples", &Frames::num_samples,
                   "Samples per channel, over all frames: the length of the converted audio.");

  m.def("decode_packets", &decode, nb::arg("packets"), nb::arg("filter_desc") = "",
        nb::arg("decoder").none() = nb::none(),
        nb::arg("decoder_options") = std::map<std::string, std::string>{},
        nb::arg("num_threads") = 1, nb::arg("cancel").none() = nb::none(), nb::arg("min_width") = 0,
        nb::arg("min_height") = 0, nb::arg("width") = 0, nb::arg("height") = 0,
        nb::arg("pix_fmt") = "", nb::arg("scale_algo") = "bilinear",
        nb::call_guard<nb::gil_scoped_release>(),
        "Decodes packets (and filters the frames) with the GIL released. min_width / "
        "min_height: the size the frames are resized to, a hint for DCT-domain JPEG scaling. "
        "A pix_fmt makes the native writer scale and convert each frame (as decode_to_buffer).");
  m.def("decode_to_buffer", &decode_to_buffer, nb::arg("packets"), nb::arg("filter_desc") = "",
        nb::arg("decoder").none() = nb::none(),
        nb::arg("decoder_options") = std::map<std::string, std::string>{},
        nb::arg("num_threads") = 1, nb::arg("cancel").none() = nb::none(),
        nb::arg("expected_frames") = 0, nb::arg("width") = 0, nb::arg("height") = 0,
        nb::arg("pix_fmt") = "", nb::arg("scale_algo") = "bilinear", nb::arg("min_width") = 0,
        nb::arg("min_height") = 0, nb::call_guard<nb::gil_scoped_release>(),
        "Decodes and converts in one pass, GIL released: frames go straight into the buffer.");
  nb::class_<AudioDecodeStream>(m, "AudioDecodeStream", kAudioDecodeStreamDoc)
      .def(
          "__init__",
          [](AudioDecodeStream* self, const Packets& first, double seconds, std::string filter_desc,
             std::optional<std::string> decoder, std::map<std::string, std::string> decoder_options,
             int num_threads) {
            const DecodeConfig config{std::move(filter_desc), std::move(decoder),
                                      std::move(decoder_options), num_threads};
            new (self) AudioDecodeStream(first, config, seconds);
          },
          nb::arg("packets"), nb::arg("seconds") = 0.0, nb::arg("filter_desc") = "",
          nb::arg("decoder").none() = nb::none(),
          nb::arg("decoder_options") = std::map<std::string, std::string>{},
          nb::arg("num_threads") = 1, kAudioDecodeStreamInitDoc)
      .def("feed", &AudioDecodeStream::feed, nb::arg("packets"),
           nb::arg("cancel").none() = nb::none(), nb::call_guard<nb::gil_scoped_release>(),
           kAudioDecodeStreamFeedDoc)
      .def("finish", &AudioDecodeStream::finish, nb::call_guard<nb::gil_scoped_release>(),
           kAudioDecodeStreamFinishDoc);
  m.def("decode_windows", &decode_windows, nb::arg("spans"), nb::arg("windows"),
        nb::arg("decoder").none() = nb::none(),
        nb::arg("decoder_options") = std::map<std::string, std::string>{},
        nb::arg("num_threads") = 1, nb::arg("cancel").none() = nb::none(), nb::arg("width") = 0,
        nb::arg("height") = 0, nb::arg("pix_fmt") = "", nb::arg("scale_algo") = "bilinear",
        nb::call_guard<nb::gil_scoped_release>(),
        "Decodes several windows of one video stream in one forward pass, GIL released. "
        "spans: VideoPackets in stream order, each from a keyframe; windows: [start, end) in "
        "microseconds (end INT64_MAX: open). Returns one buffer per window, None where no "
        "frame lies in the window.");
  m.def("has_turbojpeg", &has_turbojpeg,
        "Whether this build decodes JPEG images with libjpeg-turbo (decoder=\"libjpeg-turbo\").");
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
}

}  // namespace spdl
