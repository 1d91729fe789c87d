"""Resizing still images into rgb24: in RGB, with Pillow's HAMMING antialiasing filter.

A resize in RGB happens after the colour conversion has clipped every pixel to the
RGB gamut, so saturated edges stay clean; the filter is as wide as the bilinear one
(every input pixel contributes when downscaling) but sharper.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from media import image_bytes
from PIL import Image, ImageDraw

import spdl.io
from spdl import _native
from spdl.io._core.convert import convert
from spdl.io._core.decode import decode, decode_image_batch
from spdl.io._core.demux import demux

SIZES = [(150, 112), (101, 77), (500, 400), (1, 1)]
SIZE_IDS = ["downscale", "odd-size", "upscale", "one-pixel"]


def saturated_rgb(width: int, height: int, seed: int) -> np.ndarray:
    """Blobs of fully saturated colours on a blue ground, plus noise."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (width, height), (40, 90, 200))
    draw = ImageDraw.Draw(image)
    for _ in range(80):
        x, y, r = (int(v) for v in rng.integers((0, 0, 2), (width, height, 12)))
        colour = tuple(int(c) for c in rng.choice([0, 255], 3))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    noise = rng.normal(0.0, 6.0, size=(height, width, 3))
    return np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module", params=["JPEG", "PNG"])
def image_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("resize") / f"image.{request.param.lower()}"
    options = {"quality": 90} if request.param == "JPEG" else {}
    Image.fromarray(saturated_rgb(333, 250, seed=4)).save(path, request.param, **options)
    return path


def skip_jpeg_without_turbojpeg(path: pathlib.Path) -> None:
    """Pillow decodes JPEG with libjpeg; a build without libjpeg-turbo decodes it with
    FFmpeg (other IDCT and chroma upsampling) and resizes it in YUV with swscale."""
    if path.suffix == ".jpeg" and not _native.has_turbojpeg():
        pytest.skip("this build decodes JPEG with FFmpeg, not libjpeg-turbo")


def pillow_resize(path: pathlib.Path, size: tuple[int, int], resample: int) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize(size, resample))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_resize_equals_pillows_hamming_within_one_level(
    image_path: pathlib.Path, size: tuple[int, int]
) -> None:
    skip_jpeg_without_turbojpeg(image_path)
    width, height = size
    array = spdl.io.to_numpy(spdl.io.load_image(image_path, width=width, height=height))
    assert array.shape == (height, width, 3)
    expected = pillow_resize(image_path, size, Image.HAMMING).astype(np.int16)
    assert np.abs(array.astype(np.int16) - expected).max() <= 1


def test_saturated_edges_stay_close_to_a_lanczos_reference(image_path: pathlib.Path) -> None:
    # A resize in YUV smears colours across saturated edges (mean error > 2.5 here).
    skip_jpeg_without_turbojpeg(image_path)
    size = (150, 112)
    array = spdl.io.to_numpy(spdl.io.load_image(image_path, width=size[0], height=size[1]))
    reference = pillow_resize(image_path, size, Image.LANCZOS).astype(np.float64)
    assert np.abs(array - reference).mean() <= 2.0


def test_decode_convert_load_and_batch_give_the_same_pixels(image_path: pathlib.Path) -> None:
    width, height = 101, 77
    single = spdl.io.to_numpy(spdl.io.load_image(image_path, width=width, height=height))
    frames = decode(demux("image", image_path), width=width, height=height)
    assert (frames.width, frames.height, frames.pix_fmt) == (width, height, "rgb24")
    np.testing.assert_array_equal(spdl.io.to_numpy(convert(frames)), single)
    data = image_path.read_bytes()
    for num_threads in (1, 2):
        buffer, errors = decode_image_batch(
            [image_path, data, image_path], width=width, height=height, num_threads=num_threads
        )
        assert errors == [None] * 3
        for image in spdl.io.to_numpy(buffer):
            np.testing.assert_array_equal(image, single)


def test_images_too_small_for_the_filter_still_resize(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "tiny.png"
    Image.fromarray(saturated_rgb(2, 2, seed=5)).save(path)
    array = spdl.io.to_numpy(spdl.io.load_image(path, width=64, height=48))
    assert array.shape == (48, 64, 3)


def test_a_batch_of_mixed_sizes_resizes_each_image_like_a_single_load() -> None:
    sources = []
    for seed, (width, height) in enumerate([(500, 375), (375, 500), (500, 333), (500, 375)]):
        sources.append(image_bytes(saturated_rgb(width, height, seed), "JPEG", quality=90))
    buffer, errors = decode_image_batch(sources, width=224, height=224, num_threads=1)
    assert errors == [None] * len(sources)
    for source, image in zip(sources, spdl.io.to_numpy(buffer), strict=True):
        np.testing.assert_array_equal(
            image, spdl.io.to_numpy(spdl.io.load_image(source, width=224, height=224))
        )


@pytest.mark.parametrize("size", SIZES[:2], ids=SIZE_IDS[:2])
def test_bgr24_resize_is_the_rgb24_resize_with_channels_swapped(
    image_path: pathlib.Path, size: tuple[int, int]
) -> None:
    # Both are resized in RGB (JPEGs decode straight to packed RGB or BGR): the
    # same pixels in the other channel order, exactly.
    width, height = size
    rgb = spdl.io.to_numpy(spdl.io.load_image(image_path, width=width, height=height))
    bgr = spdl.io.load_image(image_path, width=width, height=height, pix_fmt="bgr24")
    np.testing.assert_array_equal(spdl.io.to_numpy(bgr), rgb[..., ::-1])


def test_native_decode_with_a_size_and_no_pix_fmt_resizes_in_the_source_format(
    image_path: pathlib.Path,
) -> None:
    # The plan's contract (an empty pix_fmt keeps the source format): a size
    # alone still resizes.
    from spdl import _native

    packets = demux("image", image_path)
    kept = _native.decode_packets(packets)
    resized = _native.decode_packets(packets, _native.DecodePlan(width=100, height=60))
    assert (kept.width, kept.height) == (333, 250)
    assert (resized.width, resized.height, resized.pix_fmt) == (100, 60, kept.pix_fmt)
