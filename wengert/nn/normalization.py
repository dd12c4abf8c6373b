"""Normalisation layers with PyTorch's arguments, buffers and update rules.

``BatchNorm1d/2d/3d`` normalise each channel over the batch (and spatial
axes) in training, update ``running_mean`` / ``running_var`` with
``momentum`` (``momentum=None``: a cumulative average) and count
``num_batches_tracked``; in evaluation mode they use the running statistics.
``GroupNorm`` normalises groups of channels per sample and ``LayerNorm`` the
trailing axes, the same in both modes.  State dicts carry the same names as
PyTorch's (``weight``, ``bias``, ``running_mean``, ``running_var``,
``num_batches_tracked``), so a PyTorch state dict loads.

>>> import numpy as np
>>> from wengert import nn
>>> bn = nn.BatchNorm2d(3, dtype=np.float64)
>>> x = np.random.default_rng(0).normal(2.0, 3.0, size=(8, 3, 4, 4))
>>> y = bn(x)
>>> bool(abs(y.data.mean()) < 1e-12), round(float(y.data.std()), 4)
(True, 1.0)
>>> np.round(bn.running_mean, 2), int(bn.num_batches_tracked)
(array([0.16, 0.24, 0.17]), 1)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.rule import ShapeError
from ..core.tensor import Tensor
from . import functional as F
from .layers import layer_input
from .module import Module, Parameter


class _BatchNorm(Module):
    """What BatchNorm1d/2d/3d share; they differ in the input shapes they accept."""

    _shapes: tuple = ()  # accepted input ranks
    _layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        self.num_features, self.eps = int(num_features), float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if affine:
            self.weight = Parameter(np.ones(num_features), dtype=dtype)
            self.bias = Parameter(np.zeros(num_features), dtype=dtype)
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None
        self._dtype = np.dtype(dtype)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batch seen."""
        if self.track_running_stats:
            self.running_mean[...] = 0.0
            self.running_var[...] = 1.0
            self.num_batches_tracked[...] = 0

    def forward(self, x: Any) -> Tensor:
        x = layer_input(self, x, self._param_dtype())
        s = x.shape
        if len(s) not in self._shapes or s[1] != self.num_features:
            raise ShapeError(f"{self!r}: expected input of shape {self._layout} with C = {self.num_features}, "
                             f"got shape {s}")
        factor = 0.0 if self.momentum is None else self.momentum
        counting = self.training and self.track_running_stats
        if counting and self.momentum is None:  # a cumulative average of every batch seen, this one included
            factor = 1.0 / (float(self.num_batches_tracked) + 1.0)
        use_batch = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        y = F.batch_norm(x, self.running_mean if keep else None, self.running_var if keep else None,
                         self.weight, self.bias, use_batch, factor, self.eps)
        if counting:  # (after the batch is accepted: a rejected batch is not counted)
            self.num_batches_tracked += 1  # (a 0-d array: updated in place)
        return y

    def _param_dtype(self) -> Any:
        if self.weight is not None:
            return self.weight.dtype
        if self.running_mean is not None:
            return self.running_mean.dtype
        return self._dtype

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs over N (and L), per channel."""

    _shapes = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images over N, H and W, per channel."""

    _shapes = (4,)
    _layout = "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation of (N, C, D, H, W) volumes over N, D, H and W, per channel."""

    _shapes = (5,)
    _layout = "(N, C, D, H, W)"


class LayerNorm(Module):
    """Normalise over the trailing axes ``normalized_shape``, with an elementwise scale and shift.

    >>> import numpy as np
    >>> from wengert import nn
    >>> ln = nn.LayerNorm([2, 3], dtype=np.float64)
    >>> ln(np.arange(12.0).reshape(2, 2, 3)).data.std(axis=(1, 2)).round(4)
    array([1., 1.])
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, float(eps), bool(elementwise_affine)
        self.weight = Parameter(np.ones(shape), dtype=dtype) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape), dtype=dtype) if elementwise_affine and bias else None

    def forward(self, x: Any) -> Tensor:
        x = layer_input(self, x, None if self.weight is None else self.weight.dtype)
        k = len(self.normalized_shape)
        if x.shape[max(x.ndim - k, 0):] != self.normalized_shape or x.ndim < k:
            raise ShapeError(f"{self!r}: expected input ending in {self.normalized_shape}, got shape {x.shape}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Normalise each of ``num_groups`` groups of channels of (N, C, *) per sample; per-channel scale and shift.

    ``GroupNorm(1, C)`` normalises each sample over all its channels (like
    LayerNorm over (C, *)); ``GroupNorm(C, C)`` is instance normalisation.

    >>> import numpy as np
    >>> from wengert import nn
    >>> gn = nn.GroupNorm(2, 4, dtype=np.float64)
    >>> gn(np.arange(16.0).reshape(2, 4, 2)).shape
    (2, 4, 2)
    >>> nn.GroupNorm(3, 4)
    Traceback (most recent call last):
    ...
    ValueError: GroupNorm: num_channels (4) must be divisible by num_groups (3)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = int(num_groups), int(num_channels), float(eps), affine
        if affine:
            self.weight = Parameter(np.ones(num_channels), dtype=dtype)
            self.bias = Parameter(np.zeros(num_channels), dtype=dtype)
        else:
            self.weight = self.bias = None

    def forward(self, x: Any) -> Tensor:
        x = layer_input(self, x, None if self.weight is None else self.weight.dtype)
        s = x.shape
        if len(s) < 2 or s[1] != self.num_channels:
            raise ShapeError(f"{self!r}: expected input of shape (N, {self.num_channels}, *), got shape {s}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "LayerNorm"]
