"""The gamma distribution (``scipy.stats.gamma``, shape ``a``): pdf, logpdf, cdf, logcdf, sf, logsf.

y = (x - loc) / scale >= 0;  logpdf = (a - 1) log y - y - gammaln(a) - log(scale), differentiable
in x, a, loc and scale;  cdf = gammainc(a, y), differentiable in x, loc and scale (not in a).
"""
from __future__ import annotations

from typing import Any

from ...ops import table as R
from .._util import public, safe
from ..special import _gammainc, _gammaincc, _gammaln, _xlogy
from ._common import nan_unless, on_support, positive, standardize


def _logpdf(x: Any, a: Any, loc: Any, scale: Any) -> Any:
    y, s, ok = standardize(x, loc, scale)
    ok = R.logical_and(ok, positive(a))
    a = safe(ok, a, 1.0)
    inside = R.greater_equal(y, 0)
    ys = safe(inside, y, 1.0)
    out = on_support(inside, _xlogy(a - 1.0, ys) - ys - _gammaln(a) - R.log(s), -float("inf"))
    return nan_unless(ok, out)


def _cdf(x: Any, a: Any, loc: Any, scale: Any, upper: bool) -> Any:
    y, _, ok = standardize(x, loc, scale)
    ok = R.logical_and(ok, positive(a))
    a = safe(ok, a, 1.0)
    inside = R.greater(y, 0)
    ys = safe(inside, y, 1.0)
    out = on_support(inside, _gammaincc(a, ys), 1.0) if upper else on_support(inside, _gammainc(a, ys), 0.0)
    return nan_unless(ok, out)


@public("stats.gamma")
def logpdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """log of the gamma density with shape a (-inf below loc)."""
    return _logpdf(x, a, loc, scale)


@public("stats.gamma")
def pdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The gamma density with shape a, exp(logpdf)."""
    return R.exp(_logpdf(x, a, loc, scale))


@public("stats.gamma")
def cdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """P(X <= x) = gammainc(a, (x - loc) / scale) (no derivative in a)."""
    return _cdf(x, a, loc, scale, upper=False)


@public("stats.gamma")
def logcdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """log P(X <= x) (no derivative in a)."""
    return R.log(_cdf(x, a, loc, scale, upper=False))


@public("stats.gamma")
def sf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """P(X > x) = gammaincc(a, (x - loc) / scale) (no derivative in a)."""
    return _cdf(x, a, loc, scale, upper=True)


@public("stats.gamma")
def logsf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """log P(X > x) (no derivative in a)."""
    return R.log(_cdf(x, a, loc, scale, upper=True))
