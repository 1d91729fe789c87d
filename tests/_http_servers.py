"""Real HTTP servers for the remote-source tests and benchmark, on 127.0.0.1.

* :class:`Nginx` runs Debian's nginx as a child process (``daemon off``, one process)
  with a config of its own in a temporary directory: static files with range
  requests, an access log that records the bytes sent and the ``Range`` header of
  every request, and locations that inject faults: ``/status/<code>/`` answers with
  that status (403, 404, 429, 500, 503; ``Retry-After: 0`` on 429 and 503), ``/drop/``
  closes the connection without an answer, ``/throttled/`` sends 64 KB/s, and, when
  nginx's echo module is installed, ``/delay/<digits>/<file>`` waits 0.<digits> s
  before it serves the file (``/delay/020/`` waits 20 ms).
* :class:`FaultServer` is a small threaded server of our own for what nginx cannot
  do: fail the first N requests of a path (503 with ``Retry-After``, 429, a dropped
  connection, a truncated body) and then serve the file, so that retries can be seen
  to succeed; it logs every request.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import os
import pathlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
_ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"

_CONFIG = """
{load_echo}
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format spdl '$msec "$uri" $status $bytes_sent $body_bytes_sent "$http_range" '
                    '$connection $connection_requests "$request_completion"';
    access_log {tmp}/access.log spdl;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ image/jpeg jpg; image/png png; video/mp4 mp4; audio/mp4 m4a; }}
    default_type application/octet-stream;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port};
        location /files/ {{ alias {root}/; }}
        location /throttled/ {{ alias {root}/; limit_rate 64k; }}
        location /drop/ {{ return 444; }}
        location /status/429/ {{ add_header Retry-After 0 always; return 429; }}
        location /status/503/ {{ add_header Retry-After 0 always; return 503; }}
        location /status/500/ {{ return 500; }}
        location /status/403/ {{ return 403; }}
        location /status/404/ {{ return 404; }}
        {echo_locations}
    }}
    {tls_server}
}}
"""
_TLS_SERVER = """
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        location /files/ {{ alias {root}/; }}
    }}
"""
_ECHO_LOCATIONS = """
        location ~ ^/delay/(\\d+)/(.*)$ {
            set $file $2;
            echo_sleep 0.$1;
            echo_exec /files/$file;
        }
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen | None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@dataclasses.dataclass(frozen=True)
class LogEntry:
    """One request in nginx's access log."""

    uri: str
    status: int
    bytes_sent: int  # headers included
    body_bytes: int
    range: str  # the Range header, "-" when none
    connection: int  # nginx's connection serial number
    complete: bool  # the whole response was sent


class Nginx:
    """nginx serving ``root`` on a free port of 127.0.0.1 (see the module doc)."""

    def __init__(self, root: pathlib.Path, tmp: pathlib.Path, tls: bool = False) -> None:
        if NGINX is None:
            raise RuntimeError("nginx is not installed (apt-get install nginx-light)")
        self.root = root
        self.tmp = tmp
        self.has_delay = os.path.exists(_ECHO_MODULE)
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.tls_port = 0
        # With ``tls``, a second server answers HTTPS on ``tls_port`` with a
        # certificate for 127.0.0.1 made now, which ``cert`` (a CA file) trusts.
        self.cert: pathlib.Path | None = self._make_cert() if tls else None

    def _make_cert(self) -> pathlib.Path:
        cert, key = self.tmp / "cert.pem", self.tmp / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        return cert

    def start(self) -> Nginx:
        for _ in range(5):  # the free port may be taken before nginx binds it
            self.port = free_port()
            self.tls_port = free_port() if self.cert else 0
            tls_server = _TLS_SERVER.format(port=self.tls_port, tmp=self.tmp, root=self.root)
            config = _CONFIG.format(
                tls_server=tls_server if self.cert else "",
                load_echo=f"load_module {_ECHO_MODULE};" if self.has_delay else "",
                tmp=self.tmp,
                port=self.port,
                root=self.root,
                echo_locations=_ECHO_LOCATIONS if self.has_delay else "",
            )
            path = self.tmp / "nginx.conf"
            path.write_text(config)
            self.process = subprocess.Popen(
                [NGINX, "-p", str(self.tmp), "-c", str(path), "-e", str(self.tmp / "error.log")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                _wait_listening(self.port, self.process)
                return self
            except RuntimeError:
                self.stop()
        errors = (self.tmp / "error.log").read_text() if (self.tmp / "error.log").exists() else ""
        raise RuntimeError(f"nginx did not start: {errors}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None

    def url(self, path: str, tls: bool = False) -> str:
        if tls:
            return f"https://127.0.0.1:{self.tls_port}/{path.lstrip('/')}"
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def log(self) -> list[LogEntry]:
        """Every request logged so far (nginx writes each line as it ends)."""
        entries = []
        path = self.tmp / "access.log"
        if not path.exists():
            return entries
        for line in path.read_text().splitlines():
            # $msec "$uri" status bytes body "range" connection requests "completion"
            quoted = line.split('"')
            uri, rest, range_, tail = quoted[1], quoted[2].split(), quoted[3], quoted[4].split()
            entries.append(
                LogEntry(
                    uri=uri,
                    status=int(rest[0]),
                    bytes_sent=int(rest[1]),
                    body_bytes=int(rest[2]),
                    range=range_,
                    connection=int(tail[0]),
                    complete=quoted[5] == "OK",
                )
            )
        return entries

    def clear_log(self) -> None:
        """Empties the access log (nginx appends to the same open file)."""
        path = self.tmp / "access.log"
        if path.exists():
            with open(path, "r+") as f:
                f.truncate(0)


@contextlib.contextmanager
def nginx(root: pathlib.Path, tmp: pathlib.Path, tls: bool = False) -> Iterator[Nginx]:
    server = Nginx(root, tmp, tls).start()
    try:
        yield server
    finally:
        server.stop()


# --- the fault-injecting server -----------------------------------------------------


class FaultServer:
    """Serves files of ``root`` at ``/<fault>/<count>/<file>``: the first ``count``
    requests of each such path fail as ``fault`` says, the later ones get the file
    (ranges too; a query string makes another path). Faults: ``ok`` (none), ``503``
    (with ``Retry-After: <retry_after>``), ``429``, ``500``, ``drop`` (connection
    closed before an answer), ``truncate`` (the header promises the whole body, half
    of it is sent, then the connection closes), ``stall`` (the answer is held back
    for ``stall_s``); and two framings of the answer: ``chunked`` (a chunked body)
    and ``unsized`` (no length: the body ends when the connection closes)."""

    def __init__(self, root: pathlib.Path, retry_after: str = "0", stall_s: float = 2.0):
        self.root = root
        self.retry_after = retry_after
        self.stall_s = stall_s
        self.requests: list[tuple[float, str, str]] = []  # (time, path, Range header)
        self.in_flight = 0
        self.max_in_flight = 0  # the most requests answered at once
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server._handle(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()

    def url(self, fault: str, count: int, file: str) -> str:
        return f"http://127.0.0.1:{self.port}/{fault}/{count}/{file}"

    def hits(self, fragment: str) -> list[tuple[float, str, str]]:
        with self._lock:
            return [r for r in self.requests if fragment in r[1]]

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._answer(handler)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]
        with self._lock:
            self.requests.append((time.monotonic(), handler.path, handler.headers.get("Range", "")))
            # Counted per path and query: `?n=1`, `?n=2` are failed each in turn.
            seen = self._counts[handler.path] = self._counts.get(handler.path, 0) + 1
        try:
            fault, count, name = path.lstrip("/").split("/", 2)
            failing = seen <= int(count)
        except ValueError:
            handler.send_error(400)
            return
        if failing and fault in ("503", "429", "500"):
            body = b"try later"
            handler.send_response(int(fault))
            if fault != "500":
                handler.send_header("Retry-After", self.retry_after)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        far = handler.headers.get("Range", "bytes=0-").startswith("bytes=0-") is False
        if fault == "farfail" and far:  # every range past the start: the reads after opening
            handler.send_response(503)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if failing and fault == "drop":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if failing and fault == "stall":
            self._stop.wait(self.stall_s)
        file = self.root / name
        if not file.is_file():
            handler.send_error(404)
            return
        data = file.read_bytes()
        if fault in ("trickle", "endless"):  # a chunked body that never ends
            handler.send_response(200)
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            piece = b"x" * (100 if fault == "trickle" else 65536)
            try:
                while not self._stop.wait(0.1 if fault == "trickle" else 0):
                    handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    handler.wfile.flush()
            except OSError:  # the client hung up
                pass
            return
        if fault == "hugelength":  # announces 1 GiB, sends the file and hangs up
            handler.send_response(200)
            handler.send_header("Content-Length", str(1 << 30))
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault in ("chunked", "unsized"):  # framings nginx does not use for files
            handler.send_response(200)
            if fault == "chunked":
                handler.send_header("Transfer-Encoding", "chunked")
            else:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            handler.end_headers()
            for at in range(0, len(data), 1000):
                piece = data[at : at + 1000]
                if fault == "chunked":
                    handler.wfile.write(f"{len(piece):x};ext=1\r\n".encode() + piece + b"\r\n")
                else:
                    handler.wfile.write(piece)
            if fault == "chunked":
                handler.wfile.write(b"0\r\nX-Trailer: 1\r\n\r\n")
            return
        start, end = 0, len(data)
        ranged = handler.headers.get("Range", "")
        if ranged.startswith("bytes="):
            first, _, last = ranged[6:].partition("-")
            start = int(first)
            end = min(len(data), int(last) + 1) if last else len(data)
        handler.send_response(206 if ranged else 200)
        if ranged:
            handler.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        handler.send_header("Content-Length", str(end - start))
        handler.end_headers()
        if failing and fault == "truncate":
            handler.wfile.write(data[start : start + (end - start) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.wfile.write(data[start:end])


@contextlib.contextmanager
def fault_server(root: pathlib.Path, **kwargs: object) -> Iterator[FaultServer]:
    server = FaultServer(root, **kwargs).start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()
