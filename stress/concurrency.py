"""Concurrency stress: threads × event loops loading mixed media with random cancellations.

Each of ``--threads`` threads runs its own asyncio loop and keeps loading random
items (valid and invalid images and clips), cancelling some of them at random
moments, for ``--seconds``. Every completed load must equal the sequential
reference exactly; the only exceptions allowed are AsyncIOFailure for invalid
inputs and CancelledError for cancelled loads. The run fails on anything else,
and a watchdog fails it on a deadlock.

Usage: python stress/concurrency.py [--threads 8] [--seconds 120]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import pathlib
import random
import sys
import tempfile
import threading
import time

from _media import make_media

import spdl.io

OPTIONS = {"image": {"width": 40, "height": 30}, "video": {"width": 48, "height": 32}}


def _digest(buffer: spdl.io.CPUBuffer) -> str:
    array = spdl.io.to_numpy(buffer)
    return f"{array.shape}:{hashlib.sha1(array.tobytes()).hexdigest()}"


def reference(items: list[tuple[str, pathlib.Path]]) -> dict[pathlib.Path, str | None]:
    """Sequential results: a digest per valid item, None for the invalid ones."""
    out: dict[pathlib.Path, str | None] = {}
    for kind, path in items:
        try:
            out[path] = _digest(spdl.io.load_media(kind, path, decode_options=OPTIONS[kind]))
        except spdl.io.AsyncIOFailure:
            out[path] = None
    return out


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.completed = self.failed = self.cancelled = 0
        self.errors: list[str] = []


async def _worker_loop(seed: int, items, expected, deadline: float, stats: Stats) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        batch = [rng.choice(items) for _ in range(rng.randint(1, 12))]
        tasks = [
            asyncio.ensure_future(
                spdl.io.async_load_media(kind, path, decode_options=OPTIONS[kind])
            )
            for kind, path in batch
        ]
        await asyncio.sleep(rng.random() * 0.005)
        for task in tasks:
            if rng.random() < 0.2:
                task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        with stats.lock:
            for (_kind, path), result in zip(batch, results, strict=True):
                if isinstance(result, asyncio.CancelledError):
                    stats.cancelled += 1
                elif isinstance(result, spdl.io.AsyncIOFailure) and expected[path] is None:
                    stats.failed += 1
                elif isinstance(result, BaseException):
                    stats.errors.append(f"{path.name}: {type(result).__name__}: {result}")
                elif _digest(result) != expected[path]:
                    stats.errors.append(f"{path.name}: output differs from the sequential load")
                else:
                    stats.completed += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        media = make_media(pathlib.Path(tmp))
        items = [("image", p) for p in media["image"] + media["bad_image"]]
        items += [("video", p) for p in media["video"] + media["bad_video"]]
        expected = reference(items)
        stats = Stats()
        deadline = time.monotonic() + args.seconds
        threads = [
            threading.Thread(
                target=lambda s=seed: asyncio.run(_worker_loop(s, items, expected, deadline, stats))
            )
            for seed in range(args.threads)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 120)
        hung = sum(thread.is_alive() for thread in threads)
    print(
        f"{args.threads} threads x {args.seconds:.0f} s: {stats.completed} loads matched the "
        f"sequential reference, {stats.failed} invalid inputs failed as expected, "
        f"{stats.cancelled} cancelled, {len(stats.errors)} unexpected"
    )
    for error in stats.errors[:20]:
        print("  ", error)
    if hung:
        print(f"FAIL: {hung} threads still running (deadlock?)")
        return 1
    return 1 if stats.errors else 0


if __name__ == "__main__":
    sys.exit(main())
