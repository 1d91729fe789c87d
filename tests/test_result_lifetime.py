"""Results are freed as soon as the caller drops them, without waiting for the GC.

A decoded batch can be hundreds of MB; if the futures layer kept it in a
reference cycle, memory would grow until a garbage-collection pass.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest
from media import ImageReference, VideoReference

import spdl.io


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
