"""The media pieces inside a DataLoader: ImageFolder -> MapSource -> DataLoader with
ImageBatchLoader as aggregator and cuda_transfer as transfer_fn; every sample's crop
depends on (seed, epoch, index) only, whatever the batch size or thread count."""

from __future__ import annotations

import pytest
import torch
from media import smooth_rgb
from PIL import Image

from spdl.dataloader import (
    DataLoader,
    ImageBatchLoader,
    ImageFolder,
    MapSource,
    RandomSampler,
    Sample,
    VideoClipLoader,
    cuda_transfer,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> ImageFolder:
    root = tmp_path_factory.mktemp("pipeline_images")
    for i in range(14):
        path = root / ("ant", "bee")[i % 2] / f"{i:02d}.jpg"
        path.parent.mkdir(exist_ok=True)
        size = (120, 90) if i % 3 else (90, 120)
        Image.fromarray(smooth_rgb(*size, i / 5)).save(path, quality=90)
    return ImageFolder(root)


def _epoch(
    dataset: ImageFolder, epoch: int, batch_size: int, num_threads: int
) -> tuple[torch.Tensor, torch.Tensor]:
    sampler = RandomSampler(len(dataset), seed=1, rank=0, world_size=1)
    sampler.set_epoch(epoch)
    loader = DataLoader(
        MapSource(dataset, sampler),
        batch_size=batch_size,
        aggregator=ImageBatchLoader(32, seed=5),
        transfer_fn=cuda_transfer("cpu"),
        num_threads=num_threads,
        output_order="input",
    )
    batches = list(loader)
    assert len(batches) == len(loader)
    return torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])


def test_train_crops_depend_on_the_sample_not_on_batching_or_threads(dataset):
    images, labels = _epoch(dataset, epoch=0, batch_size=4, num_threads=3)
    again, again_labels = _epoch(dataset, epoch=0, batch_size=5, num_threads=1)
    assert torch.equal(images, again) and torch.equal(labels, again_labels)
    # Each image is the loader's crop of its own (seed, epoch, index), loaded alone.
    sampler = RandomSampler(len(dataset), seed=1, rank=0, world_size=1)
    order = list(sampler)
    assert labels.tolist() == [dataset.targets[i] for i in order]
    single = ImageBatchLoader(32, seed=5)
    for position in (0, 6, 13):
        index = order[position]
        alone, _ = single([Sample(index, 0, dataset[index])])
        assert torch.equal(images[position], alone[0])


def test_the_next_epoch_draws_new_crops(dataset):
    first, first_labels = _epoch(dataset, epoch=0, batch_size=7, num_threads=2)
    second, second_labels = _epoch(dataset, epoch=1, batch_size=7, num_threads=2)
    assert sorted(first_labels.tolist()) == sorted(second_labels.tolist())
    by_image_0 = {tuple(image.flatten()[:64].tolist()) for image in first}
    by_image_1 = {tuple(image.flatten()[:64].tolist()) for image in second}
    assert not by_image_0 & by_image_1  # no sample got the same crop and flip twice


def test_video_clips_through_the_dataloader(h264_video):
    items = [(h264_video.path, label) for label in range(5)]
    loader = DataLoader(
        MapSource(items, RandomSampler(5, seed=0, rank=0, world_size=1)),
        batch_size=2,
        aggregator=VideoClipLoader(6, 32, 24, seed=1),
        num_threads=2,
    )
    batches = list(loader)
    assert sorted(clips.shape[0] for clips, _ in batches) == [1, 2, 2]
    assert all(clips.shape[1:] == (6, 24, 32, 3) for clips, _ in batches)
    assert sorted(label for _, labels in batches for label in labels.tolist()) == list(range(5))
