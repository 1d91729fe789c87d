"""spdl.dataloader's ready-made media pieces: ImageFolder, ImageBatchLoader,
VideoClipLoader, AudioClipLoader and cuda_transfer, on media the tests write."""

from __future__ import annotations

import collections
import copy
import logging
import pathlib
import pickle
from collections.abc import Sequence

import numpy as np
import pytest
import torch
from media import AudioReference, VideoReference, encode_audio, smooth_rgb
from PIL import Image

import spdl.io
from spdl.dataloader import Sample
from spdl.dataloader._audio import AudioClipLoader
from spdl.dataloader._folder import ImageFolder
from spdl.dataloader._image import ImageBatchLoader, sample_seed, unpack_item
from spdl.dataloader._transfer import cuda_transfer, map_tensors
from spdl.dataloader._video import VideoClipLoader

CLASSES = ("cat", "dog", "zebra")
IMAGES_PER_CLASS = 4


def _write_jpeg(path: pathlib.Path, width: int, height: int, phase: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(smooth_rgb(width, height, phase)).save(path, quality=95)


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """Three class folders of four JPEGs each, landscape 120x90 and portrait 90x120,
    plus files that are not images and a nested folder."""
    root = tmp_path_factory.mktemp("image_folder")
    for label, name in enumerate(CLASSES):
        for i in range(IMAGES_PER_CLASS):
            width, height = (120, 90) if i % 2 == 0 else (90, 120)
            sub = "nested/" if i == 3 else ""
            ext = ".JPG" if i == 2 else ".jpg"
            _write_jpeg(root / name / f"{sub}{i}{ext}", width, height, label + i / 4)
        (root / name / "notes.txt").write_text("not an image")
    (root / "README.md").write_text("a file beside the class folders is no class")
    return root


# ImageFolder


def test_image_folder_lists_sorted_classes_and_labels_like_torchvision(image_root):
    dataset = ImageFolder(image_root)
    assert dataset.classes == list(CLASSES)
    assert dataset.class_to_idx == {"cat": 0, "dog": 1, "zebra": 2}
    assert len(dataset) == len(CLASSES) * IMAGES_PER_CLASS
    names = ("0.jpg", "1.jpg", "2.JPG", "nested/3.jpg")  # sorted paths, nested ones included
    expected = [
        (str(image_root / name / file), label)
        for label, name in enumerate(CLASSES)
        for file in names
    ]
    assert list(dataset) == expected
    assert dataset.targets == [label for _, label in expected]


def test_image_folder_is_a_sequence(image_root):
    dataset = ImageFolder(str(image_root))
    assert isinstance(dataset, Sequence)
    assert dataset[-1] == dataset[len(dataset) - 1]
    assert dataset[1:3] == [dataset[1], dataset[2]]
    path, label = dataset[5]
    assert isinstance(path, str) and label == 1
    assert "classes=3" in repr(dataset) and "samples=12" in repr(dataset)


def test_image_folder_keeps_only_the_given_extensions(image_root):
    dataset = ImageFolder(image_root, extensions=(".JPG",))  # case-insensitive
    assert len(dataset) == len(CLASSES) * IMAGES_PER_CLASS
    with pytest.raises(FileNotFoundError, match=r"\.png"):
        ImageFolder(image_root, extensions=(".png",))
    empty = ImageFolder(image_root, extensions=(".png",), allow_empty=True)
    assert len(empty) == 0 and empty.classes == list(CLASSES)


def test_image_folder_extensions_end_the_name_as_in_torchvision(image_root, tmp_path):
    # One string was taken as its characters ('.', 'j', 'p', 'g'): nothing matched.
    assert len(ImageFolder(image_root, extensions=".jpg")) == len(CLASSES) * IMAGES_PER_CLASS
    # A suffix with two dots never matched (only the last one was compared).
    (tmp_path / "cls").mkdir()
    for name in ("a.seg.png", "b.png"):
        Image.new("RGB", (4, 4)).save(tmp_path / "cls" / name)
    assert [p for p, _ in ImageFolder(tmp_path, extensions=(".seg.png",))] == [
        str(tmp_path / "cls" / "a.seg.png")
    ]


def test_image_folder_errors_name_the_root(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere.*does not exist"):
        ImageFolder(missing)
    a_file = tmp_path / "file.jpg"
    a_file.write_bytes(b"x")
    with pytest.raises(NotADirectoryError, match="file.jpg"):
        ImageFolder(a_file)
    with pytest.raises(FileNotFoundError, match="no class directory"):
        ImageFolder(tmp_path)
    (tmp_path / "cat").mkdir()
    (tmp_path / "dog").mkdir()
    _write_jpeg(tmp_path / "dog" / "a.jpg", 8, 8, 0)
    with pytest.raises(FileNotFoundError, match=r"directory \['cat'\]"):
        ImageFolder(tmp_path)


# Items and seeds


def test_unpack_item_takes_samples_pairs_and_bare_sources():
    assert unpack_item(Sample(index=4, epoch=2, data=("a.jpg", 7))) == ("a.jpg", 7, 2, 4)
    assert unpack_item(Sample(index=4, epoch=2, data="a.jpg")) == ("a.jpg", -1, 2, 4)
    src, label, epoch, index = unpack_item(("a.jpg", 3))
    assert (src, label, epoch) == ("a.jpg", 3, 0)
    assert index == unpack_item("a.jpg")[3] != unpack_item("b.jpg")[3]  # a stable hash


def test_sample_seed_depends_on_seed_epoch_and_index_only():
    seeds = {sample_seed(s, e, i) for s in range(4) for e in range(4) for i in range(64)}
    assert len(seeds) == 4 * 4 * 64
    assert all(0 <= seed < 2**64 for seed in seeds)
    assert sample_seed(1, 2, 3) == sample_seed(1, 2, 3)
    # Negative and huge values are taken modulo 2**64, never rejected.
    assert sample_seed(-1, 0, 0) == sample_seed(2**64 - 1, 0, 0)
    assert sample_seed(np.int64(1), np.uint8(2), np.int32(3)) == sample_seed(1, 2, 3)
    with pytest.raises(TypeError, match="`seed` must be an int, got float"):
        sample_seed(1.5, 0, 0)  # type: ignore[arg-type]  # an operand error came out


# ImageBatchLoader, without transform


def _items(dataset: ImageFolder, indices: Sequence[int], epoch: int = 0) -> list[Sample]:
    return [Sample(index=i, epoch=epoch, data=dataset[i]) for i in indices]


def test_image_batch_without_transform_equals_images_loaded_one_by_one(image_root):
    dataset = ImageFolder(image_root)
    loader = ImageBatchLoader((30, 40), transform=None)
    images, labels = loader(_items(dataset, range(len(dataset))))
    assert images.shape == (len(dataset), 30, 40, 3) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels.tolist() == dataset.targets
    for image, (path, _) in zip(images.numpy(), dataset, strict=True):
        single = spdl.io.to_numpy(spdl.io.load_image(path, width=40, height=30))
        np.testing.assert_array_equal(image, single)


def test_image_batch_chw_layout_is_an_rgb_channels_last_view(image_root):
    dataset = ImageFolder(image_root)
    items = _items(dataset, [0, 5, 10])
    hwc, _ = ImageBatchLoader(32, transform=None)(items)
    chw, labels = ImageBatchLoader(32, transform=None, layout="CHW")(items)
    assert chw.shape == (3, 3, 32, 32)
    assert chw.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(chw, hwc.permute(0, 3, 1, 2))
    # RGB order: the first channel is the red of the source pattern (checked on a pixel).
    red = spdl.io.to_numpy(spdl.io.load_image(dataset[0][0], width=32, height=32))[..., 0]
    np.testing.assert_array_equal(chw[0, 0].numpy(), red)
    arrays, np_labels = ImageBatchLoader(32, transform=None, layout="CHW", to_torch=False)(items)
    assert isinstance(arrays, np.ndarray) and arrays.shape == (3, 3, 32, 32)
    np.testing.assert_array_equal(arrays, chw.numpy())
    assert np_labels.dtype == np.int64 and np_labels.tolist() == labels.tolist()


@pytest.fixture(scope="module")
def broken_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("broken")
    corrupt = directory / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff" + b"not a jpeg" * 20)
    return {"corrupt": str(corrupt), "missing": str(directory / "missing.jpg")}


def test_failed_images_are_dropped_with_their_labels(image_root, broken_files, caplog):
    dataset = ImageFolder(image_root)
    good = [dataset[0], dataset[5], dataset[9]]
    pairs = [good[0], (broken_files["corrupt"], 1), good[1], (broken_files["missing"], 2), good[2]]
    with caplog.at_level(logging.WARNING):
        images, labels = ImageBatchLoader(32, transform=None)(pairs)
    assert labels.tolist() == [label for _, label in good]
    assert images.shape == (3, 32, 32, 3)
    for image, (path, _) in zip(images.numpy(), good, strict=True):
        single = spdl.io.to_numpy(spdl.io.load_image(path, width=32, height=32))
        np.testing.assert_array_equal(image, single)
    # Each dropped image is logged once, by the loader (spdl.io's batch call is quiet).
    for name in ("corrupt.jpg", "missing.jpg"):
        records = [r for r in caplog.records if name in r.getMessage()]
        assert [(r.name, r.levelname) for r in records] == [("spdl.dataloader", "WARNING")]


def test_a_dropped_image_of_the_slow_path_is_logged_once(image_root, caplog):
    # Bytes that are no image go through the demux pools, whose threads logged each
    # failure at ERROR again (the flag lived in the caller's thread only).
    good = ImageFolder(image_root)[0]
    with caplog.at_level(logging.WARNING):
        images, labels = ImageBatchLoader(32, transform=None)([good, (b"not an image", 1)])
    assert labels.tolist() == [good[1]] and images.shape == (1, 32, 32, 3)
    records = [(r.name, r.levelname) for r in caplog.records if "12 bytes" in r.getMessage()]
    assert records == [("spdl.dataloader", "WARNING")]


def test_all_images_failing_gives_an_empty_batch(broken_files):
    pairs = [(broken_files["corrupt"], 1), (broken_files["missing"], 2)]
    images, labels = ImageBatchLoader((24, 32), transform=None)(pairs)
    assert images.shape == (0, 24, 32, 3) and labels.shape == (0,)


def test_strict_image_batch_raises_on_a_failed_image(image_root, broken_files):
    pairs = [ImageFolder(image_root)[0], (broken_files["corrupt"], 1)]
    with pytest.raises(spdl.io.AsyncIOFailure, match="corrupt.jpg"):
        ImageBatchLoader(32, transform=None, strict=True)(pairs)


def test_image_batch_loader_rejects_bad_arguments():
    with pytest.raises(ValueError, match="size"):
        ImageBatchLoader(0)
    with pytest.raises(ValueError, match="size"):
        ImageBatchLoader((32, 32, 3))
    with pytest.raises(ValueError, match="transform"):
        ImageBatchLoader(32, transform="test")
    with pytest.raises(ValueError, match="layout"):
        ImageBatchLoader(32, layout="NCHW")
    with pytest.raises(ValueError, match="resize"):
        ImageBatchLoader(224, transform="eval", resize=200)
    with pytest.raises(ValueError, match="scale"):
        ImageBatchLoader(32, scale=(0.5, 0.1))
    with pytest.raises(ValueError, match="hflip_prob"):
        ImageBatchLoader(32, hflip_prob=1.5)
    with pytest.raises(ValueError, match="no item"):
        ImageBatchLoader(32, transform=None)([])


# ImageBatchLoader, with the eval and train transforms


def _pillow_eval(path: str, resize: int, height: int, width: int) -> np.ndarray:
    """torchvision's Resize(resize) + CenterCrop((height, width)) on a Pillow image."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    if w <= h:
        new_w, new_h = resize, int(resize * h / w)
    else:
        new_w, new_h = int(resize * w / h), resize
    image = image.resize((new_w, new_h), Image.BILINEAR)
    top, left = int(round((new_h - height) / 2.0)), int(round((new_w - width) / 2.0))
    return np.asarray(image.crop((left, top, left + width, top + height)))


@pytest.mark.parametrize(("size", "resize"), [(56, 64), ((48, 60), 72)])
def test_eval_transform_matches_pillow_resize_and_center_crop(image_root, size, resize):
    dataset = ImageFolder(image_root)
    loader = ImageBatchLoader(size, transform="eval", resize=resize)
    images, labels = loader(_items(dataset, range(len(dataset))))
    height, width = (size, size) if isinstance(size, int) else size
    assert images.shape == (len(dataset), height, width, 3)
    assert labels.tolist() == dataset.targets
    for image, (path, _) in zip(images.numpy(), dataset, strict=True):
        reference = _pillow_eval(path, resize, height, width)
        assert np.abs(image.astype(np.int16) - reference).mean() <= 2.0, path


@pytest.mark.parametrize("transform", ["train", "eval"])
def test_batch_equals_images_loaded_one_by_one_with_the_same_crop_and_flip(image_root, transform):
    dataset = ImageFolder(image_root)
    items = _items(dataset, range(len(dataset)), epoch=3)
    loader = ImageBatchLoader((40, 48), transform=transform, resize=64, seed=9)
    images, _ = loader(items)
    options = loader.transforms(items)
    flips = options["hflip"] if isinstance(options["hflip"], list) else [False] * len(items)
    crops = options["crop"] if isinstance(options["crop"], list) else [options["crop"]] * len(items)
    for i, image in enumerate(images.numpy()):
        single = spdl.io.batch_load_image(
            [dataset[i][0]], 48, 40, crop=[crops[i]], hflip=[flips[i]]
        )
        np.testing.assert_array_equal(image, spdl.io.to_numpy(single)[0])


def test_train_crop_is_torchvision_random_resized_crop_of_the_derived_seed(image_root):
    dataset = ImageFolder(image_root)
    loader = ImageBatchLoader(32, scale=(0.25, 0.5), ratio=(0.8, 1.25), seed=5)
    boxes = set()
    for epoch in range(20):
        items = _items(dataset, range(len(dataset)), epoch=epoch)
        for item, crop in zip(items, loader.transforms(items)["crop"], strict=True):
            assert isinstance(crop, spdl.io.RandomResizedCrop)
            assert (crop.scale, crop.ratio) == ((0.25, 0.5), (0.8, 1.25))
            width, height = Image.open(item.data[0]).size
            left, top, box_w, box_h = spdl.io.crop_box(crop, width, height)
            assert left + box_w <= width and top + box_h <= height
            assert 0.25 - 0.03 <= box_w * box_h / (width * height) <= 0.5 + 0.03
            assert 0.8 - 0.05 <= box_w / box_h <= 1.25 + 0.05
            boxes.add((left, top, box_w, box_h))
    assert len(boxes) > 100  # 240 draws, few repeats
    # The batch's pixels are that box, resized (no flip at hflip_prob=0).
    item = _items(dataset, [4])[0]
    loader = ImageBatchLoader(32, seed=5, hflip_prob=0.0)
    image, _ = loader([item])
    width, height = Image.open(item.data[0]).size
    box = spdl.io.crop_box(loader.transforms([item])["crop"][0], width, height)
    by_box = spdl.io.batch_load_image([item.data[0]], 32, 32, crop=spdl.io.CropBox(*box))
    np.testing.assert_array_equal(image.numpy(), spdl.io.to_numpy(by_box))


def test_train_transform_is_reproducible_for_seed_epoch_and_index(image_root):
    dataset = ImageFolder(image_root)
    indices = list(range(len(dataset)))
    loader = ImageBatchLoader(32, seed=1)
    images, labels = loader(_items(dataset, indices, epoch=2))
    # Another batch composition and order, another loader with the same seed: same pixels.
    shuffled = [7, 0, 11, 3, 5]
    again, again_labels = ImageBatchLoader(32, seed=1)(_items(dataset, shuffled, epoch=2))
    assert torch.equal(again, images[shuffled])
    assert again_labels.tolist() == [dataset.targets[i] for i in shuffled]
    for i in (2, 9):
        alone, _ = loader(_items(dataset, [i], epoch=2))
        assert torch.equal(alone[0], images[i])
    # Another epoch or another seed: other crops.
    next_epoch, _ = loader(_items(dataset, indices, epoch=3))
    other_seed, _ = ImageBatchLoader(32, seed=2)(_items(dataset, indices, epoch=2))
    assert sum(not torch.equal(a, b) for a, b in zip(images, next_epoch, strict=True)) >= 10
    assert sum(not torch.equal(a, b) for a, b in zip(images, other_seed, strict=True)) >= 10


@pytest.mark.parametrize("hflip_prob", [0.0, 0.2, 0.5, 1.0])
def test_train_flips_with_the_given_probability(hflip_prob):
    loader = ImageBatchLoader(32, seed=0, hflip_prob=hflip_prob)
    items = [Sample(i, e, ("x.jpg", 0)) for e in range(4) for i in range(1000)]
    flips = loader.transforms(items)["hflip"]
    assert all(isinstance(flip, bool) for flip in flips)
    assert abs(sum(flips) / len(flips) - hflip_prob) <= 0.025


def test_train_flip_mirrors_the_cropped_image(image_root):
    dataset = ImageFolder(image_root)
    items = _items(dataset, range(len(dataset)))
    flipped, _ = ImageBatchLoader(32, seed=4, hflip_prob=1.0)(items)
    unflipped, _ = ImageBatchLoader(32, seed=4, hflip_prob=0.0)(items)
    assert torch.equal(flipped, unflipped.flip(2))


def test_train_batch_with_a_corrupt_image_keeps_crops_and_labels_aligned(image_root, broken_files):
    dataset = ImageFolder(image_root)
    good = _items(dataset, [1, 6, 10])
    corrupt = Sample(100, 0, (broken_files["corrupt"], 1))
    missing = Sample(101, 0, (broken_files["missing"], 2))
    batch = [good[0], corrupt, good[1], missing, good[2]]
    images, labels = ImageBatchLoader(32, seed=3)(batch)
    reference, reference_labels = ImageBatchLoader(32, seed=3)(good)
    assert labels.tolist() == reference_labels.tolist() == [dataset.targets[i] for i in (1, 6, 10)]
    assert torch.equal(images, reference)


def test_train_chw_layout(image_root):
    dataset = ImageFolder(image_root)
    items = _items(dataset, range(4))
    hwc, _ = ImageBatchLoader(32, seed=6)(items)
    chw, _ = ImageBatchLoader(32, seed=6, layout="CHW")(items)
    assert chw.shape == (4, 3, 32, 32) and torch.equal(chw, hwc.permute(0, 3, 1, 2))


# VideoClipLoader


@pytest.fixture(scope="module")
def video_frames(h264_video: VideoReference) -> np.ndarray:
    """Every frame of the test clip at 48x32, as spdl.io.load_video gives them."""
    return spdl.io.to_numpy(spdl.io.load_video(h264_video.path, width=48, height=32))


def _clip_start(frames: np.ndarray, clip: np.ndarray) -> int:
    """Where ``clip`` lies in ``frames``: its frames must be consecutive frames."""
    starts = [
        k
        for k in range(len(frames) - len(clip) + 1)
        if np.array_equal(frames[k : k + len(clip)], clip)
    ]
    assert len(starts) == 1, starts
    return starts[0]


def test_video_clips_batch_with_shapes_and_labels(h264_video, video_frames):
    assert len(video_frames) == 90
    loader = VideoClipLoader(16, 48, 32, offset="start")
    clips, labels = loader([(h264_video.path, 4), Sample(1, 0, (h264_video.path, 2))])
    assert clips.shape == (2, 16, 32, 48, 3) and clips.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels.tolist() == [4, 2]
    np.testing.assert_array_equal(clips[0].numpy(), video_frames[:16])
    np.testing.assert_array_equal(clips[1].numpy(), video_frames[:16])


def test_video_center_clip_is_the_middle_of_the_video(h264_video, video_frames):
    clip = VideoClipLoader(16, 48, 32, offset="center", to_torch=False).load_clip(h264_video.path)
    assert clip.shape == (16, 32, 48, 3)
    np.testing.assert_array_equal(clip, video_frames[37:53])  # (90 - 16) // 2 = 37


def test_video_random_clip_is_reproducible_per_seed_epoch_and_index(h264_video, video_frames):
    loader = VideoClipLoader(10, 48, 32, offset="random", seed=3, to_torch=False)
    starts = {}
    for epoch in range(6):
        for index in (0, 1):
            clip = loader.load_clip(Sample(index, epoch, h264_video.path))
            starts[epoch, index] = _clip_start(video_frames, clip)
            again = loader.load_clip(Sample(index, epoch, (h264_video.path, 0)))
            np.testing.assert_array_equal(again, clip)
    assert all(0 <= start <= 80 for start in starts.values())
    assert len(set(starts.values())) >= 4  # epochs and indices draw different starts
    other_seed = VideoClipLoader(10, 48, 32, offset="random", seed=4, to_torch=False)
    other = [
        _clip_start(video_frames, other_seed.load_clip(Sample(i, e, h264_video.path)))
        for e in range(6)
        for i in (0, 1)
    ]
    assert other != list(starts.values())


@pytest.mark.parametrize("kind", ["mkv_starting_late", "avi", "variable_rate"])
def test_video_clips_are_consecutive_frames_whatever_the_header_says(
    kind: str, tmp_path: pathlib.Path
) -> None:
    # The header's duration and rate gave the count: a Matroska file whose first frame
    # is at 1.5 s counted 98 of its 60 frames (and "random" failed past the end), an
    # AVI's half-frame window edges dropped a frame, a variable rate repeated frames.
    from frame_media import NUM_FRAMES, variable_rate_pts_ms, write_clip

    x264 = {"g": "12", "bf": "0", "x264-params": "scenecut=0"}
    if kind == "mkv_starting_late":
        pts = [1500 + 40 * i for i in range(NUM_FRAMES)]
        path = write_clip(tmp_path / "late.mkv", "libx264", x264, "matroska", pts_ms=pts)
    elif kind == "avi":
        path = write_clip(tmp_path / "clip.avi", "mpeg4", {"g": "12"}, "avi")
    else:
        pts = variable_rate_pts_ms()
        path = write_clip(tmp_path / "vfr.mp4", "libx264", x264, pts_ms=pts)
    every = spdl.io.to_numpy(
        spdl.io.load_video_frames(path, range(NUM_FRAMES), width=48, height=32).data
    )
    center = VideoClipLoader(8, 48, 32, offset="center", to_torch=False).load_clip(path)
    np.testing.assert_array_equal(center, every[26:34])  # (60 - 8) // 2 = 26
    data = memoryview(path.read_bytes())  # (a memoryview has no tell(): it failed)
    in_memory = VideoClipLoader(8, 48, 32, offset="center", to_torch=False).load_clip(data)
    np.testing.assert_array_equal(in_memory, center)
    loader = VideoClipLoader(8, 48, 32, offset="random", to_torch=False)
    for index in range(4):
        clip = loader.load_clip(Sample(index, 0, path))
        assert 0 <= _clip_start(every, clip) <= NUM_FRAMES - 8


def test_video_shorter_than_the_clip_repeats_its_last_frame(h264_video, video_frames):
    clips, _ = VideoClipLoader(100, 48, 32, to_torch=False)([(h264_video.path, 0)])
    assert clips.shape == (1, 100, 32, 48, 3)
    np.testing.assert_array_equal(clips[0, :90], video_frames)
    np.testing.assert_array_equal(clips[0, 90:], np.repeat(video_frames[-1:], 10, axis=0))


def test_video_failures_drop_the_item_and_its_label(h264_video, broken_files, caplog):
    items = [(h264_video.path, 1), (broken_files["missing"], 2), (h264_video.path, 3)]
    with caplog.at_level(logging.WARNING, logger="spdl.dataloader"):
        clips, labels = VideoClipLoader(4, 48, 32)(items)
    assert clips.shape == (2, 4, 32, 48, 3) and labels.tolist() == [1, 3]
    assert "missing.jpg" in caplog.text
    with pytest.raises(FileNotFoundError):
        VideoClipLoader(4, 48, 32, strict=True)(items)


def test_video_clip_from_bytes(h264_video, video_frames):
    data = h264_video.path.read_bytes()
    clip = VideoClipLoader(5, 48, 32, offset="center", to_torch=False).load_clip((data, 0))
    np.testing.assert_array_equal(clip, video_frames[42:47])


# AudioClipLoader


def test_audio_clip_cut_from_the_start_is_the_decoded_samples(wav_audio: AudioReference):
    source = wav_audio.source.astype(np.float32) / 32768  # s16 -> fltp
    loader = AudioClipLoader(0.5, 16000, 1, offset="start")
    waveforms, labels = loader([(wav_audio.path, 5), Sample(3, 1, wav_audio.path)])
    assert waveforms.shape == (2, 1, 8000) and waveforms.dtype == torch.float32
    assert labels.tolist() == [5, -1]
    np.testing.assert_array_equal(waveforms[0].numpy(), source[:, :8000])
    np.testing.assert_array_equal(waveforms[1].numpy(), source[:, :8000])


def _pcm_starting_late(path: pathlib.Path, container: str, start_s: float) -> np.ndarray:
    """1.5 s of 16 kHz mono PCM whose first sample is shown at ``start_s``; returns it."""
    import av

    samples = (np.sin(np.arange(24000) / 7.0) * 20000).astype(np.int16)
    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream("pcm_s16le", rate=16000, layout="mono")
        for at in range(0, len(samples), 800):
            frame = av.AudioFrame.from_ndarray(
                samples[None, at : at + 800], format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = 16000, round(start_s * 16000) + at
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return samples.astype(np.float32)[None] / 32768


def test_audio_clips_count_from_where_the_stream_starts(tmp_path: pathlib.Path):
    # Windows were counted from 0: "start" found no packet in (0, 0.5) of a stream
    # starting at 2 s, and "center" took its beginning padded with zeros.
    path = tmp_path / "late.mkv"
    source = _pcm_starting_late(path, "matroska", 2.0)
    start = AudioClipLoader(0.5, 16000, 1, offset="start").load_clip(path)
    np.testing.assert_array_equal(start, source[:, :8000])
    center = AudioClipLoader(0.5, 16000, 1, offset="center").load_clip(path)
    np.testing.assert_array_equal(center, source[:, 8000:16000])
    loader = AudioClipLoader(0.5, 16000, 1, offset="random")
    for index in range(8):
        clip = loader.load_clip(Sample(index, 0, path))
        assert np.abs(clip[:, -100:]).max() > 0  # never padded: the stream is 1.5 s


def _opus_starting_late(path: pathlib.Path, start_s: float) -> None:
    """2 s of a 440 Hz tone, 48 kHz mono Opus in Ogg, whose first sample is shown at ``start_s``."""
    import av

    rate = 48000
    samples = (np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate) * 10000).astype(np.int16)
    with av.open(str(path), "w", format="ogg") as output:
        stream = output.add_stream("libopus", rate=rate, layout="mono")
        for at in range(0, len(samples), 960):
            frame = av.AudioFrame.from_ndarray(
                samples[None, at : at + 960], format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = rate, round(start_s * rate) + at
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)


def test_audio_clips_of_an_ogg_stream_starting_late_lie_inside_it(tmp_path: pathlib.Path):
    # FFmpeg's Ogg demuxer gives the stream's end (3 s, and the Opus pre-skip) as its
    # duration: "center" took 2.25-2.75 s, "random" ran up to 1 s past the end.
    path = tmp_path / "late.ogg"
    _opus_starting_late(path, 1.0)
    center = AudioClipLoader(0.5, 48000, 1, offset="center", to_torch=False).load_clip(path)
    expected = spdl.io.load_audio(path, (1.75, 2.25), sample_rate=48000, num_channels=1)
    np.testing.assert_array_equal(center, spdl.io.to_numpy(expected))
    loader = AudioClipLoader(0.5, 48000, 1, offset="random", seed=5, to_torch=False)
    for index in range(16):
        clip = loader.load_clip(Sample(index, 0, path))
        assert np.abs(clip[:, -10:]).max() > 0  # never padded: the stream is 2 s


@pytest.mark.parametrize(
    ("name", "codec", "muxer_options"),
    [("raw.aac", "aac", {}), ("no_xing.mp3", "libmp3lame", {"write_xing": "0"})],
)
def test_audio_clips_of_a_file_whose_length_is_only_estimated_are_read_from_the_start(
    tmp_path: pathlib.Path, name: str, codec: str, muxer_options: dict[str, str]
):
    # Raw ADTS and MP3 without a Xing / Info frame say no length: FFmpeg's estimate
    # from the bit rate (1-2 % long here, 6 % on a 30 s file) let clips run past the end.
    rate = 44100
    tone = np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate).astype(np.float32)
    path = tmp_path / name
    encode_audio(path, 0.3 * tone[None], rate=rate, codec=codec, container_options=muxer_options)
    start = AudioClipLoader(0.5, 16000, 1, offset="start", to_torch=False)
    for offset in ("center", "random"):
        loader = AudioClipLoader(0.5, 16000, 1, offset=offset, to_torch=False)
        np.testing.assert_array_equal(loader.load_clip(path), start.load_clip(path))


def test_audio_clips_of_an_mp3_with_an_info_frame_take_its_length(tmp_path: pathlib.Path):
    import av

    rate = 44100
    tone = np.sin(2 * np.pi * 440 * np.arange(2 * rate) / rate).astype(np.float32)
    path = tmp_path / "info.mp3"
    encode_audio(path, 0.3 * tone[None], rate=rate, codec="libmp3lame")
    with av.open(str(path)) as container:  # the audio starts after the encoder delay
        stream = container.streams.audio[0]
        first = float(stream.start_time * stream.time_base)
    center = AudioClipLoader(0.5, 16000, 1, offset="center", to_torch=False).load_clip(path)
    window = (first + 0.75, first + 1.25)
    expected = spdl.io.load_audio(path, window, sample_rate=16000, num_channels=1)
    np.testing.assert_array_equal(center, spdl.io.to_numpy(expected))


def test_clip_loaders_take_urls(wav_audio: AudioReference, h264_video: VideoReference):
    # AudioClipLoader opened URLs with PyAV itself: "Protocol not found" for fsspec's.
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    memory.pipe("/spdl-clips/speech.wav", wav_audio.path.read_bytes())
    memory.pipe("/spdl-clips/clip.mp4", h264_video.path.read_bytes())
    audio = AudioClipLoader(0.25, 16000, 1, offset="center", to_torch=False)
    np.testing.assert_array_equal(
        audio.load_clip("memory://spdl-clips/speech.wav"), audio.load_clip(wav_audio.path)
    )
    video = VideoClipLoader(4, 48, 32, offset="center", to_torch=False)
    np.testing.assert_array_equal(
        video.load_clip("memory://spdl-clips/clip.mp4"), video.load_clip(h264_video.path)
    )


def test_audio_clip_of_bad_bytes_names_its_source():
    # PyAV's own error named the bytes '<none>'.
    loader = AudioClipLoader(0.5, 16000, 1, strict=True, to_torch=False)
    with pytest.raises(spdl.io.MediaError, match=r"Failed to open <800 bytes>"):
        loader.load_clip(b"\x00garbage" * 100)


def test_audio_center_and_random_offsets(wav_audio: AudioReference):
    source = wav_audio.source.astype(np.float32) / 32768
    center = AudioClipLoader(0.25, 16000, 1, offset="center").load_clip(wav_audio.path)
    np.testing.assert_array_equal(center, source[:, 6000:10000])
    loader = AudioClipLoader(0.25, 16000, 1, offset="random", seed=11)
    starts = set()
    for epoch in range(5):
        clip = loader.load_clip(Sample(2, epoch, wav_audio.path))
        np.testing.assert_array_equal(clip, loader.load_clip(Sample(2, epoch, wav_audio.path)))
        matches = [k for k in range(12001) if np.array_equal(source[:, k : k + 4000], clip)]
        assert len(matches) == 1
        starts.add(matches[0])
    assert len(starts) == 5


def test_audio_shorter_than_the_clip_is_padded_with_zeros(wav_audio: AudioReference):
    source = wav_audio.source.astype(np.float32) / 32768
    clip = AudioClipLoader(1.5, 16000, 1).load_clip(wav_audio.path)
    assert clip.shape == (1, 24000)
    np.testing.assert_array_equal(clip[:, :16000], source)
    assert not clip[:, 16000:].any()


@pytest.mark.parametrize(
    ("duration", "sample_rate", "num_channels"),
    [(1.0, 44100, 2), (0.5, 16000, 1), (0.37, 11025, 2), (1.25, 8000, 1), (3.0, 22050, 2)],
)
def test_audio_clips_have_exactly_duration_times_rate_samples(
    aac_audio: AudioReference, duration, sample_rate, num_channels
):
    loader = AudioClipLoader(duration, sample_rate, num_channels, to_torch=False)
    waveforms, labels = loader([(aac_audio.path, 0), (aac_audio.path, 1)])
    assert waveforms.shape == (2, num_channels, round(duration * sample_rate))
    assert waveforms.dtype == np.float32 and labels.tolist() == [0, 1]


def test_audio_resampled_keeps_its_tone(aac_audio: AudioReference):
    # The AAC file is a 440 Hz sine left, 660 Hz right; resampled to 8 kHz the peaks stay.
    clip = AudioClipLoader(1.0, 8000, 2, offset="center").load_clip(aac_audio.path)
    assert clip.shape == (2, 8000)
    frequencies = np.fft.rfftfreq(8000, d=1 / 8000)
    peaks = [frequencies[np.argmax(np.abs(np.fft.rfft(channel)))] for channel in clip]
    assert peaks == [440, 660]


def test_audio_mono_is_upmixed_to_equal_channels(wav_audio: AudioReference):
    clip = AudioClipLoader(0.5, 16000, 2, offset="start").load_clip(wav_audio.path)
    assert clip.shape == (2, 8000)
    np.testing.assert_allclose(clip[0], clip[1])


def test_audio_clips_take_any_channel_count_up_to_63(wav_audio: AudioReference):
    source = wav_audio.source.astype(np.float32) / 32768
    clip = AudioClipLoader(0.5, 16000, 10, offset="start").load_clip(wav_audio.path)
    assert clip.shape == (10, 8000)
    np.testing.assert_array_equal(clip[2], source[0, :8000])  # mono is the front centre
    with pytest.raises(ValueError, match="num_channels"):
        AudioClipLoader(0.5, 16000, 64)


def test_audio_clip_loader_takes_numpy_integers(wav_audio: AudioReference):
    plain = AudioClipLoader(0.5, 8000, 2, offset="center").load_clip(wav_audio.path)
    loader = AudioClipLoader(np.float32(0.5), np.int64(8000), np.int32(2), offset="center")
    assert (loader.sample_rate, loader.num_channels) == (8000, 2)
    np.testing.assert_array_equal(loader.load_clip(wav_audio.path), plain)
    with pytest.raises(ValueError, match="sample_rate"):
        AudioClipLoader(0.5, np.int64(2**31), 1)
    with pytest.raises(ValueError, match="sample_rate"):
        AudioClipLoader(0.5, True, 1)


def test_audio_failures_drop_the_item_and_its_label(wav_audio, broken_files):
    items = [(broken_files["missing"], 1), (wav_audio.path, 2)]
    waveforms, labels = AudioClipLoader(0.5, 8000, 1)(items)
    assert waveforms.shape == (1, 1, 4000) and labels.tolist() == [2]
    with pytest.raises(FileNotFoundError):
        AudioClipLoader(0.5, 8000, 1, strict=True)(items)


def test_clip_loaders_reject_bad_arguments():
    with pytest.raises(ValueError, match="num_frames"):
        VideoClipLoader(0, 32, 32)
    with pytest.raises(ValueError, match="offset"):
        VideoClipLoader(4, 32, 32, offset="middle")
    with pytest.raises(ValueError, match="duration"):
        AudioClipLoader(0, 16000, 1)
    with pytest.raises(ValueError, match="sample_rate"):
        AudioClipLoader(1.0, 0, 1)
    with pytest.raises(ValueError, match="offset"):
        AudioClipLoader(1.0, 16000, 1, offset="end")


# cuda_transfer


Pair = collections.namedtuple("Pair", ["images", "labels"])


def _nested_batch() -> dict:
    return {
        "pair": Pair(torch.arange(6).reshape(2, 3), torch.tensor([1, 2])),
        "list": [torch.ones(2), "name", 3],
        "tuple": (torch.zeros(1), {"inner": torch.full((2,), 7)}),
        "array": np.arange(3),
    }


def test_map_tensors_rebuilds_nested_structures():
    batch = _nested_batch()
    mapped = map_tensors(batch, lambda t: t + 1, torch.Tensor)
    assert type(mapped) is dict and set(mapped) == set(batch)
    assert type(mapped["pair"]) is Pair
    assert torch.equal(mapped["pair"].images, batch["pair"].images + 1)
    assert torch.equal(mapped["pair"].labels, torch.tensor([2, 3]))
    assert type(mapped["list"]) is list and mapped["list"][1:] == ["name", 3]
    assert torch.equal(mapped["list"][0], torch.full((2,), 2.0))
    assert type(mapped["tuple"]) is tuple
    assert torch.equal(mapped["tuple"][1]["inner"], torch.full((2,), 8))
    assert mapped["array"] is batch["array"]  # not a tensor: passed through


def test_cuda_transfer_is_a_no_op_on_the_cpu():
    batch = _nested_batch()
    assert cuda_transfer("cpu")(batch) is batch
    assert cuda_transfer(torch.device("cpu"), pin_memory=False)(batch) is batch
    if not torch.cuda.is_available():  # the same script runs where there is no GPU
        for device in ("cuda", "cuda:1", 0, np.int64(1), torch.device("cuda", 0)):
            assert cuda_transfer(device)(batch) is batch  # an int raised ValueError
    with pytest.raises(ValueError, match="at least 0"):
        cuda_transfer(-1)
    moved = cuda_transfer()(batch)
    if torch.cuda.is_available():
        assert moved["pair"].images.device.type == "cuda"
        assert torch.equal(moved["pair"].images.cpu(), batch["pair"].images)
        assert moved["list"][1:] == ["name", 3]
    else:
        assert moved is batch


def test_cuda_transfer_rejects_other_devices():
    with pytest.raises(ValueError, match="meta"):
        cuda_transfer("meta")


def test_numpy_scalars_are_taken_for_seed_and_duration():
    # A NumPy int seed raised TypeError, a float32 duration ValueError.
    audio = AudioClipLoader(np.float32(0.5), 16000, 1, seed=np.int64(3))
    assert audio.duration == 0.5 and audio.seed == 3 and type(audio.seed) is int
    assert VideoClipLoader(4, 32, 32, seed=np.int32(7)).seed == 7
    assert ImageBatchLoader(32, seed=np.uint8(9)).seed == 9
    with pytest.raises(TypeError, match="seed"):
        AudioClipLoader(0.5, 16000, 1, seed=1.5)


def test_transfer_names_a_bad_device_and_keeps_defaultdicts():
    with pytest.raises(ValueError, match="'gpu' is not a device"):
        cuda_transfer("gpu")  # torch's own RuntimeError came out
    batch = collections.defaultdict(list, {"x": torch.zeros(2)})
    mapped = map_tensors(batch, lambda t: t + 1, torch.Tensor)
    assert isinstance(mapped, collections.defaultdict) and mapped.default_factory is list
    assert mapped["x"].tolist() == [1.0, 1.0]


# Pickling: torch's DataLoader with spawn workers pickles a collate_fn.


def test_media_loaders_pickle_and_deepcopy(image_root, h264_video, wav_audio):
    image = next(iter(ImageFolder(image_root)))
    cases = [
        (ImageBatchLoader(32, transform="train", seed=3), [image, image]),
        (VideoClipLoader(4, 48, 32, offset="random", seed=1), [(h264_video.path, 1)]),
        (AudioClipLoader(0.25, 8000, 1, offset="random", seed=2), [(wav_audio.path, 5)]),
    ]
    for loader, items in cases:
        expected, labels = loader(items)
        assert isinstance(expected, torch.Tensor)
        for copied in (pickle.loads(pickle.dumps(loader)), copy.deepcopy(loader)):
            data, copied_labels = copied(items)
            assert torch.equal(data, expected) and torch.equal(copied_labels, labels)
