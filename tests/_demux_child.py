"""What test_demux_helpers.py runs in child processes (fork, spawn, a DataLoader worker).

A module of its own, so that a spawned child imports it without the test module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import spdl.io
from spdl.io._runtime import demux_pool as _demux_pool


def load_in_child(path: str, queue: Any) -> None:
    """Loads one second of video and reports its checksum and the child's helpers."""
    array = np.asarray(spdl.io.load_video(path, timestamp=(0, 1)))
    queue.put((int(array.sum()), array.shape, _demux_pool.helper_pids()))


def load_futures_in_child(path: str, queue: Any) -> None:
    """Loads one second of video through the Future and asyncio forms; reports the
    checksums, or the error (the forked child's pools must be its own)."""
    import asyncio

    try:
        packets = spdl.io.demux_media("video", path, (0, 1)).result(timeout=20)
        frames = spdl.io.decode_packets(packets).result(timeout=20)
        array = np.asarray(spdl.io.convert_frames(frames).result(timeout=20))

        async def load() -> np.ndarray:
            window = {"timestamp": (0, 1)}
            return np.asarray(await spdl.io.async_load_media("video", path, demux_options=window))

        again = asyncio.run(asyncio.wait_for(load(), 20))
        queue.put((int(array.sum()), int(again.sum())))
    except BaseException as error:  # noqa: BLE001 -- reported to the parent
        queue.put(repr(error))


class AudioDataset:
    """A map-style dataset of one audio file loaded twice, and who demuxed it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> tuple[np.ndarray, list[int]]:
        return np.asarray(spdl.io.load_audio(self.path)), _demux_pool.helper_pids()
