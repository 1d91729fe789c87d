"""Cancellation: queued work is dropped, running decodes stop at their next packet.

Cancellation is checked structurally: the ``CancelToken`` handed to the native decoder
is set, the native decode ends with its "cancelled" error instead of returning frames,
and the Futures end in the cancelled state. One test also compares against an
uncancelled decode measured in the same test, with a generous margin.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any

import pytest
from _media import LONG_VIDEO_NUM_FRAMES, Media

import spdl.io
from spdl.io._api.batch import batch_load_image_future
from spdl.io._core import decode as _decode
from spdl.io._core import demux as _demux

pytest_plugins = ["_aio_fixtures"]

TIMEOUT_S = 60
# Upscaling every frame of the long clip makes its decode take seconds.
SLOW_DECODE = {"width": 960, "height": 720}


@dataclasses.dataclass
class DecodeCall:
    """One call of ``_decode.decode`` observed by the spy."""

    token: Any
    started: threading.Event = dataclasses.field(default_factory=threading.Event)
    finished: threading.Event = dataclasses.field(default_factory=threading.Event)
    num_frames: int | None = None
    error: BaseException | None = None
    start_time: float = 0.0
    end_time: float = 0.0
    # Which pool ran it: tells this test's work from another test's leftovers.
    thread: str = dataclasses.field(default_factory=lambda: threading.current_thread().name)

    @property
    def was_cancelled_natively(self) -> bool:
        return isinstance(self.error, spdl.io.MediaError) and "cancel" in str(self.error)


@pytest.fixture
def decode_calls(monkeypatch: pytest.MonkeyPatch) -> list[DecodeCall]:
    """Spy on the native decode entry points: records each call's token and outcome."""
    calls: list[DecodeCall] = []

    def make_spy(original: Any) -> Any:
        def spy(packets: Any, *, cancel: Any = None, **options: Any) -> Any:
            call = DecodeCall(token=cancel, start_time=time.perf_counter())
            calls.append(call)
            call.started.set()
            try:
                result = original(packets, cancel=cancel, **options)
                # Frames have a length; a fused decode returns a (N, ...) buffer.
                call.num_frames = len(result) if hasattr(result, "__len__") else result.shape[0]
                return result
            except BaseException as error:
                call.error = error
                raise
            finally:
                call.end_time = time.perf_counter()
                call.finished.set()

        return spy

    monkeypatch.setattr(_decode, "decode", make_spy(_decode.decode))
    if hasattr(_decode, "decode_to_buffer"):  # fused decode + convert
        monkeypatch.setattr(_decode, "decode_to_buffer", make_spy(_decode.decode_to_buffer))
    return calls


async def _until_started(calls: list[DecodeCall]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not calls:
        assert time.monotonic() < deadline, "the decode never started"
        await asyncio.sleep(0.001)


@pytest.fixture(scope="module")
def long_packets(aio_media: Media) -> Any:
    return spdl.io.demux_media("video", aio_media.long_video).result(TIMEOUT_S)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        yield pool
    finally:
        # After a failed test, queued work is dropped instead of being run to the end.
        pool.shutdown(wait=True, cancel_futures=True)


def _block(executor: ThreadPoolExecutor, release: threading.Event) -> Future[bool]:
    """Occupy the executor's worker until ``release`` is set (or ``TIMEOUT_S`` passes).

    The timeout keeps a failing test from leaving the worker blocked forever, which
    would hang the ``executor`` fixture's shutdown instead of reporting the failure.
    """
    return executor.submit(release.wait, TIMEOUT_S)


class LaggingCallerExecutor(ThreadPoolExecutor):
    """A pool whose ``submit`` yields the GIL after queueing the work.

    The worker then runs ahead of the submitting thread: the interleaving that a busy
    machine produces now and then, made systematic.
    """

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        time.sleep(0.002)
        return future


def _wait_started(calls: list[DecodeCall], count: int = 1) -> DecodeCall:
    deadline = time.monotonic() + TIMEOUT_S
    while len(calls) < count:
        assert time.monotonic() < deadline, "the decode never started"
        time.sleep(0.001)
    assert calls[count - 1].started.wait(TIMEOUT_S)
    return calls[count - 1]


def _assert_stopped_early(call: DecodeCall, executor: ThreadPoolExecutor) -> None:
    assert call.finished.wait(TIMEOUT_S)
    assert call.token is not None and call.token.cancelled
    assert call.num_frames is None, "the decode ran to completion despite the cancellation"
    assert call.was_cancelled_natively, call.error
    # Nothing left behind: the worker is free again.
    assert executor.submit(lambda: "free").result(TIMEOUT_S) == "free"


################################################################################
# concurrent.futures
################################################################################


def test_future_cancel_stops_a_running_decode_early(
    long_packets: Any, decode_calls: list[DecodeCall], executor: ThreadPoolExecutor
) -> None:
    baseline = spdl.io.decode_packets(long_packets, executor=executor, **SLOW_DECODE)
    assert len(baseline.result(TIMEOUT_S)) == LONG_VIDEO_NUM_FRAMES
    del baseline
    full = decode_calls[0]
    full_duration = full.end_time - full.start_time
    assert full.token is not None and not full.token.cancelled

    future = spdl.io.decode_packets(long_packets, executor=executor, **SLOW_DECODE)
    call = _wait_started(decode_calls, count=2)
    time.sleep(full_duration * 0.1)  # well into the decode
    assert future.cancel()  # succeeds although the decode is running
    assert future.cancelled()
    with pytest.raises(CancelledError):
        future.result(TIMEOUT_S)
    _assert_stopped_early(call, executor)
    # Generous: the cancelled decode was told to stop at 10% of the full duration.
    assert call.end_time - call.start_time < full_duration * 0.75


def test_future_cancel_drops_queued_work(
    aio_media: Media, decode_calls: list[DecodeCall], executor: ThreadPoolExecutor
) -> None:
    packets = spdl.io.demux_media("image", aio_media.jpeg).result(TIMEOUT_S)
    release = threading.Event()
    blocker = _block(executor, release)
    queued = [spdl.io.decode_packets(packets, executor=executor) for _ in range(3)]
    assert all(f.cancel() for f in queued)
    release.set()
    assert blocker.result(TIMEOUT_S)
    assert executor.submit(lambda: "free").result(TIMEOUT_S) == "free"
    assert decode_calls == []  # none of them ran
    assert all(f.cancelled() for f in queued)


def test_executor_shutdown_with_cancel_futures_cancels_pending_futures(aio_media: Media) -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    release = threading.Event()
    blocker = _block(pool, release)
    demuxing = [spdl.io.demux_media("image", aio_media.jpeg, executor=pool) for _ in range(2)]
    streaming = spdl.io.streaming_demux("video", aio_media.video, [(0, 1), (1, 2)], executor=pool)
    pool.shutdown(wait=False, cancel_futures=True)
    release.set()
    assert blocker.result(TIMEOUT_S)
    assert all(f.cancelled() for f in demuxing + streaming)  # nobody waits forever
    pool.shutdown(wait=True)


def test_cancel_after_completion_is_refused(aio_media: Media) -> None:
    future = spdl.io.demux_media("image", aio_media.png)
    future.result(TIMEOUT_S)
    assert not future.cancel()
    assert not future.cancelled()


def test_cancelling_a_chain_stops_its_running_decode(
    aio_media: Media, decode_calls: list[DecodeCall], executor: ThreadPoolExecutor
) -> None:
    converted = []

    @spdl.io.chain_futures
    def load(src: Any) -> Any:
        packets = yield spdl.io.demux_media("video", src, executor=executor)
        frames = yield spdl.io.decode_packets(packets, executor=executor, **SLOW_DECODE)
        converted.append(True)
        yield spdl.io.convert_frames(frames, executor=executor)

    future = load(aio_media.long_video)
    call = _wait_started(decode_calls)
    assert future.cancel()
    _assert_stopped_early(call, executor)
    assert converted == []


def test_cancelling_wait_futures_stops_every_decode(
    long_packets: Any, decode_calls: list[DecodeCall]
) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            spdl.io.decode_packets(long_packets, executor=pool, **SLOW_DECODE) for _ in range(4)
        ]
        waited = spdl.io.wait_futures(futures)
        _wait_started(decode_calls, count=2)
        assert waited.cancel()
        assert all(f.cancelled() for f in futures)
        for call in decode_calls[:2]:
            _assert_stopped_early(call, pool)
    assert len(decode_calls) == 2  # the two queued decodes never ran


################################################################################
# asyncio
################################################################################


def test_cancelling_the_awaiting_task_stops_the_decode(
    long_packets: Any, decode_calls: list[DecodeCall], executor: ThreadPoolExecutor
) -> None:
    async def decode() -> Any:
        return await spdl.io.async_decode_packets(long_packets, executor=executor, **SLOW_DECODE)

    async def main() -> None:
        task = asyncio.create_task(decode())
        await _until_started(decode_calls)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    _assert_stopped_early(decode_calls[0], executor)


def test_wait_for_timeout_stops_the_decode(
    long_packets: Any, decode_calls: list[DecodeCall], executor: ThreadPoolExecutor
) -> None:
    async def main() -> None:
        decoding = spdl.io.async_decode_packets(long_packets, executor=executor, **SLOW_DECODE)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(decoding, timeout=0.2)

    asyncio.run(main())
    _assert_stopped_early(decode_calls[0], executor)


def test_wait_for_timeout_on_async_load_media_stops_its_decode(
    aio_media: Media, decode_calls: list[DecodeCall], executor: ThreadPoolExecutor
) -> None:
    async def main() -> None:
        loading = spdl.io.async_load_media(
            "video", aio_media.long_video, decode_options=SLOW_DECODE, executor=executor
        )
        await _until_started(decode_calls)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(loading, timeout=0.1)

    asyncio.run(main())
    _assert_stopped_early(decode_calls[0], executor)


def test_cancelled_queued_async_work_never_runs(
    aio_media: Media, decode_calls: list[DecodeCall], executor: ThreadPoolExecutor
) -> None:
    release = threading.Event()
    blocker = _block(executor, release)

    async def main() -> None:
        packets = await asyncio.wrap_future(spdl.io.demux_media("image", aio_media.jpeg))
        decoding = spdl.io.async_decode_packets(packets, executor=executor)
        decoding.close()  # closing the coroutine unawaited cancels its Future

    asyncio.run(main())
    release.set()
    assert blocker.result(TIMEOUT_S)
    assert executor.submit(lambda: "free").result(TIMEOUT_S) == "free"
    assert decode_calls == []


def test_breaking_out_of_async_streaming_demux_stops_demuxing(
    aio_media: Media, monkeypatch: pytest.MonkeyPatch, executor: ThreadPoolExecutor
) -> None:
    produced: list[tuple[float, float]] = []
    closed = threading.Event()
    may_continue = threading.Event()
    original = _demux.iter_demux

    def slow_iter_demux(media_type: str, src: Any, timestamps: Any, **kwargs: Any) -> Any:
        try:
            for window, packets in zip(
                timestamps, original(media_type, src, timestamps), strict=True
            ):
                produced.append(window)
                yield packets
                may_continue.wait(TIMEOUT_S)
        finally:
            closed.set()

    monkeypatch.setenv("SPDL_DEMUX_PROCESSES", "0")  # the patched demux runs in this process
    monkeypatch.setattr(_demux, "iter_demux", slow_iter_demux)
    windows = [(float(i), float(i) + 0.5) for i in range(9)]

    async def main() -> None:
        stream = spdl.io.async_streaming_demux(
            "video", aio_media.long_video, windows, executor=executor
        )
        async for packets in stream:
            assert packets.timestamp == windows[0]
            break
        await stream.aclose()
        may_continue.set()

    asyncio.run(main())
    assert closed.wait(TIMEOUT_S)
    assert len(produced) <= 2  # stopped right after the window it was reading
    assert executor.submit(lambda: "free").result(TIMEOUT_S) == "free"


def test_cancelling_streaming_futures_stops_the_demux_task(
    aio_media: Media, monkeypatch: pytest.MonkeyPatch, executor: ThreadPoolExecutor
) -> None:
    produced: list[Any] = []
    release = threading.Event()
    original = _demux.iter_demux

    def gated_iter_demux(media_type: str, src: Any, timestamps: Any, **kwargs: Any) -> Any:
        for packets in original(media_type, src, timestamps):
            release.wait(TIMEOUT_S)
            produced.append(packets)
            yield packets

    monkeypatch.setenv("SPDL_DEMUX_PROCESSES", "0")  # the patched demux runs in this process
    monkeypatch.setattr(_demux, "iter_demux", gated_iter_demux)
    futures = spdl.io.streaming_demux(
        "video", aio_media.long_video, [(0, 1), (1, 2), (2, 3)], executor=executor
    )
    assert all(f.cancel() for f in futures)
    release.set()
    assert executor.submit(lambda: "free").result(TIMEOUT_S) == "free"
    assert len(produced) <= 1


################################################################################
# Batches
################################################################################


def test_cancelling_a_fast_path_batch_sets_its_token(
    aio_media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens: list[Any] = []
    started, release = threading.Event(), threading.Event()
    original = _decode.decode_image_batch

    def spy(srcs: Any, *, cancel: Any = None, **kwargs: Any) -> Any:
        tokens.append(cancel)
        started.set()
        release.wait(TIMEOUT_S)
        return original(srcs, cancel=cancel, **kwargs)

    monkeypatch.setattr(_decode, "decode_image_batch", spy)

    async def main() -> None:
        batch = spdl.io.async_batch_load_image(aio_media.gray_images, 16, 12)
        await asyncio.get_running_loop().run_in_executor(None, started.wait, TIMEOUT_S)
        batch.close()  # closing the coroutine unawaited cancels its Future

    asyncio.run(main())
    release.set()
    assert len(tokens) == 1
    assert tokens[0].cancelled


def test_cancelling_a_batch_drops_its_queued_decodes(
    aio_media: Media, decode_calls: list[DecodeCall], executor: ThreadPoolExecutor
) -> None:
    release = threading.Event()
    blocker = _block(executor, release)
    srcs = [io.BytesIO(p.read_bytes()) for p in aio_media.gray_images]  # per-source path
    future = batch_load_image_future(srcs, 16, 12, executor=executor)
    assert future.cancel()
    release.set()
    assert blocker.result(TIMEOUT_S)
    assert executor.submit(lambda: "free").result(TIMEOUT_S) == "free"
    assert decode_calls == []


@pytest.mark.parametrize("per_source", [False, True])
def test_a_cancelled_batch_logs_no_failure(
    aio_media: Media, per_source: bool, caplog: pytest.LogCaptureFixture
) -> None:
    # Each image the cancel stopped was logged as an ERROR ("Failed to load image ...
    # was cancelled"): 2,012 records for 20 cancelled batches.
    data = aio_media.jpeg.read_bytes()
    srcs = [io.BytesIO(data) if per_source else aio_media.jpeg for _ in range(2000)]
    with caplog.at_level("ERROR", logger="spdl.io"):
        future = batch_load_image_future(srcs, 320, 240)
        time.sleep(0.005)  # some images are being decoded
        future.cancel()
        with pytest.raises((CancelledError, spdl.io.AsyncIOFailure)):
            future.result(TIMEOUT_S)  # it was cancelled before its 2000 images were done
        time.sleep(0.5)  # the images' own work ends on the pools
    assert caplog.records == []


@pytest.mark.parametrize("pool_type", [ThreadPoolExecutor, LaggingCallerExecutor])
def test_strict_batch_failure_cancels_the_other_images(
    aio_media: Media, decode_calls: list[DecodeCall], pool_type: type[ThreadPoolExecutor]
) -> None:
    # One worker: the failing source's demux runs first, and the images after it must be
    # cancelled before the worker takes any of their work, even when the worker runs
    # ahead of the thread that is still starting them (LaggingCallerExecutor).
    good = [io.BytesIO(p.read_bytes()) for p in aio_media.gray_images]
    srcs = [aio_media.truncated_video, *good]  # fails first, in demux
    with pool_type(max_workers=1) as pool:
        with pytest.raises(spdl.io.AsyncIOFailure, match="demux"):
            spdl.io.batch_load_image(srcs, 16, 12, executor=pool)
        assert pool.submit(lambda: "free").result(TIMEOUT_S) == "free"
    assert decode_calls == []  # the good images were dropped before decoding


################################################################################
# Interpreter exit
################################################################################


@pytest.mark.parametrize("pool", ["spdl", "caller"])
def test_interpreter_exit_cancels_running_decodes(aio_media: Media, pool: str) -> None:
    # On the caller's executor= too: exit waited for its every decode (27.7 s in the
    # repro of a review) once only the pools' and daemon threads' work was cancelled.
    script = textwrap.dedent(
        """
        import sys, time
        from concurrent.futures import ThreadPoolExecutor
        import spdl.io
        from spdl.io._api import phases as _concurrent
        from spdl.io._core import decode as _decode

        original = _decode.decode

        def spy(packets, *, cancel=None, **options):
            try:
                frames = original(packets, cancel=cancel, **options)
                sys.stdout.write("finished %d\\n" % len(frames))
            except spdl.io.MediaError as error:
                sys.stdout.write("stopped: %s\\n" % error)  # one write: lines stay whole
                raise

        _decode.decode = spy
        spdl.io.set_executor_sizes(decode=2)  # whatever the machine's cores: 6 stay queued
        pool = ThreadPoolExecutor(2) if sys.argv[2] == "caller" else None
        packets = _concurrent.demux_media("video", sys.argv[1]).result()
        futures = [
            _concurrent.decode_packets(packets, width=960, height=720, executor=pool)
            for _ in range(8)
        ]
        time.sleep(0.3)
        print("exiting", flush=True)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(aio_media.long_video), pool],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "exiting"
    assert lines[1:], "no decode was running at exit"
    assert all(line.startswith("stopped:") and "cancel" in line for line in lines[1:]), lines
    if pool == "spdl":
        assert len(lines[1:]) <= 2  # the queued ones never started
    # (The caller's pool runs its queued work at exit: each decode stops as it starts.)


def test_loads_of_a_thread_python_waits_for_go_on_after_the_main_code_ends(
    aio_media: Media,
) -> None:
    # Python joins non-daemon threads after the exit hooks ran: their sync loads
    # failed with "Demuxing ... was cancelled" once the main thread's code ended.
    script = textwrap.dedent(
        """
        import sys, threading
        import spdl.io

        def load(count):
            threading.main_thread().join()  # returns once the exit hooks have run
            shapes = [spdl.io.load_video(sys.argv[1]).shape for _ in range(count)]
            batch = spdl.io.batch_load_image([sys.argv[2]] * 4, 16, 12)
            print("loaded", len(shapes), shapes[-1][0], batch.shape[0], flush=True)

        spdl.io.demux_media("image", sys.argv[2]).result()  # the pools' exit hook is set
        threading.Thread(target=load, args=(5,)).start()  # not a daemon
        print("main done", flush=True)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(aio_media.video), str(aio_media.jpeg)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["main done", "loaded 5 90 4"], result.stderr
