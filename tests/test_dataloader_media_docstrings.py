"""The ``>>>`` examples in the docstrings of spdl.dataloader's media pieces (ImageFolder,
the image / video / audio loaders, cuda_transfer) run and show what they say, in a
directory holding the documentation's example media (``_example_media.py``) and a
``train/`` image folder (``cat/1.jpg``, ``cat/2.jpg``, ``dog/1.jpg``)."""

from __future__ import annotations

import doctest
import inspect
import pathlib
import shutil

import pytest

import spdl.dataloader
import spdl.io
from spdl.dataloader import _image

pytest_plugins = ["_example_media"]

MODULES = {
    "spdl.dataloader._audio",
    "spdl.dataloader._folder",
    "spdl.dataloader._image",
    "spdl.dataloader._transfer",
    "spdl.dataloader._video",
}


def _documented() -> dict[str, object]:
    """Public names of these modules, their public methods, and ``sample_seed``."""
    found: dict[str, object] = {"sample_seed": _image.sample_seed}
    for name in spdl.dataloader.__all__:
        obj = getattr(spdl.dataloader, name)
        if obj.__module__ not in MODULES:
            continue
        found[name] = obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and (callable(member) or isinstance(member, property)):
                    found[f"{name}.{attr}"] = member
    return found


DOCUMENTED = _documented()
WITH_EXAMPLES = sorted(
    name
    for name, obj in DOCUMENTED.items()
    if doctest.DocTestParser().get_examples(inspect.getdoc(obj) or "")
)


def test_every_media_piece_has_an_example():
    expected = {
        "AudioClipLoader",
        "AudioClipLoader.load_clip",
        "ImageBatchLoader",
        "ImageFolder",
        "VideoClipLoader",
        "VideoClipLoader.load_clip",
        "cuda_transfer",
    }
    assert expected <= set(WITH_EXAMPLES)


@pytest.fixture
def in_media_dir(in_example_media_dir: pathlib.Path) -> pathlib.Path:
    for name in ("cat/1.jpg", "cat/2.jpg", "dog/1.jpg"):
        path = in_example_media_dir / "train" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(in_example_media_dir / "foo.jpg", path)
    return in_example_media_dir


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_example_runs(name: str, in_media_dir: pathlib.Path):
    doc = inspect.getdoc(DOCUMENTED[name]) or ""
    test = doctest.DocTestParser().get_doctest(doc, {"spdl": spdl}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
