// Python bindings of bitstream_filter.h, plus the packet table the NVDEC path
// feeds to PyNvVideoCodec.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/unique_ptr.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <tuple>
#include <vector>

#include "bindings.h"
#include "bitstream_filter.h"
#include "gil_release.h"

namespace nb = nanobind;

namespace spdl {
namespace {

using PacketRow = std::tuple<uintptr_t, int64_t, int64_t, bool, bool>;

// (address, size, pts, is_key, shown) of each packet; a packet not shown is one an
// edit list starts after (decoded for reference only). The addresses stay valid
// while `packets` lives: the caller keeps it referenced for as long as it reads them.
std::vector<PacketRow> packet_table(const Packets& packets) {
  std::vector<PacketRow> rows;
  rows.reserve(packets.packets.size());
  for (const auto& packet : packets.packets) {
    const int64_t pts = packet->pts != AV_NOPTS_VALUE ? packet->pts : packet->dts;
    rows.emplace_back(reinterpret_cast<uintptr_t>(packet->data), packet->size, pts,
                      (packet->flags & AV_PKT_FLAG_KEY) != 0,
                      (packet->flags & AV_PKT_FLAG_DISCARD) == 0);
  }
  return rows;
}

}  // namespace

void register_bitstream(nb::module_& m) {
  m.def("annexb_filter", &annexb_filter, nb::arg("codec_name"),
        "The bitstream filter that converts ``codec_name`` packets to Annex B, or \"\".");
  m.def(
      "apply_bsf",
      [](const Packets& packets, const std::string& name) {
        const auto reading = packets.reading();
        return apply_bsf(packets, name);
      },
      nb::arg("packets"), nb::arg("name"), nb::call_guard<GilRelease>(),
      "Returns new packets: every packet run through FFmpeg's bitstream filter ``name``.");
  m.def("packet_table", &packet_table, nb::arg("packets"),
        "(address, size, pts, is_key, shown) of each packet; valid while ``packets`` lives.");
}

}  // namespace spdl
