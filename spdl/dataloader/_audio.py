"""Fixed-length audio clips, batched: an aggregator for the DataLoader."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from typing import Any

import av
import numpy as np

import spdl.io
from spdl.io._core import remote as _remote
from spdl.io._core.decode import validate_decode_options
from spdl.io._core.numbers import is_int, is_real
from spdl.io._runtime import fetch as _fetch

from ._clips import ClipLoader, Offset, open_header
from ._image import describe

__all__ = ["AudioClipLoader"]


def _span(src: Any) -> tuple[float, float | None]:
    """``(start, length)`` in seconds of the first audio stream, by its header: where it
    starts on FFmpeg's timeline, which load_audio's windows count on (MPEG-TS starts
    near 1.4 s, Matroska and Ogg may carry an offset, MP3 starts after its encoder
    delay), and how long it lasts (None if the header does not say)."""
    with open_header(src) as container:
        if not container.streams.audio:
            raise ValueError(f"{describe(src)} holds no audio stream.")
        stream = container.streams.audio[0]
        start = 0.0
        if stream.start_time is not None:
            start = max(float(stream.start_time * stream.time_base), 0.0)
        name = container.format.name
        if _length_is_estimated(name, src):
            return start, None
        if stream.duration:
            length = float(stream.duration * stream.time_base)
            ends = name == "ogg"
        elif container.duration:
            length = container.duration / av.time_base
            ends = "matroska" in name or name == "ogg"
        else:
            return start, None
        if ends:  # FFmpeg gives the stream's end, counted from 0, as its duration
            length -= start
        if name == "ogg" and stream.codec_context.name == "opus":
            length -= _opus_pre_skip(stream.codec_context.extradata) / 48000
        return start, max(length, 0.0)


# Raw elementary streams, whose header gives no length: FFmpeg estimates it from the
# file size and the first frames' bit rate (AVFMT_DURATION_FROM_BITRATE, which PyAV
# does not expose), off by seconds where the bit rate varies.
_ESTIMATED_LENGTH_FORMATS = {
    "aac",  # ADTS
    "ac3",
    "ac4",
    "amr",
    "amrnb",
    "amrwb",
    "dts",
    "eac3",
    "loas",
    "mlp",
    "truehd",
}
# An MP3 gives its length by a Xing / Info (LAME) or VBRI frame before the audio.
_MP3_LENGTH_TAGS = (b"Xing", b"Info", b"VBRI")
_MP3_FRAME_SYNC = re.compile(rb"\xff[\xe0-\xff]")


def _length_is_estimated(format_name: str, src: Any) -> bool:
    """Whether FFmpeg's length of the audio is only its estimate from the bit rate."""
    if format_name in _ESTIMATED_LENGTH_FORMATS:
        return True
    if format_name != "mp3":
        return False
    head = _read(src, 0, 10)
    audio = 0
    if len(head) == 10 and head.startswith(b"ID3"):  # an ID3v2 tag, its size syncsafe
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        audio = 10 + size + (10 if head[5] & 0x10 else 0)
    data = _read(src, audio, 4096)
    sync = _MP3_FRAME_SYNC.search(data)
    if sync is None:
        return True
    first_frame = data[sync.start() : sync.start() + 192]  # the tags lie in its first bytes
    return not any(tag in first_frame for tag in _MP3_LENGTH_TAGS)


def _read(src: Any, offset: int, size: int) -> bytes:
    """Up to ``size`` bytes of a path, bytes-like or binary file-like source from
    ``offset`` on (a file-like source is put back where it was)."""
    if isinstance(src, str | os.PathLike):
        with open(src, "rb") as file:
            file.seek(offset)
            return file.read(size)
    if isinstance(src, bytes | bytearray | memoryview):
        return bytes(src[offset : offset + size])
    position = src.tell()
    try:
        src.seek(offset)
        return src.read(size)
    finally:
        src.seek(position)


def _opus_pre_skip(header: bytes | None) -> int:
    """The samples (at 48 kHz) an Ogg Opus stream's last granule counts before its
    audio, by its OpusHead; 0 without one."""
    if not header or len(header) < 12 or not header.startswith(b"OpusHead"):
        return 0
    return int.from_bytes(header[10:12], "little")


def _fetched(src: Any) -> Any:
    """A URL's file, fetched whole by spdl.io (PyAV reads the header from it, and the
    clip's load would fetch it whole anyway); other sources as they are."""
    if not _remote.is_url(src):
        return src
    path = _fetch.local_path(src)
    if path is not None:
        return path
    _fetch.check_url(src)
    return _fetch.fetch_bytes(src)


class AudioClipLoader(ClipLoader):
    """Loads a fixed-length clip of each audio file, resampled and remixed, as one batch.

    Each item (a path, URL or bytes, a ``(source, label)`` pair, or a ``Sample`` whose
    data is one of those) gives one clip of exactly
    ``num_samples = round(duration * sample_rate)`` samples of ``num_channels``
    channels, float32 (FFmpeg resamples to ``sample_rate`` and up- or down-mixes to
    ``num_channels``). The clip starts where ``offset`` says:

    - ``"random"``: uniformly in ``[0, length - duration]`` seconds, drawn from
      ``sample_seed(seed, epoch, index)`` (the same for the same sample and epoch,
      whatever the batch or the thread; other epochs differ; an item that is not a
      ``Sample`` draws from its path: the same on every pass);
    - ``"center"``: the middle ``duration`` seconds;
    - ``"start"``: the first ``duration`` seconds.

    Audio shorter than ``duration`` is padded with zeros at the end; a decode that
    comes out a few samples longer (codec padding) is cut. Where the audio starts
    and how long it lasts come from the container's header, read with PyAV (offsets
    count from where the stream starts: MPEG-TS near 1.4 s, Matroska and Ogg where
    their first packet is, MP3 after its encoder delay); a file whose header does
    not give the length is read from the start, as is one whose length FFmpeg only
    estimates from the bit rate (raw AAC (ADTS), AC-3, DTS, AMR, and MP3 without a
    Xing, Info or VBRI frame).
    Only the window is decoded (:func:`spdl.io.load_audio` with ``timestamp``).

    The loader keeps no state between calls: the DataLoader may call it from
    several threads at once.

    Called with a list of items it returns ``(waveforms, labels)``;
    :meth:`load_clip` loads one clip.

    Args:
        duration: Clip length in seconds.
        sample_rate: Output sample rate in Hz.
        num_channels: Output channel count, 1 to 63 (a file with that many channels
            keeps its layout; others are mixed as ``spdl.io.load_audio`` mixes them).
        offset: ``"random"``, ``"center"`` or ``"start"`` (see above).
        seed: Seed of the random offsets.
        strict: Raise on the first file that fails to load; if ``False`` (the
            default), drop it and its label (the error is logged), so a batch may
            be shorter than its item list, or empty.
        to_torch: Return torch tensors (``torch`` is imported when the loader is
            created); ``False`` returns numpy arrays.

    Raises:
        ValueError: An argument has an invalid value.

    Example:
        >>> from spdl.dataloader import AudioClipLoader
        >>> loader = AudioClipLoader(1.5, 8000, 1)
        >>> waveforms, labels = loader([("speech.wav", 0), ("speech.wav", 1)])
        >>> waveforms.shape, waveforms.dtype, labels.tolist()
        (torch.Size([2, 1, 12000]), torch.float32, [0, 1])
    """

    def __init__(
        self,
        duration: float,
        sample_rate: int,
        num_channels: int,
        *,
        offset: Offset = "random",
        seed: int = 0,
        strict: bool = False,
        to_torch: bool = True,
    ) -> None:
        if not is_real(duration) or not 0 < duration < math.inf:
            raise ValueError(f"`duration` must be a positive number of seconds, got {duration!r}.")
        for name, value in (("sample_rate", sample_rate), ("num_channels", num_channels)):
            if not is_int(value) or value <= 0:
                raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
        sample_rate, num_channels = int(sample_rate), int(num_channels)
        validate_decode_options("audio", sample_rate=sample_rate, num_channels=num_channels)
        super().__init__(offset=offset, seed=seed, strict=strict, to_torch=to_torch)
        self.duration = float(duration)
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self.num_samples = round(self.duration * sample_rate)
        if self.num_samples < 1:
            raise ValueError(f"`duration` * `sample_rate` is under one sample: {duration!r}.")
        self._kind = "audio"
        self._clip_shape = (self.num_channels, self.num_samples)
        self._dtype = np.float32

    def _start(self, length: float | None, epoch: int, index: int) -> float:
        spare = max(length - self.duration, 0.0) if length is not None else 0.0
        if self.offset == "start":
            return 0.0
        if self.offset == "center":
            return spare / 2
        return self._draw(epoch, index) * spare

    def _load_into(self, out: np.ndarray, src: Any, epoch: int, index: int) -> None:
        src = _fetched(src)
        first, length = _span(src)
        start = first + self._start(length, epoch, index)
        buffer = spdl.io.load_audio(
            src,
            timestamp=(start, start + self.duration),
            sample_rate=self.sample_rate,
            num_channels=self.num_channels,
            sample_fmt="fltp",
        )
        samples = spdl.io.to_numpy(buffer)[:, : self.num_samples]
        out[:, : samples.shape[1]] = samples
        out[:, samples.shape[1] :] = 0.0

    def load_clip(self, item: Any) -> np.ndarray:
        """Loads the clip of one item.

        Args:
            item: A source, a ``(source, label)`` pair or a ``Sample``.

        Returns:
            float32 ``(num_channels, num_samples)``.

        Raises:
            spdl.io.MediaError: The audio cannot be decoded.
            FileNotFoundError: A path that does not exist.

        Example:
            >>> from spdl.dataloader import AudioClipLoader
            >>> loader = AudioClipLoader(0.5, 16000, 2, offset="start")
            >>> loader.load_clip("speech.wav").shape
            (2, 8000)
        """
        return self._load_one(item)

    def __call__(self, items: Sequence[Any]) -> tuple[Any, Any]:
        """Loads a batch.

        Args:
            items: The batch's items: ``Sample``s, ``(source, label)`` pairs or sources.

        Returns:
            ``(waveforms, labels)``: ``waveforms`` float32
            ``(B, num_channels, num_samples)``; ``labels`` int64 ``(B,)``, ``-1`` for an
            item without a label. torch tensors, or numpy arrays with
            ``to_torch=False``. ``B`` is ``len(items)`` less the items that failed.

        Raises:
            ValueError: ``items`` is empty.
            Exception: The first failure (``strict`` only): ``FileNotFoundError``,
                :class:`spdl.io.MediaError`, or PyAV's error for an unreadable header.
        """
        return self._load_batch(items)

    def __repr__(self) -> str:
        return (
            f"AudioClipLoader(duration={self.duration}, sample_rate={self.sample_rate}, "
            f"num_channels={self.num_channels}, offset={self.offset!r}, strict={self.strict})"
        )
