"""Compiles the native sources against other FFmpeg releases' headers (syntax only).

Downloads Debian's FFmpeg -dev packages of other releases (trixie: 7.1, sid: the
newest) into a private directory — the system is not touched — and runs
``g++ -fsyntax-only`` on every source of spdl_native/ against their headers.

Usage: python tools/ffmpeg_compat.py [trixie sid ...]
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import sysconfig
import tempfile

import nanobind

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = [
    "libavcodec-dev",
    "libavformat-dev",
    "libavfilter-dev",
    "libavutil-dev",
    "libswscale-dev",
    "libswresample-dev",
]


def headers_of(suite: str, work: pathlib.Path) -> pathlib.Path:
    """Downloads and unpacks ``suite``'s FFmpeg -dev packages; returns the include dir."""
    (work / "lists" / "partial").mkdir(parents=True)
    (work / "debs").mkdir()
    (work / "sources.list").write_text(f"deb http://deb.debian.org/debian {suite} main\n")
    options = [
        f"-oDir::Etc::SourceList={work / 'sources.list'}",
        "-oDir::Etc::SourceParts=/dev/null",
        f"-oDir::State::Lists={work / 'lists'}",
        f"-oDir::Cache::archives={work / 'debs'}",
        "-oDebug::NoLocking=1",
    ]
    subprocess.run(["apt-get", *options, "update", "-qq"], check=True)
    subprocess.run(["apt-get", *options, "download", *PACKAGES], cwd=work / "debs", check=True)
    for deb in (work / "debs").glob("*.deb"):
        subprocess.run(["dpkg", "-x", str(deb), str(work / "root")], check=True)
    return work / "root" / "usr" / "include" / "x86_64-linux-gnu"


def check(suite: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        include = headers_of(suite, pathlib.Path(tmp))
        version = (include / "libavcodec" / "version_major.h").read_text()
        major = next(line for line in version.splitlines() if "LIBAVCODEC_VERSION_MAJOR " in line)
        print(f"{suite}: libavcodec {major.split()[-1]}")
        sources = sorted((ROOT / "spdl_native").rglob("*.cpp"))
        ok = True
        for source in sources:
            command = [
                "g++", "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Werror",
                f"-I{ROOT / 'spdl_native'}", f"-I{include}", f"-I{nanobind.include_dir()}",
                f"-I{sysconfig.get_paths()['include']}", "-DSPDL_HAS_TURBOJPEG", str(source),
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode:
                ok = False
                print(f"  FAIL {source.relative_to(ROOT)}\n{result.stderr[:2000]}")
        print(f"  {len(sources)} sources: {'ok' if ok else 'FAILED'}")
        return ok


if __name__ == "__main__":
    suites = sys.argv[1:] or ["trixie", "sid"]
    sys.exit(0 if all([check(suite) for suite in suites]) else 1)
