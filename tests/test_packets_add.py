"""Packets.add_demuxed reads a PyAV packet in one native call; it must keep what
Packets.add is given: bytes, timestamps, key flags and side data."""

from __future__ import annotations

import ctypes
import math
import pathlib
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError

import av
import numpy as np
import pytest
from media import AudioReference, VideoReference, encode_video

import spdl.io
from spdl import _native
from spdl.io import MediaError
from spdl.io._core.decode import decode_to_buffer


def _empty_like(packets: _native.AudioPackets) -> _native.AudioPackets:
    return _native.AudioPackets(packets.src, packets.params, packets.time_base)


def _pyav_packets(path: pathlib.Path) -> list[av.Packet]:
    with av.open(str(path)) as container:
        return [p for p in container.demux(container.streams.audio[0]) if p.size]


def _table(packets: _native.AudioPackets) -> list[tuple[bytes, int, bool]]:
    return [
        (ctypes.string_at(address, size), pts, is_key)
        for address, size, pts, is_key, _ in _native.packet_table(packets)
    ]


def test_add_demuxed_equals_add_with_the_packets_fields(aac_audio: AudioReference) -> None:
    template = spdl.io.demux_media("audio", aac_audio.path).result()
    pyav = _pyav_packets(aac_audio.path)
    # AAC in MP4 starts with the encoder's priming samples to skip: side data.
    assert [item.data_desc for item in pyav[0].iter_sidedata()] == ["Skip Samples"]

    demuxed, added, no_side_data = (_empty_like(template) for _ in range(3))
    for packet in pyav:
        demuxed.add_demuxed(packet)
        fields = (packet, packet.pts, packet.dts, packet.duration or 0, packet.is_keyframe)
        side = [(item.data_desc, bytes(item)) for item in packet.iter_sidedata()]
        added.add(*fields, side)
        no_side_data.add(*fields)

    assert len(demuxed) == len(added) == len(pyav)
    assert _table(demuxed) == _table(added)
    assert demuxed.pts == added.pts
    decoded = np.asarray(decode_to_buffer(demuxed))
    np.testing.assert_array_equal(decoded, np.asarray(decode_to_buffer(added)))
    # The side data was kept: without it the 1024 priming samples stay in the output
    # (and the tail padding, where the muxer marked it, as FFmpeg 8's does).
    extra = np.asarray(decode_to_buffer(no_side_data)).shape[1] - decoded.shape[1]
    assert extra in (1024, 1024 + 888)


class _Packet(bytes):
    """Bytes with a demuxed packet's attributes."""

    pts: int | None = None
    dts: int | None = None
    duration: int | None = None
    is_keyframe = False
    side_data: tuple = ()

    def iter_sidedata(self) -> tuple:
        return self.side_data

    @property
    def size(self) -> int:
        return len(self)


class _NoBytes:
    """A demuxed packet's attributes without the buffer protocol."""

    pts = dts = duration = 0
    is_keyframe = True

    def iter_sidedata(self) -> tuple:
        return ()


class _SideData(bytes):
    data_desc: object = "Skip Samples"


def test_none_timestamps_are_unknown(aac_audio: AudioReference) -> None:
    packets = _empty_like(spdl.io.demux_media("audio", aac_audio.path).result())
    packet = _Packet(b"\x01\x02\x03")
    packets.add_demuxed(packet)
    assert _table(packets) == [(b"\x01\x02\x03", -(2**63), False)]  # AV_NOPTS_VALUE
    assert math.isnan(packets.pts[0])


def test_malformed_packets_raise_and_add_nothing(aac_audio: AudioReference) -> None:
    packets = _empty_like(spdl.io.demux_media("audio", aac_audio.path).result())
    bad_name = _Packet(b"\x00")
    side = _SideData(b"\x00" * 10)
    side.data_desc = 7
    bad_name.side_data = (side,)
    with pytest.raises(TypeError, match="data_desc"):
        packets.add_demuxed(bad_name)
    with pytest.raises(AttributeError):
        packets.add_demuxed(b"\x00")  # bytes without a packet's attributes
    with pytest.raises(TypeError):
        packets.add_demuxed(_NoBytes())
    assert len(packets) == 0


def _packet(data: bytes, pts: int | None, dts: int | None) -> _Packet:
    packet = _Packet(data)
    packet.pts, packet.dts = pts, dts
    return packet


def test_add_demuxed_from_equals_add_demuxed_one_by_one(h264_video: VideoReference) -> None:
    template = spdl.io.demux_media("video", h264_video.path).result()
    with av.open(str(h264_video.path)) as container:
        stream = container.streams.video[0]
        one_by_one = _empty_like(template)
        for packet in container.demux(stream):
            if packet.size:
                one_by_one.add_demuxed(packet)
        container.seek(0, stream=stream)
        looped = _empty_like(template)
        assert looped.add_demuxed_from(container.demux(stream), 10**6) is False  # exhausted
    assert len(looped) == len(one_by_one) == len(template) > 10
    assert _table(looped) == _table(one_by_one) == _table(template)


def test_add_demuxed_from_stops_after_limit_and_goes_on_from_there(
    aac_audio: AudioReference,
) -> None:
    template = spdl.io.demux_media("audio", aac_audio.path).result()
    with av.open(str(aac_audio.path)) as container:
        demuxer = container.demux(container.streams.audio[0])
        parts = [_empty_like(template) for _ in range(len(template) // 7 + 1)]
        more = [part.add_demuxed_from(demuxer, 7) for part in parts]
    assert more == [True] * (len(parts) - 1) + [False]
    assert [len(part) for part in parts[:-1]] == [7] * (len(parts) - 1)
    assert sum((_table(part) for part in parts), []) == _table(template)


def test_add_demuxed_from_ends_at_the_first_packet_decoded_at_or_after_end(
    aac_audio: AudioReference,
) -> None:
    packets = _empty_like(spdl.io.demux_media("audio", aac_audio.path).result())
    demuxer = iter(
        [
            _packet(b"a", pts=0, dts=0),
            _packet(b"", pts=9, dts=9),  # empty: skipped whatever its time
            _packet(b"b", pts=None, dts=None),  # unknown time: kept
            _packet(b"c", pts=7, dts=4),  # decoded before end, shown after it: kept
            # No dts (Matroska after a seek): shown after end, but the B-frames shown
            # before it may follow it. Kept.
            _packet(b"d", pts=6, dts=None),
            _packet(b"e", pts=4, dts=None),  # such a B-frame
            _packet(b"f", pts=9, dts=5),  # decoded at end: stops
            _packet(b"g", pts=1, dts=1),
        ]
    )
    assert packets.add_demuxed_from(demuxer, 100, end=5.0) is False
    assert [data for data, _, _ in _table(packets)] == [b"a", b"b", b"c", b"d", b"e"]
    assert next(demuxer) == b"g"  # "f" was taken from the demuxer and dropped


def test_packets_without_dts_past_the_end_stop_after_as_many_as_are_reordered(
    aac_audio: AudioReference,
) -> None:
    # A stream that never gives a dts still ends: after 16 packets shown past the end
    # (the most an H.264 decoder reorders), the 17th stops the read.
    packets = _empty_like(spdl.io.demux_media("audio", aac_audio.path).result())
    demuxer = iter([_packet(bytes([i]), pts=10 + i, dts=None) for i in range(30)])
    assert packets.add_demuxed_from(demuxer, 100, end=5.0) is False
    assert len(packets) == 16
    assert next(demuxer) == bytes([17])
    # Counted over the calls for one window (the demux adds 64 packets a call): a new
    # call went on counting from 0, so up to 31 were taken.
    packets = _empty_like(spdl.io.demux_media("audio", aac_audio.path).result())
    demuxer = iter([_packet(bytes([i]), pts=10 + i, dts=None) for i in range(30)])
    assert packets.add_demuxed_from(demuxer, 10, end=5.0) is True
    assert packets.add_demuxed_from(demuxer, 10, end=5.0) is False
    assert len(packets) == 16


def test_add_demuxed_from_passes_the_demuxers_errors_on(aac_audio: AudioReference) -> None:
    packets = _empty_like(spdl.io.demux_media("audio", aac_audio.path).result())

    def failing() -> Iterator[_Packet]:
        yield _packet(b"a", pts=0, dts=0)
        raise MediaError("the source went away")

    with pytest.raises(MediaError, match="went away"):
        packets.add_demuxed_from(failing(), 100)
    assert len(packets) == 1  # what was added before stays
    with pytest.raises(TypeError, match="iterator"):
        packets.add_demuxed_from([_packet(b"a", pts=0, dts=0)], 100)
    with pytest.raises(TypeError, match="data_desc"):
        bad = _packet(b"x", pts=1, dts=1)
        side = _SideData(b"\x00")
        side.data_desc = None
        bad.side_data = (side,)
        packets.add_demuxed_from(iter([bad]), 100)
    assert len(packets) == 1


def test_packets_cannot_change_while_another_thread_decodes_them(tmp_path: pathlib.Path) -> None:
    # add() grew the packet list under a decode reading it: a segfault.
    path = tmp_path / "slow.mp4"
    frames = (np.full((16, 16, 3), 8 * i, np.uint8) for i in range(30))
    encode_video(path, frames, width=16, height=16, frame_rate=1, codec="mpeg4")
    packets = spdl.io.demux_media("video", path).result()
    count, window = len(packets), packets.timestamp
    # FFmpeg's realtime filter holds each frame back until its time: a 30 s decode.
    decoding = spdl.io.decode_packets(packets, filter_desc="realtime")
    deadline = time.monotonic() + 30
    while _native_decode_running(packets) is False and time.monotonic() < deadline:
        time.sleep(0.01)
    changes = {
        "add": lambda: packets.add(b"\0" * 8, 10**6, 10**6, 1, False),
        "timestamp": lambda: setattr(packets, "timestamp", (1.0, 2.0)),
        "frame_rate": lambda: setattr(packets, "frame_rate", (5, 1)),
    }
    for name, change in changes.items():
        with pytest.raises(ValueError, match="being decoded in another thread"):
            change()
            pytest.fail(f"{name} changed the packets under a decode")
    assert (len(packets), packets.timestamp) == (count, window)  # nothing changed
    assert decoding.cancel() or decoding.running()
    with pytest.raises((MediaError, spdl.io.AsyncIOFailure, CancelledError)):
        decoding.result(30)
    while _native_decode_running(packets) and time.monotonic() < deadline:
        time.sleep(0.01)  # a cancelled Future is done before its decode sees the token
    for change in changes.values():
        change()  # the decode has ended: the packets are the caller's again
    assert len(packets) == count + 1 and packets.timestamp == (1.0, 2.0)


def _native_decode_running(packets: _native.VideoPackets) -> bool:
    """Whether a decode reads ``packets`` (a change is refused then)."""
    try:
        packets.frame_rate = packets.frame_rate
    except ValueError:
        return True
    return False
