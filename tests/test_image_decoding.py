"""Still-image decoding: layouts of every pixel format, resizing, values, and source kinds."""

from __future__ import annotations

import io
import pathlib

import numpy as np
import pytest
from media import IMAGE_KINDS, ImageReference
from PIL import Image
from reference_decode import IMAGE_LAYOUTS, mean_abs_diff, pyav_decode_image

import spdl.io
from spdl.io._core.convert import convert
from spdl.io._core.decode import decode
from spdl.io._core.demux import demux

# Lossy images, colour conversions and the two FFmpeg builds (system vs PyAV's) may
# disagree by rounding; a mean absolute difference this small still rejects a wrong
# channel order, a wrong plane, an off-by-one row or a wrong colour matrix.
MAX_MEAN_ABS_DIFF = 3.0

PIX_FMTS = tuple(IMAGE_LAYOUTS)


def load_array(src, **options) -> np.ndarray:
    return spdl.io.to_numpy(spdl.io.load_image(src, **options))


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_default_output_is_rgb24_height_width_channels_uint8(
    image_files: dict[str, ImageReference], kind: str
) -> None:
    image = image_files[kind]
    buffer = spdl.io.load_image(image.path)
    array = spdl.io.to_numpy(buffer)
    assert buffer.shape == (image.height, image.width, 3)
    assert array.shape == (image.height, image.width, 3)
    assert array.dtype == np.uint8


@pytest.mark.parametrize("pix_fmt", PIX_FMTS)
@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_pix_fmt_yields_documented_shape_and_uint8(
    image_files: dict[str, ImageReference], kind: str, pix_fmt: str
) -> None:
    image = image_files[kind]
    array = load_array(image.path, pix_fmt=pix_fmt)
    assert array.shape == IMAGE_LAYOUTS[pix_fmt](image.height, image.width)
    assert array.dtype == np.uint8
    assert array.flags.c_contiguous


@pytest.mark.parametrize("pix_fmt", PIX_FMTS)
@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_pix_fmt_values_match_pyav_conversion(
    image_files: dict[str, ImageReference], kind: str, pix_fmt: str
) -> None:
    image = image_files[kind]
    actual = load_array(image.path, pix_fmt=pix_fmt)
    expected = pyav_decode_image(image.path, pix_fmt)
    if pix_fmt in ("rgb24", "bgr24", "rgba"):
        # Still images decode to packed RGB as Pillow decodes them (libjpeg-turbo's and
        # libwebp's interpolated chroma), where PyAV's conversion repeats chroma samples.
        with Image.open(image.path) as pillow:
            rgba = np.asarray(pillow.convert("RGBA"))
        expected = {"rgb24": rgba[..., :3], "bgr24": rgba[..., 2::-1], "rgba": rgba}[pix_fmt]
    assert mean_abs_diff(actual, expected) <= MAX_MEAN_ABS_DIFF


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_rgb24_bgr24_and_rgba_hold_the_same_colours_in_their_own_order(
    image_files: dict[str, ImageReference], kind: str
) -> None:
    path = image_files[kind].path
    rgb = load_array(path, pix_fmt="rgb24")
    np.testing.assert_array_equal(load_array(path, pix_fmt="bgr24"), rgb[..., ::-1])
    rgba = load_array(path, pix_fmt="rgba")
    np.testing.assert_array_equal(rgba[..., :3], rgb)
    np.testing.assert_array_equal(rgba[..., 3], np.full(rgb.shape[:2], 255, np.uint8))


@pytest.mark.parametrize("kind", ["png", "bmp"])
def test_gbrp_planes_of_an_rgb_image_are_green_blue_red(
    image_files: dict[str, ImageReference], kind: str
) -> None:
    image = image_files[kind]
    source = image.source_rgb
    expected = np.stack([source[..., 1], source[..., 2], source[..., 0]])
    np.testing.assert_array_equal(load_array(image.path, pix_fmt="gbrp"), expected)


@pytest.mark.parametrize("kind", ["png", "bmp"])
def test_lossless_images_decode_to_the_exact_source_pixels(
    image_files: dict[str, ImageReference], kind: str
) -> None:
    image = image_files[kind]
    assert image.lossless
    np.testing.assert_array_equal(load_array(image.path), image.source_rgb)


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_pix_fmt_none_keeps_the_decoders_native_format(
    image_files: dict[str, ImageReference], kind: str
) -> None:
    image = image_files[kind]
    frames = decode(demux("image", image.path), pix_fmt=None)
    assert frames.pix_fmt == image.native_pix_fmt
    array = spdl.io.to_numpy(convert(frames))
    assert array.shape == IMAGE_LAYOUTS[image.native_pix_fmt](image.height, image.width)
    expected = pyav_decode_image(image.path, image.native_pix_fmt)
    assert mean_abs_diff(array, expected) <= MAX_MEAN_ABS_DIFF


def test_jpeg_native_format_is_yuvj420p_with_one_and_a_half_rows_per_row(
    image_files: dict[str, ImageReference],
) -> None:
    image = image_files["jpeg"]
    array = load_array(image.path, pix_fmt=None)
    assert array.shape == (1, 72, 64)  # 48 luma rows + 2 chroma planes of 24x32 = 24 rows
    np.testing.assert_array_equal(array, load_array(image.path, pix_fmt="yuvj420p"))


@pytest.mark.parametrize(
    ("width", "height"),
    [(32, 24), (128, 96), (40, 40)],
    ids=["downscale", "upscale", "change-aspect"],
)
@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_width_and_height_resize_the_output(
    image_files: dict[str, ImageReference], kind: str, width: int, height: int
) -> None:
    # Still images resize in RGB, with Pillow's HAMMING filter; YUV images (JPEG,
    # WebP) are converted to RGB with interpolated chroma first, as Pillow's
    # decoders (libjpeg, libwebp) do. (FFmpeg's scale filter resizes in YUV.)
    path = image_files[kind].path
    array = load_array(path, width=width, height=height)
    assert array.shape == (height, width, 3)
    with Image.open(path) as image:
        expected = np.asarray(image.convert("RGB").resize((width, height), Image.HAMMING))
    assert mean_abs_diff(array, expected) <= 1.0


def test_resize_applies_before_planar_conversion(image_files: dict[str, ImageReference]) -> None:
    path = image_files["png"].path
    assert load_array(path, width=32, height=24, pix_fmt="yuv444p").shape == (3, 24, 32)
    assert load_array(path, width=32, height=24, pix_fmt="yuv420p").shape == (1, 36, 32)


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_packets_and_frames_describe_the_image(
    image_files: dict[str, ImageReference], kind: str
) -> None:
    image = image_files[kind]
    packets = demux("image", image.path)
    assert packets.media_type == "image"
    assert packets.src == str(image.path)
    assert packets.codec_name == image.codec_name
    assert (packets.width, packets.height) == (image.width, image.height)
    assert packets.pix_fmt == image.native_pix_fmt
    assert len(packets) == 1

    frames = decode(packets)
    assert frames.media_type == "image"
    assert len(frames) == 1
    assert (frames.width, frames.height) == (image.width, image.height)
    assert frames.pix_fmt == "rgb24"


def _source_variants(path: pathlib.Path) -> dict[str, object]:
    data = path.read_bytes()
    return {
        "str": str(path),
        "PathLike": path,
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "BytesIO": io.BytesIO(data),
    }


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_every_source_kind_decodes_to_the_same_pixels(
    image_files: dict[str, ImageReference], kind: str
) -> None:
    path = image_files[kind].path
    expected = load_array(str(path))
    for name, src in _source_variants(path).items():
        np.testing.assert_array_equal(load_array(src), expected, err_msg=name)
    with open(path, "rb") as file:
        np.testing.assert_array_equal(load_array(file), expected, err_msg="open file")


def test_image_frames_are_consumed_by_conversion(image_files: dict[str, ImageReference]) -> None:
    frames = decode(demux("image", image_files["png"].path))
    convert(frames)
    with pytest.raises(ValueError):
        convert(frames)
