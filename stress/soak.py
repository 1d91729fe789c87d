"""Leak soak: load many images and clips (valid and invalid), cancel some, watch RSS.

Loads 20,000 images, 500 video clips and 1,000 audio tracks (AAC, resampled)
through the asyncio API, cancelling a fraction of the loads, and prints the
resident set size every 1,000 items. After the warm-up (the first 2,000 items)
RSS must stay flat: growth < 5 %.

Usage: python stress/soak.py [--images N] [--videos N] [--audio N] [--cancel-fraction F]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import pathlib
import random
import sys
import tempfile

from _media import make_media

import spdl.io

WARMUP_ITEMS = 2_000
REPORT_EVERY = 1_000
MAX_GROWTH = 0.05


def rss_mb() -> float:
    """Resident set size of this process in MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


_OPTIONS = {
    "image": {"width": 32, "height": 24},
    "video": {"width": 48, "height": 32},
    "audio": {"sample_rate": 8_000},
}


async def _load(kind: str, path: pathlib.Path) -> None:
    options = _OPTIONS[kind]
    try:
        buffer = await spdl.io.async_load_media(kind, path, decode_options=options)
        spdl.io.to_numpy(buffer).sum()
    except spdl.io.AsyncIOFailure:
        pass  # the invalid inputs


async def soak(media: dict[str, list[pathlib.Path]], args: argparse.Namespace) -> list[float]:
    rng = random.Random(0)
    items = [("image", rng.choice(media["image"] + media["bad_image"])) for _ in range(args.images)]
    for kind, count in (("video", args.videos), ("audio", args.audio)):
        items += [(kind, rng.choice(media[kind] + media[f"bad_{kind}"])) for _ in range(count)]
    rng.shuffle(items)
    samples, done, cancelled = [], 0, 0
    for start in range(0, len(items), args.concurrency):
        tasks = [
            asyncio.ensure_future(_load(*item)) for item in items[start : start + args.concurrency]
        ]
        await asyncio.sleep(0)
        for task in tasks:
            if rng.random() < args.cancel_fraction:
                cancelled += task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _ in tasks:
            done += 1
            if done % REPORT_EVERY == 0:
                gc.collect()
                samples.append(rss_mb())
                print(
                    f"{done:6d} items  rss {samples[-1]:7.1f} MiB  cancelled {cancelled}",
                    flush=True,
                )
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--videos", type=int, default=500)
    parser.add_argument("--audio", type=int, default=1_000)
    parser.add_argument("--cancel-fraction", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        media = make_media(pathlib.Path(tmp))
        samples = asyncio.run(soak(media, args))
    baseline_index = max(0, WARMUP_ITEMS // REPORT_EVERY - 1)
    if len(samples) <= baseline_index + 1:
        print("too few items to judge growth")
        return 0
    baseline, final = samples[baseline_index], samples[-1]
    growth = (final - baseline) / baseline
    print(f"RSS after warm-up {baseline:.1f} MiB, at the end {final:.1f} MiB: growth {growth:+.1%}")
    if growth >= MAX_GROWTH:
        print(f"FAIL: RSS grew by {growth:.1%} (limit {MAX_GROWTH:.0%})")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
