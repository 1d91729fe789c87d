"""Demux in helper processes, so that the loading threads take no GIL per packet.

PyAV releases and re-takes the GIL around every packet it reads; beside a busy
Python thread (any training loop) each re-take waits up to a switch interval. So
for paths and in-memory data, :func:`demux`, :func:`demux_spans` and
:func:`iter_demux` send the work to a small pool of persistent helper processes
(:mod:`.demux_worker`) that run :mod:`spdl.io._core.demux`'s own code, and wait for the
packets in one native call (``_native.call_demux_helper``) with the GIL released:
the request goes out, the packets come back packed in a sealed memfd, and the
native core rebuilds the same Packets from it. A load takes the GIL a few times,
not once per packet. File-like sources (their reads are the caller's code) and a
count of 0 (``set_executor_sizes(demux_processes=0)``, ``SPDL_DEMUX_PROCESSES=0``)
demux in the calling thread, as do platforms without ``memfd_create``.

The helpers are started with ``subprocess`` (not ``multiprocessing``), so they work
whatever the start method, inside daemonic DataLoader workers and under torchrun:

* started lazily, one per load that finds none idle, up to the configured count;
  reused; stopped at interpreter exit;
* a helper that dies (a signal, a crash on hostile bytes) fails only the load it
  served, with :class:`AsyncIOFailure` naming the source, and a new one takes its
  place at the next load; one that died while idle (it hung up before it read the
  request) costs no load: the request goes once to a new helper;
* a load that is cancelled, or a stream left early, ends at once; its helper is
  given a second to send the reply it owes, which is dropped, and is kept (a
  stream is stopped with ``b"S"``); a helper still busy then is killed, which is
  how the cancellation reaches PyAV;
* a helper exits as soon as its socket's other end closes, even mid-demux: when
  this process exits or is killed, no helper outlives it; a forked child forgets
  its parent's helpers and starts its own;
* nothing is left in ``/dev/shm``: the memfds have no name and go with their last
  descriptor.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import spdl
from spdl import _native
from spdl.io._core import demux as _demux
from spdl.io._core.errors import MediaError
from spdl.io._core.pixel_limit import current_limit
from spdl.io._runtime import executor as _executor
from spdl.io._runtime.demux_worker import ERRORS, encode_time, rebuild_cause
from spdl.io._runtime.futures import AsyncIOFailure

__all__ = [
    "audio_load",
    "demux",
    "demux_spans",
    "helper_pids",
    "iter_demux",
    "load_audio",
    "shutdown",
    "wanted",
]

_SUPPORTED = (
    sys.platform == "linux"
    and hasattr(os, "memfd_create")
    and hasattr(socket, "send_fds")
    and bool(sys.executable)
)
# Requests are one SOCK_SEQPACKET message; a larger one (thousands of windows) is
# demuxed in the calling thread instead.
_MAX_REQUEST = 64 * 1024
# Where the helpers start: the directory holding this very `spdl`, so that their
# imports find it first, whatever the caller's working directory holds.
_PACKAGE_PARENT = os.path.dirname(os.path.abspath(spdl.__path__[0]))
_STOP_WAIT_S = 5.0
# The helper's main. `spdl.io` is registered without running its __init__ (the public
# API: numpy, the pools...): the helper needs only _demux_worker, _demux and _native,
# and starts in half the time. (Not `-m spdl.io._runtime.demux_worker`, which would import
# spdl.io whole, and run a second copy of the module as __main__.)
# The loading process's import path follows its own (argv[2]): one extended at run
# time (a zipapp, site.addsitedir, a notebook's sys.path.append) reaches PyAV there.
_WORKER_MAIN = """
import importlib.util, json, site, sys
for entry in json.loads(sys.argv[2]):
    if entry not in sys.path:
        site.addsitedir(entry)
package = importlib.util.module_from_spec(importlib.util.find_spec("spdl.io"))
sys.modules["spdl.io"] = package
from spdl.io._runtime.demux_worker import main
main(sys.argv)
"""


def wanted(src: object) -> bool:
    """Whether ``src`` is demuxed by a helper process (else in the calling thread)."""
    if not _SUPPORTED:
        return False
    count = _executor.demux_processes()
    _pool.trim(count)  # a count lowered since: idle helpers above it stop now
    if count == 0:
        return False
    if isinstance(src, str | bytes | bytearray):
        return True
    if isinstance(src, memoryview):
        return src.c_contiguous
    return isinstance(src, os.PathLike) and isinstance(os.fspath(src), str)


class _AudioLoads:
    """How many audio loads run, and whether this process's GIL is contended.

    A helper demuxes audio while the loading thread decodes, so an audio load is
    faster through one while a core is free, but the second process costs about a
    seventh more CPU: with as many audio loads as cores, the cores are the limit and
    the loads run faster in their own threads. Unless another Python thread keeps
    the GIL busy (a training loop): then each packet of an in-thread demux waits
    for it, and only the helpers keep the loads going.
    """

    PROBE_EVERY_S = 0.5
    REMEMBER_S = 5.0  # a training loop that paused for an evaluation is still one
    SLOW_S = 0.001  # a free GIL comes back in microseconds; a held one in ~5 ms

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.probed = self.contended_at = -float("inf")

    def contended(self) -> bool:
        """Whether another thread held the GIL when last probed, in the last few seconds."""
        now = time.monotonic()
        if now - self.probed >= self.PROBE_EVERY_S:
            self.probed = now
            began = time.perf_counter()
            time.sleep(0)  # lets the GIL go: taking it back waits while another thread runs
            if time.perf_counter() - began > self.SLOW_S:
                self.contended_at = now
        return now - self.contended_at < self.REMEMBER_S


_audio = _AudioLoads()


@contextlib.contextmanager
def audio_load(src: object) -> Iterator[bool]:
    """Counts an audio load while it runs; yields whether a helper should demux it."""
    with _audio.lock:
        _audio.running += 1
        running = _audio.running
    try:
        spare_core = running < _executor._cpu_count()
        yield wanted(src) and (spare_core or _audio.contended())
    finally:
        with _audio.lock:
            _audio.running -= 1


def _import_path() -> str:
    """This process's ``sys.path`` as JSON (not its working directory: the helper
    imports only spdl, PyAV and NumPy)."""
    # sys.path is None late in an interpreter's shutdown.
    return json.dumps([entry for entry in sys.path or [] if entry and isinstance(entry, str)])


class _Helper:
    """One helper process and this process's end of its socket."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            command = [sys.executable, "-c", _WORKER_MAIN, str(theirs.fileno()), _import_path()]
            self.process = subprocess.Popen(
                command,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                cwd=_PACKAGE_PARENT,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self.fd = ours.fileno()
        self.from_idle = False  # handed out from the idle list (it may have died there)

    def hang_up(self) -> None:
        """Ends the socket for both sides: the helper exits, and a thread waiting on
        it returns. (A close alone reaches neither while a thread polls the socket;
        and only the lease holder closes it, so its descriptor is never reused under
        a thread that still holds the number.)"""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def reap(self, kill: bool) -> None:
        """Waits for the process to end (after a hang-up), killing it if asked or late."""
        if kill:
            self.process.kill()
        try:
            self.process.wait(_STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop(self, kill: bool) -> None:
        """Hangs up, reaps the process and closes the socket (by the lease holder)."""
        self.hang_up()
        self.reap(kill)
        self.sock.close()

    def how_it_ended(self) -> str:
        code = self.process.returncode
        if code is None:
            return "stopped answering"
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with status {code}"


class _Pool:
    """The helpers: idle ones wait in a list; a load leases one at a time."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[_Helper] = []
        self._all: set[_Helper] = set()
        self._starting = 0
        self._closed = False
        self._exit_hook = False

    def lease(self, fresh: bool = False) -> _Helper:
        """An idle helper, else a new one once there is room; ``fresh``: a new one
        while there is room (a request sent again after an idle helper died)."""
        dead: list[_Helper] = []  # helpers that died while idle: reaped, not handed out
        try:
            with self._cond:
                while True:
                    if self._closed:
                        raise RuntimeError(
                            "spdl.io demux helpers are shut down (interpreter exit)."
                        )
                    room = len(self._all) + self._starting < max(1, _executor.demux_processes())
                    if self._idle and not (fresh and room):
                        helper = self._idle.pop()
                        if helper.process.poll() is None:
                            helper.from_idle = True
                            return helper
                        self._all.discard(helper)
                        dead.append(helper)
                        continue
                    if room:
                        self._starting += 1
                        break
                    self._cond.wait()
                if not self._exit_hook:
                    self._exit_hook = True
                    atexit.register(self.shutdown)
        finally:
            for helper in dead:
                helper.stop(kill=True)
        # A fork waits while a helper starts: the child must find it in `_all` to close
        # its socket (else the child keeps the helper's end open, and its death unseen).
        with _starting:
            try:
                helper = _Helper()
            finally:
                with self._cond:
                    self._starting -= 1
                    self._cond.notify()
            with self._cond:
                self._all.add(helper)
        return helper

    def give_back(self, helper: _Helper) -> None:
        with self._cond:
            keep = not self._closed and len(self._all) <= _executor.demux_processes()
            if keep:
                self._idle.append(helper)
            else:
                self._all.discard(helper)
            self._cond.notify()
        if not keep:
            helper.stop(kill=False)

    def trim(self, count: int) -> None:
        """Stops idle helpers while more than ``count`` helpers run."""
        if len(self._all) <= count:  # the usual case, without the lock
            return
        with self._cond:
            surplus = min(len(self._idle), len(self._all) - count)
            stopping = [self._idle.pop() for _ in range(max(0, surplus))]
            self._all.difference_update(stopping)
        for helper in stopping:
            helper.stop(kill=False)

    def discard(self, helper: _Helper) -> None:
        """Kills a helper that cannot serve again (dead, cancelled mid-request, broken)."""
        with self._cond:
            self._all.discard(helper)
            self._cond.notify()
        helper.stop(kill=True)

    @property
    def closed(self) -> bool:
        """Whether the pool was shut down (or forgotten in a forked child)."""
        return self._closed

    def pids(self) -> list[int]:
        with self._cond:
            return sorted(helper.process.pid for helper in self._all)

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            helpers, idle = list(self._all), self._idle
            self._all.clear()
            self._idle = []
            self._cond.notify_all()
        for helper in helpers:
            helper.hang_up()  # each exits on it at once, busy or not
        for helper in helpers:
            helper.reap(kill=False)
        for helper in idle:  # a leased one is closed by its holder, which is told "closed"
            helper.sock.close()

    def forget(self) -> None:
        """In a forked child: closes the inherited sockets, leaves the processes alone
        (they are the parent's), and takes no new lease."""
        with self._cond:
            self._closed = True
        for helper in self._all:
            helper.sock.close()
            helper.fd = -1  # a lease this child inherited fails instead of using a new file


_pool = _Pool()
_forgotten: list[_Pool] = []  # a fork child's inherited pools: never collected, never reaped


def _after_fork_in_child() -> None:
    global _pool
    _pool._cond = threading.Condition(threading.Lock())  # another thread may have held it
    _pool.forget()
    _forgotten.append(_pool)
    _pool = _Pool()


_starting = threading.Lock()  # held while a helper starts, and across a fork


def _after_fork_in_parent() -> None:
    _starting.release()


def _after_fork_in_child_releasing() -> None:
    _starting.release()  # the forking thread, the child's only one, took it
    _after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_starting.acquire,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child_releasing,
    )


def helper_pids() -> list[int]:
    """The process ids of the live helpers (for tests and diagnostics)."""
    return _pool.pids()


def shutdown() -> None:
    """Stops every helper now; later loads start new ones."""
    global _pool
    old, _pool = _pool, _Pool()
    old.shutdown()


def _request(op: str, src: Any, name: str, **fields: Any) -> tuple[bytes, Any] | None:
    """The request's message and the in-memory data to send with it; None when it
    cannot travel as one message (too large, or options JSON cannot hold)."""
    if isinstance(src, str | os.PathLike):
        path, data = os.fspath(src), None
        try:
            cwd = None if os.path.isabs(path) else os.getcwd()
        except FileNotFoundError:  # the working directory was deleted
            raise FileNotFoundError(f"No such file: {path!r}") from None
    else:
        path, data, cwd = None, src, None
    # The helper's probe decode on opening honours this process's pixel limit.
    request = {"op": op, "path": path, "name": name, "cwd": cwd, "max_pixels": current_limit()}
    request.update(fields)
    try:
        message = json.dumps(request).encode()
    except (TypeError, ValueError):
        return None
    return (message, data) if len(message) <= _MAX_REQUEST else None


def _options(format: str | None, format_options: Mapping[str, str] | None) -> dict[str, Any]:
    return {"format": format, "format_options": dict(format_options or {})}


def _window(window: Sequence[Any] | None) -> list[Any] | None:
    return None if window is None else [encode_time(window[0]), encode_time(window[1])]


def _error(text: bytes) -> Exception:
    info = json.loads(text)
    kind = ERRORS.get(info["type"], MediaError)
    try:
        error = kind(info["message"])
    except Exception:  # a type that wants more than a message
        error = MediaError(info["message"])
    # As the in-thread demux raises it: PyAV's or the OS's error as its cause.
    error.__cause__ = rebuild_cause(info.get("cause"))
    return error


# How long a load that leaves early (a stream closed after a window, a cancelled
# wait) gives its helper to send the reply it owes: the reply is dropped and the
# helper kept, which spares the next load a new one (~150 ms of CPU). A helper
# still busy by then (a slow source, a long demux) is killed, so a cancelled load
# never waits on it for longer.
_DRAIN_S = 1.0

# Where a leased helper stands: what it does next.
_IDLE = "idle"  # waits for a request
_ASKED = "asked"  # owes the reply to what was sent last
_NEXT = "next"  # between a stream's windows: waits for "N" (next) or "S" (stop)
_STREAMING = "streaming"  # sends an audio load's chunks, unasked, until "E"
_UNKNOWN = "unknown"  # gone, or a native call ended mid-exchange: it is killed


class _Lease:
    """One helper held for one request (or one stream of them), and where the
    exchange with it stands: a load that leaves early gives back a helper that can
    be brought back to idle, and kills it otherwise."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.helper: _Helper | None = _pool.lease()
        self._pool = _pool
        self._state = _IDLE
        self._left = 0  # the items the helper still owes for the request
        self._resent = False

    def _exchange(self, call: Any, ask_next: bool) -> tuple[str, bytes, Any]:
        assert self.helper is not None
        self._state = _UNKNOWN  # until the call returns: one that raises ended mid-exchange
        reply: tuple[str, bytes, Any] = call(self.helper.fd)
        kind = reply[0]
        if kind == "item":
            self._left -= 1
            self._state = _IDLE if self._left <= 0 else _ASKED if ask_next else _NEXT
        elif kind == "no_memory":  # an item came, and was dropped: the next was not asked for
            self._left -= 1
            self._state = _IDLE if self._left <= 0 else _NEXT
        elif kind in ("end", "error"):
            self._state = _IDLE
        elif kind == "cancelled":
            self._state = _ASKED
        return reply

    def request(
        self, request: tuple[bytes, Any], items: int, ask_next: bool, cancel: Any
    ) -> tuple[str, bytes, Any]:
        """Sends ``request``, of ``items`` replies, and waits for the first; asks for the
        next at once when ``ask_next``."""
        if cancel is not None and cancel.cancelled:  # nothing sent: the helper stays idle
            raise MediaError(f"Demuxing {self.name} was cancelled.")
        self._left = items
        while True:
            reply = self._exchange(
                lambda fd: _native.call_demux_helper(fd, request[0], request[1], ask_next, cancel),
                ask_next,
            )
            if not self._send_again(reply):
                return reply

    def _send_again(self, reply: tuple[str, bytes, Any]) -> bool:
        """Whether the request goes to a new helper: once, when the helper came from
        the idle list and hung up before it read the request (it died idle: a
        process just killed still looks alive for a few ms). Requests only read, so
        sending one again is safe; a helper that read it and died fails the load."""
        helper = self.helper
        if reply[0] != "unread" or self._resent or helper is None or not helper.from_idle:
            return False
        if self._pool.closed:  # hung up on by a shutdown: fails as "shut down"
            return False
        self._resent = True
        self.helper = None
        self._pool.discard(helper)
        self.helper = self._pool.lease(fresh=True)
        self._state = _IDLE
        return True

    def next(self, ask_next: bool, cancel: Any) -> tuple[str, bytes, Any]:
        """Waits for the stream's item asked for last (asks for the one after when ``ask_next``)."""
        return self._exchange(
            lambda fd: _native.next_from_demux_helper(fd, ask_next, cancel), ask_next
        )

    def load_audio(
        self, request: tuple[bytes, Any], plan: _native.DecodePlan, cancel: Any
    ) -> tuple[str, bytes, Any]:
        """An audio load in chunks (``_native.load_audio_from_demux_helper``)."""
        while True:
            assert self.helper is not None
            self._state = _UNKNOWN  # a decode that fails leaves chunks coming: killed
            reply: tuple[str, bytes, Any] = _native.load_audio_from_demux_helper(
                self.helper.fd, request[0], request[1], plan, cancel
            )
            if not self._send_again(reply):
                break
        kind = reply[0]
        if kind in ("end", "error"):
            self._state = _IDLE
        elif kind in ("cancelled", "no_memory"):
            self._state = _STREAMING
        return reply

    def outcome(self, reply: tuple[str, bytes, Any]) -> Any:
        """The packets of a reply (an audio load's buffer); raises its error. Gives the
        helper back once it owes nothing more, kills it when it cannot serve again."""
        kind, text, result = reply
        if kind == "item" and self._state != _IDLE:
            return result  # more of the stream to come
        helper = self.helper
        assert helper is not None
        self.release()
        if kind in ("item", "end"):
            return result
        if kind == "error":
            raise _error(text)
        if kind == "cancelled":
            raise MediaError(f"Demuxing {self.name} was cancelled.")
        if kind == "no_memory":  # this process's shortage: the helper is kept
            raise MemoryError(f"Failed to demux {self.name}: {text.decode()}.")
        pid = helper.process.pid
        if self._pool.closed:  # shut down (the interpreter exits): the helper did no wrong
            cause = f"the demux helper processes were shut down (interpreter exit; pid {pid})"
        elif kind == "broken":
            cause = f"the demux helper process (pid {pid}) broke the protocol: {text.decode()}"
        else:
            cause = f"the demux helper process (pid {pid}) {helper.how_it_ended()}"
        when = "before it read the request" if kind == "unread" else "while demuxing it"
        raise AsyncIOFailure(
            f"Failed to demux {self.name}: {cause} {when}.", phase="demux", src=self.name
        )

    def release(self) -> None:
        """Gives the helper back once it is idle again, else kills it. A helper that
        owes a reply (a stream left early, a cancelled wait) is given :data:`_DRAIN_S`
        to send it; a stream between windows is stopped (``"S"``)."""
        helper, self.helper = self.helper, None
        if helper is None:
            return
        keep = False
        try:
            keep = self._settle(helper)
        finally:
            if keep:
                self._pool.give_back(helper)
            else:
                self._pool.discard(helper)

    def _settle(self, helper: _Helper) -> bool:
        """Brings the helper back to waiting for a request; whether that worked."""
        state, self._state = self._state, _UNKNOWN
        if state == _ASKED:
            kind = _native.drain_demux_helper(helper.fd, _DRAIN_S, False)
            if kind == "item":
                self._left -= 1
                state = _NEXT if self._left > 0 else _IDLE
            else:
                state = _IDLE if kind in ("end", "error") else _UNKNOWN
        elif state == _STREAMING:
            kind = _native.drain_demux_helper(helper.fd, _DRAIN_S, True)
            state = _IDLE if kind in ("end", "error") else _UNKNOWN
        if state == _NEXT:
            try:
                helper.sock.send(b"S", socket.MSG_NOSIGNAL)
            except OSError:  # gone, or hung up on by a shutdown
                return False
            state = _IDLE
        return state == _IDLE


def _single(op: str, src: Any, cancel: _native.CancelToken | None, **fields: Any) -> list[Any]:
    name = _demux.describe_source(src)
    request = _request(op, src, name, **fields)
    if request is None:
        raise _InThread
    lease = _Lease(name)
    try:
        packets: list[Any] = lease.outcome(lease.request(request, 1, False, cancel))
        return packets
    finally:
        lease.release()


class _InThread(Exception):
    """The request cannot go to a helper: demux in the calling thread."""


def demux(
    media_type: _demux.MediaType,
    src: _demux.Source,
    timestamp: _demux.Window | None = None,
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
    cancel: _native.CancelToken | None = None,
) -> _demux.Packets:
    """:func:`spdl.io._core.demux.demux`, in a helper process for the audio and video of
    paths and in-memory data (images stay in the calling thread).

    Args:
        media_type: As for :func:`spdl.io._core.demux.demux`.
        src: As for :func:`spdl.io._core.demux.demux`.
        timestamp: As for :func:`spdl.io._core.demux.demux`.
        format: As for :func:`spdl.io._core.demux.demux`.
        format_options: As for :func:`spdl.io._core.demux.demux`.
        cancel: Stops the wait when set (the helper is kept if it finishes soon).

    Returns:
        The same Packets :func:`spdl.io._core.demux.demux` returns.

    Raises:
        FileNotFoundError, MediaError: As :func:`spdl.io._core.demux.demux` raises them.
        AsyncIOFailure: The helper died while demuxing (it is replaced).
    """
    # A still image is one packet, so one GIL take in this thread: a helper would only add
    # the round trip (measured: 0.84 against 0.42 ms per JPEG).
    if media_type != "image" and wanted(src):
        fields = {"media_type": media_type, "timestamp": _window(timestamp)}
        try:
            (packets,) = _single("demux", src, cancel, **fields, **_options(format, format_options))
            return packets
        except _InThread:
            pass
    return _demux.demux(media_type, src, timestamp, format=format, format_options=format_options)


def demux_spans(
    src: _demux.Source,
    timestamps: Sequence[_demux.Window],
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
    cancel: _native.CancelToken | None = None,
) -> list[_demux.Packets]:
    """:func:`spdl.io._core.demux.demux_spans`, in a helper process for paths and in-memory data.

    Args:
        src: As for :func:`spdl.io._core.demux.demux_spans`.
        timestamps: As for :func:`spdl.io._core.demux.demux_spans`.
        format: As for :func:`spdl.io._core.demux.demux_spans`.
        format_options: As for :func:`spdl.io._core.demux.demux_spans`.
        cancel: Stops the wait when set (the helper is kept if it finishes soon).

    Returns:
        The same spans :func:`spdl.io._core.demux.demux_spans` returns.

    Raises:
        FileNotFoundError, MediaError, UnknownPacketOrder: As
            :func:`spdl.io._core.demux.demux_spans` raises them.
        AsyncIOFailure: The helper died while demuxing (it is replaced).
    """
    if wanted(src):
        windows = [_window(window) for window in timestamps]
        try:
            return _single(
                "spans", src, cancel, windows=windows, **_options(format, format_options)
            )
        except _InThread:
            pass
    return _demux.demux_spans(src, timestamps, format=format, format_options=format_options)


def iter_demux(
    media_type: _demux.MediaType,
    src: _demux.Source,
    timestamps: Sequence[_demux.Window],
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
    cancel: _native.CancelToken | None = None,
) -> Iterator[_demux.Packets]:
    """:func:`spdl.io._core.demux.iter_demux`, in a helper process for paths and in-memory data.

    The helper demuxes each window while the caller uses the one before. Leaving the
    iteration early stops the stream: the helper is kept once it has sent the window
    it was demuxing (killed if that takes over :data:`_DRAIN_S`).

    Args:
        media_type: As for :func:`spdl.io._core.demux.iter_demux`.
        src: As for :func:`spdl.io._core.demux.iter_demux`.
        timestamps: As for :func:`spdl.io._core.demux.iter_demux`.
        format: As for :func:`spdl.io._core.demux.iter_demux`.
        format_options: As for :func:`spdl.io._core.demux.iter_demux`.
        cancel: Stops the wait for the helper when set (kept if it finishes soon).

    Yields:
        One Packets per window, as :func:`spdl.io._core.demux.iter_demux` does.

    Raises:
        ValueError, TypeError, FileNotFoundError, MediaError: As
            :func:`spdl.io._core.demux.iter_demux` raises them.
        AsyncIOFailure: The helper died while demuxing (it is replaced).
    """
    request = None
    if wanted(src) and timestamps:
        windows = [_window(window) for window in timestamps]
        name = _demux.describe_source(src)
        options = _options(format, format_options)
        request = _request("windows", src, name, media_type=media_type, windows=windows, **options)
    if request is None:
        yield from _demux.iter_demux(
            media_type, src, timestamps, format=format, format_options=format_options
        )
        return
    lease = _Lease(name)
    previous: _demux.Packets | None = None
    try:
        for index in range(len(timestamps)):
            more = index + 1 < len(timestamps)
            if index == 0:
                reply = lease.request(request, len(timestamps), more, cancel)
            else:
                reply = lease.next(more, cancel)
            items = lease.outcome(reply)
            packets = items[0]
            if media_type == "video":
                # As the in-thread demux makes them: the windows share a decode session.
                packets.attach_lookahead(items[1])
                packets.join_decode_session(previous)
                previous = packets
            yield packets
    finally:
        lease.release()


def load_audio(
    src: _demux.Source,
    timestamp: _demux.Window | None,
    plan: _native.DecodePlan,
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
    cancel: _native.CancelToken | None = None,
) -> _native.CPUBuffer | None:
    """Loads audio that a helper demuxes chunk by chunk (as
    :func:`spdl.io._core.demux.demux_audio_chunks` makes them), in one native call with the GIL
    released: each chunk is decoded while the helper demuxes the next.

    Args:
        src: A path or in-memory data (see :func:`wanted`).
        timestamp: As for :func:`spdl.io._core.demux.demux_audio_chunks`.
        plan: The decode (``_decode.make_plan`` for the window's seconds as floats).
        format: As for :func:`spdl.io._core.demux.demux_audio_chunks`.
        format_options: As for :func:`spdl.io._core.demux.demux_audio_chunks`.
        cancel: Stops the decode or the wait when set (the helper is kept if it ends soon).

    Returns:
        What ``AudioDecodeStream`` gives for the stream; ``None`` when the request
        cannot go to a helper (demux in the calling thread instead).

    Raises:
        FileNotFoundError, MediaError: As the demux raises them, marked as the demux
            phase's (``spdl_phase``); or, unmarked, when the audio cannot be decoded.
        AsyncIOFailure: The helper died while demuxing (it is replaced).
    """
    name = _demux.describe_source(src)
    options = _options(format, format_options)
    request = _request("audio_chunks", src, name, timestamp=_window(timestamp), **options)
    if request is None:
        return None
    if cancel is not None and cancel.cancelled:
        raise MediaError(f"Demuxing {name} was cancelled.")
    lease = _Lease(name)
    try:
        reply = lease.load_audio(request, plan, cancel)
        try:
            buffer: _native.CPUBuffer = lease.outcome(reply)
            return buffer
        except Exception as error:
            error.spdl_phase = "demux"  # type: ignore[attr-defined]  # the helper's
            raise
    finally:
        lease.release()  # after a decode failure: the helper may be sending still
