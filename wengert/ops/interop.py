"""NumPy dispatch: ``np.exp(t)``, ``np.sum(t)``, ``np.concatenate([t, u])`` stay in the graph.

The mapping is an explicit table.  A NumPy function with no rule raises a
``TypeError`` naming it, rather than silently computing on the data and
dropping the gradient.  Functions that only inspect (np.shape, np.allclose,
...) run on the plain data.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import Tensor, raw
from . import api as A
from . import table as R

UFUNCS = {
    np.add: R.add, np.subtract: R.subtract, np.multiply: R.multiply, np.true_divide: R.divide,
    np.negative: R.negative, np.power: R.power, np.exp: R.exp, np.log: R.log, np.log1p: R.log1p,
    np.expm1: R.expm1, np.sqrt: R.sqrt, np.square: R.square, np.sin: R.sin, np.cos: R.cos, np.tan: R.tan,
    np.tanh: R.tanh, np.arctan: R.arctan, np.sinh: R.sinh, np.cosh: R.cosh, np.absolute: R.absolute,
    np.maximum: R.maximum, np.minimum: R.minimum, np.matmul: R.matmul, np.sign: R.sign,
    np.greater: R.greater, np.greater_equal: R.greater_equal, np.less: R.less, np.less_equal: R.less_equal,
    np.equal: R.equal, np.not_equal: R.not_equal, np.logical_and: R.logical_and, np.logical_or: R.logical_or,
    np.logical_not: R.logical_not, np.isfinite: R.isfinite,
    np.isnan: R.isnan, np.isinf: R.isinf,
}


def _kw(kwargs: dict, allowed: tuple, fname: str) -> dict:
    out = {}
    for k, v in kwargs.items():
        if k in allowed:
            out[k] = v
        elif v is not None:
            raise TypeError(f"numpy.{fname} on a wengert Tensor: argument {k}={v!r} is not supported")
    return out


def _reduction(fn: Any, name: str, extra: tuple = ()) -> Any:
    def f(a: Any, axis: Any = None, *args: Any, **kwargs: Any) -> Any:
        if args:
            raise TypeError(f"numpy.{name} on a wengert Tensor: pass options by keyword")
        return fn(a, axis=axis, **_kw(kwargs, ("keepdims",) + extra, name))

    return f


FUNCTIONS = {
    np.sum: _reduction(A.sum, "sum"), np.mean: _reduction(A.mean, "mean"),
    np.var: _reduction(A.var, "var", ("ddof",)), np.std: _reduction(A.std, "std", ("ddof",)),
    np.max: _reduction(A.max, "max"), np.amax: _reduction(A.max, "amax"),
    np.min: _reduction(A.min, "min"), np.amin: _reduction(A.min, "amin"),
    np.prod: _reduction(A.prod, "prod"),
    np.argmax: lambda a, axis=None, **k: A.argmax(a, axis=axis, keepdims=bool(k.get("keepdims", False))),
    np.argmin: lambda a, axis=None, **k: A.argmin(a, axis=axis, keepdims=bool(k.get("keepdims", False))),
    np.reshape: lambda a, shape=None, **k: A.reshape(a, shape if shape is not None else k["newshape"]),
    np.transpose: lambda a, axes=None: A.transpose(a, axes),
    np.swapaxes: A.swapaxes, np.moveaxis: A.moveaxis,
    np.concatenate: lambda arrays, axis=0, **k: A.concatenate(arrays, axis=axis),
    np.stack: lambda arrays, axis=0, **k: A.stack(arrays, axis=axis),
    np.split: A.split, np.where: A.where, np.dot: A.dot, np.outer: A.outer,
    np.einsum: lambda subscripts, *ops, **k: A.einsum(subscripts, *ops), np.trace: A.trace,
    np.clip: lambda a, a_min=None, a_max=None, **k: A.clip(a, a_min, a_max),
    np.squeeze: A.squeeze, np.expand_dims: A.expand_dims, np.broadcast_to: A.broadcast_to,
    np.ravel: A.ravel, np.repeat: A.repeat, np.tile: A.tile, np.flip: A.flip,
    np.pad: A.pad, np.take_along_axis: A.take_along_axis, np.take: A.take,
    np.linalg.norm: lambda x, ord=None, axis=None, keepdims=False: A.norm(x, ord, axis, keepdims),
    np.linalg.inv: A.inv, np.linalg.det: A.det, np.linalg.solve: A.solve, np.matmul: A.matmul,
}

# Functions that only look at the data: computed on plain arrays, no gradient involved.
PASSTHROUGH = {
    np.shape, np.ndim, np.size, np.allclose, np.isclose, np.array_equal, np.array_equiv, np.result_type,
    np.iscomplexobj, np.isrealobj, np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.array_repr,
    np.array_str, np.any, np.all, np.count_nonzero, np.nonzero, np.argsort, np.can_cast,
    np.testing.assert_allclose, np.testing.assert_array_equal, np.testing.assert_array_almost_equal,
}


def _plain(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(i) for i in x)
    return x


def array_ufunc(self: Tensor, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    if method != "__call__":
        raise TypeError(
            f"numpy.{ufunc.__name__}.{method} on a wengert Tensor is not supported (no rule); "
            f"use the wengert function instead, e.g. wg.sum"
        )
    if kwargs.get("out") is not None:
        raise TypeError(f"numpy.{ufunc.__name__}(..., out=...) would write outside the graph; drop out=")
    rule = UFUNCS.get(ufunc)
    if rule is None:
        raise TypeError(
            f"numpy.{ufunc.__name__} has no wengert rule, so it cannot be differentiated; "
            f"use np.asarray(t) to compute on the data without gradient, or write a wg.Function"
        )
    return rule(*[i if isinstance(i, Tensor) else raw(i) for i in inputs])


def array_function(self: Tensor, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    impl = FUNCTIONS.get(func)
    if impl is not None:
        return impl(*args, **kwargs)
    if func in PASSTHROUGH:
        return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
    name = getattr(func, "__name__", str(func))
    raise TypeError(
        f"numpy.{name} has no wengert rule, so it cannot be differentiated; "
        f"use np.asarray(t) to compute on the data without gradient, or a wengert function"
    )
