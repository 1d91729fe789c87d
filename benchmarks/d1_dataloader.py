"""D1 data loader: an ImageNet-like image folder → shuffled batches of 32 for training.

2,000 JPEGs (about 500×375, quality 90, 4:2:0, 10 class folders; see ``_datasets``)
are read in a random order, 2 epochs, into ``(32, 224, 224, 3)`` uint8 batches with
their labels, under the *train* transform: a random resized crop (scale 0.08–1,
aspect ratio 3/4–4/3, resized to 224×224) and a horizontal flip with probability
0.5. Each loader gets two workers (processes for torch's DataLoader). Batches are
``drop_last``: 62 batches, 1,984 images an epoch.

The loaders do not do exactly the same work. Pillow (as torchvision) decodes the
whole JPEG and then crops, and resizes with its ``BILINEAR`` filter; spdl decodes
only the rows and columns of the JPEG that the crop keeps, and its resize equals
Pillow's ``HAMMING`` filter (antialiased) to within one level, not ``BILINEAR``.

Backends:

* ``spdl``: ``spdl.dataloader.DataLoader`` over ``MapSource(ImageFolder(root),
  RandomSampler(n, seed=0))`` with ``aggregator=ImageBatchLoader(224, transform="train",
  seed=0)``, ``batch_size=32``, ``num_threads=SPDL_NUM_THREADS``: threads in the
  training process, each batch one native ``batch_load_image`` call with the GIL
  released.
* ``spdl-bare``: a plain Python loop over the same sampler's batches calling
  ``spdl.io.batch_load_image(paths, 224, 224, crop=[RandomResizedCrop(seed=s), …],
  hflip=[…])`` then ``spdl.io.to_torch``: the same decoder without the pipeline
  around it, so ``spdl`` / ``spdl-bare`` is what the pipeline adds or costs.
* ``torch-pillow``: ``torch.utils.data.DataLoader(dataset, batch_size=32,
  shuffle=True, drop_last=True, num_workers=2, persistent_workers=False)`` with
  torch's default start method (fork on Linux) and default collate. The dataset does
  what torchvision's ``ImageFolder`` + ``RandomResizedCrop(224)`` +
  ``RandomHorizontalFlip()`` + ``PILToTensor`` do on Pillow images (torchvision's PyPI
  wheel needs CUDA's libraries, so it is written out here with the same algorithm and
  the same torch random numbers): ``Image.open(path).convert("RGB")``, the crop box
  drawn by torchvision's ``get_params`` (10 tries of a uniform area fraction and a
  log-uniform aspect ratio, else a centre crop clamped to the ratio range),
  ``img.crop(box).resize((224, 224), Image.BILINEAR)``,
  ``img.transpose(FLIP_LEFT_RIGHT)`` when ``torch.rand(1) < 0.5``, then
  ``torch.from_numpy(np.array(img))`` (HWC uint8).
* ``torch-spdl``: the same torch DataLoader whose dataset calls
  ``spdl.io.batch_load_image([path], 224, 224, crop=[RandomResizedCrop(seed=s)],
  hflip=[f])`` for each image: spdl's decoder in torch's worker processes.

``--consumer train`` (backends ``<name>+train``) runs a training step per batch in the
training process: a small CNN (a stride-4 5×5 convolution and two 3×3 ones with
pooling, a linear layer, 10 classes) forward, cross-entropy backward and an SGD step, with
``torch.set_num_threads(1)``; its throughput is reported as steps/s. The plain
backends (``--consumer none``) only count the batches; the default runs both kinds.

Measured per backend, over all epochs of one loader in one process:

* images/s: all images over all epochs' wall time, each epoch from building its
  iterator to its last batch (with ``persistent_workers=False`` torch starts its
  workers again every epoch, and that is part of the rate);
* time to the first batch: from building the epoch's iterator (``iter(loader)``: for
  torch this forks the workers, ``persistent_workers=False``) to the first batch;
* CPU-seconds per image: user + system time of the training process and every worker
  process (``getrusage`` of the process and its reaped children, ``/proc/<pid>/stat``
  of the live ones);
* peak PSS: the largest sum over the process and its workers of their proportional
  set size, sampled every 50 ms (``_harness.ProcessTreeMonitor``).

Command line (besides the harness's)::

    python benchmarks/d1_dataloader.py --images 200 --epochs 1          # a tiny run
    python benchmarks/d1_dataloader.py --consumer train --backends spdl,torch-pillow
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _datasets import FOLDER_CLASSES, ensure_image_folder, image_folder_root
from _harness import Backend, Context, ProcessTreeMonitor, Run, Workload, main

SIZE = 224
BATCH_SIZE = 32
NUM_IMAGES = 2000
QUICK_IMAGES = 512
WORKERS = 2
# Concurrent batches of spdl's loader (each batch is one native call decoding on the
# decode pool's threads); chosen by measurement (README), SPDL_BENCH_D1_THREADS to try others.
SPDL_NUM_THREADS = int(os.environ.get("SPDL_BENCH_D1_THREADS") or 2)
SCALE = (0.08, 1.0)
RATIO = (3.0 / 4.0, 4.0 / 3.0)
HFLIP_PROB = 0.5
IMAGES_ENV = "SPDL_BENCH_D1_IMAGES"  # --images, passed on to the case processes

Item = tuple[str, int]


def num_images(quick: bool) -> int:
    return int(os.environ.get(IMAGES_ENV) or (QUICK_IMAGES if quick else NUM_IMAGES))


def prepare() -> Path:
    return ensure_image_folder(max(num_images(False), num_images(True)))


def items(count: int) -> list[Item]:
    """``(path, label)`` of the folder's first ``count`` images, in ImageFolder's order
    (sorted class folders, then sorted file names)."""
    root = image_folder_root()
    found = []
    for label, folder in enumerate(sorted(p for p in root.iterdir() if p.is_dir())):
        for path in sorted(folder.glob("*.jpg")):
            if int(path.stem) < count:
                found.append((str(path), label))
    if len(found) != count:
        raise RuntimeError(f"expected {count} images under {root}, found {len(found)}")
    return found


# ---------------------------------------------------------------------------------------
# The train transform written for Pillow (what torchvision does on PIL images)


def crop_box(
    width: int,
    height: int,
    uniform: Callable[[float, float], float],
    randint: Callable[[int, int], int],
    scale: tuple[float, float] = SCALE,
    ratio: tuple[float, float] = RATIO,
) -> tuple[int, int, int, int]:
    """A random resized crop's ``(left, top, crop_width, crop_height)``.

    Up to ten tries draw an area fraction uniformly from ``scale`` and an aspect
    ratio log-uniformly from ``ratio``; the first crop that fits is placed at a
    uniformly drawn position (``randint(lo, hi)`` includes ``hi``). When none fits,
    the largest centred crop whose aspect ratio lies in ``ratio``.
    """
    area = width * height
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * uniform(scale[0], scale[1])
        aspect = math.exp(uniform(log_lo, log_hi))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = randint(0, height - h)
            left = randint(0, width - w)
            return left, top, w, h
    aspect = width / height
    w, h = width, height
    if aspect < min(ratio):
        h = int(round(w / min(ratio)))
    elif aspect > max(ratio):
        w = int(round(h * max(ratio)))
    return (width - w) // 2, (height - h) // 2, w, h


def _torch_uniform(lo: float, hi: float) -> float:
    import torch

    return float(torch.empty(1).uniform_(lo, hi).item())


def _torch_randint(lo: int, hi: int) -> int:
    import torch

    return int(torch.randint(lo, hi + 1, size=(1,)).item())


class PillowTrainDataset:
    """``(HWC uint8 tensor, label)`` per item: Pillow decode, random resized crop, flip."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        import torch
        from PIL import Image

        path, label = self.items[index]
        with open(path, "rb") as stream:
            image = Image.open(stream).convert("RGB")
        left, top, w, h = crop_box(image.width, image.height, _torch_uniform, _torch_randint)
        image = image.crop((left, top, left + w, top + h)).resize((SIZE, SIZE), Image.BILINEAR)
        if torch.rand(1).item() < HFLIP_PROB:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return torch.from_numpy(np.array(image)), label


class SpdlTrainDataset:
    """``(HWC uint8 tensor, label)`` per item, decoded and cropped by spdl in the worker."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        import torch

        path, label = self.items[index]
        # torch seeds its generator in each worker differently, as for torch-pillow.
        seed = int(torch.randint(0, 2**62, size=(1,)).item())
        flip = bool(torch.rand(1).item() < HFLIP_PROB)
        return load_spdl_batch([path], [seed], [flip])[0], label


def load_spdl_batch(paths: Sequence[str], seeds: Sequence[int], flips: Sequence[bool]) -> Any:
    """One ``batch_load_image`` call with a random resized crop and flip per image,
    as a ``(B, 224, 224, 3)`` uint8 torch tensor."""
    import spdl.io

    crops = [spdl.io.RandomResizedCrop(seed=seed, scale=SCALE, ratio=RATIO) for seed in seeds]
    buffer = spdl.io.batch_load_image(paths, SIZE, SIZE, crop=crops, hflip=list(flips))
    return spdl.io.to_torch(buffer)


# ---------------------------------------------------------------------------------------
# Consumers


def _count(batch: Any) -> int:
    return len(batch[1])


def small_cnn() -> Any:
    """The training consumer's model: 224×224 RGB → 10 classes."""
    from torch import nn

    return nn.Sequential(
        # A stride-4 stem (as ResNet's stride-2 convolution and pooling): a step takes
        # about 40 ms on one core, so the loader's CPU use shows in the step rate.
        nn.Conv2d(3, 16, kernel_size=5, stride=4, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, FOLDER_CLASSES),
    )


def make_train_step() -> Callable[[Any], int]:
    """One SGD step of :func:`small_cnn` per batch; returns the batch's size."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = small_cnn()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(batch: Any) -> int:
        images, labels = batch
        x = images.permute(0, 3, 1, 2).float().div_(255.0)
        loss = F.cross_entropy(model(x), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return len(labels)

    return step


# ---------------------------------------------------------------------------------------
# Rounds: one epoch each


def _check(batch: Any) -> None:
    images, labels = batch
    shape, expected = tuple(images.shape), (BATCH_SIZE, SIZE, SIZE, 3)
    if shape != expected or str(images.dtype) != "torch.uint8" or len(labels) != BATCH_SIZE:
        raise RuntimeError(
            f"expected a {expected} torch.uint8 batch and {BATCH_SIZE} labels, got "
            f"{shape} {images.dtype} and {len(labels)} labels"
        )


def epoch_rounds(
    epoch_iterator: Callable[[int], Iterator[Any]],
    consume: Callable[[Any], int],
    monitor: ProcessTreeMonitor,
    info: dict[str, Any],
) -> Run:
    """The round function: one epoch of the loader, its measurements added to ``info``."""
    epochs = {"next": 0}
    for key in ("epoch_s", "first_batch_s", "cpu_s", "images"):
        info[key] = []

    def run() -> int:
        epoch = epochs["next"]
        epochs["next"] += 1
        cpu_start = monitor.cpu_seconds()
        start = time.perf_counter()
        iterator = epoch_iterator(epoch)
        first = None
        images = 0
        for batch in iterator:
            if first is None:
                first = time.perf_counter() - start
                _check(batch)
            images += consume(batch)
        del iterator  # torch joins its workers when the epoch ends (no persistent workers)
        elapsed = time.perf_counter() - start
        info["epoch_s"].append(round(elapsed, 4))
        info["first_batch_s"].append(round(first or elapsed, 4))
        info["cpu_s"].append(round(monitor.cpu_seconds() - cpu_start, 4))
        info["images"].append(images)
        info["peak_pss_mb"] = round(monitor.peak_pss_mb, 1)
        info["peak_anon_shmem_mb"] = round(monitor.peak_anon_mb, 1)
        info["processes"] = monitor.peak_processes
        return images

    run.info = info  # type: ignore[attr-defined]
    return run


def _start(
    ctx: Context, api: str, modules: Sequence[str]
) -> tuple[list[Item], ProcessTreeMonitor, dict[str, Any]]:
    """Imports torch and the loader's ``modules`` (before torch's workers fork, as a
    script's imports are), starts the memory monitor, and measures the process before
    the loader exists."""
    import importlib

    import torch

    for module in modules:
        importlib.import_module(module)
    torch.set_num_threads(1)  # the training process's own ops (the train consumer)
    count = num_images(ctx.quick)
    info: dict[str, Any] = {
        "api": api,
        "num_images": count,
        "batch_size": BATCH_SIZE,
        "workers": ctx.threads,
    }
    monitor = ProcessTreeMonitor().start()
    time.sleep(0.1)  # one sample of the process before its loader exists
    info["baseline_pss_mb"] = round(monitor.peak_pss_mb, 1)
    return items(count), monitor, info


def _torch_loader(dataset: Any, ctx: Context) -> Any:
    import torch

    torch.manual_seed(0)  # the workers' seeds derive from it
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=BATCH_SIZE,
        shuffle=True,
        drop_last=True,
        num_workers=ctx.threads,
        persistent_workers=False,
        generator=torch.Generator().manual_seed(0),
    )


def _consumer(train: bool) -> Callable[[Any], int]:
    return make_train_step() if train else _count


def setup_torch_pillow(ctx: Context, train: bool = False) -> Run:
    found, monitor, info = _start(ctx, "torch.utils.data.DataLoader + Pillow", ["PIL.Image"])

    loader = _torch_loader(PillowTrainDataset(found), ctx)
    info["start_method"] = "fork (torch's default on Linux)"
    return epoch_rounds(lambda epoch: iter(loader), _consumer(train), monitor, info)


def setup_torch_spdl(ctx: Context, train: bool = False) -> Run:
    found, monitor, info = _start(
        ctx, "torch.utils.data.DataLoader + spdl.io.batch_load_image", ["spdl.io"]
    )

    loader = _torch_loader(SpdlTrainDataset(found), ctx)
    return epoch_rounds(lambda epoch: iter(loader), _consumer(train), monitor, info)


def setup_spdl(ctx: Context, train: bool = False) -> Run:
    found, monitor, info = _start(
        ctx, "spdl.dataloader.DataLoader + ImageBatchLoader", ["spdl.io", "spdl.dataloader"]
    )
    from spdl.dataloader import DataLoader, ImageBatchLoader, ImageFolder, MapSource, RandomSampler

    folder = ImageFolder(str(image_folder_root()))
    dataset = folder if len(folder) == len(found) else found
    source = MapSource(dataset, RandomSampler(len(dataset), seed=0))
    loader = DataLoader(
        source,
        batch_size=BATCH_SIZE,
        drop_last=True,
        aggregator=ImageBatchLoader(SIZE, transform="train", seed=0),
        num_threads=SPDL_NUM_THREADS,
    )
    info["num_threads"] = SPDL_NUM_THREADS

    def epoch_iterator(epoch: int) -> Iterator[Any]:
        loader.set_epoch(epoch)
        return iter(loader)

    return epoch_rounds(epoch_iterator, _consumer(train), monitor, info)


def _sampler_order(count: int) -> Callable[[int], list[int]]:
    """The epoch's order of spdl's ``RandomSampler(count, seed=0)`` (a seeded numpy
    permutation where ``spdl.dataloader`` does not exist)."""
    try:
        from spdl.dataloader import RandomSampler
    except ImportError:
        return lambda epoch: np.random.default_rng([0, epoch]).permutation(count).tolist()
    sampler = RandomSampler(count, seed=0)

    def order(epoch: int) -> list[int]:
        sampler.set_epoch(epoch)
        return list(sampler)

    return order


def setup_spdl_bare(ctx: Context, train: bool = False) -> Run:
    found, monitor, info = _start(
        ctx, "spdl.io.batch_load_image in a Python loop", ["spdl.io", "spdl.dataloader"]
    )
    import torch

    order_of = _sampler_order(len(found))

    def batches(epoch: int) -> Iterator[Any]:
        order = order_of(epoch)
        rng = np.random.default_rng([0, epoch])
        seeds = rng.integers(0, 2**62, size=len(found)).tolist()
        flips = (rng.random(len(found)) < HFLIP_PROB).tolist()
        for start in range(0, len(order) - BATCH_SIZE + 1, BATCH_SIZE):
            chosen = order[start : start + BATCH_SIZE]
            paths = [found[i][0] for i in chosen]
            images = load_spdl_batch(paths, [seeds[i] for i in chosen], [flips[i] for i in chosen])
            yield images, torch.tensor([found[i][1] for i in chosen], dtype=torch.int64)

    return epoch_rounds(batches, _consumer(train), monitor, info)


def _trained(setup: Callable[..., Run]) -> Callable[[Context], Run]:
    def setup_train(ctx: Context) -> Run:
        return setup(ctx, train=True)

    return setup_train


_HOW = {
    "spdl": (
        f"spdl.dataloader.DataLoader(MapSource(ImageFolder, RandomSampler), ImageBatchLoader"
        f"(224, train), num_threads={SPDL_NUM_THREADS})",
        setup_spdl,
    ),
    "spdl-bare": (
        "Python loop: batch_load_image(32 paths, crop=RandomResizedCrop, hflip) per batch",
        setup_spdl_bare,
    ),
    "torch-pillow": (
        "torch DataLoader(2 fork workers) + Pillow decode, crop().resize(BILINEAR), flip",
        setup_torch_pillow,
    ),
    "torch-spdl": (
        "torch DataLoader(2 fork workers) + batch_load_image([path], crop, hflip) per image",
        setup_torch_spdl,
    ),
}
TRAINED = ("spdl", "torch-pillow", "torch-spdl")
TRAIN_SUFFIX = "+train"

BACKENDS = tuple(
    Backend(name, how, setup, "torch" if name.startswith("torch") else "spdl")
    for name, (how, setup) in _HOW.items()
) + tuple(
    Backend(
        f"{name}{TRAIN_SUFFIX}",
        f"{_HOW[name][0]}; a CNN training step per batch",
        _trained(_HOW[name][1]),
        "torch" if name.startswith("torch") else "spdl",
    )
    for name in TRAINED
)

WORKLOAD = Workload(
    name="d1_dataloader",
    title=(
        f"D1 data loader: ImageNet-like JPEG folder (10 classes) -> shuffled batches of "
        f"{BATCH_SIZE} x 224x224, train transform, {WORKERS} workers"
    ),
    unit="images/s",
    backends=BACKENDS,
    prepare=prepare,
    rounds=(1, 2),  # epochs
    warmup=0,
    threads=(WORKERS,),
    passes=1,
    notes=(
        "Every loader gets two workers: torch's DataLoader two worker processes "
        "(fork, not persistent), spdl's DataLoader threads in the training process "
        f"(num_threads={SPDL_NUM_THREADS}) whose native calls decode on the two threads "
        "of spdl's decode pool. A round is one epoch from building the iterator to its "
        "last batch; peak PSS sums every process of the loader.",
    ),
)


def translate_args(argv: Sequence[str]) -> list[str]:
    """Turns D1's own options into the harness's: ``--images N`` (exported to the case
    processes), ``--epochs N`` (``--rounds``) and ``--consumer none|train|all``
    (which backends; names given to ``--backends`` are taken within the consumer)."""
    import argparse

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--images", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--consumer", choices=("none", "train", "all"), default="all")
    parser.add_argument("--backends")
    ours, rest = parser.parse_known_args(argv)
    if ours.images is not None:
        if ours.images < BATCH_SIZE:
            parser.error(f"--images must be at least {BATCH_SIZE}")
        os.environ[IMAGES_ENV] = str(ours.images)
    if ours.epochs is not None:
        rest += ["--rounds", str(ours.epochs)]
    names = ours.backends.split(",") if ours.backends else None
    if names and ours.consumer == "train":
        names = [n if n.endswith(TRAIN_SUFFIX) else n + TRAIN_SUFFIX for n in names]
    elif not names and ours.consumer != "all":
        train = ours.consumer == "train"
        names = [b.name for b in BACKENDS if b.name.endswith(TRAIN_SUFFIX) == train]
    if names:
        rest += ["--backends", ",".join(names)]
    return rest


def _parse(argv: Iterable[str]) -> list[str]:
    argv = list(argv)
    return argv if "--child" in argv else translate_args(argv)


if __name__ == "__main__":
    main(WORKLOAD, str(Path(__file__)), _parse(sys.argv[1:]))
