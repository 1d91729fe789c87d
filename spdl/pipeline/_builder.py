"""``PipelineBuilder``: declares a chain of stages, then builds a :class:`Pipeline`."""

from __future__ import annotations

import numbers
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Any, Generic, TypeVar, cast, overload

from ._failures import FailureBudget
from ._ops import OpKind, classify_op, op_name
from ._pipeline import Pipeline
from ._runtime import Runtime
from ._stages import AggregateSpec, DisaggregateSpec, PipeSpec, StepSpec

__all__ = ["PipelineBuilder"]

_OUTPUT_ORDERS = ("completion", "input")

T = TypeVar("T", covariant=True)  # the items at the end of the chain so far
U = TypeVar("U")  # the items of the stage being added


def check_interval(seconds: object) -> None:
    """``report_stats_interval``'s check: a positive number of seconds, ``math.inf`` for
    the final report only (0 or a bool, which turned every report off or read as 1 s,
    raise)."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        raise TypeError(f"report_stats_interval must be a number or None, got {seconds!r}")
    if not float(seconds) > 0:  # NaN too
        raise ValueError(
            f"report_stats_interval must be a positive number of seconds, got {seconds!r}"
        )


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")


class PipelineBuilder(Generic[T]):
    """Declares a pipeline: a source, stages, and a sink. Then :meth:`build` it.

    The names and arguments follow Meta's SPDL (``spdl.pipeline.PipelineBuilder``), with
    three differences for code written for it: ``build(max_failures=...)`` defaults to
    0, so the first failing item stops the run as it does in torch's DataLoader (pass
    -1 to log and skip failures instead); ``add_sink`` needs a buffer of at least 1;
    and ``pipe`` takes callables only (not a mapping to look items up in). Every
    method but :meth:`build` returns the builder, so calls chain. For type checkers
    the builder is generic in the type of the items its last stage puts out, so the
    built ``Pipeline[T]`` yields typed items.

    Example:
        >>> from spdl.pipeline import PipelineBuilder
        >>> def load(path):
        ...     return path.upper()
        >>> def split(text):
        ...     yield from text
        >>> pipeline = (
        ...     PipelineBuilder()
        ...     .add_source(["ab", "cd"])
        ...     .pipe(load, concurrency=2, output_order="input")
        ...     .pipe(split)
        ...     .aggregate(3, drop_last=True)
        ...     .add_sink(4)
        ...     .build(num_threads=2)
        ... )
        >>> with pipeline.auto_stop():
        ...     print(list(pipeline))
        [['A', 'B', 'C']]
    """

    def __init__(self) -> None:
        self._source: Iterable[Any] | AsyncIterable[Any] | None = None
        self._steps: list[tuple[str, dict[str, Any]]] = []
        self._buffer_size: int | None = None

    def add_source(self, source: Iterable[U] | AsyncIterable[U]) -> PipelineBuilder[U]:
        """Set the iterable the pipeline takes its items from.

        A sync source is iterated on a thread of its own, so a source that blocks
        (reads a socket, lists a bucket) holds up neither the other stages nor
        :meth:`Pipeline.stop`. It runs ahead of the first stage by the queue between
        them: 16 items, or the stage's concurrency if that is more (the sink's size if
        there is no stage). Each ``next`` still runs one at a time: let the source
        yield keys and do the slow part in a :meth:`pipe` stage with concurrency. An
        async iterable is iterated on the event loop. An exception raised by the source
        ends the pipeline: the consumer receives the items produced before it, then the
        same exception.

        Args:
            source: A (sync) iterable or an async iterable.

        Returns:
            This builder.

        Raises:
            TypeError: If ``source`` is not iterable.
            ValueError: If a source was set before.
        """
        if self._source is not None:
            raise ValueError("The source is already set.")
        if not isinstance(source, (Iterable, AsyncIterable)):
            raise TypeError(f"The source must be an iterable or async iterable, got {source!r}")
        self._source = source
        return cast("PipelineBuilder[U]", self)

    # How each kind of op's output becomes the next stage's items (see ``pipe``).
    @overload
    def pipe(
        self,
        op: Callable[[T], AsyncIterator[U]],
        /,
        *,
        concurrency: int = ...,
        executor: Executor | None = ...,
        name: str | None = ...,
        output_order: str = ...,
        max_failures: int | float | None = ...,
    ) -> PipelineBuilder[U]: ...

    @overload
    def pipe(
        self,
        op: Callable[[T], Iterator[U]],
        /,
        *,
        concurrency: int = ...,
        executor: Executor | None = ...,
        name: str | None = ...,
        output_order: str = ...,
        max_failures: int | float | None = ...,
    ) -> PipelineBuilder[U]: ...

    @overload
    def pipe(
        self,
        op: Callable[[T], Awaitable[U | None]],
        /,
        *,
        concurrency: int = ...,
        executor: Executor | None = ...,
        name: str | None = ...,
        output_order: str = ...,
        max_failures: int | float | None = ...,
    ) -> PipelineBuilder[U]: ...

    @overload
    def pipe(
        self,
        op: Callable[[T], Future[U]],
        /,
        *,
        concurrency: int = ...,
        executor: Executor | None = ...,
        name: str | None = ...,
        output_order: str = ...,
        max_failures: int | float | None = ...,
    ) -> PipelineBuilder[U]: ...

    @overload
    def pipe(
        self,
        op: Callable[[T], U | None],
        /,
        *,
        concurrency: int = ...,
        executor: Executor | None = ...,
        name: str | None = ...,
        output_order: str = ...,
        max_failures: int | float | None = ...,
    ) -> PipelineBuilder[U]: ...

    def pipe(
        self,
        op: Callable[[T], Any],
        /,
        *,
        concurrency: int = 1,
        executor: Executor | None = None,
        name: str | None = None,
        output_order: str = "completion",
        max_failures: int | float | None = None,
    ) -> PipelineBuilder[Any]:
        """Add a stage that applies ``op`` to every item.

        ``op`` takes one item and may be:

        * a function: it runs on the pipeline's thread pool (or ``executor``);
        * an async function: it runs on the event loop (it must not block);
        * a generator function or async generator function: every item it yields goes
          downstream separately (so one input can give many outputs).

        An output that is ``None`` is dropped. An output that is a
        ``concurrent.futures.Future`` (what ``spdl.io.demux_media`` and friends return)
        or a coroutine is awaited and its result goes downstream instead; stopping
        the pipeline cancels such Futures. An exception from ``op`` drops that item
        and counts as a failure of this stage (see ``max_failures`` in :meth:`build`).

        Args:
            op: The operation.
            concurrency: How many items this stage processes at once.
            executor: Runs a sync ``op`` instead of the pipeline's thread pool (a
                generator op runs each step there). The pipeline does not shut it
                down. A ``ProcessPoolExecutor`` suits picklable function ops only.
            name: The stage's name in logs and statistics. Defaults to the op's
                ``__name__``; a repeated name gets a suffix (``decode``, ``decode_1``).
            output_order: ``"completion"`` passes items on as soon as they are done;
                ``"input"`` keeps the order of the input (a generator op behind the
                oldest item in flight pauses after one output until its turn comes);
                a failure then counts in that order too, so the items before it are
                passed on first, even when it ends the run: the later stages then
                finish them (an ``aggregate`` drops the batch the failure cut short),
                the consumer gets them, then the error.
            max_failures: This stage's failure budget, in place of the one given to
                :meth:`build` (same meaning).

        Returns:
            This builder.

        Raises:
            TypeError: If ``op`` is not callable or an argument has the wrong type.
            ValueError: If an argument has an invalid value, or ``executor`` is given
                for an async op.
        """
        if not callable(op):
            raise TypeError(f"op must be callable, got {op!r}")
        _check_positive_int("concurrency", concurrency)
        if output_order not in _OUTPUT_ORDERS:
            raise ValueError(f"output_order must be 'completion' or 'input', got {output_order!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, got {name!r}")
        if executor is not None and not isinstance(executor, Executor):
            raise TypeError(f"executor must be a concurrent.futures.Executor, got {executor!r}")
        budget = None if max_failures is None else FailureBudget(max_failures)
        kind = classify_op(op)
        if executor is not None and kind in (OpKind.COROUTINE, OpKind.ASYNC_GENERATOR):
            raise ValueError(f"executor is for sync ops; {op_name(op)!r} is an {kind.value}.")
        self._steps.append(
            (
                "pipe",
                {
                    "name": name or op_name(op),
                    "op": op,
                    "kind": kind,
                    "concurrency": concurrency,
                    "executor": executor,
                    "output_order": output_order,
                    "budget": budget,
                },
            )
        )
        return self

    def aggregate(self, num_items: int, /, *, drop_last: bool = False) -> PipelineBuilder[list[T]]:
        """Add a stage that groups every ``num_items`` items into a list.

        Args:
            num_items: The size of each list.
            drop_last: Drop the last, shorter list instead of passing it on.

        Returns:
            This builder.

        Raises:
            TypeError: If ``num_items`` is not an int.
            ValueError: If ``num_items`` is smaller than 1.
        """
        _check_positive_int("num_items", num_items)
        self._steps.append(
            ("aggregate", {"name": "aggregate", "num_items": num_items, "drop_last": drop_last})
        )
        return cast("PipelineBuilder[list[T]]", self)

    def disaggregate(self: PipelineBuilder[Iterable[U]]) -> PipelineBuilder[U]:
        """Add a stage that passes on each element of an item (a list, or any iterable).

        An iterable without a length (a generator, say) is read one element at a time
        on the worker threads, each element passed on before the next is read. An item
        that is not iterable, or whose iteration raises part-way (after the elements
        before the error went on), counts as a failure of this stage.

        Returns:
            This builder.
        """
        self._steps.append(("disaggregate", {"name": "disaggregate"}))
        return cast("PipelineBuilder[U]", self)

    def add_sink(self, buffer_size: int = 3) -> PipelineBuilder[T]:
        """Set the size of the output queue that the user's loop reads.

        Args:
            buffer_size: The most finished items kept waiting for the consumer.

        Returns:
            This builder.

        Raises:
            TypeError: If ``buffer_size`` is not an int.
            ValueError: If ``buffer_size`` is smaller than 1, or a sink was set before.
        """
        if self._buffer_size is not None:
            raise ValueError("The sink is already set.")
        _check_positive_int("buffer_size", buffer_size)
        self._buffer_size = buffer_size
        return self

    def build(
        self,
        *,
        num_threads: int,
        max_failures: int | float = 0,
        report_stats_interval: float | None = None,
    ) -> Pipeline[T]:
        """Create the pipeline (it starts when started or first iterated).

        Args:
            num_threads: Threads of the pool that runs the sync ops (and the async
                ops' ``asyncio.to_thread`` calls).
            max_failures: How many failing items each stage may drop before the
                pipeline stops with :class:`PipelineFailure`.

                * an ``int``: a count per stage; ``0`` (the default) stops at the first
                  failure, a negative number allows any number of failures.
                * a ``float`` (or ``fractions.Fraction``) in ``(0, 1)``: a fraction of
                  the items the stage has processed. It is checked at each failure
                  once the stage has processed at least ``max(10, ceil(1 / fraction))``
                  items, with a margin of three standard deviations of a stage failing
                  at that rate (so an unlucky stretch of a stage failing less often
                  does not stop a long run), and again, exactly, after its last item.

                Every failure is logged (logger ``spdl.pipeline``, with the stage and
                the item; the traceback with the first failure of each stage).
            report_stats_interval: If given, log :meth:`PipelineStats.report` to the
                logger ``spdl.pipeline`` (level ``INFO``) every this many seconds, and
                once when the pipeline ends.

        Returns:
            The pipeline.

        Raises:
            ValueError: If the source or the sink is missing, or an argument is invalid.
            TypeError: If an argument has the wrong type.
        """
        if self._source is None:
            raise ValueError("The pipeline has no source; call add_source() first.")
        if self._buffer_size is None:
            raise ValueError("The pipeline has no sink; call add_sink() last.")
        _check_positive_int("num_threads", num_threads)
        budget = FailureBudget(max_failures)
        if report_stats_interval is not None:
            check_interval(report_stats_interval)
        return Pipeline(
            Runtime(
                source=self._source,
                steps=self._specs(),
                buffer_size=self._buffer_size,
                num_threads=num_threads,
                budget=budget,
                report_stats_interval=report_stats_interval,
            )
        )

    def _specs(self) -> list[StepSpec]:
        """The steps with unique names (``decode``, ``decode_1``, ...)."""
        used = {"source", "sink"}
        specs: list[StepSpec] = []
        for kind, args in self._steps:
            base = name = args["name"]
            suffix = 0
            while name in used:
                suffix += 1
                name = f"{base}_{suffix}"
            used.add(name)
            args = {**args, "name": name}
            if kind == "pipe":
                specs.append(PipeSpec(**args))
            elif kind == "aggregate":
                specs.append(AggregateSpec(**args))
            else:
                specs.append(DisaggregateSpec(**args))
        return specs
