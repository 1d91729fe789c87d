"""The CPU side of the NVDEC path, which runs without a GPU.

- Annex B conversion in the native core: H.264 / HEVC packets from MP4 come out
  with start codes and in-band parameter sets, and FFmpeg decodes them to the same
  pixels as the original packets;
- the colour matrix of the GPU kernel: a NumPy transcription of the kernel
  (``nv12_reference`` below: the same sampling and the same coefficients) turns the
  CPU decoder's NV12 into RGB within ±3 of the CPU path's rgb24, for BT.601 and
  BT.709, limited and full range, with crop and resize;
- argument checks at call time, the error that names what is missing on a machine
  without PyNvVideoCodec, and GPU frames refused by ``convert_frames_cpu``.

The GPU itself is exercised by ``tests/cuda/``.
"""

from __future__ import annotations

import asyncio
import pathlib
import sys
from fractions import Fraction

import av
import frame_media
import numpy as np
import pytest
from media import encode_video, ffmpeg_image_bytes, has_encoder
from reference_decode import nv12_from_yuv420p

import spdl.io
from spdl import _native
from spdl.io._core.nv12 import color_coefficients
from spdl.io._core.nvdec import validate_nvdec_options

WIDTH, HEIGHT, NUM_FRAMES = 64, 48, 12


def _write_h264(path: pathlib.Path, codec: str = "libx264", **tags: int) -> None:
    """A clip whose frames are solid YUV colours, tagged with ``tags``."""

    def frame(index: int) -> av.VideoFrame:
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for plane, value in zip(frame.planes, _yuv(index), strict=True):
            data = np.frombuffer(plane, dtype=np.uint8).copy()
            data[:] = value
            plane.update(data)
        frame.pts = index
        frame.time_base = Fraction(1, 24)
        for name, value in tags.items():
            setattr(frame, name, value)
        return frame

    encode_video(
        path,
        (frame(index) for index in range(NUM_FRAMES)),
        width=WIDTH,
        height=HEIGHT,
        frame_rate=24,
        codec=codec,
        options={"x265-params": "log-level=none"} if codec == "libx265" else None,
        codec_attributes=tags,
    )


def _yuv(index: int) -> tuple[int, int, int]:
    """Saturated-but-legal colours that move through the gamut."""
    palette = [(81, 90, 240), (145, 54, 34), (41, 240, 110), (170, 166, 16), (128, 128, 128)]
    return palette[index % len(palette)]


def _decode(packets: _native.VideoPackets, **options: object) -> np.ndarray:
    frames = spdl.io.decode_packets(packets, **options).result()
    return spdl.io.to_numpy(spdl.io.convert_frames(frames).result())


################################################################################
# Annex B
################################################################################


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_annexb_packets_have_start_codes_and_decode_identically(
    tmp_path: pathlib.Path, codec: str
) -> None:
    if not has_encoder(codec):
        pytest.skip(f"PyAV's FFmpeg has no {codec} encoder")
    path = tmp_path / "clip.mp4"
    _write_h264(path, codec)
    packets = spdl.io.demux_media("video", path).result()
    name = _native.annexb_filter(packets.codec_name)
    assert name == f"{packets.codec_name}_mp4toannexb"
    annexb = _native.apply_bsf(packets, name)

    assert isinstance(annexb, _native.VideoPackets)
    assert len(annexb) == len(packets) == NUM_FRAMES
    assert annexb.pts == packets.pts
    assert annexb.frame_rate == packets.frame_rate
    table = _native.packet_table(annexb)
    for address, size, _pts, _is_key, _shown in table:
        head = (b"\0" * 4) if size < 4 else _read(address, 4)
        assert head.startswith((b"\0\0\0\1", b"\0\0\1")), head
    assert table[0][3] is True
    # MP4 stores length prefixes: the original's first bytes are not start codes.
    original = _native.packet_table(packets)
    assert not _read(original[0][0], 4).startswith(b"\0\0\0\1")
    np.testing.assert_array_equal(_decode(annexb), _decode(packets))


def _read(address: int, size: int) -> bytes:
    import ctypes

    return ctypes.string_at(address, size)


def test_packet_table_marks_the_packets_an_edit_list_starts_after(tmp_path: pathlib.Path) -> None:
    # NVDEC shows what it decodes: the table tells which frames to leave out.
    source = frame_media.pyav_reference(frame_media.write_named_clip(tmp_path, "h264_bframes"))
    gop = frame_media.GOP
    cut = frame_media.write_stream_copy_cut(tmp_path / "cut.mp4", source, gop, gop + 3)
    packets = spdl.io.demux_media("video", cut).result()
    table = _native.packet_table(packets)
    assert len(table) == frame_media.NUM_FRAMES - gop
    hidden = sorted(pts for _, _, pts, _, shown in table if not shown)
    assert hidden == sorted(pts for _, _, pts, _, _ in table)[:3] and max(hidden) < 0


def test_annexb_keeps_the_window(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "clip.mp4"
    _write_h264(path)
    packets = spdl.io.demux_media("video", path, timestamp=(0.1, 0.3)).result()
    annexb = _native.apply_bsf(packets, "h264_mp4toannexb")
    assert annexb.timestamp == packets.timestamp
    np.testing.assert_array_equal(_decode(annexb), _decode(packets))


def test_codecs_without_annexb_form_need_no_filter() -> None:
    for codec in ("vp9", "av1", "mjpeg", "mpeg4"):
        assert _native.annexb_filter(codec) == ""


def test_apply_bsf_errors_name_the_filter_and_the_source(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "clip.mp4"
    _write_h264(path)
    packets = spdl.io.demux_media("video", path).result()
    with pytest.raises(ValueError, match='Unknown bitstream filter "nope"'):
        _native.apply_bsf(packets, "nope")
    with pytest.raises(spdl.io.MediaError, match=f"hevc_mp4toannexb.*{path.name}.*h264"):
        _native.apply_bsf(packets, "hevc_mp4toannexb")


################################################################################
# Colour conversion: the kernel's arithmetic against the CPU path
################################################################################


def _bilinear(plane: np.ndarray, xs: np.ndarray, ys: np.ndarray, box: tuple) -> np.ndarray:
    x0, x1, y0, y1 = box
    xs = np.clip(xs, x0, x1)[None, :]
    ys = np.clip(ys, y0, y1)[:, None]
    xi, yi = np.floor(xs).astype(int), np.floor(ys).astype(int)
    xn, yn = np.minimum(xi + 1, x1), np.minimum(yi + 1, y1)
    fx, fy = xs - xi, ys - yi
    a, b = plane[yi, xi], plane[yi, xn]
    c, d = plane[yn, xi], plane[yn, xn]
    return (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy


def nv12_reference(
    nv12: np.ndarray, crop: tuple[int, int, int, int], size: tuple[int, int], k: list[float]
) -> np.ndarray:
    """The kernel ``nv12_to_planar`` of ``spdl/io/_core/nv12.py``, in NumPy: ``(3, H, W)``."""
    height = nv12.shape[0] * 2 // 3
    luma = nv12[:height].astype(np.float32)
    chroma = nv12[height:].reshape(height // 2, -1, 2).astype(np.float32)
    cx, cy, cw, ch = crop
    out_h, out_w = size
    sx = cx + (np.arange(out_w) + 0.5) * cw / out_w - 0.5
    sy = cy + (np.arange(out_h) + 0.5) * ch / out_h - 0.5
    x1, y1 = min(cx + cw, luma.shape[1]) - 1, min(cy + ch, height) - 1
    y = _bilinear(luma, sx, sy, (cx, x1, cy, y1))  # samples stay inside the crop
    box = (cx // 2, x1 // 2, cy // 2, y1 // 2)
    u = _bilinear(chroma[..., 0], (sx + 0.5) * 0.5 - 0.5, (sy + 0.5) * 0.5 - 0.5, box)
    v = _bilinear(chroma[..., 1], (sx + 0.5) * 0.5 - 0.5, (sy + 0.5) * 0.5 - 0.5, box)
    yn, un, vn = (y - k[0]) * k[1], (u - 128) * k[2], (v - 128) * k[2]
    rgb = [k[3 + 3 * c] * yn + k[4 + 3 * c] * un + k[5 + 3 * c] * vn for c in range(3)]
    return np.clip(np.rint(np.stack(rgb)), 0, 255).astype(np.uint8)


# (tags on the stream, what the demuxer reports): H.273 code points.
COLOUR_CASES = {
    "unspecified": ({}, ("", "")),
    "bt709-limited": ({"colorspace": 1, "color_range": 1}, ("bt709", "tv")),
    "bt601-full": ({"colorspace": 6, "color_range": 2}, ("smpte170m", "pc")),
    "bt709-full": ({"colorspace": 1, "color_range": 2}, ("bt709", "pc")),
}


@pytest.mark.parametrize("case", COLOUR_CASES)
@pytest.mark.parametrize(
    ("crop", "size"),
    [((0, 0, 0, 0), None), ((8, 4, 16, 12), None), ((0, 0, 0, 0), (20, 30))],
    ids=["plain", "crop", "resize"],
)
def test_kernel_arithmetic_matches_the_cpu_path(
    tmp_path: pathlib.Path, case: str, crop: tuple[int, int, int, int], size: tuple | None
) -> None:
    tags, (space, range_) = COLOUR_CASES[case]
    path = tmp_path / "clip.mp4"
    _write_h264(path, **tags)
    packets = spdl.io.demux_media("video", path).result()
    assert (packets.params.color_space, packets.params.color_range) == (space, range_)
    k = color_coefficients(space, range_, packets.pix_fmt)

    left, top, right, bottom = crop
    box = (left, top, WIDTH - left - right, HEIGHT - top - bottom)
    out_h, out_w = size or (box[3], box[2])
    # The decoder's own samples (pix_fmt=None), as NVDEC hands them over: asking the CPU
    # path for "nv12" would convert a full-range stream to limited range.
    yuv = _decode(spdl.io.demux_media("video", path).result(), pix_fmt=None)
    nv12 = np.stack([nv12_from_yuv420p(f[0], HEIGHT, WIDTH) for f in yuv])[:, None]
    expected_rgb = _decode(
        spdl.io.demux_media("video", path).result(),
        filter_desc=f"crop={box[2]}:{box[3]}:{left}:{top},scale={out_w}:{out_h},format=rgb24",
    )
    assert nv12.shape == (NUM_FRAMES, 1, HEIGHT * 3 // 2, WIDTH)
    for index in range(NUM_FRAMES):
        gpu_formula = nv12_reference(nv12[index, 0], box, (out_h, out_w), k)
        cpu = expected_rgb[index].transpose(2, 0, 1)
        diff = np.abs(gpu_formula.astype(int) - cpu.astype(int))
        # Interior pixels: solid frames, so only codec noise and rounding differ.
        assert diff[:, 2:-2, 2:-2].max() <= 3, (index, diff.max())


# Lets g++ compile the CUDA C kernel as host code: one call per (block, thread).
_HOST_SHIM = r"""
#include <algorithm>
#include <cmath>
struct dim3 { unsigned x, y, z; };
static dim3 blockIdx, threadIdx, blockDim;
using std::min;
#define __global__
#define __device__
#define __forceinline__ inline
"""
_HOST_DRIVER = r"""
extern "C" void run_grid(const unsigned char* luma, long long luma_pitch,
                         const unsigned char* chroma, long long chroma_pitch, int width,
                         int height, int cx, int cy, int cw, int ch, unsigned char* out,
                         int out_w, int out_h, int channels, const float* k) {
  blockDim = {32, 8, 1};
  for (unsigned by = 0; by < (out_h + 7) / 8u; ++by)
    for (unsigned bx = 0; bx < (out_w + 31) / 32u; ++bx)
      for (unsigned ty = 0; ty < 8; ++ty)
        for (unsigned tx = 0; tx < 32; ++tx) {
          blockIdx = {bx, by, 0};
          threadIdx = {tx, ty, 0};
          nv12_to_planar(luma, luma_pitch, chroma, chroma_pitch, width, height, cx, cy, cw, ch,
                         out, out_w, out_h, channels, k);
        }
}
"""


@pytest.fixture(scope="module")
def host_kernel(tmp_path_factory: pytest.TempPathFactory):
    """The GPU kernel's own source, compiled for the CPU."""
    import ctypes
    import shutil
    import subprocess

    from spdl.io._core.nv12 import KERNEL_SOURCE

    compiler = shutil.which("c++") or shutil.which("g++")
    if compiler is None:
        pytest.skip("no C++ compiler to build the kernel for the host")
    directory = tmp_path_factory.mktemp("kernel")
    source = directory / "kernel.cpp"
    source.write_text(_HOST_SHIM + KERNEL_SOURCE + _HOST_DRIVER)
    library = directory / "kernel.so"
    subprocess.run(
        [compiler, "-O1", "-shared", "-fPIC", "-o", str(library), str(source)], check=True
    )
    function = ctypes.CDLL(str(library)).run_grid
    pointer, i64, i32 = ctypes.c_void_p, ctypes.c_longlong, ctypes.c_int
    function.argtypes = [pointer, i64, pointer, i64] + [i32] * 6 + [pointer] + [i32] * 3
    function.argtypes += [pointer]
    function.restype = None

    def run(nv12: np.ndarray, crop: tuple, size: tuple, k: list[float], channels: int):
        height = nv12.shape[0] * 2 // 3
        nv12 = np.ascontiguousarray(nv12)
        out = np.zeros((channels, *size), dtype=np.uint8)
        coefficients = np.asarray(k, dtype=np.float32)
        chroma = nv12[height:]
        function(
            nv12.ctypes.data, nv12.strides[0], chroma.ctypes.data, chroma.strides[0],
            nv12.shape[1], height, *crop, out.ctypes.data, size[1], size[0], channels,
            coefficients.ctypes.data,
        )  # fmt: skip
        return out

    return run


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize(
    ("crop", "size"),
    [((0, 0, 64, 48), (48, 64)), ((6, 4, 40, 30), (30, 40)), ((2, 2, 60, 44), (17, 29))],
    ids=["plain", "crop", "crop-resize"],
)
def test_kernel_source_equals_its_numpy_transcription(
    host_kernel, crop: tuple, size: tuple, channels: int
) -> None:
    rng = np.random.default_rng(0)
    # Smooth content with noise, so that every interpolation weight matters.
    ys, xs = np.mgrid[0 : HEIGHT * 3 // 2, 0:WIDTH]
    nv12 = ((xs * 3 + ys * 2) % 256 + rng.integers(0, 20, xs.shape)).clip(0, 255)
    nv12 = nv12.astype(np.uint8)
    for k in (color_coefficients("bt709", "tv"), color_coefficients("smpte170m", "pc")):
        out = host_kernel(nv12, crop, size, k, channels)
        expected = nv12_reference(nv12, crop, size, k)
        assert np.abs(out[:3].astype(int) - expected.astype(int)).max() <= 1
        if channels == 4:
            assert (out[3] == 255).all()


def test_kernel_crop_is_a_slice_of_the_uncropped_output_inside_its_edges(host_kernel) -> None:
    ys, xs = np.mgrid[0 : HEIGHT * 3 // 2, 0:WIDTH]
    nv12 = ((xs * 5 + ys * 7) % 256).astype(np.uint8)
    k = color_coefficients("bt709", "tv")
    full = host_kernel(nv12, (0, 0, WIDTH, HEIGHT), (HEIGHT, WIDTH), k, 3)
    left, top, right, bottom = 6, 4, 10, 8
    box = (left, top, WIDTH - left - right, HEIGHT - top - bottom)
    cropped = host_kernel(nv12, box, (box[3], box[2]), k, 3)
    # At its edges the chroma comes from inside the crop only.
    inside = full[:, top : HEIGHT - bottom, left : WIDTH - right][:, 1:-1, 1:-1]
    np.testing.assert_array_equal(cropped[:, 1:-1, 1:-1], inside)


def test_kernel_scales_a_crop_up_without_what_lies_outside_it(host_kernel) -> None:
    # Black bars (luma 16) left of column 8 and right of WIDTH - 8, white between:
    # cropped off and scaled up, the edges blended in a quarter of the bars.
    nv12 = np.full((HEIGHT * 3 // 2, WIDTH), 128, np.uint8)
    nv12[:HEIGHT] = 235
    nv12[:HEIGHT, :8] = nv12[:HEIGHT, WIDTH - 8 :] = 16
    k = color_coefficients("bt709", "tv")
    box = (8, 0, WIDTH - 16, HEIGHT)
    out = host_kernel(nv12, box, (HEIGHT * 2, box[2] * 2), k, 3)
    assert (out == 255).all(), np.unique(out)


def test_colour_matrices_differ_where_they_should() -> None:
    bt601 = color_coefficients("smpte170m", "tv")
    bt709 = color_coefficients("bt709", "tv")
    assert bt601 != bt709
    assert color_coefficients("", "") == bt601  # unspecified streams read as BT.601
    assert color_coefficients("bt470bg", "") == bt601
    assert color_coefficients("", "", "yuvj420p")[:3] == [0.0, 1.0, 1.0]  # JPEG: full range
    assert color_coefficients("", "pc")[:3] == [0.0, 1.0, 1.0]
    y0, ys, cs = bt601[:3]
    assert (y0, round(ys * 219), round(cs * 224)) == (16.0, 255, 255)


################################################################################
# The Python surface without a GPU
################################################################################


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("nvdec") / "clip.mp4"
    _write_h264(path)
    return path


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"pix_fmt": "bgr24"}, ValueError, "pix_fmt"),
        ({"width": 0}, ValueError, "width"),
        ({"height": 2.5}, TypeError, "height"),
        ({"crop_left": -1}, ValueError, "crop_left"),
        ({"crop_top": True}, TypeError, "crop_top"),
        ({"crop_left": 40, "crop_right": 24}, ValueError, "leaves nothing"),
        ({"pix_fmt": None, "width": 32}, ValueError, "cannot be resized"),
        ({"pix_fmt": None, "crop_left": 3}, ValueError, "even"),
    ],
)
def test_nvdec_options_are_checked_at_call_time(
    clip: pathlib.Path, options: dict, error: type, match: str
) -> None:
    packets = spdl.io.demux_media("video", clip).result()
    with pytest.raises(error, match=match):
        spdl.io.decode_packets_nvdec(packets, 0, **options)


def test_nvdec_options_take_numpy_integers_as_python_ints(clip: pathlib.Path) -> None:
    packets = spdl.io.demux_media("video", clip).result()
    i = np.int64
    options = validate_nvdec_options(packets, i(0), i(32), i(16), (i(2), i(0), i(2), i(0)), "rgb")
    fields = (options.width, options.height, *options.crop)
    assert fields == (32, 16, 2, 0, 2, 0)
    assert all(type(value) is int for value in fields)


def test_nvdec_refuses_audio_and_codecs_nvdec_lacks(tmp_path: pathlib.Path) -> None:
    png = tmp_path / "x.png"
    png.write_bytes(ffmpeg_image_bytes("png", np.zeros((8, 8, 3), np.uint8)))
    image = spdl.io.demux_media("image", png).result()
    with pytest.raises(ValueError, match="NVDEC cannot decode.*png"):
        spdl.io.decode_packets_nvdec(image, 0)


def test_missing_pynvvideocodec_raises_at_call_time_with_what_to_install(
    clip: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the package look uninstalled, also on a GPU machine.
    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", None)
    packets = spdl.io.demux_media("video", clip).result()
    with pytest.raises(RuntimeError, match=r"PyNvVideoCodec.*spdl\[cuda\]"):
        spdl.io.decode_packets_nvdec(packets, 0)

    async def main() -> None:
        with pytest.raises(RuntimeError, match=r"PyNvVideoCodec.*spdl\[cuda\]"):
            spdl.io.async_decode_packets_nvdec(packets, 0)

    asyncio.run(main())
    # Importing spdl.io and every CPU feature stay usable.
    assert spdl.io.to_numpy(spdl.io.load_video(clip)).shape == (NUM_FRAMES, HEIGHT, WIDTH, 3)


def test_a_failing_gpu_import_fails_the_future_naming_the_source(
    clip: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package that is installed but cannot load (no driver) fails in the worker."""
    from spdl.io._core import nvdec as _nvdec

    monkeypatch.setattr(_nvdec, "check_dependencies", lambda: None)
    # Installed but failing to load, as without a driver; also on a GPU machine.
    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", None)
    packets = spdl.io.demux_media("video", clip).result()
    future = spdl.io.decode_packets_nvdec(packets, 0)
    with pytest.raises(spdl.io.AsyncIOFailure, match=r"could not be imported") as info:
        future.result()
    assert clip.name in str(info.value) and "spdl[cuda]" in str(info.value)


def test_gpu_frames_are_refused_by_convert_frames_cpu() -> None:
    frames = spdl.io.CUDAFrames("clip.mp4", "video", None, "rgb", 0, None, [])
    with pytest.raises(TypeError, match="CUDAFrames"):
        spdl.io.convert_frames_cpu(frames)
    with pytest.raises(TypeError, match="CUDAFrames"):
        spdl.io.convert_frames_cpu([frames])


def test_gpu_image_batches_name_the_mismatch() -> None:
    """The checks of a GPU batch run before any GPU work (CuPy is not needed for them)."""

    def image(src: str, shape: tuple[int, ...], pix_fmt: str | None = "rgb") -> object:
        return spdl.io.CUDAFrames(src, "image", np.empty(shape), pix_fmt, 0, None, [0.0])

    with pytest.raises(ValueError, match=r"a\.jpg is \(3, 4, 4\) rgb.*b\.jpg is \(3, 5, 5\) rgb"):
        spdl.io.convert_frames([image("a.jpg", (3, 4, 4)), image("b.jpg", (3, 5, 5))])
    with pytest.raises(ValueError, match=r"b\.jpg is \(4, 4, 4\) rgba"):
        spdl.io.convert_frames([image("a.jpg", (3, 4, 4)), image("b.jpg", (4, 4, 4), "rgba")])
    clip = spdl.io.CUDAFrames("c.mp4", "video", np.empty((2, 3, 4, 4)), "rgb", 0, None, [0, 1])
    with pytest.raises(ValueError, match=r"c\.mp4 is video"):
        spdl.io.convert_frames([image("a.jpg", (3, 4, 4)), clip])
