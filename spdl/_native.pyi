# The type stub of spdl._native, generated from the built extension by nanobind's
# stubgen (nanobind 3.1.0) and tools/gen_stubs.py. Do not edit: after changing a
# binding (spdl_native/bind_*.cpp), rebuild spdl and run `python tools/gen_stubs.py`;
# `nox -s lint` fails while this file differs from what that writes.
"""
spdl native core: decoding and conversion on the system FFmpeg, GIL released.
"""

from collections.abc import Mapping, Sequence
from typing import SupportsIndex, overload


class MediaError(RuntimeError):
    """
    Raised when media cannot be demuxed, decoded or converted.

    A subclass of :class:`RuntimeError`. The message names the source and the cause,
    including FFmpeg's own error text where FFmpeg reported one. The synchronous
    helpers (``load_image`` …) raise it directly; the Future and asyncio functions
    report it as the ``__cause__`` of an :class:`AsyncIOFailure`.

    Example:
        >>> try:
        ...     spdl.io.load_image(b"not an image")
        ... except spdl.io.MediaError as error:
        ...     print(error)
        Failed to open <bytes of 12 bytes>: ...Invalid data found when processing input...
    """

class CodecParams:
    """Codec parameters, by name, for the native decoder."""

    def __init__(self) -> None: ...

    @property
    def codec_name(self) -> str: ...

    @codec_name.setter
    def codec_name(self, arg: str, /) -> None: ...

    @property
    def extradata(self) -> bytes: ...

    @extradata.setter
    def extradata(self, arg: bytes, /) -> None: ...

    @property
    def bit_rate(self) -> int: ...

    @bit_rate.setter
    def bit_rate(self, arg: int, /) -> None: ...

    @property
    def bits_per_coded_sample(self) -> int: ...

    @bits_per_coded_sample.setter
    def bits_per_coded_sample(self, arg: int, /) -> None: ...

    @property
    def codec_tag(self) -> int: ...

    @codec_tag.setter
    def codec_tag(self, arg: int, /) -> None: ...

    @property
    def pts_in_decode_order(self) -> bool: ...

    @pts_in_decode_order.setter
    def pts_in_decode_order(self, arg: bool, /) -> None: ...

    @property
    def block_align(self) -> int: ...

    @block_align.setter
    def block_align(self, arg: int, /) -> None: ...

    @property
    def frame_size(self) -> int: ...

    @frame_size.setter
    def frame_size(self, arg: int, /) -> None: ...

    @property
    def profile(self) -> int: ...

    @profile.setter
    def profile(self, arg: int, /) -> None: ...

    @property
    def level(self) -> int: ...

    @level.setter
    def level(self, arg: int, /) -> None: ...

    @property
    def width(self) -> int: ...

    @width.setter
    def width(self, arg: int, /) -> None: ...

    @property
    def height(self) -> int: ...

    @height.setter
    def height(self, arg: int, /) -> None: ...

    @property
    def pix_fmt(self) -> str: ...

    @pix_fmt.setter
    def pix_fmt(self, arg: str, /) -> None: ...

    @property
    def sample_aspect_ratio(self) -> tuple[int, int]: ...

    @sample_aspect_ratio.setter
    def sample_aspect_ratio(self, arg: tuple[int, int], /) -> None: ...

    @property
    def color_space(self) -> str: ...

    @color_space.setter
    def color_space(self, arg: str, /) -> None: ...

    @property
    def color_range(self) -> str: ...

    @color_range.setter
    def color_range(self, arg: str, /) -> None: ...

    @property
    def sample_rate(self) -> int: ...

    @sample_rate.setter
    def sample_rate(self, arg: int, /) -> None: ...

    @property
    def num_channels(self) -> int: ...

    @num_channels.setter
    def num_channels(self, arg: int, /) -> None: ...

    @property
    def channel_layout(self) -> str: ...

    @channel_layout.setter
    def channel_layout(self, arg: str, /) -> None: ...

    @property
    def channel_names(self) -> str: ...

    @channel_names.setter
    def channel_names(self, arg: str, /) -> None: ...

    @property
    def sample_fmt(self) -> str: ...

    @sample_fmt.setter
    def sample_fmt(self, arg: str, /) -> None: ...

    @property
    def display_matrix(self) -> bytes: ...

    @display_matrix.setter
    def display_matrix(self, arg: bytes, /) -> None: ...

class Packets:
    """
    Demuxed packets of one stream, ready for decoding.

    The base class of ``ImagePackets``, ``AudioPackets`` and ``VideoPackets``. Packets
    own a copy of the compressed bytes and the codec parameters (by name), so the
    source may be closed once they exist. Pass them to ``decode_packets``.
    """

    @property
    def media_type(self) -> str:
        """``"image"``, ``"audio"`` or ``"video"``."""

    @property
    def src(self) -> str:
        """
        The source, as messages name it: its path, or a description such as ``<bytes of N bytes>``.
        """

    @property
    def codec_name(self) -> str:
        """
        FFmpeg's name of the codec, e.g. ``"h264"``, ``"mjpeg"``, ``"pcm_s16le"``.
        """

    @property
    def time_base(self) -> tuple[int, int]:
        """
        The stream's time base ``(numerator, denominator)``: timestamps count in these fractions of a second.
        """

    @property
    def frame_rate(self) -> tuple[int, int]:
        """
        A video's average frame rate ``(numerator, denominator)``; ``(0, 1)`` when unknown or not video. Setting it while another thread decodes the packets raises ``ValueError``.
        """

    @frame_rate.setter
    def frame_rate(self, arg: tuple[int, int], /) -> None: ...

    @property
    def timestamp(self) -> tuple[float, float] | None:
        """
        The half-open window ``(start, end)`` in seconds these packets were demuxed for, or ``None`` for the whole stream; decoding keeps only what lies in it. Setting it while another thread decodes the packets raises ``ValueError``.
        """

    @timestamp.setter
    def timestamp(self, arg: tuple[float, float] | None, /) -> None: ...

    @property
    def pts(self) -> list[float]:
        """
        Presentation time of each packet in seconds, in demux order (NaN where the container gives none).
        """

    @property
    def width(self) -> int:
        """Width of the coded picture in pixels; ``0`` for audio."""

    @property
    def height(self) -> int:
        """Height of the coded picture in pixels; ``0`` for audio."""

    @property
    def display_orientation(self) -> int:
        """
        How a player shows the frames, by the container's display matrix: an EXIF orientation, ``1`` as stored (also when there is no matrix, or it turns by an angle that is not a multiple of 90 degrees), ``3`` turned by 180 degrees, ``6`` turned 90 degrees clockwise, ``8`` 90 degrees counter-clockwise, ``2``/``4`` mirrored left to right / top to bottom, ``5``/``7`` transposed / transversed. ``width`` and ``height`` are the stored picture's.
        """

    @property
    def pix_fmt(self) -> str:
        """
        The decoder's pixel format, e.g. ``"yuv420p"``; ``""`` for audio. For MP4-family video (demuxed without the probe decode), learned from the first keyframe when first read.
        """

    @property
    def sample_rate(self) -> int:
        """Audio samples per second; ``0`` for images and video."""

    @property
    def num_channels(self) -> int:
        """Number of audio channels; ``0`` for images and video."""

    @property
    def sample_fmt(self) -> str:
        """
        The decoder's sample format, e.g. ``"s16"``; ``""`` for images and video.
        """

    @property
    def params(self) -> CodecParams:
        """
        A copy of the codec parameters (by name) the native decoder is opened with, with ``pix_fmt`` and colour as ``pix_fmt`` tells.
        """

    def add(self, data: object, pts: int, dts: int, duration: int, is_key: bool, side_data: Sequence[tuple[str, bytes]] = []) -> None:
        """
        Appends a copy of one packet's bytes (used by the demux layer).

        Args:
            data: The compressed bytes: any object with the buffer protocol.
            pts: Presentation timestamp, in ``time_base`` units.
            dts: Decoding timestamp, in ``time_base`` units.
            duration: Duration, in ``time_base`` units.
            is_key: Whether the packet starts a key frame.
            side_data: ``(name, bytes)`` pairs of FFmpeg packet side data, by FFmpeg's
                descriptive name; names this FFmpeg does not know are skipped.

        Raises:
            TypeError: If ``data`` does not support the buffer protocol.
            ValueError: If another thread is decoding these packets: they cannot change
                until that decode has ended.
        """

    def add_demuxed(self, packet: object) -> None:
        """
        Appends a copy of one packet PyAV demuxed (used by the demux layer).

        Reads ``pts``, ``dts``, ``duration``, ``is_keyframe`` and ``iter_sidedata()``
        of the packet and takes its bytes through the buffer protocol; ``None``
        timestamps are unknown. The same as ``add`` with those values, in one call.

        Args:
            packet: An ``av.Packet``.

        Raises:
            AttributeError: If ``packet`` lacks one of those attributes.
            TypeError: If ``packet`` lacks the buffer protocol, or an attribute has the wrong type.
            OverflowError: If a timestamp does not fit in 64 bits.
            ValueError: If another thread is decoding these packets: they cannot change
                until that decode has ended.
        """

    def add_demuxed_from(self, demuxer: object, limit: int, end: float | None = None, lookahead: int = 0) -> bool:
        """
        Appends copies of the packets a PyAV demuxer yields next (used by the demux layer).

        Takes packets from ``demuxer`` as ``add_demuxed`` does, skipping empty ones, until
        ``limit`` were added, the demuxer is exhausted, or a packet's decode time (its
        ``dts``, else its ``pts``) reaches ``end``; that packet is dropped. No Python code
        runs per packet.

        Args:
            demuxer: An iterator of ``av.Packet``, e.g. ``container.demux(stream)``.
            limit: The most packets to add.
            end: Stop at the first packet whose decode time is at least this, in the
                stream's time base; ``None``: no end.
            lookahead: Keep that packet and up to ``lookahead - 1`` more aside as the
                window's lookahead (see ``join_decode_session``) instead of dropping it; a
                packet the demuxer fails to read there ends the lookahead without an error.

        Returns:
            ``True`` when ``limit`` packets were added (more may follow), ``False`` when
            the demuxer ended or a packet reached ``end``.

        Raises:
            TypeError: If ``demuxer`` is not an iterator, or as ``add_demuxed``.
            ValueError: If another thread is decoding these packets: they cannot change
                until that decode has ended.
            Exception: Whatever the demuxer raises, unchanged.
        """

    def join_decode_session(self, previous: Packets | None) -> None:
        """
        Shares the decoder of the streaming demux's window before (used by the demux layer).

        ``decode_packets`` of a window in a session continues the decoder where the
        window before stopped, when that is where this window's packets lead (windows
        decoded in order), instead of decoding again from the keyframe before its start.
        Windows decoded out of order, overlapping ones, or several at once decode as
        before. The frames are the same either way.

        Args:
            previous: The window before, of the same stream; ``None`` starts a session.

        Raises:
            ValueError: If the packets are not video, are in a session already, or are not
                of ``previous``' stream, or if another thread is decoding them.
        """

    @property
    def decode_session_stats(self) -> dict[str, int] | None:
        """
        What the decode session of these packets did, or ``None`` outside one.

        ``packets_decoded``: packets its windows sent to a decoder (lookahead included);
        ``windows_continued``: windows that continued the decoder of the window before;
        ``windows_started``: windows that opened a decoder of their own;
        ``windows_redone``: windows decoded independently after all (the stream's frames
        did not come out in order, or a decode failed).
        """

    @property
    def decode_session_window(self) -> tuple[int, int] | None:
        """
        ``(session, index)``: a key of the decode session these packets are in, and
        their window's place among its windows (0, 1, ... in demux order); ``None`` outside
        one. The key is the same for every window of the session while any of them lives.
        """

    def split_lookahead(self) -> Packets:
        """
        Moves the window's lookahead packets out, into packets of their own (for a demux helper's reply). ``ValueError`` while another thread decodes the packets.
        """

    def attach_lookahead(self, lookahead: Packets) -> None:
        """
        Moves the packets of ``lookahead`` (from ``split_lookahead``) into this window's lookahead. ``ValueError`` while another thread decodes either.
        """

    def __len__(self) -> int:
        """The number of packets."""

    def __repr__(self) -> str: ...

class ImagePackets(Packets):
    """
    The packet of one still image.

    Returned by ``demux_media("image", ...)``; ``decode_packets`` turns it into
    ``ImageFrames``. The sample properties (``sample_rate`` …) are ``0`` / ``""``.

    Example:
        >>> packets = spdl.io.demux_media("image", "foo.jpg").result()
        >>> packets.codec_name, packets.width, packets.height, len(packets)
        ('mjpeg', 320, 240, 1)
    """

    def __init__(self, src: str, params: CodecParams, time_base: tuple[int, int]) -> None:
        """
        Creates empty packets; the demux layer fills them.

        Users get packets from ``demux_media`` / ``streaming_demux`` instead.

        Args:
            src: What the packets come from, as error messages name it.
            params: The stream's codec parameters.
            time_base: The stream's time base ``(numerator, denominator)``.
        """

class AudioPackets(Packets):
    """
    Packets of an audio stream, optionally for a window.

    Returned by ``demux_media("audio", ...)`` and ``streaming_demux("audio", ...)``;
    ``decode_packets`` turns them into ``AudioFrames``, cut to the window's samples.
    The picture properties (``width`` …) are ``0`` / ``""``.

    Example:
        >>> packets = spdl.io.demux_media("audio", "speech.wav", timestamp=(0, 1)).result()
        >>> packets.codec_name, packets.sample_rate, packets.num_channels, packets.timestamp
        ('pcm_s16le', 16000, 2, (0.0, 1.0))
    """

    def __init__(self, src: str, params: CodecParams, time_base: tuple[int, int]) -> None:
        """
        Creates empty packets; the demux layer fills them.

        Users get packets from ``demux_media`` / ``streaming_demux`` instead.

        Args:
            src: What the packets come from, as error messages name it.
            params: The stream's codec parameters.
            time_base: The stream's time base ``(numerator, denominator)``.
        """

class VideoPackets(Packets):
    """
    Packets of a video stream, optionally for a window.

    Returned by ``demux_media("video", ...)`` and ``streaming_demux("video", ...)``.
    For a window they include the packets the decoder needs around it (from the key
    frame before its start), so ``len(packets)`` can exceed the number of frames in the
    window; ``decode_packets`` keeps exactly the frames whose presentation time lies
    in it. The sample properties (``sample_rate`` …) are ``0`` / ``""``.

    Example:
        >>> packets = spdl.io.demux_media("video", "clip.mp4", timestamp=(1, 2)).result()
        >>> packets.codec_name, packets.frame_rate, packets.width, packets.height
        ('h264', (30, 1), 96, 64)
        >>> len(spdl.io.decode_packets(packets).result())
        30
    """

    def __init__(self, src: str, params: CodecParams, time_base: tuple[int, int]) -> None:
        """
        Creates empty packets; the demux layer fills them.

        Users get packets from ``demux_media`` / ``streaming_demux`` instead.

        Args:
            src: What the packets come from, as error messages name it.
            params: The stream's codec parameters.
            time_base: The stream's time base ``(numerator, denominator)``.
        """

def pack_packets(packets: Sequence[Packets]) -> int:
    """
    Packs Packets into a new sealed memfd and returns its descriptor (the caller closes it); a demux helper process hands its packets over this way.
    """

def unpack_packets(fd: int) -> list[Packets]:
    """
    Rebuilds the Packets of a sealed memfd written by ``pack_packets`` (not closed): a block up to 1 MiB is copied, a larger one mapped.
    """

def packed_bytes(packets: Sequence[Packets]) -> bytes:
    """
    The block ``pack_packets`` writes, as bytes: every field of the packets, for comparing two demuxes bit for bit.
    """

def call_demux_helper(sock: int, request: bytes, data: object | None, ask_next: bool, cancel: CancelToken | None) -> tuple[str, bytes, list[Packets]]:
    """
    Sends a request to a demux helper process and waits for its reply.

    Used by ``spdl.io._runtime.demux_pool``. The whole exchange (the source's bytes copied
    into a memfd, the request sent, the wait, the packets rebuilt from the reply's
    shared memory) runs with the GIL released.

    Args:
        sock: The loading process's end of the helper's SOCK_SEQPACKET socket.
        request: The request's text.
        data: The source's bytes (any buffer), or ``None`` for a path.
        ask_next: Ask for the stream's next item as soon as this one arrives.
        cancel: Stops the wait when set (the helper is then mid-request).

    Returns:
        ``(kind, text, packets)``: kind is ``"item"`` (packets), ``"error"`` (text
        describes the failure), ``"closed"`` (the helper is gone), ``"cancelled"``,
        ``"broken"`` (a reply the protocol does not allow; text says why) or
        ``"no_memory"`` (an item came but this process could not hold it; text says
        why; the helper is fine) or ``"unread"`` (the helper was gone before it read
        the request: it died while idle).
    """

def next_from_demux_helper(sock: int, ask_next: bool, cancel: CancelToken | None) -> tuple[str, bytes, list[Packets]]:
    """
    Waits for the stream item asked for last (see ``call_demux_helper``).

    Args:
        sock: The helper's socket.
        ask_next: Ask for the item after it as soon as it arrives.
        cancel: Stops the wait when set.

    Returns:
        ``(kind, text, packets)`` as ``call_demux_helper``.
    """

def load_audio_from_demux_helper(sock: int, request: bytes, data: object | None, plan: DecodePlan, cancel: CancelToken | None) -> tuple[str, bytes, CPUBuffer | None]:
    """
    Loads audio that a demux helper process demuxes: one call, GIL released.

    Sends the request (``"audio_chunks"``) as ``call_demux_helper`` does, opens an
    ``AudioDecodeStream`` with ``plan`` on the first chunk the helper sends, feeds it
    each chunk while the helper demuxes the next, and finishes it once the helper
    says the stream ended.

    Args:
        sock: The helper's socket.
        request: The request's text.
        data: The source's bytes, or ``None`` for a path.
        plan: The decode (``_decode.make_plan``).
        cancel: Stops the decode and the wait when set.

    Returns:
        ``(kind, text, buffer)``: kind ``"end"`` with the decoded buffer, or
        ``"error"``, ``"closed"``, ``"cancelled"``, ``"broken"``, ``"no_memory"``
        (buffer ``None``) as ``call_demux_helper`` returns them; after ``"cancelled"``
        and ``"no_memory"`` the helper is still sending chunks.

    Raises:
        MediaError: The audio cannot be decoded, or the decode was cancelled; the
            helper may still be sending.
    """

def drain_demux_helper(sock: int, timeout_s: float, until_end: bool) -> str:
    """
    Drops the reply a demux helper process owes, waiting for it at most ``timeout_s``.

    For a load that left early (a stream closed, a cancelled wait): the reply's packets
    are not unpacked. The wait runs with the GIL released, and runs no signal handler.

    Args:
        sock: The helper's socket.
        timeout_s: How long to wait for the reply, in seconds.
        until_end: Drop every item up to the stream's end (an audio load's chunks).

    Returns:
        The kind of the reply that ended the wait: ``"item"`` (only without
        ``until_end``), ``"end"`` or ``"error"`` (the helper is idle again, or waits for
        the stream's ``"N"``/``"S"`` after an item), ``"closed"``, ``"broken"`` or
        ``"timed_out"``.
    """

class Frames:
    """
    Decoded frames of one source, in presentation order.

    The base class of ``ImageFrames``, ``AudioFrames`` and ``VideoFrames``, returned by
    ``decode_packets``. ``convert_frames`` copies them into one ``CPUBuffer`` and
    releases each frame as it is copied: afterwards the frames are *consumed*: their
    sizes, formats, ``pts`` and ``len()`` stay readable, but converting or indexing them
    again raises ``ValueError``.
    """

    @property
    def media_type(self) -> str:
        """``"image"``, ``"audio"`` or ``"video"``."""

    @property
    def src(self) -> str:
        """The source of the packets, as messages name it."""

    @property
    def time_base(self) -> tuple[int, int]:
        """The time base ``(numerator, denominator)`` of the frames' timestamps."""

    @property
    def consumed(self) -> bool:
        """Whether conversion has released the frames (they convert only once)."""

    @property
    def pts(self) -> list[float]:
        """
        Presentation time of each frame in seconds; still known once the frames are consumed.
        """

    def __len__(self) -> int:
        """
        The number of frames (for audio, of chunks of samples: see ``num_samples``); still known once the frames are consumed.
        """

    def __repr__(self) -> str: ...

class ImageFrames(Frames):
    """
    A decoded still image (or one frame of a video).

    Converts to ``(H, W, C)`` for packed formats such as ``rgb24``, ``(C, H, W)`` for
    planar ones; a list of ``ImageFrames`` of one size and format converts to one batch
    ``(B, ...)``.

    Example:
        >>> packets = spdl.io.demux_media("image", "bar.png").result()
        >>> frames = spdl.io.decode_packets(packets).result()
        >>> frames.width, frames.height, frames.pix_fmt
        (200, 150, 'rgb24')
    """

    @property
    def pix_fmt(self) -> str:
        """
        Pixel format of the frames, e.g. ``"rgb24"`` (the ``pix_fmt`` asked of the decode).
        """

    @property
    def width(self) -> int:
        """Width of the frames in pixels."""

    @property
    def height(self) -> int:
        """Height of the frames in pixels."""

class VideoFrames(Frames):
    """
    Decoded video frames.

    Converts to ``(N, H, W, C)`` for packed formats such as ``rgb24``, ``(N, C, H, W)``
    for planar ones. Indexing selects frames without copying pixels.

    Example:
        >>> packets = spdl.io.demux_media("video", "clip.mp4", timestamp=(0, 1)).result()
        >>> frames = spdl.io.decode_packets(packets).result()
        >>> len(frames), frames.width, frames.height, frames.pix_fmt
        (30, 96, 64, 'rgb24')
    """

    @property
    def pix_fmt(self) -> str:
        """
        Pixel format of the frames, e.g. ``"rgb24"`` (the ``pix_fmt`` asked of the decode).
        """

    @property
    def width(self) -> int:
        """Width of the frames in pixels."""

    @property
    def height(self) -> int:
        """Height of the frames in pixels."""

    @overload
    def __getitem__(self, key: SupportsIndex) -> ImageFrames:
        """
        Selects frames without copying pixels (the data is shared).

        Args:
            key: A frame index (negative counts from the end) or a slice.

        Returns:
            ``ImageFrames`` holding one frame for an index; ``VideoFrames`` for a slice.
            Either converts on its own and leaves these frames usable.

        Raises:
            IndexError: If the index is out of range.
            TypeError: If ``key`` is neither an integer nor a slice.
            ValueError: If the frames were converted already.

        Example:
            >>> packets = spdl.io.demux_media("video", "clip.mp4").result()
            >>> frames = spdl.io.decode_packets(packets).result()
            >>> frames[-1]
            ImageFrames(src="clip.mp4", num_frames=1, pix_fmt="rgb24", width=96, height=64)
            >>> spdl.io.convert_frames(frames[10:20:3]).result().shape
            (4, 64, 96, 3)
        """

    @overload
    def __getitem__(self, key: slice) -> VideoFrames: ...

class AudioFrames(Frames):
    """
    Decoded audio, in chunks of samples.

    The decode gathers the decoder's frames (1024 samples each for AAC) into chunks of
    up to 262144 samples per channel as they come out, so a long track is a few frames:
    ``len(frames)`` counts the chunks, ``pts`` gives the time of each chunk's first
    sample, and a gap in the timestamps starts a new chunk.

    Converts to ``(channels, samples)`` for planar sample formats such as the default
    ``fltp``, ``(samples, channels)`` for packed ones such as ``s16``.

    Example:
        >>> packets = spdl.io.demux_media("audio", "speech.wav").result()
        >>> frames = spdl.io.decode_packets(packets, sample_fmt="s16").result()
        >>> frames.sample_fmt, frames.sample_rate, frames.num_channels, frames.num_samples
        ('s16', 16000, 2, 32000)
        >>> spdl.io.convert_frames(frames).result().shape
        (32000, 2)
    """

    @property
    def sample_fmt(self) -> str:
        """
        Sample format of the frames, e.g. ``"fltp"`` (the ``sample_fmt`` asked of the decode).
        """

    @property
    def sample_rate(self) -> int:
        """Samples per second."""

    @property
    def num_channels(self) -> int:
        """Number of audio channels."""

    @property
    def num_samples(self) -> int:
        """
        Samples per channel, over all frames: the length of the converted audio.
        """

class CPUBuffer:
    """
    Converted frames in one C-contiguous block of host memory.

    Returned by ``convert_frames`` and the ``load_*`` functions. It exposes the NumPy
    array interface (version 3), the Python buffer protocol and DLPack, so
    ``numpy.asarray``, ``memoryview``, ``torch.from_dlpack`` and ``spdl.io.to_numpy``
    / ``to_torch`` view its memory without a copy; every view keeps the buffer alive.
    For the shape of each media type and format, see the shapes table.

    Example:
        >>> buffer = spdl.io.load_image("foo.jpg")
        >>> buffer.shape, buffer.typestr, buffer.nbytes
        ((240, 320, 3), '|u1', 230400)
        >>> import numpy as np
        >>> np.asarray(buffer).ctypes.data == buffer.data_ptr  # a view, not a copy
        True
    """

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape, e.g. ``(N, H, W, 3)`` for ``rgb24`` video."""

    @property
    def typestr(self) -> str:
        """
        The element type as a NumPy type string, e.g. ``"|u1"`` (uint8) or ``"<f4"`` (float32).
        """

    @property
    def data_ptr(self) -> int:
        """The address of the first element (64-byte aligned)."""

    @property
    def nbytes(self) -> int:
        """The size of the data in bytes."""

    @property
    def __array_interface__(self) -> dict[str, object]:
        """The NumPy array interface (version 3): shape, typestr, data pointer."""

    def __dlpack__(self, **kwargs: object) -> object:
        """
        Exports the memory as a DLPack capsule (the DLPack protocol).

        Frameworks call it through ``from_dlpack``; the capsule keeps the buffer alive.

        Args:
            **kwargs: The protocol's keyword arguments (``stream``, ``max_version``,
                ``dl_device``, ``copy``); with ``max_version`` of 1 or more the capsule is
                a versioned one.

        Returns:
            A ``PyCapsule`` holding a ``DLManagedTensor`` for the buffer's memory.
        """

    def __dlpack_device__(self) -> tuple[int, int]:
        """
        Returns ``(1, 0)``: DLPack's CPU device type (``kDLCPU``) and device 0.
        """

    def __repr__(self) -> str: ...

class CancelToken:
    """Set by cancel(); a running native decode stops at its next packet."""

    def __init__(self) -> None: ...

    def cancel(self) -> None: ...

    @property
    def cancelled(self) -> bool: ...

class DecodePlan:
    """
    What one native decode call is asked to do.

    ``spdl.io._core.decode`` builds one from checked decode options and passes it to
    ``decode_packets``, ``decode_to_buffer``, ``decode_windows``,
    ``AudioDecodeStream`` or ``decode_image_batch``. The native core decides from
    it whether FFmpeg's filters or the native writer give the output its size and
    format. Immutable once made.
    """

    def __init__(self, *, pre_filters: str = '', post_filters: str = '', filter_desc: str = '', width: int = 0, height: int = 0, pix_fmt: str = '', scale_algo: str = 'bilinear', sample_rate: int = 0, num_channels: int = 0, sample_fmt: str = '', decoder: str | None = None, decoder_options: Mapping[str, str] = {}, num_threads: int = 1, expected_frames: int = 0, cancel: CancelToken | None = None, apply_exif_orientation: bool = False, apply_display_matrix: bool = False, max_pixels: int = 178956970) -> None:
        """
        Makes a plan; every argument is keyword-only.

        Args:
            pre_filters: Filters before the output's size and format (a video window's
                trim, a frame rate), FFmpeg's filter-graph syntax. Audio packets with a
                window are trimmed to it before these, each edge at the nearest sample.
            post_filters: Filters after them (``num_frames``' padding and cut).
            filter_desc: A user's filter graph, in place of the output's size and
                format filters.
            width: Output width in pixels (0: the source's, or kept in proportion).
            height: Output height in pixels (0: likewise).
            pix_fmt: Output pixel format (``""``: the decoder's).
            scale_algo: The scaler (``"bilinear"``, ``"bicubic"``, ``"area"`` ...).
            sample_rate: Output sample rate (0: the decoder's).
            num_channels: Output channel count, 1 to 63 (0: the decoder's); frames with
                that many channels keep their layout.
            sample_fmt: Output sample format (``""``: the decoder's).
            decoder: A decoder name overriding the codec's default one.
            decoder_options: Options of the decoder.
            num_threads: FFmpeg's threads per decoder.
            expected_frames: How many frames to make room for (a video's buffer grows
                past it).
            cancel: A token that stops the decode at its next packet when cancelled;
                the plan keeps it alive.
            apply_exif_orientation: Put still images upright by their EXIF
                orientation before they are filtered, cropped or resized.
            apply_display_matrix: Put video frames upright by the stream's display
                matrix (``Packets.display_orientation``) before they are filtered or
                written.
            max_pixels: The most pixels one image or video frame may have, checked on
                the size its header declares before it is allocated; more fails the
                decode with MediaError (0: no limit). Default: ``DEFAULT_MAX_PIXELS``.

        Raises:
            ValueError: If ``max_pixels`` is negative.
        """

    @property
    def pre_filters(self) -> str: ...

    @property
    def post_filters(self) -> str: ...

    @property
    def filter_desc(self) -> str: ...

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

    @property
    def pix_fmt(self) -> str: ...

    @property
    def scale_algo(self) -> str: ...

    @property
    def sample_rate(self) -> int: ...

    @property
    def num_channels(self) -> int: ...

    @property
    def sample_fmt(self) -> str: ...

    @property
    def decoder(self) -> str | None: ...

    @property
    def decoder_options(self) -> dict[str, str]: ...

    @property
    def num_threads(self) -> int: ...

    @property
    def expected_frames(self) -> int: ...

    @property
    def apply_exif_orientation(self) -> bool: ...

    @property
    def apply_display_matrix(self) -> bool: ...

    @property
    def max_pixels(self) -> int: ...

    @property
    def cancel(self) -> CancelToken | None: ...

    def decodes_windows(self) -> bool:
        """
        Whether ``decode_windows`` takes this plan: video written by the native writer (a packed RGB ``pix_fmt``), with no filter at all.
        """

def decode_packets(packets: Packets, plan: DecodePlan | None = None) -> ImageFrames | AudioFrames | VideoFrames:
    """Decodes packets into frames as the plan says, GIL released."""

def decode_to_buffer(packets: Packets, plan: DecodePlan | None = None) -> CPUBuffer:
    """
    Decodes and converts in one pass, GIL released: frames go straight into the buffer.
    """

def decode_windows(spans: Sequence[Packets], windows: Sequence[tuple[int, int]], plan: DecodePlan | None = None) -> list[CPUBuffer | None]:
    """
    Decodes several windows of one video stream in one forward pass, GIL released. spans: VideoPackets in stream order, each from a keyframe; windows: [start, end) in the spans' time base (end INT64_MAX: open); plan: one that decodes_windows(). Returns one buffer per window, None where no frame lies in the window.
    """

class AudioDecodeStream:
    """
    Decodes an audio stream fed in chunks of packets into one buffer.

    What ``load_audio`` uses: it demuxes a chunk of packets (PyAV, holding the
    GIL), feeds it (GIL released), and so on, so the packets are decoded while they
    are still in cache and other threads' demuxing runs while this one decodes. The
    result equals ``decode_to_buffer`` of all the packets at once. Not for use by
    two threads at once.
    """

    def __init__(self, packets: Packets, plan: DecodePlan | None = None, seconds: float = 0.0) -> None:
        """
        Opens the decoder for a stream.

        Args:
            packets: Audio packets of the stream: their codec, time base and window are
                used, not their packets (feed them).
            plan: The decode (``None``: the decoder's own format); its cancel token is
                not used (``feed`` takes one).
            seconds: How much audio to make room for (``0``: unknown); more audio
                grows the output.

        Raises:
            ValueError: If the packets are not audio, or an option is unknown.
            MediaError: If the system FFmpeg has no decoder for the codec.
        """

    def feed(self, packets: Packets, cancel: CancelToken | None = None) -> None:
        """
        Decodes the next packets of the stream, with the GIL released.

        Args:
            packets: The next audio packets, in decode order.
            cancel: A token that stops the decode at its next packet when cancelled.

        Raises:
            MediaError: If a packet cannot be decoded, or on cancellation.
            RuntimeError: After ``finish``, or when another thread is in a call.
        """

    def finish(self) -> CPUBuffer:
        """
        Drains the decoder and returns the output, with the GIL released.

        Returns:
            A CPUBuffer: ``(channels, samples)`` for planar formats, ``(samples,
            channels)`` for packed ones.

        Raises:
            MediaError: If no frame was decoded.
            RuntimeError: When called twice, or when another thread is in a call.
        """

DEFAULT_MAX_PIXELS: int = 178956970

def check_declared_pixels(packets: Packets, max_pixels: int) -> None:
    """
    Raises MediaError when packets declare pictures over a pixel limit.

    Checks the stream's size (the demuxer's) and, for a still image, the size its
    header declares (JPEG, PNG, WebP, BMP, GIF, TIFF, QOI), as every native decode
    does before it allocates a picture; for decoders outside the native core (NVDEC).

    Args:
        packets: Image or video packets (audio passes).
        max_pixels: The most pixels per picture; 0: no limit.

    Raises:
        MediaError: A picture declares more pixels than ``max_pixels``; the message
            names the source, the size, the limit and how to raise it.
    """

def has_turbojpeg() -> bool:
    """
    Whether this build decodes JPEG images with libjpeg-turbo (decoder="libjpeg-turbo").
    """

def has_libwebp() -> bool:
    """
    Whether this build decodes WebP images with libwebp (decoder="libwebp").
    """

def turbojpeg_decode_size(width: int, height: int, min_width: int, min_height: int, pix_fmt: str) -> tuple[int, int]:
    """
    The (width, height) libjpeg-turbo decodes a JPEG of this size at for a size hint.
    """

def pix_fmt_exists(arg: str, /) -> bool: ...

def pix_fmt_is_output(name: str) -> bool:
    """
    Whether frames can be converted to this pixel format (swscale writes it).
    """

def pix_fmt_chroma_steps(name: str) -> tuple[int, int]:
    """
    (width, height) that a size in this format must be a multiple of: (2, 2) for yuv420p, (1, 1) for rgb24.
    """

def sample_fmt_exists(arg: str, /) -> bool: ...

def convert_frames(frames: Frames) -> CPUBuffer:
    """
    Copies frames into one CPUBuffer (GIL released), releasing each frame as it goes.
    """

def convert_image_batch(frames: Sequence[Frames]) -> CPUBuffer:
    """
    Copies a list of single images into one (B, ...) CPUBuffer (GIL released).
    """

class CropSpec:
    """A crop, as the native batch decoder takes it."""

    @staticmethod
    def box(left: int, top: int, width: int, height: int) -> CropSpec: ...

    @staticmethod
    def center(width: int, height: int, resize: int) -> CropSpec: ...

    @staticmethod
    def random_resized(seed: int, scale_min: float, scale_max: float, ratio_min: float, ratio_max: float, per_image_seed: bool) -> CropSpec: ...

    def __repr__(self) -> str: ...

class ImageTransform:
    """What is done to one image of a batch."""

    def __init__(self, crop: CropSpec | None, hflip: bool) -> None: ...

def crop_box(spec: CropSpec, width: int, height: int, index: int = 0) -> tuple[int, int, int, int]:
    """
    The (left, top, width, height) box of a crop in a width x height image.
    """

def derive_crop_seed(seed: int, index: int) -> int:
    """
    The seed that image `index` of a batch uses for one random crop given for all.
    """

def pix_fmt_can_mirror(pix_fmt: str) -> bool: ...

def has_libjpeg() -> bool:
    """Whether cropped JPEGs decode only the region they need."""

def jpeg_region_counters() -> dict[str, int]:
    """
    Totals of the crop-aware JPEG decodes since the process started (for tests).
    """

class PendingImage:
    """
    A still image of a batch whose bytes arrive while the batch runs (fetched by another thread); decode_image_batch waits for them.
    """

    def __init__(self, name: str) -> None: ...

    @property
    def name(self) -> str: ...

    def set(self, data: bytes) -> None:
        """The image's bytes (copied); the first of set and fail counts."""

    def set_buffer(self, data: bytearray) -> None:
        """set() for a bytearray."""

    def fail(self, message: str) -> None:
        """The image cannot be had: the batch fails it with `message`."""

    @property
    def done(self) -> bool: ...

def decode_image_batch(srcs: list[str | bytes | PendingImage], plan: DecodePlan | None = None, transforms: Sequence[ImageTransform] = [], region_decode: bool = True, num_threads: int = 1) -> tuple[CPUBuffer | None, list[str]]:
    """
    Reads and decodes still images as the plan says on `num_threads` native threads, GIL released for the whole batch, cropping, resizing and mirroring each as its transform says. Returns (CPUBuffer | None, errors) with one error string per source ('' if it decoded).
    """

def transform_image_batch(frames: Sequence[Frames], transforms: Sequence[ImageTransform], plan: DecodePlan | None = None) -> tuple[CPUBuffer | None, list[str]]:
    """
    Crops, resizes and mirrors the images of decoded ImageFrames into one batch of the plan's output size and format (GIL released). Returns (CPUBuffer | None, errors) with one error string per item.
    """

def sniff_image_codec(arg: bytes, /) -> str | None: ...

def annexb_filter(codec_name: str) -> str:
    """
    The bitstream filter that converts ``codec_name`` packets to Annex B, or "".
    """

def apply_bsf(packets: Packets, name: str) -> Packets:
    """
    Returns new packets: every packet run through FFmpeg's bitstream filter ``name``.
    """

def packet_table(packets: Packets) -> list[tuple[int, int, int, bool, bool]]:
    """
    (address, size, pts, is_key, shown) of each packet; valid while ``packets`` lives.
    """

def frame_table(spans: Sequence[Packets]) -> tuple[list[int], list[int], list[int]]:
    """
    The frames of a video stream as its packets tell them, without decoding.

    Args:
        spans: VideoPackets of one stream (each in decode order).

    Returns:
        ``(pts, durations, keyframes)``: each frame's presentation time in the
        stream's time base, ascending (the decode time where a packet has no pts);
        each frame's duration (0 where the container gives none); the positions in
        ``pts`` of the keyframes.
    """

def decode_frames_at(spans: Sequence[Packets], pts: Sequence[int], leading: Sequence[int], plan: DecodePlan, occurrences: Sequence[int] = []) -> CPUBuffer:
    """
    Decodes the frames shown at the given times into one buffer, GIL released.

    One forward pass: GOPs without a wanted frame are skipped as a seek skips them,
    packets after the last wanted frame are not sent, frames nobody asked for are
    sent with ``AVDISCARD_NONREF`` (non-reference frames are not decoded), and a
    repeated frame is decoded once and copied.

    Args:
        spans: VideoPackets of one stream, in stream order, each from a keyframe.
        pts: The presentation time of each wanted frame in the stream's time base,
            in output order; repeats allowed.
        leading: The output's leading shape (``[]``: ``[len(pts)]``), e.g.
            ``[clips, frames_per_clip]``.
        plan: A DecodePlan without timing filters: the output's size and format.
        occurrences: Which of the frames that share each pts is wanted (0 for the
            first in decode order); empty: the first of each.

    Returns:
        A CPUBuffer shaped ``leading`` + the shape of one image.

    Raises:
        ValueError: Bad arguments, or frames of different sizes.
        MediaError: The decode fails, is cancelled, or a wanted frame does not
            come out of the decoder.
    """

def build_info() -> dict[str, object]:
    """
    What the native core was built with and against, and the FFmpeg it runs on (see spdl.io.build_info).
    """

def park_threads_at_exit(idents: Sequence[int]) -> None:
    """
    From now on, the threads ``idents`` (the daemon threads alive when the atexit handlers run) wait for the process's exit when they finish native work, instead of taking the GIL back; so do all but the caller once the interpreter finalizes.
    """

libavcodec_version: str
