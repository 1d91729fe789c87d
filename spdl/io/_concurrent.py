"""``concurrent.futures`` API: each phase as a function that returns a ``Future``.

Every function here validates its arguments in the caller's thread (raising
``ValueError`` / ``TypeError`` at once), submits the work to a shared pool at call
time and returns a ``concurrent.futures.Future``. A failure in the background surfaces
from the Future as :class:`AsyncIOFailure`.

Cancelling a returned Future removes the work from the pool's queue if it has not
started; a decode that is already running is told to stop at its next packet through
the ``CancelToken`` handed to the native decoder. The returned Futures stay *pending*
until they finish (``Future.running()`` is always ``False``), which is what lets
``Future.cancel()`` succeed on work that is already running.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError, Executor, Future, InvalidStateError
from importlib.util import find_spec
from threading import Lock, RLock
from typing import Any, TypeVar

from spdl import _native

from . import _convert, _decode, _demux, _executor
from ._decode import Frames
from ._demux import Packets

__all__ = [
    "AsyncIOFailure",
    "chain_futures",
    "convert_frames",
    "convert_frames_cpu",
    "decode_packets",
    "decode_packets_nvdec",
    "demux_media",
    "streaming_demux",
    "wait_futures",
]

_LG = logging.getLogger("spdl.io")

T = TypeVar("T")

_PACKETS_TYPES = (_native.ImagePackets, _native.AudioPackets, _native.VideoPackets)
_CPU_FRAMES_TYPES = (_native.ImageFrames, _native.AudioFrames, _native.VideoFrames)
_MEDIA_TYPES = ("image", "audio", "video")


################################################################################
# Errors
################################################################################


class AsyncIOFailure(RuntimeError):
    """A demux, decode or convert operation failed in the background.

    Raised by ``Future.result()`` and by ``await`` on the objects returned by the
    ``spdl.io`` concurrent and asyncio functions. The message names the phase
    (``"demux"``, ``"decode"`` or ``"convert"``), the source, and contains the
    original error message (FFmpeg's text for media errors). The original exception
    is available as ``__cause__``.

    Attributes:
        phase: The phase that failed, or ``None`` when several sources failed.
        src: A printable description of the source, or ``None``.
    """

    def __init__(self, message: str, *, phase: str | None = None, src: str | None = None):
        super().__init__(message)
        self.phase = phase
        self.src = src

    @classmethod
    def wrap(cls, phase: str, src: str, error: BaseException) -> AsyncIOFailure:
        """Build the failure reported for ``error`` raised while running ``phase``.

        Args:
            phase: ``"demux"``, ``"decode"`` or ``"convert"``.
            src: Description of the source being processed.
            error: The original exception; it becomes ``__cause__``.

        Returns:
            ``error`` itself if it already is an ``AsyncIOFailure``, otherwise a new
            ``AsyncIOFailure`` whose ``__cause__`` is ``error``.
        """
        if isinstance(error, AsyncIOFailure):
            return error
        detail = f"{type(error).__name__}: {error}"
        # Media errors usually name the source already; do not repeat it.
        where = "" if src in str(error) else f" {src}"
        failure = cls(f"Failed to {phase}{where}: {detail}", phase=phase, src=src)
        failure.__cause__ = error
        return failure


def describe_source(src: object) -> str:
    """Return a short printable description of a media source for error messages.

    Args:
        src: A path, bytes-like object, file-like object, or native Packets/Frames.

    Returns:
        The ``src`` attribute of Packets/Frames, otherwise the path, ``<bytes of N
        bytes>`` for in-memory data, or the ``name`` of a file object.
    """
    if isinstance(src, _native.Packets | _native.Frames):
        return src.src
    return _demux.describe_source(src)  # type: ignore[arg-type]


################################################################################
# Submission
################################################################################


def _try_set(setter: Callable[[Any], None], value: Any) -> None:
    # The outer Future may have been cancelled while the work ran: drop the outcome.
    try:
        setter(value)
    except InvalidStateError:
        pass


def _submit(
    executor: Executor,
    fn: Callable[[], T],
    *,
    phase: str,
    src: str,
    token: _native.CancelToken | None = None,
) -> Future[T]:
    """Run ``fn`` on ``executor``; return a Future whose cancellation reaches the work."""
    outer: Future[T] = Future()

    def run() -> None:
        if outer.done():  # cancelled between dequeue and start
            return
        try:
            with _executor.track_cancel_token(token):
                result = fn()
        except Exception as error:
            _try_set(outer.set_exception, AsyncIOFailure.wrap(phase, src, error))
        except BaseException as error:  # KeyboardInterrupt, SystemExit
            _try_set(outer.set_exception, error)
            raise
        else:
            _try_set(outer.set_result, result)

    inner = executor.submit(run)

    def on_outer_done(future: Future[T]) -> None:
        if future.cancelled():
            inner.cancel()  # drops it from the queue if it has not started
            if token is not None:
                token.cancel()  # stops a running native decode at its next packet

    def on_inner_done(future: Future[None]) -> None:
        if future.cancelled():  # e.g. the executor was shut down with cancel_futures=True
            outer.cancel()

    outer.add_done_callback(on_outer_done)
    inner.add_done_callback(on_inner_done)
    return outer


def submit_with_token(
    fn: Callable[[_native.CancelToken], T],
    *,
    phase: str,
    src: str,
    executor: Executor | None = None,
) -> Future[T]:
    """Run ``fn(cancel_token)`` on the decode pool; cancelling the Future sets the token.

    Args:
        fn: Native work that takes a ``CancelToken`` and stops when it is set.
        phase: Phase named in :class:`AsyncIOFailure` messages.
        src: Source named in :class:`AsyncIOFailure` messages.
        executor: Executor to run on instead of the shared decode pool.

    Returns:
        A Future of ``fn``'s result.
    """
    token = _native.CancelToken()
    return _submit(
        executor or _executor.get_decode_executor(),
        functools.partial(fn, token),
        phase=phase,
        src=src,
        token=token,
    )


def submit_convert(
    frames: Frames | list[Any], *, executor: Executor | None = None, **convert_options: Any
) -> Future[Any]:
    """Submit a conversion of already validated arguments (used inside chains).

    Args:
        frames: Frames, or a list of image frames.
        executor: Executor to run on instead of the shared decode/convert pool.
        **convert_options: Passed to the conversion.

    Returns:
        A Future resolving to a ``CPUBuffer``.

    Raises:
        TypeError: If ``frames`` is not frames or a list of image frames.
        ValueError: If the frames of a batch differ in size or format.
    """
    if isinstance(frames, tuple):
        frames = list(frames)
    _convert.validate_frames(frames)
    return _submit(
        executor or _executor.get_decode_executor(),
        functools.partial(_convert.convert, frames, **convert_options),
        phase="convert",
        src=_describe_frames(frames),
    )


def _demux_option_names() -> frozenset[str]:
    params = inspect.signature(_demux.demux).parameters.values()
    return frozenset(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def validate_demux_options(demux_options: Mapping[str, Any]) -> None:
    """Check that only known demux options (``format``, ``format_options``) are given.

    The values are checked by ``_demux.validate_demux_args``.

    Args:
        demux_options: Keyword options for the demuxer.

    Raises:
        TypeError: If an option is unknown.
    """
    unknown = set(demux_options) - _demux_option_names()
    if unknown:
        raise TypeError(
            f"Unexpected demux option(s) {sorted(unknown)}; "
            f"accepted: {sorted(_demux_option_names())}."
        )


def check_media_type(media_type: object) -> None:
    """Check that ``media_type`` is ``"image"``, ``"audio"`` or ``"video"``.

    Args:
        media_type: The value to check.

    Raises:
        ValueError: If it is anything else.
    """
    if media_type not in _MEDIA_TYPES:
        raise ValueError(f"`media_type` must be one of {_MEDIA_TYPES}, got {media_type!r}.")


def _check_executor(executor: object) -> None:
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(
            f"`executor` must be a concurrent.futures.Executor, got {type(executor).__name__}."
        )


################################################################################
# Demux
################################################################################


def demux_media(
    media_type: str,
    src: Any,
    timestamp: tuple[float, float] | None = None,
    *,
    executor: Executor | None = None,
    **demux_options: Any,
) -> Future[Packets]:
    """Demux one image, or one audio/video window, in the background.

    The arguments are validated at once and the work is submitted to the demux pool
    before this function returns.

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        timestamp: Half-open window ``(start, end)`` in seconds to extract from an
            audio/video source; ``None`` takes the whole stream. Must be ``None`` for
            images.
        executor: Executor to run on instead of the shared demux pool.
        **demux_options: ``format`` (force a container format, e.g. ``"mp4"``) and
            ``format_options`` (``dict[str, str]`` handed to the demuxer).

    Returns:
        A Future resolving to ``ImagePackets``, ``AudioPackets`` or ``VideoPackets``.
        It fails with :class:`AsyncIOFailure` (phase ``"demux"``) if the source
        cannot be demuxed.

    Raises:
        ValueError: If ``media_type`` or ``timestamp`` is invalid.
        TypeError: If ``src`` or an option has an unsupported type.

    Example:
        >>> future = spdl.io.demux_media("video", "clip.mp4", timestamp=(0.0, 1.0))
        >>> packets = future.result()
    """
    check_media_type(media_type)
    _check_executor(executor)
    validate_demux_options(demux_options)
    _demux.validate_demux_args(media_type, src, timestamp, **demux_options)
    return _submit(
        executor or _executor.get_demux_executor(),
        functools.partial(_demux.demux, media_type, src, timestamp, **demux_options),
        phase="demux",
        src=describe_source(src),
    )


def _check_timestamps(
    media_type: str, src: Any, timestamps: object, demux_options: Mapping[str, Any]
) -> list[tuple[float, float]]:
    if media_type == "image":
        raise ValueError("streaming_demux supports 'audio' and 'video', not 'image'.")
    if isinstance(timestamps, str | bytes) or not isinstance(timestamps, Sequence):
        raise TypeError(
            "`timestamps` must be a sequence of (start, end) pairs, "
            f"got {type(timestamps).__name__}."
        )
    if len(timestamps) == 0:
        raise ValueError("`timestamps` must contain at least one (start, end) window.")
    windows = []
    for window in timestamps:
        if isinstance(window, str | bytes) or not isinstance(window, Sequence) or len(window) != 2:
            raise TypeError(f"Each timestamp must be a (start, end) pair, got {window!r}.")
        _demux.validate_demux_args(media_type, src, tuple(window), **demux_options)
        windows.append((window[0], window[1]))
    return windows


def streaming_demux(
    media_type: str,
    src: Any,
    timestamps: Sequence[tuple[float, float]],
    *,
    executor: Executor | None = None,
    **demux_options: Any,
) -> list[Future[Packets]]:
    """Demux several windows of one audio/video source, opening the source once.

    One task on the demux pool reads the windows in order and resolves each window's
    Future as soon as that window is ready, so the caller can start decoding the first
    window while later ones are still being demuxed.

    Args:
        media_type: ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        timestamps: Half-open windows ``(start, end)`` in seconds.
        executor: Executor to run on instead of the shared demux pool.
        **demux_options: ``format`` and ``format_options``, as for :func:`demux_media`.

    Returns:
        One Future per window, in the order of ``timestamps``. If demuxing fails, the
        window being read and all later windows fail with :class:`AsyncIOFailure`.
        Cancelling every remaining Future stops the demuxing task.

    Raises:
        ValueError: If ``media_type`` is not audio/video or a window is invalid.
        TypeError: If ``src``, ``timestamps`` or an option has an unsupported type.

    Example:
        >>> futures = spdl.io.streaming_demux("video", "clip.mp4", [(0, 1), (1, 2)])
        >>> packets = [f.result() for f in futures]
    """
    check_media_type(media_type)
    _check_executor(executor)
    validate_demux_options(demux_options)
    windows = _check_timestamps(media_type, src, timestamps, demux_options)
    futures: list[Future[Packets]] = [Future() for _ in windows]
    src_desc = describe_source(src)

    def run() -> None:
        if all(f.done() for f in futures):
            return
        packets_iter: Iterator[Packets] | None = None
        index = 0
        try:
            packets_iter = _demux.iter_demux(media_type, src, windows, **demux_options)
            for index, future in enumerate(futures):
                if all(f.done() for f in futures[index:]):
                    return  # everything left was cancelled
                try:
                    packets = next(packets_iter)
                except StopIteration:
                    raise RuntimeError(
                        f"the demuxer produced {index} windows, expected {len(futures)}"
                    ) from None
                _try_set(future.set_result, packets)
        except Exception as error:
            failure = AsyncIOFailure.wrap("demux", src_desc, error)
            for future in futures[index:]:
                _try_set(future.set_exception, failure)
        finally:
            close = getattr(packets_iter, "close", None)
            if close is not None:
                close()  # releases the source

    inner = (executor or _executor.get_demux_executor()).submit(run)

    def on_done(future: Future[Packets]) -> None:
        if future.cancelled() and all(f.done() for f in futures):
            inner.cancel()

    def on_inner_done(task: Future[None]) -> None:
        if task.cancelled():  # e.g. the executor was shut down with cancel_futures=True
            for future in futures:
                future.cancel()

    for future in futures:
        future.add_done_callback(on_done)
    inner.add_done_callback(on_inner_done)
    return futures


################################################################################
# Decode
################################################################################


def _check_packets(packets: object) -> None:
    if not isinstance(packets, _PACKETS_TYPES):
        raise TypeError(
            "`packets` must be ImagePackets, AudioPackets or VideoPackets, "
            f"got {type(packets).__name__}."
        )


def decode_packets(
    packets: Packets,
    *,
    executor: Executor | None = None,
    **decode_options: Any,
) -> Future[Frames]:
    """Decode packets into frames in the background, on the decode pool.

    Args:
        packets: Packets from :func:`demux_media` or :func:`streaming_demux`.
        executor: Executor to run on instead of the shared decode pool.
        **decode_options: ``width``, ``height``, ``pix_fmt`` (images/video),
            ``frame_rate``, ``num_frames``, ``pad_mode`` (video), ``sample_rate``,
            ``num_channels``, ``sample_fmt`` (audio), ``filter_desc``, ``decoder``,
            ``decoder_options`` and ``num_threads``.

    Returns:
        A Future resolving to ``ImageFrames``, ``AudioFrames`` or ``VideoFrames``. It
        fails with :class:`AsyncIOFailure` (phase ``"decode"``) if decoding fails.
        Cancelling it stops a running decode at its next packet.

    Raises:
        TypeError: If ``packets`` is not a Packets object or an option has the wrong
            type.
        ValueError: If an option has an invalid value.

    Example:
        >>> packets = spdl.io.demux_media("image", "foo.jpg").result()
        >>> frames = spdl.io.decode_packets(packets, width=64, height=48).result()
    """
    _check_packets(packets)
    _check_executor(executor)
    _decode.validate_decode_options(packets.media_type, **decode_options)
    token = _native.CancelToken()
    return _submit(
        executor or _executor.get_decode_executor(),
        functools.partial(_decode.decode, packets, cancel=token, **decode_options),
        phase="decode",
        src=describe_source(packets),
        token=token,
    )


def nvdec_unavailable_reason() -> str:
    """Explain why NVDEC decoding cannot run in this installation.

    Returns:
        A sentence naming what is missing.
    """
    if find_spec("PyNvVideoCodec") is None:
        return (
            "NVDEC decoding is unavailable: PyNvVideoCodec is not installed "
            "(install the `spdl[cuda]` extra on a machine with an NVIDIA GPU)."
        )
    return "NVDEC decoding is unavailable: it is not implemented in this version of spdl."


def decode_packets_nvdec(
    packets: Packets,
    cuda_device_index: int,
    *,
    executor: Executor | None = None,
    **decode_options: Any,
) -> Future[Any]:
    """Decode video/image packets on an NVIDIA GPU with NVDEC.

    Note:
        NVDEC decoding is not available yet; this function validates its arguments and
        then raises ``NotImplementedError`` explaining what is missing.

    Args:
        packets: ``VideoPackets`` or ``ImagePackets``.
        cuda_device_index: Index of the CUDA device to decode on.
        executor: Executor to run on instead of the shared decode pool.
        **decode_options: Options for the GPU decoder (``width``, ``height``,
            ``pix_fmt``).

    Returns:
        A Future resolving to frames on the GPU.

    Raises:
        TypeError: If ``packets`` is not video/image packets or
            ``cuda_device_index`` is not an int.
        ValueError: If ``cuda_device_index`` is negative.
        NotImplementedError: Always, until NVDEC support lands: names whether
            PyNvVideoCodec is missing or the path is not implemented.

    Example:
        >>> future = spdl.io.decode_packets_nvdec(packets, cuda_device_index=0)
    """
    _check_packets(packets)
    _check_executor(executor)
    if packets.media_type == "audio":
        raise TypeError("NVDEC decodes video and images, not audio packets.")
    if isinstance(cuda_device_index, bool) or not isinstance(cuda_device_index, int):
        raise TypeError(
            f"`cuda_device_index` must be an int, got {type(cuda_device_index).__name__}."
        )
    if cuda_device_index < 0:
        raise ValueError(f"`cuda_device_index` must be >= 0, got {cuda_device_index}.")
    raise NotImplementedError(nvdec_unavailable_reason())


################################################################################
# Convert
################################################################################


def _describe_frames(frames: Any) -> str:
    if isinstance(frames, list):
        return f"<batch of {len(frames)} frames>"
    src = getattr(frames, "src", None)
    if isinstance(src, str):
        return repr(src)
    return f"<{type(frames).__name__}>"


def convert_frames(
    frames: Frames | Sequence[Any],
    *,
    executor: Executor | None = None,
) -> Future[Any]:
    """Copy decoded frames into one contiguous buffer, in the background.

    The frames are consumed: their memory is released as it is copied, and using them
    afterwards raises ``ValueError``.

    Args:
        frames: ``ImageFrames``, ``AudioFrames``, ``VideoFrames``, or a list of
            ``ImageFrames`` of the same size and format, which becomes one batch.
        executor: Executor to run on instead of the shared decode/convert pool.

    Returns:
        A Future resolving to a ``CPUBuffer``; see the shape table of
        :func:`spdl.io.to_numpy`. It fails with :class:`AsyncIOFailure` (phase
        ``"convert"``) if conversion fails.

    Raises:
        TypeError: If ``frames`` is not frames or a list of image frames.
        ValueError: If the frames of a batch differ in size or format, or the list is
            empty.

    Example:
        >>> buffer = spdl.io.convert_frames(frames).result()
        >>> array = spdl.io.to_numpy(buffer)
    """
    _check_executor(executor)
    return submit_convert(frames, executor=executor)


def check_cpu_frames(frames: object) -> None:
    """Refuse anything but CPU frames or a list of CPU image frames.

    Args:
        frames: The object to check.

    Raises:
        TypeError: If ``frames`` is not ``ImageFrames``/``AudioFrames``/
            ``VideoFrames`` or a list/tuple of ``ImageFrames`` (e.g. GPU frames).
    """
    if isinstance(frames, _CPU_FRAMES_TYPES):
        return
    if isinstance(frames, list | tuple) and all(isinstance(f, _native.ImageFrames) for f in frames):
        return
    if isinstance(frames, list | tuple):
        bad = next(f for f in frames if not isinstance(f, _native.ImageFrames))
        raise TypeError(
            f"A batch for CPU conversion must contain only ImageFrames, got {type(bad).__name__}."
        )
    raise TypeError(
        "Expected CPU frames (ImageFrames, AudioFrames, VideoFrames or a list of "
        f"ImageFrames), got {type(frames).__name__}."
    )


def convert_frames_cpu(
    frames: Frames | Sequence[Any],
    *,
    executor: Executor | None = None,
) -> Future[Any]:
    """Like :func:`convert_frames`, but only for frames held in CPU memory.

    Args:
        frames: ``ImageFrames``, ``AudioFrames``, ``VideoFrames``, or a list of
            ``ImageFrames``.
        executor: Executor to run on instead of the shared decode/convert pool.

    Returns:
        A Future resolving to a ``CPUBuffer``.

    Raises:
        TypeError: If ``frames`` are not CPU frames (for example frames decoded on a
            GPU).
        ValueError: If the frames of a batch differ in size or format.

    Example:
        >>> buffer = spdl.io.convert_frames_cpu(frames).result()
    """
    check_cpu_frames(frames)
    return convert_frames(frames, executor=executor)


################################################################################
# Helpers
################################################################################


def _outcome(future: Future[Any]) -> tuple[Any, BaseException | None]:
    if future.cancelled():
        return None, CancelledError()
    error = future.exception()
    if error is not None:
        return None, error
    return future.result(), None


def chain_futures(
    generator_function: Callable[..., Generator[Future[Any], Any, Any]],
) -> Callable[..., Future[Any]]:
    """Turn a generator of Futures into a function that returns one Future.

    The decorated generator yields Futures. When a yielded Future finishes, its result
    is sent back into the generator (or its exception thrown in, where the generator
    may catch it), all from ``add_done_callback``: no thread ever blocks waiting. The
    returned Future resolves to the result of the last yielded Future (or to the value
    the generator ``return``s, if not ``None``), or fails with the first error the
    generator does not handle. The generator runs up to its first ``yield`` during
    the call, so argument errors raised there reach the caller directly.

    Cancelling the returned Future cancels the Future the generator is waiting on and
    closes the generator.

    Args:
        generator_function: A generator function that yields
            ``concurrent.futures.Future`` objects.

    Returns:
        A function with the same arguments that returns a ``concurrent.futures.Future``.

    Raises:
        TypeError: (through the returned Future) if the generator yields something
            other than a Future.

    Example:
        >>> @spdl.io.chain_futures
        ... def load_image(src):
        ...     packets = yield spdl.io.demux_media("image", src)
        ...     frames = yield spdl.io.decode_packets(packets)
        ...     yield spdl.io.convert_frames(frames)
        >>> buffer = load_image("foo.jpg").result()
    """

    @functools.wraps(generator_function)
    def wrapper(*args: Any, **kwargs: Any) -> Future[Any]:
        generator = generator_function(*args, **kwargs)
        if not inspect.isgenerator(generator):
            raise TypeError(
                f"{generator_function.__qualname__} must be a generator function "
                f"(one that yields Futures), got a {type(generator).__name__} from it."
            )
        return _Chain(generator).start()

    return wrapper


class _Chain:
    """Drive a generator of Futures with done-callbacks (see :func:`chain_futures`)."""

    def __init__(self, generator: Generator[Future[Any], Any, Any]):
        self._generator = generator
        self._result: Future[Any] = Future()
        self._lock = RLock()  # guards the generator and `_waiting_on`
        self._waiting_on: Future[Any] | None = None
        self._last: Any = None

    def start(self) -> Future[Any]:
        try:
            first = next(self._generator)
        except StopIteration as stop:
            self._result.set_result(stop.value)
            return self._result
        self._result.add_done_callback(self._on_result_done)
        self._wait(first)
        return self._result

    def _on_result_done(self, result: Future[Any]) -> None:
        if result.cancelled():
            with self._lock:
                waiting_on = self._waiting_on
            if waiting_on is not None:
                waiting_on.cancel()

    def _wait(self, future: object) -> None:
        if not isinstance(future, Future):
            self._step(
                None,
                TypeError(
                    "A function decorated with chain_futures must yield "
                    f"concurrent.futures.Future objects, got {type(future).__name__}."
                ),
            )
            return
        with self._lock:
            self._waiting_on = future
        if self._result.cancelled():
            future.cancel()
        future.add_done_callback(self._on_yielded_done)

    def _on_yielded_done(self, future: Future[Any]) -> None:
        value, error = _outcome(future)
        self._step(value, error)

    def _step(self, value: Any, error: BaseException | None) -> None:
        # Resume the generator until it yields a Future that is not done yet.
        while True:
            with self._lock:
                self._waiting_on = None
                if self._result.done():  # cancelled from outside
                    self._generator.close()
                    return
                if error is None:
                    self._last = value
                try:
                    if error is not None:
                        future = self._generator.throw(error)
                    else:
                        future = self._generator.send(value)
                except StopIteration as stop:
                    outcome = self._last if stop.value is None else stop.value
                    _try_set(self._result.set_result, outcome)
                    return
                except CancelledError:
                    self._result.cancel()
                    return
                except BaseException as unhandled:
                    _try_set(self._result.set_exception, unhandled)
                    return
            if isinstance(future, Future) and future.done():
                value, error = _outcome(future)
                continue
            self._wait(future)
            return


def wait_futures(futures: Sequence[Future[T]], strict: bool = True) -> Future[list[T]]:
    """Return a Future that resolves when all the given Futures are done.

    Nothing blocks: completion is tracked with ``add_done_callback``. Cancelling the
    returned Future cancels the input Futures that are not done.

    Args:
        futures: The Futures to wait for.
        strict: If ``True``, the returned Future fails with the first error among
            ``futures`` as soon as it happens. If ``False``, failures are logged
            (logger ``"spdl.io"``) and the results of the successful Futures are
            returned; if every Future failed, the returned Future fails with
            :class:`AsyncIOFailure`.

    Returns:
        A Future resolving to the results in the order of ``futures`` (only the
        successful ones when ``strict=False``). An empty input resolves to ``[]``.

    Raises:
        TypeError: If an element of ``futures`` is not a ``concurrent.futures.Future``.

    Example:
        >>> futures = [spdl.io.demux_media("image", src) for src in ["a.jpg", "b.png"]]
        >>> packets = spdl.io.wait_futures(futures).result()
    """

    def log(index: int, error: BaseException) -> None:
        _LG.error("Future #%d failed: %s: %s", index, type(error).__name__, error)

    return gather_futures(futures, strict=strict, on_error=None if strict else log)


def gather_futures(
    futures: Sequence[Future[T]],
    *,
    strict: bool,
    on_error: Callable[[int, BaseException], None] | None = None,
) -> Future[list[T]]:
    """Implementation of :func:`wait_futures` with a hook called on each failure.

    Args:
        futures: The Futures to wait for.
        strict: See :func:`wait_futures`.
        on_error: Called as ``on_error(index, error)`` for each input that fails
            (cancelled inputs included) before the result is decided.

    Returns:
        See :func:`wait_futures`.

    Raises:
        TypeError: If an element of ``futures`` is not a ``concurrent.futures.Future``.
    """
    futures = list(futures)
    for future in futures:
        if not isinstance(future, Future):
            raise TypeError(
                f"wait_futures expects concurrent.futures.Future objects, "
                f"got {type(future).__name__}."
            )
    result: Future[list[T]] = Future()
    if not futures:
        result.set_result([])
        return result

    lock = Lock()
    remaining = [len(futures)]

    def finish() -> None:
        outcomes = [_outcome(f) for f in futures]
        values = [value for value, error in outcomes if error is None]
        errors = [error for _, error in outcomes if error is not None]
        if strict and errors:
            _try_set(result.set_exception, errors[0])
        elif errors and not values:
            failure = AsyncIOFailure(
                f"All {len(futures)} futures failed. First error: "
                f"{type(errors[0]).__name__}: {errors[0]}"
            )
            failure.__cause__ = errors[0]
            _try_set(result.set_exception, failure)
        else:
            _try_set(result.set_result, values)

    def on_done(index: int, future: Future[T]) -> None:
        _, error = _outcome(future)
        if error is not None and not result.done():
            if on_error is not None:
                on_error(index, error)
            if strict:
                _try_set(result.set_exception, error)
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            finish()

    def on_result_done(res: Future[list[T]]) -> None:
        if res.cancelled():
            for future in futures:
                future.cancel()

    result.add_done_callback(on_result_done)
    for index, future in enumerate(futures):
        future.add_done_callback(functools.partial(on_done, index))
    return result
