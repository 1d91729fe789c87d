// A still image of a batch whose bytes arrive while the batch runs (fetched from a
// URL by another thread): the worker that reaches it waits for them, so a batch
// decodes the images already fetched while later ones are still on the network.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "cancel.h"
#include "ffmpeg/wrappers.h"

namespace spdl {

class PendingImage {
 public:
  explicit PendingImage(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  // The image's bytes (copied into a padded packet); the first of set/fail wins.
  void set(const uint8_t* data, size_t size);
  // The image cannot be had: waiting for it throws MediaError(message).
  void fail(const std::string& message);
  bool done() const;

  // Waits for set() or fail(), checking `cancel` every 20 ms, and returns the packet
  // (once; a second call throws). MediaError when it failed or was cancelled.
  ffmpeg::PacketPtr take(const CancelToken* cancel) const;

 private:
  std::string name_;
  mutable std::mutex mutex_;
  mutable std::condition_variable ready_;
  mutable ffmpeg::PacketPtr packet_;
  std::optional<std::string> error_;
  bool done_ = false;
};

}  // namespace spdl
