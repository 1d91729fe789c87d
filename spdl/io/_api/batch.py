"""Loading a batch of images into one buffer.

Still images given as paths or bytes are decoded by one native call
(``_decode.decode_image_batch``); any other source is demuxed and decoded on its own,
and the frames are converted into one batch. With ``strict``, the first failure
cancels the images not yet loaded. Declared once (:func:`_batch_load_image`); its
three forms are generated.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
from collections.abc import Generator, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError, Executor, Future
from typing import Any

from spdl import _native
from spdl.io._api import phases as _phases
from spdl.io._api import remote as _remote
from spdl.io._api.options import check_options, validate_convert_options, validate_demux_options
from spdl.io._core import decode as _decode
from spdl.io._core import demux as _demux
from spdl.io._core.crop import CropSpec, Transforms, check_transforms
from spdl.io._core.demux import describe_source
from spdl.io._runtime import executor as _executor
from spdl.io._runtime.chain import chain_futures, gather_futures
from spdl.io._runtime.futures import AsyncIOFailure, submit_with_token
from spdl.io._runtime.operation import Plan, Step, operation

__all__ = ["async_batch_load_image", "batch_load_image", "batch_load_image_future"]

_LG = logging.getLogger("spdl.io")

# Still-image files that the native batch decoder reads directly (no PyAV demuxing).
_IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".qoi"}
)
_IMAGE_MAGICS = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"BM",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF, little endian
    b"MM\x00*",  # TIFF, big endian
    b"qoif",
)
# Decode options the native batch decoder understands (besides width/height/pix_fmt).
_FAST_PATH_OPTIONS = frozenset(
    {
        "scale_algo",
        "filter_desc",
        "decoder",
        "decoder_options",
        "num_threads",
        "apply_exif_orientation",
    }
)


def _is_still_image(src: Any) -> bool:
    if _remote.is_url(src):  # by the extension of its path (no query, no fragment)
        src = _remote.url_path(src)
    if isinstance(src, str | os.PathLike):
        return os.path.splitext(os.fspath(src))[1].lower() in _IMAGE_EXTENSIONS
    if isinstance(src, bytes | bytearray | memoryview):
        head = bytes(memoryview(src).cast("B")[:12])
        is_webp = head.startswith(b"RIFF") and head[8:12] == b"WEBP"
        return is_webp or head.startswith(_IMAGE_MAGICS)
    return False


def _check_batch_args(
    srcs: Sequence[Any],
    width: int | None,
    height: int | None,
    pix_fmt: str | None,
    demux_options: Mapping[str, Any] | None,
    decode_options: Mapping[str, Any] | None,
    convert_options: Mapping[str, Any] | None,
    strict: bool,
    crop: CropSpec | Sequence[CropSpec | None] | None = None,
    hflip: bool | Sequence[bool] | None = None,
) -> tuple[list[Any], dict[str, Any], dict[str, Any], dict[str, Any], Transforms | None]:
    if isinstance(srcs, str | bytes | bytearray | memoryview) or not isinstance(srcs, Sequence):
        raise TypeError(f"`srcs` must be a sequence of sources, got {type(srcs).__name__}.")
    srcs = list(srcs)
    if not srcs:
        raise ValueError("`srcs` must contain at least one source.")
    if not isinstance(strict, bool):
        raise TypeError(f"`strict` must be a bool, got {type(strict).__name__}.")
    demux = check_options("demux_options", demux_options, reserved=("timestamp",))
    decode = check_options("decode_options", decode_options, ("width", "height", "pix_fmt"))
    convert = check_options("convert_options", convert_options)
    validate_demux_options(demux)
    for src in srcs:
        _demux.validate_demux_args("image", src, None, **demux)
    decode.update(width=width, height=height, pix_fmt=pix_fmt)
    _decode.validate_decode_options("image", **decode)
    validate_convert_options(convert)
    transforms = check_transforms(crop, hflip, len(srcs), width, height, pix_fmt)
    return srcs, demux, decode, convert, transforms


# Set while a caller that logs the images it drops itself (the DataLoader's
# ImageBatchLoader) loads a batch in this thread: a bad image is logged once.
_caller_logs = contextvars.ContextVar("spdl_batch_caller_logs", default=False)


@contextlib.contextmanager
def failures_logged_by_caller() -> Iterator[None]:
    """Within it, this thread's batch loads do not log their failed images."""
    token = _caller_logs.set(True)
    try:
        yield
    finally:
        _caller_logs.reset(token)


def _log_failure(src: Any, error: BaseException) -> None:
    _LG.error("Failed to load image %s: %s", describe_source(src), error)


def _fast_batch(
    srcs: list[Any],
    decode_options: dict[str, Any],
    strict: bool,
    transforms: list[_native.ImageTransform] | None,
    log: bool,
    cancel: _native.CancelToken,
) -> Any:
    """Decodes the batch in one native call (GIL released) and raises its failures."""
    decode_image_batch = _decode.decode_image_batch
    options = {k: v for k, v in decode_options.items() if k != "num_threads"}
    # `num_threads` of decode options is FFmpeg's per-decoder threading, which does not
    # apply here: the batch decoder spreads the images over as many native threads as
    # the decode pool has.
    num_threads = min(len(srcs), _executor.executor_sizes()[1])
    buffer, errors = decode_image_batch(
        srcs, cancel=cancel, num_threads=num_threads, transforms=transforms, **options
    )
    return _batch_result(srcs, buffer, errors, strict, len(srcs), log, cancel)


def _batch_result(
    srcs: list[Any],
    buffer: Any,
    errors: list[BaseException | None],
    strict: bool,
    num_srcs: int,
    log: bool,
    cancel: _native.CancelToken,
) -> Any:
    """The batch, or the failure to raise: the first one (strict) or that all failed.

    ``srcs`` and ``errors`` are the images the native call wrote (one error or None
    each); ``num_srcs`` counts the whole batch, images that failed earlier included.
    The failures are logged, unless the batch was cancelled: its images did not fail.
    """
    failures = [
        (src, AsyncIOFailure.wrap(_batch_phase(error), describe_source(src), error))
        for src, error in zip(srcs, errors, strict=True)
        if error is not None
    ]
    if log and not cancel.cancelled:
        for src, error in failures:
            _log_failure(src, error)
    if (failures and strict) or buffer is None:
        first = failures[0][1] if failures else None
        error = first if strict and first else _all_failed(num_srcs, first)
        # The traceback keeps this frame: it must hold neither the batch nor the
        # errors (a cycle that only the garbage collector would free).
        del buffer, failures, first
        try:
            raise error
        finally:
            del error
    return buffer


def _batch_name(srcs: list[Any]) -> str:
    return f"<batch of {len(srcs)} images>"


def _batch_phase(error: BaseException) -> str:
    # A source that cannot be read fails where the per-source path fails: in demux.
    return "demux" if isinstance(error, OSError) else "decode"


def _all_failed(num_srcs: int, first: BaseException | None) -> AsyncIOFailure:
    failure = AsyncIOFailure(f"All {num_srcs} images failed to load. First error: {first}")
    failure.__cause__ = first
    return failure


@chain_futures
def _decode_image_chain(
    src: Any,
    demux_options: dict[str, Any],
    decode_options: dict[str, Any],
    executor: Executor | None,
) -> Generator[Future[Any], Any, None]:
    packets = yield _phases.demux_media("image", src, executor=executor, **demux_options)
    yield _phases.decode_packets(packets, executor=executor, **decode_options)


@chain_futures
def _batch_chain(
    srcs: list[Any],
    demux_options: dict[str, Any],
    decode_options: dict[str, Any],
    convert_options: dict[str, Any],
    strict: bool,
    executor: Executor | None,
    transforms: Transforms | None = None,
    log: bool = True,
) -> Generator[Future[Any], Any, None]:
    failed: set[int] = set()

    def on_error(i: int, error: BaseException) -> None:
        failed.add(i)
        if log and not isinstance(error, CancelledError):  # cancelled: not failed
            _log_failure(srcs[i], error)

    # With transforms each image is decoded whole, in its own format, and cut,
    # resized and mirrored in the batch step, as the native batch decoder does.
    output = {k: decode_options.get(k) for k in ("width", "height", "pix_fmt", "scale_algo")}
    if transforms:
        decode_options = {**decode_options, "width": None, "height": None, "pix_fmt": None}
    # The images are started one by one *inside* the gather, so that a strict failure
    # seen while they are being started stops the starting and cancels the started
    # ones before any other queued work of theirs can run.
    gathered = gather_futures(
        (_decode_image_chain(s, demux_options, decode_options, executor) for s in srcs),
        strict=strict,
        on_error=on_error,
        cancel_on_failure=True,
    )
    try:
        frames = yield gathered
    except AsyncIOFailure as error:
        if not strict and error.phase is None:
            raise _all_failed(len(srcs), error.__cause__) from error.__cause__
        raise
    if not transforms:
        yield _phases.submit_convert(frames, executor=executor, **convert_options)
        return
    kept = [i for i in range(len(srcs)) if i not in failed]
    yield submit_with_token(
        functools.partial(
            _transform_batch,
            frames,
            transforms.to_native(kept),
            [srcs[i] for i in kept],
            output,
            strict,
            len(srcs),
            log,
        ),
        phase="convert",
        src=_batch_name(srcs),
        executor=executor,
    )


def _transform_batch(
    frames: list[Any],
    transforms: list[_native.ImageTransform],
    srcs: list[Any],
    output: dict[str, Any],
    strict: bool,
    num_srcs: int,
    log: bool,
    cancel: _native.CancelToken,
) -> Any:
    """Crops, resizes and mirrors the decoded images into one batch (GIL released)."""
    buffer, errors = _decode.transform_image_batch(frames, transforms, **output)
    return _batch_result(srcs, buffer, errors, strict, num_srcs, log, cancel)


def _use_fast_path(
    srcs: list[Any], demux: dict[str, Any], decode: dict[str, Any], convert: dict[str, Any]
) -> bool:
    return (
        hasattr(_decode, "decode_image_batch")
        and not demux
        and not convert
        and set(decode) - {"width", "height", "pix_fmt"} <= _FAST_PATH_OPTIONS
        and all(_is_still_image(src) for src in srcs)
    )


@operation(
    "batch_load_image", primary="sync", wrap=True, public=("sync", "async"), sync_executor=True
)
def _batch_load_image(
    srcs: Sequence[Any],
    width: int | None,
    height: int | None,
    pix_fmt: str | None = "rgb24",
    demux_options: Mapping[str, Any] | None = None,
    decode_options: Mapping[str, Any] | None = None,
    convert_options: Mapping[str, Any] | None = None,
    strict: bool = True,
    *,
    crop: CropSpec | Sequence[CropSpec | None] | None = None,
    hflip: bool | Sequence[bool] | None = None,
) -> Plan[_native.CPUBuffer]:
    """Load images into one batch buffer, decoding them concurrently.

    Still images (paths, URLs or bytes of JPEG, PNG, WebP, BMP, TIFF, GIF, QOI; no
    demux or convert options) are decoded in one native call, on as many native
    threads as the decode pool has, which returns to Python once, when the batch is
    done; the sync form makes that call from the calling thread. Formats mix freely
    in a batch. URLs are fetched on the I/O pool while the images already fetched
    decode. Other sources are demuxed and decoded one by one in the shared pools.
    Each failure is logged with its source (logger ``"spdl.io"``).

    Args:
        srcs: Image sources: paths, URLs, bytes-like objects or binary file-like objects.
        width: Width of every output image; ``None`` with a ``height``: the width
            that keeps each image's aspect ratio, rounded to the nearest even number;
            ``None`` for both: the decoded size.
        height: Height of every output image; ``None``: as for ``width``.
        pix_fmt: Output pixel format; ``None`` keeps the decoder's format.
        demux_options: ``format``, ``format_options``.
        decode_options: Other options of :func:`spdl.io.decode_packets`; for images
            also ``apply_exif_orientation`` (bool, default ``False``): turn each
            JPEG, PNG, WebP or TIFF upright by its EXIF orientation, as Pillow's
            ``ImageOps.exif_transpose`` does, before it is cropped and resized.
        convert_options: Options of the buffer conversion (none at present).
        strict: If ``True``, fail if any image fails; if ``False``, batch the others.
        crop: What to crop from each image before it is resized to ``width`` x
            ``height`` (both required with a crop): one :class:`spdl.io.CropBox`,
            :class:`spdl.io.CenterCrop` or :class:`spdl.io.RandomResizedCrop` for every
            image, or a sequence with one spec (or ``None``) per source. The box is
            computed natively from each image's size (:func:`spdl.io.crop_box` gives the
            same box); one ``RandomResizedCrop`` for the batch gives image ``i`` the
            seed of ``crop.for_image(i)``. A cropped JPEG decodes only the region
            around its box. A box that does not fit fails its image.
        hflip: Mirror the output images horizontally: ``True`` for all, or a sequence
            of bools (NumPy arrays and tensors too), one per source.
        executor: Executor for all phases instead of the shared pools.

    Returns:
        A ``CPUBuffer`` of shape ``(B, height, width, 3)`` for ``rgb24`` (see the shape
        table for others), where ``B`` is ``len(srcs)``, or the number of images that
        loaded when ``strict=False``.

    Raises:
        ValueError: If ``srcs`` is empty or an argument has an invalid value (a
            ``crop`` or ``hflip`` sequence of the wrong length, a crop without
            ``width`` and ``height``).
        TypeError: If an argument or option has an unsupported type or name.
        AsyncIOFailure: {if} an image failed (``strict=True``) or every image failed.

    Example:
        >>> buffer = {await}spdl.io.{async_}batch_load_image(["foo.jpg", "bar.png"], 121, 121)
        >>> spdl.io.to_numpy(buffer).shape
        (2, 121, 121, 3)
        >>> train = {await}spdl.io.{async_}batch_load_image(
        ...     ["foo.jpg", "bar.png"], 64, 64,
        ...     crop=spdl.io.RandomResizedCrop(seed=0), hflip=[True, False])
        >>> train.shape
        (2, 64, 64, 3)
    """
    checked, demux, decode, convert, transforms = _check_batch_args(
        srcs,
        width,
        height,
        pix_fmt,
        demux_options,
        decode_options,
        convert_options,
        strict,
        crop,
        hflip,
    )
    name = _batch_name(checked)
    log = not _caller_logs.get()  # read here, in the caller's thread (not the pools')
    urls = _remote.has_urls(checked)
    if urls and not _use_fast_path(checked, demux, decode, convert):
        # Fetched whole first: their bytes may show still images that their names did not.
        fetch = functools.partial(_remote.fetch_sources, checked, strict)
        checked, urls = (yield Step("fetch", name, fetch, spawn=True)), False
    if not _use_fast_path(checked, demux, decode, convert):
        chain = functools.partial(_batch_chain, checked, demux, decode, convert, strict)
        run = functools.partial(chain, transforms=transforms, log=log)
        return (yield Step("load", name, run, spawn=True))
    native = transforms.to_native() if transforms else None
    if not urls:
        run = functools.partial(_fast_batch, checked, decode, strict, native, log)
        return (yield Step("decode", name, run, cancellable=True))
    # URLs become images that their fetches (started now) fill while the others decode.
    sources, fetches = _remote.pending_sources(checked, strict)
    run = functools.partial(_fast_batch, sources, decode, strict, native, log)
    try:
        return (yield Step("decode", name, run, cancellable=True))
    except AsyncIOFailure as error:
        failure = _remote.settle(fetches, strict, error)
        if failure is error:
            raise
        raise failure from failure.__cause__  # the fetch's own failure
    finally:
        _remote.cancel_all(fetches)


batch_load_image, batch_load_image_future, async_batch_load_image = _batch_load_image
