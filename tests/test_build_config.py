"""Configuring the native build: a build that would lack a fast path's library
(libjpeg-turbo, libwebp) fails with the command that installs it, unless the user opts out.

Each test configures ``spdl_native/`` with CMake (no compilation) in a temporary
directory, with pkg-config made blind to some libraries: its search path is a
folder holding every ``.pc`` file of the system's but theirs.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[1] / "spdl_native"
DEBIAN_COMMAND = "sudo apt-get install -y libturbojpeg0-dev libjpeg62-turbo-dev"
TURBOJPEG_LINE = "libjpeg-turbo's TurboJPEG API (pkg-config: libturbojpeg >= 2.0)"
LIBJPEG_LINE = "libjpeg-turbo's libjpeg API (pkg-config: libjpeg, with jpeg_crop_scanline)"
LIBWEBP_LINE = "libwebp (pkg-config: libwebp >= 0.5)"
ALL_FAST_PATHS = {"libturbojpeg", "libjpeg", "libwebp"}


def _pkg_config_dirs() -> list[pathlib.Path]:
    """pkg-config's search path: PKG_CONFIG_PATH, then its built-in folders."""
    builtin = subprocess.run(
        ["pkg-config", "--variable", "pc_path", "pkg-config"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    paths = os.environ.get("PKG_CONFIG_PATH", "").split(os.pathsep) + builtin.split(os.pathsep)
    return [pathlib.Path(p) for p in paths if p]


def _pkg_config_without(hidden: set[str], directory: pathlib.Path) -> pathlib.Path:
    """A pkg-config folder with links to every module the system has, but ``hidden``."""
    directory.mkdir()
    for folder in _pkg_config_dirs():
        for pc in sorted(folder.glob("*.pc")) if folder.is_dir() else []:
            link = directory / pc.name
            if pc.stem not in hidden and not link.exists():  # the first one found wins
                link.symlink_to(pc)
    return directory


def _configure(
    tmp_path: pathlib.Path, hidden: set[str], *options: str
) -> subprocess.CompletedProcess[str]:
    """Runs CMake's configure step of the native build with ``hidden`` invisible."""
    env = dict(os.environ)
    env.pop("PKG_CONFIG_PATH", None)
    env["PKG_CONFIG_LIBDIR"] = str(_pkg_config_without(hidden, tmp_path / "pkgconfig"))
    command = [
        shutil.which("cmake") or "cmake",
        "-S", str(SOURCE_DIR),
        "-B", str(tmp_path / "build"),
        "-G", "Ninja",
        f"-DPython_EXECUTABLE={sys.executable}",
        *options,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module", autouse=True)
def _tools() -> None:
    for tool in ("cmake", "ninja", "pkg-config"):
        assert shutil.which(tool), f"{tool} is needed to configure the native build"


def test_configure_without_libjpeg_turbo_fails_with_the_install_command(
    tmp_path: pathlib.Path,
) -> None:
    result = _configure(tmp_path, {"libturbojpeg", "libjpeg"})
    assert result.returncode != 0
    message = result.stderr
    assert TURBOJPEG_LINE in message and LIBJPEG_LINE in message
    assert DEBIAN_COMMAND in message
    assert "SPDL_ALLOW_SLOW_BUILD=1 pip install" in message
    assert "-DSPDL_ALLOW_SLOW_BUILD=ON" in message


def test_configure_names_only_the_missing_library(tmp_path: pathlib.Path) -> None:
    result = _configure(tmp_path, {"libjpeg"})
    assert result.returncode != 0
    assert LIBJPEG_LINE in result.stderr
    assert TURBOJPEG_LINE not in result.stderr and LIBWEBP_LINE not in result.stderr
    assert "sudo apt-get install -y libjpeg62-turbo-dev\n" in result.stderr
    assert "Found libturbojpeg" in result.stdout


def test_configure_without_libwebp_fails_with_its_install_command(tmp_path: pathlib.Path) -> None:
    result = _configure(tmp_path, {"libwebp"})
    assert result.returncode != 0
    assert LIBWEBP_LINE in result.stderr and TURBOJPEG_LINE not in result.stderr
    assert "sudo apt-get install -y libwebp-dev\n" in result.stderr
    assert "sudo dnf install -y libwebp-devel\n" in result.stderr


def test_configure_lists_every_missing_package_in_one_command(tmp_path: pathlib.Path) -> None:
    result = _configure(tmp_path, ALL_FAST_PATHS)
    assert result.returncode != 0
    assert f"{DEBIAN_COMMAND} libwebp-dev\n" in result.stderr
    assert "conda install -c conda-forge libjpeg-turbo libwebp\n" in result.stderr


def test_allow_slow_build_configures_without_the_fast_paths(tmp_path: pathlib.Path) -> None:
    result = _configure(tmp_path, ALL_FAST_PATHS, "-DSPDL_ALLOW_SLOW_BUILD=ON")
    assert result.returncode == 0, result.stderr
    assert "building without (SPDL_ALLOW_SLOW_BUILD)" in result.stderr  # a CMake warning
    for line in (TURBOJPEG_LINE, LIBJPEG_LINE, LIBWEBP_LINE):
        assert line in result.stderr
    assert "JPEG fast path: off" in result.stdout
    assert "Crop-aware JPEG decoding: off" in result.stdout
    assert "WebP fast path: off" in result.stdout


def test_turning_a_fast_path_off_is_an_explicit_opt_out(tmp_path: pathlib.Path) -> None:
    result = _configure(
        tmp_path,
        ALL_FAST_PATHS,
        "-DSPDL_WITH_TURBOJPEG=OFF",
        "-DSPDL_WITH_LIBJPEG=OFF",
        "-DSPDL_WITH_LIBWEBP=OFF",
    )
    assert result.returncode == 0, result.stderr
    assert "SPDL_ALLOW_SLOW_BUILD" not in result.stderr


def test_configure_with_every_library_takes_every_fast_path(tmp_path: pathlib.Path) -> None:
    result = _configure(tmp_path, set())
    assert result.returncode == 0, result.stderr
    assert "JPEG fast path: libjpeg-turbo" in result.stdout
    assert "Crop-aware JPEG decoding: libjpeg" in result.stdout
    assert "WebP fast path: libwebp" in result.stdout
