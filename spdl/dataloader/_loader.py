"""``DataLoader``: source → preprocess → batch → aggregate → transfer → buffer, on threads."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

from spdl.dataloader._positions import (
    Progress,
    Read,
    check_op,
    is_async,
    positions_of,
    tag_batch_op,
    tag_item_op,
)
from spdl.dataloader._source import MapSource
from spdl.io._core.numbers import as_int
from spdl.pipeline import Pipeline, PipelineBuilder, PipelineStats
from spdl.pipeline._builder import check_interval
from spdl.pipeline._failures import FailureBudget
from spdl.pipeline._workers import WorkerPool

T = TypeVar("T")

OutputOrder = Literal["completion", "input"]
_RESUMABLE = ("epoch", "set_epoch", "state_dict", "load_state_dict")


@runtime_checkable
class _Resumable(Protocol):
    """A source with epochs and a state (a MapSource, or the user's own): the members
    of ``_RESUMABLE``, which ``isinstance`` checks for."""

    @property
    def epoch(self) -> int: ...

    def set_epoch(self, epoch: int) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


# How long leaving a pass (break, an exception, the end) waits for an op that is still
# running; its daemon thread ends on its own when the op returns.
_STOP_TIMEOUT_S = 0.5
# How long a pass closed with nothing buffered waits for its pipeline to end (the end
# follows the last batch at once; a pass broken off early has more batches coming).
_END_WAIT_S = 0.25


def _identity(item: T) -> T:
    return item


class DataLoader(Generic[T]):
    """Loads batches on background threads: a drop-in for ``torch.utils.data.DataLoader``.

    Each pass (each ``for batch in loader``) builds and runs a
    :class:`spdl.pipeline.Pipeline`:

    ```text
    src ─▶ preprocessor (per item, num_threads at once) ─▶ batch_size items
        ─▶ aggregator (per batch, num_threads at once) ─▶ transfer_fn (one thread)
        ─▶ buffer (buffer_size batches) ─▶ your loop
    ```

    Threads, not processes: nothing is pickled and the first batch arrives at once, as
    long as the heavy work releases the GIL (``spdl.io`` calls do). Stages that are left
    out are skipped. With a :class:`MapSource`, ``dataset[index]`` is read in the
    worker threads too (in the preprocessor's task, or else in the aggregator's for the
    whole batch), so a torch-style ``Dataset`` whose ``__getitem__`` loads the sample
    runs ``num_threads`` reads at once. Breaking out of the loop stops the pipeline and
    joins its threads (waiting at most 0.5 s for an op that is still running; its
    thread ends when the op returns); iterating again starts a new pass. An exception
    in a stage (or in ``dataset[index]``) drops the item; once more items failed than
    ``max_failures`` allows, the pass ends with :class:`spdl.pipeline.PipelineFailure`
    (the last error is its ``__cause__``).

    With a :class:`MapSource` (or any source with ``epoch``, ``set_epoch``,
    ``state_dict`` and ``load_state_dict``), each pass moves the source on to the next
    epoch when it ends, also one left early (a ``break`` after a number of steps, an
    error), so each pass reshuffles, as torch's ``shuffle=True`` does; setting the epoch
    (the loader's or the sampler's ``set_epoch``) or loading a state overrides it.
    :meth:`state_dict` records which of the epoch's samples have been delivered (after
    a ``break`` too), and :meth:`load_state_dict` makes the next pass deliver exactly
    the others — in a new process too. With ``output_order="input"``, the resumed pass
    yields what an uninterrupted pass would have yielded after the last delivered
    batch. With ``"completion"``, batches are delivered as they are ready; keep them
    atomic (batch the source items, then load them in the aggregator; no per-item
    preprocessor) to resume the very same batches.

    Args:
        src: The items: a :class:`MapSource` (a map-style dataset, like a torch
            ``Dataset``, read in a sampler's order), or any iterable (a generator of
            paths …; iterated on a thread of its own, so it may block).
        preprocessor: Called on each item in the pipeline's threads; returns the
            processed item, or ``None`` to drop the item. A function or an async
            function (run on the pipeline's event loop); a returned
            ``concurrent.futures.Future`` is awaited. Not a generator function.
        batch_size: The number of items per batch; ``None`` passes the items on one by
            one (then ``aggregator`` and ``drop_last`` are not used).
        drop_last: Drop the last batch of a pass if it has fewer than ``batch_size``
            items.
        aggregator: Called on each batch (a list of items) in the pipeline's threads;
            returns what the loop receives (a Future is awaited). ``None`` passes the
            list itself.
        transfer_fn: Called on each batch on one dedicated thread, one batch at a time
            (device copies are serial); e.g. a copy to the GPU. An async function runs
            on the pipeline's event loop instead, one batch at a time too.
        buffer_size: The number of finished batches kept ready for the loop.
        num_threads: The pipeline's thread count, and the number of items
            (preprocessor) and batches (aggregator) processed at once.
        timeout: The longest wait, in seconds, for each batch; ``None`` waits forever.
        output_order: ``"completion"`` passes items and batches on as they finish;
            ``"input"`` keeps the source's order throughout, so a run is reproducible
            (recommended for training).
        max_failures: How many failing items (an exception in the preprocessor, in
            ``dataset[index]``, in the aggregator or in ``transfer_fn``) each stage may
            drop, logged, before the pass ends with ``PipelineFailure``: ``0`` (the
            default) ends it at the first failure, like torch's DataLoader; a negative
            int allows any number; a float in ``(0, 1)`` is a fraction of the items.
            The aggregator's items are batches: a failing one drops its batch, and a
            rank that drops one has a batch fewer than the others (see the guide's
            distributed section). See :meth:`spdl.pipeline.PipelineBuilder.build`.
        report_stats_interval: If given, log the pipeline's stats report (logger
            ``spdl.pipeline``, level ``INFO``) every this many seconds and at the end
            of each pass.

    Raises:
        TypeError: If a count is not an int, an op is not callable or is a generator
            function, or ``src`` is not iterable.
        ValueError: If a count is not positive, ``timeout`` is not positive,
            ``output_order`` or ``max_failures`` is invalid, or
            ``drop_last``/``aggregator`` is given without ``batch_size``.

    Example:
        >>> from spdl.dataloader import DataLoader
        >>> loader = DataLoader(
        ...     range(10), preprocessor=lambda x: x * x, batch_size=4, output_order="input"
        ... )
        >>> len(loader)
        3
        >>> for batch in loader:
        ...     print(batch)
        [0, 1, 4, 9]
        [16, 25, 36, 49]
        [64, 81]
    """

    def __init__(
        self,
        src: Iterable[Any],
        *,
        preprocessor: Callable[[Any], Any] | None = None,
        batch_size: int | None = None,
        drop_last: bool = False,
        aggregator: Callable[[list[Any]], T] | None = None,
        transfer_fn: Callable[[T], T] | None = None,
        buffer_size: int = 3,
        num_threads: int = 8,
        timeout: float | None = None,
        output_order: OutputOrder = "completion",
        max_failures: int | float = 0,
        report_stats_interval: float | None = None,
    ) -> None:
        if not isinstance(src, Iterable):
            hint = ""
            if hasattr(src, "__getitem__") and hasattr(src, "__len__"):
                hint = (
                    "; a map-style dataset (len() and [index], like a torch Dataset) goes "
                    "in a MapSource: DataLoader(MapSource(dataset, "
                    "RandomSampler(len(dataset))), ...)"
                )
            raise TypeError(f"src must be iterable, got {type(src).__name__}{hint}")
        check_op("preprocessor", preprocessor)
        check_op("aggregator", aggregator)
        check_op("transfer_fn", transfer_fn)
        if batch_size is None:
            if drop_last:
                raise ValueError("drop_last=True needs a batch_size (it drops a short batch)")
            if aggregator is not None:
                raise ValueError("aggregator needs a batch_size (it is called on each batch)")
        else:
            batch_size = as_int("batch_size", batch_size, 1)
        buffer_size = as_int("buffer_size", buffer_size, 1)
        num_threads = as_int("num_threads", num_threads, 1)
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds or None: {timeout}")
        if output_order not in ("completion", "input"):
            raise ValueError(f"output_order must be 'completion' or 'input', got {output_order!r}")
        FailureBudget(max_failures)  # checks it now rather than at the first pass
        if report_stats_interval is not None:
            check_interval(report_stats_interval)
        self._src = src
        self._preprocessor = preprocessor
        self._batch_size = batch_size
        self._drop_last = drop_last
        self._aggregator = aggregator
        self._transfer_fn = transfer_fn
        self._buffer_size = buffer_size
        self._num_threads = num_threads
        self._timeout = timeout
        self._output_order: OutputOrder = output_order
        self._max_failures = max_failures
        self._report_stats_interval = report_stats_interval
        self._pipeline: Pipeline | None = None
        self._progress: Progress | None = None  # the latest pass's, or a loaded one
        self._resume = False  # the next pass continues self._progress
        # The last pass ended early and moved the source on: self._progress is where
        # it stopped, which state_dict() still gives (a pre-empted job's resume point).
        self._left_early = False

    def __getstate__(self) -> dict[str, Any]:
        # The last pass's pipeline (threads, locks) stays behind; so do its stats.
        return {**self.__dict__, "_pipeline": None}

    @property
    def src(self) -> Iterable[Any]:
        """The source the loader reads."""
        return self._src

    def __len__(self) -> int:
        """The number of batches of a full pass (an upper bound if the preprocessor drops).

        Raises:
            TypeError: If the source has no ``len()``.
        """
        try:
            num_items = len(self._src)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(f"the source has no len(): {type(self._src).__name__}") from None
        if self._batch_size is None:
            return num_items
        if self._drop_last:
            return num_items // self._batch_size
        return -(-num_items // self._batch_size)

    def _len_or_none(self) -> int | None:
        try:
            return len(self)
        except TypeError:  # a source without len()
            return None

    # Resume --------------------------------------------------------------------------

    def _resumable_src(self, action: str) -> _Resumable:
        if not isinstance(self._src, _Resumable):
            missing = [name for name in _RESUMABLE if not hasattr(self._src, name)]
            raise TypeError(
                f"cannot {action}: the source ({type(self._src).__name__}) lacks "
                f"{', '.join(missing)}; use a MapSource"
            )
        return self._src

    @property
    def epoch(self) -> int:
        """The source's epoch: the one the next pass reads (during a pass, its own).

        Raises:
            TypeError: If the source has no epochs.
        """
        return self._resumable_src("read the epoch").epoch

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch the next pass reads (forwarded to the source).

        Every pass moves on to the next epoch by itself; calling this at the start of
        each epoch, as with torch's ``DistributedSampler``, is harmless. Setting the epoch
        of a state just loaded keeps its resume point; setting the epoch of a pass left
        early makes the next pass read that epoch again, from its start.

        Args:
            epoch: The epoch number, the same on every rank.

        Raises:
            TypeError: If the source has no ``set_epoch``.
        """
        src = self._resumable_src("set the epoch")
        changed = epoch != src.epoch
        src.set_epoch(epoch)  # checks the value first: a bad one keeps the resume point
        self._left_early = False
        if changed:
            self._discard_resume_point(epoch, stacklevel=2)
            self._progress = None

    def _discard_resume_point(self, epoch: int, stacklevel: int) -> None:
        """Warns if a loaded state is dropped because the epoch moved to ``epoch``."""
        if self._resume and self._progress is not None and self._progress.epoch != epoch:
            warnings.warn(
                f"DataLoader: the state loaded with load_state_dict() resumes epoch "
                f"{self._progress.epoch} part-way, but the epoch is now {epoch}; the resume "
                f"point is discarded and epoch {epoch} starts from its beginning. Set the "
                "epoch (loader.set_epoch, or the sampler's) to the loaded state's epoch "
                "(state['epoch']) to resume.",
                RuntimeWarning,
                stacklevel=stacklevel + 1,
            )
        self._resume = False

    def state_dict(self) -> dict[str, Any]:
        """Where to resume: the epoch, its delivered samples and the source's state.

        Plain data (ints, strings, lists, dicts): save it with ``json`` or ``torch.save``.
        Taken inside the loop, or after a ``break``, it counts the batches the loop has
        received; after a completed pass, it points to the start of the next epoch.

        Returns:
            ``{"epoch": int, "delivered": [[start, stop], ...], "source": dict}``; the
            ranges are positions in the epoch's order.

        Raises:
            TypeError: If the source is not resumable (see the class docs).

        Example:
            >>> from spdl.dataloader import DataLoader, MapSource, SequentialSampler
            >>> source = MapSource(list("abcdef"), SequentialSampler(6, rank=0, world_size=1))
            >>> loader = DataLoader(source, batch_size=2, output_order="input")
            >>> for batch in loader:
            ...     state = loader.state_dict()
            ...     break
            >>> state["epoch"], state["delivered"]
            (0, [[0, 2]])
            >>> resumed = DataLoader(
            ...     MapSource(list("abcdef"), SequentialSampler(6, rank=0, world_size=1)),
            ...     batch_size=2,
            ...     output_order="input",
            ... )
            >>> resumed.load_state_dict(state)
            >>> [[sample.data for sample in batch] for batch in resumed]
            [['c', 'd'], ['e', 'f']]
        """
        src = self._resumable_src("save the state")
        progress, epoch = self._progress, src.epoch
        if self._left_early and progress is not None and epoch == progress.epoch + 1:
            epoch = progress.epoch  # where the pass left early stopped
        delivered = progress.ranges() if progress is not None and progress.epoch == epoch else []
        return {"epoch": epoch, "delivered": delivered, "source": src.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Makes the next pass resume where :meth:`state_dict` was taken.

        Args:
            state: A state saved by a loader over the same source configuration.

        Raises:
            TypeError: If the source is not resumable.
            ValueError: If the state is malformed or the source rejects its part.
        """
        src = self._resumable_src("load the state")
        try:
            epoch, delivered, source_state = state["epoch"], state["delivered"], state["source"]
            ranges = [(int(start), int(stop)) for start, stop in delivered]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not a DataLoader state ({e!r}): {state!r}") from None
        src.load_state_dict(source_state)
        src.set_epoch(epoch)
        self._progress = Progress(epoch, ranges)
        self._resume = True
        self._left_early = False

    # Passes --------------------------------------------------------------------------

    def stats(self) -> PipelineStats:
        """The statistics of the current (or latest) pass's pipeline.

        Returns:
            The pipeline's stats; ``print(loader.stats().report())`` shows per-stage
            counts, failures and times, and how often each queue was empty or full.

        Raises:
            RuntimeError: If no pass has started yet.
        """
        if self._pipeline is None:
            raise RuntimeError("no pass has started yet: iterate the DataLoader first")
        return self._pipeline.stats()

    def _begin_pass(self) -> tuple[int | None, Progress | None]:
        """The epoch of the new pass (None: not resumable) and the positions to skip."""
        if not isinstance(self._src, _Resumable):
            self._progress = None
            return None, None
        epoch = self._src.epoch
        previous = self._progress
        if self._resume and previous is not None and previous.epoch == epoch:
            skip = Progress(epoch, previous.ranges())
            self._progress = Progress(epoch, previous.ranges())
        else:
            self._discard_resume_point(epoch, stacklevel=3)  # the loop over the loader
            skip = None
            self._progress = Progress(epoch)
        self._resume = False
        self._left_early = False
        return epoch, skip

    def _positions(self, skip: Progress | None) -> tuple[Iterator[tuple[int, Any]], Read | None]:
        """The pass's ``(position, item)`` source, and how to read an item if it is a
        MapSource's draw (in the workers, not on the source's thread)."""
        if isinstance(self._src, MapSource):
            return self._src._draws(() if skip is None else skip), self._src._read
        if skip is None:
            return enumerate(self._src), None
        items = enumerate(self._src)
        return ((position, item) for position, item in items if position not in skip), None

    def _build(
        self,
        source: Iterable[Any],
        read: Read | None,
        progress: Progress | None,
        transfer: WorkerPool | None,
    ) -> Pipeline:
        builder = PipelineBuilder().add_source(source)
        if self._preprocessor is not None:
            builder.pipe(
                tag_item_op(self._preprocessor, progress, drop_none=True, read=read),
                concurrency=self._num_threads,
                name="preprocessor",
                output_order=self._output_order,
            )
            read = None
        elif read is not None and self._batch_size is None:
            builder.pipe(
                tag_item_op(_identity, None, drop_none=False, read=read),
                concurrency=self._num_threads,
                name="dataset",
                output_order=self._output_order,
            )
            read = None
        if self._batch_size is not None:
            builder.aggregate(self._batch_size, drop_last=self._drop_last)
            builder.pipe(
                tag_batch_op(self._aggregator, read=read),
                concurrency=self._num_threads,
                name="aggregator",
                output_order=self._output_order,
            )
        if self._transfer_fn is not None:
            builder.pipe(
                tag_item_op(self._transfer_fn, None, drop_none=False, role="transfer_fn"),
                concurrency=1,
                executor=transfer,  # None for an async transfer_fn: it runs on the loop
                name="transfer",
            )
        builder.add_sink(self._buffer_size)
        return builder.build(
            num_threads=self._num_threads,
            max_failures=self._max_failures,
            report_stats_interval=self._report_stats_interval,
        )

    def __iter__(self) -> Iterator[T]:
        """Runs one pass in the background and yields its batches.

        Yields:
            The batches (what ``aggregator`` and ``transfer_fn`` return).

        Raises:
            TimeoutError: If a batch takes longer than ``timeout`` seconds.
            spdl.pipeline.PipelineFailure: If a stage raised.
        """
        epoch, skip = self._begin_pass()
        progress = self._progress
        transfer = None
        if self._transfer_fn is not None and not is_async(self._transfer_fn):
            transfer = WorkerPool(1, "spdl-transfer")
        pipeline, completed, num_batches = None, False, 0
        try:
            source, read = self._positions(skip)
            pipeline = self._build(source, read, progress, transfer)
            self._pipeline = pipeline
            pipeline.start()
            batches = pipeline.get_iterator(timeout=self._timeout)
            num_batches = 0
            while True:
                try:
                    positions, batch = next(batches)
                except StopIteration:
                    completed = True
                    break
                except TimeoutError as e:
                    raise TimeoutError(
                        f"DataLoader: waited {self._timeout} s (timeout) for batch "
                        f"{num_batches} of the pass and none arrived"
                    ) from e
                num_batches += 1
                if progress is not None:
                    progress.add(positions_of(positions))
                yield batch
        finally:
            # Closed after its last batch (zip of two loaders, islice(loader, len(loader))
            # never ask for the end): the pass is complete all the same.
            if not completed and pipeline is not None and epoch is not None:
                # Every batch of a fresh pass delivered (the items of a batch dropped
                # by drop_last may still be loading), or the pipeline at its end.
                completed = (skip is None and num_batches == self._len_or_none()) or (
                    pipeline._delivered_all(_END_WAIT_S)
                )
            # A bounded wait: an op still running keeps its (daemon) thread until it returns.
            deadline = time.monotonic() + _STOP_TIMEOUT_S
            if pipeline is not None:
                pipeline.stop(timeout=_STOP_TIMEOUT_S)
            if transfer is not None:
                transfer.shutdown(wait=False, cancel_futures=True)
                transfer.join(max(0.0, deadline - time.monotonic()))
            if epoch is not None:
                # Left early too (a break after some steps, an error): the next pass
                # reads the next epoch, as torch's shuffle draws a new order per pass.
                self._resumable_src("move to the next epoch").set_epoch(epoch + 1)
                self._left_early = not completed
