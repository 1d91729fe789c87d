"""URL sources: recognising them, naming them safely, their errors and options, and a
seekable reader over ranges of a remote file.

Nothing here does network I/O by itself: :class:`RangeReader` is handed the function
that fetches a byte range (``spdl.io._runtime.http`` for HTTP(S), fsspec for other
protocols), so the same read-ahead serves every protocol.
"""

from __future__ import annotations

import dataclasses
import io
import math
import operator
import re
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeAlias

from spdl.io._core.numbers import is_int, is_real

__all__ = [
    "FetchedBytes",
    "RangeReader",
    "RemoteError",
    "RemoteOptions",
    "is_url",
    "redact",
    "remote_options",
    "unencoded_userinfo",
    "scheme",
    "set_remote_options",
]

# "proto://...", or an fsspec chain "proto::other://..." (simplecache::s3://b/k).
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)(?:://|::(?=.*://))")
# Query parameters whose values are secrets: signed URLs of S3 (X-Amz-Signature,
# X-Amz-Credential, X-Amz-Security-Token), GCS (X-Goog-Signature), Azure SAS (sig),
# CloudFront (Signature, Key-Pair-Id, Policy) and the usual API keys and tokens.
_SECRET_PARAM = re.compile(
    r"(signature|credential|token|secret|password|passwd|key|auth|^sig$|^policy$|^code$)",
    re.IGNORECASE,
)
_HIDDEN = "***"
Data: TypeAlias = "bytes | bytearray"  # what a fetch gives: FetchedBytes, or bytes


def scheme(src: object) -> str | None:
    """The lower-case scheme of a URL source (``"https"``, ``"s3"``); None for others."""
    if not isinstance(src, str):
        return None
    match = _SCHEME.match(src)
    return match.group(1).lower() if match else None


def is_url(src: object) -> bool:
    """Whether ``src`` is a URL (``scheme://...``, or an fsspec chain such as
    ``simplecache::s3://bucket/key``) rather than a path or data."""
    return scheme(src) is not None


def redact(url: str) -> str:
    """The URL as messages may show it: no user or password, no signature or token.

    ``https://user:pw@host/a.jpg?X-Amz-Signature=abc&v=1`` becomes
    ``https://***@host/a.jpg?X-Amz-Signature=***&v=1``.
    """
    if "@" not in url and "?" not in url and "#" not in url:
        return url  # nothing to hide (most URLs): no parsing
    if "::" in url:  # an fsspec chain: each URL in it
        return "::".join(redact(part) for part in url.split("::"))
    if (at := unencoded_userinfo(url)) >= 0:  # all up to that "@" may be the password
        head, _, rest = redact(url[: url.index("://") + 3] + url[at + 1 :]).partition("://")
        return f"{head}://{_HIDDEN}@{rest}"
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{_HIDDEN}@{netloc.rpartition('@')[2]}"
        # Only a secret's value is replaced: the rest of the query stays as it was
        # written (re-encoded, "?download" read "?download=" and "%2F" "/"), so the
        # message names the URL the caller can look for.
        query = "&".join(
            f"{key}={_HIDDEN}" if _SECRET_PARAM.search(urllib.parse.unquote_plus(key)) else pair
            for pair in parts.query.split("&")
            for key in (pair.partition("=")[0],)
        )
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:  # not parseable: keep only what cannot hold a secret
        match = _SCHEME.match(url)
        return f"{match.group(0) if match else ''}{_HIDDEN}"


def unencoded_userinfo(url: str) -> int:
    """Where ``user:password@`` ends (the ``@``) when the password holds an unencoded
    ``/``, ``?`` or ``#``; -1 when the URL does not look so.

    ``urlsplit`` ends the host part at the first of those, so in
    ``https://id:se/cret@host/k`` it sees the host ``id``, the port ``se`` and the path
    ``/cret@host/k``, with no user or password to hide. A host part with a ``:`` and no
    ``@``, with an ``@`` after it, is taken as such credentials up to the last ``@``:
    a URL with a port and an ``@`` in its path (``http://h:8000/icon@2x.png``) is
    masked more than needed in messages, never less.
    """
    head, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return -1
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    netloc = rest[:end]
    if "@" in netloc or "@" not in rest[end:]:
        return -1  # the userinfo, if any, is where urlsplit finds it
    if ":" not in re.sub(r"\[[^\]]*\]", "", netloc):  # an IPv6 literal's colons aside
        return -1
    return len(head) + len(sep) + rest.rindex("@")


def redact_text(text: str, url: str) -> str:
    """``text`` (an error message of a library) with ``url`` and its secrets redacted."""
    safe = redact(url)
    text = text.replace(url, safe)
    if "::" in url:  # an fsspec chain: each URL in it
        for part in url.split("::"):
            text = redact_text(text, part)
        return text
    if (at := unencoded_userinfo(url)) >= 0:
        text = text.replace(url[url.index("://") + 3 : at + 1], f"{_HIDDEN}@")
    parts = urllib.parse.urlsplit(url)
    if parts.query:
        text = text.replace(parts.query, urllib.parse.urlsplit(safe).query)
    if "@" in parts.netloc:
        text = text.replace(parts.netloc.rpartition("@")[0] + "@", f"{_HIDDEN}@")
    return text


class FetchedBytes(bytearray):
    """The body of a URL source, read from the socket straight into it (no copy), and
    named by its redacted URL (``describe_source`` shows it in every message)."""

    name: str

    def __init__(self, size_or_data: int | bytes | bytearray = 0, name: str = "") -> None:
        super().__init__(size_or_data)
        self.name = name


class RemoteError(OSError):
    """Fetching a URL source failed.

    The message names the URL (credentials and signed query parameters redacted),
    the HTTP status if the server answered, and how many attempts were made. A URL
    that does not exist (HTTP 404 or 410) raises :class:`RemoteNotFoundError`, also a
    ``FileNotFoundError``, as a missing local file does.

    Attributes:
        url: The redacted URL.
        status: The HTTP status of the last answer, or ``None`` (no answer: a
            connection error or a timeout, or a protocol without statuses).
        attempts: The number of attempts made. (A request lost by a reused
            connection, which the server may have closed while it was idle, is sent
            again at once on a new connection, within the same attempt.)
    """

    spdl_phase = "fetch"  # the phase AsyncIOFailure names

    def __init__(self, message: str, *, url: str, status: int | None, attempts: int) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts

    def __reduce__(self) -> tuple[Any, ...]:  # picklable with its keyword arguments
        return (_rebuild, (type(self), str(self), self.url, self.status, self.attempts))


class RemoteNotFoundError(RemoteError, FileNotFoundError):
    """The URL does not exist (HTTP 404 or 410, or the protocol's not-found error)."""


def _rebuild(
    cls: type[RemoteError], message: str, url: str, status: int | None, attempts: int
) -> RemoteError:
    return cls(message, url=url, status=status, attempts=attempts)


@dataclasses.dataclass(frozen=True)
class RemoteOptions:
    """How URL sources are fetched (see :func:`spdl.io.set_remote_options`)."""

    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_s: float = 0.25
    max_backoff_s: float = 10.0
    max_retry_after_s: float = 60.0
    read_ahead_bytes: int = 1 << 20
    deadline_s: float = 0.0
    max_body_bytes: int = 0


_options = RemoteOptions()
_options_lock = threading.Lock()


def remote_options() -> RemoteOptions:
    """The options URL sources are fetched with now."""
    return _options


def set_remote_options(
    *,
    timeout_s: float | None = None,
    max_attempts: int | None = None,
    backoff_s: float | None = None,
    max_backoff_s: float | None = None,
    max_retry_after_s: float | None = None,
    read_ahead_bytes: int | None = None,
    deadline_s: float | None = None,
    max_body_bytes: int | None = None,
) -> None:
    """Set how URL sources are fetched; ``None`` leaves an option unchanged.

    A request is retried, with exponential backoff and full jitter (a random wait
    between 0 and ``backoff_s * 2**retry``, at most ``max_backoff_s``), after a
    connection error, a timeout, a truncated body, HTTP 429 or a 5xx status other than
    501 and 505 (a method or HTTP version the server does not support), never after
    another 4xx. A ``Retry-After`` header sets the wait instead (at most
    ``max_retry_after_s``).

    Args:
        timeout_s: Seconds to wait to connect and for each read of a response
            (finite, at most ``threading.TIMEOUT_MAX``).
        max_attempts: Requests per fetch, the first included (1: no retry).
        backoff_s: The first retry's wait bound, doubled on each retry.
        max_backoff_s: The longest wait between two attempts (``Retry-After`` aside).
        max_retry_after_s: The longest wait a ``Retry-After`` header may ask for.
        read_ahead_bytes: The largest range a video reader asks for at once; its
            reads start at 1/8 of it and double while they go forward.
        deadline_s: The most seconds an HTTP(S) fetch (one range of a video) may take,
            its attempts and the waits between them included, however the server
            trickles its bytes; past it the fetch fails, not retried. ``0`` (the
            default): no deadline, only ``timeout_s`` per read.
        max_body_bytes: The largest HTTP(S) body a fetch takes: a larger one (as its
            ``Content-Length`` announces, or as it arrives) fails the fetch, not
            retried. ``0`` (the default): no limit.

    Raises:
        TypeError: If an option has the wrong type.
        ValueError: If an option is out of range.

    Example:
        >>> spdl.io.set_remote_options(timeout_s=10, max_attempts=3)
        >>> spdl.io.remote_options().max_attempts
        3
        >>> spdl.io.set_remote_options(deadline_s=120, max_body_bytes=2 << 30)  # scraped URLs
        >>> spdl.io.remote_options().deadline_s
        120.0
        >>> spdl.io.set_remote_options(timeout_s=30, max_attempts=5, deadline_s=0, max_body_bytes=0)
    """
    global _options
    changes: dict[str, Any] = {}
    for name, value, integer, minimum in (
        ("timeout_s", timeout_s, False, 0.0),
        ("max_attempts", max_attempts, True, 1),
        ("backoff_s", backoff_s, False, 0.0),
        ("max_backoff_s", max_backoff_s, False, 0.0),
        ("max_retry_after_s", max_retry_after_s, False, 0.0),
        ("read_ahead_bytes", read_ahead_bytes, True, 4096),
        ("deadline_s", deadline_s, False, 0.0),
        ("max_body_bytes", max_body_bytes, True, 0),
    ):
        if value is None:
            continue
        if not (is_int if integer else is_real)(value):
            kind = "an int" if integer else "a number"
            raise TypeError(f"`{name}` must be {kind}, got {type(value).__name__}.")
        # A Python number: NumPy's reach no socket call.
        value = operator.index(value) if integer else float(value)  # type: ignore[arg-type]
        if not value >= minimum or (name == "timeout_s" and value == 0):
            raise ValueError(
                f"`{name}` must be {'>' if name == 'timeout_s' else '>='} {minimum}, got {value}."
            )
        # A socket's timeout must be finite and fit the platform's (inf failed each fetch).
        seconds = name in ("timeout_s", "deadline_s")
        if seconds and not (math.isfinite(value) and value <= threading.TIMEOUT_MAX):
            raise ValueError(
                f"`{name}` must be finite and at most {threading.TIMEOUT_MAX}, got {value}."
            )
        changes[name] = value
    with _options_lock:
        _options = dataclasses.replace(_options, **changes)


class RangeReader(io.RawIOBase):
    """A seekable, read-only file over a remote file, read by ranges with read-ahead.

    PyAV demuxes from it as from a local file. A read the cached blocks do not
    cover fetches a block from there on: the first is 1/8 of ``read_ahead`` bytes,
    and each block that continues the one before is twice as large as it (up to
    ``read_ahead``), so a demuxer reading a window forward makes few requests while
    a seek (to an MP4's index at the end, to a window's keyframe) fetches little.
    While a block is read forward, the next one is fetched in the background when
    ``prefetch`` is given. The last few blocks are kept, so reading back and forth
    around a seek costs no new request.

    Args:
        name: The redacted URL (``name`` of the file, as error messages show it).
        size: The file's size in bytes.
        fetch: ``fetch(start, end)`` returns the bytes ``[start, end)``.
        first: The bytes from 0 on that opening fetched (possibly all of them).
        read_ahead: The largest block to fetch at once.
        prefetch: ``prefetch(start, end)`` starts fetching ``[start, end)`` in the
            background and returns its Future; ``None`` fetches only on demand.
        on_close: Called once when the reader is closed (aborts in-flight requests).
    """

    _KEEP_BLOCKS = 6

    def __init__(
        self,
        name: str,
        size: int,
        fetch: Callable[[int, int], Data],
        first: Data = b"",
        *,
        read_ahead: int = 1 << 20,
        prefetch: Callable[[int, int], Future[Data]] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.size = size
        self._fetch = fetch
        self._prefetch = prefetch
        self._on_close = on_close
        self._max_block = max(4096, read_ahead)
        self._min_block = max(4096, self._max_block // 8)
        self._blocks: OrderedDict[int, Data] = OrderedDict()  # start -> data, LRU order
        self._pending: dict[int, Future[Data]] = {}  # start -> prefetch in flight
        self._next_block = self._min_block
        self._last_end = -1  # end of the block fetched last (a continuation starts there)
        self._pos = 0
        self.bytes_fetched = len(first)
        self.requests = 1 if first else 0
        if first:
            self._keep(0, first)
            self._last_end = len(first)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        written = 0
        while written < len(view) and self._pos < self.size:
            start, data = self._block_at(self._pos)
            chunk = data[self._pos - start : self._pos - start + len(view) - written]
            view[written : written + len(chunk)] = chunk
            written += len(chunk)
            self._pos += len(chunk)
        return written

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = max(0, self.size - self._pos)
        buffer = bytearray(min(size, max(0, self.size - self._pos)))
        count = self.readinto(memoryview(buffer))
        return bytes(buffer[:count])

    def close(self) -> None:
        if not self.closed:
            on_close, self._on_close = self._on_close, None
            for future in self._pending.values():
                future.cancel()
            self._pending.clear()
            self._blocks.clear()
            if on_close is not None:
                on_close()
        super().close()

    def _keep(self, start: int, data: Data) -> None:
        self._blocks[start] = data
        self._blocks.move_to_end(start)
        while len(self._blocks) > self._KEEP_BLOCKS:
            self._blocks.popitem(last=False)

    def _block_at(self, pos: int) -> tuple[int, Data]:
        """The cached block that holds ``pos``, fetching one from ``pos`` on if none does."""
        if self.closed:
            raise ValueError(f"I/O operation on a closed reader of {self.name}.")
        for start, data in reversed(self._blocks.items()):
            if start <= pos < start + len(data):
                self._blocks.move_to_end(start)
                self._maybe_prefetch(start + len(data))
                return start, data
        if pos in self._pending:
            data = self._pending.pop(pos).result()
            self._account(pos, data)
        else:
            continuing = pos == self._last_end
            self._next_block = (
                min(self._max_block, self._next_block * 2) if continuing else self._min_block
            )
            end = min(self.size, pos + self._next_block)
            data = self._fetch(pos, end)
            self._account(pos, data)
        if not data:
            raise OSError(f"{self.name}: the server sent no bytes at offset {pos}.")
        self._keep(pos, data)
        self._last_end = pos + len(data)
        return pos, data

    def _account(self, pos: int, data: Data) -> None:
        self.bytes_fetched += len(data)
        self.requests += 1

    def _maybe_prefetch(self, end: int) -> None:
        """While a block fetched by continuation is read, fetch the next in the background."""
        if (
            self._prefetch is None
            or end != self._last_end
            or end >= self.size
            or end in self._pending
            or self._next_block < self._max_block  # still growing: not a long forward read
            or self._pos < end - self._next_block // 2
        ):
            return
        block = min(self._max_block, self._next_block)
        self._pending[end] = self._prefetch(end, min(self.size, end + block))
