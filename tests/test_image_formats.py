"""Every common still-image format, decoded as Pillow decodes it.

Each variant is written by Pillow (PyAV for 16-bit RGB PNG) and loaded alone
(``spdl.io.load_image``) and in batches that mix formats
(``spdl.io.batch_load_image``, the native batch path with the GIL released).
Lossless formats give Pillow's pixels exactly. Lossy ones decoded by the library
Pillow uses (libjpeg-turbo, libwebp) give them up to rounding between that
library's versions; decoded by FFmpeg (a build without the library, or a
flavour it does not take), within the mean difference of two decoders.
"""

from __future__ import annotations

import dataclasses
import io
import pathlib
import struct
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from media import ffmpeg_image_bytes, image_bytes
from PIL import Image, ImageOps

import spdl.io
from spdl import _native

WIDTH, HEIGHT = 67, 45  # odd sides: chroma planes and SIMD tails get their edge cases

# Decoded by the library Pillow uses: equal but for rounding between its versions.
SAME_LIBRARY_MEAN_ABS_DIFF = 0.05
# Decoded by FFmpeg where Pillow uses another decoder (IDCT, chroma interpolation).
OTHER_DECODER_MEAN_ABS_DIFF = 2.0


def _picture(width: int = WIDTH, height: int = HEIGHT, seed: int = 0) -> np.ndarray:
    """Colour gradients and noise, ``(H, W, 3)`` uint8: every channel and pixel differ."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 255 / (width + height)], -1)
    noise = np.random.default_rng(seed).normal(0.0, 8.0, base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _alpha(width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return ((x * 7 + y * 3) % 256).astype(np.uint8)


def _pillow(mode: str, fmt: str, **options) -> bytes:
    if mode in ("RGBA", "LA"):
        image = Image.fromarray(np.dstack([_picture(), _alpha()]), "RGBA").convert(mode)
    else:
        image = Image.fromarray(_picture()).convert(mode)
    return image_bytes(image, fmt, **options)


def _samples_16bit(pix_fmt: str) -> np.ndarray:
    noise = np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH, 3))
    samples = (_picture().astype(np.uint16) * 256 + noise).astype(np.uint16)
    return samples if pix_fmt == "rgb48le" else np.ascontiguousarray(samples[..., 0])


def _png_16bit(pix_fmt: str) -> bytes:
    """A 16-bit PNG written by PyAV's encoder (Pillow writes no 16-bit RGB)."""
    encoded_pix_fmt = "rgb48be" if pix_fmt == "rgb48le" else "gray16be"
    return ffmpeg_image_bytes("png", _samples_16bit(pix_fmt), encoded_pix_fmt, input_format=pix_fmt)


def _gif(transparent: bool = False) -> bytes:
    """An animated GIF of two frames: only the first is the image."""
    first = Image.fromarray(_picture()).convert("P")
    second = Image.fromarray(255 - _picture(seed=2)).convert("P")
    options = {"transparency": 0} if transparent else {}
    return image_bytes(first, "GIF", save_all=True, append_images=[second], **options)


def _animated_webp(mode: str, **options) -> bytes:
    """A WebP animation of two frames: only the first is the image."""
    first = Image.fromarray(np.dstack([_picture(), _alpha()]), "RGBA").convert(mode)
    second = Image.fromarray(np.dstack([255 - _picture(seed=2), _alpha()]), "RGBA").convert(mode)
    return image_bytes(first, "WEBP", save_all=True, append_images=[second], **options)


def _tiff_16bit() -> bytes:
    samples = _picture()[..., 0].astype(np.uint16) * 257
    return image_bytes(samples, "TIFF")


@dataclasses.dataclass(frozen=True)
class Variant:
    make: Callable[[], bytes]
    library: str | None = None  # the lossy library Pillow decodes it with; None: lossless
    # How Pillow's samples become 8-bit RGB when its own conversion does not (16-bit gray).
    reference: Callable[[Image.Image], np.ndarray] | None = None


def _high_bytes_of_16bit_gray(image: Image.Image) -> np.ndarray:
    # Pillow clips I;16 samples to 8 bits when it converts; its decoded samples, cut to
    # their high byte as Pillow and OpenCV cut 16-bit RGB, are the reference.
    gray = (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


VARIANTS = {
    "jpeg-baseline-420": Variant(lambda: _pillow("RGB", "JPEG", quality=90), "jpeg"),
    "jpeg-baseline-422": Variant(
        lambda: _pillow("RGB", "JPEG", quality=90, subsampling="4:2:2"), "jpeg"
    ),
    "jpeg-baseline-444": Variant(
        lambda: _pillow("RGB", "JPEG", quality=90, subsampling="4:4:4"), "jpeg"
    ),
    "jpeg-progressive-420": Variant(
        lambda: _pillow("RGB", "JPEG", quality=90, progressive=True), "jpeg"
    ),
    "jpeg-progressive-444": Variant(
        lambda: _pillow("RGB", "JPEG", quality=90, progressive=True, subsampling="4:4:4"),
        "jpeg",
    ),
    "jpeg-gray": Variant(lambda: _pillow("L", "JPEG", quality=90), "jpeg"),
    "jpeg-cmyk": Variant(lambda: _pillow("CMYK", "JPEG", quality=90), "jpeg"),
    "jpeg-rgb": Variant(lambda: _pillow("RGB", "JPEG", quality=90, keep_rgb=True), "jpeg"),
    "png-rgb": Variant(lambda: _pillow("RGB", "PNG")),
    "png-rgba": Variant(lambda: _pillow("RGBA", "PNG")),
    "png-gray": Variant(lambda: _pillow("L", "PNG")),
    "png-gray-alpha": Variant(lambda: _pillow("LA", "PNG")),
    "png-palette": Variant(lambda: _pillow("P", "PNG")),
    "png-palette-transparent": Variant(lambda: _pillow("P", "PNG", transparency=0)),
    "png-1bit": Variant(lambda: _pillow("1", "PNG")),
    "png-16bit-rgb": Variant(lambda: _png_16bit("rgb48le")),
    "png-16bit-gray": Variant(lambda: _png_16bit("gray16le"), None, _high_bytes_of_16bit_gray),
    "webp-lossy": Variant(lambda: _pillow("RGB", "WEBP", quality=90), "webp"),
    "webp-lossy-alpha": Variant(lambda: _pillow("RGBA", "WEBP", quality=90), "webp"),
    "webp-lossless": Variant(lambda: _pillow("RGB", "WEBP", lossless=True)),
    "webp-lossless-alpha": Variant(lambda: _pillow("RGBA", "WEBP", lossless=True)),
    "bmp-rgb": Variant(lambda: _pillow("RGB", "BMP")),
    "bmp-palette": Variant(lambda: _pillow("P", "BMP")),
    "bmp-gray": Variant(lambda: _pillow("L", "BMP")),
    "bmp-1bit": Variant(lambda: _pillow("1", "BMP")),
    "tiff-raw": Variant(lambda: _pillow("RGB", "TIFF")),
    "tiff-lzw": Variant(lambda: _pillow("RGB", "TIFF", compression="tiff_lzw")),
    "tiff-deflate": Variant(lambda: _pillow("RGB", "TIFF", compression="tiff_adobe_deflate")),
    "tiff-packbits": Variant(lambda: _pillow("RGB", "TIFF", compression="packbits")),
    "tiff-rgba": Variant(lambda: _pillow("RGBA", "TIFF")),
    "tiff-gray": Variant(lambda: _pillow("L", "TIFF")),
    "tiff-16bit-gray": Variant(_tiff_16bit, None, _high_bytes_of_16bit_gray),
    "gif-first-frame": Variant(_gif),
}


@pytest.fixture(scope="session")
def encoded() -> dict[str, bytes]:
    return {name: variant.make() for name, variant in VARIANTS.items()}


@pytest.fixture(scope="session")
def files(encoded: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    extensions = {"jpeg": "jpg", "png": "png", "webp": "webp", "bmp": "bmp", "tiff": "tif"}
    folder = tmp_path_factory.mktemp("formats")
    paths = {}
    for name, data in encoded.items():
        path = folder / f"{name}.{extensions.get(name.partition('-')[0], 'gif')}"
        path.write_bytes(data)
        paths[name] = str(path)
    return paths


def _has(library: str) -> bool:
    return {"jpeg": _native.has_turbojpeg, "webp": _native.has_libwebp}[library]()


def tolerance(name: str) -> float:
    """The mean absolute difference allowed against Pillow for a variant."""
    library = VARIANTS[name].library
    if library is None:
        return 0.0
    return SAME_LIBRARY_MEAN_ABS_DIFF if _has(library) else OTHER_DECODER_MEAN_ABS_DIFF


def pillow_rgb(data: bytes, name: str, mode: str = "RGB") -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        reference = VARIANTS[name].reference
        if reference is not None and mode == "RGB":
            return reference(image)
        return np.asarray(image.convert(mode))


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def assert_like_pillow(actual: np.ndarray, expected: np.ndarray, name: str) -> None:
    allowed = tolerance(name)
    if allowed == 0.0:
        np.testing.assert_array_equal(actual, expected, err_msg=name)
    else:
        assert mean_abs_diff(actual, expected) <= allowed, name


def load(src: str | bytes, **options) -> np.ndarray:
    return spdl.io.to_numpy(spdl.io.load_image(src, **options))


@pytest.mark.parametrize("name", VARIANTS)
def test_load_image_gives_pillows_rgb(files: dict[str, str], encoded, name: str) -> None:
    actual = load(files[name])
    assert actual.shape == (HEIGHT, WIDTH, 3) and actual.dtype == np.uint8
    assert_like_pillow(actual, pillow_rgb(encoded[name], name), name)


@pytest.mark.parametrize("name", VARIANTS)
def test_bytes_and_batch_of_one_equal_the_file_load(files, encoded, name: str) -> None:
    from_file = load(files[name])
    np.testing.assert_array_equal(load(encoded[name]), from_file)
    batch = spdl.io.batch_load_image([encoded[name]], None, None)
    np.testing.assert_array_equal(spdl.io.to_numpy(batch)[0], from_file)


@pytest.mark.parametrize(
    "name",
    [
        "png-rgba",
        "png-gray-alpha",
        "png-palette-transparent",
        "webp-lossy-alpha",
        "webp-lossless-alpha",
        "tiff-rgba",
    ],
)
def test_rgba_keeps_pillows_alpha(files, encoded, name: str) -> None:
    actual = load(files[name], pix_fmt="rgba")
    assert actual.shape == (HEIGHT, WIDTH, 4)
    assert_like_pillow(actual, pillow_rgb(encoded[name], name, "RGBA"), name)


@pytest.mark.parametrize("pix_fmt", ["bgr24", "rgba", "bgra"])
@pytest.mark.parametrize("name", ["jpeg-baseline-420", "jpeg-cmyk", "webp-lossy", "png-rgb"])
def test_packed_rgb_orders_hold_the_same_colours(files, name: str, pix_fmt: str) -> None:
    rgb = load(files[name])
    actual = load(files[name], pix_fmt=pix_fmt)
    order = {"bgr24": [2, 1, 0], "rgba": [0, 1, 2], "bgra": [2, 1, 0]}[pix_fmt]
    np.testing.assert_array_equal(actual[..., :3], rgb[..., order])
    if pix_fmt != "bgr24":
        np.testing.assert_array_equal(actual[..., 3], 255)


def test_gif_first_frame_alpha_is_pillows_and_opaque_pixels_are_its_colours() -> None:
    # Under a transparent pixel FFmpeg's GIF decoder leaves black, Pillow the palette
    # entry: only the visible pixels are the image.
    data = _gif(transparent=True)
    actual = load(data, pix_fmt="rgba")
    with Image.open(io.BytesIO(data)) as image:
        expected = np.asarray(image.convert("RGBA"))
    np.testing.assert_array_equal(actual[..., 3], expected[..., 3])
    visible = expected[..., 3] > 0
    assert 0 < visible.sum() < visible.size
    np.testing.assert_array_equal(actual[visible], expected[visible])


@pytest.mark.parametrize("pix_fmt", ["yuv444p", "gray", "rgb24"])
def test_cmyk_jpeg_converts_to_other_formats_through_rgb(files, pix_fmt: str) -> None:
    array = load(files["jpeg-cmyk"], pix_fmt=pix_fmt)
    expected_shape = {"yuv444p": (3, HEIGHT, WIDTH), "gray": (1, HEIGHT, WIDTH)}
    assert array.shape == expected_shape.get(pix_fmt, (HEIGHT, WIDTH, 3))


def test_batch_mixing_every_format_equals_each_single_load_resized(files, encoded) -> None:
    names = list(VARIANTS)
    sources = [files[name] if i % 2 else encoded[name] for i, name in enumerate(names)]
    batch = spdl.io.to_numpy(spdl.io.batch_load_image(sources, 40, 24))
    assert batch.shape == (len(names), 24, 40, 3)
    for i, name in enumerate(names):
        single = load(files[name], width=40, height=24)
        np.testing.assert_array_equal(batch[i], single, err_msg=name)
        # Resized in RGB with a HAMMING-like filter, as Pillow resizes its decode.
        expected = Image.fromarray(pillow_rgb(encoded[name], name)).resize((40, 24), Image.HAMMING)
        assert mean_abs_diff(batch[i], np.asarray(expected)) <= 2.0, name


def test_batch_of_every_format_at_native_size_on_two_threads(files, encoded) -> None:
    names = list(VARIANTS)
    buffer, errors = spdl.io._core.decode.decode_image_batch(
        [files[name] for name in names], width=None, height=None, num_threads=2
    )
    assert errors == [None] * len(names)
    batch = spdl.io.to_numpy(buffer)
    for i, name in enumerate(names):
        assert_like_pillow(batch[i], pillow_rgb(encoded[name], name), name)


# EXIF orientation -----------------------------------------------------------------


def _oriented(
    fmt: str, orientation: int, mode: str = "RGB", picture: np.ndarray | None = None, **options
) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    image = Image.fromarray(_picture() if picture is None else picture).convert(mode)
    return image_bytes(image, fmt, exif=exif.tobytes(), **options)


ORIENTED = {
    "jpeg-420": lambda o: _oriented("JPEG", o, quality=90),
    "jpeg-422": lambda o: _oriented("JPEG", o, quality=90, subsampling="4:2:2"),
    "jpeg-gray": lambda o: _oriented("JPEG", o, "L", quality=90),
    "jpeg-cmyk": lambda o: _oriented("JPEG", o, "CMYK", quality=90),
    "png": lambda o: _oriented("PNG", o),
    "png-palette": lambda o: _oriented("PNG", o, "P"),
    "webp-lossy": lambda o: _oriented("WEBP", o, quality=90),
    "webp-lossless": lambda o: _oriented("WEBP", o, lossless=True),
    "tiff": lambda o: _oriented("TIFF", o),
}


def _upright(data: bytes, mode: str = "RGB") -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert(mode))


def _oriented_tolerance(kind: str) -> float:
    library = {"jpeg": "jpeg", "webp": "webp"}.get(kind.partition("-")[0])
    if library is None or kind == "webp-lossless":
        return 0.0
    return SAME_LIBRARY_MEAN_ABS_DIFF if _has(library) else OTHER_DECODER_MEAN_ABS_DIFF


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("kind", ORIENTED)
def test_apply_exif_orientation_puts_images_upright_as_pillow(kind: str, orientation: int) -> None:
    data = ORIENTED[kind](orientation)
    actual = load(data, apply_exif_orientation=True)
    expected = _upright(data)
    assert actual.shape == expected.shape
    allowed = _oriented_tolerance(kind)
    if allowed == 0.0:
        np.testing.assert_array_equal(actual, expected)
    else:
        assert mean_abs_diff(actual, expected) <= allowed
    batch = spdl.io.batch_load_image(
        [data], None, None, decode_options={"apply_exif_orientation": True}
    )
    np.testing.assert_array_equal(spdl.io.to_numpy(batch)[0], actual)


@pytest.mark.parametrize("orientation", [3, 6])
def test_exif_orientation_is_ignored_by_default(orientation: int) -> None:
    data = ORIENTED["png"](orientation)
    np.testing.assert_array_equal(load(data), _picture())
    np.testing.assert_array_equal(load(data, apply_exif_orientation=False), _picture())


@pytest.mark.parametrize("pix_fmt", ["yuv444p", "gray", "yuvj420p", "rgba", "gbrp"])
@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("JPEG", {"quality": 90}),
        ("JPEG", {"quality": 90, "subsampling": "4:2:2"}),  # turned: 4:4:0
        ("WEBP", {"quality": 90}),
        ("PNG", {}),
    ],
)
def test_orientation_turns_every_output_format(fmt: str, options: dict, pix_fmt: str) -> None:
    # 6: stored turned anticlockwise, so the upright image is 44 wide and 66 high (even
    # sides, as yuvj420p's layout needs).
    data = _oriented(fmt, 6, picture=_picture(66, 44), **options)
    array = load(data, apply_exif_orientation=True, pix_fmt=pix_fmt)
    upright_rgb = load(data, apply_exif_orientation=True)
    layouts = {"yuv444p": (3, 66, 44), "gbrp": (3, 66, 44), "gray": (1, 66, 44)}
    layouts.update(yuvj420p=(1, 99, 44), rgba=(66, 44, 4))
    assert array.shape == layouts[pix_fmt]
    if pix_fmt == "rgba":
        np.testing.assert_array_equal(array[..., :3], upright_rgb)
    if pix_fmt == "gbrp":
        rgb = np.moveaxis(array[[2, 0, 1]], 0, -1)
        assert mean_abs_diff(rgb, upright_rgb) <= OTHER_DECODER_MEAN_ABS_DIFF


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_orientation_applies_before_resize_and_crop_in_batches(orientation: int) -> None:
    picture = np.asarray(Image.fromarray(_picture()).resize((320, 240)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    jpeg = image_bytes(picture, "JPEG", quality=90, exif=exif.tobytes())
    upright = image_bytes(_upright(jpeg), "PNG")
    options = {"decode_options": {"apply_exif_orientation": True}}
    crop = spdl.io.CenterCrop(48, 64)
    for kwargs in ({}, {"crop": crop}):
        turned = spdl.io.batch_load_image([jpeg], 48, 48, **options, **kwargs)
        reference = spdl.io.batch_load_image([upright], 48, 48, **kwargs)
        # The DCT-scaled decode of the turned JPEG against the PNG of its full decode.
        assert mean_abs_diff(spdl.io.to_numpy(turned), spdl.io.to_numpy(reference)) <= 1.5


@pytest.mark.parametrize("value", [1, "yes", 1.0])
def test_apply_exif_orientation_must_be_a_bool(value) -> None:
    with pytest.raises(TypeError, match="apply_exif_orientation"):
        spdl.io.load_image(ORIENTED["png"](6), apply_exif_orientation=value)
    with pytest.raises(TypeError, match="apply_exif_orientation"):
        spdl.io.batch_load_image(
            [ORIENTED["png"](6)], 8, 8, decode_options={"apply_exif_orientation": value}
        )


def test_apply_exif_orientation_is_an_image_option() -> None:
    with pytest.raises(ValueError, match="apply_exif_orientation"):
        spdl.io.load_audio(b"RIFF", apply_exif_orientation=True)


def test_malformed_exif_leaves_the_image_as_stored() -> None:
    data = bytearray(ORIENTED["jpeg-420"](6))
    start = data.index(b"Exif\x00\x00")
    data[start + 6 : start + 14] = b"XX*\x00\xff\xff\xff\xff"  # no byte order, a bad offset
    actual = load(bytes(data), apply_exif_orientation=True)
    assert actual.shape == (HEIGHT, WIDTH, 3)


def test_an_exif_block_too_short_for_its_entry_leaves_the_image_as_stored() -> None:
    # A WebP whose EXIF block (10 bytes) announces one IFD entry it has no room for;
    # the bytes after it (the next chunk) read as "orientation 6". Pillow finds no
    # orientation; the entry was read past the block's end.
    def chunk(fourcc: bytes, payload: bytes) -> bytes:
        pad = b"\0" if len(payload) % 2 else b""
        return fourcc + struct.pack("<I", len(payload)) + payload + pad

    plain = image_bytes(np.zeros((HEIGHT, WIDTH, 3), np.uint8), "WEBP", quality=90)
    assert plain[12:16] == b"VP8 "
    size = (WIDTH - 1).to_bytes(3, "little") + (HEIGHT - 1).to_bytes(3, "little")
    vp8x = chunk(b"VP8X", bytes([0x08, 0, 0, 0]) + size)  # flags: EXIF
    exif = chunk(b"EXIF", b"II*\0" + struct.pack("<IH", 8, 1))
    lure = chunk(b"\x12\x01\x03\x00", b"\x06")  # tag 0x0112, SHORT, then "count 1, 6"
    body = b"WEBP" + vp8x + exif + lure + plain[12:]
    data = b"RIFF" + struct.pack("<I", len(body)) + body
    with Image.open(io.BytesIO(data)) as image, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's "Corrupt EXIF data"
        assert ImageOps.exif_transpose(image).size == (WIDTH, HEIGHT)
    assert load(data, apply_exif_orientation=True).shape == (HEIGHT, WIDTH, 3)
    options = {"apply_exif_orientation": True}
    batch = spdl.io.batch_load_image([data], None, None, decode_options=options)
    assert spdl.io.to_numpy(batch).shape == (1, HEIGHT, WIDTH, 3)


@pytest.mark.parametrize(
    ("mode", "options"),
    [("RGB", {"quality": 90}), ("RGBA", {"quality": 90}), ("RGBA", {"lossless": True})],
    ids=["lossy", "lossy-alpha", "lossless-alpha"],
)
def test_animated_webp_gives_its_first_frame(mode: str, options: dict) -> None:
    data = _animated_webp(mode, **options)
    if not _native.has_libwebp():  # FFmpeg decodes no animated WebP
        with pytest.raises(spdl.io.MediaError):
            load(data)
        return
    with Image.open(io.BytesIO(data)) as image:
        assert image.n_frames == 2
        expected_rgb = np.asarray(image.convert("RGB"))
        expected_rgba = np.asarray(image.convert("RGBA"))
    allowed = 0.0 if options.get("lossless") else SAME_LIBRARY_MEAN_ABS_DIFF
    for pix_fmt, expected in (("rgb24", expected_rgb), ("rgba", expected_rgba)):
        actual = load(data, pix_fmt=pix_fmt)
        assert mean_abs_diff(actual, expected) <= allowed, pix_fmt
        batch = spdl.io.batch_load_image([data], None, None, pix_fmt=pix_fmt)
        np.testing.assert_array_equal(spdl.io.to_numpy(batch)[0], actual)
    # Without a packed RGB output, the frame stays rgba (FFmpeg has no layout for it).
    assert load(data, pix_fmt=None).shape == (HEIGHT, WIDTH, 4)


# Decoders outside FFmpeg ------------------------------------------------------------


@pytest.mark.skipif(not _native.has_libwebp(), reason="this build has no libwebp")
def test_webp_decoder_names_select_libwebp_or_ffmpeg(files) -> None:
    path = files["webp-lossy"]
    fast = load(path)
    np.testing.assert_array_equal(load(path, decoder="libwebp"), fast)
    ffmpeg = load(path, decoder="webp")
    assert not np.array_equal(fast, ffmpeg)  # FFmpeg's own VP8 and chroma interpolation
    assert mean_abs_diff(fast, ffmpeg) <= OTHER_DECODER_MEAN_ABS_DIFF
    # Lossless: both decoders give the exact pixels.
    np.testing.assert_array_equal(
        load(files["webp-lossless"], decoder="webp"), load(files["webp-lossless"])
    )


@pytest.mark.skipif(not _native.has_libwebp(), reason="this build has no libwebp")
def test_webp_without_rgb_output_keeps_ffmpegs_layout(files) -> None:
    # The frames libwebp hands on are laid out as FFmpeg's webp decoder lays them out.
    for name, native in (
        ("webp-lossy", "yuv420p"),
        ("webp-lossy-alpha", "yuva420p"),
        ("webp-lossless", "argb"),
    ):
        packets = spdl.io.demux_media("image", files[name]).result()
        assert spdl.io.decode_packets(packets, pix_fmt=None).result().pix_fmt == native


@pytest.mark.parametrize(
    ("decoder", "image", "what", "built"),
    [
        ("libwebp", "webp-lossy", "WebP", _native.has_libwebp()),
        ("libjpeg-turbo", "jpeg-baseline-420", "JPEG", _native.has_turbojpeg()),
    ],
)
def test_forced_image_library_misuse_is_a_value_error(
    files, decoder: str, image: str, what: str, built: bool
) -> None:
    # One chooser for both libraries: the same three refusals, each naming the source.
    with pytest.raises(ValueError, match=decoder):
        spdl.io.load_audio(files[image], decoder=decoder)
    if not built:
        with pytest.raises(
            ValueError, match=f"unavailable: this build (of spdl )?has no {decoder}"
        ):
            load(files[image], decoder=decoder)
        return
    with pytest.raises(ValueError, match="takes no decoder"):
        load(files[image], decoder=decoder, decoder_options={"x": "1"})
    with pytest.raises(ValueError, match=f'decodes {what} images only, not "png" image') as error:
        load(files["png-rgb"], decoder=decoder)
    assert files["png-rgb"] in str(error.value)


@pytest.mark.parametrize("name", ["webp-lossy", "webp-lossless", "jpeg-cmyk", "png-16bit-rgb"])
def test_truncated_files_fail_with_the_source_named(files, encoded, name: str) -> None:
    data = encoded[name][: len(encoded[name]) // 3]
    batch, errors = spdl.io._core.decode.decode_image_batch([data], width=16, height=16)
    for error in errors:
        if error is not None:
            assert "bytes" in str(error)
    if batch is not None:  # a decoder that conceals the missing part gives an image
        assert spdl.io.to_numpy(batch).shape == (1, 16, 16, 3)


@pytest.mark.skipif(not _native.has_libwebp(), reason="this build has no libwebp")
def test_forced_libwebp_names_its_reason(encoded) -> None:
    data = encoded["webp-lossy"][:40]
    with pytest.raises(spdl.io.MediaError, match="libwebp"):
        load(data, decoder="libwebp")


def test_jpeg_compressed_tiff_fails_with_the_reason_instead_of_a_blank_image(tmp_path) -> None:
    path = tmp_path / "photo.tif"
    path.write_bytes(_pillow("RGB", "TIFF", compression="jpeg"))
    with pytest.raises(spdl.io.MediaError, match="JPEG-compressed TIFF") as excinfo:
        load(str(path))
    assert "photo.tif" in str(excinfo.value)
    _, errors = spdl.io._core.decode.decode_image_batch([str(path)], width=8, height=8)
    assert "JPEG-compressed TIFF" in str(errors[0]) and "photo.tif" in str(errors[0])


def test_a_32_bit_bi_rgb_bmp_is_opaque_as_pillow_reads_it(tmp_path: pathlib.Path) -> None:
    # Its fourth byte is padding (Pillow writes RGBA's alpha there, and reads the file
    # back as RGB); FFmpeg took it for alpha unless it was zero everywhere.
    rgba = np.zeros((6, 10, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 3] = 200, np.arange(10) * 20, 128
    path = tmp_path / "padded.bmp"
    Image.fromarray(rgba, "RGBA").save(path)
    assert Image.open(path).mode == "RGB"
    got = spdl.io.to_numpy(spdl.io.load_image(path, pix_fmt="rgba"))
    assert (got[..., 3] == 255).all()
    np.testing.assert_array_equal(got[..., :3], np.asarray(Image.open(path).convert("RGB")))


@pytest.mark.parametrize(("size", "alpha"), [((66, 44), True), ((4, 6), False)])
def test_lossy_webp_through_ffmpeg_interpolates_chroma_as_libwebp(
    size: tuple[int, int], alpha: bool
) -> None:
    # FFmpeg's frames of lossy WebP with alpha (yuva420p) were converted without
    # interpolated chroma (1.1 levels off Pillow on average, 22 at most), and images
    # at most 4 pixels wide took libjpeg's rule of repeating narrow chroma (27 off).
    width, height = size
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    rgba[..., 3] = np.linspace(40, 255, width, dtype=np.uint8)[None, :]
    buffer = io.BytesIO()
    Image.fromarray(rgba if alpha else rgba[..., :3]).save(buffer, "WEBP", quality=90)
    data = buffer.getvalue()
    mode, pix_fmt = ("RGBA", "rgba") if alpha else ("RGB", "rgb24")
    pillow = np.asarray(Image.open(io.BytesIO(data)).convert(mode)).astype(int)
    got = spdl.io.to_numpy(spdl.io.load_image(data, pix_fmt=pix_fmt, decoder="webp"))
    assert np.abs(got.astype(int) - pillow).mean() < 0.5
    assert np.abs(got.astype(int) - pillow).max() <= 4


@pytest.mark.parametrize("pix_fmt", ["rgb48le", "gray16le"])
def test_16bit_png_samples_come_in_native_byte_order(pix_fmt: str) -> None:
    # PNG stores big-endian samples (FFmpeg decodes rgb48be / gray16be); the arrays are
    # little-endian uint16, whichever path writes them.
    data = _png_16bit(pix_fmt)
    samples = _samples_16bit(pix_fmt)
    expected = samples if pix_fmt == "rgb48le" else samples[None]
    packets = spdl.io.demux_media("image", data).result()
    filtered = spdl.io.decode_packets(packets, filter_desc="null").result()
    for array in (
        load(data, pix_fmt=None),
        load(data, pix_fmt=pix_fmt),
        spdl.io.to_numpy(spdl.io.batch_load_image([data, data], None, None, pix_fmt=None))[1],
        spdl.io.to_numpy(spdl.io.convert_frames(filtered).result()),
    ):
        assert array.dtype == np.uint16
        np.testing.assert_array_equal(array, expected)
    resized = load(data, pix_fmt=None, width=32, height=24)
    np.testing.assert_array_equal(resized, load(data, pix_fmt=pix_fmt, width=32, height=24))
    assert np.abs(resized.astype(np.int64).mean() - samples.mean()) < 0.02 * samples.mean()
    with pytest.raises(ValueError, match=f"big-endian.*use '{pix_fmt}'"):
        load(data, pix_fmt=pix_fmt[:-2] + "be")


def test_gray16_of_a_palette_png_spans_the_16_bit_range() -> None:
    # Palette and RGB sources went to 255/256 of the range (white 65277).
    picture = np.zeros((8, 8, 3), np.uint8)
    picture[:4] = 255
    data = image_bytes(Image.fromarray(picture).convert("P"), "PNG")
    gray = load(data, pix_fmt="gray16le")
    assert gray.dtype == np.uint16 and gray[0, 0, 0] >= 65531 and gray[0, 7, 0] <= 4
