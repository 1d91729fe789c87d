"""The benchmark harness's pass schedule and the pooling of a case's passes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
_harness = pytest.importorskip("_harness")


def test_passes_alternate_direction_and_split_the_rounds() -> None:
    assert _harness.pass_schedule(3, 7, 2) == [(0, 4), (1, 4), (2, 4), (2, 3), (1, 3), (0, 3)]
    assert _harness.pass_schedule(2, 5, 1) == [(0, 5), (1, 5)]
    schedule = _harness.pass_schedule(4, 9, 3)
    for case in range(4):
        assert sum(rounds for index, rounds in schedule if index == case) == 9


def _pass(seconds: list[float], peak: float) -> dict:
    items = [8.0] * len(seconds)
    return {
        **_harness._summary(items, seconds, seconds),
        "rss_before_mb": 100.0,
        "peak_rss_mb": peak,
    }


def test_merged_passes_pool_their_rounds() -> None:
    merged = _harness._merge_passes([_pass([1.0, 2.0], 150.0), _pass([4.0], 180.0)])
    assert merged["round_s"] == [1.0, 2.0, 4.0]
    assert merged["median"] == pytest.approx(4.0)  # 8 items in 2 s
    assert merged["min"] == pytest.approx(2.0)
    assert merged["max"] == pytest.approx(8.0)
    assert merged["peak_rss_mb"] == 180.0
    assert merged["passes"] == 2


def test_a_failed_pass_fails_the_case() -> None:
    failed = {"error": "process exited with 1: boom"}
    assert _harness._merge_passes([_pass([1.0], 100.0), failed]) == failed
