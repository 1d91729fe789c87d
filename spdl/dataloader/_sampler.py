"""Rank-aware, resumable samplers: which dataset indices this rank reads in an epoch.

Every rank computes the same permutation of ``range(num_items)`` for an epoch (from the
seed and the epoch only), brings it to a multiple of the world size (``uneven="pad"``
repeats its first items, ``"drop"`` cuts its tail) and takes every ``world_size``-th
item starting at its rank. So the ranks' shares are disjoint except for the padding,
together they cover the dataset, and each rank gets the same number of items: no rank
runs short of batches and leaves the others waiting in a collective.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from spdl.io._core.numbers import as_int

Uneven = Literal["pad", "drop"]
_UNEVEN = ("pad", "drop")


@runtime_checkable
class Sampler(Protocol):
    """What :class:`~spdl.dataloader.MapSource` needs from a sampler.

    :class:`RandomSampler` and :class:`SequentialSampler` implement it; any object with
    these members can stand in for them.
    """

    def __iter__(self) -> Iterator[int]: ...

    def __len__(self) -> int: ...

    @property
    def epoch(self) -> int: ...

    def set_epoch(self, epoch: int) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def _default_rank_and_world_size() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised torch.distributed process group; else the
    ``RANK`` and ``WORLD_SIZE`` environment variables (torchrun sets them before the
    script has initialised a group); else (0, 1).

    torch is not imported here: a process group can only exist once the program has
    imported ``torch.distributed`` itself.
    """
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    rank, world_size = os.environ.get("RANK"), os.environ.get("WORLD_SIZE")
    if rank is None or world_size is None:
        return 0, 1
    try:
        return int(rank), int(world_size)
    except ValueError:
        raise ValueError(
            f"the environment variables RANK={rank!r} and WORLD_SIZE={world_size!r} (set by "
            "torchrun) are not integers; pass rank= and world_size= to the sampler"
        ) from None


def _check_int(name: str, value: Any, minimum: int) -> int:
    return as_int(name, value, minimum, maximum=None)  # a seed may be 128 bits


class _ShardedSampler:
    """Shared logic of the samplers: shard an epoch's permutation across ranks."""

    def __init__(
        self, num_items: int, *, rank: int | None, world_size: int | None, uneven: Uneven
    ) -> None:
        if hasattr(num_items, "__len__") and not isinstance(num_items, (int, np.integer)):
            raise TypeError(
                f"num_items must be an int, got {type(num_items).__name__}: a sampler takes "
                "the dataset's size, pass len(dataset)"
            )
        self._num_items = _check_int("num_items", num_items, 1)
        if uneven not in _UNEVEN:
            raise ValueError(f"uneven must be 'pad' or 'drop', got {uneven!r}")
        self._uneven: Uneven = uneven
        self._epoch = 0
        # (rank, world_size) given; a default one is read when first needed, so that a
        # sampler built before init_process_group (mp.spawn) takes the group's.
        self._given = (
            None if rank is None else _check_int("rank", rank, 0),
            None if world_size is None else _check_int("world_size", world_size, 1),
        )
        self._shard: tuple[int, int] | None = None
        if None not in self._given:
            self._rank_and_world_size()

    def _rank_and_world_size(self) -> tuple[int, int]:
        """``(rank, world_size)``, fixed when first needed (see the class docs)."""
        if self._shard is None:
            default_rank, default_world_size = _default_rank_and_world_size()
            rank, world_size = self._given
            rank = default_rank if rank is None else rank
            world_size = default_world_size if world_size is None else world_size
            if rank >= world_size:
                raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank}")
            if self._uneven == "drop" and self._num_items < world_size:
                raise ValueError(
                    f"uneven='drop' leaves no items: num_items={self._num_items} is smaller "
                    f"than world_size={world_size}; use uneven='pad'"
                )
            self._shard = (rank, world_size)
        return self._shard

    def _permutation(self, epoch: int) -> list[int]:
        raise NotImplementedError

    @property
    def num_items(self) -> int:
        """The dataset size the sampler draws indices from."""
        return self._num_items

    @property
    def rank(self) -> int:
        """This process's rank."""
        return self._rank_and_world_size()[0]

    @property
    def world_size(self) -> int:
        """The number of ranks sharing the dataset."""
        return self._rank_and_world_size()[1]

    @property
    def uneven(self) -> Uneven:
        """``"pad"`` or ``"drop"``: how a dataset that does not divide evenly is shared."""
        return self._uneven

    @property
    def epoch(self) -> int:
        """The epoch whose indices the next iteration yields."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch (and so the permutation) of the next iteration.

        Args:
            epoch: A non-negative epoch number; every rank must use the same one.

        Raises:
            TypeError: If ``epoch`` is not an int.
            ValueError: If ``epoch`` is negative.
        """
        self._epoch = _check_int("epoch", epoch, 0)

    def __len__(self) -> int:
        """The number of indices this rank gets per epoch (the same on every rank)."""
        world_size = self.world_size
        if self._uneven == "pad":
            return -(-self._num_items // world_size)
        return self._num_items // world_size

    def indices(self, epoch: int | None = None) -> list[int]:
        """This rank's indices for an epoch, in order.

        Args:
            epoch: The epoch; ``None`` means :attr:`epoch`.

        Returns:
            ``len(self)`` indices into the dataset.
        """
        epoch = self._epoch if epoch is None else _check_int("epoch", epoch, 0)
        order = self._permutation(epoch)
        rank, world_size = self._rank_and_world_size()
        total = len(self) * world_size
        if total > len(order):  # "pad": repeat the permutation from its start
            repeats = -(-total // len(order))
            order = (order * repeats)[:total]
        return order[rank:total:world_size]

    def __iter__(self) -> Iterator[int]:
        """Yields this rank's indices for :attr:`epoch` (fixed when iteration starts)."""
        return iter(self.indices())

    def state_dict(self) -> dict[str, Any]:
        """The sampler's configuration and epoch, as plain data (JSON- and torch.save-able)."""
        return {**self._state(), "rank": self.rank, "world_size": self.world_size}

    def _state(self) -> dict[str, Any]:
        """The state but for the rank and world size (which may not be read yet)."""
        return {"epoch": self._epoch, "num_items": self._num_items, "uneven": self._uneven}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores the epoch from :meth:`state_dict`'s output.

        Args:
            state: A state saved by a sampler with the same configuration.

        Raises:
            ValueError: If the state was saved with another configuration (dataset size,
                rank, world size, seed, …) or lacks a key.
        """
        mine = self.state_dict()
        missing = sorted(set(mine) - set(state))
        if missing:
            raise ValueError(f"{type(self).__name__} state lacks {missing}: {state!r}")
        for key, value in mine.items():
            if key != "epoch" and state[key] != value:
                raise ValueError(
                    f"{type(self).__name__} state was saved with {key}={state[key]!r}, "
                    f"but this sampler has {key}={value!r}"
                )
        self.set_epoch(state["epoch"])

    def __repr__(self) -> str:
        # Not state_dict(): a repr (a log line) must not fix a default rank before
        # init_process_group; an unread one shows as None.
        rank, world_size = self._shard or self._given
        state = {**self._state(), "rank": rank, "world_size": world_size}
        options = ", ".join(f"{key}={value!r}" for key, value in state.items())
        return f"{type(self).__name__}({options})"


class RandomSampler(_ShardedSampler):
    """Shuffles the dataset anew each epoch and gives each rank its share.

    The permutation depends only on ``seed`` and the epoch, so it is the same on every
    rank and in every run: after a restart, the same (seed, epoch) gives the same order.

    Args:
        num_items: The dataset size; indices are ``0 .. num_items - 1``.
        seed: The shuffle seed; every rank must use the same one.
        rank: This process's rank; defaults to ``torch.distributed.get_rank()`` when a
            process group is initialised, else to the ``RANK`` environment variable
            when ``WORLD_SIZE`` is set too (torchrun sets both), else 0.
        world_size: The number of ranks; defaults to
            ``torch.distributed.get_world_size()`` when a process group is initialised,
            else to the ``WORLD_SIZE`` environment variable (with ``RANK``), else 1.
            A default is read when first needed (``len()``, iteration): a sampler
            built before ``init_process_group`` takes the group's.
        uneven: When ``num_items`` does not divide by ``world_size``: ``"pad"`` repeats
            items from the start of the epoch's permutation so each rank gets
            ``ceil(num_items / world_size)`` items; ``"drop"`` leaves out the
            permutation's last items so each gets ``floor(num_items / world_size)``.

    Raises:
        TypeError: If a count is not an int.
        ValueError: If ``num_items < 1``, ``rank`` is outside ``[0, world_size)``,
            ``uneven`` is unknown, ``"drop"`` would leave a rank no items, or the
            ``RANK``/``WORLD_SIZE`` variables used as defaults are not integers (for
            a default, when it is read).

    Example:
        >>> from spdl.dataloader import RandomSampler
        >>> sampler = RandomSampler(10, seed=0, rank=1, world_size=3)
        >>> len(sampler)  # ceil(10 / 3): one item is a repeat
        4
        >>> first = list(sampler)
        >>> sampler.set_epoch(1)
        >>> first != list(sampler)  # a new order each epoch
        True
    """

    def __init__(
        self,
        num_items: int,
        *,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        uneven: Uneven = "pad",
    ) -> None:
        super().__init__(num_items, rank=rank, world_size=world_size, uneven=uneven)
        self._seed = _check_int("seed", seed, 0)

    @property
    def seed(self) -> int:
        """The shuffle seed."""
        return self._seed

    def _permutation(self, epoch: int) -> list[int]:
        # SeedSequence mixes (seed, epoch) into independent streams: epoch e of seed s
        # is not epoch e + 1 of seed s - 1.
        generator = np.random.Generator(np.random.PCG64([self._seed, epoch]))
        return generator.permutation(self._num_items).tolist()

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "seed": self._seed}


class SequentialSampler(_ShardedSampler):
    """Gives each rank its share of the dataset in index order (the same every epoch).

    Rank ``r`` gets indices ``r, r + world_size, r + 2 * world_size, …``.

    Args:
        num_items: The dataset size; indices are ``0 .. num_items - 1``.
        rank: This process's rank; defaults to ``torch.distributed.get_rank()`` when a
            process group is initialised, else to the ``RANK`` environment variable
            when ``WORLD_SIZE`` is set too (torchrun sets both), else 0.
        world_size: The number of ranks; defaults to
            ``torch.distributed.get_world_size()`` when a process group is initialised,
            else to the ``WORLD_SIZE`` environment variable (with ``RANK``), else 1.
            A default is read when first needed (``len()``, iteration): a sampler
            built before ``init_process_group`` takes the group's.
        uneven: ``"pad"`` repeats the first indices so every rank gets
            ``ceil(num_items / world_size)``; ``"drop"`` leaves out the last ones so
            every rank gets ``floor(num_items / world_size)``.

    Raises:
        TypeError: If a count is not an int.
        ValueError: If ``num_items < 1``, ``rank`` is outside ``[0, world_size)``,
            ``uneven`` is unknown, ``"drop"`` would leave a rank no items, or the
            ``RANK``/``WORLD_SIZE`` variables used as defaults are not integers (for
            a default, when it is read).

    Example:
        >>> from spdl.dataloader import SequentialSampler
        >>> list(SequentialSampler(5, rank=0, world_size=2))  # padded with index 0
        [0, 2, 4]
        >>> list(SequentialSampler(5, rank=1, world_size=2))
        [1, 3, 0]
        >>> list(SequentialSampler(5, rank=1, world_size=2, uneven="drop"))
        [1, 3]
    """

    def __init__(
        self,
        num_items: int,
        *,
        rank: int | None = None,
        world_size: int | None = None,
        uneven: Uneven = "pad",
    ) -> None:
        super().__init__(num_items, rank=rank, world_size=world_size, uneven=uneven)

    def _permutation(self, epoch: int) -> list[int]:
        return list(range(self._num_items))
