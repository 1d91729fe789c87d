// Runs spdl's resampling and YUV -> RGB passes on random sizes and contents, in
// buffers exactly as large as the images (so that AddressSanitizer sees any read
// or write past them), and prints a hash of every output. Built once with the
// SIMD code and once with SPDL_SIMD_SCALAR, the two hashes must be equal.
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "resample.h"
#include "yuv_to_rgb.h"

namespace {

uint64_t hash = 1469598103934665603ULL;  // FNV-1a

void mix(const std::vector<uint8_t>& bytes) {
  for (uint8_t byte : bytes) {
    hash = (hash ^ byte) * 1099511628211ULL;
  }
}

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t size) {
  std::vector<uint8_t> bytes(size);
  for (auto& byte : bytes) {
    byte = static_cast<uint8_t>(rng());
  }
  return bytes;
}

}  // namespace

int main() {
  using namespace spdl;
  std::mt19937 rng(42);
  for (int trial = 0; trial < 3000; ++trial) {
    const auto filter = trial % 2 ? ResampleFilter::kTriangle : ResampleFilter::kHamming;

    // Shrinking mostly (the passes' use), enlarging too.
    const int src_w = 1 + rng() % 400, dst_w = 1 + rng() % (2 * src_w), rows = 1 + rng() % 5;
    const auto plane = random_bytes(rng, static_cast<size_t>(src_w) * rows);
    std::vector<uint8_t> narrow(static_cast<size_t>(dst_w) * rows);
    ColumnResampler(src_w, dst_w, filter).run(plane.data(), src_w, narrow.data(), dst_w, rows);
    mix(narrow);

    const int src_h = 1 + rng() % 300, dst_h = 1 + rng() % (2 * src_h);
    const int row_bytes = 1 + rng() % 100;
    const auto tall = random_bytes(rng, static_cast<size_t>(src_h) * row_bytes);
    std::vector<uint8_t> short_rows(static_cast<size_t>(dst_h) * row_bytes);
    RowResampler(src_h, dst_h, filter)
        .run(tall.data(), row_bytes, short_rows.data(), row_bytes, row_bytes);
    mix(short_rows);

    const int rgb_w = 1 + rng() % 120, rgb_h = 1 + rng() % 90;
    const int out_w = 1 + rng() % 160, out_h = 1 + rng() % 120;
    const auto image = random_bytes(rng, static_cast<size_t>(rgb_w) * rgb_h * 3);
    std::vector<uint8_t> resized(static_cast<size_t>(out_w) * out_h * 3);
    RgbResampler(rgb_w, rgb_h, out_w, out_h)
        .run(image.data(), rgb_w * 3, resized.data(), out_w * 3);
    mix(resized);

    const int width = 1 + rng() % 100, height = 1 + rng() % 6, chroma_w = (width + 1) / 2;
    auto y = random_bytes(rng, static_cast<size_t>(width) * height);
    auto u = random_bytes(rng, static_cast<size_t>(chroma_w) * height);
    auto v = random_bytes(rng, static_cast<size_t>(chroma_w) * height);
    AVFrame frame{};
    frame.width = width;
    frame.height = height;
    frame.format = trial % 3 ? AV_PIX_FMT_YUV422P : AV_PIX_FMT_YUVJ422P;
    const AVColorSpace spaces[] = {AVCOL_SPC_UNSPECIFIED, AVCOL_SPC_BT709, AVCOL_SPC_BT2020_NCL};
    frame.colorspace = spaces[trial % 3];
    frame.data[0] = y.data();
    frame.data[1] = u.data();
    frame.data[2] = v.data();
    frame.linesize[0] = width;
    frame.linesize[1] = frame.linesize[2] = chroma_w;
    std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
    yuv422p_to_rgb(&frame, trial % 2 ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_BGR24, rgb.data(), width * 3);
    mix(rgb);
  }
  std::printf("%016llx\n", static_cast<unsigned long long>(hash));
  return 0;
}
