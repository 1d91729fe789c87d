// Releasing the GIL around native work, safely at interpreter exit.
#pragma once

#include <Python.h>

namespace spdl {

// From now on, a thread other than the calling one (the main thread, running the
// interpreter's atexit handlers: only daemon threads are left) that finishes native
// work never takes the GIL back (see GilRelease). Called with the GIL held; lets it
// go for a moment, for the threads already waiting for it.
void park_threads_at_exit();

// Whether the calling thread must not take the GIL back: the interpreter is exiting
// (park_threads_at_exit was called from another thread) or finalizing.
bool must_park();

// Blocks the calling thread for good: the process's exit, under way, ends it.
[[noreturn]] void park();

// Releases the GIL for its scope, as nanobind's gil_scoped_release does, except that
// a daemon thread still in native work when the program ends (a prefetch thread)
// parks instead of taking the GIL back: Python would end it with pthread_exit, whose
// forced unwinding through the C++ frames (noexcept destructors, nanobind's
// dispatch) crashes the process.
class GilRelease {
 public:
  GilRelease() : state_(PyEval_SaveThread()) {}
  ~GilRelease() {
    if (must_park()) {
      park();
    }
    PyEval_RestoreThread(state_);
  }
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

 private:
  PyThreadState* state_;
};

}  // namespace spdl
