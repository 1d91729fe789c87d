"""The JPEG fast path: libjpeg-turbo decodes JPEG images, DCT-scaled when resized.

libjpeg-turbo hands over frames in FFmpeg's own layout (yuvj4xxp / gray), so every
decode path gives the same pixels; JPEG flavours it cannot decode, and corrupt
files, go to FFmpeg's decoder as if the fast path did not exist.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import pytest
from media import ffmpeg_image_bytes, image_bytes, smooth_rgb
from PIL import Image
from reference_decode import mean_abs_diff, pyav_decode_image

import spdl.io
from spdl import _native
from spdl.io._core.convert import convert
from spdl.io._core.decode import decode, decode_image_batch
from spdl.io._core.demux import demux

# As in test_image_decoding.py: rounding of lossy decodes and of two FFmpeg builds.
MAX_MEAN_ABS_DIFF = 3.0

requires_turbojpeg = pytest.mark.skipif(
    not _native.has_turbojpeg(), reason="this build has no libjpeg-turbo"
)


@dataclasses.dataclass(frozen=True)
class Jpeg:
    path: pathlib.Path
    width: int
    height: int
    ffmpeg_pix_fmt: str  # what FFmpeg's mjpeg decoder outputs for it


def natural_rgb(width: int, height: int, seed: int) -> np.ndarray:
    """Smooth gradients plus sensor-like noise: JPEG's entropy coder has work to do."""
    noise = np.random.default_rng(seed).normal(0.0, 6.0, size=(height, width, 3))
    return np.clip(smooth_rgb(width, height, seed / 3) + noise, 0, 255).astype(np.uint8)


def _encode_pillow(rgb: np.ndarray, mode: str = "RGB", **options) -> bytes:
    return image_bytes(Image.fromarray(rgb).convert(mode), "JPEG", quality=90, **options)


def _encode_lossless(rgb: np.ndarray) -> bytes:
    """A lossless JPEG (SOF3), which libjpeg-turbo 2.x cannot decode and FFmpeg can."""
    return ffmpeg_image_bytes("ljpeg", rgb, "bgr24")


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Jpeg]:
    """Decodable JPEGs of every flavour the fast path takes, keyed by kind."""
    directory = tmp_path_factory.mktemp("jpeg_fast_path")
    specs = {
        # kind: (width, height, Pillow mode, save options, FFmpeg's pix_fmt)
        "420": (333, 250, "RGB", {"subsampling": "4:2:0"}, "yuvj420p"),  # odd width
        "422": (320, 240, "RGB", {"subsampling": "4:2:2"}, "yuvj422p"),
        "444": (320, 240, "RGB", {"subsampling": "4:4:4"}, "yuvj444p"),
        "gray": (320, 240, "L", {}, "gray"),
        "progressive": (320, 240, "RGB", {"progressive": True}, "yuvj420p"),
        "large": (1024, 768, "RGB", {}, "yuvj420p"),  # DCT-scaled when resized
        "medium": (600, 450, "RGB", {}, "yuvj420p"),
    }
    images = {}
    for seed, (kind, (width, height, mode, options, pix_fmt)) in enumerate(specs.items()):
        path = directory / f"{kind}.jpg"
        path.write_bytes(_encode_pillow(natural_rgb(width, height, seed), mode, **options))
        images[kind] = Jpeg(path, width, height, pix_fmt)
    return images


@pytest.fixture(scope="module")
def unusual_jpegs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """JPEGs the fast path hands to FFmpeg: CMYK, lossless, truncated."""
    directory = tmp_path_factory.mktemp("jpeg_unusual")
    rgb = natural_rgb(96, 64, seed=7)
    full = _encode_pillow(natural_rgb(640, 480, seed=8))
    data = {
        "cmyk": _encode_pillow(rgb, "CMYK"),
        "lossless": _encode_lossless(rgb),
        "truncated": full[: len(full) * 6 // 10],
    }
    paths = {}
    for kind, payload in data.items():
        paths[kind] = directory / f"{kind}.jpg"
        paths[kind].write_bytes(payload)
    return paths


def load(path: pathlib.Path, **options) -> np.ndarray:
    return spdl.io.to_numpy(spdl.io.load_image(path, **options))


def decoded_pix_fmt(path: pathlib.Path, **options) -> str:
    return decode(demux("image", path), pix_fmt=None, **options).pix_fmt


@pytest.mark.parametrize("kind", ["420", "422", "444", "gray", "progressive"])
def test_each_subsampling_decodes_in_ffmpegs_pixel_format_and_shape(
    jpegs: dict[str, Jpeg], kind: str
) -> None:
    image = jpegs[kind]
    assert decoded_pix_fmt(image.path) == image.ffmpeg_pix_fmt
    assert decoded_pix_fmt(image.path, decoder="mjpeg") == image.ffmpeg_pix_fmt
    array = load(image.path)
    assert array.shape == (image.height, image.width, 3)
    assert array.dtype == np.uint8


@pytest.mark.parametrize("kind", ["420", "422", "444", "gray", "progressive", "large"])
def test_full_size_values_match_pyav_decode(jpegs: dict[str, Jpeg], kind: str) -> None:
    image = jpegs[kind]
    expected = pyav_decode_image(image.path, "rgb24")
    assert mean_abs_diff(load(image.path), expected) <= MAX_MEAN_ABS_DIFF


@pytest.mark.parametrize("size", [(224, 224), (200, 150), (96, 72)])
@pytest.mark.parametrize("kind", ["large", "gray"])
def test_dct_scaled_decode_matches_full_size_decode_and_resize(
    jpegs: dict[str, Jpeg], kind: str, size: tuple[int, int]
) -> None:
    image = jpegs[kind]
    width, height = size
    actual = load(image.path, width=width, height=height)
    assert actual.shape == (height, width, 3)
    expected = pyav_decode_image(image.path, "rgb24", width, height)
    assert mean_abs_diff(actual, expected) <= MAX_MEAN_ABS_DIFF
    full_size_decode = load(image.path, width=width, height=height, decoder="mjpeg")
    assert mean_abs_diff(actual, full_size_decode) <= MAX_MEAN_ABS_DIFF


def test_decode_size_is_the_smallest_halving_that_still_covers_the_output() -> None:
    def decode_size(*args: int) -> tuple[int, int]:
        return _native.turbojpeg_decode_size(*args, pix_fmt="gray")

    assert decode_size(1024, 768, 224, 224) == (512, 384)  # 1/4 would be 192 rows < 224
    assert decode_size(1024, 768, 200, 150) == (256, 192)
    assert decode_size(1024, 768, 96, 72) == (128, 96)
    assert decode_size(1024, 768, 100, 96) == (128, 96)  # 1/8, rounded up
    assert decode_size(1024, 768, 129, 96) == (256, 192)
    # Never a scaled decode that would then be upscaled; the full size instead.
    assert decode_size(500, 375, 224, 224) == (500, 375)  # 1/2 is 188 rows < 224
    assert decode_size(100, 80, 200, 200) == (100, 80)
    # No requested size, no scaling.
    assert decode_size(1024, 768, 0, 0) == (1024, 768)


def test_decode_size_keeps_subsampled_chroma_at_the_output_resolution() -> None:
    decode_size = _native.turbojpeg_decode_size
    for pix_fmt in ("gray", "yuvj444p"):
        assert decode_size(1024, 768, 200, 150, pix_fmt) == (256, 192)
    # 4:2:2 halves the chroma width, 4:2:0 both sides: one halving less.
    assert decode_size(1024, 768, 200, 150, "yuvj422p") == (512, 384)
    assert decode_size(1024, 768, 96, 72, "yuvj422p") == (256, 192)
    assert decode_size(1024, 768, 200, 150, "yuvj420p") == (512, 384)
    assert decode_size(1024, 768, 96, 72, "yuvj420p") == (256, 192)
    assert decode_size(1024, 768, 224, 224, "yuvj420p") == (1024, 768)
    assert decode_size(64, 48, 32, 24, "yuvj420p") == (64, 48)


def test_decode_size_keeps_the_derived_side_when_only_one_side_is_given() -> None:
    decode_size = _native.turbojpeg_decode_size
    # width 224 of 1024x768 derives a height of 168, which 256x192 derives as well.
    assert decode_size(1024, 768, 224, 0, "gray") == (256, 192)
    assert decode_size(1024, 768, 0, 168, "gray") == (256, 192)
    assert decode_size(1024, 768, 224, 0, "yuvj420p") == (512, 384)
    # 600x450 at width 121 derives 90 rows; 1/4 (150x113) would derive 92, so the
    # half-size decode (300x225, deriving 90) is used.
    assert decode_size(600, 450, 121, 0, "gray") == (300, 225)


@pytest.mark.parametrize("options", [{"width": 224}, {"height": 100}, {"width": 121}])
def test_one_sided_resize_gives_the_same_shape_as_ffmpeg(
    jpegs: dict[str, Jpeg], options: dict[str, int]
) -> None:
    for image in jpegs.values():
        actual = load(image.path, **options)
        reference = load(image.path, decoder="mjpeg", **options)
        assert actual.shape == reference.shape, image.path
        assert mean_abs_diff(actual, reference) <= MAX_MEAN_ABS_DIFF


@requires_turbojpeg
def test_ffmpeg_decoder_name_turns_the_fast_path_off(jpegs: dict[str, Jpeg]) -> None:
    path = jpegs["420"].path
    fast = load(path)
    ffmpeg = load(path, decoder="mjpeg")
    # Two different inverse DCTs and chroma interpolations: close, not bit-identical.
    assert not np.array_equal(fast, ffmpeg)
    assert mean_abs_diff(fast, ffmpeg) <= 1.5
    np.testing.assert_array_equal(load(path, decoder="libjpeg-turbo"), fast)


@requires_turbojpeg
def test_decoder_options_select_ffmpegs_decoder(jpegs: dict[str, Jpeg]) -> None:
    # FFmpeg's decoder validates its options, so the fast path did not take the image.
    with pytest.raises(ValueError, match="no_such_option"):
        load(jpegs["420"].path, decoder_options={"no_such_option": "1"})


@requires_turbojpeg
def test_forced_libjpeg_turbo_rejects_other_codecs_and_decoder_options(
    jpegs: dict[str, Jpeg], tmp_path: pathlib.Path
) -> None:
    png = tmp_path / "image.png"
    Image.fromarray(natural_rgb(32, 24, seed=1)).save(png)
    with pytest.raises(ValueError, match="libjpeg-turbo"):
        load(png, decoder="libjpeg-turbo")
    with pytest.raises(ValueError, match="libjpeg-turbo"):
        load(jpegs["420"].path, decoder="libjpeg-turbo", decoder_options={"x": "1"})


def test_forced_libjpeg_turbo_misuse_is_a_value_error_at_call_time(
    jpegs: dict[str, Jpeg],
) -> None:
    packets = demux("image", jpegs["420"].path)
    with pytest.raises(ValueError, match="libjpeg-turbo"):
        spdl.io.decode_packets(packets, decoder="libjpeg-turbo", decoder_options={"x": "1"})
    with pytest.raises(ValueError, match="libjpeg-turbo"):
        spdl.io.load_audio(jpegs["420"].path, decoder="libjpeg-turbo")


@pytest.mark.skipif(_native.has_turbojpeg(), reason="this build has libjpeg-turbo")
def test_forced_libjpeg_turbo_without_it_is_a_value_error(jpegs: dict[str, Jpeg]) -> None:
    with pytest.raises(ValueError, match="libjpeg-turbo"):
        load(jpegs["420"].path, decoder="libjpeg-turbo")


@pytest.mark.parametrize("kind", ["lossless"])  # CMYK: test_image_formats.py
def test_unsupported_jpeg_types_fall_back_to_ffmpeg(
    unusual_jpegs: dict[str, pathlib.Path], kind: str
) -> None:
    path = unusual_jpegs[kind]
    # FFmpeg decodes both; the fallback gives exactly FFmpeg's result.
    np.testing.assert_array_equal(load(path), load(path, decoder="mjpeg"))
    buffer, errors = decode_image_batch([path, path], width=48, height=32, num_threads=2)
    assert errors == [None, None]
    np.testing.assert_array_equal(
        spdl.io.to_numpy(buffer)[1], load(path, decoder="mjpeg", width=48, height=32)
    )
    if _native.has_turbojpeg():
        with pytest.raises(spdl.io.MediaError, match="libjpeg-turbo") as excinfo:
            load(path, decoder="libjpeg-turbo")
        assert str(path) in str(excinfo.value)


def test_truncated_jpeg_behaves_as_with_ffmpeg_alone(
    unusual_jpegs: dict[str, pathlib.Path],
) -> None:
    path = unusual_jpegs["truncated"]
    outcomes = []
    for options in ({}, {"decoder": "mjpeg"}):
        try:
            outcomes.append(load(path, **options))
        except spdl.io.MediaError as e:
            outcomes.append(type(e))
    if isinstance(outcomes[0], np.ndarray):
        assert outcomes[0].shape == (480, 640, 3)
        np.testing.assert_array_equal(outcomes[0], outcomes[1])
    else:
        assert outcomes == [spdl.io.MediaError, spdl.io.MediaError]
    buffer, errors = decode_image_batch([path], width=64, height=48)
    assert (buffer is None) == (errors[0] is not None)


@requires_turbojpeg
def test_truncated_jpeg_with_forced_libjpeg_turbo_decodes_what_is_there(
    unusual_jpegs: dict[str, pathlib.Path],
) -> None:
    # libjpeg-turbo warns ("premature end of data") and fills the rest with gray.
    array = load(unusual_jpegs["truncated"], decoder="libjpeg-turbo")
    assert array.shape == (480, 640, 3)
    assert np.all(array[-1] == 128)


@pytest.mark.parametrize("decoder", [None, "libjpeg-turbo"])
def test_corrupt_jpeg_raises_media_error_naming_the_file(
    jpegs: dict[str, Jpeg], tmp_path: pathlib.Path, decoder: str | None
) -> None:
    if decoder and not _native.has_turbojpeg():
        pytest.skip("this build has no libjpeg-turbo")
    head = jpegs["420"].path.read_bytes()[:200]
    noise = np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(head + noise)
    with pytest.raises(spdl.io.MediaError) as excinfo:
        load(path, **({"decoder": decoder} if decoder else {}))
    assert str(path) in str(excinfo.value)
    _, errors = decode_image_batch([path], width=64, height=48)
    assert isinstance(errors[0], spdl.io.MediaError)


@pytest.mark.parametrize("size", [(160, 120), (96, 72)])
def test_batch_equals_single_loads_and_decoded_frames(
    jpegs: dict[str, Jpeg], size: tuple[int, int]
) -> None:
    width, height = size
    paths = [image.path for image in jpegs.values()]
    buffer, errors = decode_image_batch(paths, width=width, height=height, num_threads=2)
    assert errors == [None] * len(paths)
    batch = spdl.io.to_numpy(buffer)
    frames = [decode(demux("image", path), width=width, height=height) for path in paths]
    converted = spdl.io.to_numpy(convert(frames))
    for index, path in enumerate(paths):
        single = load(path, width=width, height=height)
        np.testing.assert_array_equal(batch[index], single, err_msg=str(path))
        np.testing.assert_array_equal(converted[index], single, err_msg=str(path))


def test_batch_from_bytes_equals_batch_from_paths_on_any_thread_count(
    jpegs: dict[str, Jpeg],
) -> None:
    paths = [image.path for image in jpegs.values()] * 3
    results = []
    for num_threads, srcs in ((1, paths), (2, [path.read_bytes() for path in paths])):
        buffer, errors = decode_image_batch(srcs, width=128, height=96, num_threads=num_threads)
        assert errors == [None] * len(paths)
        results.append(spdl.io.to_numpy(buffer))
    np.testing.assert_array_equal(results[0], results[1])
