"""A helper of the pipeline and DataLoader stop tests: run a call that must not hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def run_with_limit(fn: Callable[[], Any], limit: float = 30) -> float:
    """Calls ``fn`` on a helper thread and returns how long it took; fails (instead of
    hanging the test run) if it has not returned after ``limit`` seconds."""
    done = threading.Event()

    def call() -> None:
        fn()
        done.set()

    begin = time.monotonic()
    threading.Thread(target=call, daemon=True).start()
    assert done.wait(limit), f"did not return within {limit} s"
    return time.monotonic() - begin
