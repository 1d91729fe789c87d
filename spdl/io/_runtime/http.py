"""A small HTTP(S) client for URL sources: pooled connections, retries, cancellation.

Built on the standard library's sockets and ``ssl`` (no new dependency; the wire
format is in :mod:`.http_wire`), connecting straight to the server: no proxy, the
``*_PROXY`` environment variables are not read. Each request
runs in the calling thread (an I/O pool thread); connections are kept per host and
reused. A request is retried after a connection error, a timeout, a truncated body,
HTTP 429 or a 5xx status (but 501 and 505), with exponential backoff and full jitter
or the server's ``Retry-After``; never after another 4xx. A ``CancelToken`` set
while a request is in flight makes the watcher thread shut its socket down, so the
blocked read returns at once; waits between attempts poll the token.
"""

from __future__ import annotations

import email.utils
import http
import os
import random
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from spdl import _native
from spdl.io._core import remote as _remote
from spdl.io._core.remote import FetchedBytes, RemoteError, RemoteNotFoundError
from spdl.io._runtime.http_wire import (
    BodyTooLarge,
    Connection,
    Disconnected,
    ProtocolError,
    Truncated,
    decimal,
)

__all__ = ["Cancelled", "Response", "check_url", "close_idle", "get", "open_connections"]

# Every 5xx is retried (proxies' 598/599 and CDNs' 52x are timeouts and lost origins)
# but 501 and 505: a method or an HTTP version the server does not support.
_NOT_RETRIED_5XX = frozenset({501, 505})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_USER_AGENT = "spdl"


class Cancelled(Exception):
    """The request's CancelToken was set."""


@dataclass(frozen=True)
class Response:
    """A successful GET: the body, and for a range request the file's total size."""

    status: int
    body: bytes | FetchedBytes
    size: int | None  # from Content-Range (206) or Content-Length (200); None if unknown
    ranged: bool  # the body is the range asked for (206), not the whole file (200)
    url: str = ""  # where it came from: the last redirect's target, or the URL asked for


# --- connection pool ----------------------------------------------------------------

_Key = tuple[str, str, int]  # scheme, host, port
_pool_lock = threading.Lock()
# Idle connections per host, the host used last at the end; each with the time it
# went idle. Bounded in all and in time: a dataset of URLs on many hosts (scraped
# images, one signed host per bucket) kept one socket per host it ever visited,
# until the process ran out of file descriptors.
_idle: OrderedDict[_Key, list[tuple[Connection, float]]] = OrderedDict()
_open = 0  # connections open, idle or in use (for tests: none may leak)
_MAX_IDLE_PER_HOST = 256
_MAX_IDLE = 256  # over all hosts: the least recently used host's oldest goes first
_IDLE_TIMEOUT_S = 30.0  # servers close idle connections after 5 to 75 s
_SWEEP_EVERY_S = 1.0
_next_sweep = 0.0
_ssl_context: ssl.SSLContext | None = None


def open_connections() -> int:
    """The number of connections open now, idle or in use."""
    with _pool_lock:
        return _open


def close_idle() -> None:
    """Closes every idle connection (they are reopened on demand)."""
    global _open
    with _pool_lock:
        idle = [conn for conns in _idle.values() for conn, _ in conns]
        _idle.clear()
        _open -= len(idle)
    for conn in idle:
        conn.close()


def _connect(key: _Key, timeout: float) -> Connection:
    global _open, _ssl_context
    scheme, host, port = key
    if scheme == "https" and _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    conn = Connection(host, port, _ssl_context if scheme == "https" else None, timeout)
    with _pool_lock:
        _open += 1
    return conn


def _take(key: _Key, timeout: float) -> tuple[Connection, bool]:
    """An idle connection to ``key`` (reused: True) or a new one."""
    while True:
        with _pool_lock:
            conns = _idle.get(key)
            conn = conns.pop()[0] if conns else None
            if conns is not None and not conns:
                del _idle[key]
        if conn is None:
            return _connect(key, timeout), False
        if conn.readable_while_idle():  # closed or written to by the server meanwhile
            _discard(conn)
            continue
        conn.set_timeout(timeout)
        return conn, True


def _give_back(key: _Key, conn: Connection) -> None:
    global _next_sweep
    now = time.monotonic()
    with _pool_lock:
        stale = _stale(now) if now >= _next_sweep else []
        _next_sweep = now + _SWEEP_EVERY_S
        conns = _idle.setdefault(key, [])
        _idle.move_to_end(key)
        kept = len(conns) < _MAX_IDLE_PER_HOST and conn.sock is not None
        if kept:
            conns.append((conn, now))
        elif not conns:
            del _idle[key]
        stale += _over_limit()
    for old in stale if kept else [*stale, conn]:
        _discard(old)


def _stale(now: float) -> list[Connection]:
    """Takes the connections idle longer than ``_IDLE_TIMEOUT_S`` out of the pool
    (with ``_pool_lock`` held)."""
    stale = []
    for key in list(_idle):
        conns = _idle[key]
        fresh = [(conn, since) for conn, since in conns if now - since < _IDLE_TIMEOUT_S]
        stale += [conn for conn, since in conns if now - since >= _IDLE_TIMEOUT_S]
        if fresh:
            _idle[key] = fresh
        else:
            del _idle[key]
    return stale


def _over_limit() -> list[Connection]:
    """Takes the oldest connections of the least recently used hosts out of the pool
    until at most ``_MAX_IDLE`` are idle (with ``_pool_lock`` held)."""
    excess = sum(len(conns) for conns in _idle.values()) - _MAX_IDLE
    evicted = []
    while excess > 0:
        key, conns = next(iter(_idle.items()))
        evicted.append(conns.pop(0)[0])
        excess -= 1
        if not conns:
            del _idle[key]
    return evicted


def _discard(conn: Connection) -> None:
    global _open
    conn.close()
    with _pool_lock:
        _open -= 1


def _reset_after_fork() -> None:
    # The parent's sockets must not be shared with a forked child, and a lock that
    # another thread held at the fork would never be released there.
    global _open, _watcher, _pool_lock, _watch_lock
    _pool_lock = threading.Lock()
    _watch_lock = threading.Condition()
    _idle.clear()
    _open = 0
    _watched.clear()
    _watcher = None


# --- cancellation ---------------------------------------------------------------------

_watch_lock = threading.Condition()
# Each request's token (None: none) and deadline (a time.monotonic(); None: none).
_watched: dict[int, tuple[_native.CancelToken | None, float | None, Connection]] = {}
_watcher: threading.Thread | None = None
_WATCH_INTERVAL_S = 0.02


def _watch() -> None:
    """Shuts down the socket of each watched request whose token was set or whose
    deadline passed."""
    with _watch_lock:
        while True:
            while not _watched:
                _watch_lock.wait()
            _abort_cancelled()
            _watch_lock.wait(_WATCH_INTERVAL_S)


def _abort_cancelled() -> None:
    # A function of its own: the waiting loop's frame must keep no token alive.
    now = time.monotonic()
    for key, (token, deadline, conn) in list(_watched.items()):
        stop = (token is not None and token.cancelled) or (deadline is not None and now >= deadline)
        if stop and (sock := conn.sock) is not None:  # None: still connecting
            del _watched[key]
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@contextmanager
def _watched_socket(
    token: _native.CancelToken | None, deadline: float | None, conn: Connection
) -> Iterator[None]:
    global _watcher
    if token is None and deadline is None:
        yield
        return
    key = id(conn)
    with _watch_lock:
        if _watcher is None:
            _watcher = threading.Thread(target=_watch, name="spdl_http_cancel", daemon=True)
            _watcher.start()
        _watched[key] = (token, deadline, conn)
        _watch_lock.notify()
    try:
        yield
    finally:
        with _watch_lock:
            _watched.pop(key, None)


def _sleep(seconds: float, token: _native.CancelToken | None) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if token is not None and token.cancelled:
            raise Cancelled()
        time.sleep(min(left, _WATCH_INTERVAL_S))


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


# --- requests --------------------------------------------------------------------------


def _retry_after(value: str | None, limit: float) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date), at most ``limit``."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(0.0, seconds), limit)


def _content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``(first, last, total)`` of ``Content-Range: bytes first-last/total``; a part
    that is ``*`` (``bytes */1234``, ``bytes 0-99/*``) or missing is None, one that is
    no whole number (``²``, 10**30) a ``ProtocolError``."""
    span, _, total = (value or "").partition(" ")[2].partition("/")
    first, _, last = span.partition("-")

    def number(text: str) -> int | None:
        text = text.strip()
        if text in ("", "*"):
            return None
        if (parsed := decimal(text)) is None:
            raise ProtocolError(f"bad Content-Range {str(value)[:60]!r}")
        return parsed

    return number(first), number(last), number(total)


def _checked_size(value: str | None, start: int, length: int) -> int | None:
    """The file's size from a 206's ``Content-Range``, once it says the body is
    ``length`` bytes from ``start``: else ``ProtocolError`` (a server that answers
    another range than asked gives wrong bytes)."""
    first, last, total = _content_range(value)
    if first is None or last is None:
        raise ProtocolError(f"206 answer with a bad Content-Range {str(value)[:60]!r}")
    if first != start or last - first + 1 != length:
        raise ProtocolError(
            f"asked for bytes from {start}, got Content-Range {value!r} and {length} bytes"
        )
    return total


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, Truncated):
        return str(error)
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if str(error) else text


def get(
    url: str,
    byte_range: tuple[int, int] | None = None,
    *,
    cancel: _native.CancelToken | None = None,
    name: str | None = None,
) -> Response:
    """GET ``url`` (``[start, end)`` of it with ``byte_range``), retrying as the options say.

    Args:
        url: An ``http://`` or ``https://`` URL (may hold ``user:password@``: sent as
            basic authentication).
        byte_range: ``(start, end)``; a server that ignores ranges sends the whole file.
        cancel: Aborts the request when set.
        name: The source as errors name it; by default ``url``, redacted.

    Returns:
        The response.

    Raises:
        RemoteError: The request failed (``RemoteNotFoundError`` for 404 / 410).
        Cancelled: ``cancel`` was set.
    """
    options = _remote.remote_options()
    name = name or _remote.redact(url)
    deadline = time.monotonic() + options.deadline_s if options.deadline_s else None
    history: list[str] = []
    attempt = 0
    redirects = 0
    status: int | None = None

    def fail(
        status: int | None, reason: str, cause: BaseException | None = None, what: str | None = None
    ) -> RemoteError:
        # Read when called: the attempt, and where the redirects led.
        where = url if redirects else None
        return _failure(name, status, reason, attempt, history, cause, what=what, redirected=where)

    while True:
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        attempt += 1
        wait: float | None = None
        try:
            outcome = _attempt(url, name, byte_range, options, deadline, cancel)
        except Cancelled:
            raise
        except OSError as error:
            if cancel is not None and cancel.cancelled:
                raise Cancelled() from None
            # Past the deadline, the error is the watcher's shutdown: not one to report.
            _check_deadline(deadline, options, name, attempt, history)
            status = None
            history.append(_describe(error))
            cause: BaseException | None = error
        else:
            if cancel is not None and cancel.cancelled:
                # The watcher's shutdown reads as the end of a body read to the close.
                raise Cancelled()
            _check_deadline(deadline, options, name, attempt, history)
            if isinstance(outcome, Response):
                return outcome
            status, reason, headers = outcome
            cause = None
            if status in _REDIRECTS and headers.get("location"):
                if redirects == _MAX_REDIRECTS:  # a loop, most likely
                    history.append(f"too many redirects ({_MAX_REDIRECTS})")
                    raise fail(status, reason, what=history[-1])
                target = _redirect_target(url, headers["location"])
                if urllib.parse.urlsplit(target).scheme.lower() not in ("http", "https"):
                    history.append(
                        f"HTTP {status} to {_remote.redact(target)} "
                        "(not http or https: not followed)"
                    )
                    raise fail(status, reason, what=history[-1])
                redirects += 1
                attempt -= 1
                url = target
                continue
            history.append(f"HTTP {status}")
            if not _retried(status):
                raise fail(status, reason)
            wait = _retry_after(headers.get("retry-after"), options.max_retry_after_s)
        if attempt >= options.max_attempts or isinstance(
            cause, ssl.SSLCertVerificationError | ProtocolError
        ):
            # A certificate that does not verify will not verify on the next attempt,
            # nor a server that does not speak HTTP as asked answer otherwise.
            reason = "" if status is None else _phrase(status)
            try:
                raise fail(status, reason, cause)
            finally:
                # The cause's traceback holds this frame, which holds its caller's: kept
                # in a local, it would keep them (and their buffers) alive until gc runs.
                cause = None
        cause = None  # likewise when a later attempt succeeds
        if wait is None:
            bound = min(options.max_backoff_s, options.backoff_s * 2 ** (attempt - 1))
            wait = random.uniform(0, bound)
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - time.monotonic()))
        _sleep(wait, cancel)
        _check_deadline(deadline, options, name, attempt, history)


def _check_deadline(
    deadline: float | None,
    options: _remote.RemoteOptions,
    name: str,
    attempts: int,
    history: list[str],
) -> None:
    """Fails the fetch once its deadline passed (the watcher shut its socket then: a
    body read to the close would read as complete)."""
    if deadline is not None and time.monotonic() >= deadline:
        what = f"not done within deadline_s={options.deadline_s:g}"
        raise _failure(name, None, "", attempts, [*history, what], None, what=what)


def _stopped(cancel: _native.CancelToken | None, deadline: float | None) -> bool:
    """Whether a connect in progress is given up: cancelled, or past the deadline."""
    return (cancel is not None and cancel.cancelled) or (
        deadline is not None and time.monotonic() >= deadline
    )


def _retried(status: int) -> bool:
    """Whether an answer with ``status`` is worth asking again (429 and 5xx)."""
    return status == 429 or (500 <= status < 600 and status not in _NOT_RETRIED_5XX)


def _redirect_target(url: str, location: str) -> str:
    """The URL a ``Location`` header sends ``url`` to.

    The head is decoded as Latin-1; many servers write a ``Location`` in raw UTF-8,
    which read so would be escaped twice (``/vidéo`` as ``/vid%C3%83%C2%A9o``).
    """
    if not location.isascii():
        try:
            location = location.encode("latin-1").decode("utf-8")
        except UnicodeError:  # Latin-1 indeed
            pass
    return urllib.parse.urljoin(url, location)


def _failure(
    name: str,
    status: int | None,
    reason: str,
    attempts: int,
    history: list[str],
    cause: BaseException | None,
    *,
    what: str | None = None,
    redirected: str | None = None,
) -> RemoteError:
    if what is None:
        what = f"HTTP {status} {reason}".rstrip() if status is not None else history[-1]
    tries = f"{attempts} attempt" + ("s" if attempts > 1 else "")
    earlier = f" (earlier: {', '.join(history[:-1])})" if len(history) > 1 else ""
    # The answer came from where a redirect led (a CDN's 404 is not the URL's own).
    where = f" (redirected to {_remote.redact(redirected)})" if redirected else ""
    message = f"Failed to fetch {name}{where}: {what} after {tries}{earlier}."
    kind = RemoteNotFoundError if status in (404, 410) else RemoteError
    error = kind(message, url=name, status=status, attempts=attempts)
    error.__cause__ = cause
    return error


# What a request target keeps as it is: RFC 3986's reserved and unreserved characters,
# and "%" (an escape already made); anything else (spaces, non-ASCII) is escaped as UTF-8.
_TARGET_SAFE = "/?:@!$&'()*+,;=%~[]"
# A "%" that starts no escape ("100%.png") is a "%" of the name: sent as "%25" (a
# server answers 400 to a bare one).
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def check_url(url: str) -> None:
    """``ValueError`` naming the URL when it cannot be requested (a bad port or host, or
    a password with an unencoded ``/``, ``?`` or ``#``)."""
    try:
        _split(url)
    except ValueError as error:
        if _remote.unencoded_userinfo(url) >= 0:
            # The "port" urlsplit could not read is part of the password: not quoted.
            raise ValueError(
                f"Cannot fetch {_remote.redact(url)}: its user or password holds an "
                "unencoded '/', '?', '#' or '@'; percent-encode them there "
                "(%2F, %3F, %23, %40)."
            ) from None
        raise ValueError(f"Cannot fetch {_remote.redact(url)}: {error}.") from None


def _split(url: str) -> tuple[_Key, str, dict[str, str]]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if not host:
        raise ValueError("the URL names no host")
    port = parts.port or (443 if scheme == "https" else 80)  # ValueError: a bad port
    path = urllib.parse.quote(_BARE_PERCENT.sub("%25", parts.path or "/"), safe=_TARGET_SAFE)
    query = urllib.parse.quote(_BARE_PERCENT.sub("%25", parts.query), safe=_TARGET_SAFE)
    target = path + (f"?{query}" if query else "")
    netloc = parts.netloc.rpartition("@")[2]
    try:
        netloc.encode("ascii")
    except UnicodeEncodeError:  # an internationalized host name goes as IDNA
        netloc = host.encode("idna").decode("ascii") + (f":{parts.port}" if parts.port else "")
    headers = {
        "Host": netloc,
        "User-Agent": _USER_AGENT,
        "Accept-Encoding": "identity",
    }
    if parts.username is not None:
        import base64

        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    return (scheme, host, port), target, headers


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _attempt(
    url: str,
    name: str,
    byte_range: tuple[int, int] | None,
    options: _remote.RemoteOptions,
    deadline: float | None,
    cancel: _native.CancelToken | None,
) -> Response | tuple[int, str, dict[str, str]]:
    """One request: the Response, or (status, reason, headers) of an unsuccessful answer."""
    timeout = options.timeout_s
    try:
        key, target, headers = _split(url)
    except ValueError as error:  # a redirect to a URL that cannot be requested
        raise ProtocolError(f"cannot request {_remote.redact(url)}: {error}") from None
    if byte_range is not None:
        headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1] - 1}"
    for fresh in (False, True):
        conn, reused = _take(key, timeout) if not fresh else (_connect(key, timeout), False)
        try:
            with _watched_socket(cancel, deadline, conn):
                if conn.sock is None:
                    conn.connect(lambda: _stopped(cancel, deadline))
                answer = conn.get(target, headers, name, options.max_body_bytes)
        except BodyTooLarge:  # the server's answer, not a lost idle connection: no retry
            _discard(conn)
            raise
        except (Disconnected, ConnectionResetError, BrokenPipeError, ProtocolError):
            # On a reused connection also a ProtocolError: bytes the server wrote while
            # it was idle, after the check in _take, read as the answer.
            _discard(conn)
            if reused and not fresh and not (cancel is not None and cancel.cancelled):
                continue  # the server closed an idle connection: once more on a new one
            raise
        except BaseException:
            _discard(conn)
            raise
        # A 408 on a reused connection: the server timed it out as the request was sent.
        stale = reused and not fresh and answer.status == 408
        if answer.keep_alive and not stale:
            _give_back(key, conn)
        else:
            _discard(conn)
        if stale:
            continue
        status, fields = answer.status, answer.headers
        encoding = fields.get("content-encoding", "").strip().lower()
        if status in (200, 206) and encoding not in ("", "identity"):
            # Asked for identity: a compressed body would reach the demuxer as garbage.
            raise ProtocolError(
                f"the server sent a {encoding}-encoded body although none was accepted"
            )
        if status == 206 and byte_range is not None:
            size = _checked_size(fields.get("content-range"), byte_range[0], len(answer.body))
            return Response(status, answer.body, size, True, url)
        if status == 200:
            return Response(status, answer.body, len(answer.body), False, url)
        if status == 416 and byte_range is not None:  # the range starts at or past the end
            size = _content_range(fields.get("content-range"))[2]
            return Response(206, b"", size, True, url)
        return status, answer.reason, fields
    raise AssertionError("unreachable")
