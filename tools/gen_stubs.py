"""Writes ``spdl/_native.pyi``, the type stub of the native extension ``spdl._native``.

nanobind's stub generator reads the built extension (its classes, the signatures and
docstrings of its functions); this script runs it and then states, in ``REFINEMENTS``,
the types a binding returns where nanobind can only say ``tuple``, ``dict`` or
``object`` (a binding that builds its result with ``nb::make_tuple`` …). Each
refinement must match exactly once: a binding that changes so that one no longer
applies (it declares the type itself with ``nb::sig`` / ``nb::typed``, or it is gone)
stops the script with the refinement's name, to be updated or deleted.

Usage, from the repository root, with ``spdl`` (its extension built) installed::

    python tools/gen_stubs.py           # rewrite spdl/_native.pyi (after a binding changed)
    python tools/gen_stubs.py --check   # exit 1 if spdl/_native.pyi is stale (nox -s lint)

The output depends on the nanobind that built the extension and the one that runs the
generator; the stub's header records that version, ``--nanobind-version`` prints it
(``nox -s lint`` builds and generates with it, so the check is deterministic).
"""

from __future__ import annotations

import argparse
import difflib
import importlib.metadata
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUB = ROOT / "spdl" / "_native.pyi"
COMMAND = "python tools/gen_stubs.py"

HEADER = """\
# The type stub of spdl._native, generated from the built extension by nanobind's
# stubgen (nanobind {version}) and tools/gen_stubs.py. Do not edit: after changing a
# binding (spdl_native/bind_*.cpp), rebuild spdl and run `{command}`;
# `nox -s lint` fails while this file differs from what that writes.
"""
_HEADER_VERSION = re.compile(r"^# stubgen \(nanobind ([^)]+)\)", re.MULTILINE)

# name: (pattern, replacement). Each pattern must match the generated stub exactly once.
REFINEMENTS: dict[str, tuple[str, str]] = {
    # Built by FFmpeg's version string at build time: the stub must not depend on the build.
    "libavcodec_version": (r"^libavcodec_version: str = .*$", "libavcodec_version: str"),
    # The binding's imports, for the refinements below.
    "imports": (
        r"^(from collections\.abc import [^\n]*)$",
        "\\1\nfrom typing import SupportsIndex, overload",
    ),
    # An index gives one frame, a slice a view of several (the docstring stays on the first).
    "VideoFrames.__getitem__": (
        r'^    def __getitem__\(self, key: object\) -> object:\n(        """[\s\S]*?"""\n)',
        "    @overload\n"
        "    def __getitem__(self, key: SupportsIndex) -> ImageFrames:\n"
        "\\1\n"
        "    @overload\n"
        "    def __getitem__(self, key: slice) -> VideoFrames: ...\n",
    ),
    "CPUBuffer.shape": (r"^(    def shape\(self\)) -> tuple:$", "\\1 -> tuple[int, ...]:"),
    "CPUBuffer.__array_interface__": (
        r"^(    def __array_interface__\(self\)) -> dict:$",
        "\\1 -> dict[str, object]:",
    ),
    "CPUBuffer.__dlpack__": (
        r"^(    def __dlpack__\(self), \*\*kwargs\) -> object:$",
        "\\1, **kwargs: object) -> object:",
    ),
    "CPUBuffer.__dlpack_device__": (
        r"^(    def __dlpack_device__\(self\)) -> tuple:$",
        "\\1 -> tuple[int, int]:",
    ),
    # The frames of the packets' media type (the binding returns the base class's holder).
    "decode_packets": (
        r"^(def decode_packets\(.*\)) -> Frames:$",
        "\\1 -> ImageFrames | AudioFrames | VideoFrames:",
    ),
    # A window without frames gives None (a null unique_ptr).
    "decode_windows": (
        r"^(def decode_windows\(.*\)) -> list\[CPUBuffer\]:$",
        "\\1 -> list[CPUBuffer | None]:",
    ),
    # A plan made without a token has none.
    "DecodePlan.cancel": (
        r"^(    def cancel\(self\)) -> CancelToken: \.\.\.$",
        "\\1 -> CancelToken | None: ...",
    ),
    # (kind, text, packets): see the docstring.
    "call_demux_helper": (
        r"^(def call_demux_helper\(.*\)) -> tuple:$",
        "\\1 -> tuple[str, bytes, list[Packets]]:",
    ),
    "next_from_demux_helper": (
        r"^(def next_from_demux_helper\(.*\)) -> tuple:$",
        "\\1 -> tuple[str, bytes, list[Packets]]:",
    ),
    # (kind, text, buffer): the buffer when kind is "end", else None.
    "load_audio_from_demux_helper": (
        r"^(def load_audio_from_demux_helper\(.*\)) -> tuple:$",
        "\\1 -> tuple[str, bytes, CPUBuffer | None]:",
    ),
    "crop_box": (r"^(def crop_box\(.*\)) -> tuple:$", "\\1 -> tuple[int, int, int, int]:"),
    "jpeg_region_counters": (
        r"^(def jpeg_region_counters\(\)) -> dict:$",
        "\\1 -> dict[str, int]:",
    ),
    # Paths (str), encoded bytes or bytes on their way; (buffer or None, one error per source).
    "decode_image_batch": (
        r"^def decode_image_batch\(srcs: list, (.*)\) -> object:$",
        "def decode_image_batch(srcs: list[str | bytes | PendingImage], \\1) -> "
        "tuple[CPUBuffer | None, list[str]]:",
    ),
    "transform_image_batch": (
        r"^(def transform_image_batch\(.*\)) -> object:$",
        "\\1 -> tuple[CPUBuffer | None, list[str]]:",
    ),
    "build_info": (r"^(def build_info\(\)) -> dict:$", "\\1 -> dict[str, object]:"),
}


def nanobind_version() -> str:
    return importlib.metadata.version("nanobind")


def generate() -> str:
    """The stub of the installed ``spdl._native``, refined and with its header."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "_native.pyi")
        # Run from an empty directory: the source tree must not shadow the installed spdl.
        # spdl.io first: it documents the native exception (MediaError.__doc__).
        code = "import sys, spdl.io, nanobind.stubgen; nanobind.stubgen.main(sys.argv[1:])"
        arguments = ["-q", "-m", "spdl._native", "-o", str(out)]
        subprocess.run([sys.executable, "-c", code, *arguments], cwd=tmp, check=True)
        text = out.read_text(encoding="utf-8")
    for name, (pattern, replacement) in REFINEMENTS.items():
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        if count != 1:
            sys.exit(
                f"gen_stubs: the refinement {name!r} matched {count} times instead of once: "
                "the binding changed. Update or delete it in tools/gen_stubs.py (REFINEMENTS)."
            )
    header = HEADER.format(version=nanobind_version(), command=COMMAND)
    return header + text.rstrip("\n") + "\n"


def recorded_version() -> str | None:
    """The nanobind version in the checked-in stub's header, or None."""
    if not STUB.exists():
        return None
    found = _HEADER_VERSION.search(STUB.read_text(encoding="utf-8"))
    return found[1] if found else None


def check() -> int:
    """0 if the checked-in stub is what ``generate`` writes, else 1 with a diff."""
    expected = generate()
    actual = STUB.read_text(encoding="utf-8") if STUB.exists() else ""
    if actual == expected:
        print(f"{STUB.relative_to(ROOT)} is up to date")
        return 0
    diff = difflib.unified_diff(
        actual.splitlines(keepends=True),
        expected.splitlines(keepends=True),
        f"{STUB.relative_to(ROOT)} (checked in)",
        "generated from the built extension",
    )
    sys.stdout.writelines(diff)
    recorded, running = recorded_version(), nanobind_version()
    if recorded and recorded != running:
        print(f"\nThe stub was generated with nanobind {recorded}; this is nanobind {running}.")
    print(
        f"\n{STUB.relative_to(ROOT)} does not match the extension's bindings. Rebuild spdl, "
        f"run `{COMMAND}` from the repository root and commit the stub."
    )
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="fail if the stub is stale")
    group.add_argument(
        "--nanobind-version",
        action="store_true",
        help="print the nanobind version the checked-in stub was generated with",
    )
    args = parser.parse_args()
    if args.nanobind_version:
        recorded = recorded_version()
        if recorded is None:
            sys.exit(f"gen_stubs: {STUB.relative_to(ROOT)} records no nanobind version.")
        print(recorded)
        return 0
    if args.check:
        return check()
    STUB.write_text(generate(), encoding="utf-8")
    print(f"wrote {STUB.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
