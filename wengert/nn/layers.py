"""Layers: Linear, Conv2d, pooling, Flatten, Dropout, Embedding, Sequential, activations.

Parameters default to float32; pass ``dtype=np.float64`` (or call
``.double()`` on the network) for float64.  Initial weights come from the
generator given as ``rng`` (a Generator or an int seed), else from the default
one of :mod:`wengert.nn.init`.

>>> import numpy as np, wengert as wg
>>> from wengert import nn
>>> net = nn.Sequential(nn.Linear(4, 8, rng=0), nn.ReLU(), nn.Linear(8, 3, rng=1))
>>> net(wg.tensor(np.ones((2, 4), dtype=np.float32))).shape
(2, 3)
>>> net(wg.tensor(np.ones((2, 5), dtype=np.float32)))
Traceback (most recent call last):
...
wengert.core.rule.ShapeError: Linear(in_features=4, out_features=8, bias=True): expected input of shape (..., 4), got input of shape (2, 5)
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..core.rule import ShapeError, apply
from ..core.tensor import Tensor, raw, shape_of
from ..ops import api as A
from ..ops import table as R
from . import functional as F
from . import init
from .module import Module, Parameter


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def layer_input(layer: Module, x: Any, dtype: Any) -> Tensor:
    """The input of a layer whose parameters have ``dtype``: data is converted, a tensor must match.

    NumPy arrays, lists and numbers are data: they are converted to the
    layer's dtype (NumPy's float64 default meets a float32 network, as
    ``torch.as_tensor(x, dtype=...)`` would).  A Tensor's dtype is a choice
    the graph keeps (its gradient comes back in it), so a Tensor of another
    dtype is an error that names both, as in PyTorch.  ``dtype=None`` (a
    layer without parameters) accepts any floating dtype.
    """
    if isinstance(x, Tensor):
        if dtype is not None and x.dtype != dtype:
            dt = np.dtype(dtype)
            raise TypeError(f"{layer!r}: got a {x.dtype} input but the layer's parameters are {dt}; convert the input "
                            f"(x.astype(np.{dt})) or the layer (.{'double' if dt == np.float32 else 'float'}())")
        return x
    arr = np.asarray(x)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    return Tensor(arr)


class Linear(Module):
    """``y = x @ W.T + b`` with ``W`` of shape ``(out_features, in_features)``.

    Initialised as in PyTorch: W and b ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = np.float32,
                 rng: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        g = init.get_rng(rng)
        bound = 1.0 / math.sqrt(in_features) if in_features else 0.0
        self.weight = Parameter(g.uniform(-bound, bound, (out_features, in_features)), dtype=dtype)
        if bias:
            self.bias = Parameter(g.uniform(-bound, bound, (out_features,)), dtype=dtype)
        else:
            self.bias = None

    def forward(self, x: Any) -> Tensor:
        w = self.weight
        if not isinstance(x, Tensor) or x.dtype != w.dtype:
            x = layer_input(self, x, w.dtype)
        s = x.shape
        if not s or s[-1] != self.in_features:
            raise ShapeError(f"{self!r}: expected input of shape (..., {self.in_features}), "
                             f"got input of shape {s}")
        b = self.bias
        if b is None:
            return apply(F.linear_rule, (x, w), F._NO_PARAMS)
        return apply(F.linear_rule, (x, w, b), F._NO_PARAMS)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) inputs, with stride and zero padding (PyTorch's init)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 bias: bool = True, dtype: Any = np.float32, rng: Any = None) -> None:
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = F._pair(kernel_size, "kernel_size")
        self.stride = F._pair(stride, "stride")
        self.padding = F._pair(padding, "padding")
        g = init.get_rng(rng)
        fan_in = in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = Parameter(g.uniform(-bound, bound, (out_channels, in_channels) + self.kernel_size), dtype=dtype)
        self.bias = Parameter(g.uniform(-bound, bound, (out_channels,)), dtype=dtype) if bias else None

    def forward(self, x: Any) -> Tensor:
        x = layer_input(self, x, self.weight.dtype)
        s = x.shape
        if len(s) != 4 or s[1] != self.in_channels:
            raise ShapeError(f"{self!r}: expected input of shape (N, {self.in_channels}, H, W), got shape {s}")
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, bias={self.bias is not None}")


class MaxPool2d(Module):
    """Maximum over windows of (N, C, H, W); stride defaults to the kernel size."""

    def __init__(self, kernel_size: Any, stride: Any = None) -> None:
        super().__init__()
        self.kernel_size = F._pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else F._pair(stride, "stride")

    def forward(self, x: Any) -> Tensor:
        _check_4d(self, x)
        return F.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class AvgPool2d(MaxPool2d):
    """Mean over windows of (N, C, H, W); stride defaults to the kernel size."""

    def forward(self, x: Any) -> Tensor:
        _check_4d(self, x)
        return F.avg_pool2d(x, self.kernel_size, self.stride)


def _check_4d(layer: Module, x: Any) -> None:
    s = shape_of(x)
    if len(s) != 4:
        raise ShapeError(f"{layer!r}: expected input of shape (N, C, H, W), got shape {s}")


class Flatten(Module):
    """Flatten the axes ``start_dim`` to ``end_dim`` (by default all but the batch axis) into one.

    >>> import numpy as np
    >>> from wengert import nn
    >>> nn.Flatten()(np.zeros((2, 3, 4, 5))).shape
    (2, 60)
    >>> nn.Flatten(0, 1)(np.zeros((2, 3, 4))).shape
    (6, 4)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Any) -> Tensor:
        x = _tensor(x)
        s = x.shape
        n = max(len(s), 1)  # (a 0-d input flattens to shape (1,), as in PyTorch)
        if not (-n <= self.start_dim < n and -n <= self.end_dim < n) or self.start_dim % n > self.end_dim % n:
            raise ShapeError(f"{self!r}: cannot flatten axes {self.start_dim}..{self.end_dim} of an input of shape {s}")
        start, end = self.start_dim % n, self.end_dim % n
        return R.reshape(x, shape=s[:start] + (int(np.prod(s[start: end + 1])),) + s[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size`` (the inverse of Flatten).

    >>> import numpy as np
    >>> from wengert import nn
    >>> nn.Unflatten(1, (3, 4))(np.zeros((2, 12))).shape
    (2, 3, 4)
    """

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        self.dim, self.unflattened_size = int(dim), tuple(int(k) for k in unflattened_size)

    def forward(self, x: Any) -> Tensor:
        x = _tensor(x)
        s = x.shape
        d = self.dim % len(s) if s else 0
        known = int(np.prod([k for k in self.unflattened_size if k != -1]))
        if not s or (-1 not in self.unflattened_size and known != s[d]) or (known and s[d] % known):
            raise ShapeError(f"{self!r}: axis {self.dim} of an input of shape {s} cannot be split into "
                             f"{self.unflattened_size}")
        return R.reshape(x, shape=s[:d] + self.unflattened_size + s[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability p and scale the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5, rng: Any = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)
        self.rng = init.get_rng(rng) if rng is not None else np.random.default_rng(init.get_rng().integers(2**32))

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Embedding(Module):
    """A lookup table: integer indices -> rows of ``weight`` (num_embeddings, embedding_dim), init N(0, 1)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: Any = np.float32, rng: Any = None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.weight = Parameter(init.get_rng(rng).standard_normal((num_embeddings, embedding_dim)), dtype=dtype)

    def forward(self, indices: Any) -> Tensor:
        idx = np.asarray(raw(indices))
        if idx.dtype.kind not in "iu":
            raise TypeError(f"{self!r}: indices must be integers, got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_embeddings):
            bad = idx[(idx < 0) | (idx >= self.num_embeddings)].flat[0]
            raise IndexError(f"{self!r}: index {int(bad)} is out of range [0, {self.num_embeddings})")
        return self.weight[idx]

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Sequential(Module):
    """Modules applied in order; indexable and iterable.

    >>> from wengert import nn
    >>> nn.Sequential(nn.Linear(2, 2, rng=0), nn.Tanh())
    Sequential(
      (0): Linear(in_features=2, out_features=2, bias=True)
      (1): Tanh()
    )
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], (OrderedDict, dict)):
            items = list(layers[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(layers)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: item {name} is a {type(m).__name__}, not a Module")
            setattr(self, name, m)
        self.__dict__["_layers"] = [m for _, m in items]

    def forward(self, x: Any) -> Any:
        call = Module.__call__
        for layer in self._layers:
            # a layer without hooks (and with Module's own __call__) is run by its forward directly:
            # what __call__ would do, without its frame and argument packing
            if layer._hooks is None and type(layer).__call__ is call:
                x = layer.forward(x)
            else:
                x = layer(x)
        return x

    def append(self, module: Module) -> Sequential:
        setattr(self, str(len(self._layers)), module)
        self._layers.append(module)
        return self

    def __getitem__(self, i: int) -> Module:
        return self._layers[i]

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._layers)


# ------------------------------------------------------------------ activations as modules


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x: Any) -> Tensor:
        return apply(R.relu, (x if isinstance(x, Tensor) else Tensor(x),), F._NO_PARAMS)


class Sigmoid(Module):
    """1 / (1 + e^-x), computed stably."""

    def forward(self, x: Any) -> Tensor:
        return R.sigmoid(_tensor(x))


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x: Any) -> Tensor:
        return R.tanh(_tensor(x))


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Tensor:
        return A.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """x * Phi(x) (``approximate='tanh'`` for the tanh form)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        return A.gelu(x, self.approximate)


class Softmax(Module):
    """softmax along ``dim`` (default: the last axis)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return A.softmax(x, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Identity(Module):
    """Returns its input."""

    def forward(self, x: Any) -> Any:
        return x


__all__ = [
    "GELU",
    "AvgPool2d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "Identity",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "Unflatten",
]
