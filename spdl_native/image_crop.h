// Crop boxes for image batches: an explicit box, the evaluation transform's
// centre crop, and the training transform's random resized crop, each turned
// into one box in source pixels from the image's real size. The random boxes
// come from a small PRNG of our own, so that a seed gives the same box on every
// platform.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace spdl {

enum class CropKind : uint8_t {
  kNone,           // the whole image
  kBox,            // left, top, width, height as given
  kCenter,         // resize the shorter side to `resize`, centre crop width x height
  kRandomResized,  // torchvision's RandomResizedCrop.get_params
};

struct CropSpec {
  CropKind kind = CropKind::kNone;
  // kBox: the box; kCenter: width and height are the crop's size.
  int left = 0, top = 0, width = 0, height = 0;
  int resize = 0;  // kCenter: the shorter side's length before the crop; 0: no resize
  // kRandomResized.
  uint64_t seed = 0;
  bool per_image_seed = false;  // in a batch, image i uses derive_crop_seed(seed, i)
  double scale_min = 0.08, scale_max = 1.0;
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;

  static CropSpec box(int left, int top, int width, int height);
  static CropSpec center(int width, int height, int resize);
  static CropSpec random_resized(uint64_t seed, double scale_min, double scale_max,
                                 double ratio_min, double ratio_max, bool per_image_seed);
  std::string describe() const;
};

// A box in pixels of an image.
struct CropBox {
  int left = 0, top = 0, width = 0, height = 0;

  bool operator==(const CropBox& other) const {
    return left == other.left && top == other.top && width == other.width && height == other.height;
  }
};

// A box that does not fit in its image (a CropBox or CenterCrop larger than it).
class CropError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The seed image `index` of a batch uses when one random spec is given for all.
uint64_t derive_crop_seed(uint64_t seed, uint64_t index);

// The box of `spec` in a `width` x `height` image; `index` (the image's place in
// its batch) matters only for a per-image seed. Throws CropError when the box
// does not fit, std::invalid_argument for a malformed spec.
CropBox compute_crop_box(const CropSpec& spec, int width, int height, uint64_t index = 0);

}  // namespace spdl
