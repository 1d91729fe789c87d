"""Arguments checked once, in the caller, into immutable values the steps use.

The media type and the source are checked by ``_demux.validate_demux_args`` (one
message each), decode options by ``_decode.validate_decode_options``; an operation
checks each once, when it is called.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, cast

from spdl.io._core import decode as _decode
from spdl.io._core import demux as _demux
from spdl.io._core.demux import MediaType, Packets, Source, Window, describe_source
from spdl.io._runtime import demux_pool as _demux_pool
from spdl.io._runtime.operation import Step

__all__ = ["DemuxArgs", "check_decode_options", "check_options", "split_options"]

DEMUX_OPTIONS = ("format", "format_options")


def check_options(
    name: str, options: Mapping[str, Any] | None, reserved: Sequence[str] = ()
) -> dict[str, Any]:
    """A copy of the options mapping argument ``name``; ``TypeError`` if it is not a
    mapping or holds a ``reserved`` name (one to pass as an argument instead)."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(f"`{name}` must be a mapping or None, got {type(options).__name__}.")
    clash = sorted(set(options) & set(reserved))
    if clash:
        raise TypeError(f"{clash} must be passed as arguments, not in `{name}`.")
    return dict(options)


def validate_demux_options(options: Mapping[str, Any]) -> None:
    """``TypeError`` for a demux option other than ``format`` and ``format_options``."""
    reject_unknown_options("demux", options, DEMUX_OPTIONS)


def validate_convert_options(options: Mapping[str, Any]) -> None:
    """``TypeError`` for any convert option: the conversion takes none at present."""
    reject_unknown_options("convert", options, ())


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A loader's keyword options as (demux options, decode options)."""
    demux = {k: v for k, v in options.items() if k in DEMUX_OPTIONS}
    return demux, {k: v for k, v in options.items() if k not in DEMUX_OPTIONS}


def check_decode_options(media_type: str, options: Mapping[str, Any]) -> Mapping[str, Any]:
    """The decode options, checked for ``media_type`` and frozen."""
    _decode.validate_decode_options(media_type, **options)
    return MappingProxyType(dict(options))


@dataclass(frozen=True)
class DemuxArgs:
    """The checked arguments of demuxing one source."""

    media_type: MediaType
    src: Source
    timestamp: Window | None
    options: Mapping[str, Any]  # format, format_options
    name: str  # the source, as errors name it

    @classmethod
    def check(
        cls, media_type: str, src: Source, timestamp: Window | None, options: Mapping[str, Any]
    ) -> DemuxArgs:
        """``ValueError`` / ``TypeError`` for an invalid media type, source, window or option."""
        validate_demux_options(options)
        _demux.validate_demux_args(media_type, src, timestamp, **options)
        frozen = dict(options)
        if options.get("format_options") is not None:
            frozen["format_options"] = MappingProxyType(dict(options["format_options"]))
        window = _demux.as_window(timestamp) if timestamp is not None else None
        kind = cast(MediaType, media_type)
        return cls(kind, src, window, MappingProxyType(frozen), describe_source(src))

    def windows(self, timestamps: Sequence[Window]) -> list[Window]:
        """Each of ``timestamps`` checked as a window of this source (``TypeError`` for
        anything but a sequence: a generator would be read up by the check)."""
        if isinstance(timestamps, str | bytes) or not isinstance(timestamps, Sequence):
            raise TypeError(
                "`timestamps` must be a sequence of (start, end) pairs, "
                f"got {type(timestamps).__name__}."
            )
        for window in timestamps:
            _demux.validate_demux_args(self.media_type, self.src, window)
        return [_demux.as_window(window) for window in timestamps]

    def at(self, timestamp: Window) -> DemuxArgs:
        """The same source and options for the window ``timestamp`` (checked)."""
        return replace(self, timestamp=self.windows([timestamp])[0])

    def step(self) -> Step[Packets]:
        """Demux on the demux pool (in a helper process for paths and in-memory data)."""
        run = functools.partial(
            _demux_pool.demux, self.media_type, self.src, self.timestamp, **self.options
        )
        return Step("demux", self.name, run, pool="demux", cancellable=True)


def reject_unknown_options(
    kind: str, options: Mapping[str, Any], accepted: Collection[str]
) -> None:
    """``TypeError`` naming the options of ``kind`` that are not in ``accepted``."""
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(f"Unexpected {kind} option(s) {unknown}; accepted: {sorted(accepted)}.")
