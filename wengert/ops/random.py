"""Random tensors from one seeded generator: ``wg.manual_seed``, ``wg.randn``, ``wg.rand``, ``wg.randint``.

wengert draws from one NumPy ``Generator`` per process (PCG64, NumPy's
default, seeded with 0 at import).  ``wg.manual_seed(s)`` replaces it with a
fresh one seeded with ``s``, so that a program's random tensors, layers'
initial weights (``wengert.nn.init``), dropout masks and ``normal_``/``uniform_``
fills repeat exactly from that point on, as ``torch.manual_seed`` does.  Functions that take an explicit
``rng=``/``generator=`` use that one instead.  Distributions are NumPy's, so
the numbers differ from PyTorch's for the same seed.

>>> import wengert as wg
>>> _ = wg.manual_seed(0)
>>> a = wg.randn(2, 3)
>>> _ = wg.manual_seed(0)
>>> bool((wg.randn(2, 3) == a).all())
True
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import Tensor

# seeded at import (PyTorch's default generator has a fixed seed too): a program that never seeds
# still builds the same network each run
_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Seed wengert's generator (and return it): random tensors then repeat exactly."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: the seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator wengert draws from (see :func:`manual_seed`)."""
    return _generator


def _size(size: tuple) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _gen(generator: Any) -> np.random.Generator:
    return _generator if generator is None else generator


def randn(*size: Any, dtype: Any = np.float64, requires_grad: bool = False, generator: Any = None) -> Tensor:
    """Samples of N(0, 1) of the given size (``wg.randn(2, 3)`` or ``wg.randn((2, 3))``)."""
    return Tensor(_gen(generator).standard_normal(_size(size)).astype(dtype), requires_grad=requires_grad)


def rand(*size: Any, dtype: Any = np.float64, requires_grad: bool = False, generator: Any = None) -> Tensor:
    """Samples of U[0, 1) of the given size."""
    return Tensor(_gen(generator).random(_size(size)).astype(dtype), requires_grad=requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), generator: Any = None) -> Tensor:
    """Integers in [low, high) (or [0, low) with one bound), as NumPy's ``integers``."""
    if high is None:
        low, high = 0, low
    return Tensor(_gen(generator).integers(low, high, size=size))


def randperm(n: int, generator: Any = None) -> Tensor:
    """A random permutation of 0 .. n-1."""
    return Tensor(_gen(generator).permutation(int(n)))


__all__ = ["default_generator", "manual_seed", "rand", "randint", "randn", "randperm"]
