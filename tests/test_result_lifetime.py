"""Results are freed as soon as the caller drops them, without waiting for the GC.

A decoded batch can be hundreds of MB; if the futures layer kept it in a
reference cycle, memory would grow until a garbage-collection pass.
"""

from __future__ import annotations

import gc
import io
import logging
import pathlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from media import ImageReference, VideoReference

import spdl.io
from spdl.io._runtime.operation import OPERATIONS


@pytest.fixture
def gc_garbage() -> Iterator[Callable[[], list[str]]]:
    """Disables the GC; the callable returns the type names only the GC could free."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)

    def collect() -> list[str]:
        gc.collect()
        names = sorted({type(o).__name__ for o in gc.garbage})
        gc.garbage.clear()
        return names

    try:
        yield collect
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_future_results_are_not_kept_in_reference_cycles(
    gc_garbage: Callable[[], list[str]],
    image_files: dict[str, ImageReference],
    h264_video: VideoReference,
) -> None:
    paths = [image_files["jpeg"].path, image_files["png"].path]
    gc_garbage()  # whatever the fixtures left behind
    packets = spdl.io.demux_media("video", h264_video.path, (0.0, 0.5)).result()
    frames = spdl.io.decode_packets(packets).result()
    buffer = spdl.io.convert_frames(frames).result()
    assert spdl.io.to_numpy(buffer).shape[0] == 15
    del packets, frames, buffer
    batch = spdl.io.batch_load_image(paths, width=16, height=12)
    assert spdl.io.to_numpy(batch).shape == (2, 12, 16, 3)
    del batch
    leftovers = gc_garbage()
    assert "CPUBuffer" not in leftovers and "Future" not in leftovers, leftovers


def test_windows_decoded_one_after_the_other_are_not_kept_in_reference_cycles(
    gc_garbage: Callable[[], list[str]], h264_video: VideoReference
) -> None:
    """The decodes of a streaming demux's windows wait for each other (window_order):
    neither the waiting Futures nor the results may end up in a cycle."""
    windows = [(0.0, 0.3), (0.3, 0.6), (0.6, 0.9)]

    def decode_all() -> None:
        packets = [f.result() for f in spdl.io.streaming_demux("video", h264_video.path, windows)]
        futures = [spdl.io.decode_packets(p) for p in packets]
        buffers = [spdl.io.convert_frames(f.result()).result() for f in futures]
        assert [spdl.io.to_numpy(b).shape[0] for b in buffers] == [9, 9, 9]
        assert packets[0].decode_session_stats["windows_continued"] == 2

    decode_all()  # first use
    gc_garbage()
    decode_all()
    leftovers = gc_garbage()
    for name in ("Future", "CPUBuffer", "VideoFrames", "VideoPackets"):
        assert name not in leftovers, leftovers


def test_failures_are_not_kept_in_reference_cycles(
    gc_garbage: Callable[[], list[str]],
    image_files: dict[str, ImageReference],
    tmp_path: pathlib.Path,
) -> None:
    """A failure's traceback keeps the frames it went through; none of them may hold
    the Future, the error or the inputs, or all of them wait for the GC."""
    import asyncio

    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(bytes(range(256)) * 8)
    not_a_container = tmp_path / "garbage.mp4"
    not_a_container.write_bytes(bytes(range(256)) * 8)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(image_files["jpeg"].path.read_bytes()[:300])
    good = image_files["jpeg"].path

    async def async_failures() -> None:
        for src in (garbage, truncated):
            with pytest.raises(spdl.io.AsyncIOFailure):
                await spdl.io.async_load_media("image", src)
        with pytest.raises(spdl.io.AsyncIOFailure):
            await spdl.io.async_batch_load_image([garbage, good], width=8, height=8)

    def failures() -> None:
        with pytest.raises(spdl.io.AsyncIOFailure):
            spdl.io.demux_media("video", not_a_container).result()
        packets = spdl.io.demux_media("image", truncated).result()
        with pytest.raises(spdl.io.AsyncIOFailure):
            spdl.io.decode_packets(packets).result()
        del packets
        with pytest.raises(spdl.io.AsyncIOFailure):
            spdl.io.batch_load_image([garbage, good], width=8, height=8, strict=True)
        # The general path (a file object is not known to be a still image) and a sync
        # form given an executor wait on a Future: their frames held it (a cycle).
        # (Logging off: pytest keeps the logged failures, and their tracebacks, alive.)
        files = [io.BytesIO(good.read_bytes()), io.BytesIO(garbage.read_bytes())]
        logging.disable(logging.CRITICAL)
        try:
            with pytest.raises(spdl.io.AsyncIOFailure):
                spdl.io.batch_load_image(files, width=8, height=8)
            with ThreadPoolExecutor(2) as pool, pytest.raises(spdl.io.AsyncIOFailure):
                spdl.io.batch_load_image([good, files[1]], width=8, height=8, executor=pool)
        finally:
            logging.disable(logging.NOTSET)
        asyncio.run(async_failures())

    failures()  # first use: loggers, executors, event-loop machinery
    gc_garbage()
    failures()
    leftovers = gc_garbage()
    for name in ("Future", "AsyncIOFailure", "MediaError", "CPUBuffer", "ImagePackets"):
        assert name not in leftovers, leftovers


def test_wait_futures_keeps_neither_its_inputs_nor_their_results_in_cycles(
    gc_garbage: Callable[[], list[str]], image_files: dict[str, ImageReference]
) -> None:
    # The inputs keep their done-callbacks, which reach wait_futures' lists.
    path = image_files["jpeg"].path
    load_future = OPERATIONS["load_media"].future

    def waits() -> None:
        for strict in (True, False):
            buffers = [load_future("image", path) for _ in range(2)]
            assert len(spdl.io.wait_futures(buffers, strict=strict).result()) == 2
            loads = (load_future("image", path) for _ in range(2))  # an iterable
            assert len(spdl.io.wait_futures(loads).result()) == 2

    waits()
    gc_garbage()
    waits()
    leftovers = gc_garbage()
    assert "CPUBuffer" not in leftovers and "Future" not in leftovers, leftovers


def test_a_failed_stream_keeps_nothing_in_cycles(
    gc_garbage: Callable[[], list[str]], tmp_path: pathlib.Path
) -> None:
    not_a_container = tmp_path / "garbage.mp4"
    not_a_container.write_bytes(bytes(range(256)) * 8)

    def fail() -> None:
        futures = spdl.io.streaming_demux("video", not_a_container, [(0, 1), (1, 2)])
        # exception(), not result(): a raise in this frame, which holds the Futures,
        # would put the frame in the error's traceback (a cycle of the caller's making).
        errors = [future.exception() for future in futures]
        assert all(isinstance(error, spdl.io.AsyncIOFailure) for error in errors)

    fail()
    gc_garbage()
    fail()
    leftovers = gc_garbage()
    for name in ("Future", "AsyncIOFailure", "MediaError", "Step"):
        assert name not in leftovers, leftovers
