"""Damaged inputs: every one gives a Python exception with a useful message or a
valid array, never a crash or a hang.

Each media type has a corpus of 30+ damaged files generated here. The cases of a
media type run in one child process (a crash there cannot take pytest down) under
a timeout; if the child dies, each case is re-run alone to name the culprit.
"""

from __future__ import annotations

import io
import json
import pathlib
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
from media import encode_audio, encode_video, image_bytes

CASE_TIMEOUT_S = 60
# Exceptions a damaged input may raise; anything else is a bug.
ALLOWED_ERRORS = {"MediaError", "FileNotFoundError", "ValueError"}

RUNNER = textwrap.dedent(
    """
    import json, sys
    import spdl.io
    loader = getattr(spdl.io, "load_" + sys.argv[1])
    for path in sys.argv[2:]:
        try:
            array = spdl.io.to_numpy(loader(path))
            result = {"ok": True, "shape": list(array.shape), "dtype": str(array.dtype)}
        except Exception as error:
            result = {"ok": False, "type": type(error).__name__, "message": str(error)}
        print(json.dumps({"path": path, **result}), flush=True)
    """
)


def _run(media_type: str, paths: list[pathlib.Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, media_type, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=CASE_TIMEOUT_S * len(paths),
    )


def _mutations(data: bytes, header_size: int) -> dict[str, bytes]:
    """Truncations and byte flips of one valid file."""
    cases: dict[str, bytes] = {}
    for fraction in (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
        cases[f"truncated_{fraction}"] = data[: int(len(data) * fraction)]
    rng = np.random.default_rng(0)
    for seed in range(6):
        header = bytearray(data)
        for index in rng.integers(0, min(header_size, len(data)), size=4):
            header[index] ^= int(rng.integers(1, 256))
        cases[f"header_flip_{seed}"] = bytes(header)
        payload = bytearray(data)
        start = min(header_size, len(data) - 1)
        for index in rng.integers(start, len(data), size=16):
            payload[index] ^= int(rng.integers(1, 256))
        cases[f"payload_flip_{seed}"] = bytes(payload)
        chunk = bytearray(data)
        begin = int(rng.integers(start, len(data)))
        chunk[begin : begin + 256] = bytes(len(chunk[begin : begin + 256]))
        cases[f"payload_zeroed_{seed}"] = bytes(chunk)
    cases["empty"] = b""
    for size in (1, 100, 10_000):
        cases[f"random_{size}"] = np.random.default_rng(size).bytes(size)
    return cases


def _encode_video(num_frames: int = 30, drop_first_keyframe: bool = False) -> bytes:
    buffer = io.BytesIO()
    encode_video(
        buffer,
        (np.full((48, 64, 3), (i * 8) % 256, np.uint8) for i in range(num_frames)),
        width=64,
        height=48,
        options={"g": "10"},
        container_format="mp4",
        skip_packets=1 if drop_first_keyframe else 0,
    )
    return buffer.getvalue()


def _encode_audio() -> bytes:
    buffer = io.BytesIO()
    samples = (np.sin(np.arange(16000) / 10) * 0.5).astype(np.float32)[None]
    encode_audio(buffer, samples, rate=16000, container_format="mp4")
    return buffer.getvalue()


def _wav(sample_rate: int, num_samples: int = 4000) -> bytes:
    data = (np.arange(num_samples) % 100).astype("<i2").tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return header + b"data" + struct.pack("<I", len(data)) + data


def _png(width: int, height: int) -> bytes:
    data = bytearray(image_bytes(np.full((24, 32, 3), 90, np.uint8), "PNG"))
    # Rewrite IHDR (at byte 16) with the declared size and a valid CRC.
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _jpeg_with_size(width: int, height: int) -> bytes:
    data = bytearray(image_bytes(np.full((24, 32, 3), 90, np.uint8), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _image_bytes(fmt: str) -> bytes:
    yy, xx = np.mgrid[0:48, 0:64]
    image = np.stack([xx * 4, yy * 5, (xx + yy) * 2], -1).astype(np.uint8)
    return image_bytes(image, fmt)


def _corpus(media_type: str) -> dict[str, bytes]:
    if media_type == "image":
        jpeg, png = _image_bytes("JPEG"), _image_bytes("PNG")
        cases = {f"jpeg_{k}": v for k, v in _mutations(jpeg, 160).items()}
        cases |= {f"png_{k}": v for k, v in _mutations(png, 40).items() if "random" not in k}
        cases["huge_png_dimensions"] = _png(1_000_000, 1_000_000)
        cases["zero_png_dimensions"] = _png(0, 0)
        cases["huge_jpeg_dimensions"] = _jpeg_with_size(65_000, 65_000)
        cases["audio_file_as_image"] = _encode_audio()
        cases["no_streams"] = b";FFMETADATA1\ntitle=nothing\n"
    elif media_type == "audio":
        aac = _encode_audio()
        cases = {f"aac_{k}": v for k, v in _mutations(aac, 64).items()}
        cases |= {f"wav_{k}": v for k, v in _mutations(_wav(16000), 44).items() if "trunc" in k}
        cases["wav_sample_rate_zero"] = _wav(0)
        cases["wav_sample_rate_huge"] = _wav(2_000_000_000)
        cases["image_file_as_audio"] = _image_bytes("PNG")
        cases["video_only_file_as_audio"] = _encode_video()
        cases["no_streams"] = b";FFMETADATA1\ntitle=nothing\n"
    else:
        video = _encode_video()
        cases = {f"h264_{k}": v for k, v in _mutations(video, 64).items()}
        cases["missing_first_keyframe"] = _encode_video(drop_first_keyframe=True)
        cases["audio_file_as_video"] = _encode_audio()
        cases["no_streams"] = b";FFMETADATA1\ntitle=nothing\n"
    return cases


def _check(media_type: str, name: str, result: dict[str, object]) -> None:
    if result["ok"]:
        ndim = {"image": 3, "audio": 2, "video": 4}[media_type]
        assert len(result["shape"]) == ndim, f"{name}: unexpected shape {result['shape']}"
        return
    assert result["type"] in ALLOWED_ERRORS, f"{name}: {result['type']}: {result['message']}"
    message = str(result["message"])
    assert name in message, f"{name}: the message does not name the source: {message}"
    assert len(message) > len(name) + 10, f"{name}: the message gives no cause: {message}"


@pytest.mark.parametrize("media_type", ["image", "audio", "video"])
def test_damaged_inputs_raise_clear_errors_or_decode(
    media_type: str, tmp_path: pathlib.Path
) -> None:
    corpus = _corpus(media_type)
    assert len(corpus) >= 30
    paths = []
    for name, data in corpus.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    completed = _run(media_type, paths)
    results = [json.loads(line) for line in completed.stdout.splitlines()]
    if completed.returncode != 0:
        crashed = [p for p in paths if _run(media_type, [p]).returncode != 0]
        pytest.fail(f"the loader crashed (rc={completed.returncode}) on {crashed}")
    assert len(results) == len(paths)
    for path, result in zip(paths, results, strict=True):
        _check(media_type, path.name, result)
    # The corpus must exercise the error paths, not just decode everything.
    assert sum(not r["ok"] for r in results) >= len(results) // 3
