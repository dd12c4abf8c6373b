"""The Poisson distribution (``scipy.stats.poisson``): pmf, logpmf, cdf, logcdf, sf, logsf.

k is a count (no derivative);  logpmf = k log mu - mu - gammaln(k + 1) for integer k >= loc
(-inf elsewhere);  cdf = gammaincc(floor(k) + 1, mu), whose derivative in mu is -pmf(floor(k), mu).
Differentiable in mu, to any order.
"""
from __future__ import annotations

from typing import Any

from ...ops import table as R
from .._util import floor_nonneg, public
from ..special import _gammainc, _gammaincc, _gammaln, _xlogy
from ._common import nan_unless, on_support


def _counts(k: Any, loc: Any) -> tuple:
    """(floor(k - loc) where k - loc >= 0, whether k - loc >= 0): no derivative flows to k or loc."""
    kk = k - loc
    nonneg = R.greater_equal(kk, 0)
    return floor_nonneg(R.where(nonneg, kk, 0.0)), nonneg


def _logpmf(k: Any, mu: Any, loc: Any) -> Any:
    fk, nonneg = _counts(k, loc)
    integer = R.logical_and(nonneg, R.equal(k - loc, fk))
    out = on_support(integer, _xlogy(fk, mu) - mu - _gammaln(fk + 1.0), -float("inf"))
    return nan_unless(R.greater_equal(mu, 0), out)


def _cdf(k: Any, mu: Any, loc: Any, upper: bool) -> Any:
    fk, nonneg = _counts(k, loc)
    ok = R.greater_equal(mu, 0)
    m = R.where(ok, mu, 1.0)
    if upper:
        out = on_support(nonneg, _gammainc(fk + 1.0, m), 1.0)
    else:
        out = on_support(nonneg, _gammaincc(fk + 1.0, m), 0.0)
    return nan_unless(ok, out)


@public("stats.poisson")
def logpmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """log P(X = k) for a Poisson count with mean mu (-inf at non-integer k)."""
    return _logpmf(k, mu, loc)


@public("stats.poisson")
def pmf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """P(X = k), exp(logpmf)."""
    return R.exp(_logpmf(k, mu, loc))


@public("stats.poisson")
def cdf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """P(X <= k) = gammaincc(floor(k) + 1, mu)."""
    return _cdf(k, mu, loc, upper=False)


@public("stats.poisson")
def logcdf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """log P(X <= k)."""
    return R.log(_cdf(k, mu, loc, upper=False))


@public("stats.poisson")
def sf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """P(X > k) = gammainc(floor(k) + 1, mu)."""
    return _cdf(k, mu, loc, upper=True)


@public("stats.poisson")
def logsf(k: Any, mu: Any, loc: Any = 0) -> Any:
    """log P(X > k)."""
    return R.log(_cdf(k, mu, loc, upper=True))
