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


class AudioDataset:
    """A map-style dataset of one audio file loaded twice, and who demuxed it."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> tuple[np.ndarray, list[int]]:
        return np.asarray(spdl.io.load_audio(self.path)), _demux_pool.helper_pids()
