"""spdl.pipeline with spdl.io ops: a stage passes the Future of an spdl.io call on as
its result, and stopping the pipeline cancels the spdl.io work still in flight."""

from __future__ import annotations

import concurrent.futures
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from media import VideoReference

import spdl.io
from spdl.pipeline import PipelineBuilder

TIMEOUT_S = 30
PROMPT_STOP_S = 1.0


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# The Future forms, and the async_* forms: plain functions returning a coroutine
# object that is not a native one (inspect.iscoroutine is false for it), which the
# stage awaits all the same, as it would an `async def` op's result.
FORMS = {
    "future": (spdl.io.demux_media, spdl.io.decode_packets, spdl.io.convert_frames),
    "async": (
        spdl.io.async_demux_media,
        spdl.io.async_decode_packets,
        spdl.io.async_convert_frames,
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_spdl_io_futures_and_coroutines_are_awaited_in_a_stage(
    h264_video: VideoReference, form: str
):
    demux, decode, convert = FORMS[form]
    pipeline = (
        PipelineBuilder()
        .add_source([str(h264_video.path)] * 2)
        .pipe(functools.partial(demux, "video"), concurrency=2)
        .pipe(decode, concurrency=2)
        .pipe(convert)
        .add_sink(2)
        .build(num_threads=2)
    )
    with pipeline.auto_stop():
        buffers = list(pipeline.get_iterator(timeout=TIMEOUT_S))
    shape = (len(h264_video.times), h264_video.height, h264_video.width, 3)
    assert [spdl.io.to_numpy(buffer).shape for buffer in buffers] == [shape, shape]


def test_stop_cancels_spdl_io_work_in_flight(h264_video: VideoReference):
    packets = spdl.io.demux_media("video", str(h264_video.path)).result(TIMEOUT_S)
    # One decode thread, kept busy: the decodes the pipeline submits stay queued.
    decode_pool = concurrent.futures.ThreadPoolExecutor(1)
    release = threading.Event()
    blocker = decode_pool.submit(release.wait, TIMEOUT_S)
    submitted: list[concurrent.futures.Future[Any]] = []

    def decode(index: int) -> concurrent.futures.Future[Any]:
        future = spdl.io.decode_packets(packets, executor=decode_pool)
        submitted.append(future)
        return future

    try:
        pipeline = (
            PipelineBuilder()
            .add_source(range(10))
            .pipe(decode, concurrency=3)
            .add_sink(2)
            .build(num_threads=1)
        )
        pipeline.start()
        wait_until(lambda: len(submitted) == 3)
        begin = time.monotonic()
        pipeline.stop(timeout=TIMEOUT_S)
        assert time.monotonic() - begin < PROMPT_STOP_S
        assert len(submitted) == 3 and all(f.cancelled() for f in submitted)
    finally:
        release.set()
        assert blocker.result(TIMEOUT_S)
        decode_pool.shutdown(wait=True)
