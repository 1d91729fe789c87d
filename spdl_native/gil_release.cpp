#include "gil_release.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

namespace spdl {
namespace {

std::atomic<bool> exiting{false};
std::mutex main_mutex;
std::thread::id main_thread;

bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
}

}  // namespace

void park_threads_at_exit() {
  {
    std::lock_guard<std::mutex> lock(main_mutex);
    main_thread = std::this_thread::get_id();
  }
  exiting.store(true);
  // A thread that checked before the store may be waiting for the GIL already:
  // let it have it now, before the interpreter finalizes (then it would be ended).
  GilRelease release;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

bool must_park() {
  if (finalizing()) {
    return true;
  }
  if (!exiting.load()) {
    return false;
  }
  std::lock_guard<std::mutex> lock(main_mutex);
  return std::this_thread::get_id() != main_thread;
}

void park() {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::hours(1));
  }
}

}  // namespace spdl
