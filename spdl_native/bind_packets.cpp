#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <cstdint>

#include "bindings.h"
#include "decode_session.h"
#include "display_matrix.h"
#include "gil_release.h"
#include "packets.h"

namespace nb = nanobind;

namespace spdl {
namespace {

// The most frames a decoder holds back to reorder (H.264's max_dec_frame_buffering).
constexpr size_t kMaxReorderedFrames = 16;

// Packets::described(), which may decode a frame: with the GIL released.
CodecParams described(const Packets& packets) {
  GilRelease release;
  const auto reading = packets.reading();
  return packets.described();
}

// Appends the bytes `data` exposes through the buffer protocol.
void add_buffer(Packets& self, nb::handle data, int64_t pts, int64_t dts, int64_t duration,
                Packets::Flags flags, const Packets::SideData& side, bool to_lookahead = false) {
  Py_buffer view;
  if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_SIMPLE) != 0) {
    throw nb::python_error();
  }
  try {
    const auto changing = self.changing();
    self.add(static_cast<const uint8_t*>(view.buf), static_cast<size_t>(view.len), pts, dts,
             duration, flags, side, to_lookahead);
  } catch (...) {
    PyBuffer_Release(&view);
    throw;
  }
  PyBuffer_Release(&view);
}

void add_packet(Packets& self, nb::handle data, int64_t pts, int64_t dts, int64_t duration,
                bool is_key, const std::vector<std::pair<std::string, nb::bytes>>& side_data) {
  Packets::SideData side;
  for (const auto& [name, bytes] : side_data) {
    side.emplace_back(name, std::string(bytes.c_str(), bytes.size()));
  }
  add_buffer(self, data, pts, dts, duration, {is_key, false}, side);
}

// Attribute names, interned once: they are looked up for every packet.
nb::handle interned(const char* text) {
  PyObject* name = PyUnicode_InternFromString(text);
  if (!name) {
    throw nb::python_error();
  }
  return name;  // kept for the life of the process
}

// An int attribute, or `missing` when it is None.
int64_t int_attr(nb::handle obj, nb::handle attr, int64_t missing) {
  nb::object value = nb::getattr(obj, attr);
  if (value.is_none()) {
    return missing;
  }
  const long long v = PyLong_AsLongLong(value.ptr());
  if (v == -1 && PyErr_Occurred()) {
    throw nb::python_error();
  }
  return v;
}

// Reads what `add` takes from a demuxed packet (PyAV's av.Packet, through its
// Python attributes) in one native call: a Python function doing the same cost
// 1.5 us per packet, a third of the demux time of an AAC track (2,585 packets).
struct PacketAttrs {
  nb::handle size = interned("size"), pts = interned("pts"), dts = interned("dts"),
             duration = interned("duration"), is_key = interned("is_keyframe"),
             is_discard = interned("is_discard"), side_data = interned("iter_sidedata"),
             desc = interned("data_desc");
};

const PacketAttrs& attrs() {
  static const PacketAttrs names;
  return names;
}

void add_fields(Packets& self, nb::handle packet, int64_t pts, int64_t dts,
                bool to_lookahead = false) {
  const int64_t duration = int_attr(packet, attrs().duration, 0);
  const int is_key = PyObject_IsTrue(nb::getattr(packet, attrs().is_key).ptr());
  // Video only (edit lists cut frames; audio's priming is side data), and optional: a
  // packet-like object without it (a test's, an older PyAV's) is shown.
  const int is_discard =
      self.media_type != MediaType::Video
          ? 0
          : PyObject_IsTrue(nb::getattr(packet, attrs().is_discard, nb::handle(Py_False)).ptr());
  if (is_key < 0 || is_discard < 0) {
    throw nb::python_error();
  }
  Packets::SideData side;
  for (nb::handle item : nb::getattr(packet, attrs().side_data)()) {
    nb::object bytes = nb::steal(PyBytes_FromObject(item.ptr()));
    if (!bytes) {
      throw nb::python_error();
    }
    nb::object desc = nb::getattr(item, attrs().desc);
    if (!PyUnicode_Check(desc.ptr())) {
      throw nb::type_error("a packet's side data names its type by a str data_desc");
    }
    side.emplace_back(nb::cast<std::string>(desc),
                      std::string(PyBytes_AS_STRING(bytes.ptr()),
                                  static_cast<size_t>(PyBytes_GET_SIZE(bytes.ptr()))));
  }
  add_buffer(self, packet, pts, dts, duration, {is_key != 0, is_discard != 0}, side, to_lookahead);
}

void add_demuxed(Packets& self, nb::handle packet) {
  const int64_t pts = int_attr(packet, attrs().pts, AV_NOPTS_VALUE);
  add_fields(self, packet, pts, int_attr(packet, attrs().dts, AV_NOPTS_VALUE));
}

// Puts the packet that reached a window's end and up to `count - 1` more in the
// window's lookahead (decode_session.h). They lie past the window: a packet the
// demuxer cannot read there ends the lookahead, not the demux.
void add_lookahead(Packets& self, nb::handle demuxer, nb::object first, size_t count) {
  nb::object packet = std::move(first);
  for (size_t added = 0; added < count;) {
    if (!packet) {
      packet = nb::steal(PyIter_Next(demuxer.ptr()));
      if (!packet) {
        PyErr_Clear();
        return;
      }
    }
    try {
      if (int_attr(packet, attrs().size, 0) != 0) {
        add_fields(self, packet, int_attr(packet, attrs().pts, AV_NOPTS_VALUE),
                   int_attr(packet, attrs().dts, AV_NOPTS_VALUE), /*to_lookahead=*/true);
        ++added;
      }
    } catch (const nb::python_error&) {
      return;
    }
    packet = nb::object();
  }
}

// The packet loop of a demux in one native call, so that no Python code runs per
// packet: on a minute of AAC, the Python loop cost 0.7 us of the 3.7 us a packet
// took to demux.
bool add_demuxed_from(Packets& self, nb::handle demuxer, size_t limit, std::optional<double> end,
                      size_t lookahead) {
  if (!PyIter_Check(demuxer.ptr())) {
    throw nb::type_error("demuxer must be an iterator of packets");
  }
  const NativeCall call;  // PyAV releases the GIL under this frame
  for (size_t added = 0; added < limit;) {
    if (must_park()) {  // PyAV would take the GIL back under this frame (GilRelease)
      PyEval_SaveThread();
      park();
    }
    nb::object packet = nb::steal(PyIter_Next(demuxer.ptr()));
    if (!packet) {
      if (PyErr_Occurred()) {
        throw nb::python_error();
      }
      return false;
    }
    if (int_attr(packet, attrs().size, 0) == 0) {
      continue;  // the demuxer's end-of-stream marker
    }
    const int64_t pts = int_attr(packet, attrs().pts, AV_NOPTS_VALUE);
    const int64_t dts = int_attr(packet, attrs().dts, AV_NOPTS_VALUE);
    // A frame shown before `end` is decoded before it, so stop on decode order;
    // reordered B-frames are complete once dts passes `end`. Matroska gives no dts
    // to the first packets after a seek: a frame shown after `end` may still precede
    // B-frames shown before it, so those packets stop the read only after as many
    // as a decoder may reorder.
    // Where packet times are decode times (display_order_clock.h), a GOP's frames
    // are timed only once all of them are decoded: the read stops at a keyframe.
    bool past_end = false;
    if (end && dts != AV_NOPTS_VALUE) {
      past_end = static_cast<double>(dts) >= *end &&
                 (!self.params.pts_in_decode_order ||
                  PyObject_IsTrue(nb::getattr(packet, attrs().is_key).ptr()) > 0);
    } else if (end && pts != AV_NOPTS_VALUE && static_cast<double>(pts) >= *end) {
      past_end = ++self.undated_past_end > kMaxReorderedFrames;
    }
    if (past_end) {
      if (lookahead > 0) {
        add_lookahead(self, demuxer, std::move(packet), lookahead);
      }
      return false;
    }
    add_fields(self, packet, pts, dts);
    ++added;
  }
  return true;
}

// Windows of one streaming demux share a decoder (decode_session.h).
void join_decode_session(Packets& self, const Packets* previous) {
  if (self.media_type != MediaType::Video) {
    throw std::invalid_argument("Only video packets share a decoder, not " + self.repr() + ".");
  }
  if (self.session) {
    throw std::invalid_argument(self.repr() + " are in a decode session already.");
  }
  const auto changing = self.changing();
  if (!previous) {
    self.session = std::make_shared<DecodeSession>();
    return;
  }
  if (!previous->session) {
    throw std::invalid_argument(previous->repr() + " are in no decode session.");
  }
  if (previous->src != self.src || previous->time_base != self.time_base ||
      previous->params.codec_name != self.params.codec_name ||
      previous->params.extradata != self.params.extradata) {
    throw std::invalid_argument(self.repr() + " are not of the stream of " + previous->repr() +
                                ": they cannot share its decoder.");
  }
  self.session = previous->session;
  self.session_index = previous->session_index + 1;
}

// (the session, this window's place in it), to order the decodes of a session's windows.
std::optional<std::pair<uintptr_t, int64_t>> session_window(const Packets& self) {
  if (!self.session) {
    return std::nullopt;
  }
  return std::make_pair(reinterpret_cast<uintptr_t>(self.session.get()), self.session_index);
}

std::optional<std::map<std::string, int64_t>> session_stats(const Packets& self) {
  if (!self.session) {
    return std::nullopt;
  }
  const DecodeSession::Stats stats = self.session->stats();
  return std::map<std::string, int64_t>{{"packets_decoded", stats.packets_decoded},
                                        {"windows_continued", stats.windows_continued},
                                        {"windows_started", stats.windows_started},
                                        {"windows_redone", stats.windows_redone}};
}

// The lookahead as packets of their own (for a demux helper's reply, which carries
// packets only), moved out of `self`.
std::unique_ptr<Packets> split_lookahead(Packets& self) {
  const auto changing = self.changing();
  std::unique_ptr<Packets> split;
  switch (self.media_type) {
    case MediaType::Image:
      split = std::make_unique<ImagePackets>(self.src, self.params, self.time_base);
      break;
    case MediaType::Audio:
      split = std::make_unique<AudioPackets>(self.src, self.params, self.time_base);
      break;
    case MediaType::Video:
      split = std::make_unique<VideoPackets>(self.src, self.params, self.time_base);
      break;
  }
  split->frame_rate = self.frame_rate;
  split->window = self.window;
  split->packets = std::move(self.lookahead);
  self.lookahead.clear();
  return split;
}

void attach_lookahead(Packets& self, Packets& lookahead) {
  if (&lookahead == &self) {
    throw std::invalid_argument(self.repr() + " cannot be their own lookahead.");
  }
  if (lookahead.media_type != self.media_type || lookahead.src != self.src ||
      lookahead.time_base != self.time_base) {
    throw std::invalid_argument(lookahead.repr() + " do not follow " + self.repr() + ".");
  }
  const auto changing = self.changing();
  const auto changing_lookahead = lookahead.changing();
  for (auto& packet : lookahead.packets) {
    self.lookahead.push_back(std::move(packet));
  }
  lookahead.packets.clear();
}

// Docstrings (Google style; the API page renders them with mkdocstrings, and
// tests/test_docstring_examples.py runs their examples).

constexpr const char* kPacketsDoc = R"(Demuxed packets of one stream, ready for decoding.

The base class of ``ImagePackets``, ``AudioPackets`` and ``VideoPackets``. Packets
own a copy of the compressed bytes and the codec parameters (by name), so the
source may be closed once they exist. Pass them to ``decode_packets``.)";

constexpr const char* kImagePacketsDoc = R"(The packet of one still image.

Returned by ``demux_media("image", ...)``; ``decode_packets`` turns it into
``ImageFrames``. The sample properties (``sample_rate`` …) are ``0`` / ``""``.

Example:
    >>> packets = spdl.io.demux_media("image", "foo.jpg").result()
    >>> packets.codec_name, packets.width, packets.height, len(packets)
    ('mjpeg', 320, 240, 1))";

constexpr const char* kAudioPacketsDoc = R"(Packets of an audio stream, optionally for a window.

Returned by ``demux_media("audio", ...)`` and ``streaming_demux("audio", ...)``;
``decode_packets`` turns them into ``AudioFrames``, cut to the window's samples.
The picture properties (``width`` …) are ``0`` / ``""``.

Example:
    >>> packets = spdl.io.demux_media("audio", "speech.wav", timestamp=(0, 1)).result()
    >>> packets.codec_name, packets.sample_rate, packets.num_channels, packets.timestamp
    ('pcm_s16le', 16000, 2, (0.0, 1.0)))";

constexpr const char* kVideoPacketsDoc = R"(Packets of a video stream, optionally for a window.

Returned by ``demux_media("video", ...)`` and ``streaming_demux("video", ...)``.
For a window they include the packets the decoder needs around it (from the key
frame before its start), so ``len(packets)`` can exceed the number of frames in the
window; ``decode_packets`` keeps exactly the frames whose presentation time lies
in it. The sample properties (``sample_rate`` …) are ``0`` / ``""``.

Example:
    >>> packets = spdl.io.demux_media("video", "clip.mp4", timestamp=(1, 2)).result()
    >>> packets.codec_name, packets.frame_rate, packets.width, packets.height
    ('h264', (30, 1), 96, 64)
    >>> len(spdl.io.decode_packets(packets).result())
    30)";

constexpr const char* kMediaPacketsInitDoc = R"(Creates empty packets; the demux layer fills them.

Users get packets from ``demux_media`` / ``streaming_demux`` instead.

Args:
    src: What the packets come from, as error messages name it.
    params: The stream's codec parameters.
    time_base: The stream's time base ``(numerator, denominator)``.)";

constexpr const char* kAddDoc = R"(Appends a copy of one packet's bytes (used by the demux layer).

Args:
    data: The compressed bytes: any object with the buffer protocol.
    pts: Presentation timestamp, in ``time_base`` units.
    dts: Decoding timestamp, in ``time_base`` units.
    duration: Duration, in ``time_base`` units.
    is_key: Whether the packet starts a key frame.
    side_data: ``(name, bytes)`` pairs of FFmpeg packet side data, by FFmpeg's
        descriptive name; names this FFmpeg does not know are skipped.

Raises:
    TypeError: If ``data`` does not support the buffer protocol.
    ValueError: If another thread is decoding these packets: they cannot change
        until that decode has ended.)";

constexpr const char* kAddDemuxedDoc =
    R"(Appends a copy of one packet PyAV demuxed (used by the demux layer).

Reads ``pts``, ``dts``, ``duration``, ``is_keyframe`` and ``iter_sidedata()``
of the packet and takes its bytes through the buffer protocol; ``None``
timestamps are unknown. The same as ``add`` with those values, in one call.

Args:
    packet: An ``av.Packet``.

Raises:
    AttributeError: If ``packet`` lacks one of those attributes.
    TypeError: If ``packet`` lacks the buffer protocol, or an attribute has the wrong type.
    OverflowError: If a timestamp does not fit in 64 bits.
    ValueError: If another thread is decoding these packets: they cannot change
        until that decode has ended.)";

constexpr const char* kAddDemuxedFromDoc =
    R"(Appends copies of the packets a PyAV demuxer yields next (used by the demux layer).

Takes packets from ``demuxer`` as ``add_demuxed`` does, skipping empty ones, until
``limit`` were added, the demuxer is exhausted, or a packet's decode time (its
``dts``, else its ``pts``) reaches ``end``; that packet is dropped. No Python code
runs per packet.

Args:
    demuxer: An iterator of ``av.Packet``, e.g. ``container.demux(stream)``.
    limit: The most packets to add.
    end: Stop at the first packet whose decode time is at least this, in the
        stream's time base; ``None``: no end.
    lookahead: Keep that packet and up to ``lookahead - 1`` more aside as the
        window's lookahead (see ``join_decode_session``) instead of dropping it; a
        packet the demuxer fails to read there ends the lookahead without an error.

Returns:
    ``True`` when ``limit`` packets were added (more may follow), ``False`` when
    the demuxer ended or a packet reached ``end``.

Raises:
    TypeError: If ``demuxer`` is not an iterator, or as ``add_demuxed``.
    ValueError: If another thread is decoding these packets: they cannot change
        until that decode has ended.
    Exception: Whatever the demuxer raises, unchanged.)";

constexpr const char* kJoinDecodeSessionDoc =
    R"(Shares the decoder of the streaming demux's window before (used by the demux layer).

``decode_packets`` of a window in a session continues the decoder where the
window before stopped, when that is where this window's packets lead (windows
decoded in order), instead of decoding again from the keyframe before its start.
Windows decoded out of order, overlapping ones, or several at once decode as
before. The frames are the same either way.

Args:
    previous: The window before, of the same stream; ``None`` starts a session.

Raises:
    ValueError: If the packets are not video, are in a session already, or are not
        of ``previous``' stream, or if another thread is decoding them.)";

constexpr const char* kDecodeSessionStatsDoc =
    R"(What the decode session of these packets did, or ``None`` outside one.

``packets_decoded``: packets its windows sent to a decoder (lookahead included);
``windows_continued``: windows that continued the decoder of the window before;
``windows_started``: windows that opened a decoder of their own;
``windows_redone``: windows decoded independently after all (the stream's frames
did not come out in order, or a decode failed).)";

constexpr const char* kDecodeSessionWindowDoc =
    R"(``(session, index)``: a key of the decode session these packets are in, and
their window's place among its windows (0, 1, ... in demux order); ``None`` outside
one. The key is the same for every window of the session while any of them lives.)";

template <typename T>
void bind_media_packets(nb::module_& m, const char* name, const char* doc) {
  nb::class_<T, Packets>(m, name, doc)
      .def(nb::init<std::string, CodecParams, Rational>(), nb::arg("src"), nb::arg("params"),
           nb::arg("time_base"), kMediaPacketsInitDoc);
}

}  // namespace

void register_packets(nb::module_& m) {
  nb::class_<CodecParams>(m, "CodecParams", "Codec parameters, by name, for the native decoder.")
      .def(nb::init<>())
      .def_rw("codec_name", &CodecParams::codec_name)
      .def_prop_rw(
          "extradata",
          [](const CodecParams& p) { return nb::bytes(p.extradata.data(), p.extradata.size()); },
          [](CodecParams& p, nb::bytes b) { p.extradata.assign(b.c_str(), b.size()); })
      .def_rw("bit_rate", &CodecParams::bit_rate)
      .def_rw("bits_per_coded_sample", &CodecParams::bits_per_coded_sample)
      .def_rw("codec_tag", &CodecParams::codec_tag)
      .def_rw("pts_in_decode_order", &CodecParams::pts_in_decode_order)
      .def_rw("block_align", &CodecParams::block_align)
      .def_rw("frame_size", &CodecParams::frame_size)
      .def_rw("profile", &CodecParams::profile)
      .def_rw("level", &CodecParams::level)
      .def_rw("width", &CodecParams::width)
      .def_rw("height", &CodecParams::height)
      .def_rw("pix_fmt", &CodecParams::pix_fmt)
      .def_rw("sample_aspect_ratio", &CodecParams::sample_aspect_ratio)
      .def_rw("color_space", &CodecParams::color_space)
      .def_rw("color_range", &CodecParams::color_range)
      .def_rw("sample_rate", &CodecParams::sample_rate)
      .def_rw("num_channels", &CodecParams::num_channels)
      .def_rw("channel_layout", &CodecParams::channel_layout)
      .def_rw("channel_names", &CodecParams::channel_names)
      .def_rw("sample_fmt", &CodecParams::sample_fmt)
      .def_prop_rw(
          "display_matrix",
          [](const CodecParams& p) {
            return nb::bytes(p.display_matrix.data(), p.display_matrix.size());
          },
          [](CodecParams& p, nb::bytes b) { p.display_matrix.assign(b.c_str(), b.size()); });

  nb::class_<Packets>(m, "Packets", kPacketsDoc)
      .def_prop_ro(
          "media_type", [](const Packets& p) { return to_string(p.media_type); },
          "``\"image\"``, ``\"audio\"`` or ``\"video\"``.")
      .def_ro("src", &Packets::src,
              "The source, as messages name it: its path, or a description such as "
              "``<bytes of N bytes>``.")
      .def_prop_ro(
          "codec_name", [](const Packets& p) { return p.params.codec_name; },
          "FFmpeg's name of the codec, e.g. ``\"h264\"``, ``\"mjpeg\"``, ``\"pcm_s16le\"``.")
      .def_ro("time_base", &Packets::time_base,
              "The stream's time base ``(numerator, denominator)``: timestamps count in "
              "these fractions of a second.")
      .def_prop_rw(
          "frame_rate", [](const Packets& p) { return p.frame_rate; },
          [](Packets& p, Rational rate) {
            const auto changing = p.changing();
            p.frame_rate = rate;
          },
          "A video's average frame rate ``(numerator, denominator)``; ``(0, 1)`` when "
          "unknown or not video. Setting it while another thread decodes the packets raises "
          "``ValueError``.")
      .def_prop_rw(
          "timestamp", [](const Packets& p) { return p.window; },
          [](Packets& p, std::optional<std::pair<double, double>> window) {
            const auto changing = p.changing();
            p.window = window;
          },

          "The half-open window ``(start, end)`` in seconds these packets were demuxed "
          "for, or ``None`` for the whole stream; decoding keeps only what lies in it. Setting "
          "it while another thread decodes the packets raises ``ValueError``.")
      .def_prop_ro("pts", &Packets::pts_seconds,
                   "Presentation time of each packet in seconds, in demux order (NaN where "
                   "the container gives none).")
      .def_prop_ro(
          "width", [](const Packets& p) { return p.params.width; },
          "Width of the coded picture in pixels; ``0`` for audio.")
      .def_prop_ro(
          "height", [](const Packets& p) { return p.params.height; },
          "Height of the coded picture in pixels; ``0`` for audio.")
      .def_prop_ro(
          "display_orientation",
          [](const Packets& p) { return display_orientation(p.params.display_matrix); },
          "How a player shows the frames, by the container's display matrix: an EXIF "
          "orientation, ``1`` as stored (also when there is no matrix, or it turns by an angle "
          "that is not a multiple of 90 degrees), ``3`` turned by 180 degrees, ``6`` turned 90 "
          "degrees clockwise, ``8`` 90 degrees counter-clockwise, ``2``/``4`` mirrored left to "
          "right / top to bottom, ``5``/``7`` transposed / transversed. ``width`` and "
          "``height`` are the stored picture's.")
      .def_prop_ro(
          "pix_fmt", [](const Packets& p) { return described(p).pix_fmt; },
          "The decoder's pixel format, e.g. ``\"yuv420p\"``; ``\"\"`` for audio. For MP4-family "
          "video (demuxed without the probe decode), learned from the first keyframe when "
          "first read.")
      .def_prop_ro(
          "sample_rate", [](const Packets& p) { return p.params.sample_rate; },
          "Audio samples per second; ``0`` for images and video.")
      .def_prop_ro(
          "num_channels", [](const Packets& p) { return p.params.num_channels; },
          "Number of audio channels; ``0`` for images and video.")
      .def_prop_ro(
          "sample_fmt", [](const Packets& p) { return p.params.sample_fmt; },
          "The decoder's sample format, e.g. ``\"s16\"``; ``\"\"`` for images and video.")
      .def_prop_ro(
          "params", [](const Packets& p) { return described(p); },
          "A copy of the codec parameters (by name) the native decoder is opened with, with "
          "``pix_fmt`` and colour as ``pix_fmt`` tells.")
      .def("add", &add_packet, nb::arg("data"), nb::arg("pts"), nb::arg("dts"), nb::arg("duration"),
           nb::arg("is_key"),
           nb::arg("side_data") = std::vector<std::pair<std::string, nb::bytes>>{}, kAddDoc)
      .def("add_demuxed", &add_demuxed, nb::arg("packet"), kAddDemuxedDoc)
      .def("add_demuxed_from", &add_demuxed_from, nb::arg("demuxer"), nb::arg("limit"),
           nb::arg("end").none() = nb::none(), nb::arg("lookahead") = 0, kAddDemuxedFromDoc)
      .def("join_decode_session", &join_decode_session, nb::arg("previous").none(),
           kJoinDecodeSessionDoc)
      .def_prop_ro("decode_session_stats", &session_stats, kDecodeSessionStatsDoc)
      .def_prop_ro("decode_session_window", &session_window, kDecodeSessionWindowDoc)
      .def("split_lookahead", &split_lookahead,
           "Moves the window's lookahead packets out, into packets of their own (for a demux "
           "helper's reply). ``ValueError`` while another thread decodes the packets.")
      .def("attach_lookahead", &attach_lookahead, nb::arg("lookahead"),
           "Moves the packets of ``lookahead`` (from ``split_lookahead``) into this window's "
           "lookahead. ``ValueError`` while another thread decodes either.")
      .def(
          "__len__", [](const Packets& p) { return p.packets.size(); }, "The number of packets.")
      .def("__repr__", [](const Packets& p) { return p.repr(described(p)); });

  bind_media_packets<ImagePackets>(m, "ImagePackets", kImagePacketsDoc);
  bind_media_packets<AudioPackets>(m, "AudioPackets", kAudioPacketsDoc);
  bind_media_packets<VideoPackets>(m, "VideoPackets", kVideoPacketsDoc);
}

}  // namespace spdl
