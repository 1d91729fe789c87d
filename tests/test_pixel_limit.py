"""The pixel limit against decompression bombs.

A few hundred bytes whose header declares 16000x16000 pixels must fail before any
decoder allocates the picture (~770 MB of RGB), on every path: libjpeg-turbo,
libwebp, FFmpeg (PNG, BMP, GIF; JPEG with ``decoder="mjpeg"``), the native batch
loader (whole and cropped), the Future forms, video decoders and NVDEC's checks.
The bombs are made here from small images whose header is patched. The limit
defaults to Pillow's (178,956,970 pixels), can be raised at run time
(``spdl.io.set_max_image_pixels``) or by ``SPDL_MAX_IMAGE_PIXELS``, and
``None`` / ``0`` turn it off.
"""

from __future__ import annotations

import json
import os
import pathlib
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from media import VideoReference, image_bytes

import spdl.io
from spdl.io._core import pixel_limit as _pixel_limit

BOMB_SIDE = 16000  # 256 million pixels: more than the default limit
DEFAULT_LIMIT = 178_956_970
SMALL_W, SMALL_H = 64, 48


@pytest.fixture(autouse=True)
def _keep_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test's set_max_image_pixels is undone after it; the environment's is ignored."""
    monkeypatch.delenv(_pixel_limit.MAX_IMAGE_PIXELS_ENV, raising=False)
    monkeypatch.setattr(_pixel_limit, "_limit", _pixel_limit._UNSET)
    yield


def _picture(width: int = SMALL_W, height: int = SMALL_H) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4 % 256, y * 5 % 256, (x + y) % 256], -1).astype(np.uint8)


def jpeg_bomb(side: int = BOMB_SIDE) -> bytes:
    """A real 8x8 JPEG whose frame header (SOF) declares ``side`` x ``side``."""
    data = bytearray(image_bytes(_picture(8, 8), "JPEG"))
    pos = 2
    while data[pos + 1] not in (0xC0, 0xC1, 0xC2):
        pos += 2 + struct.unpack_from(">H", data, pos + 2)[0]
    struct.pack_into(">HH", data, pos + 5, side, side)  # after length and precision
    return bytes(data)


def png_bomb(side: int = BOMB_SIDE) -> bytes:
    """A real 8x8 PNG whose IHDR declares ``side`` x ``side``, with a valid CRC."""
    data = bytearray(image_bytes(_picture(8, 8), "PNG"))
    struct.pack_into(">II", data, 16, side, side)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def webp_lossless_bomb(side: int = BOMB_SIDE) -> bytes:
    """A lossless WebP whose VP8L header declares ``side`` x ``side`` (14 bits each)."""
    data = bytearray(image_bytes(_picture(8, 8), "WEBP", lossless=True))
    assert data[12:16] == b"VP8L" and data[20] == 0x2F
    bits = struct.unpack_from("<I", data, 21)[0] & ~((1 << 28) - 1)
    struct.pack_into("<I", data, 21, bits | (side - 1) | (side - 1) << 14)
    return bytes(data)


def webp_lossy_bomb(side: int = BOMB_SIDE) -> bytes:
    """A lossy WebP whose VP8 frame header declares ``side`` x ``side``."""
    data = bytearray(image_bytes(_picture(8, 8), "WEBP", quality=80))
    assert data[12:16] == b"VP8 " and data[23:26] == b"\x9d\x01\x2a"
    struct.pack_into("<HH", data, 26, side, side)
    return bytes(data)


def webp_animated_bomb(side: int = BOMB_SIDE) -> bytes:
    """An animated WebP whose canvas (VP8X) is ``side`` x ``side``."""
    from PIL import Image

    frames = [Image.fromarray(_picture(8, 8)), Image.fromarray(255 - _picture(8, 8))]
    data = bytearray(image_bytes(frames[0], "WEBP", save_all=True, append_images=frames[1:]))
    assert data[12:16] == b"VP8X"
    data[24:30] = (side - 1).to_bytes(3, "little") * 2
    return bytes(data)


def bmp_bomb(side: int = BOMB_SIDE) -> bytes:
    data = bytearray(image_bytes(_picture(8, 8), "BMP"))
    struct.pack_into("<ii", data, 18, side, -side)  # a negative height: top-down rows
    return bytes(data)


def gif_bomb(side: int = BOMB_SIDE) -> bytes:
    data = bytearray(image_bytes(_picture(8, 8), "GIF"))
    struct.pack_into("<HH", data, 6, side, side)  # the logical screen
    return bytes(data)


BOMBS: dict[str, Callable[[], bytes]] = {
    "jpeg": jpeg_bomb,
    "png": png_bomb,
    "webp_lossless": webp_lossless_bomb,
    "webp_lossy": webp_lossy_bomb,
    "webp_animated": webp_animated_bomb,
    "bmp": bmp_bomb,
    "gif": gif_bomb,
}
SUFFIXES = {"jpeg": ".jpg", "png": ".png", "bmp": ".bmp", "gif": ".gif"}


def _write_bomb(tmp_path: pathlib.Path, kind: str) -> pathlib.Path:
    path = tmp_path / f"bomb_{kind}{SUFFIXES.get(kind, '.webp')}"
    path.write_bytes(BOMBS[kind]())
    return path


def _assert_names_the_limit(error: BaseException, src: str, size: str, limit: str) -> None:
    message = str(error)
    assert src in message, message
    assert size in message, message
    assert f"limit of {limit} pixels" in message, message
    assert "spdl.io.set_max_image_pixels" in message and "SPDL_MAX_IMAGE_PIXELS" in message


@pytest.mark.parametrize("kind", list(BOMBS))
def test_bomb_fails_with_media_error_naming_size_and_limit_on_every_loader(
    kind: str, tmp_path: pathlib.Path
) -> None:
    path = _write_bomb(tmp_path, kind)
    bomb = path.read_bytes()
    assert len(bomb) < 4096
    size = f"{BOMB_SIDE}x{BOMB_SIDE}"
    with pytest.raises(spdl.io.MediaError) as info:
        spdl.io.load_image(path)
    _assert_names_the_limit(info.value, path.name, size, "178,956,970")
    with pytest.raises(spdl.io.MediaError) as info:
        spdl.io.load_image(bomb)
    _assert_names_the_limit(info.value, f"<bytes of {len(bomb)} bytes>", size, "178,956,970")

    # load_media and the Future / asyncio forms wrap it in AsyncIOFailure, its cause
    # the MediaError.
    with pytest.raises(spdl.io.AsyncIOFailure, match=f"declares {size}"):
        spdl.io.load_media("image", path)
    packets = spdl.io.demux_media("image", path).result()
    with pytest.raises(spdl.io.AsyncIOFailure) as failure:
        spdl.io.decode_packets(packets).result()
    assert failure.value.phase == "decode"
    assert isinstance(failure.value.__cause__, spdl.io.MediaError)
    _assert_names_the_limit(failure.value.__cause__, path.name, size, "178,956,970")

    # A normal image still loads under the default limit.
    normal = image_bytes(_picture(), "PNG")
    assert spdl.io.to_numpy(spdl.io.load_image(normal)).shape == (SMALL_H, SMALL_W, 3)


@pytest.mark.parametrize("kind", list(BOMBS))
def test_bomb_fails_only_its_own_image_in_a_native_batch(kind: str, tmp_path: pathlib.Path) -> None:
    path = _write_bomb(tmp_path, kind)
    good = tmp_path / "good.png"
    good.write_bytes(image_bytes(_picture(), "PNG"))
    for crop in (None, spdl.io.CenterCrop(16)):  # whole, and crop-aware (JPEG regions)
        batch = spdl.io.batch_load_image([good, path, good], 16, 16, crop=crop, strict=False)
        assert spdl.io.to_numpy(batch).shape == (2, 16, 16, 3)
        with pytest.raises(spdl.io.AsyncIOFailure) as failure:
            spdl.io.batch_load_image([good, path], 16, 16, crop=crop)
        assert f"declares {BOMB_SIDE}x{BOMB_SIDE}" in str(failure.value)
        assert "limit of 178,956,970 pixels" in str(failure.value)


@pytest.mark.parametrize("kind", ["png", "webp_lossless"])
def test_opening_a_bomb_does_not_decode_it(kind: str, tmp_path: pathlib.Path) -> None:
    """PyAV decodes a PNG or WebP on opening it, to probe the stream: under the limit
    too, so that it learns no size (the decode then fails, saying why)."""
    packets = spdl.io.demux_media("image", _write_bomb(tmp_path, kind)).result()
    assert (packets.width, packets.height) != (BOMB_SIDE, BOMB_SIDE)
    spdl.io.set_max_image_pixels(None)
    assert "max_pixels" not in _pixel_limit.pyav_options()


@pytest.mark.parametrize("decoder", ["mjpeg", "libjpeg-turbo"])
def test_jpeg_bomb_fails_with_either_decoder(decoder: str) -> None:
    if decoder == "libjpeg-turbo" and not spdl.io.build_info()["fast_paths"]["turbojpeg"]:
        pytest.skip("this build has no libjpeg-turbo")
    with pytest.raises(spdl.io.MediaError, match=f"declares {BOMB_SIDE}x{BOMB_SIDE}"):
        spdl.io.load_image(jpeg_bomb(), decoder=decoder)


def test_a_stray_byte_before_a_marker_does_not_hide_a_jpeg_bombs_size() -> None:
    # libjpeg and FFmpeg skip bytes before a marker; the header scan stopped there and
    # checked nothing, and a 524-byte file decoded 256 M pixels (1.95 GB).
    data = jpeg_bomb()
    app0_end = 4 + struct.unpack_from(">H", data, 4)[0]
    stray = data[:app0_end] + b"\x00\x00" + data[app0_end:]
    with pytest.raises(spdl.io.MediaError, match=f"declares {BOMB_SIDE}x{BOMB_SIDE}"):
        spdl.io.load_image(stray)
    batch = spdl.io.batch_load_image(
        [stray, image_bytes(_picture(8, 8), "JPEG")], 8, 8, strict=False
    )
    assert spdl.io.to_numpy(batch).shape == (1, 8, 8, 3)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's VmHWM")
def test_bombs_do_not_take_memory(tmp_path: pathlib.Path) -> None:
    """Peak memory of a process that loads every bomb every way stays far below one
    decoded bomb (256 million pixels: 768 MB in RGB)."""
    paths = [str(_write_bomb(tmp_path, kind)) for kind in BOMBS]
    # The peak resident size of this process's memory (VmHWM): getrusage's ru_maxrss
    # would start at the peak of the pytest process that forked it.
    script = """
import json, re, sys
import spdl.io
def peak_kb():
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+)", status.read()).group(1))
paths = json.loads(sys.argv[1])
before = peak_kb()
for path in paths:
    for load in (
        lambda: spdl.io.load_image(path),
        lambda: spdl.io.load_image(open(path, "rb").read()),
        lambda: spdl.io.load_image(path, decoder="mjpeg") if path.endswith(".jpg") else None,
        lambda: spdl.io.batch_load_image([path], 32, 32),
        lambda: spdl.io.batch_load_image([path], 32, 32, crop=spdl.io.CenterCrop(32)),
    ):
        try:
            load()
        except Exception:
            pass
print(json.dumps((peak_kb() - before) // 1024))
"""
    env = {k: v for k, v in os.environ.items() if k != _pixel_limit.MAX_IMAGE_PIXELS_ENV}
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(paths)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    grown_mb = json.loads(result.stdout.strip().splitlines()[-1])
    assert grown_mb < 200, f"peak memory grew by {grown_mb} MB"


def test_limit_can_be_raised_and_turned_off() -> None:
    pixels = SMALL_W * SMALL_H
    data = {fmt: image_bytes(_picture(), fmt) for fmt in ("JPEG", "PNG", "WEBP", "BMP", "GIF")}
    assert spdl.io.max_image_pixels() == DEFAULT_LIMIT
    spdl.io.set_max_image_pixels(pixels - 1)
    assert spdl.io.max_image_pixels() == pixels - 1
    for fmt, image in data.items():
        with pytest.raises(spdl.io.MediaError) as info:
            spdl.io.load_image(image)
        _assert_names_the_limit(info.value, "<bytes", f"{SMALL_W}x{SMALL_H}", f"{pixels - 1:,}")
        _, errors = _batch_errors([image])
        assert f"declares {SMALL_W}x{SMALL_H}" in str(errors[0]), fmt
    # Exactly the limit passes, on every decoder (FFmpeg's pads rows; not counted).
    spdl.io.set_max_image_pixels(pixels)
    for fmt, image in data.items():
        assert spdl.io.to_numpy(spdl.io.load_image(image)).shape == (SMALL_H, SMALL_W, 3), fmt
    batch = spdl.io.batch_load_image(list(data.values()), 32, 32)
    assert spdl.io.to_numpy(batch).shape == (len(data), 32, 32, 3)
    for off in (None, 0):
        spdl.io.set_max_image_pixels(off)
        assert spdl.io.max_image_pixels() is None
        for image in data.values():
            spdl.io.load_image(image)


@pytest.mark.parametrize("limit", [2**31, 2**62, 2**63 - 1], ids=["2**31", "2**62", "max"])
def test_a_very_large_limit_decodes_as_no_limit(limit: int, h264_video: VideoReference) -> None:
    # sys.maxsize says "no limit" as well as 0 does; FFmpeg's own max_pixels takes at
    # most INT_MAX, and twice the limit overflowed (every H.264 decoder failed to open).
    spdl.io.set_max_image_pixels(limit)
    for fmt in ("JPEG", "PNG"):
        image = image_bytes(_picture(), fmt)
        assert spdl.io.to_numpy(spdl.io.load_image(image)).shape == (SMALL_H, SMALL_W, 3)
    assert len(spdl.io.to_numpy(spdl.io.load_video(h264_video.path))) == len(h264_video.times)


def test_sides_whose_product_overflows_are_over_the_limit() -> None:
    # 0xC0000000 squared is past 2**63: the product wrapped and passed the check.
    with pytest.raises(spdl.io.MediaError, match=r"3221225472x3221225472 = more than 2\*\*63"):
        spdl.io.load_image(png_bomb(0xC0000000))


def _batch_errors(srcs: list[bytes]) -> tuple[object, list[BaseException | None]]:
    from spdl.io._core.decode import decode_image_batch

    return decode_image_batch(srcs, width=16, height=16)


def test_set_max_image_pixels_checks_its_argument() -> None:
    for bad in ("1000", 1.5, True):
        with pytest.raises(TypeError, match="limit"):
            spdl.io.set_max_image_pixels(bad)  # type: ignore[arg-type]
    for bad in (-1, 2**63):
        with pytest.raises(ValueError, match="limit"):
            spdl.io.set_max_image_pixels(bad)
    assert spdl.io.max_image_pixels() == DEFAULT_LIMIT
    spdl.io.set_max_image_pixels(np.int64(1000))  # NumPy integers, as every count
    assert spdl.io.max_image_pixels() == 1000 and type(spdl.io.max_image_pixels()) is int


def test_video_frames_are_limited_too(h264_video: VideoReference) -> None:
    path, width, height = h264_video.path, h264_video.width, h264_video.height
    spdl.io.set_max_image_pixels(width * height - 1)
    size = f"{width}x{height}"
    limit = f"{width * height - 1:,}"
    calls: list[Callable[[], object]] = [
        lambda: spdl.io.load_video(path),
        lambda: spdl.io.load_video(path, timestamp=(0.5, 1.0), width=32, height=32),
        lambda: spdl.io.load_video_frames(path, [0, 5]),
        lambda: spdl.io.clips_at_regular_indices(path, num_clips=2, num_frames_per_clip=2),
    ]
    for call in calls:
        with pytest.raises(spdl.io.MediaError) as info:
            call()
        _assert_names_the_limit(info.value, path.name, size, limit)
    packets = spdl.io.demux_media("video", path).result()
    with pytest.raises(spdl.io.AsyncIOFailure) as failure:
        spdl.io.decode_packets(packets).result()
    _assert_names_the_limit(failure.value.__cause__, path.name, size, limit)  # type: ignore[arg-type]

    spdl.io.set_max_image_pixels(width * height)
    assert spdl.io.to_numpy(spdl.io.load_video(path)).shape[1:] == (height, width, 3)


def test_nvdec_refuses_a_bomb_before_touching_the_gpu(
    h264_video: VideoReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spdl.io._core import nvdec as _nvdec

    # The check runs before PyNvVideoCodec is imported: none is needed here.
    monkeypatch.setattr(_nvdec, "check_dependencies", lambda: None)
    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", None)
    packets = spdl.io.demux_media("image", jpeg_bomb()).result()
    with pytest.raises(spdl.io.AsyncIOFailure) as failure:
        spdl.io.decode_packets_nvdec(packets, 0).result()
    assert f"declares {BOMB_SIDE}x{BOMB_SIDE}" in str(failure.value)
    assert "limit of 178,956,970 pixels" in str(failure.value)

    spdl.io.set_max_image_pixels(100)
    packets = spdl.io.demux_media("video", h264_video.path).result()
    with pytest.raises(spdl.io.AsyncIOFailure, match="limit of 100 pixels"):
        spdl.io.decode_packets_nvdec(packets, 0).result()


_ENV_SCRIPT = """
import sys
import spdl.io
print(spdl.io.max_image_pixels())
try:
    spdl.io.load_image(sys.argv[1])
    print("loaded")
except spdl.io.MediaError as error:
    print("failed:", error)
"""


@pytest.mark.parametrize(
    ("value", "limit", "loads"),
    [("3071", "3071", False), ("3072", "3072", True), ("0", "None", True), ("", "178956970", True)],
)
def test_environment_variable_sets_the_default(
    value: str, limit: str, loads: bool, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "small.png"
    path.write_bytes(image_bytes(_picture(), "PNG"))  # 64x48 = 3072 pixels
    env = {**os.environ, _pixel_limit.MAX_IMAGE_PIXELS_ENV: value}
    result = subprocess.run(
        [sys.executable, "-c", _ENV_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == limit
    assert lines[1] == "loaded" if loads else "declares 64x48" in lines[1], lines


def test_environment_variable_that_is_no_count_fails_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(_pixel_limit.MAX_IMAGE_PIXELS_ENV, "lots")
    with pytest.raises(ValueError, match="SPDL_MAX_IMAGE_PIXELS"):
        spdl.io.max_image_pixels()
    spdl.io.set_max_image_pixels(1000)  # an explicit limit takes precedence
    assert spdl.io.max_image_pixels() == 1000
