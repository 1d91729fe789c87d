"""Train a small CNN on an image folder with spdl's DataLoader (CPU is enough).

The folder is laid out like torchvision's ``ImageFolder``: one sub-folder per class,
images inside. Each batch is decoded, randomly cropped, resized and flipped by one
native call (``spdl.dataloader.ImageBatchLoader``), on threads, while the training
step runs. With ``--checkpoint`` the script saves the loader's and the model's state
after every ``--save-every`` steps and resumes from it when started again, at the
next unseen batch.

Usage::

    python examples/train_image_folder.py --generate /tmp/folder   # writes a small folder
    python examples/train_image_folder.py /tmp/folder --epochs 2
    torchrun --nproc_per_node=2 examples/train_image_folder.py /tmp/folder   # 2 ranks (gloo)
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import spdl.dataloader as dl


def generate_folder(root: Path, num_classes: int = 4, per_class: int = 48) -> None:
    """Writes a small image folder whose classes differ in colour and texture."""
    rng = np.random.default_rng(0)
    for label in range(num_classes):
        folder = root / f"class_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            height, width = int(rng.integers(96, 160)), int(rng.integers(96, 160))
            y, x = np.mgrid[0:height, 0:width]
            base = np.zeros((height, width, 3))
            base[..., label % 3] = 160 + 60 * np.sin((x + y * label) / (4 + 3 * label))
            noise = rng.normal(0, 20, (height, width, 3))
            pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.jpg", quality=90)


class SmallCNN(torch.nn.Module):
    """Three convolutions, global pooling and a linear classifier."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        channels = 3
        for width in (16, 32, 64):
            layers += [
                torch.nn.Conv2d(channels, width, 3, stride=2, padding=1),
                torch.nn.BatchNorm2d(width),
                torch.nn.ReLU(inplace=True),
            ]
            channels = width
        self.features = torch.nn.Sequential(*layers)
        self.classifier = torch.nn.Linear(channels, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # uint8 (B, 3, H, W) -> float in [0, 1]; the model normalises itself.
        x = images.float().div_(255.0)
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def init_distributed() -> tuple[int, int]:
    """Joins the process group that torchrun describes (gloo on CPU), if any."""
    if "RANK" not in os.environ:
        return 0, 1
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    torch.distributed.init_process_group(backend)
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", nargs="?", type=Path, help="the image folder")
    parser.add_argument("--generate", type=Path, help="write a small image folder here and exit")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--size", type=int, default=64, help="crop size fed to the model")
    parser.add_argument("--num-threads", type=int, default=4)
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    parser.add_argument("--checkpoint", type=Path, help="save / resume model and loader here")
    parser.add_argument("--save-every", type=int, default=10)
    parser.add_argument("--stats", action="store_true", help="print the loader's stats report")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    if args.generate:
        generate_folder(args.generate)
        print(f"wrote {sum(1 for _ in args.generate.rglob('*.jpg'))} images to {args.generate}")
        return
    if args.root is None:
        parser.error("give an image folder, or --generate DIR")

    torch.manual_seed(0)
    torch.set_num_threads(1)  # the loader's threads use the other cores
    rank, world_size = init_distributed()
    dataset = dl.ImageFolder(args.root)
    # rank and world_size default to torch.distributed's when a process group is up.
    sampler = dl.RandomSampler(len(dataset), seed=0)
    loader = dl.DataLoader(
        dl.MapSource(dataset, sampler),
        batch_size=args.batch_size,
        drop_last=True,
        aggregator=dl.ImageBatchLoader(args.size, transform="train", seed=0, layout="CHW"),
        transfer_fn=dl.cuda_transfer(),  # a no-op on the CPU
        num_threads=args.num_threads,
    )
    model = SmallCNN(len(dataset.classes))
    if world_size > 1:
        model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    step = 0
    if args.checkpoint and args.checkpoint.exists():
        state = torch.load(args.checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        loader.load_state_dict(state["loader"][rank])
        step = state["step"]
        print(f"rank {rank}: resumed at step {step}, epoch {loader.epoch}")

    start = time.perf_counter()
    images_seen = 0
    done = False
    while not done and loader.epoch < args.epochs:
        epoch = loader.epoch
        total_loss, batches = 0.0, 0
        for images, labels in loader:
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss, batches = total_loss + loss.item(), batches + 1
            step, images_seen = step + 1, images_seen + len(labels)
            if args.checkpoint and step % args.save_every == 0:
                save_checkpoint(args.checkpoint, rank, world_size, step, model, optimizer, loader)
            if args.max_steps is not None and step >= args.max_steps:
                done = True
                break
        if batches:
            print(
                f"rank {rank} epoch {epoch}: {batches} steps, mean loss {total_loss / batches:.3f}"
            )
    elapsed = time.perf_counter() - start
    print(f"rank {rank}: {step} steps, {images_seen / max(elapsed, 1e-9):.0f} images/s")
    if args.stats:
        print(loader.stats().report())
    if world_size > 1:
        torch.distributed.destroy_process_group()


def save_checkpoint(
    path: Path,
    rank: int,
    world_size: int,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: dl.DataLoader,
) -> None:
    """Saves the model and every rank's loader state (each rank resumes its own shard)."""
    states = [loader.state_dict()]
    if world_size > 1:
        states = [None] * world_size
        torch.distributed.all_gather_object(states, loader.state_dict())
    if rank == 0:
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "loader": states,
            "step": step,
        }
        torch.save(state, path)


if __name__ == "__main__":
    main()
