"""The bounded queues that join the stages, and the sink that the user's thread reads."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from types import TracebackType
from typing import Any

from ._stats import QueueClock


class _EndOfStream:
    """Put by a stage into its output queue after its last item."""

    def __repr__(self) -> str:
        return "<end of stream>"


EOF: Any = _EndOfStream()


class StageQueue:
    """An ``asyncio.Queue`` between two stages that times how often it is empty or full.

    Used on the event loop only.
    """

    def __init__(self, clock: QueueClock) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue(clock.size)
        self._clock = clock

    async def put(self, item: Any) -> None:
        await self._queue.put(item)
        if item is not EOF:
            self._clock.num_put += 1
        self._clock.update(self._queue.qsize())

    async def get(self) -> Any:
        item = await self._queue.get()
        self._clock.update(self._queue.qsize())
        return item


class SourceQueue:
    """The queue behind a sync source: the source's own thread puts, the loop gets.

    The thread waits for room on a condition; the loop's one reader waits on a loop
    future that the putter resolves with ``call_soon_threadsafe``. ``close`` (stop)
    drops the items and makes the putter stop.
    """

    def __init__(self, clock: QueueClock, loop: asyncio.AbstractEventLoop) -> None:
        self._clock = clock
        self._loop = loop
        self._items: collections.deque[Any] = collections.deque()
        self._room = threading.Condition()
        self._putter_waits = False
        self._closed = False
        self._getter: asyncio.Future[None] | None = None

    def put_blocking(self, item: Any) -> bool:
        """Append ``item`` once there is room (the end marker too).

        Returns:
            ``False`` if the queue was closed (the item is dropped): the caller stops.
        """
        with self._room:
            while not self._closed and len(self._items) >= self._clock.size:
                self._putter_waits = True
                self._room.wait()
            if self._closed:
                return False
            self._items.append(item)
            if item is not EOF:
                self._clock.num_put += 1
            self._clock.update(len(self._items))
            getter, self._getter = self._getter, None
        if getter is not None:
            call_soon(self._loop, _resolve, [getter])
        return True

    async def get(self) -> Any:
        while True:
            with self._room:
                if self._items:
                    item = self._items.popleft()
                    # Wake the putter once half the queue is free, not per item: each
                    # wake hands the GIL over between two threads.
                    if self._putter_waits and len(self._items) <= self._clock.size // 2:
                        self._putter_waits = False
                        self._room.notify()
                    # While the source waits for room, the queue holds it back as a
                    # full one does (the stats' bottleneck reads that).
                    size = self._clock.size if self._putter_waits else len(self._items)
                    self._clock.update(size)
                    return item
                if self._closed:
                    raise asyncio.CancelledError  # closed by stop, which cancels the stages
                self._getter = self._loop.create_future()
                getter = self._getter
            await getter

    def close(self) -> None:
        """Drop the items; the putter's next (or current) wait returns ``False``."""
        with self._room:
            self._closed = True
            self._items.clear()
            self._room.notify_all()
            getter, self._getter = self._getter, None
        if getter is not None:
            call_soon(self._loop, _resolve, [getter])


class PipelineEnded(Exception):
    """Raised by :meth:`Sink.get` at the end of the stream; carries the pipeline's error."""

    def __init__(self, error: BaseException | None, traceback: TracebackType | None) -> None:
        super().__init__()
        self.error = error
        self.traceback = traceback  # the error's, as recorded (see Sink.finish)


class Sink:
    """The pipeline's output queue: the event loop puts, any thread gets.

    The loop side waits for room asynchronously (loop futures that the getter
    resolves with ``call_soon_threadsafe``; a stage with concurrency puts from several
    tasks, each waiting on its own future); the getter side blocks on a condition.
    A sync source that feeds the sink directly puts from its own thread
    (``put_blocking``, waiting on a second condition). After the last item an end
    marker is appended regardless of room; it stays at the head so that every later
    ``get`` sees the end (and its error) again. ``close`` drops what is buffered and
    makes every ``get`` end at once (used by ``stop``); a ``put`` after it raises
    ``CancelledError``.
    The lock is re-entrant because a garbage-collection finalizer may close the sink
    from inside a locked section of the same thread.
    """

    def __init__(self, clock: QueueClock) -> None:
        self._clock = clock
        self._items: collections.deque[Any] = collections.deque()
        lock = threading.RLock()
        self._cond = threading.Condition(lock)  # an item came, or the end
        self._room = threading.Condition(lock)  # room for ``put_blocking``, or the end
        self._ended = False
        self._closed = False  # ended by ``close``: the items left were dropped
        self._error: BaseException | None = None
        self._traceback: TracebackType | None = None
        self._room_waiters: list[asyncio.Future[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def put(self, item: Any) -> None:
        if item is EOF:  # the runtime appends the end marker itself, see ``finish``
            return
        while True:
            with self._cond:
                if self._ended:
                    break
                if len(self._items) < self._clock.size:
                    self._items.append(item)
                    self._clock.num_put += 1
                    self._clock.update(len(self._items))
                    self._cond.notify()
                    return
                self._loop = asyncio.get_running_loop()
                waiter = self._loop.create_future()
                self._room_waiters.append(waiter)
            await waiter
        # Closed by ``stop``, which is cancelling the stages: suspend so that the
        # cancellation arrives, and end a stage that would otherwise go on without ever
        # suspending (taking items that a never-suspending producer keeps giving).
        await asyncio.sleep(0)
        raise asyncio.CancelledError

    def put_blocking(self, item: Any) -> bool:
        """``put`` for a thread other than the loop's (a sync source's thread).

        Returns:
            ``False`` if the stream has ended (the item is dropped): the caller stops.
        """
        if item is EOF:
            return True
        with self._cond:
            while not self._ended and len(self._items) >= self._clock.size:
                self._room.wait()
            if self._ended:
                return False
            self._items.append(item)
            self._clock.num_put += 1
            self._clock.update(len(self._items))
            self._cond.notify()
        return True

    def finish(self, error: BaseException | None) -> None:
        """Mark the end of the stream after the buffered items."""
        with self._cond:
            if not self._ended:
                self._ended, self._error = True, error
                # Each raise of the error adds the raiser's frames to its traceback: the
                # consumer gets it with this one each time, not a longer one.
                self._traceback = error.__traceback__ if error is not None else None
                self._clock.stop()
                self._cond.notify_all()
                self._room.notify_all()

    def close(self) -> None:
        """End the stream now, dropping the buffered items."""
        with self._cond:
            self._items.clear()
            self._closed = True
            if not self._ended:
                self._ended, self._error = True, None
                self._clock.stop()
            self._cond.notify_all()
            self._room.notify_all()
        self._wake_putters()

    def get(self, timeout: float | None) -> Any:
        """The next item.

        Raises:
            PipelineEnded: At the end of the stream.
            TimeoutError: If no item came within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items:
                if self._ended:
                    raise PipelineEnded(self._error, self._traceback)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"The pipeline produced no item within {timeout} s.")
                self._cond.wait(remaining)
            item = self._items.popleft()
            self._clock.update(len(self._items))
            self._room.notify()
        self._wake_putters()
        return item

    def delivered_all(self, timeout: float) -> bool:
        """Whether the stream ended without an error and every item was taken, waiting
        up to ``timeout`` seconds while it may still end (nothing buffered)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._items and not self._ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return not self._items and self._error is None and not self._closed

    def _wake_putters(self) -> None:
        """Let every waiting putter check for room again."""
        with self._cond:
            waiters, self._room_waiters = self._room_waiters, []
            loop = self._loop
        if waiters and loop is not None:
            call_soon(loop, _resolve, waiters)


def call_soon(loop: asyncio.AbstractEventLoop, callback: Any, *args: Any) -> None:
    """``call_soon_threadsafe`` that does nothing once the loop has closed."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop has already closed: nothing waits any more
        pass


def _resolve(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
