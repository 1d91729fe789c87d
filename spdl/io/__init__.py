"""Load media (images, audio, video) into arrays: demux → decode → convert → array.

Decoding and conversion run in the native core with the GIL released.
"""

from spdl._native import (
    AudioFrames,
    AudioPackets,
    CPUBuffer,
    ImageFrames,
    ImagePackets,
    VideoFrames,
    VideoPackets,
)
from spdl.io._array import to_cupy, to_numba, to_numpy, to_torch
from spdl.io._errors import MediaError
from spdl.io._load import load_audio, load_image, load_video

__all__ = [
    "AudioFrames",
    "AudioPackets",
    "CPUBuffer",
    "ImageFrames",
    "ImagePackets",
    "MediaError",
    "VideoFrames",
    "VideoPackets",
    "load_audio",
    "load_image",
    "load_video",
    "to_cupy",
    "to_numba",
    "to_numpy",
    "to_torch",
]
