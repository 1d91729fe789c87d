"""Conversion never writes past its buffer and never races.

* The two-plane 4:4:4 formats (``nv24``, ``nv42``, ``p410``, ``p416``) hold three
  planes' worth of samples in two planes: they are laid out as the other semi-planar
  formats are, luma then the interleaved chroma stacked under it, ``(1, 3H, W)``.
* Packed 4:2:2 (``yuyv422``, ``uyvy422``, ``yvyu422``) stores two pixels in one
  4-byte group: an odd width has no array layout and is refused, on every path.
* Two threads converting one Frames object get one buffer and one ``ValueError``;
  a thread reading the frames while another converts them sees them whole or
  consumed.
"""

from __future__ import annotations

import pathlib
import threading
from typing import Any

import numpy as np
import pytest
from media import encode_video, image_bytes, smooth_rgb

import spdl.io

WIDTH, HEIGHT = 34, 18  # even, for the 4:2:2 formats
ODD_WIDTH = 33


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    root = tmp_path_factory.mktemp("convert_safety")
    files = {}
    for name, width in (("even", WIDTH), ("odd", ODD_WIDTH)):
        files[f"{name}.png"] = root / f"{name}.png"
        files[f"{name}.png"].write_bytes(image_bytes(smooth_rgb(width, HEIGHT, 0.3), "PNG"))
        files[f"{name}.mp4"] = root / f"{name}.mp4"
        frames = [smooth_rgb(width, HEIGHT, i / 8) for i in range(8)]
        encode_video(files[f"{name}.mp4"], frames, width=width, height=HEIGHT, pix_fmt="yuv444p")
    rows = np.repeat(np.arange(0, 255, 255 // HEIGHT, dtype=np.uint8)[:HEIGHT], WIDTH)
    files["rows.png"] = root / "rows.png"
    rgb = np.stack([rows.reshape(HEIGHT, WIDTH)] * 3, axis=-1)
    files["rows.png"].write_bytes(image_bytes(rgb, "PNG"))
    return files


def _array(buffer: Any) -> np.ndarray:
    return spdl.io.to_numpy(buffer)


@pytest.mark.parametrize(("fmt", "dtype"), [("nv24", np.uint8), ("nv42", np.uint8)])
@pytest.mark.parametrize("width", [WIDTH, ODD_WIDTH])
def test_two_plane_444_images_are_luma_then_interleaved_chroma(media, fmt, dtype, width):
    name = "even.png" if width == WIDTH else "odd.png"
    planar = _array(spdl.io.load_image(media[name], pix_fmt="yuv444p"))  # (3, H, W)
    got = _array(spdl.io.load_image(media[name], pix_fmt=fmt))
    assert got.shape == (1, 3 * HEIGHT, width) and got.dtype == dtype
    np.testing.assert_array_equal(got[0, :HEIGHT], planar[0])
    chroma = got[0, HEIGHT:].reshape(HEIGHT, width, 2)
    first, second = (1, 2) if fmt == "nv24" else (2, 1)  # nv42 stores V first
    np.testing.assert_array_equal(chroma[..., 0], planar[first])
    np.testing.assert_array_equal(chroma[..., 1], planar[second])


@pytest.mark.parametrize("fmt", ["p410le", "p416le"])
def test_two_plane_444_high_depth_images_hold_every_sample(media, fmt):
    planar = _array(spdl.io.load_image(media["odd.png"], pix_fmt="yuv444p16le"))
    got = _array(spdl.io.load_image(media["odd.png"], pix_fmt=fmt))
    assert got.shape == (1, 3 * HEIGHT, ODD_WIDTH) and got.dtype == np.uint16
    # p410 keeps 10 bits of each sample (rounded, in the high bits); p416 all 16.
    step = 64 if fmt == "p410le" else 0
    chroma = got[0, HEIGHT:].reshape(HEIGHT, ODD_WIDTH, 2)
    for ours, reference in ((got[0, :HEIGHT], planar[0]), (chroma[..., 0], planar[1])):
        assert np.abs(ours.astype(np.int64) - reference).max() <= step
    assert np.abs(chroma[..., 1].astype(np.int64) - planar[2]).max() <= step


PATHS = ["load_image", "batch_load_image", "load_video", "load_video_windows", "load_video_frames"]


def _every_path(src_image: pathlib.Path, src_video: pathlib.Path, **options: Any) -> dict:
    batch = {key: value for key, value in options.items() if key != "width"}
    return {
        "load_image": lambda: spdl.io.load_image(src_image, **options),
        "batch_load_image": lambda: spdl.io.batch_load_image(
            [src_image, src_image], options.get("width", ODD_WIDTH), HEIGHT, **batch
        ),
        "load_video": lambda: spdl.io.load_video(src_video, **options),
        "load_video_windows": lambda: spdl.io.load_video_windows(src_video, [(0, 0.2)], **options),
        "load_video_frames": lambda: spdl.io.load_video_frames(src_video, [0, 3], **options),
    }


@pytest.mark.parametrize("path", PATHS)
def test_two_plane_444_video_and_batches_are_laid_out_alike(media, path):
    result = _every_path(media["odd.png"], media["odd.mp4"], pix_fmt="nv24")[path]()
    data = result.data if hasattr(result, "data") else result
    array = _array(data[0] if isinstance(data, list) else data)
    height, width = array.shape[-2:]
    assert array.shape[-3] == 1 and height % 3 == 0, array.shape


@pytest.mark.parametrize("fmt", ["yuyv422", "uyvy422", "yvyu422"])
@pytest.mark.parametrize("path", PATHS)
def test_packed_422_with_an_odd_width_is_refused(media, fmt, path):
    call = _every_path(media["odd.png"], media["odd.mp4"], pix_fmt=fmt, width=ODD_WIDTH)[path]
    # A batch fails as a batch does: AsyncIOFailure, with the layout's message.
    refused = (ValueError, spdl.io.AsyncIOFailure)
    with pytest.raises(refused, match=f"{fmt} needs an even width"):
        call()


def test_packed_422_with_an_even_width_keeps_its_rows(media):
    # Each row of the picture is one grey level: every row's luma samples agree.
    array = _array(spdl.io.load_image(media["rows.png"], pix_fmt="yuyv422"))
    assert array.shape == (HEIGHT, WIDTH, 2)
    luma = array[..., 0]
    assert all(len(set(row.tolist())) == 1 for row in luma)
    assert len({row[0] for row in luma.tolist()}) == HEIGHT


@pytest.mark.parametrize(("kind", "name"), [("video", "even.mp4"), ("image", "even.png")])
def test_two_threads_converting_one_frames_object_get_one_buffer(media, kind, name):
    for _ in range(30):
        packets = spdl.io.demux_media(kind, media[name]).result()
        frames = spdl.io.decode_packets(packets).result()
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def convert(
            frames: Any = frames, barrier: threading.Barrier = barrier, outcomes: list = outcomes
        ) -> None:
            barrier.wait()
            try:
                buffer = spdl.io.convert_frames(frames).result()
                outcomes.append(f"buffer {_array(buffer).shape[0]}")
            except (ValueError, spdl.io.AsyncIOFailure) as error:
                assert "already converted" in str(error)
                outcomes.append("ValueError")

        threads = [threading.Thread(target=convert) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(outcomes) == 2 and outcomes.count("ValueError") == 1
        assert frames.consumed


def test_reading_frames_while_another_thread_converts_them(media):
    for _ in range(30):
        frames = spdl.io.decode_packets(spdl.io.demux_media("video", media["even.mp4"]).result())
        frames = frames.result()
        count = len(frames)
        barrier = threading.Barrier(2)
        seen: list[str] = []

        def read(
            frames: Any = frames, count: int = count, seen: list = seen, barrier: Any = barrier
        ) -> None:
            barrier.wait()
            for i in range(count):
                try:
                    assert frames[i].width == WIDTH
                    seen.append("frame")
                except ValueError:
                    seen.append("consumed")

        reader = threading.Thread(target=read)
        reader.start()
        barrier.wait()
        buffer = spdl.io.convert_frames(frames).result()
        reader.join()
        assert _array(buffer).shape[0] == count
        assert len(seen) == count


def test_a_refused_conversion_leaves_the_frames_usable(media):
    frames = spdl.io.decode_packets(
        spdl.io.demux_media("image", media["odd.png"]).result(), pix_fmt="yuv420p"
    ).result()
    with pytest.raises(spdl.io.AsyncIOFailure, match="yuv420p needs an even width"):
        spdl.io.convert_frames(frames).result()
    assert not frames.consumed and frames.width == ODD_WIDTH


@pytest.mark.parametrize(
    ("fmt", "size", "needs"),
    [
        ("yuv420p", (33, 25), "an even width and an even height"),
        ("nv12", (33, 24), "an even width and an even height"),
        ("yuyv422", (33, 25), "an even width"),
        ("yuv420p", (33, None), "an even width and an even height"),  # one side given
        ("nv12", (None, 25), "an even width and an even height"),
    ],
)
def test_a_size_the_chroma_cannot_divide_is_refused_when_called(media, fmt, size, needs):
    # It failed after the demux and decode, with a message that named no source.
    width, height = size
    missing = "no-such-dir/clip.mp4"  # never opened: the options are checked first
    for call in (
        lambda: spdl.io.load_video(missing, width=width, height=height, pix_fmt=fmt),
        lambda: spdl.io.load_image(missing, width=width, height=height, pix_fmt=fmt),
        lambda: spdl.io.decode_packets(
            spdl.io.demux_media("video", media["odd.mp4"]).result(),
            width=width,
            height=height,
            pix_fmt=fmt,
        ),
    ):
        with pytest.raises(ValueError, match=f"{fmt} needs {needs}, got width={width},"):
            call()
