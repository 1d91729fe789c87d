// Python bindings of packet_import.h and demux_channel.h: how the packets of a
// demux helper process reach the loading process (GIL released throughout).
#include <nanobind/stl/string.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <charconv>

#include "audio_decoder.h"
#include "bindings.h"
#include "buffer.h"
#include "decode_plan.h"
#include "demux_channel.h"
#include "gil_release.h"
#include "packet_import.h"

namespace nb = nanobind;

namespace spdl {
namespace {

// The bytes an object exposes through the buffer protocol (none for None), held
// for as long as this lives: a bytearray cannot be resized meanwhile.
class BufferView {
 public:
  explicit BufferView(nb::handle obj) {
    if (obj.is_none()) {
      return;
    }
    if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_SIMPLE) != 0) {
      throw nb::python_error();
    }
    held_ = true;
  }
  BufferView(const BufferView&) = delete;
  BufferView& operator=(const BufferView&) = delete;
  ~BufferView() {
    if (held_) {
      PyBuffer_Release(&view_);
    }
  }
  const uint8_t* data() const { return held_ ? static_cast<const uint8_t*>(view_.buf) : nullptr; }
  size_t size() const { return held_ ? static_cast<size_t>(view_.len) : 0; }

 private:
  Py_buffer view_{};
  bool held_ = false;
};

nb::tuple as_tuple(HelperReply reply) {
  return nb::make_tuple(to_string(reply.kind), nb::bytes(reply.text.data(), reply.text.size()),
                        nb::cast(std::move(reply.packets)));
}

// The request's buffers are taken with the GIL, the exchange runs without it.
nb::tuple call(int sock, nb::bytes request, nb::handle data, bool ask_next,
               const CancelToken* cancel) {
  const std::string text(request.c_str(), request.size());
  const BufferView source(data);
  HelperReply reply;
  {
    GilRelease release;
    reply = call_helper(sock, text, source.data(), source.size(), ask_next, cancel);
  }
  return as_tuple(std::move(reply));
}

nb::tuple next(int sock, bool ask_next, const CancelToken* cancel) {
  HelperReply reply;
  {
    GilRelease release;
    reply = next_from_helper(sock, ask_next, cancel);
  }
  return as_tuple(std::move(reply));
}

// The stream's duration as the helper writes it after an audio chunk's "I"
// (Python's repr of a float); 0 (unknown) for anything else.
double seconds_of(const std::string& text) {
  double seconds = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  return error == std::errc() && end == text.data() + text.size() ? seconds : 0.0;
}

// A whole audio load in one call: asks the helper for the stream in chunks, opens
// the decoder on the first, decodes each chunk while the helper demuxes the next,
// and finishes once the helper says the stream ended.
nb::tuple load_audio(int sock, nb::bytes request, nb::handle data, const DecodePlan& plan,
                     const CancelToken* cancel) {
  const std::string text(request.c_str(), request.size());
  const BufferView source(data);
  HelperReply end;
  std::unique_ptr<CPUBuffer> buffer;
  {
    GilRelease release;
    HelperReply first = call_helper(sock, text, source.data(), source.size(), false, cancel);
    if (first.kind == HelperReply::Kind::Item && first.packets.size() != 1) {
      first.kind = HelperReply::Kind::Broken;
      first.text = "an audio chunk must hold one Packets";
    }
    if (first.kind != HelperReply::Kind::Item) {
      end = std::move(first);
    } else {
      AudioDecodeStream stream(*first.packets[0], plan, seconds_of(first.text));
      stream.feed(*first.packets[0], cancel);
      first.packets.clear();
      end = receive_until_end(
          sock,
          [&](std::vector<std::unique_ptr<Packets>>& chunk) {
            for (const auto& packets : chunk) {
              stream.feed(*packets, cancel);
            }
          },
          cancel);
      if (end.kind == HelperReply::Kind::End) {
        buffer = stream.finish();
      }
    }
  }
  return nb::make_tuple(to_string(end.kind), nb::bytes(end.text.data(), end.text.size()),
                        buffer ? nb::cast(std::move(buffer)) : nb::none());
}

// The kind of reply that ended the drain (`drain_reply`), as `call` names kinds.
const char* drain(int sock, double timeout_s, bool until_end) {
  return to_string(drain_reply(sock, static_cast<int>(timeout_s * 1000), until_end));
}

nb::bytes packed_bytes(const std::vector<const Packets*>& packets) {
  std::string block;
  {
    GilRelease release;
    const auto reading = reading_all(packets);
    block.resize(packed_size(packets));
    pack_into(packets, reinterpret_cast<uint8_t*>(block.data()), block.size());
  }
  return nb::bytes(block.data(), block.size());
}

constexpr const char* kCallDoc =
    R"(Sends a request to a demux helper process and waits for its reply.

Used by ``spdl.io._runtime.demux_pool``. The whole exchange (the source's bytes copied
into a memfd, the request sent, the wait, the packets rebuilt from the reply's
shared memory) runs with the GIL released.

Args:
    sock: The loading process's end of the helper's SOCK_SEQPACKET socket.
    request: The request's text.
    data: The source's bytes (any buffer), or ``None`` for a path.
    ask_next: Ask for the stream's next item as soon as this one arrives.
    cancel: Stops the wait when set (the helper is then mid-request).

Returns:
    ``(kind, text, packets)``: kind is ``"item"`` (packets), ``"error"`` (text
    describes the failure), ``"closed"`` (the helper is gone), ``"cancelled"``,
    ``"broken"`` (a reply the protocol does not allow; text says why) or
    ``"no_memory"`` (an item came but this process could not hold it; text says
    why; the helper is fine) or ``"unread"`` (the helper was gone before it read
    the request: it died while idle).)";

constexpr const char* kNextDoc =
    R"(Waits for the stream item asked for last (see ``call_demux_helper``).

Args:
    sock: The helper's socket.
    ask_next: Ask for the item after it as soon as it arrives.
    cancel: Stops the wait when set.

Returns:
    ``(kind, text, packets)`` as ``call_demux_helper``.)";

constexpr const char* kLoadAudioDoc =
    R"(Loads audio that a demux helper process demuxes: one call, GIL released.

Sends the request (``"audio_chunks"``) as ``call_demux_helper`` does, opens an
``AudioDecodeStream`` with ``plan`` on the first chunk the helper sends, feeds it
each chunk while the helper demuxes the next, and finishes it once the helper
says the stream ended.

Args:
    sock: The helper's socket.
    request: The request's text.
    data: The source's bytes, or ``None`` for a path.
    plan: The decode (``_decode.make_plan``).
    cancel: Stops the decode and the wait when set.

Returns:
    ``(kind, text, buffer)``: kind ``"end"`` with the decoded buffer, or
    ``"error"``, ``"closed"``, ``"cancelled"``, ``"broken"``, ``"no_memory"``
    (buffer ``None``) as ``call_demux_helper`` returns them; after ``"cancelled"``
    and ``"no_memory"`` the helper is still sending chunks.

Raises:
    MediaError: The audio cannot be decoded, or the decode was cancelled; the
        helper may still be sending.)";

constexpr const char* kDrainDoc =
    R"(Drops the reply a demux helper process owes, waiting for it at most ``timeout_s``.

For a load that left early (a stream closed, a cancelled wait): the reply's packets
are not unpacked. The wait runs with the GIL released, and runs no signal handler.

Args:
    sock: The helper's socket.
    timeout_s: How long to wait for the reply, in seconds.
    until_end: Drop every item up to the stream's end (an audio load's chunks).

Returns:
    The kind of the reply that ended the wait: ``"item"`` (only without
    ``until_end``), ``"end"`` or ``"error"`` (the helper is idle again, or waits for
    the stream's ``"N"``/``"S"`` after an item), ``"closed"``, ``"broken"`` or
    ``"timed_out"``.)";

}  // namespace

void register_packet_import(nb::module_& m) {
  m.def(
      "pack_packets",
      [](const std::vector<const Packets*>& packets) {
        const auto reading = reading_all(packets);
        return pack_to_memfd(packets);
      },
      nb::arg("packets"), nb::call_guard<GilRelease>(),
      "Packs Packets into a new sealed memfd and returns its descriptor (the caller "
      "closes it); a demux helper process hands its packets over this way.");
  m.def("unpack_packets", &unpack_from_fd, nb::arg("fd"), nb::call_guard<GilRelease>(),
        "Rebuilds the Packets of a sealed memfd written by ``pack_packets`` (not closed): "
        "a block up to 1 MiB is copied, a larger one mapped.");
  m.def("packed_bytes", &packed_bytes, nb::arg("packets"),
        "The block ``pack_packets`` writes, as bytes: every field of the packets, for "
        "comparing two demuxes bit for bit.");
  m.def("call_demux_helper", &call, nb::arg("sock"), nb::arg("request"), nb::arg("data").none(),
        nb::arg("ask_next"), nb::arg("cancel").none(), kCallDoc);
  m.def("next_from_demux_helper", &next, nb::arg("sock"), nb::arg("ask_next"),
        nb::arg("cancel").none(), kNextDoc);
  m.def("load_audio_from_demux_helper", &load_audio, nb::arg("sock"), nb::arg("request"),
        nb::arg("data").none(), nb::arg("plan"), nb::arg("cancel").none(), kLoadAudioDoc);
  m.def("drain_demux_helper", &drain, nb::arg("sock"), nb::arg("timeout_s"), nb::arg("until_end"),
        nb::call_guard<GilRelease>(), kDrainDoc);
}

}  // namespace spdl
