"""One HTTP/1.1 connection: a GET written, its answer read straight into one buffer.

The standard library's ``http.client`` parses every answer's headers with the
``email`` package and reads through a file object: about 120 µs of Python per
request, several times the socket calls themselves, which a batch of hundreds of
small images pays on the cores that decode them. This reads the status line and
the headers from one receive buffer and the body straight into its final buffer
(``recv_into``), in about a third of that. Only what a GET of a file needs:
``Content-Length`` and chunked bodies, keep-alive, TLS (``ssl`` wraps the socket).
"""

from __future__ import annotations

import errno
import os
import re
import select
import socket
import ssl
import time
from collections.abc import Callable

from spdl.io._core.remote import FetchedBytes

__all__ = ["Answer", "Connection", "Disconnected", "ProtocolError", "Truncated", "decimal"]

_MAX_HEAD = 64 << 10  # status line and headers
_RECV = 64 << 10
# The head is read 4 KB at a time: the body's bytes that come with it are copied
# once; the rest go from the socket straight into the body's buffer.
_RECV_HEAD = 4096
_POLL_S = 0.02  # how often a connect in progress looks at its cancellation
_IN_PROGRESS = (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK, errno.EAGAIN)
_NO_BODY = (204, 304)  # statuses whose answers never carry a body
# A chunk's size: hex digits only (int(x, 16) also takes "-2", "+5", "0x5", "1_0").
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]+")
# The first allocation of a body (a media file's, most often); it doubles as the body
# arrives, up to its announced length. Not the announced length: a server may lie.
_FIRST_BODY_BYTES = 64 << 20


class Disconnected(ConnectionError):
    """The server closed the connection before it answered."""


class Truncated(ConnectionError):
    """The body ended before the length the server announced."""

    def __init__(self, got: int, expected: int) -> None:
        super().__init__(f"truncated body ({got} of {expected} bytes)")
        self.got = got
        self.expected = expected


class ProtocolError(ConnectionError):
    """The answer is not HTTP/1.x as expected."""


class BodyTooLarge(ProtocolError):
    """The body is larger than ``max_body_bytes`` (not retried, as a ProtocolError)."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        told = f" of {size} bytes" if size is not None else ""
        super().__init__(f"the body{told} is larger than max_body_bytes={limit}")
        self.limit = limit


class Answer:
    """A status, its reason, the headers (lower-case names) and the body."""

    __slots__ = ("status", "reason", "headers", "body", "keep_alive")

    def __init__(
        self, status: int, reason: str, headers: dict[str, str], body: bytes | FetchedBytes
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.keep_alive = True


class Connection:
    """A connection to one host; ``get`` may be called again while ``keep_alive``."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None, timeout: float) -> None:
        self.host = host
        self.port = port
        self.sock: socket.socket | None = None
        self._tls = tls
        self._timeout = timeout
        self._buffer = bytearray()  # bytes received beyond the last answer's head

    def connect(self, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Connects within the timeout, then does the TLS handshake, if any.

        ``cancelled`` is polled while the TCP connection is made; once ``sock`` is set
        (before the handshake), shutting it down from another thread aborts the rest.
        """
        sock = self._connect_tcp(time.monotonic() + self._timeout, cancelled)
        try:
            sock.settimeout(self._timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(
                    sock, server_hostname=self.host, do_handshake_on_connect=False
                )
                self.sock = sock
                sock.do_handshake()
        except BaseException:
            self.sock = None
            sock.close()
            raise
        self.sock = sock

    def _connect_tcp(self, deadline: float, cancelled: Callable[[], bool]) -> socket.socket:
        """A connected socket to the first address of the host that answers."""
        error: OSError | None = None  # the last address's failure
        for family, kind, proto, _, address in socket.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM
        ):
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                code = sock.connect_ex(address)
                poll = select.poll()
                poll.register(sock, select.POLLOUT)
                while code in _IN_PROGRESS:
                    if cancelled():
                        raise ConnectionAbortedError("cancelled while connecting")
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError("timed out while connecting")
                    if poll.poll(min(left, _POLL_S) * 1000):
                        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    raise OSError(
                        code, f"cannot connect to {self.host}:{self.port}: {os.strerror(code)}"
                    )
                error = None  # (see below)
                return sock
            except (ConnectionAbortedError, TimeoutError):
                sock.close()
                raise
            except OSError as failed:  # the next address, if any
                sock.close()
                error = failed
            except BaseException:
                sock.close()
                raise
        try:
            raise error if error is not None else OSError(f"no address for {self.host}")
        finally:
            # The error's traceback holds this frame, which holds its callers': kept in a
            # local, it would keep them (and their buffers) alive until gc runs.
            error = None

    def readable_while_idle(self) -> bool:
        """Whether an idle connection has something to read (an EOF, a 408 the server
        wrote when it timed the connection out, stray bytes): the next request on it
        would read that as its answer, so it must not carry one."""
        if self.sock is None or self._buffer:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        poll = select.poll()
        poll.register(self.sock, select.POLLIN)
        return bool(poll.poll(0))

    def set_timeout(self, timeout: float) -> None:
        self._timeout = timeout
        if self.sock is not None:
            self.sock.settimeout(timeout)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def get(self, target: str, headers: dict[str, str], name: str, max_body: int = 0) -> Answer:
        """Sends ``GET target`` and reads the whole answer (a 2xx body into a
        :class:`FetchedBytes` named ``name``; :class:`BodyTooLarge` for one of more
        than ``max_body`` bytes, when not 0)."""
        assert self.sock is not None
        lines = "".join(f"{key}: {value}\r\n" for key, value in headers.items())
        self.sock.sendall(f"GET {target} HTTP/1.1\r\n{lines}\r\n".encode("latin-1"))
        while True:
            version, status, reason, fields = self._read_head()
            if not 100 <= status < 200:
                break  # 1xx: an interim answer, the real one follows
        chunked = "chunked" in fields.get("transfer-encoding", "").lower()
        length = _content_length(fields.get("content-length"))
        limit = max_body if 200 <= status < 300 else 0  # an error's body is read whole
        if status in _NO_BODY:
            body: bytes | FetchedBytes = b""
            length = 0
        elif chunked:
            body = self._read_chunked(name, limit)
        elif length is not None:
            if limit and length > limit:
                raise BodyTooLarge(limit, length)
            body = self._read_exact(length, name if 200 <= status < 300 else None)
        else:
            body = self._read_to_close(name, limit)
        answer = Answer(status, reason, fields, body)
        connection = fields.get("connection", "").lower()
        answer.keep_alive = (
            (chunked or length is not None)
            and "close" not in connection
            and (version == "HTTP/1.1" or "keep-alive" in connection)
            and not self._buffer  # nothing may follow an answer we did not ask for
        )
        return answer

    def _recv_more(self, size: int = _RECV) -> bool:
        assert self.sock is not None
        chunk = self.sock.recv(size)
        self._buffer += chunk
        return bool(chunk)

    def _read_head(self) -> tuple[str, int, str, dict[str, str]]:
        start = 0
        while (end := self._buffer.find(b"\r\n\r\n", start)) < 0:
            if len(self._buffer) > _MAX_HEAD:
                raise ProtocolError("the answer's headers are larger than 64 KB")
            start = max(0, len(self._buffer) - 3)
            if not self._recv_more(_RECV_HEAD):
                if not self._buffer:
                    raise Disconnected("the server closed the connection without an answer")
                first = bytes(self._buffer.partition(b"\n")[0][:80])
                if not first.startswith(b"HTTP/1."):  # another protocol's banner, say
                    raise ProtocolError(f"not an HTTP/1.x answer: {first!r}")
                if b"\n\n" in self._buffer:
                    raise ProtocolError("the answer's head ends its lines in LF, not CRLF")
                raise ConnectionError("the connection closed in the answer's head")
        head = self._buffer[:end].decode("latin-1")
        del self._buffer[: end + 4]
        status_line, *lines = head.split("\r\n")
        parts = status_line.split(" ", 2)
        if (
            len(parts) < 2
            or not parts[0].startswith("HTTP/1.")
            or len(parts[1]) != 3
            or decimal(parts[1]) is None
        ):
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        fields: dict[str, str] = {}
        for line in lines:
            key, sep, value = line.partition(":")
            if sep:
                key = key.strip().lower()
                value = value.strip()
                fields[key] = f"{fields[key]}, {value}" if key in fields else value
        return parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", fields

    def _read_exact(self, length: int, name: str | None) -> bytes | FetchedBytes:
        """``length`` bytes: of a success straight from the socket into its buffer."""
        if name is None:  # an error's body: small, kept as bytes
            while len(self._buffer) < length:
                if not self._recv_more():
                    raise Truncated(len(self._buffer), length)
            body = bytes(self._buffer[:length])
            del self._buffer[:length]
            return body
        # Grown as the bytes come, not allocated to the announced length up front: a
        # server announcing 1 GiB for a 69 KB body took 1 GiB per attempt.
        got = min(length, len(self._buffer))
        try:
            out = FetchedBytes(max(got, min(length, _FIRST_BODY_BYTES)), name)
        except (MemoryError, OverflowError):
            raise ProtocolError(f"cannot hold the {length}-byte body announced") from None
        out[:got] = self._buffer[:got]
        del self._buffer[:got]
        assert self.sock is not None
        while got < length:
            if got == len(out):
                try:
                    out += bytes(min(len(out), length - len(out)))  # doubled, at most
                except MemoryError:
                    raise ProtocolError(f"cannot hold the {length}-byte body announced") from None
            with memoryview(out) as view:  # released before the next growth
                count = self.sock.recv_into(view[got:])
            if not count:
                raise Truncated(got, length)
            got += count
        return out

    def _read_line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if not self._recv_more():
                raise Truncated(len(self._buffer), len(self._buffer) + 2)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        return line

    def _read_chunked(self, name: str, limit: int) -> FetchedBytes:
        out = FetchedBytes(0, name)
        while True:
            # Only spaces and tabs around the size: a stray CR or LF is bad framing.
            size_text = self._read_line().split(b";", 1)[0].strip(b" \t")
            if not _CHUNK_SIZE.fullmatch(size_text):
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}")
            size = int(size_text, 16)
            if limit and len(out) + size > limit:  # before the chunk is read
                raise BodyTooLarge(limit)
            if size == 0:
                while self._read_line():  # trailers, up to the empty line
                    pass
                return out
            while len(self._buffer) < size + 2:
                if not self._recv_more():
                    raise Truncated(len(out) + len(self._buffer), len(out) + size)
            # A size that is not the data's own (off by one) would drop or splice bytes.
            if self._buffer[size : size + 2] != b"\r\n":
                raise ProtocolError("a chunk's data is not followed by CRLF")
            out += self._buffer[:size]
            del self._buffer[: size + 2]

    def _read_to_close(self, name: str, limit: int) -> FetchedBytes:
        while self._recv_more():
            if limit and len(self._buffer) > limit:
                raise BodyTooLarge(limit)
        out = FetchedBytes(self._buffer, name)
        self._buffer = bytearray()
        return out


def decimal(text: str) -> int | None:
    """The whole number ``text`` writes in ASCII digits, below 10**18 (a size that fits
    an index); None for anything else.

    ``str.isdigit`` alone also takes digits ``int`` refuses (``"²"``, read from a
    Latin-1 header), and ``int`` refuses more than 4300 digits.
    """
    if not text or len(text) > 18 or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def _content_length(value: str | None) -> int | None:
    """The body's length from ``Content-Length`` (repeated headers, merged with commas,
    must agree); ``ProtocolError`` for anything but a whole number."""
    if value is None:
        return None
    lengths = {part.strip() for part in value.split(",")}
    if len(lengths) != 1 or (length := decimal(lengths.pop())) is None:
        raise ProtocolError(f"bad Content-Length {value[:40]!r}")
    return length
