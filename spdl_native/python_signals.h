// Ctrl-C during a native wait. Python runs its signal handlers on the main thread,
// between bytecodes: a main thread blocked in native code with the GIL released
// would only raise KeyboardInterrupt once the wait ends, however long that takes.
// So a wait on the main thread gives Python the chance when a signal woke it (the
// kernel gives a process's signals to its main thread, whose system call then fails
// with EINTR), and after every kSignalCheckMs without progress (a signal that
// landed while the thread was busy woke nothing). Never per packet: only a signal
// or a stalled wait takes the GIL.
#pragma once

namespace spdl {

// How long a wait on the main thread may go without looking for signals.
constexpr int kSignalCheckMs = 250;

// Whether the calling thread is the process's main thread, the one Python runs
// signal handlers on.
bool on_signal_thread();

// Called with the GIL released, by a wait that a signal interrupted or that
// stalled. On the main thread: takes the GIL for a moment and runs Python's signal
// handlers; what a handler raised (KeyboardInterrupt) is thrown as a Python error,
// and the wait ends with it. On other threads, or while the interpreter exits,
// does nothing.
void check_python_signals();

// Starts the clock of poll_python_signals on this thread: native work began with the
// GIL released (GilRelease). Cheap off the main thread: it reads one flag.
void start_signal_polling();

// Called by a long native loop once per packet or frame: on the main thread, once
// every kSignalCheckMs, and only if a SIGINT came (a handler put in front of Python's
// notes it), does what check_python_signals does, so that Ctrl-C stops a long decode
// in the calling thread instead of waiting for its end. Other signals wait for the
// call's end, as before. Elsewhere a no-op.
void poll_python_signals();

// Whether the exception in flight is the one a signal handler raised (thrown by
// check_python_signals): a loop that retries after a failure lets it pass.
bool raised_by_signal_handler();

}  // namespace spdl
