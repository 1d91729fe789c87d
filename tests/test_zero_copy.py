"""CPUBuffer hands its memory to numpy / torch / numba without copying, and keeps it alive."""

from __future__ import annotations

import gc
import sys

import numpy as np
import pytest
from media import AudioReference, ImageReference, VideoReference

import spdl.io


def pointer_of(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


def lies_inside(pointer: int, buffer) -> bool:
    return buffer.data_ptr <= pointer < buffer.data_ptr + buffer.nbytes


@pytest.fixture
def image_buffer(image_files: dict[str, ImageReference]):
    return spdl.io.load_image(image_files["png"].path)


def test_numpy_array_points_into_the_buffer(image_buffer) -> None:
    array = spdl.io.to_numpy(image_buffer)
    assert lies_inside(pointer_of(array), image_buffer)
    assert pointer_of(array) == image_buffer.data_ptr
    assert array.shape == image_buffer.shape == (60, 80, 3)
    assert array.nbytes == image_buffer.nbytes == 60 * 80 * 3


def test_two_numpy_views_of_one_buffer_share_memory(image_buffer) -> None:
    first = spdl.io.to_numpy(image_buffer)
    second = np.asarray(image_buffer)
    assert np.shares_memory(first, second)
    first[...] = 7
    assert (second == 7).all()


def test_array_interface_is_version_3(image_buffer) -> None:
    interface = image_buffer.__array_interface__
    assert interface["version"] == 3
    assert tuple(interface["shape"]) == (60, 80, 3)
    assert interface["typestr"] == "|u1"
    assert interface["data"][0] == image_buffer.data_ptr
    assert image_buffer.typestr == "|u1"


@pytest.mark.parametrize(
    ("sample_fmt", "typestr", "dtype"),
    [("fltp", "<f4", np.float32), ("s16", "<i2", np.int16), ("s32p", "<i4", np.int32)],
)
def test_audio_buffers_describe_their_dtype(
    wav_audio: AudioReference, sample_fmt: str, typestr: str, dtype: type
) -> None:
    buffer = spdl.io.load_audio(wav_audio.path, sample_fmt=sample_fmt)
    assert buffer.__array_interface__["typestr"] == typestr
    array = spdl.io.to_numpy(buffer)
    assert array.dtype == dtype
    assert pointer_of(array) == buffer.data_ptr
    assert array.nbytes == buffer.nbytes == 16000 * np.dtype(dtype).itemsize


def test_numpy_array_outlives_the_buffer(h264_video: VideoReference) -> None:
    buffer = spdl.io.load_video(h264_video.path)
    array = spdl.io.to_numpy(buffer)
    snapshot = array.copy()
    del buffer
    gc.collect()
    # Allocate and free buffers of the same size so freed memory would be reused and overwritten.
    for _ in range(3):
        other = spdl.io.to_numpy(spdl.io.load_video(h264_video.path, pix_fmt="bgr24"))
        other[...] = 0
        del other
        gc.collect()
    np.testing.assert_array_equal(array, snapshot)


def test_buffer_protocol_exposes_the_same_memory(image_buffer) -> None:
    view = memoryview(image_buffer)
    assert view.shape == (60, 80, 3)
    assert view.format == "B"
    assert view.itemsize == 1
    assert view.nbytes == image_buffer.nbytes
    assert view.c_contiguous
    through_view = np.asarray(view)
    assert pointer_of(through_view) == image_buffer.data_ptr
    np.testing.assert_array_equal(through_view, spdl.io.to_numpy(image_buffer))


def test_buffer_protocol_of_float_audio(wav_audio: AudioReference) -> None:
    buffer = spdl.io.load_audio(wav_audio.path)
    view = memoryview(buffer)
    assert view.format == "f"
    assert view.shape == (1, 16000)
    np.testing.assert_array_equal(np.asarray(view), wav_audio.source / np.float32(32768))


def test_dlpack_device_is_cpu(image_buffer) -> None:
    assert tuple(image_buffer.__dlpack_device__()) == (1, 0)  # (kDLCPU, device 0)


def test_to_torch_shares_memory_through_dlpack(image_buffer) -> None:
    torch = pytest.importorskip("torch")
    tensor = spdl.io.to_torch(image_buffer)
    assert tensor.device.type == "cpu"
    assert tensor.dtype == torch.uint8
    assert tuple(tensor.shape) == (60, 80, 3)
    assert tensor.data_ptr() == image_buffer.data_ptr
    array = spdl.io.to_numpy(image_buffer)
    tensor[0, 0, 0] = 201
    tensor[-1, -1, -1] = 13
    assert array[0, 0, 0] == 201 and array[-1, -1, -1] == 13


def test_torch_from_dlpack_accepts_the_buffer_directly(image_buffer) -> None:
    torch = pytest.importorskip("torch")
    tensor = torch.from_dlpack(image_buffer)
    assert tensor.data_ptr() == image_buffer.data_ptr
    np.testing.assert_array_equal(tensor.numpy(), spdl.io.to_numpy(image_buffer))


def test_torch_tensor_outlives_the_buffer(image_files: dict[str, ImageReference]) -> None:
    pytest.importorskip("torch")
    image = image_files["png"]
    buffer = spdl.io.load_image(image.path)
    tensor = spdl.io.to_torch(buffer)
    del buffer
    gc.collect()
    for _ in range(3):
        spdl.io.to_numpy(spdl.io.load_image(image.path))[...] = 0
        gc.collect()
    np.testing.assert_array_equal(tensor.numpy(), image.source_rgb)


@pytest.mark.parametrize(("sample_fmt", "dtype_name"), [("fltp", "float32"), ("s16", "int16")])
def test_to_torch_keeps_the_audio_dtype(
    wav_audio: AudioReference, sample_fmt: str, dtype_name: str
) -> None:
    torch = pytest.importorskip("torch")
    buffer = spdl.io.load_audio(wav_audio.path, sample_fmt=sample_fmt)
    tensor = spdl.io.to_torch(buffer)
    assert tensor.dtype == getattr(torch, dtype_name)
    assert tensor.data_ptr() == buffer.data_ptr


def test_to_numba_shares_memory(image_buffer) -> None:
    array = spdl.io.to_numba(image_buffer)
    assert array.shape == (60, 80, 3)
    assert pointer_of(np.asarray(array)) == image_buffer.data_ptr


@pytest.mark.parametrize(
    "convert", [spdl.io.to_numpy, spdl.io.to_torch, spdl.io.to_numba, spdl.io.to_cupy]
)
@pytest.mark.parametrize("value", ["foo.jpg", np.zeros(3, np.uint8)], ids=["str", "ndarray"])
def test_array_views_refuse_what_is_not_a_buffer(convert, value) -> None:
    # torch's own refusal of a str spoke of an invalid DLPack capsule; to_cupy raised
    # ModuleNotFoundError where CuPy is missing, whatever it was given
    if convert in (spdl.io.to_torch, spdl.io.to_numba):
        pytest.importorskip("torch" if convert is spdl.io.to_torch else "numba")
    with pytest.raises(TypeError, match=rf"{convert.__name__} expects a C\w+Buffer.*, got "):
        convert(value)


def test_a_missing_peer_names_the_extra_that_installs_it(
    image_buffer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    with pytest.raises(ImportError, match=r"to_torch needs torch.*pip install spdl\[torch\]"):
        spdl.io.to_torch(image_buffer)
