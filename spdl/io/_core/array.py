"""Zero-copy views of buffers as arrays of NumPy, PyTorch, Numba and CuPy."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import numpy as np

from spdl import _native
from spdl.io._core.cuda import CUDABuffer

if TYPE_CHECKING:  # optional peers, imported by the functions that use them
    import cupy
    import torch
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

__all__ = ["to_numpy", "to_torch", "to_numba", "to_cupy"]


def _check_buffer(buffer: object, name: str, cuda: bool = False) -> None:
    if not isinstance(buffer, _native.CPUBuffer | CUDABuffer if cuda else _native.CPUBuffer):
        kinds = "a CPUBuffer or a CUDABuffer" if cuda else "a CPUBuffer"
        raise TypeError(f"{name} expects {kinds}, got {type(buffer).__name__}.")


def _import(module: str, name: str, extra: str) -> Any:
    """The optional peer ``module``; ``ImportError`` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{name} needs {module}, which is not installed: pip install spdl[{extra}]."
        ) from error


def to_numpy(buffer: _native.CPUBuffer) -> np.ndarray:
    """Returns a NumPy array sharing the buffer's memory.

    The array keeps the buffer alive, so dropping the buffer is safe.

    Args:
        buffer: A CPUBuffer from ``convert_frames``.

    Returns:
        An array with the buffer's shape and dtype (no copy).

    Raises:
        TypeError: ``buffer`` is not a CPUBuffer.

    Example:
        >>> array = spdl.io.to_numpy(spdl.io.load_image("foo.jpg"))
        >>> array.shape, array.dtype
        ((240, 320, 3), dtype('uint8'))
    """
    _check_buffer(buffer, "to_numpy")
    return np.asarray(buffer)


def to_torch(buffer: _native.CPUBuffer | CUDABuffer) -> torch.Tensor:
    """Returns a ``torch.Tensor`` sharing the buffer's memory (through DLPack).

    Args:
        buffer: A CPUBuffer, or a CUDABuffer from the NVDEC path (the tensor is then
            on ``cuda:<device_index>``).

    Returns:
        A tensor with the buffer's shape and dtype (no copy) that keeps the buffer
        alive.

    Raises:
        TypeError: ``buffer`` is neither a CPUBuffer nor a CUDABuffer.
        ImportError: PyTorch is not installed (``pip install spdl[torch]``).

    Example:
        >>> tensor = spdl.io.to_torch(spdl.io.load_image("foo.jpg"))
        >>> tensor.shape, tensor.dtype
        (torch.Size([240, 320, 3]), torch.uint8)
    """
    _check_buffer(buffer, "to_torch", cuda=True)  # torch's own error speaks of a capsule
    torch = _import("torch", "to_torch", "torch")
    return torch.from_dlpack(buffer)


def to_numba(buffer: _native.CPUBuffer | CUDABuffer) -> np.ndarray | DeviceNDArray:
    """Returns an array Numba can consume, sharing the buffer's memory (no copy).

    Args:
        buffer: A CPUBuffer, or a CUDABuffer from the NVDEC path.

    Returns:
        A NumPy array for a CPUBuffer (usable in ``numba.njit`` code); a Numba CUDA
        device array for a CUDABuffer (made from its ``__cuda_array_interface__``).

    Raises:
        TypeError: ``buffer`` is neither a CPUBuffer nor a CUDABuffer.
        ImportError: Numba is not installed, for a CUDABuffer.

    Example:
        >>> import numba
        >>> import numpy as np
        >>> array = spdl.io.to_numba(spdl.io.load_audio("speech.wav"))
        >>> array.shape
        (2, 32000)
        >>> peak = numba.njit(lambda a: np.abs(a).max())(array)  # runs on the buffer's memory
        >>> bool(0 < peak <= 1)
        True
    """
    _check_buffer(buffer, "to_numba", cuda=True)
    if isinstance(buffer, CUDABuffer):
        cuda = _import("numba.cuda", "to_numba", "numba")
        return cuda.as_cuda_array(buffer)
    return np.asarray(buffer)


def to_cupy(buffer: CUDABuffer) -> cupy.ndarray:
    """Returns a CuPy array sharing a CUDA buffer's memory (through DLPack).

    Args:
        buffer: A buffer that lives on a CUDA device.

    Returns:
        A ``cupy.ndarray`` view.

    Raises:
        TypeError: ``buffer`` is not a CUDABuffer (a CPUBuffer lives in host memory).
        ImportError: CuPy is not installed (``pip install spdl[cuda]``).

    Example:
        >>> packets = spdl.io.demux_media("video", "clip.mp4").result()
        >>> frames = spdl.io.decode_packets_nvdec(packets, 0).result()
        >>> array = spdl.io.to_cupy(spdl.io.convert_frames(frames).result())
        >>> array.shape, array.device.id
        ((90, 3, 64, 96), 0)
    """
    if isinstance(buffer, _native.CPUBuffer):
        raise TypeError("to_cupy expects a CUDA buffer; use to_numpy for a CPUBuffer.")
    if not isinstance(buffer, CUDABuffer):
        raise TypeError(f"to_cupy expects a CUDABuffer, got {type(buffer).__name__}.")
    cupy = _import("cupy", "to_cupy", "cuda")
    return cupy.from_dlpack(buffer)
