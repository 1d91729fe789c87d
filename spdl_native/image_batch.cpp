#include "image_batch.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <optional>
#include <thread>

#include "convert.h"
#include "exif_orientation.h"
#include "ffmpeg/error.h"
#include "image_source.h"
#include "jpeg_decoder.h"
#include "jpeg_region.h"
#include "python_signals.h"

namespace spdl {
namespace {

// Runs `work(i, state)` for every index on `num_threads` threads, each with its
// own state (a writer) from `make_state()`. The calling thread works too; on the main
// thread it looks for Ctrl-C between images, and what a signal handler raised there
// (also from inside `work`: a wait for a fetched image) cancels the others' work and
// is thrown once they are done.
template <typename MakeState, typename Work>
void parallel_for(size_t n, int num_threads, const CancelToken* cancel, MakeState make_state,
                  Work work) {
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    auto state = make_state();
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      poll_python_signals();  // a no-op off the main thread
      work(i, *state);
    }
  };
  const size_t threads = std::max<size_t>(1, std::min<size_t>(num_threads, n));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  std::exception_ptr interrupted;
  try {
    worker();
  } catch (...) {
    interrupted = std::current_exception();
    next.store(n);  // the other threads take no further image
    if (cancel) {
      cancel->cancel();  // and stop waiting for theirs
    }
  }
  for (auto& t : pool) {
    t.join();
  }
  if (interrupted) {
    std::rethrow_exception(interrupted);
  }
}

// The layout when the request alone fixes it (width, height and pix_fmt all given).
std::optional<ImageLayout> fixed_layout(const OutputFormat& output) {
  if (output.width <= 0 || output.height <= 0 || output.pix_fmt.empty()) {
    return std::nullopt;
  }
  AVFrame shape{};
  shape.width = output.width;
  shape.height = output.height;
  shape.format = av_get_pix_fmt(output.pix_fmt.c_str());
  return image_layout(&shape);
}

bool any_flip(const std::vector<ImageTransform>& transforms) {
  return std::any_of(transforms.begin(), transforms.end(),
                     [](const ImageTransform& t) { return t.hflip; });
}

bool crops(const ImageTransform& transform) { return transform.crop.kind != CropKind::kNone; }

// The box of `transform` in a `width` x `height` image; one that does not fit
// fails the image, naming its source.
CropBox box_of(const ImageTransform& transform, int width, int height, size_t index,
               const std::string& name) {
  try {
    return compute_crop_box(transform.crop, width, height, index);
  } catch (const CropError& e) {
    throw MediaError("Failed to crop " + name + ": " + e.what() + ".");
  }
}

// A decoded image and the box of it to write.
struct DecodedImage {
  std::unique_ptr<Frames> frames;  // the whole image (FFmpeg or libjpeg-turbo)
  ffmpeg::FramePtr region;         // or the region around the box (crop-aware JPEG decode)
  const AVFrame* frame = nullptr;
  CropBox box;
};

// Decodes images for transforms. A cropped JPEG decodes only the region around
// its box where libjpeg takes it, at a size that the output allows; everything
// else decodes whole, as without transforms, and the box is cut from that.
class TransformDecoder {
 public:
  TransformDecoder(const DecodeConfig& hinted, const OutputFormat& output, bool region_decode)
      : hinted_(hinted), whole_(hinted), output_(output) {
    // A crop's box is known only once the image's size is: no size hint.
    whole_.min_width = whole_.min_height = 0;
    const bool ffmpeg_decoder = hinted.decoder && *hinted.decoder != kTurboJpegDecoder;
    region_ = region_decode && has_libjpeg() && hinted.filter_desc.empty() &&
              hinted.decoder_options.empty() && !ffmpeg_decoder;
    forced_ = hinted.decoder.has_value() && !ffmpeg_decoder;
  }

  DecodedImage decode(const ImageSource& source, const ImageTransform& transform, size_t index,
                      const CancelToken* cancel) const {
    DecodedImage image;
    if (!crops(transform)) {
      image.frames = decode_one(source, hinted_, cancel);
      image.frame = image.frames->frames.front().get();
      image.box = {0, 0, image.frame->width, image.frame->height};
      return image;
    }
    throw_if_cancelled(cancel, source.name);
    auto packet = read_packet(source, cancel);
    const auto size = static_cast<size_t>(packet->size);
    const char* codec = sniff_image_codec(packet->data, size);
    // A region is cut from the image as stored: one to be turned upright decodes whole.
    const bool stored_upright =
        !whole_.apply_exif_orientation || exif_orientation(packet->data, size) == 1;
    if (region_ && stored_upright && codec && std::strcmp(codec, "mjpeg") == 0) {
      JpegRegionRequest request;
      request.box = [&](int width, int height) {
        return box_of(transform, width, height, index, source.name);
      };
      request.out_width = output_.width;
      request.out_height = output_.height;
      request.rgb_format = output_.pix_fmt == "bgr24" ? AV_PIX_FMT_BGR24 : AV_PIX_FMT_RGB24;
      request.pooled = whole_.transient_frames;
      request.max_pixels = whole_.max_pixels;
      if (auto region = decode_jpeg_region(packet->data, size, source.name, request, forced_)) {
        image.region = std::move(region->frame);
        image.frame = image.region.get();
        image.box = region->in_frame;
        return image;
      }  // else libjpeg cannot decode it: decoded whole below, by FFmpeg if need be
    }
    image.frames = decode_packet(std::move(packet), source.name, whole_, cancel);
    image.frame = image.frames->frames.front().get();
    image.box = box_of(transform, image.frame->width, image.frame->height, index, source.name);
    return image;
  }

 private:
  DecodeConfig hinted_;  // for images written whole
  DecodeConfig whole_;   // for cropped images decoded whole
  OutputFormat output_;
  bool region_ = false;
  bool forced_ = false;
};

// Writes frames[i] (null: failed already) in input order into one batch whose
// layout the first one sets; with transforms, transformed. Sets ok[i].
void write_in_order(const std::vector<const AVFrame*>& frames,
                    const std::vector<std::string>& names,
                    const std::vector<ImageTransform>& transforms, const OutputFormat& output,
                    ImageBatchResult& result, std::vector<uint8_t>& ok) {
  const size_t n = frames.size();
  FrameWriter writer(output);
  std::optional<TransformWriter> transformer;
  if (!transforms.empty()) {
    transformer.emplace(output, any_flip(transforms));
  }
  std::optional<ImageLayout> layout;
  size_t first = n;
  for (size_t i = 0; i < n; ++i) {
    const AVFrame* frame = frames[i];
    if (!frame) {
      continue;
    }
    CropBox box{0, 0, frame->width, frame->height};
    if (transformer) {
      try {
        box = box_of(transforms[i], frame->width, frame->height, i, names[i]);
      } catch (const std::exception& e) {
        result.errors[i] = e.what();
        continue;
      }
    }
    const ImageLayout this_layout =
        transformer ? transformer->layout(frame, box) : writer.layout(frame);
    if (!layout) {
      layout = this_layout;
      first = i;
      std::vector<int64_t> shape = layout->shape;
      shape.insert(shape.begin(), static_cast<int64_t>(n));
      result.buffer = std::make_unique<CPUBuffer>(shape, layout->dtype);
    } else if (this_layout.shape != layout->shape || this_layout.dtype != layout->dtype) {
      throw std::invalid_argument(
          "Cannot batch images of different size or format: " + names[first] + " is " +
          describe_frame(frames[first]) + " but " + names[i] + " is " + describe_frame(frame) +
          ". Pass width, height and pix_fmt.");
    }
    uint8_t* dst = result.buffer->data() + i * layout->bytes;
    if (transformer) {
      transformer->write(frame, box, transforms[i].hflip, dst, false);
    } else {
      writer.write(frame, dst);
    }
    ok[i] = 1;
  }
}

// Closes the gaps left by failed images, keeping the input order.
void close_gaps(ImageBatchResult& result, const std::vector<uint8_t>& ok) {
  if (!result.buffer) {
    return;
  }
  const size_t bytes = static_cast<size_t>(result.buffer->strides()[0]);
  int64_t kept = 0;
  for (size_t i = 0; i < ok.size(); ++i) {
    if (ok[i]) {
      if (static_cast<size_t>(kept) != i) {
        std::memmove(result.buffer->data() + kept * bytes, result.buffer->data() + i * bytes,
                     bytes);
      }
      ++kept;
    }
  }
  if (kept == 0) {
    result.buffer.reset();
  } else {
    result.buffer->resize_leading_dim(kept);
  }
}

}  // namespace

ImageBatchResult decode_image_batch(const std::vector<ImageSource>& sources, const DecodePlan& plan,
                                    const ImageBatchOptions& batch) {
  const std::vector<ImageTransform>& per_image = batch.transforms;
  DecodeSteps steps =
      decode_steps(plan, MediaType::Image,
                   per_image.empty() ? Destination::kBuffer : Destination::kCroppedBatch);
  // Parallelism comes from the batch's threads, one image each.
  DecodeConfig& config = steps.config;
  config.num_threads = 1;
  const OutputFormat output = output_for(steps.writer.value_or(OutputFormat{}), true);
  const CancelToken* cancel = plan.cancel;
  const int num_threads = batch.num_threads;
  const size_t n = sources.size();
  if (!per_image.empty() && per_image.size() != n) {
    throw std::invalid_argument("decode_image_batch: " + std::to_string(per_image.size()) +
                                " transforms for " + std::to_string(n) + " sources.");
  }
  ImageBatchResult result;
  result.errors.resize(n);
  {
    TransformWriter validated(output, any_flip(per_image));  // checks before any thread starts
  }
  // With transforms the writer always scales (no filter does), so the request
  // fixes the layout even after a custom filter.
  const std::optional<ImageLayout> fixed =
      config.filter_desc.empty() || !per_image.empty() ? fixed_layout(output) : std::nullopt;
  DecodeConfig hinted = with_output_hints(config, output);
  // Without a fixed layout every frame is kept until all are decoded.
  hinted.transient_frames = fixed.has_value();
  const TransformDecoder decoder(hinted, output, batch.region_decode && fixed.has_value());
  static const ImageTransform kNoTransform;
  const auto transform = [&](size_t i) -> const ImageTransform& {
    return per_image.empty() ? kNoTransform : per_image[i];
  };

  // Bytes, not vector<bool>: workers set their flags concurrently.
  std::vector<uint8_t> ok(n, 0);
  if (fixed) {
    // Each worker decodes and writes straight into its slot.
    std::vector<int64_t> shape = fixed->shape;
    shape.insert(shape.begin(), static_cast<int64_t>(n));
    result.buffer = std::make_unique<CPUBuffer>(shape, fixed->dtype);
    uint8_t* base = result.buffer->data();
    const bool flips = any_flip(per_image);
    parallel_for(
        n, num_threads, cancel, [&] { return std::make_unique<TransformWriter>(output, flips); },
        [&](size_t i, TransformWriter& writer) {
          try {
            const ImageTransform& t = transform(i);
            const DecodedImage image = decoder.decode(sources[i], t, i, cancel);
            writer.write(image.frame, image.box, t.hflip, base + i * fixed->bytes, true);
            ok[i] = 1;
          } catch (const std::exception& e) {
            if (raised_by_signal_handler()) {
              throw;  // Ctrl-C while waiting for a fetched image: the batch stops
            }
            result.errors[i] = e.what();
          }
        });
    close_gaps(result, ok);
    return result;
  }
  // The first decoded image sets the layout; the others must match it.
  DecodeConfig kept = hinted;
  kept.min_width = kept.min_height = 0;  // no size hint for crops (see TransformDecoder)
  std::vector<std::unique_ptr<Frames>> decoded(n);
  parallel_for(
      n, num_threads, cancel, [] { return std::make_unique<bool>(); },  // no writer: decodes only
      [&](size_t i, bool&) {
        try {
          decoded[i] = decode_one(sources[i], crops(transform(i)) ? kept : hinted, cancel);
        } catch (const std::exception& e) {
          if (raised_by_signal_handler()) {
            throw;
          }
          result.errors[i] = e.what();
        }
      });
  std::vector<const AVFrame*> frames(n, nullptr);
  std::vector<std::string> names(n);
  for (size_t i = 0; i < n; ++i) {
    frames[i] = decoded[i] ? decoded[i]->frames.front().get() : nullptr;
    names[i] = sources[i].name;
  }
  write_in_order(frames, names, per_image, output, result, ok);
  close_gaps(result, ok);
  return result;
}

ImageBatchResult transform_image_batch(const std::vector<Frames*>& batch,
                                       const std::vector<ImageTransform>& transforms,
                                       const OutputFormat& requested) {
  const size_t n = batch.size();
  if (n == 0) {
    throw std::invalid_argument("Cannot convert an empty list of frames.");
  }
  if (transforms.size() != n) {
    throw std::invalid_argument("transform_image_batch: " + std::to_string(transforms.size()) +
                                " transforms for " + std::to_string(n) + " images.");
  }
  std::vector<const AVFrame*> frames(n);
  std::vector<std::string> names(n);
  for (size_t i = 0; i < n; ++i) {
    batch[i]->ensure_valid();
    if (batch[i]->media_type != MediaType::Image || batch[i]->frames.empty()) {
      throw std::invalid_argument("Item " + std::to_string(i) + " (" + batch[i]->src +
                                  ") holds no image frame.");
    }
    frames[i] = batch[i]->frames.front().get();
    names[i] = batch[i]->src;
  }
  ImageBatchResult result;
  result.errors.resize(n);
  std::vector<uint8_t> ok(n, 0);
  write_in_order(frames, names, transforms, output_for(requested, true), result, ok);
  close_gaps(result, ok);
  return result;
}

}  // namespace spdl
