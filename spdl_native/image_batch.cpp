#include "image_batch.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

#include "convert.h"
#include "ffmpeg/error.h"

namespace spdl {
namespace {

bool starts_with(const uint8_t* data, size_t size, const char* magic, size_t n, size_t offset = 0) {
  return size >= offset + n && std::memcmp(data + offset, magic, n) == 0;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Reads the file straight into the packet, which FFmpeg needs padded.
ffmpeg::PacketPtr read_packet(const ImageSource& source) {
  auto packet = ffmpeg::alloc_packet();
  if (source.data) {
    ffmpeg::check(av_new_packet(packet.get(), static_cast<int>(source.size)),
                  "Failed to allocate a packet for " + source.name);
    std::memcpy(packet->data, source.data, source.size);
    return packet;
  }
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(source.name.c_str(), "rb"));
  if (!file) {
    throw MediaError("Failed to open " + source.name + ": " + std::strerror(errno));
  }
  std::fseek(file.get(), 0, SEEK_END);
  const long size = std::ftell(file.get());
  std::fseek(file.get(), 0, SEEK_SET);
  if (size < 0 || size > INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE) {
    throw MediaError("Failed to read " + source.name + ": unsupported file size.");
  }
  ffmpeg::check(av_new_packet(packet.get(), static_cast<int>(size)),
                "Failed to allocate a packet for " + source.name);
  if (std::fread(packet->data, 1, static_cast<size_t>(size), file.get()) !=
      static_cast<size_t>(size)) {
    throw MediaError("Failed to read " + source.name + ": " + std::strerror(errno));
  }
  return packet;
}

std::unique_ptr<Frames> decode_one(const ImageSource& source, const DecodeConfig& config,
                                   const CancelToken* cancel) {
  auto packet = read_packet(source);
  const char* codec = sniff_image_codec(packet->data, static_cast<size_t>(packet->size));
  if (!codec) {
    throw MediaError("Failed to decode " + source.name +
                     ": not a recognised still image (JPEG, PNG, WebP, BMP, GIF, TIFF, QOI)" +
                     (packet->size ? "." : "; the data is empty."));
  }
  CodecParams params;
  params.codec_name = codec;
  ImagePackets packets(source.name, params, {1, 1});
  packet->pts = packet->dts = 0;
  packet->flags |= AV_PKT_FLAG_KEY;
  packets.packets.push_back(std::move(packet));
  return decode_packets(packets, config, cancel);
}

}  // namespace

const char* sniff_image_codec(const uint8_t* data, size_t size) {
  if (starts_with(data, size, "\xFF\xD8\xFF", 3)) return "mjpeg";
  if (starts_with(data, size, "\x89PNG\r\n\x1A\n", 8)) return "png";
  if (starts_with(data, size, "RIFF", 4) && starts_with(data, size, "WEBP", 4, 8)) return "webp";
  if (starts_with(data, size, "BM", 2)) return "bmp";
  if (starts_with(data, size, "GIF87a", 6) || starts_with(data, size, "GIF89a", 6)) return "gif";
  if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4)) return "tiff";
  if (starts_with(data, size, "qoif", 4)) return "qoi";
  return nullptr;
}

namespace {

// Runs `work(i, writer)` for every index on `num_threads` threads, each with its own writer.
template <typename Work>
void parallel_for(size_t n, int num_threads, const OutputFormat& output, Work work) {
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    FrameWriter writer(output);
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      work(i, writer);
    }
  };
  const size_t threads = std::max<size_t>(1, std::min<size_t>(num_threads, n));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  worker();
  for (auto& t : pool) {
    t.join();
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

}  // namespace

ImageBatchResult decode_image_batch(const std::vector<ImageSource>& sources,
                                    const DecodeConfig& config, const OutputFormat& requested,
                                    int num_threads, const CancelToken* cancel) {
  const OutputFormat output = output_for(requested, true);
  const size_t n = sources.size();
  ImageBatchResult result;
  result.errors.resize(n);
  FrameWriter validated(output);  // checks the request before any thread starts
  (void)validated;
  const std::optional<ImageLayout> fixed =
      config.filter_desc.empty() ? fixed_layout(output) : std::nullopt;
  DecodeConfig hinted = with_output_hints(config, output);
  // Without a fixed layout every frame is kept until all are decoded.
  hinted.transient_frames = fixed.has_value();
  auto decode = [&](size_t i) {
    if (cancel && cancel->cancelled()) {
      throw MediaError("Decoding " + sources[i].name + " was cancelled.");
    }
    return decode_one(sources[i], hinted, cancel);
  };

  // Bytes, not vector<bool>: workers set their flags concurrently.
  std::vector<uint8_t> ok(n, 0);
  if (fixed) {
    // Each worker decodes and writes straight into its slot.
    std::vector<int64_t> shape = fixed->shape;
    shape.insert(shape.begin(), static_cast<int64_t>(n));
    result.buffer = std::make_unique<CPUBuffer>(shape, fixed->dtype);
    uint8_t* base = result.buffer->data();
    parallel_for(n, num_threads, output, [&](size_t i, FrameWriter& writer) {
      try {
        auto frames = decode(i);
        writer.write_exact(frames->frames.front().get(), base + i * fixed->bytes);
        ok[i] = 1;
      } catch (const std::exception& e) {
        result.errors[i] = e.what();
      }
    });
  } else {
    // The first decoded image sets the layout; the others must match it.
    std::vector<std::unique_ptr<Frames>> decoded(n);
    parallel_for(n, num_threads, output, [&](size_t i, FrameWriter&) {
      try {
        decoded[i] = decode(i);
      } catch (const std::exception& e) {
        result.errors[i] = e.what();
      }
    });
    FrameWriter writer(output);
    std::optional<ImageLayout> layout;
    size_t first = n;
    for (size_t i = 0; i < n; ++i) {
      if (!decoded[i]) {
        continue;
      }
      const AVFrame* frame = decoded[i]->frames.front().get();
      const ImageLayout this_layout = writer.layout(frame);
      if (!layout) {
        layout = this_layout;
        first = i;
        std::vector<int64_t> shape = layout->shape;
        shape.insert(shape.begin(), static_cast<int64_t>(n));
        result.buffer = std::make_unique<CPUBuffer>(shape, layout->dtype);
      } else if (this_layout.shape != layout->shape || this_layout.dtype != layout->dtype) {
        throw std::invalid_argument(
            "Cannot batch images of different size or format: " + sources[first].name + " is " +
            describe_frame(decoded[first]->frames.front().get()) + " but " + sources[i].name +
            " is " + describe_frame(frame) + ". Pass width, height and pix_fmt.");
      }
      writer.write(frame, result.buffer->data() + i * layout->bytes);
      ok[i] = true;
      decoded[i].reset();
    }
  }
  if (!result.buffer) {
    return result;
  }
  // Close the gaps left by failed images, keeping the input order.
  const size_t bytes = static_cast<size_t>(result.buffer->strides()[0]);
  int64_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
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
  return result;
}

}  // namespace spdl
