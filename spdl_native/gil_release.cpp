#include "gil_release.h"

#include <pythread.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

namespace spdl {
namespace {

std::atomic<bool> exiting{false};
std::mutex parked_mutex;
std::vector<unsigned long> parked;  // sorted
// The thread that runs the atexit handlers and then finalizes: never parked.
std::atomic<unsigned long> exiting_thread{0};

bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

}  // namespace

std::atomic<int>& native_calls() {
  static std::atomic<int> count{0};
  return count;
}

void park_threads_at_exit(const std::vector<unsigned long>& idents) {
  exiting_thread.store(PyThread_get_thread_ident());
  {
    std::lock_guard<std::mutex> lock(parked_mutex);
    parked = idents;
    std::sort(parked.begin(), parked.end());
  }
  exiting.store(true);
  if (native_calls().load() > 0 && !idents.empty()) {
    // A thread that checked before the store may be waiting for the GIL already:
    // let it have it now, before the interpreter finalizes (then it would be ended).
    GilRelease release;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool must_park() {
  const unsigned long self = PyThread_get_thread_ident();
  const unsigned long finalizer = exiting_thread.load();
  if (finalizing()) {
    return finalizer != 0 ? self != finalizer : false;
  }
  if (!exiting.load() || self == finalizer) {
    return false;
  }
  std::lock_guard<std::mutex> lock(parked_mutex);
  return std::binary_search(parked.begin(), parked.end(), self);
}

void park() {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::hours(1));
  }
}

}  // namespace spdl
