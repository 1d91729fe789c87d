"""The two shared thread pools that run the background phases.

* The *demux* pool runs PyAV demuxing, which holds the GIL between FFmpeg calls, so a
  few threads are enough.
* The *decode* pool runs native decoding and buffer conversion, which release the GIL
  for their whole duration, so it has one thread per CPU core.
* The *I/O* pool fetches URL sources (``http``, ``fetch``): its threads wait on the
  network, so it has many, and a fetch never holds a demux or decode thread.
* The *demux helper processes* (``_demux_pool``) run PyAV for paths and in-memory
  sources, one per demux thread unless set otherwise.

All are created lazily on first use, their sizes come from :func:`set_executor_sizes`
or the environment variables ``SPDL_DEMUX_THREADS``, ``SPDL_DECODE_THREADS``,
``SPDL_IO_THREADS`` and ``SPDL_DEMUX_PROCESSES``, and all are shut down at interpreter
exit: queued work is cancelled and running decodes are told to stop at their next packet.
"""

from __future__ import annotations

import atexit
import contextlib
import operator
import os
import threading
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from spdl import _native
from spdl.io._core.numbers import is_int

__all__ = [
    "get_decode_executor",
    "executor_sizes",
    "demux_processes",
    "get_demux_executor",
    "get_io_executor",
    "io_threads",
    "set_executor_sizes",
    "track_cancel_token",
]

DEMUX_THREADS_ENV = "SPDL_DEMUX_THREADS"
DECODE_THREADS_ENV = "SPDL_DECODE_THREADS"
DEMUX_PROCESSES_ENV = "SPDL_DEMUX_PROCESSES"
IO_THREADS_ENV = "SPDL_IO_THREADS"
_DEFAULT_IO_THREADS = 64  # requests in flight: 20 ms of latency each still gives 3,200/s

_lock = threading.Lock()
_pools: dict[str, ThreadPoolExecutor] = {}  # "io", "demux", "decode": made on first use
# Pools replaced by set_executor_sizes. Not shut down: a thread that took one just
# before may still submit to it. Its threads end once it is idle and unreferenced.
_retired: weakref.WeakSet[ThreadPoolExecutor] = weakref.WeakSet()
# Sizes set by set_executor_sizes ("demux_processes" too); the others come from the
# environment or the defaults.
_sizes: dict[str, int] = {}
_exit_hook_registered = False
_shutting_down = False
_active_tokens: dict[int, _native.CancelToken] = {}  # keyed by id(): tokens need not be hashable


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _check_size(name: str, value: object, minimum: int = 1) -> int:
    if not is_int(value):
        raise TypeError(f"`{name}` must be an int, got {type(value).__name__}.")
    value = operator.index(value)  # type: ignore[arg-type]  # a Python or NumPy int
    if value < minimum:
        what = "a positive number of threads" if minimum else "a number of processes, 0 or more"
        raise ValueError(f"`{name}` must be {what}, got {value}.")
    return value


def _size_from_env(env: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(env)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        kind = "a positive integer" if minimum else "an integer, 0 or more"
        raise ValueError(f"{env} must be {kind}, got {raw!r}.") from None
    return _check_size(env, value, minimum)


def _threads(kind: str) -> int:
    """The size of the pool of ``kind``: as set, else from the environment, else the default."""
    if kind in _sizes:
        return _sizes[kind]
    if kind == "io":
        return _size_from_env(IO_THREADS_ENV, _DEFAULT_IO_THREADS)
    if kind == "demux":
        return _size_from_env(DEMUX_THREADS_ENV, min(4, _cpu_count()))
    return _size_from_env(DECODE_THREADS_ENV, _cpu_count())


def io_threads() -> int:
    """The number of threads of the I/O pool, which fetches URL sources.

    Returns:
        The size given to :func:`set_executor_sizes`, otherwise ``SPDL_IO_THREADS``,
        otherwise 64.

    Raises:
        ValueError: If ``SPDL_IO_THREADS`` is not a positive integer.
    """
    return _threads("io")


def demux_processes() -> int:
    """The number of demux helper processes; 0 demuxes in the loading threads.

    Returns:
        The count given to :func:`set_executor_sizes`, otherwise ``SPDL_DEMUX_PROCESSES``,
        otherwise the demux pool's size.

    Raises:
        ValueError: If ``SPDL_DEMUX_PROCESSES`` (or, for the default,
            ``SPDL_DEMUX_THREADS``) is not a valid count.
    """
    if "demux_processes" in _sizes:
        return _sizes["demux_processes"]
    return _size_from_env(DEMUX_PROCESSES_ENV, _threads("demux"), minimum=0)


def set_executor_sizes(
    *,
    demux: int | None = None,
    decode: int | None = None,
    demux_processes: int | None = None,
    io: int | None = None,
) -> None:
    """Set the number of threads of the shared demux and decode/convert pools.

    The new sizes take effect for work submitted after this call. A pool that already
    exists with another size is retired: the work already given to it finishes there
    (also work a thread submits to it while this call retires it), and new work goes
    to a fresh pool of the new size. Explicit sizes take precedence
    over the environment variables ``SPDL_DEMUX_THREADS``, ``SPDL_DECODE_THREADS`` and
    ``SPDL_DEMUX_PROCESSES``.

    Audio and video from paths and in-memory data are demuxed by PyAV in helper
    processes, which hand the packets over in shared memory: PyAV takes the GIL for
    every packet it reads, and there that GIL is not the loading threads'. They start
    on first use; a helper beyond a new, smaller count stops once its load is done.

    Args:
        demux: Threads of the demux pool (PyAV demuxing). ``None`` leaves it unchanged.
            Default when never set: ``SPDL_DEMUX_THREADS`` or ``min(4, CPU count)``.
        decode: Threads of the decode/convert pool (native decoding and conversion).
            ``None`` leaves it unchanged. Default when never set: ``SPDL_DECODE_THREADS``
            or the number of CPUs available to the process.
        demux_processes: Demux helper processes; ``0`` demuxes in the loading threads
            instead (as file-like sources always are). ``None`` leaves it unchanged.
            Default when never set: ``SPDL_DEMUX_PROCESSES`` or the demux pool's size.
        io: Threads of the I/O pool, which fetches URL sources (HTTP requests in
            flight at once). ``None`` leaves it unchanged. Default when never set:
            ``SPDL_IO_THREADS`` or 64.

    Raises:
        TypeError: If a size is not an ``int``.
        ValueError: If a size is smaller than 1 (``demux_processes``: than 0).

    Example:
        >>> spdl.io.set_executor_sizes(demux=2, decode=8)
        >>> spdl.io.executor_sizes()
        (2, 8)
    """
    threads = {"io": io, "demux": demux, "decode": decode}
    for kind, size in threads.items():
        if size is not None:
            threads[kind] = _check_size(kind, size)
    if demux_processes is not None:
        threads["demux_processes"] = _check_size("demux_processes", demux_processes, minimum=0)
    with _lock:
        for kind, size in threads.items():
            if size is None:
                continue
            _sizes[kind] = size
            pool = _pools.get(kind)
            if pool is not None and pool._max_workers != size:
                _retired.add(_pools.pop(kind))


def _register_exit_hook() -> None:
    # Called with `_lock` held, the first time a pool is created.
    global _exit_hook_registered
    if _exit_hook_registered:
        return
    _exit_hook_registered = True
    # `threading._register_atexit` callbacks run (in reverse order of registration)
    # *before* `concurrent.futures` joins its worker threads, which would otherwise
    # first run every queued task to completion. `atexit` is the portable fallback.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        try:
            register(_shutdown_at_exit)
        except RuntimeError:  # interpreter already shutting down
            pass
    atexit.register(_shutdown_at_exit)


def _park_daemon_threads_at_exit() -> None:
    # Runs after the non-daemon threads were joined, before the interpreter finalizes:
    # a daemon thread alive now that finishes native work from then on waits for the
    # process's exit (taking the GIL back later would end it by an unwinding that
    # crashes the process). A thread a later atexit handler starts runs as usual.
    daemons = [t.ident for t in threading.enumerate() if t.daemon and t.ident is not None]
    _native.park_threads_at_exit(daemons)


atexit.register(_park_daemon_threads_at_exit)


def _after_fork_in_child() -> None:
    # The pools' threads are not in a forked child (a torch DataLoader worker): work
    # given to them there would wait forever. The child makes its own on first use.
    global _lock
    _lock = threading.Lock()  # a thread of the parent may have held it at the fork
    _pools.clear()
    _active_tokens.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _shutdown_at_exit() -> None:
    global _shutting_down
    with _lock:
        _shutting_down = True  # work that starts from now on is cancelled as it starts
        executors = [_pools.pop(kind) for kind in ("io", "demux", "decode") if kind in _pools]
        executors += list(_retired)
    # Drop the queued work first, while the workers are still busy with the running
    # work: stopping that first would free the workers to start queued work.
    for executor in executors:
        executor.shutdown(wait=False, cancel_futures=True)
    with _lock:
        tokens = list(_active_tokens.values())
    for token in tokens:
        token.cancel()
    for executor in executors:
        executor.shutdown(wait=True)


def _get(kind: str) -> ThreadPoolExecutor:
    """The shared pool of ``kind`` (``"io"``, ``"demux"``, ``"decode"``), made on first use."""
    with _lock:
        if _shutting_down:
            raise RuntimeError("spdl.io executors are shut down (interpreter is exiting).")
        if kind not in _pools:
            _register_exit_hook()
            _pools[kind] = ThreadPoolExecutor(_threads(kind), thread_name_prefix=f"spdl_{kind}")
        return _pools[kind]


def get_demux_executor() -> ThreadPoolExecutor:
    """Return the shared demux pool, creating it on first use.

    Returns:
        The ``ThreadPoolExecutor`` that runs PyAV demuxing.

    Raises:
        ValueError: If ``SPDL_DEMUX_THREADS`` is set to something other than a positive
            integer.
        RuntimeError: If the interpreter is exiting.
    """
    return _get("demux")


def get_io_executor() -> ThreadPoolExecutor:
    """Return the shared I/O pool, which fetches URL sources, creating it on first use.

    Returns:
        The ``ThreadPoolExecutor`` whose threads wait on the network.

    Raises:
        ValueError: If ``SPDL_IO_THREADS`` is not a positive integer.
        RuntimeError: If the interpreter is exiting.
    """
    return _get("io")


def get_decode_executor() -> ThreadPoolExecutor:
    """Return the shared decode/convert pool, creating it on first use.

    Returns:
        The ``ThreadPoolExecutor`` that runs native decoding and buffer conversion.

    Raises:
        ValueError: If ``SPDL_DECODE_THREADS`` is set to something other than a positive
            integer.
        RuntimeError: If the interpreter is exiting.
    """
    return _get("decode")


def executor_sizes() -> tuple[int, int]:
    """Return the ``(demux, decode)`` pool sizes that new pools are created with.

    The sizes given to :func:`set_executor_sizes`, otherwise those of the environment
    variables ``SPDL_DEMUX_THREADS`` and ``SPDL_DECODE_THREADS``, otherwise the
    defaults: ``min(4, CPU count)`` demux threads and one decode thread per CPU
    available to the process.

    Returns:
        The number of threads of the demux pool and of the decode/convert pool.

    Raises:
        ValueError: If ``SPDL_DEMUX_THREADS`` or ``SPDL_DECODE_THREADS`` is set to
            something other than a positive integer (and no size was set explicitly).

    Example:
        >>> spdl.io.set_executor_sizes(decode=3)
        >>> demux, decode = spdl.io.executor_sizes()
        >>> decode
        3
    """
    with _lock:
        return _threads("demux"), _threads("decode")


@contextlib.contextmanager
def track_cancel_token(
    token: _native.CancelToken | None, in_caller: bool = False
) -> Iterator[None]:
    """Register ``token`` as belonging to running work, so interpreter exit cancels it.

    Work that spdl runs on a pool (its own or the caller's ``executor=``) always; a
    synchronous call's work in the caller's thread (``in_caller``) only in a daemon
    thread: Python waits for its other threads before it exits, and their loads go
    on until then.

    Args:
        token: The token handed to a running native call; ``None`` does nothing.
        in_caller: The work runs in the caller's thread, in a synchronous call.

    Yields:
        Nothing; the token is tracked for the duration of the ``with`` block.
    """
    if token is None or (in_caller and not threading.current_thread().daemon):
        yield
        return
    with _lock:
        _active_tokens[id(token)] = token
        if _shutting_down:
            token.cancel()
    try:
        yield
    finally:
        with _lock:
            _active_tokens.pop(id(token), None)
