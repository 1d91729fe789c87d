"""Every ``>>>`` example in the docstrings of ``spdl.pipeline`` runs and shows what it says.

(``test_docstring_examples.py`` covers ``spdl.io``.) Each public name of
``spdl.pipeline.__all__`` and its public methods and properties are parsed with
:mod:`doctest` and run in a fresh namespace holding ``spdl``.
"""

from __future__ import annotations

import doctest
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

import spdl.pipeline


def _docstrings() -> Iterator[tuple[str, Any]]:
    for name in spdl.pipeline.__all__:
        obj = getattr(spdl.pipeline, name)
        yield name, obj
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and (callable(member) or isinstance(member, property)):
                    yield f"{name}.{attr}", member


EXAMPLES = [
    pytest.param(test_id, obj, id=test_id)
    for test_id, obj in _docstrings()
    if doctest.DocTestParser().get_examples(inspect.getdoc(obj) or "")
]


def test_the_main_classes_have_examples():
    ids = {param.id for param in EXAMPLES}
    assert {"Pipeline", "PipelineBuilder", "PipelineFailure", "PipelineStats"} <= ids, ids


@pytest.mark.parametrize(("test_id", "obj"), EXAMPLES)
def test_docstring_example_runs(test_id: str, obj: Any):
    test = doctest.DocTestParser().get_doctest(
        inspect.getdoc(obj) or "", {"spdl": spdl}, test_id, None, 0
    )
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False
    )
    output: list[str] = []
    runner.run(test, out=output.append)
    assert runner.failures == 0, "".join(output)
