"""The primitives the engine itself needs: sum_to, broadcast_to, cast, stop_gradient.

``sum_to`` undoes broadcasting (it is the VJP of ``broadcast_to`` and vice
versa); the engine calls it, through :func:`wengert.core.rule.fit`, whenever
a cotangent's shape differs from its input's.  This is the only place in the
library where broadcasting is undone.  ``stop_gradient`` is what
``Tensor.detach()`` applies: an identity without derivative at every level
(wg.jit stages it; a derivative level passes it down, so no gradient or
tangent goes through it).
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from . import rule as _rule_mod
from .rule import Rule
from .tensor import __name__ as _tensor_name
from .tensor import dtype_of, shape_of


def _sum_to_impl(x: Any, shape: tuple) -> Any:
    xs = np.shape(x)
    if xs == shape:
        return x
    lead = len(xs) - len(shape)
    if lead < 0:
        raise ValueError(f"cannot sum shape {xs} down to the larger shape {shape}")
    axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape) if s == 1 and xs[i + lead] != 1)
    out = np.sum(x, axis=axes, keepdims=True)
    return out.reshape(shape)


sum_to = Rule(
    "sum_to",
    _sum_to_impl,
    # d/dx sum_to(x) is the adjoint of broadcasting: g is broadcast back
    vjp=(lambda g, ans, x, shape: broadcast_to(g, shape_of(x)),),
    jvp=(lambda t, ans, x, shape: sum_to(t, shape),),
    doc="Sum a broadcast array back down to `shape` (the VJP of broadcast_to).",
)

broadcast_to = Rule(
    "broadcast_to",
    lambda x, shape: np.broadcast_to(x, shape),
    # the adjoint of broadcasting is summing over the broadcast axes
    vjp=(lambda g, ans, x, shape: sum_to(g, shape_of(x)),),
    jvp=(lambda t, ans, x, shape: broadcast_to(t, shape),),
    doc="Broadcast to `shape` (a read-only view, as in NumPy).",
)


def _cast_impl(x: Any, dtype: Any) -> Any:
    a = np.asarray(x)
    if a.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        a = a.real  # complex to real keeps the real part (as NumPy does, without its warning)
    return a.astype(dtype)


cast = Rule(
    "cast",
    _cast_impl,
    # casting is the identity on values: the cotangent is cast back.  From complex to real it is
    # the real part, whose VJP is g + 0j; from real to complex it is x + 0j, whose VJP is real(g).
    # So `fit` casting a complex cotangent (or tangent) to a real input's dtype keeps its real part:
    # that is where autograd's convention (docs/complex.md) lives in the engine.
    vjp=(lambda g, ans, x, dtype: cast(g, dtype_of(x)),),
    jvp=(lambda t, ans, x, dtype: cast(t, dtype),),
    doc="Convert to another dtype (astype); complex to real keeps the real part.",
)


def _stop_gradient_impl(x: Any) -> Any:
    return x


stop_gradient = Rule(
    "stop_gradient", _stop_gradient_impl, differentiable=False,
    doc="x, with no gradient and no tangent (Tensor.detach())",
)

_rule_mod._sum_to = sum_to
_rule_mod._broadcast_to = broadcast_to
_rule_mod._cast = cast
sys.modules[_tensor_name]._stop_gradient = stop_gradient
