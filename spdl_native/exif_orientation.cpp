#include "exif_orientation.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "byte_order.h"
#include "convert.h"
#include "ffmpeg/error.h"
#include "frame_writer.h"
#include "jpeg/markers.h"
#include "tiff_tags.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace spdl {
namespace {

bool starts_with(const uint8_t* data, size_t size, const char* magic, size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

// The orientation tag of the first IFD of the TIFF structure in `tiff` (a TIFF
// file, or the EXIF block of another format).
int tiff_orientation(const uint8_t* tiff, size_t size) {
  const uint32_t value = first_ifd_tag(tiff, size, kTiffOrientationTag).value_or(1);
  return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
}

// Some writers start a WebP's or PNG's EXIF block with JPEG's "Exif\0\0" too.
int exif_block_orientation(const uint8_t* block, size_t size) {
  if (starts_with(block, size, "Exif\0\0", 6)) {
    block += 6;
    size -= 6;
  }
  return tiff_orientation(block, size);
}

int png_orientation(const uint8_t* data, size_t size) {
  for (size_t pos = 8; pos + 12 <= size;) {
    const size_t length = big_endian(data + pos, 4);
    const uint8_t* type = data + pos + 4;
    if (length > size - pos - 12) {
      return 1;
    }
    if (std::memcmp(type, "eXIf", 4) == 0) {
      return exif_block_orientation(data + pos + 8, length);
    }
    if (std::memcmp(type, "IEND", 4) == 0) {
      return 1;
    }
    pos += 12 + length;
  }
  return 1;
}

int webp_orientation(const uint8_t* data, size_t size) {
  for (size_t pos = 12; pos + 8 <= size;) {
    const size_t length = little_endian(data + pos + 4, 4);
    if (length > size - pos - 8) {
      return 1;
    }
    if (std::memcmp(data + pos, "EXIF", 4) == 0) {
      return exif_block_orientation(data + pos + 8, length);
    }
    pos += 8 + length + (length & 1);  // chunks are padded to an even size
  }
  return 1;
}

// Where the sample at output (row, column) of a plane is read from: `start`
// plus row * row_step plus column * column_step bytes.
struct Walk {
  ptrdiff_t start, row_step, column_step;
};

Walk walk_for(int orientation, int width, int height, ptrdiff_t linesize, ptrdiff_t sample) {
  const ptrdiff_t last_row = (height - 1) * linesize, last_column = (width - 1) * sample;
  switch (orientation) {
    case 2:  // mirrored
      return {last_column, linesize, -sample};
    case 3:  // turned 180 degrees
      return {last_row + last_column, -linesize, -sample};
    case 4:  // flipped
      return {last_row, -linesize, sample};
    case 5:  // transposed
      return {0, sample, linesize};
    case 6:  // stored turned 90 degrees anticlockwise: turned clockwise
      return {last_row, sample, -linesize};
    case 7:  // transversed
      return {last_row + last_column, -sample, -linesize};
    default:  // 8: stored turned clockwise: turned anticlockwise
      return {last_column, -sample, linesize};
  }
}

// Moves a plane's samples of kSize bytes (0: `size` bytes) from `src` into
// `dst` (out_width x out_height) along `walk`, in bands of rows so that the
// columns read for a turn stay in cache.
template <size_t kSize>
void move_samples(const uint8_t* src, const Walk& walk, uint8_t* dst, ptrdiff_t dst_linesize,
                  int out_width, int out_height, size_t size) {
  constexpr int kBand = 32;
  const size_t bytes = kSize ? kSize : size;
  for (int band = 0; band < out_height; band += kBand) {
    const int end = std::min(out_height, band + kBand);
    for (int x = 0; x < out_width; ++x) {
      const uint8_t* column = src + walk.start + x * walk.column_step;
      for (int y = band; y < end; ++y) {
        std::memcpy(dst + y * dst_linesize + x * static_cast<ptrdiff_t>(bytes),
                    column + y * walk.row_step, bytes);
      }
    }
  }
}

void move_plane(const uint8_t* src, const Walk& walk, uint8_t* dst, ptrdiff_t dst_linesize,
                int out_width, int out_height, size_t size) {
  switch (size) {
    case 1:
      return move_samples<1>(src, walk, dst, dst_linesize, out_width, out_height, size);
    case 2:
      return move_samples<2>(src, walk, dst, dst_linesize, out_width, out_height, size);
    case 3:
      return move_samples<3>(src, walk, dst, dst_linesize, out_width, out_height, size);
    case 4:
      return move_samples<4>(src, walk, dst, dst_linesize, out_width, out_height, size);
    default:
      return move_samples<0>(src, walk, dst, dst_linesize, out_width, out_height, size);
  }
}

bool same_components(const AVPixFmtDescriptor& a, const AVPixFmtDescriptor& b) {
  if (a.nb_components != b.nb_components || a.flags != b.flags) {
    return false;
  }
  for (int i = 0; i < a.nb_components; ++i) {
    const AVComponentDescriptor &x = a.comp[i], &y = b.comp[i];
    if (x.plane != y.plane || x.step != y.step || x.offset != y.offset || x.shift != y.shift ||
        x.depth != y.depth) {
      return false;
    }
  }
  return true;
}

// The format of `format`'s samples with its chroma subsampling turned (4:2:2 to
// 4:4:0), itself when it is the same both ways; AV_PIX_FMT_NONE if none exists.
AVPixelFormat turned_format(AVPixelFormat format) {
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  if (desc->log2_chroma_w == desc->log2_chroma_h) {
    return format;
  }
  for (const AVPixFmtDescriptor* other = av_pix_fmt_desc_next(nullptr); other;
       other = av_pix_fmt_desc_next(other)) {
    if (other->log2_chroma_w == desc->log2_chroma_h &&
        other->log2_chroma_h == desc->log2_chroma_w && same_components(*desc, *other)) {
      return av_pix_fmt_desc_get_id(other);
    }
  }
  return AV_PIX_FMT_NONE;
}

// Whether each plane's samples can be moved one by one: whole bytes per pixel,
// and chroma in planes of its own.
bool movable(const AVPixFmtDescriptor& desc) {
  if (desc.flags & (AV_PIX_FMT_FLAG_BITSTREAM | AV_PIX_FMT_FLAG_HWACCEL)) {
    return false;
  }
  const bool subsampled = desc.log2_chroma_w || desc.log2_chroma_h;
  return !subsampled || (desc.flags & AV_PIX_FMT_FLAG_PLANAR) || desc.comp[1].plane != 0;
}

// What a frame that cannot be turned as it is converts to first.
AVPixelFormat movable_format(const AVPixFmtDescriptor& desc) {
  const bool alpha = desc.flags & AV_PIX_FMT_FLAG_ALPHA;
  if (desc.nb_components <= 2) {
    return alpha ? AV_PIX_FMT_YA8 : AV_PIX_FMT_GRAY8;
  }
  if (desc.flags & AV_PIX_FMT_FLAG_RGB) {
    return alpha ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24;
  }
  return alpha ? AV_PIX_FMT_YUVA444P : AV_PIX_FMT_YUV444P;
}

// Bytes of one sample in `plane` (a pixel's, for packed formats).
int sample_bytes(const AVPixFmtDescriptor& desc, int plane) {
  int bytes = 0;
  for (int i = 0; i < desc.nb_components; ++i) {
    if (desc.comp[i].plane == plane) {
      bytes = std::max(bytes, desc.comp[i].step);
    }
  }
  return bytes;
}

}  // namespace

int exif_orientation(const uint8_t* data, size_t size) {
  if (!data) {
    return 1;
  }
  if (starts_with(data, size, "\xFF\xD8\xFF", 3)) {
    const jpeg::Segment exif =
        jpeg::find_segment(data, size, 0xE1, std::string_view("Exif\0\0", 6));
    return exif.data ? tiff_orientation(exif.data + 6, exif.size - 6) : 1;
  }
  if (starts_with(data, size, "\x89PNG\r\n\x1A\n", 8)) {
    return png_orientation(data, size);
  }
  if (starts_with(data, size, "RIFF", 4) && size >= 12 && std::memcmp(data + 8, "WEBP", 4) == 0) {
    return webp_orientation(data, size);
  }
  if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4)) {
    return tiff_orientation(data, size);
  }
  return 1;
}

bool swaps_sides(int orientation) { return orientation >= 5 && orientation <= 8; }

ffmpeg::FramePtr orient_frame(const AVFrame* frame, int orientation) {
  const auto format = static_cast<AVPixelFormat>(frame->format);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(format);
  if (!desc) {
    throw MediaError("Cannot orient a frame of unknown pixel format.");
  }
  const bool swap = swaps_sides(orientation);
  const AVPixelFormat out_format = swap ? turned_format(format) : format;
  // Subsampled chroma over an odd number of luma samples ends in a sample that
  // covers one of them, not two: mirrored, every chroma sample would land a luma
  // sample off. Such frames turn as RGB (chroma interpolated), as Pillow turns them.
  const bool odd = (frame->width & ((1 << desc->log2_chroma_w) - 1)) ||
                   (frame->height & ((1 << desc->log2_chroma_h) - 1));
  if (!movable(*desc) || out_format == AV_PIX_FMT_NONE || odd) {
    OutputFormat convertible;
    const bool alpha = desc->flags & AV_PIX_FMT_FLAG_ALPHA;
    const AVPixelFormat rgb = alpha ? AV_PIX_FMT_RGBA : AV_PIX_FMT_RGB24;
    convertible.pix_fmt = av_get_pix_fmt_name(odd ? rgb : movable_format(*desc));
    convertible.interpolate_chroma = odd;
    const ffmpeg::FramePtr converted = FrameWriter(convertible).to_frame(frame);
    return orient_frame(converted.get(), orientation);
  }
  auto out = ffmpeg::alloc_frame();
  out->format = out_format;
  out->width = swap ? frame->height : frame->width;
  out->height = swap ? frame->width : frame->height;
  const std::string context = "Failed to orient a " + describe_frame(frame) + " frame";
  ffmpeg::check(av_frame_get_buffer(out.get(), 0), context);
  ffmpeg::check(av_frame_copy_props(out.get(), frame), context);
  const bool palette = desc->flags & AV_PIX_FMT_FLAG_PAL;
  const int planes = palette ? 1 : av_pix_fmt_count_planes(format);
  for (int plane = 0; plane < planes; ++plane) {
    const bool chroma = plane == 1 || plane == 2;
    const int width = chroma ? AV_CEIL_RSHIFT(frame->width, desc->log2_chroma_w) : frame->width;
    const int height = chroma ? AV_CEIL_RSHIFT(frame->height, desc->log2_chroma_h) : frame->height;
    const int bytes = sample_bytes(*desc, plane);
    const Walk walk = walk_for(orientation, width, height, frame->linesize[plane], bytes);
    move_plane(frame->data[plane], walk, out->data[plane], out->linesize[plane],
               swap ? height : width, swap ? width : height, static_cast<size_t>(bytes));
  }
  if (palette) {
    std::memcpy(out->data[1], frame->data[1], AVPALETTE_SIZE);
  }
  return out;
}

}  // namespace spdl
