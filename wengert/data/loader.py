"""Batching: a ``DataLoader``-style iterator with seeded shuffling, and a train/test split.

>>> import numpy as np
>>> from wengert import data
>>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
>>> loader = data.DataLoader((X, y), batch_size=2, shuffle=True, seed=0)
>>> [yb.tolist() for _, yb in loader]
[[2, 4], [3, 0], [1]]
>>> len(loader)
3
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from .sampler import BatchSampler


def _as_arrays(arrays: Any) -> tuple:
    if isinstance(arrays, (np.ndarray, Tensor)):
        arrays = (arrays,)
    out = tuple(a.data if isinstance(a, Tensor) else np.asarray(a) for a in arrays)
    if not out:
        raise ValueError("DataLoader: need at least one array")
    n = len(out[0]) if out[0].ndim else 0
    for a in out:
        if a.ndim == 0 or len(a) != n:
            shapes = ", ".join(str(b.shape) for b in out)
            raise ValueError(f"DataLoader: all arrays need the same first dimension (one row per sample), got {shapes}")
    return out


class DataLoader:
    """Iterate over mini-batches of one or more arrays that share their first dimension.

    ``shuffle=True`` draws a new permutation every epoch from a generator
    seeded with ``seed``, so a run is reproducible; ``drop_last`` skips a
    final short batch.  Batches are NumPy arrays (wrap them with
    ``wg.tensor`` or pass them straight to a module).

    ``batch_sampler`` chooses the rows of each batch instead (it then holds
    the batch size, the shuffling and ``drop_last``): a
    :class:`~wengert.data.DistributedSampler` gives each MPI rank its part of
    every global batch.

    >>> import numpy as np
    >>> from wengert import data
    >>> X = np.arange(10.0)
    >>> part = data.DistributedSampler(len(X), batch_size=4, num_replicas=2, rank=1)
    >>> [xb.tolist() for xb in data.DataLoader(X, batch_sampler=part)]
    [[2.0, 3.0], [6.0, 7.0], [9.0]]
    """

    def __init__(self, arrays: Sequence[Any] | np.ndarray, batch_size: int = 32, shuffle: bool = False,
                 seed: int | None = 0, drop_last: bool = False, *, batch_sampler: BatchSampler | None = None) -> None:
        self.arrays = _as_arrays(arrays)
        if batch_sampler is None:
            if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
                raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
            batch_sampler = BatchSampler(len(self.arrays[0]), batch_size, shuffle=shuffle, seed=seed,
                                         drop_last=drop_last)
        else:
            if batch_size != 32 or shuffle or seed != 0 or drop_last:
                raise ValueError("DataLoader: with a batch_sampler, give batch_size, shuffle, seed and drop_last "
                                 "to the sampler, not to the DataLoader")
            if not hasattr(batch_sampler, "state_dict"):
                raise TypeError(f"DataLoader: batch_sampler must be a BatchSampler (such as DistributedSampler), "
                                f"got {type(batch_sampler).__name__}")
            if batch_sampler.num_samples != len(self.arrays[0]):
                raise ValueError(f"DataLoader: the batch_sampler covers {batch_sampler.num_samples} samples, "
                                 f"the arrays have {len(self.arrays[0])}")
        self.batch_sampler = batch_sampler
        self.single = isinstance(arrays, (np.ndarray, Tensor))

    @property
    def batch_size(self) -> int:
        return self.batch_sampler.batch_size

    @property
    def shuffle(self) -> bool:
        return self.batch_sampler.shuffle

    @property
    def drop_last(self) -> bool:
        return self.batch_sampler.drop_last

    @property
    def rng(self) -> np.random.Generator:
        """The shuffling generator (the batch sampler's)."""
        return self.batch_sampler.rng

    @property
    def num_samples(self) -> int:
        return len(self.arrays[0])

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[Any]:
        for idx in self.batch_sampler:
            batch = tuple(a[idx] for a in self.arrays)
            yield batch[0] if self.single else batch

    def state_dict(self) -> dict:
        """The shuffling generator's state (to resume a run exactly); JSON-serialisable."""
        return self.batch_sampler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Restore the shuffling generator saved by :meth:`state_dict`."""
        self.batch_sampler.load_state_dict(state)

    def __repr__(self) -> str:
        return (f"DataLoader({self.num_samples} samples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last})")


def train_test_split(*arrays: Any, test_fraction: float = 0.2, seed: int = 0, stratify: Any = None) -> list:
    """Split arrays into train and test parts: returns ``[a_train, a_test, b_train, b_test, ...]``.

    With ``stratify=labels`` each class keeps its share in both parts.

    >>> import numpy as np
    >>> from wengert import data
    >>> Xtr, Xte, ytr, yte = data.train_test_split(np.zeros((10, 2)), np.arange(10), test_fraction=0.3)
    >>> Xtr.shape, Xte.shape
    ((7, 2), (3, 2))
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"train_test_split: test_fraction must lie in (0, 1), got {test_fraction}")
    arrs = _as_arrays(arrays)
    n = len(arrs[0])
    rng = np.random.default_rng(seed)
    if stratify is None:
        order = rng.permutation(n)
        n_test = max(1, round(n * test_fraction))
        test, train = order[:n_test], order[n_test:]
    else:
        labels = np.asarray(stratify)
        if len(labels) != n:
            raise ValueError(f"train_test_split: stratify has {len(labels)} labels for {n} samples")
        test_parts, train_parts = [], []
        for c in np.unique(labels):
            idx = rng.permutation(np.flatnonzero(labels == c))
            k = round(len(idx) * test_fraction)
            test_parts.append(idx[:k])
            train_parts.append(idx[k:])
        test, train = rng.permutation(np.concatenate(test_parts)), rng.permutation(np.concatenate(train_parts))
    if len(train) == 0:
        raise ValueError(f"train_test_split: nothing left for training ({n} samples, test_fraction {test_fraction})")
    out = []
    for a in arrs:
        out.extend([a[train], a[test]])
    return out


__all__ = ["DataLoader", "train_test_split"]
