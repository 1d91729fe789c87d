"""The windows of one decode session are decoded one after the other.

The video windows of a streaming demux share a decoder (docs/architecture.md,
"Streaming windows share a decoder"): a window decoded after the window before it
continues that window's decoder, but two decoded at the same time each decode their
GOP from its keyframe. So the Future and async forms of ``decode_packets`` start a
window's decode once the decode of the window before it, when that one was submitted
and is not done yet, is done (whatever its outcome). Any other window (the first,
one whose predecessor is done or was never submitted, one decoded out of order)
starts at once, as other decodes do. The pools stay free in between: nothing waits
in a thread.

A waiting window looks its pool up when it starts. If that pool was shut down
meanwhile (``with ThreadPoolExecutor() as pool:``), the window decodes in the
thread that finished the window before it, as the last work given to the pool; if
the window before was cancelled (``shutdown(cancel_futures=True)``), it is cancelled.
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from spdl.io._runtime.futures import drop_own_frame, try_set

__all__ = ["after_previous_window"]

T = TypeVar("T")
Window = tuple[int, int]  # (the session's key, the window's index)

Start = Callable[..., Future[T]]  # start(pool=None): submits the decode

_lock = threading.Lock()
# The Future of each session window whose decode was submitted and is not done.
_pending: dict[Window, Future[Any]] = {}
_local = threading.local()  # .queue: the windows this thread starts, in turn


def _forget_parents_windows() -> None:
    # A forked child never sees its parent's decodes finish.
    global _lock
    _lock = threading.Lock()
    _pending.clear()


os.register_at_fork(after_in_child=_forget_parents_windows)


def after_previous_window(window: Window, start: Start[T]) -> Future[T]:
    """``start()``, once the pending decode of the window before ``window`` is done.

    Args:
        window: ``Packets.decode_session_window`` of the packets to decode.
        start: Submits the decode (to the pool it is given, else to its own) and
            returns its Future.

    Returns:
        The decode's Future; cancelling it while it waits means it never starts.
    """
    session, index = window
    with _lock:
        previous = _pending.get((session, index - 1))
        waiting: Future[T] | None = Future() if previous is not None else None
        if waiting is not None:
            _pending[window] = waiting
    if previous is None or waiting is None:
        return _track(window, start())
    waiting.add_done_callback(_Forget(window))
    previous.add_done_callback(_Start(waiting, start))
    return waiting


def _track(window: Window, future: Future[T]) -> Future[T]:
    with _lock:
        _pending[window] = future
    future.add_done_callback(_Forget(window))
    return future


class _Forget:
    """Drops a window's Future from ``_pending`` when it is done (not a later one's)."""

    __slots__ = ("window",)

    def __init__(self, window: Window) -> None:
        self.window = window

    def __call__(self, future: Future[Any]) -> None:
        with _lock:
            if _pending.get(self.window) is future:
                del _pending[self.window]


class _Start:
    """Starts the waiting decode when the window before it is done.

    One-shot: it lets go of ``start`` (which holds the packets) once called, since
    the Future of the window before keeps its callbacks for as long as it lives.
    """

    __slots__ = ("waiting", "start")

    def __init__(self, waiting: Future[T], start: Start[T]) -> None:
        self.waiting: Future[Any] | None = waiting
        self.start: Start[Any] | None = start

    def __call__(self, previous: Future[Any]) -> None:
        waiting, start = self.waiting, self.start
        self.waiting = self.start = None
        if waiting is None or start is None or waiting.done():  # cancelled while waiting
            return
        if previous.cancelled():
            # Maybe by the pool's shutdown(cancel_futures=True), which holds the lock
            # that submitting to it takes: start from a thread of its own.
            try:
                thread = threading.Thread(target=_in_turn, args=(waiting, start, True))
                thread.daemon = True
                thread.start()
            except RuntimeError as error:  # no new threads at interpreter exit
                try_set(waiting.set_exception, error)
            return
        _in_turn(waiting, start, False)


def _in_turn(waiting: Future[T], start: Start[T], after_cancel: bool) -> None:
    """Starts the window now, or after the one this thread is starting: a run of
    windows that start one another from their callbacks is a loop, not a recursion."""
    queue = getattr(_local, "queue", None)
    if queue is not None:
        queue.append((waiting, start, after_cancel))
        return
    _local.queue = queue = collections.deque([(waiting, start, after_cancel)])
    try:
        while queue:
            _start(*queue.popleft())
    except BaseException as error:  # KeyboardInterrupt in an inline decode
        for left, _, _ in queue:
            try_set(left.set_exception, error)
        raise
    finally:
        _local.queue = None


def _start(waiting: Future[T], start: Start[T], after_cancel: bool) -> None:
    """Submits the decode and hands its outcome to ``waiting``."""
    if waiting.done():
        return
    try:
        try:
            running = start()
        except RuntimeError:  # the pool was shut down meanwhile
            if after_cancel:
                waiting.cancel()
                return
            running = start(_HERE)  # its last work: shutdown(wait=True) waits for this thread
    except BaseException as error:
        drop_own_frame(error)  # this frame holds `waiting`: no cycle through the error
        try_set(waiting.set_exception, error)
        return
    link = _Link(running)
    waiting.add_done_callback(link.cancel_on_cancelled)
    running.add_done_callback(link.settle(waiting))


class _Here(Executor):
    """Runs what is submitted in the submitting thread, before ``submit`` returns."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:
            future.set_exception(error)
            if not isinstance(error, Exception):
                raise
        return future


_HERE = _Here()


class _Link:
    """Cancels the running decode with the Future handed out for it; holds it only
    until it is done, so neither Future keeps the other (nor its result) in a cycle."""

    __slots__ = ("running",)

    def __init__(self, running: Future[Any]) -> None:
        self.running: Future[Any] | None = running

    def cancel_on_cancelled(self, waiting: Future[Any]) -> None:
        running = self.running
        if waiting.cancelled() and running is not None:
            running.cancel()

    def settle(self, waiting: Future[Any]) -> Callable[[Future[Any]], None]:
        def copy(running: Future[Any]) -> None:
            self.running = None
            if running.cancelled():
                waiting.cancel()
            elif (error := running.exception()) is not None:
                try_set(waiting.set_exception, error)
            else:
                try_set(waiting.set_result, running.result())

        return copy
