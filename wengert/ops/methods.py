"""Tensor operators and methods, attached here so that the engine (core) knows no op.

Operators go straight to ``apply`` with the rule: the tensor is known to be a
Tensor, so the polymorphic dispatch of ``Rule.__call__`` is skipped (this is
the hot path of scalar code such as the W1/W4 benchmarks).
"""
from __future__ import annotations

from ..core.rule import Rule, reflected
from ..core.tensor import Tensor
from . import api as A
from . import composite as C
from . import numpy_ext as X
from . import table as R
from .inplace import METHODS
from .interop import array_function, array_ufunc
from .surface import method, public_function, public_name, records


def _binop(rule):
    return rule.operator2  # the operator is the rule's own fast path (no extra call)


def _rbinop(rule):
    return reflected(rule)


def _unop(rule):
    return rule.op1


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
    "__mod__": _binop(X.remainder), "__rmod__": _rbinop(X.remainder),
    "__floordiv__": _binop(X.floor_divide), "__rfloordiv__": _rbinop(X.floor_divide),
    "__neg__": _unop(R.negative), "__pos__": lambda self: self, "__abs__": _unop(R.absolute),
    # comparisons (bool tensors, no gradient)
    "__lt__": _binop(R.less), "__le__": _binop(R.less_equal),
    "__gt__": _binop(R.greater), "__ge__": _binop(R.greater_equal),
    "__eq__": _binop(R.equal), "__ne__": _binop(R.not_equal),
    "__and__": _binop(R.logical_and), "__or__": _binop(R.logical_or), "__invert__": _unop(R.logical_not),
    # indexing (t[index] = v: see ops/inplace.py)
    "__getitem__": A.getitem,
    # NumPy dispatch
    "__array_ufunc__": array_ufunc, "__array_function__": array_function,
}

# PyTorch's size queries
_OPERATORS["numel"] = lambda self: self.size
_OPERATORS["dim"] = lambda self: self.ndim

for _name, _fn in {**_OPERATORS, **METHODS}.items():
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
