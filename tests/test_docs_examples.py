"""Every Python example of the documentation site (docs/*.md) runs as written.

A fenced ```` ```python ```` block must be preceded by the line ``<!-- runnable -->``;
this test runs each such block in a fresh namespace, in a temporary working
directory that holds the media the examples name (``foo.jpg``, ``bar.png``,
``clip.mp4``, ``speech.wav``; see ``_example_media.py``).

The examples assert their own shapes. Blocks with a top-level ``await`` are
compiled as coroutines and run with ``asyncio.run``.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import pathlib
import re

import pytest

import spdl.io

pytest_plugins = ["_example_media"]

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


def test_docs_have_python_examples():
    assert len(EXAMPLES) >= 15, [p.id for p in EXAMPLES]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_python_block_is_marked_runnable(page: pathlib.Path):
    unmarked = [line for line, runnable, _ in _python_blocks(page) if not runnable]
    assert not unmarked, f"{page.name}: ```python blocks at lines {unmarked} lack {MARKER}"


@pytest.mark.parametrize(("page", "line", "code"), EXAMPLES)
def test_docs_example_runs(
    page: pathlib.Path, line: int, code: str, in_example_media_dir: pathlib.Path
):
    compiled = compile(code, f"{page.name}:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, object] = {"__name__": "__docs_example__"}
    result = eval(compiled, namespace)  # noqa: S307 - the docs' own examples
    if inspect.iscoroutine(result):
        asyncio.run(result)


def test_api_reference_lists_every_public_name():
    text = (DOCS / "api.md").read_text()
    listed = set(re.findall(r"^::: spdl\.io\.(\w+)$", text, re.MULTILINE))
    assert set(spdl.io.__all__) <= listed, sorted(set(spdl.io.__all__) - listed)


@pytest.mark.parametrize("name", spdl.io.__all__)
def test_public_name_has_docstring(name: str):
    assert inspect.getdoc(getattr(spdl.io, name)), f"spdl.io.{name} has no docstring"
