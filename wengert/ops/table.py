"""The rule table: every primitive op, declared once, forward + VJP + JVP side by side.

Conventions (one vocabulary): ``ans`` is the op's output, ``g`` the incoming
cotangent, ``t`` an input tangent.  VJP entries return a cotangent with the
*output's* shape: the engine sums it back over broadcast axes (core.shapes).
Rules call other rules, so they work on plain values and on Tensors alike.

Choices at kinks, documented and tested: relu'(0) = 0, abs'(0) = 0,
leaky_relu'(0) = slope, clip passes the gradient on its closed interval,
max/min/maximum/minimum split the gradient evenly between tied elements.

Derivative helpers that test values (relu's mask, maximum's winner, ...) come
in two versions: on plain values (the fast first-order backward) they use
NumPy directly; given Tensors (a recorded backward: create_graph, grad of
grad, a wg.jit trace) they call the comparison rules, so that a wg.jit trace
records the test instead of freezing its result (see core.rule._finish).
"""
from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from ..core.rule import Rule
from ..core.shapes import broadcast_to, cast, stop_gradient, sum_to
from ..core.tensor import Tensor, dtype_of, shape_of, value_of
from .kernels import max_keepdims, maximum_zero
from .surface import Surface

# ============================================================== helpers


def _ndim(x: Any) -> int:
    return len(shape_of(x))


def _axes(axis: Any, ndim: int) -> tuple:
    """Normalise an ``axis`` argument to a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    out = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise np.exceptions.AxisError(f"axis {a} is out of bounds for an array of dimension {ndim}")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(out))


def _keepdims_shape(shape: tuple, axis: Any) -> tuple:
    ax = _axes(axis, len(shape))
    return tuple(1 if i in ax else s for i, s in enumerate(shape))


def _expand(g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """Reshape a reduction's output (or cotangent) so it broadcasts against the input."""
    if keepdims:
        return g
    return reshape(g, _keepdims_shape(shape_of(x), axis))


# ============================================================== elementwise arithmetic

add = Rule(
    "add", np.add, scalar=operator.add,
    partials=(lambda ans, x, y: 1.0, lambda ans, x, y: 1.0),  # d(x+y)/dx = 1, d(x+y)/dy = 1
    vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: g),
    jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: t),
    doc="x + y",
    surface=Surface(ufunc=np.add),
)

subtract = Rule(
    "subtract", np.subtract, scalar=operator.sub,
    partials=(lambda ans, x, y: 1.0, lambda ans, x, y: -1.0),  # d(x-y)/dx = 1, d(x-y)/dy = -1
    vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: negative(g)),
    jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: negative(t)),
    doc="x - y",
    surface=Surface(ufunc=np.subtract),
)

multiply = Rule(
    "multiply", np.multiply, scalar=operator.mul,
    partials=(lambda ans, x, y: y, lambda ans, x, y: x),  # d(xy)/dx = y, d(xy)/dy = x
    vjp=(lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x),  # the same, one call less (hot path)
    doc="x * y",
    surface=Surface(ufunc=np.multiply),
)

divide = Rule(
    "divide", np.true_divide, scalar=operator.truediv,
    partials=(lambda ans, x, y: 1.0 / y, lambda ans, x, y: negative(ans) / y),  # d(x/y)/dx = 1/y, d/dy = -x/y^2
    vjp=(lambda g, ans, x, y: g / y, lambda g, ans, x, y: negative(g) * ans / y),
    doc="x / y",
    surface=Surface(aliases=("true_divide",), ufunc=np.true_divide),
)

negative = Rule(
    "negative", np.negative, scalar=operator.neg,
    partials=(lambda ans, x: -1.0,),  # d(-x)/dx = -1
    vjp=(lambda g, ans, x: negative(g),),
    jvp=(lambda t, ans, x: negative(t),),
    doc="-x",
    surface=Surface(methods=("negative",), ufunc=np.negative),
)


def _pow_scalar(x: float, y: float) -> Any:
    return x**y  # complex for a negative base: rejected by Rule.evaluate, NumPy then gives nan


def _pow_dx(ans: Any, x: Any, y: Any) -> Any:
    # d(x^y)/dx = y x^(y-1), and 0 where y == 0 (x^0 = 1 is constant; y x^(y-1) would be 0 * inf at x = 0)
    if type(y) is int or type(y) is float:
        if y == 2:
            return 2.0 * x
        if y == 1:
            return 1.0 + 0.0 * x
        if y == 0:
            return 0.0 * x
    if isinstance(y, Tensor):
        zero = equal(y, 0)
    else:
        zero = np.equal(y, 0)
        if not zero.any():
            return y * power(x, y - 1)
    safe = where(zero, 1.0, y)  # (so that no branch, nor its derivative, computes 0 * inf)
    return where(zero, 0.0, safe * power(x, safe - 1))


def _pow_dy(ans: Any, x: Any, y: Any) -> Any:
    # d(x^y)/dy = x^y log x  (0 where x == 0, as PyTorch does)
    zero = equal(x, 0) if isinstance(x, Tensor) else x == 0
    safe = where(zero, 1.0, x)
    return ans * log(safe)


power = Rule(
    "power", np.power, scalar=_pow_scalar,
    partials=(_pow_dx, _pow_dy),
    doc="x ** y (the exponent may be a tensor too)",
    surface=Surface(methods=("pow",), ufunc=np.power),
)

maximum = Rule(
    "maximum", np.maximum, scalar=max,
    # 1 where x wins, 1/2 on ties (the gradient is split evenly), 0 elsewhere
    partials=(lambda ans, x, y: _win(x, y), lambda ans, x, y: _win(y, x)),
    doc="elementwise maximum (ties split the gradient evenly)",
    surface=Surface(methods=("maximum",), ufunc=np.maximum),
)

minimum = Rule(
    "minimum", np.minimum, scalar=min,
    partials=(lambda ans, x, y: _win(y, x), lambda ans, x, y: _win(x, y)),
    doc="elementwise minimum (ties split the gradient evenly)",
    surface=Surface(methods=("minimum",), ufunc=np.minimum),
)


def _win(x: Any, y: Any) -> Any:
    if isinstance(x, Tensor) or isinstance(y, Tensor):  # the same NumPy calls, as rules
        w = add(greater(x, y), multiply(0.5, equal(x, y)))
        dt = np.result_type(dtype_of(x), dtype_of(y), np.float32)
        return w if w.dtype == dt else cast(w, dt)
    tx, ty = type(x), type(y)
    if (tx is float or tx is int) and (ty is float or ty is int):  # Python numbers (the scalar tape)
        return 1.0 if x > y else (0.5 if x == y else 0.0)
    return (np.greater(x, y) + 0.5 * np.equal(x, y)).astype(np.result_type(dtype_of(x), dtype_of(y), np.float32))


def _where_impl(c: Any, x: Any, y: Any) -> Any:
    return np.where(c, x, y)


def _where_args(condition: Any, x: Any, y: Any) -> tuple:
    """where(condition, x, y): a tensor condition stays an op input (so wg.jit stages how it was computed)."""
    if isinstance(condition, Tensor):
        c = condition if condition.dtype == np.bool_ else not_equal(condition, 0)  # (as np.asarray(., bool))
    else:
        c = np.asarray(condition, dtype=bool)
    return (c, x, y), {}


where = Rule(
    "where", _where_impl,
    vjp=(None,
         lambda g, ans, c, x, y: where(c, g, 0.0),
         lambda g, ans, c, x, y: where(c, 0.0, g)),
    jvp=(None,
         lambda t, ans, c, x, y: where(c, t, 0.0),
         lambda t, ans, c, x, y: where(c, 0.0, t)),
    doc="where(condition, x, y): x where condition holds, else y (no gradient to the condition)",
    surface=Surface(numpy=(np.where,), prepare=_where_args),
)


# ============================================================== elementwise functions
def _unary(name: str, impl: Any, scalar: Any, partial: Any, doc: str, ufunc: Any = None, **surface: Any) -> Rule:
    """An elementwise function of one argument: wg.NAME, the method t.NAME(), and NumPy's ufunc if it has one."""
    surface.setdefault("methods", (surface.get("name", name),))
    return Rule(name, impl, scalar=scalar, partials=(partial,), doc=doc, surface=Surface(ufunc=ufunc, **surface))


def _tanh_grad_np(g: Any, a: Any) -> Any:
    return g * (1.0 - a * a)


# tanh's VJP as an op of its own (PyTorch's tanh_backward): differentiated again (a Hessian, forward over
# reverse) it is one product per input, where g * (1 - a * a) written with ops would be four
tanh_grad = Rule("tanh_grad", _tanh_grad_np, scalar=_tanh_grad_np,
                 partials=(lambda ans, g, a: 1.0 - a * a, lambda ans, g, a: -2.0 * (g * a)),
                 doc="the VJP of tanh: g (1 - a^2) for a = tanh x")


def _tanh_vjp(g: Any, ans: Any, x: Any) -> Any:
    if isinstance(g, Tensor) or isinstance(ans, Tensor):
        return tanh_grad(g, ans)
    return g * (1.0 - ans * ans)  # (plain values: the scalar benchmarks' hidden activation, computed inline)


tanh = Rule("tanh", np.tanh, scalar=math.tanh, partials=(lambda ans, x: 1.0 - ans * ans,), vjp=(_tanh_vjp,),
            doc="hyperbolic tangent;  d/dx = 1 - tanh^2 x", surface=Surface(methods=("tanh",), ufunc=np.tanh))


exp = _unary("exp", np.exp, math.exp, lambda ans, x: ans, "e^x;  d/dx e^x = e^x", ufunc=np.exp)
log = _unary("log", np.log, math.log, lambda ans, x: 1.0 / x, "natural log;  d/dx log x = 1/x", ufunc=np.log)
log1p = _unary("log1p", np.log1p, math.log1p, lambda ans, x: 1.0 / (1.0 + x), "log(1 + x);  d/dx = 1/(1+x)", ufunc=np.log1p)
expm1 = _unary("expm1", np.expm1, math.expm1, lambda ans, x: ans + 1.0, "e^x - 1;  d/dx = e^x", ufunc=np.expm1)
sqrt = _unary("sqrt", np.sqrt, math.sqrt, lambda ans, x: 0.5 / ans, "square root;  d/dx sqrt(x) = 1/(2 sqrt(x))", ufunc=np.sqrt)
square = _unary("square", np.square, lambda x: x * x, lambda ans, x: 2.0 * x, "x^2;  d/dx = 2x", ufunc=np.square)
sin = _unary("sin", np.sin, math.sin, lambda ans, x: cos(x), "sine;  d/dx sin x = cos x", ufunc=np.sin)
cos = _unary("cos", np.cos, math.cos, lambda ans, x: negative(sin(x)), "cosine;  d/dx cos x = -sin x", ufunc=np.cos)
tan = _unary("tan", np.tan, math.tan, lambda ans, x: 1.0 + ans * ans, "tangent;  d/dx tan x = 1 + tan^2 x", ufunc=np.tan)
arctan = _unary("arctan", np.arctan, math.atan, lambda ans, x: 1.0 / (1.0 + x * x), "arctan;  d/dx = 1/(1+x^2)", ufunc=np.arctan)
sinh = _unary("sinh", np.sinh, math.sinh, lambda ans, x: cosh(x), "hyperbolic sine;  d/dx = cosh x", ufunc=np.sinh)
cosh = _unary("cosh", np.cosh, math.cosh, lambda ans, x: sinh(x), "hyperbolic cosine;  d/dx = sinh x", ufunc=np.cosh)


def _sigmoid_np(x: Any) -> Any:
    # stable: never exponentiates a positive number
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype if x.dtype.kind == "f" else np.float64)


def _sigmoid_scalar(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


sigmoid = _unary("sigmoid", _sigmoid_np, _sigmoid_scalar, lambda ans, x: ans * (1.0 - ans),
                 "logistic sigmoid 1/(1+e^-x), computed stably;  d/dx = s(1-s)")


def _softplus_np(x: Any) -> Any:
    return np.logaddexp(0.0, x)


def _softplus_scalar(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


softplus = _unary("softplus", _softplus_np, _softplus_scalar, lambda ans, x: sigmoid(x),
                  "log(1 + e^x), computed stably;  d/dx = sigmoid(x)")


def _relu_scalar(x: float) -> float:
    return max(0.0, x)


def _relu_vjp(g: Any, ans: Any, x: Any) -> Any:
    if type(g) is np.ndarray and type(x) is np.ndarray:
        return g * (x > 0)  # (g * partial, written out: the hidden activation of every MLP's backward pass)
    return g * _gt0(x)


relu = Rule("relu", maximum_zero, scalar=_relu_scalar, partials=(lambda ans, x: _gt0(x),),
            vjp=(_relu_vjp,), doc="max(x, 0);  d/dx = 1 for x > 0, 0 for x <= 0 (relu'(0) = 0)",
            surface=Surface(methods=("relu",)))


def _gt0(x: Any) -> Any:
    if type(x) is float:
        return 1.0 if x > 0.0 else 0.0
    if isinstance(x, Tensor):
        return greater(x, 0)
    return x > 0  # a boolean mask: g * mask keeps g's dtype, one pass fewer than a float mask


def _fdtype(x: Any) -> np.dtype:
    """The floating dtype a function of x computes in (x's own, or float64 for integers)."""
    d = dtype_of(x)
    return d if d.kind == "f" else np.dtype(np.float64)


leaky_relu = Rule(
    "leaky_relu", lambda x, negative_slope=0.01: np.where(x > 0, x, x * negative_slope).astype(_fdtype(x)),
    # d/dx = 1 for x > 0, slope for x <= 0
    partials=(lambda ans, x, negative_slope=0.01: _leaky_d(x, negative_slope),),
    doc="x for x > 0, negative_slope * x otherwise;  leaky_relu'(0) = negative_slope",
    surface=Surface(methods=("leaky_relu",)),
)


def _leaky_d(x: Any, slope: float) -> Any:
    if isinstance(x, Tensor):
        d = where(greater(x, 0), 1.0, slope)
        return d if d.dtype == x.dtype else cast(d, x.dtype)
    d = np.where(x > 0, 1.0, slope)
    return normalize_like(d, x)


def normalize_like(d: Any, like: Any) -> Any:
    if type(like) is float:
        return float(d)
    return np.asarray(d, dtype=dtype_of(like))


elu = Rule(
    "elu", lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(_fdtype(x)),
    # d/dx = 1 for x > 0, alpha e^x = ans + alpha for x <= 0
    partials=(lambda ans, x, alpha=1.0: where(greater(x, 0) if isinstance(x, Tensor) else x > 0, 1.0, ans + alpha),),
    doc="x for x > 0, alpha (e^x - 1) otherwise",
    surface=Surface(methods=("elu",)),
)


def _abs_scalar(x: float) -> float:
    return abs(x)


def _abs_d(ans: Any, x: Any) -> Any:
    if type(x) is not float and dtype_of(x).kind == "c":  # |z| of a complex z: conj(z) / |z| (ops/complex.py)
        from .complex import abs_partial

        return abs_partial(ans, x)
    return sign(x)


absolute = _unary("abs", np.abs, _abs_scalar, _abs_d, "|x|;  d/dx = sign(x) (abs'(0) = 0); conj(z)/|z| for complex z", ufunc=np.absolute, aliases=("absolute",), methods=("abs",))

sign = Rule("sign", np.sign, differentiable=False, doc="sign of x (no gradient: zero almost everywhere)", surface=Surface(methods=("sign",), ufunc=np.sign))


def _erf_np(x: Any) -> Any:
    try:
        from scipy.special import erf as _erf  # optional: vectorised and exact
    except ImportError:  # pragma: no cover - depends on the environment
        _erf = np.vectorize(math.erf, otypes=[np.float64])
    x = np.asarray(x)
    if x.dtype.kind == "c" and isinstance(_erf, np.vectorize):
        raise TypeError("erf: complex inputs need SciPy (pip install scipy): math.erf takes real numbers only")
    return np.asarray(_erf(x)).astype(x.dtype if x.dtype.kind in "fc" else np.float64)


erf = _unary("erf", _erf_np, math.erf, lambda ans, x: (2.0 / math.sqrt(math.pi)) * exp(negative(x * x)),
             "the error function;  d/dx erf(x) = 2/sqrt(pi) e^(-x^2)")


def _clip_impl(x: Any, a_min: Any = None, a_max: Any = None) -> Any:
    return np.clip(x, a_min, a_max)


def _clip_d(ans: Any, x: Any, a_min: Any = None, a_max: Any = None) -> Any:
    lo, hi = a_min, a_max
    if isinstance(x, Tensor):  # the same tests, as rules
        m = greater_equal(x, lo) if lo is not None else None
        if hi is not None:
            m = less_equal(x, hi) if m is None else logical_and(m, less_equal(x, hi))
        if m is None:
            return np.ones(x.shape, dtype=x.dtype) if type(value_of(x)) is not float else 1.0
        return cast(m, x.dtype)
    xr = x
    m = np.ones(np.shape(xr), dtype=bool)
    if lo is not None:
        m &= np.asarray(xr >= lo)
    if hi is not None:
        m &= np.asarray(xr <= hi)
    return normalize_like(m.astype(np.float64), xr) if type(xr) is float else m.astype(dtype_of(xr))


clip = Rule("clip", _clip_impl, partials=(_clip_d,),
            doc="clip(x, lo, hi): the gradient passes where lo <= x <= hi (bounds included)", surface=Surface(methods=("clip",), numpy=(np.clip,)))


# ============================================================== comparisons (no gradient)
def _cmp(name: str, fn: Any) -> Rule:
    return Rule(name, fn, differentiable=False, doc=f"elementwise {name} (bool result, no gradient)",
                surface=Surface(ufunc=fn))


greater = _cmp("greater", np.greater)
greater_equal = _cmp("greater_equal", np.greater_equal)
less = _cmp("less", np.less)
less_equal = _cmp("less_equal", np.less_equal)
equal = _cmp("equal", np.equal)
not_equal = _cmp("not_equal", np.not_equal)
logical_and = _cmp("logical_and", np.logical_and)
logical_or = _cmp("logical_or", np.logical_or)
logical_not = _cmp("logical_not", np.logical_not)
isfinite = _cmp("isfinite", np.isfinite)
isnan = _cmp("isnan", np.isnan)
isinf = _cmp("isinf", np.isinf)

# ============================================================== reductions


def _sum_impl(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    # np.add.reduce is np.sum without its Python-level dispatch (a microsecond per call on small arrays)
    return np.add.reduce(x, axis=axis, keepdims=keepdims) if type(x) is np.ndarray else np.sum(x, axis=axis, keepdims=keepdims)


sum_ = Rule(
    "sum", _sum_impl,
    # d/dx_i sum(x) = 1: the cotangent is broadcast back over the reduced axes
    vjp=(lambda g, ans, x, axis=None, keepdims=False:
         broadcast_to(g if axis is None else _expand(g, x, axis, keepdims), shape_of(x)),),
    jvp=(lambda t, ans, x, axis=None, keepdims=False: sum_(t, axis=axis, keepdims=keepdims),),
    doc="sum over axis",
    surface=Surface(name="sum", methods=("sum",), numpy=(np.sum,)),
)


def _extreme_weights(ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """1/k on each of the k elements that attain the max (or min), 0 elsewhere."""
    if isinstance(x, Tensor) or isinstance(ans, Tensor):  # the same NumPy calls, as rules
        shape = shape_of(x)
        a = ans if keepdims else reshape(ans, _keepdims_shape(shape, axis))
        mask = equal(x, a)
        count = sum_(mask, axis=_axes(axis, len(shape)), keepdims=True)
        w = divide(mask, count)
        dt = dtype_of(x)
        return w if dtype_of(w) == dt else cast(w, dt)
    xr = np.asarray(x)
    a = np.asarray(ans)
    if not keepdims:
        a = a.reshape(_keepdims_shape(xr.shape, axis))
    mask = xr == a
    count = np.sum(mask, axis=_axes(axis, xr.ndim), keepdims=True)
    return (mask / count).astype(xr.dtype)


def _extreme(name: str, fn: Any) -> Rule:
    return Rule(
        name, lambda x, axis=None, keepdims=False: fn(x, axis=axis, keepdims=keepdims),
        vjp=(lambda g, ans, x, axis=None, keepdims=False:
             _expand(g, x, axis, keepdims) * _extreme_weights(ans, x, axis, keepdims),),
        jvp=(lambda t, ans, x, axis=None, keepdims=False:
             sum_(t * _extreme_weights(ans, x, axis, keepdims), axis=axis, keepdims=keepdims),),
        doc=f"{name} over axis (ties split the gradient evenly)",
    )


max_ = _extreme("max", np.max)
min_ = _extreme("min", np.min)


def _prod_impl(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return np.prod(x, axis=axis, keepdims=keepdims)


def _prod_others_impl(x: Any, axis: Any = None) -> Any:
    """d prod / d x_i = the product of the other elements: left and right running products (exact at zeros)."""
    xa = np.asarray(x)
    ax = _axes(axis, xa.ndim)
    moved = np.moveaxis(xa, ax, tuple(range(xa.ndim - len(ax), xa.ndim)))
    flat = moved.reshape(moved.shape[: xa.ndim - len(ax)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=xa.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape(moved.shape)
    return np.moveaxis(others, tuple(range(xa.ndim - len(ax), xa.ndim)), ax)


def _prod_others_vjp(g: Any, ans: Any, x: Any, axis: Any = None) -> Any:
    # d others_i / d x_j = prod_{k != i, j} x_k = others_j / x_i for i != j (0 for i == j), so
    # dx_j = others_j (sum_i g_i / x_i - g_j / x_j): exact where x has no zeros; at a zero it is
    # inf or nan (the second derivative of prod there is not computed)
    r = g / x
    return ans * (sum_(r, axis=_axes(axis, _ndim(x)), keepdims=True) - r)


prod_others = Rule(
    "prod_others", _prod_others_impl,
    vjp=(_prod_others_vjp,),
    jvp=(lambda t, ans, x, axis=None: _prod_others_vjp(t, ans, x, axis),),  # (the Jacobian is symmetric)
    doc="the product of the other elements along axis, at each element (prod's derivative; exact at zeros)",
)


def _prod_others(ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    return prod_others(x, axis=axis)


prod = Rule(
    "prod", _prod_impl,
    vjp=(lambda g, ans, x, axis=None, keepdims=False: _expand(g, x, axis, keepdims) * _prod_others(ans, x, axis, keepdims),),
    jvp=(lambda t, ans, x, axis=None, keepdims=False: sum_(t * _prod_others(ans, x, axis, keepdims), axis=axis, keepdims=keepdims),),
    doc="product over axis (exact gradient at zeros)",
    surface=Surface(methods=("prod",), numpy=(np.prod,)),
)


def _lse_impl(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    x = np.asarray(x)
    m = max_keepdims(x, axis)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = out.reshape(np.sum(x, axis=axis).shape) if axis is not None else out.reshape(())
    return out


def _lse_weights(ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    # d lse / d x = softmax(x) = exp(x - lse)
    return exp(x - _expand(ans, x, axis, keepdims))


logsumexp = Rule(
    "logsumexp", _lse_impl,
    vjp=(lambda g, ans, x, axis=None, keepdims=False: _expand(g, x, axis, keepdims) * _lse_weights(ans, x, axis, keepdims),),
    jvp=(lambda t, ans, x, axis=None, keepdims=False: sum_(t * _lse_weights(ans, x, axis, keepdims), axis=axis, keepdims=keepdims),),
    doc="log(sum(exp(x))) over axis, computed stably (no overflow)",
    surface=Surface(methods=("logsumexp",)),
)

def _logical(name: str, fn: Any) -> Rule:
    return Rule(name, lambda x, axis=None, keepdims=False: fn(x, axis=axis, keepdims=keepdims), differentiable=False,
                doc=f"whether {name} elements are true along axis (bool result, no gradient)",
                surface=Surface(methods=(name,), numpy=(fn,)))


any_ = _logical("any", np.any)
all_ = _logical("all", np.all)

argmax = Rule("argmax", lambda x, axis=None, keepdims=False: np.argmax(x, axis=axis, keepdims=keepdims),
              differentiable=False, doc="index of the maximum (no gradient)", surface=Surface(methods=("argmax",), numpy=(np.argmax,)))
argmin = Rule("argmin", lambda x, axis=None, keepdims=False: np.argmin(x, axis=axis, keepdims=keepdims),
              differentiable=False, doc="index of the minimum (no gradient)", surface=Surface(methods=("argmin",), numpy=(np.argmin,)))


# ============================================================== shape ops
def _reshape_impl(x: Any, shape: tuple) -> Any:
    return np.reshape(x, shape)


def _shape(shape: Any, name: str) -> tuple:
    """A shape given as ints, a tuple or a list (``x.reshape(2, 3)`` or ``reshape(x, (2, 3))``)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"{name}: the shape must be ints, got {shape!r}") from None


def _reshape_args(x: Any, *shape: Any, newshape: Any = None, **kw: Any) -> tuple:
    if "shape" in kw:
        shape = (kw.pop("shape"),)
    if newshape is not None:  # np.reshape's older name
        shape = (newshape,)
    if kw:
        raise TypeError(f"reshape: unexpected argument(s) {', '.join(kw)}")
    if not shape:
        raise TypeError("reshape: give the new shape, e.g. reshape(x, (2, 3))")
    return (x,), {"shape": _shape(shape, "reshape")}


reshape = Rule(
    "reshape", _reshape_impl,
    vjp=(lambda g, ans, x, shape: reshape(g, shape_of(x)),),
    jvp=(lambda t, ans, x, shape: reshape(t, shape),),
    doc="reshape (a view when NumPy can make one)",
    surface=Surface(methods=("reshape", "view"), numpy=(np.reshape,), prepare=_reshape_args),
)


def _inverse_perm(axes: tuple) -> tuple:
    return tuple(np.argsort(axes))


copy = Rule(
    "copy", lambda x: np.array(x, copy=True),
    vjp=(lambda g, ans, x: g,),  # a copy is the identity on values
    jvp=(lambda t, ans, x: t,),
    doc="a copy of x with its own storage (PyTorch's clone; the gradient flows through)",
    surface=Surface(methods=("clone", "copy"), numpy=(np.copy,)),
)


def _transpose_args(x: Any, *axes: Any, **kw: Any) -> tuple:
    if "axes" in kw:
        axes = (kw.pop("axes"),)
    if kw:
        raise TypeError(f"transpose: unexpected argument(s) {', '.join(kw)}")
    if not axes or axes == (None,):
        return (x,), {"axes": None}
    return (x,), {"axes": _shape(axes, "transpose")}


transpose = Rule(
    "transpose", lambda x, axes=None: np.transpose(x, axes),
    vjp=(lambda g, ans, x, axes=None: transpose(g, axes=None if axes is None else _inverse_perm(axes)),),
    jvp=(lambda t, ans, x, axes=None: transpose(t, axes=axes),),
    doc="permute axes (reverse them by default)",
    surface=Surface(aliases=("permute",), methods=("transpose", "permute"), numpy=(np.transpose,), prepare=_transpose_args),
)


def _is_basic(index: Any) -> bool:
    if not isinstance(index, tuple):
        index = (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in index)


def _getitem_impl(x: Any, index: Any) -> Any:
    return np.asarray(x)[index]


def _scatter_add_impl(g: Any, index: Any, shape: tuple) -> Any:
    g = np.asarray(g)
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] += g  # basic indexing never repeats an element
    else:
        np.add.at(out, index, g)  # repeated indices accumulate: x[[0, 0]] gives 2
    return out


def _index(index: Any) -> Any:
    """Turn tensors and lists inside an index into plain NumPy indices."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Tensor):
        v = index.data
        if v.dtype.kind == "f":
            raise IndexError("tensors used as indices must be integer or bool tensors")
        return v
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _getitem_args(x: Any, index: Any) -> tuple:
    return (x,), {"index": _index(index)}


getitem = Rule(
    "getitem", _getitem_impl,
    # the cotangent is scattered back (added) into zeros of the input's shape
    vjp=(lambda g, ans, x, index: scatter_add(g, index=index, shape=shape_of(x)),),
    jvp=(lambda t, ans, x, index: getitem(t, index=index),),
    doc="x[index], basic and advanced indexing (repeated indices accumulate in the gradient)",
    surface=Surface(prepare=_getitem_args),
)

scatter_add = Rule(
    "scatter_add", _scatter_add_impl,
    vjp=(lambda g, ans, u, index, shape: getitem(g, index=index),),
    jvp=(lambda t, ans, u, index, shape: scatter_add(t, index=index, shape=shape),),
    doc="zeros(shape) with u added at index (the VJP of getitem)",
)


def _setitem_impl(x: Any, v: Any, index: Any) -> Any:
    out = np.array(x, copy=True)
    out[index] = v
    return out


setitem = Rule(
    "setitem", _setitem_impl,
    # out = x with out[index] = v:  d/dx passes g where x was kept (0 at index), d/dv gathers g at index
    vjp=(lambda g, ans, x, v, index: setitem(g, 0.0, index=index),
         lambda g, ans, x, v, index: getitem(g, index=index)),
    jvp=(lambda t, ans, x, v, index: setitem(t, 0.0, index=index),
         lambda t, ans, x, v, index: setitem(np.zeros(shape_of(ans), dtype_of(ans)), t, index=index)),
    doc="x with x[index] = v, as a new value (what t[index] = v records; repeated indices: the last write wins)",
)


def _concat_impl(*xs: Any, axis: int = 0) -> Any:
    return np.concatenate(xs, axis=axis)


def _concat_vjp(g: Any, ans: Any, needs: list, *xs: Any, axis: int = 0) -> list:
    nd = _ndim(ans)
    ax = axis % nd
    out = []
    start = 0
    for need, x in zip(needs, xs):
        n = shape_of(x)[ax]
        if need:
            idx = (slice(None),) * ax + (slice(start, start + n),)
            out.append(getitem(g, index=idx))
        else:
            out.append(None)
        start += n
    return out


def _concat_jvp(tangents: list, ans: Any, *xs: Any, axis: int = 0) -> Any:
    parts = []
    for t, x in zip(tangents, xs):
        if t is None:
            parts.append(np.zeros(shape_of(x), dtype=dtype_of(x)))
        else:
            parts.append(t)
    return concatenate(*parts, axis=axis)


def _concatenate_args(xs: Any, axis: int = 0, **kw: Any) -> tuple:
    xs = list(xs)
    if not xs:
        raise ValueError("concatenate: need at least one array")
    if kw:
        raise TypeError(f"concatenate: unexpected argument(s) {', '.join(kw)}")
    return tuple(xs), {"axis": axis}


concatenate = Rule("concatenate", _concat_impl, vjp_all=_concat_vjp, jvp_all=_concat_jvp,
                   doc="join tensors along an existing axis", surface=Surface(numpy=(np.concatenate,), prepare=_concatenate_args))


def _pad_impl(x: Any, pad_width: Any, constant_values: float = 0.0) -> Any:
    return np.pad(x, pad_width, mode="constant", constant_values=constant_values)


def _unpad_index(x: Any, pad_width: Any) -> tuple:
    pw = np.broadcast_to(np.asarray(pad_width, dtype=int), (_ndim(x), 2))
    return tuple(slice(int(a), int(a) + s) for (a, _), s in zip(pw, shape_of(x)))


def _hashable(v: Any) -> Any:
    if isinstance(v, (list, np.ndarray)):
        return tuple(_hashable(i) for i in v)
    if isinstance(v, tuple):
        return tuple(_hashable(i) for i in v)
    return int(v) if isinstance(v, (np.integer,)) else v


def _pad_args(x: Any, pad_width: Any, mode: str = "constant", constant_values: float = 0.0) -> tuple:
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    return (x,), {"pad_width": _hashable(pad_width), "constant_values": constant_values}


pad = Rule(
    "pad", _pad_impl,
    vjp=(lambda g, ans, x, pad_width, constant_values=0.0: getitem(g, index=_unpad_index(x, pad_width)),),
    jvp=(lambda t, ans, x, pad_width, constant_values=0.0: pad(t, pad_width=pad_width, constant_values=0.0),),
    doc="constant padding (np.pad with mode='constant')",
    surface=Surface(numpy=(np.pad,), prepare=_pad_args),
)

# ============================================================== linear algebra


def _T(x: Any) -> Any:
    n = _ndim(x)
    if n < 2:
        return x
    axes = tuple(range(n - 2)) + (n - 1, n - 2)
    return transpose(x, axes=axes)


def _matmul_vjp_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    na, nb = _ndim(a), _ndim(b)
    if na == 1 and nb == 1:
        return g * b
    if nb == 1:  # (..., n, k) @ (k,) -> (..., n)
        return reshape(g, shape_of(g) + (1,)) * b
    if na == 1 and nb == 2:  # (k,) @ (k, m) -> (m,):  da = B g
        return matmul(b, g)
    if na == 1:  # (k,) @ (..., k, m) -> (..., m)
        gb = matmul(b, reshape(g, shape_of(g) + (1,)))
        return reshape(gb, shape_of(gb)[:-1])
    return matmul(g, _T(b))


def _matmul_vjp_b(g: Any, ans: Any, a: Any, b: Any) -> Any:
    na, nb = _ndim(a), _ndim(b)
    if na == 1 and nb == 1:
        return g * a
    if na == 1:  # (k,) @ (..., k, m): d/db = a outer g
        return reshape(a, (shape_of(a)[0], 1)) * reshape(g, shape_of(g)[:-1] + (1, shape_of(g)[-1]))
    if nb == 1 and na == 2:  # (n, k) @ (k,) -> (n,):  db = g A
        return matmul(g, a)
    if nb == 1:  # (..., n, k) @ (k,) -> (..., n): d/db = a^T g
        r = matmul(_T(a), reshape(g, shape_of(g) + (1,)))
        return reshape(r, shape_of(r)[:-1])
    return matmul(_T(a), g)


def _matmul_impl(a: Any, b: Any) -> Any:
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        raise ValueError("matmul needs arrays with at least one dimension; use * for scalars")
    return np.matmul(a, b)


matmul = Rule(
    "matmul", _matmul_impl,
    # C = A B:  dA = G B^T,  dB = A^T G  (1-D and batched cases handled as in NumPy)
    vjp=(_matmul_vjp_a, _matmul_vjp_b),
    jvp=(lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t)),
    doc="matrix product with NumPy's matmul semantics (1-D, 2-D, batched with broadcasting)",
    surface=Surface(methods=("matmul",), ufunc=np.matmul),
)


# ---------------------------------------------------------------- einsum
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # NumPy's index letters (sublist ints 0-51)


def _einsum_terms(subscripts: str, shapes: Any) -> tuple:
    """The operands' index strings and the output's, explicit: ``...`` written out as letters (NumPy's rules).

    ``shapes`` are the operands' shapes (an ellipsis stands for the axes its
    operand has beyond its letters; ellipses broadcast, aligned from the right).
    In implicit mode (no ``->``) the output is the ellipsis, then the letters
    seen once, in alphabetical order.
    """
    s = subscripts.replace(" ", "")
    if s.count("->") > 1:
        raise ValueError(f"einsum: subscripts {subscripts!r} have more than one '->'")
    lhs, arrow, out = s.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(ins)} operand(s), got {len(shapes)}")
    for term in ins + [out]:
        bad = set(term.replace("...", "")) - set(_LETTERS)
        if bad or term.count("...") > 1:
            raise ValueError(f"einsum: subscripts {subscripts!r}: use letters, at most one '...' per operand, "
                             f"',' between operands and '->' before the output")
    if not arrow:
        letters = lhs.replace(",", "").replace(".", "")
        out = ("..." if "..." in lhs else "") + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    free = [c for c in _LETTERS if c not in s]
    widths = []
    for i, (term, shape) in enumerate(zip(ins, shapes)):
        named = len(term.replace("...", ""))
        width = len(shape) - named if "..." in term else 0
        if width < 0 or ("..." not in term and named != len(shape)):
            raise ValueError(f"einsum: operand {i} has shape {tuple(shape)}, but its subscripts {term!r} "
                             f"name {named} axes")
        widths.append(width)
    width = max(widths, default=0)
    ell = "".join(free[:width])
    ins = [t.replace("...", ell[width - w:]) for t, w in zip(ins, widths)]
    if "..." in out:
        out = out.replace("...", ell)
    elif width:
        raise ValueError(f"einsum: subscripts {subscripts!r}: the operands' '...' axes need a '...' in the output")
    for c in out:
        if out.count(c) > 1 or not any(c in t for t in ins):
            raise ValueError(f"einsum: output index {c!r} of {subscripts!r} must appear once in the output "
                             "and in some operand")
    return ins, out


def _einsum_impl(*ops: Any, subscripts: str, optimize: Any = False) -> Any:
    ins, out = _einsum_terms(subscripts, [np.shape(o) for o in ops])
    return np.einsum(f"{','.join(ins)}->{out}", *ops, optimize=optimize)


def _fit_sizes(r: Any, sizes: tuple) -> Any:
    """Sum ``r`` over axes where the operand has size 1 (it was broadcast), broadcast it where ``r`` has."""
    rs = shape_of(r)
    if rs == sizes:
        return r
    axes = tuple(k for k, (a, b) in enumerate(zip(rs, sizes)) if b == 1 and a != 1)
    if axes:
        r = sum_(r, axis=axes, keepdims=True)
    return r if shape_of(r) == sizes else broadcast_to(r, sizes)


def _embed_diagonal(r: Any, unique: str, term: str, sizes: dict) -> Any:
    """``r`` over the distinct letters of ``term`` (``'ij'``), placed on the diagonal that ``term`` (``'iji'``) names."""
    free = iter(c for c in _LETTERS if c not in term)
    seen: set = set()
    new, eye_terms, eyes = [], [], []
    for c in term:
        if c in seen:  # a repeat: a fresh letter tied to the first one by an identity matrix
            f = next(free)
            new.append(f)
            eye_terms.append(c + f)
            eyes.append(np.eye(sizes[c], dtype=dtype_of(r)))
        else:
            seen.add(c)
            new.append(c)
    return einsum(r, *eyes, subscripts=",".join([unique, *eye_terms]) + "->" + "".join(new))


def _einsum_operand_vjp(g: Any, ops: tuple, ins: list, out: str, i: int, optimize: Any) -> Any:
    """The cotangent of operand ``i``: ``g`` contracted with the other operands, spread over operand i's indices."""
    term = ins[i]
    sizes = dict(zip(term, shape_of(ops[i])))
    unique = "".join(dict.fromkeys(term))
    others = [j for j in range(len(ops)) if j != i]
    present = set(out).union(*(ins[j] for j in others))
    target = "".join(c for c in unique if c in present)
    spec = ",".join([out] + [ins[j] for j in others]) + "->" + target
    r = einsum(g, *[ops[j] for j in others], subscripts=spec, optimize=optimize)
    r = _fit_sizes(r, tuple(sizes[c] for c in target))
    if target != unique:  # letters summed within this operand only: the gradient is the same along them
        keep = tuple(sizes[c] if c in present else 1 for c in unique)
        r = broadcast_to(reshape(r, keep), tuple(sizes[c] for c in unique))
    if unique != term:  # a repeated letter (a diagonal, 'ii'): the gradient lies on that diagonal
        r = _embed_diagonal(r, unique, term, sizes)
    return r


def _einsum_vjp(g: Any, ans: Any, needs: list, *ops: Any, subscripts: str, optimize: Any = False) -> list:
    ins, out = _einsum_terms(subscripts, [shape_of(o) for o in ops])
    return [_einsum_operand_vjp(g, ops, ins, out, i, optimize) if need else None for i, need in enumerate(needs)]


def _einsum_jvp(tangents: list, ans: Any, *ops: Any, subscripts: str, optimize: Any = False) -> Any:
    # linear in each operand: the tangent is the sum of einsums with one operand replaced by its tangent
    total = None
    for i, t in enumerate(tangents):
        if t is None:
            continue
        args = list(ops)
        args[i] = t
        c = einsum(*args, subscripts=subscripts, optimize=optimize)
        total = c if total is None else total + c
    return total


def _sublist_subscripts(args: tuple) -> tuple:
    """NumPy's sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` as (operands, ``'ab,bc->ac'``)."""

    def term(sub: Any) -> str:
        s = ""
        for k in sub:
            if k is Ellipsis:
                s += "..."
                continue
            k = operator.index(k)
            if not 0 <= k < len(_LETTERS):
                raise ValueError(f"einsum: sublist subscripts are integers from 0 to 51 or Ellipsis, got {k}")
            s += _LETTERS[k]
        return s

    args = list(args)
    out = args.pop() if len(args) % 2 else None
    ops, subs = args[0::2], args[1::2]
    for sub in subs + ([out] if out is not None else []):
        if isinstance(sub, str) or not hasattr(sub, "__iter__"):
            raise TypeError("einsum: in the sublist form, each operand is followed by a list of integer indices, "
                            "e.g. einsum(a, [0, 1], b, [1, 2], [0, 2])")
    return tuple(ops), ",".join(term(s) for s in subs) + ("" if out is None else "->" + term(out))


def _einsum_args(*operands: Any, out: Any = None, optimize: Any = False, **kw: Any) -> tuple:
    if out is not None:
        raise TypeError("einsum: out= is not supported (a tensor is never written in place); use the result")
    if kw:
        raise TypeError(f"einsum: argument(s) {', '.join(kw)} are not supported")
    if not operands:
        raise TypeError("einsum: give the subscripts and at least one operand")
    if isinstance(operands[0], str):
        ops, subscripts = operands[1:], operands[0]
    else:
        ops, subscripts = _sublist_subscripts(operands)
    if isinstance(optimize, (list, tuple)):  # an explicit contraction path (np.einsum_path): NumPy finds it again
        optimize = True
    return ops, {"subscripts": subscripts, "optimize": optimize}


einsum = Rule(
    "einsum", _einsum_impl, vjp_all=_einsum_vjp, jvp_all=_einsum_jvp,
    # linear in each operand: d/d(operand i) is g contracted with the other operands ('ij,jk->ik': dA = G B^T),
    # spread over i's letters that the others lack, and onto the diagonal of a repeated letter ('ii')
    doc="Einstein summation (np.einsum): any number of operands, '...' broadcasting, repeated letters within an "
        "operand (diagonals: 'ii->i', 'ii->'), implicit output, NumPy's sublist form "
        "einsum(a, [0, 1], b, [1, 2], [0, 2]); optimize= as in NumPy (an explicit path is found again)",
    surface=Surface(numpy=(np.einsum,), prepare=_einsum_args),
)


def _trace_impl(x: Any) -> Any:
    if np.ndim(x) != 2:
        raise ValueError(f"trace needs a 2-D matrix, got shape {np.shape(x)}")
    return np.trace(x)


def _eye_like(x: Any) -> np.ndarray:
    n, m = shape_of(x)
    return np.eye(n, m, dtype=dtype_of(x))


trace = Rule(
    "trace", _trace_impl,
    vjp=(lambda g, ans, x: g * _eye_like(x),),  # d tr(X) / dX = I
    jvp=(lambda t, ans, x: trace(t),),
    doc="sum of the diagonal of a matrix (reached through wg.trace, ops/numpy_ext.py, which adds offset and axes)",
)

inv = Rule(
    "inv", np.linalg.inv,
    # d(A^-1) = -A^-1 dA A^-1:  vjp G -> -A^-T G A^-T
    vjp=(lambda g, ans, a: negative(matmul(matmul(_T(ans), g), _T(ans))),),
    jvp=(lambda t, ans, a: negative(matmul(matmul(ans, t), ans)),),
    doc="matrix inverse (batched over leading axes)",
    surface=Surface(numpy=(np.linalg.inv,)),
)


def _det_expand(v: Any) -> Any:
    """Append two unit axes, so a (batched) scalar per matrix broadcasts against the matrices."""
    return reshape(v, shape_of(v) + (1, 1))


det = Rule(
    "det", np.linalg.det,
    # d det(A) / dA = det(A) A^-T
    vjp=(lambda g, ans, a: _det_expand(g * ans) * _T(inv(a)),),
    jvp=(lambda t, ans, a: ans * sum_(inv(a) * _T(t), axis=(-2, -1)),),
    doc="determinant (batched over leading axes)",
    surface=Surface(numpy=(np.linalg.det,)),
)


def _solve_impl(a: Any, b: Any) -> Any:
    return np.linalg.solve(a, b)


def _solve_vjp_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    # x = A^-1 b:  dA = -(A^-T g) x^T
    gb = solve(_T(a), g)
    if _ndim(b) == 1:
        return negative(reshape(gb, shape_of(gb) + (1,)) * reshape(ans, (1,) + shape_of(ans)))
    return negative(matmul(gb, _T(ans)))


solve = Rule(
    "solve", _solve_impl,
    vjp=(_solve_vjp_a, lambda g, ans, a, b: solve(_T(a), g)),  # db = A^-T g
    # dx = A^-1 (db - dA x)
    jvp=(lambda t, ans, a, b: negative(solve(a, matmul(t, ans))), lambda t, ans, a, b: solve(a, t)),
    doc="solve A x = b for x",
    surface=Surface(numpy=(np.linalg.solve,)),
)


def _broadcast_args(x: Any, *shape: Any, **kw: Any) -> tuple:
    if "shape" in kw:
        shape = (kw.pop("shape"),)
    return (x,), {"shape": _shape(shape, "broadcast_to")}


# the engine's own primitives (core/shapes.py), reached from here
broadcast_to.surface = Surface(methods=("broadcast_to",), numpy=(np.broadcast_to,), prepare=_broadcast_args)
stop_gradient.surface = Surface()

__all__ = [name for name, v in list(globals().items()) if isinstance(v, Rule)] + ["sum_to", "broadcast_to", "cast"]
