"""The normal distribution (``scipy.stats.norm``): pdf, logpdf, cdf, logcdf, sf, logsf, ppf, isf.

z = (x - loc) / scale;  logpdf = -z^2/2 - log(scale) - log(2 pi)/2;  cdf = ndtr(z),
logcdf = log_ndtr(z) (accurate far in the tails), sf = ndtr(-z).  Differentiable in x,
loc and scale, to any order.
"""
from __future__ import annotations

import math
from typing import Any

from ...ops import table as R
from .._util import PUBLIC, public
from ..special import _log_ndtr, _ndtr, _ndtri
from ._common import family, nan_unless, standardize

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _signature(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> None:
    """SciPy's arguments."""


def _logpdf(x: Any, loc: Any, scale: Any) -> Any:
    z, s, ok = standardize(x, loc, scale)
    return nan_unless(ok, -0.5 * (z * z) - R.log(s) - _HALF_LOG_2PI)


def _cdf(x: Any, loc: Any, scale: Any, upper: bool) -> Any:
    z, _, ok = standardize(x, loc, scale)
    return nan_unless(ok, _ndtr(-z if upper else z))


def _logcdf(x: Any, loc: Any, scale: Any, upper: bool) -> Any:
    z, _, ok = standardize(x, loc, scale)
    return nan_unless(ok, _log_ndtr(-z if upper else z))  # (accurate far in the tail, where cdf underflows)


family("stats.norm", _signature, "normal", _logpdf, _cdf, logcdf=_logcdf)


@public("stats.norm")
def ppf(q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The quantile function: loc + scale ndtri(q)."""
    return nan_unless(R.greater(scale, 0), loc + scale * _ndtri(q))


@public("stats.norm")
def isf(q: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
    """The inverse survival function: loc - scale ndtri(q)."""
    return nan_unless(R.greater(scale, 0), loc - scale * _ndtri(q))


globals().update(PUBLIC["stats.norm"])
__all__ = sorted(PUBLIC["stats.norm"])
