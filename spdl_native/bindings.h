// One register function per area; module.cpp combines them.
#pragma once

#include <nanobind/nanobind.h>

namespace spdl {

void register_packets(nanobind::module_& m);
void register_packet_import(nanobind::module_& m);
void register_frames(nanobind::module_& m);
void register_buffer(nanobind::module_& m);
void register_decode(nanobind::module_& m);
void register_convert(nanobind::module_& m);
void register_image_batch(nanobind::module_& m);
void register_bitstream(nanobind::module_& m);
void register_frame_select(nanobind::module_& m);
void register_build_info(nanobind::module_& m);

}  // namespace spdl
