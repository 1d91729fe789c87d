"""URL sources that fail: retries where they belong, clear errors where they do not,
no hang, no leaked connection, secrets never in a message, cancellation mid-download.

Faults come from nginx (``/status/<code>/``, ``/drop/``, ``/throttled/``) and from a
small server of ours (tests/_http_servers.py) that fails the first N requests of a
path and then serves the file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import pathlib
import time
import tracemalloc
import weakref
from collections.abc import Iterator

import numpy as np
import pytest
from _http_servers import FaultServer, Nginx, fault_server, free_port, nginx
from media import ImageReference, VideoReference
from PIL import Image

import spdl.io
from spdl.io._runtime import http as _http
from spdl.io._runtime import http_wire as _http_wire

pytestmark = pytest.mark.timeout(120)

MAX_ATTEMPTS = 3


@pytest.fixture(scope="module")
def server(media_dir: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    with nginx(media_dir, tmp_path_factory.mktemp("nginx")) as running:
        yield running


@pytest.fixture(scope="module")
def faults(media_dir: pathlib.Path) -> Iterator[FaultServer]:
    with fault_server(media_dir, retry_after="1", stall_s=3.0) as running:
        yield running


@pytest.fixture(autouse=True, scope="module")
def quick_retries() -> Iterator[None]:
    before = spdl.io.remote_options()
    spdl.io.set_remote_options(
        timeout_s=1.0, max_attempts=MAX_ATTEMPTS, backoff_s=0.01, max_backoff_s=0.05
    )
    yield
    spdl.io.set_remote_options(**vars(before))


@pytest.fixture
def big_file(media_dir: pathlib.Path) -> pathlib.Path:
    """4 MB: 60 s at /throttled/'s 64 KB/s."""
    path = media_dir / "big.bin"
    if not path.exists():
        path.write_bytes(np.random.default_rng(1).bytes(4 << 20))
    return path


def _connections_in_use() -> int:
    with _http._pool_lock:
        return _http._open - sum(len(conns) for conns in _http._idle.values())


def _requests(server: Nginx, fragment: str) -> int:
    time.sleep(0.05)  # nginx logs a request once it ends
    return sum(fragment in entry.uri for entry in server.log())


@pytest.mark.parametrize("fault", ["503", "429", "500", "drop", "truncate"])
def test_transient_faults_are_retried_until_the_file_loads(
    faults: FaultServer, image_files: dict[str, ImageReference], fault: str
):
    ref = image_files["png"]
    # Retry-After: 1 would make the 503/429 cases wait; these ask for 0 via the query.
    url = faults.url(fault, 2, ref.path.name) + "?case=transient"
    faults.retry_after = "0"
    try:
        got = spdl.io.to_numpy(spdl.io.load_image(url))
    finally:
        faults.retry_after = "1"
    np.testing.assert_array_equal(got, spdl.io.to_numpy(spdl.io.load_image(ref.path)))
    assert len(faults.hits(f"/{fault}/2/{ref.path.name}?case=transient")) == 3
    assert _connections_in_use() == 0


@pytest.mark.parametrize("framing", ["chunked", "unsized"])
def test_chunked_and_unsized_answers_load(
    faults: FaultServer, image_files: dict[str, ImageReference], framing: str
):
    ref = image_files["bmp"]  # 5 KB: several chunks
    for _ in range(2):  # the second reuses the connection a chunked answer leaves open
        got = spdl.io.to_numpy(spdl.io.load_image(faults.url(framing, 0, ref.path.name)))
        np.testing.assert_array_equal(got, spdl.io.to_numpy(spdl.io.load_image(ref.path)))
    assert _connections_in_use() == 0


def test_retry_after_is_honoured(faults: FaultServer, image_files: dict[str, ImageReference]):
    ref = image_files["jpeg"]
    url = faults.url("503", 1, ref.path.name) + "?case=retry-after"
    spdl.io.load_image(url)
    first, second = faults.hits("?case=retry-after")
    # The backoff alone waits at most 0.05 s here; the server asked for 1 s.
    assert second[0] - first[0] >= 0.9


def test_a_range_request_is_retried_too(faults: FaultServer, h264_video: VideoReference):
    url = faults.url("truncate", 1, h264_video.path.name) + "?case=range"
    got = spdl.io.to_numpy(spdl.io.load_video(url, timestamp=(1.0, 2.0)))
    np.testing.assert_array_equal(got, h264_video.rgb24[30:60])
    ranges = [r[2] for r in faults.hits("?case=range")]
    assert ranges[0] == ranges[1] and ranges[0].startswith("bytes=0-")


def test_a_failed_range_read_is_fetched_max_attempts_times_and_nothing_printed(
    faults: FaultServer, h264_video: VideoReference, capfd: pytest.CaptureFixture[str]
):
    # FFmpeg reads again after a failed read: the range ran its retries twice, and
    # PyAV printed the first error ("PyAV library exception being dropped") to fd 2.
    before = spdl.io.remote_options()
    spdl.io.set_remote_options(read_ahead_bytes=4096)  # the reader asks for small ranges
    try:
        url = faults.url("farfail", 0, h264_video.path.name) + "?case=far"
        with pytest.raises(spdl.io.RemoteError, match="HTTP 503.*after 3 attempts"):
            spdl.io.load_video(url, timestamp=(1.0, 2.0))
    finally:
        spdl.io.set_remote_options(**vars(before))
    failed = [r for r in faults.hits("?case=far") if not r[2].startswith("bytes=0-")]
    assert len(failed) == MAX_ATTEMPTS and len({r[2] for r in failed}) == 1
    assert "exception being dropped" not in capfd.readouterr().err


def test_an_announced_length_is_not_allocated_before_the_bytes_come(
    faults: FaultServer, image_files: dict[str, ImageReference]
):
    # A server announcing 1 GiB for a small file: the body buffer was 1 GiB per attempt.
    name = next(iter(image_files.values())).path.name
    url = faults.url("hugelength", 0, name) + "?case=huge"
    tracemalloc.start()
    try:
        with pytest.raises(spdl.io.RemoteError, match="truncated body"):
            spdl.io.load_image(url)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 96 << 20, peak  # the first allocation (64 MiB) and no more


def test_a_body_larger_than_the_first_allocation_arrives_whole(
    server: Nginx, media_dir: pathlib.Path, monkeypatch: pytest.MonkeyPatch
):
    # The body buffer starts at _FIRST_BODY_BYTES and grows as the bytes come.
    monkeypatch.setattr(_http_wire, "_FIRST_BODY_BYTES", 1 << 20)
    pixels = np.random.default_rng(3).integers(0, 256, (1100, 3000, 3), dtype=np.uint8)
    path = media_dir / "large.bmp"
    if not path.exists():
        Image.fromarray(pixels).save(path)
    remote = spdl.io.to_numpy(spdl.io.load_image(server.url("files/large.bmp")))
    np.testing.assert_array_equal(remote, spdl.io.to_numpy(spdl.io.load_image(path)))


@pytest.fixture
def remote_options() -> Iterator[None]:
    before = spdl.io.remote_options()
    yield
    spdl.io.set_remote_options(**vars(before))


def test_a_trickling_body_fails_at_the_deadline(
    faults: FaultServer, image_files: dict[str, ImageReference], remote_options
):
    # 100 bytes every 0.1 s: each read is within timeout_s, so only deadline_s ends it.
    spdl.io.set_remote_options(deadline_s=1.0)
    name = next(iter(image_files.values())).path.name
    url = faults.url("trickle", 0, name) + "?case=trickle"
    started = time.monotonic()
    with pytest.raises(
        spdl.io.RemoteError, match="not done within deadline_s=1 after 1 attempt\\."
    ) as failure:
        spdl.io.load_image(url)
    assert 1.0 <= time.monotonic() - started < 3.0
    assert failure.value.attempts == 1 and len(faults.hits("?case=trickle")) == 1


def test_a_body_over_max_body_bytes_fails_without_a_retry(
    faults: FaultServer, image_files: dict[str, ImageReference], remote_options
):
    spdl.io.set_remote_options(max_body_bytes=1 << 20)
    reference = next(iter(image_files.values()))
    url = faults.url("endless", 0, reference.path.name) + "?case=endless"
    with pytest.raises(spdl.io.RemoteError, match="larger than max_body_bytes=1048576"):
        spdl.io.load_image(url)
    assert len(faults.hits("?case=endless")) == 1
    spdl.io.set_remote_options(max_body_bytes=0)
    spdl.io.load_image(faults.url("ok", 0, reference.path.name))  # a connection kept alive
    spdl.io.set_remote_options(max_body_bytes=100)  # the Content-Length says more
    url = faults.url("ok", 0, reference.path.name) + "?case=small-limit"
    with pytest.raises(spdl.io.RemoteError, match=r"body of \d+ bytes is larger than"):
        spdl.io.load_image(url)
    assert len(faults.hits("?case=small-limit")) == 1  # not again on a new connection
    spdl.io.set_remote_options(max_body_bytes=0)  # no limit
    np.testing.assert_array_equal(
        spdl.io.to_numpy(spdl.io.load_image(url)),
        spdl.io.to_numpy(spdl.io.load_image(reference.path)),
    )


@pytest.mark.parametrize("status", [503, 429, 500])
def test_persistent_server_errors_fail_after_the_last_attempt(server: Nginx, status: int):
    url = server.url(f"status/{status}/img.jpg")
    with pytest.raises(spdl.io.RemoteError) as failure:
        spdl.io.load_image(url)
    error = failure.value
    assert error.status == status and error.attempts == MAX_ATTEMPTS
    assert f"HTTP {status}" in str(error) and f"after {MAX_ATTEMPTS} attempts" in str(error)
    assert url in str(error)
    assert _requests(server, f"/status/{status}/img.jpg") == MAX_ATTEMPTS


@pytest.mark.parametrize("status", [404, 403])
def test_client_errors_are_not_retried(server: Nginx, status: int):
    url = server.url(f"status/{status}/once.jpg")
    kind = spdl.io.RemoteNotFoundError if status == 404 else spdl.io.RemoteError
    with pytest.raises(kind, match=f"HTTP {status}.* after 1 attempt\\.") as failure:
        spdl.io.load_image(url)
    assert failure.value.attempts == 1 and failure.value.status == status
    assert _requests(server, f"/status/{status}/once.jpg") == 1


def test_a_missing_url_is_a_file_not_found_error(server: Nginx):
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        spdl.io.load_video(server.url("files/missing.mp4"), timestamp=(0, 1))


def test_dropped_connections_fail_after_the_last_attempt(server: Nginx):
    url = server.url("drop/img.jpg")
    # A request that a reused connection loses is sent again at once on a new one,
    # within the same attempt (servers close idle connections at will): none here.
    _http.close_idle()
    with pytest.raises(spdl.io.RemoteError, match=f"after {MAX_ATTEMPTS} attempts") as failure:
        spdl.io.load_image(url)
    assert failure.value.status is None
    assert _requests(server, "/drop/img.jpg") == MAX_ATTEMPTS
    assert _connections_in_use() == 0


def test_a_stalled_server_times_out(faults: FaultServer, image_files: dict[str, ImageReference]):
    spdl.io.set_remote_options(timeout_s=0.2, max_attempts=2)
    try:
        url = faults.url("stall", 5, image_files["jpeg"].path.name) + "?case=timeout"
        with pytest.raises(spdl.io.RemoteError, match="timed out after 2 attempts"):
            spdl.io.load_image(url)
    finally:
        spdl.io.set_remote_options(timeout_s=1.0, max_attempts=MAX_ATTEMPTS)
    assert len(faults.hits("?case=timeout")) == 2
    assert _connections_in_use() == 0


class _Held(bytearray):
    """A buffer the caller of a load holds (a bytearray cannot be weakly referenced)."""


@pytest.mark.parametrize("case", ["refused", "timed-out", "dropped-then-loaded"])
def test_a_failed_request_does_not_keep_the_callers_frame_alive(
    faults: FaultServer, image_files: dict[str, ImageReference], case: str
):
    # An error kept in a local of the frame its traceback holds made a cycle: the
    # caller's frame and its buffers lived on after it returned, until gc ran.
    name = image_files["png"].path.name
    url = {
        "refused": f"http://127.0.0.1:{free_port()}/{name}",  # nothing listens there
        "timed-out": faults.url("stall", 1, name) + "?case=cycle",
        "dropped-then-loaded": faults.url("drop", 1, name) + "?case=cycle",
    }[case]

    def caller() -> weakref.ref[_Held]:
        held = _Held(1 << 20)
        try:
            if case == "dropped-then-loaded":  # in this thread, as a video window's reads
                _http.get(url)
            else:
                spdl.io.load_image(url)
        except spdl.io.RemoteError:
            pass
        return weakref.ref(held)

    spdl.io.set_remote_options(timeout_s=0.2, max_attempts=2)
    _http.close_idle()  # a request lost by a reused connection is sent again at once
    gc.collect()
    gc.disable()  # as between two automatic collections
    try:
        held = caller()
        assert held() is None
    finally:
        gc.enable()
        spdl.io.set_remote_options(timeout_s=1.0, max_attempts=MAX_ATTEMPTS)


def test_background_failures_are_async_io_failures_of_the_fetch_phase(server: Nginx):
    url = server.url("status/503/bg.jpg")
    with pytest.raises(spdl.io.AsyncIOFailure) as failure:
        spdl.io.demux_media("image", url).result()
    assert failure.value.phase == "fetch" and failure.value.src == url
    assert isinstance(failure.value.__cause__, spdl.io.RemoteError)
    assert "HTTP 503" in str(failure.value) and f"{MAX_ATTEMPTS} attempts" in str(failure.value)
    with pytest.raises(spdl.io.AsyncIOFailure, match="HTTP 404") as failure:
        asyncio.run(spdl.io.async_load_media("video", server.url("files/none.mp4")))
    assert failure.value.phase == "fetch"


SECRET_QUERY = "?X-Amz-Signature=SIGSIG&X-Amz-Credential=CREDCRED&token=TOKTOK&w=1"


@pytest.mark.parametrize("path", ["status/503/s.jpg", "status/404/s.jpg", "drop/s.jpg"])
def test_no_message_shows_a_secret(server: Nginx, path: str, caplog: pytest.LogCaptureFixture):
    url = server.url(path + SECRET_QUERY).replace("http://", "http://alice:PASSWD@")
    messages = []
    for load in (
        lambda: spdl.io.load_image(url),
        lambda: spdl.io.demux_media("image", url).result(),
        lambda: spdl.io.load_video(url, timestamp=(0, 1)),
        lambda: spdl.io.batch_load_image([url], 8, 8),
        lambda: spdl.io.batch_load_image([url, url], 8, 8, strict=False),
    ):
        with pytest.raises(Exception) as failure:
            load()
        error: BaseException | None = failure.value
        while error is not None:
            messages.append(f"{error} {getattr(error, 'src', '')} {getattr(error, 'url', '')}")
            error = error.__cause__
    messages.append(caplog.text)
    text = "\n".join(messages)
    assert "X-Amz-Signature=***" in text and "http://***@127.0.0.1" in text
    for secret in ("SIGSIG", "CREDCRED", "TOKTOK", "alice", "PASSWD"):
        assert secret not in text


def test_credentials_in_the_url_are_sent_as_basic_auth(
    faults: FaultServer, image_files: dict[str, ImageReference]
):
    url = faults.url("ok", 0, image_files["png"].path.name) + "?case=auth"
    spdl.io.load_image(url.replace("http://", "http://alice:pw@"))
    assert faults.hits("?case=auth")


def _wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_cancelling_aborts_a_download_in_flight(server: Nginx, big_file: pathlib.Path):
    url = server.url(f"throttled/{big_file.name}")
    server.clear_log()
    future = spdl.io.demux_media("audio", url)
    time.sleep(0.5)  # the download has started: 60 s at the server's rate
    assert not future.done()
    assert future.cancel()
    with pytest.raises(concurrent.futures.CancelledError):
        future.result()
    # The socket was shut: nginx ends the request unfinished, long before 60 s.
    assert _wait_for(lambda: any(big_file.name in e.uri for e in server.log()))
    (entry,) = [e for e in server.log() if big_file.name in e.uri]
    assert not entry.complete and entry.body_bytes < big_file.stat().st_size
    assert _wait_for(lambda: _connections_in_use() == 0)


def test_cancelling_an_async_load_aborts_its_download(server: Nginx, big_file: pathlib.Path):
    url = server.url(f"throttled/{big_file.name}?case=async")
    server.clear_log()

    async def cancel_midway() -> None:
        task = asyncio.ensure_future(spdl.io.async_load_media("image", url))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    assert _wait_for(lambda: any(big_file.name in e.uri for e in server.log()))
    assert not [e for e in server.log() if big_file.name in e.uri][0].complete
    assert _wait_for(lambda: _connections_in_use() == 0)


def test_cancelling_a_batch_aborts_its_fetches(server: Nginx, big_file: pathlib.Path):
    urls = [server.url(f"throttled/{big_file.name}?n={i}") for i in range(4)]
    server.clear_log()

    async def cancel_midway() -> None:
        task = asyncio.ensure_future(spdl.io.async_batch_load_image(urls, 8, 8))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    assert _wait_for(lambda: sum(big_file.name in e.uri for e in server.log()) == 4)
    assert not any(e.complete for e in server.log() if big_file.name in e.uri)
    assert _wait_for(lambda: _connections_in_use() == 0)
