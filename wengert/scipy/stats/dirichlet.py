"""The Dirichlet distribution (``scipy.stats.dirichlet``): pdf, logpdf, and rvs (samples, no derivative).

logpdf = sum((alpha - 1) log x) + gammaln(sum alpha) - sum gammaln(alpha), over the components,
which are x's *first* axis, as in SciPy (x of shape (K,) or (K, N); with K - 1 rows the last
component is 1 minus their sum).  Differentiable in x and alpha, to any order.  SciPy's checks
of x (in [0, 1], on the simplex) run on plain values, not inside a transform.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats

from ...core.tensor import shape_of, value_of
from ...ops import table as R
from .._util import concrete, public
from ..special import _gammaln, _xlogy


def _check_alpha(alpha: Any) -> None:
    s = shape_of(alpha)
    if len(s) != 1:
        raise ValueError(f"dirichlet: parameter vector 'alpha' must be one dimensional, got shape {s}")
    a = concrete(alpha)
    if a is not None and np.min(a) <= 0:
        raise ValueError("dirichlet: all parameters in 'alpha' must be greater than 0")


def _check_x(alpha: Any, x: Any) -> Any:
    k = shape_of(alpha)[0]
    s = shape_of(x)
    if not s or (s[0] != k and s[0] + 1 != k):
        raise ValueError(f"dirichlet: 'x' must have either {k} or {k - 1} entries along its first axis "
                         f"(alpha has shape {shape_of(alpha)}), got shape {s}")
    if s[0] + 1 == k:  # the last component is what the others leave
        rest = 1.0 - R.sum_(x, axis=0, keepdims=True)
        x = R.concatenate(x, rest, axis=0)
    xv, av = concrete(x), concrete(alpha)
    if xv is not None:
        if np.min(xv) < 0:
            raise ValueError("dirichlet: each entry of 'x' must be greater than or equal to zero")
        if np.max(xv) > 1:
            raise ValueError("dirichlet: each entry of 'x' must be smaller than or equal to one")
        if av is not None and np.any((xv == 0) & (av.reshape((-1,) + (1,) * (xv.ndim - 1)) < 1)):
            raise ValueError("dirichlet: each entry of 'x' must be greater than zero where its alpha is less than one")
        if np.any(np.abs(np.sum(xv, axis=0) - 1.0) > 1e-9):
            raise ValueError(f"dirichlet: 'x' must lie on the simplex (its entries sum to one along the first axis), "
                             f"but they sum to {np.sum(xv, axis=0)}")
    return x


def _logpdf(x: Any, alpha: Any) -> Any:
    _check_alpha(alpha)
    x = _check_x(alpha, x)
    a = R.reshape(alpha, shape=(shape_of(alpha)[0],) + (1,) * (len(shape_of(x)) - 1))
    log_b = R.sum_(_gammaln(alpha)) - _gammaln(R.sum_(alpha))
    out = R.sum_(_xlogy(a - 1.0, x), axis=0) - log_b
    return R.reshape(out, shape=tuple(n for n in shape_of(out) if n != 1))


@public("stats.dirichlet")
def logpdf(x: Any, alpha: Any) -> Any:
    """log of the Dirichlet density at x (components along x's first axis)."""
    return _logpdf(x, alpha)


@public("stats.dirichlet")
def pdf(x: Any, alpha: Any) -> Any:
    """The Dirichlet density exp(logpdf)."""
    return R.exp(_logpdf(x, alpha))


@public("stats.dirichlet")
def rvs(alpha: Any, size: Any = 1, random_state: Any = None) -> Any:
    """Samples from the Dirichlet distribution (SciPy's ``rvs``: shape ``size + (K,)``); no derivative."""
    return scipy.stats.dirichlet.rvs(np.asarray(value_of(alpha)), size=size, random_state=random_state)
