"""Every Python example of the documentation site (docs/*.md) runs as written.

A fenced ```` ```python ```` block must be preceded by the line ``<!-- runnable -->``;
this test runs each such block in a fresh namespace, in a temporary working
directory that holds the media the examples name:

- ``foo.jpg``: a 320x240 JPEG; ``bar.png``: a 200x150 PNG;
- ``clip.mp4``: 3 s of 96x64 H.264 at 30 fps (90 frames);
- ``speech.wav``: 2 s of 16 kHz stereo 16-bit PCM.

The examples assert their own shapes. Blocks with a top-level ``await`` are
compiled as coroutines and run with ``asyncio.run``.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import pathlib
import re
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

import spdl.io

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
MARKER = "<!-- runnable -->"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def _python_blocks(page: pathlib.Path) -> list[tuple[int, bool, str]]:
    """Returns ``(line, runnable, code)`` for every ```python block of ``page``."""
    text = page.read_text()
    blocks = []
    for match in FENCE.finditer(text):
        preceding = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        line = text.count("\n", 0, match.start()) + 1
        blocks.append((line, preceding == MARKER, match.group(1)))
    return blocks


PAGES = sorted(DOCS.glob("*.md"))
EXAMPLES = [
    pytest.param(page, line, code, id=f"{page.name}:{line}")
    for page in PAGES
    for line, runnable, code in _python_blocks(page)
    if runnable
]


def _write_video(path: pathlib.Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for index in range(90):
            rgb = np.full((64, 96, 3), (index * 2) % 256, dtype=np.uint8)
            rgb[:, : index % 96] = 255
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _write_wav(path: pathlib.Path) -> None:
    sample_rate, num_samples = 16000, 32000
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=sample_rate, layout="stereo")
        t = np.arange(num_samples) / sample_rate
        wave = (8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
        samples = np.ascontiguousarray(np.stack([wave, wave], axis=-1).reshape(1, -1))
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = sample_rate, 0
        frame.time_base = Fraction(1, sample_rate)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


@pytest.fixture(scope="module")
def example_media(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    directory = tmp_path_factory.mktemp("docs_media")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(
        directory / "foo.jpg", quality=90
    )
    Image.fromarray(rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)).save(directory / "bar.png")
    _write_video(directory / "clip.mp4")
    _write_wav(directory / "speech.wav")
    return directory


@pytest.fixture
def in_media_dir(
    example_media: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> pathlib.Path:
    for source in example_media.iterdir():
        os.symlink(source, tmp_path / source.name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    # Examples may resize the shared pools; give the next test the defaults back.
    spdl.io.set_executor_sizes(demux=_DEFAULT_SIZES[0], decode=_DEFAULT_SIZES[1])


_DEFAULT_SIZES = spdl.io.executor_sizes()


def test_docs_have_python_examples():
    assert len(EXAMPLES) >= 15, [p.id for p in EXAMPLES]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_python_block_is_marked_runnable(page: pathlib.Path):
    unmarked = [line for line, runnable, _ in _python_blocks(page) if not runnable]
    assert not unmarked, f"{page.name}: ```python blocks at lines {unmarked} lack {MARKER}"


@pytest.mark.parametrize(("page", "line", "code"), EXAMPLES)
def test_docs_example_runs(page: pathlib.Path, line: int, code: str, in_media_dir: pathlib.Path):
    compiled = compile(code, f"{page.name}:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, object] = {"__name__": "__docs_example__"}
    result = eval(compiled, namespace)  # noqa: S307 - the docs' own examples
    if inspect.iscoroutine(result):
        asyncio.run(result)


def test_api_reference_lists_every_public_name():
    text = (DOCS / "api.md").read_text()
    listed = set(re.findall(r"^\s+- (\w+)$", text, re.MULTILINE))
    assert set(spdl.io.__all__) <= listed, sorted(set(spdl.io.__all__) - listed)


@pytest.mark.parametrize("name", spdl.io.__all__)
def test_public_name_has_docstring(name: str):
    assert inspect.getdoc(getattr(spdl.io, name)), f"spdl.io.{name} has no docstring"
