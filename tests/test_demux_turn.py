"""Packet loops of paths and in-memory data take turns (``_DemuxTurn``).

PyAV releases the GIL around each packet read, so two loops running at once would
hand the GIL to each other on every packet. These tests check who takes the turn,
that it is always given back (also when demuxing fails half-way), that a slow
source gives it back early, and that loops taking turns still read the same packets.
"""

from __future__ import annotations

import contextlib
import io
import os
import pathlib
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import av
import numpy as np
import pytest
from media import AudioReference, VideoReference

import spdl.io
from spdl.io import AsyncIOFailure, MediaError
from spdl.io._core import demux as _demux

_Turn = _demux._DemuxTurn


@pytest.fixture(autouse=True)
def _demux_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Turns are taken by packet loops that run in the loading process."""
    monkeypatch.setenv("SPDL_DEMUX_PROCESSES", "0")


def _free_for_others() -> bool:
    """Whether another thread can take the turn right now."""
    result: list[bool] = []

    def probe() -> None:
        got = _Turn._lock.acquire(timeout=0.05)
        if got:
            _Turn._lock.release()
        result.append(got)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return result[0]


class _WatchedReader(io.BytesIO):
    """Records, on each read, whether another thread could take the turn."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.free_during_reads: list[bool] = []

    def read(self, size: int | None = -1) -> bytes:
        self.free_during_reads.append(_free_for_others())
        return super().read(size)


def _watch_demuxers(monkeypatch: pytest.MonkeyPatch, on_packet: Callable[[], None]) -> None:
    """Calls ``on_packet`` as each non-empty packet comes out of PyAV's demuxer (the
    native packet loop draws them from the iterator ``_demux._demuxer`` gives it)."""
    original = _demux._demuxer

    @contextlib.contextmanager
    def watched(container, stream, name: str) -> Iterator[Iterator]:
        with original(container, stream, name) as demuxer:

            def each() -> Iterator:
                for packet in demuxer:
                    if packet.size:
                        on_packet()
                    yield packet

            yield each()

    monkeypatch.setattr(_demux, "_demuxer", watched)


@pytest.fixture
def free_while_adding(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each packet read from now on, whether another thread could take the turn."""
    # Each probe waits 50 ms for the turn, which would make the source look slow.
    monkeypatch.setattr(_Turn, "_SLOW_S", 1e9)
    seen: list[bool] = []
    _watch_demuxers(monkeypatch, lambda: seen.append(_free_for_others()))
    return seen


def test_in_memory_data_holds_the_turn_while_its_packets_are_read(
    aac_audio: AudioReference, free_while_adding: list[bool]
) -> None:
    packets = _demux.demux("audio", aac_audio.path.read_bytes())
    assert len(free_while_adding) == len(packets) > 10
    assert not any(free_while_adding)
    assert _free_for_others()


def test_a_path_holds_the_turn_and_a_file_like_object_never_does(
    aac_audio: AudioReference, free_while_adding: list[bool]
) -> None:
    _demux.demux("audio", aac_audio.path)
    assert free_while_adding and not any(free_while_adding)

    free_while_adding.clear()
    reader = _WatchedReader(aac_audio.path.read_bytes())
    _demux.demux("audio", reader)
    # The caller's own reads (which may wait on a network) never run inside a turn.
    assert free_while_adding and all(free_while_adding)
    assert reader.free_during_reads and all(reader.free_during_reads)


def test_the_turn_is_given_back_when_demuxing_fails_half_way(
    aac_audio: AudioReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 0

    def fail_every_fifth() -> None:
        nonlocal count
        count += 1
        if count % 5 == 0:
            raise MediaError("the fifth packet does not fit")

    _watch_demuxers(monkeypatch, fail_every_fifth)
    for src in (aac_audio.path, aac_audio.path.read_bytes()):
        with pytest.raises(AsyncIOFailure, match="fifth packet"):
            spdl.io.demux_media("audio", src).result()
        assert _free_for_others()
        with pytest.raises(MediaError, match="fifth packet"):
            spdl.io.load_audio(src)
        assert _free_for_others()


def test_a_demux_error_half_way_names_the_source_and_ffmpegs_message(
    aac_audio: AudioReference, h264_video: VideoReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PyAV raises FFmpeg's error from its packet iterator, which the native packet
    # loop draws; the demux layer must turn it into a MediaError naming the source.
    count = 0

    def fail_at_the_tenth() -> None:
        nonlocal count
        count += 1
        if count == 10:
            raise av.error.InvalidDataError(-1094995529, "Invalid data found when processing input")

    _watch_demuxers(monkeypatch, fail_at_the_tenth)
    audio_bytes = aac_audio.path.read_bytes()
    cases = [
        (lambda: spdl.io.load_audio(aac_audio.path), aac_audio.path),
        (lambda: spdl.io.demux_media("audio", audio_bytes).result(), audio_bytes),
        (lambda: spdl.io.load_video(h264_video.path), h264_video.path),
    ]
    for load, src in cases:
        count = 0
        with pytest.raises((MediaError, AsyncIOFailure)) as info:
            load()
        message = str(info.value)
        assert f"Failed to demux {_demux.describe_source(src)}" in message
        assert "Invalid data found when processing input" in message
        assert count == 10
        assert _free_for_others()


def test_a_slow_source_gives_its_turn_back(
    aac_audio: AudioReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 64 packets in 64 ms: reads of 1 ms each (a network file system) are I/O.
    clock = iter(np.arange(0.0, 100.0, 0.064))
    monkeypatch.setattr(_demux.time, "perf_counter", lambda: float(next(clock)))
    with _Turn(aac_audio.path) as turn:
        for _ in range(_Turn._CHECK_EVERY - 1):
            turn.tick()
        assert not _free_for_others()
        turn.tick()
        assert _free_for_others()
        for _ in range(3 * _Turn._CHECK_EVERY):
            turn.tick()
        assert _free_for_others()
    assert _free_for_others()


def test_a_fast_source_keeps_its_turn_to_the_end(aac_audio: AudioReference) -> None:
    with _Turn(aac_audio.path) as turn:
        for _ in range(4 * _Turn._CHECK_EVERY):
            turn.tick()
        assert not _free_for_others()
    assert _free_for_others()


def test_loops_taking_turns_on_four_threads_read_what_one_thread_reads(
    aac_audio: AudioReference, h264_video: VideoReference
) -> None:
    sources: list[tuple[str, pathlib.Path | bytes]] = [
        ("audio", aac_audio.path),
        ("audio", aac_audio.path.read_bytes()),
        ("video", h264_video.path),
        ("video", h264_video.path.read_bytes()),
    ] * 4

    def load(item: tuple[str, pathlib.Path | bytes]) -> np.ndarray:
        kind, src = item
        loader = spdl.io.load_audio if kind == "audio" else spdl.io.load_video
        return np.asarray(loader(src))

    expected = [load(item) for item in sources]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(load, sources))
    for want, have in zip(expected, got, strict=True):
        np.testing.assert_array_equal(have, want)
    assert _free_for_others()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_another_thread_holds_the_turn_can_demux(
    aac_audio: AudioReference,
) -> None:
    if "cupy" in sys.modules or "PyNvVideoCodec" in sys.modules:
        # On the GPU machine, a fork after the GPU tests had run in this process
        # segfaulted in os.fork (CUDA does not support forking an initialised process).
        pytest.skip("this process may have initialised CUDA, which does not support fork")
    held, done = threading.Event(), threading.Event()

    def hold_turn() -> None:
        with _Turn(aac_audio.path):
            held.set()
            done.wait(30)

    holder = threading.Thread(target=hold_turn)
    holder.start()
    try:
        assert held.wait(30)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # forking with threads
            pid = os.fork()
        if pid == 0:  # the child: exit 0 only if it demuxes within the alarm
            signal.alarm(20)
            try:
                packets = _demux.demux("audio", aac_audio.path)
                os._exit(0 if len(packets) > 10 else 1)
            except BaseException:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
    finally:
        done.set()
        holder.join()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
