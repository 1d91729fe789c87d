"""spdl.io's layers import only downward (docs/architecture.md, "Layers").

The modules are read from the installed package, so the check follows what runs.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import spdl.io

IO = pathlib.Path(spdl.io.__file__).parent
# What each layer may import from spdl.io (beyond itself).
ALLOWED = {"_core": set(), "_runtime": {"_core"}, "_api": {"_core", "_runtime"}}


def _spdl_io_imports(path: pathlib.Path, package: str) -> set[str]:
    """The spdl.io layers (``_core``, ``_runtime``, ``_api``) the module imports."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = f"spdl.io.{package}".split(".")[: 3 - (node.level - 1)]
                names = [".".join([*base, node.module or ""]).rstrip(".")]
            else:
                names = [node.module or ""]
            names += [f"{names[0]}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["spdl", "io"] and len(parts) > 2 and parts[2] in ALLOWED:
                layers.add(parts[2])
    return layers


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_layers_below(layer: str) -> None:
    modules = sorted((IO / layer).glob("*.py"))
    assert modules, f"no modules in spdl/io/{layer}"
    for module in modules:
        above = _spdl_io_imports(module, layer) - ALLOWED[layer] - {layer}
        assert not above, f"spdl/io/{layer}/{module.name} imports {sorted(above)}"


def test_public_package_holds_only_reexports() -> None:
    flat = [p.name for p in IO.glob("*.py")]
    assert flat == ["__init__.py"], flat
    tree = ast.parse((IO / "__init__.py").read_text())
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "ImportFrom", "Assign"}, kinds


def test_the_check_sees_a_violation(tmp_path: pathlib.Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from spdl.io._api import loaders\nfrom ..x import y\n")
    assert _spdl_io_imports(bad, "_core") == {"_api"}
