"""Every declared operation has three forms that behave as one.

For each operation of ``spdl.io._runtime.operation.OPERATIONS`` the sync, Future and asyncio
forms exist, take the same parameters (the background forms add ``executor``), give
the same result on the same input, raise the same error type for the same failure,
and open sources the same way (the probe decode). Every ``async_*`` runs under
``asyncio.run`` called from plain code, with its work queued before the loop exists.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import sys
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from _media import VIDEO_FPS, Media

import spdl.io
from spdl.io._core import convert as _convert
from spdl.io._core import decode as _decode
from spdl.io._core import demux as _demux
from spdl.io._runtime.operation import OPERATIONS, Operation

pytest_plugins = ["_aio_fixtures"]

TIMEOUT_S = 60
FORMS = ("sync", "future", "async")
DECLARED = {
    "demux_media",
    "streaming_demux",
    "decode_packets",
    "decode_packets_nvdec",
    "convert_frames",
    "convert_frames_cpu",
    "load_media",
    "load_image",
    "load_audio",
    "load_video",
    "load_video_windows",
    "batch_load_image",
    "index_video",
    "load_video_frames",
    "clips_at_random_indices",
    "clips_at_regular_indices",
    "clips_at_random_timestamps",
    "clips_at_regular_timestamps",
}


def call(name: str, form: str, *args: Any, **kwargs: Any) -> Any:
    """Run one form to its result: Futures and coroutines are waited for, from plain code."""
    operation = OPERATIONS[name]
    function = operation[FORMS.index(form)]
    if form == "sync":
        result = function(*args, **kwargs)
        return list(result) if operation.stream else result
    if form == "future":
        result = function(*args, **kwargs)
        return [f.result(TIMEOUT_S) for f in result] if operation.stream else result.result()
    if operation.stream:

        async def collect() -> list[Any]:
            return [item async for item in function(*args, **kwargs)]

        return asyncio.run(collect())
    return asyncio.run(function(*args, **kwargs))  # a coroutine, made before the loop


def _packets(packets: Any) -> tuple[Any, ...]:
    return (type(packets).__name__, packets.codec_name, packets.timestamp, list(packets.pts))


def _array(buffer: Any) -> np.ndarray:
    return spdl.io.to_numpy(buffer).copy()


def _frames(frames: Any) -> np.ndarray:
    return _array(spdl.io.convert_frames(frames).result(TIMEOUT_S))


def _demuxed(media: Media, kind: str = "video", *args: Any) -> Any:
    src = media.video if kind == "video" else media.png
    return spdl.io.demux_media(kind, src, *args).result(TIMEOUT_S)


def _frame_batch(batch: Any) -> tuple[Any, ...]:
    return _array(batch.data), batch.pts_seconds, batch.indices


def _image_batch(media: Media) -> list[Any]:
    return [spdl.io.decode_packets(_demuxed(media, "image")).result(TIMEOUT_S)]


# name -> (arguments made fresh for each form, what of the result to compare)
RESULTS: dict[str, tuple[Callable[[Media], tuple[Any, ...]], Callable[[Any], Any]]] = {
    "demux_media": (lambda m: ("video", m.video, (0.0, 1.0)), _packets),
    "streaming_demux": (
        lambda m: ("video", m.video, [(0, 1), (1.5, 2)]),
        lambda packets: [_packets(p) for p in packets],
    ),
    "decode_packets": (lambda m: (_demuxed(m, "video", (0, 1)),), _frames),
    "convert_frames": (lambda m: (_image_batch(m),), _array),
    "convert_frames_cpu": (
        lambda m: (spdl.io.decode_packets(_demuxed(m)).result(TIMEOUT_S),),
        _array,
    ),
    "load_media": (
        lambda m: ("video", m.video, {"timestamp": (0.5, 1.0)}, {"width": 16}),
        _array,
    ),
    "load_image": (lambda m: (m.jpeg_bytes,), _array),
    "load_audio": (lambda m: (m.audio, (0.5, 1.5)), _array),
    "load_video": (lambda m: (m.video, (1, 2)), _array),
    "load_video_windows": (
        lambda m: (m.video, [(0, 1), (0.5, 1.5)]),
        lambda buffers: [_array(b) for b in buffers],
    ),
    "batch_load_image": (lambda m: (m.gray_images[:3], 16, 12), _array),
    "index_video": (lambda m: (m.video,), lambda index: (index.pts.tolist(), index.keyframes)),
    "load_video_frames": (lambda m: (m.video, [5, 80, 5]), _frame_batch),
    "clips_at_random_indices": (lambda m: (m.video,), _frame_batch),
    "clips_at_regular_indices": (lambda m: (m.video,), _frame_batch),
    "clips_at_random_timestamps": (lambda m: (m.video,), _frame_batch),
    "clips_at_regular_timestamps": (lambda m: (m.video,), _frame_batch),
}
# name -> keyword arguments of RESULTS' calls
KEYWORDS: dict[str, dict[str, Any]] = {
    "clips_at_random_indices": {"num_clips": 2, "num_frames_per_clip": 3, "seed": 3},
    "clips_at_regular_indices": {"num_clips": 3, "num_indices_between_frames": 2},
    "clips_at_random_timestamps": {"num_clips": 2, "seed": 3},
    "clips_at_regular_timestamps": {"seconds_between_clip_starts": 1.0, "num_frames_per_clip": 2},
}

# name -> (arguments that fail in the background, the error every form raises)
FAILURES: dict[str, tuple[Callable[[Media], tuple[Any, ...]], type[BaseException]]] = {
    "demux_media": (lambda m: ("video", m.truncated_video), spdl.io.AsyncIOFailure),
    "streaming_demux": (lambda m: ("video", m.truncated_video, [(0, 1)]), spdl.io.AsyncIOFailure),
    "decode_packets": (lambda m: (_demuxed_broken(m),), spdl.io.AsyncIOFailure),
    "load_media": (lambda m: ("image", m.broken_png), spdl.io.AsyncIOFailure),
    "load_image": (lambda m: (m.broken_png,), spdl.io.MediaError),
    "load_audio": (lambda m: (m.video.with_name("missing.m4a"),), FileNotFoundError),
    "load_video": (lambda m: (m.truncated_video,), spdl.io.MediaError),
    "load_video_windows": (lambda m: (m.video, [(5, 6)]), spdl.io.MediaError),
    "batch_load_image": (lambda m: ([m.corrupt_image], 16, 12), spdl.io.AsyncIOFailure),
    "index_video": (lambda m: (m.truncated_video,), spdl.io.MediaError),
    "load_video_frames": (lambda m: (m.video, [90]), IndexError),
    "clips_at_random_indices": (lambda m: (m.truncated_video,), spdl.io.MediaError),
    "clips_at_random_timestamps": (
        lambda m: (m.video.with_name("missing.mp4"),),
        FileNotFoundError,
    ),
}

# name -> (positional and keyword arguments refused when the function is called, the error)
ARGUMENT_ERRORS: dict[str, tuple[Callable[[Media], tuple[Any, ...]], type[BaseException]]] = {
    "demux_media": (lambda m: (("picture", m.video), {}), ValueError),
    "streaming_demux": (lambda m: (("video", m.video, []), {}), ValueError),
    "decode_packets": (lambda m: (("not packets",), {}), TypeError),
    "decode_packets_nvdec": (lambda m: ((_demuxed(m), 0), {"pix_fmt": "yuv"}), ValueError),
    "convert_frames": (lambda m: (([],), {}), ValueError),
    "convert_frames_cpu": (lambda m: (([object()],), {}), TypeError),
    "load_media": (lambda m: (("video", m.video, {"timestamp": (3, 1)}), {}), ValueError),
    "load_image": (lambda m: ((m.jpeg,), {"sample_rate": 8000}), ValueError),
    "load_audio": (lambda m: ((m.audio,), {"width": 3}), ValueError),
    "load_video": (lambda m: ((42,), {}), TypeError),
    "load_video_windows": (lambda m: ((m.video, [(2, 1)]), {}), ValueError),
    "batch_load_image": (lambda m: (([], 16, 12), {}), ValueError),
    "index_video": (lambda m: ((m.video,), {"width": 16}), TypeError),
    "load_video_frames": (lambda m: ((m.video,), {"indices": [1], "frame_rate": 5}), ValueError),
    "clips_at_random_indices": (lambda m: ((m.video,), {"num_clips": 0}), ValueError),
    "clips_at_regular_indices": (lambda m: ((m.video,), {"policy": "clamp"}), ValueError),
    "clips_at_random_timestamps": (lambda m: ((m.video,), {"seed": "x"}), TypeError),
    "clips_at_regular_timestamps": (
        lambda m: ((m.video,), {"seconds_between_clip_starts": 0}),
        ValueError,
    ),
}


def _demuxed_broken(media: Media) -> Any:
    return spdl.io.demux_media("image", media.broken_png).result(TIMEOUT_S)


def test_every_operation_is_declared() -> None:
    assert set(OPERATIONS) == DECLARED


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_the_three_forms_take_the_same_parameters(name: str) -> None:
    operation: Operation = OPERATIONS[name]
    signatures = [inspect.signature(function) for function in operation[:3]]
    parameters = [[p for p in s.parameters.values() if p.name != "executor"] for s in signatures]
    assert parameters[0] == parameters[1] == parameters[2]
    for form, signature in zip(FORMS[1:], signatures[1:], strict=True):
        assert signature.parameters["executor"].kind is inspect.Parameter.KEYWORD_ONLY, form
    for function in operation[:3]:  # each public name is its form
        if function.__name__ in spdl.io.__all__:
            assert getattr(spdl.io, function.__name__) is function
            assert "Args:" in function.__doc__ and "Returns:" in function.__doc__


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_the_three_forms_give_the_same_result(aio_media: Media, name: str) -> None:
    make_arguments, comparable = RESULTS[name]
    kwargs = KEYWORDS.get(name, {})
    results = [comparable(call(name, form, *make_arguments(aio_media), **kwargs)) for form in FORMS]
    for form, result in zip(FORMS[1:], results[1:], strict=True):
        np.testing.assert_equal(result, results[0], err_msg=f"{name}: {form} differs from sync")


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_the_three_forms_raise_the_same_error(aio_media: Media, name: str) -> None:
    make_arguments, error = FAILURES[name]
    for form in FORMS:
        with pytest.raises(error) as info:
            call(name, form, *make_arguments(aio_media))
        assert type(info.value) is error, (form, info.value)
        if error is spdl.io.AsyncIOFailure:
            assert info.value.__cause__ is not None, form


@pytest.mark.parametrize("name", ["convert_frames", "convert_frames_cpu"])
def test_a_failed_conversion_is_the_same_error_in_every_form(
    aio_media: Media, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = spdl.io.MediaError("no room for the buffer")

    def failing_convert(frames: Any) -> Any:
        raise original

    monkeypatch.setattr(_convert, "convert", failing_convert)
    for form in FORMS:
        with pytest.raises(spdl.io.AsyncIOFailure, match="no room") as info:
            call(name, form, _image_batch(aio_media))
        assert (info.value.phase, info.value.__cause__) == ("convert", original), form


@pytest.mark.parametrize("name", sorted(ARGUMENT_ERRORS))
def test_the_three_forms_refuse_bad_arguments_when_called(aio_media: Media, name: str) -> None:
    make_arguments, error = ARGUMENT_ERRORS[name]
    args, kwargs = make_arguments(aio_media)
    operation = OPERATIONS[name]
    with ThreadPoolExecutor(1) as executor:
        for form, function in zip(FORMS, operation[:3], strict=True):
            extra = {} if form == "sync" else {"executor": executor}
            with pytest.raises(error):
                function(*args, **kwargs, **extra)
        assert executor.submit(lambda: "idle").result(TIMEOUT_S) == "idle"


@pytest.mark.parametrize("name", ["load_media", "decode_packets_nvdec"])
def test_a_wrong_keyword_names_the_operation(name: str) -> None:
    # Python's message named the private plan function: "_load_media() got ...".
    for form in OPERATIONS[name][:3]:
        with pytest.raises(TypeError, match=f"^{name}\\(\\) got an unexpected keyword"):
            form("image", "foo.jpg", bogus=1)


@pytest.fixture
def openers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records how each source is opened: with the probe decode or without it."""
    opened: list[str] = []
    original = _demux._open

    def spy(src: Any, format: Any, format_options: Any, stream_options: Any = None) -> Any:
        opened.append("no probe" if stream_options else "probe")  # _open_indexed's options
        return original(src, format, format_options, stream_options)

    monkeypatch.setenv("SPDL_DEMUX_PROCESSES", "0")  # the patched demux runs in this process
    monkeypatch.setattr(_demux, "_open", spy)
    return opened


@pytest.mark.parametrize(
    ("name", "make_arguments", "opened"),
    [
        ("demux_media", lambda m: ("video", m.video), "no probe"),  # pix_fmt learned if read
        ("load_media", lambda m: ("video", m.video), "no probe"),
        ("load_video", lambda m: (m.video,), "no probe"),
    ],
)
def test_the_three_forms_open_sources_alike(
    aio_media: Media, openers: list[str], name: str, make_arguments: Any, opened: str
) -> None:
    for form in FORMS:
        openers.clear()
        call(name, form, *make_arguments(aio_media))
        assert openers == [opened], form


################################################################################
# The coroutines
################################################################################


@pytest.fixture
def blocked_pool() -> Any:
    """A one-thread pool kept busy until the test releases it."""
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        blocker = pool.submit(release.wait, TIMEOUT_S)
        yield pool, release
        release.set()
        blocker.result(TIMEOUT_S)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    original = _decode.decode

    def spy(packets: Any, **options: Any) -> Any:
        calls.append(packets)
        return original(packets, **options)

    monkeypatch.setattr(_decode, "decode", spy)
    return calls


def test_coroutines_made_before_a_loop_run_under_gather_and_create_task(aio_media: Media) -> None:
    srcs = aio_media.gray_images[:4]
    loads = [spdl.io.async_load_media("image", src) for src in srcs]  # no loop yet

    async def main() -> list[Any]:
        first = asyncio.create_task(loads[0])
        return [await first, *await asyncio.gather(*loads[1:])]

    arrays = [spdl.io.to_numpy(b) for b in asyncio.run(main())]
    expected = [spdl.io.to_numpy(spdl.io.load_media("image", src)) for src in srcs]
    np.testing.assert_equal(arrays, expected)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is Python 3.11+")
def test_coroutines_run_in_a_task_group(aio_media: Media) -> None:
    async def main() -> list[Any]:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(spdl.io.async_demux_media("image", aio_media.png))]
            tasks.append(group.create_task(spdl.io.async_load_media("image", aio_media.jpeg)))
        return [task.result() for task in tasks]

    packets, buffer = asyncio.run(main())
    assert packets.codec_name == "png" and spdl.io.to_numpy(buffer).shape[-1] == 3


def test_a_task_cancelled_before_it_starts_cancels_the_queued_work(
    aio_media: Media, blocked_pool: Any, decodes: list[Any]
) -> None:
    pool, release = blocked_pool
    packets = _demuxed(aio_media)

    async def main() -> None:
        task = asyncio.create_task(spdl.io.async_decode_packets(packets, executor=pool))
        task.cancel()  # before the task ever ran
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    release.set()
    assert pool.submit(lambda: "idle").result(TIMEOUT_S) == "idle"
    assert decodes == []


@pytest.mark.parametrize("drop", ["close", "del"])
def test_a_coroutine_closed_or_dropped_unawaited_cancels_its_work(
    aio_media: Media, blocked_pool: Any, decodes: list[Any], drop: str
) -> None:
    pool, release = blocked_pool
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        decoding = spdl.io.async_decode_packets(_demuxed(aio_media), executor=pool)
        if drop == "close":
            decoding.close()
        del decoding
        gc.collect()
    release.set()
    assert pool.submit(lambda: "idle").result(TIMEOUT_S) == "idle"
    assert decodes == []
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_a_coroutine_is_awaited_once(aio_media: Media) -> None:
    async def main() -> None:
        demuxing = spdl.io.async_demux_media("image", aio_media.png)
        assert asyncio.iscoroutine(demuxing)
        assert (await demuxing).codec_name == "png"
        with pytest.raises(RuntimeError, match="already awaited"):
            await demuxing

    asyncio.run(main())


def test_a_future_form_cancels_like_the_coroutine(aio_media: Media, blocked_pool: Any) -> None:
    pool, release = blocked_pool
    future = spdl.io.demux_media("video", aio_media.video, (0, 1), executor=pool)
    assert isinstance(future, Future) and future.cancel()
    release.set()
    assert pool.submit(lambda: "idle").result(TIMEOUT_S) == "idle"
    assert len(spdl.io.demux_media("video", aio_media.video, (0, 1)).result()) == VIDEO_FPS
