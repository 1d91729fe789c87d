"""Property tests: random valid parameters give exactly the predicted shape and
dtype (or a ValueError where the request cannot be laid out), and windows never
return frames outside ``[start, end)``."""

from __future__ import annotations

import pathlib
from fractions import Fraction

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from media import encode_audio, encode_video

import spdl.io
from spdl.io._core.decode import decode
from spdl.io._core.demux import demux

NUM_FRAMES, RATE, WIDTH, HEIGHT = 45, 30, 64, 48
SAMPLE_RATE, NUM_SAMPLES = 8000, 12000
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # CI must not depend on a random draw
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# pix_fmt -> (shape of one image given (height, width), dtype, chroma-subsampled)
LAYOUTS = {
    "rgb24": (lambda h, w: (h, w, 3), np.uint8, False),
    "bgr24": (lambda h, w: (h, w, 3), np.uint8, False),
    "rgba": (lambda h, w: (h, w, 4), np.uint8, False),
    "gray": (lambda h, w: (1, h, w), np.uint8, False),
    "yuv444p": (lambda h, w: (3, h, w), np.uint8, False),
    "gbrp": (lambda h, w: (3, h, w), np.uint8, False),
    "yuv420p": (lambda h, w: (1, h + h // 2, w), np.uint8, True),
    "nv12": (lambda h, w: (1, h + h // 2, w), np.uint8, True),
}
SAMPLE_FORMATS = {
    "fltp": (np.float32, True),
    "flt": (np.float32, False),
    "s16": (np.int16, False),
    "s16p": (np.int16, True),
    "s32": (np.int32, False),
    "dbl": (np.float64, False),
}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    root = tmp_path_factory.mktemp("properties")
    video = root / "video.mp4"
    encode_video(
        video,
        (np.full((HEIGHT, WIDTH, 3), (i * 5) % 256, np.uint8) for i in range(NUM_FRAMES)),
        width=WIDTH,
        height=HEIGHT,
        frame_rate=RATE,
        options={"g": "12", "bf": "2"},
    )
    audio = root / "audio.wav"
    samples = (np.arange(NUM_SAMPLES * 2).reshape(2, -1) % 1000).astype(np.int16)
    encode_audio(
        audio, samples, rate=SAMPLE_RATE, codec="pcm_s16le", sample_fmt="s16", chunk=NUM_SAMPLES
    )
    with av.open(str(video)) as container:
        frame_times = [float(f.time) for f in container.decode(video=0)]
    return {"video": video, "audio": audio, "times": frame_times}  # type: ignore[dict-item]


def _even_rescale(value: int, numerator: int, denominator: int) -> int:
    """A missing side keeps the aspect ratio, rounded (half away from zero) to even."""
    return int(Fraction(value * numerator, denominator * 2) + Fraction(1, 2)) * 2


sizes = st.one_of(st.none(), st.integers(min_value=2, max_value=96))
windows = st.tuples(
    st.floats(min_value=0, max_value=1.8, allow_nan=False),
    st.floats(min_value=0.05, max_value=1.2, allow_nan=False),
).map(lambda t: (round(t[0], 3), round(t[0] + t[1], 3)))


@SETTINGS
@given(
    width=sizes,
    height=sizes,
    pix_fmt=st.sampled_from(sorted(LAYOUTS)),
    window=st.one_of(st.none(), windows),
    num_frames=st.one_of(st.none(), st.integers(min_value=1, max_value=60)),
)
def test_video_shape_is_predicted_or_value_error(
    media: dict, width: int | None, height: int | None, pix_fmt: str, window, num_frames
) -> None:
    times = media["times"]
    inside = [t for t in times if window is None or window[0] <= t < window[1]]
    out_w = width or WIDTH
    out_h = height or (HEIGHT if width is None else _even_rescale(width, HEIGHT, WIDTH))
    if width is None and height is not None:
        out_w = _even_rescale(height, WIDTH, HEIGHT)
    shape_of, dtype, subsampled = LAYOUTS[pix_fmt]
    options = {"width": width, "height": height, "pix_fmt": pix_fmt, "num_frames": num_frames}
    if not inside:
        with pytest.raises(spdl.io.MediaError, match="no frame"):
            spdl.io.load_video(media["video"], window, **options)
        return
    if subsampled and (out_w % 2 or out_h % 2):
        with pytest.raises(ValueError, match="even"):
            spdl.io.load_video(media["video"], window, **options)
        return
    array = spdl.io.to_numpy(spdl.io.load_video(media["video"], window, **options))
    expected_n = num_frames if num_frames is not None else len(inside)
    assert array.shape == (expected_n, *shape_of(out_h, out_w))
    assert array.dtype == dtype


@SETTINGS
@given(window=windows, frame_rate=st.one_of(st.none(), st.integers(min_value=5, max_value=60)))
def test_window_never_yields_frames_outside_it(media: dict, window, frame_rate) -> None:
    times = media["times"]
    inside = [t for t in times if window[0] <= t < window[1]]
    packets = demux("video", media["video"], window)
    if not inside:
        with pytest.raises(spdl.io.MediaError):
            decode(packets, frame_rate=frame_rate)
        return
    if frame_rate is None:
        expected = len(inside)
    else:
        # fps ticks k/rate on a timeline starting at the window start, from the first
        # frame's tick to the end of the last frame (rounded), cut at the window end.
        def tick(t: float) -> int:
            return int((Fraction(t) - Fraction(window[0])) * frame_rate + Fraction(1, 2))

        last_end = inside[-1] + 1 / RATE
        ticks = range(tick(inside[0]), tick(last_end))
        expected = sum(1 for k in ticks if window[0] + k / frame_rate < window[1])
    try:
        frames = decode(packets, frame_rate=frame_rate)
    except spdl.io.MediaError as error:
        assert "no frame" in str(error)
        assert frame_rate is not None and expected <= 1  # a rounding tie at most
        return
    epsilon = 1e-6
    assert all(window[0] - epsilon <= t < window[1] for t in frames.pts), frames.pts
    if frame_rate is None:
        assert frames.pts == pytest.approx(inside)
    else:
        # One frame per output tick, ticks spaced exactly 1/rate from the window start.
        assert abs(len(frames) - expected) <= 1, (len(frames), expected)
        offsets = [(t - window[0]) * frame_rate for t in frames.pts]
        assert all(abs(o - round(o)) < 1e-3 for o in offsets), offsets


@SETTINGS
@given(
    sample_fmt=st.sampled_from(sorted(SAMPLE_FORMATS)),
    sample_rate=st.one_of(st.none(), st.sampled_from([4000, 8000, 16000, 22050])),
    num_channels=st.one_of(st.none(), st.sampled_from([1, 2])),
    window=st.one_of(st.none(), windows),
)
def test_audio_shape_is_predicted(
    media: dict, sample_fmt: str, sample_rate, num_channels, window
) -> None:
    dtype, planar = SAMPLE_FORMATS[sample_fmt]
    rate = sample_rate or SAMPLE_RATE
    channels = num_channels or 2
    duration = NUM_SAMPLES / SAMPLE_RATE
    if window is not None and window[0] >= duration:
        with pytest.raises(spdl.io.MediaError):
            spdl.io.load_audio(media["audio"], window, sample_fmt=sample_fmt)
        return
    array = spdl.io.to_numpy(
        spdl.io.load_audio(
            media["audio"],
            window,
            sample_fmt=sample_fmt,
            sample_rate=sample_rate,
            num_channels=num_channels,
        )
    )
    start, end = (0.0, duration) if window is None else (window[0], min(window[1], duration))
    expected = (end - start) * rate
    num_samples = array.shape[1] if planar else array.shape[0]
    assert array.dtype == dtype
    assert (array.shape[0] if planar else array.shape[1]) == channels
    # Resampling may shift the cut by a sample or two at each end.
    tolerance = 1 if sample_rate in (None, SAMPLE_RATE) else 3
    assert abs(num_samples - expected) <= tolerance, (num_samples, expected)
