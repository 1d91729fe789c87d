"""Test media: what the session fixtures write, and what was written into it.

Every file is small (the whole set is well under 1 MB) and generated with PyAV
and Pillow. Each reference records what the *source* data was (the exact pixels
written to lossless images, the exact PCM written to WAV) and what PyAV's own
decoder makes of the lossy files, so tests compare spdl against a reference decode.

This module is also the one media generator of the repository: the encoders
(:func:`encode_video`, :func:`encode_audio`, :func:`image_bytes`,
:func:`ffmpeg_image_bytes`) are used by the asyncio tests' media (``_media.py``), the
stress runs (``stress/_media.py``), the fuzz seeds (``fuzz/fuzz_decode.py``) and the
benchmark datasets (``benchmarks/_datasets.py``); each caller asks for its own sizes.
Scripts outside tests/ import it by putting this folder on ``sys.path``.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import BinaryIO

import av
import numpy as np
from PIL import Image

VIDEO_WIDTH = 96
VIDEO_HEIGHT = 64
VIDEO_FRAME_RATE = 30
VIDEO_NUM_FRAMES = 90  # 3 seconds
VIDEO_GOP_SIZE = 15  # six key frames in the clip
VIDEO_MAX_B_FRAMES = 2

AAC_SAMPLE_RATE = 44100
AAC_DURATION_S = 2

WAV_SAMPLE_RATE = 16000
WAV_NUM_SAMPLES = 16000  # 1 second


@dataclasses.dataclass(frozen=True)
class VideoReference:
    """An H.264 clip and PyAV's decode of it."""

    path: pathlib.Path
    width: int
    height: int
    frame_rate: int
    times: tuple[float, ...]  # PyAV's ``frame.time`` of every decoded frame, in order
    rgb24: np.ndarray  # (N, H, W, 3) uint8, PyAV's conversion
    yuv420p: np.ndarray  # (N, H * 3 // 2, W) uint8, the decoder's own output


@dataclasses.dataclass(frozen=True)
class AudioReference:
    """An audio file, what was encoded into it, and PyAV's decode of it."""

    path: pathlib.Path
    sample_rate: int
    num_channels: int
    codec_name: str
    native_sample_fmt: str
    source: np.ndarray  # what was encoded, (channels, samples)
    decoded: np.ndarray  # PyAV's decode in the native format, (channels, samples)


@dataclasses.dataclass(frozen=True)
class ImageReference:
    """A still image file and the exact pixels that were written into it."""

    kind: str
    path: pathlib.Path
    width: int
    height: int
    codec_name: str
    native_pix_fmt: str
    lossless: bool
    source_rgb: np.ndarray  # (H, W, 3) uint8 handed to Pillow


def smooth_rgb(width: int, height: int, phase: float) -> np.ndarray:
    """A smooth colour pattern whose content moves with ``phase`` (no hard edges)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 128 + 100 * np.sin(2 * np.pi * (x / width + phase / 3))
    green = 128 + 100 * np.sin(2 * np.pi * (y / height - phase / 4))
    blue = 128 + 100 * np.sin(2 * np.pi * ((x + y) / (width + height) + phase / 2))
    return np.stack([red, green, blue], axis=-1).clip(0, 255).astype(np.uint8)


# -- Encoders shared by tests, stress, fuzz and benchmarks ---------------------------

Destination = pathlib.Path | BinaryIO
"""A file path, or a writable binary file object (``io.BytesIO``) with a container format."""


def _open_output(
    dst: Destination, container_format: str | None, options: dict[str, str] | None = None
) -> av.container.OutputContainer:
    target = str(dst) if isinstance(dst, pathlib.Path) else dst
    return av.open(target, "w", format=container_format, options=options or {})


def has_encoder(name: str) -> bool:
    """Whether PyAV's FFmpeg has the encoder ``name`` (``libx265``, ``libsvtav1`` ...)."""
    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


def gray_frame(width: int, height: int, level: int) -> av.VideoFrame:
    """A flat gray ``yuv420p`` picture of luma ``level``."""
    array = np.full((height, width), level, dtype=np.uint8)
    return av.VideoFrame.from_ndarray(array, format="gray").reformat(format="yuv420p")


def noisy_smooth_rgb(
    width: int, height: int, phase: float, rng: np.random.Generator, spread: int = 12
) -> np.ndarray:
    """:func:`smooth_rgb` plus seeded noise in ``[-spread, spread]``, so that every frame
    differs from its neighbours in detail."""
    rgb = smooth_rgb(width, height, phase)
    return np.clip(rgb + rng.integers(-spread, spread + 1, rgb.shape), 0, 255).astype(np.uint8)


def noise_rgb(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Uniform RGB noise, ``(H, W, 3)`` uint8: the hardest texture for an encoder."""
    return rng.integers(0, 255, (height, width, 3), dtype=np.uint8)


def encode_video(
    dst: Destination,
    frames: Iterable[np.ndarray | av.VideoFrame],
    *,
    width: int,
    height: int,
    frame_rate: int = VIDEO_FRAME_RATE,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: Mapping[str, str] | None = None,
    gop_size: int | None = None,
    container_format: str | None = None,
    colorspace: int | None = None,
    color_range: int | None = None,
    audio: np.ndarray | None = None,
    audio_rate: int = 16000,
    time_base: Fraction | None = None,
    pts: Sequence[int] | None = None,
    bit_rate: int | None = None,
    codec_attributes: Mapping[str, object] | None = None,
    rotation: float | None = None,
    hflip: bool = False,
    vflip: bool = False,
    skip_packets: int = 0,
) -> None:
    """Encodes ``frames`` (``(H, W, 3)`` uint8 RGB arrays or ready ``VideoFrame`` objects) as
    one video stream of ``codec`` (``libx264``, ``libx265``, ``mpeg4``, ``vp9`` ...).

    Args:
        dst: Where to write; a file object needs ``container_format``.
        frames: The pictures, in presentation order (PyAV numbers them 0, 1, ...).
        width: Coded width.
        height: Coded height.
        frame_rate: Frames per second.
        codec: FFmpeg encoder name.
        pix_fmt: The encoder's pixel format.
        options: Encoder options (``{"g": "15", "bf": "2", "crf": "18"}``,
            ``{"preset": "ultrafast"}``, ``x264-params`` ...).
        gop_size: The codec context's ``gop_size``, when set.
        container_format: FFmpeg muxer name; guessed from the path when ``None``.
        colorspace: An AVColorSpace value to tag the stream with.
        color_range: An AVColorRange value to tag the stream with.
        audio: Planar float samples ``(channels, samples)`` of an AAC track (mono or
            stereo) muxed after the video, or ``None`` for a silent clip.
        audio_rate: The audio track's sample rate.
        time_base: The codec's time base, when not ``1 / frame_rate``.
        pts: Each frame's timestamp in ``time_base`` (a variable frame rate), instead of
            PyAV's numbering 0, 1, ...; needs ``time_base``.
        bit_rate: The encoder's bit rate, when set.
        codec_attributes: Further codec context attributes (``max_b_frames``,
            ``color_primaries`` ...), set by name.
        rotation: A display matrix for the track header (MP4): the counter-clockwise
            turn in degrees, with ``hflip`` / ``vflip``; ``None`` writes none.
        hflip: Mirror left-right in the display matrix (with ``rotation``).
        vflip: Mirror upside down in the display matrix (with ``rotation``).
        skip_packets: How many of the first encoded packets are dropped instead of
            muxed (``1`` leaves a stream without its first key frame).
    """
    if pts is not None and time_base is None:
        raise ValueError("pts needs time_base")
    with _open_output(dst, container_format) as container:
        stream = container.add_stream(codec, rate=frame_rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if colorspace is not None:
            stream.codec_context.colorspace = colorspace
        if color_range is not None:
            stream.codec_context.color_range = color_range
        if gop_size is not None:
            stream.codec_context.gop_size = gop_size
        if options:
            stream.options = dict(options)
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        if time_base is not None:
            stream.codec_context.time_base = time_base
        for name, value in (codec_attributes or {}).items():
            setattr(stream.codec_context, name, value)
        if rotation is not None:
            stream.set_display_rotation(rotation, hflip=hflip, vflip=vflip)
        audio_stream = None
        if audio is not None:
            layout = _LAYOUTS[audio.shape[0]]
            audio_stream = container.add_stream("aac", rate=audio_rate, layout=layout)
        to_skip = skip_packets
        for index, frame in enumerate(itertools.chain(frames, [None])):
            if isinstance(frame, np.ndarray):
                frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            if frame is not None and pts is not None:
                frame.pts, frame.time_base = pts[index], time_base
            packets = stream.encode(frame)
            skipped = min(to_skip, len(packets))
            to_skip -= skipped
            container.mux(packets[skipped:])
        if audio_stream is not None:
            _encode_audio_frames(container, audio_stream, audio, "fltp", layout, audio_rate, 1024)


_LAYOUTS = {1: "mono", 2: "stereo"}


def _encode_audio_frames(
    container: av.container.OutputContainer,
    stream: av.AudioStream,
    samples: np.ndarray,
    sample_fmt: str,
    layout: str,
    rate: int,
    chunk: int,
) -> None:
    planar = sample_fmt.endswith("p")
    # Packed formats take one row of interleaved samples.
    data = samples if planar else samples.T.reshape(1, -1)
    step = chunk if planar else chunk * samples.shape[0]
    for offset in range(0, data.shape[1], step):
        part = np.ascontiguousarray(data[:, offset : offset + step])
        frame = av.AudioFrame.from_ndarray(part, format=sample_fmt, layout=layout)
        frame.sample_rate = rate
        frame.pts = offset if planar else offset // samples.shape[0]
        frame.time_base = Fraction(1, rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def encode_audio(
    dst: Destination,
    samples: np.ndarray,
    *,
    rate: int,
    codec: str = "aac",
    sample_fmt: str = "fltp",
    layout: str | None = None,
    container_format: str | None = None,
    bit_rate: int | None = None,
    chunk: int = 1024,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> None:
    """Encodes ``samples`` ``(channels, samples)`` as one audio stream of ``codec``
    (``aac``, ``pcm_s16le``, ``mp3``, ``flac``, ``libopus`` ...).

    Args:
        dst: Where to write; a file object needs ``container_format``.
        samples: One row per channel, in the dtype of ``sample_fmt``; packed formats
            are interleaved here.
        rate: Sample rate in Hz.
        codec: FFmpeg encoder name.
        sample_fmt: The sample format ``samples`` holds (``fltp``, ``s16`` ...).
        layout: Channel layout; ``mono`` or ``stereo`` from the channel count when ``None``.
        container_format: FFmpeg muxer name; guessed from the path when ``None``
            (``.m4a`` guesses ``ipod``, ``.wav`` ``wav``).
        bit_rate: The encoder's bit rate, when set.
        chunk: Samples per channel in each frame handed to the encoder.
        options: Encoder options (``{"frame_size": "8192"}`` ...).
        container_options: Muxer options (``{"write_xing": "0"}`` ...).
    """
    layout = layout or _LAYOUTS[samples.shape[0]]
    with _open_output(dst, container_format, container_options) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout, options=options)
        if bit_rate is not None:
            stream.bit_rate = bit_rate
        _encode_audio_frames(container, stream, samples, sample_fmt, layout, rate, chunk)


def write_noisy_clip(
    path: pathlib.Path,
    *,
    width: int,
    height: int,
    num_frames: int,
    frame_rate: int,
    seed: int,
    options: Mapping[str, str],
    codec: str = "libx264",
    container_format: str | None = None,
    time_base: Fraction | None = None,
    pts: Sequence[int] | None = None,
) -> pathlib.Path:
    """Encodes ``num_frames`` frames of :func:`noisy_smooth_rgb` (phase ``index /
    frame_rate``, noise seeded with ``seed``): every frame differs from its neighbours
    in detail, so that a wrong frame cannot pass for the right one. The other arguments
    are :func:`encode_video`'s."""
    rng = np.random.default_rng(seed)
    encode_video(
        path,
        (noisy_smooth_rgb(width, height, i / frame_rate, rng) for i in range(num_frames)),
        width=width,
        height=height,
        frame_rate=frame_rate,
        codec=codec,
        options=options,
        container_format=container_format,
        time_base=time_base,
        pts=pts,
    )
    return path


def write_tone_wav(
    path: pathlib.Path, *, rate: int, num_samples: int, frequency: float = 220
) -> None:
    """A stereo pcm_s16le WAV: the same ``frequency`` sine (amplitude 8000) in both channels."""
    t = np.arange(num_samples) / rate
    wave = (8000 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
    encode_audio(
        path,
        np.stack([wave, wave]),
        rate=rate,
        codec="pcm_s16le",
        sample_fmt="s16",
        container_format="wav",
        chunk=num_samples,
    )


def sine_tone(rate: int, num_samples: int, frequency: float, amplitude: float = 0.3) -> np.ndarray:
    """``amplitude * sin(2 pi f t)`` as float32, one channel of ``num_samples``."""
    t = np.arange(num_samples) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def image_bytes(pixels: np.ndarray | Image.Image, pil_format: str, **options: object) -> bytes:
    """Encodes an RGB picture with Pillow (``JPEG``, ``PNG``, ``WEBP``, ``BMP``, ``GIF``,
    ``TIFF`` ...); ``options`` are Pillow's save options (``quality=90`` ...)."""
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.save(buffer, format=pil_format, **options)
    return buffer.getvalue()


def ffmpeg_image_bytes(
    codec: str, rgb: np.ndarray, pix_fmt: str | None = None, input_format: str = "rgb24"
) -> bytes:
    """Encodes one RGB picture with FFmpeg's own still-image encoder, in ``pix_fmt``
    (by default ``yuvj420p`` for ``mjpeg``, ``rgb24`` for any other codec; ``wbmp``
    takes ``monob``); ``input_format`` is the pixel format ``rgb`` holds (``rgb48le``,
    ``gray16le`` ...)."""
    ctx = av.CodecContext.create(codec, "w")
    ctx.height, ctx.width = rgb.shape[:2]
    ctx.pix_fmt = pix_fmt or ("yuvj420p" if codec == "mjpeg" else "rgb24")
    ctx.time_base = Fraction(1, 25)
    frame = av.VideoFrame.from_ndarray(rgb, format=input_format).reformat(format=ctx.pix_fmt)
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def garble(data: bytes, seed: int) -> bytes:
    """``data`` with seeded noise over its second fifth to its half (the container's
    header survives, the payload after it does not)."""
    start, end = len(data) // 5, len(data) // 2
    noise = np.random.default_rng(seed).bytes(end - start)
    return data[:start] + noise + data[end:]


def write_h264_video(path: pathlib.Path) -> VideoReference:
    """3 s, 30 fps, 96x64 H.264 yuv420p with B-frames and a key frame every 15 frames."""
    encode_video(
        path,
        (
            smooth_rgb(VIDEO_WIDTH, VIDEO_HEIGHT, index / VIDEO_FRAME_RATE)
            for index in range(VIDEO_NUM_FRAMES)
        ),
        width=VIDEO_WIDTH,
        height=VIDEO_HEIGHT,
        options={"g": str(VIDEO_GOP_SIZE), "bf": str(VIDEO_MAX_B_FRAMES), "crf": "18"},
    )

    times, rgb24, yuv420p = [], [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            times.append(frame.time)
            rgb24.append(frame.to_ndarray(format="rgb24"))
            yuv420p.append(frame.to_ndarray(format="yuv420p"))
    assert len(times) == VIDEO_NUM_FRAMES
    return VideoReference(
        path=path,
        width=VIDEO_WIDTH,
        height=VIDEO_HEIGHT,
        frame_rate=VIDEO_FRAME_RATE,
        times=tuple(times),
        rgb24=np.stack(rgb24),
        yuv420p=np.stack(yuv420p),
    )


def write_h264_yuv422p_video(path: pathlib.Path, colorspace: int, full_range: bool) -> None:
    """Three 70x48 frames of noise, H.264 4:2:2, tagged with ``colorspace`` (an
    AVColorSpace value) and full or limited range. 70 is not a multiple of 16, so
    that the last pixels of a row take the converters' scalar code."""
    rng = np.random.default_rng(7)
    range_value = 2 if full_range else 1  # AVCOL_RANGE_JPEG / AVCOL_RANGE_MPEG

    def frames() -> Iterable[av.VideoFrame]:
        for _ in range(3):
            rgb = rng.integers(0, 256, (48, 70, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv422p")
            frame.colorspace, frame.color_range = colorspace, range_value
            yield frame

    encode_video(
        path,
        frames(),
        width=70,
        height=48,
        pix_fmt="yuv422p",
        colorspace=colorspace,
        color_range=range_value,
    )


def remux_video_to_mpegts(source_path: pathlib.Path, path: pathlib.Path) -> None:
    """Copy the video stream of ``source_path`` into MPEG-TS, which survives truncation."""
    remux_video(source_path, path, "mpegts")


def remux_video(source_path: pathlib.Path, path: pathlib.Path, container_format: str) -> None:
    """Copy the video stream of ``source_path`` into a ``container_format`` file, packet
    for packet (no re-encoding)."""
    with av.open(str(source_path)) as source, av.open(str(path), "w", container_format) as target:
        in_stream = source.streams.video[0]
        out_stream = target.add_stream_from_template(in_stream)
        for packet in source.demux(in_stream):
            if packet.dts is None:  # the demuxer's end-of-stream marker
                continue
            packet.stream = out_stream
            target.mux(packet)


def _pyav_decode_audio(path: pathlib.Path) -> np.ndarray:
    with av.open(str(path)) as container:
        chunks = [frame.to_ndarray() for frame in container.decode(audio=0)]
    return np.concatenate(chunks, axis=1)


def _encode_audio(
    path: pathlib.Path, codec: str, sample_fmt: str, layout: str, rate: int, source: np.ndarray
) -> None:
    encode_audio(path, source, rate=rate, codec=codec, sample_fmt=sample_fmt, layout=layout)


def write_aac_audio(path: pathlib.Path) -> AudioReference:
    """2 s of AAC stereo at 44.1 kHz in M4A: a 440 Hz sine left, a 660 Hz sine right."""
    t = np.arange(AAC_SAMPLE_RATE * AAC_DURATION_S) / AAC_SAMPLE_RATE
    source = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)])
    source = source.astype(np.float32)
    _encode_audio(path, "aac", "fltp", "stereo", AAC_SAMPLE_RATE, source)
    return AudioReference(
        path=path,
        sample_rate=AAC_SAMPLE_RATE,
        num_channels=2,
        codec_name="aac",
        native_sample_fmt="fltp",
        source=source,
        decoded=_pyav_decode_audio(path),
    )


def write_wav_audio(path: pathlib.Path) -> AudioReference:
    """1 s of mono pcm_s16le WAV at 16 kHz: a 300 Hz sine plus seeded noise."""
    rng = np.random.default_rng(0)
    t = np.arange(WAV_NUM_SAMPLES) / WAV_SAMPLE_RATE
    pcm = 8000 * np.sin(2 * np.pi * 300 * t) + rng.integers(-2000, 2000, WAV_NUM_SAMPLES)
    source = pcm.astype(np.int16)[None, :]
    _encode_audio(path, "pcm_s16le", "s16", "mono", WAV_SAMPLE_RATE, source)
    decoded = _pyav_decode_audio(path)
    assert np.array_equal(decoded, source)  # PCM round-trips exactly
    return AudioReference(
        path=path,
        sample_rate=WAV_SAMPLE_RATE,
        num_channels=1,
        codec_name="pcm_s16le",
        native_sample_fmt="s16",
        source=source,
        decoded=decoded,
    )


def write_multichannel_wav(path: pathlib.Path, layout: str = "5.1.4") -> AudioReference:
    """0.375 s of pcm_s16le WAV at 8 kHz in ``layout`` (5.1.4: ten channels, a layout
    that PyAV's FFmpeg names and FFmpeg 5.1 does not); each channel its own ramp."""
    num_channels = av.AudioLayout(layout).nb_channels
    num_samples = 3000
    index = np.arange(num_channels * num_samples, dtype=np.int64)
    interleaved = (index * 7919 % 65536 - 32768).astype(np.int16)
    source = interleaved.reshape(num_samples, num_channels).T
    encode_audio(
        path,
        source,
        rate=8000,
        codec="pcm_s16le",
        sample_fmt="s16",
        layout=layout,
        container_format="wav",
        chunk=num_samples,
    )
    decoded = _pyav_decode_audio(path).reshape(num_samples, num_channels).T
    assert np.array_equal(decoded, source)  # PCM round-trips exactly
    return AudioReference(
        path=path,
        sample_rate=8000,
        num_channels=num_channels,
        codec_name="pcm_s16le",
        native_sample_fmt="s16",
        source=source,
        decoded=decoded,
    )


# kind -> (width, height, Pillow format, save options, FFmpeg codec, native pix_fmt, lossless)
_IMAGE_SPECS = {
    "jpeg": (64, 48, "JPEG", {"quality": 95}, "mjpeg", "yuvj420p", False),
    "png": (80, 60, "PNG", {}, "png", "rgb24", True),
    "webp": (72, 40, "WEBP", {"quality": 95}, "webp", "yuv420p", False),
    "bmp": (56, 32, "BMP", {}, "bmp", "bgr24", True),
}

IMAGE_KINDS = tuple(_IMAGE_SPECS)


def write_images(directory: pathlib.Path) -> dict[str, ImageReference]:
    """One JPEG, PNG, WebP and BMP image, each of a distinct size."""
    images = {}
    for phase, (kind, spec) in enumerate(_IMAGE_SPECS.items()):
        width, height, pil_format, save_options, codec_name, native_pix_fmt, lossless = spec
        source_rgb = smooth_rgb(width, height, phase / 2)
        path = directory / f"pattern.{kind}"  # no size in the name: messages must state it
        path.write_bytes(image_bytes(source_rgb, pil_format, **save_options))
        images[kind] = ImageReference(
            kind=kind,
            path=path,
            width=width,
            height=height,
            codec_name=codec_name,
            native_pix_fmt=native_pix_fmt,
            lossless=lossless,
            source_rgb=source_rgb,
        )
    return images
