"""In-place updates, as PyTorch users write them: ``t[i] = v``, ``p -= lr * g``, ``p.add_(g, alpha=-lr)``.

On a plain tensor (a parameter inside ``wg.no_grad()``, a constant, a
``.grad``) the value changes in place (:func:`wengert.core.tensor.mutate`).
On a value in a graph (a recorded tensor, or a transform's value) the change
is an op: the tensor then stands for the op's result
(:func:`wengert.core.tensor.rebind`), so reverse and forward mode both
differentiate it right.  A leaf that requires grad may only be changed
inside ``wg.no_grad()``.

>>> import numpy as np, wengert as wg
>>> p = wg.tensor([1.0, 2.0], requires_grad=True)
>>> wg.sum(p * p).backward()
>>> with wg.no_grad():
...     p -= 0.1 * p.grad          # updates p in place, as in PyTorch
>>> p
tensor([0.8, 1.6], requires_grad=True)
>>> p.grad.zero_()
tensor([0., 0.])
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.state import is_grad_enabled, no_grad
from ..core.tensor import Tensor, is_traced, live_trace, mutate, rebind, value_of
from . import table as R


def _plain(x: Any) -> Any:
    """A plain operand for an in-place NumPy update (a tensor's value)."""
    return value_of(x) if isinstance(x, Tensor) else x


def _traced(x: Any) -> bool:
    """Is ``x`` a value whose derivative an update by it must keep (so the update is recorded as an op)?"""
    return live_trace(x) is not None or (is_traced(x) and is_grad_enabled())


def _update(t: Tensor, rule: Any, other: Any, what: str) -> Tensor:
    ufunc = rule.impl
    if not mutate(t, lambda a: ufunc(a, _plain(other), out=a, casting="same_kind"), what, traced=_traced(other)):
        rebind(t, rule(t, other))
    return t


def add_(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """``self += alpha * other``, in place (PyTorch's ``add_``)."""
    return _update(self, R.add, other if alpha == 1 else other * alpha, "add_")


def sub_(self: Tensor, other: Any, alpha: float = 1) -> Tensor:
    """``self -= alpha * other``, in place (PyTorch's ``sub_``)."""
    return _update(self, R.subtract, other if alpha == 1 else other * alpha, "sub_")


def mul_(self: Tensor, other: Any) -> Tensor:
    """``self *= other``, in place."""
    return _update(self, R.multiply, other, "mul_")


def div_(self: Tensor, other: Any) -> Tensor:
    """``self /= other``, in place."""
    return _update(self, R.divide, other, "div_")


def pow_(self: Tensor, other: Any) -> Tensor:
    """``self **= other``, in place."""
    return _update(self, R.power, other, "pow_")


def _set(self: Tensor, value: Any, what: str) -> Tensor:
    """Every element of ``self`` becomes ``value`` (broadcast)."""
    v = _plain(value)

    def change(a: np.ndarray) -> None:
        a[...] = v

    if not mutate(self, change, what, traced=_traced(value)):
        rebind(self, R.setitem(self, value, index=Ellipsis))
    return self


def zero_(self: Tensor) -> Tensor:
    """Fill with zeros, in place (``p.grad.zero_()``)."""
    return _set(self, 0.0, "zero_")


def fill_(self: Tensor, value: Any) -> Tensor:
    """Fill with ``value``, in place."""
    return _set(self, value, "fill_")


def copy_(self: Tensor, src: Any) -> Tensor:
    """Copy ``src`` (broadcast to this shape) into this tensor, in place."""
    return _set(self, src, "copy_")


def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit to ``[min, max]``, in place."""
    lo, hi = _plain(min), _plain(max)
    if not mutate(self, lambda a: np.clip(a, lo, hi, out=a), "clamp_"):
        rebind(self, R.clip(self, a_min=min, a_max=max))
    return self


def _random_(self: Tensor, draw: Any, what: str) -> Tensor:
    from .random import default_generator

    with no_grad():  # filling a parameter with random numbers records nothing
        vals = draw(default_generator(), self.shape)
        if not mutate(self, lambda a: a.__setitem__(..., vals), what):
            raise RuntimeError(f"{what} on a value in a graph: fill a new tensor instead (e.g. wg.randn)")
    return self


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std^2) samples from wengert's seeded generator (``wg.manual_seed``), in place."""
    return _random_(self, lambda g, s: g.normal(mean, std, s), "normal_")


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b) samples from wengert's seeded generator (``wg.manual_seed``), in place."""
    return _random_(self, lambda g, s: g.uniform(a, b, s), "uniform_")


def setitem(self: Tensor, index: Any, value: Any) -> None:
    """``t[index] = value``: in place on a plain tensor; the op ``setitem`` on a value in a graph."""
    idx = R._index(index)
    v = _plain(value)

    def change(a: np.ndarray) -> None:
        a[idx] = v

    if not mutate(self, change, "in-place assignment (t[index] = value)", traced=_traced(value)):
        rebind(self, R.setitem(self, value, index=idx))


def _augmented(rule: Any, what: str) -> Any:
    def op(self: Tensor, other: Any) -> Tensor:
        return _update(self, rule, other, what)

    return op


#: Tensor's in-place methods and augmented assignments
METHODS = {
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "pow_": pow_,
    "zero_": zero_, "fill_": fill_, "copy_": copy_, "clamp_": clamp_, "clip_": clamp_,
    "normal_": normal_, "uniform_": uniform_,
    "__iadd__": _augmented(R.add, "+="), "__isub__": _augmented(R.subtract, "-="),
    "__imul__": _augmented(R.multiply, "*="), "__itruediv__": _augmented(R.divide, "/="),
    "__ipow__": _augmented(R.power, "**="), "__setitem__": setitem,
}

__all__ = ["METHODS"]
