"""Tensor operators and methods, attached here so that the engine (core) knows no op.

Operators go straight to ``apply`` with the rule: the tensor is known to be a
Tensor, so the polymorphic dispatch of ``Rule.__call__`` is skipped (this is
the hot path of scalar code such as the W1/W4 benchmarks).
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..core.rule import Rule, apply2
from ..core.state import is_grad_enabled
from ..core.tensor import Tensor, is_traced, normalize, rebind
from . import api as A
from . import composite as C
from . import table as R
from .interop import array_function, array_ufunc
from .surface import method, public_function, public_name, records


def _binop(rule):
    return rule.op2  # the operator is the rule's own fast path (no extra call)


def _rbinop(rule):
    def op(self, other):
        return apply2(rule, other, self)

    return op


def _unop(rule):
    return rule.op1


def _setitem(self: Tensor, index: Any, value: Any) -> None:
    """``t[index] = value``: in place on a plain tensor; an op of the graph on a value in one.

    On a value in a graph (a recorded tensor, or a transform's value) the write
    is the op ``setitem``, and ``t`` then stands for its result, so that both
    modes differentiate it right.  A leaf that requires grad may only be
    written inside ``wg.no_grad()`` (as in PyTorch).
    """
    idx = R._index(index)
    if self._trace is None and self._tape is None and not is_traced(value):
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError(
                "in-place assignment into a leaf tensor that requires grad would corrupt its gradient; "
                "build a new tensor with wg.where / wg.concatenate, or write inside wg.no_grad()"
            )
        v = value._value if isinstance(value, Tensor) else value
        old = self._value
        if type(old) is np.ndarray and old.flags.writeable and sys.getrefcount(old) <= _OWNED_REFS:
            old[idx] = v  # nobody else holds the array (no recorded op saved it): write in place
        else:  # a recorded op may have saved this array: the write makes a new one
            new = np.array(old, copy=True)
            new[idx] = v
            self._value = normalize(new)
        return
    out = R.setitem(self, value, index=idx)
    rebind(self, out)


_OWNED_REFS = 3  # getrefcount's argument, the local `old`, and the tensor's own slot


def _T(self: Tensor) -> Tensor:
    return R.transpose(self)


# Python's operators and protocols: written here (they are not ops of their own)
_OPERATORS = {
    "__add__": _binop(R.add), "__radd__": _rbinop(R.add),
    "__sub__": _binop(R.subtract), "__rsub__": _rbinop(R.subtract),
    "__mul__": _binop(R.multiply), "__rmul__": _rbinop(R.multiply),
    "__truediv__": _binop(R.divide), "__rtruediv__": _rbinop(R.divide),
    "__pow__": _binop(R.power), "__rpow__": _rbinop(R.power),
    "__matmul__": _binop(R.matmul), "__rmatmul__": _rbinop(R.matmul),
    "__neg__": _unop(R.negative), "__pos__": lambda self: self, "__abs__": _unop(R.absolute),
    # comparisons (bool tensors, no gradient)
    "__lt__": _binop(R.less), "__le__": _binop(R.less_equal),
    "__gt__": _binop(R.greater), "__ge__": _binop(R.greater_equal),
    "__eq__": _binop(R.equal), "__ne__": _binop(R.not_equal),
    "__and__": _binop(R.logical_and), "__or__": _binop(R.logical_or), "__invert__": _unop(R.logical_not),
    # indexing
    "__getitem__": A.getitem, "__setitem__": _setitem,
    # NumPy dispatch
    "__array_ufunc__": array_ufunc, "__array_function__": array_function,
}

for _name, _fn in _OPERATORS.items():
    setattr(Tensor, _name, _fn)

# the methods the records name (t.exp(), t.sum(axis=0), t.reshape(2, 3), ...)
for _target, _s in records():
    if not _s.methods:
        continue
    _public = A.PUBLIC.get(public_name(_target, _s)) if _s.public else public_function(_target, _s)
    for _m in _s.methods:
        if isinstance(_target, Rule) and _target.arity == 1 and _s.prepare is None and not _target.param_names:
            setattr(Tensor, _m, _target.op1)  # a unary rule's method is its fast path
        else:
            setattr(Tensor, _m, method(_public, _m))

Tensor.T = property(_T)  # type: ignore[attr-defined]
Tensor.mT = property(lambda self: C.swapaxes(self, -1, -2))  # type: ignore[attr-defined]
