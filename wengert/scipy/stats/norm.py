"""The normal distribution (``scipy.stats.norm``): pdf, logpdf, cdf, logcdf, sf, logsf, ppf, isf.

z = (x - loc) / scale;  logpdf = -z^2/2 - log(scale) - log(2 pi)/2;  cdf = ndtr(z),
logcdf = log_ndtr(z) (accurate far in the tails), sf = ndtr(-z).  Differentiable in x,
loc and scale, to any order.
"""
from __future__ import annotations

import math
from typing import Any

from ...ops import table as R
from .._util import public
from ..special import _log_ndtr, _ndtr, _ndtri
from ._common import nan_unless, standardize

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _logpdf(x: Any, loc: Any, scale: Any) -> Any:
    z, s, ok = standardize(x, loc, scale)
    return nan_unless(ok, -0.5 * (z * z) - R.log(s) - _HALF_LOG_2PI)


@public("stats.norm")
def logpdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """log of the normal density: -((x - loc)/scale)^2 / 2 - log(scale) - log(2 pi)/2."""
    return _logpdf(x, loc, scale)


@public("stats.norm")
def pdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The normal density exp(logpdf)."""
    return R.exp(_logpdf(x, loc, scale))


@public("stats.norm")
def cdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """P(X <= x) = ndtr((x - loc) / scale)."""
    z, _, ok = standardize(x, loc, scale)
    return nan_unless(ok, _ndtr(z))


@public("stats.norm")
def logcdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """log P(X <= x) = log_ndtr((x - loc) / scale), accurate far in the lower tail."""
    z, _, ok = standardize(x, loc, scale)
    return nan_unless(ok, _log_ndtr(z))


@public("stats.norm")
def sf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """P(X > x) = ndtr(-(x - loc) / scale)."""
    z, _, ok = standardize(x, loc, scale)
    return nan_unless(ok, _ndtr(-z))


@public("stats.norm")
def logsf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """log P(X > x) = log_ndtr(-(x - loc) / scale), accurate far in the upper tail."""
    z, _, ok = standardize(x, loc, scale)
    return nan_unless(ok, _log_ndtr(-z))


@public("stats.norm")
def ppf(q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The quantile function: loc + scale ndtri(q)."""
    return nan_unless(R.greater(scale, 0), loc + scale * _ndtri(q))


@public("stats.norm")
def isf(q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The inverse survival function: loc - scale ndtri(q)."""
    return nan_unless(R.greater(scale, 0), loc - scale * _ndtri(q))
