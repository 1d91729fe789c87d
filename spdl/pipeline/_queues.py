"""The bounded queues that join the stages, and the sink that the user's thread reads."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
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


class PipelineEnded(Exception):
    """Raised by :meth:`Sink.get` at the end of the stream; carries the pipeline's error."""

    def __init__(self, error: BaseException | None) -> None:
        super().__init__()
        self.error = error


class Sink:
    """The pipeline's output queue: the event loop puts, any thread gets.

    The loop side waits for room asynchronously (loop futures that the getter
    resolves with ``call_soon_threadsafe``; a stage with concurrency puts from several
    tasks, each waiting on its own future); the getter side blocks on a condition.
    After the last item an end marker is appended regardless of room; it stays at the
    head so that every later ``get`` sees the end (and its error) again. ``close``
    drops what is buffered and makes every ``get`` end at once (used by ``stop``).
    The lock is re-entrant because a garbage-collection finalizer may close the sink
    from inside a locked section of the same thread.
    """

    def __init__(self, clock: QueueClock) -> None:
        self._clock = clock
        self._items: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition(threading.RLock())
        self._ended = False
        self._error: BaseException | None = None
        self._room_waiters: list[asyncio.Future[None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def put(self, item: Any) -> None:
        if item is EOF:  # the runtime appends the end marker itself, see ``finish``
            return
        while True:
            with self._cond:
                if self._ended:
                    return  # closed by ``stop``: the item is dropped
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

    def finish(self, error: BaseException | None) -> None:
        """Mark the end of the stream after the buffered items."""
        with self._cond:
            if not self._ended:
                self._ended, self._error = True, error
                self._clock.stop()
                self._cond.notify_all()

    def close(self) -> None:
        """End the stream now, dropping the buffered items."""
        with self._cond:
            self._items.clear()
            if not self._ended:
                self._ended, self._error = True, None
                self._clock.stop()
            self._cond.notify_all()
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
                    raise PipelineEnded(self._error)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"The pipeline produced no item within {timeout} s.")
                self._cond.wait(remaining)
            item = self._items.popleft()
            self._clock.update(len(self._items))
        self._wake_putters()
        return item

    def _wake_putters(self) -> None:
        """Let every waiting putter check for room again."""
        with self._cond:
            waiters, self._room_waiters = self._room_waiters, []
            loop = self._loop
        if waiters and loop is not None:
            try:
                loop.call_soon_threadsafe(_resolve, waiters)
            except RuntimeError:  # the loop has already closed
                pass


def _resolve(waiters: list[asyncio.Future[None]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(None)
