"""load_audio decodes straight into its output; it must equal decode + convert.

The fused path copies each frame's samples as the frame comes out and writes
planar rows with room to spare, growing them when the packets' durations
under-state the samples and packing them together at the end.
"""

from __future__ import annotations

import pathlib
from fractions import Fraction

import av
import numpy as np
import pytest

import spdl.io
from spdl import _native
from spdl.io import _decode


@pytest.fixture(scope="module")
def aac(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("fused") / "tone.m4a"
    rate, seconds = 22050, 3
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate, layout="stereo")
        t = np.arange(rate * seconds) / rate
        wave = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)])
        wave = (0.3 * wave).astype(np.float32)
        for start in range(0, wave.shape[1], 1024):
            chunk = np.ascontiguousarray(wave[:, start : start + 1024])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = rate, start
            frame.time_base = Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _two_ways(packets_factory, **options) -> tuple[np.ndarray, np.ndarray]:
    fused = np.asarray(_decode.decode_to_buffer(packets_factory(), **options))
    frames = spdl.io.decode_packets(packets_factory(), **options).result()
    return fused, np.asarray(spdl.io.convert_frames(frames).result())


@pytest.mark.parametrize("timestamp", [None, (0.4, 2.2)])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"sample_fmt": "s16"},
        {"sample_fmt": None},
        {"sample_rate": 8000},
        {"sample_rate": 48000},
        {"num_channels": 1, "sample_fmt": "s16p"},
    ],
    ids=["fltp", "s16", "native", "down", "up", "mono"],
)
def test_fused_audio_equals_decode_then_convert(
    aac: pathlib.Path, timestamp: tuple | None, options: dict
) -> None:
    def packets() -> _native.AudioPackets:
        return spdl.io.demux_media("audio", aac, timestamp=timestamp).result()

    fused, reference = _two_ways(packets, **options)
    assert fused.shape == reference.shape and fused.dtype == reference.dtype
    assert fused.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(fused, reference)
    assert np.abs(fused.astype(np.float64)).max() > 0


def test_planar_rows_grow_when_durations_understate_the_samples(aac: pathlib.Path) -> None:
    def packets() -> _native.AudioPackets:
        demuxed = spdl.io.demux_media("audio", aac).result()
        # The same packets, each claiming a duration of one tick.
        table = _native.packet_table(demuxed)
        understated = _native.AudioPackets(demuxed.src, demuxed.params, demuxed.time_base)
        import ctypes

        for address, size, pts, is_key in table:
            understated.add(ctypes.string_at(address, size), pts, pts, 1, is_key)
        return understated

    fused, reference = _two_ways(packets)
    assert fused.shape == reference.shape == (2, reference.shape[1])
    assert reference.shape[1] > 22050 * 2
    np.testing.assert_array_equal(fused, reference)
