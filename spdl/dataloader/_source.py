"""``MapSource``: a map-style dataset read in a sampler's order, one ``Sample`` per index."""

from __future__ import annotations

import inspect
from collections.abc import Container, Iterator, Sequence
from typing import Any, NamedTuple

from spdl.dataloader._sampler import Sampler


class Sample(NamedTuple):
    """One item of a :class:`MapSource`: where it came from and what it is.

    ``index`` and ``epoch`` identify the draw, so a transform can derive its random
    choices from ``(seed, epoch, index)`` and give the same result whatever the thread
    timing or the batch the sample lands in.

    Attributes:
        index: The item's index in the dataset.
        epoch: The epoch the item was drawn for.
        data: ``dataset[index]``.

    Example:
        >>> from spdl.dataloader import Sample
        >>> Sample(index=3, epoch=0, data="cat.jpg")
        Sample(index=3, epoch=0, data='cat.jpg')
    """

    # The field shadows tuple.index (public API: torch's samplers call it the index too).
    index: int  # type: ignore[assignment]
    epoch: int
    data: Any


class Draw(NamedTuple):
    """A sample not read yet: what the DataLoader's source yields for a MapSource."""

    index: int  # type: ignore[assignment]  # as Sample.index
    epoch: int


class MapSource:
    """Reads a map-style dataset (``len`` and ``[index]``) in a sampler's order.

    Iterating yields one :class:`Sample` per index the sampler gives for the current
    epoch, reading ``dataset[index]`` as the sample is yielded. A :class:`DataLoader`
    reads ``dataset[index]`` in its worker threads instead, ``num_threads`` at once
    (in the preprocessor's task, or in the aggregator's for the whole batch), so a
    ``__getitem__`` that loads and decodes, like a torch ``Dataset``'s, runs in
    parallel. Epoch and resume state belong to the sampler; these methods delegate to
    it.

    Args:
        dataset: The items: anything with ``__len__`` and ``__getitem__(int)``.
        sampler: Yields the indices to read, e.g. :class:`RandomSampler` or
            :class:`SequentialSampler` built with ``len(dataset)`` items.

    Raises:
        TypeError: If the sampler lacks what iterating needs: ``__iter__``, ``__len__``,
            ``epoch`` and ``set_epoch`` (a torch sampler has no epoch, or no resume
            state).
        ValueError: If the sampler was built for another dataset size.

    Example:
        >>> from spdl.dataloader import MapSource, SequentialSampler
        >>> source = MapSource(["a", "b", "c"], SequentialSampler(3, rank=0, world_size=1))
        >>> [sample.data for sample in source]
        ['a', 'b', 'c']
        >>> len(source)
        3
    """

    def __init__(self, dataset: Sequence[Any], sampler: Sampler) -> None:
        _check_sampler(sampler, ("__iter__", "__len__", "epoch", "set_epoch"), "iterate")
        num_items = getattr(sampler, "num_items", None)
        if num_items is not None and num_items != len(dataset):
            raise ValueError(
                f"the sampler draws from {num_items} items but the dataset has {len(dataset)}"
            )
        self._dataset = dataset
        self._sampler = sampler

    @property
    def dataset(self) -> Sequence[Any]:
        """The dataset items are read from."""
        return self._dataset

    @property
    def sampler(self) -> Sampler:
        """The sampler that orders the items."""
        return self._sampler

    @property
    def epoch(self) -> int:
        """The sampler's epoch: the one the next iteration reads."""
        return self._sampler.epoch

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch of the next iteration (see the sampler's ``set_epoch``).

        Args:
            epoch: The epoch number, the same on every rank.
        """
        self._sampler.set_epoch(epoch)

    def __len__(self) -> int:
        """The number of samples per epoch (the sampler's length)."""
        return len(self._sampler)

    def __iter__(self) -> Iterator[Sample]:
        """Yields a :class:`Sample` for each of the epoch's indices."""
        for _, sample in self.iter_positions():
            yield sample

    def iter_positions(self, skip: Container[int] = ()) -> Iterator[tuple[int, Sample]]:
        """Yields ``(position, sample)`` pairs of the current epoch, leaving out ``skip``.

        The position is the sample's place in the epoch's order (0, 1, 2, …); the
        DataLoader uses it to resume an epoch without reading the items it already
        delivered. The epoch and its order are fixed when this is called.

        Args:
            skip: Positions to leave out; their items are not read.

        Returns:
            An iterator of ``(position, Sample)`` pairs in the epoch's order.

        Example:
            >>> from spdl.dataloader import MapSource, SequentialSampler
            >>> source = MapSource("abcd", SequentialSampler(4, rank=0, world_size=1))
            >>> [(pos, sample.data) for pos, sample in source.iter_positions(skip={0, 2})]
            [(1, 'b'), (3, 'd')]
        """
        return ((position, self._read(draw)) for position, draw in self._draws(skip))

    def _draws(self, skip: Container[int] = ()) -> Iterator[tuple[int, Draw]]:
        """``iter_positions`` without reading the dataset (the DataLoader's source);
        ``_read`` turns each draw into its ``Sample``."""
        epoch = self._sampler.epoch
        indices = list(self._sampler)
        return (
            (position, Draw(index, epoch))
            for position, index in enumerate(indices)
            if position not in skip
        )

    def _read(self, draw: Draw) -> Sample:
        return Sample(draw.index, draw.epoch, self._dataset[draw.index])

    def state_dict(self) -> dict[str, Any]:
        """The sampler's state (configuration and epoch), as plain data.

        Raises:
            TypeError: If the sampler has no ``state_dict``.
        """
        _check_sampler(self._sampler, ("state_dict", "load_state_dict"), "resume")
        return self._sampler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the sampler's state saved by :meth:`state_dict`.

        Args:
            state: The saved state.

        Raises:
            TypeError: If the sampler has no ``load_state_dict``.
        """
        _check_sampler(self._sampler, ("state_dict", "load_state_dict"), "resume")
        self._sampler.load_state_dict(state)

    def __repr__(self) -> str:
        return f"MapSource(<{len(self._dataset)} items>, {self._sampler!r})"


def _check_sampler(sampler: object, names: tuple[str, ...], to: str) -> None:
    # getattr_static: a property that raises AttributeError (torch's samplers have no
    # epoch) must count as missing, not escape from hasattr.
    missing = [name for name in names if not _has(sampler, name)]
    if missing:
        raise TypeError(
            f"MapSource cannot {to} with a {type(sampler).__name__}: it lacks "
            f"{', '.join(missing)}. Use spdl.dataloader.RandomSampler(len(dataset)) or "
            "SequentialSampler(len(dataset)), or a sampler with the Sampler protocol."
        )


def _has(obj: object, name: str) -> bool:
    try:
        inspect.getattr_static(obj, name)
    except AttributeError:
        return False
    return True
