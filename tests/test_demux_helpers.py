"""Demux helper processes (``spdl.io._runtime.demux_pool``): PyAV demuxes paths and in-memory
data in a few persistent helper processes, so that the loading threads take no GIL
per packet.

These tests check that the packets, arrays and errors are those of the in-thread
demux, bit for bit; that a helper killed mid-load fails that load only and is
replaced; that cancelling reaches the helper; that helpers serve many threads,
forked and spawned children and DataLoader workers; and that no helper process or
shared-memory entry outlives its use.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import multiprocessing
import os
import pathlib
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from _demux_child import AudioDataset, load_futures_in_child, load_in_child
from _media import Media
from media import AudioReference, VideoReference

import spdl.io
from spdl import _native
from spdl.io._core import decode as _decode
from spdl.io._core import demux as _demux
from spdl.io._runtime import demux_pool as _demux_pool
from spdl.io._runtime import executor as _executor

pytest_plugins = ["_aio_fixtures"]

TIMEOUT_S = 60
pytestmark = pytest.mark.skipif(
    not _demux_pool._SUPPORTED, reason="demux helpers need Linux (memfd_create, SCM_RIGHTS)"
)


def _shm() -> set[str]:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return stream.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _ended(pid: int) -> bool:
    """Whether every thread of process ``pid`` has ended (it can be waited for): its
    main thread shows as a zombie while the others are still being torn down."""
    try:
        with open(f"/proc/{pid}/status") as stream:
            fields = dict(line.split(":", 1) for line in stream if ":" in line)
    except FileNotFoundError:
        return True
    return fields["State"].split()[0] == "Z" and int(fields["Threads"]) == 1


def _wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _helper_children() -> list[int]:
    """Live processes running a demux helper among this process's children."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stream:
                fields = stream.read().rpartition(")")[2].split()
            with open(f"/proc/{entry}/cmdline", "rb") as stream:
                command = stream.read()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"demux_worker" in command:
            found.append(int(entry))
    return found


@pytest.fixture(scope="module", autouse=True)
def no_leftovers() -> Iterator[None]:
    """After every test of this module: no helper runs and /dev/shm is as it was."""
    before = _shm()
    yield
    _demux_pool.shutdown()
    assert _helper_children() == []
    assert _shm() <= before


@contextlib.contextmanager
def in_this_process() -> Iterator[None]:
    """Demux in the calling thread (today's path) while inside."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(_executor.DEMUX_PROCESSES_ENV, "0")
        yield


def _packed(packets: Any) -> bytes:
    return _native.packed_bytes(packets if isinstance(packets, list) else [packets])


def _fifo(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "stalled.mp4"
    os.mkfifo(path)
    return path


@contextlib.contextmanager
def _stalled_reader(fifo: pathlib.Path) -> Iterator[Callable[[], int]]:
    """Holds the FIFO's write end open, once a helper opened it for reading, without
    writing: the helper's demux waits. Yields a function giving that helper's pid."""
    fd = -1

    def writer_opened() -> bool:
        nonlocal fd
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: nobody reads it yet
            return False
        return True

    def holder() -> int | None:
        for pid in _demux_pool.helper_pids():
            with contextlib.suppress(OSError):
                for link in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        if os.readlink(f"/proc/{pid}/fd/{link}") == str(fifo):
                            return pid
        return None

    def reader() -> int:
        # The helper's open() returns once the write end is open: a moment later.
        assert _wait_until(lambda: holder() is not None, TIMEOUT_S)
        pid = holder()
        assert pid is not None
        return pid

    try:
        assert _wait_until(writer_opened, TIMEOUT_S)
        yield reader
    finally:
        if fd >= 0:
            os.close(fd)
        stuck = holder()  # only when the test failed: a helper that reopens would wait
        if stuck is not None:
            os.kill(stuck, signal.SIGKILL)


################################################################################
# The same packets, arrays and errors as the in-thread demux
################################################################################


SOURCES = {
    "video path": lambda m: ("video", m["video"].path, None, {}),
    "video window": lambda m: ("video", m["video"].path, (0.5, 1.5), {}),
    "video bytes": lambda m: ("video", m["video"].path.read_bytes(), (1, 2), {}),
    "video bytearray, window in Fractions": lambda m: (
        "video",
        bytearray(m["video"].path.read_bytes()),
        (Fraction(1, 3), Fraction(5, 3)),
        {},
    ),
    "MPEG-TS path": lambda m: ("video", m["mpegts"], None, {}),
    "AAC path, window": lambda m: ("audio", m["aac"].path, (0.3, 1.1), {}),
    "WAV memoryview": lambda m: ("audio", memoryview(m["wav"].path.read_bytes()), None, {}),
    "forced format": lambda m: ("audio", m["wav"].path, None, {"format": "wav"}),
}


@pytest.fixture
def media(
    h264_video: VideoReference,
    h264_video_mpegts: pathlib.Path,
    aac_audio: AudioReference,
    wav_audio: AudioReference,
) -> dict[str, Any]:
    return {
        "video": h264_video,
        "mpegts": h264_video_mpegts,
        "aac": aac_audio,
        "wav": wav_audio,
    }


@pytest.mark.parametrize("source", SOURCES)
def test_packets_from_a_helper_equal_the_in_thread_demux_bit_for_bit(
    media: dict[str, Any], source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    media_type, src, window, options = SOURCES[source](media)
    expected = _demux.demux(media_type, src, window, **options)
    assert _demux_pool.wanted(src)
    monkeypatch.setattr(_demux, "demux", None)  # not callable here: a helper demuxes
    packets = _demux_pool.demux(media_type, src, window, **options)
    assert type(packets) is type(expected)
    assert packets.src == expected.src and repr(packets) == repr(expected)
    # Every field: bytes, pts, dts, duration, key flags, side data, codec parameters.
    assert _packed(packets) == _packed(expected)


def test_a_relative_path_is_opened_in_the_callers_directory(
    h264_video: VideoReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(h264_video.path.parent)
    expected = _demux.demux("video", h264_video.path.name, (0, 1))
    packets = _demux_pool.demux("video", h264_video.path.name, (0, 1))
    assert packets.src == h264_video.path.name
    assert _packed(packets) == _packed(expected)


@pytest.mark.parametrize("count", [0, 2])
def test_a_relative_path_in_a_deleted_directory_is_named(
    count: int, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    spdl.io.set_executor_sizes(demux_processes=count)
    try:
        for load in (spdl.io.load_video, spdl.io.load_audio):
            with pytest.raises(FileNotFoundError, match="clip.mp4"):
                load("clip.mp4")
    finally:
        _executor._sizes.pop("demux_processes", None)


def _map_count() -> int:
    """The entries of this process's memory map (``vm.max_map_count`` caps them)."""
    with open("/proc/self/maps") as stream:
        return sum(1 for _ in stream)


def test_kept_packets_from_a_helper_hold_no_memory_map_each(
    h264_video: VideoReference, aac_audio: AudioReference
) -> None:
    sources = [("audio", aac_audio.path, None), ("video", h264_video.path, (0.5, 1.5))]
    expected = [_demux.demux(media_type, path, window) for media_type, path, window in sources]
    _demux_pool.demux("audio", aac_audio.path)  # a helper started, its first reply taken
    before = _map_count()
    kept = [_demux_pool.demux(*sources[index % 2]) for index in range(300)]
    # Each kept its reply's mapping: 300 more entries, and ~64k of them exhausted the
    # process's map (every later mmap, and so most large allocations, failed).
    assert _map_count() - before < 30
    for index, packets in enumerate(kept):
        assert _packed(packets) == _packed(expected[index % 2])

    def decoded(packets: Any) -> np.ndarray:
        frames = spdl.io.decode_packets(packets).result(TIMEOUT_S)
        return np.asarray(spdl.io.convert_frames(frames).result(TIMEOUT_S))

    for packets, reference in zip(kept[:2], expected, strict=True):
        assert np.array_equal(decoded(packets), decoded(reference))


# Demuxes a WAV of over 1 MiB (its reply is mapped, not copied) with the address
# space capped just above what the process uses: the mapping fails here.
_NO_ROOM_SCRIPT = """
import resource, sys
from spdl.io._runtime import demux_pool
first = demux_pool.demux("audio", sys.argv[1])  # a helper, started and warm
(pid,) = demux_pool.helper_pids()
with open("/proc/self/status") as status:
    size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (size + (1 << 20), hard))
try:
    demux_pool.demux("audio", sys.argv[1])
    print("no error")
except BaseException as error:
    print(type(error).__name__, error)
resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
again = demux_pool.demux("audio", sys.argv[1])
print(demux_pool.helper_pids() == [pid], len(again) == len(first))
"""


def test_no_memory_for_a_reply_is_this_process_memory_error(tmp_path: pathlib.Path) -> None:
    import sys
    import wave

    path = tmp_path / "long.wav"
    with wave.open(str(path), "wb") as out:  # 8 s of 16-bit stereo: 1.4 MB of packets
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        samples = np.random.default_rng(0).integers(-3000, 3000, 44100 * 2 * 8, dtype=np.int16)
        out.writeframes(samples.tobytes())
    command = [sys.executable, "-c", _NO_ROOM_SCRIPT, str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    error, kept = result.stdout.splitlines()
    # Not "the demux helper process broke the protocol", and the helper is kept.
    assert error.startswith(f"MemoryError Failed to demux {path}: this process could not map")
    assert kept == "True True"


def test_spans_and_streamed_windows_equal_the_in_thread_demux(
    h264_video: VideoReference, aac_audio: AudioReference
) -> None:
    windows = [(0.1, 0.5), (0.4, 0.9), (2.0, 2.6)]
    expected = _demux.demux_spans(h264_video.path, windows)
    assert _packed(_demux_pool.demux_spans(h264_video.path, windows)) == _packed(expected)
    for media_type, path in (("video", h264_video.path), ("audio", aac_audio.path)):
        data = path.read_bytes()
        expected = list(_demux.iter_demux(media_type, data, windows))
        streamed = list(_demux_pool.iter_demux(media_type, data, windows))
        assert _packed(streamed) == _packed(expected)


def test_every_loader_gives_the_in_thread_arrays(
    aio_media: Media,
    h264_video: VideoReference,
    aac_audio: AudioReference,
    wav_audio: AudioReference,
) -> None:
    windows = [(0.0, 0.5), (1.2, 2.0), (1.5, 2.5)]
    loads: list[Callable[[], Any]] = [
        lambda: spdl.io.load_audio(aac_audio.path),  # in-thread: chunk by chunk
        lambda: spdl.io.load_audio(aac_audio.path.read_bytes(), timestamp=(0.25, 1.5)),
        lambda: spdl.io.load_audio(wav_audio.path, sample_fmt="s16"),
        lambda: spdl.io.load_video(h264_video.path, width=32, height=32),
        lambda: spdl.io.load_video(h264_video.path.read_bytes(), timestamp=(1, 2)),
        lambda: spdl.io.load_video_windows(h264_video.path, windows, width=24, height=16),
        lambda: spdl.io.load_video_windows(h264_video.path, windows, num_frames=4),  # per window
        lambda: spdl.io.load_media("audio", aio_media.video),  # the video file's AAC track
    ]
    with in_this_process():
        expected = [_arrays(load()) for load in loads]
    with pytest.MonkeyPatch.context() as patch:
        _refuse_in_thread(patch)
        for load, want in zip(loads, expected, strict=True):
            got = _arrays(load())
            assert len(got) == len(want)
            assert all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))


def test_still_images_are_demuxed_in_the_loading_thread(aio_media: Media) -> None:
    # One packet each: a helper's round trip would cost more than the GIL take it saves.
    sources = [aio_media.jpeg, aio_media.png, aio_media.jpeg_bytes, aio_media.png_bytes]
    with in_this_process():
        expected = [np.asarray(spdl.io.load_image(src)) for src in sources]
        packets = spdl.io.demux_media("image", aio_media.jpeg).result(TIMEOUT_S)
    with pytest.MonkeyPatch.context() as patch:

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("sent to a helper")

        patch.setattr(_demux_pool, "_single", refuse)
        for src, want in zip(sources, expected, strict=True):
            assert np.array_equal(np.asarray(spdl.io.load_image(src)), want)
        again = spdl.io.demux_media("image", aio_media.jpeg).result(TIMEOUT_S)
    assert _packed(again) == _packed(packets)


def _arrays(result: Any) -> list[np.ndarray]:
    return [np.asarray(each) for each in (result if isinstance(result, list) else [result])]


def _refuse_in_thread(patch: pytest.MonkeyPatch) -> None:
    """Makes the in-thread demux fail: what passes was demuxed by a helper."""

    _refuse_demux_here(patch)
    # However many audio loads run at once (see the tests of the audio policy below).
    patch.setattr(_demux_pool._audio, "contended", lambda: True)


def _refuse_demux_here(patch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("demuxed in the loading process")

    for name in ("demux", "demux_spans", "iter_demux", "demux_audio_chunks"):
        patch.setattr(_demux, name, refuse)


def test_streaming_demux_futures_equal_the_in_thread_demux(aio_media: Media) -> None:
    windows = [(0, 1), (1, 2), (2, 3)]
    for media_type in ("video", "audio"):
        expected = list(_demux.iter_demux(media_type, aio_media.video, windows))
        futures = spdl.io.streaming_demux(media_type, aio_media.video, windows)
        assert _packed([f.result(TIMEOUT_S) for f in futures]) == _packed(expected)


@pytest.mark.parametrize(
    "make_source",
    [
        lambda m: ("video", "no/such/file.mp4"),
        lambda m: ("video", b"\x00\x01not media at all" * 8),
        lambda m: ("video", m.truncated_video),
        lambda m: ("audio", m.long_video),  # no audio stream
        lambda m: ("video", b""),
    ],
)
def test_errors_are_the_in_thread_errors(aio_media: Media, make_source: Callable) -> None:
    media_type, src = make_source(aio_media)
    with pytest.raises(Exception) as in_thread:
        _demux.demux(media_type, src)
    with pytest.raises(type(in_thread.value)) as from_helper:
        _demux_pool.demux(media_type, src)
    assert str(from_helper.value) == str(in_thread.value)
    # The helper that reported it serves the next load.
    pids = _demux_pool.helper_pids()
    _demux_pool.demux("video", aio_media.video)
    assert _demux_pool.helper_pids() == pids


def _failure(load: Callable[[], Any]) -> BaseException:
    with pytest.raises(Exception) as failure:
        load()
    return failure.value


@pytest.mark.parametrize("loader", ["load_audio", "load_video", "load_media"])
@pytest.mark.parametrize("source", ["not media", "a directory", "truncated"])
def test_errors_keep_the_in_thread_cause(
    aio_media: Media, tmp_path: pathlib.Path, loader: str, source: str
) -> None:
    src = {
        "not media": b"\x00\x01not media at all" * 8,
        "a directory": tmp_path,  # the OS's error, through PyAV
        "truncated": aio_media.truncated_video,
    }[source]
    media_type = "video" if loader == "load_video" else "audio"
    load = {
        "load_audio": lambda: spdl.io.load_audio(src),
        "load_video": lambda: spdl.io.load_video(src),
        "load_media": lambda: spdl.io.load_media(media_type, src),
    }[loader]
    with in_this_process():
        in_thread = _failure(load)
    with pytest.MonkeyPatch.context() as patch:
        _refuse_in_thread(patch)
        from_helper = _failure(load)
    assert type(from_helper) is type(in_thread) and str(from_helper) == str(in_thread)
    # load_media wraps the MediaError (its cause) in AsyncIOFailure: compare the chain.
    while in_thread.__cause__ is not None:
        in_thread, from_helper = in_thread.__cause__, from_helper.__cause__
        assert type(from_helper) is type(in_thread), (in_thread, from_helper)
        assert str(from_helper) == str(in_thread)
        assert getattr(from_helper, "errno", None) == getattr(in_thread, "errno", None)
    assert from_helper.__cause__ is None


class _OwnError(Exception):
    """A type the loading process does not rebuild."""


def test_a_cause_of_another_type_arrives_as_a_stand_in_naming_it() -> None:
    from spdl.io._runtime import demux_worker as _demux_worker

    error = spdl.io.MediaError("Failed to demux x")
    error.__cause__ = _OwnError("the reason", 3)
    cause = _demux_worker.rebuild_cause(_demux_worker.describe_cause(error))
    assert type(cause) is _demux_worker.DemuxHelperCause
    assert str(cause) == f"{__name__}._OwnError: ('the reason', 3)"
    error.__cause__ = KeyError("key")  # Python's own: rebuilt from its arguments
    cause = _demux_worker.rebuild_cause(_demux_worker.describe_cause(error))
    assert type(cause) is KeyError and cause.args == ("key",)


def test_file_like_sources_and_a_count_of_zero_demux_in_the_calling_thread(
    aio_media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not _demux_pool.wanted(io.BytesIO(aio_media.png_bytes))
    assert not _demux_pool.wanted(memoryview(aio_media.png_bytes)[::2])  # not contiguous
    spdl.io.set_executor_sizes(demux_processes=0)
    try:
        assert not _demux_pool.wanted(aio_media.video)
    finally:
        _executor._sizes.pop("demux_processes", None)
    monkeypatch.setenv(_executor.DEMUX_PROCESSES_ENV, "3")
    assert _executor.demux_processes() == 3
    monkeypatch.setenv(_executor.DEMUX_PROCESSES_ENV, "some")
    with pytest.raises(ValueError, match="SPDL_DEMUX_PROCESSES"):
        _demux_pool.wanted(aio_media.video)
    with pytest.raises(ValueError, match="demux_processes"):
        spdl.io.set_executor_sizes(demux_processes=-1)


################################################################################
# A helper that dies, cancellation, concurrency
################################################################################


def test_a_helper_killed_mid_load_fails_that_load_and_is_replaced(
    aio_media: Media, tmp_path: pathlib.Path
) -> None:
    fifo = _fifo(tmp_path)
    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(spdl.io.load_video, fifo)
        with _stalled_reader(fifo) as reader:
            victim = reader()
            os.kill(victim, signal.SIGKILL)
            with pytest.raises(spdl.io.AsyncIOFailure, match="SIGKILL") as failure:
                load.result(TIMEOUT_S)
    assert failure.value.phase == "demux" and failure.value.src == str(fifo)
    assert str(fifo) in str(failure.value)
    assert not _alive(victim) and victim not in _demux_pool.helper_pids()
    assert spdl.io.load_video(aio_media.video).shape[0] == 90  # a new helper serves


def test_cancelling_a_load_mid_demux_stops_its_helper(
    aio_media: Media, tmp_path: pathlib.Path
) -> None:
    fifo = _fifo(tmp_path)
    with ThreadPoolExecutor(1) as pool:
        future = spdl.io.demux_media("video", fifo, executor=pool)
        with _stalled_reader(fifo) as reader:
            helper = reader()
            assert future.cancel()
            assert _wait_until(lambda: not _alive(helper))
        assert pool.submit(lambda: "free").result(TIMEOUT_S) == "free"
    assert future.cancelled()
    packets = spdl.io.demux_media("video", aio_media.video).result(TIMEOUT_S)
    assert len(packets) == 90


def test_cancelling_a_stream_mid_demux_stops_its_helper(
    aio_media: Media, tmp_path: pathlib.Path
) -> None:
    fifo = _fifo(tmp_path)
    with ThreadPoolExecutor(1) as pool:
        futures = spdl.io.streaming_demux("video", fifo, [(0, 1), (1, 2)], executor=pool)
        with _stalled_reader(fifo) as reader:
            helper = reader()
            assert all(future.cancel() for future in futures)
            assert _wait_until(lambda: not _alive(helper))
        assert pool.submit(lambda: "free").result(TIMEOUT_S) == "free"  # the task ended
    packets = spdl.io.demux_media("video", aio_media.video).result(TIMEOUT_S)
    assert len(packets) == 90


@pytest.mark.usefixtures("no_idle_helpers")
def test_a_helper_that_died_while_idle_is_not_handed_to_the_next_load(
    aio_media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_executor.DEMUX_PROCESSES_ENV, "1")
    assert spdl.io.load_video(aio_media.video).shape[0] == 90
    (idle,) = _demux_pool.helper_pids()
    os.kill(idle, signal.SIGKILL)
    assert _wait_until(lambda: _ended(idle))
    # Nothing was asked of it: the next load gets a new helper instead of its death.
    assert spdl.io.load_video(aio_media.video).shape[0] == 90
    assert idle not in _demux_pool.helper_pids()


@pytest.mark.usefixtures("no_idle_helpers")
def test_a_helper_killed_while_idle_does_not_fail_the_next_load(
    aio_media: Media, aac_audio: AudioReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    with in_this_process():
        video = np.asarray(spdl.io.load_video(aio_media.video))
        audio = np.asarray(spdl.io.load_audio(aac_audio.path))
    monkeypatch.setenv(_executor.DEMUX_PROCESSES_ENV, "1")
    _refuse_in_thread(monkeypatch)
    loads = [
        (lambda: spdl.io.load_video(aio_media.video), video),
        (lambda: spdl.io.load_audio(aac_audio.path), audio),
    ]
    for attempt in range(8):
        load, expected = loads[attempt % 2]
        assert np.array_equal(np.asarray(load()), expected)
        (idle,) = _demux_pool.helper_pids()
        os.kill(idle, signal.SIGKILL)
        # At once: the pool may still see it alive and hand it out; it takes no request,
        # so the request goes to a new helper instead of failing with its death.
        assert np.array_equal(np.asarray(load()), expected)
        assert idle not in _demux_pool.helper_pids()


def test_a_path_whose_name_is_not_utf8_loads_and_is_named(
    aio_media: Media, tmp_path: pathlib.Path
) -> None:
    path = os.path.join(os.fsencode(tmp_path), b"clip-\xff.mp4")
    shutil.copyfile(aio_media.video, path)
    name = os.fsdecode(path)  # the str form Python gives such a name (surrogate escapes)
    for processes in ("0", "2"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(_executor.DEMUX_PROCESSES_ENV, processes)
            assert spdl.io.load_video(name, (0, 1)).shape[0] == 30
            packets = spdl.io.demux_media("video", name).result(TIMEOUT_S)
            assert packets.src.endswith("clip-\\xff.mp4")


def test_shutting_down_ends_the_helpers_and_the_loads_waiting_on_them(
    tmp_path: pathlib.Path,
) -> None:
    fifo = _fifo(tmp_path)
    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(_demux_pool.demux, "video", fifo)
        with _stalled_reader(fifo) as reader:
            pid = reader()
            _demux_pool.shutdown()  # as at interpreter exit
            # The thread waiting on the helper's socket is told, though it polls it.
            # The message says why, not that the helper "exited with status 0".
            with pytest.raises(spdl.io.AsyncIOFailure, match="shut down .interpreter exit"):
                load.result(TIMEOUT_S)
    assert not _alive(pid) and _demux_pool.helper_pids() == []


@pytest.fixture
def no_idle_helpers() -> None:
    """Starts with no helper, whatever earlier tests (of any module) left idle."""
    _demux_pool.shutdown()
    assert _demux_pool.helper_pids() == []


@pytest.mark.usefixtures("no_idle_helpers")
def test_leaving_a_stream_early_gives_its_helper_back(aio_media: Media) -> None:
    stream = _demux_pool.iter_demux("video", aio_media.long_video, [(0, 1), (1, 2), (2, 3)])
    assert next(stream).timestamp == (0, 1)
    (helper,) = _demux_pool.helper_pids() or [None]
    stream.close()  # the helper was demuxing the next window: that reply is dropped
    assert helper is not None and _alive(helper)
    assert _demux_pool.helper_pids() == [helper]
    windows = [(0, 1), (1, 2)]
    expected = _packed(list(_demux.iter_demux("audio", aio_media.video, windows)))
    assert _packed(list(_demux_pool.iter_demux("audio", aio_media.video, windows))) == expected
    assert _demux_pool.helper_pids() == [helper]  # the same helper served it


def _leave_early(form: str, src: pathlib.Path, windows: list[tuple[float, float]]) -> None:
    if form == "futures cancelled":
        futures = spdl.io.streaming_demux("video", src, windows)
        futures[0].result(TIMEOUT_S)
        for future in futures:
            future.cancel()
    elif form == "async for, break":

        async def first() -> None:
            async for _ in spdl.io.async_streaming_demux("video", src, windows):
                break

        asyncio.run(first())
    elif form == "iterator closed":
        stream = _demux_pool.iter_demux("video", src, windows)
        next(stream)
        stream.close()
    else:  # a single demux whose Future is cancelled while its reply is on its way

        async def cancelled() -> None:
            load = asyncio.ensure_future(spdl.io.async_demux_media("video", src))
            await asyncio.sleep(0.002)
            load.cancel()
            await asyncio.gather(load, return_exceptions=True)

        asyncio.run(cancelled())


@pytest.mark.usefixtures("no_idle_helpers")
def test_streams_left_early_keep_their_helpers(aio_media: Media) -> None:
    windows = [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5), (1.5, 2.0)]
    forms = ["futures cancelled", "async for, break", "iterator closed", "single cancelled"]
    spdl.io.set_executor_sizes(demux_processes=2)
    try:
        started = set()
        for _ in range(5):
            for form in forms:
                _leave_early(form, aio_media.video, windows)
                started.update(_demux_pool.helper_pids())
        # A helper killed on each would have made one new helper per stream (20).
        assert len(started) <= 3
        streamed = [
            future.result(TIMEOUT_S)
            for future in spdl.io.streaming_demux("video", aio_media.video, windows)
        ]
        started.update(_demux_pool.helper_pids())
        assert len(started) <= 3
    finally:
        _executor._sizes.pop("demux_processes", None)
    assert _packed(streamed) == _packed(list(_demux.iter_demux("video", aio_media.video, windows)))


@pytest.mark.usefixtures("no_idle_helpers")
def test_an_audio_load_whose_decode_fails_stops_its_helper(aac_audio: AudioReference) -> None:
    # The decoder fails on the first chunk, while the helper may still send the others.
    with in_this_process(), pytest.raises(spdl.io.MediaError) as in_thread:
        spdl.io.load_audio(aac_audio.path, filter_desc="no_such_filter")
    with pytest.raises(spdl.io.MediaError) as from_helper:
        spdl.io.load_audio(aac_audio.path, filter_desc="no_such_filter")
    assert str(from_helper.value) == str(in_thread.value)
    assert _demux_pool.helper_pids() == []  # stopped, not given back mid-stream
    with in_this_process():
        expected = np.asarray(spdl.io.load_audio(aac_audio.path))
    assert np.array_equal(np.asarray(spdl.io.load_audio(aac_audio.path)), expected)


def test_a_helper_audio_load_names_the_phase_that_failed(aac_audio: AudioReference) -> None:
    with pytest.raises(spdl.io.AsyncIOFailure) as missing:
        spdl.io.load_media("audio", "no/such/audio.m4a")
    assert missing.value.phase == "demux"
    assert isinstance(missing.value.__cause__, FileNotFoundError)
    with pytest.raises(spdl.io.AsyncIOFailure) as bad_filter:
        spdl.io.load_media("audio", aac_audio.path, decode_options={"filter_desc": "no_such"})
    assert bad_filter.value.phase == "decode"
    token = _native.CancelToken()
    token.cancel()
    plan = _decode.make_plan("audio", None, {})
    with pytest.raises(spdl.io.MediaError, match="cancelled"):
        _demux_pool.load_audio(aac_audio.path, None, plan, cancel=token)


def test_many_threads_share_the_helpers(
    aio_media: Media, aac_audio: AudioReference, h264_video: VideoReference
) -> None:
    loads: list[Callable[[], Any]] = [
        lambda: spdl.io.load_audio(aac_audio.path),
        lambda: spdl.io.load_video(h264_video.path.read_bytes(), timestamp=(0.5, 2)),
        lambda: spdl.io.load_video_windows(aio_media.video, [(0, 0.5), (2, 2.5)]),
        lambda: spdl.io.load_audio(aio_media.video, timestamp=(1, 2)),
    ]
    with in_this_process():
        expected = [_arrays(load()) for load in loads]
    spdl.io.set_executor_sizes(demux_processes=2)
    try:
        with pytest.MonkeyPatch.context() as patch, ThreadPoolExecutor(8) as pool:
            _refuse_in_thread(patch)
            results = list(pool.map(lambda i: _arrays(loads[i % 4]()), range(32)))
        assert len(_demux_pool.helper_pids()) <= 2
    finally:
        _executor._sizes.pop("demux_processes", None)
    for index, result in enumerate(results):
        want = expected[index % 4]
        assert all(np.array_equal(a, b) for a, b in zip(result, want, strict=True))


@pytest.mark.usefixtures("no_idle_helpers")
def test_idle_helpers_above_a_lowered_count_stop_at_the_next_load(aio_media: Media) -> None:
    spdl.io.set_executor_sizes(demux_processes=2)
    try:
        pool = _demux_pool._pool
        leased = [pool.lease() for _ in range(2)]  # as two loads at once would
        for helper in leased:
            pool.give_back(helper)
        started = _demux_pool.helper_pids()
        assert len(started) == 2
        spdl.io.set_executor_sizes(demux_processes=1)
        assert spdl.io.load_video(aio_media.video).shape[0] == 90
        assert len(_demux_pool.helper_pids()) == 1
        spdl.io.set_executor_sizes(demux_processes=0)  # nothing is leased again
        assert spdl.io.load_video(aio_media.video).shape[0] == 90
        assert _demux_pool.helper_pids() == []
        assert _wait_until(lambda: all(_ended(pid) for pid in started))
    finally:
        _executor._sizes.pop("demux_processes", None)


################################################################################
# Children, and processes that end
################################################################################


@pytest.mark.usefixtures("no_idle_helpers")
def test_a_fork_while_a_helper_starts_leaves_the_child_its_socket_to_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The child must know the helper to close its copy of the socket: else the helper's
    # death goes unseen by the parent while the child lives.
    started = threading.Event()
    real_popen = subprocess.Popen

    def slow_popen(*args: Any, **kwargs: Any) -> Any:
        started.set()
        time.sleep(0.5)  # a fork comes meanwhile
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(_demux_pool.subprocess, "Popen", slow_popen)
    with ThreadPoolExecutor(1) as pool:
        leasing = pool.submit(_demux_pool._pool.lease)
        assert started.wait(TIMEOUT_S)
        pid = os.fork()  # waits for the helper to be registered
        if pid == 0:
            inherited = _demux_pool._forgotten[-1]._all
            os._exit(0 if len(inherited) == 1 and all(h.fd == -1 for h in inherited) else 1)
        _, status = os.waitpid(pid, 0)
        helper = leasing.result(TIMEOUT_S)
    _demux_pool._pool.give_back(helper)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_helpers_work_in_forked_and_spawned_children(aio_media: Media, method: str) -> None:
    expected = np.asarray(spdl.io.load_video(aio_media.video, timestamp=(0, 1)))
    parents = _demux_pool.helper_pids()
    assert parents  # a forked child inherits live helpers' sockets, and must not use them
    context = multiprocessing.get_context(method)
    queue = context.Queue()
    child = context.Process(target=load_in_child, args=(str(aio_media.video), queue))
    child.start()
    checksum, shape, helpers = queue.get(timeout=TIMEOUT_S)
    child.join(TIMEOUT_S)
    assert child.exitcode == 0
    assert (checksum, shape) == (int(expected.sum()), expected.shape)
    assert helpers and not set(helpers) & set(parents)
    assert _wait_until(lambda: not any(map(_alive, helpers)))  # they end with the child
    assert _demux_pool.helper_pids() == parents


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_the_future_and_async_forms_work_in_forked_children(aio_media: Media, method: str) -> None:
    # The parent's pools have run work: their threads are not in a forked child (a
    # DataLoader worker), which must not give its work to them.
    path = str(aio_media.video)
    packets = spdl.io.demux_media("video", path, (0, 1)).result()  # the pools run work
    expected = np.asarray(spdl.io.convert_frames(spdl.io.decode_packets(packets).result()).result())
    context = multiprocessing.get_context(method)
    queue = context.Queue()
    child = context.Process(target=load_futures_in_child, args=(path, queue))
    child.start()
    reported = queue.get(timeout=TIMEOUT_S * 3)
    child.join(TIMEOUT_S)
    assert reported == (int(expected.sum()), int(expected.sum()))
    assert child.exitcode == 0


def test_helpers_work_in_a_torch_dataloader_worker(aac_audio: AudioReference) -> None:
    torch_data = pytest.importorskip("torch.utils.data")
    expected = np.asarray(spdl.io.load_audio(aac_audio.path))
    loader = torch_data.DataLoader(
        AudioDataset(str(aac_audio.path)), batch_size=None, num_workers=1
    )
    helpers = set()
    for array, pids in loader:
        assert np.array_equal(np.asarray(array), expected)
        helpers |= set(pids)
    assert helpers and not helpers & set(_demux_pool.helper_pids())
    assert _wait_until(lambda: not any(map(_alive, helpers)))


_SCRIPT = """
import sys, time
import spdl.io
from spdl.io._runtime import demux_pool as _demux_pool
spdl.io.load_audio(sys.argv[1])
print(*_demux_pool.helper_pids(), flush=True)
if sys.argv[2] == "wait":
    time.sleep(60)
"""


_RUNTIME_PATH_SCRIPT = """
import site, sys
site.addsitedir(sys.argv[1])  # what the interpreter alone does not know
import spdl.io
from spdl.io._runtime import demux_pool
spdl.io.set_executor_sizes(demux_processes=1)
frames = spdl.io.to_numpy(spdl.io.load_video(sys.argv[2], timestamp=(0, 1)))
print(frames.shape[0], len(demux_pool.helper_pids()), flush=True)
"""


def test_helpers_import_what_the_loading_process_added_to_its_path(aio_media: Media) -> None:
    # The base interpreter, with this environment's packages added at run time (as a
    # zipapp or a notebook does): the helper must find PyAV where the loader did.
    import subprocess
    import sys
    import sysconfig

    base = getattr(sys, "_base_executable", sys.executable)
    assert sys.prefix != sys.base_prefix and base != sys.executable, "run in a venv"
    site_packages = sysconfig.get_paths()["purelib"]
    command = [base, "-c", _RUNTIME_PATH_SCRIPT, site_packages, str(aio_media.video)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["30", "1"]


@pytest.mark.parametrize("end", ["exit", "SIGKILL"])
def test_no_helper_outlives_its_process(aac_audio: AudioReference, end: str) -> None:
    import subprocess
    import sys

    before = _shm()
    mode = "wait" if end == "SIGKILL" else "exit"
    command = [sys.executable, "-c", _SCRIPT, str(aac_audio.path), mode]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        helpers = [int(pid) for pid in process.stdout.readline().split()]
        if end == "SIGKILL":
            process.kill()
        assert process.wait(TIMEOUT_S) in (0, -signal.SIGKILL)
    assert helpers
    assert _wait_until(lambda: not any(map(_alive, helpers)))
    assert _shm() <= before


def test_loads_waiting_for_a_helper_get_one_when_it_dies(aio_media: Media) -> None:
    outcomes: list[str] = []

    def load() -> None:
        try:
            assert len(_demux_pool.demux("audio", aio_media.video)) > 0
            outcomes.append("loaded")
        except spdl.io.AsyncIOFailure as failure:
            assert "demux helper" in str(failure)
            outcomes.append("failed")

    spdl.io.set_executor_sizes(demux_processes=1)
    try:
        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        assert _wait_until(lambda: bool(_demux_pool.helper_pids()))
        with contextlib.suppress(IndexError, ProcessLookupError):
            os.kill(_demux_pool.helper_pids()[0], signal.SIGKILL)
        for thread in threads:
            thread.join(TIMEOUT_S)
    finally:
        _executor._sizes.pop("demux_processes", None)
    assert set(outcomes) <= {"failed", "loaded"} and len(outcomes) == 4
    assert len(_demux_pool.demux("audio", aio_media.video)) > 0


_TORCHRUN_SCRIPT = """
import os, sys
import numpy as np
import spdl.io
from spdl.io._runtime import demux_pool as _demux_pool
array = np.asarray(spdl.io.load_audio(sys.argv[1]))
line = " ".join(map(str, [float(array.sum()), *_demux_pool.helper_pids()]))
with open(os.path.join(sys.argv[2], "rank" + os.environ["RANK"]), "w") as out:
    out.write(line)  # a file per rank: the ranks' stdout lines may interleave
"""


def test_helpers_work_in_every_rank_under_torchrun(
    aac_audio: AudioReference, tmp_path: pathlib.Path
) -> None:
    import subprocess
    import sys

    pytest.importorskip("torch.distributed.run")
    expected = float(np.asarray(spdl.io.load_audio(aac_audio.path)).sum())
    script = tmp_path / "rank.py"
    script.write_text(_TORCHRUN_SCRIPT)
    before = _shm()
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node=2", str(script), str(aac_audio.path), str(tmp_path)]
    subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    lines = [(tmp_path / f"rank{rank}").read_text().split() for rank in (0, 1)]
    helpers: set[str] = set()
    for total, *pids in lines:
        assert float(total) == expected  # each rank loaded through its own helpers
        assert pids and not helpers & set(pids)
        helpers |= set(pids)
    assert _wait_until(lambda: not any(_alive(int(pid)) for pid in helpers))
    assert _shm() <= before


################################################################################
# Audio: through a helper while a core is free or the GIL is contended
################################################################################


@pytest.fixture
def audio_policy(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Sets the number of cores the policy sees; the GIL probe starts afresh."""
    monkeypatch.setattr(_demux_pool, "_audio", _demux_pool._AudioLoads())

    def cores(count: int) -> None:
        monkeypatch.setattr(_executor, "_cpu_count", lambda: count)

    return cores


def _refuse_helpers(patch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("sent to a helper")

    patch.setattr(_demux_pool, "load_audio", refuse)


def test_audio_uses_a_helper_while_a_core_is_free(
    aac_audio: AudioReference, audio_policy: Callable[[int], None]
) -> None:
    expected = np.asarray(spdl.io.load_audio(aac_audio.path))
    audio_policy(2)  # one load, two cores
    with pytest.MonkeyPatch.context() as patch:
        _refuse_in_thread(patch)
        patch.setattr(_demux_pool._audio, "contended", lambda: False)  # the core decides
        assert np.array_equal(np.asarray(spdl.io.load_audio(aac_audio.path)), expected)


def test_audio_demuxes_in_thread_when_the_loads_fill_the_cores_and_the_gil_is_free(
    aac_audio: AudioReference, audio_policy: Callable[[int], None]
) -> None:
    expected = np.asarray(spdl.io.load_audio(aac_audio.path))
    audio_policy(1)  # this load fills the only core: a helper would compete with it
    with pytest.MonkeyPatch.context() as patch:
        _refuse_helpers(patch)
        assert np.array_equal(np.asarray(spdl.io.load_audio(aac_audio.path)), expected)
    assert not _demux_pool._audio.contended()


def test_a_busy_python_thread_sends_audio_to_the_helpers(
    aac_audio: AudioReference, audio_policy: Callable[[int], None]
) -> None:
    expected = np.asarray(spdl.io.load_audio(aac_audio.path))
    audio_policy(1)
    stop, running = threading.Event(), threading.Event()

    def spin() -> None:  # a training loop: pure Python, holding the GIL
        count = 0
        while not stop.is_set():
            count += 1
            if count == 1000:
                running.set()

    busy = threading.Thread(target=spin)
    busy.start()
    try:
        assert running.wait(10)
        # On a loaded machine the busy thread may not be on a core when the probe lets
        # the GIL go (the probe then sees it free, and probes again later): probe until
        # it has seen the contention, as a training loop's next loads would.
        deadline = time.monotonic() + 10
        while not _demux_pool._audio.contended() and time.monotonic() < deadline:
            _demux_pool._audio.probed = -float("inf")
            time.sleep(0.01)
        with pytest.MonkeyPatch.context() as patch:
            _refuse_demux_here(patch)  # the GIL probe decides
            array = np.asarray(spdl.io.load_audio(aac_audio.path))
    finally:
        stop.set()
        busy.join()
    assert np.array_equal(array, expected)
    assert _demux_pool._audio.contended()  # remembered for a while after
