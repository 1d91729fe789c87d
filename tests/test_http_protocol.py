"""The HTTP client against servers that answer oddly: a range other than the one asked
for, an unknown total size, bad or repeated ``Content-Length`` headers, bad chunked
framing, answers without a body, URLs with spaces and non-ASCII characters, bad
ports, and a TLS handshake that never ends while the request is cancelled.

The server here is a scripted socket: each test says what it answers to a request.
"""

from __future__ import annotations

import gzip
import re
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from media import image_bytes

import spdl.io
from spdl import _native
from spdl.io._api import batch as _batch
from spdl.io._core.remote import RemoteError
from spdl.io._runtime import fetch as _fetch
from spdl.io._runtime import http as _http

pytestmark = pytest.mark.timeout(120)

DATA = bytes(range(256)) * 2048  # 512 KB: a reader fetches it in several ranges

Answer = Callable[[str, str, tuple[int, int] | None], bytes]  # (path, head, range) -> bytes


class ThenClose(bytes):
    """An answer after which the server closes the connection."""


class Scripted:
    """Answers each request with ``answer(path, head, byte_range)``; records the heads."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.heads: list[str] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        pending = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in pending:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        return
                    if not chunk:
                        return
                    pending += chunk
                raw, _, pending = pending.partition(b"\r\n\r\n")
                head = raw.decode("latin-1")
                self.heads.append(head)
                target = head.split(" ")[1]
                path = urllib.parse.unquote(urllib.parse.urlsplit(target).path)
                reply = self.answer(path, head, _range(head))
                try:
                    conn.sendall(reply)
                except OSError:
                    return
                if isinstance(reply, ThenClose):
                    return

    def close(self) -> None:
        self.listener.close()


def _range(head: str) -> tuple[int, int] | None:
    for line in head.split("\r\n"):
        if line.lower().startswith("range: bytes="):
            first, last = line.split("=", 1)[1].split("-")
            return int(first), int(last) + 1
    return None


def _reply(status: str, body: bytes, **headers: str) -> bytes:
    fields = {"Content-Length": str(len(body)), **headers}
    lines = "".join(f"{key.replace('_', '-')}: {value}\r\n" for key, value in fields.items())
    return f"HTTP/1.1 {status}\r\n{lines}\r\n".encode() + body


def _ranged(total: str = str(len(DATA)), shift: int = 0) -> Answer:
    """Answers ranges of DATA; ``total`` as Content-Range says it, ``shift`` moves the
    bytes sent (a broken proxy) while the header still names the range asked for."""

    def answer(path: str, head: str, byte_range: tuple[int, int] | None) -> bytes:
        if byte_range is None:
            return _reply("200 OK", DATA)
        first, end = byte_range[0], min(byte_range[1], len(DATA))
        sent = max(0, first - shift)
        body = DATA[sent : sent + end - first]
        return _reply(
            "206 Partial Content",
            body,
            Content_Range=f"bytes {sent}-{sent + len(body) - 1}/{total}",
        )

    return answer


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], Scripted]]:
    servers: list[Scripted] = []

    def start(answer: Answer) -> Scripted:
        servers.append(Scripted(answer))
        return servers[-1]

    before = spdl.io.remote_options()
    spdl.io.set_remote_options(timeout_s=5.0, max_attempts=3, backoff_s=0.01, max_backoff_s=0.02)
    yield start
    spdl.io.set_remote_options(**vars(before))
    for server in servers:
        server.close()
    _http.close_idle()


def test_a_range_other_than_the_one_asked_for_fails_without_retrying(serve) -> None:
    server = serve(_ranged(shift=300_000))  # the bytes of another offset, mislabelled
    reader = _fetch.open_reader(server.url("/data.bin"))
    reader.seek(400_000)
    with pytest.raises(RemoteError, match=r"asked for bytes from \d+, got Content-Range") as error:
        reader.read(16)
    assert server.url("/data.bin") in str(error.value)
    assert error.value.attempts == 1
    reader.close()


def test_a_range_of_unknown_total_size_reads_the_whole_file(serve) -> None:
    server = serve(_ranged(total="*"))
    reader = _fetch.open_reader(server.url("/data.bin"))
    assert reader.size == len(DATA)
    assert reader.read() == DATA
    reader.close()


def test_right_ranges_read_every_byte(serve) -> None:
    server = serve(_ranged())
    reader = _fetch.open_reader(server.url("/data.bin"))
    reader.seek(300_000)
    assert reader.read(70_000) == DATA[300_000:370_000]
    reader.seek(5)
    assert reader.read(10) == DATA[5:15]
    reader.close()


def test_a_reader_asks_a_redirects_target_for_its_later_ranges(serve) -> None:
    # A hub that redirects every request to its CDN (signed URLs that expire): the
    # reader's ranges go to the CDN, and back to the hub once its URL has expired.
    cdn_answer = _ranged()
    signed: list[str] = []

    def cdn(path: str, head: str, byte_range: tuple[int, int] | None) -> bytes:
        sig = head.split(" ")[1].partition("sig=")[2]
        if sig != str(len(signed)):  # only the newest signature is valid
            return _reply("403 Forbidden", b"expired")
        return cdn_answer(path, head, byte_range)

    cdn_server = serve(cdn)

    def hub(path: str, head: str, byte_range: tuple[int, int] | None) -> bytes:
        signed.append(path)
        return _reply("302 Found", b"", Location=cdn_server.url(f"{path}?sig={len(signed)}"))

    hub_server = serve(hub)
    reader = _fetch.open_reader(hub_server.url("/data.bin"))
    for start in (300_000, 5, 100_000):
        reader.seek(start)
        assert reader.read(70_000) == DATA[start : start + 70_000]
    assert len(hub_server.heads) == 1 and len(cdn_server.heads) >= 3
    signed.append("expired")  # the CDN's signature changes: the hub is asked again
    reader.seek(450_000)
    assert reader.read(50_000) == DATA[450_000:500_000]
    assert len(hub_server.heads) == 2
    reader.close()


@pytest.mark.parametrize(
    "path",
    ["/猫.jpg", "/a b.jpg", "/café.jpg", "/caf%C3%A9.jpg", "/100%.jpg", "/5%2.jpg", "/%zz.jpg"],
)
def test_paths_with_spaces_and_non_ascii_characters_are_escaped_as_utf8(serve, path) -> None:
    # A "%" that starts no escape is a "%" of the name, sent as "%25".
    jpeg = image_bytes(np.zeros((24, 32, 3), np.uint8), "JPEG")
    names = {"/猫.jpg", "/a b.jpg", "/café.jpg", "/100%.jpg", "/5%2.jpg", "/%zz.jpg"}

    def answer(asked: str, head: str, byte_range: tuple[int, int] | None) -> bytes:
        return _reply("200 OK", jpeg) if asked in names else _reply("404 Not Found", b"")

    server = serve(answer)
    url = f"http://127.0.0.1:{server.port}{path}"
    array = spdl.io.to_numpy(spdl.io.load_image(url))
    assert array.shape == (24, 32, 3)
    target = server.heads[-1].split(" ")[1]
    assert target.isascii() and " " not in target
    expected = urllib.parse.quote(urllib.parse.unquote(path))
    assert target == expected


@pytest.mark.parametrize("length", ["abc", "-1", "5, 6", str(1 << 50)])
def test_a_bad_content_length_fails_once_naming_the_url(serve, length: str) -> None:
    server = serve(lambda path, head, byte_range: _reply("200 OK", b"12345", Content_Length=length))
    url = server.url("/x.jpg")
    with pytest.raises(RemoteError, match="Content-Length|body announced") as error:
        spdl.io.load_image(url)
    assert url in str(error.value)
    assert len(server.heads) == 1  # not retried: the server will say it again


@pytest.mark.parametrize(
    "answer",
    [
        # b"\xb2" is "²" in Latin-1: str.isdigit() takes it, int() does not.
        b"HTTP/1.1 \xb200 OK\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nab",
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-\xb9/9\r\n"
        b"Content-Length: 2\r\n\r\nab",
        b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-1/99999999999999999999\r\n"
        b"Content-Length: 2\r\n\r\nab",
    ],
    ids=["status", "length", "huge-length", "range", "huge-total"],
)
def test_a_number_that_is_no_ascii_decimal_or_too_large_is_a_remote_error(
    serve, answer: bytes
) -> None:
    server = serve(lambda path, head, byte_range: answer)
    url = server.url("/x.mp4")
    with pytest.raises(
        RemoteError, match="status line|Content-Length|body announced|Range"
    ) as error:
        spdl.io.load_video(url, timestamp=(0, 1))  # a window: asks for a range
    assert url in str(error.value)
    assert len(server.heads) == 1  # not retried: the server will say it again


def test_a_body_encoded_although_none_was_accepted_fails_saying_so(serve) -> None:
    png = image_bytes(np.zeros((8, 16, 3), np.uint8), "PNG")
    body = gzip.compress(png)
    server = serve(lambda path, head, byte_range: _reply("200 OK", body, Content_Encoding="gzip"))
    url = server.url("/x.png")
    with pytest.raises(RemoteError, match="gzip-encoded body") as error:
        spdl.io.load_image(url)
    assert url in str(error.value) and len(server.heads) == 1  # not retried
    assert "Accept-Encoding: identity" in server.heads[0]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", "not an HTTP/1.x answer: b'SSH-2.0"),
        (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nab", "lines in LF, not CRLF"),
    ],
    ids=["banner", "bare-lf"],
)
def test_an_answer_that_is_no_http_head_fails_saying_so(serve, answer: bytes, message: str):
    # Not a truncated body, and not worth asking again.
    server = serve(lambda path, head, byte_range: ThenClose(answer))
    url = server.url("/x.png")
    with pytest.raises(RemoteError, match=re.escape(message)) as error:
        spdl.io.load_image(url)
    assert url in str(error.value) and len(server.heads) == 1


def test_a_head_cut_short_is_asked_again(serve) -> None:
    png = image_bytes(np.zeros((8, 16, 3), np.uint8), "PNG")
    answers = [ThenClose(b"HTTP/1.1 200 OK\r\nContent-Le"), _reply("200 OK", png)]
    server = serve(lambda path, head, byte_range: answers.pop(0))
    assert spdl.io.to_numpy(spdl.io.load_image(server.url("/x.png"))).shape == (8, 16, 3)
    assert len(server.heads) == 2


def test_a_repeated_content_length_that_agrees_is_accepted(serve) -> None:
    png = image_bytes(np.zeros((8, 16, 3), np.uint8), "PNG")
    server = serve(
        lambda path, head, byte_range: _reply(
            "200 OK", png, Content_Length=f"{len(png)}, {len(png)}"
        )
    )
    assert spdl.io.to_numpy(spdl.io.load_image(server.url("/x.png"))).shape == (8, 16, 3)


def _chunked(data: bytes, size: Callable[[int], bytes], piece: int = 1000) -> bytes:
    """A 200 with ``data`` in chunks whose size lines ``size(len(chunk))`` writes."""
    body = b"".join(
        size(len(data[at : at + piece])) + b"\r\n" + data[at : at + piece] + b"\r\n"
        for at in range(0, len(data), piece)
    )
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n"


@pytest.mark.parametrize(
    "size",
    [
        lambda n: b"%x" % (n - 1),  # one byte short: the chunk's last byte was dropped
        lambda n: b"%x" % (n + 1),  # one byte long: the CR of its CRLF was kept
        lambda n: b"+%x" % n,
        lambda n: b"0x%x" % n,
        lambda n: b"%x_%x" % (n >> 4, n & 15),
        lambda n: b"\n%x" % n,  # a stray LF is not white space here
    ],
    ids=["short", "long", "plus", "0x", "underscore", "lf"],
)
def test_a_chunked_body_with_bad_framing_fails_instead_of_loading_other_bytes(
    serve, size: Callable[[int], bytes]
) -> None:
    png = image_bytes(np.random.default_rng(0).integers(0, 255, (40, 60, 3), np.uint8), "PNG")
    server = serve(lambda path, head, byte_range: _chunked(png, size))
    url = server.url("/x.png")
    with pytest.raises(RemoteError, match="chunk") as error:
        spdl.io.load_image(url)
    assert url in str(error.value)
    assert len(server.heads) == 1  # not retried: the server will frame it so again


def test_a_negative_chunk_size_does_not_splice_framing_into_the_body(serve) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    server = serve(lambda path, _, byte_range: head + b"5\r\nhello\r\n-2\r\n0\r\n\r\n")
    with pytest.raises(RemoteError, match="bad chunk size"):
        _http.get(server.url("/x.bin"))


def test_chunk_sizes_with_blanks_and_extensions_load(serve) -> None:
    png = image_bytes(np.zeros((8, 16, 3), np.uint8), "PNG")
    server = serve(lambda path, head, byte_range: _chunked(png, lambda n: b" %X\t;a=1" % n, 50))
    assert spdl.io.to_numpy(spdl.io.load_image(server.url("/x.png"))).shape == (8, 16, 3)


_IDLE_408 = _reply("408 Request Timeout", b"idle", Connection="close")


@pytest.mark.parametrize("written", [_IDLE_408, b"\r\n\r\n<stray>\r\n\r\n"], ids=["408", "stray"])
def test_a_pooled_connection_the_server_wrote_to_while_idle_is_not_reused(
    serve, written: bytes
) -> None:
    # More than the first read of a head (4 KB): what follows the body stays in the
    # socket, as when the server writes it later, while the connection is idle.
    png = image_bytes(np.random.default_rng(0).integers(0, 255, (40, 60, 3), np.uint8), "PNG")
    assert len(png) > 4096
    answers = {"/a.png": _reply("200 OK", png) + written, "/b.png": _reply("200 OK", png)}
    server = serve(lambda path, head, byte_range: answers[path])
    spdl.io.load_image(server.url("/a.png"))
    assert len(_http._idle[("http", "127.0.0.1", server.port)]) == 1  # kept for reuse
    assert spdl.io.to_numpy(spdl.io.load_image(server.url("/b.png"))).shape == (40, 60, 3)
    assert [head.split(" ")[1] for head in server.heads] == ["/a.png", "/b.png"]


@pytest.mark.parametrize("first", [_IDLE_408, b"XYZ\r\n\r\n"], ids=["408", "garbage"])
def test_a_reused_connection_that_answers_408_or_garbage_is_retried_once_on_a_new_one(
    serve, first: bytes
) -> None:
    # The server timed the idle connection out as the request went: the check before
    # reuse saw nothing, the answer is the server's farewell, not the file's.
    png = image_bytes(np.zeros((8, 16, 3), np.uint8), "PNG")
    seen: dict[str, int] = {}

    def answer(path: str, head: str, byte_range: tuple[int, int] | None) -> bytes:
        seen[path] = seen.get(path, 0) + 1
        return first if path == "/b.png" and seen[path] == 1 else _reply("200 OK", png)

    server = serve(answer)
    spdl.io.set_remote_options(max_attempts=1)
    spdl.io.load_image(server.url("/a.png"))
    assert spdl.io.to_numpy(spdl.io.load_image(server.url("/b.png"))).shape == (8, 16, 3)
    assert seen == {"/a.png": 1, "/b.png": 2}


def test_a_408_on_a_new_connection_is_not_retried(serve) -> None:
    server = serve(lambda path, head, byte_range: _IDLE_408)
    with pytest.raises(RemoteError, match="HTTP 408") as error:
        spdl.io.load_image(server.url("/x.png"))
    assert error.value.attempts == 1
    assert len(server.heads) == 1


@pytest.mark.parametrize("status", [500, 502, 506, 510, 511, 530, 598, 599, 501, 505])
def test_every_5xx_but_501_and_505_is_retried(serve, status: int) -> None:
    png = image_bytes(np.zeros((8, 16, 3), np.uint8), "PNG")
    seen: list[str] = []

    def answer(path: str, head: str, byte_range: tuple[int, int] | None) -> bytes:
        seen.append(path)
        return _reply(f"{status} Failed", b"") if len(seen) == 1 else _reply("200 OK", png)

    server = serve(answer)
    url = server.url("/x.png")
    if status in (501, 505):  # a method or HTTP version the server does not support
        with pytest.raises(RemoteError, match=f"HTTP {status}") as error:
            spdl.io.load_image(url)
        assert error.value.attempts == 1
    else:  # a failure of this moment (598, 599: a proxy's read and connect timeouts)
        assert spdl.io.to_numpy(spdl.io.load_image(url)).shape == (8, 16, 3)
    assert len(seen) == (1 if status in (501, 505) else 2)


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_an_answer_that_never_has_a_body_is_not_waited_for(serve, status: str) -> None:
    # No Content-Length and the connection kept open: reading "to the end" would wait
    # for the timeout, and retry; these statuses have no body.
    server = serve(lambda path, head, byte_range: f"HTTP/1.1 {status}\r\n\r\n".encode())
    spdl.io.set_remote_options(timeout_s=60.0, max_attempts=1)
    code = status.split(" ")[0]
    with pytest.raises(RemoteError, match=f"HTTP {code}") as error:
        spdl.io.load_image(server.url("/x.jpg"))
    assert error.value.status == int(code)


def test_a_redirect_in_raw_utf8_is_followed_to_the_path_it_names(serve) -> None:
    png = image_bytes(np.zeros((8, 16, 3), np.uint8), "PNG")

    def answer(path: str, head: str, byte_range: tuple[int, int] | None) -> bytes:
        if path == "/old.png":  # "é" as its two UTF-8 bytes, as many servers write it
            location = "/vidéo.png".encode()
            return b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: " + location + b"\r\n\r\n"
        return _reply("200 OK", png) if path == "/vidéo.png" else _reply("404 Not Found", b"")

    server = serve(answer)
    assert spdl.io.to_numpy(spdl.io.load_image(server.url("/old.png"))).shape == (8, 16, 3)
    assert server.heads[-1].split(" ")[1] == "/vid%C3%A9o.png"


@pytest.mark.parametrize("scheme", ["ftp", "file"])
def test_a_redirect_to_another_scheme_is_not_followed(serve, scheme: str) -> None:
    png = image_bytes(np.zeros((8, 16, 3), np.uint8), "PNG")
    ports: list[int] = []

    def answer(path: str, head: str, byte_range: tuple[int, int] | None) -> bytes:
        if path == "/old.png":
            return _reply("302 Found", b"", Location=f"{scheme}://127.0.0.1:{ports[0]}/x.png")
        return _reply("200 OK", png)

    server = serve(answer)
    ports.append(server.port)
    url = server.url("/old.png")
    with pytest.raises(RemoteError, match=f"HTTP 302 to {scheme}://.*not followed") as error:
        spdl.io.load_image(url)
    assert url in str(error.value)
    assert error.value.status == 302
    assert [head.split(" ")[1] for head in server.heads] == ["/old.png"]


def test_a_failure_after_a_redirect_names_where_it_led(serve) -> None:
    # A CDN's 404 read as if the URL itself were missing.
    def answer(path: str, head: str, byte_range: tuple[int, int] | None) -> bytes:
        if path == "/old.png":
            return _reply("302 Found", b"", Location="/cdn/gone.png?X-Amz-Signature=abc")
        return _reply("404 Not Found", b"")

    server = serve(answer)
    url = server.url("/old.png")
    with pytest.raises(spdl.io.RemoteNotFoundError) as error:
        spdl.io.load_image(url)
    target = server.url("/cdn/gone.png?X-Amz-Signature=***")
    assert f"Failed to fetch {url} (redirected to {target}): HTTP 404" in str(error.value)
    assert error.value.url == url


def test_a_redirect_loop_fails_saying_so(serve) -> None:
    server = serve(lambda path, head, byte_range: _reply("302 Found", b"", Location="/loop"))
    with pytest.raises(RemoteError, match=r"too many redirects \(5\)") as error:
        spdl.io.load_image(server.url("/loop"))
    assert error.value.status == 302
    assert len(server.heads) == 6  # the first request and 5 redirects


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("http://127.0.0.1:99999/x.jpg", "Port out of range"),
        ("http://127.0.0.1:abc/x.jpg", "Port could not be cast"),
        ("http:///x.jpg", "names no host"),
    ],
)
def test_a_url_that_cannot_be_requested_fails_when_called(url: str, cause: str) -> None:
    with pytest.raises(ValueError, match=cause) as error:
        spdl.io.load_image(url)
    assert url in str(error.value)
    with pytest.raises(ValueError, match=cause):
        spdl.io.demux_media("image", url)  # at call time, not in the Future


@pytest.mark.parametrize("password", ["wJalr/K7MDENG+bPx", "wJalr?K7MDENG", "wJalr#K7MDENG"])
def test_a_password_with_an_unencoded_delimiter_fails_when_called_without_showing_it(
    password: str,
) -> None:
    url = f"http://AKID:{password}@127.0.0.1:1/x.jpg"
    for call in (lambda: spdl.io.load_image(url), lambda: spdl.io.demux_media("image", url)):
        with pytest.raises(ValueError, match="percent-encode") as error:
            call()
        message = str(error.value)
        assert "http://***@127.0.0.1:1/x.jpg" in message
        for secret in ("AKID", "wJalr", "K7MDENG"):
            assert secret not in message, message


def test_cancelling_stops_a_tls_handshake_that_never_ends() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never says a word
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    before = spdl.io.remote_options()
    spdl.io.set_remote_options(timeout_s=60.0, max_attempts=1)
    token = _native.CancelToken()
    outcome: list[BaseException] = []

    def get() -> None:
        try:
            _http.get(f"https://127.0.0.1:{listener.getsockname()[1]}/x.jpg", cancel=token)
        except BaseException as error:
            outcome.append(error)

    thread = threading.Thread(target=get)
    try:
        thread.start()
        while not held:  # connected: the handshake waits for the server's hello
            thread.join(0.01)
        token.cancel()
        thread.join(20)  # a third of the timeout: the handshake was aborted, not timed out
        assert not thread.is_alive()
        assert isinstance(outcome[0], _http.Cancelled)
    finally:
        spdl.io.set_remote_options(**vars(before))
        listener.close()
        for conn in held:
            conn.close()
    assert _http.open_connections() == 0


def test_cancelling_a_url_stream_aborts_its_fetch(serve) -> None:
    release = threading.Event()

    def stall(path: str, head: str, byte_range: tuple[int, int] | None) -> bytes:
        release.wait(60)
        return b""

    server = serve(stall)
    spdl.io.set_remote_options(timeout_s=60.0, max_attempts=1)
    futures = spdl.io.streaming_demux("video", server.url("/v.mp4"), [(0, 1), (1, 2)])
    try:
        while not server.heads:
            threading.Event().wait(0.01)
        assert all(future.cancel() for future in futures)
        # The demux task's request was aborted (its connection closed), long before
        # the 60 s timeout, and not sent again.
        assert _within(20, lambda: _http.open_connections() == 0)
    finally:
        release.set()
    assert len(server.heads) == 1
    assert all(future.cancelled() for future in futures)


def test_cancelling_a_body_read_to_the_close_does_not_return_part_of_it(serve) -> None:
    # No Content-Length: the body ends when the connection closes. The watcher's
    # shutdown of the socket looks just like that end.
    server = serve(lambda path, head, byte_range: b"HTTP/1.0 200 OK\r\n\r\n" + b"A" * 1000)
    spdl.io.set_remote_options(timeout_s=60.0, max_attempts=1)
    token = _native.CancelToken()

    def reading_the_body() -> bool:  # the head read, the first 1000 bytes in the buffer
        with _http._watch_lock:
            conns = [conn for _, _, conn in _http._watched.values()]
        return any(conn._buffer[:1] == b"A" and len(conn._buffer) == 1000 for conn in conns)

    def cancel() -> None:
        _within(20, reading_the_body)
        token.cancel()

    threading.Thread(target=cancel, daemon=True).start()
    with pytest.raises(_http.Cancelled):
        _http.get(server.url("/x.bin"), cancel=token)
    assert _http.open_connections() - _idle_connections() == 0


def _within(seconds: float, condition: Callable[[], bool]) -> bool:
    done = threading.Event()
    for _ in range(int(seconds / 0.01)):
        if condition():
            return True
        done.wait(0.01)
    return condition()


def test_a_strict_batch_stops_waiting_for_fetches_once_one_fails(serve) -> None:
    jpeg = image_bytes(np.zeros((24, 32, 3), np.uint8), "JPEG")
    release = threading.Event()

    def answer(path: str, head: str, byte_range: tuple[int, int] | None) -> bytes:
        if path == "/missing.jpg":
            return _reply("404 Not Found", b"")
        if path == "/stalled.jpg":
            release.wait(60)
        return _reply("200 OK", jpeg)

    server = serve(answer)
    spdl.io.set_remote_options(timeout_s=60.0, max_attempts=1)
    urls = [server.url(f"/{name}.jpg") for name in ("fine", "missing", "stalled")]
    try:
        future = _batch.batch_load_image_future(urls, 16, 12, strict=True)
        # The 404 aborts the stalled fetch: the batch fails with it, long before 60 s.
        with pytest.raises(spdl.io.AsyncIOFailure, match="missing.jpg: HTTP 404"):
            future.result(timeout=20)
    finally:
        release.set()
    assert _within(20, lambda: _http.open_connections() - _idle_connections() == 0)


def _idle_connections() -> int:
    with _http._pool_lock:
        return sum(len(conns) for conns in _http._idle.values())


def test_idle_connections_are_bounded_over_all_hosts_and_in_time(serve, monkeypatch) -> None:
    # A dataset of URLs on many hosts kept one idle socket per host ever visited,
    # until the process ran out of file descriptors (1,019 hosts at ulimit 1024).
    png = image_bytes(np.zeros((8, 8, 3), np.uint8), "PNG")
    servers = [serve(lambda path, head, byte_range: _reply("200 OK", png)) for _ in range(5)]
    monkeypatch.setattr(_http, "_MAX_IDLE", 3)
    for server in servers:
        spdl.io.load_image(server.url("/x.png"))
    assert _idle_connections() == _http.open_connections() == 3
    kept = {key[2] for key in _http._idle}
    assert kept == {server.port for server in servers[2:]}  # the least recently used went
    # Idle longer than the timeout: closed when a connection next comes back.
    monkeypatch.setattr(_http, "_IDLE_TIMEOUT_S", 0.0)
    monkeypatch.setattr(_http, "_next_sweep", 0.0)
    spdl.io.load_image(servers[0].url("/x.png"))
    assert _idle_connections() == _http.open_connections() == 1
    assert list(_http._idle) == [("http", "127.0.0.1", servers[0].port)]
