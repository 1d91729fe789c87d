"""Still 4:2:0 / 4:2:2 images that FFmpeg decodes convert to RGB with libjpeg's "fancy
upsampling" (a triangle filter over chroma sited between luma samples) and libjpeg's
matrix: the bytes libjpeg-turbo makes of the same planes, which is what Pillow shows.

This is the FFmpeg path of every JPEG in a build without libjpeg-turbo (``nox -s
fallback`` runs this file there) and of ``decoder="mjpeg"``; it replaced swscale's
interpolating conversion, which cost more than the decode itself.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from media import image_bytes
from PIL import Image, ImageOps

import spdl.io

# Pillow's `subsampling` for JPEG: 2 is 4:2:0, 1 is 4:2:2.
SUBSAMPLING = {"420": 2, "422": 1}


def _jpeg(width: int, height: int, subsampling: str, seed: int = 0) -> bytes:
    """Noise over a colour gradient: every chroma sample differs from its neighbours."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 160, height)[:, None, None]
    cols = np.linspace(0, 160, width)[None, :, None]
    pixels = (
        rows * [1.0, 0.2, 0.6] + cols * [0.1, 0.9, 0.4] + rng.integers(0, 96, (height, width, 3))
    )
    return image_bytes(
        pixels.clip(0, 255).astype(np.uint8),
        "JPEG",
        quality=92,
        subsampling=SUBSAMPLING[subsampling],
    )


def _fancy_upsample(plane: np.ndarray, height: int, width: int, vertical: bool) -> np.ndarray:
    """libjpeg's h2v2 (``vertical``) or h2v1 fancy upsampling of a chroma plane (jdsample.c;
    a plane at most 2 samples wide is repeated instead, as libjpeg does)."""
    plane = plane.astype(np.int32)
    if plane.shape[1] <= 2:
        rows = np.arange(height) // 2 if vertical else np.arange(height)
        return np.repeat(plane[rows], 2, axis=1)[:, :width]
    if vertical:
        rows = np.arange(height)
        near = rows // 2
        far = np.clip(np.where(rows % 2, near + 1, near - 1), 0, plane.shape[0] - 1)
        sums = 3 * plane[near] + plane[far]  # column sums, 4x the sample
        even_bias, odd_bias = 8, 7
    else:
        sums = 4 * plane
        even_bias, odd_bias = 4, 8  # h2v1's 1 and 2, over 4
    left = np.concatenate([sums[:, :1], sums[:, :-1]], axis=1)
    right = np.concatenate([sums[:, 1:], sums[:, -1:]], axis=1)
    out = np.empty((height, 2 * sums.shape[1]), np.int32)
    out[:, 0::2] = (3 * sums + left + even_bias) >> 4
    out[:, 1::2] = (3 * sums + right + odd_bias) >> 4
    return out[:, :width]


def _libjpeg_rgb(luma: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """libjpeg's full-range BT.601 conversion (jdcolor.c): 16-bit fixed point, rounded."""
    y = luma.astype(np.int32)
    u, v = cb - 128, cr - 128
    red = y + ((91881 * v + 32768) >> 16)  # FIX(1.40200)
    green = y + ((-22554 * u - 46802 * v + 32768) >> 16)  # FIX(0.34414), FIX(0.71414)
    blue = y + ((116130 * u + 32768) >> 16)  # FIX(1.77200)
    return np.stack([red, green, blue], axis=-1).clip(0, 255).astype(np.uint8)


@pytest.mark.parametrize("subsampling", ["420", "422"])
@pytest.mark.parametrize(("width", "height"), [(64, 48), (4, 6), (2, 2)])
def test_ffmpeg_jpeg_converts_its_planes_exactly_as_libjpeg_does(
    subsampling: str, width: int, height: int
) -> None:
    data = _jpeg(width, height, subsampling)
    # The same decoder's planes, stacked: Y, then Cb and Cr.
    planes = spdl.io.to_numpy(spdl.io.load_image(data, decoder="mjpeg", pix_fmt=None))[0]
    vertical = subsampling == "420"
    chroma_height = height // 2 if vertical else height
    luma = planes[:height]
    cb = planes[height:].reshape(-1)[: chroma_height * width // 2].reshape(chroma_height, -1)
    cr = planes[height:].reshape(-1)[chroma_height * width // 2 :].reshape(chroma_height, -1)
    expected = _libjpeg_rgb(
        luma,
        _fancy_upsample(cb, height, width, vertical),
        _fancy_upsample(cr, height, width, vertical),
    )
    rgb = spdl.io.to_numpy(spdl.io.load_image(data, decoder="mjpeg"))
    np.testing.assert_array_equal(rgb, expected)
    bgr = spdl.io.to_numpy(spdl.io.load_image(data, decoder="mjpeg", pix_fmt="bgr24"))
    np.testing.assert_array_equal(bgr, expected[..., ::-1])
    opaque = np.full((height, width, 1), 255, np.uint8)
    for pix_fmt, channels in [("rgba", (0, 1, 2)), ("bgra", (2, 1, 0))]:
        packed = spdl.io.to_numpy(spdl.io.load_image(data, decoder="mjpeg", pix_fmt=pix_fmt))
        np.testing.assert_array_equal(packed, np.concatenate([expected[..., channels], opaque], -1))
    argb = spdl.io.to_numpy(spdl.io.load_image(data, decoder="mjpeg", pix_fmt="argb"))
    np.testing.assert_array_equal(argb, np.concatenate([opaque, expected], -1))


@pytest.mark.parametrize("subsampling", ["420", "422"])
@pytest.mark.parametrize(("width", "height"), [(65, 47), (5, 3), (3, 5), (1, 1), (500, 375)])
def test_ffmpeg_jpeg_equals_pillows_decode_up_to_the_idct(
    subsampling: str, width: int, height: int
) -> None:
    # Pillow's libjpeg-turbo upsamples and converts alike; only the IDCTs differ
    # (FFmpeg's against libjpeg's islow), by a level here and there.
    data = _jpeg(width, height, subsampling, seed=width)
    rgb = spdl.io.to_numpy(spdl.io.load_image(data, decoder="mjpeg")).astype(int)
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    assert rgb.shape == expected.shape == (height, width, 3)
    assert np.abs(rgb - expected).mean() <= 0.25
    assert np.abs(rgb - expected).max() <= 6


def test_ffmpeg_webp_is_upsampled_like_libwebp() -> None:
    # FFmpeg's WebP frames are limited-range 4:2:0; libwebp (Pillow) upsamples its
    # chroma with the same triangle filter.
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 255, (40, 72, 3), dtype=np.uint8)
    data = image_bytes(pixels, "WEBP", quality=90)
    rgb = spdl.io.to_numpy(spdl.io.load_image(data, decoder="webp")).astype(int)
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    assert np.abs(rgb - expected).mean() <= 1.0


def test_resized_ffmpeg_jpeg_is_converted_before_it_is_resized() -> None:
    # The resize runs in RGB on the converted image: the same as converting with
    # decoder="mjpeg" at full size, then asking for the size.
    data = _jpeg(96, 64, "420")
    whole = spdl.io.to_numpy(spdl.io.load_image(data, decoder="mjpeg"))
    resized = spdl.io.to_numpy(spdl.io.load_image(data, decoder="mjpeg", width=48, height=32))
    expected = np.asarray(Image.fromarray(whole).resize((48, 32), Image.HAMMING)).astype(int)
    assert np.abs(resized.astype(int) - expected).mean() <= 1.0


@pytest.mark.parametrize("orientation", range(2, 9))
def test_odd_sized_ffmpeg_jpeg_turns_upright_without_moving_its_chroma(orientation: int) -> None:
    # A mirrored 4:2:0 plane of odd length would put chroma a luma sample off: such
    # frames turn as RGB, as Pillow turns them.
    image = Image.open(io.BytesIO(_jpeg(67, 45, "420", seed=orientation)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = image_bytes(image, "JPEG", quality=92, subsampling=2, exif=exif)
    rgb = spdl.io.load_image(data, decoder="mjpeg", apply_exif_orientation=True)
    with Image.open(io.BytesIO(data)) as pillow:
        expected = np.asarray(ImageOps.exif_transpose(pillow).convert("RGB")).astype(int)
    actual = spdl.io.to_numpy(rgb).astype(int)
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).mean() <= 0.25
