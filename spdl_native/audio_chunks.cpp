#include "audio_chunks.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>
#include <utility>

#include "buffer.h"
#include "convert.h"
#include "ffmpeg/error.h"

namespace spdl {

namespace {

// Samples per channel of a full chunk: 6 s at 44.1 kHz, 1 MiB per channel of float32.
constexpr int64_t kChunkSamples = int64_t{1} << 18;

// An AVBuffer that owns `storage`: the chunk's samples live in a CPUBuffer, whose
// memory maps are reused from one decode to the next instead of faulted in anew.
AVBufferRef* wrap(std::unique_ptr<CPUBuffer> storage) {
  uint8_t* data = storage->data();
  const size_t size = storage->nbytes();
  return ffmpeg::buffer_owning(std::move(storage), data, size);
}

bool same_layout(const AVFrame* a, const AVFrame* b) {
  return a->format == b->format && a->sample_rate == b->sample_rate &&
         av_channel_layout_compare(&a->ch_layout, &b->ch_layout) == 0;
}

}  // namespace

AudioChunks::AudioChunks(std::vector<ffmpeg::FramePtr>& out, double expected_seconds,
                         std::string src)
    : out_(out), expected_seconds_(expected_seconds), src_(std::move(src)) {}

bool AudioChunks::continues(const AVFrame* frame) const {
  if (!same_layout(chunk_.get(), frame) || filled_ + frame->nb_samples > capacity_) {
    return false;
  }
  if (chunk_->pts == AV_NOPTS_VALUE) {
    return frame->pts == AV_NOPTS_VALUE;  // a chunk with a time starts at the first frame with one
  }
  const AVRational tb = frame->time_base;
  if (frame->pts == AV_NOPTS_VALUE || tb.num <= 0 || tb.den <= 0 || frame->sample_rate <= 0) {
    return true;
  }
  const int64_t expected =
      chunk_->pts + av_rescale_q(filled_, AVRational{1, frame->sample_rate}, tb);
  // Containers round timestamps to their time base: allow a tick, or a sample.
  const int64_t slack =
      std::max<int64_t>(1, av_rescale_q(1, AVRational{1, frame->sample_rate}, tb));
  return std::abs(frame->pts - expected) <= slack;
}

int64_t AudioChunks::chunk_capacity(const AVFrame* frame) const {
  // Short clips get one chunk their size; long ones, full chunks; unknown lengths grow.
  const int64_t n = frame->nb_samples;
  const double remaining =
      expected_seconds_ * frame->sample_rate - static_cast<double>(seen_samples_);
  int64_t capacity = std::max<int64_t>(16 * n, seen_samples_);
  if (std::isfinite(remaining) && remaining > 0) {
    capacity =
        static_cast<int64_t>(std::min(remaining, static_cast<double>(kChunkSamples))) + 2 * n;
  }
  return std::clamp(capacity, n, std::max(n, kChunkSamples));
}

void AudioChunks::start(const AVFrame* frame) {
  const int64_t capacity = chunk_capacity(frame);
  const auto fmt = static_cast<AVSampleFormat>(frame->format);
  const int channels = frame->ch_layout.nb_channels;
  const bool planar = av_sample_fmt_is_planar(fmt);
  const int planes = planar ? channels : 1;
  // Planes start 64-byte aligned, as FFmpeg's own audio buffers.
  const int64_t plane_bytes =
      (capacity * av_get_bytes_per_sample(fmt) * (planar ? 1 : channels) + 63) / 64 * 64;

  ffmpeg::FramePtr chunk = ffmpeg::alloc_frame();
  chunk->format = frame->format;
  chunk->sample_rate = frame->sample_rate;
  chunk->nb_samples = static_cast<int>(capacity);
  chunk->linesize[0] = static_cast<int>(plane_bytes);
  chunk->pts = frame->pts;
  ffmpeg::check(av_channel_layout_copy(&chunk->ch_layout, &frame->ch_layout),
                [&] { return "Failed to gather the decoded audio of " + src_; });
  chunk->buf[0] =
      wrap(std::make_unique<CPUBuffer>(std::vector<int64_t>{planes * plane_bytes}, DType::UInt8));
  if (planes > AV_NUM_DATA_POINTERS) {
    chunk->extended_data =
        static_cast<uint8_t**>(av_calloc(static_cast<size_t>(planes), sizeof(uint8_t*)));
    if (!chunk->extended_data) {
      throw std::bad_alloc();
    }
  } else {
    chunk->extended_data = chunk->data;
  }
  for (int p = 0; p < planes; ++p) {
    chunk->extended_data[p] = chunk->buf[0]->data + p * plane_bytes;
    if (p < AV_NUM_DATA_POINTERS) {
      chunk->data[p] = chunk->extended_data[p];
    }
  }
  chunk_ = std::move(chunk);
  capacity_ = capacity;
  filled_ = 0;
}

void AudioChunks::add(const AVFrame* frame) {
  const int64_t n = frame->nb_samples;
  if (n <= 0) {
    return;
  }
  if (chunk_ && !continues(frame)) {
    finish();
  }
  if (!chunk_) {
    start(frame);
  }
  // The planes lie linesize[0] apart in one buffer (see start()).
  copy_samples(frame, chunk_->extended_data[0], static_cast<size_t>(chunk_->linesize[0]), filled_);
  filled_ += n;
  seen_samples_ += n;
}

void AudioChunks::finish() {
  if (!chunk_) {
    return;
  }
  chunk_->nb_samples = static_cast<int>(filled_);
  out_.push_back(std::move(chunk_));
}

}  // namespace spdl
