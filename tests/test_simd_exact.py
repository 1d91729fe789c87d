"""The native SIMD passes (resampling, YUV -> RGB) equal their scalar reference exactly
and stay inside their buffers: a C++ harness built twice under AddressSanitizer and
UndefinedBehaviorSanitizer, with and without SIMD, on 3000 random sizes (shrinking and
enlarging) and contents."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NATIVE = ROOT / "spdl_native"
HARNESS = pathlib.Path(__file__).parent / "native" / "simd_exact.cpp"


def _build_and_run(tmp_path: pathlib.Path, name: str, defines: list[str]) -> str:
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "libswscale", "libavutil"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    binary = tmp_path / name
    command = [
        "g++", "-std=c++17", "-O1", "-g", "-fsanitize=address,undefined",
        "-fno-sanitize-recover=all", *defines, f"-I{NATIVE}", str(HARNESS),
        str(NATIVE / "resample.cpp"), str(NATIVE / "yuv_to_rgb.cpp"),
        str(NATIVE / "simd_avx2.cpp"), "-o", str(binary), *flags,
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True)
    result = subprocess.run([str(binary)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout.strip()


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs the C++ compiler that builds spdl")
def test_simd_passes_equal_the_scalar_code_and_stay_in_bounds(tmp_path: pathlib.Path) -> None:
    simd = _build_and_run(tmp_path, "simd", [])
    scalar = _build_and_run(tmp_path, "scalar", ["-DSPDL_SIMD_SCALAR"])
    assert len(simd) == 16
    assert simd == scalar
