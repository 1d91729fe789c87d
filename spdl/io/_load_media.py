"""Loading one source into a buffer: demux, decode and convert as one Future.

:func:`load_media_future` chains the three phases on the shared pools (or the given
executor) without returning to the caller in between; :func:`load_media` is its
synchronous twin, running the phases in the calling thread. The awaitable form,
``async_load_media``, is in :mod:`._async`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import Executor, Future
from typing import Any

from . import _concurrent, _convert, _decode, _demux
from ._chain import chain_futures
from ._demux import Packets
from ._futures import AsyncIOFailure, describe_source, reject_unknown_options, submit_with_token

__all__ = ["check_options", "load_media", "load_media_future", "validate_convert_options"]


def _convert_option_names() -> frozenset[str]:
    params = list(inspect.signature(_convert.convert).parameters.values())[1:]
    return frozenset(p.name for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD)


def check_options(
    name: str, options: Mapping[str, Any] | None, reserved: Sequence[str] = ()
) -> dict[str, Any]:
    """Copy an options mapping, refusing a non-mapping and names given as arguments.

    Args:
        name: The argument's name, for messages.
        options: The mapping, or ``None`` for no options.
        reserved: Option names that must be passed as arguments instead.

    Returns:
        A new ``dict`` of the options.

    Raises:
        TypeError: If ``options`` is not a mapping or holds a reserved name.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"`{name}` must be a mapping or None, got {type(options).__name__}.")
    clash = sorted(set(options) & set(reserved))
    if clash:
        raise TypeError(f"{clash} must be passed as arguments, not in `{name}`.")
    return dict(options)


def validate_convert_options(options: Mapping[str, Any]) -> None:
    """Check that only options of the buffer conversion are given.

    Args:
        options: Keyword options for the conversion.

    Raises:
        TypeError: If an option is unknown.
    """
    reject_unknown_options("convert", options, _convert_option_names())


@chain_futures
def _load_media_chain(
    media_type: str,
    src: Any,
    demux_options: dict[str, Any],
    decode_options: dict[str, Any],
    convert_options: dict[str, Any],
    executor: Executor | None,
) -> Generator[Future[Any], Any, None]:
    packets = yield _concurrent.demux_media(media_type, src, executor=executor, **demux_options)
    fused = getattr(_decode, "decode_to_buffer", None)
    if fused is not None and not convert_options:
        # One native call decodes and copies each frame into the output as it goes,
        # so the frames and the buffer never coexist in memory.
        yield submit_with_token(
            functools.partial(_call_with_cancel, fused, packets, decode_options),
            phase="decode",
            src=describe_source(packets),
            executor=executor,
        )
        return
    frames = yield _concurrent.decode_packets(packets, executor=executor, **decode_options)
    yield _concurrent.submit_convert(frames, executor=executor, **convert_options)


def _call_with_cancel(
    fn: Callable[..., Any], packets: Packets, options: dict[str, Any], cancel: Any
) -> Any:
    return fn(packets, cancel=cancel, **options)


def load_media_future(
    media_type: str,
    src: Any,
    demux_options: Mapping[str, Any] | None = None,
    decode_options: Mapping[str, Any] | None = None,
    convert_options: Mapping[str, Any] | None = None,
    *,
    executor: Executor | None = None,
) -> Future[Any]:
    """``concurrent.futures`` form of :func:`spdl.io.async_load_media` (arguments alike).

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        demux_options: ``timestamp``, ``format``, ``format_options``.
        decode_options: Options of :func:`spdl.io.decode_packets`.
        convert_options: Options of the buffer conversion (none at present).
        executor: Executor for all phases instead of the shared pools.

    Returns:
        A Future resolving to a ``CPUBuffer``.

    Raises:
        ValueError: If an argument has an invalid value.
        TypeError: If an argument or option has an unsupported type or name.
    """
    demux_options = check_options("demux_options", demux_options)
    decode_options = check_options("decode_options", decode_options)
    convert_options = check_options("convert_options", convert_options)
    _concurrent.check_media_type(media_type)
    _decode.validate_decode_options(media_type, **decode_options)
    validate_convert_options(convert_options)
    # The demux arguments are validated by demux_media, which the chain calls now.
    return _load_media_chain(
        media_type, src, demux_options, decode_options, convert_options, executor
    )


def _run_phase(phase: str, src: str, fn: functools.partial[Any]) -> Any:
    try:
        return fn()
    except Exception as error:
        raise AsyncIOFailure.wrap(phase, src, error) from error


def load_media(
    media_type: str,
    src: Any,
    demux_options: Mapping[str, Any] | None = None,
    decode_options: Mapping[str, Any] | None = None,
    convert_options: Mapping[str, Any] | None = None,
) -> Any:
    """Load one image, audio clip or video clip into a buffer, in the calling thread.

    Synchronous twin of :func:`spdl.io.async_load_media`: same arguments and results, with the
    three phases run one after another in the calling thread.

    Args:
        media_type: ``"image"``, ``"audio"`` or ``"video"``.
        src: Path, bytes-like object, or binary file-like object.
        demux_options: ``timestamp``, ``format``, ``format_options``.
        decode_options: Options of :func:`spdl.io.decode_packets`.
        convert_options: Options of the buffer conversion (none at present).

    Returns:
        A ``CPUBuffer`` (see :func:`spdl.io.async_load_media` for shapes).

    Raises:
        ValueError: If an argument has an invalid value.
        TypeError: If an argument or option has an unsupported type or name.
        AsyncIOFailure: If a phase fails; the message names the source and phase.

    Example:
        >>> buffer = spdl.io.load_media("image", "foo.jpg", decode_options={"width": 64})
        >>> buffer.shape  # the 320x240 image, scaled to width 64 keeping its aspect ratio
        (48, 64, 3)
    """
    demux_options = check_options("demux_options", demux_options)
    decode_options = check_options("decode_options", decode_options)
    convert_options = check_options("convert_options", convert_options)
    _concurrent.check_media_type(media_type)
    timestamp = demux_options.pop("timestamp", None)
    _concurrent.validate_demux_options(demux_options)
    _demux.validate_demux_args(media_type, src, timestamp, **demux_options)
    _decode.validate_decode_options(media_type, **decode_options)
    validate_convert_options(convert_options)

    src_desc = describe_source(src)
    # The packets go straight to the CPU decoder: no probe decode at opening.
    demux = functools.partial(
        _demux.demux, media_type, src, timestamp, **demux_options, probe=False
    )
    packets = _run_phase("demux", src_desc, demux)
    fused = getattr(_decode, "decode_to_buffer", None)
    if fused is not None and not convert_options:
        return _run_phase("decode", src_desc, functools.partial(fused, packets, **decode_options))
    decode = functools.partial(_decode.decode, packets, **decode_options)
    frames = _run_phase("decode", src_desc, decode)
    convert = functools.partial(_convert.convert, frames, **convert_options)
    return _run_phase("convert", src_desc, convert)
