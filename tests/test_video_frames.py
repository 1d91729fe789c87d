"""Exact frames of a video: index_video and load_video_frames against PyAV's decode."""

from __future__ import annotations

import asyncio
import io
import pathlib
import threading

import av
import numpy as np
import pytest
from frame_media import (
    CLIPS,
    GOP,
    HEIGHT,
    NUM_FRAMES,
    WIDTH,
    Reference,
    pyav_reference,
    variable_rate_pts_ms,
    write_clip,
    write_named_clip,
    write_overreporting_avi,
    write_stream_copy_cut,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media import encode_video

import spdl.io
from spdl import _native
from spdl.io._core import decode as _decode
from spdl.io._core import demux as _demux

# Frame numbers in no order, with repeats, across every GOP.
SCRAMBLED = [47, 3, 3, 59, 0, 16, 15, 14, 31, 47, 29, 58]


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("frames")


@pytest.fixture(scope="module", params=sorted(CLIPS))
def clip(request: pytest.FixtureRequest, media_dir: pathlib.Path) -> Reference:
    """Each clip of ``frame_media.CLIPS`` and PyAV's decode of it."""
    return pyav_reference(write_named_clip(media_dir, request.param))


@pytest.fixture(scope="module")
def bframes(media_dir: pathlib.Path) -> Reference:
    return pyav_reference(write_named_clip(media_dir, "h264_bframes"))


@pytest.fixture(scope="module")
def variable_rate(media_dir: pathlib.Path) -> Reference:
    options = {"g": str(GOP), "bf": "2"}
    path = write_clip(media_dir / "vfr.mp4", "libx264", options, pts_ms=variable_rate_pts_ms())
    return pyav_reference(path)


def _yuv(batch: spdl.io.FrameBatch) -> np.ndarray:
    """(N, H * 3 // 2, W) of a yuv420p batch (N, 1, H * 3 // 2, W)."""
    return spdl.io.to_numpy(batch.data)[:, 0]


def test_index_lists_every_frame_in_presentation_order(clip: Reference) -> None:
    index = spdl.io.index_video(clip.path)
    assert index.num_frames == len(index) == NUM_FRAMES
    assert index.pts.tolist() == clip.pts
    assert index.keyframes.tolist() == clip.keyframes
    assert index.time_base == clip.time_base
    np.testing.assert_allclose(index.pts_seconds, clip.seconds, rtol=0, atol=1e-9)
    assert index.begin_seconds == pytest.approx(clip.seconds[0])
    assert index.end_seconds > clip.seconds[-1]


def test_frames_in_any_order_with_repeats_equal_pyav_decode(clip: Reference) -> None:
    batch = spdl.io.load_video_frames(clip.path, SCRAMBLED, pix_fmt="yuv420p")
    assert batch.data.shape == (len(SCRAMBLED), 1, HEIGHT * 3 // 2, WIDTH)
    np.testing.assert_array_equal(_yuv(batch), clip.yuv420p[SCRAMBLED])
    assert batch.indices.tolist() == SCRAMBLED
    np.testing.assert_allclose(batch.pts_seconds, clip.seconds[SCRAMBLED], rtol=0, atol=1e-9)


def test_every_single_frame_alone_equals_pyav_decode(clip: Reference) -> None:
    # Alone, a leading frame of an open GOP needs the GOP before it decoded too.
    index = spdl.io.index_video(clip.path)
    for number in range(NUM_FRAMES):
        batch = spdl.io.load_video_frames(clip.path, [number], index=index, pix_fmt="yuv420p")
        np.testing.assert_array_equal(_yuv(batch)[0], clip.yuv420p[number], f"frame {number}")


def test_variable_frame_rate_frames_and_times(variable_rate: Reference) -> None:
    index = spdl.io.index_video(variable_rate.path)
    assert index.pts.tolist() == variable_rate.pts
    batch = spdl.io.load_video_frames(variable_rate.path, SCRAMBLED, pix_fmt="yuv420p")
    np.testing.assert_array_equal(_yuv(batch), variable_rate.yuv420p[SCRAMBLED])
    # The frame shown at a time between two frames is the earlier one.
    numbers = [i for i in SCRAMBLED if i + 1 < NUM_FRAMES]
    seconds = variable_rate.seconds
    between = [(seconds[i] + seconds[i + 1]) / 2 for i in numbers]
    by_time = spdl.io.load_video_frames(variable_rate.path, timestamps=between, pix_fmt="yuv420p")
    assert by_time.indices.tolist() == numbers
    np.testing.assert_array_equal(_yuv(by_time), variable_rate.yuv420p[numbers])


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"pix_fmt": "bgr24"},
        {"pix_fmt": "rgba"},
        {"pix_fmt": "yuv444p"},
        {"pix_fmt": "gray"},
        {"width": 48, "height": 32},
        {"width": 40, "height": 40, "pix_fmt": "yuv420p"},
        {"width": 50, "scale_algo": "bicubic"},
        {"num_threads": 3},  # frame threads: frames come out later, the same ones
    ],
)
def test_every_layout_equals_load_video_of_the_same_frames(
    bframes: Reference, options: dict
) -> None:
    whole = spdl.io.to_numpy(spdl.io.load_video(bframes.path, **options))
    batch = spdl.io.load_video_frames(bframes.path, SCRAMBLED, **options)
    np.testing.assert_array_equal(spdl.io.to_numpy(batch.data), whole[SCRAMBLED])


def test_rgb24_is_the_default_and_views_as_torch(bframes: Reference) -> None:
    torch = pytest.importorskip("torch")
    batch = spdl.io.load_video_frames(bframes.path, [2, 1])
    tensor = spdl.io.to_torch(batch.data)
    assert tensor.shape == (2, HEIGHT, WIDTH, 3) and tensor.dtype == torch.uint8


def test_frames_by_time_are_the_frames_shown_then(bframes: Reference) -> None:
    seconds = bframes.seconds
    times = [seconds[10], seconds[10] + 0.01, seconds[59] + 0.02, seconds[0], seconds[33] - 1e-4]
    batch = spdl.io.load_video_frames(bframes.path, timestamps=times, pix_fmt="yuv420p")
    assert batch.indices.tolist() == [10, 10, 59, 0, 32]
    np.testing.assert_array_equal(_yuv(batch), bframes.yuv420p[[10, 10, 59, 0, 32]])
    np.testing.assert_allclose(batch.pts_seconds, seconds[[10, 10, 59, 0, 32]], atol=1e-9)


def test_negative_indices_count_from_the_end(bframes: Reference) -> None:
    batch = spdl.io.load_video_frames(bframes.path, [-1, -NUM_FRAMES], pix_fmt="yuv420p")
    assert batch.indices.tolist() == [NUM_FRAMES - 1, 0]
    np.testing.assert_array_equal(_yuv(batch), bframes.yuv420p[[NUM_FRAMES - 1, 0]])


@pytest.mark.parametrize("bad", [NUM_FRAMES, -NUM_FRAMES - 1, 10**9])
def test_an_index_out_of_range_raises_index_error_naming_the_range(
    bframes: Reference, bad: int
) -> None:
    with pytest.raises(IndexError, match=rf"{bad}.*\[0, {NUM_FRAMES}\)") as info:
        spdl.io.load_video_frames(bframes.path, [0, bad])
    assert str(bframes.path) in str(info.value)


def test_unsigned_indices_past_the_end_are_out_of_range(bframes: Reference) -> None:
    # Cast to int64, 2**64 - 1 would become -1: the last frame.
    for bad in (2**64 - 1, NUM_FRAMES):
        with pytest.raises(IndexError, match=rf"{bad}.*\[0, {NUM_FRAMES}\)"):
            spdl.io.load_video_frames(bframes.path, np.array([0, bad], dtype=np.uint64))
    batch = spdl.io.load_video_frames(bframes.path, np.array([1, 0], dtype=np.uint64))
    assert batch.indices.tolist() == [1, 0]


def test_a_clip_spacing_too_small_fails_instead_of_hanging(bframes: Reference) -> None:
    for spacing in (1e-300, 1e-9):
        with pytest.raises(ValueError, match="clips in .* at most 100000"):
            spdl.io.clips_at_regular_timestamps(bframes.path, seconds_between_clip_starts=spacing)


@pytest.mark.parametrize("bad", [-0.5, 2.0, 100.0])
def test_a_time_out_of_range_raises_value_error_naming_the_range(
    bframes: Reference, bad: float
) -> None:
    with pytest.raises(ValueError, match=r"out of range.*\[0\.0, 2\.0\) s"):
        spdl.io.load_video_frames(bframes.path, timestamps=[bad])


def test_a_kept_index_gives_the_same_frames_and_checks_when_called(bframes: Reference) -> None:
    index = spdl.io.index_video(bframes.path)
    with_index = spdl.io.load_video_frames(bframes.path, SCRAMBLED, index=index)
    without = spdl.io.load_video_frames(bframes.path, SCRAMBLED)
    np.testing.assert_array_equal(spdl.io.to_numpy(with_index.data), spdl.io.to_numpy(without.data))
    # With the index, a bad frame fails in the caller, before anything is queued.
    with pytest.raises(IndexError):
        spdl.io.async_load_video_frames(bframes.path, [NUM_FRAMES], index=index)


def test_bytes_and_file_like_sources_give_the_same_frames(bframes: Reference) -> None:
    data = bframes.path.read_bytes()
    expected = bframes.yuv420p[SCRAMBLED]
    for src in (data, io.BytesIO(data)):
        batch = spdl.io.load_video_frames(src, SCRAMBLED, pix_fmt="yuv420p")
        np.testing.assert_array_equal(_yuv(batch), expected)


def test_a_header_that_overreports_the_frame_count(media_dir: pathlib.Path) -> None:
    path = write_overreporting_avi(media_dir, claimed=10 * NUM_FRAMES)
    reference = pyav_reference(path)
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 10 * NUM_FRAMES  # the header's claim
    index = spdl.io.index_video(path)
    assert index.num_frames == NUM_FRAMES  # what is there
    assert index.pts.tolist() == reference.pts
    last = spdl.io.load_video_frames(path, [-1, NUM_FRAMES - 1, 0], pix_fmt="yuv420p")
    np.testing.assert_array_equal(_yuv(last), reference.yuv420p[[-1, -1, 0]])
    with pytest.raises(IndexError, match=rf"\[0, {NUM_FRAMES}\)"):
        spdl.io.load_video_frames(path, [NUM_FRAMES])


def test_frames_before_an_edit_list_start_are_not_frames(bframes: Reference, tmp_path) -> None:
    # A stream copy cut at frame GOP + 3, from the keyframe at GOP: the edit list
    # starts 3 frames after it, which are decoded for reference and never shown.
    source = bframes
    cut = write_stream_copy_cut(tmp_path / "cut.mp4", source, GOP, GOP + 3)
    reference = pyav_reference(cut)
    assert len(reference.pts) == NUM_FRAMES - GOP - 3 and reference.pts[0] == 0
    np.testing.assert_array_equal(reference.yuv420p, source.yuv420p[GOP + 3 :])
    index = spdl.io.index_video(cut)
    assert index.pts.tolist() == reference.pts and index.begin_seconds == 0
    assert index.keyframes.tolist() == reference.keyframes
    some = [0, 1, 2, 5, -1]
    batch = spdl.io.load_video_frames(cut, some, pix_fmt="yuv420p", index=index)
    np.testing.assert_array_equal(_yuv(batch), reference.yuv420p[some])
    np.testing.assert_array_equal(batch.pts_seconds, reference.seconds[some])
    whole = spdl.io.to_numpy(spdl.io.load_video(cut, pix_fmt="yuv420p"))[:, 0]
    np.testing.assert_array_equal(whole, reference.yuv420p)


def test_a_cut_at_an_open_gop_has_no_frames_before_its_first_keyframe(
    tmp_path: pathlib.Path,
) -> None:
    # A stream copy from the second keyframe of an open-GOP stream into Matroska: the
    # leading frames after it (shown before it) reference the GOP cut away, and no
    # decoder shows them. They are no frames; the ones after them decode alone.
    source = write_named_clip(tmp_path, "h264_open_gop")
    cut = tmp_path / "open_gop_cut.mkv"
    with av.open(str(source)) as src, av.open(str(cut), "w", format="matroska") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        packets = [p for p in src.demux(stream) if p.size]
        first = next(n for n, p in enumerate(packets) if n and p.is_keyframe)
        assert packets[first + 1].pts < packets[first].pts  # leading frames follow it
        for packet in packets[first:]:
            packet.stream = out
            dst.mux(packet)
    reference = pyav_reference(cut)
    index = spdl.io.index_video(cut)
    assert index.pts.tolist() == reference.pts
    for number in range(4):
        batch = spdl.io.load_video_frames(cut, [number], index=index, pix_fmt="yuv420p")
        np.testing.assert_array_equal(_yuv(batch)[0], reference.yuv420p[number], f"frame {number}")
    every = list(range(len(reference.pts)))
    batch = spdl.io.load_video_frames(cut, every, index=index, pix_fmt="yuv420p")
    np.testing.assert_array_equal(_yuv(batch), reference.yuv420p)


@pytest.mark.parametrize("container", ["mp4", "mpegts", "matroska"])
def test_a_stream_starting_mid_gop_has_no_frames_before_its_first_keyframe(
    bframes: Reference, tmp_path: pathlib.Path, container: str
) -> None:
    # A capture joined late, a copy cut without its keyframe: the packets before the
    # first keyframe reference frames that are not there, and no decoder shows them.
    cut = tmp_path / f"mid_gop.{container}"
    with av.open(str(bframes.path)) as src, av.open(str(cut), "w", format=container) as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        packets = [p for p in src.demux(stream) if p.size]
        assert not any(p.is_keyframe for p in packets[1:6])
        for packet in packets[5:]:
            packet.stream = out
            dst.mux(packet)
    reference = pyav_reference(cut)
    index = spdl.io.index_video(cut)
    assert index.num_frames == len(reference.pts) < NUM_FRAMES - 5
    assert index.pts.tolist() == reference.pts
    every = list(range(index.num_frames))
    batch = spdl.io.load_video_frames(cut, every, index=index, pix_fmt="yuv420p")
    np.testing.assert_array_equal(_yuv(batch), reference.yuv420p)
    batch = spdl.io.load_video_frames(cut, [0, 1], pix_fmt="yuv420p")  # indexed on the way
    np.testing.assert_array_equal(_yuv(batch), reference.yuv420p[:2])
    batch = spdl.io.load_video_frames(cut, [0, 1], index=index, pix_fmt="yuv420p")
    np.testing.assert_array_equal(_yuv(batch), reference.yuv420p[:2])
    # A window from the first frame: an MP4's seek to its first keyframe found nothing.
    begin = float(index.begin_seconds)
    window = spdl.io.to_numpy(spdl.io.load_video(cut, (begin, begin + 0.5), pix_fmt="yuv420p"))
    np.testing.assert_array_equal(window[:, 0], reference.yuv420p[: len(window)])
    assert len(window) == 15
    clips = spdl.io.clips_at_regular_indices(
        cut, num_clips=3, num_frames_per_clip=4, index=index, pix_fmt="yuv420p"
    )
    assert spdl.io.to_numpy(clips.data).shape[:2] == (3, 4)


def test_h264_with_b_frames_in_avi_keeps_presentation_order(tmp_path: pathlib.Path) -> None:
    # AVI stores decode times only: FFmpeg gives the frames, in presentation order,
    # their packets' times in decode order ([1, 2, 4, 3, ...]). Frames numbered by
    # those came out swapped, and windows lost and repeated frames.
    _, _, encoder, options = CLIPS["h264_bframes"]
    avi = write_clip(tmp_path / "bframes.avi", encoder, options, "avi")
    with av.open(str(avi)) as container:  # presentation order (with decode-order times)
        frames = np.stack([f.to_ndarray(format="yuv420p") for f in container.decode(video=0)])
    whole = spdl.io.to_numpy(spdl.io.load_video(avi, pix_fmt="yuv420p"))[:, 0]
    np.testing.assert_array_equal(whole, frames)
    index = spdl.io.index_video(avi)
    assert index.num_frames == NUM_FRAMES
    batch = spdl.io.load_video_frames(avi, SCRAMBLED, index=index, pix_fmt="yuv420p")
    np.testing.assert_array_equal(_yuv(batch), frames[SCRAMBLED])
    np.testing.assert_array_equal(batch.pts_seconds, index.pts_seconds[SCRAMBLED])
    clips = spdl.io.clips_at_regular_indices(
        avi, num_clips=3, num_frames_per_clip=5, index=index, pix_fmt="yuv420p"
    )
    for clip, numbers in zip(spdl.io.to_numpy(clips.data), clips.indices, strict=True):
        np.testing.assert_array_equal(clip[:, 0], frames[numbers])
    windows = [(0.2, 0.6), (1.0, 1.3)]
    for window, buffer in zip(
        windows, spdl.io.load_video_windows(avi, windows, pix_fmt="yuv420p"), strict=True
    ):
        inside = [n for n, t in enumerate(index.pts_seconds) if window[0] <= t < window[1]]
        expected = frames[inside]
        got = spdl.io.to_numpy(spdl.io.load_video(avi, window, pix_fmt="yuv420p"))[:, 0]
        np.testing.assert_array_equal(got, expected, str(window))
        np.testing.assert_array_equal(spdl.io.to_numpy(buffer)[:, 0], expected, str(window))
    futures = spdl.io.streaming_demux("video", avi, windows)
    for window, future in zip(windows, futures, strict=True):
        inside = [n for n, t in enumerate(index.pts_seconds) if window[0] <= t < window[1]]
        decoded = spdl.io.decode_packets(future.result(), pix_fmt="yuv420p").result()
        got = spdl.io.to_numpy(spdl.io.convert_frames(decoded).result())[:, 0]
        np.testing.assert_array_equal(got, frames[inside], str(window))


def test_frames_that_share_a_pts_are_each_their_own(tmp_path: pathlib.Path) -> None:
    # 1500 fps in Matroska's milliseconds: pts 0, 1, 1, 2, 3, 3, ... Each frame is
    # found by its number, not by its time alone (which gave the first frame at that
    # time for both).
    path = tmp_path / "dup.mkv"
    encode_video(
        path,
        [np.full((HEIGHT, WIDTH, 3), i * 20, np.uint8) for i in range(12)],
        width=WIDTH,
        height=HEIGHT,
        frame_rate=1500,
        options={"bf": "0", "g": "4"},
        container_format="matroska",
    )
    reference = pyav_reference(path)
    assert reference.pts[:6] == [0, 1, 1, 2, 3, 3]
    index = spdl.io.index_video(path)
    every = list(range(12))
    batch = spdl.io.load_video_frames(path, every, index=index, pix_fmt="yuv420p")
    np.testing.assert_array_equal(_yuv(batch), reference.yuv420p)
    for some in ([2], [5, 4], [2, 1, 2], [8]):
        batch = spdl.io.load_video_frames(path, some, index=index, pix_fmt="yuv420p")
        np.testing.assert_array_equal(_yuv(batch), reference.yuv420p[some], str(some))


def test_a_raw_stream_without_timestamps_names_what_decodes_it(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "raw.h264"
    frames = [np.full((HEIGHT, WIDTH, 3), i * 20, np.uint8) for i in range(6)]
    encode_video(path, frames, width=WIDTH, height=HEIGHT, container_format="h264")
    with pytest.raises(spdl.io.MediaError, match=r"raw elementary stream.*load_video"):
        spdl.io.index_video(path)
    assert spdl.io.to_numpy(spdl.io.load_video(path)).shape[0] == 6


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, TypeError),  # neither indices nor timestamps
        ({"indices": [1], "timestamps": [0.1]}, TypeError),
        ({"indices": []}, ValueError),
        ({"indices": [1.5]}, TypeError),
        ({"indices": "12"}, TypeError),
        ({"indices": [[1, 2]]}, ValueError),
        ({"indices": [1], "num_frames": 4}, ValueError),
        ({"indices": [1], "filter_desc": "hflip"}, ValueError),
        ({"indices": [1], "pix_fmt": "nope"}, ValueError),
        ({"indices": [1], "index": "not an index"}, TypeError),
    ],
)
def test_bad_arguments_fail_when_called(bframes: Reference, kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        spdl.io.load_video_frames(bframes.path, **kwargs)
    with pytest.raises(error):
        spdl.io.async_load_video_frames(bframes.path, **kwargs)


def test_a_missing_file_and_a_file_without_video(
    media_dir: pathlib.Path, bframes: Reference
) -> None:
    with pytest.raises(FileNotFoundError):
        spdl.io.load_video_frames(media_dir / "missing.mp4", [0])
    with pytest.raises(spdl.io.MediaError):
        spdl.io.index_video(b"not a video at all")


def test_the_async_form_equals_the_sync_form(bframes: Reference) -> None:
    sync = spdl.io.load_video_frames(bframes.path, SCRAMBLED)
    coroutine = spdl.io.async_load_video_frames(bframes.path, SCRAMBLED)
    batch = asyncio.run(coroutine)
    np.testing.assert_array_equal(spdl.io.to_numpy(batch.data), spdl.io.to_numpy(sync.data))
    np.testing.assert_array_equal(batch.pts_seconds, sync.pts_seconds)


def _spans_with_garbage(bframes: Reference, garbage_gops: set[int]) -> _native.VideoPackets:
    """The clip's packets, the payload of the GOPs ``garbage_gops`` replaced by noise."""
    packets = _demux.demux("video", bframes.path)
    rng = np.random.default_rng(5)
    copy = _native.VideoPackets(packets.src, packets.params, packets.time_base)
    gop = -1
    with av.open(str(bframes.path)) as container:
        for packet in container.demux(video=0):
            if packet.size == 0:
                continue
            gop += bool(packet.is_keyframe)
            data = bytes(packet)
            if gop in garbage_gops:
                data = rng.integers(0, 256, len(data), dtype=np.uint8).tobytes()
            copy.add(data, packet.pts, packet.dts, packet.duration, packet.is_keyframe)
    return copy


def test_gops_without_a_wanted_frame_and_packets_after_the_last_are_not_decoded(
    bframes: Reference,
) -> None:
    # GOPs 1 and 3 hold noise: a decode that fed them to the decoder would fail or
    # give wrong pictures. Frames of GOPs 0 and 2 need neither.
    packets = _spans_with_garbage(bframes, {1, 3})
    wanted = [31, 2, 40, 2]
    index = spdl.io.index_video(bframes.path)
    plan = _decode.make_plan("video", None, {"pix_fmt": "yuv420p"})
    buffer = _native.decode_frames_at([packets], index.pts[wanted].tolist(), [], plan)
    np.testing.assert_array_equal(spdl.io.to_numpy(buffer)[:, 0], bframes.yuv420p[wanted])


def test_the_decode_runs_without_the_gil(bframes: Reference) -> None:
    packets = _demux.demux("video", bframes.path)
    index = spdl.io.index_video(bframes.path)
    plan = _decode.make_plan("video", None, {"width": 320, "height": 240})
    everything = index.pts.tolist() * 8
    ticks: list[int] = []
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            ticks.append(1)

    counter = threading.Thread(target=count)
    counter.start()
    while not ticks:
        pass
    before = len(ticks)
    _native.decode_frames_at([packets], everything, [], plan)
    during = len(ticks) - before
    stop.set()
    counter.join()
    # A call holding the GIL would have stopped the counting thread for its whole length.
    assert during > 1000


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(0, NUM_FRAMES - 1), min_size=1, max_size=12))
def test_random_frame_sets_give_the_reference_frames(
    bframes: Reference, numbers: list[int]
) -> None:
    batch = spdl.io.load_video_frames(bframes.path, numbers, pix_fmt="yuv420p")
    np.testing.assert_array_equal(_yuv(batch), bframes.yuv420p[numbers])


def test_a_kept_index_demuxes_only_the_spans_that_hold_the_frames(
    bframes: Reference, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spdl.io._runtime import demux_pool

    calls: list[str] = []
    spans, whole = demux_pool.demux_spans, demux_pool.demux
    monkeypatch.setattr(
        demux_pool, "demux_spans", lambda *a, **k: calls.append("spans") or spans(*a, **k)
    )
    monkeypatch.setattr(
        demux_pool, "demux", lambda *a, **k: calls.append("whole") or whole(*a, **k)
    )
    index = spdl.io.index_video(bframes.path)
    calls.clear()
    batch = spdl.io.load_video_frames(bframes.path, [50, 2, 51], index=index, pix_fmt="yuv420p")
    assert calls == ["spans"]
    np.testing.assert_array_equal(_yuv(batch), bframes.yuv420p[[50, 2, 51]])
    spdl.io.load_video_frames(bframes.path, [50, 2, 51])
    assert calls == ["spans", "whole"]  # without the index, the whole stream
