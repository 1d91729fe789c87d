"""load_audio decodes straight into its output; it must equal decode + convert.

The fused path copies each frame's samples as the frame comes out and writes
planar rows with room to spare, growing them when the packets' durations
under-state the samples and packing them together at the end.
"""

from __future__ import annotations

import io
import pathlib

import av
import numpy as np
import pytest
from media import encode_audio

import spdl.io
from spdl import _native
from spdl.io._core import decode as _decode
from spdl.io._core.demux import demux_audio_chunks


@pytest.fixture(scope="module")
def aac(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("fused") / "tone.m4a"
    rate, seconds = 22050, 3
    t = np.arange(rate * seconds) / rate
    wave = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)])
    encode_audio(path, (0.3 * wave).astype(np.float32), rate=rate)
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

        for address, size, pts, is_key, _ in table:
            understated.add(ctypes.string_at(address, size), pts, pts, 1, is_key)
        return understated

    fused, reference = _two_ways(packets)
    assert fused.shape == reference.shape == (2, reference.shape[1])
    assert reference.shape[1] > 22050 * 2
    np.testing.assert_array_equal(fused, reference)


def _chunked(path: pathlib.Path, chunk: int, timestamp: tuple | None, **options) -> np.ndarray:
    chunks = list(demux_audio_chunks(path, timestamp, chunk=chunk))
    assert all(0 < len(packets) <= chunk for packets, _ in chunks)
    assert all(len(packets) == chunk for packets, _ in chunks[:-1])
    decoder = _decode.audio_decode_stream(chunks[0][0], chunks[0][1], **options)
    for packets, _ in chunks:
        decoder.feed(packets)
    return np.asarray(decoder.finish())


@pytest.mark.parametrize("chunk", [1, 7, 10_000])
@pytest.mark.parametrize("timestamp", [None, (0.4, 2.2)])
@pytest.mark.parametrize(
    "options",
    [{}, {"sample_fmt": "s16"}, {"sample_rate": 8000}, {"num_channels": 1, "sample_fmt": "s16p"}],
    ids=["fltp", "s16", "down", "mono"],
)
def test_audio_fed_in_chunks_equals_one_decode(
    aac: pathlib.Path, chunk: int, timestamp: tuple | None, options: dict
) -> None:
    whole = np.asarray(
        _decode.decode_to_buffer(spdl.io.demux_media("audio", aac, timestamp).result(), **options)
    )
    chunked = _chunked(aac, chunk, timestamp, **options)
    assert chunked.shape == whole.shape and chunked.dtype == whole.dtype
    np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_array_equal(
        np.asarray(spdl.io.load_audio(aac, timestamp=timestamp, **options)), whole
    )


def test_chunks_carry_the_streams_duration(aac: pathlib.Path) -> None:
    durations = {seconds for _, seconds in demux_audio_chunks(aac, chunk=16)}
    assert len(durations) == 1
    assert durations.pop() == pytest.approx(3.0, abs=0.1)


def test_chunked_loads_fail_as_one_decode_does(aac: pathlib.Path) -> None:
    # A header-only WAV: an audio stream without a single packet.
    empty = io.BytesIO()
    with av.open(empty, "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        stream.layout = "mono"
        container.start_encoding()
    with pytest.raises(spdl.io.MediaError, match="no audio packet found"):
        list(demux_audio_chunks(empty.getvalue()))
    with pytest.raises(spdl.io.MediaError, match="no audio packet found"):
        spdl.io.load_audio(empty.getvalue())
    # Past the end, the seek leaves the last packet, which has no sample in the window.
    past_end = "no frame could be decoded from 1 packet\\(s\\) in the requested window"
    with pytest.raises(spdl.io.MediaError, match=past_end):
        spdl.io.load_audio(aac, timestamp=(10.0, 11.0))
    with pytest.raises(spdl.io.MediaError, match=past_end):
        _decode.decode_to_buffer(spdl.io.demux_media("audio", aac, (10.0, 11.0)).result())


def test_a_chunked_demux_stopped_early_closes_its_source(aac: pathlib.Path) -> None:
    with open(aac, "rb") as file:
        chunks = demux_audio_chunks(file, chunk=4)
        packets, _ = next(chunks)
        assert len(packets) == 4
        chunks.close()
        file.seek(0)
        rest = spdl.io.load_audio(file.read())  # the source is still usable afterwards
    assert rest.shape[1] > 0


def test_the_stream_refuses_misuse(aac: pathlib.Path) -> None:
    packets, seconds = next(demux_audio_chunks(aac))
    video = _native.VideoPackets(packets.src, packets.params, packets.time_base)
    with pytest.raises(ValueError, match="audio packets"):
        _native.AudioDecodeStream(video)
    decoder = _decode.audio_decode_stream(packets, seconds)
    with pytest.raises(ValueError, match="audio packets"):
        decoder.feed(video)
    token = _native.CancelToken()
    token.cancel()
    with pytest.raises(spdl.io.MediaError, match="cancelled"):
        decoder.feed(packets, cancel=token)
    empty = _decode.audio_decode_stream(packets, seconds)
    with pytest.raises(spdl.io.MediaError, match="no frame could be decoded from 0 packet"):
        empty.finish()
    with pytest.raises(RuntimeError, match="finished"):
        empty.feed(packets)
    with pytest.raises(RuntimeError, match="finished"):
        empty.finish()
