"""Runs the leak soak against an AddressSanitizer/LeakSanitizer build of the extension.

Expects the ASan build of ``_native`` (CMake option SPDL_ASAN=ON) as argv[1]. It is
loaded in place of the installed module; the interpreter must run with libasan
(and libstdc++, so C++ exceptions work) preloaded — ``nox -s asan`` does all this.
LeakSanitizer suppresses only the interpreter, PyAV's bundled FFmpeg, NumPy and
Pillow: leaks of the system FFmpeg's objects (what spdl owns) are reported.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import spdl

HERE = pathlib.Path(__file__).resolve().parent


def main() -> None:
    spec = importlib.util.spec_from_file_location("spdl._native", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    sys.modules["spdl._native"] = module
    spec.loader.exec_module(module)
    spdl._native = module
    print(f"native extension: {module.__file__}", flush=True)
    sys.path.insert(0, str(HERE))
    sys.argv = ["soak.py", *sys.argv[2:]]
    import soak

    sys.exit(soak.main())


if __name__ == "__main__":
    main()
