"""``scipy.special`` with derivatives: the special functions HIPS autograd differentiates, and a few more.

Each function is a rule whose forward is SciPy's own ufunc, and whose local
derivative is written with the rules themselves (``d/dx gammaln(x) = digamma(x)``,
``d/dx digamma(x) = polygamma(1, x)``, ...), so every derivative is exact, in
reverse and forward mode, to any order.  Arguments SciPy gives no closed-form
derivative for (the integer order of a Bessel function, the shape parameters of
the incomplete gamma and beta functions, the degrees of freedom of ``stdtr``)
are constants: differentiating with respect to one is an error that says so.

>>> import numpy as np
>>> import wengert as wg
>>> from wengert.scipy import special
>>> special.gammaln(np.array([1.0, 4.0]))                 # log 0!, log 3!
tensor([0.    , 1.7918])
>>> round(wg.grad(special.gammaln)(4.0), 12)             # digamma(4) = 1 + 1/2 + 1/3 - euler_gamma
1.256117668432
>>> wg.grad(lambda x: special.gammainc(2.0, x))(1.0)     # d/dx P(a, x) = x^(a-1) e^-x / Gamma(a)
0.36787944117144233
>>> special.logsumexp(np.array([1.0, 2.0]), b=np.array([1.0, -2.0]), return_sign=True)
(tensor(2.4899), tensor(-1.))
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.special as sc

from ..core.rule import Rule
from ..core.shapes import broadcast_to
from ..core.tensor import shape_of
from ..ops import batching
from ..ops import table as R
from ..ops.batching import _align, _nd, _shift
from ..ops.table import _axes, _keepdims_shape
from ._util import PUBLIC, elementwise, export, nondiff, public

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_ORDER = "an order is a constant: SciPy has no derivative with respect to it"
_SHAPE = "the derivative with respect to a shape parameter has no closed form and is not implemented"


def _rule(name: str, args: str, partials: tuple, doc: str, impl: Any = None) -> Rule:
    """The rule ``scipy.special.NAME`` (forward: SciPy's ufunc) and its public function ``special.NAME(args)``."""
    rule = elementwise(f"scipy.special.{name}", impl or getattr(sc, name), args, partials, doc)
    export("special", rule, args)
    return rule


# ---------------------------------------------------------------------- error functions
_erf = R.erf  # (the core table's erf: SciPy's forward when SciPy is installed)
export("special", _erf, "z")
_erfc = _rule("erfc", "x", (lambda ans, x: (-2.0 / _SQRT_PI) * R.exp(-(x * x)),),
              "complementary error function 1 - erf(x), accurate for large x;  d/dx = -2/sqrt(pi) e^(-x^2)")
_erfcx = _rule("erfcx", "x", (lambda ans, x: 2.0 * x * ans - 2.0 / _SQRT_PI,),
               "scaled complementary error function e^(x^2) erfc(x);  d/dx = 2x erfcx(x) - 2/sqrt(pi)")
_erfinv = _rule("erfinv", "y", (lambda ans, y: (0.5 * _SQRT_PI) * R.exp(ans * ans),),
                "inverse of erf on (-1, 1);  d/dy = sqrt(pi)/2 e^(erfinv(y)^2)")
_erfcinv = _rule("erfcinv", "y", (lambda ans, y: (-0.5 * _SQRT_PI) * R.exp(ans * ans),),
                 "inverse of erfc on (0, 2);  d/dy = -sqrt(pi)/2 e^(erfcinv(y)^2)")
_ndtr = _rule("ndtr", "x", (lambda ans, x: (1.0 / _SQRT_2PI) * R.exp(-0.5 * (x * x)),),
              "standard normal CDF;  d/dx = e^(-x^2/2) / sqrt(2 pi)")
_log_ndtr = _rule("log_ndtr", "x", (lambda ans, x: (1.0 / _SQRT_2PI) * R.exp(-0.5 * (x * x) - ans),),
                  "log of the standard normal CDF, accurate far in the tails;  d/dx = e^(-x^2/2 - log_ndtr(x)) / sqrt(2 pi)")
_ndtri = _rule("ndtri", "y", (lambda ans, y: _SQRT_2PI * R.exp(0.5 * (ans * ans)),),
               "inverse of the standard normal CDF;  d/dy = sqrt(2 pi) e^(ndtri(y)^2 / 2)")

# ---------------------------------------------------------------------- gamma and beta functions
_gamma = _rule("gamma", "z", (lambda ans, z: ans * _digamma(z),), "the gamma function;  d/dz = gamma(z) digamma(z)")
_gammaln = _rule("gammaln", "x", (lambda ans, x: _digamma(x),), "log |gamma(x)|;  d/dx = digamma(x)")
_digamma = _rule("digamma", "z", (lambda ans, z: _polygamma(1, z),),
                 "the digamma function psi = d/dz log gamma(z);  d/dz = polygamma(1, z)")
export("special", _digamma, "z", name="psi")
_polygamma = _rule("polygamma", "n, x", (_ORDER, lambda ans, n, x: _polygamma(n + 1, x)),
                   "the n-th derivative of digamma;  d/dx polygamma(n, x) = polygamma(n + 1, x)")
_polygamma.real_only = "SciPy defines polygamma (the derivative of digamma) for real arguments only"
_rgamma = _rule("rgamma", "z", (lambda ans, z: -ans * _digamma(z),),
                "1 / gamma(z) (zero at the poles);  d/dz = -rgamma(z) digamma(z)")
_gammasgn = nondiff("scipy.special.gammasgn", sc.gammasgn, "the sign of gamma(x) (no derivative: piecewise constant)")
export("special", _gammasgn, "x")
_beta = _rule("beta", "a, b", (lambda ans, a, b: ans * (_digamma(a) - _digamma(a + b)),
                               lambda ans, a, b: ans * (_digamma(b) - _digamma(a + b))),
              "the beta function B(a, b);  d/da = B(a, b) (digamma(a) - digamma(a + b)), likewise d/db")
_betaln = _rule("betaln", "a, b", (lambda ans, a, b: _digamma(a) - _digamma(a + b),
                                   lambda ans, a, b: _digamma(b) - _digamma(a + b)),
                "log |B(a, b)|;  d/da = digamma(a) - digamma(a + b), likewise d/db")


def _gammainc_dx(ans: Any, a: Any, x: Any) -> Any:
    # d/dx P(a, x) = x^(a-1) e^-x / Gamma(a)
    return R.exp(_xlogy(a - 1.0, x) - x - _gammaln(a))


_gammainc = _rule("gammainc", "a, x", (_SHAPE, _gammainc_dx),
                  "regularised lower incomplete gamma function P(a, x);  d/dx = x^(a-1) e^-x / gamma(a) (a: constant)")
_gammaincc = _rule("gammaincc", "a, x", (_SHAPE, lambda ans, a, x: -_gammainc_dx(ans, a, x)),
                   "regularised upper incomplete gamma function Q(a, x) = 1 - P(a, x);  d/dx = -x^(a-1) e^-x / gamma(a)")
_betainc = _rule("betainc", "a, b, x", (_SHAPE, _SHAPE, lambda ans, a, b, x: R.exp(
    _xlogy(a - 1.0, x) + _xlog1py(b - 1.0, -x) - _betaln(a, b))),
    "regularised incomplete beta function I_x(a, b);  d/dx = x^(a-1) (1-x)^(b-1) / B(a, b) (a, b: constants)")


def _stdtr_dt(ans: Any, df: Any, t: Any) -> Any:
    # the density of Student's t with df degrees of freedom
    return R.exp(_gammaln(0.5 * (df + 1.0)) - _gammaln(0.5 * df) - 0.5 * R.log(df * math.pi)
                 - 0.5 * (df + 1.0) * R.log1p(t * t / df))


_stdtr = _rule("stdtr", "df, t", ("the derivative with respect to df has no closed form and is not implemented",
                                  _stdtr_dt),
               "Student's t CDF with df degrees of freedom;  d/dt = the t density (df: constant)")


def _multigammaln_d(ans: Any, a: Any, d: int) -> Any:
    # d/da log Gamma_d(a) = sum_j digamma(a - j/2), j = 0 .. d-1
    out = _digamma(a)
    for j in range(1, int(d)):
        out = out + _digamma(a - 0.5 * j)
    return out


def _multigammaln_impl(a: Any, d: int) -> Any:
    return sc.multigammaln(a, d)


_multigammaln = Rule("scipy.special.multigammaln", _multigammaln_impl, partials=(_multigammaln_d,),
                     doc="log of the multivariate gamma function of dimension d;  d/da = sum_j digamma(a - j/2)")
_multigammaln.batch = batching.elementwise(_multigammaln)


@public("special")
def multigammaln(a: Any, d: int) -> Any:
    """log of the multivariate gamma function Gamma_d(a) (SciPy's ``multigammaln``; ``d`` is an int).

    Rule ``scipy.special.multigammaln``:  d/da = sum_{j<d} digamma(a - j/2).
    """
    return _multigammaln(a, d=int(d))


# ---------------------------------------------------------------------- logistic and x log y
_expit = _rule("expit", "x", (lambda ans, x: ans * (1.0 - ans),), "the logistic sigmoid 1/(1 + e^-x);  d/dx = expit (1 - expit)")
_logit = _rule("logit", "p", (lambda ans, p: 1.0 / (p * (1.0 - p)),), "log(p / (1 - p));  d/dp = 1/(p (1 - p))")
_log_expit = _rule("log_expit", "x", (lambda ans, x: _expit(-x),), "log(expit(x)), accurate for any x;  d/dx = expit(-x)")


def _x_over(x: Any, y: Any) -> Any:
    """x / y, and 0 where x == 0 (whatever y is): the y-derivative of x log y, which is 0 along x = 0."""
    zero = R.equal(x, 0)
    return R.where(zero, 0.0, x / R.where(zero, 1.0, y))


_xlogy = _rule("xlogy", "x, y", (lambda ans, x, y: R.log(y), lambda ans, x, y: _x_over(x, y)),
               "x log(y), 0 where x == 0;  d/dx = log y,  d/dy = x/y (0 where x == 0)")
_xlog1py = _rule("xlog1py", "x, y", (lambda ans, x, y: R.log1p(y), lambda ans, x, y: _x_over(x, 1.0 + y)),
                 "x log(1 + y), 0 where x == 0;  d/dx = log1p(y),  d/dy = x/(1 + y) (0 where x == 0)")

# ---------------------------------------------------------------------- Bessel functions (derivatives in x)
_i0 = _rule("i0", "x", (lambda ans, x: _i1(x),), "modified Bessel function of the first kind, order 0;  d/dx = i1(x)")
_i1 = _rule("i1", "x", (lambda ans, x: 0.5 * (_i0(x) + _iv(2.0, x)),),
            "modified Bessel function of the first kind, order 1;  d/dx = (i0(x) + iv(2, x)) / 2")
_i0e = _rule("i0e", "x", (lambda ans, x: _i1e(x) - R.sign(x) * ans,),
             "exponentially scaled i0: e^-|x| i0(x);  d/dx = i1e(x) - sign(x) i0e(x) (0 at the kink x = 0)")
_i1e = _rule("i1e", "x", (lambda ans, x: 0.5 * (_i0e(x) + _ive(2.0, x)) - R.sign(x) * ans,),
             "exponentially scaled i1: e^-|x| i1(x);  d/dx = (i0e(x) + ive(2, x))/2 - sign(x) i1e(x)")
_iv = _rule("iv", "v, z", (_ORDER, lambda ans, v, z: 0.5 * (_iv(v - 1.0, z) + _iv(v + 1.0, z))),
            "modified Bessel function of the first kind of real order v;  d/dz = (iv(v-1, z) + iv(v+1, z)) / 2")
_ive = _rule("ive", "v, z", (_ORDER, lambda ans, v, z: 0.5 * (_ive(v - 1.0, z) + _ive(v + 1.0, z)) - R.sign(z) * ans),
             "exponentially scaled iv: e^-|z| iv(v, z);  d/dz = (ive(v-1, z) + ive(v+1, z))/2 - sign(z) ive(v, z)")
_ive.real_only = "for complex z its scale e^-|Re z| is not holomorphic; use iv(v, z) * exp(-abs(real(z)))"
_j0 = _rule("j0", "x", (lambda ans, x: -_j1(x),), "Bessel function of the first kind, order 0;  d/dx = -j1(x)")
_j1 = _rule("j1", "x", (lambda ans, x: 0.5 * (_j0(x) - _jv(2.0, x)),),
            "Bessel function of the first kind, order 1;  d/dx = (j0(x) - jv(2, x)) / 2")
_jv = _rule("jv", "v, z", (_ORDER, lambda ans, v, z: 0.5 * (_jv(v - 1.0, z) - _jv(v + 1.0, z))),
            "Bessel function of the first kind of real order v;  d/dz = (jv(v-1, z) - jv(v+1, z)) / 2")
export("special", _jv, "n, x", name="jn")  # (SciPy's jn is jv)
_y0 = _rule("y0", "x", (lambda ans, x: -_y1(x),), "Bessel function of the second kind, order 0;  d/dx = -y1(x)")
_y1 = _rule("y1", "x", (lambda ans, x: 0.5 * (_y0(x) - _yv(2.0, x)),),
            "Bessel function of the second kind, order 1;  d/dx = (y0(x) - yv(2, x)) / 2")
_yv = _rule("yv", "v, z", (_ORDER, lambda ans, v, z: 0.5 * (_yv(v - 1.0, z) - _yv(v + 1.0, z))),
            "Bessel function of the second kind of real order v;  d/dz = (yv(v-1, z) - yv(v+1, z)) / 2")
_yn = _rule("yn", "n, x", (_ORDER, lambda ans, n, x: 0.5 * (_yn(n - 1, x) - _yn(n + 1, x))),
            "Bessel function of the second kind of integer order n;  d/dx = (yn(n-1, x) - yn(n+1, x)) / 2")
_k0 = _rule("k0", "x", (lambda ans, x: -_k1(x),), "modified Bessel function of the second kind, order 0;  d/dx = -k1(x)")
_k1 = _rule("k1", "x", (lambda ans, x: -0.5 * (_k0(x) + _kv(2.0, x)),),
            "modified Bessel function of the second kind, order 1;  d/dx = -(k0(x) + kv(2, x)) / 2")
_k0e = _rule("k0e", "x", (lambda ans, x: ans - _k1e(x),), "exponentially scaled k0: e^x k0(x);  d/dx = k0e(x) - k1e(x)")
_k1e = _rule("k1e", "x", (lambda ans, x: ans - 0.5 * (_k0e(x) + _kve(2.0, x)),),
             "exponentially scaled k1: e^x k1(x);  d/dx = k1e(x) - (k0e(x) + kve(2, x)) / 2")
_kv = _rule("kv", "v, z", (_ORDER, lambda ans, v, z: -0.5 * (_kv(v - 1.0, z) + _kv(v + 1.0, z))),
            "modified Bessel function of the second kind of real order v;  d/dz = -(kv(v-1, z) + kv(v+1, z)) / 2")
_kve = _rule("kve", "v, z", (_ORDER, lambda ans, v, z: ans - 0.5 * (_kve(v - 1.0, z) + _kve(v + 1.0, z))),
             "exponentially scaled kv: e^z kv(v, z);  d/dz = kve(v, z) - (kve(v-1, z) + kve(v+1, z)) / 2")


# ---------------------------------------------------------------------- logsumexp, softmax
def _lse_impl(a: Any, b: Any, axis: Any = None, keepdims: bool = False) -> Any:
    res, _ = sc.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)
    return res


def _lse_weights(ans: Any, a: Any, b: Any, axis: Any, keepdims: bool) -> tuple:
    """(w, sign): w = e^(a - ans) broadcast over the reduced axes, and the sign of sum(b e^a)."""
    shape = np.broadcast_shapes(shape_of(a), shape_of(b))
    kd = ans if keepdims else R.reshape(ans, shape=_keepdims_shape(shape, axis))
    w = R.exp(a - kd)
    sign = R.sign(R.sum_(b * w, axis=_axes(axis, len(shape)), keepdims=True))
    return w, sign


def _lse_expand(g: Any, a: Any, b: Any, axis: Any, keepdims: bool) -> Any:
    shape = np.broadcast_shapes(shape_of(a), shape_of(b))
    return g if keepdims else R.reshape(g, shape=_keepdims_shape(shape, axis))


def _lse_vjp(g: Any, ans: Any, needs: list, a: Any, b: Any, axis: Any = None, keepdims: bool = False) -> list:
    # log|s| with s = sum(b e^a):  d/da = b e^(a - ans) sign(s),  d/db = e^(a - ans) sign(s)
    w, sign = _lse_weights(ans, a, b, axis, keepdims)
    gw = _lse_expand(g, a, b, axis, keepdims) * w * sign
    shape = np.broadcast_shapes(shape_of(a), shape_of(b))  # (the engine sums each back to its input's shape)
    return [broadcast_to(gw * b, shape) if needs[0] else None, broadcast_to(gw, shape) if needs[1] else None]


def _lse_jvp(tangents: list, ans: Any, a: Any, b: Any, axis: Any = None, keepdims: bool = False) -> Any:
    ta, tb = tangents
    w, sign = _lse_weights(ans, a, b, axis, keepdims)
    t = (0.0 if ta is None else ta * b) + (0.0 if tb is None else tb)
    return R.sum_(t * w * sign, axis=axis, keepdims=keepdims)


def _lse_batch(level: Any, vals: list, batched: list, params: dict) -> Any:
    n = max(_nd(v, bt) for v, bt in zip(vals, batched))
    aligned = [_align(v, n) if bt else v for v, bt in zip(vals, batched)]
    return _logsumexp_b(*aligned, axis=_shift(params.get("axis"), n), keepdims=params.get("keepdims", False))


_logsumexp_b = Rule("scipy.special.logsumexp", _lse_impl, vjp_all=_lse_vjp, jvp_all=_lse_jvp,
                    doc="log |sum(b e^a)| over axis (SciPy's logsumexp with weights b);  "
                        "d/da = b e^(a - ans) sign,  d/db = e^(a - ans) sign")
_logsumexp_b.batch = _lse_batch


@public("special")
def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False) -> Any:
    """log(sum(b * exp(a))) over ``axis``, computed stably (SciPy's ``logsumexp``).

    With weights ``b`` that may be negative the sum may be negative: its log is
    NaN unless ``return_sign=True``, which returns ``(log|sum|, sign)`` as SciPy
    does.  Differentiable in ``a`` and in ``b``.

    >>> from wengert.scipy.special import logsumexp
    >>> logsumexp([[0.0, 0.0], [1.0, 1.0]], axis=1)
    tensor([0.6931, 1.6931])
    """
    if b is None:
        res = R.logsumexp(a, axis=axis, keepdims=keepdims)
        if not return_sign:
            return res
        return res, R.where(R.equal(res, -np.inf), 0.0, 1.0)
    res = _logsumexp_b(a, b, axis=axis, keepdims=keepdims)
    _, sign = _lse_weights(res, a, b, axis, keepdims)
    sign = R.where(R.equal(res, -np.inf), 0.0, R.reshape(sign, shape=shape_of(res)))  # (sum 0: sign 0)
    if return_sign:
        return res, sign
    return R.where(R.less(sign, 0.0), np.nan, res)  # (the log of a negative sum, as SciPy)


@public("special")
def softmax(x: Any, axis: Any = None) -> Any:
    """exp(x) / sum(exp(x)) over ``axis`` (SciPy's default: over all of x), computed stably.

    >>> from wengert.scipy.special import softmax
    >>> softmax([0.0, 0.0, 0.0, 0.0])
    tensor([0.25, 0.25, 0.25, 0.25])
    """
    return R.exp(x - R.logsumexp(x, axis=axis, keepdims=True))


@public("special")
def log_softmax(x: Any, axis: Any = None) -> Any:
    """x - logsumexp(x) over ``axis`` (SciPy's default: over all of x)."""
    return x - R.logsumexp(x, axis=axis, keepdims=True)


globals().update(PUBLIC["special"])
__all__ = sorted(PUBLIC["special"])
