"""Specs for the rules of ``wengert.scipy`` (special functions, linear algebra, convolution, odeint).

The generated tests (tests/test_ops.py, tests/test_transforms.py) check each against SciPy's own
values, its VJP and JVP against finite differences in float64, its second derivative, and vmap
against a loop.  Arguments without a derivative (integer orders, shape parameters of the
incomplete gamma and beta functions) are left out of ``wrt``.
"""
from __future__ import annotations

import itertools

import numpy as np
import scipy.integrate
import scipy.linalg
import scipy.signal
import scipy.special as sc
from opspec import Case, Spec

import wengert as wg
import wengert.scipy
from wengert.core.rule import REGISTRY
from wengert.ops.linalg import matrix_transpose

UNARY = [Case([()]), Case([(2, 3)])]
BINARY = [Case([(), ()]), Case([(2, 3), (3,)]), Case([(2, 1), (1, 3)])]


def uniform(lo, hi):
    return lambda rng, shape, i: rng.uniform(lo, hi, shape)


def signed(lo, hi):
    """|x| in [lo, hi] with a random sign (away from a kink at 0)."""
    return lambda rng, shape, i: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def per_arg(*draws):
    """A draw for each argument."""
    return lambda rng, shape, i: draws[i](rng, shape, i)


def ints(lo, hi):
    return lambda rng, shape, i: rng.integers(lo, hi + 1, shape)


def unary(name, draw, **kw):
    return Spec(cases=UNARY, draw=draw, ref=getattr(sc, name), **kw)


def with_order(name, order, x, cases=None, **kw):
    """f(order, x): differentiable in x only."""
    return Spec(cases=cases or BINARY, draw=per_arg(order, x), wrt=(1,), ref=getattr(sc, name), **kw)


def binary(name, draw, **kw):
    return Spec(cases=BINARY, draw=draw, ref=getattr(sc, name), **kw)


SPECIAL = {
    "erfc": unary("erfc", uniform(-2, 2)),
    "erfcx": unary("erfcx", uniform(-1, 3)),
    "erfinv": unary("erfinv", uniform(-0.9, 0.9)),
    "erfcinv": unary("erfcinv", uniform(0.1, 1.9)),
    "ndtr": unary("ndtr", uniform(-3, 3)),
    "log_ndtr": unary("log_ndtr", uniform(-6, 3)),
    "ndtri": unary("ndtri", uniform(0.05, 0.95)),
    "gamma": unary("gamma", uniform(0.5, 4)),
    "gammaln": unary("gammaln", uniform(0.5, 5)),
    "digamma": unary("digamma", uniform(0.5, 4)),
    "rgamma": unary("rgamma", uniform(0.5, 4)),
    "gammasgn": unary("gammasgn", uniform(-3.4, -3.1), nondiff=True),
    "polygamma": with_order("polygamma", ints(0, 2), uniform(0.5, 3)),
    "beta": binary("beta", uniform(0.5, 3)),
    "betaln": binary("betaln", uniform(0.5, 3)),
    "gammainc": with_order("gammainc", uniform(0.5, 3), uniform(0.3, 4)),
    "gammaincc": with_order("gammaincc", uniform(0.5, 3), uniform(0.3, 4)),
    "betainc": Spec(cases=[Case([(), (), ()]), Case([(3,), (2, 1), (2, 3)])],
                    draw=per_arg(uniform(0.8, 3), uniform(0.8, 3), uniform(0.1, 0.9)), wrt=(2,), ref=sc.betainc),
    "stdtr": with_order("stdtr", uniform(1, 10), uniform(-3, 3)),
    "expit": unary("expit", uniform(-4, 4)),
    "logit": unary("logit", uniform(0.1, 0.9)),
    "log_expit": unary("log_expit", uniform(-6, 6)),
    "xlogy": binary("xlogy", per_arg(uniform(-2, 2), uniform(0.5, 2))),
    "xlog1py": binary("xlog1py", per_arg(uniform(-2, 2), uniform(-0.5, 2))),
    "i0": unary("i0", signed(0.2, 4)),
    "i1": unary("i1", signed(0.2, 4)),
    "i0e": unary("i0e", signed(0.2, 4)),
    "i1e": unary("i1e", signed(0.2, 4)),
    "iv": with_order("iv", uniform(0.5, 3), uniform(0.5, 4)),
    "ive": with_order("ive", uniform(0.5, 3), uniform(0.5, 4)),  # (iv of a negative z: real for integer v only)
    "j0": unary("j0", uniform(0.5, 8)),
    "j1": unary("j1", uniform(0.5, 8)),
    "jv": with_order("jv", uniform(0, 3), uniform(0.5, 8)),
    "y0": unary("y0", uniform(0.5, 8)),
    "y1": unary("y1", uniform(0.5, 8)),
    "yv": with_order("yv", uniform(0, 3), uniform(0.5, 8)),
    "yn": with_order("yn", ints(0, 3), uniform(0.5, 8)),
    "k0": unary("k0", uniform(0.3, 4)),
    "k1": unary("k1", uniform(0.3, 4)),
    "k0e": unary("k0e", uniform(0.3, 4)),
    "k1e": unary("k1e", uniform(0.3, 4)),
    "kv": with_order("kv", uniform(0, 3), uniform(0.3, 4)),
    "kve": with_order("kve", uniform(0, 3), uniform(0.3, 4)),
    "multigammaln": Spec(cases=[Case([()], {"d": 1}), Case([(2, 3)], {"d": 3})], draw=uniform(3, 5),
                         ref=lambda a, d: sc.multigammaln(a, d)),
    "logsumexp": Spec(
        cases=[Case([(4,), (4,)], {"axis": None}), Case([(2, 3), (3,)], {"axis": 1, "keepdims": True}),
               Case([(2, 3), (2, 1)], {"axis": (0, 1)}), Case([(3,), (2, 3)], {"axis": 0})],
        draw=per_arg(uniform(-2, 2), uniform(0.5, 2)),
        ref=lambda a, b, axis=None, keepdims=False: sc.logsumexp(a, axis=axis, b=b, keepdims=keepdims)),
}


# ---------------------------------------------------------------------- linear algebra
def _triangular(rng, shape, i):
    if i == 0:  # a well-conditioned matrix: its triangles are too
        return rng.standard_normal(shape) * 0.3 + 2.0 * np.eye(shape[0])
    return rng.standard_normal(shape)


def _spd(rng, shape, i):
    m = rng.standard_normal(shape) * 0.5
    return m @ m.T + np.eye(shape[0])


def _near_identity(rng, shape, i):
    return rng.standard_normal(shape) * 0.3 + 2.0 * np.eye(shape[-1])


def _sym(a):
    return 0.5 * (a + np.swapaxes(a, -1, -2))


_cholesky = REGISTRY["scipy.linalg.cholesky"]

LINALG = {
    "solve_triangular": Spec(
        cases=[Case([(3, 3), (3,)], {"lower": True}), Case([(3, 3), (3, 2)], {"trans": 1}),
               Case([(3, 3), (3, 2)], {"lower": True, "unit_diagonal": True}),
               Case([(2, 2), (2,)], {"trans": 1, "lower": True, "unit_diagonal": True})],
        draw=_triangular,
        ref=lambda a, b, **p: scipy.linalg.solve_triangular(a, b, **p)),
    # a function of the symmetric part of a: the derivatives are checked through sym(a)
    "cholesky": Spec(cases=[Case([(3, 3)], {"lower": True}), Case([(3, 3)], {"lower": False})], draw=_spd,
                     call=lambda a, **p: _cholesky(0.5 * (a + matrix_transpose(a)), **p),
                     ref=lambda a, lower=False: scipy.linalg.cholesky(_sym(a), lower=lower)),
    "solve_sylvester": Spec(cases=[Case([(3, 3), (2, 2), (3, 2)]), Case([(2, 2), (2, 2), (2, 2)])],
                            draw=lambda rng, s, i: _near_identity(rng, s, i) if i < 2 else rng.standard_normal(s),
                            ref=scipy.linalg.solve_sylvester),
    "sqrtm": Spec(cases=[Case([(3, 3)]), Case([(2, 2)])], draw=_spd, ref=scipy.linalg.sqrtm),
    "expm": Spec(cases=[Case([(3, 3)]), Case([(2, 2, 2)])], draw=lambda rng, s, i: rng.standard_normal(s) * 0.5,
                 ref=scipy.linalg.expm),
}


# ---------------------------------------------------------------------- convolution
def _conv_ref(a, b, axes, dot_axes, mode):
    """The definition, summed term by term: out[kept1, kept2, n] = sum_dot sum_k a[k] b[n - k]."""
    (ca, cb), (da, db) = axes, dot_axes
    ka = [i for i in range(a.ndim) if i not in ca and i not in da]
    kb = [i for i in range(b.ndim) if i not in cb and i not in db]
    A = a.transpose(ka + list(da) + list(ca))
    B = b.transpose(kb + list(db) + list(cb))
    na, nb = A.shape[A.ndim - len(ca):], B.shape[B.ndim - len(cb):]
    full = np.zeros(A.shape[:len(ka)] + B.shape[:len(kb)] + tuple(x + y - 1 for x, y in zip(na, nb)))
    dots = (list(range(len(ka), len(ka) + len(da))), list(range(len(kb), len(kb) + len(db))))
    for k in itertools.product(*map(range, na)):
        for m in itertools.product(*map(range, nb)):
            n = tuple(x + y for x, y in zip(k, m))
            full[(Ellipsis, *n)] += np.tensordot(A[(Ellipsis, *k)], B[(Ellipsis, *m)], axes=dots)
    if mode == "full":
        return full
    index = tuple(slice(min(x, y) - 1, max(x, y)) for x, y in zip(na, nb))
    return full[(Ellipsis, *index)]


def _conv(shapes, mode, axes=None, dot_axes=((), ())):
    axes = axes or (tuple(range(len(shapes[0]))), tuple(range(len(shapes[1]))))
    return Case(list(shapes), {"axes": axes, "dot_axes": dot_axes, "mode": mode})


SIGNAL = {
    "convolve": Spec(
        cases=[_conv([(4,), (3,)], "full"), _conv([(5,), (3,)], "valid"), _conv([(2,), (4,)], "valid"),
               _conv([(3, 4), (2, 2)], "full"), _conv([(4, 3), (2, 2)], "valid"),
               _conv([(3, 3, 2), (3, 2, 3)], "full", axes=((1,), (1,)), dot_axes=((0,), (2,))),
               _conv([(3, 4), (3, 2)], "valid", axes=((1,), (1,)), dot_axes=((0,), (0,))),
               _conv([(2, 3), (4,)], "full", axes=((1,), (0,)))],
        ref=_conv_ref),
}


# ---------------------------------------------------------------------- odeint
def _field(y, t, k):
    """A non-autonomous, nonlinear vector field with parameters k."""
    return -k * y + 0.3 * wg.tanh(y[::-1]) + wg.sin(3.0 * t)


_TOL = (("rtol", 1e-12), ("atol", 1e-12))
_odeint = REGISTRY["scipy.integrate.odeint"]


def _times(rng, shape, i):
    if i == 1:  # increasing time points
        return 0.1 + np.cumsum(rng.uniform(0.2, 0.5, shape))
    return rng.uniform(0.5, 1.5, shape)


INTEGRATE = {
    # (second derivatives of odeint are checked, more cheaply, in tests/test_scipy.py)
    "odeint": Spec(cases=[Case([(2,), (3,), (2,)])], draw=_times, eps=1e-4, rtol=1e-6, second_order=False,
                   call=lambda y0, t, k: _odeint(y0, t, k, func=_field, options=_TOL, adjoint=_TOL),
                   ref=lambda y0, t, k: scipy.integrate.odeint(
                       lambda y, s: np.asarray(_field(y, s, k)), y0, t, rtol=1e-12, atol=1e-12)),
}

SPECS = {
    **{f"scipy.special.{name}": spec for name, spec in SPECIAL.items()},
    **{f"scipy.linalg.{name}": spec for name, spec in LINALG.items()},
    **{f"scipy.signal.{name}": spec for name, spec in SIGNAL.items()},
    **{f"scipy.integrate.{name}": spec for name, spec in INTEGRATE.items()},
}
