"""Every example of the ``spdl.io`` API page (spec/spdl_io.md), run as written.

Only the page's typos are fixed: ``spd.io`` → ``spdl.io``, the stray ``:`` after
``await ...``, ``future.result()`` → ``futures.result()``, and the annotation
``src: src`` → ``src: str``. The examples load ``foo.jpg``, ``bar.png`` and
``foo.wav`` from the working directory, which each test points at generated media.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _media import IMAGE_HEIGHT, IMAGE_WIDTH, Media
from media import write_tone_wav

import spdl.io

pytest_plugins = ["_aio_fixtures"]

WAV_SAMPLE_RATE = 8000
WAV_DURATION_S = 2


def _write_wav(path: Path) -> None:
    write_tone_wav(path, rate=WAV_SAMPLE_RATE, num_samples=WAV_SAMPLE_RATE * WAV_DURATION_S)


@pytest.fixture
def spec_dir(aio_media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the files the examples name."""
    shutil.copy(aio_media.jpeg, tmp_path / "foo.jpg")
    shutil.copy(aio_media.png, tmp_path / "bar.png")
    _write_wav(tmp_path / "foo.wav")
    monkeypatch.chdir(tmp_path)
    return tmp_path


################################################################################
# Loading an image
################################################################################


def test_loading_an_image_async_io(spec_dir: Path) -> None:
    async def load_image(src: str):
        # Demux image
        packets = await spdl.io.async_demux_media("image", src)

        # Decode packets into frames
        frames = await spdl.io.async_decode_packets(packets)

        # Convert the frames into buffer
        buffer = await spdl.io.async_convert_frames(frames)

        # Convert the buffer into NumPy array.
        return spdl.io.to_numpy(buffer)

    async def example() -> Any:
        array = await load_image("foo.jpg")
        return array

    array = asyncio.run(example())
    assert array.shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)
    assert array.dtype == np.uint8


def test_loading_an_image_concurrent_future(spec_dir: Path) -> None:
    src = "foo.jpg"

    @spdl.io.chain_futures
    def load_image(src):
        # Chain demux, decode and buffer conversion.
        # The result is `concurrent.futures.Future` object
        packets = yield spdl.io.demux_media("image", src)
        frames = yield spdl.io.decode_packets(packets)
        yield spdl.io.convert_frames(frames)

    # Kick off the task
    future = load_image(src)

    # Wait until the result is ready
    buffer = future.result()

    # Convert the buffer into NumPy array.
    array = spdl.io.to_numpy(buffer)

    assert array.shape == (IMAGE_HEIGHT, IMAGE_WIDTH, 3)


################################################################################
# Loading a batch of images
################################################################################


def _async_batch_example(srcs: list[str]) -> np.ndarray:
    from typing import List  # noqa: UP035 - as on the page

    # Define a coroutine that decodes a single image into frames (but not to buffer)
    async def decode_image(src: str, width: int, height: int, pix_fmt="rgb24"):
        packets = await spdl.io.async_demux_media("image", src)
        # Decode, format and resize
        frames = await spdl.io.async_decode_packets(
            packets, width=width, height=height, pix_fmt=pix_fmt
        )
        return frames

    async def load_image_batch(srcs: List[str], width: int, height: int):  # noqa: UP006
        tasks = [asyncio.create_task(decode_image(src, width, height)) for src in srcs]
        await asyncio.wait(tasks)

        frames = []
        for task, src in zip(tasks, srcs):  # noqa: B905 - as on the page
            # Error handling. Log the failed job and skip.
            if exception := task.exception():
                print(f"Failed to decode image {src}. Reason: {exception}")
                continue
            frames.append(task.result())

        # Convert a list of image frames into a single buffer as a batch
        buffer = await spdl.io.async_convert_frames(frames)
        return spdl.io.to_numpy(buffer)

    async def example() -> Any:
        array = await load_image_batch(srcs, width=121, height=121)
        return array

    return asyncio.run(example())


def test_loading_a_batch_of_images_async_io(spec_dir: Path) -> None:
    array = _async_batch_example(["foo.jpg", "bar.png"])
    assert array.shape == (2, 121, 121, 3)


def test_loading_a_batch_of_images_async_io_skips_failures(
    spec_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (spec_dir / "broken.jpg").write_bytes(b"not a jpeg" * 20)
    array = _async_batch_example(["foo.jpg", "broken.jpg", "bar.png"])
    assert array.shape == (2, 121, 121, 3)
    printed = capsys.readouterr().out
    assert "Failed to decode image broken.jpg. Reason:" in printed


def test_loading_a_batch_of_images_concurrent(spec_dir: Path) -> None:
    from typing import List  # noqa: UP035 - as on the page

    @spdl.io.chain_futures
    def _decode(src, width, height):
        packets = yield spdl.io.demux_media("image", src)
        yield spdl.io.decode_packets(packets, width=width, height=height)

    @spdl.io.chain_futures
    def _convert(frames_futures):
        frames = yield spdl.io.wait_futures(frames_futures)
        yield spdl.io.convert_frames(frames)

    def batch_decode_image(srcs: List[str], width: int = 121, height: int = 121):  # noqa: UP006
        return _convert([_decode(src, width, height) for src in srcs])

    # Kick off the task
    futures = batch_decode_image(["foo.jpg", "bar.png"])

    # Wait
    buffer = futures.result()

    # Convert the buffer into NumPy array.
    array = spdl.io.to_numpy(buffer)

    assert array.shape == (2, 121, 121, 3)
    np.testing.assert_array_equal(array, _async_batch_example(["foo.jpg", "bar.png"]))


################################################################################
# Loading audio/video clips from a source
################################################################################


def test_loading_audio_clips_from_a_source(spec_dir: Path) -> None:
    arrays = []

    async def example() -> None:
        # Demux the first 1 second, then next 1 second of the audio.
        src, ts = "foo.wav", [(0, 1), (1, 2)]  # noqa: F841 - as on the page

        # Use `spdl.io.async_streaming_demux("video", ...)` for demuxing video
        async for packets in spdl.io.async_streaming_demux("audio", "foo.wav", ts):
            # The rest is the same as image decoding
            frames = await spdl.io.async_decode_packets(packets)
            buffer = await spdl.io.async_convert_frames(frames)
            array = spdl.io.to_numpy(buffer)

            arrays.append(array)

    asyncio.run(example())
    assert len(arrays) == 2
    for array in arrays:  # default sample_fmt "fltp": (channels, samples), float32
        assert array.dtype == np.float32
        assert array.shape == (2, WAV_SAMPLE_RATE)


def test_loading_video_clips_from_a_source(aio_media: Media) -> None:
    arrays = []

    async def example() -> None:
        ts = [(0, 1), (1, 2)]
        async for packets in spdl.io.async_streaming_demux("video", aio_media.video, ts):
            frames = await spdl.io.async_decode_packets(packets)
            buffer = await spdl.io.async_convert_frames(frames)
            arrays.append(spdl.io.to_numpy(buffer))

    asyncio.run(example())
    assert [a.shape for a in arrays] == [(30, 48, 64, 3), (30, 48, 64, 3)]


################################################################################
# The API reference lists these names
################################################################################

DOCUMENTED_NAMES = [
    "async_load_media",
    "async_batch_load_image",
    "to_numpy",
    "to_torch",
    "to_numba",
    "AsyncIOFailure",
    "async_streaming_demux",
    "async_demux_media",
    "async_decode_packets",
    "async_decode_packets_nvdec",
    "async_convert_frames_cpu",
    "async_convert_frames",
    "streaming_demux",
    "demux_media",
    "decode_packets",
    "decode_packets_nvdec",
    "convert_frames_cpu",
    "convert_frames",
    "chain_futures",
    "wait_futures",
]


ARRAY_NAMES = {"to_numpy", "to_torch", "to_numba"}


@pytest.mark.parametrize("name", DOCUMENTED_NAMES)
def test_documented_name_is_public_and_documented(name: str) -> None:
    obj = getattr(spdl.io, name)
    doc = obj.__doc__ or ""
    assert doc.strip(), f"spdl.io.{name} has no docstring"
    assert name in spdl.io.__all__
    if name not in ARRAY_NAMES and not isinstance(obj, type):
        for section in ("Args:", "Returns:", "Raises:", "Example:"):
            assert section in doc, f"spdl.io.{name} docstring lacks {section}"
