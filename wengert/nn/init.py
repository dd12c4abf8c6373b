"""Initialisers: fill a parameter in place from a seeded ``numpy.random.Generator``.

Every layer draws its initial weights from a generator: the one you pass
(``rng=np.random.default_rng(0)`` or ``rng=0``), or wengert's default
generator, which ``wg.manual_seed`` (or :func:`seed`, the same) reseeds, as
``torch.manual_seed`` seeds PyTorch's layers.  The same seed gives the same network.

>>> import numpy as np
>>> import wengert as wg
>>> from wengert import nn
>>> _ = wg.manual_seed(0); a = nn.Linear(3, 2).weight.data.copy()
>>> _ = wg.manual_seed(0); b = nn.Linear(3, 2).weight.data.copy()
>>> bool(np.array_equal(a, b))
True
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..ops.random import default_generator, manual_seed


def seed(value: int) -> None:
    """Reseed wengert's default generator (``wg.manual_seed``), which layers created without ``rng=`` draw from."""
    manual_seed(value)


def get_rng(rng: Any = None) -> np.random.Generator:
    """``rng`` as a Generator: a Generator is used as is, an int seeds a new one, None gives the default."""
    if rng is None:
        return default_generator()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _fans(shape: tuple) -> tuple:
    """(fan_in, fan_out) of a weight: (out, in) for Linear, (out, in, kh, kw) for Conv2d."""
    if len(shape) < 2:
        raise ValueError(f"fan_in/fan_out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (as in PyTorch)."""
    if nonlinearity in ("linear", "sigmoid", "conv2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1.0 + slope * slope))
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    t.data = values.astype(t.dtype)
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0, rng: Any = None) -> Tensor:
    """Fill with U(a, b)."""
    return _fill(t, get_rng(rng).uniform(a, b, t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, rng: Any = None) -> Tensor:
    """Fill with N(mean, std^2)."""
    return _fill(t, mean + std * get_rng(rng).standard_normal(t.shape))


def zeros_(t: Tensor) -> Tensor:
    """Fill with zeros."""
    return _fill(t, np.zeros(t.shape))


def ones_(t: Tensor) -> Tensor:
    """Fill with ones."""
    return _fill(t, np.ones(t.shape))


def xavier_uniform_(t: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    """Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t.shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a, rng)


def xavier_normal_(t: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t.shape)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def _kaiming_std(t: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    fan_in, fan_out = _fans(t.shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "relu",
                     rng: Any = None) -> Tensor:
    """He: U(-b, b) with b = gain * sqrt(3 / fan)."""
    b = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -b, b, rng)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "relu",
                    rng: Any = None) -> Tensor:
    """He: N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity), rng)


# names without the trailing underscore, as the issue and many tutorials spell them
uniform = uniform_
normal = normal_
zeros = zeros_
ones = ones_
xavier_uniform = xavier_uniform_
xavier_normal = xavier_normal_
kaiming_uniform = kaiming_uniform_
kaiming_normal = kaiming_normal_

__all__ = [
    "calculate_gain",
    "get_rng",
    "kaiming_normal",
    "kaiming_normal_",
    "kaiming_uniform",
    "kaiming_uniform_",
    "normal",
    "normal_",
    "ones",
    "ones_",
    "seed",
    "uniform",
    "uniform_",
    "xavier_normal",
    "xavier_normal_",
    "xavier_uniform",
    "xavier_uniform_",
    "zeros",
    "zeros_",
]
