"""Moving batches to a CUDA device on a stream of their own: a transfer_fn for the DataLoader."""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from spdl.io._core.numbers import as_int, is_int

if TYPE_CHECKING:  # optional (the torch extra); imported when a transfer is made
    import torch

__all__ = ["cuda_transfer", "map_tensors"]

_LG = logging.getLogger("spdl.dataloader")

T = TypeVar("T")


def map_tensors(batch: T, fn: Callable[[Any], Any], tensor_type: type) -> T:
    """Applies ``fn`` to every ``tensor_type`` instance in ``batch``, recursively.

    Tuples (named tuples included), lists and mappings are rebuilt with the same
    type and keys around the results; anything else is returned as is.

    Args:
        batch: A tensor, or a tuple / list / mapping nesting them.
        fn: What to do with each tensor.
        tensor_type: The type that counts as a tensor (``torch.Tensor``).

    Returns:
        ``batch`` with each tensor replaced by ``fn(tensor)``.
    """
    if isinstance(batch, tensor_type):
        return fn(batch)
    if isinstance(batch, tuple):
        items = [map_tensors(item, fn, tensor_type) for item in batch]
        return type(batch)(*items) if hasattr(batch, "_fields") else type(batch)(items)
    if isinstance(batch, list):
        return type(batch)(map_tensors(item, fn, tensor_type) for item in batch)
    if isinstance(batch, Mapping):
        mapped = {key: map_tensors(value, fn, tensor_type) for key, value in batch.items()}
        if isinstance(batch, collections.defaultdict):  # keeps its default_factory
            return type(batch)(batch.default_factory, mapped)
        try:
            return type(batch)(mapped)  # type: ignore[call-arg]
        except TypeError:  # a mapping type that cannot be built from a dict
            return mapped  # type: ignore[return-value]
    return batch


def _identity(batch: T) -> T:
    return batch


class _CudaTransfer:
    """Copies on its own stream, waits for the copy, and hands over ready tensors."""

    def __init__(self, torch: Any, device: Any, pin_memory: bool) -> None:
        self._torch = torch
        self.device = device
        self.pin_memory = pin_memory
        # The stream the training loop queues its kernels on: the one current on the
        # thread that built the transfer (normally the device's default stream).
        self.consumer_stream = torch.cuda.current_stream(device)
        self._stream: Any = None  # made on first use, on the transfer thread

    def _move(self, tensor: Any) -> Any:
        if self.pin_memory and tensor.device.type == "cpu" and not tensor.is_pinned():
            tensor = tensor.pin_memory()
        moved = tensor.to(self.device, non_blocking=True)
        # The memory was allocated on the copy stream; record the consumer stream so
        # the caching allocator does not hand it to a later batch's copy while the
        # consumer's kernels that read it are still queued.
        moved.record_stream(self.consumer_stream)
        return moved

    def __call__(self, batch: T) -> T:
        torch = self._torch
        if self._stream is None:
            self._stream = torch.cuda.Stream(self.device)
        with torch.cuda.stream(self._stream):
            moved = map_tensors(batch, self._move, torch.Tensor)
            done = self._stream.record_event()
        # Wait here (on the transfer thread, GIL released) rather than making the
        # consumer stream wait: a wait queued on that stream now would also hold back
        # the kernels of the batches still ahead of this one in the queue.
        done.synchronize()
        return moved

    def __repr__(self) -> str:
        return f"cuda_transfer(device={self.device!r}, pin_memory={self.pin_memory})"


def cuda_transfer(
    device: torch.device | str | int | None = None, *, pin_memory: bool = True
) -> Callable[[T], T]:
    """A ``transfer_fn`` for the DataLoader that moves batches to a CUDA device.

    Every ``torch.Tensor`` in the batch (a tensor, or tuples, lists and dicts of
    them, nested) is copied to ``device`` with ``non_blocking=True`` on a CUDA
    stream of the transfer's own, from pinned memory (``pin_memory``), so the copy
    overlaps the training step running on the main stream. Anything that is not
    a tensor is passed through.

    Synchronisation: the transfer thread waits for the copy to finish (a CUDA
    event; the GIL is released while it waits) before it hands the batch on, so
    the batch the loop receives is complete and any stream may read it. Each moved
    tensor is marked with ``record_stream`` for the stream that was current when
    ``cuda_transfer`` was called (normally the default stream, where the training
    loop runs): the caching allocator then does not reuse its memory for a later
    batch until the kernels queued on that stream when it was freed are done.
    Training on another stream: call ``cuda_transfer`` inside ``torch.cuda.stream(s)``.

    Where there is nothing to move to — ``device`` is ``"cpu"``, or CUDA is not
    available (or torch is not installed) — the returned function returns each
    batch unchanged, so the same script runs on a machine without a GPU.

    Args:
        device: The CUDA device (``"cuda"``, ``"cuda:1"``, an int, a
            ``torch.device``); ``None`` is the current CUDA device.
        pin_memory: Copy CPU tensors into pinned memory first, which makes the copy
            asynchronous (from pageable memory it is not).

    Returns:
        A function ``batch -> batch`` for the DataLoader's ``transfer_fn``.

    Raises:
        ValueError: ``device`` is neither a CUDA device nor the CPU.

    Example:
        >>> from spdl.dataloader import cuda_transfer
        >>> transfer = cuda_transfer("cpu")
        >>> batch = {"images": [1, 2], "labels": (3, 4)}
        >>> transfer(batch) is batch
        True
    """
    if isinstance(device, str) and device.split(":")[0] == "cpu":
        return _identity
    try:
        import torch
    except ImportError:
        return _identity
    if is_int(device):  # a CUDA index; torch.device(0) asks for an accelerator at once
        index = as_int("cuda_transfer: `device`", device, 0)
        device = f"cuda:{index}"
    try:
        target = torch.device(device) if device is not None else None
    except (RuntimeError, TypeError) as error:  # torch's own message: "Invalid device string"
        raise ValueError(f"cuda_transfer: `device` {device!r} is not a device: {error}") from None
    if target is not None and target.type == "cpu":
        return _identity
    if target is not None and target.type != "cuda":
        raise ValueError(f"cuda_transfer: `device` must be a CUDA device or 'cpu', got {device!r}.")
    if not torch.cuda.is_available():
        _LG.info("cuda_transfer: CUDA is not available; batches stay where they are.")
        return _identity
    if target is None or target.index is None:
        target = torch.device("cuda", torch.cuda.current_device())
    return _CudaTransfer(torch, target, pin_memory)
