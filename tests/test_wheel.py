"""The repaired wheel installs without a compiler, carries libjpeg-turbo and libwebp, and
takes FFmpeg from the system.

``nox -s wheel`` builds the wheel (from the sdist, repaired by auditwheel) and runs
this file with the wheel's path in ``SPDL_WHEEL``; without it there is no wheel to
check and the file is skipped. The wheel is installed into a fresh virtual
environment whose ``PATH`` has no compiler, linker or assembler, and the test suite
runs there against it (all of it but the two files that build native code).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass

import pytest

WHEEL = os.environ.get("SPDL_WHEEL", "")
pytestmark = [
    pytest.mark.skipif(not WHEEL, reason="needs a built wheel in SPDL_WHEEL: run `nox -s wheel`"),
    # Installing the environment and running the suite in it take minutes.
    pytest.mark.timeout(3600),
]

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
# Names of compilers, linkers and assemblers, kept off the fresh environment's PATH.
TOOLCHAIN = re.compile(
    r"(.*-)?(cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|c89|c99|ld|ld\..*|as|gfortran)(-[\d.]+)?"
)
# What the extension takes from the system: FFmpeg, and the C and C++ runtimes that
# the manylinux policy allows.
SYSTEM_LIBRARIES = (
    "libav", "libsw", "libc.so", "libm.so", "libstdc++.so", "libgcc_s.so", "ld-linux",
    "libpthread.so", "libdl.so", "librt.so",
)  # fmt: skip
# The files that compile native code (the CMake configure step, the SIMD harness).
NEEDS_A_COMPILER = ("tests/test_build_config.py", "tests/test_simd_exact.py")


@dataclass(frozen=True)
class WheelEnv:
    python: pathlib.Path
    env: dict[str, str]  # PATH without a toolchain, PYTHONSAFEPATH=1

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _path_without_toolchain(directory: pathlib.Path) -> str:
    """A folder linking every command on PATH but compilers, linkers and assemblers."""
    directory.mkdir()
    for folder in os.environ["PATH"].split(os.pathsep):
        if not folder or not pathlib.Path(folder).is_dir():
            continue
        for command in sorted(pathlib.Path(folder).iterdir()):
            link = directory / command.name
            if TOOLCHAIN.fullmatch(command.name) or link.exists() or link.is_symlink():
                continue
            if command.is_file() and os.access(command, os.X_OK):
                link.symlink_to(command)
    return str(directory)


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> WheelEnv:
    """A fresh virtual environment with the wheel and the test requirements installed."""
    root = tmp_path_factory.mktemp("wheel_env")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = dict(os.environ)
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "CC", "CXX"):
        env.pop(name, None)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), _path_without_toolchain(root / "bin")])
    env["PYTHONSAFEPATH"] = "1"
    wheel_env = WheelEnv(venv / "bin" / "python", env)
    # --only-binary: pip may not fall back to building anything from source.
    install = wheel_env.run(
        "-m", "pip", "install", "--only-binary", ":all:", "-c", str(CONSTRAINTS),
        f"spdl[test,torch,numba] @ {pathlib.Path(WHEEL).resolve().as_uri()}",
    )  # fmt: skip
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    return wheel_env


def _native_library(wheel_env: WheelEnv) -> pathlib.Path:
    result = wheel_env.run("-c", "import spdl._native as n; print(n.__file__)")
    assert result.returncode == 0, result.stderr
    return pathlib.Path(result.stdout.strip())


def _ldd(library: pathlib.Path) -> dict[str, str]:
    """soname -> the file the dynamic loader resolves it to."""
    output = subprocess.run(["ldd", str(library)], capture_output=True, text=True, check=True)
    resolved = {}
    for line in output.stdout.splitlines():
        if "=>" in line:
            name, target = line.split("=>", 1)
            resolved[name.strip()] = target.strip().split(" (")[0]
    return resolved


def test_wheel_bundles_the_fast_paths_libraries_and_not_ffmpeg() -> None:
    names = zipfile.ZipFile(WHEEL).namelist()
    libs = sorted(pathlib.PurePath(n).name for n in names if n.startswith("spdl.libs/"))
    assert any(name.startswith("libturbojpeg-") for name in libs), libs
    assert any(name.startswith("libjpeg-") for name in libs), libs
    assert any(name.startswith("libwebp-") for name in libs), libs
    assert not [name for name in libs if name.startswith(("libav", "libsw", "libpostproc"))], libs


def _glibc_versions_needed(elf: bytes) -> set[tuple[int, ...]]:
    """The GLIBC_x.y symbol versions an ELF file's symbols need."""
    import io

    from elftools.elf.elffile import ELFFile  # auditwheel's dependency

    needed = set()
    section = ELFFile(io.BytesIO(elf)).get_section_by_name(".gnu.version_r")
    for _, auxiliaries in section.iter_versions() if section else []:
        for aux in auxiliaries:
            if aux.name.startswith("GLIBC_2."):
                needed.add(tuple(int(part) for part in aux.name[len("GLIBC_") :].split(".")))
    return needed


def test_wheel_platform_tag_is_the_newest_glibc_its_binaries_need() -> None:
    # auditwheel derives the tag leaving FFmpeg out (`auditwheel show`, which cannot
    # be told to, finds FFmpeg's own dependencies and says linux_x86_64).
    tag = pathlib.Path(WHEEL).name.removesuffix(".whl").split("-")[-1]
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_(x86_64|aarch64)", tag)
    assert match, tag
    with zipfile.ZipFile(WHEEL) as wheel:
        binaries = [n for n in wheel.namelist() if re.search(r"\.so(\.\d+)*$", n)]
        needed = set().union(*(_glibc_versions_needed(wheel.read(n)) for n in binaries))
    assert max(needed) == (int(match[1]), int(match[2])), (tag, sorted(needed)[-3:])


def test_fresh_environment_has_no_compiler(wheel_env: WheelEnv) -> None:
    tools = ("cc", "c++", "gcc", "g++", "clang", "ld", "as")
    probe = f"import shutil; print([t for t in {tools!r} if shutil.which(t)])"
    result = wheel_env.run("-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _dynamic_section(library: pathlib.Path) -> tuple[list[str], str]:
    """The extension's DT_NEEDED sonames and its DT_RUNPATH (or DT_RPATH)."""
    from elftools.elf.elffile import ELFFile  # auditwheel's dependency

    with library.open("rb") as f:
        dynamic = ELFFile(f).get_section_by_name(".dynamic")
        needed, runpath = [], ""
        for tag in dynamic.iter_tags():
            if tag.entry.d_tag == "DT_NEEDED":
                needed.append(tag.needed)
            elif tag.entry.d_tag in ("DT_RUNPATH", "DT_RPATH"):
                runpath = tag.runpath if tag.entry.d_tag == "DT_RUNPATH" else tag.rpath
    return needed, runpath


def test_extension_resolves_the_fast_paths_from_the_wheel_and_ffmpeg_from_the_system(
    wheel_env: WheelEnv,
) -> None:
    library = _native_library(wheel_env)
    site_packages = library.resolve().parents[1]
    assert site_packages.is_relative_to(wheel_env.python.parents[1])  # the venv's, not ours
    needed, runpath = _dynamic_section(library)
    assert runpath == "$ORIGIN/../spdl.libs", runpath
    resolved = _ldd(library)
    assert "not found" not in resolved.values(), resolved
    # Every library but FFmpeg's and the C/C++ runtime's comes from the wheel.
    system = [n for n in needed if n.startswith(SYSTEM_LIBRARIES)]
    bundled = [n for n in needed if n not in system]
    for prefix in ("libturbojpeg-", "libjpeg-", "libwebp-"):
        assert any(name.startswith(prefix) for name in bundled), (prefix, needed)
    for name in bundled:
        assert pathlib.Path(resolved[name]).resolve().parent == site_packages / "spdl.libs"
    ffmpeg = [name for name in needed if name.startswith(("libav", "libsw"))]
    assert any(name.startswith("libavcodec.so.") for name in ffmpeg), needed
    for name in ffmpeg:
        assert not pathlib.Path(resolved[name]).resolve().is_relative_to(site_packages)
    # Nothing comes from the source or build tree.
    for path in resolved.values():
        assert not pathlib.Path(path).resolve().is_relative_to(ROOT), (path, resolved)


def test_installed_wheel_reports_its_fast_paths_and_ffmpeg(wheel_env: WheelEnv) -> None:
    result = wheel_env.run("-c", "import json, spdl.io; print(json.dumps(spdl.io.build_info()))")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert all(info["fast_paths"].values()), info
    assert not info["allow_slow_build"]
    for library, version in info["ffmpeg_runtime"].items():
        if library != "release":
            assert version.split(".")[0] == info["ffmpeg_build"][library].split(".")[0]


def test_suite_passes_against_the_installed_wheel(wheel_env: WheelEnv) -> None:
    ignored = [f"--ignore={path}" for path in (*NEEDS_A_COMPILER, "tests/test_wheel.py")]
    result = wheel_env.run(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", *ignored, timeout=3000
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert re.search(r"\d+ passed", summary), summary
