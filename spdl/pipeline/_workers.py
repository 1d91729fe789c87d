"""``WorkerPool``: the daemon threads that run a pipeline's sync ops.

``concurrent.futures.ThreadPoolExecutor`` joins its threads at interpreter exit without
a timeout, so one op that never returns would hang the exit, and ``stop()`` could not
walk away from it. These threads are daemons: ``stop(timeout)`` and the exit hook wait
for them as long as they choose to, and a thread whose op is still running ends when
the op returns.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

__all__ = ["WorkerPool"]

P = ParamSpec("P")
T = TypeVar("T")

_WorkItem = tuple[
    concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]
]


class WorkerPool(concurrent.futures.ThreadPoolExecutor):
    """Up to ``max_workers`` daemon threads named ``<name_prefix>_<n>``, started on demand.

    It derives from ``ThreadPoolExecutor`` only because asyncio accepts nothing else as
    a loop's default executor (what ``asyncio.to_thread`` uses); none of that class's
    machinery is used.
    """

    def __init__(self, max_workers: int, name_prefix: str) -> None:  # no super().__init__
        self._max_workers = max_workers
        self._name_prefix = name_prefix
        self._lock = threading.Lock()
        self._work: queue.SimpleQueue[_WorkItem | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # one token per idle thread
        self._started: list[threading.Thread] = []  # not the base class's `_threads`
        self._shutdown = False

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._work.put((future, fn, args, kwargs))
            if self._idle.acquire(timeout=0) or len(self._started) >= self._max_workers:
                return future
            thread = threading.Thread(
                target=self._serve,
                name=f"{self._name_prefix}_{len(self._started)}",
                daemon=True,
            )
            self._started.append(thread)
        thread.start()
        return future

    def _serve(self) -> None:
        while True:
            item = self._work.get()
            if item is None:  # shut down: pass the marker on to the next thread
                self._work.put(None)
                return
            _run(*item)
            del item  # let go of its objects before waiting for the next one
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new work; idle threads end now, busy ones after their op (and the work
        queued before, unless ``cancel_futures``).

        Args:
            wait: Join the threads (except the calling one) before returning.
            cancel_futures: Cancel the work that has not started.
        """
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while True:
                    try:
                        item = self._work.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            self._work.put(None)
        if wait:
            self.join(None)

    def join(self, timeout: float | None) -> None:
        """Wait for the threads (but the calling one) to end, ``timeout`` seconds at most.

        Args:
            timeout: Seconds for all of them together; ``None`` waits as long as it takes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        current = threading.current_thread()
        for thread in self.threads():
            if thread is not current:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                thread.join(remaining)

    def threads(self) -> list[threading.Thread]:
        """The threads started so far (some may have ended)."""
        with self._lock:
            return list(self._started)


def _run(
    future: concurrent.futures.Future[Any],
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    if future.set_running_or_notify_cancel():
        try:
            result = fn(*args, **kwargs)
        except BaseException as error:
            future.set_exception(error)
        else:
            future.set_result(result)
