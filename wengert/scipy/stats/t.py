"""Student's t distribution (``scipy.stats.t``): pdf, logpdf, cdf, logcdf, sf, logsf.

y = (x - loc) / scale;  logpdf = gammaln((df+1)/2) - gammaln(df/2) - log(df pi)/2 - log(scale)
- (df+1)/2 log1p(y^2/df), differentiable in x, df, loc and scale;  cdf = stdtr(df, y),
differentiable in x, loc and scale (not in df: no closed form).
"""
from __future__ import annotations

import math
from typing import Any

from ...ops import table as R
from .._util import public, safe
from ..special import _gammaln, _stdtr
from ._common import nan_unless, positive, standardize


def _logpdf(x: Any, df: Any, loc: Any, scale: Any) -> Any:
    y, s, ok = standardize(x, loc, scale)
    ok = R.logical_and(ok, positive(df))
    d = safe(ok, df, 1.0)
    out = (_gammaln(0.5 * (d + 1.0)) - _gammaln(0.5 * d) - 0.5 * R.log(d * math.pi) - R.log(s)
           - 0.5 * (d + 1.0) * R.log1p(y * y / d))
    return nan_unless(ok, out)


def _cdf(x: Any, df: Any, loc: Any, scale: Any, sign: float) -> Any:
    y, _, ok = standardize(x, loc, scale)
    ok = R.logical_and(ok, positive(df))
    return nan_unless(ok, _stdtr(safe(ok, df, 1.0), sign * y))


@public("stats.t")
def logpdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """log of Student's t density with df degrees of freedom."""
    return _logpdf(x, df, loc, scale)


@public("stats.t")
def pdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """Student's t density exp(logpdf)."""
    return R.exp(_logpdf(x, df, loc, scale))


@public("stats.t")
def cdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """P(X <= x) = stdtr(df, (x - loc) / scale) (no derivative in df)."""
    return _cdf(x, df, loc, scale, 1.0)


@public("stats.t")
def logcdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """log P(X <= x) (no derivative in df)."""
    return R.log(_cdf(x, df, loc, scale, 1.0))


@public("stats.t")
def sf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """P(X > x) = stdtr(df, -(x - loc) / scale) (no derivative in df)."""
    return _cdf(x, df, loc, scale, -1.0)


@public("stats.t")
def logsf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """log P(X > x) (no derivative in df)."""
    return R.log(_cdf(x, df, loc, scale, -1.0))
