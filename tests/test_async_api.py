"""The asyncio API: awaitables queued at call time, high-level loaders and their sync twins."""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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
    VIDEO_NUM_FRAMES,
    VIDEO_WIDTH,
    Media,
    gray_level,
)

import spdl.io
from spdl.io._core import decode as _decode

pytest_plugins = ["_aio_fixtures"]

T = TypeVar("T")
TIMEOUT_S = 60


def run(make_awaitable: Callable[[], Awaitable[T]]) -> T:
    """Run ``make_awaitable()`` in a new event loop (spdl's async functions need one)."""

    async def main() -> T:
        return await asyncio.wait_for(make_awaitable(), TIMEOUT_S)

    return asyncio.run(main())


@pytest.fixture
def batch_spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records the number of sources of each native batch-decode call."""
    calls: list[int] = []
    original = _decode.decode_image_batch

    def spy(srcs: Any, **kwargs: Any) -> Any:
        calls.append(len(srcs))
        return original(srcs, **kwargs)

    monkeypatch.setattr(_decode, "decode_image_batch", spy)
    return calls


################################################################################
# Low-level awaitables
################################################################################

ASYNC_PHASE_FUNCTIONS = [
    "async_demux_media",
    "async_decode_packets",
    "async_decode_packets_nvdec",
    "async_convert_frames",
    "async_convert_frames_cpu",
    "async_load_media",
    "async_batch_load_image",
]


@pytest.mark.parametrize("name", ASYNC_PHASE_FUNCTIONS)
def test_async_functions_are_plain_functions_returning_awaitables(name: str) -> None:
    assert not inspect.iscoroutinefunction(getattr(spdl.io, name))


def test_every_phase_is_queued_when_called_before_await(aio_media: Media) -> None:
    async def main() -> np.ndarray:
        with CountingExecutor() as executor:
            demuxing = spdl.io.async_demux_media("image", aio_media.jpeg, executor=executor)
            assert asyncio.iscoroutine(demuxing)
            assert executor.num_submitted == 1  # before any await
            packets = await demuxing
            decoding = spdl.io.async_decode_packets(packets, executor=executor)
            assert executor.num_submitted == 2
            frames = await decoding
            converting = spdl.io.async_convert_frames(frames, executor=executor)
            assert executor.num_submitted == 3
            return spdl.io.to_numpy(await converting)

    assert run(main).shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)


class RecordingExecutor(CountingExecutor):
    """Keeps the Future of every task submitted to it."""

    def __init__(self) -> None:
        super().__init__()
        self.tasks: list[Any] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.tasks.append(super().submit(fn, *args, **kwargs))
        return self.tasks[-1]


def test_queued_work_progresses_without_being_awaited(aio_media: Media) -> None:
    with RecordingExecutor() as executor:
        demuxing = spdl.io.async_demux_media(
            "video", aio_media.video, timestamp=(0, 1), executor=executor
        )
        executor.tasks[0].result(TIMEOUT_S)  # the work ran to its end, never awaited
        assert len(asyncio.run(demuxing)) == VIDEO_FPS


def test_async_functions_called_outside_an_event_loop_queue_their_work(
    aio_media: Media,
) -> None:
    with CountingExecutor() as executor:
        loading = spdl.io.async_load_media("image", aio_media.jpeg, executor=executor)
        assert executor.num_submitted >= 1  # the demux, before any event loop exists
        buffer = asyncio.run(loading)
    assert spdl.io.to_numpy(buffer).shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)


def test_async_arguments_are_validated_at_call_time(aio_media: Media) -> None:
    async def main() -> None:
        with pytest.raises(ValueError):
            spdl.io.async_demux_media("sound", aio_media.audio)
        with pytest.raises(TypeError):
            spdl.io.async_decode_packets(b"not packets")
        with pytest.raises(TypeError):
            spdl.io.async_convert_frames_cpu("frames")
        with pytest.raises(TypeError):
            spdl.io.async_streaming_demux("video", aio_media.video, 5)
        packets = await spdl.io.async_demux_media("video", aio_media.video, timestamp=(0, 1))
        with pytest.raises(ValueError, match="pix_fmt"):
            spdl.io.async_decode_packets_nvdec(packets, cuda_device_index=0, pix_fmt="yuv")
        with pytest.raises(ValueError):
            spdl.io.async_decode_packets(packets, sample_rate=8000)

    run(main)


def test_async_failures_raise_async_io_failure(aio_media: Media) -> None:
    async def main() -> None:
        with pytest.raises(spdl.io.AsyncIOFailure, match="demux"):
            await spdl.io.async_demux_media("video", aio_media.truncated_video)
        packets = await spdl.io.async_demux_media("image", aio_media.broken_png)
        with pytest.raises(spdl.io.AsyncIOFailure, match="decode") as info:
            await spdl.io.async_decode_packets(packets)
        assert str(aio_media.broken_png) in str(info.value)

    run(main)


################################################################################
# async_streaming_demux
################################################################################


def test_async_streaming_demux_yields_one_packets_per_window(aio_media: Media) -> None:
    windows = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]

    async def main() -> list[np.ndarray]:
        arrays = []
        async for packets in spdl.io.async_streaming_demux("video", aio_media.video, windows):
            frames = await spdl.io.async_decode_packets(packets)
            arrays.append(spdl.io.to_numpy(await spdl.io.async_convert_frames(frames)))
        return arrays

    arrays = run(main)
    assert len(arrays) == len(windows)
    for index, array in enumerate(arrays):
        assert array.shape == (VIDEO_FPS, VIDEO_HEIGHT, VIDEO_WIDTH, 3)
        assert abs(float(array[0].mean()) - gray_level(index * VIDEO_FPS)) <= 3


def test_async_streaming_demux_validates_and_queues_at_call_time(aio_media: Media) -> None:
    with CountingExecutor() as executor:
        with pytest.raises(ValueError):
            spdl.io.async_streaming_demux("video", aio_media.video, [])
        stream = spdl.io.async_streaming_demux(
            "video", aio_media.video, [(0, 1)], executor=executor
        )
        assert executor.num_submitted == 1

        async def main() -> list[Any]:
            return [packets async for packets in stream]

        (packets,) = run(main)
    assert len(packets) == VIDEO_FPS


def test_async_streaming_demux_failure_is_raised_by_iteration(aio_media: Media) -> None:
    async def main() -> None:
        stream = spdl.io.async_streaming_demux("video", aio_media.truncated_video, [(0, 1)])
        with pytest.raises(spdl.io.AsyncIOFailure, match="demux"):
            async for _ in stream:
                pass

    run(main)


################################################################################
# async_load_media / load_media
################################################################################


@pytest.mark.parametrize("kind", ["jpeg", "png", "jpeg_bytes", "png_bytes"])
def test_async_load_media_image(aio_media: Media, kind: str) -> None:
    buffer = run(lambda: spdl.io.async_load_media("image", getattr(aio_media, kind)))
    assert spdl.io.to_numpy(buffer).shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)


def test_async_load_media_image_with_decode_options(aio_media: Media) -> None:
    buffer = run(
        lambda: spdl.io.async_load_media(
            "image", aio_media.png, decode_options={"width": 30, "height": 20, "pix_fmt": "gray8"}
        )
    )
    assert spdl.io.to_numpy(buffer).shape == (1, 20, 30)


def test_async_load_media_video_window(aio_media: Media) -> None:
    buffer = run(
        lambda: spdl.io.async_load_media(
            "video",
            aio_media.video,
            demux_options={"timestamp": (1.0, 2.0)},
            decode_options={"width": 32, "height": 24},
        )
    )
    array = spdl.io.to_numpy(buffer)
    assert array.shape == (VIDEO_FPS, 24, 32, 3)
    assert abs(float(array[0].mean()) - gray_level(VIDEO_FPS)) <= 3


def test_async_load_media_whole_video(aio_media: Media) -> None:
    array = spdl.io.to_numpy(run(lambda: spdl.io.async_load_media("video", aio_media.video)))
    assert array.shape == (VIDEO_NUM_FRAMES, VIDEO_HEIGHT, VIDEO_WIDTH, 3)


def test_async_load_media_audio(aio_media: Media) -> None:
    buffer = run(
        lambda: spdl.io.async_load_media(
            "audio", aio_media.audio, demux_options={"timestamp": (0.5, 1.5)}
        )
    )
    array = spdl.io.to_numpy(buffer)
    assert array.dtype == np.float32
    assert array.shape[0] == AUDIO_NUM_CHANNELS
    assert array.shape[1] == pytest.approx(AUDIO_SAMPLE_RATE, abs=AUDIO_SAMPLE_RATE * 0.01)


def test_async_load_media_audio_packed_and_resampled(aio_media: Media) -> None:
    buffer = run(
        lambda: spdl.io.async_load_media(
            "audio",
            aio_media.audio,
            demux_options={"timestamp": (0, 1)},
            decode_options={"sample_fmt": "s16", "sample_rate": 8000, "num_channels": 1},
        )
    )
    array = spdl.io.to_numpy(buffer)
    assert array.dtype == np.int16
    assert array.shape[1] == 1
    assert array.shape[0] == pytest.approx(8000, abs=80)


@pytest.mark.parametrize(
    ("phase", "src_attr"), [("demux", "truncated_video"), ("decode", "broken_png")]
)
def test_async_load_media_failure_names_phase_and_source(
    aio_media: Media, phase: str, src_attr: str
) -> None:
    src = getattr(aio_media, src_attr)
    media_type = "video" if phase == "demux" else "image"
    with pytest.raises(spdl.io.AsyncIOFailure) as info:
        run(lambda: spdl.io.async_load_media(media_type, src))
    assert info.value.phase == phase
    assert phase in str(info.value)
    assert str(src) in str(info.value)
    assert info.value.__cause__ is not None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"media_type": "text"}, ValueError),
        ({"demux_options": {"timestamp": (3, 1)}}, ValueError),
        ({"demux_options": {"unknown": 1}}, TypeError),
        ({"demux_options": [("format", "mp4")]}, TypeError),
        ({"decode_options": {"sample_rate": 8000}}, ValueError),
        ({"decode_options": {"width": "wide"}}, TypeError),
        ({"convert_options": {"pin_memory": True}}, TypeError),
    ],
)
def test_async_load_media_validates_at_call_time(
    aio_media: Media, kwargs: dict[str, Any], error: type
) -> None:
    arguments = {"media_type": "video", "src": aio_media.video, **kwargs}

    async def main() -> None:
        with CountingExecutor() as executor:
            with pytest.raises(error):
                spdl.io.async_load_media(**arguments, executor=executor)
            assert executor.num_submitted == 0
        with pytest.raises(error):
            spdl.io.load_media(**arguments)

    run(main)


################################################################################
# async_batch_load_image / batch_load_image
################################################################################


def test_batch_load_image_keeps_input_order(aio_media: Media) -> None:
    srcs = aio_media.gray_images
    buffer = run(lambda: spdl.io.async_batch_load_image(srcs, width=16, height=12))
    array = spdl.io.to_numpy(buffer)
    assert array.shape == (len(srcs), 12, 16, 3)
    for index in range(len(srcs)):
        assert abs(float(array[index].mean()) - gray_level(index)) <= 3


def test_batch_of_still_image_paths_and_bytes_takes_one_native_call(
    aio_media: Media, batch_spy: list[int]
) -> None:
    srcs = [aio_media.jpeg, aio_media.png_bytes, str(aio_media.png), aio_media.jpeg_bytes]
    buffer = run(lambda: spdl.io.async_batch_load_image(srcs, width=20, height=10))
    assert spdl.io.to_numpy(buffer).shape == (4, 10, 20, 3)
    assert batch_spy == [4]


@pytest.mark.parametrize("reason", ["file_object", "demux_options"])
def test_batch_falls_back_to_per_source_demux(
    aio_media: Media, batch_spy: list[int], reason: str
) -> None:
    srcs: list[Any] = [aio_media.jpeg, aio_media.png]
    kwargs: dict[str, Any] = {}
    if reason == "file_object":
        srcs.append(io.BytesIO(aio_media.png_bytes))
    else:
        kwargs["demux_options"] = {"format_options": {}}
    fast = spdl.io.to_numpy(spdl.io.batch_load_image(srcs[:2], 20, 10))
    batch_spy.clear()
    slow = spdl.io.to_numpy(run(lambda: spdl.io.async_batch_load_image(srcs, 20, 10, **kwargs)))
    assert batch_spy == []
    assert slow.shape == (len(srcs), 10, 20, 3)
    np.testing.assert_allclose(slow[:2], fast, atol=2)


@pytest.mark.parametrize(("decoder", "kind"), [("png", "png"), ("mjpeg", "jpeg")])
def test_batch_with_a_forced_decoder_stays_on_the_native_path(
    aio_media: Media, batch_spy: list[int], decoder: str, kind: str
) -> None:
    srcs = [getattr(aio_media, kind), getattr(aio_media, f"{kind}_bytes")]
    each = [spdl.io.to_numpy(spdl.io.load_image(src, decoder=decoder)) for src in srcs]
    batch_spy.clear()
    options = {"decoder": decoder}
    batch = spdl.io.to_numpy(spdl.io.batch_load_image(srcs, None, None, decode_options=options))
    assert batch_spy == [len(srcs)]
    np.testing.assert_array_equal(batch, np.stack(each))
    # A source the forced decoder cannot read fails, naming the decoder.
    with pytest.raises(spdl.io.AsyncIOFailure, match=decoder):
        spdl.io.batch_load_image([aio_media.jpeg, aio_media.png], 20, 10, decode_options=options)


@pytest.mark.parametrize("fast_path", [True, False])
def test_batch_strict_raises_on_any_failure(aio_media: Media, fast_path: bool) -> None:
    srcs: list[Any] = [aio_media.jpeg, aio_media.corrupt_image, aio_media.png]
    if not fast_path:
        srcs.append(io.BytesIO(aio_media.png_bytes))
    with pytest.raises(spdl.io.AsyncIOFailure) as info:
        run(lambda: spdl.io.async_batch_load_image(srcs, 20, 10))
    assert str(aio_media.corrupt_image) in str(info.value)
    assert "decode" in str(info.value)
    with pytest.raises(spdl.io.AsyncIOFailure) as info:
        spdl.io.batch_load_image(srcs, 20, 10)
    if fast_path:  # otherwise the BytesIO, already read above, may fail first
        assert str(aio_media.corrupt_image) in str(info.value)
        assert info.value.phase == "decode"


def test_sync_batch_wraps_a_failure_of_the_whole_native_call(
    aio_media: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spdl.io._core import decode as _decode

    def failing_batch(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("no room for the batch")

    monkeypatch.setattr(_decode, "decode_image_batch", failing_batch)
    with pytest.raises(spdl.io.AsyncIOFailure, match="<batch of 2 images>") as info:
        spdl.io.batch_load_image([aio_media.jpeg, aio_media.png], 16, 12)
    assert info.value.phase == "decode"
    assert "MemoryError: no room for the batch" in str(info.value)
    assert isinstance(info.value.__cause__, MemoryError)


@pytest.mark.parametrize("fast_path", [True, False])
def test_batch_non_strict_batches_survivors_and_logs_failures(
    aio_media: Media, caplog: pytest.LogCaptureFixture, fast_path: bool
) -> None:
    srcs: list[Any] = [aio_media.gray_images[0], aio_media.corrupt_image]
    srcs += [aio_media.broken_png, aio_media.gray_images[3]]
    if not fast_path:
        srcs.append(io.BytesIO(aio_media.gray_images[5].read_bytes()))
    with caplog.at_level(logging.ERROR, logger="spdl.io"):
        buffer = run(lambda: spdl.io.async_batch_load_image(srcs, 16, 12, strict=False))
    array = spdl.io.to_numpy(buffer)
    levels = [0, 3] + ([5] if not fast_path else [])
    assert array.shape == (len(levels), 12, 16, 3)
    for row, level_index in zip(array, levels, strict=True):
        assert abs(float(row.mean()) - gray_level(level_index)) <= 3
    messages = [r.getMessage() for r in caplog.records if r.name == "spdl.io"]
    for failed in (aio_media.corrupt_image, aio_media.broken_png):
        assert sum(str(failed) in m for m in messages) >= 1


@pytest.mark.parametrize("fast_path", [True, False])
def test_batch_every_source_failing_raises_even_when_not_strict(
    aio_media: Media, fast_path: bool
) -> None:
    srcs: list[Any] = [aio_media.corrupt_image, aio_media.broken_png]
    if not fast_path:
        srcs.append(aio_media.truncated_video)
    with pytest.raises(spdl.io.AsyncIOFailure, match="All 2 images|All 3 images"):
        run(lambda: spdl.io.async_batch_load_image(srcs, 16, 12, strict=False))
    with pytest.raises(spdl.io.AsyncIOFailure):
        spdl.io.batch_load_image(srcs, 16, 12, strict=False)


@pytest.mark.parametrize("fast_path", [True, False])
def test_batch_missing_file_fails_in_demux_phase(
    aio_media: Media, tmp_path: Any, fast_path: bool
) -> None:
    missing = tmp_path / "missing.jpg"
    srcs: list[Any] = [aio_media.jpeg, missing]
    if not fast_path:
        srcs.append(io.BytesIO(aio_media.png_bytes))
    with pytest.raises(spdl.io.AsyncIOFailure) as info:
        spdl.io.batch_load_image(srcs, 16, 12)
    assert info.value.phase == "demux"
    assert str(missing) in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"srcs": []}, ValueError),
        ({"srcs": "image.jpg"}, TypeError),
        ({"srcs": [42]}, TypeError),
        ({"width": -5}, ValueError),
        ({"pix_fmt": "no_such_format"}, ValueError),
        ({"decode_options": {"width": 3}}, TypeError),
        ({"decode_options": {"sample_rate": 3}}, ValueError),
        ({"demux_options": {"timestamp": (0, 1)}}, TypeError),
        ({"convert_options": {"x": 1}}, TypeError),
        ({"strict": "yes"}, TypeError),
    ],
)
def test_batch_arguments_are_validated_at_call_time(
    aio_media: Media, kwargs: dict[str, Any], error: type
) -> None:
    arguments = {"srcs": [aio_media.jpeg], "width": 16, "height": 12, **kwargs}

    async def main() -> None:
        with pytest.raises(error):
            spdl.io.async_batch_load_image(**arguments)

    run(main)
    with pytest.raises(error):
        spdl.io.batch_load_image(**arguments)


def test_batch_without_resize_requires_matching_sizes(aio_media: Media) -> None:
    array = spdl.io.to_numpy(spdl.io.batch_load_image([aio_media.jpeg, aio_media.png], None, None))
    assert array.shape == (2, IMAGE_HEIGHT, IMAGE_WIDTH, 3)


def test_batch_load_image_custom_executor(aio_media: Media) -> None:
    srcs = [io.BytesIO(aio_media.jpeg_bytes), io.BytesIO(aio_media.png_bytes)]
    with CountingExecutor() as executor:
        buffer = spdl.io.batch_load_image(srcs, 16, 12, executor=executor)
        assert executor.num_submitted == 5  # 2 demux + 2 decode + 1 convert
    assert spdl.io.to_numpy(buffer).shape == (2, 12, 16, 3)


################################################################################
# Many loops, many threads
################################################################################


def test_many_concurrent_async_loads_from_several_threads_are_deterministic(
    aio_media: Media,
) -> None:
    def load_video() -> Any:
        return spdl.io.async_load_media(
            "video",
            aio_media.video,
            demux_options={"timestamp": (0.5, 1.5)},
            decode_options={"width": 32, "height": 24},
        )

    def load_batch() -> Any:
        return spdl.io.async_batch_load_image(aio_media.gray_images, 16, 12)

    video_reference = spdl.io.to_numpy(run(load_video))
    batch_reference = spdl.io.to_numpy(run(load_batch))
    num_threads, loads_per_thread = 5, 24
    results: list[list[Any]] = [[] for _ in range(num_threads)]
    errors: list[BaseException] = []

    async def many() -> list[Any]:
        loads = [load_video() if i % 2 else load_batch() for i in range(loads_per_thread)]
        return await asyncio.gather(*loads)

    def worker(index: int) -> None:
        try:
            results[index] = run(many)  # one event loop per thread
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(num_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    buffers = [b for thread_results in results for b in thread_results]
    assert len(buffers) == num_threads * loads_per_thread
    for index, buffer in enumerate(buffers):
        reference = video_reference if index % 2 else batch_reference
        np.testing.assert_array_equal(spdl.io.to_numpy(buffer), reference)


def test_a_finished_coroutine_refuses_to_run_again(aio_media: Media) -> None:
    # As a native coroutine: a second asyncio.run, or an await of one a task ran,
    # raises instead of giving None.
    load = spdl.io.async_load_media("image", aio_media.jpeg)
    assert spdl.io.to_numpy(asyncio.run(load)).ndim == 3
    with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
        asyncio.run(load)

    async def task_then_await() -> Any:
        again = spdl.io.async_load_media("image", aio_media.jpeg)
        await asyncio.ensure_future(again)
        return await again

    with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
        asyncio.run(task_then_await())
