#include "image_crop.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace spdl {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

// splitmix64's output function: a bijection that spreads every input bit.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and the same numbers on
// every platform, unlike the standard library's distributions.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() { return mix64(state_ += kGolden); }

  // Uniform in [low, high), from 53 random bits.
  double uniform(double low, double high) {
    return low + (high - low) * (static_cast<double>(next() >> 11) * 0x1.0p-53);
  }

  // Uniform in [0, max] (max < 2^31), by multiplying 32 random bits (no division).
  int up_to(int max) {
    return static_cast<int>(((next() >> 32) * (static_cast<uint64_t>(max) + 1)) >> 32);
  }

 private:
  uint64_t state_;
};

// Python's round(): halves go to the even neighbour (torchvision computes with it).
double round_half_even(double x) {
  const double floor = std::floor(x);
  const double fraction = x - floor;
  if (fraction > 0.5 || (fraction == 0.5 && std::fmod(floor, 2.0) != 0.0)) {
    return floor + 1.0;
  }
  return floor;
}

int clamp_int(double value, int low, int high) {
  return static_cast<int>(std::min<double>(std::max<double>(value, low), high));
}

std::string size_text(int width, int height) {
  return std::to_string(width) + "x" + std::to_string(height);
}

std::string box_text(const CropBox& box) {
  return "(left=" + std::to_string(box.left) + ", top=" + std::to_string(box.top) +
         ", width=" + std::to_string(box.width) + ", height=" + std::to_string(box.height) + ")";
}

CropBox explicit_box(const CropSpec& spec, int width, int height) {
  const CropBox box{spec.left, spec.top, spec.width, spec.height};
  if (int64_t{box.left} + box.width > width || int64_t{box.top} + box.height > height) {
    throw CropError("the crop box " + box_text(box) + " does not fit in the " +
                    size_text(width, height) + " image");
  }
  return box;
}

// torchvision's Resize(resize) then CenterCrop((height, width)), as one box in the source.
CropBox center_box(const CropSpec& spec, int width, int height) {
  if (spec.resize == 0) {
    if (spec.width > width || spec.height > height) {
      throw CropError("the centre crop " + size_text(spec.width, spec.height) +
                      " is larger than the " + size_text(width, height) + " image");
    }
    return {static_cast<int>(round_half_even((width - spec.width) / 2.0)),
            static_cast<int>(round_half_even((height - spec.height) / 2.0)), spec.width,
            spec.height};
  }
  // The resized size, as torchvision computes it: int(resize * long / short), in 64
  // bits: a large resize or a long, thin image goes past an int.
  const int shorter = std::min(width, height), longer = std::max(width, height);
  const int64_t resized_long = static_cast<int64_t>(
      static_cast<double>(int64_t{spec.resize} * longer) / static_cast<double>(shorter));
  if (resized_long > std::numeric_limits<int>::max()) {
    throw CropError("the centre crop's resize=" + std::to_string(spec.resize) + " makes the " +
                    size_text(width, height) + " image " + std::to_string(resized_long) +
                    " pixels long, more than " + std::to_string(std::numeric_limits<int>::max()));
  }
  const int new_long = static_cast<int>(resized_long);
  const int new_width = width <= height ? spec.resize : new_long;
  const int new_height = width <= height ? new_long : spec.resize;
  if (spec.width > new_width || spec.height > new_height) {
    throw CropError("the centre crop " + size_text(spec.width, spec.height) +
                    " is larger than the " + size_text(width, height) + " image resized to " +
                    size_text(new_width, new_height) + " (resize=" + std::to_string(spec.resize) +
                    ")");
  }
  const double crop_left = round_half_even((new_width - spec.width) / 2.0);
  const double crop_top = round_half_even((new_height - spec.height) / 2.0);
  // Source pixels per resized pixel.
  const double scale = static_cast<double>(shorter) / spec.resize;
  CropBox box;
  box.width = clamp_int(round_half_even(spec.width * scale), 1, width);
  box.height = clamp_int(round_half_even(spec.height * scale), 1, height);
  box.left = clamp_int(round_half_even(crop_left * scale), 0, width - box.width);
  box.top = clamp_int(round_half_even(crop_top * scale), 0, height - box.height);
  return box;
}

// torchvision's RandomResizedCrop.get_params, with our PRNG.
CropBox random_resized_box(const CropSpec& spec, int width, int height, uint64_t seed) {
  SplitMix64 rng(seed);
  const double area = static_cast<double>(width) * height;
  const double log_ratio_min = std::log(spec.ratio_min), log_ratio_max = std::log(spec.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(spec.scale_min, spec.scale_max);
    const double aspect = std::exp(rng.uniform(log_ratio_min, log_ratio_max));
    const double w = round_half_even(std::sqrt(target_area * aspect));
    const double h = round_half_even(std::sqrt(target_area / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      CropBox box;
      box.width = static_cast<int>(w);
      box.height = static_cast<int>(h);
      box.top = rng.up_to(height - box.height);
      box.left = rng.up_to(width - box.width);
      return box;
    }
  }
  // No attempt fitted: the centre crop with the aspect ratio clamped to the range.
  const double in_ratio = static_cast<double>(width) / height;
  double w = width, h = height;
  if (in_ratio < spec.ratio_min) {
    h = round_half_even(width / spec.ratio_min);
  } else if (in_ratio > spec.ratio_max) {
    w = round_half_even(height * spec.ratio_max);
  }
  CropBox box;
  box.width = clamp_int(w, 1, width);
  box.height = clamp_int(h, 1, height);
  box.left = (width - box.width) / 2;
  box.top = (height - box.height) / 2;
  return box;
}

void require(bool condition, const std::string& message) {
  if (!condition) {
    throw std::invalid_argument(message);
  }
}

std::string number_text(double value) {
  std::string text = std::to_string(value);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') {
    text.pop_back();
  }
  return text;
}

}  // namespace

CropSpec CropSpec::box(int left, int top, int width, int height) {
  require(left >= 0 && top >= 0, "CropBox: left and top must be non-negative.");
  require(width > 0 && height > 0, "CropBox: width and height must be positive.");
  CropSpec spec;
  spec.kind = CropKind::kBox;
  spec.left = left;
  spec.top = top;
  spec.width = width;
  spec.height = height;
  return spec;
}

CropSpec CropSpec::center(int width, int height, int resize) {
  require(width > 0 && height > 0, "CenterCrop: the size must be positive.");
  require(resize >= 0, "CenterCrop: resize must be positive.");
  CropSpec spec;
  spec.kind = CropKind::kCenter;
  spec.width = width;
  spec.height = height;
  spec.resize = resize;
  return spec;
}

CropSpec CropSpec::random_resized(uint64_t seed, double scale_min, double scale_max,
                                  double ratio_min, double ratio_max, bool per_image_seed) {
  require(std::isfinite(scale_min) && std::isfinite(scale_max) && scale_min > 0 &&
              scale_min <= scale_max,
          "RandomResizedCrop: scale must be (min, max) with 0 < min <= max.");
  require(std::isfinite(ratio_min) && std::isfinite(ratio_max) && ratio_min > 0 &&
              ratio_min <= ratio_max,
          "RandomResizedCrop: ratio must be (min, max) with 0 < min <= max.");
  CropSpec spec;
  spec.kind = CropKind::kRandomResized;
  spec.seed = seed;
  spec.per_image_seed = per_image_seed;
  spec.scale_min = scale_min;
  spec.scale_max = scale_max;
  spec.ratio_min = ratio_min;
  spec.ratio_max = ratio_max;
  return spec;
}

std::string CropSpec::describe() const {
  switch (kind) {
    case CropKind::kNone:
      return "no crop";
    case CropKind::kBox:
      return "CropBox" + box_text({left, top, width, height});
    case CropKind::kCenter:
      return "CenterCrop(size=(" + std::to_string(height) + ", " + std::to_string(width) +
             "), resize=" + (resize ? std::to_string(resize) : "None") + ")";
    case CropKind::kRandomResized:
      return "RandomResizedCrop(seed=" + std::to_string(seed) + ", scale=(" +
             number_text(scale_min) + ", " + number_text(scale_max) + "), ratio=(" +
             number_text(ratio_min) + ", " + number_text(ratio_max) + ")" +
             (per_image_seed ? ", seed per image" : "") + ")";
  }
  return "unknown crop";
}

// mix64(0) == 0: image 0 keeps the seed, so a batch of one image and a spec in a
// per-image list crop as the spec alone does.
uint64_t derive_crop_seed(uint64_t seed, uint64_t index) { return seed ^ mix64(index); }

CropBox compute_crop_box(const CropSpec& spec, int width, int height, uint64_t index) {
  require(width > 0 && height > 0, "The image size must be positive.");
  switch (spec.kind) {
    case CropKind::kNone:
      return {0, 0, width, height};
    case CropKind::kBox:
      return explicit_box(spec, width, height);
    case CropKind::kCenter:
      return center_box(spec, width, height);
    case CropKind::kRandomResized:
      return random_resized_box(
          spec, width, height,
          spec.per_image_seed ? derive_crop_seed(spec.seed, index) : spec.seed);
  }
  throw std::invalid_argument("Unknown crop kind.");
}

}  // namespace spdl
