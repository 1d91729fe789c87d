"""The decode plan: one immutable value carries a decode into the native core, which
alone decides whether FFmpeg's filters or its own writer give the output its size
and format."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from media import AudioReference, ImageReference, VideoReference

import spdl.io
from spdl import _native
from spdl.io._core.decode import make_plan, writes_windows_natively


def _demux(media_type: str, path: object) -> object:
    return spdl.io.demux_media(media_type, path).result()


def _frames(packets: object, plan: _native.DecodePlan) -> np.ndarray:
    return np.asarray(_native.convert_frames(_native.decode_packets(packets, plan)))


def test_a_plan_takes_keywords_only_and_cannot_be_changed() -> None:
    plan = _native.DecodePlan(width=64, height=48, pix_fmt="bgr24", decoder_options={"a": "b"})
    assert (plan.width, plan.height, plan.pix_fmt, plan.scale_algo) == (64, 48, "bgr24", "bilinear")
    assert plan.decoder_options == {"a": "b"}
    assert plan.decoder is None and plan.cancel is None
    with pytest.raises(AttributeError):
        plan.width = 32
    with pytest.raises(TypeError):
        _native.DecodePlan("trim=start=0")


def test_a_plan_keeps_its_cancel_token_alive() -> None:
    token = _native.CancelToken()
    plan = _native.DecodePlan(cancel=token)
    del token
    gc.collect()
    plan.cancel.cancel()
    assert plan.cancel.cancelled


def test_the_cancel_token_of_a_plan_stops_its_decode(h264_video: VideoReference) -> None:
    packets = _demux("video", h264_video.path)
    token = _native.CancelToken()
    token.cancel()
    with pytest.raises(spdl.io.MediaError, match="cancelled"):
        _native.decode_to_buffer(packets, _native.DecodePlan(cancel=token))
    with pytest.raises(spdl.io.MediaError, match="cancelled"):
        _native.decode_packets(packets, _native.DecodePlan(cancel=token))


def test_a_custom_filter_replaces_the_generated_ones_but_the_window_trim_stays() -> None:
    options = {"filter_desc": "hflip", "frame_rate": 10, "num_frames": 5, "width": 32}
    plan = make_plan("video", (1.0, 2.0), options)
    assert plan.filter_desc == "hflip"
    assert plan.pre_filters.startswith("trim=start=1") and "fps" not in plan.pre_filters
    assert plan.post_filters == ""
    timed = make_plan("video", None, {"frame_rate": 10, "num_frames": 5})
    assert timed.pre_filters == "fps=10/1"
    assert timed.post_filters == "tpad=stop=5:stop_mode=clone,trim=end_frame=5"


@pytest.mark.parametrize(
    ("options", "native"),
    [
        ({}, True),
        ({"pix_fmt": "bgr24", "width": 32, "height": 24}, True),
        ({"pix_fmt": "rgba"}, True),
        ({"pix_fmt": None}, False),
        ({"pix_fmt": "yuv444p"}, False),
        ({"filter_desc": "hflip"}, False),
        ({"frame_rate": 10}, False),
        ({"num_frames": 5}, False),
    ],
)
def test_the_native_core_decides_which_windows_it_writes_itself(
    options: dict[str, object], native: bool
) -> None:
    assert writes_windows_natively(**options) is native
    assert make_plan("video", None, options).decodes_windows() is native


def test_video_frames_are_written_as_the_loaders_write_them(h264_video: VideoReference) -> None:
    packets = _demux("video", h264_video.path)
    plan = _native.DecodePlan(width=48, height=32, pix_fmt="rgb24")
    as_frames = _frames(packets, plan)
    as_buffer = np.asarray(_native.decode_to_buffer(packets, plan))
    assert as_frames.shape == (len(h264_video.times), 32, 48, 3)
    np.testing.assert_array_equal(as_frames, as_buffer)
    # The native writer's bilinear shrink and exact YUV -> RGB stay close to swscale's.
    filtered = _frames(
        packets, _native.DecodePlan(filter_desc="scale=48:32:flags=bilinear,format=pix_fmts=rgb24")
    )
    difference = np.abs(as_frames.astype(np.int16) - filtered.astype(np.int16))
    assert difference.mean() < 2.0


def test_a_format_the_writer_lacks_is_made_by_ffmpegs_filters(
    h264_video: VideoReference,
) -> None:
    packets = _demux("video", h264_video.path)
    planned = np.asarray(
        _native.decode_to_buffer(packets, _native.DecodePlan(width=48, height=32, pix_fmt="gray"))
    )
    filtered = np.asarray(
        _native.decode_to_buffer(
            packets, _native.DecodePlan(filter_desc="scale=48:32:flags=bilinear,format=gray")
        )
    )
    assert planned.shape[1:] == (1, 32, 48)
    np.testing.assert_array_equal(planned, filtered)


def test_images_are_written_natively_whether_decoded_to_frames_or_to_a_buffer(
    image_files: dict[str, ImageReference],
) -> None:
    packets = _demux("image", image_files["jpeg"].path)
    plan = _native.DecodePlan(width=40, height=30, pix_fmt="rgb24")
    as_frames = _frames(packets, plan)
    as_buffer = np.asarray(_native.decode_to_buffer(packets, plan))
    assert as_buffer.shape == (30, 40, 3)
    np.testing.assert_array_equal(as_frames, as_buffer)


def test_audio_output_options_become_aresample_and_aformat(aac_audio: AudioReference) -> None:
    packets = _demux("audio", aac_audio.path)
    planned = np.asarray(
        _native.decode_to_buffer(
            packets, make_plan("audio", None, {"sample_rate": 8000, "num_channels": 1})
        )
    )
    filtered = np.asarray(
        _native.decode_to_buffer(
            packets,
            _native.DecodePlan(
                filter_desc="aresample=8000,aformat=sample_fmts=fltp:channel_layouts=mono"
            ),
        )
    )
    assert planned.shape[0] == 1
    np.testing.assert_array_equal(planned, filtered)


def test_an_audio_stream_fed_in_chunks_takes_the_same_plan(aac_audio: AudioReference) -> None:
    packets = _demux("audio", aac_audio.path)
    plan = make_plan("audio", None, {"sample_fmt": "s16"})
    stream = _native.AudioDecodeStream(packets, plan)
    stream.feed(packets)
    np.testing.assert_array_equal(
        np.asarray(stream.finish()), np.asarray(_native.decode_to_buffer(packets, plan))
    )


def test_a_custom_filter_is_followed_by_the_size_and_format_asked_for(
    h264_video: VideoReference, image_files: dict[str, ImageReference]
) -> None:
    # They were dropped: an image asked for 32x20 gray came back at its size, in RGB.
    png = image_files["png"].path
    sized = {"width": 32, "height": 20, "pix_fmt": "gray"}
    flipped = spdl.io.to_numpy(spdl.io.load_image(png, filter_desc="hflip", **sized))
    plain = spdl.io.to_numpy(spdl.io.load_image(png, **sized))
    assert flipped.shape == plain.shape
    assert np.abs(flipped[..., ::-1].astype(int) - plain).max() <= 2  # (1, H, W)
    batch = spdl.io.batch_load_image([png], 32, 20, decode_options={"filter_desc": "hflip"})
    assert spdl.io.to_numpy(batch).shape == (1, 20, 32, 3)
    video = spdl.io.load_video(
        h264_video.path, filter_desc="vflip", width=48, height=32, pix_fmt="rgb24"
    )
    upright = spdl.io.to_numpy(spdl.io.load_video(h264_video.path, width=48, height=32))
    assert spdl.io.to_numpy(video).shape == upright.shape == (90, 32, 48, 3)
    # (the filter graph converts, the plain load the native writer: a level or two apart)
    assert np.abs(spdl.io.to_numpy(video)[:, ::-1].astype(int) - upright).mean() < 4
    # Without them, the filter's own output is kept (no default rgb24 after it).
    assert spdl.io.load_video(h264_video.path, filter_desc="hflip").shape == (90, 1, 96, 96)
