// Python bindings of frame_select.h: the frame table of a video's packets and
// the decode of exact frames (GIL released).
#include <nanobind/nanobind.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <tuple>
#include <vector>

#include "bindings.h"
#include "frame_select.h"
#include "gil_release.h"

namespace nb = nanobind;

namespace spdl {
namespace {

using Table = std::tuple<std::vector<int64_t>, std::vector<int64_t>, std::vector<int64_t>>;

Table frame_table_of(const std::vector<const Packets*>& spans) {
  const auto reading = reading_all(spans);
  FrameTable table = frame_table(spans);
  return {std::move(table.pts), std::move(table.durations), std::move(table.keyframes)};
}

constexpr const char* kFrameTableDoc =
    R"(The frames of a video stream as its packets tell them, without decoding.

Args:
    spans: VideoPackets of one stream (each in decode order).

Returns:
    ``(pts, durations, keyframes)``: each frame's presentation time in the
    stream's time base, ascending (the decode time where a packet has no pts);
    each frame's duration (0 where the container gives none); the positions in
    ``pts`` of the keyframes.)";

constexpr const char* kDecodeFramesAtDoc =
    R"(Decodes the frames shown at the given times into one buffer, GIL released.

One forward pass: GOPs without a wanted frame are skipped as a seek skips them,
packets after the last wanted frame are not sent, frames nobody asked for are
sent with ``AVDISCARD_NONREF`` (non-reference frames are not decoded), and a
repeated frame is decoded once and copied.

Args:
    spans: VideoPackets of one stream, in stream order, each from a keyframe.
    pts: The presentation time of each wanted frame in the stream's time base,
        in output order; repeats allowed.
    leading: The output's leading shape (``[]``: ``[len(pts)]``), e.g.
        ``[clips, frames_per_clip]``.
    plan: A DecodePlan without timing filters: the output's size and format.
    occurrences: Which of the frames that share each pts is wanted (0 for the
        first in decode order); empty: the first of each.

Returns:
    A CPUBuffer shaped ``leading`` + the shape of one image.

Raises:
    ValueError: Bad arguments, or frames of different sizes.
    MediaError: The decode fails, is cancelled, or a wanted frame does not
        come out of the decoder.)";

}  // namespace

void register_frame_select(nb::module_& m) {
  m.def("frame_table", &frame_table_of, nb::arg("spans"), nb::call_guard<GilRelease>(),
        kFrameTableDoc);
  m.def(
      "decode_frames_at",
      [](const std::vector<const Packets*>& spans, const std::vector<int64_t>& pts,
         const std::vector<int64_t>& leading, const DecodePlan& plan,
         const std::vector<int64_t>& occurrences) {
        const auto reading = reading_all(spans);
        return decode_frames_at(spans, pts, leading, plan, occurrences);
      },
      nb::arg("spans"), nb::arg("pts"), nb::arg("leading"), nb::arg("plan"),
      nb::arg("occurrences") = std::vector<int64_t>{}, nb::call_guard<GilRelease>(),
      kDecodeFramesAtDoc);
}

}  // namespace spdl
