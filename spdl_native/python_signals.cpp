#include "python_signals.h"

#include <nanobind/nanobind.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "gil_release.h"

namespace nb = nanobind;

namespace spdl {

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

}  // namespace spdl
