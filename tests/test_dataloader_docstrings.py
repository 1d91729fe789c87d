"""The ``>>>`` examples in the docstrings of spdl.dataloader's loader, samplers and
source run and show what they say (the media pieces' are in
``test_dataloader_media_docstrings.py``)."""

from __future__ import annotations

import doctest
import inspect

import pytest

import spdl.dataloader

MODULES = {"spdl.dataloader._loader", "spdl.dataloader._sampler", "spdl.dataloader._source"}


def _documented() -> dict[str, object]:
    """Public names of these modules, and their public methods and properties."""
    found = {}
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


def test_every_public_class_has_an_example():
    classes = {name for name, obj in DOCUMENTED.items() if inspect.isclass(obj)}
    assert classes - {"Sampler"} <= set(WITH_EXAMPLES)  # Sampler is a Protocol


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_example_runs(name: str):
    doc = inspect.getdoc(DOCUMENTED[name]) or ""
    test = doctest.DocTestParser().get_doctest(doc, {"spdl": spdl}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
