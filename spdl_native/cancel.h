// A flag shared between Python and a running native loop; the loop checks it
// once per packet so that a cancelled decode returns promptly.
#pragma once

#include <atomic>
#include <string>

namespace spdl {

class CancelToken {
 public:
  // A shared flag: whoever holds it may raise it (a batch that Ctrl-C stops stops
  // its other threads so), hence const.
  void cancel() const { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  mutable std::atomic<bool> cancelled_{false};
};

// Throws MediaError "Decoding <src> was cancelled." once `cancel` (if any) is set.
void throw_if_cancelled(const CancelToken* cancel, const std::string& src);

// A decode loop's check before each packet: the token, then a pending Ctrl-C on the
// main thread (poll_python_signals).
void check_stop(const CancelToken* cancel, const std::string& src);

}  // namespace spdl
