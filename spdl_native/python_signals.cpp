#include "python_signals.h"

#include <nanobind/nanobind.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "gil_release.h"

namespace nb = nanobind;

namespace spdl {
namespace {

using Clock = std::chrono::steady_clock;

// -1 until this thread asked once: the answer does not change (a forked child's
// only thread stays what it was, which at worst leaves it unpolled).
thread_local int polling_thread = -1;
thread_local Clock::time_point next_poll;

// Set by the SIGINT handler that runs in front of Python's (or whichever handler is
// installed), so that a poll takes the GIL only after a Ctrl-C came.
std::atomic<bool> sigint_came{false};
std::mutex watch_mutex;
struct sigaction chained {};  // the handler ours passes the signal on to

void on_sigint(int number, siginfo_t* info, void* context) {
  sigint_came.store(true, std::memory_order_relaxed);
  if ((chained.sa_flags & SA_SIGINFO) != 0) {
    chained.sa_sigaction(number, info, context);
  } else if (chained.sa_handler != SIG_DFL && chained.sa_handler != SIG_IGN) {
    chained.sa_handler(number);
  }
}

// Puts on_sigint in front of SIGINT's handler, again after Python replaced it
// (signal.signal). False when SIGINT has no handler function (the default ends the
// process; ignored, nothing is to be run): then no poll needs the GIL.
bool watch_sigint() {
#ifdef SA_SIGINFO
  std::lock_guard<std::mutex> lock(watch_mutex);
  struct sigaction current {};
  if (::sigaction(SIGINT, nullptr, &current) != 0) {
    return true;  // unknown: poll as if a signal may have come
  }
  const bool info = (current.sa_flags & SA_SIGINFO) != 0;
  if (info && current.sa_sigaction == on_sigint) {
    return true;
  }
  if (!info && (current.sa_handler == SIG_DFL || current.sa_handler == SIG_IGN)) {
    return false;
  }
  chained = current;  // ours is not installed: it cannot be reading this now
  struct sigaction ours = current;
  ours.sa_sigaction = on_sigint;
  ours.sa_flags = current.sa_flags | SA_SIGINFO;
  if (::sigaction(SIGINT, &ours, nullptr) != 0) {
    return true;
  }
  // A SIGINT between the two calls went to the handler before ours.
  sigint_came.store(true, std::memory_order_relaxed);
  return true;
#else
  return true;
#endif
}

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
    watch_sigint();
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
  // The GIL only when Ctrl-C came: taking it costs a wait for whichever thread holds it.
  if (watch_sigint() && sigint_came.exchange(false, std::memory_order_relaxed)) {
    check_python_signals();
  }
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
