"""Run data loading as concurrent stages joined by bounded queues.

A :class:`PipelineBuilder` declares a source iterable, a chain of stages (``pipe``,
``aggregate``, ``disaggregate``) and a sink; :meth:`PipelineBuilder.build` returns a
:class:`Pipeline` that runs the stages on an asyncio event loop in a background
thread, with sync ops on a thread pool, and yields the outputs to the user's loop.
Per-stage and per-queue statistics (:class:`PipelineStats`) show which stage is slow.
The package knows nothing about media: ``spdl.io`` functions are ordinary ops.
"""

from spdl.pipeline._builder import PipelineBuilder
from spdl.pipeline._failures import PipelineFailure
from spdl.pipeline._pipeline import Pipeline
from spdl.pipeline._stats import PipelineStats, QueueStats, StageStats

__all__ = [
    "Pipeline",
    "PipelineBuilder",
    "PipelineFailure",
    "PipelineStats",
    "QueueStats",
    "StageStats",
]
