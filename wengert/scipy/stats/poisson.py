"""The Poisson distribution (``scipy.stats.poisson``): pmf, logpmf, cdf, logcdf, sf, logsf.

k is a count (no derivative);  logpmf = k log mu - mu - gammaln(k + 1) for integer k >= loc
(-inf elsewhere);  cdf = gammaincc(floor(k) + 1, mu), whose derivative in mu is -pmf(floor(k), mu).
Differentiable in mu, to any order.
"""
from __future__ import annotations

from typing import Any

from ...ops import table as R
from ...ops.numpy_ext import floor
from .._util import PUBLIC
from ..special import _gammainc, _gammaincc, _gammaln, _xlogy
from ._common import family, nan_unless, on_support


def _signature(k: Any, mu: Any, loc: Any = 0) -> None:
    """SciPy's arguments."""


def _counts(k: Any, loc: Any) -> tuple:
    """(floor(k - loc) where k - loc >= 0, whether k - loc >= 0): no derivative flows to k or loc."""
    kk = k - loc
    nonneg = R.greater_equal(kk, 0)
    return floor(R.where(nonneg, kk, 0.0)), nonneg  # (floor has no derivative)


def _logpmf(k: Any, mu: Any, loc: Any) -> Any:
    fk, nonneg = _counts(k, loc)
    integer = R.logical_and(nonneg, R.equal(k - loc, fk))
    out = on_support(integer, _xlogy(fk, mu) - mu - _gammaln(fk + 1.0), -float("inf"))
    return nan_unless(R.greater_equal(mu, 0), out)


def _cdf(k: Any, mu: Any, loc: Any, upper: bool) -> Any:
    fk, nonneg = _counts(k, loc)
    ok = R.greater_equal(mu, 0)
    m = R.where(ok, mu, 1.0)
    if upper:  # P(X > k) = P(floor(k) + 1, mu)
        out = on_support(nonneg, _gammainc(fk + 1.0, m), 1.0)
    else:  # P(X <= k) = Q(floor(k) + 1, mu)
        out = on_support(nonneg, _gammaincc(fk + 1.0, m), 0.0)
    return nan_unless(ok, out)


family("stats.poisson", _signature, "Poisson", _logpmf, _cdf, discrete=True)
globals().update(PUBLIC["stats.poisson"])
__all__ = sorted(PUBLIC["stats.poisson"])
