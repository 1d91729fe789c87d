#include "display_matrix.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "exif_orientation.h"

namespace spdl {
namespace {

// -1, 0 or 1: an entry far smaller than the largest counts as 0 (a turn by
// 90 degrees stores cos() of it, which rounds to 0 but need not).
int sign_of(int64_t value, int64_t largest) {
  if (std::llabs(value) * 1000 < largest) {
    return 0;
  }
  return value > 0 ? 1 : -1;
}

}  // namespace

int display_orientation(const std::string& matrix) {
  std::array<int32_t, 9> m{};
  if (matrix.size() != sizeof(m)) {
    return 1;
  }
  std::memcpy(m.data(), matrix.data(), sizeof(m));
  // (a b u; c d v; x y w) maps the stored sample at column p, row q to column
  // a*p + c*q + x and row b*p + d*q + y of the shown picture (libavutil/display.h).
  const int64_t a = m[0], b = m[1], c = m[3], d = m[4];
  const int64_t largest = std::max({std::llabs(a), std::llabs(b), std::llabs(c), std::llabs(d)});
  if (largest == 0) {
    return 1;
  }
  const int sa = sign_of(a, largest), sb = sign_of(b, largest);
  const int sc = sign_of(c, largest), sd = sign_of(d, largest);
  if (sb == 0 && sc == 0 && sa != 0 && sd != 0) {  // columns stay columns
    if (sa > 0) {
      return sd > 0 ? 1 : 4;  // as stored / mirrored top to bottom
    }
    return sd > 0 ? 2 : 3;  // mirrored left to right / turned by 180 degrees
  }
  if (sa == 0 && sd == 0 && sb != 0 && sc != 0) {  // columns become rows
    if (sb > 0) {
      return sc > 0 ? 5 : 6;  // transposed / turned 90 degrees clockwise
    }
    return sc > 0 ? 8 : 7;  // turned 90 degrees counter-clockwise / transversed
  }
  return 1;  // a turn by another angle: kept as stored
}

UprightFrames::UprightFrames(const Packets& packets, bool apply)
    : orientation_(apply && packets.media_type == MediaType::Video
                       ? display_orientation(packets.params.display_matrix)
                       : 1) {}

AVFrame* UprightFrames::prepare(const AVFrame* frame) {
  made_ = orient_frame(frame, orientation_);
  if (swaps_sides(orientation_) && made_->sample_aspect_ratio.num > 0) {
    std::swap(made_->sample_aspect_ratio.num, made_->sample_aspect_ratio.den);
  }
  return made_.get();
}

}  // namespace spdl
