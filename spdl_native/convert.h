// Frames -> CPUBuffer with the layouts of DESIGN.md. Conversion consumes the
// frames: each is released right after it is copied.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "buffer.h"
#include "frames.h"

namespace spdl {

// How one image of a given format is laid out in a buffer (DESIGN.md's table).
struct ImageLayout {
  std::vector<int64_t> shape;  // per image, without the batch dimension
  DType dtype;
  size_t bytes;  // bytes of one image
};

ImageLayout image_layout(const AVFrame* frame);
bool same_image_format(const AVFrame* a, const AVFrame* b);
std::string describe_frame(const AVFrame* frame);  // "WxH pix_fmt"
void copy_image(uint8_t* dst, const ImageLayout& layout, const AVFrame* frame);

std::unique_ptr<CPUBuffer> convert_frames(Frames& frames);

// The element type of a sample format (planar or packed); throws for others.
DType sample_dtype(AVSampleFormat fmt);

// Copies `frame`'s samples to sample `offset` of `dst`: for planar formats, one row
// per channel, `row_bytes` apart; for packed ones, interleaved in one row.
void copy_samples(const AVFrame* frame, uint8_t* dst, size_t row_bytes, int64_t offset);

// A list of single images -> one (B, ...) batch; all must share size and format.
std::unique_ptr<CPUBuffer> convert_image_batch(const std::vector<Frames*>& batch);

}  // namespace spdl
