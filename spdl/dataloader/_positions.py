"""Positions: each item's place in its epoch's order, carried through the DataLoader's
stages so the loader knows which samples every delivered batch holds.

Source items enter the pipeline as ``(position, item)`` pairs; the per-item ops keep the
position beside their result, the batch op turns a batch of pairs into
``(positions, result)``. :class:`Progress` records the positions that are done, which is
what a resumed pass skips.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

from spdl.pipeline._ops import is_coroutine

Positions: TypeAlias = "int | tuple[int, ...]"  # one item, or a batch
Where: TypeAlias = "Callable[[], str]"  # the note an error gets: where it arose


class Progress:
    """The positions of one epoch that are done: delivered in a batch, or dropped by the
    preprocessor. Kept as a low-water mark plus the done positions above it, so it stays
    small however long the epoch (only the batches in flight finish out of order)."""

    def __init__(self, epoch: int, ranges: Iterable[Iterable[int]] = ()) -> None:
        self.epoch = epoch
        self._low = 0  # every position below is done
        self._above: set[int] = set()
        self._lock = threading.Lock()  # the preprocessor's threads report drops
        for start, stop in sorted(tuple(pair) for pair in ranges):
            if start <= self._low:
                self._low = max(self._low, stop)
            else:
                self._above.update(range(start, stop))
        self._above = {position for position in self._above if position >= self._low}
        self._advance()

    def __reduce__(self) -> tuple[type[Progress], tuple[int, list[list[int]]]]:
        return Progress, (self.epoch, self.ranges())  # a copy without the lock

    def _advance(self) -> None:
        while self._low in self._above:
            self._above.remove(self._low)
            self._low += 1

    def add(self, positions: Iterable[int]) -> None:
        with self._lock:
            self._above.update(position for position in positions if position >= self._low)
            self._advance()

    def __contains__(self, position: object) -> bool:
        return isinstance(position, int) and (position < self._low or position in self._above)

    def ranges(self) -> list[list[int]]:
        """Sorted, merged ``[start, stop)`` pairs of the done positions."""
        with self._lock:
            ranges = [[0, self._low]] if self._low else []
            for position in sorted(self._above):
                if ranges and ranges[-1][1] == position:
                    ranges[-1][1] += 1
                else:
                    ranges.append([position, position + 1])
            return ranges


def _target(fn: Callable[..., Any]) -> Any:
    """The function a callable runs (through ``functools.partial`` and ``__call__``)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if not (inspect.isroutine(fn) or inspect.isclass(fn)):
        fn = type(fn).__call__  # a callable object: its method says what a call returns
    return fn


def check_op(name: str, fn: Callable[..., Any] | None) -> None:
    """Raises TypeError unless ``fn`` is None or a callable that returns one value."""
    if fn is None:
        return
    if not callable(fn):
        raise TypeError(f"{name} must be callable or None, got {type(fn).__name__}")
    target = _target(fn)
    if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
        raise TypeError(f"{name} must return one value per call, not be a generator function")


def positions_of(positions: Positions) -> tuple[int, ...]:
    """The positions of one item or of a batch, as a tuple."""
    return (positions,) if isinstance(positions, int) else positions


def note(error: BaseException, text: str | Where) -> None:
    """Adds ``text`` (or what it returns) to the notes of ``error`` (shown with its
    traceback; Python 3.11+). Describing the item must not replace the user's error:
    if it fails (an item whose attributes raise), the error goes on without a note."""
    add = getattr(error, "add_note", None)
    if add is None:
        return
    try:
        text = text() if callable(text) else text
    except Exception:
        return
    if text and text not in getattr(error, "__notes__", ()):
        add(text)


def describe_items(items: list[Any], positions: Positions) -> str:
    """The samples ``items`` are (their index and epoch), else their positions in the pass."""
    if items and all(_is_sample(item) for item in items):
        indices = [item.index for item in items]
        epochs = ", ".join(str(epoch) for epoch in sorted({item.epoch for item in items}))
        if len(indices) == 1:
            return f"sample {indices[0]} (epoch {epochs})"
        return f"samples {indices} (epoch {epochs})"
    places = positions_of(positions)
    if len(places) == 1:
        return f"item {places[0]} of the pass"
    return f"items {list(places)} of the pass"


def _is_sample(item: Any) -> bool:
    # A Sample, or a Draw not read yet (duck-typed: _source imports this module).
    return isinstance(getattr(item, "index", None), int) and hasattr(item, "epoch")


def _read(read: Read, draw: Any) -> Any:
    try:
        return read(draw)
    except Exception as error:
        note(
            error, lambda: f"spdl.dataloader: raised by dataset[{draw.index}] (epoch {draw.epoch})"
        )
        raise


def _call(fn: Callable[[Any], Any], arg: Any, where: Where) -> Any:
    try:
        return fn(arg)
    except Exception as error:
        note(error, where)
        raise


async def _call_async(fn: Callable[[Any], Any], arg: Any, where: Where) -> Any:
    try:
        return await fn(arg)
    except Exception as error:
        note(error, where)
        raise


def _where(role: str, items: list[Any], positions: Positions) -> Where:
    # Written only when an error needs it.
    return lambda: f"spdl.dataloader: raised by the {role} on {describe_items(items, positions)}"


def _tag(
    positions: Positions,
    value: Any,
    progress: Progress | None,
    drop_none: bool,
    where: Where = str,
) -> Any:
    """``(positions, value)``; a ``None`` value is dropped (and its positions are done).

    A Future or coroutine is tagged once it is done; its error gets the note ``where``.
    """
    if isinstance(value, concurrent.futures.Future):  # spdl.io-style work: tag its result
        return _tag_future(positions, value, progress, drop_none, where)
    if is_coroutine(value):  # spdl.io's async_* return non-native coroutines
        return _tag_coroutine(positions, value, progress, drop_none, where)
    if value is None and drop_none:
        if progress is not None:  # a resumed pass need not read a dropped item again
            progress.add(positions_of(positions))
        return None
    return positions, value


async def _tag_coroutine(
    positions: Positions, value: Any, progress: Progress | None, drop_none: bool, where: Where
) -> Any:
    try:
        result = await value
    except Exception as error:
        note(error, where)
        raise
    return _tag(positions, result, progress, drop_none)


def _tag_future(
    positions: Positions,
    inner: concurrent.futures.Future[Any],
    progress: Progress | None,
    drop_none: bool,
    where: Where,
) -> concurrent.futures.Future[Any]:
    """A Future of the tagged result of ``inner``; cancelling it cancels ``inner``."""
    outer: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def forward(done: concurrent.futures.Future[Any]) -> None:
        if done.cancelled():
            outer.cancel()
            return
        if not outer.set_running_or_notify_cancel():
            return
        try:
            if (error := done.exception()) is not None:
                note(error, where)
                outer.set_exception(error)
            else:
                outer.set_result(_tag(positions, done.result(), progress, drop_none))
        except BaseException as failure:  # noqa: BLE001 -- a callback's error is swallowed:
            if not outer.done():  # the outer Future must end, or the stage waits forever
                outer.set_exception(failure)

    outer.add_done_callback(lambda future: inner.cancel() if future.cancelled() else None)
    inner.add_done_callback(forward)
    return outer


def is_async(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` is an async function (through ``functools.partial`` and ``__call__``)."""
    return inspect.iscoroutinefunction(_target(fn))


Read = Callable[[Any], Any]  # MapSource._read: a draw to its Sample, reading the dataset


def tag_item_op(
    fn: Callable[[Any], Any],
    progress: Progress | None,
    *,
    drop_none: bool,
    read: Read | None = None,
    role: str = "preprocessor",
) -> Callable[[tuple[Any, Any]], Any]:
    """Runs ``fn`` on the item of a ``(positions, item)`` pair and keeps the positions.

    With ``read``, the item is a draw: ``fn`` gets ``read(item)``, read on a worker
    thread (for an async ``fn``, through ``asyncio.to_thread``). An error gets a note
    naming the ``role`` of ``fn`` and the sample (see :func:`describe_items`).
    """
    if is_async(fn):

        async def run_async(tagged: tuple[Any, Any]) -> Any:
            positions, item = tagged
            if read is not None:
                item = await asyncio.to_thread(_read, read, item)
            where = _where(role, [item], positions)
            value = await _call_async(fn, item, where)
            return _tag(positions, value, progress, drop_none, where)

        return run_async

    def run(tagged: tuple[Any, Any]) -> Any:
        positions, item = tagged
        if read is not None:
            item = _read(read, item)
        where = _where(role, [item], positions)
        return _tag(positions, _call(fn, item, where), progress, drop_none, where)

    return run


def tag_batch_op(
    aggregator: Callable[[list[Any]], Any] | None, *, read: Read | None = None
) -> Callable[[list[Any]], Any]:
    """Calls ``aggregator`` on the items of a batch of ``(position, item)`` pairs (with
    ``read``, on the samples of a batch of draws, read on a worker thread)."""

    def split(batch: list[tuple[int, Any]]) -> tuple[tuple[int, ...], list[Any]]:
        items = [item for _, item in batch]
        if read is not None:
            items = [_read(read, item) for item in items]
        return tuple(position for position, _ in batch), items

    if aggregator is None:
        return split
    if is_async(aggregator):

        async def run_async(batch: list[tuple[int, Any]]) -> Any:
            if read is None:
                positions, items = split(batch)
            else:
                positions, items = await asyncio.to_thread(split, batch)
            where = _where("aggregator", items, positions)
            value = await _call_async(aggregator, items, where)
            return _tag(positions, value, None, False, where)

        return run_async

    def run(batch: list[tuple[int, Any]]) -> Any:
        positions, items = split(batch)
        where = _where("aggregator", items, positions)
        return _tag(positions, _call(aggregator, items, where), None, False, where)

    return run
