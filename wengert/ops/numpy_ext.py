"""The rest of the NumPy surface that users bring: ufuncs, stacking, splitting, scans, sorting, matrices.

Everything here is reached as ``wg.NAME``, through NumPy dispatch
(``np.NAME(tensor)``), and as a Tensor method where NumPy or PyTorch has
one.  Most of it is composites of the primitives of ``ops/table.py``; the
primitives of this file are the elementwise functions (each a one-line
partial derivative), the scan ``cumsum``, the sorting permutations
(``argsort``, ``argpartition``, no gradient) and the gather / scatter along
an axis with an index *input* (``gather_along`` / ``scatter_along``), which
let ``sort`` and ``partition`` be composites that ``wg.jit`` and ``wg.vmap``
take: the permutation is computed in the graph, never read back into Python.

Conventions at kinks and for non-differentiable functions (NumPy gives no
derivative; these are the choices, tested):

* ``floor``, ``ceil``, ``trunc``, ``rint``, ``round``, ``fix``, ``floor_divide``,
  ``argsort``, ``argpartition``: no gradient (zero almost everywhere): their
  output does not require grad, and ``wg.grad`` through them gives zeros;
* ``remainder`` / ``fmod``: d/dx = 1, d/dy = -floor(x/y) (-trunc(x/y)), the
  derivative of the piece the point lies on (the jumps are not seen);
* ``fmax`` / ``fmin``: as ``maximum`` / ``minimum`` (ties split the gradient
  evenly), and a NaN loses: the other argument gets the whole gradient;
* ``hypot``: gradient 0 at the origin (as ``abs``); ``arctan2`` is undefined there;
* ``sort`` / ``partition``: the gradient follows the values to where they
  came from (between tied values, to the one ``argsort`` put there);
* ``cumprod``: exact at zeros in every order (a scan of multiplications, no division);
* ``sinc``: exact derivatives of every order at 0 (a Taylor branch near 0).
"""
from __future__ import annotations

import inspect
import itertools
import math
import operator
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.rule import Rule
from ..core.tensor import Tensor, as_tensor, dtype_of, shape_of
from . import batching as B
from .complex import UNORDERED
from .composite import along_index, astype, flip, ravel, split
from .surface import Surface, composite
from .table import (
    _axes,
    _ndim,
    _win,
    absolute,
    broadcast_to,
    concatenate,
    copy,
    cos,
    equal,
    exp,
    getitem,
    greater,
    isfinite,
    isnan,
    less,
    logical_and,
    logical_not,
    matmul,
    reshape,
    scatter_add,
    sqrt,
    sum_,
    transpose,
    where,
)
from .table import trace as _trace2d

LN2 = math.log(2.0)
LN10 = math.log(10.0)


def _numpy(*names: str) -> tuple:
    """The NumPy functions of these names that this NumPy has (row_stack, around ... come and go)."""
    return tuple(getattr(np, n) for n in names if hasattr(np, n))


def _axis(axis: int, ndim: int, who: str) -> int:
    """One axis, as a non-negative int (NumPy's AxisError when it is out of range)."""
    a = int(axis)
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(f"{who}: axis {a} is out of bounds for an array of dimension {ndim}")
    return a % ndim


def _slice_along(x: Any, axis: int, index: Any) -> Any:
    """``x[..., index, ...]`` with ``index`` (a slice or an int) on ``axis``."""
    return getitem(x, index=(slice(None),) * (axis % _ndim(x)) + (index,))


def _all_tensors(*arys: Any) -> tuple:
    """Public prepare: every positional argument becomes a Tensor (so a Tensor comes back for each)."""
    return tuple(as_tensor(a) for a in arys), {}


def _keywords(impl: Any, *names: str) -> Any:
    """Public prepare of a rule without gradient: its parameters given by position become keywords.

    (A rule with no derivative does not know how many of its arguments are arrays, so it treats every
    positional argument as one; its parameters must reach it as keywords.)  The public function shows
    ``impl``'s signature.
    """

    who = impl.__name__.strip("_").removesuffix("_impl")

    def prepare(x: Any, *args: Any, **kw: Any) -> tuple:
        if len(args) > len(names):
            raise TypeError(f"{who} takes at most {len(names) + 1} positional arguments "
                            f"({', '.join(('a',) + names)}), got {len(args) + 1}")
        for name, value in zip(names, args):
            if name in kw:
                raise TypeError(f"{who}: {name}= given both by position and by keyword")
            kw[name] = value
        if "kth" in kw:
            kw["kth"] = _kth(kw["kth"])
        return (x,), kw

    prepare.__signature__ = inspect.signature(impl)
    return prepare


def _kth(kth: Any) -> Any:
    """partition's kth as an int or a tuple of ints (parameters are kept in the graph: hashable)."""
    return int(kth) if np.ndim(kth) == 0 else tuple(int(k) for k in np.ravel(kth))


def _public(prepare: Any, **surface: Any) -> Any:
    """``@composite`` with a public ``prepare`` (arguments made tensors), showing the composite's own signature."""

    def mark(fn: Any) -> Any:
        def prep(*args: Any, **kw: Any) -> tuple:
            return prepare(*args, **kw)

        prep.__signature__ = inspect.signature(fn)
        return composite(prepare=prep, **surface)(fn)

    return mark


def _sequence_first(xs: Any, *args: Any, **kw: Any) -> tuple:
    """Public prepare for functions of a sequence of arrays (vstack, ...): its first element becomes a Tensor."""
    xs = list(xs)
    if xs:
        xs[0] = as_tensor(xs[0])
    return (xs, *args), kw


# ====================================================================== unary ufuncs (primitives)
def _unary(name: str, impl: Any, partial: Any, doc: str, *, scalar: Any = None, ufunc: Any = None,
           methods: tuple | None = None, aliases: tuple = ()) -> Rule:
    """An elementwise function of one argument, with its ufunc, method and batching rule."""
    rule = Rule(name, impl, scalar=scalar, partials=(partial,), doc=doc,
                surface=Surface(ufunc=ufunc, methods=(name,) if methods is None else methods, aliases=aliases))
    rule.batch = B.elementwise(rule)
    return rule


def _nondiff_unary(name: str, impl: Any, doc: str, *, ufunc: Any = None, numpy: tuple = (),
                   methods: tuple | None = None, aliases: tuple = (), prepare: Any = None) -> Rule:
    """An elementwise function with no gradient (piecewise constant: zero almost everywhere)."""
    rule = Rule(name, impl, differentiable=False, doc=doc,
                surface=Surface(ufunc=ufunc, numpy=numpy, methods=(name,) if methods is None else methods,
                                aliases=aliases, prepare=prepare))
    rule.batch = B.elementwise(rule)
    return rule


def _exp2_scalar(x: float) -> float:
    return 2.0**x


def _reciprocal_scalar(x: float) -> float:
    return 1.0 / x


log2 = _unary("log2", np.log2, lambda ans, x: 1.0 / (x * LN2),
              "base-2 logarithm;  d/dx log2 x = 1/(x ln 2)", scalar=math.log2, ufunc=np.log2)
log10 = _unary("log10", np.log10, lambda ans, x: 1.0 / (x * LN10),
               "base-10 logarithm;  d/dx log10 x = 1/(x ln 10)", scalar=math.log10, ufunc=np.log10)
exp2 = _unary("exp2", np.exp2, lambda ans, x: ans * LN2, "2^x;  d/dx 2^x = 2^x ln 2",
              scalar=_exp2_scalar, ufunc=np.exp2)
arcsin = _unary("arcsin", np.arcsin, lambda ans, x: 1.0 / sqrt(1.0 - x * x),
                "inverse sine;  d/dx = 1/sqrt(1 - x^2)", scalar=math.asin, ufunc=np.arcsin, aliases=("asin",))
arccos = _unary("arccos", np.arccos, lambda ans, x: -1.0 / sqrt(1.0 - x * x),
                "inverse cosine;  d/dx = -1/sqrt(1 - x^2)", scalar=math.acos, ufunc=np.arccos, aliases=("acos",))
arcsinh = _unary("arcsinh", np.arcsinh, lambda ans, x: 1.0 / sqrt(x * x + 1.0),
                 "inverse hyperbolic sine;  d/dx = 1/sqrt(x^2 + 1)", scalar=math.asinh, ufunc=np.arcsinh,
                 aliases=("asinh",))
arccosh = _unary("arccosh", np.arccosh, lambda ans, x: 1.0 / (sqrt(x - 1.0) * sqrt(x + 1.0)),
                 "inverse hyperbolic cosine;  d/dx = 1/sqrt(x^2 - 1)", scalar=math.acosh, ufunc=np.arccosh,
                 aliases=("acosh",))
arctanh = _unary("arctanh", np.arctanh, lambda ans, x: 1.0 / (1.0 - x * x),
                 "inverse hyperbolic tangent;  d/dx = 1/(1 - x^2)", scalar=math.atanh, ufunc=np.arctanh,
                 aliases=("atanh",))
rad2deg = _unary("rad2deg", np.rad2deg, lambda ans, x: 180.0 / math.pi,
                 "radians to degrees;  d/dx = 180/pi", scalar=math.degrees, ufunc=np.rad2deg)
deg2rad = _unary("deg2rad", np.deg2rad, lambda ans, x: math.pi / 180.0,
                 "degrees to radians;  d/dx = pi/180", scalar=math.radians, ufunc=np.deg2rad)
reciprocal = _unary("reciprocal", np.reciprocal, lambda ans, x: -(ans * ans),
                    "1/x;  d/dx = -1/x^2", scalar=_reciprocal_scalar, ufunc=np.reciprocal)
cbrt = _unary("cbrt", np.cbrt, lambda ans, x: 1.0 / (3.0 * ans * ans),
              "cube root;  d/dx = 1/(3 cbrt(x)^2) (infinite at 0)", ufunc=np.cbrt)


def _sinc_d(ans: Any, x: Any) -> Any:
    """d/dx sinc(x) = (cos(pi x) - sinc(x)) / x, and near 0 its Taylor series (so every order is exact at 0)."""
    pi = math.pi
    if type(x) is float:  # (the scalar path)
        if abs(x) < 1e-2:
            u = pi * pi * x * x
            return pi * pi * x * (-1.0 / 3.0 + u * (1.0 / 30.0 + u * (-1.0 / 840.0 + u / 45360.0)))
        return (math.cos(pi * x) - math.sin(pi * x) / (pi * x)) / x
    small = less(absolute(x), 1e-2)
    xs = where(small, 1.0, x)  # (the exact branch never sees a value near 0: no 0/0, also in its derivatives)
    exact = (cos(pi * xs) - sinc(xs)) / xs
    u = (pi * pi) * (x * x)
    series = (pi * pi) * x * (-1.0 / 3.0 + u * (1.0 / 30.0 + u * (-1.0 / 840.0 + u * (1.0 / 45360.0))))
    return where(small, series, exact)


def _sinc_scalar(x: float) -> float:
    if x == 0.0:
        return 1.0
    y = math.pi * x
    return math.sin(y) / y


sinc = _unary("sinc", np.sinc, _sinc_d, "sin(pi x)/(pi x), 1 at 0 (NumPy's normalised sinc);  "
              "d/dx = (cos(pi x) - sinc(x))/x, exact at 0 in every order", scalar=_sinc_scalar)
sinc.surface = Surface(methods=("sinc",), numpy=(np.sinc,))  # (np.sinc is a function, not a ufunc)

floor = _nondiff_unary("floor", np.floor, "the largest integer <= x (no gradient: zero almost everywhere)",
                       ufunc=np.floor)
ceil = _nondiff_unary("ceil", np.ceil, "the smallest integer >= x (no gradient: zero almost everywhere)",
                      ufunc=np.ceil)
trunc = _nondiff_unary("trunc", np.trunc, "x rounded towards zero (no gradient: zero almost everywhere)",
                       ufunc=np.trunc)
rint = _nondiff_unary("rint", np.rint, "x rounded to the nearest integer, ties to even (no gradient)",
                      ufunc=np.rint)


def _round_impl(x: Any, decimals: int = 0) -> Any:
    return np.round(x, decimals)


round_ = _nondiff_unary("round", _round_impl, "x rounded to `decimals` decimals, ties to even (no gradient)",
                        numpy=_numpy("round", "around"), methods=("round",), aliases=("around",),
                        prepare=_keywords(_round_impl, "decimals"))


@composite(methods=("fix",), numpy=(np.fix,), differentiable=False)
def fix(x: Any) -> Any:
    """x rounded towards zero (NumPy's fix, the same as trunc; no gradient)."""
    return trunc(x)


@composite(ufunc=np.fabs)
def fabs(x: Any) -> Any:
    """|x| of a real array (as abs: d/dx = sign(x), 0 at 0)."""
    if dtype_of(x).kind == "c":  # (NumPy's fabs refuses complex numbers too)
        raise TypeError("fabs: complex inputs are not supported: fabs is for real numbers; use wg.abs for the modulus")
    return absolute(x)


@composite(ufunc=np.degrees)
def degrees(x: Any) -> Any:
    """Radians to degrees (rad2deg)."""
    return rad2deg(x)


@composite(ufunc=np.radians)
def radians(x: Any) -> Any:
    """Degrees to radians (deg2rad)."""
    return deg2rad(x)


# ====================================================================== binary ufuncs (primitives)
def _binary(name: str, impl: Any, partials: tuple, doc: str, *, scalar: Any = None, ufunc: Any = None,
            methods: tuple | None = None, aliases: tuple = ()) -> Rule:
    rule = Rule(name, impl, scalar=scalar, partials=partials, doc=doc,
                surface=Surface(ufunc=ufunc, methods=(name,) if methods is None else methods, aliases=aliases))
    rule.batch = B.elementwise(rule)
    return rule


def _r2(x: Any, y: Any) -> Any:
    return x * x + y * y


arctan2 = _binary(
    "arctan2", np.arctan2,
    # d/dy atan2(y, x) = x/(x^2 + y^2),  d/dx = -y/(x^2 + y^2)  (undefined at the origin)
    (lambda ans, y, x: x / _r2(x, y), lambda ans, y, x: -y / _r2(x, y)),
    "the angle of the point (x2, x1): arctan2(x1, x2);  d/dx1 = x2/r^2, d/dx2 = -x1/r^2",
    scalar=math.atan2, ufunc=np.arctan2, aliases=("atan2",))


def _hypot_d(ans: Any, x: Any, y: Any) -> Any:
    # d/dx hypot(x, y) = x / hypot(x, y), 0 at the origin (as abs'(0) = 0)
    if type(ans) is float:
        return x / ans if ans != 0.0 else 0.0
    zero = equal(ans, 0)
    return x / where(zero, 1.0, ans)


hypot = _binary("hypot", np.hypot, (_hypot_d, lambda ans, x, y: _hypot_d(ans, y, x)),
                "sqrt(x^2 + y^2) without overflow;  d/dx = x/hypot (0 at the origin)",
                scalar=math.hypot, ufunc=np.hypot)

logaddexp = _binary("logaddexp", np.logaddexp,
                    # d/dx log(e^x + e^y) = e^(x - ans)
                    (lambda ans, x, y: exp(x - ans), lambda ans, x, y: exp(y - ans)),
                    "log(e^x + e^y), computed stably;  d/dx = e^(x - logaddexp(x, y))", ufunc=np.logaddexp)


def _exp2_of(v: Any) -> Any:
    return exp(v * LN2)


logaddexp2 = _binary("logaddexp2", np.logaddexp2,
                     # d/dx log2(2^x + 2^y) = 2^(x - ans)
                     (lambda ans, x, y: _exp2_of(x - ans), lambda ans, x, y: _exp2_of(y - ans)),
                     "log2(2^x + 2^y), computed stably;  d/dx = 2^(x - logaddexp2(x, y))", ufunc=np.logaddexp2)


def _fwin(x: Any, y: Any, lowest: bool = False) -> Any:
    """fmax's (fmin's) weight of x: as maximum's (1 where x wins, 1/2 on ties), and 1 where y is NaN and x is not."""
    win = _win(y, x) if lowest else _win(x, y)
    if type(x) is float and type(y) is float:
        if math.isnan(y):
            return 0.0 if math.isnan(x) else 1.0
        return win
    return where(logical_and(isnan(y), logical_not(isnan(x))), 1.0, win)


fmax = _binary("fmax", np.fmax, (lambda ans, x, y: _fwin(x, y), lambda ans, x, y: _fwin(y, x)),
               "elementwise maximum that ignores NaN (ties split the gradient evenly; a NaN gets none)",
               ufunc=np.fmax)
fmin = _binary("fmin", np.fmin, (lambda ans, x, y: _fwin(x, y, True), lambda ans, x, y: _fwin(y, x, True)),
               "elementwise minimum that ignores NaN (ties split the gradient evenly; a NaN gets none)",
               ufunc=np.fmin)
fmax.real_only = fmin.real_only = UNORDERED  # (as maximum and minimum: ops/complex.py)


remainder = _binary(
    "remainder", np.remainder,
    # x mod y = x - y floor(x/y):  d/dx = 1, d/dy = -floor(x/y)  (the jumps are not seen)
    (lambda ans, x, y: 1.0, lambda ans, x, y: -floor(x / y)),
    "x mod y with the sign of y (Python's %, np.mod);  d/dx = 1, d/dy = -floor(x/y)",
    scalar=operator.mod, ufunc=np.remainder, aliases=("mod",))

fmod = _binary(
    "fmod", np.fmod,
    # fmod(x, y) = x - y trunc(x/y):  d/dx = 1, d/dy = -trunc(x/y)
    (lambda ans, x, y: 1.0, lambda ans, x, y: -trunc(x / y)),
    "C's remainder, with the sign of x;  d/dx = 1, d/dy = -trunc(x/y)",
    scalar=math.fmod, ufunc=np.fmod)

floor_divide = Rule("floor_divide", np.floor_divide, differentiable=False,
                    doc="floor(x / y), Python's // (no gradient: zero almost everywhere)",
                    surface=Surface(ufunc=np.floor_divide))
floor_divide.batch = B.elementwise(floor_divide)


# ====================================================================== scans
def _flip_along(x: Any, axis: int) -> Any:
    return _slice_along(x, axis, slice(None, None, -1))


def _reverse_cumsum(x: Any, axis: int) -> Any:
    """sum_{j >= i} x_j along axis."""
    return _flip_along(_cumsum(_flip_along(x, axis), axis=axis), axis)


def _cumsum_impl(x: Any, axis: int) -> Any:
    return np.cumsum(x, axis=axis)


_cumsum = Rule(
    "cumsum", _cumsum_impl,
    # y_i = sum_{j <= i} x_j:  dx_j = sum_{i >= j} g_i  (a reversed cumsum)
    vjp=(lambda g, ans, x, axis: _reverse_cumsum(g, axis),),
    jvp=(lambda t, ans, x, axis: _cumsum(t, axis=axis),),
    doc="cumulative sum along one axis",
)


def _cumprod(x: Any, axis: int) -> Any:
    """Products of prefixes along axis by recursive doubling (Hillis-Steele: y[s:] *= y[:-s] for s = 1, 2, 4, ...).

    Made of multiplications and slices only, so its derivatives of every order are exact, also where x has zeros
    (no division by an element); log2(n) steps of O(n) work each.
    """
    if dtype_of(x) == np.bool_:
        x = astype(x, np.int64)  # (as np.cumprod: bools multiply as integers)
    n = shape_of(x)[axis]
    if n <= 1:
        return copy(x)
    step = 1
    while step < n:
        head = _slice_along(x, axis, slice(0, step))
        tail = _slice_along(x, axis, slice(step, None)) * _slice_along(x, axis, slice(0, n - step))
        x = concatenate(head, tail, axis=axis)
        step *= 2
    return x


def _scan_batch(rule: Rule) -> Any:
    def batch(level: Any, vals: list, batched: list, params: dict) -> Any:
        (x,) = vals
        return rule(x, **{**params, "axis": _axis(params["axis"], _ndim(x) - 1, rule.name) + 1})

    return batch


_cumsum.batch = _scan_batch(_cumsum)


def _scan(scan: Any, name: str, a: Any, axis: Any, dtype: Any) -> Any:
    x = a if dtype is None else astype(a, dtype)
    if axis is None:
        return scan(reshape(x, (-1,)), axis=0)
    return scan(x, axis=_axis(axis, _ndim(x), name))


@composite(methods=("cumsum",), numpy=(np.cumsum,))
def cumsum(a: Any, axis: int | None = None, dtype: Any = None) -> Any:
    """Cumulative sum along ``axis`` (of the flattened array when axis is None), as np.cumsum.

    >>> import wengert as wg
    >>> wg.cumsum(wg.tensor([1.0, 2.0, 3.0]))
    tensor([1., 3., 6.])
    """
    return _scan(_cumsum, "cumsum", a, axis, dtype)


@composite(methods=("cumprod",), numpy=(np.cumprod,))
def cumprod(a: Any, axis: int | None = None, dtype: Any = None) -> Any:
    """Cumulative product along ``axis`` (flattened when None), as np.cumprod; derivatives of every order are exact,
    also at zeros (a scan of multiplications: see ``_cumprod``).

    >>> import wengert as wg
    >>> x = wg.tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> wg.cumprod(x).sum().backward()
    >>> x.grad                  # d/dx (x0 + x0 x1 + x0 x1 x2) at x1 = 0
    tensor([1., 8., 0.])
    """
    return _scan(_cumprod, "cumprod", a, axis, dtype)


def _cumulative(scan: Any, name: str, x: Any, axis: Any, dtype: Any, include_initial: bool, initial: float) -> Any:
    if axis is None:
        if _ndim(x) > 1:
            raise ValueError(f"{name}: axis must be given for an array of {_ndim(x)} dimensions")
        axis = 0
    out = _scan(scan, name, x, axis, dtype)
    if not include_initial:
        return out
    ax = _axis(axis, _ndim(out), name)
    shape = list(shape_of(out))
    shape[ax] = 1
    return concatenate(np.full(shape, initial, dtype=dtype_of(out)), out, axis=ax)


if hasattr(np, "cumulative_sum"):  # (NumPy 2)
    @composite(numpy=(np.cumulative_sum,))
    def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                       include_initial: bool = False) -> Any:
        """NumPy 2's cumulative_sum (the array API's): cumsum, optionally starting with 0."""
        return _cumulative(_cumsum, "cumulative_sum", x, axis, dtype, include_initial, 0.0)

    @composite(numpy=(np.cumulative_prod,))
    def cumulative_prod(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                        include_initial: bool = False) -> Any:
        """NumPy 2's cumulative_prod (the array API's): cumprod, optionally starting with 1."""
        return _cumulative(_cumprod, "cumulative_prod", x, axis, dtype, include_initial, 1.0)


# ====================================================================== sorting (primitives: permutations and gathers)
def _argsort_impl(x: Any, axis: int | None = -1, kind: str | None = None, order: Any = None,
                  stable: bool | None = None) -> Any:
    if order is not None:
        raise TypeError("argsort: order= (fields of structured arrays) is not supported on tensors")
    if stable is None:  # (NumPy 1 has no stable=)
        return np.argsort(x, axis=axis, kind=kind)
    return np.argsort(x, axis=axis, kind=kind, stable=stable)


def _argpartition_impl(x: Any, kth: Any, axis: int | None = -1, kind: str = "introselect", order: Any = None) -> Any:
    if order is not None:
        raise TypeError("argpartition: order= (fields of structured arrays) is not supported on tensors")
    return np.argpartition(x, kth, axis=axis, kind=kind)


argsort = Rule("argsort", _argsort_impl, differentiable=False,
               doc="the indices that sort x along axis (flattened when None; no gradient: integer indices)",
               surface=Surface(methods=("argsort",), numpy=(np.argsort,),
                               prepare=_keywords(_argsort_impl, "axis", "kind", "order")))
argpartition = Rule("argpartition", _argpartition_impl, differentiable=False,
                    doc="the indices that partition x around its kth elements (no gradient: integer indices)",
                    surface=Surface(methods=("argpartition",), numpy=(np.argpartition,),
                                    prepare=_keywords(_argpartition_impl, "kth", "axis", "kind", "order")))


def _permutation_batch(rule: Rule) -> Any:
    """argsort / argpartition: the axis moves past the batch axis; axis None sorts each example's flattened values."""

    def batch(level: Any, vals: list, batched: list, params: dict) -> Any:
        (x,) = vals
        if params.get("axis", -1) is None:
            return rule(reshape(x, (shape_of(x)[0], -1)), **{**params, "axis": 1})
        return rule(x, **{**params, "axis": _axis(params.get("axis", -1), _ndim(x) - 1, rule.name) + 1})

    return batch


argsort.batch = _permutation_batch(argsort)
argpartition.batch = _permutation_batch(argpartition)


def _gather_impl(x: Any, indices: Any, axis: int) -> Any:
    return np.take_along_axis(np.asarray(x), np.asarray(indices), axis=axis)


def _scatter_impl(u: Any, indices: Any, axis: int, shape: tuple) -> Any:
    u = np.asarray(u)
    indices = np.broadcast_to(np.asarray(indices), u.shape)
    out = np.zeros(shape, dtype=u.dtype)
    np.add.at(out, along_index(shape, indices, axis), u)  # repeated indices accumulate
    return out


gather_along = Rule(
    "gather_along", _gather_impl,
    # out = x[..., indices, ...] along axis: the cotangent is added back where each element came from
    vjp=(lambda g, ans, x, indices, axis: scatter_along(g, indices, axis=axis, shape=shape_of(x)), None),
    jvp=(lambda t, ans, x, indices, axis: gather_along(t, indices, axis=axis), None),
    doc="np.take_along_axis with the indices as an input of the graph (no gradient to the indices)",
)

scatter_along = Rule(
    "scatter_along", _scatter_impl,
    vjp=(lambda g, ans, u, indices, axis, shape: gather_along(g, indices, axis=axis), None),
    jvp=(lambda t, ans, u, indices, axis, shape: scatter_along(t, indices, axis=axis, shape=shape), None),
    doc="zeros(shape) with u added at indices along axis (the VJP of gather_along; repeats accumulate)",
)


def _batched_pair(level: Any, vals: list, batched: list) -> list:
    """Both array inputs with the batch axis (an unbatched one repeated along it)."""
    return [v if b else B._full_batch(level, v) for v, b in zip(vals, batched)]


def _gather_batch(level: Any, vals: list, batched: list, params: dict) -> Any:
    x, indices = _batched_pair(level, vals, batched)
    return gather_along(x, indices, axis=_axis(params["axis"], _ndim(x) - 1, "gather_along") + 1)


def _scatter_batch(level: Any, vals: list, batched: list, params: dict) -> Any:
    u, indices = _batched_pair(level, vals, batched)
    shape = tuple(params["shape"])
    return scatter_along(u, indices, axis=_axis(params["axis"], len(shape), "scatter_along") + 1,
                         shape=(level.size,) + shape)


gather_along.batch = _gather_batch
scatter_along.batch = _scatter_batch

Sorted = namedtuple("Sorted", "values indices")  # what sort(dim=) returns, as in PyTorch


@composite(methods=("sort",), numpy=(np.sort,))
def sort(a: Any, axis: int | None = -1, kind: str | None = None, order: Any = None, *, stable: bool | None = None,
         dim: int | None = None, descending: bool = False) -> Any:
    """The values sorted along ``axis`` (flattened when None), as np.sort; the gradient follows each value back.

    Unlike ``ndarray.sort``, the method ``t.sort()`` returns a new tensor (tensors
    are values).  PyTorch's form, ``sort(dim=..., descending=...)``, returns
    ``(values, indices)``.  Between tied values the gradient goes to the element
    that ``argsort`` put in that place.

    >>> import wengert as wg
    >>> wg.sort(wg.tensor([3.0, 1.0, 2.0]))
    tensor([1., 2., 3.])
    """
    if order is not None:
        raise TypeError("sort: order= (fields of structured arrays) is not supported on tensors")
    pytorch = dim is not None
    if pytorch:
        axis = dim
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    ax = _axis(axis, _ndim(a), "sort")
    indices = argsort(a, axis=ax, kind=kind, stable=stable)
    if descending:
        indices = _flip_along(indices, ax)
    values = gather_along(a, indices, axis=ax)
    return Sorted(values, indices) if pytorch else values


@composite(methods=("partition",), numpy=(np.partition,))
def partition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect", order: Any = None) -> Any:
    """np.partition: the kth element in its sorted place, smaller ones before it, larger after (gradient to the values)."""
    if order is not None:
        raise TypeError("partition: order= (fields of structured arrays) is not supported on tensors")
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    ax = _axis(axis, _ndim(a), "partition")
    return gather_along(a, argpartition(a, kth=_kth(kth), axis=ax, kind=kind), axis=ax)


# ====================================================================== stacking and splitting (composites)
def _atleast(x: Any, n: int) -> Any:
    """x with at least n axes, the new ones placed as np.atleast_1d / 2d / 3d place them."""
    shape = tuple(shape_of(x))
    nd = len(shape)
    if nd >= n:
        return x
    if n == 3 and nd == 2:
        return reshape(x, shape + (1,))
    if n == 3 and nd == 1:
        return reshape(x, (1,) + shape + (1,))
    return reshape(x, (1,) * (n - nd) + shape)


def _atleast_all(arys: tuple, n: int) -> Any:
    out = tuple(_atleast(a, n) for a in arys)
    return out[0] if len(out) == 1 else out


@_public(_all_tensors, numpy=(np.atleast_1d,))
def atleast_1d(*arys: Any) -> Any:
    """Each input with at least one axis (a tuple for several inputs), as np.atleast_1d."""
    return _atleast_all(arys, 1)


@_public(_all_tensors, numpy=(np.atleast_2d,))
def atleast_2d(*arys: Any) -> Any:
    """Each input with at least two axes: a vector (n,) becomes a row (1, n), as np.atleast_2d."""
    return _atleast_all(arys, 2)


@_public(_all_tensors, numpy=(np.atleast_3d,))
def atleast_3d(*arys: Any) -> Any:
    """Each input with at least three axes: (n,) becomes (1, n, 1), (m, n) becomes (m, n, 1), as np.atleast_3d."""
    return _atleast_all(arys, 3)


def _join(name: str, tup: Any, n: int, axis: Any, dtype: Any = None, casting: str = "same_kind") -> Any:
    arrs = [_atleast(x, n) for x in tup]
    if not arrs:
        raise ValueError(f"{name}: need at least one array to concatenate")
    if dtype is not None:
        for x in arrs:
            if not np.can_cast(dtype_of(x), dtype, casting):
                raise TypeError(f"{name}: cannot cast {dtype_of(x)} to {np.dtype(dtype)} with casting={casting!r}")
        arrs = [astype(x, dtype) for x in arrs]
    return concatenate(*arrs, axis=axis(arrs) if callable(axis) else axis)


@_public(_sequence_first, aliases=("row_stack",), numpy=(np.vstack,))
def vstack(tup: Sequence[Any], *, dtype: Any = None, casting: str = "same_kind") -> Any:
    """Stack arrays vertically (along the first axis; vectors become rows), as np.vstack (and np.row_stack, which
    calls it)."""
    return _join("vstack", tup, 2, 0, dtype, casting)


@_public(_sequence_first, numpy=(np.hstack,))
def hstack(tup: Sequence[Any], *, dtype: Any = None, casting: str = "same_kind") -> Any:
    """Stack arrays horizontally (along the second axis; vectors end to end), as np.hstack."""
    return _join("hstack", tup, 1, lambda arrs: 0 if _ndim(arrs[0]) == 1 else 1, dtype, casting)


@_public(_sequence_first, numpy=(np.dstack,))
def dstack(tup: Sequence[Any]) -> Any:
    """Stack arrays along the third axis (depth), as np.dstack."""
    return _join("dstack", tup, 3, 2)


@_public(_sequence_first, numpy=(np.column_stack,))
def column_stack(tup: Sequence[Any]) -> Any:
    """Stack vectors as the columns of a matrix (2-D arrays as they are), as np.column_stack."""
    arrs = [x if _ndim(x) >= 2 else reshape(x, (-1, 1)) for x in tup]
    if not arrs:
        raise ValueError("column_stack: need at least one array to concatenate")
    return concatenate(*arrs, axis=1)


@composite(numpy=(np.append,))
def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """``values`` appended to ``arr`` (both flattened when axis is None), as np.append."""
    if axis is None:
        return concatenate(ravel(arr), ravel(values), axis=0)
    return concatenate(arr, values, axis=axis)


def _pieces(x: Any, bounds: Sequence[int], axis: int) -> list:
    return [_slice_along(x, axis, slice(int(lo), int(hi))) for lo, hi in itertools.pairwise(bounds)]


@composite(numpy=(np.array_split,))
def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Split into pieces along axis, as np.array_split: ``n`` sections need not divide the axis evenly."""
    ax = _axis(axis, _ndim(ary), "array_split")
    total = shape_of(ary)[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        n = int(indices_or_sections)
        if n <= 0:
            raise ValueError("array_split: the number of sections must be larger than 0")
        each, extras = divmod(total, n)
        bounds = np.cumsum([0] + extras * [each + 1] + (n - extras) * [each]).tolist()
    else:
        bounds = [0, *(int(i) for i in indices_or_sections), total]
    return _pieces(ary, bounds, ax)


@composite(numpy=(np.vsplit,))
def vsplit(ary: Any, indices_or_sections: Any) -> list:
    """Split along the first axis (rows) into equal sections or at indices, as np.vsplit."""
    if _ndim(ary) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, 0)


@composite(numpy=(np.hsplit,))
def hsplit(ary: Any, indices_or_sections: Any) -> list:
    """Split along the second axis (the first for vectors), as np.hsplit."""
    if _ndim(ary) == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, 1 if _ndim(ary) > 1 else 0)


@composite(numpy=(np.dsplit,))
def dsplit(ary: Any, indices_or_sections: Any) -> list:
    """Split along the third axis (depth), as np.dsplit."""
    if _ndim(ary) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, 2)


# ====================================================================== r_ and c_
class _Concatenator:
    """``wg.r_`` / ``wg.c_``: NumPy's index-expression concatenation (np.r_ / np.c_) of tensors, in the graph.

    ``np.r_`` and ``np.c_`` are objects that NumPy indexes itself, so they cannot
    dispatch to wengert (they would convert each tensor to a plain array and
    drop its gradient): use ``wg.r_[...]`` and ``wg.c_[...]``, which take the
    same items: tensors, arrays, numbers, slices (``1:5``, ``0:1:5j``) and the
    string directives (``'0,2,1'``, ``'r'``, ``'c'``).
    """

    def __init__(self, axis: int, ndmin: int, trans1d: int, name: str) -> None:
        self.axis = axis
        self.ndmin = ndmin
        self.trans1d = trans1d
        self.name = name

    def __repr__(self) -> str:
        return f"wg.{self.name}"

    def __getitem__(self, key: Any) -> Tensor:
        if isinstance(key, str):
            raise TypeError(f"wg.{self.name}: the matrix-string form ({key!r}) is not supported; give arrays")
        if not isinstance(key, tuple):
            key = (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        matrix = column = False
        objs = []
        kinds = []  # dtypes, and the scalars themselves (weak in the dtype promotion, as NumPy's)
        for k, item in enumerate(key):
            if isinstance(item, str):
                if k != 0:
                    raise ValueError(f"wg.{self.name}: special directives must be the first entry")
                if item in ("r", "c"):
                    matrix, column = True, item == "c"
                    continue
                try:
                    parts = [int(p) for p in item.split(",")]
                except ValueError:
                    raise ValueError(f"wg.{self.name}: unknown special directive {item!r}") from None
                if len(parts) > 3:
                    raise ValueError(f"wg.{self.name}: unknown special directive {item!r}")
                axis = parts[0]
                if len(parts) > 1:
                    ndmin = parts[1]
                if len(parts) > 2:
                    trans1d = parts[2]
                continue
            if isinstance(item, slice):
                obj = self._range(item, ndmin, trans1d)
                kinds.append(obj.dtype)
            elif isinstance(item, (int, float, bool, np.generic)) and not isinstance(item, Tensor):
                obj = np.array(item, ndmin=ndmin)
                kinds.append(item)
            else:
                obj = self._lift(item, ndmin, trans1d)
                kinds.append(dtype_of(obj))
            objs.append(obj)
        if not objs:
            raise ValueError(f"wg.{self.name}: nothing to concatenate")
        final = np.result_type(*kinds)
        objs = [o if dtype_of(o) == final else (astype(o, final) if isinstance(o, Tensor) else o.astype(final))
                for o in objs]
        objs[0] = as_tensor(objs[0])
        res = concatenate(*objs, axis=axis)
        if matrix:
            if _ndim(res) > 2:
                raise ValueError(f"wg.{self.name}: the 'r' / 'c' directives make a matrix, which must be 2-D")
            if _ndim(res) == 1:
                res = reshape(res, (-1, 1) if column else (1, -1))
        return res

    @staticmethod
    def _range(item: slice, ndmin: int, trans1d: int) -> np.ndarray:
        start = 0 if item.start is None else item.start
        step = 1 if item.step is None else item.step
        if isinstance(step, (complex, np.complexfloating)):
            obj = np.linspace(start, item.stop, num=int(abs(step)))
        else:
            obj = np.arange(start, item.stop, step)
        if ndmin > 1:
            obj = np.array(obj, ndmin=ndmin)
            if trans1d != -1:
                obj = obj.swapaxes(-1, trans1d)
        return obj

    @staticmethod
    def _lift(item: Any, ndmin: int, trans1d: int) -> Any:
        """An array item with at least ndmin axes; the original axes moved to trans1d (as NumPy's)."""
        x = item if isinstance(item, Tensor) else as_tensor(item) if isinstance(item, (list, tuple)) else np.asarray(item)
        shape = tuple(shape_of(x))
        nd = len(shape)
        if nd >= ndmin:
            return x
        x = reshape(x, (1,) * (ndmin - nd) + shape)
        if trans1d != -1:
            k2 = ndmin - nd
            k1 = trans1d + k2 + 1 if trans1d < 0 else trans1d
            axes = list(range(ndmin))
            x = transpose(x, axes=tuple(axes[:k1] + axes[k2:] + axes[k1:k2]))
        return x


r_ = _Concatenator(0, 1, -1, "r_")
c_ = _Concatenator(-1, 2, 0, "c_")


# ====================================================================== matrices and axes (composites)
def _permute(x: Any, perm: Sequence[int]) -> Any:
    perm = tuple(int(p) for p in perm)
    return x if perm == tuple(range(len(perm))) else transpose(x, axes=perm)


@composite(methods=("diagonal",), numpy=(np.diagonal,))
def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal ``offset`` of the matrices in axes (axis1, axis2), as a last axis (np.diagonal)."""
    nd = _ndim(a)
    if nd < 2:
        raise ValueError(f"diagonal: needs an array of at least two dimensions, got shape {shape_of(a)}")
    a1, a2 = _axis(axis1, nd, "diagonal"), _axis(axis2, nd, "diagonal")
    if a1 == a2:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    shape = shape_of(a)
    n1, n2 = shape[a1], shape[a2]
    row0, col0 = (0, offset) if offset >= 0 else (-offset, 0)
    k = max(0, min(n1 - row0, n2 - col0))
    x = _permute(a, [i for i in range(nd) if i not in (a1, a2)] + [a1, a2])
    return getitem(x, index=(slice(None),) * (nd - 2) + (np.arange(k) + row0, np.arange(k) + col0))


@composite(methods=("trace",), numpy=(np.trace,))
def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None) -> Any:
    """Sum of a diagonal (np.trace): of the matrices in axes (axis1, axis2), ``offset`` above the main one.

    A 2-D matrix's main diagonal is the primitive ``trace`` (one step of the
    Wengert list); anything else is the sum of :func:`diagonal`.

    >>> import wengert as wg
    >>> wg.tensor([[1.0, 2.0], [3.0, 4.0]]).trace(offset=1)
    tensor(2.)
    """
    nd = _ndim(a)
    if nd == 2 and offset == 0 and {_axis(axis1, 2, "trace"), _axis(axis2, 2, "trace")} == {0, 1}:
        out = _trace2d(a)
    else:
        out = sum_(diagonal(a, offset, axis1, axis2), axis=-1)
    return out if dtype is None else astype(out, dtype)


@composite(numpy=(np.diag,))
def diag(v: Any, k: int = 0) -> Any:
    """A vector's square matrix with it on diagonal k, or a matrix's diagonal k (np.diag)."""
    nd = _ndim(v)
    if nd == 2:
        return diagonal(v, k)
    if nd != 1:
        raise ValueError(f"diag: the input must be 1-D or 2-D, got shape {shape_of(v)}")
    n = shape_of(v)[0] + abs(k)
    row0, col0 = (0, k) if k >= 0 else (-k, 0)
    i = np.arange(shape_of(v)[0])
    return scatter_add(v, index=(i + row0, i + col0), shape=(n, n))


@composite(numpy=(np.diagflat,))
def diagflat(v: Any, k: int = 0) -> Any:
    """The flattened input on diagonal k of a square matrix (np.diagflat)."""
    return diag(ravel(v), k)


def _masked(m: Any, mask: np.ndarray, keep_where: bool) -> Any:
    zero = np.zeros((), dtype=dtype_of(m))
    return where(mask, m, zero) if keep_where else where(mask, zero, m)


@composite(methods=("tril",), numpy=(np.tril,))
def tril(m: Any, k: int = 0) -> Any:
    """The lower triangle (on and below diagonal k) of the matrices in the last two axes; zeros above (np.tril)."""
    return _masked(m, np.tri(*shape_of(m)[-2:], k=k, dtype=bool), True)


@composite(methods=("triu",), numpy=(np.triu,))
def triu(m: Any, k: int = 0) -> Any:
    """The upper triangle (on and above diagonal k) of the matrices in the last two axes; zeros below (np.triu)."""
    return _masked(m, np.tri(*shape_of(m)[-2:], k=k - 1, dtype=bool), False)


@composite(methods=("flipud",), numpy=(np.flipud,))
def flipud(m: Any) -> Any:
    """Reverse the first axis (up/down), as np.flipud."""
    if _ndim(m) < 1:
        raise ValueError("flipud: the input must be at least 1-D")
    return flip(m, 0)


@composite(methods=("fliplr",), numpy=(np.fliplr,))
def fliplr(m: Any) -> Any:
    """Reverse the second axis (left/right), as np.fliplr."""
    if _ndim(m) < 2:
        raise ValueError("fliplr: the input must be at least 2-D")
    return flip(m, 1)


@composite(methods=("rot90",), numpy=(np.rot90,))
def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """Rotate by 90 degrees k times, from the first axis of ``axes`` towards the second (np.rot90)."""
    axes = tuple(axes)
    nd = _ndim(m)
    if len(axes) != 2:
        raise ValueError("rot90: len(axes) must be 2")
    if axes[0] == axes[1] or abs(axes[0] - axes[1]) == nd:
        raise ValueError("rot90: the axes must be different")
    if not all(-nd <= a < nd for a in axes):
        raise ValueError(f"rot90: axes={axes} out of range for an array of dimension {nd}")
    k %= 4
    if k == 0:
        return copy(m)
    if k == 2:
        return flip(flip(m, axes[0]), axes[1])
    perm = list(range(nd))
    perm[axes[0]], perm[axes[1]] = perm[axes[1]], perm[axes[0]]
    if k == 1:
        return transpose(flip(m, axes[1]), axes=tuple(perm))
    return flip(transpose(m, axes=tuple(perm)), axes[1])


@composite(numpy=(np.rollaxis,))
def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """Move ``axis`` to come before position ``start`` (np.rollaxis; np.moveaxis is the clearer name)."""
    n = _ndim(a)
    axis = _axis(axis, n, "rollaxis")
    if start < 0:
        start += n
    if not 0 <= start < n + 1:
        raise np.exceptions.AxisError(f"rollaxis: start must be in [{-n}, {n}], got {start}")
    if axis < start:
        start -= 1
    perm = [i for i in range(n) if i != axis]
    perm.insert(start, axis)
    return copy(a) if axis == start else _permute(a, perm)


@composite(methods=("roll",), numpy=(np.roll,))
def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """Shift elements along axes, those past the end coming back at the start (np.roll; flattened when axis is None)."""
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), shape_of(a))
    nd = _ndim(a)
    shape = shape_of(a)
    total = dict.fromkeys(range(nd), 0)
    for s, ax in np.broadcast(np.asarray(shift), np.asarray(axis)):
        total[_axis(ax, nd, "roll")] += int(s)
    out = a
    for ax, s in total.items():
        n = shape[ax]
        s = s % n if n else 0
        if s:
            out = concatenate(_slice_along(out, ax, slice(n - s, None)), _slice_along(out, ax, slice(0, n - s)),
                              axis=ax)
    return copy(out) if out is a else out


@composite(numpy=(np.kron,))
def kron(a: Any, b: Any) -> Any:
    """The Kronecker product: blocks a[i, j] * b (np.kron; inputs of different ranks are aligned from the right)."""
    sa, sb = tuple(shape_of(a)), tuple(shape_of(b))
    if not sa or not sb:
        return a * b
    nd = max(len(sa), len(sb))
    sa = (1,) * (nd - len(sa)) + sa
    sb = (1,) * (nd - len(sb)) + sb
    # a[i, j] b[k, l] at (i, k, j, l), then (i, k) and (j, l) merged
    a2 = reshape(a, tuple(v for s in sa for v in (s, 1)))
    b2 = reshape(b, tuple(v for s in sb for v in (1, s)))
    return reshape(a2 * b2, tuple(x * y for x, y in zip(sa, sb)))


@composite(numpy=(np.inner,))
def inner(a: Any, b: Any) -> Any:
    """Sum of products over the last axes of a and b (np.inner): shape a.shape[:-1] + b.shape[:-1]."""
    sa, sb = tuple(shape_of(a)), tuple(shape_of(b))
    if not sa or not sb:
        return a * b
    if sa[-1] != sb[-1]:
        raise ValueError(f"inner: the last axes of shapes {sa} and {sb} differ")
    n = sa[-1]
    out = matmul(reshape(a, (-1, n)), transpose(reshape(b, (-1, n))))
    return reshape(out, sa[:-1] + sb[:-1])


@composite(numpy=(np.cross,))
def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Any:
    """Cross product of (arrays of) 3-vectors, as np.cross (2-vectors, deprecated in NumPy 2, as NumPy does)."""
    import warnings

    from .composite import moveaxis, stack

    if axis is not None:
        axisa = axisb = axisc = axis
    if _ndim(a) < 1 or _ndim(b) < 1:
        raise ValueError("cross: at least one array has zero dimension")
    a = moveaxis(a, _axis(axisa, _ndim(a), "cross (axisa)"), -1)
    b = moveaxis(b, _axis(axisb, _ndim(b), "cross (axisb)"), -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("cross: incompatible dimensions for cross product (dimension must be 2 or 3)")
    if na == 2 or nb == 2:
        warnings.warn("cross: arrays of 2-dimensional vectors are deprecated (as in NumPy 2); "
                      "use arrays of 3-dimensional vectors", DeprecationWarning, stacklevel=3)
    a0, a1 = getitem(a, index=(Ellipsis, 0)), getitem(a, index=(Ellipsis, 1))
    b0, b1 = getitem(b, index=(Ellipsis, 0)), getitem(b, index=(Ellipsis, 1))
    z = a0 * b1 - a1 * b0
    if na == 2 and nb == 2:
        return z
    if na == 3 and nb == 3:
        a2, b2 = getitem(a, index=(Ellipsis, 2)), getitem(b, index=(Ellipsis, 2))
        x, y = a1 * b2 - a2 * b1, a2 * b0 - a0 * b2
    elif na == 2:
        b2 = getitem(b, index=(Ellipsis, 2))
        x, y = a1 * b2, -(a0 * b2)
    else:
        a2 = getitem(a, index=(Ellipsis, 2))
        x, y = -(a2 * b1), a2 * b0
    x, y, z = (broadcast_to(c, np.broadcast_shapes(shape_of(x), shape_of(y), shape_of(z))) for c in (x, y, z))
    out = stack([x, y, z], axis=-1)
    return moveaxis(out, -1, _axis(axisc, _ndim(out), "cross (axisc)"))


# ====================================================================== differences, selection, cleaning (composites)
@composite(methods=("diff",), numpy=(np.diff,))
def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """The n-th discrete difference along axis, out[i] = a[i+1] - a[i] applied n times (np.diff)."""
    if n == 0:
        return a
    if n < 0:
        raise ValueError(f"diff: the order n must be non-negative, got {n}")
    nd = _ndim(a)
    if nd == 0:
        raise ValueError("diff: the input must be at least 1-D")
    ax = _axis(axis, nd, "diff")

    def edge(extra: Any) -> Any:  # a scalar to prepend / append is broadcast to one slice along the axis
        if _ndim(extra) == 0:
            shape = list(shape_of(a))
            shape[ax] = 1
            return broadcast_to(extra, tuple(shape))
        return extra

    parts = ([edge(prepend)] if prepend is not None else []) + [a] + ([edge(append)] if append is not None else [])
    if len(parts) > 1:
        a = concatenate(*parts, axis=ax)
    boolean = dtype_of(a) == np.bool_
    for _ in range(n):
        hi, lo = _slice_along(a, ax, slice(1, None)), _slice_along(a, ax, slice(None, -1))
        a = (hi != lo) if boolean else hi - lo
    return a


def _spacing(v: Any, n: int, who: str) -> Any:
    """A spacing argument of np.gradient: a number, or the coordinates along the axis (its differences returned)."""
    d = np.asarray(v)
    if d.ndim == 0:
        return d[()]
    if d.ndim != 1:
        raise ValueError(f"{who}: distances must be either scalars or 1-D coordinates")
    if len(d) != n:
        raise ValueError(f"{who}: 1-D distances must match the length of the corresponding axis ({n}), got {len(d)}")
    dx = np.diff(d.astype(np.float64) if d.dtype.kind in "iub" else d)
    return dx[0] if (dx == dx[0]).all() else dx  # (constant steps: the uniform formulas, as NumPy)


@composite(numpy=(np.gradient,))
def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """The derivative estimated by finite differences along each axis (np.gradient): second-order central
    differences inside, first- or second-order one-sided ones at the ends; one array per axis (a tuple for several).

    The spacings (``varargs``: one number for all axes, or a number or coordinate
    vector per axis) are constants; the gradient flows to ``f``.
    """
    nd = _ndim(f)
    axes = _axes(axis, nd) if axis is not None else tuple(range(nd))
    if axis is not None and not isinstance(axis, (int, np.integer)):
        axes = tuple(_axis(a, nd, "gradient") for a in axis)  # (in the order given, repeats kept, as NumPy)
    if len(varargs) == 0:
        dxs = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        dxs = [np.asarray(varargs[0])[()]] * len(axes)
    elif len(varargs) == len(axes):
        dxs = [_spacing(v, shape_of(f)[ax], "gradient") for v, ax in zip(varargs, axes)]
    else:
        raise TypeError(f"gradient: give no spacing, one for all axes, or one per axis ({len(axes)}), "
                        f"got {len(varargs)}")
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    if dtype_of(f).kind not in "fc":
        f = astype(f, np.float64)
    outs = [_gradient_along(f, ax, dx, edge_order) for ax, dx in zip(axes, dxs)]
    return outs[0] if len(outs) == 1 else tuple(outs)


def _gradient_along(f: Any, ax: int, dx: Any, edge_order: int) -> Any:
    n = shape_of(f)[ax]
    if n < edge_order + 1:
        raise ValueError(f"gradient: an axis of length {n} is too short for edge_order={edge_order} "
                         f"(at least {edge_order + 1} elements are needed)")

    def at(lo: int | None, hi: int | None) -> Any:
        return _slice_along(f, ax, slice(lo, hi))

    def column(v: np.ndarray) -> np.ndarray:  # coefficients along the axis, broadcast against f
        return v.reshape((-1,) + (1,) * (_ndim(f) - ax - 1))

    uniform = np.ndim(dx) == 0
    if uniform:
        inside = (at(2, None) - at(None, -2)) / (2.0 * dx)
    else:
        dx1, dx2 = dx[:-1], dx[1:]
        a = column(-dx2 / (dx1 * (dx1 + dx2)))
        b = column((dx2 - dx1) / (dx1 * dx2))
        c = column(dx1 / (dx2 * (dx1 + dx2)))
        inside = a * at(None, -2) + b * at(1, -1) + c * at(2, None)
    if edge_order == 1:
        first = (at(1, 2) - at(0, 1)) / (dx if uniform else dx[0])
        last = (at(-1, None) - at(-2, -1)) / (dx if uniform else dx[-1])
    else:
        if uniform:
            a, b, c = -1.5 / dx, 2.0 / dx, -0.5 / dx
        else:
            dx1, dx2 = dx[0], dx[1]
            a = -(2.0 * dx1 + dx2) / (dx1 * (dx1 + dx2))
            b = (dx1 + dx2) / (dx1 * dx2)
            c = -dx1 / (dx2 * (dx1 + dx2))
        first = a * at(0, 1) + b * at(1, 2) + c * at(2, 3)
        if uniform:
            a, b, c = 0.5 / dx, -2.0 / dx, 1.5 / dx
        else:
            dx1, dx2 = dx[-2], dx[-1]
            a = dx2 / (dx1 * (dx1 + dx2))
            b = -(dx2 + dx1) / (dx1 * dx2)
            c = (2.0 * dx2 + dx1) / (dx2 * (dx1 + dx2))
        last = a * at(-3, -2) + b * at(-2, -1) + c * at(-1, None)
    return concatenate(first, inside, last, axis=ax)


def _select_args(condlist: Any, choicelist: Any, default: Any = 0) -> tuple:
    """Public prepare of select: the result is a Tensor (its first choice is made one)."""
    choicelist = list(choicelist)
    if choicelist:
        choicelist[0] = as_tensor(choicelist[0])
    return (list(condlist), choicelist, default), {}


@_public(_select_args, numpy=(np.select,))
def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Any:
    """Elements of the first choice whose condition holds, ``default`` where none does (np.select).

    The gradient goes to the chosen elements; the conditions get none.
    """
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: {len(condlist)} conditions but {len(choicelist)} choices; give one choice per "
                         "condition")
    if not condlist:
        raise ValueError("select: the list of conditions is empty")
    for i, c in enumerate(condlist):
        if dtype_of(c) != np.bool_:
            raise TypeError(f"select: condition {i} must be a boolean array, got dtype {dtype_of(c)}")
    out = default
    for c, choice in zip(reversed(condlist), reversed(choicelist)):
        out = where(c, choice, out)
    shape = np.broadcast_shapes(*(shape_of(v) for v in (*condlist, *choicelist, default)))
    return out if shape_of(out) == shape else broadcast_to(out, shape)


@composite(methods=("nan_to_num",), numpy=(np.nan_to_num,))
def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """NaN and infinities replaced by finite numbers (np.nan_to_num); the gradient is 1 where x was finite, else 0.

    Unlike NumPy's ``copy=False``, the input is never changed in place.
    """
    dt = dtype_of(x)
    if dt.kind != "f":
        return x
    big = np.finfo(dt).max
    fill = where(isnan(x), np.asarray(nan, dt),
                 where(greater(x, 0), np.asarray(big if posinf is None else posinf, dt),
                       np.asarray(-big if neginf is None else neginf, dt)))
    return where(isfinite(x), x, fill)


@composite(numpy=(np.linspace,))
def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False, dtype: Any = None,
             axis: int = 0) -> Any:
    """``num`` evenly spaced values from start to stop (np.linspace), differentiable in start and stop."""
    num = int(num)
    if num < 0:
        raise ValueError(f"linspace: the number of samples must be non-negative, got {num}")
    div = num - 1 if endpoint else num
    # the dtype NumPy computes in: that of the arrays (Python numbers are weak), at least floating
    dt = np.result_type(*(dtype_of(v) if isinstance(v, (Tensor, np.ndarray, np.generic)) else v for v in (start, stop)))
    dt = dt if dt.kind in "fc" else np.dtype(np.float64)
    delta = stop - start
    shape = tuple(shape_of(delta))
    steps = np.arange(num, dtype=dt).reshape((-1,) + (1,) * len(shape))
    if div > 0:
        step = delta / div
        y = steps * step + start
    else:  # no step: zero or one sample (NumPy's step is nan)
        step = float("nan")
        y = steps * delta + start
    if endpoint and num > 1:  # the last value is stop itself, as NumPy makes it
        y = concatenate(getitem(y, index=slice(None, -1)), reshape(broadcast_to(stop, shape), (1,) + shape), axis=0)
    if axis != 0:
        from .composite import moveaxis

        y = moveaxis(y, 0, axis)
    if dtype is not None:
        y = astype(floor(y) if np.dtype(dtype).kind in "iu" else y, dtype)
    return (y, step) if retstep else y
