"""NVDEC on a GPU: shapes, colours against the CPU path, crop, resize, windows,
decoder reuse, bad bitstreams and the zero-copy views. Skipped without a GPU
(see conftest.py)."""

from __future__ import annotations

import pathlib
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from gpu_media import HEIGHT, NUM_FRAMES, RATE, WIDTH
from media import encode_video
from reference_decode import nv12_from_yuv420p

import spdl.io
from spdl import _native
from spdl.io._core.nvdec import NVDEC_CODECS

TIMEOUT_S = 120


def gpu_decode(path: pathlib.Path, timestamp=None, executor=None, **options) -> np.ndarray:
    packets = spdl.io.demux_media("video", path, timestamp=timestamp).result(TIMEOUT_S)
    frames = spdl.io.decode_packets_nvdec(packets, 0, executor=executor, **options)
    buffer = spdl.io.convert_frames(frames.result(TIMEOUT_S)).result(TIMEOUT_S)
    return spdl.io.to_cupy(buffer).get()


def cpu_decode(path: pathlib.Path, timestamp=None, **options) -> np.ndarray:
    return spdl.io.to_numpy(spdl.io.load_video(path, timestamp=timestamp, **options))


def cpu_nv12(path: pathlib.Path, timestamp=None) -> np.ndarray:
    """The CPU decoder's own 4:2:0 samples, laid out as NV12."""
    yuv = cpu_decode(path, timestamp, pix_fmt=None)
    height = yuv.shape[2] * 2 // 3
    return np.stack([nv12_from_yuv420p(f[0], height, yuv.shape[3]) for f in yuv])[:, None]


def interior_max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int))[..., 2:-2, 2:-2].max())


def test_rgb_rgba_and_nv12_shapes(gpu_media: dict) -> None:
    path = gpu_media["h264"]
    assert gpu_decode(path).shape == (NUM_FRAMES, 3, HEIGHT, WIDTH)
    rgba = gpu_decode(path, pix_fmt="rgba")
    assert rgba.shape == (NUM_FRAMES, 4, HEIGHT, WIDTH)
    assert (rgba[:, 3] == 255).all()
    assert gpu_decode(path, pix_fmt=None).shape == (NUM_FRAMES, 1, HEIGHT * 3 // 2, WIDTH)


def nvdec_decodes(codec: str) -> bool:
    """Whether GPU 0's NVDEC decodes 8-bit 4:2:0 ``codec`` (an H100 has no AV1 decoder)."""
    import PyNvVideoCodec as nvc

    member = getattr(nvc.cudaVideoCodec, NVDEC_CODECS[codec])
    return bool(nvc.GetDecoderCaps(gpuid=0, codec=member)["supported"])


def require_clip(gpu_media: dict, clip: str) -> pathlib.Path:
    if clip not in gpu_media:
        pytest.skip(f"PyAV has no encoder for {clip}")
    if not nvdec_decodes(clip.split("_")[0]):
        pytest.skip(f"GPU 0's NVDEC does not decode {clip} (see the test of that error)")
    return gpu_media[clip]


@pytest.mark.parametrize("codec", ["h264", "hevc", "vp9", "av1"])
def test_nv12_is_bit_exact_with_the_cpu_decoder(gpu_media: dict, codec: str) -> None:
    require_clip(gpu_media, codec)
    path = gpu_media["h264_gradient"] if codec == "h264" else gpu_media[codec]
    np.testing.assert_array_equal(gpu_decode(path, pix_fmt=None), cpu_nv12(path))


@pytest.mark.parametrize("clip", ["h264", "h264_bt709_full", "hevc", "vp9", "av1"])
def test_solid_colours_are_within_3_of_the_cpu_path(gpu_media: dict, clip: str) -> None:
    require_clip(gpu_media, clip)
    gpu = gpu_decode(gpu_media[clip])
    cpu = cpu_decode(gpu_media[clip]).transpose(0, 3, 1, 2)
    assert gpu.shape == cpu.shape
    assert interior_max_diff(gpu, cpu) <= 3


def test_crop_equals_a_slice_of_the_uncropped_output(gpu_media: dict) -> None:
    path = gpu_media["h264_gradient"]
    full = gpu_decode(path)
    left, top, right, bottom = 10, 6, 22, 14
    cropped = gpu_decode(path, crop_left=left, crop_top=top, crop_right=right, crop_bottom=bottom)
    np.testing.assert_array_equal(cropped, full[:, :, top : HEIGHT - bottom, left : WIDTH - right])
    nv12 = gpu_decode(path, pix_fmt=None, crop_left=left, crop_top=top, crop_right=right,
                      crop_bottom=bottom)  # fmt: skip
    full_nv12 = gpu_decode(path, pix_fmt=None)[:, 0]
    h, w = HEIGHT - top - bottom, WIDTH - left - right
    np.testing.assert_array_equal(nv12[:, 0, :h], full_nv12[:, top : top + h, left : left + w])
    chroma = full_nv12[:, HEIGHT + top // 2 : HEIGHT + (top + h) // 2, left : left + w]
    np.testing.assert_array_equal(nv12[:, 0, h:], chroma)


def test_resize_matches_the_cpu_resize(gpu_media: dict) -> None:
    path = gpu_media["h264"]
    gpu = gpu_decode(path, width=50, height=30)
    assert gpu.shape == (NUM_FRAMES, 3, 30, 50)
    cpu = cpu_decode(path, width=50, height=30).transpose(0, 3, 1, 2)
    assert interior_max_diff(gpu, cpu) <= 3
    cropped = gpu_decode(path, width=40, height=40, crop_left=16, crop_right=16)
    assert cropped.shape == (NUM_FRAMES, 3, 40, 40)


@pytest.mark.parametrize("window", [(0.0, 0.5), (0.4, 1.3), (1.0, 1.05), (1.5, 5.0)])
def test_window_gives_exactly_the_cpu_frames(gpu_media: dict, window: tuple) -> None:
    path = gpu_media["h264_gradient"]
    gpu = gpu_decode(path, timestamp=window, pix_fmt=None)
    cpu = cpu_nv12(path, timestamp=window)
    expected = sum(1 for i in range(NUM_FRAMES) if window[0] <= i / RATE < window[1])
    assert len(gpu) == len(cpu) == expected
    np.testing.assert_array_equal(gpu, cpu)


def test_frames_report_their_times(gpu_media: dict) -> None:
    packets = spdl.io.demux_media("video", gpu_media["h264"], timestamp=(0.5, 1.0)).result()
    frames = spdl.io.decode_packets_nvdec(packets, 0).result(TIMEOUT_S)
    assert frames.pts == pytest.approx([i / RATE for i in range(12, 24)])
    assert frames.device_index == 0 and frames.num_frames == 12


def test_decoder_is_reused_per_thread_and_recreated_on_size_change(gpu_media: dict) -> None:
    from spdl.io._core import nvdec as _nvdec

    with ThreadPoolExecutor(1) as pool:

        def decoders() -> dict:
            return {key: id(value[1]) for key, value in _nvdec._state.decoders.items()}

        first = gpu_decode(gpu_media["h264_gradient"], executor=pool)
        before = pool.submit(decoders).result()
        second = gpu_decode(gpu_media["h264_gradient"], executor=pool)
        assert pool.submit(decoders).result() == before  # same decoder object
        np.testing.assert_array_equal(first, second)

        small = gpu_decode(gpu_media["h264_small"], executor=pool)
        assert small.shape == (NUM_FRAMES, 3, 48, 64)
        assert pool.submit(decoders).result() != before  # re-created for the new size
        again = gpu_decode(gpu_media["h264_gradient"], executor=pool)
        np.testing.assert_array_equal(first, again)


def test_concurrent_decodes_on_several_threads_agree(gpu_media: dict) -> None:
    path = gpu_media["h264_gradient"]
    reference = gpu_decode(path)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: gpu_decode(path), range(8)))
    for result in results:
        np.testing.assert_array_equal(result, reference)


def test_a_stream_outside_nvdec_limits_names_the_limit(gpu_media: dict) -> None:
    """NVDEC's own answer is an opaque cuvidCreateDecoder error; the message names the limit."""
    if "hevc_too_small" not in gpu_media:
        pytest.skip("PyAV has no encoder for hevc")
    path = gpu_media["hevc_too_small"]
    packets = spdl.io.demux_media("video", path).result()
    with pytest.raises(spdl.io.AsyncIOFailure) as info:
        spdl.io.decode_packets_nvdec(packets, 0).result(TIMEOUT_S)
    message = str(info.value)
    assert path.name in message
    limit = rf"HEVC \(8-bit 4:2:0\) from \d+x\d+ to \d+x\d+, and the stream is {WIDTH}x{HEIGHT}"
    assert re.search(limit, message), message
    # The thread decodes a stream within the limits afterwards.
    assert gpu_decode(gpu_media["hevc"]).shape[0] == NUM_FRAMES


def test_a_codec_the_gpu_cannot_decode_is_named(gpu_media: dict) -> None:
    lacking = [c for c in ("hevc", "vp9", "av1") if c in gpu_media and not nvdec_decodes(c)]
    if not lacking:
        pytest.skip("GPU 0's NVDEC decodes every codec the tests encode")
    for codec in lacking:
        path = gpu_media[codec]
        packets = spdl.io.demux_media("video", path).result()
        with pytest.raises(spdl.io.AsyncIOFailure) as info:
            spdl.io.decode_packets_nvdec(packets, 0).result(TIMEOUT_S)
        message = str(info.value)
        assert path.name in message
        assert f"does not decode {NVDEC_CODECS[codec]} (8-bit 4:2:0)" in message, message


def test_bad_bitstream_raises_instead_of_crashing(gpu_media: dict) -> None:
    good = spdl.io.demux_media("video", gpu_media["h264"]).result()
    bad = _native.VideoPackets("garbage.h264", good.params, good.time_base)
    rng = np.random.default_rng(1)
    for index in range(20):
        bad.add(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), index, index, 1, index == 0)
    with pytest.raises(spdl.io.AsyncIOFailure, match="garbage.h264"):
        spdl.io.decode_packets_nvdec(bad, 0).result(TIMEOUT_S)
    # The thread's decoder still works afterwards.
    assert gpu_decode(gpu_media["h264"]).shape[0] == NUM_FRAMES


def test_zero_copy_views(gpu_media: dict) -> None:
    import cupy
    import torch

    packets = spdl.io.demux_media("video", gpu_media["h264"]).result()
    frames = spdl.io.decode_packets_nvdec(packets, 0).result(TIMEOUT_S)
    buffer = spdl.io.convert_frames(frames).result(TIMEOUT_S)
    assert isinstance(buffer, spdl.io.CUDABuffer)
    interface = buffer.__cuda_array_interface__
    assert interface["version"] == 3 and interface["stream"] is not None
    pointer = interface["data"][0]
    tensor = spdl.io.to_torch(buffer)
    assert tensor.is_cuda and tensor.device == torch.device("cuda", 0)
    assert tensor.data_ptr() == pointer and tuple(tensor.shape) == buffer.shape
    array = spdl.io.to_cupy(buffer)
    assert isinstance(array, cupy.ndarray) and array.data.ptr == pointer
    del buffer, frames
    assert int(tensor.float().mean()) == int(array.astype(cupy.float32).mean())  # still alive
    numba = pytest.importorskip("numba.cuda")
    device_array = spdl.io.to_numba(spdl.io.convert_frames(
        spdl.io.decode_packets_nvdec(packets, 0).result(TIMEOUT_S)).result())  # fmt: skip
    assert isinstance(device_array, numba.cudadrv.devicearray.DeviceNDArray)


def test_convert_frames_cpu_refuses_gpu_frames(gpu_media: dict) -> None:
    packets = spdl.io.demux_media("video", gpu_media["h264"]).result()
    frames = spdl.io.decode_packets_nvdec(packets, 0).result(TIMEOUT_S)
    with pytest.raises(TypeError):
        spdl.io.convert_frames_cpu(frames)


def test_image_batch(gpu_media: dict) -> None:
    frames = []
    for index in range(3):
        packets = spdl.io.demux_media("image", gpu_media[f"jpeg{index}"]).result()
        try:
            frames.append(spdl.io.decode_packets_nvdec(packets, 0).result(TIMEOUT_S))
        except spdl.io.AsyncIOFailure as error:
            if "JPEG" in str(error) or "not supported" in str(error).lower():
                pytest.skip(f"this GPU's NVDEC does not decode JPEG: {error}")
            raise
    batch = spdl.io.to_cupy(spdl.io.convert_frames(frames).result()).get()
    assert batch.shape == (3, 3, HEIGHT, WIDTH)
    cpu = np.stack([spdl.io.to_numpy(spdl.io.load_image(gpu_media[f"jpeg{i}"])) for i in range(3)])
    assert interior_max_diff(batch, cpu.transpose(0, 3, 1, 2)) <= 3


@pytest.mark.parametrize(("rotation", "hflip"), [(90, False), (180, False), (270, True)])
def test_display_matrix_turns_frames_as_the_cpu_decoder(
    tmp_path: pathlib.Path, rotation: int, hflip: bool
) -> None:
    """A phone-style clip (display matrix in the track header) comes out upright:
    NV12 bit-exact with the CPU decoder's upright NV12, RGB the shown size, and
    ``apply_display_matrix=False`` keeps the stored size."""
    path = tmp_path / "turned.mp4"
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    encode_video(
        path,
        (
            np.stack([x * 255 // WIDTH, y * 255 // HEIGHT, (x + y + index) % 256], -1).astype(
                np.uint8
            )
            for index in range(NUM_FRAMES)
        ),
        width=WIDTH,
        height=HEIGHT,
        frame_rate=RATE,
        rotation=rotation,
        hflip=hflip,
    )
    expected = cpu_decode(path, pix_fmt="nv12")
    np.testing.assert_array_equal(gpu_decode(path, pix_fmt=None), expected)
    swapped = rotation in (90, 270)
    shown = (HEIGHT, WIDTH) if not swapped else (WIDTH, HEIGHT)
    assert gpu_decode(path).shape == (NUM_FRAMES, 3, *shown)
    kept = gpu_decode(path, apply_display_matrix=False)
    assert kept.shape == (NUM_FRAMES, 3, HEIGHT, WIDTH)
