"""URL sources load exactly what the same files load locally, served by a real nginx.

nginx (tests/_http_servers.py) runs as a child process on 127.0.0.1 and logs, per
request, the bytes it sent and the Range header: the tests count what a video window
transfers, and which connections were reused, from that log.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import pathlib
import ssl
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import av
import numpy as np
import pytest
from _http_servers import FaultServer, Nginx, fault_server, nginx
from media import AudioReference, ImageReference, VideoReference, encode_video, smooth_rgb

import spdl.io
from spdl.io._core.remote import redact
from spdl.io._runtime import executor
from spdl.io._runtime import http as _http

LONG_VIDEO_SECONDS = 12
LONG_VIDEO_GOP = 30


@pytest.fixture(scope="module")
def server(media_dir: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with nginx(media_dir, tmp_path_factory.mktemp("nginx")) as running:
        yield running


@pytest.fixture(scope="module")
def faults(media_dir: pathlib.Path) -> Iterator[FaultServer]:
    with fault_server(media_dir, stall_s=0.3) as running:
        yield running


@pytest.fixture(autouse=True, scope="module")
def quick_retries() -> Iterator[None]:
    before = spdl.io.remote_options()
    spdl.io.set_remote_options(timeout_s=5, max_attempts=3, backoff_s=0.01, max_backoff_s=0.05)
    yield
    spdl.io.set_remote_options(**vars(before))


@pytest.fixture(scope="module")
def long_video(media_dir: pathlib.Path) -> pathlib.Path:
    """12 s of 30 fps 192x128 H.264 with a key frame every second, noisy enough that
    each second holds a few tens of kilobytes."""
    path = media_dir / "long_h264.mp4"
    rng = np.random.default_rng(0)

    def frames() -> Iterator[np.ndarray]:
        for index in range(30 * LONG_VIDEO_SECONDS):
            rgb = smooth_rgb(192, 128, index / 30).astype(np.int16)
            rgb += rng.integers(-12, 13, rgb.shape, dtype=np.int16)
            yield rgb.clip(0, 255).astype(np.uint8)

    encode_video(
        path,
        frames(),
        width=192,
        height=128,
        options={"g": str(LONG_VIDEO_GOP), "preset": "ultrafast", "crf": "20"},
    )
    return path


def _array(buffer: object) -> np.ndarray:
    return spdl.io.to_numpy(buffer)


def test_every_image_kind_from_a_url_equals_the_local_file(
    server: Nginx, image_files: dict[str, ImageReference]
):
    for kind, ref in image_files.items():
        url = server.url(f"files/{ref.path.name}")
        local = _array(spdl.io.load_image(ref.path))
        np.testing.assert_array_equal(_array(spdl.io.load_image(url)), local, err_msg=kind)
        resized = _array(spdl.io.load_image(url, width=20, height=16, pix_fmt="yuv444p"))
        expected = _array(spdl.io.load_image(ref.path, width=20, height=16, pix_fmt="yuv444p"))
        np.testing.assert_array_equal(resized, expected, err_msg=kind)


def test_audio_from_a_url_equals_the_local_file(
    server: Nginx, wav_audio: AudioReference, aac_audio: AudioReference
):
    for ref in (wav_audio, aac_audio):
        url = server.url(f"files/{ref.path.name}")
        np.testing.assert_array_equal(
            _array(spdl.io.load_audio(url)), _array(spdl.io.load_audio(ref.path))
        )
        np.testing.assert_array_equal(
            _array(spdl.io.load_audio(url, timestamp=(0.25, 0.75))),
            _array(spdl.io.load_audio(ref.path, timestamp=(0.25, 0.75))),
        )


def test_video_from_a_url_equals_the_local_file(server: Nginx, h264_video: VideoReference):
    url, path = server.url(f"files/{h264_video.path.name}"), h264_video.path
    np.testing.assert_array_equal(_array(spdl.io.load_video(url)), h264_video.rgb24)
    for window in ((0.0, 1.0), (1.3, 2.2), (2.5, 10.0)):
        np.testing.assert_array_equal(
            _array(spdl.io.load_video(url, timestamp=window)),
            _array(spdl.io.load_video(path, timestamp=window)),
        )
    windows = [(0.5, 1.5), (2.0, 3.0), (0.0, 0.5)]
    remote = spdl.io.load_video_windows(url, windows, width=48, height=32)
    local = spdl.io.load_video_windows(path, windows, width=48, height=32)
    for got, expected in zip(remote, local, strict=True):
        np.testing.assert_array_equal(_array(got), _array(expected))
    # A filter graph option takes the per-window fallback: through the same reader.
    fallback = spdl.io.load_video_windows(url, windows[:2], frame_rate=10)
    for got, window in zip(fallback, windows[:2], strict=True):
        expected = spdl.io.load_video(path, timestamp=window, frame_rate=10)
        np.testing.assert_array_equal(_array(got), _array(expected))


def test_phases_and_every_form_take_urls(
    server: Nginx, h264_video: VideoReference, wav_audio: AudioReference
):
    url = server.url(f"files/{h264_video.path.name}")
    packets = spdl.io.demux_media("video", url, (1.0, 2.0)).result()
    assert packets.src == url and packets.timestamp == (1.0, 2.0)
    frames = _array(spdl.io.convert_frames(spdl.io.decode_packets(packets).result()).result())
    np.testing.assert_array_equal(frames, h264_video.rgb24[30:60])
    streamed = [f.result() for f in spdl.io.streaming_demux("video", url, [(0, 1), (2, 3)])]
    assert [len(p) for p in streamed] == [
        len(spdl.io.demux_media("video", h264_video.path, w).result()) for w in [(0, 1), (2, 3)]
    ]
    wav_url = server.url(f"files/{wav_audio.path.name}")

    async def load() -> tuple[np.ndarray, list[int]]:
        buffer = await spdl.io.async_load_media("audio", wav_url)
        counts = [len(p) async for p in spdl.io.async_streaming_demux("audio", wav_url, [(0, 0.5)])]
        return _array(buffer), counts

    audio, counts = asyncio.run(load())
    np.testing.assert_array_equal(audio, _array(spdl.io.load_audio(wav_audio.path)))
    assert counts == [len(spdl.io.demux_media("audio", wav_audio.path, (0, 0.5)).result())]


def test_frame_samplers_take_urls(server: Nginx, long_video: pathlib.Path):
    url = server.url(f"files/{long_video.name}")
    for sampler in (spdl.io.clips_at_random_indices, spdl.io.clips_at_regular_indices):
        remote = sampler(url, num_clips=2, num_frames_per_clip=4, width=32, height=32)
        local = sampler(long_video, num_clips=2, num_frames_per_clip=4, width=32, height=32)
        if sampler is spdl.io.clips_at_regular_indices:
            np.testing.assert_array_equal(remote.indices, local.indices)
        expected = spdl.io.load_video_frames(
            long_video, remote.indices.ravel(), width=32, height=32
        )
        np.testing.assert_array_equal(
            _array(remote.data).reshape(-1, 32, 32, 3), _array(expected.data)
        )
    index = spdl.io.index_video(url)
    assert index.num_frames == spdl.io.index_video(long_video).num_frames
    server.clear_log()
    frames = spdl.io.load_video_frames(url, [10, 200, 201], index=index)
    local = spdl.io.load_video_frames(long_video, [10, 200, 201])
    np.testing.assert_array_equal(_array(frames.data), _array(local.data))
    time.sleep(0.1)
    # With an index, only ranges around the wanted frames are read, not the file.
    sent = sum(e.body_bytes for e in server.log() if e.uri.endswith(long_video.name))
    assert sent < long_video.stat().st_size / 2


def test_batch_of_urls_equals_the_batch_of_files(
    server: Nginx, image_files: dict[str, ImageReference]
):
    refs = list(image_files.values()) * 4
    urls = [server.url(f"files/{ref.path.name}") for ref in refs]
    local = _array(spdl.io.batch_load_image([ref.path for ref in refs], 24, 24))
    np.testing.assert_array_equal(_array(spdl.io.batch_load_image(urls, 24, 24)), local)
    mixed = [url if i % 2 else refs[i].path for i, url in enumerate(urls)]
    np.testing.assert_array_equal(_array(spdl.io.batch_load_image(mixed, 24, 24)), local)
    got = asyncio.run(spdl.io.async_batch_load_image(urls, 24, 24))
    np.testing.assert_array_equal(_array(got), local)
    crop = spdl.io.RandomResizedCrop(seed=3)
    np.testing.assert_array_equal(
        _array(spdl.io.batch_load_image(urls, 16, 16, crop=crop, hflip=True)),
        _array(spdl.io.batch_load_image([r.path for r in refs], 16, 16, crop=crop, hflip=True)),
    )


def test_the_dataloaders_image_batches_take_urls(
    server: Nginx, image_files: dict[str, ImageReference]
):
    from spdl.dataloader import ImageBatchLoader

    loader = ImageBatchLoader(32, transform="eval", resize=40, to_torch=False)
    refs = list(image_files.values())
    remote = [(server.url(f"files/{ref.path.name}"), i) for i, ref in enumerate(refs)]
    images, labels = loader(remote)
    expected, _ = loader([(ref.path, i) for i, ref in enumerate(refs)])
    np.testing.assert_array_equal(images, expected)
    assert labels.tolist() == list(range(len(refs)))


def test_a_failed_url_leaves_the_other_images_of_a_lenient_batch(
    server: Nginx, image_files: dict[str, ImageReference], caplog: pytest.LogCaptureFixture
):
    refs = list(image_files.values())
    urls = [server.url(f"files/{ref.path.name}") for ref in refs]
    missing = server.url("files/missing.jpg?X-Amz-Signature=s3cr3t")
    with caplog.at_level(logging.ERROR, logger="spdl.io"):
        batch = spdl.io.batch_load_image([urls[0], missing, urls[1]], 24, 24, strict=False)
    expected = spdl.io.batch_load_image([refs[0].path, refs[1].path], 24, 24)
    np.testing.assert_array_equal(_array(batch), _array(expected))
    assert "HTTP 404" in caplog.text and redact(missing) in caplog.text
    assert "s3cr3t" not in caplog.text
    with pytest.raises(spdl.io.AsyncIOFailure, match="HTTP 404") as failure:
        spdl.io.batch_load_image([urls[0], missing], 24, 24)
    assert failure.value.phase == "fetch" and "s3cr3t" not in str(failure.value)


def _window_packet_bytes(path: pathlib.Path, window: tuple[float, float]) -> int:
    """The bytes of the packets a window needs (from the key frame before it)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(int(window[0] / stream.time_base), stream=stream)
        total = 0
        for packet in container.demux(stream):
            if packet.dts is None or packet.dts * stream.time_base >= window[1]:
                break
            total += packet.size
    return total


def test_a_video_window_transfers_a_small_multiple_of_its_packets(
    server: Nginx, long_video: pathlib.Path
):
    spdl.io.set_remote_options(read_ahead_bytes=256 << 10)
    try:
        url = server.url(f"files/{long_video.name}")
        window = (6.0, 7.0)
        server.clear_log()
        got = _array(spdl.io.load_video(url, timestamp=window))
        np.testing.assert_array_equal(got, _array(spdl.io.load_video(long_video, timestamp=window)))
        time.sleep(0.2)  # nginx logs a request when it ends; a prefetch may still run
        entries = [e for e in server.log() if e.uri.endswith(long_video.name)]
    finally:
        spdl.io.set_remote_options(read_ahead_bytes=1 << 20)
    transferred = sum(e.body_bytes for e in entries)
    size = long_video.stat().st_size
    packet_bytes = _window_packet_bytes(long_video, window)
    assert all(e.range.startswith("bytes=") for e in entries)  # only ranges, never the file
    assert transferred <= 4 * packet_bytes + (64 << 10), (transferred, packet_bytes, size)
    assert transferred < size / 3, (transferred, size)
    assert len(entries) <= 8, entries


def test_https_with_a_trusted_certificate(
    media_dir: pathlib.Path,
    tmp_path: pathlib.Path,
    image_files: dict[str, ImageReference],
    h264_video: VideoReference,
    monkeypatch: pytest.MonkeyPatch,
):
    with nginx(media_dir, tmp_path, tls=True) as server:
        image_url = server.url(f"files/{image_files['png'].path.name}", tls=True)
        # The certificate is its own: the default trust store refuses it, at once.
        monkeypatch.setattr(_http, "_ssl_context", None)
        with pytest.raises(spdl.io.RemoteError, match="CERTIFICATE_VERIFY_FAILED.* 1 attempt"):
            spdl.io.load_image(image_url)
        monkeypatch.setattr(_http, "_ssl_context", ssl.create_default_context(cafile=server.cert))
        np.testing.assert_array_equal(
            _array(spdl.io.load_image(image_url)),
            _array(spdl.io.load_image(image_files["png"].path)),
        )
        video_url = server.url(f"files/{h264_video.path.name}", tls=True)
        np.testing.assert_array_equal(
            _array(spdl.io.load_video(video_url, timestamp=(1, 2))), h264_video.rgb24[30:60]
        )
        _http.close_idle()


def test_a_forked_child_opens_connections_of_its_own(
    server: Nginx, image_files: dict[str, ImageReference]
):
    url = server.url(f"files/{image_files['jpeg'].path.name}")
    spdl.io.load_image(url)  # the parent keeps an idle connection
    pid = os.fork()
    if pid == 0:  # the child: its own connection; the parent's is not shared
        code = 1
        try:
            shape = spdl.io.load_image(url).shape
            code = 0 if shape == (48, 64, 3) and _http.open_connections() == 1 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    spdl.io.load_image(url)  # the parent's connection still works


def test_connections_are_reused(server: Nginx, image_files: dict[str, ImageReference]):
    _http.close_idle()
    server.clear_log()
    name = image_files["png"].path.name
    url = server.url(f"files/{name}")
    for _ in range(10):
        spdl.io.load_image(url)
    time.sleep(0.1)
    # An earlier test's request may still be logged late: count this file's only.
    entries = [entry for entry in server.log() if entry.uri == f"/files/{name}"]
    assert len(entries) == 10
    assert len({e.connection for e in entries}) == 1  # one connection, ten requests


def test_a_batch_keeps_many_requests_in_flight(
    faults: FaultServer, image_files: dict[str, ImageReference]
):
    # Each request stalls 0.3 s at the server: one at a time, 32 would take 10 s.
    urls = [faults.url("stall", 1, image_files["jpeg"].path.name) + f"?n={i}" for i in range(32)]
    faults.max_in_flight = 0
    batch = spdl.io.batch_load_image(urls, 16, 16)
    assert batch.shape == (32, 16, 16, 3)
    assert faults.max_in_flight >= 8, faults.max_in_flight  # one at a time: 1


def test_fsspec_protocols_load_like_http(
    h264_video: VideoReference, image_files: dict[str, ImageReference]
):
    fsspec = pytest.importorskip("fsspec")  # torch, a test dependency, requires it
    memory = fsspec.filesystem("memory")
    memory.pipe("/spdl/clip.mp4", h264_video.path.read_bytes())
    memory.pipe("/spdl/pic.png", image_files["png"].path.read_bytes())
    np.testing.assert_array_equal(
        _array(spdl.io.load_image("memory://spdl/pic.png")),
        _array(spdl.io.load_image(image_files["png"].path)),
    )
    np.testing.assert_array_equal(
        _array(spdl.io.load_video("memory://spdl/clip.mp4", timestamp=(1, 2))),
        h264_video.rgb24[30:60],
    )
    with pytest.raises(spdl.io.RemoteNotFoundError, match="memory://spdl/none.png"):
        spdl.io.load_image("memory://spdl/none.png")


def _faulty_filesystem(fsspec: Any, protocol: str, data: bytes, **faults: Any) -> None:
    """A memory filesystem under ``protocol://`` holding ``/file`` = ``data``, whose
    ``size`` / ``cat_file`` misbehave."""
    from fsspec.implementations.memory import MemoryFileSystem

    class Faulty(MemoryFileSystem):
        store: dict = {}
        pseudo_dirs = [""]
        cachable = False
        reads = 0

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if faults.get("unreachable"):  # as ftp:// connects when it is made
                raise ConnectionRefusedError(111, "Connection refused")
            super().__init__(*args, **kwargs)

        @classmethod
        def _strip_protocol(cls, path: str) -> str:
            return "/" + path.removeprefix(f"{protocol}://").lstrip("/")

        def size(self, path: str) -> Any:
            return None if faults.get("unknown_size") else super().size(path)

        def cat_file(self, path: str, start: Any = None, end: Any = None, **kwargs: Any) -> Any:
            Faulty.reads += 1
            if Faulty.reads == faults.get("fail_read"):
                raise faults["error"]
            return super().cat_file(path, start, end, **kwargs)

    Faulty.protocol = (protocol,)
    fsspec.register_implementation(protocol, Faulty, clobber=True)
    if not faults.get("unreachable"):
        fsspec.filesystem(protocol).pipe("/file", data)


def test_fsspec_failures_are_remote_errors_that_keep_secrets(
    h264_video: VideoReference, image_files: dict[str, ImageReference]
):
    fsspec = pytest.importorskip("fsspec")
    secret = "s3cr3tpw"
    # fsspec's own error quotes the URL: as the cause, tracebacks showed the secret.
    with pytest.raises(spdl.io.RemoteNotFoundError) as caught:
        spdl.io.load_image(f"memory://spdl/none.png?sig={secret}")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert secret not in "".join(traceback.format_exception(caught.value))
    # Async filesystems raise asyncio's CancelledError (a BaseException) when their
    # request is cancelled: it escaped unnamed, and a task awaiting it looked cancelled.
    png = image_files["png"].path.read_bytes()
    _faulty_filesystem(fsspec, "spdlcancel", png, fail_read=1, error=asyncio.CancelledError())
    with pytest.raises(spdl.io.RemoteError, match=r"spdlcancel://file: CancelledError"):
        spdl.io.load_image("spdlcancel://file")
    # A read failing while PyAV opens the container was a MediaError.
    video = h264_video.path.read_bytes()
    _faulty_filesystem(fsspec, "spdlreset", video, fail_read=3, error=ConnectionResetError("x"))
    before = spdl.io.remote_options()
    spdl.io.set_remote_options(read_ahead_bytes=4096)
    try:
        with pytest.raises(spdl.io.RemoteError, match="spdlreset://file: Connection"):
            spdl.io.load_video("spdlreset://file", timestamp=(1, 2))
    finally:
        spdl.io.set_remote_options(**vars(before))


def test_a_filesystem_that_fails_when_made_fails_the_fetch(
    image_files: dict[str, ImageReference],
):
    # It was made in the caller's thread when called: a bare ConnectionRefusedError
    # escaped the Future form and failed a lenient batch as a whole.
    fsspec = pytest.importorskip("fsspec")
    _faulty_filesystem(fsspec, "spdldown", b"", unreachable=True)
    url = "spdldown://user:s3cr3t@host/pic.png"
    with pytest.raises(spdl.io.RemoteError, match=r"spdldown://\*\*\*@host/pic.png: Connection"):
        spdl.io.load_image(url)
    future = spdl.io.demux_media("image", url)  # fails in the background, not here
    with pytest.raises(spdl.io.AsyncIOFailure) as caught:
        future.result()
    assert caught.value.phase == "fetch"
    good = str(image_files["png"].path)
    batch = spdl.io.batch_load_image([url, good], 8, 8, strict=False)
    assert spdl.io.to_numpy(batch).shape == (1, 8, 8, 3)


def test_fsspec_files_of_unknown_size_are_fetched_whole(h264_video: VideoReference):
    fsspec = pytest.importorskip("fsspec")
    _faulty_filesystem(fsspec, "spdlnosize", h264_video.path.read_bytes(), unknown_size=True)
    got = spdl.io.load_video("spdlnosize://file", timestamp=(1, 2))  # was a TypeError
    np.testing.assert_array_equal(_array(got), h264_video.rgb24[30:60])


def test_fsspec_chains_are_urls_redacted_part_by_part(
    image_files: dict[str, ImageReference], tmp_path: pathlib.Path
):
    # "simplecache::memory://..." was taken for a local path (FileNotFoundError).
    fsspec = pytest.importorskip("fsspec")
    fsspec.filesystem("memory").pipe("/spdl/chain.png", image_files["png"].path.read_bytes())
    np.testing.assert_array_equal(
        _array(spdl.io.load_image("simplecache::memory://spdl/chain.png")),
        _array(spdl.io.load_image(image_files["png"].path)),
    )
    chain = "simplecache::s3://user:s3cr3t@bucket/key.png?sig=abc"
    assert redact(chain) == "simplecache::s3://***@bucket/key.png?sig=***"
    local = tmp_path / "a::b.png"  # "::" without a URL after it: still a file name
    local.write_bytes(image_files["png"].path.read_bytes())
    assert spdl.io.to_numpy(spdl.io.load_image(str(local))).shape == (60, 80, 3)


def test_file_urls_are_local_paths(image_files: dict[str, ImageReference]):
    path = image_files["jpeg"].path
    np.testing.assert_array_equal(
        _array(spdl.io.load_image(path.as_uri())), _array(spdl.io.load_image(path))
    )


def test_a_file_url_of_another_host_is_refused_when_called(image_files):
    # file://server/path read the local /path.
    path = image_files["jpeg"].path
    with pytest.raises(ValueError, match="names the host 'server'"):
        spdl.io.load_image(f"file://server{path}")
    local = f"file://LOCALHOST{path}"
    np.testing.assert_array_equal(
        _array(spdl.io.load_image(local)), _array(spdl.io.load_image(path))
    )


def test_protocols_are_case_insensitive(image_files: dict[str, ImageReference]):
    # MEMORY:// passed the call-time check, then failed in the fetch.
    fsspec = pytest.importorskip("fsspec")
    fsspec.filesystem("memory").pipe("/spdl/upper.png", image_files["png"].path.read_bytes())
    np.testing.assert_array_equal(
        _array(spdl.io.load_image("MEMORY://spdl/upper.png")),
        _array(spdl.io.load_image(image_files["png"].path)),
    )


def test_messages_keep_the_query_as_written_but_its_secrets():
    # The query was re-encoded: "?download" read "?download=", "%2F" "/", "+" "%20".
    assert redact("https://h/a.jpg?download") == "https://h/a.jpg?download"
    assert redact("https://h/a?p=x%2Fy&b=c+d") == "https://h/a?p=x%2Fy&b=c+d"
    signed = "https://h/a?p=x%2Fy&X-Amz-Signature=abc&v=1"
    assert redact(signed) == "https://h/a?p=x%2Fy&X-Amz-Signature=***&v=1"


def test_other_protocols_without_fsspec_name_the_extra():
    code = (
        "import sys; sys.modules['fsspec'] = None\n"
        "import spdl.io\n"
        "try:\n"
        "    spdl.io.load_image('s3://bucket/key.jpg?X-Amz-Signature=abc')\n"
        "except ValueError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "spdl[remote]"' in out.stdout, out
    assert "s3://bucket/key.jpg?X-Amz-Signature=***" in out.stdout and "abc" not in out.stdout


def test_unknown_protocol_fails_at_call_time():
    with pytest.raises(ValueError, match="nosuchproto://"):
        spdl.io.demux_media("image", "nosuchproto://host/a.jpg")


@pytest.mark.parametrize(
    ("url", "shown", "secrets"),
    [
        ("https://user:pw@host/a.jpg", "https://***@host/a.jpg", ["user", "pw"]),
        ("https://tok@host:8443/a.jpg", "https://***@host:8443/a.jpg", ["tok"]),
        (
            "https://b.s3.amazonaws.com/k.jpg?X-Amz-Algorithm=AWS4&X-Amz-Credential=AK%2F1"
            "&X-Amz-Signature=ab12&X-Amz-Security-Token=tt9&versionId=3",
            "https://b.s3.amazonaws.com/k.jpg?X-Amz-Algorithm=AWS4&X-Amz-Credential=***"
            "&X-Amz-Signature=***&X-Amz-Security-Token=***&versionId=3",
            ["AK", "ab12", "tt9"],
        ),
        ("https://a.blob.core.windows.net/c/v.mp4?sv=2020&sig=XYZ", None, ["XYZ"]),
        (
            "https://cdn/x.jpg?Signature=SSS&Key-Pair-Id=KKK&Policy=PPP&w=1",
            None,
            ["SSS", "KKK", "PPP"],
        ),
        (
            "https://api/x.jpg?token=TTT&api_key=AAA&key=KKK&code=CCC",
            None,
            ["TTT", "AAA", "KKK", "CCC"],
        ),
        ("https://host/plain.jpg?width=3", "https://host/plain.jpg?width=3", []),
        # A password with an unencoded "/", "?" or "#" (urlsplit sees no userinfo there).
        (
            "https://AKID:wJalr/K7MDENG+bPx@bucket.example.com/k.mp4",
            "https://***@bucket.example.com/k.mp4",
            ["AKID", "wJalr", "K7MDENG"],
        ),
        ("http://alice:pa?ss@h/x.jpg", "http://***@h/x.jpg", ["alice", "pa?ss"]),
        ("http://alice:pa#ss@h/x.jpg", "http://***@h/x.jpg", ["alice", "pa#ss"]),
        (
            "http://alice:1234/se/cret@h:80/x.jpg?sig=SSS&w=1",
            "http://***@h:80/x.jpg?sig=***&w=1",
            ["alice", "1234", "cret", "SSS"],
        ),
        ("https://cdn/img/icon@2x.png", "https://cdn/img/icon@2x.png", []),
    ],
)
def test_redaction_hides_credentials_and_signatures(
    url: str, shown: str | None, secrets: list[str]
):
    safe = redact(url)
    if shown is not None:
        assert safe == shown
    for secret in secrets:
        assert secret not in safe, safe


def test_remote_options_are_checked():
    with pytest.raises(ValueError, match="max_attempts"):
        spdl.io.set_remote_options(max_attempts=0)
    with pytest.raises(TypeError, match="timeout_s"):
        spdl.io.set_remote_options(timeout_s="1")
    with pytest.raises(ValueError, match="timeout_s"):
        spdl.io.set_remote_options(timeout_s=0)
    # A socket cannot wait forever by a timeout: every fetch failed with OverflowError.
    for timeout in (math.inf, threading.TIMEOUT_MAX * 2):
        with pytest.raises(ValueError, match="timeout_s.*finite"):
            spdl.io.set_remote_options(timeout_s=timeout)
    assert spdl.io.remote_options().timeout_s < threading.TIMEOUT_MAX
    for options, error, match in (
        ({"deadline_s": -1}, ValueError, "deadline_s.*>= 0"),
        ({"deadline_s": math.inf}, ValueError, "deadline_s.*finite"),
        ({"deadline_s": "60"}, TypeError, "deadline_s"),
        ({"max_body_bytes": -1}, ValueError, "max_body_bytes.*>= 0"),
        ({"max_body_bytes": 1.5}, TypeError, "max_body_bytes.*an int"),
    ):
        with pytest.raises(error, match=match):
            spdl.io.set_remote_options(**options)
    assert (spdl.io.remote_options().deadline_s, spdl.io.remote_options().max_body_bytes) == (0, 0)
    # NumPy numbers count as Python's (docs/io.md), and are kept as Python's.
    before = spdl.io.remote_options()
    try:
        spdl.io.set_remote_options(max_attempts=np.int64(4), backoff_s=np.float32(0.5))
        options = spdl.io.remote_options()
        assert (options.max_attempts, options.backoff_s) == (4, 0.5)
        assert type(options.max_attempts) is int and type(options.backoff_s) is float
    finally:
        spdl.io.set_remote_options(**vars(before))


def test_io_pool_size_is_configurable():
    code = (
        "import spdl.io\n"
        "from spdl.io._runtime import executor\n"
        "print(executor.io_threads(), executor.get_io_executor()._max_workers)\n"
        "spdl.io.set_executor_sizes(io=5)\n"
        "print(executor.io_threads(), executor.get_io_executor()._max_workers)\n"
    )
    env = {**os.environ, "SPDL_IO_THREADS": "7"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["7", "7", "5", "5"], out.stderr
    with pytest.raises(ValueError, match="io"):
        spdl.io.set_executor_sizes(io=0)


def test_no_fetch_thread_or_connection_outlives_its_loads(
    server: Nginx, image_files: dict[str, ImageReference]
):
    url = server.url(f"files/{image_files['jpeg'].path.name}")
    spdl.io.batch_load_image([url] * 8, 16, 16)
    in_use = _http.open_connections() - sum(len(c) for c in _http._idle.values())
    assert in_use == 0
    fetchers = [t for t in threading.enumerate() if t.name.startswith("spdl_io")]
    assert len(fetchers) <= executor.io_threads()
    watchers = [t for t in threading.enumerate() if t.name == "spdl_http_cancel"]
    assert len(watchers) <= 1
