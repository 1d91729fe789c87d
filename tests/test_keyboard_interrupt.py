"""Ctrl-C during a synchronous load: KeyboardInterrupt comes at once, not when the load ends.

Each load waits on a source that never delivers (a FIFO nobody writes, a file-like
object whose read blocks), in a child process that is sent SIGINT while it waits.
The child must raise KeyboardInterrupt and exit well within the bound below, leave
no demux helper process behind, and load again afterwards. The bound is a hang
check, not a speed check: without the interruption the loads wait forever.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from media import AudioReference, encode_video, write_tone_wav

from spdl.io._runtime import demux_pool as _demux_pool

EXIT_BOUND_S = 20.0  # from SIGINT to the child's exit
START_TIMEOUT_S = 60.0
SLOW_MEDIA_S = 60  # how long the slow decodes below take uninterrupted

# argv: how the load waits, the path of a FIFO, a WAV file to load afterwards.
_CHILD = r"""
import os, signal, sys, threading, time

# Python leaves SIGINT ignored when it starts with it ignored (a job started in the
# background by a non-interactive shell, as CI runners may do): take Ctrl-C as a
# terminal's user does.
signal.signal(signal.SIGINT, signal.default_int_handler)

how, fifo, wav = sys.argv[1:4]
if how in ("in-thread-fifo", "decode-audio-in-thread"):
    os.environ["SPDL_DEMUX_PROCESSES"] = "0"
import spdl.io
from spdl.io._runtime import demux_pool


class Stalling:
    # A file-like object that gives the first bytes of the WAV, then blocks.
    def __init__(self, data):
        self.data, self.pos, self.never = data, 0, threading.Event()

    def read(self, size=-1):
        if self.pos >= 64:
            self.never.wait()
        size = 64 if size < 0 else min(size, 64)
        chunk = self.data[self.pos : self.pos + size]
        self.pos += len(chunk)
        return chunk

    def seek(self, offset, whence=0):
        self.pos = (0, self.pos, len(self.data))[whence] + offset
        return self.pos

    def tell(self):
        return self.pos


def helpers_running():
    # Live demux helper processes among this process's children.
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat, open(f"/proc/{entry}/cmdline", "rb") as cmd:
                fields, command = stat.read().rpartition(")")[2].split(), cmd.read()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"demux_worker" in command:
            found.append(int(entry))
    return found


with open(wav, "rb") as stream:
    data = stream.read()
if how == "batch-url":
    import socket

    silent = socket.socket()  # takes connections (the kernel does), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    urls = [f"http://127.0.0.1:{silent.getsockname()[1]}/{i}.jpg" for i in range(2)]
    spdl.io.set_remote_options(timeout_s=300, max_attempts=1)
load = {
    "helper-audio": lambda: spdl.io.load_audio(fifo),
    "helper-video": lambda: spdl.io.load_video(fifo),
    "helper-media": lambda: spdl.io.load_media("audio", fifo),
    "in-thread-fifo": lambda: spdl.io.load_audio(fifo),
    "in-thread-file-like": lambda: spdl.io.load_audio(Stalling(data)),
    # The native batch waits for the images the I/O pool fetches.
    "batch-url": lambda: spdl.io.batch_load_image(urls, 16, 16),
    # Sources that load at once but decode slowly: FFmpeg's realtime filters hold
    # each frame back until its time has come (here a minute of media).
    "decode-video": lambda: spdl.io.load_video(fifo, filter_desc="realtime"),
    # reverse holds every frame back to the flush, which then puts them all out.
    "decode-flush": lambda: spdl.io.load_video(fifo, filter_desc="reverse,realtime"),
    "decode-audio": lambda: spdl.io.load_audio(fifo, filter_desc="arealtime"),
    "decode-audio-in-thread": lambda: spdl.io.load_audio(fifo, filter_desc="arealtime"),
}[how]
print("loading", flush=True)
started = time.monotonic()
try:
    load()
    print("loaded", flush=True)
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - started:.1f} s", flush=True)
except BaseException as error:
    print(f"failed: {type(error).__name__}: {error}", flush=True)
    raise
deadline = time.monotonic() + 10
while helpers_running() and time.monotonic() < deadline:
    time.sleep(0.05)
print("helpers running:", len(helpers_running()), flush=True)
if how.startswith("helper"):
    assert demux_pool.helper_pids() == [], demux_pool.helper_pids()
shape = spdl.io.load_audio(wav).__array_interface__["shape"]
print("loaded again:", shape, flush=True)
"""


def _interrupt_child(how: str, fifo: str, wav: str) -> tuple[str, float]:
    """Runs the child, sends SIGINT while its load waits; its output, and the seconds
    from the signal to its exit (the child is killed past the bound)."""
    command = [sys.executable, "-c", _CHILD, how, fifo, wav]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as child:
        assert child.stdout is not None
        try:
            line = child.stdout.readline()
            assert line.strip() == "loading", line + child.stdout.read()
            time.sleep(1.5)  # the load is waiting by then (a helper starts in ~0.2 s)
            assert child.poll() is None, child.stdout.read()
            child.send_signal(signal.SIGINT)
            signalled = time.monotonic()
            try:
                child.wait(EXIT_BOUND_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            waited = time.monotonic() - signalled
            return line + child.stdout.read(), waited
        finally:
            if child.poll() is None:
                child.kill()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize(
    "how",
    [
        pytest.param(
            how,
            marks=pytest.mark.skipif(
                how.startswith("helper") and not _demux_pool._SUPPORTED,
                reason="demux helpers need Linux",
            ),
        )
        for how in (
            "helper-audio",
            "helper-video",
            "helper-media",
            "in-thread-fifo",
            "in-thread-file-like",
            "batch-url",
        )
    ],
)
def test_ctrl_c_interrupts_a_load_waiting_on_a_stalled_source(
    how: str, wav_audio: AudioReference, tmp_path: os.PathLike
) -> None:
    fifo = os.path.join(tmp_path, "never_written.wav")
    os.mkfifo(fifo)
    output, waited = _interrupt_child(how, fifo, str(wav_audio.path))
    assert waited < EXIT_BOUND_S, f"still waiting {waited:.0f} s after SIGINT:\n{output}"
    assert "interrupted after" in output, output
    assert "helpers running: 0" in output, output
    assert f"loaded again: {tuple(wav_audio.decoded.shape)}" in output, output


def test_only_fifos_are_read_through_python(tmp_path: os.PathLike) -> None:
    # A FIFO is read through Python's open (so Ctrl-C reaches the load); a character
    # device is left to its demuxer, which opens it by name (/dev/video0 with v4l2).
    from spdl.io._core.demux import _is_pipe

    fifo = os.path.join(tmp_path, "fifo")
    os.mkfifo(fifo)
    assert _is_pipe(fifo)
    assert not _is_pipe(os.devnull)
    assert not _is_pipe(os.path.join(tmp_path, "missing"))


@pytest.mark.parametrize(
    "how", ["decode-video", "decode-flush", "decode-audio", "decode-audio-in-thread"]
)
def test_ctrl_c_interrupts_a_long_decode_in_the_calling_thread(
    how: str, wav_audio: AudioReference, tmp_path: pathlib.Path
) -> None:
    # The native decode loop looks for signals on the main thread every 250 ms; before,
    # the KeyboardInterrupt came when the whole minute had been decoded.
    video = how in ("decode-video", "decode-flush")
    path = tmp_path / ("slow.mp4" if video else "slow.wav")
    if video:
        frames = (np.full((16, 16, 3), 4 * i, np.uint8) for i in range(SLOW_MEDIA_S))
        encode_video(path, frames, width=16, height=16, frame_rate=1, codec="mpeg4")
    else:
        write_tone_wav(path, rate=4000, num_samples=4000 * SLOW_MEDIA_S)
    output, waited = _interrupt_child(how, str(path), str(wav_audio.path))
    assert waited < EXIT_BOUND_S, f"still decoding {waited:.0f} s after SIGINT:\n{output}"
    assert "interrupted after" in output, output
    # A helper that demuxed the source may wait in the pool: the next load works.
    assert f"loaded again: {tuple(wav_audio.decoded.shape)}" in output, output
