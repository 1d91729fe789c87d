"""``Pipeline``: the user's handle on a running chain of stages (see ``_runtime``)."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Generic, TypeVar

from ._queues import PipelineEnded
from ._runtime import Runtime
from ._stats import PipelineStats

__all__ = ["Pipeline"]

T = TypeVar("T")


class _Exhausted(EOFError):
    """The pipeline has produced all its items (an ``EOFError``, as in SPDL)."""


class Pipeline(Generic[T]):
    """A chain of stages running in background threads; iterate it to get the outputs.

    Build one with :class:`PipelineBuilder`. One background thread runs an asyncio
    event loop that drives every stage; sync ops run on a pool of ``num_threads``
    threads (named ``spdl-pipeline-<id>-worker_<n>``, the loop thread
    ``spdl-pipeline-<id>-loop``), and a sync source is iterated on a thread of its own
    (``spdl-pipeline-<id>-source``). Stages are joined by bounded queues, so a consumer
    that stops reading stops the pipeline after a bounded number of items.

    Iterating a pipeline that was not started starts it. Stop it with :meth:`stop` or
    use :meth:`auto_stop`: breaking out of ``for item in pipeline`` does not stop it,
    and while the pipeline is referenced its threads keep running (paused by the full
    queues). A pipeline that is garbage collected without being stopped stops its
    threads, and pipelines still running at interpreter exit are stopped then.
    Stopping cancels asyncio work and Futures at once; only a call that blocks a
    thread (a sync op already running, ``next`` on a sync source, or blocking code
    inside an async op) delays the end of that thread until it returns. Every thread
    is a daemon: neither :meth:`stop` nor interpreter exit waits for such a call for
    more than a bounded time.

    Example:
        >>> from spdl.pipeline import PipelineBuilder
        >>> async def double(x):
        ...     return 2 * x
        >>> pipeline = (
        ...     PipelineBuilder()
        ...     .add_source(range(6))
        ...     .pipe(double, concurrency=3, output_order="input")
        ...     .aggregate(4)
        ...     .add_sink(2)
        ...     .build(num_threads=2)
        ... )
        >>> with pipeline.auto_stop():
        ...     for batch in pipeline:
        ...         print(batch)
        [0, 2, 4, 6]
        [8, 10]
    """

    def __init__(self, runtime: Runtime) -> None:
        """Use :meth:`PipelineBuilder.build`."""
        self._runtime = runtime
        self._finalizer = weakref.finalize(self, runtime.request_stop)
        self._finalizer.atexit = False  # the exit hook stops running pipelines

    def __repr__(self) -> str:
        return f"<Pipeline {self._runtime.id}: {self._runtime.describe()}>"

    def start(self, *, timeout: float | None = None) -> None:
        """Start the background threads.

        Args:
            timeout: Seconds to wait for the event loop to start; ``None`` waits as
                long as it takes.

        Raises:
            RuntimeError: If the pipeline was started (or stopped) before.
            TimeoutError: If the loop did not start within ``timeout``.
        """
        self._runtime.start(timeout)

    def stop(self, *, timeout: float | None = 0.5) -> None:
        """Stop the pipeline and wait for its threads to end.

        Cancels every stage: items in flight are dropped, asyncio ops are cancelled, and
        a ``concurrent.futures.Future`` an op returned (an ``spdl.io`` call, for example)
        is cancelled. Items left in the sink are dropped: iteration ends after ``stop``.
        A sync op already running in a worker thread (or ``next`` running on a sync
        source) cannot be interrupted; ``stop`` waits for it at most until ``timeout``
        and then returns (logging the threads still running), and the thread ends when
        the call returns. Called by an op of this pipeline (an early-stopping check, say)
        it asks for the stop and returns at once: the pipeline's threads end after the
        op does. Calling ``stop`` again, or on a pipeline that never started, does
        nothing more.

        Args:
            timeout: Seconds to wait for the threads to end (0.5 by default); ``None``
                waits as long as it takes.
        """
        self._runtime.stop(timeout)
        self._finalizer.detach()

    def _delivered_all(self, timeout: float) -> bool:
        """Whether every item was taken and the pipeline ended without an error (see
        ``Sink.delivered_all``); False once stopped."""
        return self._runtime.sink.delivered_all(timeout)

    @contextlib.contextmanager
    def auto_stop(self, *, timeout: float | None = None) -> Iterator[Pipeline[T]]:
        """Start the pipeline (if it was not started) and stop it when the block exits.

        The pipeline is stopped however the block exits: normally, by ``break``, or by
        an exception (which propagates).

        Args:
            timeout: Passed to :meth:`start` and :meth:`stop`; ``None`` lets
                :meth:`start` wait as long as it takes and :meth:`stop` wait its
                default time.

        Yields:
            The pipeline itself.

        Example:
            >>> from spdl.pipeline import PipelineBuilder
            >>> pipeline = PipelineBuilder().add_source("abc").add_sink(1).build(num_threads=1)
            >>> with pipeline.auto_stop():
            ...     print(next(iter(pipeline)))
            a
        """
        if not self._runtime.is_started():
            self.start(timeout=timeout)
        try:
            yield self
        finally:
            if timeout is None:
                self.stop()  # its default: a bounded wait
            else:
                self.stop(timeout=timeout)

    def get_item(self, *, timeout: float | None = None) -> T:
        """Return the next output item, starting the pipeline if needed.

        Args:
            timeout: Seconds to wait for the item; ``None`` waits as long as it takes.

        Returns:
            The next item of the sink.

        Raises:
            EOFError: If the pipeline has produced all its items or was stopped.
            TimeoutError: If no item came within ``timeout``.
            PipelineFailure: If a stage failed more often than ``max_failures`` allows
                (raised after the items that reached the sink before).
            Exception: The source iterable's own error, after the items produced before
                it.
        """
        if not self._runtime.is_started():
            self.start()
        sink = self._runtime.sink
        try:
            return sink.get(timeout)
        except PipelineEnded as end:
            error, traceback = end.error, end.traceback
        # Raised outside the ``except`` so the error keeps its own context and cause;
        # with its first traceback, so that raising it again does not grow it.
        if error is not None:
            raise error.with_traceback(traceback)
        raise _Exhausted("The pipeline has no more items.")

    def get_iterator(self, *, timeout: float | None = None) -> Iterator[T]:
        """An iterator over the outputs whose each step waits at most ``timeout``.

        Args:
            timeout: Seconds each ``next`` waits for an item; ``None`` waits as long as
                it takes.

        Returns:
            An iterator that raises ``TimeoutError`` if an item takes longer, and the
            pipeline's error (see :meth:`get_item`) at the end.
        """
        return _PipelineIterator(self, timeout)

    def __iter__(self) -> Iterator[T]:
        """Same as :meth:`get_iterator` without a timeout."""
        return _PipelineIterator(self, None)

    def stats(self) -> PipelineStats:
        """A snapshot of the per-stage and per-queue statistics (any time, any thread).

        Returns:
            The counts and times so far; see :class:`PipelineStats` and its
            :meth:`~PipelineStats.report`.
        """
        return self._runtime.stats()


class _PipelineIterator(Iterator[T]):
    def __init__(self, pipeline: Pipeline[T], timeout: float | None) -> None:
        self._pipeline = pipeline
        self._timeout = timeout

    def __iter__(self) -> _PipelineIterator[T]:
        return self

    def __next__(self) -> T:
        try:
            return self._pipeline.get_item(timeout=self._timeout)
        except _Exhausted:
            raise StopIteration from None
