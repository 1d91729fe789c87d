"""W1 image batch: 256 ImageNet-like JPEGs → one ``(256, 224, 224, 3)`` uint8 batch.

Backends, each with 1 and 2 threads:

* ``spdl``: ``spdl.io.batch_load_image(paths, width=224, height=224)`` with the decode
  pool sized to the thread count (``spdl.io.set_executor_sizes(decode=T)``) when
  ``spdl.io`` exports it; otherwise ``spdl.io._core.decode.decode_image_batch(paths,
  width=224, height=224, num_threads=T)``. Either way the whole batch is one native
  call that reads and decodes the files on T native threads with the GIL released;
  the thread count is the number of native decode threads. JPEGs decode straight to
  RGB and are resized in RGB with Pillow's HAMMING antialiasing filter (spdl's
  ``scale_algo="bilinear"`` for packed RGB images; as wide as Pillow's BILINEAR).
* ``spdl-native-batch``: ``decode_image_batch`` called directly, even when
  ``batch_load_image`` exists: the cost of the futures layer on top of it.
* ``pillow``: ``Image.open(p).convert("RGB").resize((224, 224), Image.BILINEAR)``,
  ``np.asarray``, then ``np.stack``, mapped over a ThreadPoolExecutor of T workers.
  ``Image.draft`` is not used: JPEG's DCT scaling only goes down to a size at least as
  large as the request in both dimensions, which for 500×375 → 224×224 is the full
  size, so it would change nothing.
* ``opencv-linear`` / ``opencv-area``: ``cv2.imdecode(bytes, IMREAD_COLOR_RGB)`` +
  ``cv2.resize(..., interpolation=INTER_LINEAR | INTER_AREA)`` + ``np.stack`` in a
  ThreadPoolExecutor of T workers, with ``cv2.setNumThreads(1)`` so that the workers
  are the only parallelism.

Per format (``<backend>@<format>``): the first 96 of those pictures encoded as
progressive JPEG, PNG, lossy WebP and lossless WebP (``_datasets.IMAGE_FORMATS``),
each loaded into one ``(96, 224, 224, 3)`` batch by ``spdl``, ``pillow`` and
``opencv-linear``, called as above. For the WebP formats, ``libwebp-c`` (a reference,
not a loader) is the ceiling of every libwebp-based loader: ``webp_floor.c``
(``_webp_floor.py``) reads and decodes the files to RGB from C with the system libwebp
(the one spdl links), without resizing or an output array, on T threads each taking a
share of the files.

Throughput is images per second over a whole batch (files read from the page cache).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from _datasets import IMAGE_FORMATS, ensure_format_images, ensure_images
from _harness import Backend, Context, Run, Workload, main, make_pool, pool_map

SIZE = 224
NUM_IMAGES = 256
NUM_FORMAT_IMAGES = 96
# The formats of the per-format cases (keys of _datasets.IMAGE_FORMATS).
FORMATS = tuple(IMAGE_FORMATS)
WEBP_FORMATS = ("webp-lossy", "webp-lossless")


def image_paths() -> list[str]:
    return [str(path) for path in ensure_images(NUM_IMAGES)]


def format_paths(fmt: str) -> list[str]:
    return [str(path) for path in ensure_format_images(fmt, NUM_FORMAT_IMAGES)]


def prepare() -> None:
    image_paths()
    for fmt in FORMATS:
        format_paths(fmt)


def _check(batch: np.ndarray) -> None:
    if batch.shape[1:] != (SIZE, SIZE, 3) or batch.dtype != np.uint8:
        raise RuntimeError(f"expected a (N, {SIZE}, {SIZE}, 3) uint8 batch, got {batch.shape}")


def _checked(run: Callable[[], np.ndarray], count: int = NUM_IMAGES) -> Run:
    batch = run()  # the first call also warms up
    _check(batch)
    if len(batch) != count:
        raise RuntimeError(f"expected {count} images, got {len(batch)}")

    def counted() -> int:
        return len(run())

    counted.info = getattr(run, "info", None)  # type: ignore[attr-defined]
    return counted


def _spdl_native_batch(ctx: Context, paths: list[str]) -> Callable[[], np.ndarray]:
    from spdl.io._core.decode import decode_image_batch

    def run() -> np.ndarray:
        buffer, errors = decode_image_batch(paths, width=SIZE, height=SIZE, num_threads=ctx.threads)
        failed = [error for error in errors if error is not None]
        if failed:
            raise failed[0]
        return np.asarray(buffer)

    run.info = {"api": "spdl.io._core.decode.decode_image_batch"}  # type: ignore[attr-defined]
    return run


def setup_spdl(ctx: Context, paths: list[str] | None = None) -> Run:
    import spdl.io

    paths = paths or image_paths()
    if not hasattr(spdl.io, "batch_load_image"):
        return _checked(_spdl_native_batch(ctx, paths), len(paths))
    spdl.io.set_executor_sizes(decode=ctx.threads)

    def run() -> np.ndarray:
        return np.asarray(spdl.io.batch_load_image(paths, width=SIZE, height=SIZE))

    run.info = {"api": "spdl.io.batch_load_image"}  # type: ignore[attr-defined]
    return _checked(run, len(paths))


def setup_spdl_native_batch(ctx: Context) -> Run:
    return _checked(_spdl_native_batch(ctx, image_paths()))


def setup_pillow(ctx: Context, paths: list[str] | None = None) -> Run:
    from PIL import Image

    paths = paths or image_paths()
    pool = make_pool(ctx.threads)

    def load(path: str) -> np.ndarray:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB").resize((SIZE, SIZE), Image.BILINEAR))

    return _checked(lambda: np.stack(pool_map(pool, load, paths)), len(paths))


def _setup_opencv(ctx: Context, interpolation_name: str, paths: list[str] | None = None) -> Run:
    import cv2

    cv2.setNumThreads(1)
    interpolation = getattr(cv2, interpolation_name)
    paths = paths or image_paths()
    pool = make_pool(ctx.threads)
    rgb_flag = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV >= 4.10

    def load(path: str) -> np.ndarray:
        data = np.fromfile(path, dtype=np.uint8)
        if rgb_flag is not None:
            image = cv2.imdecode(data, rgb_flag)
        else:
            image = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        return cv2.resize(image, (SIZE, SIZE), interpolation=interpolation)

    return _checked(lambda: np.stack(pool_map(pool, load, paths)), len(paths))


def setup_opencv_linear(ctx: Context) -> Run:
    return _setup_opencv(ctx, "INTER_LINEAR")


def setup_opencv_area(ctx: Context) -> Run:
    return _setup_opencv(ctx, "INTER_AREA")


def setup_libwebp_c(ctx: Context, paths: list[str]) -> Run:
    import _webp_floor

    shares = [paths[t :: ctx.threads] for t in range(ctx.threads)]
    pool = make_pool(ctx.threads)

    def run() -> int:
        return sum(pool_map(pool, _webp_floor.decode_files, shares))

    if run() != len(paths):  # the first call also builds the library and warms up
        raise RuntimeError("libwebp-c decoded fewer images than it was given")
    run.info = {"libwebp": _webp_floor.libwebp_version()}  # type: ignore[attr-defined]
    return run


def _format_backends(fmt: str) -> tuple[Backend, ...]:
    """W1's loaders on the batch of ``fmt`` images (and libwebp's ceiling for WebP)."""

    def paths() -> list[str]:
        return format_paths(fmt)

    backends = [
        Backend(
            f"spdl@{fmt}",
            f"batch_load_image on {NUM_FORMAT_IMAGES} {fmt} images, as `spdl`",
            lambda ctx: setup_spdl(ctx, paths()),
            "spdl",
        ),
        Backend(
            f"pillow@{fmt}",
            f"as `pillow`, on the {fmt} images",
            lambda ctx: setup_pillow(ctx, paths()),
            "pillow",
        ),
        Backend(
            f"opencv-linear@{fmt}",
            f"as `opencv-linear`, on the {fmt} images",
            lambda ctx: _setup_opencv(ctx, "INTER_LINEAR", paths()),
            "opencv-python-headless",
        ),
    ]
    if fmt in WEBP_FORMATS:
        backends.append(
            Backend(
                f"libwebp-c@{fmt}",
                "ceiling: the system libwebp reading and decoding the files from C (no "
                "resize, no output array)",
                lambda ctx: setup_libwebp_c(ctx, paths()),
                "spdl",
            )
        )
    return tuple(backends)


BACKENDS = (
    Backend(
        "spdl",
        "batch_load_image / decode_image_batch: one native call, T native threads, RGB resize",
        setup_spdl,
        "spdl",
    ),
    Backend(
        "spdl-native-batch",
        "spdl.io._core.decode.decode_image_batch(num_threads=T) directly, no futures layer",
        setup_spdl_native_batch,
        "spdl",
    ),
    Backend(
        "pillow",
        'Image.open().convert("RGB").resize(BILINEAR) + np.stack, T-worker pool',
        setup_pillow,
        "pillow",
    ),
    Backend(
        "opencv-linear",
        "cv2.imdecode(RGB) + cv2.resize(INTER_LINEAR) + np.stack, T-worker pool",
        setup_opencv_linear,
        "opencv-python-headless",
    ),
    Backend(
        "opencv-area",
        "cv2.imdecode(RGB) + cv2.resize(INTER_AREA) + np.stack, T-worker pool",
        setup_opencv_area,
        "opencv-python-headless",
    ),
    *(backend for fmt in FORMATS for backend in _format_backends(fmt)),
)

WORKLOAD = Workload(
    name="w1_image_batch",
    title=f"W1 image batch: {NUM_IMAGES} JPEGs ~500x375 -> ({NUM_IMAGES}, 224, 224, 3) uint8",
    unit="images/s",
    backends=BACKENDS,
    prepare=prepare,
    rounds=(3, 11),
)

if __name__ == "__main__":
    main(WORKLOAD, str(Path(__file__)))
