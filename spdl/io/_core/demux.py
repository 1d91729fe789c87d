"""Demuxing with PyAV: open a source, pick a stream, copy its packets to native Packets.

Only plain data crosses into the native core (bytes, integers, names), never an
FFmpeg object of PyAV's FFmpeg: the two FFmpeg builds differ.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import math
import os
import stat
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any, BinaryIO, Literal, TypeAlias, cast

import av
from av.container import InputContainer
from av.packet import Packet
from av.stream import Stream

from spdl import _native
from spdl.io._core import remote as _remote
from spdl.io._core.cuda import CUDAFrames
from spdl.io._core.display_matrix import read_display_matrix
from spdl.io._core.errors import MediaError
from spdl.io._core.numbers import as_real, is_real
from spdl.io._core.pixel_limit import pyav_options

__all__ = [
    "MediaType",
    "Source",
    "Packets",
    "UnknownPacketOrder",
    "as_window",
    "demux",
    "demux_audio_chunks",
    "demux_spans",
    "is_path_or_data",
    "iter_demux",
    "validate_demux_args",
]

MediaType: TypeAlias = Literal["image", "audio", "video"]
Source: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO"
Packets: TypeAlias = "_native.ImagePackets | _native.AudioPackets | _native.VideoPackets"
Window: TypeAlias = tuple[float, float]


def is_path_or_data(src: object) -> bool:
    """Whether ``src`` is a path or in-memory bytes (else a caller's file-like object,
    which has a position of its own)."""
    return isinstance(src, str | os.PathLike | bytes | bytearray | memoryview)


_MEDIA_TYPES = ("image", "audio", "video")
_AUDIO_PREROLL_S = 0.2
# A video seek that lands wrong moves back this far, then twice as far... (see
# _positioned), at most _SEEK_TRIES times before reading from the start; a seek
# the demuxer refuses likewise (see _seek), until the stream's start.
_SEEK_BACK_S = 0.5
_SEEK_TRIES = 6
_SCAN_PACKETS = 1000  # read for a keyframe after a seek (a GOP of 33 s at 30 fps)
_MAX_REORDERED_FRAMES = 16  # as Packets.add_demuxed_from (H.264's most)
# Decoder options, per stream index, that turn the probe decode of opening off.
_NO_PROBE_DECODE = [{"skip_frame": "all"}] * 8
_PYAV_MAJOR = int(av.__version__.split(".")[0])
_MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"
_PACKET_CLASSES: dict[str, type[Packets]] = {
    "image": _native.ImagePackets,
    "audio": _native.AudioPackets,
    "video": _native.VideoPackets,
}


class _DemuxTurn:
    """Makes the packet loops of paths and in-memory data run one at a time.

    PyAV releases the GIL around each packet read, so two loops running at once hand
    the GIL to each other on every packet, a thread wake-up and a context switch each:
    8 loads of a 2,585-packet AAC file took 151 ms of demuxing on 2 threads against
    83 ms on one. Taking turns keeps the GIL with one loop while the other threads
    decode with it released. A loop that turns out to wait on its reads (a network
    file system) gives its turn back, so slow sources still overlap their waits.
    File-like objects are never held to a turn: their reads are the caller's code.
    """

    _lock = threading.RLock()  # re-entrant: a read callback may demux again
    _CHECK_EVERY = 64  # packets
    _SLOW_S = 0.004  # 64 packets in 4 ms is ~60 us each, I/O rather than parsing

    def __init__(self, src: Source) -> None:
        self._wanted = is_path_or_data(src)
        self._held = False
        self._count = 0
        self._since = 0.0

    def __enter__(self) -> _DemuxTurn:
        if self._wanted:
            self._lock.acquire()
            self._held = True
            self._since = time.perf_counter()
        return self

    def tick(self) -> None:
        """Called once per packet; gives the turn back when reads turn out slow."""
        self._count += 1
        if self._count % self._CHECK_EVERY == 0:
            self.check()

    def check(self) -> None:
        """Called after every ``_CHECK_EVERY`` packets; gives the turn back when they
        took long to read."""
        if self._held:
            now = time.perf_counter()
            if now - self._since > self._SLOW_S:
                self._release()
            self._since = now

    def _release(self) -> None:
        if self._held:
            self._held = False
            self._lock.release()

    def __exit__(self, *exc_info: object) -> None:
        self._release()

    @classmethod
    def _reset_after_fork(cls) -> None:
        # A fork while another thread held the turn (DataLoader workers fork) would
        # leave the child's lock held by a thread that does not exist there.
        cls._lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_DemuxTurn._reset_after_fork)


class UnknownPacketOrder(Exception):
    """The demuxer reports neither the byte offset nor the dts of a packet, so
    :func:`demux_spans` cannot tell whether it read it already."""


class _BytesReader(io.RawIOBase):
    """A seekable reader over caller-owned memory: the whole input is never copied."""

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        super().__init__()
        self._view = memoryview(data).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._pos + size
        chunk = self._view[self._pos : end].tobytes()
        self._pos += len(chunk)
        return chunk

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


class _ReadInterrupted(Exception):
    """What stopped a read of a caller's file-like object (KeyboardInterrupt, SystemExit),
    carried through PyAV: PyAV passes on only Exceptions from a read, and drops any
    other (printed as unraisable) and reads again, so a Ctrl-C while a read blocks
    was lost. :func:`_opened` raises the original again."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(f"a read of the source was interrupted: {original!r}")
        self.original = original


def _passing_interrupts(
    name: str, method: Callable[..., Any], reader: _CallerReader
) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        if reader.failure is not None and name == "read":
            return b""  # an end: FFmpeg reads again after a failed read (see failure)
        try:
            return method(*args)
        except Exception as error:
            if name == "read":
                reader.failure = error
            raise
        except BaseException as stop:
            reader.failure = _ReadInterrupted(stop)
            raise reader.failure from None

    return call


class _CallerReader:
    """A file-like object as PyAV reads it: the same object, whose ``read``, ``seek``
    and ``tell`` (those it has) let a KeyboardInterrupt through PyAV
    (:class:`_ReadInterrupted`). An ``owned`` file (a pipe opened here) is closed when
    PyAV lets go of it.

    FFmpeg reads again after a failed read: a URL's range read would run its whole
    retry schedule twice, and PyAV prints the first error when a second one comes.
    So after a ``read`` failed (or was interrupted), later reads give an end of file,
    and the first error, ``failure``, is raised (by PyAV, or by :func:`_opened`)."""

    def __init__(self, file: Any, owned: bool = False) -> None:
        self._file = file
        self._owned = owned
        self.failure: Exception | None = None
        for method in ("read", "seek", "tell"):
            if hasattr(file, method):
                setattr(self, method, _passing_interrupts(method, getattr(file, method), self))

    def __getattr__(self, name: str) -> Any:  # readable, seekable, close, name...
        return getattr(self._file, name)

    def __del__(self) -> None:
        if self._owned:
            self._file.close()


def _is_pipe(path: str) -> bool:
    """Whether ``path`` names a FIFO (a named pipe, ``/dev/stdin`` fed by a pipe). Not a
    character device: a capture device (``/dev/video0`` with ``format="v4l2"``) is
    opened by its demuxer, by name."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode)


def describe_source(src: object) -> str:
    """A short printable name of a media source, for error messages.

    Args:
        src: A path, bytes-like object, file-like object, Packets or Frames (CPU or
            GPU), or a list of frames.

    Returns:
        The source name that Packets and Frames carry, ``<batch of N frames>`` for a
        list, otherwise the path, ``<bytes of N bytes>`` for in-memory data, or the
        ``name`` of a file object.
    """
    if isinstance(src, str) and _remote.is_url(src):
        return _remote.redact(src)  # never a password or a signature in a message
    if isinstance(src, str | os.PathLike):
        return _printable(os.fsdecode(src))
    if isinstance(src, _remote.FetchedBytes):
        return src.name
    if isinstance(src, bytes | bytearray | memoryview):
        return f"<{type(src).__name__} of {memoryview(src).nbytes} bytes>"
    if isinstance(src, list | tuple):
        return f"<batch of {len(src)} frames>"
    if isinstance(src, _native.Packets | _native.Frames | CUDAFrames):
        return str(src.src)
    name = getattr(src, "name", None)
    return _printable(name) if isinstance(name, str) else f"<{type(src).__name__}>"


def _printable(name: str) -> str:
    """``name`` as valid UTF-8 (it goes into the native Packets and every message): the
    bytes of a file name that is not UTF-8 show as ``\\xNN``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def validate_demux_args(
    media_type: str,
    src: object,
    timestamp: Window | None = None,
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
) -> None:
    """Checks demux arguments, raising at call time.

    The operations (``spdl.io._api``) check their arguments with this once, when
    they are called; the demux functions below take them checked.

    Raises:
        ValueError: Unknown media type or an invalid window.
        TypeError: The source or an option has the wrong type.
    """
    if media_type not in _MEDIA_TYPES:
        raise ValueError(f"media_type must be one of {_MEDIA_TYPES}, got {media_type!r}.")
    is_reader = hasattr(src, "read") and hasattr(src, "seek")
    if not is_path_or_data(src) and not is_reader:
        raise TypeError(
            "src must be a path, bytes-like object or a binary file-like object, "
            f"got {type(src).__name__}."
        )
    if timestamp is not None:
        _validate_window(timestamp)
        if media_type == "image":
            raise ValueError("A timestamp window does not apply to images.")
    if format is not None and not isinstance(format, str):
        raise TypeError(f"format must be a str, got {type(format).__name__}.")
    if format_options is not None and not isinstance(format_options, Mapping):
        raise TypeError(f"format_options must be a mapping, got {type(format_options).__name__}.")


MAX_SECONDS = 1e9  # about 32 years


def as_window(timestamp: Window) -> Window:
    """A window checked already (:func:`validate_demux_args`) as Python numbers: NumPy
    scalars become ints or floats (see :func:`spdl.io._core.numbers.as_real`)."""
    start, end = timestamp
    return cast(Window, (as_real(start), as_real(end)))


def _validate_window(timestamp: object) -> None:
    if not isinstance(timestamp, tuple | list) or len(timestamp) != 2:
        raise TypeError(f"timestamp must be a (start, end) pair in seconds, got {timestamp!r}.")
    start, end = timestamp
    if not (is_real(start) and is_real(end)):
        raise TypeError(f"timestamp values must be numbers, got {timestamp!r}.")
    start, end = as_real(start), as_real(end)
    if math.isnan(start) or math.isnan(end) or start < 0 or not start < end:
        raise ValueError(f"timestamp must satisfy 0 <= start < end, got {timestamp!r}.")
    if start > MAX_SECONDS or (end > MAX_SECONDS and not math.isinf(end)):
        # Past this, a time in a stream's time base no longer fits in 64 bits.
        raise ValueError(
            f"timestamp values must be at most {MAX_SECONDS:.0e} s (or end=inf), got {timestamp!r}."
        )


def _open_options(
    format_options: Mapping[str, str] | None, stream_options: list[dict[str, str]] | None
) -> dict[str, Any]:
    """``av.open``'s option arguments, for the installed PyAV.

    Opening decodes a picture to probe the stream (``avformat_find_stream_info``):
    the pixel limit (FFmpeg's ``max_pixels``) goes to every stream so that the probe
    refuses a decompression bomb too; the decode then says why (:mod:`.pixel_limit`).
    """
    limit = pyav_options()
    if _PYAV_MAJOR >= 19:
        # PyAV 19 has no `stream_options`: its `options` reach every stream (and the
        # container, which ignores codec options); tags never fail to decode there.
        return {
            "options": {**(stream_options[0] if stream_options else {}), **limit},
            "container_options": dict(format_options or {}),
        }
    # Tags of damaged files can hold any bytes: never fail on their encoding. The
    # `options` reach the container and, under `stream_options`, every stream.
    return {
        "options": {**(format_options or {}), **limit},
        "stream_options": stream_options or [],
        "metadata_errors": "replace",
    }


def _open(
    src: Source,
    format: str | None,
    format_options: Mapping[str, str] | None,
    stream_options: list[dict[str, str]] | None = None,
) -> InputContainer:
    name = describe_source(src)
    if isinstance(src, str | os.PathLike):
        path = os.fspath(src)
        if not os.path.exists(path):
            raise FileNotFoundError(f"No such file: {path!r}")
        target: object = path
        if _is_pipe(path):
            # FFmpeg's own reads retry a read a signal interrupted, so a Ctrl-C would
            # wait for the writer; Python's open and reads raise what the handler raised.
            target = _CallerReader(open(path, "rb"), owned=True)  # noqa: SIM115
    elif isinstance(src, bytes | bytearray | memoryview):
        if memoryview(src).nbytes == 0:
            raise MediaError(f"Failed to open {name}: the data is empty.")
        target = _BytesReader(src)
    else:
        target = _CallerReader(src)
        # A file-like object is read from where it stands (as Pillow reads one): one
        # read before may have left it past the start, which the error then says.
        with contextlib.suppress(Exception):
            if (position := src.tell()) != 0:
                name = f"{name} (read from byte {position}, where the object stood)"
    try:
        return av.open(
            target, mode="r", format=format, **_open_options(format_options, stream_options)
        )
    except av.FFmpegError as e:
        raise MediaError(f"Failed to open {name}: {e}") from e
    except _remote.RemoteError:
        raise  # a URL's range read failed: a fetch error, whenever it happens
    except (ValueError, TypeError, OSError) as e:
        # PyAV's own parsing of damaged headers raises these too.
        raise MediaError(f"Failed to open {name}: {type(e).__name__}: {e}") from e


@contextlib.contextmanager
def _opened(
    opener: Callable[[Source, str | None, Mapping[str, str] | None], InputContainer],
    src: Source,
    format: str | None,
    format_options: Mapping[str, str] | None,
) -> Iterator[InputContainer]:
    """The container ``opener`` opens, closed on exit; what interrupted a read of the
    source (:class:`_ReadInterrupted`: Ctrl-C) is raised again as itself, and another
    failed read of a caller's file-like object as a ``MediaError`` naming the source
    (a URL's ``RemoteError`` as itself)."""
    try:
        with _one_reader(src), opener(src, format, format_options) as container:
            reader = getattr(container.file, "file", None)  # PyAV's wrapper of it
            failure = None
            try:
                yield container
            except Exception as error:
                if not (isinstance(reader, _CallerReader) and error is reader.failure):
                    raise
                failure = error
            if isinstance(reader, _CallerReader) and reader.failure is not None:
                failure = reader.failure  # a read failed, and the demuxer took it as the end
            if failure is not None:
                raise _read_failure(describe_source(src), failure) from failure
    except _ReadInterrupted as interrupted:
        raise interrupted.original from None


def _read_failure(name: str, error: Exception) -> Exception:
    """A failed read of ``name`` as raised: a URL's fetch error (or a MediaError, or an
    interrupt) as it is, another error as a MediaError naming the source (a file closed
    mid-read gave a bare ``ValueError: read of closed file``)."""
    if isinstance(error, _ReadInterrupted | MediaError | _remote.RemoteError):
        return error
    return MediaError(f"Failed to read {name}: {type(error).__name__}: {error}")


_reading_lock = threading.Lock()
_reading: set[int] = set()  # id() of the caller's file-like objects being read


@contextlib.contextmanager
def _one_reader(src: Source) -> Iterator[None]:
    """``ValueError`` when a caller's file-like object is being read by another load:
    two loads would move its one position under each other (random, misleading
    errors: a frame count of another part of the file, a stream it does not have)."""
    if is_path_or_data(src):
        yield
        return
    with _reading_lock:
        if id(src) in _reading:
            raise ValueError(
                f"{describe_source(src)} is being read by another load: a file-like "
                "object serves one load at a time (open the file once per load, or pass "
                "its bytes)."
            )
        _reading.add(id(src))
    try:
        yield
    finally:
        with _reading_lock:
            _reading.discard(id(src))


def _starts_with_ftyp(src: Source) -> bool:
    """Whether a path or bytes begin with an ISO-BMFF ``ftyp`` box (MP4, MOV, 3GP...)."""
    if isinstance(src, bytes | bytearray | memoryview):
        try:
            return bytes(memoryview(src).cast("B")[4:8]) == b"ftyp"
        except TypeError:  # not contiguous: the probed open reads it as it does now
            return False
    if isinstance(src, str | os.PathLike) and not _is_pipe(os.fspath(src)):
        # (A pipe is read once: its first bytes are the open's.)
        try:
            with open(src, "rb") as f:
                return f.read(8)[4:8] == b"ftyp"
        except OSError:
            return False  # the probed open reports the error
    return False


def _open_indexed(
    src: Source, format: str | None, format_options: Mapping[str, str] | None
) -> InputContainer:
    """Opens like :func:`_open`, without the probe decode where the container makes it moot.

    Opening makes FFmpeg decode the first frames of every stream to learn what the
    container may not say (``avformat_find_stream_info``): for H.264 up to seven
    frames, a keyframe among them, tens of milliseconds for HD video. The MP4 / MOV
    family stores every timestamp and size in its index, and the native decoder
    reads the pixel format from the bitstream, so there it is skipped; any other
    format is opened again as usual. Paths and bytes only (a file-like object
    could not be read twice).
    """
    if not _starts_with_ftyp(src):
        # Not MP4 / MOV (or a file-like object): one probed open, not two opens.
        return _open(src, format, format_options)
    try:
        container = _open(src, format, format_options, _NO_PROBE_DECODE)
    except MediaError:  # e.g. MPEG-TS, whose streams appear only while probing
        return _open(src, format, format_options)
    if container.format.name == _MP4_FAMILY:
        return container
    container.close()
    return _open(src, format, format_options)


def _pick_stream(container: InputContainer, media_type: MediaType, name: str) -> Stream:
    streams = container.streams.audio if media_type == "audio" else container.streams.video
    if not streams:
        kinds: list[str] = sorted({s.type for s in container.streams}) or ["none"]
        raise MediaError(
            f"{name} has no {'audio' if media_type == 'audio' else 'video/image'} stream "
            f"(streams found: {', '.join(kinds)})."
        )
    return streams[0]


# ITU-T H.273 code points (the same in every FFmpeg) → FFmpeg's names; the names
# are what crosses to the native core.
_COLOR_SPACES = {
    0: "gbr",
    1: "bt709",
    4: "fcc",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    9: "bt2020nc",
    10: "bt2020c",
}
_COLOR_RANGES = {1: "tv", 2: "pc"}


def _codec_params(stream: Stream, media_type: MediaType, name: str) -> _native.CodecParams:
    cc: Any = stream.codec_context  # audio or video: their fields differ
    if cc is None or cc.codec is None:
        raise MediaError(f"Failed to demux {name}: its {media_type} stream has no known codec.")
    params = _native.CodecParams()
    params.codec_name = cc.codec.canonical_name
    params.extradata = cc.extradata or b""
    params.bit_rate = cc.bit_rate or 0
    params.bits_per_coded_sample = getattr(cc, "bits_per_coded_sample", 0) or 0
    params.codec_tag = _codec_tag(cc)
    params.pts_in_decode_order = media_type == "video" and _pts_in_decode_order(stream)
    if media_type == "audio":
        params.sample_rate = cc.sample_rate or 0
        params.num_channels = cc.layout.nb_channels if cc.layout else 0
        params.channel_layout = cc.layout.name if cc.layout else ""
        params.channel_names = _channel_names(cc.layout) if cc.layout else ""
        params.sample_fmt = cc.format.name if cc.format else ""
        params.frame_size = cc.frame_size or 0
    else:
        params.width = cc.width or 0
        params.height = cc.height or 0
        params.pix_fmt = cc.format.name if cc.format else ""
        sar = cc.sample_aspect_ratio
        if sar:
            params.sample_aspect_ratio = (sar.numerator, sar.denominator)
        params.color_space = _COLOR_SPACES.get(getattr(cc, "colorspace", 2), "")
        params.color_range = _COLOR_RANGES.get(getattr(cc, "color_range", 0), "")
        if media_type == "video" and stream.container.format.name == _MP4_FAMILY:
            params.display_matrix = read_display_matrix(stream.container, stream.index)
    return params


def _pts_in_decode_order(stream: Stream) -> bool:
    """Whether the stream's packet times are decode times although its frames are
    reordered: H.264 / HEVC with B-frames in AVI, which stores no presentation times.
    The decoders then time frames by their display-order clock
    (spdl_native/display_order_clock.h)."""
    codec = stream.codec_context
    reordering = codec is not None and codec.name in ("h264", "hevc")
    # Only a stream with B-frames reorders (the probe decode on opening tells): one
    # without keeps the faster paths (spans, one decoder per streaming demux).
    has_b_frames = bool(getattr(codec, "has_b_frames", True))  # on video codec contexts
    return reordering and stream.container.format.name == "avi" and has_b_frames


def _codec_tag(cc: Any) -> int:
    """The stream's FourCC as FFmpeg's integer (PyAV gives its four characters); 0
    when it has none or PyAV cannot read it."""
    try:
        tag = cc.codec_tag
    except (UnicodeDecodeError, AttributeError):  # a tag of non-ASCII bytes
        return 0
    if not isinstance(tag, str) or len(tag) != 4:
        return 0
    return int.from_bytes(tag.encode("latin-1"), "little")


def _channel_names(layout: Any) -> str:
    """The layout by its channels (``"FL+FR"``), which every FFmpeg from 5.1 parses.

    Layout names differ between versions (PyAV's FFmpeg names ``"5.1.4"``, which 5.1 does
    not know); channel names do not. Empty for a layout without positions.
    """
    names = [channel.name for channel in layout.channels]
    unnamed = ("NONE", "UNK", "UNSD", "USR", "AMBI")  # no position, or none 5.1 can parse
    if names and all(name.isalnum() and not name.startswith(unnamed) for name in names):
        return "+".join(names)
    return ""


def _new_packets(
    stream: Stream, media_type: MediaType, name: str, window: Window | None
) -> Packets:
    tb = stream.time_base or Fraction(1, 1)
    packets = _PACKET_CLASSES[media_type](
        name, _codec_params(stream, media_type, name), (tb.numerator, tb.denominator)
    )
    if media_type == "video":
        rate = stream.average_rate or stream.guessed_rate
        if rate:
            packets.frame_rate = (rate.numerator, rate.denominator)
    if window is not None:
        packets.timestamp = (float(window[0]), float(window[1]))
    return packets


def _seek(container: InputContainer, stream: Stream, name: str, seconds: float) -> None:
    """Seeks to the keyframe at or before ``seconds`` (> 0).

    A demuxer may refuse a seek to a time the stream holds: FFmpeg's FLAC demuxer
    (without a seek table) one into the last frames, raw H.264 / HEVC any. The seek is
    then asked again ``_SEEK_BACK_S`` earlier, the step doubling, and at last the
    stream is read from its start (:func:`_rewind`): landing earlier only costs
    decoding, as the decode trims to the exact sample or frame.
    """
    tb = stream.time_base or Fraction(1, 1)
    target, step = seconds, _SEEK_BACK_S
    while target > 0:
        try:
            container.seek(int(target / tb), stream=stream, backward=True, any_frame=False)
            return
        except av.FFmpegError:
            target, step = target - step, step * 2
    _rewind(container, stream, name)


def _rewind(container: InputContainer, stream: Stream, name: str) -> None:
    """Positions the demuxer before the stream's first packet, its priming packets
    (negative pts) included.

    MP3 and others refuse the negative target, then 0 is asked; FLAC under 4096
    samples and raw H.264 / HEVC refuse any time, and a refused seek leaves the
    demuxer nowhere: they go back to the first byte of the stream's data.
    """
    error: av.FFmpegError | None = None
    # Before the first packet: an MPEG-TS whose times wrapped starts below 0 (FFmpeg
    # unwraps them so), and a seek to -1 would land at 0, past its first keyframes.
    first = min((stream.start_time or 0) - 1, -1)
    for offset, by_byte in dict.fromkeys(((first, False), (-1, False), (0, False), (0, True))):
        try:
            container.seek(
                offset,
                stream=stream,
                backward=True,
                any_frame=False,
                unsupported_byte_offset=by_byte,
            )
            return
        except av.FFmpegError as e:
            error = error or e
    raise MediaError(f"Failed to seek {name} to its start: {error}") from error


def _audio_preroll_s(stream: Stream) -> float:
    """How far before a window an audio seek goes: 0.2 s, and for MP3 as far as its
    bit reservoir reaches at the lowest bit rate, plus three frames (the overlapped
    frame, and the seek's landing); below 32 kHz that is 0.47 s at 8 kHz, where 0.2 s
    decoded 165 ms of a window wrong."""
    codec = stream.codec_context  # None for a codec PyAV does not know: refused later
    rate = getattr(codec, "sample_rate", 0) or 0  # an AudioCodecContext
    if codec is None or codec.name not in ("mp3", "mp3float") or rate <= 0:
        return _AUDIO_PREROLL_S
    # main_data_begin: up to 511 bytes back (MPEG-1, 32 kbps at least), 255 below 32 kHz
    # (MPEG-2 and 2.5, 8 kbps at least); their frames have 1152 and 576 samples.
    reservoir_s, frame = (511 * 8 / 32000, 1152) if rate >= 32000 else (255 * 8 / 8000, 576)
    return max(_AUDIO_PREROLL_S, reservoir_s + 3 * frame / rate)


def _seek_before(
    container: InputContainer,
    stream: Stream,
    name: str,
    media_type: MediaType,
    start: float,
    fresh: bool,
) -> None:
    """Positions the demuxer for a window starting at ``start`` s: at the keyframe at
    or before it, for audio :func:`_audio_preroll_s` earlier (decoders need pre-roll:
    their first frame after a seek overlaps the one before; the decode trims to the
    exact sample).

    A target at or before the stream's beginning reads from its first packet: a
    container not read yet is not moved at all (a seek to 0 skips an AAC stream's
    priming packet, and FLAC under 4096 samples refuses it), one read already goes
    back before its first packet (:func:`_rewind`).
    """
    target = start - _audio_preroll_s(stream) if media_type == "audio" else start
    if target > 0:
        _seek(container, stream, name, target)
    elif not fresh:
        _rewind(container, stream, name)


@contextlib.contextmanager
def _positioned(
    container: InputContainer,
    stream: Stream,
    name: str,
    media_type: MediaType,
    start: float | None,
    fresh: bool,
) -> Iterator[Iterator[Packet]]:
    """The stream's packets (as :func:`_demuxer`) for a window starting at ``start``
    (None: from where the container is), positioned by :func:`_seek_before`.

    For video, the first keyframe read must be shown at or before ``start`` (to
    within :func:`window_pts`'s slack). A seek lands at a keyframe whose *decode*
    time is at or before the target, but not always: MPEG-TS and MPEG-PS land on
    other frames (decoding then starts at the next keyframe) or past the target, and
    with open GOPs the keyframe is shown after the B-frames that follow it in decode
    order (which refer to the GOP before). Until it is, the target moves back before
    where the seek landed, by a step that doubles. The packets read to check it are
    handed on (seeking back to them may land elsewhere: these demuxers index what
    they read).
    """
    if start is None or media_type != "video" or start <= 0:
        if start is not None:
            _seek_before(container, stream, name, media_type, start, fresh)
        with _demuxer(container, stream, name) as demuxer:
            yield demuxer
        return
    tb = stream.time_base or Fraction(1, 1)
    first_tick = window_pts((start, math.inf), (tb.numerator, tb.denominator))[0]
    target, step = start, _SEEK_BACK_S
    for attempt in range(_SEEK_TRIES + 1):
        if target > 0:
            _seek(container, stream, name, target)
        else:
            _seek_before(container, stream, name, media_type, 0.0, fresh=False)
        with _demuxer(container, stream, name) as demuxer:
            read: list[Packet] = []
            for packet in demuxer:
                if packet.size:
                    read.append(packet)
                    if packet.is_keyframe or len(read) > _SCAN_PACKETS:
                        break
            if not read and target > 0 and attempt < _SEEK_TRIES:
                # The seek found nothing to read (an MP4 whose first samples are not
                # keyframes can land past its end): read from the stream's start.
                target = 0.0
                continue
            key = read[-1] if read and read[-1].is_keyframe else None
            landed = (read[0].dts if read[0].dts is not None else read[0].pts) if read else None
            good = key is not None and key.pts is not None and key.pts <= first_tick
            if good or target <= 0 or landed is None or attempt == _SEEK_TRIES:
                yield itertools.chain(read, demuxer)
                return
        target = min(target, float(landed * tb)) - step
        step *= 2


def window_pts(window: tuple[float, float], time_base: tuple[int, int]) -> tuple[int, int | None]:
    """A video window's edges in its stream's time base: a frame at ``pts`` lies in it
    when ``start <= pts < end`` (end None: open).

    A frame is in when shown at or after ``start`` and before ``end``, to within half a
    millisecond or half a tick of the time base, whichever is less: Matroska stores
    times rounded to milliseconds (a frame of 30 fps shown at 33 ms is the one at 1/30
    s), while AVI counts in whole frames (a window from 0.31 s must not take the frame
    at 0.3 s by rounding 9.3 ticks to 9).
    """
    tick = Fraction(*time_base) if time_base[1] else Fraction(1)
    slack = tick_slack(tick)
    start, end = window
    first = math.ceil(Fraction(start) / tick - slack)
    return first, None if math.isinf(end) else math.ceil(Fraction(end) / tick - slack)


def tick_slack(tick: Fraction) -> Fraction:
    """How far, in ticks of ``tick`` seconds, a time may lie before a frame's and still
    be the frame's time: half a millisecond or half a tick, whichever is less (see
    :func:`window_pts`)."""
    return min(Fraction(1, 2), Fraction(1, 2000) / tick)


@contextlib.contextmanager
def _demuxer(container: InputContainer, stream: Stream, name: str) -> Iterator[Iterator[Packet]]:
    """PyAV's iterator of the stream's packets from the current position on, closed
    on exit; its FFmpeg errors become MediaError."""
    # PyAV's wheels build `demux()` as a Cython generator without a finalizer (Limited
    # API): one dropped before its end never runs its `finally`, which frees the native
    # packet it reads into, so each early stop (an image's one packet, a window's end)
    # leaked ~300 bytes. Close it explicitly, however the reading ends.
    demuxer = container.demux(stream)
    try:
        yield demuxer
    except av.FFmpegError as e:
        raise MediaError(f"Failed to demux {name}: {e}") from e
    finally:
        demuxer.close()  # type: ignore[attr-defined]  # a Cython generator


def _fill(
    packets: Packets,
    demuxer: Iterator,
    end: float | None,
    turn: _DemuxTurn,
    limit: int | None = None,
    lookahead: int = 0,
) -> bool:
    """Adds the demuxer's next packets to ``packets`` in native calls of
    ``_CHECK_EVERY`` packets, checking the turn after each, until ``limit`` were
    added (None: no limit), the demuxer ends, or a packet's decode time reaches
    ``end`` (stream time base); that packet and up to ``lookahead - 1`` more go to
    the window's lookahead (see ``Packets.join_decode_session``). Returns whether
    ``limit`` was reached."""
    added = 0
    while limit is None or added < limit:
        step = (
            _DemuxTurn._CHECK_EVERY
            if limit is None
            else min(_DemuxTurn._CHECK_EVERY, limit - added)
        )
        if not packets.add_demuxed_from(demuxer, step, end, lookahead):
            return False
        turn.check()
        added += step
    return True


def _iter_packets(demuxer: Iterator[Packet], end: float | None) -> Iterator[Packet]:
    """Yields the non-empty packets of ``demuxer``, until one whose decode time
    reaches ``end`` (as ``Packets.add_demuxed_from`` stops)."""
    undated_past_end = 0
    for packet in demuxer:
        if packet.size == 0:
            continue
        if end is not None and packet.dts is not None and packet.dts >= end:
            return
        pts = packet.pts
        if end is not None and packet.dts is None and pts is not None and pts >= end:
            undated_past_end += 1  # as the native loop: B-frames may follow it
            if undated_past_end > _MAX_REORDERED_FRAMES:
                return
        yield packet


def _position(packet: Packet) -> int | None:
    """Where a packet lies in its stream, increasing in decode order: its byte offset.
    None where the demuxer does not know it (MPEG-PS, for most packets): a dts cannot
    stand in, as it would be compared with the byte offsets of other packets."""
    return packet.pos


def _end_ts(stream: Stream, window: Window | None) -> float | None:
    """The end of a window in the stream's time base (None: no end)."""
    if window is None or math.isinf(window[1]):
        return None
    return window[1] / (stream.time_base or Fraction(1, 1))


def _read(
    container: InputContainer,
    stream: Stream,
    media_type: MediaType,
    name: str,
    window: Window | None,
    src: Source,
    lookahead: int = 0,
    fresh: bool = True,
) -> Packets:
    packets = _new_packets(stream, media_type, name, window)
    start = None if window is None else window[0]
    with _positioned(container, stream, name, media_type, start, fresh) as demuxer:
        if media_type == "image":
            packets.add_demuxed_from(demuxer, 1, None)
        else:
            with _DemuxTurn(src) as turn:
                _fill(packets, demuxer, _end_ts(stream, window), turn, lookahead=lookahead)
    if len(packets) == 0:
        where = f" in the window {window}" if window is not None else ""
        raise MediaError(f"Failed to demux {name}: no {media_type} packet found{where}.")
    return packets


def demux(
    media_type: MediaType,
    src: Source,
    timestamp: Window | None = None,
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
) -> Packets:
    """Demuxes one stream of a source (synchronously, holding the GIL between FFmpeg calls).

    MP4-family video is opened without PyAV's probe decode (see :func:`_open_indexed`):
    the packets learn what only decoding tells (``pix_fmt``, colour) from their first
    keyframe when it is read (``Packets.pix_fmt``), which the CPU decoder never does.

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: A path, bytes-like object (not copied) or binary file-like object.
        timestamp: Optional half-open window ``(start, end)`` in seconds.
        format: Force a demuxer (FFmpeg short name), e.g. ``"mp4"``.
        format_options: Demuxer options.

    Returns:
        ImagePackets, AudioPackets or VideoPackets.

    Raises:
        FileNotFoundError: The path does not exist.
        MediaError: The data cannot be opened or has no stream of that type.
    """
    name = describe_source(src)
    opener = _open_indexed if media_type == "video" else _open
    with _opened(opener, src, format, format_options) as container:
        stream = _pick_stream(container, media_type, name)
        return _read(container, stream, media_type, name, timestamp, src)


# Packets per chunk of demux_audio_chunks (about 6 s of 44.1 kHz AAC). 128 and
# 256 measured best on a minute of AAC; 32 and 1,024 were 2-5% slower.
_AUDIO_CHUNK = 256


def demux_audio_chunks(
    src: Source,
    timestamp: Window | None = None,
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
    chunk: int = _AUDIO_CHUNK,
) -> Generator[tuple[_native.AudioPackets, float], None, None]:
    """Demuxes the audio stream of a source chunk by chunk, for decoding as it goes.

    Each chunk is demuxed holding the GIL (taking its turn, as :func:`demux`), then
    yielded, so that the caller can decode it with the GIL released before the next
    one is read: the packets are decoded while still in cache, and other threads
    demux while this one decodes.

    Args:
        src: As in :func:`demux`.
        timestamp: Optional half-open window ``(start, end)`` in seconds.
        format: Force a demuxer.
        format_options: Demuxer options.
        chunk: Packets per chunk.

    Yields:
        ``(packets, seconds)``: AudioPackets of at most ``chunk`` packets, each with
        the window; and the stream's duration in seconds as the container states it
        (``0.0`` when unknown), the same in every chunk.

    Raises:
        FileNotFoundError: The path does not exist.
        MediaError: The data cannot be opened, has no audio stream, or has no
            packet (in the window).
    """
    name = describe_source(src)
    with _opened(_open, src, format, format_options) as container:
        stream = _pick_stream(container, "audio", name)
        seconds = _stream_seconds(container, stream)
        if timestamp is not None:
            _seek_before(container, stream, name, "audio", timestamp[0], fresh=True)
        end = _end_ts(stream, timestamp)
        with _demuxer(container, stream, name) as demuxer:  # closed before the container
            total, more = 0, True
            while more:
                part = _new_packets(stream, "audio", name, timestamp)
                assert isinstance(part, _native.AudioPackets)
                with _DemuxTurn(src) as turn:
                    more = _fill(part, demuxer, end, turn, chunk)
                if len(part):
                    total += len(part)
                    yield part, seconds
    if total == 0:
        where = f" in the window {timestamp}" if timestamp is not None else ""
        raise MediaError(f"Failed to demux {name}: no audio packet found{where}.")


def _stream_seconds(container: InputContainer, stream: Stream) -> float:
    """The stream's duration as the container states it; 0.0 when it does not."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1e6 if container.duration else 0.0


# Packets past a streaming window's end kept as its lookahead: enough for the
# decoder's reorder delay (H.264 allows 16 frames) to give out the window's last frames.
_WINDOW_LOOKAHEAD = 16


def iter_demux(
    media_type: MediaType,
    src: Source,
    timestamps: Sequence[Window],
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
) -> Iterator[Packets]:
    """Demuxes several windows of one source, opening it once (Ogg audio: once per
    window, see below).

    Args:
        media_type: ``"audio"`` or ``"video"``.
        src: As in :func:`demux`.
        timestamps: Windows ``(start, end)`` in seconds, demuxed in the given order.
        format: Force a demuxer.
        format_options: Demuxer options.

    Yields:
        One Packets per window. Video windows share a decode session (their decode
        continues where the window before stopped, when they are decoded in order)
        and carry the packets that follow them as its lookahead.

    Raises:
        MediaError: The data cannot be demuxed.
    """
    name = describe_source(src)
    lookahead = _WINDOW_LOOKAHEAD if media_type == "video" else 0
    previous: Packets | None = None
    opener = _open_indexed if media_type == "video" else _open  # as in demux()
    origin = _origin(src)
    with _opened(opener, src, format, format_options) as container:
        stream = _pick_stream(container, media_type, name)
        # FFmpeg's Ogg demuxer times packets wrong after a second seek (0.67 s late in
        # a 3 s Vorbis file: the seek lands on a page it indexed while reading on), so
        # each window after the first opens the source afresh, as load_audio does.
        reopen = media_type == "audio" and container.format.name == "ogg" and origin is not None
        for count, window in enumerate(timestamps):
            if reopen and count:
                yield _read_afresh(opener, src, origin, format, format_options, window)
                continue
            packets = _read(container, stream, media_type, name, window, src, lookahead, count == 0)
            if lookahead:
                packets.join_decode_session(previous)
                previous = packets
            yield packets


def _origin(src: Source) -> int | None:
    """Where a load starts to read ``src``: 0, or the position a file-like object
    stands at; ``None`` for one that cannot tell (it cannot be read afresh)."""
    if is_path_or_data(src):
        return 0
    file = cast(BinaryIO, src)
    try:
        return file.tell() if file.seekable() else None
    except Exception:
        return None


def _read_afresh(
    opener: Callable[[Source, str | None, Mapping[str, str] | None], InputContainer],
    src: Source,
    origin: int | None,
    format: str | None,
    format_options: Mapping[str, str] | None,
    window: Window,
) -> Packets:
    """One window's packets, from a container of its own (a file-like object is
    moved back to ``origin`` first)."""
    if origin is not None and not is_path_or_data(src):
        cast(BinaryIO, src).seek(origin)
    name = describe_source(src)
    with opener(src, format, format_options) as container:
        stream = _pick_stream(container, "audio", name)
        return _read(container, stream, "audio", name, window, src)


def demux_spans(
    src: Source,
    timestamps: Sequence[Window],
    *,
    format: str | None = None,
    format_options: Mapping[str, str] | None = None,
) -> list[Packets]:
    """Demuxes the video packets that cover several windows in one pass, opening the source once.

    The windows are visited by start time. For each, the demuxer seeks to the
    keyframe at or before its start. When that keyframe was already read for an
    earlier window (the windows overlap, or lie in one GOP), reading goes straight
    on from the last packet read: the same span grows and no packet is read twice.
    Otherwise a new span starts there, and the GOPs in between are never read.

    Args:
        src: As in :func:`demux`.
        timestamps: Windows ``(start, end)`` in seconds, in any order.
        format: Force a demuxer.
        format_options: Demuxer options.

    Returns:
        One VideoPackets per span, in stream order. Each starts at a keyframe and
        holds every packet up to the first whose decode time reaches the end of its
        last window, so it decodes every frame shown in its windows.

    Raises:
        TypeError, ValueError: Invalid arguments.
        FileNotFoundError: The path does not exist.
        MediaError: The data cannot be demuxed, or no packet lies in any window.
        UnknownPacketOrder: The demuxer reports neither the byte offset nor the dts
            of a packet, or the packets carry no timestamps (load the windows one by
            one instead).
    """
    windows = sorted((float(start), float(end)) for start, end in timestamps)
    name = describe_source(src)
    spans: list[Packets] = []
    read_until = -math.inf  # the windows ending by then have all their packets read
    last_read: int | None = None  # position of the last packet read (see _position)
    with _opened(_open_indexed, src, format, format_options) as container:
        stream = _pick_stream(container, "video", name)
        if _pts_in_decode_order(stream):  # spans are timed by presentation times
            raise UnknownPacketOrder(f"{name}: the packets carry decode times only (AVI).")
        for window in windows:
            if window[1] <= read_until:
                continue
            start = window[0] if spans or window[0] > 0 else None
            first, skipping = True, False
            with (
                _DemuxTurn(src) as turn,
                _positioned(container, stream, name, "video", start, not spans) as demuxer,
            ):
                for packet in _iter_packets(demuxer, _end_ts(stream, window)):
                    turn.tick()
                    position = _position(packet)
                    if position is None:
                        raise UnknownPacketOrder(f"{name}: a packet has no byte offset.")
                    if first:
                        first = False
                        if packet.pts is None and packet.dts is None:  # a raw elementary stream
                            raise UnknownPacketOrder(f"{name}: the packets carry no timestamps.")
                        # Landed at or before the last packet read: this window continues the span.
                        skipping = last_read is not None and position <= last_read
                        if skipping:
                            start = spans[-1].timestamp[0]  # type: ignore[index]  # spans have windows
                            spans[-1].timestamp = (start, window[1])
                        else:
                            spans.append(_new_packets(stream, "video", name, window))
                    if skipping:
                        # The span holds these already; add from the first packet after them.
                        if last_read is not None and position <= last_read:
                            continue
                        skipping = False
                    spans[-1].add_demuxed(packet)
                    last_read = position
            read_until = max(read_until, window[1])
    if not spans:
        raise MediaError(f"Failed to demux {name}: no video packet found in the windows {windows}.")
    return spans
