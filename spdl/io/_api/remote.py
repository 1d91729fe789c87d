"""URL sources in the operations: one fetch step on the I/O pool, then the usual steps.

An operation given a URL first yields a ``"fetch"`` step, which runs on the I/O pool
(not a demux or decode thread: docs/architecture.md names the two reads that wait in
the demux thread) and gives the source the other steps take: the
whole file in memory (images, audio, video without a window), or a seekable reader
doing range requests (video windows), closed when the steps end, fail or are
cancelled (closing it aborts its requests in flight). A ``file://`` URL becomes its
path, and nothing is fetched.
"""

from __future__ import annotations

import functools
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import replace
from typing import Any, TypeVar, cast

from spdl import _native
from spdl.io._api.options import DemuxArgs
from spdl.io._core import remote as _remote
from spdl.io._core.demux import Packets, Window, describe_source
from spdl.io._core.remote import FetchedBytes, RangeReader
from spdl.io._runtime import demux_pool as _demux_pool
from spdl.io._runtime import executor as _executor
from spdl.io._runtime import fetch as _fetch
from spdl.io._runtime import http as _http
from spdl.io._runtime.futures import AsyncIOFailure, try_set
from spdl.io._runtime.operation import Plan, Step

__all__ = [
    "demux",
    "fetch_all",
    "fetch_sources",
    "has_urls",
    "is_url",
    "stream",
]
__all__ += [
    "BatchFetch",
    "cancel_all",
    "pending_sources",
    "settle",
    "url_path",
    "with_source",
]

T = TypeVar("T")
_LG = logging.getLogger("spdl.io")

is_url = _remote.is_url


def _wants_reader(args: DemuxArgs, windows: bool) -> bool:
    # Video windows read a small part of a long file; everything else is read whole.
    return args.media_type == "video" and (windows or args.timestamp is not None)


def fetch_step(url: str, name: str, reader: bool) -> Step[Any]:
    """Fetches ``url`` on the I/O pool: a :class:`RangeReader`, or the whole file."""
    run = functools.partial(_fetch.open_reader if reader else _fetch.fetch_bytes, url)
    return Step("fetch", name, run, pool="io", cancellable=True)


def with_source(
    args: DemuxArgs, steps: Callable[[DemuxArgs], Plan[T]], *, windows: bool = False
) -> Plan[T]:
    """Runs ``steps`` on ``args`` whose URL is replaced by what the fetch gave.

    Args:
        args: Checked arguments whose ``src`` is a URL.
        steps: The operation's steps for a local source.
        windows: Whether the steps read windows of a video (``load_video_windows``):
            then a reader is opened even though ``args`` has no window.
    """
    url = cast(str, args.src)
    _fetch.check_url(url)
    path = _fetch.local_path(url)
    if path is not None:
        return (yield from steps(replace(args, src=path, name=path)))
    source = yield fetch_step(url, args.name, _wants_reader(args, windows))
    try:
        return (yield from steps(replace(args, src=source)))
    finally:
        if isinstance(source, RangeReader):
            source.close()  # also when cancelled: aborts the requests in flight


def demux(args: DemuxArgs) -> Plan[Packets]:
    """``demux_media``'s steps for a URL: fetch, then demux."""

    def steps(fetched: DemuxArgs) -> Plan[Packets]:
        return (yield fetched.step())

    return (yield from with_source(args, steps))


def stream(args: DemuxArgs, windows: Sequence[Window]) -> Callable[..., Iterator[Packets]]:
    """``streaming_demux``'s stream for a URL (its protocol checked now): the fetch, then
    the windows, in one demux task; ``cancel`` (the stream's token) aborts a request."""
    _fetch.check_url(cast(str, args.src))
    return functools.partial(_iter_demux, args, windows)


def _iter_demux(
    args: DemuxArgs, windows: Sequence[Window], cancel: _native.CancelToken | None = None
) -> Iterator[Packets]:
    url = cast(str, args.src)
    src: Any = _fetch.local_path(url)
    if src is None:
        fetch = _fetch.open_reader if _wants_reader(args, True) else _fetch.fetch_bytes
        src = fetch(url, cancel)
    try:
        yield from _demux_pool.iter_demux(args.media_type, src, windows, **args.options)
    finally:
        if isinstance(src, RangeReader):
            src.close()


def fetch_all(srcs: Sequence[Any], executor: Executor | None = None) -> list[Future[Any] | None]:
    """Starts fetching every URL of ``srcs`` on the I/O pool (at most its size in
    flight); one Future per URL, None for the other sources."""
    pool = executor or _executor.get_io_executor()
    futures: list[Future[Any] | None] = []
    for src in srcs:
        if not is_url(src):
            futures.append(None)
            continue
        _fetch.check_url(src)
        path = _fetch.local_path(src)
        if path is not None:
            done: Future[Any] = Future()
            done.set_result(path)
            futures.append(done)
            continue
        futures.append(fetch_step(src, _remote.redact(src), reader=False).submit(pool, True))
    return futures


def has_urls(srcs: Sequence[Any]) -> bool:
    """Whether any source of a batch is a URL."""
    return any(is_url(src) for src in srcs)


def fetch_sources(
    srcs: Sequence[Any], strict: bool, executor: Executor | None = None
) -> Future[list[Any]]:
    """The batch's sources with every URL fetched (all at once, on the I/O pool).

    With ``strict``, the first failure fails the Future (``AsyncIOFailure``, phase
    ``"fetch"``) and cancels the other fetches; otherwise a URL that failed is logged
    and becomes empty data named by it, which fails to load as its own image, so the
    batch keeps the others at their indices (crops and flips stay with their image).
    Cancelling the Future cancels the fetches.
    """
    futures = fetch_all(srcs, executor)
    result: Future[list[Any]] = Future()
    fetched = list(srcs)
    pending = [sum(f is not None for f in futures)]
    lock = threading.Lock()

    def on_done(index: int, future: Future[Any]) -> None:
        if future.cancelled():
            result.cancel()
            return
        error = future.exception()
        if error is not None:
            if strict:
                try_set(result.set_exception, error)
                for other in futures:
                    if other is not None:
                        other.cancel()
                return
            _LG.error("Failed to load image %s: %s", describe_source(srcs[index]), error)
            fetched[index] = FetchedBytes(0, describe_source(srcs[index]))
        else:
            fetched[index] = future.result()
        with lock:
            pending[0] -= 1
            last = pending[0] == 0
        if last:
            try_set(result.set_result, fetched)

    def on_result(done: Future[list[Any]]) -> None:
        if done.cancelled():
            for future in futures:
                if future is not None:
                    future.cancel()

    result.add_done_callback(on_result)
    if not pending[0]:
        result.set_result(fetched)
    for index, future in enumerate(futures):
        if future is not None:
            future.add_done_callback(functools.partial(on_done, index))
    return result


def url_path(url: str) -> str:
    """The path part of a URL (what its file extension is read from)."""
    return urllib.parse.urlsplit(url).path


class BatchFetch:
    """The fetches of a batch's URLs into its ``PendingImage`` objects: one cancel token
    for all (it aborts their requests in flight), their Futures, the failures."""

    def __init__(self, strict: bool) -> None:
        self.token = _native.CancelToken()
        self.futures: list[Future[None]] = []
        self.failures: dict[int, BaseException] = {}  # by index in the batch
        self.strict = strict  # the first failure cancels the other fetches


def pending_sources(
    srcs: Sequence[Any], strict: bool, executor: Executor | None = None
) -> tuple[list[Any], BatchFetch]:
    """The batch's sources with each URL replaced by a ``PendingImage`` that its fetch
    (started now, on the I/O pool) fills, so that the native batch decodes the images
    already fetched while the others are still on the network; and the fetches.

    Each fetch is one plain task that fills its image (or fails it with the fetch's
    message), without a Future chain per image: a batch has hundreds. With ``strict``
    the first fetch that fails aborts the others (their images fail at once, so the
    batch does not wait for a slow server it will not use). Cancel the fetches
    (:func:`cancel_all`) once the batch is over.
    """
    pool = executor or _executor.get_io_executor()
    fetches = BatchFetch(strict)
    sources = list(srcs)
    for index, src in enumerate(srcs):
        if not is_url(src):
            continue
        _fetch.check_url(src)
        path = _fetch.local_path(src)
        if path is not None:  # file://: the native batch reads it
            sources[index] = path
            continue
        pending = _native.PendingImage(describe_source(src))
        sources[index] = pending
        future = pool.submit(_fill, src, index, pending, fetches)
        future.add_done_callback(functools.partial(_fail_if_cancelled, pending))
        fetches.futures.append(future)
    return sources, fetches


def _fill(url: str, index: int, pending: Any, fetches: BatchFetch) -> None:
    try:
        with _executor.track_cancel_token(fetches.token):  # interpreter exit cancels it
            data = _fetch.fetch_bytes(url, fetches.token)
    except Exception as error:
        if not isinstance(error, _http.Cancelled):  # not an abort: a failure of its own
            fetches.failures[index] = AsyncIOFailure.wrap("fetch", pending.name, error)
            if fetches.strict:
                fetches.token.cancel()
        pending.fail(str(error) or f"Fetching {pending.name} was cancelled.")
        return
    (pending.set_buffer if isinstance(data, bytearray) else pending.set)(data)


def _fail_if_cancelled(pending: Any, future: Future[None]) -> None:
    if future.cancelled():  # never started: its image must not wait for it
        pending.fail(f"Fetching {pending.name} was cancelled.")


def settle(fetches: BatchFetch, strict: bool, error: BaseException) -> BaseException:
    """What a batch of pending sources that failed raises: with ``strict``, the failure
    of the first fetch that failed (phase ``"fetch"``), if one did; else ``error``."""
    if strict and fetches.failures:
        return fetches.failures[min(fetches.failures)]
    return error


def cancel_all(fetches: BatchFetch) -> None:
    """Cancels the fetches not done: queued ones are dropped, running ones aborted."""
    fetches.token.cancel()
    for future in fetches.futures:
        future.cancel()
