"""Pytest plugin: the media files the documentation's examples name.

The examples of the docs site (``test_docs_examples.py``) and of the docstrings
(``test_docstring_examples.py``) run in a temporary working directory holding:

- ``foo.jpg``: a 320x240 JPEG; ``bar.png``: a 200x150 PNG;
- ``clip.mp4``: 3 s of 96x64 H.264 at 30 fps (90 frames);
- ``speech.wav``: 2 s of 16 kHz stereo 16-bit PCM;
- ``images/``: an image folder (``cat/``, ``dog/``, ``fish/``), 8 JPEGs per class,
  between 72 and 120 pixels a side, for the DataLoader guide.

Test modules load it with ``pytest_plugins = ["_example_media"]`` and take the
``in_example_media_dir`` fixture.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator

import numpy as np
import pytest
from media import encode_video, image_bytes, write_tone_wav

import spdl.io

_DEFAULT_EXECUTOR_SIZES = spdl.io.executor_sizes()


def _video_frame(index: int) -> np.ndarray:
    rgb = np.full((64, 96, 3), (index * 2) % 256, dtype=np.uint8)
    rgb[:, : index % 96] = 255
    return rgb


def write_video(path: pathlib.Path) -> None:
    """Writes ``clip.mp4``: 90 frames of 96x64 H.264 at 30 fps."""
    encode_video(path, (_video_frame(index) for index in range(90)), width=96, height=64)


def write_wav(path: pathlib.Path) -> None:
    """Writes ``speech.wav``: 2 s of a 220 Hz tone, 16 kHz stereo pcm_s16le."""
    write_tone_wav(path, rate=16000, num_samples=32000)


def write_image_folder(root: pathlib.Path) -> None:
    """Writes ``images/<class>/<n>.jpg``: 3 classes of 8 JPEGs of varied sizes."""
    rng = np.random.default_rng(1)
    for label, name in enumerate(("cat", "dog", "fish")):
        (root / name).mkdir(parents=True)
        for n in range(8):
            height, width = (int(v) for v in rng.integers(72, 121, 2))
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            pixels[..., label] //= 2
            (root / name / f"{n}.jpg").write_bytes(image_bytes(pixels, "JPEG", quality=90))


def write_example_media(directory: pathlib.Path) -> None:
    """Writes ``foo.jpg``, ``bar.png``, ``clip.mp4``, ``speech.wav`` and ``images/``."""
    rng = np.random.default_rng(0)
    foo = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    (directory / "foo.jpg").write_bytes(image_bytes(foo, "JPEG", quality=90))
    bar = rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)
    (directory / "bar.png").write_bytes(image_bytes(bar, "PNG"))
    write_video(directory / "clip.mp4")
    write_wav(directory / "speech.wav")
    write_image_folder(directory / "images")


@pytest.fixture(scope="session")
def example_media(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A directory holding the example media, written once per session."""
    directory = tmp_path_factory.mktemp("example_media")
    write_example_media(directory)
    return directory


@pytest.fixture
def in_example_media_dir(
    example_media: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[pathlib.Path]:
    """A fresh working directory linking the example media; the pools are reset after."""
    for source in example_media.iterdir():
        os.symlink(source, tmp_path / source.name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    # Examples may resize the shared pools; give the next test the defaults back.
    demux, decode = _DEFAULT_EXECUTOR_SIZES
    spdl.io.set_executor_sizes(demux=demux, decode=decode)
