"""Gradient clipping and parameter vectors, as ``torch.nn.utils``.

``clip_grad_norm_(parameters, max_norm)`` scales every gradient in place by
``min(1, max_norm / (total_norm + 1e-6))``, where ``total_norm`` is the norm
of all gradients taken together, and returns ``total_norm`` (a 0-d tensor);
``clip_grad_value_(parameters, clip_value)`` clamps each gradient element to
``[-clip_value, clip_value]`` in place and returns None.  Parameters without a
gradient are skipped.

>>> import numpy as np, wengert as wg
>>> from wengert import nn
>>> w = wg.tensor([3.0, 4.0], requires_grad=True)
>>> (w * w).sum().backward()                     # grad = (6, 8), norm 10
>>> nn.utils.clip_grad_norm_([w], max_norm=1.0)
tensor(10.)
>>> w.grad
tensor([0.6, 0.8])
>>> nn.utils.clip_grad_value_([w], 0.7)
>>> w.grad
tensor([0.6, 0.7])
"""
from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..core.tensor import Tensor


def _tensors(parameters: Any) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    is_generator = isinstance(parameters, types.GeneratorType)
    out = list(parameters)
    if is_generator and not out:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    return out


def _scale_in_place(g: Tensor, factor: float) -> None:
    """``g *= factor`` on the gradient's own array (a 0-d or read-only gradient gets a new array)."""
    a = g.data
    if a.ndim and a.flags.writeable:
        np.multiply(a, np.asarray(factor, dtype=a.dtype), out=a)
    else:
        g.data = a * np.asarray(factor, dtype=a.dtype)


def get_total_norm(tensors: Any, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` taken as one vector (``inf``: the largest absolute value).

    >>> import wengert as wg
    >>> from wengert import nn
    >>> nn.utils.get_total_norm([wg.tensor([3.0]), wg.tensor([4.0])])
    tensor(5.)
    """
    ts = _tensors(tensors)
    norm_type = float(norm_type)
    if not ts:
        return Tensor(np.array(0.0, dtype=np.float32))
    arrays = [np.asarray(t.data if isinstance(t, Tensor) else t) for t in ts]
    dtype = np.result_type(*arrays)
    # as PyTorch: the norm of the per-tensor norms
    norms = np.array([np.linalg.norm(a.reshape(-1), ord=norm_type) if a.size else 0.0 for a in arrays])
    total = np.linalg.norm(norms, ord=norm_type) if norms.size else 0.0
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           "cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           "anyway, set `error_if_nonfinite=False`")
    return Tensor(np.asarray(total, dtype=dtype))


def clip_grads_with_norm_(parameters: Any, max_norm: float, total_norm: Any, foreach: bool | None = None) -> None:
    """Scale the gradients in place by ``min(1, max_norm / (total_norm + 1e-6))`` (``total_norm`` given)."""
    grads = [p.grad for p in _tensors(parameters) if p.grad is not None]
    if not grads:
        return
    total = float(total_norm.item() if isinstance(total_norm, Tensor) else total_norm)
    coef = min(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        _scale_in_place(g, coef)


def clip_grad_norm_(parameters: Any, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale the gradients in place so that their joint norm is at most ``max_norm``; returns the norm before.

    ``norm_type`` is the p of the p-norm (``math.inf``: the largest absolute
    value).  With ``error_if_nonfinite=True`` a NaN or infinite norm is an
    error; otherwise the gradients are scaled by it anyway (as in PyTorch, to
    NaN).  ``foreach`` is accepted for PyTorch compatibility and ignored.
    """
    ps = _tensors(parameters)
    grads = [p.grad for p in ps if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(ps, max_norm, total)
    return total


def clip_grad_value_(parameters: Any, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``, in place."""
    clip_value = float(clip_value)
    for p in _tensors(parameters):
        g = p.grad
        if g is None:
            continue
        a = g.data
        if a.ndim and a.flags.writeable:
            np.clip(a, -clip_value, clip_value, out=a)
        else:
            g.data = np.clip(a, -clip_value, clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one (constant) vector."""
    arrays = [np.asarray(p.data).reshape(-1) for p in parameters]
    return Tensor(np.concatenate(arrays) if arrays else np.zeros(0))


def vector_to_parameters(vec: Any, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in place (the inverse of parameters_to_vector)."""
    v = np.asarray(vec.data if isinstance(vec, Tensor) else vec).reshape(-1)
    ps = list(parameters)
    need = sum(int(np.prod(p.shape)) for p in ps)
    if v.size != need:
        raise ValueError(f"vector_to_parameters: the vector has {v.size} elements, the parameters {need}")
    start = 0
    for p in ps:
        n = int(np.prod(p.shape))
        a = p.data
        chunk = v[start: start + n].reshape(p.shape)
        if a.ndim and a.flags.writeable:
            np.copyto(a, chunk, casting="unsafe")
        else:
            p.data = chunk.astype(a.dtype)
        start += n


__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "vector_to_parameters"]
