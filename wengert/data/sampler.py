"""Batch samplers: which rows of the data make each mini-batch.

A batch sampler yields, for every mini-batch, something that indexes the
first axis of the data (an integer array, or a ``slice`` when nothing is
shuffled).  :class:`BatchSampler` is the one-process order that
:class:`~wengert.data.DataLoader` uses by default; :class:`DistributedSampler`
cuts each of those same batches into one part per MPI rank, so that the ranks
of a data-parallel run together see exactly the batches of a one-process run.

>>> from wengert import data
>>> [list(range(10))[b] for b in data.BatchSampler(10, batch_size=4)]
[[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
>>> [[list(range(10))[b] for b in data.DistributedSampler(10, 4, num_replicas=2, rank=r)] for r in (0, 1)]
[[[0, 1], [4, 5], [8]], [[2, 3], [6, 7], [9]]]
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


class BatchSampler:
    """The batches of one epoch over ``num_samples`` rows, ``batch_size`` rows each.

    ``shuffle=True`` draws a new permutation every epoch from a generator
    seeded with ``seed`` (``np.random.default_rng(seed)``), so a run is
    reproducible; ``drop_last`` skips a final short batch.  Iterating yields
    one index per batch: a ``slice`` in order, an integer array when shuffled.
    """

    def __init__(self, num_samples: int, batch_size: int, shuffle: bool = False, seed: int | None = 0,
                 drop_last: bool = False) -> None:
        name = type(self).__name__
        if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 0:
            raise ValueError(f"{name}: num_samples must be an integer >= 0, got {num_samples!r}")
        self.num_samples = int(num_samples)
        self.batch_size = _positive_int(batch_size, f"{name}: batch_size")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def global_batches(self) -> Iterator[Any]:
        """The whole batches of the next epoch (draws the epoch's permutation when shuffling)."""
        n, b = self.num_samples, self.batch_size
        order = self.rng.permutation(n) if self.shuffle else None
        for k in range(len(self)):
            lo, hi = k * b, min(n, (k + 1) * b)
            yield slice(lo, hi) if order is None else order[lo:hi]

    def __iter__(self) -> Iterator[Any]:
        return self.global_batches()

    def state_dict(self) -> dict:
        """The shuffling generator's state (to resume a run exactly); JSON-serialisable."""
        return {"bit_generator": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Restore the shuffling generator saved by :meth:`state_dict`."""
        self.rng.bit_generator.state = state["bit_generator"]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_samples} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}{self._extra_repr()})")

    def _extra_repr(self) -> str:
        return ""


class DistributedSampler(BatchSampler):
    """This rank's part of every global batch: data parallelism that equals the one-process run.

    Every rank draws the same permutation (same ``seed``) and so the same
    global batches of ``batch_size`` rows as a one-process
    :class:`BatchSampler`; rank ``r`` of ``num_replicas`` takes rows
    ``[lo + (m * r) // R, lo + (m * (r + 1)) // R)`` of a global batch that
    starts at ``lo`` and has ``m`` rows.  The parts differ by at most one row,
    together they are the global batch, and over an epoch every example is seen
    exactly once by exactly one rank.  A short last batch can leave a rank with
    an empty part (fewer rows than ranks): that rank still takes part in the
    gradient average, with weight 0 (see
    :func:`wengert.distributed.allreduce_gradients`).

    Unlike PyTorch's ``DistributedSampler``, which gives each rank a fixed
    share of the epoch, this splits each global batch, so ``batch_size`` is
    the *global* batch and no example is repeated to pad the ranks;
    ``set_epoch`` is not needed: each epoch draws the next permutation.

    ``num_replicas`` and ``rank`` default to those of
    :func:`wengert.distributed.init` (1 and 0 in a single process).

    >>> from wengert import data
    >>> s = data.DistributedSampler(7, batch_size=4, num_replicas=3, rank=2)
    >>> [list(range(7))[b] for b in s]          # global batches [0..3] and [4, 5, 6]
    [[2, 3], [6]]
    >>> len(s)
    2
    """

    def __init__(self, num_samples: int, batch_size: int, shuffle: bool = False, seed: int | None = 0,
                 drop_last: bool = False, num_replicas: int | None = None, rank: int | None = None) -> None:
        super().__init__(num_samples, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
        if num_replicas is None or rank is None:
            from .. import distributed

            world = distributed.init()
            num_replicas = world.size if num_replicas is None else num_replicas
            rank = world.rank if rank is None else rank
        self.num_replicas = _positive_int(num_replicas, "DistributedSampler: num_replicas")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: rank must be an integer in [0, {self.num_replicas}) "
                             f"(num_replicas={self.num_replicas}), got {rank!r}")
        self.rank = int(rank)

    def part(self, batch: Any) -> Any:
        """This rank's rows of one global batch (a slice or an index array, as the batch is)."""
        if isinstance(batch, slice):
            m = batch.stop - batch.start
            return slice(batch.start + (m * self.rank) // self.num_replicas,
                         batch.start + (m * (self.rank + 1)) // self.num_replicas)
        m = len(batch)
        return batch[(m * self.rank) // self.num_replicas: (m * (self.rank + 1)) // self.num_replicas]

    def __iter__(self) -> Iterator[Any]:
        for batch in self.global_batches():
            yield self.part(batch)

    def _extra_repr(self) -> str:
        return f", rank {self.rank} of {self.num_replicas}"


__all__ = ["BatchSampler", "DistributedSampler"]
