"""The media every workload reads, generated deterministically into ``benchmarks/data/``.

* W1/W5: 256 ImageNet-like JPEGs (about 500×375, a few portrait ones, quality 90):
  smooth colour gradients, large filled shapes, hundreds of small blobs, a mild blur
  and sensor-like noise: about 85 KB a file, close to ImageNet's average.
* W1 per format: the first 96 of those pictures encoded (from their pixels, not from
  the JPEGs) as progressive JPEG (quality 90, 4:2:0), PNG (Pillow's default
  compression), lossy WebP (quality 90) and lossless WebP (Pillow's defaults).
* D1: an ImageNet-like image folder, ``imagefolder_q90/class_KK/NNNNN.jpg``: 2,000
  JPEGs (quality 90, 4:2:0) in 10 class folders (image ``i`` in class ``i % 10``),
  in ImageNet's common sizes (500×375, 375×500, 500×333, 400×400, 640×480 …) and
  with the amount of detail and noise drawn per image: 54–136 KB a file, 84 KB on
  average.
* W2/W3: a 10 s 1280×720 30 fps H.264 (yuv420p, x264 ``medium``) clip with a
  keyframe every 2 s, the GOP of typical web video. Its pixels are those of
  :func:`moving_frame`: a panning textured scene with a moving square.
* W4: 60 s of 44.1 kHz stereo AAC (128 kb/s) in an ``.m4a`` container: two
  gliding tones, a slow beat and quiet noise.

Each file is a pure function of its parameters (every random draw is seeded) and
is written under a temporary name and renamed into place, so an interrupted run
never leaves a truncated file for the next one to reuse. The encoders are those of
``tests/media.py``, the repository's one media generator; this module picks the
benchmark sizes and the pictures and sounds to encode.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))
from media import encode_audio, encode_video  # noqa: E402

DATA_DIR = Path(__file__).resolve().parent / "data"

# (width, height) of the generated JPEGs, drawn per image: ImageNet's common sizes.
IMAGE_SIZES = ((500, 375), (500, 375), (500, 375), (500, 333), (500, 400), (375, 500))
# The D1 image folder's sizes (drawn per image; landscape 500x375 is the most common).
FOLDER_IMAGE_SIZES = (
    (500, 375), (500, 375), (500, 375), (500, 375), (375, 500), (375, 500), (500, 333),
    (333, 500), (500, 400), (400, 400), (500, 500), (450, 300), (640, 480),
)  # fmt: skip
FOLDER_CLASSES = 10


@functools.lru_cache(maxsize=4)
def _scene(width: int, height: int, seed: int) -> np.ndarray:
    """A seeded noise texture over colour gradients, ``(H, W, 3)`` uint8."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 64, size=(height, width, 3), dtype=np.uint8)
    rows = np.linspace(0, 191, height, dtype=np.float32)[:, None]
    cols = np.linspace(0, 191, width, dtype=np.float32)[None, :]
    red, green = np.broadcast_arrays(rows, cols)
    gradient = np.stack([red, green, (red + green) / 2], axis=-1).astype(np.uint8)
    return gradient + texture


def moving_frame(index: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """Returns frame ``index`` of a moving scene as an ``(H, W, 3)`` uint8 array.

    The textured scene pans 6 px per frame and a bright square crosses it, so the
    encoder sees real motion and detail.
    """
    frame = np.roll(_scene(width, height, seed), shift=6 * index, axis=1)
    side = height // 5
    top = 5 * index % (height - side)
    left = 12 * index % (width - side)
    frame[top : top + side, left : left + side] = (250, 240, 40)
    return frame


@dataclass(frozen=True)
class ClipSpec:
    """A generated H.264 clip."""

    width: int = 1280
    height: int = 720
    seconds: int = 10
    fps: int = 30
    gop: int = 60
    preset: str = "medium"

    @property
    def num_frames(self) -> int:
        return self.seconds * self.fps

    @property
    def filename(self) -> str:
        return (
            f"clip_h264_{self.preset}_{self.width}x{self.height}_{self.fps}fps_"
            f"{self.seconds}s_gop{self.gop}.mp4"
        )


@dataclass(frozen=True)
class AudioSpec:
    """A generated AAC track."""

    seconds: int = 60
    sample_rate: int = 44100
    num_channels: int = 2
    bit_rate: int = 128_000

    @property
    def filename(self) -> str:
        return f"audio_aac_{self.sample_rate}hz_{self.num_channels}ch_{self.seconds}s.m4a"


def _write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial{path.suffix}")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def natural_image(index: int) -> Image.Image:
    """Image ``index`` of the W1 JPEG set: gradients, shapes, blur and noise (RGB)."""
    rng = np.random.default_rng(1000 + index)
    width, height = IMAGE_SIZES[int(rng.integers(len(IMAGE_SIZES)))]
    return _paint(rng, width, height, blobs=600, noise=7.0)


def _paint(
    rng: np.random.Generator, width: int, height: int, *, blobs: int, noise: float
) -> Image.Image:
    """A photo-like RGB image: a smooth background, large shapes, ``blobs`` small
    blobs, a mild blur and Gaussian noise of standard deviation ``noise``."""
    # Smooth background: a bilinear blend of four random corner colours.
    corners = rng.uniform(0, 255, size=(2, 2, 3)).astype(np.float32)
    ys = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    xs = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    top = corners[0, 0] * (1 - xs) + corners[0, 1] * xs
    bottom = corners[1, 0] * (1 - xs) + corners[1, 1] * xs
    background = top * (1 - ys) + bottom * ys
    image = Image.fromarray(background.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(6, 14))):
        x0, x1 = sorted(rng.integers(-width // 4, width + width // 4, size=2).tolist())
        y0, y1 = sorted(rng.integers(-height // 4, height + height // 4, size=2).tolist())
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        kind = int(rng.integers(3))
        if kind == 0:
            draw.ellipse((x0, y0, x1 + 1, y1 + 1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            points = [
                (int(x), int(y))
                for x, y in zip(
                    rng.integers(0, width, size=5), rng.integers(0, height, size=5), strict=True
                )
            ]
            draw.polygon(points, fill=colour)
    # Many small blobs stand in for the fine detail (foliage, fur, text) of photos.
    for _ in range(blobs):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        radius = int(rng.integers(2, 16))
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(radius=0.7))
    grain = rng.normal(0.0, noise, size=(height, width, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + grain, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def ensure_images(count: int = 256, data_dir: Path = DATA_DIR) -> list[Path]:
    """Returns the paths of ``count`` JPEGs (quality 90), generating missing ones."""
    folder = data_dir / "images_q90"
    paths = []
    for index in range(count):
        path = folder / f"{index:05d}.jpg"
        _write_atomically(path, lambda p, i=index: natural_image(i).save(p, "JPEG", quality=90))
        paths.append(path)
    return paths


# W1's formats: (folder, file extension, Pillow format, Pillow save options).
IMAGE_FORMATS: dict[str, tuple[str, str, str, dict]] = {
    "jpeg-progressive": ("images_q90_prog", "jpg", "JPEG", {"quality": 90, "progressive": True}),
    "png": ("images_png", "png", "PNG", {}),
    "webp-lossy": ("images_webp_q90", "webp", "WEBP", {"quality": 90}),
    "webp-lossless": ("images_webp_lossless", "webp", "WEBP", {"lossless": True}),
}  # fmt: skip


def ensure_format_images(fmt: str, count: int = 96, data_dir: Path = DATA_DIR) -> list[Path]:
    """Returns the paths of the first ``count`` W1 pictures in format ``fmt`` (a key of
    :data:`IMAGE_FORMATS`), generating missing ones."""
    folder, extension, pil_format, options = IMAGE_FORMATS[fmt]
    paths = []
    for index in range(count):
        path = data_dir / folder / f"{index:05d}.{extension}"
        _write_atomically(path, lambda p, i=index: natural_image(i).save(p, pil_format, **options))
        paths.append(path)
    return paths


def folder_image(index: int) -> Image.Image:
    """Image ``index`` of the D1 image folder: its size, detail and noise drawn per image."""
    rng = np.random.default_rng(50_000 + index)
    width, height = FOLDER_IMAGE_SIZES[int(rng.integers(len(FOLDER_IMAGE_SIZES)))]
    blobs = int(rng.integers(200, 1200))
    noise = float(rng.uniform(3.0, 10.0))
    return _paint(rng, width, height, blobs=blobs, noise=noise)


def image_folder_root(data_dir: Path = DATA_DIR) -> Path:
    """The root of the D1 image folder (class sub-folders, like ImageNet's train split)."""
    return data_dir / "imagefolder_q90"


def folder_image_path(index: int, data_dir: Path = DATA_DIR) -> Path:
    """Where image ``index`` of the D1 folder lives: ``class_KK/NNNNN.jpg``, K = index % 10."""
    return image_folder_root(data_dir) / f"class_{index % FOLDER_CLASSES:02d}" / f"{index:05d}.jpg"


def ensure_image_folder(count: int = 2000, data_dir: Path = DATA_DIR) -> Path:
    """Generates the first ``count`` images of the D1 folder (missing ones only); returns
    its root. A folder generated for a larger count also holds these, under the same names."""
    for index in range(count):
        _write_atomically(
            folder_image_path(index, data_dir),
            lambda p, i=index: folder_image(i).save(p, "JPEG", quality=90, subsampling="4:2:0"),
        )
    return image_folder_root(data_dir)


def _write_clip(path: Path, spec: ClipSpec) -> None:
    encode_video(
        path,
        (moving_frame(index, spec.width, spec.height) for index in range(spec.num_frames)),
        width=spec.width,
        height=spec.height,
        frame_rate=spec.fps,
        gop_size=spec.gop,
        options={
            "preset": spec.preset,
            "x264-params": f"keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0",
        },
        container_format="mp4",
    )


def ensure_clip(spec: ClipSpec | None = None, data_dir: Path = DATA_DIR) -> Path:
    """Returns the path of the H.264 clip for ``spec``, generating it on first use."""
    spec = spec or ClipSpec()
    return _write_atomically(data_dir / spec.filename, lambda p: _write_clip(p, spec))


def audio_signal(spec: AudioSpec) -> np.ndarray:
    """The track's samples, ``(channels, samples)`` float32 in [-1, 1]."""
    rng = np.random.default_rng(7)
    t = np.arange(spec.seconds * spec.sample_rate, dtype=np.float64) / spec.sample_rate
    channels = []
    for channel in range(spec.num_channels):
        base = 220.0 * (channel + 1)
        glide = base * (1.0 + 0.5 * np.sin(2 * np.pi * t / 17.0))
        phase = 2 * np.pi * np.cumsum(glide) / spec.sample_rate
        beat = 0.5 + 0.5 * np.sin(2 * np.pi * 2.0 * t) ** 8
        tone = 0.3 * np.sin(phase) * beat + 0.1 * np.sin(3 * phase)
        channels.append(tone + 0.02 * rng.standard_normal(t.shape))
    return np.clip(np.stack(channels), -1.0, 1.0).astype(np.float32)


def _write_audio(path: Path, spec: AudioSpec) -> None:
    encode_audio(
        path,
        audio_signal(spec),
        rate=spec.sample_rate,
        bit_rate=spec.bit_rate,
        container_format="mp4",
    )


def ensure_audio(spec: AudioSpec | None = None, data_dir: Path = DATA_DIR) -> Path:
    """Returns the path of the AAC track for ``spec``, generating it on first use."""
    spec = spec or AudioSpec()
    return _write_atomically(data_dir / spec.filename, lambda p: _write_audio(p, spec))


def ensure_all(data_dir: Path = DATA_DIR) -> None:
    """Generates every workload's media (a no-op for files already there)."""
    ensure_images(data_dir=data_dir)
    for fmt in IMAGE_FORMATS:
        ensure_format_images(fmt, data_dir=data_dir)
    ensure_image_folder(data_dir=data_dir)
    ensure_clip(data_dir=data_dir)
    ensure_audio(data_dir=data_dir)


if __name__ == "__main__":
    ensure_all()
