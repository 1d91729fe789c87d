"""GPU-side data of the NVDEC path: ``CUDAFrames`` and ``CUDABuffer``.

CuPy owns the device memory; these classes only describe it. Nothing here imports
CuPy at module import time, so ``import spdl.io`` works on a machine without a GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the cuda extra's; imported where it is used
    import cupy

__all__ = [
    "CUDABuffer",
    "CUDAFrames",
    "check_cuda_batch",
    "cuda_dependency_error",
    "stack_cuda_frames",
]

# DLPack's device type for CUDA memory (DLDeviceType.kDLCUDA).
_DLPACK_CUDA = 2


def cuda_dependency_error(what: str, cause: BaseException | None = None) -> RuntimeError:
    """Builds the error raised when an optional GPU dependency is missing.

    Args:
        what: The module that failed to import (``"cupy"``, ``"PyNvVideoCodec"``).
        cause: The import's own error, quoted in the message.

    Returns:
        A ``RuntimeError`` that says what is missing and how to install it.
    """
    reason = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
    return RuntimeError(
        f"NVDEC decoding is unavailable: {what} could not be imported{reason}. Install the "
        "`spdl[cuda]` extra (PyNvVideoCodec and CuPy) on a machine with an NVIDIA GPU "
        "and driver."
    )


class CUDABuffer:
    """A contiguous uint8 array in CUDA device memory, made by the NVDEC path.

    It exposes ``__cuda_array_interface__`` (version 3, with the stream that wrote
    it) and ``__dlpack__`` / ``__dlpack_device__``, so :func:`spdl.io.to_torch`,
    :func:`spdl.io.to_cupy` and :func:`spdl.io.to_numba` view it without a copy.
    Every view keeps the memory alive.

    Shapes: ``(N, 3, H, W)`` for ``pix_fmt="rgb"``, ``(N, 4, H, W)`` for
    ``"rgba"``, ``(N, 1, H * 1.5, W)`` for raw NV12 (``pix_fmt=None``); an image
    drops the leading ``N``, and a batch of images has ``B`` in its place.
    """

    def __init__(
        self, array: cupy.ndarray, device_index: int, stream: cupy.cuda.Stream | None
    ) -> None:
        """Wraps a C-contiguous CuPy array.

        Args:
            array: The ``cupy.ndarray`` that owns the memory.
            device_index: The CUDA device that holds it.
            stream: The ``cupy.cuda.Stream`` whose work produced it (kept alive).
        """
        self._array = array
        self._stream = stream
        self.device_index = device_index

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return tuple(self._array.shape)

    @property
    def dtype(self) -> str:
        """The element type, ``"uint8"``."""
        return str(self._array.dtype)

    @property
    def __cuda_array_interface__(self) -> dict[str, Any]:
        """The CUDA Array Interface (version 3) describing the memory."""
        return {
            "shape": self.shape,
            "typestr": self._array.dtype.str,
            "data": (int(self._array.data.ptr), False),
            "strides": None,
            "version": 3,
            "stream": int(self._stream.ptr) if self._stream is not None else None,
        }

    def __dlpack__(self, *args: object, **kwargs: object) -> object:
        """Exports the memory as a DLPack capsule (CuPy orders the streams)."""
        return self._array.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        """Returns ``(kDLCUDA, device_index)``."""
        return (_DLPACK_CUDA, self.device_index)

    def __repr__(self) -> str:
        return f"CUDABuffer(shape={self.shape}, dtype={self.dtype}, device={self.device_index})"


class CUDAFrames:
    """Frames decoded by NVDEC and already converted on the GPU.

    ``convert_frames`` turns them into a :class:`CUDABuffer` without a copy (a list of
    image frames becomes one batch); ``convert_frames_cpu`` refuses them.

    Attributes:
        src: The source the packets came from.
        media_type: ``"video"`` or ``"image"``.
        pix_fmt: ``"rgb"``, ``"rgba"`` or ``None`` (NV12).
        device_index: The CUDA device that holds the frames.
        pts: Presentation time of each frame, in seconds.
    """

    def __init__(
        self,
        src: str,
        media_type: str,
        array: cupy.ndarray,
        pix_fmt: str | None,
        device_index: int,
        stream: cupy.cuda.Stream,
        pts: list[float],
    ) -> None:
        """Wraps a converted batch.

        Args:
            src: The source the packets came from.
            media_type: ``"video"`` or ``"image"``.
            array: ``(N, C, H, W)`` CuPy array (``(C, H, W)`` for an image).
            pix_fmt: ``"rgb"``, ``"rgba"`` or ``None``.
            device_index: The CUDA device that holds the array.
            stream: The ``cupy.cuda.Stream`` that wrote it.
            pts: Presentation time of each frame, in seconds.
        """
        self.src = src
        self.media_type = media_type
        self.pix_fmt = pix_fmt
        self.device_index = device_index
        self.pts = pts
        self._array = array
        self._stream = stream

    @property
    def num_frames(self) -> int:
        """How many frames there are (1 for an image)."""
        return 1 if self.media_type == "image" else int(self._array.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of the buffer these frames convert to."""
        return tuple(self._array.shape)

    def to_buffer(self) -> CUDABuffer:
        """Returns the frames' memory as a :class:`CUDABuffer` (no copy)."""
        return CUDABuffer(self._array, self.device_index, self._stream)

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        return (
            f'CUDAFrames(src="{self.src}", media_type={self.media_type}, '
            f"pix_fmt={self.pix_fmt}, shape={self.shape}, device={self.device_index})"
        )


def check_cuda_batch(frames: Sequence[CUDAFrames]) -> None:
    """Checks that image frames decoded on the GPU can form one batch.

    Args:
        frames: ``CUDAFrames`` to batch.

    Raises:
        ValueError: The list is empty, holds video frames, or the images differ in
            size, format or device (the message names both).
    """
    if not frames:
        raise ValueError("Cannot convert an empty list of frames.")
    first = frames[0]
    for item in frames:
        if item.media_type != "image":
            raise ValueError(f"Only image frames form a batch; {item.src} is {item.media_type}.")
        if (item.shape, item.pix_fmt, item.device_index) != (
            first.shape,
            first.pix_fmt,
            first.device_index,
        ):
            raise ValueError(
                f"Images of a batch must share size, format and device: {first.src} is "
                f"{first.shape} {first.pix_fmt} on cuda:{first.device_index}, {item.src} is "
                f"{item.shape} {item.pix_fmt} on cuda:{item.device_index}."
            )


def stack_cuda_frames(frames: Sequence[CUDAFrames]) -> CUDABuffer:
    """Stacks image frames decoded on the GPU into one ``(B, C, H, W)`` batch.

    Args:
        frames: Image ``CUDAFrames`` of one size, format and device.

    Returns:
        A new :class:`CUDABuffer` on the frames' device.

    Raises:
        ValueError: As :func:`check_cuda_batch`.
    """
    check_cuda_batch(frames)
    import cupy

    first = frames[0]
    with cupy.cuda.Device(first.device_index), first._stream:
        for item in frames[1:]:
            # The other images were written on other threads' streams.
            item._stream.synchronize()
        batch = cupy.stack([item._array for item in frames])
        first._stream.synchronize()
    return CUDABuffer(batch, first.device_index, first._stream)
