"""W8 remote sources: W1's batch over HTTP with 20 ms of latency, and video windows.

The media is served by Debian's nginx (started by each case's process on 127.0.0.1,
tests/_http_servers.py), which waits 20 ms before every answer (its echo module's
``echo_sleep``): a round trip as to a storage service in the same region.

Backends (T is the case's thread count):

* ``spdl-http``: ``spdl.io.batch_load_image(urls, 224, 224)`` of W1's 256 JPEGs
  (500x375, quality 90), decode pool of T threads: the 256 fetches run on the I/O
  pool (64 requests in flight) while one native call decodes the images already
  fetched (each URL is a native ``PendingImage`` its fetch fills).
* ``spdl-local``: the same batch from the local files (W1's spdl case): the ceiling.
* ``requests-pillow``: a pool of 64 threads, each fetching with a ``requests.Session``
  of its own and decoding with Pillow (``Image.open``, ``convert("RGB")``,
  ``resize((224, 224), BILINEAR)``), the arrays stacked into one batch.
* ``spdl-window``: ``spdl.io.load_video(url, timestamp=(t, t + 1))`` of a 200 MB
  H.264 video (720p, 200 s, a keyframe every second) at 8 random seconds over T
  threads; items are windows. The case also records, for one window, the bytes
  nginx sent (its access log) over the bytes of the packets the window needs (from
  the keyframe before it): the issue's target is at most 3x.
"""

from __future__ import annotations

import atexit
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
from _datasets import DATA_DIR, _write_atomically, encode_video, ensure_images, moving_frame
from _harness import Backend, Context, Run, Workload, main

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _http_servers import Nginx  # noqa: E402  (the tests' server, one definition)

NUM_IMAGES = 256
SIZE = 224
LATENCY = "020"  # nginx's /delay/<digits>/: 0.020 s
PEER_THREADS = 64
VIDEO_SECONDS = 200
VIDEO_CHUNK_SECONDS = 10  # encoded once, remuxed 20 times
WINDOWS_PER_ROUND = 8


def _chunk_frames() -> Iterator[np.ndarray]:
    rng = np.random.default_rng(0)
    for index in range(30 * VIDEO_CHUNK_SECONDS):
        rgb = moving_frame(index, 1280, 720).astype(np.int16)
        rgb += rng.integers(-6, 7, rgb.shape, dtype=np.int16)
        yield rgb.clip(0, 255).astype(np.uint8)


def _write_chunk(path: Path) -> None:
    encode_video(
        path,
        _chunk_frames(),
        width=1280,
        height=720,
        frame_rate=30,
        options={"preset": "ultrafast", "g": "30", "bf": "0"},
        container_format="mp4",
        bit_rate=8_000_000,  # 10 MB per 10 s: the long video is 200 MB
    )


def _write_long(path: Path, chunk: Path) -> None:
    """``VIDEO_SECONDS`` of video: the chunk's packets again and again, shifted in time."""
    with av.open(str(chunk)) as source, av.open(str(path), mode="w", format="mp4") as target:
        src = source.streams.video[0]
        out = target.add_stream_from_template(src)
        packets = [p for p in source.demux(src) if p.size]
        step = int(VIDEO_CHUNK_SECONDS / src.time_base)
        for copy in range(VIDEO_SECONDS // VIDEO_CHUNK_SECONDS):
            for packet in packets:
                moved = av.Packet(bytes(packet))
                moved.pts, moved.dts = packet.pts + copy * step, packet.dts + copy * step
                moved.is_keyframe = packet.is_keyframe
                moved.time_base, moved.stream = src.time_base, out
                target.mux(moved)


def long_video() -> Path:
    chunk = _write_atomically(DATA_DIR / "w8" / "chunk_720p_10s.mp4", _write_chunk)
    return _write_atomically(
        DATA_DIR / "w8" / f"long_720p_{VIDEO_SECONDS}s.mp4", lambda p: _write_long(p, chunk)
    )


def _prepare() -> None:
    ensure_images(NUM_IMAGES)
    long_video()


def _server() -> Nginx:
    tmp = Path(tempfile.mkdtemp(prefix="spdl-w8-nginx-"))
    server = Nginx(DATA_DIR, tmp).start()
    if not server.has_delay:
        server.stop()
        raise RuntimeError("nginx's echo module is missing: apt-get install libnginx-mod-http-echo")
    atexit.register(server.stop)
    return server


def _urls(server: Nginx, paths: list[Path]) -> list[str]:
    return [server.url(f"delay/{LATENCY}/{p.relative_to(DATA_DIR)}") for p in paths]


def _check(shape: tuple[int, ...]) -> None:
    if tuple(shape) != (NUM_IMAGES, SIZE, SIZE, 3):
        raise RuntimeError(f"expected {(NUM_IMAGES, SIZE, SIZE, 3)}, got {tuple(shape)}")


def setup_spdl_http(ctx: Context) -> Run:
    import spdl.io

    spdl.io.set_executor_sizes(decode=ctx.threads)
    urls = _urls(_server(), ensure_images(NUM_IMAGES))

    def run() -> int:
        _check(spdl.io.batch_load_image(urls, SIZE, SIZE).shape)
        return NUM_IMAGES

    return run


def setup_spdl_local(ctx: Context) -> Run:
    import spdl.io

    spdl.io.set_executor_sizes(decode=ctx.threads)
    paths = ensure_images(NUM_IMAGES)

    def run() -> int:
        _check(spdl.io.batch_load_image(paths, SIZE, SIZE).shape)
        return NUM_IMAGES

    return run


def setup_requests_pillow(ctx: Context) -> Run:
    import io
    import threading

    import requests
    from PIL import Image

    urls = _urls(_server(), ensure_images(NUM_IMAGES))
    local = threading.local()
    pool = ThreadPoolExecutor(PEER_THREADS)

    def load(url: str) -> np.ndarray:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        response = session.get(url, timeout=30)
        response.raise_for_status()
        image = Image.open(io.BytesIO(response.content)).convert("RGB")
        return np.asarray(image.resize((SIZE, SIZE), Image.BILINEAR))

    def run() -> int:
        _check(np.stack(list(pool.map(load, urls))).shape)
        return NUM_IMAGES

    return run


def _window_packet_bytes(path: Path, start: float) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(int(start / stream.time_base), stream=stream)
        total = 0
        for packet in container.demux(stream):
            if packet.dts is None or packet.dts * stream.time_base >= start + 1:
                break
            total += packet.size
    return total


def setup_spdl_window(ctx: Context) -> Run:
    import spdl.io

    server = _server()
    path = long_video()
    url = server.url(f"delay/{LATENCY}/{path.relative_to(DATA_DIR)}")
    # One window measured alone: what nginx sent for it against what it needs.
    start = 101.5
    spdl.io.load_video(url, timestamp=(start, start + 1))
    time.sleep(0.3)  # a prefetch in flight ends and is logged too
    sent = sum(e.body_bytes for e in server.log() if e.uri.endswith(path.name))
    needed = _window_packet_bytes(path, start)
    pool = ThreadPoolExecutor(ctx.threads)
    rng = random.Random(0)

    def one(first: float) -> int:
        return spdl.io.load_video(url, timestamp=(first, first + 1), width=224, height=224).shape[0]

    def run() -> int:
        starts = [rng.uniform(0, VIDEO_SECONDS - 1) for _ in range(WINDOWS_PER_ROUND)]
        if min(pool.map(one, starts)) < 29:
            raise RuntimeError("a window lacks frames")
        return WINDOWS_PER_ROUND

    run.info = {  # type: ignore[attr-defined]
        "window_bytes_sent": sent,
        "window_packet_bytes": needed,
        "transfer_ratio": round(sent / needed, 3),
        "file_bytes": path.stat().st_size,
    }
    return run


BACKENDS = (
    Backend(
        "spdl-http",
        "batch_load_image(256 URLs, 224x224): fetched on the I/O pool, decoded as they land",
        setup_spdl_http,
        "spdl",
    ),
    Backend(
        "spdl-local",
        "batch_load_image(256 local paths, 224x224): the same batch without the network",
        setup_spdl_local,
        "spdl",
    ),
    Backend(
        "requests-pillow",
        "64 threads: requests.Session.get + Pillow decode, RGB, resize 224x224 BILINEAR",
        setup_requests_pillow,
        "requests",
    ),
    Backend(
        "spdl-window",
        "load_video(url, 1 s window) of a 200 MB 720p H.264 file, 8 windows per round",
        setup_spdl_window,
        "spdl",
    ),
)

WORKLOAD = Workload(
    name="w8_remote",
    title="W8 remote: 256 JPEGs over HTTP (+20 ms per request) and 1 s video windows",
    unit="items/s",
    backends=BACKENDS,
    prepare=_prepare,
    rounds=(3, 7),
    notes=(
        "nginx on 127.0.0.1 waits 20 ms before each answer. Items are images, except "
        "spdl-window (1 s windows). Targets: spdl-http at least 0.8x spdl-local; a "
        "window's transfer_ratio (bytes sent / the window's packet bytes) at most 3.",
    ),
)

if __name__ == "__main__":
    main(WORKLOAD, __file__)
