"""NumPy dispatch: ``np.exp(t)``, ``np.sum(t)``, ``np.concatenate([t, u])`` stay in the graph.

The tables are generated from the records' :class:`~wengert.ops.surface.Surface`
(``ufunc=`` and ``numpy=``).  A NumPy function with no record raises a
``TypeError`` naming it, rather than silently computing on the data and
dropping the gradient.  Functions that only inspect (np.shape, np.allclose,
...) run on the plain data.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.state import is_grad_enabled
from ..core.tensor import Tensor, is_traced, live_trace, raw, value_of
from .api import PUBLIC
from .surface import public_function, public_name, records

UFUNCS: dict = {}
FUNCTIONS: dict = {}


def _numpy_entry(fn: Callable, np_name: str) -> Callable:
    """``numpy.NAME(tensor, ...)``: NumPy's keyword arguments that wengert's function lacks must be unset."""
    try:
        params = inspect.signature(fn).parameters
        known = set(params)
        open_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    except (TypeError, ValueError):
        known, open_kw = set(), True

    def entry(*args: Any, **kwargs: Any) -> Any:
        kw = {}
        for k, v in kwargs.items():
            if k in known or open_kw:
                kw[k] = v
            elif v is not None and not (k == "keepdims" and v is False):
                raise TypeError(f"numpy.{np_name} on a wengert Tensor: argument {k}={v!r} is not supported")
        return fn(*args, **kw)

    return entry


for _target, _s in records():
    _fn = PUBLIC.get(public_name(_target, _s)) if _s.public else public_function(_target, _s)
    if _s.ufunc is not None:
        UFUNCS[_s.ufunc] = _target
    for _f in _s.numpy:
        FUNCTIONS[_f] = _numpy_entry(_fn, getattr(_f, "__name__", str(_f)))

# Functions that only look at the data: computed on plain arrays, no gradient involved.
PASSTHROUGH = {
    np.shape, np.ndim, np.size, np.allclose, np.isclose, np.array_equal, np.array_equiv, np.result_type,
    np.iscomplexobj, np.isrealobj, np.zeros_like, np.ones_like, np.empty_like, np.full_like, np.array_repr,
    np.array_str, np.count_nonzero, np.nonzero, np.argsort, np.can_cast,
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
        # an in-place NumPy update such as `p.data -= lr * p.grad`: fine on plain values, which is
        # what every tensor here is unless it carries a derivative (then the write would lose it)
        if any(live_trace(i) is not None or (is_traced(i) and is_grad_enabled()) for i in inputs):
            raise TypeError(f"numpy.{ufunc.__name__}(..., out=...) would write a value in the graph outside it; "
                            "compute without out= (x = x - y), or update inside wg.no_grad()")
        out = kwargs["out"]
        if any(isinstance(o, Tensor) for o in out):
            raise TypeError(f"numpy.{ufunc.__name__}(..., out=<a Tensor>): write into a tensor with its in-place "
                            "methods (t.sub_(y), t -= y) instead")
        return ufunc(*[value_of(i) for i in inputs], **kwargs)
    rule = UFUNCS.get(ufunc)
    if rule is None:
        raise TypeError(
            f"numpy.{ufunc.__name__} has no wengert rule, so it cannot be differentiated; "
            f"use t.detach() to compute on the data without gradient, or write a wg.Function"
        )
    dtype = kwargs.pop("dtype", None)
    if kwargs:  # where=, casting=, order=, ...: refused rather than silently ignored
        raise TypeError(f"numpy.{ufunc.__name__} on a wengert Tensor takes no {', '.join(sorted(kwargs))}= "
                        "(only dtype=); for where= use wg.where(mask, f(x), x)")
    out = rule(*[i if isinstance(i, Tensor) else raw(i) for i in inputs])
    return out if dtype is None else out.astype(dtype)


def array_function(self: Tensor, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    impl = FUNCTIONS.get(func)
    if impl is not None:
        return impl(*args, **kwargs)
    if func in PASSTHROUGH:
        return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
    name = getattr(func, "__name__", str(func))
    raise TypeError(
        f"numpy.{name} has no wengert rule, so it cannot be differentiated; "
        f"use t.detach() to compute on the data without gradient, or a wengert function"
    )
