"""A DataLoader over real JPEGs in class folders: each batch is one
``spdl.io.batch_load_image`` call and equals the images loaded one by one."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from PIL import Image

import spdl.io
from spdl.dataloader import DataLoader, MapSource, RandomSampler, Sample

CLASSES = ("bird", "cat", "dog", "fish")
PER_CLASS = 10
SIZE = 32


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, int]]:
    """40 JPEGs of varied sizes (so the batch call resizes) in one folder per class."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    items = []
    for label, name in enumerate(CLASSES):
        (root / name).mkdir()
        for i in range(PER_CLASS):
            width, height = 40 + 3 * i, 36 + 2 * label
            ramp = np.linspace(0, 150, width)[None, :, None] + 30 * label
            pixels = (rng.integers(0, 80, (height, width, 3)) + ramp).astype(np.uint8)
            path = root / name / f"{i:02d}.jpg"
            Image.fromarray(pixels).save(path, quality=90)
            items.append((str(path), label))
    return items


def _load_batch(samples: list[Sample]) -> tuple[np.ndarray, list[int], list[int]]:
    paths = [sample.data[0] for sample in samples]
    images = spdl.io.to_numpy(spdl.io.batch_load_image(paths, SIZE, SIZE))
    return images, [sample.index for sample in samples], [sample.data[1] for sample in samples]


@pytest.mark.parametrize("output_order", ["completion", "input"])
def test_batches_equal_the_images_loaded_one_by_one(dataset, output_order):
    sampler = RandomSampler(len(dataset), seed=4)
    loader = DataLoader(
        MapSource(dataset, sampler),
        batch_size=8,
        aggregator=_load_batch,
        num_threads=4,
        output_order=output_order,
    )
    assert len(loader) == 5
    seen = []
    for images, indices, labels in loader:
        assert images.shape == (len(indices), SIZE, SIZE, 3) and images.dtype == np.uint8
        for image, index, label in zip(images, indices, labels, strict=True):
            path, expected_label = dataset[index]
            assert label == expected_label == CLASSES.index(pathlib.Path(path).parent.name)
            alone = spdl.io.to_numpy(spdl.io.load_image(path, width=SIZE, height=SIZE))
            np.testing.assert_array_equal(image, alone)
        seen.extend(indices)
    assert sorted(seen) == list(range(len(dataset)))
    if output_order == "input":
        assert seen == sampler.indices(0)
