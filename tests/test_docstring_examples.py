"""Every ``>>>`` example in the docstrings of ``spdl.io``, ``spdl.pipeline`` and
``spdl.dataloader`` runs and shows what it says.

The docstrings of every name in each package's ``__all__``, and of the public methods
and properties of its classes (the native ones included), are parsed with
:mod:`doctest`. A docstring's examples run in order in one fresh namespace holding
only ``spdl`` (the examples assume ``import spdl.io``), in a temporary working
directory with the media they name (see ``_example_media.py``). Like an
interactive session, each expression's value is printed, and the output must
match the example's expected output (doctest's ``ELLIPSIS`` and
``NORMALIZE_WHITESPACE`` rules). Examples with a top-level ``await`` (or
``async for``) are compiled as coroutines, and the whole docstring then runs
inside ``asyncio.run``.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import doctest
import importlib
import importlib.util
import inspect
import io
import linecache
import pathlib
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

import spdl.dataloader
import spdl.io
import spdl.pipeline

# The packages whose docstrings are checked; spdl.io's names are the test ids as they
# are, the others' are prefixed with their package's last name.
PACKAGES = (spdl.io, spdl.pipeline, spdl.dataloader)

pytest_plugins = ["_example_media"]


# Examples that cannot run on every machine, by name (a method's examples are
# skipped with its class).
def _no_nvdec() -> str | None:
    """Why the NVDEC examples cannot run here, or None when they can."""
    try:
        import ctypes

        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "no CUDA device"
        ctypes.CDLL("libnvcuvid.so.1")
        import PyNvVideoCodec  # noqa: F401
    except Exception as e:  # no CuPy / driver / NVDEC / PyNvVideoCodec
        return f"{type(e).__name__}: {e}"
    return None


NEEDS_NVIDIA_GPU = {
    "decode_packets_nvdec",
    "async_decode_packets_nvdec",
    "to_cupy",
    "CUDABuffer",
    "CUDAFrames",
}
# Examples that convert to an optional library's array: skipped when it is not
# installed; otherwise the library is in the namespace under its own name.
NEEDS_MODULE = {"to_torch": "torch", "to_numba": "numba"}

_PARSER = doctest.DocTestParser()
_CHECKER = doctest.OutputChecker()
_OPTION_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
_NOTHING = "(nothing)\n"


def _documented_members(cls: type) -> Iterator[tuple[str, Any]]:
    """Methods (protocol ones such as ``__getitem__`` included) and properties of ``cls``
    and its bases, not ``object``'s."""
    seen = set()
    for klass in cls.__mro__:
        if klass.__module__ == "builtins":
            continue
        for attr, member in vars(klass).items():
            private = attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))
            if private or attr in seen or not (callable(member) or isinstance(member, property)):
                continue
            seen.add(attr)
            yield attr, member


def _docstrings() -> Iterator[tuple[str, str, str]]:
    """``(test id, public name, docstring)`` of every documented public object."""
    reported = set()
    for package in PACKAGES:
        prefix = "" if package is spdl.io else package.__name__.rsplit(".", 1)[-1] + "."
        for name in package.__all__:
            obj = getattr(package, name)
            yield prefix + name, name, inspect.getdoc(obj) or ""
            if not inspect.isclass(obj):
                continue
            for attr, member in _documented_members(obj):
                owner = next(k for k in obj.__mro__ if attr in vars(k))
                if (owner, attr) in reported:
                    continue  # an inherited member is tested once, under its first class
                reported.add((owner, attr))
                yield f"{prefix}{name}.{attr}", name, inspect.getdoc(member) or ""


def _collect() -> list[Any]:
    params = []
    for test_id, name, doc in _docstrings():
        examples = _PARSER.get_examples(doc)
        if not examples:
            continue
        marks = []
        if name in NEEDS_NVIDIA_GPU and (reason := _no_nvdec()):
            marks.append(pytest.mark.skip(reason=f"needs an NVIDIA GPU with NVDEC: {reason}"))
        elif name in NEEDS_MODULE and importlib.util.find_spec(NEEDS_MODULE[name]) is None:
            marks.append(pytest.mark.skip(reason=f"needs {NEEDS_MODULE[name]}"))
        params.append(pytest.param(test_id, name, examples, id=test_id, marks=marks))
    return params


EXAMPLES = _collect()


def _compile(test_id: str, index: int, example: doctest.Example) -> Any:
    filename = f"<docstring example {test_id}[{index}]>"
    linecache.cache[filename] = (
        len(example.source),
        None,
        example.source.splitlines(keepends=True),
        filename,
    )
    return compile(example.source, filename, "single", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _is_coroutine_code(code: Any) -> bool:
    return bool(code.co_flags & inspect.CO_COROUTINE)


def _check(test_id: str, example: doctest.Example, got: str, error: BaseException | None) -> None:
    """Fails with the example, what it should show and what it showed."""
    if error is not None:
        if example.exc_msg is None:
            raise AssertionError(
                f"{test_id}: example raised\n>>> {example.source}"
                + "".join(traceback.format_exception(error))
            ) from None
        got_exc = traceback.format_exception_only(type(error), error)[-1]
        if not _CHECKER.check_output(example.exc_msg, got_exc, _OPTION_FLAGS):
            raise AssertionError(
                f"{test_id}: example\n>>> {example.source}"
                f"should raise:\n{example.exc_msg}raised:\n{got_exc}"
            ) from error
        return
    if example.exc_msg is not None:
        raise AssertionError(f"{test_id}: example\n>>> {example.source}did not raise.")
    if not _CHECKER.check_output(example.want, got, _OPTION_FLAGS):
        want, got = example.want or _NOTHING, got or _NOTHING
        raise AssertionError(
            f"{test_id}: example\n>>> {example.source}should show:\n{want}showed:\n{got}"
        )


async def _run_async(test_id: str, codes: list[Any], examples: list[Any], namespace: dict) -> None:
    for example, code in zip(examples, codes, strict=True):
        out, error = io.StringIO(), None
        try:
            with contextlib.redirect_stdout(out):
                result = eval(code, namespace)  # noqa: S307 - the docstrings' own examples
                if inspect.iscoroutine(result):
                    await result
        except Exception as exc:
            error = exc
        _check(test_id, example, out.getvalue(), error)


def _run_sync(test_id: str, codes: list[Any], examples: list[Any], namespace: dict) -> None:
    for example, code in zip(examples, codes, strict=True):
        out, error = io.StringIO(), None
        try:
            with contextlib.redirect_stdout(out):
                eval(code, namespace)  # noqa: S307 - the docstrings' own examples
        except Exception as exc:
            error = exc
        _check(test_id, example, out.getvalue(), error)


def test_docstrings_have_examples():
    assert len(EXAMPLES) >= 30, [p.id for p in EXAMPLES]


def test_the_training_packages_show_their_main_pieces_in_examples():
    expected = {
        "pipeline.Pipeline",
        "pipeline.PipelineBuilder",
        "pipeline.PipelineFailure",
        "pipeline.PipelineStats",
        "dataloader.DataLoader",
        "dataloader.DataLoader.state_dict",
        "dataloader.MapSource",
        "dataloader.RandomSampler",
        "dataloader.SequentialSampler",
        "dataloader.ImageFolder",
        "dataloader.ImageBatchLoader",
        "dataloader.VideoClipLoader",
        "dataloader.AudioClipLoader",
        "dataloader.cuda_transfer",
    }
    assert expected <= {param.id for param in EXAMPLES}


@pytest.mark.parametrize(("test_id", "name", "examples"), EXAMPLES)
def test_docstring_example_runs(
    test_id: str, name: str, examples: list[Any], in_example_media_dir: pathlib.Path
):
    namespace: dict[str, Any] = {"__name__": "__docstring_example__", "spdl": spdl}
    if name in NEEDS_MODULE:
        module = NEEDS_MODULE[name]
        namespace[module] = importlib.import_module(module)
    codes = [_compile(test_id, index, example) for index, example in enumerate(examples)]
    if any(_is_coroutine_code(code) for code in codes):
        asyncio.run(_run_async(test_id, codes, examples, namespace))
    else:
        _run_sync(test_id, codes, examples, namespace)
