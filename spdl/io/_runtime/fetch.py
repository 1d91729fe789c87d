"""Fetching URL sources on the I/O pool: whole into memory, or as a seekable reader.

``http://`` and ``https://`` go through :mod:`.http` (the standard library, pooled
connections, retries); any other protocol through fsspec, when it is installed
(``pip install "spdl[remote]"`` and the protocol's package, e.g. ``s3fs``); ``file://``
becomes a local path. Images and audio are fetched whole, into one buffer read
straight from the socket (:class:`~spdl.io._core.remote.FetchedBytes`); video
windows are read through a :class:`~spdl.io._core.remote.RangeReader` whose range
requests run, with read-ahead, while PyAV demuxes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from spdl import _native
from spdl.io._core import remote as _remote
from spdl.io._core.remote import (
    Data,
    FetchedBytes,
    RangeReader,
    RemoteError,
    RemoteNotFoundError,
)
from spdl.io._runtime import executor as _executor
from spdl.io._runtime import http as _http

__all__ = ["check_url", "fetch_bytes", "local_path", "open_reader"]

_HTTP = ("http", "https")
_EXTRA_HINT = 'pip install "spdl[remote]"'


def local_path(url: str) -> str | None:
    """The path of a ``file://`` URL; None for any other URL.

    Raises:
        ValueError: The URL names a host other than this one (``file://server/...``
            read the local ``/...``).
    """
    if _remote.scheme(url) != "file":
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.netloc.lower() not in ("", "localhost"):
        raise ValueError(
            f"{_remote.redact(url)} names the host {parts.netloc!r}: a file:// URL reads "
            "this machine's files (file:///path or file://localhost/path)."
        )
    return urllib.request.url2pathname(parts.path)


def _fsspec(url: str) -> Any:
    """The fsspec module, once ``url``'s protocol is known to load (else ValueError)."""
    protocol = _remote.scheme(url) or ""
    try:
        import fsspec
    except ImportError:
        raise ValueError(
            f"Loading {_remote.redact(url)} needs fsspec and the package of the "
            f"{protocol}:// protocol: {_EXTRA_HINT} (http:// and https:// need nothing)."
        ) from None
    with _protocol_errors(url):
        fsspec.get_filesystem_class(protocol)  # its package imported: no connection yet
    return fsspec


def _filesystem(url: str) -> tuple[Any, str]:
    """fsspec's filesystem for ``url`` and the path in it (import errors as ValueError).

    Making it may connect (``ftp://``) or open an archive (``zip://``): the fetches
    call this on the I/O pool, inside their error handling.
    """
    fsspec = _fsspec(url)
    with _protocol_errors(url):
        return fsspec.core.url_to_fs(_lower_protocols(url))


def _lower_protocols(url: str) -> str:
    """``url`` with its protocols in lower case, as fsspec knows them (schemes are
    case-insensitive: ``MEMORY://`` passed the call-time check, then failed)."""
    return "::".join(
        f"{head.lower()}://{rest}" if sep else part
        for part in url.split("::")
        for head, sep, rest in (part.partition("://"),)
    )


@contextlib.contextmanager
def _protocol_errors(url: str) -> Iterator[None]:
    """fsspec's refusals of a protocol (a package it cannot import, an unknown name) as
    ValueError naming the URL, redacted."""
    try:
        yield
    except ImportError as error:
        protocol = _remote.scheme(url) or ""
        raise ValueError(
            f"Loading {_remote.redact(url)}: fsspec cannot load the {protocol}:// protocol: "
            f"{_remote.redact_text(str(error), url)}"
        ) from None
    except ValueError as error:  # an unknown protocol
        raise ValueError(
            f"Loading {_remote.redact(url)}: {_remote.redact_text(str(error), url)}"
        ) from None


def check_url(url: str) -> None:
    """Raises ``ValueError`` at call time when the URL's protocol cannot be loaded."""
    scheme = _remote.scheme(url)
    if scheme in _HTTP:
        _http.check_url(url)
    elif scheme == "file":
        local_path(url)
    else:
        _fsspec(url)  # the filesystem itself is made when fetching, on the I/O pool


# What fsspec may raise: asyncio's CancelledError (a BaseException) comes out of the
# event loop of async filesystems (s3fs, gcsfs) when a request of theirs is cancelled.
_FSSPEC_ERRORS = (Exception, asyncio.CancelledError)


def _fsspec_failure(url: str, error: BaseException) -> RemoteError:
    """The RemoteError of an fsspec failure. Raise it ``from None``: fsspec's own error
    (and the errors it chains) may quote the URL with its secrets."""
    name = _remote.redact(url)
    text = _remote.redact_text(f"{type(error).__name__}: {error}", url)
    kind = RemoteNotFoundError if isinstance(error, FileNotFoundError) else RemoteError
    failure = kind(f"Failed to fetch {name}: {text}", url=name, status=None, attempts=1)
    return failure


class _Location:
    """Where a reader's ranges are asked for: after a redirect (a hub sending to its
    CDN), at its target, as FFmpeg's own HTTP reader does, instead of asking the
    redirecting server again for every range."""

    def __init__(self, url: str, target: str) -> None:
        self.url = url
        self.target = target
        self.name = _remote.redact(url)


# A redirect's target that answers these has expired (a signed CDN URL): the URL
# itself is asked again.
_EXPIRED = (401, 403, 404, 410)


def _http_range(
    location: _Location, cancel: _native.CancelToken | None, start: int, end: int
) -> Data:
    target = location.target
    try:
        response = _http.get(target, (start, end), cancel=cancel, name=location.name)
    except RemoteError as error:
        if target == location.url or error.status not in _EXPIRED:
            raise
        response = _http.get(location.url, (start, end), cancel=cancel)
        location.target = response.url or location.url
    if response.ranged:
        return response.body
    return response.body[start:end]  # the server ignored the range this time


def fetch_bytes(url: str, cancel: _native.CancelToken | None = None) -> FetchedBytes:
    """The whole file at ``url`` (runs in the calling thread: an I/O pool thread).

    Raises:
        RemoteError: The fetch failed (``RemoteNotFoundError``: it does not exist).
        http.Cancelled: ``cancel`` was set.
    """
    if _remote.scheme(url) in _HTTP:
        body = _http.get(url, cancel=cancel).body
        return body if isinstance(body, FetchedBytes) else FetchedBytes(body, _remote.redact(url))
    try:
        fs, path = _filesystem(url)
        return FetchedBytes(fs.cat_file(path), _remote.redact(url))
    except _FSSPEC_ERRORS as error:
        raise _fsspec_failure(url, error) from None


def open_reader(url: str, cancel: _native.CancelToken | None = None) -> RangeReader:
    """A seekable reader of ``url``: the first block is fetched here, the rest on demand,
    with read-ahead on the I/O pool. Closing it aborts its requests in flight.

    Raises:
        RemoteError: The first fetch failed.
        http.Cancelled: ``cancel`` was set.
    """
    name = _remote.redact(url)
    first: Data
    read_ahead = _remote.remote_options().read_ahead_bytes
    first_end = max(4096, read_ahead // 8)
    # The reader's requests stop when it is closed, and when `cancel` is set (a stream's
    # token: cancelling the stream aborts a read in flight).
    token = cancel if cancel is not None else _native.CancelToken()
    if _remote.scheme(url) in _HTTP:
        response = _http.get(url, (0, first_end), cancel=cancel)
        if response.ranged and response.size is None:  # "bytes 0-4095/*": size unknown
            response = _http.get(url, cancel=cancel)
        if not response.ranged:  # the whole file came back
            return RangeReader(name, len(response.body), _no_fetch, response.body)
        assert response.size is not None
        location = _Location(url, response.url or url)
        fetch: Callable[[int, int], Data] = functools.partial(_http_range, location, token)
        size, first = response.size, response.body
    else:
        try:
            fs, path = _filesystem(url)
            size = fs.size(path)
            if size is None:  # fsspec allows an unknown size: the whole file, then
                body = fs.cat_file(path)
                return RangeReader(name, len(body), _no_fetch, body)
            size = int(size)
            first = fs.cat_file(path, 0, min(size, first_end))
        except _FSSPEC_ERRORS as error:
            raise _fsspec_failure(url, error) from None
        fetch = functools.partial(_fsspec_range, fs, path, url)
    return RangeReader(
        name,
        size,
        fetch,
        first,
        read_ahead=read_ahead,
        prefetch=functools.partial(_prefetch, fetch),
        on_close=token.cancel,
    )


def _no_fetch(start: int, end: int) -> Data:
    return b""


def _fsspec_range(fs: Any, path: str, url: str, start: int, end: int) -> Data:
    try:
        return fs.cat_file(path, start, end)
    except _FSSPEC_ERRORS as error:
        raise _fsspec_failure(url, error) from None


def _prefetch(fetch: Callable[[int, int], Data], start: int, end: int) -> Future[Data]:
    return _executor.get_io_executor().submit(fetch, start, end)
