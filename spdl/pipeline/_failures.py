"""The failure budget: how many failing items a stage may drop before the pipeline stops."""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["FailureBudget", "PipelineFailure"]

# A rate budget is not checked before a stage has processed this many items (or
# 1/rate items, if more), so that a few early failures do not stop a long run.
MIN_ITEMS_FOR_RATE = 10
# Before the end, a rate budget stops a stage only when its failures pass the budget by
# this many standard deviations of a stage that fails at the budget's rate: a stage
# that fails less often, at random, is then not stopped by an unlucky stretch (5% of
# items failing under a 0.1 budget stopped 3 runs in 10 without the margin, 0 in 500
# with it; 20% under 0.25: 6 in 10, 1 in 500).
RATE_MARGIN_SIGMAS = 3.0


class PipelineFailure(RuntimeError):
    """A stage dropped more failing items than the pipeline's ``max_failures`` allows.

    Raised by the pipeline's iterator (after the items already in the sink) once the
    pipeline has stopped. The last error the stage's op raised is ``__cause__``.

    Attributes:
        stage: The name of the stage that failed.
        num_failures: Items that failed in that stage.
        num_processed: Items that stage had processed (failed or not).

    Example:
        >>> from spdl.pipeline import PipelineBuilder, PipelineFailure
        >>> def check(x):
        ...     if x == 3:
        ...         raise ValueError(f"bad item {x}")
        ...     return x
        >>> pipeline = (
        ...     PipelineBuilder().add_source(range(5)).pipe(check).add_sink(1).build(num_threads=1)
        ... )
        >>> try:
        ...     with pipeline.auto_stop():
        ...         items = list(pipeline)
        ... except PipelineFailure as failure:
        ...     print(failure.stage, failure.num_failures, repr(failure.__cause__))
        check 1 ValueError('bad item 3')
    """

    def __init__(self, message: str, *, stage: str, num_failures: int, num_processed: int):
        super().__init__(message)
        self.stage = stage
        self.num_failures = num_failures
        self.num_processed = num_processed

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled with its fields (a process pool sends it back to its parent).
        fields = {"stage": self.stage, "num_failures": self.num_failures}
        fields["num_processed"] = self.num_processed
        return (_rebuild_failure, (str(self), fields), self.__dict__)


def _rebuild_failure(message: str, fields: dict[str, Any]) -> PipelineFailure:
    return PipelineFailure(message, **fields)


class FailureBudget:
    """``max_failures`` of :meth:`PipelineBuilder.build`, checked per stage.

    * an ``int`` ``n >= 0``: a stage may drop ``n`` items; the ``n + 1``-th failure
      stops the pipeline (``0``: the first failure stops it). A negative ``int``
      allows any number of failures.
    * a ``float`` (or ``fractions.Fraction``) ``r`` in ``(0, 1)``: a stage may drop up
      to ``r`` of the items it has processed. Checked at each failure once the stage
      has processed at least ``max(10, ceil(1 / r))`` items, with a margin of three
      standard deviations (``3 * sqrt(r * (1 - r) * n)`` items after ``n``), and once
      more, exactly, after its last item.
    """

    def __init__(self, max_failures: int | float) -> None:
        value: object = max_failures  # any numbers.Real (NumPy's, Fraction) is accepted
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"max_failures must be an int or a fraction in (0, 1), got {max_failures!r}"
            )
        self.spec = max_failures
        self._count: int | None = None
        self._rate: float | None = None
        self._min_items = 0
        if isinstance(value, numbers.Integral):
            self._count = int(value)
        elif 0 < float(value) < 1:
            self._rate = float(value)
            self._min_items = max(MIN_ITEMS_FOR_RATE, math.ceil(1 / self._rate))
        else:
            raise ValueError(
                "max_failures must be an int (a count) or a number in (0, 1) (a fraction of "
                f"the items), got {max_failures!r}"
            )

    def exceeded(self, num_failures: int, num_processed: int, *, final: bool = False) -> bool:
        """Whether a stage with these counts is over budget."""
        if self._count is not None:
            return 0 <= self._count < num_failures
        assert self._rate is not None
        if not final and num_processed < self._min_items:
            return False
        rate = self._rate
        margin = 0.0 if final else RATE_MARGIN_SIGMAS * math.sqrt(rate * (1 - rate) * num_processed)
        # The epsilon keeps e.g. 1 failure in 10 items within a 0.1 budget.
        return num_failures > rate * num_processed + margin + 1e-9

    def describe(self) -> str:
        if self._count is not None:
            return f"max_failures={self._count}"
        return f"max_failures={self.spec} (a fraction of the items)"
