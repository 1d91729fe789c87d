"""Load media (images, audio, video) into arrays: demux → decode → convert → array.

Each phase is offered as a ``concurrent.futures.Future``-returning function
(``demux_media``, ``decode_packets``, ``convert_frames`` …), as an asyncio
awaitable (``async_*``) and, for scripts, as synchronous helpers (``load_image``,
``load_audio``, ``load_video``). Decoding and conversion run in the native core
with the GIL released.
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
from spdl.io._api.batch import async_batch_load_image, batch_load_image
from spdl.io._api.frames import (
    async_clips_at_random_indices,
    async_clips_at_random_timestamps,
    async_clips_at_regular_indices,
    async_clips_at_regular_timestamps,
    async_index_video,
    async_load_video_frames,
    clips_at_random_indices,
    clips_at_random_timestamps,
    clips_at_regular_indices,
    clips_at_regular_timestamps,
    index_video,
    load_video_frames,
)
from spdl.io._api.loaders import (
    async_load_media,
    load_audio,
    load_image,
    load_media,
    load_video,
    load_video_windows,
)
from spdl.io._api.phases import (
    AsyncIOFailure,
    async_convert_frames,
    async_convert_frames_cpu,
    async_decode_packets,
    async_decode_packets_nvdec,
    async_demux_media,
    async_streaming_demux,
    chain_futures,
    convert_frames,
    convert_frames_cpu,
    decode_packets,
    decode_packets_nvdec,
    demux_media,
    streaming_demux,
    wait_futures,
)
from spdl.io._core.array import to_cupy, to_numba, to_numpy, to_torch
from spdl.io._core.build_info import build_info
from spdl.io._core.crop import CenterCrop, CropBox, RandomResizedCrop, crop_box
from spdl.io._core.cuda import CUDABuffer, CUDAFrames
from spdl.io._core.errors import MediaError
from spdl.io._core.frame_index import VideoIndex
from spdl.io._core.frame_select import FrameBatch
from spdl.io._core.pixel_limit import max_image_pixels, set_max_image_pixels
from spdl.io._core.remote import (
    RemoteError,
    RemoteNotFoundError,
    remote_options,
    set_remote_options,
)
from spdl.io._runtime.executor import executor_sizes, set_executor_sizes

__all__ = [
    "AsyncIOFailure",
    "AudioFrames",
    "AudioPackets",
    "CPUBuffer",
    "CUDABuffer",
    "CUDAFrames",
    "CenterCrop",
    "CropBox",
    "FrameBatch",
    "ImageFrames",
    "ImagePackets",
    "MediaError",
    "RandomResizedCrop",
    "RemoteError",
    "RemoteNotFoundError",
    "VideoFrames",
    "VideoIndex",
    "VideoPackets",
    "async_batch_load_image",
    "async_clips_at_random_indices",
    "async_clips_at_random_timestamps",
    "async_clips_at_regular_indices",
    "async_clips_at_regular_timestamps",
    "async_convert_frames",
    "async_convert_frames_cpu",
    "async_decode_packets",
    "async_decode_packets_nvdec",
    "async_demux_media",
    "async_index_video",
    "async_load_media",
    "async_load_video_frames",
    "async_streaming_demux",
    "batch_load_image",
    "build_info",
    "chain_futures",
    "clips_at_random_indices",
    "clips_at_random_timestamps",
    "clips_at_regular_indices",
    "clips_at_regular_timestamps",
    "convert_frames",
    "convert_frames_cpu",
    "crop_box",
    "decode_packets",
    "decode_packets_nvdec",
    "demux_media",
    "executor_sizes",
    "index_video",
    "load_audio",
    "load_image",
    "load_media",
    "load_video",
    "load_video_frames",
    "load_video_windows",
    "max_image_pixels",
    "remote_options",
    "set_executor_sizes",
    "set_max_image_pixels",
    "set_remote_options",
    "streaming_demux",
    "to_cupy",
    "to_numba",
    "to_numpy",
    "to_torch",
    "wait_futures",
]
