"""Converting a list of image frames into one (B, ...) batch buffer."""

from __future__ import annotations

import re

import numpy as np
import pytest
from media import IMAGE_KINDS, ImageReference
from reference_decode import IMAGE_LAYOUTS

import spdl.io
from spdl.io._core.convert import convert
from spdl.io._core.decode import decode
from spdl.io._core.demux import demux


def decode_image(path, **options):
    return decode(demux("image", path), **options)


def mentions_number(message: str, number: int) -> bool:
    """Whether ``number`` occurs in ``message`` other than as part of a longer number."""
    return re.search(rf"(?<![0-9]){number}(?![0-9])", message) is not None


@pytest.mark.parametrize("pix_fmt", ["rgb24", "rgba", "yuv444p", "gray", "yuv420p"])
def test_batch_stacks_images_in_order_and_equals_single_loads(
    image_files: dict[str, ImageReference], pix_fmt: str
) -> None:
    options = {"width": 64, "height": 48, "pix_fmt": pix_fmt}
    paths = [image_files[kind].path for kind in IMAGE_KINDS]
    batch = spdl.io.to_numpy(convert([decode_image(path, **options) for path in paths]))
    assert batch.shape == (len(paths), *IMAGE_LAYOUTS[pix_fmt](48, 64))
    assert batch.dtype == np.uint8
    for index, path in enumerate(paths):
        single = spdl.io.to_numpy(spdl.io.load_image(path, **options))
        np.testing.assert_array_equal(batch[index], single, err_msg=str(path))


def test_batch_of_one_image_has_a_leading_axis_of_one(
    image_files: dict[str, ImageReference],
) -> None:
    image = image_files["png"]
    batch = spdl.io.to_numpy(convert([decode_image(image.path)]))
    assert batch.shape == (1, 60, 80, 3)
    np.testing.assert_array_equal(batch[0], image.source_rgb)


def test_batch_may_repeat_the_same_image_at_native_size(
    image_files: dict[str, ImageReference],
) -> None:
    image = image_files["bmp"]
    batch = spdl.io.to_numpy(convert([decode_image(image.path) for _ in range(3)]))
    assert batch.shape == (3, 32, 56, 3)
    for index in range(3):
        np.testing.assert_array_equal(batch[index], image.source_rgb)


def test_mismatched_sizes_raise_value_error_naming_both_sizes(
    image_files: dict[str, ImageReference],
) -> None:
    frames = [decode_image(image_files["jpeg"].path), decode_image(image_files["png"].path)]
    with pytest.raises(ValueError) as excinfo:
        convert(frames)
    message = str(excinfo.value)
    for number in (64, 48, 80, 60):  # 64x48 JPEG vs 80x60 PNG
        assert mentions_number(message, number), message


def test_mismatched_pix_fmts_raise_value_error_naming_both_formats(
    image_files: dict[str, ImageReference],
) -> None:
    path = image_files["png"].path
    frames = [decode_image(path, pix_fmt="rgb24"), decode_image(path, pix_fmt="bgr24")]
    with pytest.raises(ValueError) as excinfo:
        convert(frames)
    message = str(excinfo.value)
    assert "rgb24" in message and "bgr24" in message, message


def test_empty_list_raises_value_error() -> None:
    with pytest.raises(ValueError):
        convert([])


def test_batch_conversion_consumes_every_frame(image_files: dict[str, ImageReference]) -> None:
    path = image_files["png"].path
    frames = [decode_image(path), decode_image(path)]
    convert(frames)
    for consumed in frames:
        with pytest.raises(ValueError):
            convert(consumed)
