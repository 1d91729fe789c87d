#include "pending_image.h"

#include <chrono>
#include <cstring>

#include "ffmpeg/error.h"
#include "python_signals.h"

namespace spdl {

void PendingImage::set(const uint8_t* data, size_t size) {
  auto packet = ffmpeg::alloc_packet();
  ffmpeg::check(av_new_packet(packet.get(), static_cast<int>(size)),
                "Failed to allocate a packet for " + name_);
  std::memcpy(packet->data, data, size);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) {
      return;
    }
    packet_ = std::move(packet);
    done_ = true;
  }
  ready_.notify_all();
}

void PendingImage::fail(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) {
      return;
    }
    error_ = message;
    done_ = true;
  }
  ready_.notify_all();
}

bool PendingImage::done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

ffmpeg::PacketPtr PendingImage::take(const CancelToken* cancel) const {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!done_) {
    if (cancel && cancel->cancelled()) {
      throw MediaError("Loading " + name_ + " was cancelled.");
    }
    // Not under the lock: the fetch that fills this image holds the GIL to do so.
    lock.unlock();
    poll_python_signals();
    lock.lock();
    ready_.wait_for(lock, std::chrono::milliseconds(20));
  }
  if (error_) {
    throw MediaError(*error_);
  }
  if (!packet_) {
    throw MediaError("The bytes of " + name_ + " were taken already.");
  }
  return std::move(packet_);
}

}  // namespace spdl
