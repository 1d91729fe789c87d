"""Per-image crops and flips of ``batch_load_image``, done inside the one native batch call.

References are Pillow's: the same box cropped from Pillow's decode of the same file
(Pillow's JPEG decoder is libjpeg-turbo too, ISLOW DCT, fancy upsampling), resized
with ``Image.BILINEAR`` (torchvision's ``resized_crop`` on PIL images) and mirrored
with ``ImageOps.mirror``. spdl resizes RGB with its own antialiasing filter (as wide
as bilinear, a little sharper), so outputs agree to within a mean of 2 levels.
"""

from __future__ import annotations

import dataclasses
import io
import math
import pathlib

import numpy as np
import pytest
from PIL import Image, ImageOps
from reference_decode import mean_abs_diff

import spdl.io
from spdl import _native
from spdl.io._api.batch import batch_load_image_future
from spdl.io._core.crop import check_transforms
from spdl.io._core.decode import decode_image_batch

MAX_MEAN_ABS_DIFF = 2.0

requires_libjpeg = pytest.mark.skipif(
    not _native.has_libjpeg(), reason="this build has no crop-aware JPEG decoding"
)


@dataclasses.dataclass(frozen=True)
class Picture:
    path: pathlib.Path
    width: int
    height: int


def textured_rgb(width: int, height: int, seed: int) -> np.ndarray:
    """Smooth gradients, sensor-like noise and a few hard-edged patches."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    image = np.stack(
        [
            128 + 100 * np.sin(2 * np.pi * (x / width + seed / 5)),
            128 + 100 * np.sin(2 * np.pi * (y / height - seed / 7)),
            128 + 100 * np.sin(2 * np.pi * ((x + y) / (width + height) + seed / 3)),
        ],
        axis=-1,
    )
    side = min(40, width // 4, height // 4)
    for _ in range(6):
        left, top = rng.integers(0, width - side), rng.integers(0, height - side)
        image[top : top + side, left : left + side] = rng.integers(0, 256, size=3)
    image += rng.normal(0.0, 4.0, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Picture]:
    directory = tmp_path_factory.mktemp("crops")
    specs = {
        # kind: (width, height, format, Pillow mode, save options)
        "jpeg420": (500, 375, "JPEG", "RGB", {"quality": 90, "subsampling": "4:2:0"}),
        # An odd height (ImageNet's 500x375 and 333x500 are common): libjpeg-turbo writes
        # one more row of luma than the image has.
        "jpeg420_odd": (251, 187, "JPEG", "RGB", {"quality": 90, "subsampling": "4:2:0"}),
        "jpeg444": (375, 500, "JPEG", "RGB", {"quality": 90, "subsampling": "4:4:4"}),
        "progressive": (500, 375, "JPEG", "RGB", {"quality": 90, "progressive": True}),
        "gray": (500, 375, "JPEG", "L", {"quality": 90}),
        "cmyk": (320, 240, "JPEG", "CMYK", {"quality": 90}),  # libjpeg-turbo: FFmpeg decodes it
        "png": (500, 375, "PNG", "RGB", {}),
        "png_tall": (375, 500, "PNG", "RGB", {}),
        "strip": (1000, 20, "PNG", "RGB", {}),  # no random box fits: the fallback
    }
    result = {}
    for seed, (kind, (width, height, fmt, mode, options)) in enumerate(specs.items()):
        path = directory / f"{kind}.{fmt.lower()}"
        Image.fromarray(textured_rgb(width, height, seed)).convert(mode).save(path, fmt, **options)
        result[kind] = Picture(path, width, height)
    return result


def load(srcs, width, height, **options) -> np.ndarray:
    return spdl.io.to_numpy(spdl.io.batch_load_image(srcs, width, height, **options))


def pillow_crop(path, box, size, flip=False) -> np.ndarray:
    """Pillow's decode of ``path``, cropped to ``box``, resized to ``size`` (w, h), mirrored."""
    left, top, width, height = box
    image = Image.open(path).convert("RGB").crop((left, top, left + width, top + height))
    image = image.resize(size, Image.BILINEAR)
    return np.asarray(ImageOps.mirror(image) if flip else image)


SPECS = {
    "box": (spdl.io.CropBox(left=61, top=47, width=233, height=181), (160, 120)),
    "center": (spdl.io.CenterCrop(224, resize=256), (224, 224)),
    "center_rect": (spdl.io.CenterCrop((120, 200)), (100, 60)),
    "random": (spdl.io.RandomResizedCrop(seed=3), (224, 224)),
}


# Output against Pillow's crop + bilinear resize (+ mirror)


@pytest.mark.parametrize("spec_name", list(SPECS))
@pytest.mark.parametrize("kind", ["jpeg420", "jpeg444", "progressive", "gray", "png", "png_tall"])
def test_crop_equals_pillow_crop_then_bilinear_resize(
    pictures: dict[str, Picture], kind: str, spec_name: str
) -> None:
    picture = pictures[kind]
    spec, (width, height) = SPECS[spec_name]
    # A spec given for the whole batch: image 0 uses for_image(0)'s seed.
    reproduced = spec.for_image(0) if isinstance(spec, spdl.io.RandomResizedCrop) else spec
    box = spdl.io.crop_box(reproduced, picture.width, picture.height)
    for flip in (False, True):
        output = load([picture.path], width, height, crop=spec, hflip=flip)
        assert output.shape == (1, height, width, 3)
        expected = pillow_crop(picture.path, box, (width, height), flip)
        assert mean_abs_diff(output[0], expected) <= MAX_MEAN_ABS_DIFF, (kind, box, flip)


@pytest.mark.parametrize("kind", ["jpeg420", "png"])
def test_output_is_exactly_the_box_that_crop_box_gives(
    pictures: dict[str, Picture], kind: str
) -> None:
    # spdl's RGB resize is Pillow's HAMMING up to rounding: against it, a box one
    # pixel off would differ by more than 2 levels on average. (Builds without
    # libjpeg-turbo decode JPEG with FFmpeg, whose IDCT rounds otherwise.)
    bound = 0.5 if kind == "png" or _native.has_libjpeg() else 1.0
    picture = pictures[kind]
    for spec, (width, height) in SPECS.values():
        left, top, w, h = spdl.io.crop_box(spec, picture.width, picture.height)
        image = Image.open(picture.path).convert("RGB").crop((left, top, left + w, top + h))
        expected = np.asarray(image.resize((width, height), Image.HAMMING))
        output = load([picture.path], width, height, crop=[spec])
        assert mean_abs_diff(output[0], expected) <= bound, spec


def test_flipped_output_is_the_unflipped_output_mirrored(pictures: dict[str, Picture]) -> None:
    paths = [pictures["jpeg420"].path, pictures["png"].path]
    crop = spdl.io.CropBox(10, 20, 300, 200)
    plain = load(paths, 150, 100, crop=crop)
    mirrored = load(paths, 150, 100, crop=crop, hflip=[True, False])
    np.testing.assert_array_equal(mirrored[0], plain[0][:, ::-1])
    np.testing.assert_array_equal(mirrored[1], plain[1])


def test_flip_without_crop_mirrors_the_resized_image(pictures: dict[str, Picture]) -> None:
    picture = pictures["png"]
    plain = load([picture.path], 125, 94)
    mirrored = load([picture.path], 125, 94, hflip=True)
    np.testing.assert_array_equal(mirrored[0], plain[0][:, ::-1])


@pytest.mark.parametrize("kind", ["jpeg420", "png"])
def test_planar_rgb_output_with_crop_and_flip(pictures: dict[str, Picture], kind: str) -> None:
    picture = pictures[kind]
    box = spdl.io.CropBox(33, 21, 301, 211)  # odd offsets: chroma pairs are split
    expected = pillow_crop(picture.path, (33, 21, 301, 211), (150, 105))
    for flip in (False, True):
        gbrp = load([picture.path], 150, 105, pix_fmt="gbrp", crop=box, hflip=flip)
        assert gbrp.shape == (1, 3, 105, 150)
        rgb = gbrp[0][[2, 0, 1]].transpose(1, 2, 0)  # planes G, B, R
        reference = expected[:, ::-1] if flip else expected
        assert mean_abs_diff(rgb, reference) <= MAX_MEAN_ABS_DIFF, flip


def test_yuv444p_output_with_crop_mirrors_every_plane(pictures: dict[str, Picture]) -> None:
    path = pictures["jpeg420"].path
    box = spdl.io.CropBox(33, 21, 301, 211)
    plain = load([path], 150, 105, pix_fmt="yuv444p", crop=box)
    mirrored = load([path], 150, 105, pix_fmt="yuv444p", crop=box, hflip=True)
    assert plain.shape == (1, 3, 105, 150)
    np.testing.assert_array_equal(mirrored, plain[..., ::-1])
    # Luma follows Pillow's: limited-range BT.601 of the reference's RGB.
    rgb = pillow_crop(path, (33, 21, 301, 211), (150, 105)).astype(np.float64)
    luma = 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255
    assert mean_abs_diff(plain[0, 0], luma) <= MAX_MEAN_ABS_DIFF


def test_yuv420p_output_with_odd_crop_and_flip(pictures: dict[str, Picture]) -> None:
    path = pictures["png"].path
    box = spdl.io.CropBox(31, 17, 201, 151)
    plain = load([path], 100, 76, pix_fmt="yuv420p", crop=box)
    mirrored = load([path], 100, 76, pix_fmt="yuv420p", crop=box, hflip=True)
    assert plain.shape == (1, 1, 114, 100)
    np.testing.assert_array_equal(mirrored[0, 0, :76], plain[0, 0, :76, ::-1])  # luma
    chroma = plain[0, 0, 76:].reshape(2, 38, 50)
    mirrored_chroma = mirrored[0, 0, 76:].reshape(2, 38, 50)
    np.testing.assert_array_equal(mirrored_chroma, chroma[..., ::-1])


# CenterCrop: the evaluation transform


@pytest.mark.parametrize("kind", ["jpeg420", "jpeg444", "png"])
def test_center_crop_equals_resize_shorter_side_then_center_crop(
    pictures: dict[str, Picture], kind: str
) -> None:
    picture = pictures[kind]
    output = load([picture.path], 224, 224, crop=spdl.io.CenterCrop(224, resize=256))
    image = Image.open(picture.path).convert("RGB")
    shorter = min(image.size)
    size = tuple(256 if side == shorter else int(256 * side / shorter) for side in image.size)
    resized = image.resize(size, Image.BILINEAR)
    left = int(round((size[0] - 224) / 2.0))
    top = int(round((size[1] - 224) / 2.0))
    expected = np.asarray(resized.crop((left, top, left + 224, top + 224)))
    assert mean_abs_diff(output[0], expected) <= MAX_MEAN_ABS_DIFF


def test_center_crop_box_maps_torchvision_rounding_back_to_the_source() -> None:
    # 500x375 -> 341x256; the 224 crop starts at round(58.5) = 58 (half to even), 16.
    scale = 375 / 256
    assert spdl.io.crop_box(spdl.io.CenterCrop(224, resize=256), 500, 375) == (
        round(58 * scale),
        round(16 * scale),
        round(224 * scale),
        round(224 * scale),
    )
    assert spdl.io.crop_box(spdl.io.CenterCrop(224, resize=256), 375, 500) == (23, 85, 328, 328)
    assert spdl.io.crop_box(spdl.io.CenterCrop((100, 50)), 301, 200) == (126, 50, 50, 100)
    assert spdl.io.crop_box(spdl.io.CenterCrop(200), 200, 200) == (0, 0, 200, 200)


# RandomResizedCrop: the training transform's box


def torchvision_get_params(
    rng: np.random.Generator, width: int, height: int, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3)
) -> tuple[int, int, int, int]:
    """A NumPy re-implementation of RandomResizedCrop.get_params (the test oracle)."""
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(rng.integers(0, height - h + 1))
            left = int(rng.integers(0, width - w + 1))
            return left, top, w, h
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        w, h = int(round(height * max(ratio))), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def box_statistics(boxes: np.ndarray, width: int, height: int) -> dict[str, float]:
    left, top, w, h = boxes.T.astype(np.float64)
    return {
        "area": float(np.mean(w * h / (width * height))),
        "area_q10": float(np.quantile(w * h / (width * height), 0.1)),
        "area_q90": float(np.quantile(w * h / (width * height), 0.9)),
        "log_aspect": float(np.mean(np.log(w / h))),
        "log_aspect_sd": float(np.std(np.log(w / h))),
        "left": float(np.mean(np.where(w < width, left / np.maximum(width - w, 1), 0.5))),
        "top": float(np.mean(np.where(h < height, top / np.maximum(height - h, 1), 0.5))),
    }


def test_random_resized_crop_is_deterministic_per_seed_and_differs_across_seeds() -> None:
    boxes = [spdl.io.crop_box(spdl.io.RandomResizedCrop(seed), 500, 375) for seed in range(200)]
    again = [spdl.io.crop_box(spdl.io.RandomResizedCrop(seed), 500, 375) for seed in range(200)]
    assert boxes == again
    assert len(set(boxes)) >= 195
    # Seeds are taken modulo 2**64.
    assert spdl.io.crop_box(spdl.io.RandomResizedCrop(-1), 500, 375) == spdl.io.crop_box(
        spdl.io.RandomResizedCrop(2**64 - 1), 500, 375
    )


@pytest.mark.parametrize(("width", "height"), [(500, 375), (375, 500), (64, 64)])
def test_random_resized_crop_boxes_lie_inside_the_image(width: int, height: int) -> None:
    for seed in range(500):
        left, top, w, h = spdl.io.crop_box(spdl.io.RandomResizedCrop(seed), width, height)
        assert 0 <= left and 0 <= top and 0 < w and 0 < h
        assert left + w <= width and top + h <= height


def test_random_resized_crop_distribution_matches_torchvision() -> None:
    width, height = 500, 375
    ours = np.array(
        [spdl.io.crop_box(spdl.io.RandomResizedCrop(seed), width, height) for seed in range(2000)]
    )
    rng = np.random.default_rng(0)
    oracle = np.array([torchvision_get_params(rng, width, height) for _ in range(20000)])
    expected, actual = box_statistics(oracle, width, height), box_statistics(ours, width, height)
    # Tolerances of about four standard errors of 2,000 draws.
    tolerances = {"area": 0.025, "area_q10": 0.03, "area_q90": 0.03, "log_aspect": 0.02,
                  "log_aspect_sd": 0.015, "left": 0.03, "top": 0.03}  # fmt: skip
    for name, tolerance in tolerances.items():
        assert abs(actual[name] - expected[name]) <= tolerance, (name, actual, expected)
    # Every box that fitted keeps its area and aspect ratio in range (up to rounding).
    left, top, w, h = ours.T
    assert np.all(w * h >= 0.08 * width * height * 0.97)
    assert np.all((w / h >= 3 / 4 * 0.97) & (w / h <= 4 / 3 * 1.03))


def test_random_resized_crop_custom_ranges() -> None:
    spec = spdl.io.RandomResizedCrop(seed=0, scale=(0.5, 0.5), ratio=(1.0, 1.0))
    for seed in range(100):
        left, top, w, h = spdl.io.crop_box(dataclasses.replace(spec, seed=seed), 400, 400)
        assert (w, h) == (283, 283)  # round(sqrt(0.5 * 400 * 400))


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(1000, 20, (486, 0, 27, 20)), (20, 1000, (0, 486, 20, 27))],
)
def test_random_resized_crop_falls_back_to_a_clamped_centre_crop(
    width: int, height: int, expected: tuple[int, int, int, int]
) -> None:
    # No random box fits a 1000x20 strip: torchvision's fallback, aspect ratio 4/3.
    for seed in range(50):
        assert spdl.io.crop_box(spdl.io.RandomResizedCrop(seed), width, height) == expected
        rng = np.random.default_rng(seed)
        assert torchvision_get_params(rng, width, height) == expected


def test_random_resized_crop_fallback_decodes(pictures: dict[str, Picture]) -> None:
    picture = pictures["strip"]
    output = load([picture.path], 32, 24, crop=spdl.io.RandomResizedCrop(seed=5))
    expected = pillow_crop(picture.path, (486, 0, 27, 20), (32, 24))
    assert mean_abs_diff(output[0], expected) <= MAX_MEAN_ABS_DIFF


def test_one_random_crop_for_the_batch_seeds_each_image(pictures: dict[str, Picture]) -> None:
    path = pictures["png"].path
    spec = spdl.io.RandomResizedCrop(seed=11)
    batch = load([path] * 4, 64, 48, crop=spec)
    per_image = load([path] * 4, 64, 48, crop=[spec.for_image(i) for i in range(4)])
    np.testing.assert_array_equal(batch, per_image)
    boxes = {spdl.io.crop_box(spec.for_image(i), 500, 375) for i in range(4)}
    assert len(boxes) == 4  # the same image, four different boxes
    assert spec.for_image(2) == spec.for_image(2) != spec


# The batch equals its images loaded one by one


def test_batch_equals_images_loaded_one_by_one(pictures: dict[str, Picture]) -> None:
    kinds = ["jpeg420", "jpeg444", "png", "png_tall", "gray", "progressive", "cmyk"]
    paths = [pictures[kind].path for kind in kinds]
    crops = [
        spdl.io.RandomResizedCrop(seed=1),
        spdl.io.CenterCrop(200, resize=220),
        spdl.io.CropBox(5, 7, 111, 99),
        None,
        spdl.io.RandomResizedCrop(seed=2, scale=(0.2, 0.5)),
        spdl.io.CenterCrop((90, 160)),
        spdl.io.CropBox(0, 0, 320, 240),
    ]
    flips = [True, False, True, False, False, True, True]
    batch = load(paths, 96, 80, crop=crops, hflip=flips)
    assert batch.shape == (len(paths), 80, 96, 3)
    for i, (path, crop, flip) in enumerate(zip(paths, crops, flips, strict=True)):
        single = load([path], 96, 80, crop=crop, hflip=flip)
        np.testing.assert_array_equal(batch[i], single[0], err_msg=str(path))


def test_future_form_takes_crops_and_flips(pictures: dict[str, Picture]) -> None:
    path = pictures["png"].path
    future = batch_load_image_future(
        [path, path], 64, 64, crop=spdl.io.CenterCrop(300), hflip=[False, True]
    )
    output = spdl.io.to_numpy(future.result())
    np.testing.assert_array_equal(output[1], output[0][:, ::-1])
    assert mean_abs_diff(output[0], pillow_crop(path, (100, 38, 300, 300), (64, 64))) <= 2.0


# Sources that are not still-image paths or bytes (decoded whole, then cut)


@pytest.mark.parametrize("kind", ["jpeg420", "jpeg420_odd", "png"])
def test_file_like_sources_are_cropped_like_paths(pictures: dict[str, Picture], kind: str) -> None:
    # A file-like source is decoded whole (in its own format) and cut in the batch
    # step; a path of a known extension is decoded by the native batch (a JPEG only
    # around its box, and at a reduced DCT scale for a small output).
    picture = pictures[kind]
    path = picture.path
    crops = [spdl.io.RandomResizedCrop(seed=4), spdl.io.CropBox(31, 17, 201, 151)]
    flips = [True, False]
    fast = load([path, path], 112, 84, crop=crops, hflip=flips)
    files = [io.BytesIO(path.read_bytes()) for _ in range(2)]
    slow = load(files, 112, 84, crop=crops, hflip=flips)
    if kind == "png":
        np.testing.assert_array_equal(slow, fast)  # the same pixels cut the same way
    else:  # a JPEG shrunk by its DCT on one path, decoded at full size on the other
        assert mean_abs_diff(slow, fast) <= 1.0
    # Boxes kept at their size: the same pixels, the box's edge chroma included.
    boxes = [
        spdl.io.CropBox(2, 0, 60, 40),
        spdl.io.CropBox(31, 17, 60, 40),
        spdl.io.CropBox(picture.width - 60, picture.height - 40, 60, 40),
    ]
    fast = load([path] * 3, 60, 40, crop=boxes, hflip=[True, False, True])
    files = [io.BytesIO(path.read_bytes()) for _ in range(3)]
    np.testing.assert_array_equal(load(files, 60, 40, crop=boxes, hflip=[True, False, True]), fast)
    # One RandomResizedCrop for the batch seeds the images the same way on both paths.
    spec = spdl.io.RandomResizedCrop(seed=9)
    files = [io.BytesIO(path.read_bytes()) for _ in range(3)]
    assert mean_abs_diff(load(files, 64, 64, crop=spec), load([path] * 3, 64, 64, crop=spec)) <= 1


def test_a_flipped_odd_height_jpeg_equals_pillows_mirrored(pictures: dict[str, Picture]) -> None:
    picture = pictures["jpeg420_odd"]
    expected = np.asarray(ImageOps.mirror(Image.open(picture.path).convert("RGB")))
    from_path = load([picture.path], picture.width, picture.height, hflip=True)
    from_file = load(
        [io.BytesIO(picture.path.read_bytes())], picture.width, picture.height, hflip=True
    )
    np.testing.assert_array_equal(from_file, from_path)
    # Pillow's decoder is libjpeg-turbo: the same bytes; FFmpeg's (a build without
    # libjpeg-turbo) rounds its IDCT and colour otherwise, a few levels.
    tolerance = 0 if _native.has_turbojpeg() else 4
    assert np.abs(from_path[0].astype(int) - expected).max() <= tolerance


def test_file_like_sources_keep_their_format_without_pix_fmt(pictures: dict[str, Picture]) -> None:
    data = pictures["png"].path.read_bytes()
    output = load([io.BytesIO(data)], 64, 48, pix_fmt=None, crop=spdl.io.CropBox(1, 1, 64, 48))
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[1:49, 1:65]
    np.testing.assert_array_equal(output[0], expected)


def test_crop_applies_to_the_output_of_a_custom_filter(pictures: dict[str, Picture]) -> None:
    path = pictures["png"].path
    flipped = load(
        [path],
        100,
        50,
        crop=spdl.io.CropBox(10, 20, 200, 100),
        decode_options={"filter_desc": "vflip"},
    )
    # The box of the vertically flipped image is this box of the original, upside down.
    plain = load([path], 100, 50, crop=spdl.io.CropBox(10, 375 - 120, 200, 100))
    np.testing.assert_array_equal(flipped[0, ::-1], plain[0])


def test_bytes_sources_are_cropped_like_paths(pictures: dict[str, Picture]) -> None:
    path = pictures["jpeg420"].path
    crop = spdl.io.CenterCrop(160, resize=200)
    from_bytes = load([path.read_bytes()], 160, 160, crop=crop, hflip=True)
    np.testing.assert_array_equal(from_bytes, load([path], 160, 160, crop=crop, hflip=True))


# Crop-aware JPEG decoding


def decode_with_transforms(paths, width, height, crop, hflip=None, region=True):
    transforms = check_transforms(crop, hflip, len(paths), width, height, "rgb24")
    buffer, errors = decode_image_batch(
        paths, width=width, height=height, transforms=transforms.to_native(), region_decode=region
    )
    assert errors == [None] * len(paths)
    return spdl.io.to_numpy(buffer)


@requires_libjpeg
@pytest.mark.parametrize("kind", ["jpeg420", "jpeg444", "progressive", "gray"])
def test_region_decode_gives_the_pixels_of_a_whole_decode(
    pictures: dict[str, Picture], kind: str
) -> None:
    path = pictures[kind].path
    for seed in range(12):
        crop = spdl.io.RandomResizedCrop(seed)
        region = decode_with_transforms([path], 224, 224, crop, hflip=bool(seed % 2))
        whole = decode_with_transforms([path], 224, 224, crop, hflip=bool(seed % 2), region=False)
        np.testing.assert_array_equal(region, whole, err_msg=f"seed {seed}")


@requires_libjpeg
def test_region_decode_decodes_only_around_the_box(pictures: dict[str, Picture]) -> None:
    path = pictures["jpeg420"].path  # 500x375, 16x16 iMCUs
    before = _native.jpeg_region_counters()
    decode_with_transforms([path], 100, 80, spdl.io.CropBox(300, 200, 100, 80))
    after = _native.jpeg_region_counters()
    assert after["images"] - before["images"] == 1
    assert after["image_pixels"] - before["image_pixels"] == 500 * 375
    # Columns from the iMCU boundary left of the box, rows of the box, one pixel of
    # margin each side: about 116x82 of 500x375.
    decoded = after["decoded_pixels"] - before["decoded_pixels"]
    assert 100 * 80 <= decoded <= 120 * 84

    # Without region decoding the whole image is decoded: the counters stay.
    decode_with_transforms([path], 100, 80, spdl.io.CropBox(300, 200, 100, 80), region=False)
    assert _native.jpeg_region_counters() == after


@requires_libjpeg
def test_region_decode_shrinks_large_boxes_in_the_dct_domain(pictures: dict[str, Picture]) -> None:
    path = pictures["jpeg420"].path
    box = spdl.io.CropBox(8, 8, 480, 360)
    before = _native.jpeg_region_counters()["decoded_pixels"]
    region = decode_with_transforms([path], 60, 45, box)
    decoded = _native.jpeg_region_counters()["decoded_pixels"] - before
    # 4:2:0 chroma keeps the output's resolution at 1/4 scale: about 120x90 pixels.
    assert decoded <= 130 * 95
    whole = decode_with_transforms([path], 60, 45, box, region=False)
    assert mean_abs_diff(region, whole) <= 1.0
    assert mean_abs_diff(region[0], pillow_crop(path, (8, 8, 480, 360), (60, 45))) <= 2.0


@requires_libjpeg
def test_jpeg_libjpeg_cannot_decode_falls_back_to_ffmpeg(pictures: dict[str, Picture]) -> None:
    path = pictures["cmyk"].path
    before = _native.jpeg_region_counters()["images"]
    crop = spdl.io.CropBox(20, 10, 200, 150)
    region = decode_with_transforms([path], 100, 75, crop)
    assert _native.jpeg_region_counters()["images"] == before  # libjpeg refused it
    np.testing.assert_array_equal(
        region, decode_with_transforms([path], 100, 75, crop, region=False)
    )
    assert mean_abs_diff(region[0], pillow_crop(path, (20, 10, 200, 150), (100, 75))) <= 2.0


@requires_libjpeg
def test_corrupt_jpegs_fail_or_fall_back_cleanly(pictures: dict[str, Picture]) -> None:
    data = pictures["jpeg420"].path.read_bytes()
    truncated, headless = data[: len(data) // 2], data[:300]
    crop = spdl.io.CenterCrop(300)
    transforms = check_transforms(crop, True, 2, 64, 64, "rgb24").to_native()
    before = _native.jpeg_region_counters()["images"]
    buffer, errors = decode_image_batch(
        [truncated, headless], width=64, height=64, transforms=transforms
    )
    # libjpeg warns about the truncated file: FFmpeg decodes it instead, as without a crop.
    assert _native.jpeg_region_counters()["images"] == before
    assert errors[0] is None and isinstance(errors[1], spdl.io.MediaError)
    assert buffer.shape == (1, 64, 64, 3)
    # Forced, libjpeg-turbo's own message names the failure.
    buffer, errors = decode_image_batch(
        [truncated, headless],
        width=64,
        height=64,
        transforms=transforms,
        decoder="libjpeg-turbo",
    )
    assert errors[0] is None
    assert "with libjpeg-turbo: " in str(errors[1]) and "<bytes 1>" in str(errors[1])


# Errors


def test_box_outside_the_image_fails_that_image(pictures: dict[str, Picture]) -> None:
    path = pictures["jpeg420"].path
    bad = spdl.io.CropBox(400, 0, 200, 100)
    with pytest.raises(spdl.io.AsyncIOFailure) as info:
        spdl.io.batch_load_image([path], 64, 64, crop=bad)
    message = str(info.value)
    assert str(path) in message
    assert "left=400, top=0, width=200, height=100" in message and "500x375" in message
    # strict=False batches the others.
    good = spdl.io.CropBox(0, 0, 100, 100)
    output = load([path, path], 64, 64, crop=[bad, good], strict=False)
    np.testing.assert_array_equal(output, load([path], 64, 64, crop=good))


def test_box_outside_the_image_of_a_file_like_source_names_it(
    pictures: dict[str, Picture],
) -> None:
    with pictures["png"].path.open("rb") as file:
        with pytest.raises(spdl.io.AsyncIOFailure, match="does not fit in the 500x375 image"):
            spdl.io.batch_load_image([file], 64, 64, crop=spdl.io.CropBox(0, 300, 100, 100))


def test_center_crop_larger_than_the_image_fails_that_image(pictures: dict[str, Picture]) -> None:
    path = pictures["png"].path
    with pytest.raises(spdl.io.AsyncIOFailure, match="centre crop 400x400 is larger"):
        spdl.io.batch_load_image([path], 64, 64, crop=spdl.io.CenterCrop(400))
    with pytest.raises(ValueError, match="does not fit in the 50x50 image"):
        spdl.io.crop_box(spdl.io.CropBox(10, 10, 50, 10), 50, 50)


@pytest.mark.parametrize(
    ("resize", "width", "height", "resized_long"),
    [
        (2**31 - 1, 37, 29, 2739892928),
        (2**31 - 1, 29, 37, 2739892928),
        (30000, 1, 100000, 3 * 10**9),
    ],
)
def test_center_crop_resized_past_an_int_fails_that_image(
    resize: int, width: int, height: int, resized_long: int
) -> None:
    # int(resize * long / short) went to an int unchecked (undefined behaviour; on x86
    # the image was "resized to -2147483648x2147483647").
    crop = spdl.io.CenterCrop(4, resize=resize)
    with pytest.raises(ValueError, match=f"resize={resize} makes the {width}x{height} image "):
        spdl.io.crop_box(crop, width, height)
    with pytest.raises(
        ValueError, match=f" image {resized_long} pixels long, more than 2147483647"
    ):
        spdl.io.crop_box(crop, width, height)


def test_center_crop_resized_up_to_an_int_is_cut() -> None:
    assert spdl.io.crop_box(spdl.io.CenterCrop(4, resize=2**30), 64, 64) == (32, 32, 1, 1)


def test_center_crop_resized_past_an_int_fails_that_image_of_a_batch(
    pictures: dict[str, Picture],
) -> None:
    path = pictures["png"].path  # 500x375: resized to 2863311529x2147483647
    with pytest.raises(spdl.io.AsyncIOFailure, match="2863311529 pixels long"):
        spdl.io.batch_load_image([path], 4, 4, crop=spdl.io.CenterCrop(4, resize=2**31 - 1))


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"crop": [spdl.io.CenterCrop(10)] * 3}, ValueError, "`crop` has 3 entries for 2 sources"),
        ({"hflip": [True]}, ValueError, "`hflip` has 1 entries for 2 sources"),
        ({"crop": "center"}, TypeError, "`crop` must be"),
        ({"crop": [spdl.io.CenterCrop(10), (0, 0, 5, 5)]}, TypeError, r"`crop\[1\]` must be"),
        ({"hflip": "yes"}, TypeError, "`hflip` must be a sequence"),
        ({"hflip": [True, 1]}, TypeError, r"`hflip\[1\]` must be a bool"),
        ({"hflip": True, "pix_fmt": "yuyv422"}, ValueError, "cannot mirror"),
    ],
)
def test_bad_crop_or_flip_arguments_raise_at_call_time(
    pictures: dict[str, Picture], options: dict, error: type, match: str
) -> None:
    paths = [pictures["png"].path] * 2
    with pytest.raises(error, match=match):
        spdl.io.batch_load_image(paths, 32, 32, **options)
    with pytest.raises(error, match=match):
        batch_load_image_future(paths, 32, 32, **options)


def test_crop_needs_width_and_height(pictures: dict[str, Picture]) -> None:
    path = pictures["png"].path
    for width, height in [(None, 32), (32, None), (None, None)]:
        with pytest.raises(ValueError, match="`crop` needs both `width` and `height`"):
            spdl.io.batch_load_image([path], width, height, crop=spdl.io.CenterCrop(10))
    # A flip alone keeps the decoded size.
    assert load([path], None, None, hflip=True).shape == (1, 375, 500, 3)


def _check_flags_taken(path: pathlib.Path, sequences: list, scalars: list) -> None:
    for flips in sequences:
        output = load([path, path], 40, 30, hflip=flips)
        np.testing.assert_array_equal(output[0], output[1][:, ::-1])
    for flip in scalars:
        output = load([path, path], 40, 30, hflip=flip)
        np.testing.assert_array_equal(output[0], load([path], 40, 30)[0][:, ::-1])


def test_flip_sequences_may_be_arrays(pictures: dict[str, Picture]) -> None:
    path = pictures["png"].path
    sequences = [np.array([True, False]), [np.bool_(True), np.bool_(False)]]
    _check_flags_taken(path, sequences, [np.bool_(True)])
    with pytest.raises(TypeError, match=r"`hflip\[0\]` must be a bool, got numpy.int64"):
        load([path, path], 40, 30, hflip=[np.int64(1), True])


def test_flip_flags_may_be_tensors(pictures: dict[str, Picture]) -> None:
    torch = pytest.importorskip("torch")  # not in the image-only test environments
    sequences = [(torch.tensor(True), torch.tensor(False)), torch.tensor([True, False])]
    _check_flags_taken(pictures["png"].path, sequences, [torch.tensor(True)])


def test_numpy_integers_are_taken_as_crop_sizes(pictures: dict[str, Picture]) -> None:
    path = pictures["png"].path
    boxes = [
        (spdl.io.CropBox(10, 20, 40, 30), spdl.io.CropBox(*np.array([10, 20, 40, 30]))),
        (spdl.io.CenterCrop(32, resize=48), spdl.io.CenterCrop(np.int64(32), np.int32(48))),
        (spdl.io.RandomResizedCrop(3), spdl.io.RandomResizedCrop(np.uint64(3))),
    ]
    for plain, numpy in boxes:
        assert plain == numpy
        assert spdl.io.crop_box(numpy, np.int64(320), np.int32(240)) == spdl.io.crop_box(
            plain, 320, 240
        )
        np.testing.assert_array_equal(
            load([path], np.int64(16), np.int64(12), crop=numpy), load([path], 16, 12, crop=plain)
        )


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: spdl.io.CropBox(-1, 0, 10, 10), ValueError, "left must be at least 0"),
        (lambda: spdl.io.CropBox(0, 0, 0, 10), ValueError, "width must be at least 1"),
        (lambda: spdl.io.CropBox(0, 0, 1.5, 10), TypeError, "width must be an int"),
        (lambda: spdl.io.CenterCrop(0), ValueError, "size must be at least 1"),
        (lambda: spdl.io.CenterCrop((1, 2, 3)), TypeError, "size must be an int or"),
        (lambda: spdl.io.CenterCrop(10, resize=0), ValueError, "resize must be at least 1"),
        (lambda: spdl.io.RandomResizedCrop(1.0), TypeError, "seed must be an int"),
        (lambda: spdl.io.RandomResizedCrop(1, scale=(0.5, 0.1)), ValueError, "0 < min <= max"),
        (lambda: spdl.io.RandomResizedCrop(1, ratio=(0, 1)), ValueError, "0 < min <= max"),
        (lambda: spdl.io.RandomResizedCrop(1, ratio=0.5), TypeError, "pair"),
        (lambda: spdl.io.crop_box((0, 0, 1, 1), 10, 10), TypeError, "spec must be"),
        (lambda: spdl.io.crop_box(spdl.io.CenterCrop(1), 0, 10), ValueError, "width"),
    ],
)
def test_bad_specs_raise_when_made(make, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()
