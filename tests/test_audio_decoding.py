"""Audio decoding: sample formats and layouts, resampling, downmix, windows, values."""

from __future__ import annotations

import ctypes
import pathlib

import av
import numpy as np
import pytest
from media import AudioReference, encode_audio, write_multichannel_wav
from reference_decode import pyav_filter_audio

import spdl.io
from spdl import _native
from spdl.io._core.convert import convert
from spdl.io._core.decode import decode
from spdl.io._core.demux import demux

# AAC is decoded in floating point by two FFmpeg builds (system vs PyAV's); their outputs
# may differ in the last bits. A one-sample misalignment of these tones differs by > 0.01.
AAC_TOLERANCE = 1e-3


def load_array(src, timestamp=None, **options) -> np.ndarray:
    return spdl.io.to_numpy(spdl.io.load_audio(src, timestamp, **options))


def test_default_fltp_is_float32_channels_by_samples(aac_audio: AudioReference) -> None:
    array = load_array(aac_audio.path)
    assert array.dtype == np.float32
    assert array.ndim == 2
    assert array.shape[0] == 2


def test_aac_decode_has_pyavs_sample_count_and_values(aac_audio: AudioReference) -> None:
    array = load_array(aac_audio.path)
    # 2 s at 44.1 kHz, encoder priming removed; PyAV 19's muxer (FFmpeg 8) also marks
    # the tail padding, which earlier muxers leave in (88200 + 888 samples).
    assert aac_audio.decoded.shape in ((2, 88200), (2, 89088))
    assert array.shape == aac_audio.decoded.shape
    np.testing.assert_allclose(array, aac_audio.decoded, rtol=0, atol=AAC_TOLERANCE)


def test_wav_fltp_equals_the_pcm_divided_by_32768(wav_audio: AudioReference) -> None:
    array = load_array(wav_audio.path)
    assert array.shape == (1, 16000)
    assert array.dtype == np.float32
    np.testing.assert_array_equal(array, wav_audio.source.astype(np.float32) / 32768)


def test_packed_s16_is_int16_samples_by_channels(wav_audio: AudioReference) -> None:
    array = load_array(wav_audio.path, sample_fmt="s16")
    assert array.shape == (16000, 1)
    assert array.dtype == np.int16
    np.testing.assert_array_equal(array, wav_audio.source.T)


def test_packed_stereo_interleaves_channels_in_the_last_axis(aac_audio: AudioReference) -> None:
    planar = load_array(aac_audio.path)
    packed = load_array(aac_audio.path, sample_fmt="flt")
    assert packed.shape == (planar.shape[1], 2)
    assert packed.dtype == np.float32
    np.testing.assert_array_equal(packed, planar.T)
    packed_s16 = load_array(aac_audio.path, sample_fmt="s16")
    assert packed_s16.shape == (planar.shape[1], 2)
    assert packed_s16.dtype == np.int16


def test_planar_s16p_is_int16_channels_by_samples(wav_audio: AudioReference) -> None:
    array = load_array(wav_audio.path, sample_fmt="s16p")
    assert array.shape == (1, 16000)
    assert array.dtype == np.int16
    np.testing.assert_array_equal(array, wav_audio.source)


@pytest.mark.parametrize(
    ("fixture_name", "shape", "dtype"),
    # None: the shape of PyAV's decode (it depends on how PyAV's muxer marked the padding).
    [("wav_audio", (16000, 1), np.int16), ("aac_audio", None, np.float32)],
)
def test_sample_fmt_none_keeps_the_decoders_native_format(
    request: pytest.FixtureRequest, fixture_name: str, shape: tuple[int, int] | None, dtype: type
) -> None:
    audio: AudioReference = request.getfixturevalue(fixture_name)
    frames = decode(demux("audio", audio.path), sample_fmt=None)
    assert frames.sample_fmt == audio.native_sample_fmt
    array = spdl.io.to_numpy(convert(frames))
    assert array.shape == (shape or audio.decoded.shape)
    assert array.dtype == dtype


def test_packets_and_frames_describe_the_stream(aac_audio: AudioReference) -> None:
    packets = demux("audio", aac_audio.path)
    assert packets.media_type == "audio"
    assert packets.src == str(aac_audio.path)
    assert packets.codec_name == "aac"
    assert packets.sample_rate == 44100
    assert packets.num_channels == 2
    assert packets.sample_fmt == "fltp"
    assert packets.timestamp is None

    frames = decode(packets)
    assert frames.media_type == "audio"
    assert frames.sample_rate == 44100
    assert frames.num_channels == 2
    assert frames.sample_fmt == "fltp"
    assert frames.num_samples == aac_audio.decoded.shape[1]


def test_reprs_name_the_stream(aac_audio: AudioReference) -> None:
    packets = demux("audio", aac_audio.path, timestamp=(1 / 3, 1.5))
    src = str(aac_audio.path)
    assert repr(packets) == (
        f'AudioPackets(src="{src}", codec="aac", sample_rate=44100, num_channels=2, '
        f'sample_fmt="fltp", time_base=1/44100, num_packets={len(packets)}, '
        "timestamp=(0.333333, 1.5))"
    )
    frames = decode(packets)
    expected = (
        f'AudioFrames(src="{src}", num_frames={len(frames)}, sample_fmt="fltp", '
        f"sample_rate=44100, num_channels=2, num_samples={frames.num_samples}"
    )
    assert repr(frames) == expected + ")"
    convert(frames)
    assert repr(frames) == expected + ", consumed)"


@pytest.mark.parametrize("sample_rate", [8000, 22050, 48000])
def test_wav_resampling_scales_the_sample_count_exactly(
    wav_audio: AudioReference, sample_rate: int
) -> None:
    frames = decode(demux("audio", wav_audio.path), sample_rate=sample_rate)
    assert frames.sample_rate == sample_rate
    assert frames.num_samples == sample_rate  # the file is one second long
    array = spdl.io.to_numpy(convert(frames))
    assert array.shape == (1, sample_rate)
    expected = pyav_filter_audio(wav_audio.path, f"aresample={sample_rate}") / 32768
    np.testing.assert_allclose(array, expected, rtol=0, atol=1e-3)


def test_aac_resampling_scales_the_sample_count_proportionally(aac_audio: AudioReference) -> None:
    native_count = load_array(aac_audio.path).shape[1]
    array = load_array(aac_audio.path, sample_rate=16000)
    assert array.shape[0] == 2
    assert abs(array.shape[1] - round(native_count * 16000 / 44100)) <= 1


def test_num_channels_one_downmixes_both_channels_equally(aac_audio: AudioReference) -> None:
    stereo = load_array(aac_audio.path)
    frames = decode(demux("audio", aac_audio.path), num_channels=1)
    assert frames.num_channels == 1
    mono = spdl.io.to_numpy(convert(frames))
    assert mono.shape == (1, stereo.shape[1])
    # The two tones are uncorrelated, so least squares recovers each channel's weight.
    (left_weight, right_weight), *_ = np.linalg.lstsq(stereo.T, mono[0], rcond=None)
    assert left_weight == pytest.approx(right_weight, abs=1e-3)
    assert 0.5 - 1e-3 <= left_weight <= 1 / np.sqrt(2) + 1e-3
    np.testing.assert_allclose(mono[0], left_weight * stereo.sum(axis=0), rtol=0, atol=1e-4)


def test_num_channels_two_upmixes_mono_to_identical_channels(wav_audio: AudioReference) -> None:
    array = load_array(wav_audio.path, num_channels=2)
    assert array.shape == (2, 16000)
    np.testing.assert_array_equal(array[0], array[1])


@pytest.mark.parametrize("num_channels", [9, 10, 12, 33, 63])
def test_num_channels_without_a_default_layout_put_mono_in_the_front_centre(
    wav_audio: AudioReference, num_channels: int
) -> None:
    # Every layout from 3 channels on starts FL, FR, FC: mono (FC) lands in row 2.
    array = load_array(wav_audio.path, num_channels=num_channels)
    assert array.shape == (num_channels, 16000)
    np.testing.assert_array_equal(array[2], wav_audio.source[0] / np.float32(32768))
    assert not np.delete(array, 2, axis=0).any()


def test_num_channels_equal_to_the_sources_keeps_its_layout(tmp_path: pathlib.Path) -> None:
    wav = write_multichannel_wav(tmp_path / "ten.wav")  # 5.1.4, unnamed in FFmpeg 5.1
    kept = load_array(wav.path, num_channels=10, sample_fmt="s16p")
    np.testing.assert_array_equal(kept, wav.source)
    window = load_array(wav.path, (0.125, 0.25), num_channels=10, sample_fmt="s16p")
    np.testing.assert_array_equal(window, wav.source[:, 1000:2000])
    # 12: 7.1, FLC+FRC, TFL+TFR. FL, FR, FC, LFE, SL, SR and TFL, TFR keep their
    # samples; the back and the left/right of centre stay silent, TBL and TBR go.
    mixed = load_array(wav.path, num_channels=12, sample_fmt="s16p")
    assert mixed.shape == (12, 3000)
    np.testing.assert_array_equal(mixed[[0, 1, 2, 3, 8, 9, 10, 11]], wav.source[:8])
    assert not mixed[4:8].any()


@pytest.mark.parametrize("num_channels", [0, 64, 1000])
def test_num_channels_out_of_range_is_refused_when_called(
    wav_audio: AudioReference, num_channels: int
) -> None:
    with pytest.raises(ValueError, match="num_channels"):
        spdl.io.load_audio(wav_audio.path, num_channels=num_channels)
    packets = spdl.io.demux_media("audio", wav_audio.path).result()
    with pytest.raises(ValueError, match="num_channels"):
        spdl.io.decode_packets(packets, num_channels=num_channels)


@pytest.mark.parametrize(
    ("start", "end", "first_sample", "num_samples"),
    [(0.25, 0.75, 4000, 8000), (0.0625, 0.5, 1000, 7000), (0.5, 5.0, 8000, 8000)],
)
def test_window_cuts_wav_to_the_exact_sample(
    wav_audio: AudioReference, start: float, end: float, first_sample: int, num_samples: int
) -> None:
    array = load_array(wav_audio.path, (start, end), sample_fmt="s16p")
    assert array.shape == (1, num_samples)
    np.testing.assert_array_equal(
        array, wav_audio.source[:, first_sample : first_sample + num_samples]
    )


def test_window_between_samples_is_cut_within_one_sample(wav_audio: AudioReference) -> None:
    start, end = 0.10003, 0.60007  # samples 1600.48 and 9601.12
    array = load_array(wav_audio.path, (start, end), sample_fmt="s16p")
    # Samples 1601..9601 lie inside [start, end); allow a rounding of one sample per end.
    assert abs(array.shape[1] - 8001) <= 1
    source = wav_audio.source[0]
    matches = [
        first
        for first in (1600, 1601, 1602)
        if np.array_equal(array[0], source[first : first + array.shape[1]])
    ]
    assert matches, "window does not start within one sample of 1601"


def test_window_edges_are_rounded_to_the_nearest_sample(tmp_path: pathlib.Path) -> None:
    # Each sample of the 96 kHz ramp holds its own index. An edge given in seconds kept
    # whole microseconds (FFmpeg's time parser drops the rest): one just past a half
    # sample (0.5 us past at 96 kHz) rounded down.
    rate = 96000
    ramp = np.arange(rate, dtype=np.int32)[None]
    path = tmp_path / "ramp.wav"
    encode_audio(path, ramp, rate=rate, codec="pcm_s32le", sample_fmt="s32", chunk=rate)
    half_sample_past = 0.5 / rate + 0.6e-6
    windows = [(0.0, 0.5 + half_sample_past), (0.25 + half_sample_past, 0.5)]
    rng = np.random.default_rng(1)
    for _ in range(50):
        start = float(rng.uniform(0, 0.5))
        windows.append((start, start + float(rng.uniform(0.01, 0.5))))
    for start, end in windows:
        got = load_array(path, (start, end), sample_fmt="s32p")
        first, last = round(start * rate), round(end * rate)
        np.testing.assert_array_equal(got, ramp[:, first:last], err_msg=f"{(start, end)}")


def test_numpy_scalars_are_taken_as_window_edges_and_options(wav_audio: AudioReference) -> None:
    # np.float32 / np.int64 edges, sample_rate and num_channels raised TypeError.
    expected = load_array(wav_audio.path, (0.25, 0.5), sample_rate=8000, num_channels=2)
    for window in [(np.float32(0.25), np.float32(0.5)), (np.float16(0.25), np.int64(1) / 2)]:
        got = load_array(
            wav_audio.path, window, sample_rate=np.int64(8000), num_channels=np.int32(2)
        )
        np.testing.assert_array_equal(got, expected)
    whole = load_array(wav_audio.path, (np.int64(0), np.int64(1)), num_threads=np.int64(1))
    np.testing.assert_array_equal(whole, load_array(wav_audio.path))
    windows = [(np.float32(0.25), np.float32(0.5)), (np.int64(0), np.float32(0.5))]
    futures = spdl.io.streaming_demux("audio", wav_audio.path, windows)
    for (start, end), future in zip(windows, futures, strict=True):
        packets = future.result()
        assert packets.timestamp == (float(start), float(end))
        frames = spdl.io.decode_packets(packets, sample_fmt="s16p").result()
        got = spdl.io.to_numpy(spdl.io.convert_frames(frames).result())
        np.testing.assert_array_equal(
            got, wav_audio.source[:, round(start * 16000) : round(end * 16000)]
        )


def test_window_cuts_aac_to_the_sample_and_matches_pyav(aac_audio: AudioReference) -> None:
    packets = demux("audio", aac_audio.path, (0.5, 1.0))
    assert packets.timestamp == pytest.approx((0.5, 1.0))
    array = spdl.io.to_numpy(convert(decode(packets)))
    assert array.shape == (2, 22050)
    np.testing.assert_allclose(array, aac_audio.decoded[:, 22050:44100], rtol=0, atol=AAC_TOLERANCE)


def test_audio_frames_are_consumed_by_conversion(wav_audio: AudioReference) -> None:
    frames = decode(demux("audio", wav_audio.path))
    pts = frames.pts
    convert(frames)
    assert frames.consumed and frames.pts == pts and len(pts) == len(frames) > 0
    with pytest.raises(ValueError):
        convert(frames)


def test_a_layout_the_system_ffmpeg_does_not_name_keeps_every_channel(
    tmp_path: pathlib.Path,
) -> None:
    # PyAV's FFmpeg names this layout "5.1.4"; FFmpeg 5.1 knows no such name, so the
    # packets also give it by its channels, and the filter graph takes it either way.
    wav = write_multichannel_wav(tmp_path / "ten.wav")
    packets = demux("audio", wav.path)
    assert packets.num_channels == 10
    assert packets.params.channel_layout == "5.1.4"
    assert packets.params.channel_names == "FL+FR+FC+LFE+SL+SR+TFL+TFR+TBL+TBR"
    np.testing.assert_array_equal(load_array(wav.path), wav.source / np.float32(32768))
    np.testing.assert_array_equal(load_array(wav.path, sample_fmt="s16"), wav.source.T)
    # Without positions (only a count), every channel is still decoded.
    params = packets.params
    params.channel_layout, params.channel_names = "10 channels", ""
    unpositioned = _native.AudioPackets(packets.src, params, packets.time_base)
    for address, size, pts, is_key, _ in _native.packet_table(packets):
        unpositioned.add(ctypes.string_at(address, size), pts, pts, 0, is_key)
    np.testing.assert_array_equal(
        spdl.io.to_numpy(convert(decode(unpositioned, sample_fmt="s16p"))), wav.source
    )


def test_a_layout_the_system_ffmpeg_does_not_name_downmixes_by_position(
    tmp_path: pathlib.Path,
) -> None:
    # One impulse per channel, in turn: the stereo downmix shows where each one went.
    layout, rate, span = av.AudioLayout("5.1.4"), 8000, 80
    pcm = np.zeros((span * layout.nb_channels, layout.nb_channels), np.int16)
    for channel in range(layout.nb_channels):
        pcm[channel * span : (channel + 1) * span, channel] = 16384
    path = tmp_path / "impulses.wav"
    encode_audio(
        path,
        pcm.T,
        rate=rate,
        codec="pcm_s16le",
        sample_fmt="s16",
        layout=layout.name,
        container_format="wav",
        chunk=pcm.shape[0],
    )

    stereo = load_array(path, num_channels=2)
    assert stereo.shape == (2, pcm.shape[0])
    reference = pyav_filter_audio(path, "aformat=sample_fmts=fltp:channel_layouts=stereo")
    # The 5.1 bed mixes the same in every FFmpeg (FL left, FR right, FC both at -3 dB...);
    # whether the four height channels are mixed in depends on the FFmpeg version.
    bed = slice(0, 6 * span)
    np.testing.assert_allclose(stereo[:, bed], reference[:, bed], rtol=0, atol=1e-6)
    assert stereo[0, span // 2] > 0.4 and stereo[1, span // 2] == 0  # FL
    assert stereo[1, span + span // 2] > 0.4 and stereo[0, span + span // 2] == 0  # FR


@pytest.fixture(scope="module")
def chirp_m4a(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """44.1 kHz stereo AAC in MP4, whose first packet (pts -1024) primes the decoder."""
    rate = 44100
    t = np.arange(rate) / rate
    chirp = (0.3 * np.sin(2 * np.pi * (200 + 2000 * t) * t)).astype(np.float32)
    path = tmp_path_factory.mktemp("early") / "chirp.m4a"
    encode_audio(path, np.stack([chirp, chirp]), rate=rate, codec="aac")
    return path


@pytest.mark.parametrize("processes", [0, 2])
def test_windows_starting_in_the_first_frames_keep_the_priming_packet(
    chirp_m4a: pathlib.Path, processes: int
) -> None:
    # The pre-roll seek of a window starting before 0.2 s would land on 0, which skips
    # the priming packet: the first frame then decodes without its overlap.
    whole = load_array(chirp_m4a)
    spdl.io.set_executor_sizes(demux_processes=processes)
    try:
        for start, end in [(0.001, 0.03), (1e-6, 0.03), (0.01, 0.03), (0.1, 0.2)]:
            first, last = round(start * 44100), round(end * 44100)
            got = load_array(chirp_m4a, (start, end))
            np.testing.assert_allclose(got, whole[:, first:last], atol=1e-4, err_msg=str(start))
        # Streaming windows that go back to the start read from before the first packet.
        windows = [(0.1, 0.2), (0.001, 0.03), (0.5, 0.6), (0.0, 0.02)]
        futures = spdl.io.streaming_demux("audio", chirp_m4a, windows)
        for (start, end), future in zip(windows, futures, strict=True):
            frames = spdl.io.decode_packets(future.result()).result()
            got = spdl.io.to_numpy(spdl.io.convert_frames(frames).result())
            first, last = round(start * 44100), round(end * 44100)
            np.testing.assert_allclose(got, whole[:, first:last], atol=1e-4, err_msg=str(start))
    finally:
        spdl.io._runtime.executor._sizes.pop("demux_processes", None)


def test_a_window_of_a_flac_too_short_to_seek_in(tmp_path: pathlib.Path) -> None:
    # FFmpeg's FLAC demuxer refuses a seek in a file under 4096 samples, even to 0.
    rate = 16000
    samples = (np.arange(1000) % 100 * 300).astype(np.int16)
    path = tmp_path / "short.flac"
    encode_audio(path, np.stack([samples, samples]), rate=rate, codec="flac", sample_fmt="s16")
    whole = load_array(path, sample_fmt="s16p")
    assert whole.shape == (2, 1000)
    got = load_array(path, (0.01, 0.03), sample_fmt="s16p")
    np.testing.assert_array_equal(got, whole[:, 160:480])


def load_streamed(path: pathlib.Path, windows: list[tuple[float, float]]) -> list[np.ndarray]:
    futures = spdl.io.streaming_demux("audio", path, windows)
    arrays = []
    for future in futures:
        frames = spdl.io.decode_packets(future.result(), sample_fmt="s16p").result()
        arrays.append(spdl.io.to_numpy(spdl.io.convert_frames(frames).result()))
    return arrays


def test_flac_windows_starting_in_the_last_frames_are_cut_from_the_whole_decode(
    tmp_path: pathlib.Path,
) -> None:
    # FFmpeg's FLAC demuxer refuses a seek into the last frames (here, to 1.79 s, the
    # pre-roll before 1.99 s): the window is read from further back instead.
    rate = 44100
    samples = (np.arange(2 * rate) % 441 * 70).astype(np.int16)
    path = tmp_path / "two_seconds.flac"
    encode_audio(path, samples[None], rate=rate, codec="flac", sample_fmt="s16", chunk=4096)
    whole = load_array(path, sample_fmt="s16p")
    np.testing.assert_array_equal(whole, samples[None])
    windows = [(1.0, 1.5), (1.99, 2.0), (0.0, 0.5), (1.9, 1.95), (1.95, 2.0)]
    for start, end in windows:
        got = load_array(path, (start, end), sample_fmt="s16p")
        np.testing.assert_array_equal(got, whole[:, round(start * rate) : round(end * rate)])
    # A streaming window whose seek is refused fails neither itself nor the later ones.
    for (start, end), got in zip(windows, load_streamed(path, windows), strict=True):
        np.testing.assert_array_equal(got, whole[:, round(start * rate) : round(end * rate)])


def test_windows_of_a_flac_that_refuses_every_seek_read_it_from_its_start(
    tmp_path: pathlib.Path,
) -> None:
    # A FLAC of one frame refuses every seek, even to 0 before it was read through,
    # and a refused seek leaves the demuxer at no packet: the demuxer goes back to the
    # first byte of the data.
    rate = 16000
    samples = (np.arange(6000) % 100 * 300).astype(np.int16)
    path = tmp_path / "one_frame.flac"
    encode_audio(
        path,
        samples[None],
        rate=rate,
        codec="flac",
        sample_fmt="s16",
        chunk=6000,
        options={"frame_size": "8192"},
    )
    with av.open(str(path)) as container:
        assert sum(1 for packet in container.demux(audio=0) if packet.size) == 1
    whole = load_array(path, sample_fmt="s16p")
    np.testing.assert_array_equal(whole, samples[None])
    windows = [(0.3, 0.35), (0.0, 0.02), (0.25, 0.3)]
    for start, end in windows:
        got = load_array(path, (start, end), sample_fmt="s16p")
        np.testing.assert_array_equal(got, whole[:, round(start * rate) : round(end * rate)])
    for (start, end), got in zip(windows, load_streamed(path, windows), strict=True):
        np.testing.assert_array_equal(got, whole[:, round(start * rate) : round(end * rate)])


@pytest.mark.parametrize("extra_bytes", [4, 2000])
def test_a_wav_cut_inside_a_sample_frame_loads_its_whole_sample_frames(
    tmp_path: pathlib.Path, extra_bytes: int
) -> None:
    # 3 channels of s16: 6-byte sample frames, 512 of them per packet. The cut leaves a
    # last packet of 2000 bytes (333 frames and 2 bytes), which FFmpeg 5.1's PCM decoder
    # refuses and PyAV's decodes without the partial frame, or one of 4 bytes (less
    # than a sample frame), which both refuse: it holds no sample.
    rate = 8000
    source = (np.arange(3 * 4000).reshape(3, 4000) % 1000 * 30).astype(np.int16)
    full = tmp_path / "full.wav"
    encode_audio(
        full, source, rate=rate, codec="pcm_s16le", sample_fmt="s16", layout="2.1", chunk=4000
    )
    with av.open(str(full)) as container:
        first = next(container.demux(audio=0))
        assert first.size == 512 * 6
        data_start = first.pos
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: data_start + 7 * 512 * 6 + extra_bytes])
    kept = 7 * 512 + extra_bytes // 6
    if extra_bytes >= 6:
        with av.open(str(cut)) as container:
            frames = [frame.to_ndarray().reshape(-1, 3) for frame in container.decode(audio=0)]
        np.testing.assert_array_equal(np.concatenate(frames), source[:, :kept].T)

    np.testing.assert_array_equal(load_array(cut, sample_fmt="s16p"), source[:, :kept])
    np.testing.assert_array_equal(load_array(cut, sample_fmt="s16"), source[:, :kept].T)
    window = load_array(cut, (0.25, float("inf")), sample_fmt="s16p")
    np.testing.assert_array_equal(window, source[:, 2000:kept])
    decoded = decode(demux("audio", cut), sample_fmt="s16p")
    np.testing.assert_array_equal(spdl.io.to_numpy(convert(decoded)), source[:, :kept])


def test_vorbis_in_webm_keeps_its_first_samples(tmp_path: pathlib.Path) -> None:
    # WebM puts the Vorbis delay (CodecDelay) as a skip on the first packet, which only
    # primes the decoder: FFmpeg 5.1 skipped 1024 samples of real audio after it.
    # Ogg carries the same audio without that skip.
    t = np.arange(44100) / 44100
    chirp = (0.5 * np.sin(2 * np.pi * (100 + 1000 * t) * t)).astype(np.float32)
    samples = np.stack([chirp, 0.8 * chirp])
    options = {"strict": "experimental"}
    for name in ("a.ogg", "a.webm"):
        encode_audio(tmp_path / name, samples, rate=44100, codec="vorbis", options=options)
    ogg = spdl.io.to_numpy(spdl.io.load_audio(tmp_path / "a.ogg"))
    webm = spdl.io.to_numpy(spdl.io.load_audio(tmp_path / "a.webm"))
    assert webm.shape == ogg.shape and ogg.shape[1] >= 44100
    np.testing.assert_allclose(webm, ogg, atol=1e-6)
    start = spdl.io.to_numpy(spdl.io.load_audio(tmp_path / "a.webm", timestamp=(0, 0.5)))
    np.testing.assert_allclose(start[:, :22000], ogg[:, :22000], atol=1e-6)


def test_mp3_windows_at_8_khz_decode_their_first_samples(tmp_path: pathlib.Path) -> None:
    # MPEG-2.5 layer III frames are 576 samples (72 ms at 8 kHz), and the bit reservoir
    # reaches several of them back: a 0.2 s pre-roll decoded the first 165 ms wrong.
    rate = 8000
    t = np.arange(3 * rate) / rate
    chirp = (0.5 * np.sin(2 * np.pi * (100 + 500 * t) * t)).astype(np.float32)
    path = tmp_path / "speech.mp3"
    encode_audio(path, chirp[None], rate=rate, codec="libmp3lame", chunk=576)
    whole = spdl.io.to_numpy(spdl.io.load_audio(path))[0]
    with av.open(str(path)) as container:  # the encoder delay puts sample 0 later
        first = round(next(container.decode(audio=0)).time * rate)
    assert first > 0
    for start in (0.7, 1.3, 1.9):
        window = spdl.io.to_numpy(spdl.io.load_audio(path, timestamp=(start, start + 0.5)))[0]
        at = round(start * rate) - first
        assert len(window) == round(0.5 * rate)
        np.testing.assert_allclose(window, whole[at : at + len(window)], atol=1e-5)


def test_streamed_windows_of_ogg_vorbis_equal_single_loads(tmp_path: pathlib.Path) -> None:
    # FFmpeg's Ogg demuxer timed packets 0.67 s late after a second seek: the second
    # window came back with 34926 samples instead of 4462.
    rate = 44100
    t = np.arange(3 * rate) / rate
    chirp = (0.5 * np.sin(2 * np.pi * (100 + 1000 * t) * t)).astype(np.float32)
    path = tmp_path / "a.ogg"
    options = {"strict": "experimental"}
    encode_audio(path, np.stack([chirp, chirp]), rate=rate, codec="vorbis", options=options)
    windows = [(0.3, 0.6), (2.5, 2.9), (2.9, float("inf"))]
    expected = [spdl.io.to_numpy(spdl.io.load_audio(path, timestamp=w)) for w in windows]
    with open(path, "rb") as file:
        for source in (path, path.read_bytes(), file):
            futures = spdl.io.streaming_demux("audio", source, windows)
            for future, want in zip(futures, expected, strict=True):
                frames = spdl.io.decode_packets(future.result()).result()
                got = spdl.io.to_numpy(spdl.io.convert_frames(frames).result())
                assert got.shape == want.shape
                np.testing.assert_allclose(got, want, atol=1e-6)


def test_a_float_downmix_adds_channels_and_the_documented_filter_scales_it(
    tmp_path: pathlib.Path,
) -> None:
    # docs/io.md: FFmpeg's mix (as PyAV's) is not scaled back for float outputs.
    t = np.arange(8000) / 8000
    tone = (0.9 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / "six.wav"
    encode_audio(path, np.stack([tone] * 6), rate=8000, codec="pcm_f32le", layout="5.1")
    mixed = spdl.io.to_numpy(spdl.io.load_audio(path, num_channels=1))
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=8000)
        pyav = np.concatenate(
            [
                f.to_ndarray()
                for frame in container.decode(audio=0)
                for f in resampler.resample(frame)
            ],
            axis=1,
        )
    np.testing.assert_allclose(mixed[:, : pyav.shape[1]], pyav, atol=1e-6)
    assert np.abs(mixed).max() > 3.0
    scaled = spdl.io.load_audio(
        path, filter_desc="aresample=ochl=mono:rematrix_maxval=1", sample_fmt="fltp"
    )
    np.testing.assert_allclose(spdl.io.to_numpy(scaled), tone[None], atol=1e-5)
