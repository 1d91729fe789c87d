// Releasing the GIL around native work, safely at interpreter exit.
#pragma once

#include <Python.h>

#include <atomic>
#include <vector>

#include "python_signals.h"

namespace spdl {

// From now on, the threads `idents` (Python's thread idents: the daemon threads
// alive when the interpreter's atexit handlers run) wait for the process's exit
// when they finish native work, instead of taking the GIL back (see GilRelease).
// Called with the GIL held; lets it go for a moment when such work is in flight,
// for the threads already waiting to take it back.
void park_threads_at_exit(const std::vector<unsigned long>& idents);

// Whether the calling thread must not take the GIL back: it is one of those threads,
// or the interpreter is finalizing and it is not the thread that finalizes it.
bool must_park();

// Blocks the calling thread for good: the process's exit, under way, ends it.
[[noreturn]] void park();

// Native work with the GIL released (GilRelease), or Python called back from it
// (NativeCall), now running: the exit waits a moment for it (park_threads_at_exit).
std::atomic<int>& native_calls();

// Counts a native call in flight for its scope.
class NativeCall {
 public:
  NativeCall() { native_calls().fetch_add(1); }
  ~NativeCall() { native_calls().fetch_sub(1); }
  NativeCall(const NativeCall&) = delete;
  NativeCall& operator=(const NativeCall&) = delete;
};

// Releases the GIL for its scope, as nanobind's gil_scoped_release does, except that
// a daemon thread still in native work when the program ends (a prefetch thread)
// parks instead of taking the GIL back: Python would end it with pthread_exit, whose
// forced unwinding through the C++ frames (noexcept destructors, nanobind's
// dispatch) crashes the process.
class GilRelease {
 public:
  GilRelease() : state_(PyEval_SaveThread()) { start_signal_polling(); }
  ~GilRelease() {
    if (must_park()) {
      park();
    }
    PyEval_RestoreThread(state_);
  }
  GilRelease(const GilRelease&) = delete;
  GilRelease& operator=(const GilRelease&) = delete;

 private:
  NativeCall call_;  // counted until the GIL is taken back
  PyThreadState* state_;
};

}  // namespace spdl
