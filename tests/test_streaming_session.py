"""The windows of one streaming demux share a decoder: each window's frames equal an
independent decode of it (``demux_media`` of the window, then ``decode_packets``), in
every order, from several threads at once and in every form, while windows decoded in
order send each packet to a decoder at most once."""

from __future__ import annotations

import asyncio
import gc
import io
import math
import os
import pathlib
import random
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any

import av
import frame_media
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from media import (
    encode_video,
    has_encoder,
    remux_video,
    write_h264_yuv422p_video,
    write_noisy_clip,
)
from test_native_memory import _malloc_in_use

import spdl.io
from spdl import _native
from spdl.io._core import convert as _convert
from spdl.io._core import decode as _decode
from spdl.io._core import demux as _demux
from spdl.io._core.errors import MediaError
from spdl.io._runtime import executor as _executor

WIDTH, HEIGHT = 64, 48
FRAME_RATE = 30
NUM_FRAMES = 120  # 4 s
GOP_SIZE = 15  # a keyframe every 0.5 s

# Windows in order: inside one GOP, across GOP boundaries, back to back, with gaps
# of whole GOPs, up to the end of the stream.
IN_ORDER = [
    (0.0, 0.2),
    (0.25, 0.45),  # the same GOP as the window before
    (0.45, 1.2),  # back to back, across two keyframes
    (1.3, 1.4),
    (2.1, 2.4),  # a gap of a GOP: a keyframe the window before never reached
    (2.4, 3.05),
    (3.1, 4.0),  # up to the last frame of the stream
]


def _write_clip(path: pathlib.Path, max_b_frames: int, open_gop: bool = False) -> pathlib.Path:
    return write_noisy_clip(
        path,
        width=WIDTH,
        height=HEIGHT,
        num_frames=NUM_FRAMES,
        frame_rate=FRAME_RATE,
        seed=1,
        options={
            "g": str(GOP_SIZE),
            "bf": str(max_b_frames),
            "crf": "22",
            # Keyframes exactly every GOP_SIZE frames.
            "x264-params": "scenecut=0" + (":open-gop=1" if open_gop else ""),
        },
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """4 s, 30 fps H.264 MP4, GOP 15, up to 3 B-frames (x264's b-pyramid: some are references)."""
    return _write_clip(tmp_path_factory.mktemp("session") / "clip.mp4", max_b_frames=3)


@pytest.fixture(scope="module")
def clip_matroska(clip: pathlib.Path) -> pathlib.Path:
    path = clip.with_suffix(".mkv")
    remux_video(clip, path, "matroska")
    return path


@pytest.fixture(scope="module")
def clip_without_b_frames(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return _write_clip(tmp_path_factory.mktemp("session") / "ip.mp4", max_b_frames=0)


@pytest.fixture(scope="module")
def clip_open_gop(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Keyframes that are not IDR frames: the B-frames shown before each one (decoded
    after it) refer to the GOP before, so a decode that starts at it cannot give them."""
    return _write_clip(tmp_path_factory.mktemp("session") / "open.mp4", 3, open_gop=True)


def _num_packets(path: pathlib.Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size)


def _arrays(frames: Any) -> tuple[np.ndarray, list[float]]:
    pts = list(frames.pts)  # before the conversion, which releases the frames
    assert pts
    return spdl.io.to_numpy(spdl.io.convert_frames(frames).result()), pts


def _independent(src: Any, window: tuple[float, float], **options: Any) -> Any:
    """Today's decode of a window: its own demux, no session, a decoder of its own."""
    packets = spdl.io.demux_media("video", src, window).result()
    assert packets.decode_session_stats is None
    return _arrays(spdl.io.decode_packets(packets, **options).result())


def _assert_same(
    src: Any, windows: Sequence[tuple[float, float]], decoded: Sequence[Any], **options: Any
) -> None:
    for window, frames in zip(windows, decoded, strict=True):
        array, pts = _arrays(frames)
        reference, reference_pts = _independent(src, window, **options)
        assert pts == reference_pts, window
        assert array.shape == reference.shape, window
        np.testing.assert_array_equal(array, reference, err_msg=str(window))


def _stream(src: Any, windows: Sequence[tuple[float, float]]) -> list[Any]:
    return [future.result() for future in spdl.io.streaming_demux("video", src, windows)]


def _in_thread_stream(src: Any, windows: Sequence[tuple[float, float]]) -> list[Any]:
    """The demux in this thread (no helper process)."""
    return list(_demux.iter_demux("video", src, windows))


# Paths are demuxed by the helper processes, file objects in the calling thread.
SOURCES = ["path", "file"]


def _source(clip: pathlib.Path, kind: str) -> Any:
    return clip if kind == "path" else io.BytesIO(clip.read_bytes())


@pytest.mark.parametrize("kind", SOURCES)
@pytest.mark.parametrize(
    "options",
    [{"pix_fmt": None}, {"width": 32, "height": 24}, {"width": 40, "pix_fmt": "bgr24"}],
    ids=["native", "rgb24-resized", "bgr24-resized"],
)
def test_windows_in_order_equal_independent_decodes(
    clip: pathlib.Path, kind: str, options: dict
) -> None:
    packets = _stream(_source(clip, kind), IN_ORDER)
    decoded = [spdl.io.decode_packets(p, **options).result() for p in packets]
    _assert_same(clip, IN_ORDER, decoded, **options)
    stats = packets[0].decode_session_stats
    # Only the first window and the one after the gap open a decoder.
    assert stats["windows_started"] == 2
    assert stats["windows_continued"] == len(IN_ORDER) - 2
    assert stats["windows_redone"] == 0


@pytest.mark.parametrize("options", [{"width": 32, "height": 24}, {"pix_fmt": "bgr24"}])
def test_windows_decoded_and_converted_equal_load_video(clip: pathlib.Path, options: dict) -> None:
    packets = _stream(clip, IN_ORDER)
    for window, window_packets in zip(IN_ORDER, packets, strict=True):
        array, _ = _arrays(spdl.io.decode_packets(window_packets, **options).result())
        loaded = spdl.io.to_numpy(spdl.io.load_video(clip, timestamp=window, **options))
        np.testing.assert_array_equal(array, loaded, err_msg=str(window))
    assert packets[0].decode_session_stats["windows_continued"] == len(IN_ORDER) - 2


@pytest.mark.parametrize("kind", SOURCES)
def test_windows_in_order_send_every_packet_at_most_once(clip: pathlib.Path, kind: str) -> None:
    packets = _stream(_source(clip, kind), IN_ORDER)
    for p in packets:
        spdl.io.decode_packets(p, pix_fmt=None).result()
    decoded = packets[0].decode_session_stats["packets_decoded"]
    # Independent decodes send every window's packets from its keyframe on; the GOPs
    # that windows share were sent once per window.
    assert decoded <= _num_packets(clip)
    assert decoded < sum(len(p) for p in packets) - GOP_SIZE


def test_lookahead_is_not_part_of_the_window(clip: pathlib.Path) -> None:
    for kind in SOURCES:
        streamed = _stream(_source(clip, kind), IN_ORDER)
        for window, packets in zip(IN_ORDER, streamed, strict=True):
            alone = spdl.io.demux_media("video", clip, window).result()
            assert len(packets) == len(alone)
            assert packets.pts == alone.pts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_windows_out_of_order_equal_independent_decodes(clip: pathlib.Path, seed: int) -> None:
    packets = _stream(clip, IN_ORDER)
    order = list(range(len(IN_ORDER)))
    random.Random(seed).shuffle(order)
    decoded: dict[int, Any] = {}
    for index in order:
        decoded[index] = spdl.io.decode_packets(packets[index], pix_fmt=None).result()
    _assert_same(clip, IN_ORDER, [decoded[i] for i in range(len(IN_ORDER))], pix_fmt=None)
    stats = packets[0].decode_session_stats
    assert stats["windows_started"] + stats["windows_continued"] == len(IN_ORDER)


def test_windows_in_reverse_order_each_open_a_decoder(clip: pathlib.Path) -> None:
    packets = _stream(clip, IN_ORDER)
    decoded = [spdl.io.decode_packets(p, pix_fmt=None).result() for p in reversed(packets)]
    _assert_same(clip, IN_ORDER[::-1], decoded, pix_fmt=None)
    stats = packets[0].decode_session_stats
    assert stats["windows_started"] == len(IN_ORDER)
    assert stats["windows_continued"] == 0


def test_overlapping_windows_equal_independent_decodes(clip: pathlib.Path) -> None:
    windows = [(0.2, 1.0), (0.6, 1.4), (1.0, 1.2), (1.1, 2.0), (1.9, 2.6)]
    packets = _stream(clip, windows)
    decoded = [spdl.io.decode_packets(p, width=32, height=24).result() for p in packets]
    _assert_same(clip, windows, decoded, width=32, height=24)
    # A window starting before the window before it ended cannot continue its decoder.
    assert packets[0].decode_session_stats["windows_continued"] == 0


def test_windows_decoded_from_threads_at_once(clip: pathlib.Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            packets = _stream(clip, IN_ORDER)
            decoded = list(pool.map(lambda p: _decode.decode(p, pix_fmt=None), packets))
            _assert_same(clip, IN_ORDER, decoded, pix_fmt=None)
            stats = packets[0].decode_session_stats
            assert stats["windows_started"] + stats["windows_continued"] == len(IN_ORDER)


def test_futures_form_decodes_windows_as_they_are_demuxed(clip: pathlib.Path) -> None:
    futures = spdl.io.streaming_demux("video", clip, IN_ORDER)
    frames = [spdl.io.decode_packets(f.result(), width=32, height=24) for f in futures]
    _assert_same(clip, IN_ORDER, [f.result() for f in frames], width=32, height=24)


@pytest.mark.parametrize("threads", [2, 4])
def test_futures_submitted_at_once_decode_one_after_the_other(
    clip: pathlib.Path, threads: int
) -> None:
    """Every window's decode submitted at once, on a pool with threads to spare: each
    waits for the window before it, so the windows still continue one decoder."""
    with ThreadPoolExecutor(threads) as pool:
        packets = _stream(clip, IN_ORDER)
        futures = [spdl.io.decode_packets(p, pix_fmt=None, executor=pool) for p in packets]
        _assert_same(clip, IN_ORDER, [f.result() for f in futures], pix_fmt=None)
    stats = packets[0].decode_session_stats
    assert (stats["windows_started"], stats["windows_continued"]) == (2, len(IN_ORDER) - 2)


def test_async_decodes_gathered_at_once_decode_one_after_the_other(clip: pathlib.Path) -> None:
    async def run(packets: list[Any]) -> list[Any]:
        return await asyncio.gather(
            *(spdl.io.async_decode_packets(p, width=32, height=24) for p in packets)
        )

    packets = _stream(clip, IN_ORDER)
    _assert_same(clip, IN_ORDER, asyncio.run(run(packets)), width=32, height=24)
    assert packets[0].decode_session_stats["windows_continued"] == len(IN_ORDER) - 2


def test_a_window_waiting_for_the_one_before_can_be_cancelled(clip: pathlib.Path) -> None:
    packets = _stream(clip, IN_ORDER[:3])
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait)  # the first window's decode queues behind this
        first, second, third = (
            spdl.io.decode_packets(p, pix_fmt=None, executor=pool) for p in packets
        )
        # The second waits for the first, outside the pool: cancelling it stops it for good.
        assert second.cancel()
        release.set()
        _assert_same(
            clip, [IN_ORDER[0], IN_ORDER[2]], [first.result(), third.result()], pix_fmt=None
        )
    assert second.cancelled()
    stats = packets[0].decode_session_stats
    assert stats["windows_started"] + stats["windows_continued"] == 2


def test_a_failed_window_does_not_stop_the_next(clip: pathlib.Path) -> None:
    packets = _stream(clip, IN_ORDER[:3])
    futures = [
        spdl.io.decode_packets(p, pix_fmt=None, **options)
        for p, options in zip(packets, [{}, {"filter_desc": "no_such_filter"}, {}], strict=True)
    ]
    with pytest.raises(spdl.io.AsyncIOFailure, match="no_such_filter"):
        futures[1].result()
    _assert_same(
        clip, [IN_ORDER[0], IN_ORDER[2]], [futures[0].result(), futures[2].result()], pix_fmt=None
    )


def test_windows_submitted_out_of_order_do_not_wait(clip: pathlib.Path) -> None:
    packets = _stream(clip, IN_ORDER[:3])
    release = threading.Event()
    with ThreadPoolExecutor(2) as pool:
        pool.submit(release.wait)
        # Window 2 first, then window 0: neither has a pending window before it.
        later = spdl.io.decode_packets(packets[2], pix_fmt=None, executor=pool)
        first = spdl.io.decode_packets(packets[0], pix_fmt=None, executor=pool)
        # Done while the pool's other thread still waits.
        _assert_same(clip, [IN_ORDER[2]], [later.result()], pix_fmt=None)
        release.set()
        _assert_same(clip, [IN_ORDER[0]], [first.result()], pix_fmt=None)


def test_async_form_equals_independent_decodes(clip: pathlib.Path) -> None:
    async def run() -> tuple[list[Any], dict]:
        decoded, first = [], None
        async for packets in spdl.io.async_streaming_demux("video", clip, IN_ORDER):
            first = first or packets
            decoded.append(await spdl.io.async_decode_packets(packets, pix_fmt=None))
        return decoded, first.decode_session_stats

    decoded, stats = asyncio.run(run())
    _assert_same(clip, IN_ORDER, decoded, pix_fmt=None)
    assert stats["windows_continued"] == len(IN_ORDER) - 2


def test_cancelled_window_leaves_later_windows_exact(clip: pathlib.Path) -> None:
    packets = _in_thread_stream(clip, IN_ORDER)
    _decode.decode(packets[0], pix_fmt=None)
    token = _native.CancelToken()
    token.cancel()
    with pytest.raises(MediaError, match="cancelled"):
        _decode.decode(packets[1], cancel=token, pix_fmt=None)
    # The decoder the cancelled window took is gone: the next window opens its own.
    decoded = [_decode.decode(p, pix_fmt=None) for p in packets[1:]]
    _assert_same(clip, IN_ORDER[1:], decoded, pix_fmt=None)
    assert packets[0].decode_session_stats["windows_redone"] == 0


def test_other_decode_options_open_another_decoder(clip: pathlib.Path) -> None:
    packets = _in_thread_stream(clip, IN_ORDER[:4])
    options = [{}, {"num_threads": 2}, {"num_threads": 2}, {"decoder_options": {"flags2": "fast"}}]
    decoded = [_decode.decode(p, pix_fmt=None, **o) for p, o in zip(packets, options, strict=True)]
    for window, frames, opts in zip(IN_ORDER, decoded, options, strict=False):
        _assert_same(clip, [window], [frames], pix_fmt=None, **opts)
    stats = packets[0].decode_session_stats
    assert (stats["windows_started"], stats["windows_continued"]) == (3, 1)


@pytest.mark.parametrize("num_threads", [2, 3])
def test_threaded_decoders_continue_too(clip: pathlib.Path, num_threads: int) -> None:
    # FFmpeg's frame threads hold several decoded frames: a window that stops on one
    # leaves the others in the decoder for the next window.
    # num_frames stops a window early, often before the keyframe the next one starts at.
    for options in ({"pix_fmt": None}, {"num_frames": 3}):
        packets = _in_thread_stream(clip, IN_ORDER)
        decoded = [_decode.decode(p, num_threads=num_threads, **options) for p in packets]
        _assert_same(clip, IN_ORDER, decoded, num_threads=num_threads, **options)
        stats = packets[0].decode_session_stats
        assert stats["windows_started"] + stats["windows_continued"] == len(IN_ORDER)
        assert stats["windows_continued"] >= (5 if "pix_fmt" in options else 2)
        assert stats["windows_redone"] == 0


def test_filters_frame_rate_and_num_frames_equal_independent_decodes(clip: pathlib.Path) -> None:
    for options in ({"frame_rate": 10, "width": 32, "height": 24}, {"num_frames": 4}):
        packets = _in_thread_stream(clip, IN_ORDER)
        decoded = [_decode.decode(p, **options) for p in packets]
        _assert_same(clip, IN_ORDER, decoded, **options)


def test_window_to_the_end_of_the_stream(clip: pathlib.Path) -> None:
    windows = [(2.9, 3.3), (3.4, math.inf)]
    packets = _stream(clip, windows)
    decoded = [spdl.io.decode_packets(p, pix_fmt=None).result() for p in packets]
    _assert_same(clip, windows, decoded, pix_fmt=None)
    assert len(decoded[1]) == NUM_FRAMES - 102


@pytest.mark.parametrize("fixture", ["clip_matroska", "clip_without_b_frames", "clip_open_gop"])
def test_other_streams_equal_independent_decodes(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    path = request.getfixturevalue(fixture)
    for kind in SOURCES:
        packets = _stream(_source(path, kind), IN_ORDER)
        decoded = [spdl.io.decode_packets(p, pix_fmt=None).result() for p in packets]
        _assert_same(path, IN_ORDER, decoded, pix_fmt=None)
    packets = _stream(path, IN_ORDER)
    decoded = [spdl.io.decode_packets(p, pix_fmt=None).result() for p in packets[::-1]]
    _assert_same(path, IN_ORDER[::-1], decoded, pix_fmt=None)


@pytest.mark.parametrize("name", sorted(frame_media.CLIPS))
def test_codecs_and_containers_equal_independent_decodes(
    tmp_path_factory: pytest.TempPathFactory, name: str
) -> None:
    # 2 s clips, a keyframe every 0.5 s (HEVC with open GOPs, VP9 in WebM, a long GOP...).
    path = frame_media.write_named_clip(tmp_path_factory.mktemp("codecs"), name)
    windows = [(0.0, 0.2), (0.25, 0.45), (0.45, 1.2), (1.3, 1.4), (1.45, 2.0)]
    for order, continued in ((windows, len(windows) - 1), (windows[::-1], 0)):
        packets = _in_thread_stream(path, order)
        decoded = [_decode.decode(p, pix_fmt=None) for p in packets]
        _assert_same(path, order, decoded, pix_fmt=None)
        stats = packets[0].decode_session_stats
        assert (stats["windows_continued"], stats["windows_redone"]) == (continued, 0)
    with ThreadPoolExecutor(3) as pool:
        packets = _stream(path, windows)
        decoded = list(pool.map(lambda p: _decode.decode(p, pix_fmt=None), packets))
    _assert_same(path, windows, decoded, pix_fmt=None)


def test_open_gop_window_holds_the_frames_shown_before_its_keyframe(
    clip_open_gop: pathlib.Path,
) -> None:
    # The seek for (0.45, 1.2) lands on the keyframe shown at 0.5, but the frame shown
    # at 0.467 is decoded after it and refers to the GOP before: the demux starts at
    # that GOP's keyframe instead, alone or continuing the window before.
    with av.open(str(clip_open_gop)) as container:
        shown = sorted(float(f.time) for f in container.decode(video=0))
    expected = [t for t in shown if 0.45 <= t < 1.2]
    assert expected[0] == pytest.approx(0.4667, abs=1e-3)
    windows = [(0.25, 0.45), (0.45, 1.2)]
    packets = _in_thread_stream(clip_open_gop, windows)
    decoded = [_decode.decode(p, pix_fmt=None) for p in packets]
    assert packets[0].decode_session_stats["windows_continued"] == 1
    assert decoded[1].pts == pytest.approx(expected)
    _assert_same(clip_open_gop, windows, decoded, pix_fmt=None)
    (alone,) = _in_thread_stream(clip_open_gop, [(0.45, 1.2)])
    assert alone.pts[0] < 0.45
    assert _decode.decode(alone, pix_fmt=None).pts == pytest.approx(expected)


def test_audio_windows_have_no_session(aac_audio: Any) -> None:
    (future,) = spdl.io.streaming_demux("audio", aac_audio.path, [(0.0, 0.5)])
    packets = future.result()
    assert packets.decode_session_stats is None
    with pytest.raises(ValueError, match="Only video"):
        packets.join_decode_session(None)


def test_join_decode_session_checks_its_arguments(
    clip: pathlib.Path, clip_without_b_frames: pathlib.Path
) -> None:
    first, second = _in_thread_stream(clip, [(0.0, 0.5), (0.5, 1.0)])
    with pytest.raises(ValueError, match="already"):
        second.join_decode_session(first)
    alone = spdl.io.demux_media("video", clip, (1.0, 1.5)).result()
    with pytest.raises(ValueError, match="no decode session"):
        alone.join_decode_session(spdl.io.demux_media("video", clip, (0, 1)).result())
    other = spdl.io.demux_media("video", clip_without_b_frames, (1.0, 1.5)).result()
    with pytest.raises(ValueError, match="cannot share"):
        other.join_decode_session(first)


def test_session_and_its_parked_decoder_die_with_the_packets(clip: pathlib.Path) -> None:
    def once() -> None:
        packets = _in_thread_stream(clip, IN_ORDER[:3])
        for p in packets[:2]:  # the second window's decoder stays parked
            _decode.decode(p, pix_fmt=None)

    for _ in range(10):
        once()
    gc.collect()
    before = _malloc_in_use()
    for _ in range(40):
        once()
    gc.collect()
    # A leaked decoder with its frames would hold well over 50 kB each time.
    assert _malloc_in_use() - before < 1_000_000


def test_each_window_decoded_twice_in_a_row(clip: pathlib.Path) -> None:
    packets = _stream(clip, IN_ORDER)
    decoded = []
    for p in packets:
        decoded += [_decode.decode(p, pix_fmt=None), _decode.decode(p, pix_fmt=None)]
    _assert_same(clip, [w for w in IN_ORDER for _ in range(2)], decoded, pix_fmt=None)


def test_forked_child_opens_its_own_decoder(clip: pathlib.Path) -> None:
    # The parent's parked decoder runs FFmpeg threads, which a forked child lacks: the
    # child must neither use nor free it (joining threads it does not have would hang).
    packets = _in_thread_stream(io.BytesIO(clip.read_bytes()), IN_ORDER[:3])
    options = {"pix_fmt": None, "num_threads": 2}
    _decode.decode(packets[0], **options)
    expected = [_independent(clip, window, **options) for window in IN_ORDER[1:3]]
    pid = os.fork()
    if pid == 0:
        ok = False
        try:
            # No pool in a forked child: convert in this thread.
            got = []
            for frames in (_decode.decode(p, **options) for p in packets[1:]):
                pts = list(frames.pts)
                got.append((spdl.io.to_numpy(_convert.convert(frames)), pts))
            ok = all(
                np.array_equal(a, b) and pa == pb
                for (a, pa), (b, pb) in zip(got, expected, strict=True)
            )
            ok = ok and packets[0].decode_session_stats["windows_continued"] == 1
            del packets[:]
            gc.collect()
        finally:
            os._exit(0 if ok else 1)
    _assert_child_succeeds(pid)


def _assert_child_succeeds(pid: int) -> None:
    deadline = time.monotonic() + 30
    while (status := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if status[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    assert os.waitstatus_to_exitcode(status[1]) == 0


# Independent decodes of the windows Hypothesis draws, each made once.
_REFERENCES: dict[tuple, tuple[np.ndarray, list[float]]] = {}


def _frames_window(first: int, count: int) -> tuple[float, float]:
    """The window of frames ``first`` .. ``first + count - 1`` (those in the clip)."""
    return max(0.0, first / FRAME_RATE - 0.001), (first + count) / FRAME_RATE - 0.001


_window_strategy = st.builds(
    _frames_window, st.integers(0, NUM_FRAMES - 1), st.integers(1, 2 * GOP_SIZE + 5)
)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    windows=st.lists(_window_strategy, min_size=1, max_size=6),
    order=st.randoms(use_true_random=False),
    sort=st.booleans(),
)
def test_any_windows_in_any_order_equal_independent_decodes(
    clip: pathlib.Path, windows: list, order: random.Random, sort: bool
) -> None:
    _check_any_windows(clip, windows, order, sort)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    windows=st.lists(_window_strategy, min_size=1, max_size=6),
    order=st.randoms(use_true_random=False),
    sort=st.booleans(),
)
def test_any_windows_of_an_open_gop_stream_equal_independent_decodes(
    clip_open_gop: pathlib.Path, windows: list, order: random.Random, sort: bool
) -> None:
    _check_any_windows(clip_open_gop, windows, order, sort)


def _check_any_windows(clip: pathlib.Path, windows: list, order: random.Random, sort: bool) -> None:
    if sort:
        windows = sorted(windows)
    packets = _in_thread_stream(clip, windows)
    indices = list(range(len(windows)))
    if not sort:
        order.shuffle(indices)
    decoded: dict[int, Any] = {}
    for index in indices:
        decoded[index] = _decode.decode(packets[index], pix_fmt=None)
    for index, window in enumerate(windows):
        key = (clip, window)
        if key not in _REFERENCES:
            _REFERENCES[key] = _independent(clip, window, pix_fmt=None)
        array, pts = _arrays(decoded[index])
        assert pts == _REFERENCES[key][1], window
        np.testing.assert_array_equal(array, _REFERENCES[key][0], err_msg=str(window))
    stats = packets[0].decode_session_stats
    assert stats["windows_started"] + stats["windows_continued"] == len(windows)
    assert stats["windows_redone"] == 0
    if sort:  # in order, no packet is sent twice but where windows overlap
        overlaps = any(a[1] > b[0] for a, b in zip(windows, windows[1:], strict=False))
        assert overlaps or stats["packets_decoded"] <= _num_packets(clip)


################################################################################
# No probe decode: what only decoding tells is learned from the first keyframe
################################################################################


def _tagged_clips(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """MP4s whose pixel format only decoding tells: 8- and 10-bit, 4:2:2 full range."""
    rng = np.random.default_rng(5)
    frames = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(20)]
    clips = {}
    for name, codec, pix_fmt, options in [
        ("h264-10bit", "libx264", "yuv420p10le", {"g": "5"}),
        ("hevc-10bit", "libx265", "yuv420p10le", {"x265-params": "keyint=5:log-level=error"}),
    ]:
        if has_encoder(codec):
            clips[name] = root / f"{name}.mp4"
            encode_video(
                clips[name],
                frames,
                width=64,
                height=64,
                codec=codec,
                pix_fmt=pix_fmt,
                options=options,
            )
    clips["h264-422-full-range"] = root / "h264-422.mp4"
    write_h264_yuv422p_video(clips["h264-422-full-range"], colorspace=1, full_range=True)
    return clips


@pytest.fixture(scope="module")
def tagged_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    return _tagged_clips(tmp_path_factory.mktemp("tagged"))


def test_streaming_video_windows_skip_the_probe_decode_and_learn_their_format(
    clip: pathlib.Path,
    tagged_clips: dict[str, pathlib.Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []
    original = _demux._open

    def spy(src: Any, format: Any, format_options: Any, stream_options: Any = None) -> Any:
        opened.append("no probe" if stream_options else "probe")  # _open_indexed's options
        return original(src, format, format_options, stream_options)

    monkeypatch.setattr(_demux, "_open", spy)
    for path in [clip, *tagged_clips.values()]:
        told = _probed_params(path)
        opened.clear()
        windows = _in_thread_stream(path, [(0.0, 0.2), (0.3, 0.5)])
        assert opened == ["no probe"], path.name
        for packets in windows:
            # Asked before anything else, then by the next window of the stream.
            assert packets.pix_fmt == told.pix_fmt != "", path.name
            learned = packets.params
            assert (learned.pix_fmt, learned.color_space, learned.color_range) == (
                told.pix_fmt,
                told.color_space,
                told.color_range,
            ), path.name
        # demux_media too, from a helper process.
        assert spdl.io.demux_media("video", path, (0.0, 0.2)).result().pix_fmt == told.pix_fmt
    assert _probed_params(tagged_clips["h264-422-full-range"]).pix_fmt == "yuvj422p"


def _probed_params(path: pathlib.Path) -> Any:
    """The codec parameters as PyAV's probe decode at opening tells them."""
    with _demux._open(path, None, None) as container:
        return _demux._codec_params(container.streams.video[0], "video", path.name)


def test_streaming_windows_of_other_containers_are_probed(
    clip: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    mkv = tmp_path / "clip.mkv"
    remux_video(clip, mkv, "matroska")
    assert {p.pix_fmt for p in _in_thread_stream(mkv, IN_ORDER[:2])} == {"yuv420p"}


def test_a_keyframe_that_does_not_decode_leaves_the_format_unknown(clip: pathlib.Path) -> None:
    told = spdl.io.demux_media("video", clip, (0.0, 0.2)).result()
    params = told.params
    params.pix_fmt = ""
    broken = _native.VideoPackets(told.src, params, told.time_base)
    broken.add(b"\x00\x00\x00\x01 not an H.264 picture", 0, 0, 1, True)
    assert broken.pix_fmt == ""  # as a probe that decoded nothing leaves it
    with pytest.raises(MediaError, match="Invalid data"):
        _decode.decode(broken)


def test_a_window_waiting_when_the_pool_cancels_its_queue_is_cancelled(
    clip: pathlib.Path,
) -> None:
    packets = _stream(clip, IN_ORDER[:2])
    release = threading.Event()
    pool = ThreadPoolExecutor(1)
    pool.submit(release.wait)
    first = spdl.io.decode_packets(packets[0], pix_fmt=None, executor=pool)
    second = spdl.io.decode_packets(packets[1], pix_fmt=None, executor=pool)
    # The first is cancelled in the queue; the second, which waited for it, with it.
    pool.shutdown(wait=False, cancel_futures=True)
    release.set()
    assert first.cancelled()
    with pytest.raises(CancelledError):
        second.result(timeout=30)


def test_windows_given_to_a_pool_before_its_shutdown_are_all_decoded(clip: pathlib.Path) -> None:
    # The windows after the first wait outside the pool while the `with` block shuts it
    # down; they decode in the thread that ends the window before, as the pool's last work.
    packets = _stream(clip, IN_ORDER)
    with ThreadPoolExecutor(2) as pool:
        futures = [spdl.io.decode_packets(p, pix_fmt=None, executor=pool) for p in packets]
    _assert_same(clip, IN_ORDER, [f.result(timeout=30) for f in futures], pix_fmt=None)
    stats = packets[0].decode_session_stats
    assert stats["windows_continued"] == len(IN_ORDER) - 2


def test_hundreds_of_windows_waiting_on_a_shut_pool_finish_without_recursion(
    clip: pathlib.Path,
) -> None:
    # Each window is started by the callback of the one before: a loop, not a recursion
    # (a recursion would exceed Python's limit and leave later Futures pending forever).
    windows = [_frames_window(i % NUM_FRAMES, 1) for i in range(3 * NUM_FRAMES)]  # 1 frame each
    packets = _stream(clip, windows)
    with ThreadPoolExecutor(1) as pool:
        futures = [spdl.io.decode_packets(p, pix_fmt=None, executor=pool) for p in packets]
    every_frame, every_pts = _independent(clip, (0.0, NUM_FRAMES / FRAME_RATE), pix_fmt=None)
    for i, future in enumerate(futures):
        array, pts = _arrays(future.result(timeout=60))
        assert pts == [every_pts[i % NUM_FRAMES]], i
        np.testing.assert_array_equal(array, every_frame[i % NUM_FRAMES : i % NUM_FRAMES + 1])


def test_windows_waiting_on_a_retired_default_pool_decode_on_the_new_one(
    clip: pathlib.Path,
) -> None:
    packets = _stream(clip, IN_ORDER)
    sizes = spdl.io.executor_sizes()
    pool = _executor.get_decode_executor()
    release = threading.Event()
    blockers = [pool.submit(release.wait, 30) for _ in range(pool._max_workers)]
    futures = [spdl.io.decode_packets(p, pix_fmt=None) for p in packets]
    try:
        spdl.io.set_executor_sizes(decode=pool._max_workers + 1)  # retires `pool`
        release.set()
        _assert_same(clip, IN_ORDER, [f.result(timeout=30) for f in futures], pix_fmt=None)
    finally:
        release.set()
        spdl.io.set_executor_sizes(decode=sizes[1])
    assert all(blocker.result() for blocker in blockers)


def test_forked_child_does_not_wait_for_its_parents_window(clip: pathlib.Path) -> None:
    packets = _stream(clip, IN_ORDER[:2])
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait, 30)
        first = spdl.io.decode_packets(packets[0], pix_fmt=None, executor=pool)  # pending
        expected = _independent(clip, IN_ORDER[1], pix_fmt=None)
        pid = os.fork()
        if pid == 0:
            ok = False
            try:
                with ThreadPoolExecutor(1) as fresh:
                    second = spdl.io.decode_packets(packets[1], pix_fmt=None, executor=fresh)
                    frames = second.result(timeout=20)
                pts = list(frames.pts)
                array = spdl.io.to_numpy(_convert.convert(frames))  # the child has no pool
                ok = pts == expected[1] and np.array_equal(array, expected[0])
            finally:
                os._exit(0 if ok else 1)
        try:
            _assert_child_succeeds(pid)
        finally:
            release.set()
        _assert_same(clip, IN_ORDER[:1], [first.result()], pix_fmt=None)
