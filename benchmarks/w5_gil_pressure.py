"""W5 GIL pressure: W1 while a pure-Python thread spins (``while not stop: x += 1``).

A training script's own Python threads compete with the loader for the GIL; a
loader that returns to Python for every image waits up to a switch interval
(5 ms) for each return. Every round of this workload times one W1 batch without
the busy thread and one with it, alternately (so both see the same machine load),
and reports the throughput with the busy thread and the loss against the plain
rounds of the same process and thread count.

It also reports how fast the busy thread counted while the loader ran, in million
iterations per second, next to its speed alone: a loader that holds the GIL slows
the user's Python code down as well.

On two cores, two loader threads plus the busy thread are three runnable threads:
even a loader that never needs the GIL loses about a third of its CPU time then.
To tell that CPU contention from GIL contention, every round also times the batch
while the same loop spins in a separate *process* (no GIL shared): the loss against
that control is "lost to a busy process"; the difference between the two losses is
what the GIL costs.

Backends: those of W1 (``spdl``, ``spdl-native-batch``, ``pillow``, ``opencv-linear``),
used the same way.
"""

from __future__ import annotations

from pathlib import Path

import w1_image_batch as w1
from _harness import Workload, main

BACKENDS = tuple(
    b for b in w1.BACKENDS if b.name in ("spdl", "spdl-native-batch", "pillow", "opencv-linear")
)

WORKLOAD = Workload(
    name="w5_gil_pressure",
    title="W5 GIL pressure: W1 with a pure-Python busy thread running",
    unit="images/s",
    backends=BACKENDS,
    prepare=w1.image_paths,
    rounds=(2, 9),
    busy_thread=True,
)

if __name__ == "__main__":
    main(WORKLOAD, str(Path(__file__)))
