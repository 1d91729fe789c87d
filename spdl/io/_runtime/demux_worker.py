"""The main of a demux helper process: PyAV demuxes here, beside the loading process.

PyAV releases and re-takes the GIL around every packet it reads, which beside a
busy Python thread costs the loading process a switch interval per packet. Here
that GIL is this process's own. :mod:`.demux_pool` runs :func:`main` in a new
interpreter (``python -c "...; main(sys.argv)" <fd>``), where ``fd`` is the helper's
end of a Unix ``SOCK_SEQPACKET`` socket, and sends it one request at a time:

* a request is one JSON message (see ``_demux_pool._request``); a source held in
  memory comes with it as a sealed memfd, which is mapped here, not copied; the
  helper answers ``b"A"`` as soon as it has read it, before its reply;
* the reply is ``b"I"`` with a sealed memfd of the packets packed by
  ``_native.pack_packets``, or ``b"X" + JSON`` naming the error's type and message,
  and what the loading process needs to rebuild its ``__cause__`` (PyAV's error,
  the OS's; see :func:`describe_cause`);
* a stream of windows (``"windows"``) sends one reply per window (a video window's
  packets, then its lookahead as packets of their own), and after each but the
  last waits for ``b"N"`` before it demuxes the next, or ``b"S"``: the loading
  process left the stream early, and the helper waits for a request again;
* an audio stream in chunks (``"audio_chunks"``) sends each chunk as soon as it is
  demuxed (``b"I"`` + the stream's duration in seconds, ``repr`` of a float), then
  ``b"E"``: the loading process decodes each while the next is demuxed here.

The demux itself is :mod:`spdl.io._core.demux`'s, unchanged, so the packets and the errors are
those the loading process would have made. The helper exits when the loading
process closes its end (whatever it is doing then), and ignores ``SIGINT``: a
Ctrl-C in the terminal is the loading process's to handle (its wait for this
helper raises KeyboardInterrupt, and kills the helper, which is mid-request).
"""

from __future__ import annotations

import builtins
import contextlib
import json
import mmap
import os
import select
import signal
import socket
import threading
from collections.abc import Generator, Iterator, Sequence
from fractions import Fraction
from typing import Any, cast

import av

from spdl import _native
from spdl.io._core import demux as _demux
from spdl.io._core import pixel_limit as _pixel_limit
from spdl.io._core.errors import MediaError

_MAX_REQUEST = 1 << 20
# Packets per audio chunk: the loading process decodes one while the next is demuxed
# here. Twice the in-thread chunk: each chunk costs a memfd and a message (~0.1 ms).
_AUDIO_CHUNK = 512
# Error types a reply may name; any other arrives as MediaError.
ERRORS: dict[str, type[Exception]] = {
    "MediaError": MediaError,
    "UnknownPacketOrder": _demux.UnknownPacketOrder,
    **{
        name: value
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, Exception)
    },
}
# spdl's errors a cause may be, by module and name.
_SPDL_ERRORS: dict[str, type[Exception]] = {
    f"{kind.__module__}.{kind.__qualname__}": kind
    for kind in (MediaError, _demux.UnknownPacketOrder)
}


class DemuxHelperCause(Exception):
    """Stands in for the cause of a demux helper's error when its type cannot be
    rebuilt in the loading process: the message names the original type."""


def _plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def describe_cause(error: BaseException) -> dict[str, Any] | None:
    """What rebuilds ``error.__cause__`` in the loading process (:func:`rebuild_cause`):
    its type's module and name, its message, and its arguments when they are plain
    data; for an OS or FFmpeg error (``errno``), the number, text and file name."""
    cause = error.__cause__
    if cause is None:
        return None
    info: dict[str, Any] = {
        "module": type(cause).__module__,
        "type": type(cause).__qualname__,
        "message": str(cause)[:65536],
    }
    errno = getattr(cause, "errno", None)
    if isinstance(errno, int):
        fields = (errno, getattr(cause, "strerror", None), getattr(cause, "filename", None))
        info["errno"] = [field if _plain(field) else str(field) for field in fields]
    elif all(_plain(arg) for arg in cause.args):
        info["args"] = list(cause.args)
    return info


def rebuild_cause(info: dict[str, Any] | None) -> BaseException | None:
    """The cause :func:`describe_cause` described: of the same type where that is one of
    Python's exceptions, PyAV's (``av.error``) or spdl's, else a
    :class:`DemuxHelperCause` naming the type. No other module is imported."""
    if info is None:
        return None
    module, name, message = info["module"], info["type"], info["message"]
    kind: Any = None
    if module == "builtins":
        kind = ERRORS.get(name)
    elif module == "av.error":
        kind = getattr(av.error, name, None)
        kind = kind if isinstance(kind, type) and issubclass(kind, av.error.FFmpegError) else None
    else:
        kind = _SPDL_ERRORS.get(f"{module}.{name}")
    if kind is not None:
        try:
            if "errno" in info:
                errno, strerror, filename = info["errno"]
                if filename is None:
                    return cast(BaseException, kind(errno, strerror))
                return cast(BaseException, kind(errno, strerror, filename))
            return cast(BaseException, kind(*info.get("args", [message])))
        except Exception:  # a type that wants other arguments
            pass
    return DemuxHelperCause(f"{module}.{name}: {message}")


def decode_time(value: Any) -> int | float | Fraction:
    """A time of a request: a JSON number, or ``[numerator, denominator]`` for a Fraction."""
    return Fraction(*value) if isinstance(value, list) else value


def encode_time(value: int | float | Fraction) -> Any:
    """A time as a request carries it (Fractions exactly, as the demux computes with them)."""
    return [value.numerator, value.denominator] if isinstance(value, Fraction) else value


def _window(value: Sequence[Any] | None) -> tuple[Any, Any] | None:
    return None if value is None else (decode_time(value[0]), decode_time(value[1]))


def _windows(values: Sequence[Sequence[Any]]) -> list[tuple[Any, Any]]:
    return [(decode_time(start), decode_time(end)) for start, end in values]


@contextlib.contextmanager
def _named(data: object, name: str) -> Iterator[None]:
    """Makes the demux name ``data`` (the mapped source) as the loading process names it."""
    original = _demux.describe_source
    _demux.describe_source = lambda src: name if src is data else original(src)
    try:
        yield
    finally:
        _demux.describe_source = original


def _send_item(sock: socket.socket, packets: list[Any], text: bytes = b"") -> None:
    fd = _native.pack_packets(packets)
    try:
        socket.send_fds(sock, [b"I" + text], [fd])
    finally:
        os.close(fd)


def _send_error(sock: socket.socket, error: Exception) -> None:
    kind = type(error).__name__ if type(error).__name__ in ERRORS else "MediaError"
    cause = describe_cause(error)
    text = json.dumps({"type": kind, "message": str(error)[:65536], "cause": cause})
    sock.send(b"X" + text.encode())


def _wait_for_next(sock: socket.socket) -> bool:
    """Whether the stream goes on (``b"N"``) or ends here (``b"S"``)."""
    message = sock.recv(16)
    if message not in (b"N", b"S"):
        os._exit(0 if not message else 2)  # the loading process left, or broke the protocol
    return message == b"N"


def _serve(sock: socket.socket, request: dict[str, Any], src: Any) -> None:
    options = {"format": request["format"], "format_options": request["format_options"]}
    op = request["op"]
    if op == "demux":
        packets = _demux.demux(request["media_type"], src, _window(request["timestamp"]), **options)
        _send_item(sock, [packets])
    elif op == "spans":
        windows = _windows(request["windows"])
        _send_item(sock, _demux.demux_spans(src, windows, **options))
    elif op == "windows":
        windows = _windows(request["windows"])
        stream = cast(
            Generator[Any, None, None],
            _demux.iter_demux(request["media_type"], src, windows, **options),
        )
        with contextlib.closing(stream):  # a stream stopped early lets go of its source
            for index, packets in enumerate(stream):
                # A video window's lookahead travels as packets of their own.
                video = request["media_type"] == "video"
                _send_item(sock, [packets, packets.split_lookahead()] if video else [packets])
                del packets
                if index + 1 < len(windows) and not _wait_for_next(sock):
                    return
    elif op == "audio_chunks":
        window = _window(request["timestamp"])
        chunks = _demux.demux_audio_chunks(src, window, chunk=_AUDIO_CHUNK, **options)
        for packets, seconds in chunks:
            _send_item(sock, [packets], repr(float(seconds)).encode())
            del packets
        sock.send(b"E")
    else:
        raise ValueError(f"unknown demux helper request {op!r}")


def _handle(sock: socket.socket, message: bytes, fds: list[int]) -> None:
    """Serves one request; its failures become the reply (only a lost socket escapes)."""
    mapped: mmap.mmap | None = None
    src: Any = None
    try:
        request = json.loads(message)
        _pixel_limit.set_max_image_pixels(request["max_pixels"])  # the loading process's
        if request.get("cwd"):
            os.chdir(request["cwd"])  # the loading process's, for a relative path
        if request["path"] is not None:
            src = request["path"]
            _serve(sock, request, src)
        else:
            size = os.fstat(fds[0]).st_size
            mapped = mmap.mmap(fds[0], size, prot=mmap.PROT_READ) if size else None
            src = memoryview(mapped) if mapped is not None else b""
            with _named(src, request["name"]):
                _serve(sock, request, src)
    except Exception as error:
        _send_error(sock, error)
    finally:
        src = None
        if mapped is not None:
            with contextlib.suppress(BufferError):  # a view still alive: freed with it
                mapped.close()


def _exit_with_parent(sock: socket.socket) -> None:
    """Exits this process as soon as the loading process's end of ``sock`` closes: also
    while a demux runs, and also when the loading process was killed."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLRDHUP)

    def watch() -> None:
        while True:
            with contextlib.suppress(InterruptedError):
                if poller.poll():
                    os._exit(0)

    threading.Thread(target=watch, name="spdl-demux-parent-watch", daemon=True).start()


def main(argv: Sequence[str]) -> None:
    """Serves demux requests on the socket whose descriptor is ``argv[1]`` until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=int(argv[1]))
    _exit_with_parent(sock)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, _MAX_REQUEST, 1)
        except OSError:
            return
        if not message:
            return  # the loading process closed its end
        try:
            # Taken: a helper that hangs up before this died idle, and the request is
            # sent again elsewhere; after it, the load fails with it.
            sock.send(b"A")
            _handle(sock, message, fds)
        except OSError:
            return  # the loading process is gone mid-reply
        finally:
            for fd in fds:
                os.close(fd)
