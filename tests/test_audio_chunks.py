"""decode_packets gathers decoded audio into a few long frames (chunks) as it goes.

A minute of AAC is ~2600 decoded frames of 1024 samples; each chunk holds seconds
of them, so AudioFrames stay few whatever the length, while conversion still gives
every sample, and each chunk's pts is the time of its first sample.
"""

from __future__ import annotations

import ctypes
import math
import pathlib

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from media import encode_audio, write_multichannel_wav

import spdl.io
from spdl import _native
from spdl.io._core.convert import convert
from spdl.io._core.decode import decode, decode_to_buffer

RATE = 48000
SECONDS = 14
NO_TIME = -(2**63)  # AV_NOPTS_VALUE


@pytest.fixture(scope="module")
def long_aac(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """14 s of stereo 48 kHz AAC at 48 kb/s (~85 KB): more audio than two chunks hold."""
    path = tmp_path_factory.mktemp("chunks") / "glides.m4a"
    t = np.arange(RATE * SECONDS) / RATE
    wave = np.stack([np.sin(2 * np.pi * (300 + 20 * t) * t), np.sin(2 * np.pi * 500 * t)])
    encode_audio(path, (0.3 * wave).astype(np.float32), rate=RATE, bit_rate=48_000)
    return path


def _pyav_decode(path: pathlib.Path) -> tuple[list[float], np.ndarray]:
    """PyAV's frame times and samples, the reference."""
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    return [float(f.time) for f in frames], np.concatenate([f.to_ndarray() for f in frames], 1)


def _readded(packets: _native.AudioPackets, shift_from: int, shift: int) -> _native.AudioPackets:
    """The same packets (no side data), those from `shift_from` on `shift` ticks later."""
    copy = _native.AudioPackets(packets.src, packets.params, packets.time_base)
    for index, (address, size, pts, is_key, _) in enumerate(_native.packet_table(packets)):
        moved = pts + (shift if index >= shift_from else 0)
        copy.add(ctypes.string_at(address, size), moved, moved, 1024, is_key)
    return copy


def test_long_audio_decodes_into_a_few_chunks_holding_every_sample(long_aac: pathlib.Path) -> None:
    packets = spdl.io.demux_media("audio", long_aac).result()
    frames = spdl.io.decode_packets(packets).result()
    assert len(packets) > 600
    assert 2 <= len(frames) <= 4
    assert frames.num_samples == pytest.approx(RATE * SECONDS, abs=2048)

    times, reference = _pyav_decode(long_aac)
    # Every chunk starts with a decoded frame, at that frame's time, in order.
    assert frames.pts == sorted(frames.pts)
    assert all(min(abs(p - t) for t in times) < 1e-6 for p in frames.pts)
    assert frames.pts[0] == pytest.approx(times[0])

    array = np.asarray(spdl.io.convert_frames(frames).result())
    assert array.shape == reference.shape == (2, frames.num_samples)
    np.testing.assert_allclose(array, reference, rtol=0, atol=1e-3)  # two FFmpeg builds
    np.testing.assert_array_equal(array, np.asarray(spdl.io.load_audio(long_aac)))


@pytest.mark.parametrize("sample_fmt", ["s16", "flt", "s16p"])
def test_chunks_of_every_layout_convert_as_the_fused_decode(
    long_aac: pathlib.Path, sample_fmt: str
) -> None:
    # Packed chunks interleave the channels; planar ones keep a row per channel.
    packets = spdl.io.demux_media("audio", long_aac).result()
    frames = spdl.io.decode_packets(packets, sample_fmt=sample_fmt).result()
    assert len(frames) >= 2
    array = np.asarray(spdl.io.convert_frames(frames).result())
    fused = np.asarray(spdl.io.load_audio(long_aac, sample_fmt=sample_fmt))
    assert array.shape == fused.shape
    planar = sample_fmt == "s16p"
    assert array.shape == ((2, frames.num_samples) if planar else (frames.num_samples, 2))
    np.testing.assert_array_equal(array, fused)
    left, right = (array[0], array[1]) if planar else (array[:, 0], array[:, 1])
    _, reference = _pyav_decode(long_aac)
    scale = 32768 if sample_fmt.startswith("s16") else 1
    np.testing.assert_allclose(left / scale, reference[0], rtol=0, atol=2e-3)
    np.testing.assert_allclose(right / scale, reference[1], rtol=0, atol=2e-3)


def test_a_gap_in_the_timestamps_starts_a_new_chunk(long_aac: pathlib.Path) -> None:
    demuxed = spdl.io.demux_media("audio", long_aac).result()
    gapless = spdl.io.decode_packets(_readded(demuxed, 0, 0)).result()
    gapped = spdl.io.decode_packets(_readded(demuxed, 100, 2 * RATE)).result()

    assert len(gapped) == len(gapless) + 1
    # The chunk after the gap starts 2 s later than the 100th packet's frame would.
    packet_100 = _native.packet_table(demuxed)[100][2] / RATE
    after_gap = [p for p in gapped.pts if p > packet_100]
    assert after_gap[0] == pytest.approx(packet_100 + 2.0, abs=1024 / RATE)
    assert [p for p in gapped.pts if p < packet_100] == [p for p in gapless.pts if p < packet_100]
    # The samples are the same: conversion concatenates them whatever the timestamps.
    np.testing.assert_array_equal(
        np.asarray(spdl.io.convert_frames(gapped).result()),
        np.asarray(spdl.io.convert_frames(gapless).result()),
    )


def test_a_short_window_is_one_chunk_of_its_samples(long_aac: pathlib.Path) -> None:
    window = (3.0, 4.5)
    packets = spdl.io.demux_media("audio", long_aac, timestamp=window).result()
    frames = spdl.io.decode_packets(packets).result()
    assert len(frames) == 1
    assert frames.pts[0] == pytest.approx(window[0], abs=1 / RATE)
    assert frames.num_samples == int(1.5 * RATE)
    np.testing.assert_array_equal(
        np.asarray(spdl.io.convert_frames(frames).result()),
        np.asarray(spdl.io.load_audio(long_aac, timestamp=window)),
    )


def test_more_than_eight_planes_convert_exactly(tmp_path: pathlib.Path) -> None:
    # AVFrame has eight data pointers; a planar chunk of ten channels lists its planes
    # in extended_data only.
    wav = write_multichannel_wav(tmp_path / "ten.wav")
    packets = spdl.io.demux_media("audio", wav.path).result()
    frames = spdl.io.decode_packets(packets, sample_fmt="s16p").result()
    assert frames.num_channels == 10
    array = np.asarray(spdl.io.convert_frames(frames).result())
    assert array.shape == (10, 3000)
    np.testing.assert_array_equal(array, wav.source)
    fused = decode_to_buffer(spdl.io.demux_media("audio", wav.path).result(), sample_fmt="s16p")
    np.testing.assert_array_equal(np.asarray(fused), wav.source)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    shifts=st.lists(
        st.tuples(st.integers(min_value=1, max_value=650), st.integers(-RATE, 3 * RATE)),
        max_size=5,
    ),
    untimed=st.lists(st.integers(min_value=0, max_value=650), max_size=5),
)
def test_any_timestamps_keep_every_sample_and_chunks_start_at_frame_times(
    long_aac: pathlib.Path, shifts: list[tuple[int, int]], untimed: list[int]
) -> None:
    # Gaps, overlaps and packets without a time: the samples never change, only
    # where chunks start.
    demuxed = spdl.io.demux_media("audio", long_aac).result()
    packets = _native.AudioPackets(demuxed.src, demuxed.params, demuxed.time_base)
    times = set()
    for index, (address, size, pts, is_key, _) in enumerate(_native.packet_table(demuxed)):
        pts += sum(shift for start, shift in shifts if index >= start)
        pts = pts if index not in untimed else NO_TIME
        packets.add(ctypes.string_at(address, size), pts, pts, 1024, is_key)
        times.add(pts)

    frames = decode(packets)
    assert all(math.isnan(p) or round(p * RATE) in times for p in frames.pts)
    fused = np.asarray(decode_to_buffer(packets))
    np.testing.assert_array_equal(np.asarray(convert(frames)), fused)
