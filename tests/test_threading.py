"""Decoding from several Python threads at once gives the same arrays as one thread."""

from __future__ import annotations

import io
import os
import pathlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from media import AudioReference, ImageReference, VideoReference, encode_audio, sine_tone

import spdl.io
from spdl.io._api.phases import _streaming_demux

NUM_THREADS = 2
ROUNDS_PER_THREAD = 3


def run_in_threads(work: Callable[[], np.ndarray]) -> list[np.ndarray]:
    """Run ``work`` ROUNDS_PER_THREAD times on each of NUM_THREADS threads started together."""
    barrier = threading.Barrier(NUM_THREADS)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(ROUNDS_PER_THREAD):
                array = work()
                with lock:
                    results.append(array)
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(NUM_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    assert len(results) == NUM_THREADS * ROUNDS_PER_THREAD
    return results


def test_two_threads_decoding_one_video_match_a_single_thread_decode(
    h264_video: VideoReference,
) -> None:
    expected = spdl.io.to_numpy(spdl.io.load_video(h264_video.path))
    assert expected.shape == (90, 64, 96, 3)
    for array in run_in_threads(lambda: spdl.io.to_numpy(spdl.io.load_video(h264_video.path))):
        np.testing.assert_array_equal(array, expected)


def test_two_threads_decoding_one_window_match_a_single_thread_decode(
    h264_video: VideoReference,
) -> None:
    def work() -> np.ndarray:
        return spdl.io.to_numpy(spdl.io.load_video(h264_video.path, (1.11, 2.21), pix_fmt=None))

    expected = work()
    assert expected.shape == (33, 1, 96, 96)
    for array in run_in_threads(work):
        np.testing.assert_array_equal(array, expected)


def test_two_threads_decoding_images_and_audio_match_a_single_thread_decode(
    image_files: dict[str, ImageReference], aac_audio: AudioReference
) -> None:
    def work() -> np.ndarray:
        images = [
            spdl.io.to_numpy(spdl.io.load_image(image.path)) for image in image_files.values()
        ]
        audio = spdl.io.to_numpy(spdl.io.load_audio(aac_audio.path))
        return np.concatenate([array.ravel() for array in images] + [audio.view(np.uint8).ravel()])

    expected = work()
    for array in run_in_threads(work):
        np.testing.assert_array_equal(array, expected)


_EXIT_WHILE_LOADING = """
import os, sys, threading, time
import spdl.io

def loop():
    while True:
        spdl.io.load_audio(sys.argv[1])

for _ in range(4):
    threading.Thread(target=loop, daemon=True).start()
time.sleep(1.5)
"""


@pytest.mark.parametrize("helpers", ["0", "2"])
def test_the_program_ends_cleanly_while_daemon_threads_decode(
    tmp_path: pathlib.Path, helpers: str
) -> None:
    # A prefetch thread is often a daemon, still decoding when the program ends. Its
    # native call must not take the GIL back then: Python would end the thread by
    # unwinding the C++ frames, which aborts the process.
    import subprocess
    import sys

    path = tmp_path / "five_seconds.m4a"
    encode_audio(path, sine_tone(16000, 5 * 16000, 440.0)[None], rate=16000)
    command = [sys.executable, "-c", _EXIT_WHILE_LOADING, str(path)]
    env = {**os.environ, "SPDL_DEMUX_PROCESSES": helpers}  # demux in the threads, or not
    for _ in range(8):
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "terminate called" not in result.stderr
        assert "leaked" not in result.stderr  # objects the threads hold are no leaks


_NATIVE_WORK_AT_SHUTDOWN = """
import atexit, sys, threading


def convert_on_a_thread():  # registered before spdl.io is imported: runs after its hook
    out = []
    worker = threading.Thread(target=lambda: out.append(convert(decoded.pop()).shape))
    worker.start()
    worker.join(30)
    print("atexit thread", "hung" if worker.is_alive() else out[0], flush=True)


atexit.register(convert_on_a_thread)
import spdl.io
from spdl import _native

convert = _native.convert_frames  # loads are cancelled at exit; this runs as it is


def decode():
    packets = spdl.io.demux_media("audio", sys.argv[1]).result()
    return spdl.io.decode_packets(packets).result()


class Holder:  # freed while the interpreter finalizes, on the thread that does it
    def __init__(self):
        self.frames = decode()

    def __del__(self):
        print("finalizer", convert(self.frames).shape, flush=True)


decoded = [decode()]
kept = Holder()
"""


def test_native_work_at_shutdown_is_not_parked(tmp_path: pathlib.Path) -> None:
    # Only daemon threads alive when the exit begins wait for it in native work: not a
    # thread a later atexit handler starts, nor the thread that finalizes.
    import subprocess
    import sys

    path = tmp_path / "tone.m4a"
    encode_audio(path, sine_tone(16000, 16000, 440.0)[None], rate=16000)
    command = [sys.executable, "-c", _NATIVE_WORK_AT_SHUTDOWN, str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("atexit thread (1, ") and lines[1].startswith("finalizer (1, ")


class _HeldFile(io.BytesIO):
    """A file whose reads wait for ``go``; ``reading`` tells that one began."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reading, self.go = threading.Event(), threading.Event()

    def read(self, size: int | None = -1) -> bytes:
        self.reading.set()
        self.go.wait(60)
        return super().read(size)


def test_a_file_like_object_serves_one_load_at_a_time(wav_audio: AudioReference) -> None:
    # Two loads moved its one position under each other: random errors that named
    # the wrong cause ("no video stream (streams found: audio)", a wrong frame count).
    held = _HeldFile(pathlib.Path(wav_audio.path).read_bytes())
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(spdl.io.load_audio, held)
        assert held.reading.wait(60)
        with pytest.raises(ValueError, match="being read by another load"):
            spdl.io.load_audio(held)
        held.go.set()
        assert first.result(60).shape == wav_audio.decoded.shape
    held.seek(0)  # the object is free again: a load reads it from where it stands
    assert spdl.io.load_audio(held).shape == wav_audio.decoded.shape


def test_a_file_like_object_is_free_once_its_stream_gave_the_last_window(
    wav_audio: AudioReference,
) -> None:
    # The stream's task handed the last window over before it let go of the source:
    # a load right after it failed with "being read by another load" (147 of 200).
    data = pathlib.Path(wav_audio.path).read_bytes()
    windows = [(0.0, 0.25), (0.25, 0.5)]
    for _ in range(50):
        source = io.BytesIO(data)
        futures = spdl.io.streaming_demux("audio", source, windows)
        assert [f.result(60).timestamp for f in futures] == windows
        source.seek(0)
        assert spdl.io.load_audio(source).shape == wav_audio.decoded.shape
        source.seek(0)
        stream = _streaming_demux.sync("audio", source, windows)
        assert [next(stream).timestamp for _ in windows] == windows  # not run to its end
        source.seek(0)
        assert spdl.io.load_audio(source).shape == wav_audio.decoded.shape
