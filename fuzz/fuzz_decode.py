"""Coverage-guided fuzzing of demux → decode → convert over arbitrary bytes (atheris).

The first byte picks the path (image / audio / video loader, or the native image
batch); the rest is the input. Documented failures (MediaError, ValueError) are
fine; any other exception, a crash, a hang or a blow-up of memory is a finding.

Usage:
    python fuzz/fuzz_decode.py --make-seeds fuzz/corpus
    python fuzz/fuzz_decode.py fuzz/corpus -max_total_time=600 -timeout=30 -rss_limit_mb=4096
"""

from __future__ import annotations

import io
import pathlib
import sys

import atheris
import numpy as np

import spdl.io
from spdl.io._core.convert import convert
from spdl.io._core.decode import decode, decode_image_batch
from spdl.io._core.demux import demux

_PATHS = ("image", "audio", "video", "batch")
_EXPECTED = (spdl.io.MediaError, ValueError)


@atheris.instrument_func
def _outcome_feature(path: str, error: BaseException | None, shape: tuple[int, ...]) -> int:
    """Branches on how far an input got, so the fuzzer keeps inputs that parse further.

    FFmpeg itself is not instrumented; these branches are the coverage signal that
    tells a mutation which still opens / demuxes / decodes from one that fails early.
    """
    if error is None:
        if len(shape) == 4:
            return 10 if shape[0] > 1 else 11
        if len(shape) == 2:
            return 20 if shape[0] <= 2 else 21
        return 30 if shape[-1] == 3 else 31
    message = str(error)
    if isinstance(error, ValueError):
        return 40
    if "Failed to open" in message:
        return 50 if path == "image" else 51
    if "has no" in message:
        return 52
    if "Failed to demux" in message:
        return 53
    if "no frame" in message:
        return 54
    if "packet" in message:
        return 55
    if "filter" in message:
        return 56
    return 57


def _check_audio_chunks(payload: bytes, fused: np.ndarray) -> None:
    """decode_packets' chunks must hold what load_audio's fused decode gave."""
    try:
        chunked = spdl.io.to_numpy(convert(decode(demux("audio", payload))))
    except _EXPECTED as error:
        raise AssertionError(f"load_audio decoded it, decode_packets failed: {error}") from error
    assert np.array_equal(chunked, fused, equal_nan=fused.dtype.kind == "f")


@atheris.instrument_func
def test_one_input(data: bytes) -> None:
    """Runs one input through the path its first byte selects."""
    if not data:
        return
    path, payload = _PATHS[data[0] % len(_PATHS)], data[1:]
    error: BaseException | None = None
    shape: tuple[int, ...] = ()
    try:
        if path == "batch":
            buffer, errors = decode_image_batch([payload, payload], width=32, height=24)
            if buffer is not None:
                shape = spdl.io.to_numpy(buffer).shape
                assert shape[1:] == (24, 32, 3)
            error = errors[0]
        else:
            loader = getattr(spdl.io, f"load_{path}")
            array = spdl.io.to_numpy(loader(payload))
            shape = array.shape
            assert len(shape) == {"image": 3, "audio": 2, "video": 4}[path]
            if path == "audio":
                _check_audio_chunks(payload, array)
            if path == "video":  # the native shrinking passes, SIMD and scalar tails
                resized = spdl.io.to_numpy(spdl.io.load_video(payload, width=18, height=10))
                assert resized.shape[1:] == (10, 18, 3)
    except _EXPECTED as caught:
        error = caught
    _outcome_feature(path, error, shape)


def make_seeds(directory: pathlib.Path) -> None:
    """Writes small valid files of every codec family as the starting corpus, with the
    encoders of ``tests/media.py`` (the repository's one media generator)."""
    sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
    from media import encode_audio, encode_video, image_bytes

    directory.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:24, 0:32]
    image = np.stack([xx * 8, yy * 10, (xx + yy) * 4], -1).astype(np.uint8)
    for index, fmt in enumerate(("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")):
        selector = _PATHS.index("batch") if index % 2 else _PATHS.index("image")
        data = image_bytes(image, fmt)
        (directory / f"image.{fmt.lower()}").write_bytes(bytes([selector]) + data)
    for codec, fmt, ext in (
        ("libx264", "mp4", "mp4"),
        ("mpeg4", "avi", "avi"),
        ("vp9", "webm", "webm"),
    ):
        buffer = io.BytesIO()
        frames = (np.roll(image, i, axis=1) for i in range(6))
        encode_video(
            buffer, frames, width=32, height=24, frame_rate=10, codec=codec, container_format=fmt
        )
        (directory / f"video.{ext}").write_bytes(bytes([_PATHS.index("video")]) + buffer.getvalue())
    samples = (np.sin(np.arange(4800) / 7) * 8000).astype(np.int16)[None]
    for codec, fmt, ext in (
        ("aac", "mp4", "m4a"),
        ("pcm_s16le", "wav", "wav"),
        ("libopus", "ogg", "ogg"),
        ("flac", "flac", "flac"),
        ("mp3", "mp3", "mp3"),
    ):
        buffer = io.BytesIO()
        rate = 48000 if codec == "libopus" else 16000
        try:
            encode_audio(
                buffer,
                samples,
                rate=rate,
                codec=codec,
                sample_fmt="s16",
                container_format=fmt,
                chunk=960,
            )
        except Exception as error:  # an encoder missing from this PyAV build
            print(f"skipping {codec} seed: {error}")
            continue
        (directory / f"audio.{ext}").write_bytes(bytes([_PATHS.index("audio")]) + buffer.getvalue())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--make-seeds":
        make_seeds(pathlib.Path(sys.argv[2]))
        sys.exit(0)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
