"""Griffe extension for the API page: the native classes, and ``Example:`` sections.

1. Griffe reads ``spdl`` from the source tree, which holds no compiled extension: an
   editable install keeps ``spdl/_native*.so`` in site-packages, where only the
   import system finds it, so ``spdl.io.CPUBuffer``, ``spdl.io.ImagePackets``… would
   stay unresolved and vanish from the page; griffe would read the type stub
   ``spdl/_native.pyi`` instead, which drops overloaded methods. ``on_package``
   inspects the imported ``spdl._native`` and attaches it to ``spdl``, whatever
   griffe found (an installed wheel holds the extension and the stub).
2. nanobind puts a method's signature on the first line of its ``__doc__`` and keeps
   the typed signature in ``__nb_signature__``, which ``inspect.signature`` cannot
   read. The hooks below turn that signature into parameters and a return type
   (a property's getter gives the property's type) and drop the line from the text.
3. The sync, Future and asyncio forms of each operation in ``spdl.io._runtime.operation``
   are generated at import time, so griffe's reading of the source does not see them
   (``demux_media = _demux_media.future`` is an attribute, tuple assignments are
   nothing): ``_add_generated_forms`` adds each as a function with the parameters,
   annotations and docstring that ``inspect`` reads from the imported object.
4. The docstrings follow Google style with an ``Example:`` section (as Napoleon
   reads it); griffe only knows the plural, and would render the ``>>>`` lines as
   Markdown quotes. ``on_instance`` renames the section, and turns Sphinx roles
   (:func:`x`, :class:`x` …, readable in ``help()``) into links to the public name
   ``spdl.io.x``, or into code for other names.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import griffe

_EXAMPLE_SECTION = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)
_SPHINX_ROLE = re.compile(r":(?:class|func|meth|mod|attr|exc|data|obj):`~?([\w.]+)`")
# How griffe shows the "default" of *args and **kwargs when it reads the source.
_DEFAULTS = {inspect.Parameter.VAR_POSITIONAL: "()", inspect.Parameter.VAR_KEYWORD: "{}"}
_KINDS = {
    "posonlyargs": griffe.ParameterKind.positional_only,
    "args": griffe.ParameterKind.positional_or_keyword,
    "kwonlyargs": griffe.ParameterKind.keyword_only,
}


def _markdown_reference(match: re.Match[str]) -> str:
    """A link for a public name of ``spdl.io`` (the API page has its anchor), else code."""
    import spdl.io

    target = match.group(1)
    name = target.removeprefix("spdl.io.")
    if name in spdl.io.__all__:
        return f"[`{target}`][spdl.io.{name}]"
    return f"`{target}`"


def _nb_signature(obj: Any) -> ast.FunctionDef | None:
    """The first nanobind signature of ``obj`` as a parsed ``def``, or None."""
    signatures = getattr(obj, "__nb_signature__", None)
    if not signatures:
        return None
    text, _doc, defaults = signatures[0]
    # Defaults are written as \0, \1 … referring to the tuple beside the text.
    text = re.sub(r"\\(\d+)", lambda m: repr(defaults[int(m.group(1))]), text)
    text = text.replace("def (", "def _(", 1)
    try:
        return ast.parse(text + ": ...").body[0]
    except SyntaxError:
        return None


def _parameters(node: ast.FunctionDef) -> griffe.Parameters:
    arguments = node.args
    positional = arguments.posonlyargs + arguments.args
    defaults = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    position_defaults = dict(zip((a.arg for a in positional), defaults, strict=True))
    params = []
    for field, kind in _KINDS.items():
        for index, arg in enumerate(getattr(arguments, field)):
            if field == "kwonlyargs":
                default = arguments.kw_defaults[index]
            else:
                default = position_defaults[arg.arg]
            params.append(
                griffe.Parameter(
                    arg.arg,
                    annotation=ast.unparse(arg.annotation) if arg.annotation else None,
                    kind=kind,
                    default=ast.unparse(default) if default is not None else None,
                )
            )
        if field == "args" and arguments.vararg:
            # nanobind leaves *args / **kwargs unannotated: they take any object.
            params.append(
                griffe.Parameter(
                    arguments.vararg.arg,
                    annotation="object",
                    kind=griffe.ParameterKind.var_positional,
                )
            )
    if arguments.kwarg:
        params.append(
            griffe.Parameter(
                arguments.kwarg.arg, annotation="object", kind=griffe.ParameterKind.var_keyword
            )
        )
    return griffe.Parameters(*params)


class SpdlDocs(griffe.Extension):
    """See the module docstring."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.path != "spdl":
            return
        # Whatever griffe read for it (the type stub spdl/_native.pyi, the extension, or
        # nothing), the page documents the extension as imported.
        self._inspect_native(pkg, loader)
        self._add_generated_forms(pkg, loader)

    def _inspect_native(self, pkg: griffe.Module, loader: griffe.GriffeLoader) -> None:
        import spdl._native
        import spdl.io  # noqa: F401 - sets the docstrings of native exceptions (MediaError)

        native = griffe.inspect(
            "_native",
            # A path lets the docstrings' cross-references name where they come from.
            filepath=Path(spdl._native.__file__),
            parent=pkg,
            extensions=loader.extensions,
            docstring_parser=loader.docstring_parser,
            docstring_options=loader.docstring_options,
            lines_collection=loader.lines_collection,
            modules_collection=loader.modules_collection,
        )
        pkg.set_member("_native", native)

    def _add_generated_forms(self, pkg: griffe.Module, loader: griffe.GriffeLoader) -> None:
        from spdl.io._runtime.operation import OPERATIONS

        for operation in OPERATIONS.values():
            for function in operation[:3]:  # sync, future, async
                module = pkg.get_member(function.__module__.removeprefix("spdl."))
                if isinstance(module.members.get(function.__name__), griffe.Function):
                    continue  # written in the source (batch_load_image)
                signature = inspect.signature(function)
                params = [
                    griffe.Parameter(
                        p.name,
                        annotation=None if p.annotation is p.empty else str(p.annotation),
                        kind=griffe.ParameterKind(p.kind.description),
                        default=_DEFAULTS.get(
                            p.kind, None if p.default is p.empty else repr(p.default)
                        ),
                    )
                    for p in signature.parameters.values()
                ]
                docstring = griffe.Docstring(
                    inspect.getdoc(function) or "",
                    parser=loader.docstring_parser,
                    parser_options=loader.docstring_options,
                )
                generated = griffe.Function(
                    function.__name__,
                    parameters=griffe.Parameters(*params),
                    returns=str(signature.return_annotation),
                    docstring=docstring,
                )
                module.set_member(function.__name__, generated)
                self.on_instance(obj=generated)

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            text = _EXAMPLE_SECTION.sub(r"\1Examples:", obj.docstring.value)
            obj.docstring.value = _SPHINX_ROLE.sub(_markdown_reference, text)

    def on_function_instance(self, *, node: Any, func: griffe.Function, **kwargs: Any) -> None:
        signature = _nb_signature(getattr(node, "obj", None))
        if signature is None:
            return
        func.parameters = _parameters(signature)
        func.returns = ast.unparse(signature.returns) if signature.returns else None
        if func.docstring is not None:
            # "name(self, ...) -> T" then a blank line, or only that line when undocumented.
            summary, _, rest = func.docstring.value.partition("\n")
            if summary.startswith(f"{func.name}("):
                func.docstring.value = rest.lstrip("\n")

    def on_attribute_instance(self, *, node: Any, attr: griffe.Attribute, **kwargs: Any) -> None:
        getter = getattr(getattr(node, "obj", None), "fget", None)
        signature = _nb_signature(getter)
        if signature is None:
            return
        if signature.returns is not None:
            attr.annotation = ast.unparse(signature.returns)
        if attr.docstring is not None and attr.docstring.value.startswith("(self) ->"):
            attr.docstring = None  # nanobind's stand-in for a missing docstring
