#include "python_signals.h"

#include <nanobind/nanobind.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "gil_release.h"

namespace nb = nanobind;

namespace spdl {
namespace {

using Clock = std::chrono::steady_clock;

// -1 until this thread asked once: the answer does not change (a forked child's
// only thread stays what it was, which at worst leaves it unpolled).
thread_local int polling_thread = -1;
thread_local Clock::time_point next_poll;

}  // namespace

bool on_signal_thread() {
#ifdef __linux__
  return ::syscall(SYS_gettid) == ::getpid();
#else
  return false;
#endif
}

void check_python_signals() {
  // At exit a thread other than the finalizing one must not take the GIL back (it
  // would be ended in the middle of native frames); the exit cancels the wait.
  if (!on_signal_thread() || must_park()) {
    return;
  }
  nb::gil_scoped_acquire acquire;
  if (PyErr_CheckSignals() != 0) {
    throw nb::python_error();
  }
}

void start_signal_polling() {
  if (polling_thread < 0) {
    polling_thread = on_signal_thread() ? 1 : 0;
  }
  if (polling_thread) {
    next_poll = Clock::now() + std::chrono::milliseconds(kSignalCheckMs);
  }
}

void poll_python_signals() {
  if (polling_thread != 1) {
    return;
  }
  const auto now = Clock::now();
  if (now < next_poll) {
    return;
  }
  next_poll = now + std::chrono::milliseconds(kSignalCheckMs);
  check_python_signals();
}

bool raised_by_signal_handler() {
  try {
    throw;
  } catch (const nb::python_error&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace spdl
