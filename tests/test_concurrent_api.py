"""The concurrent.futures API: one Future per phase, chain_futures, wait_futures, executors."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from _executors import CountingExecutor
from _media import (
    AUDIO_NUM_CHANNELS,
    AUDIO_SAMPLE_RATE,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    VIDEO_FPS,
    VIDEO_HEIGHT,
    VIDEO_WIDTH,
    Media,
    gray_level,
)

import spdl.io
from spdl.io._core import convert as _convert
from spdl.io._core import demux as _demux
from spdl.io._runtime import executor as _executor
from spdl.io._runtime.operation import OPERATIONS

pytest_plugins = ["_aio_fixtures"]

TIMEOUT_S = 60


def _load_image(src: Any, **decode_options: Any) -> np.ndarray:
    packets = spdl.io.demux_media("image", src).result(TIMEOUT_S)
    frames = spdl.io.decode_packets(packets, **decode_options).result(TIMEOUT_S)
    return spdl.io.to_numpy(spdl.io.convert_frames(frames).result(TIMEOUT_S))


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


def _failed(error: BaseException) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_exception(error)
    return future


################################################################################
# Each phase returns a Future
################################################################################


def test_image_phases_return_futures_and_produce_hwc_array(aio_media: Media) -> None:
    demux_future = spdl.io.demux_media("image", aio_media.jpeg)
    assert isinstance(demux_future, Future)
    packets = demux_future.result(TIMEOUT_S)
    assert isinstance(packets, spdl.io.ImagePackets)

    decode_future = spdl.io.decode_packets(packets, width=32, height=24)
    assert isinstance(decode_future, Future)
    frames = decode_future.result(TIMEOUT_S)
    assert isinstance(frames, spdl.io.ImageFrames)
    assert (frames.width, frames.height, frames.pix_fmt) == (32, 24, "rgb24")

    convert_future = spdl.io.convert_frames(frames)
    assert isinstance(convert_future, Future)
    array = spdl.io.to_numpy(convert_future.result(TIMEOUT_S))
    assert array.shape == (24, 32, 3)
    assert array.dtype == np.uint8


@pytest.mark.parametrize("kind", ["jpeg", "png", "jpeg_bytes", "png_bytes"])
def test_image_sources_as_paths_and_bytes(aio_media: Media, kind: str) -> None:
    array = _load_image(getattr(aio_media, kind))
    assert array.shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)


def test_image_from_file_object(aio_media: Media) -> None:
    with open(aio_media.png, "rb") as file:
        array = _load_image(file)
    assert array.shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)


def test_video_window_yields_frames_inside_half_open_interval(aio_media: Media) -> None:
    packets = spdl.io.demux_media("video", aio_media.video, timestamp=(1.0, 2.0)).result()
    assert isinstance(packets, spdl.io.VideoPackets)
    frames = spdl.io.decode_packets(packets).result(TIMEOUT_S)
    assert len(frames) == VIDEO_FPS
    assert frames.pts[0] == pytest.approx(1.0)
    array = spdl.io.to_numpy(spdl.io.convert_frames(frames).result(TIMEOUT_S))
    assert array.shape == (VIDEO_FPS, VIDEO_HEIGHT, VIDEO_WIDTH, 3)
    assert abs(float(array[0].mean()) - gray_level(VIDEO_FPS)) <= 3


def test_audio_window_is_planar_float(aio_media: Media) -> None:
    packets = spdl.io.demux_media("audio", aio_media.audio, timestamp=(0.5, 1.5)).result()
    assert isinstance(packets, spdl.io.AudioPackets)
    frames = spdl.io.decode_packets(packets).result(TIMEOUT_S)
    assert frames.sample_rate == AUDIO_SAMPLE_RATE
    array = spdl.io.to_numpy(spdl.io.convert_frames(frames).result(TIMEOUT_S))
    assert array.dtype == np.float32
    assert array.shape == (AUDIO_NUM_CHANNELS, AUDIO_SAMPLE_RATE)  # exactly one second


def test_list_of_image_frames_converts_to_one_batch(aio_media: Media) -> None:
    srcs = [aio_media.jpeg, aio_media.png, aio_media.jpeg_bytes]
    packets = [spdl.io.demux_media("image", src) for src in srcs]
    frames = [spdl.io.decode_packets(p.result(), width=20, height=10) for p in packets]
    buffer = spdl.io.convert_frames([f.result() for f in frames]).result(TIMEOUT_S)
    assert spdl.io.to_numpy(buffer).shape == (3, 10, 20, 3)


################################################################################
# Arguments are validated in the caller
################################################################################


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda m: spdl.io.demux_media("picture", m.jpeg), ValueError),
        (lambda m: spdl.io.demux_media("image", 42), TypeError),
        (lambda m: spdl.io.demux_media("image", m.jpeg, timestamp=(0, 1)), ValueError),
        (lambda m: spdl.io.demux_media("video", m.video, timestamp=(2, 1)), ValueError),
        (lambda m: spdl.io.demux_media("video", m.video, bogus=1), TypeError),
        (lambda m: spdl.io.demux_media("video", m.video, format=3), TypeError),
        (lambda m: spdl.io.demux_media("video", m.video, executor="pool"), TypeError),
        (lambda m: spdl.io.streaming_demux("image", m.jpeg, [(0, 1)]), ValueError),
        (lambda m: spdl.io.streaming_demux("video", m.video, []), ValueError),
        (lambda m: spdl.io.streaming_demux("video", m.video, [(1, 0)]), ValueError),
        (lambda m: spdl.io.streaming_demux("video", m.video, (0, 1)), TypeError),
        (lambda m: spdl.io.decode_packets("packets"), TypeError),
        (lambda m: spdl.io.convert_frames(None), TypeError),
        (lambda m: spdl.io.convert_frames([]), ValueError),
        (lambda m: spdl.io.convert_frames_cpu(np.zeros(3)), TypeError),
        (lambda m: spdl.io.convert_frames_cpu([object()]), TypeError),
    ],
)
def test_invalid_arguments_raise_at_call_time(aio_media: Media, call: Any, error: type) -> None:
    with pytest.raises(error):
        call(aio_media)


@pytest.mark.parametrize(
    ("options", "error"),
    [({"width": -1}, ValueError), ({"sample_rate": 8000}, ValueError), ({"nope": 1}, TypeError)],
)
def test_invalid_decode_options_raise_at_call_time(
    aio_media: Media, options: dict[str, Any], error: type
) -> None:
    packets = spdl.io.demux_media("image", aio_media.jpeg).result(TIMEOUT_S)
    executor = CountingExecutor()
    with pytest.raises(error):
        spdl.io.decode_packets(packets, executor=executor, **options)
    assert executor.num_submitted == 0


def test_consumed_frames_are_refused_at_call_time(aio_media: Media) -> None:
    packets = spdl.io.demux_media("image", aio_media.jpeg).result(TIMEOUT_S)
    frames = spdl.io.decode_packets(packets).result(TIMEOUT_S)
    spdl.io.convert_frames(frames).result(TIMEOUT_S)
    with pytest.raises(ValueError, match="already converted"):
        spdl.io.convert_frames(frames)


def test_convert_frames_cpu_accepts_cpu_frames(aio_media: Media) -> None:
    packets = spdl.io.demux_media("image", aio_media.png).result(TIMEOUT_S)
    frames = spdl.io.decode_packets(packets).result(TIMEOUT_S)
    buffer = spdl.io.convert_frames_cpu([frames]).result(TIMEOUT_S)
    assert spdl.io.to_numpy(buffer).shape == (1, IMAGE_HEIGHT, IMAGE_WIDTH, 3)


def test_decode_packets_nvdec_validates_arguments_at_call_time(aio_media: Media) -> None:
    packets = spdl.io.demux_media("video", aio_media.video).result(TIMEOUT_S)
    with pytest.raises(TypeError):
        spdl.io.decode_packets_nvdec("packets", cuda_device_index=0)
    with pytest.raises(ValueError):
        spdl.io.decode_packets_nvdec(packets, cuda_device_index=-1)


################################################################################
# Failures surface as AsyncIOFailure naming source and phase
################################################################################


def test_demux_failure_names_source_and_phase(aio_media: Media) -> None:
    future = spdl.io.demux_media("video", aio_media.truncated_video)
    with pytest.raises(spdl.io.AsyncIOFailure) as info:
        future.result(TIMEOUT_S)
    failure = info.value
    assert isinstance(failure, RuntimeError)
    assert "demux" in str(failure)
    assert str(aio_media.truncated_video) in str(failure)
    assert failure.phase == "demux"
    assert isinstance(failure.__cause__, spdl.io.MediaError)
    assert str(failure.__cause__) in str(failure)


def test_missing_file_fails_in_demux_phase(tmp_path: Any) -> None:
    missing = tmp_path / "missing.mp4"
    with pytest.raises(spdl.io.AsyncIOFailure, match="demux") as info:
        spdl.io.demux_media("video", missing).result(TIMEOUT_S)
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert str(missing) in str(info.value)


def test_decode_failure_names_source_and_phase(aio_media: Media) -> None:
    packets = spdl.io.demux_media("image", aio_media.broken_png).result(TIMEOUT_S)
    with pytest.raises(spdl.io.AsyncIOFailure, match="decode") as info:
        spdl.io.decode_packets(packets).result(TIMEOUT_S)
    assert info.value.phase == "decode"
    assert str(aio_media.broken_png) in str(info.value)
    assert isinstance(info.value.__cause__, spdl.io.MediaError)


def test_convert_failure_names_phase_and_keeps_cause(
    aio_media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    packets = spdl.io.demux_media("image", aio_media.jpeg).result(TIMEOUT_S)
    frames = spdl.io.decode_packets(packets).result(TIMEOUT_S)
    original = spdl.io.MediaError("out of memory while copying")

    def failing_convert(frames: Any) -> Any:
        raise original

    monkeypatch.setattr(_convert, "convert", failing_convert)
    with pytest.raises(spdl.io.AsyncIOFailure, match="convert") as info:
        spdl.io.convert_frames(frames).result(TIMEOUT_S)
    assert info.value.phase == "convert"
    assert info.value.__cause__ is original
    assert "out of memory while copying" in str(info.value)
    assert str(aio_media.jpeg) in str(info.value)


################################################################################
# streaming_demux
################################################################################


def test_streaming_demux_yields_exact_frames_per_window(aio_media: Media) -> None:
    windows = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    futures = spdl.io.streaming_demux("video", aio_media.video, windows)
    assert len(futures) == len(windows)
    assert all(isinstance(f, Future) for f in futures)
    for index, (future, window) in enumerate(zip(futures, windows, strict=True)):
        packets = future.result(TIMEOUT_S)
        assert packets.timestamp == window
        frames = spdl.io.decode_packets(packets).result(TIMEOUT_S)
        assert len(frames) == VIDEO_FPS
        assert frames.pts[0] == pytest.approx(window[0])
        assert all(window[0] <= t < window[1] for t in frames.pts)
        array = spdl.io.to_numpy(spdl.io.convert_frames(frames).result(TIMEOUT_S))
        assert array.shape == (VIDEO_FPS, VIDEO_HEIGHT, VIDEO_WIDTH, 3)
        first_frame_index = index * VIDEO_FPS
        assert abs(float(array[0].mean()) - gray_level(first_frame_index)) <= 3


def test_streaming_demux_windows_not_on_keyframes(aio_media: Media) -> None:
    windows = [(0.5, 0.8), (1.25, 1.5)]  # 9 and 8 frames, neither starts on a keyframe
    futures = spdl.io.streaming_demux("video", aio_media.video, windows)
    expected_first = [15, 38]  # ceil(start * fps)
    expected_len = [9, 7]
    for future, first, num_frames in zip(futures, expected_first, expected_len, strict=True):
        frames = spdl.io.decode_packets(future.result(TIMEOUT_S)).result(TIMEOUT_S)
        assert len(frames) == num_frames
        assert frames.pts[0] == pytest.approx(first / VIDEO_FPS)


def test_streaming_demux_opens_the_source_once(
    aio_media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    original = _demux.iter_demux

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setenv("SPDL_DEMUX_PROCESSES", "0")  # the patched demux runs in this process
    monkeypatch.setattr(_demux, "iter_demux", spy)
    executor = CountingExecutor()
    futures = spdl.io.streaming_demux(
        "audio", aio_media.audio, [(0, 1), (1, 2), (2, 3)], executor=executor
    )
    packets = [f.result(TIMEOUT_S) for f in futures]
    assert [p.timestamp for p in packets] == [(0, 1), (1, 2), (2, 3)]
    assert len(calls) == 1
    assert executor.num_submitted == 1


def test_streaming_demux_failure_fails_every_window(aio_media: Media) -> None:
    futures = spdl.io.streaming_demux("video", aio_media.truncated_video, [(0, 1), (1, 2)])
    for future in futures:
        with pytest.raises(spdl.io.AsyncIOFailure, match="demux"):
            future.result(TIMEOUT_S)


def test_streaming_demux_window_past_the_end_does_not_break_later_windows(
    aio_media: Media,
) -> None:
    futures = spdl.io.streaming_demux("video", aio_media.video, [(0, 1), (10, 11), (1, 2)])
    first, past_the_end, last = (f.result(TIMEOUT_S) for f in futures)
    with pytest.raises(spdl.io.AsyncIOFailure, match="decode"):
        spdl.io.decode_packets(past_the_end).result(TIMEOUT_S)
    for packets, start in [(first, 0.0), (last, 1.0)]:
        frames = spdl.io.decode_packets(packets).result(TIMEOUT_S)
        assert len(frames) == VIDEO_FPS
        assert frames.pts[0] == pytest.approx(start)


################################################################################
# chain_futures
################################################################################


def test_chain_futures_resolves_to_last_yielded_result(aio_media: Media) -> None:
    @spdl.io.chain_futures
    def load(src: Any) -> Any:
        packets = yield spdl.io.demux_media("image", src)
        frames = yield spdl.io.decode_packets(packets, width=16, height=12)
        yield spdl.io.convert_frames(frames)

    future = load(aio_media.jpeg)
    assert isinstance(future, Future)
    assert spdl.io.to_numpy(future.result(TIMEOUT_S)).shape == (12, 16, 3)


def test_chain_futures_sends_results_in_order() -> None:
    seen = []

    @spdl.io.chain_futures
    def chain() -> Any:
        seen.append((yield _done(1)))
        seen.append((yield _done(2)))
        yield _done(3)

    assert chain().result(TIMEOUT_S) == 3
    assert seen == [1, 2]


def test_chain_futures_propagates_the_first_unhandled_error(aio_media: Media) -> None:
    reached_decode = []

    @spdl.io.chain_futures
    def load(src: Any) -> Any:
        packets = yield spdl.io.demux_media("image", src)
        reached_decode.append(True)
        yield spdl.io.decode_packets(packets)

    future = load(aio_media.truncated_video)
    with pytest.raises(spdl.io.AsyncIOFailure, match="demux"):
        future.result(TIMEOUT_S)
    assert reached_decode == []


def test_chain_futures_decode_failure_propagates(aio_media: Media) -> None:
    @spdl.io.chain_futures
    def load(src: Any) -> Any:
        packets = yield spdl.io.demux_media("image", src)
        frames = yield spdl.io.decode_packets(packets)
        yield spdl.io.convert_frames(frames)

    with pytest.raises(spdl.io.AsyncIOFailure, match="decode"):
        load(aio_media.broken_png).result(TIMEOUT_S)


def test_chain_futures_throws_errors_into_the_generator(aio_media: Media) -> None:
    @spdl.io.chain_futures
    def load_with_fallback(src: Any, fallback: Any) -> Any:
        try:
            packets = yield spdl.io.demux_media("image", src)
        except spdl.io.AsyncIOFailure:
            packets = yield spdl.io.demux_media("image", fallback)
        frames = yield spdl.io.decode_packets(packets)
        yield spdl.io.convert_frames(frames)

    buffer = load_with_fallback(aio_media.truncated_video, aio_media.png).result(TIMEOUT_S)
    assert spdl.io.to_numpy(buffer).shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)


def test_chain_futures_error_raised_by_generator_code_fails_the_future() -> None:
    @spdl.io.chain_futures
    def chain() -> Any:
        value = yield _done(1)
        raise KeyError(value)

    with pytest.raises(KeyError):
        chain().result(TIMEOUT_S)


def test_chain_futures_errors_keep_the_frames_where_they_were_raised() -> None:
    """The chain drops the generator's own ``yield`` frames from errors thrown through
    it (they would keep the chain alive, Python 3.12), never the raising frames."""
    import traceback
    from concurrent.futures import ThreadPoolExecutor

    def failing_work() -> None:
        raise ValueError("from the worker")

    with ThreadPoolExecutor(1) as pool:

        def delegate():
            yield pool.submit(failing_work)

        @spdl.io.chain_futures
        def passes_it_on():
            yield from delegate()

        @spdl.io.chain_futures
        def raises_its_own():
            yield pool.submit(int)
            raise KeyError("from the generator")

        thrown = passes_it_on().exception(TIMEOUT_S)
        own = raises_its_own().exception(TIMEOUT_S)
    text = "".join(traceback.format_exception(thrown))
    assert "failing_work" in text and "passes_it_on" not in text and "delegate" not in text, text
    text = "".join(traceback.format_exception(own))
    assert "raises_its_own" in text and 'raise KeyError("from the generator")' in text, text


def test_chain_futures_rejects_non_future_yield() -> None:
    @spdl.io.chain_futures
    def chain() -> Any:
        yield _done(1)
        yield 42

    with pytest.raises(TypeError, match="Future"):
        chain().result(TIMEOUT_S)


def test_chain_futures_return_value_and_empty_generator() -> None:
    @spdl.io.chain_futures
    def returns() -> Any:
        value = yield _done(20)
        return value + 1

    @spdl.io.chain_futures
    def empty() -> Any:
        return
        yield

    assert returns().result(TIMEOUT_S) == 21
    assert empty().result(TIMEOUT_S) is None


def test_chain_futures_argument_errors_before_first_yield_raise_in_caller() -> None:
    @spdl.io.chain_futures
    def load(src: Any) -> Any:
        yield spdl.io.demux_media("image", src)

    with pytest.raises(TypeError):
        load(12345)


def test_chain_futures_long_chain_of_done_futures_does_not_recurse() -> None:
    @spdl.io.chain_futures
    def chain() -> Any:
        total = 0
        for i in range(10_000):
            total += yield _done(i)
        yield _done(total)

    assert chain().result(TIMEOUT_S) == sum(range(10_000))


def test_chain_futures_does_not_block_threads() -> None:
    pending: Future[int] = Future()

    @spdl.io.chain_futures
    def chain() -> Any:
        value = yield pending
        yield _done(value * 2)

    future = chain()  # returns although `pending` is not done
    assert not future.done()
    threading.Timer(0.05, pending.set_result, args=(21,)).start()
    assert future.result(TIMEOUT_S) == 42


def test_cancelling_a_chain_cancels_the_future_it_waits_on() -> None:
    pending: Future[int] = Future()
    closed = []

    @spdl.io.chain_futures
    def chain() -> Any:
        try:
            yield pending
            yield _done(1)
        finally:
            closed.append(True)

    future = chain()
    assert future.cancel()
    assert pending.cancelled()
    assert closed == [True]
    with pytest.raises(CancelledError):
        future.result(TIMEOUT_S)


################################################################################
# wait_futures
################################################################################


def test_wait_futures_returns_results_in_input_order() -> None:
    futures: list[Future[int]] = [Future() for _ in range(5)]
    waited = spdl.io.wait_futures(futures)
    for index in reversed(range(5)):  # complete in reverse order
        assert not waited.done()
        futures[index].set_result(index)
    assert waited.result(TIMEOUT_S) == [0, 1, 2, 3, 4]


def test_wait_futures_strict_fails_with_the_error() -> None:
    error = spdl.io.AsyncIOFailure("boom")
    waited = spdl.io.wait_futures([_done(1), _failed(error), _done(3)])
    with pytest.raises(spdl.io.AsyncIOFailure) as info:
        waited.result(TIMEOUT_S)
    assert info.value is error


def test_wait_futures_strict_fails_fast() -> None:
    never: Future[int] = Future()
    waited = spdl.io.wait_futures([never, _failed(ValueError("bad"))])
    with pytest.raises(ValueError, match="bad"):
        waited.result(TIMEOUT_S)
    assert not never.done()  # the failure did not wait for it


def test_wait_futures_non_strict_returns_successes_and_logs_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = spdl.io.AsyncIOFailure("Failed to decode 'bad.jpg': broken")
    with caplog.at_level(logging.ERROR, logger="spdl.io"):
        waited = spdl.io.wait_futures([_done(1), _failed(error), _done(3)], strict=False)
        assert waited.result(TIMEOUT_S) == [1, 3]
    assert any("bad.jpg" in r.getMessage() and r.name == "spdl.io" for r in caplog.records)


def test_wait_futures_non_strict_all_failed_raises_async_io_failure() -> None:
    first = ValueError("first")
    waited = spdl.io.wait_futures([_failed(first), _failed(ValueError("2"))], strict=False)
    with pytest.raises(spdl.io.AsyncIOFailure) as info:
        waited.result(TIMEOUT_S)
    assert info.value.__cause__ is first


def test_wait_futures_empty_and_type_check() -> None:
    assert spdl.io.wait_futures([]).result(TIMEOUT_S) == []
    with pytest.raises(TypeError):
        spdl.io.wait_futures([1, 2])


def test_cancelling_wait_futures_cancels_the_inputs() -> None:
    futures: list[Future[int]] = [Future(), Future()]
    waited = spdl.io.wait_futures(futures)
    assert waited.cancel()
    assert all(f.cancelled() for f in futures)


def test_wait_futures_feeds_a_batch_conversion(aio_media: Media) -> None:
    @spdl.io.chain_futures
    def decode(src: Any) -> Any:
        packets = yield spdl.io.demux_media("image", src)
        yield spdl.io.decode_packets(packets, width=8, height=6)

    @spdl.io.chain_futures
    def batch(srcs: list[Any]) -> Any:
        frames = yield spdl.io.wait_futures([decode(src) for src in srcs])
        yield spdl.io.convert_frames(frames)

    srcs = aio_media.gray_images
    array = spdl.io.to_numpy(batch(srcs).result(TIMEOUT_S))
    assert array.shape == (len(srcs), 6, 8, 3)
    for index in range(len(srcs)):  # input order is kept
        assert abs(float(array[index].mean()) - gray_level(index)) <= 3


################################################################################
# Executors
################################################################################


def test_custom_executor_runs_every_phase(aio_media: Media) -> None:
    with CountingExecutor() as executor:
        packets = spdl.io.demux_media("image", aio_media.png, executor=executor).result()
        frames = spdl.io.decode_packets(packets, executor=executor).result(TIMEOUT_S)
        buffer = spdl.io.convert_frames(frames, executor=executor).result(TIMEOUT_S)
        assert executor.num_submitted == 3
    assert spdl.io.to_numpy(buffer).shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)


def test_shared_executors_are_lazy_and_reused() -> None:
    assert _executor.get_demux_executor() is _executor.get_demux_executor()
    assert _executor.get_decode_executor() is _executor.get_decode_executor()
    assert _executor.get_demux_executor() is not _executor.get_decode_executor()


@pytest.fixture
def restore_executor_sizes() -> Any:
    sizes = dict(_executor._sizes)
    yield
    with _executor._lock:
        _executor._sizes.clear()
        _executor._sizes.update(sizes)
        _executor._pools.pop("demux", None)
        _executor._pools.pop("decode", None)


def test_set_executor_sizes_replaces_the_pools(
    aio_media: Media, restore_executor_sizes: None
) -> None:
    spdl.io.set_executor_sizes(demux=1, decode=3)
    assert _executor.executor_sizes() == (1, 3)
    assert _executor.get_demux_executor()._max_workers == 1
    assert _executor.get_decode_executor()._max_workers == 3
    assert _load_image(aio_media.jpeg).shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)
    spdl.io.set_executor_sizes(decode=2)
    assert _executor.executor_sizes() == (1, 2)
    assert _executor.get_decode_executor()._max_workers == 2
    # NumPy integers count as every other count does (docs/io.md); a Python int is kept.
    spdl.io.set_executor_sizes(demux=np.int64(2), decode=np.int32(3))
    assert _executor.executor_sizes() == (2, 3)
    assert all(type(size) is int for size in _executor.executor_sizes())


def test_a_pool_retired_by_a_resize_still_takes_work(
    aio_media: Media, restore_executor_sizes: None
) -> None:
    # Loads in other threads failed with "cannot schedule new futures after shutdown":
    # one took the pool just before another thread's resize shut it down.
    pool = _executor.get_decode_executor()
    spdl.io.set_executor_sizes(decode=pool._max_workers + 1)
    assert _executor.get_decode_executor() is not pool
    assert pool.submit(_load_image, aio_media.jpeg).result(TIMEOUT_S).shape[2] == 3


@pytest.mark.parametrize("value", [0, -2])
def test_set_executor_sizes_rejects_non_positive(value: int) -> None:
    with pytest.raises(ValueError):
        spdl.io.set_executor_sizes(demux=value)
    with pytest.raises(TypeError):
        spdl.io.set_executor_sizes(decode=2.5)  # type: ignore[arg-type]


def test_executor_sizes_come_from_environment(
    monkeypatch: pytest.MonkeyPatch, restore_executor_sizes: None
) -> None:
    with _executor._lock:
        _executor._sizes.pop("demux", None)
        _executor._sizes.pop("decode", None)
    monkeypatch.setenv("SPDL_DEMUX_THREADS", "3")
    monkeypatch.setenv("SPDL_DECODE_THREADS", "5")
    assert _executor.executor_sizes() == (3, 5)
    monkeypatch.setenv("SPDL_DECODE_THREADS", "many")
    with pytest.raises(ValueError, match="SPDL_DECODE_THREADS"):
        _executor.executor_sizes()
    monkeypatch.delenv("SPDL_DEMUX_THREADS")
    monkeypatch.delenv("SPDL_DECODE_THREADS")
    demux, decode = _executor.executor_sizes()
    assert 1 <= demux <= 4
    assert decode >= 1


################################################################################
# Thread safety
################################################################################


def test_many_concurrent_loads_from_several_threads_are_deterministic(aio_media: Media) -> None:
    @spdl.io.chain_futures
    def load(src: Any) -> Any:
        packets = yield spdl.io.demux_media("video", src, timestamp=(0.5, 1.5))
        frames = yield spdl.io.decode_packets(packets, width=32, height=24)
        yield spdl.io.convert_frames(frames)

    reference = spdl.io.to_numpy(load(aio_media.video).result(TIMEOUT_S))
    assert reference.shape == (VIDEO_FPS, 24, 32, 3)
    num_threads, loads_per_thread = 6, 20
    results: list[list[Future[Any]]] = [[] for _ in range(num_threads)]
    barrier = threading.Barrier(num_threads)

    def submit(index: int) -> None:
        barrier.wait()
        results[index] = [load(aio_media.video) for _ in range(loads_per_thread)]

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(num_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    arrays = [spdl.io.to_numpy(f.result(TIMEOUT_S)) for fs in results for f in fs]
    assert len(arrays) == num_threads * loads_per_thread
    for array in arrays:
        np.testing.assert_array_equal(array, reference)


def test_sync_still_image_batch_runs_from_the_calling_thread(aio_media: Media) -> None:
    # Every decode pool thread is blocked: the batch can only finish if the calling
    # thread decodes it (one GIL acquisition per batch instead of three).
    pool = _executor.get_decode_executor()
    release = threading.Event()
    blockers = [pool.submit(release.wait, TIMEOUT_S) for _ in range(pool._max_workers)]
    try:
        batch = spdl.io.to_numpy(spdl.io.batch_load_image(aio_media.gray_images, 16, 12))
        assert not any(blocker.done() for blocker in blockers)
    finally:
        release.set()
    assert batch.shape == (len(aio_media.gray_images), 12, 16, 3)
    for i, image in enumerate(batch):
        assert abs(int(np.median(image)) - gray_level(i)) <= 2


def test_sync_batch_with_an_executor_runs_there(aio_media: Media) -> None:
    with CountingExecutor() as executor:
        batch = spdl.io.batch_load_image(aio_media.gray_images, 16, 12, executor=executor)
        assert executor.num_submitted == 1
    assert spdl.io.to_numpy(batch).shape == (len(aio_media.gray_images), 12, 16, 3)


def test_a_batch_on_a_pool_that_cancels_its_queue_does_not_deadlock(aio_media: Media) -> None:
    # The pool's shutdown(cancel_futures=True) cancels the queued images under the lock
    # that submitting the next image needs; the chains' callbacks must not wait for a
    # lock the submitting thread holds.
    batch = OPERATIONS["batch_load_image"].future
    data = aio_media.jpeg.read_bytes()
    for delay in (0.01, 0.03, 0.06):
        pool = ThreadPoolExecutor(1)
        holder: dict[str, Any] = {}

        def start(pool: ThreadPoolExecutor = pool, holder: dict = holder) -> None:
            sources = [data] * 600
            holder["future"] = batch(
                sources, 16, 16, demux_options={"format": "mjpeg"}, executor=pool
            )

        starter = threading.Thread(target=start, daemon=True)
        stopper = threading.Thread(
            target=lambda pool=pool: pool.shutdown(wait=False, cancel_futures=True), daemon=True
        )
        starter.start()
        threading.Event().wait(delay)
        stopper.start()
        starter.join(TIMEOUT_S)
        stopper.join(TIMEOUT_S)
        assert not starter.is_alive() and not stopper.is_alive(), "deadlocked"
        future = holder["future"]
        assert future.cancelled() or future.exception(TIMEOUT_S) is not None or future.done()
