"""Conversion: frames → one contiguous CPUBuffer, natively with the GIL released."""

from __future__ import annotations

from collections.abc import Sequence

from spdl import _native
from spdl.io._core.cuda import CUDABuffer, CUDAFrames, check_cuda_batch, stack_cuda_frames
from spdl.io._core.decode import Frames

__all__ = ["convert", "validate_frames"]

_CPU_FRAMES = (_native.ImageFrames, _native.AudioFrames, _native.VideoFrames)


def validate_frames(frames: object) -> None:
    """Checks that ``frames`` can be converted on the CPU, raising at call time.

    Raises:
        TypeError: Not CPU frames nor a list of ImageFrames.
        ValueError: An empty list, frames already converted, or GPU images that differ
            in size, format or device.
    """
    if isinstance(frames, CUDAFrames):
        return
    if isinstance(frames, Sequence) and not isinstance(frames, str | bytes):
        if not frames:
            raise ValueError("Cannot convert an empty list of frames.")
        if all(isinstance(item, CUDAFrames) for item in frames):
            check_cuda_batch(frames)
            return
        for i, item in enumerate(frames):
            if not isinstance(item, _native.ImageFrames):
                raise TypeError(
                    f"A list must hold ImageFrames only; item {i} is {type(item).__name__}."
                )
        items = frames
    elif isinstance(frames, _CPU_FRAMES):
        items = [frames]
    else:
        raise TypeError(
            "Expected ImageFrames, AudioFrames, VideoFrames or a list of ImageFrames, "
            f"got {type(frames).__name__}."
        )
    for item in items:
        if item.consumed:
            raise ValueError(f"The frames of {item.src} were already converted to a buffer.")


def convert(
    frames: Frames | CUDAFrames | Sequence[_native.ImageFrames | CUDAFrames],
) -> _native.CPUBuffer | CUDABuffer:
    """Copies frames into one buffer; CPU frames are released as they are copied.

    Args:
        frames: Frames of one source, or a list of image frames to batch.

    Returns:
        A CPUBuffer shaped as described in the shapes table; a list gives ``(B, ...)``.
        Frames decoded by NVDEC give a CUDABuffer on their device (no copy, except to
        stack a batch).

    Raises:
        TypeError: Unsupported input.
        ValueError: Images of a list differ in size or format (the message names both).
    """
    validate_frames(frames)
    if isinstance(frames, CUDAFrames):
        return frames.to_buffer()
    if isinstance(frames, _CPU_FRAMES):
        return _native.convert_frames(frames)
    # validate_frames: a list holds frames of one kind.
    if isinstance(frames[0], CUDAFrames):
        return stack_cuda_frames([f for f in frames if isinstance(f, CUDAFrames)])
    return _native.convert_image_batch([f for f in frames if isinstance(f, _native.ImageFrames)])
