// Still images decoded as a batch in one native call on native threads: the
// file is the only packet, so no Python demuxing is needed per image.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "buffer.h"
#include "cancel.h"
#include "decode_plan.h"
#include "image_source.h"
#include "image_transform.h"

namespace spdl {

struct ImageBatchResult {
  std::unique_ptr<CPUBuffer> buffer;  // the decoded images in input order; null if none decoded
  std::vector<std::string> errors;    // one per source; empty string when it decoded
};

// What a batch adds to its decode plan: crops, resizes and flips (see
// image_transform.h), and the threads it decodes on.
struct ImageBatchOptions {
  std::vector<ImageTransform> transforms;  // one per source; empty: none
  // Cropped JPEGs decode only the region around their box (jpeg_region.h);
  // false decodes them whole, then crops (for comparisons).
  bool region_decode = true;
  int num_threads = 1;  // native threads sharing the images (one decoder thread each)
};

// Decodes every source as `plan` says and writes it into one (B, ...) buffer.
// When the output's size and format are fixed, each image goes straight into its
// slot; otherwise the first decoded image sets the layout. With transforms,
// image i's crop box (in its decoded pixels, after any filter) is resized to the
// output and mirrored when asked; a box that does not fit fails that image.
ImageBatchResult decode_image_batch(const std::vector<ImageSource>& sources, const DecodePlan& plan,
                                    const ImageBatchOptions& batch);

// Writes the first frame of each of `frames` (decoded whole), cropped, resized
// and mirrored by `transforms` (one per item), into one (B, ...) buffer: the
// batch step of sources that are not decoded by decode_image_batch. Consumes
// nothing; a box that does not fit fails that item.
ImageBatchResult transform_image_batch(const std::vector<Frames*>& frames,
                                       const std::vector<ImageTransform>& transforms,
                                       const OutputFormat& output);

}  // namespace spdl
