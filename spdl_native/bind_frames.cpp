// Python bindings of frames.h: the decoded frames of each media type.
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "frames.h"

namespace nb = nanobind;

namespace spdl {
namespace {

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
sizes, formats, ``pts`` and ``len()`` stay readable, but converting or indexing them
again raises ``ValueError``.)";

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
constexpr const char* kWidthDoc = "Width of the frames in pixels.";
constexpr const char* kHeightDoc = "Height of the frames in pixels.";

}  // namespace

void register_frames(nb::module_& m) {
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
                   "Presentation time of each frame in seconds; still known once the "
                   "frames are consumed.")
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
}

}  // namespace spdl
