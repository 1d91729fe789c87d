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
// The format's little-endian twin for FFmpeg's big-endian formats (rgb48be ->
// rgb48le): the buffers hold numbers in the host's (little-endian) order.
AVPixelFormat native_byte_order(AVPixelFormat format);
bool same_image_format(const AVFrame* a, const AVFrame* b);
std::string describe_frame(const AVFrame* frame);  // "WxH pix_fmt"
void copy_image(uint8_t* dst, const ImageLayout& layout, const AVFrame* frame);

// Throws std::invalid_argument for what convert_frames would refuse: frames converted
// already or none, a format or size change, a format with no array layout. Called with
// the GIL held, before the frames are taken (Frames::take), so that a refusal leaves
// them as they were.
void check_convertible(const Frames& frames);

// Copies checked frames, taken from their Python object, into one buffer (GIL
// released), releasing each frame once copied.
std::unique_ptr<CPUBuffer> convert_frames(Frames& frames);

// The element type of a sample format (planar or packed); throws for others.
DType sample_dtype(AVSampleFormat fmt);

// Copies `frame`'s samples to sample `offset` of `dst`: for planar formats, one row
// per channel, `row_bytes` apart; for packed ones, interleaved in one row.
void copy_samples(const AVFrame* frame, uint8_t* dst, size_t row_bytes, int64_t offset);

// Throws std::invalid_argument unless `batch` holds single images, not converted yet,
// of one size and format that has an array layout (called with the GIL held).
void check_image_batch(const std::vector<Frames*>& batch);

// A checked list of single images, taken from their Python objects -> one (B, ...)
// batch (GIL released); an object given twice appears twice.
std::unique_ptr<CPUBuffer> convert_image_batch(const std::vector<const Frames*>& batch);

}  // namespace spdl
