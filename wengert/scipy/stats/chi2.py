"""The chi-squared distribution (``scipy.stats.chi2``): pdf, logpdf, cdf, logcdf, sf, logsf.

A gamma distribution with shape df/2 and scale 2: y = (x - loc) / scale,
logpdf = (df/2 - 1) log y - y/2 - gammaln(df/2) - (df/2) log 2 - log(scale), differentiable
in x, df, loc and scale;  cdf = gammainc(df/2, y/2) (no derivative in df).
"""
from __future__ import annotations

import math
from typing import Any

from ...ops import table as R
from .._util import PUBLIC, safe
from ..special import _gammainc, _gammaincc, _gammaln, _xlogy
from ._common import family, nan_unless, on_support, positive, standardize


def _signature(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> None:
    """SciPy's arguments."""


def _logpdf(x: Any, df: Any, loc: Any, scale: Any) -> Any:
    y, s, ok = standardize(x, loc, scale)
    ok = R.logical_and(ok, positive(df))
    k = 0.5 * safe(ok, df, 1.0)
    inside = R.greater_equal(y, 0)
    ys = safe(inside, y, 1.0)
    out = _xlogy(k - 1.0, ys) - 0.5 * ys - _gammaln(k) - k * math.log(2.0) - R.log(s)
    return nan_unless(ok, on_support(inside, out, -float("inf")))


def _cdf(x: Any, df: Any, loc: Any, scale: Any, upper: bool) -> Any:
    y, _, ok = standardize(x, loc, scale)
    ok = R.logical_and(ok, positive(df))
    k = 0.5 * safe(ok, df, 1.0)
    inside = R.greater(y, 0)
    ys = 0.5 * safe(inside, y, 1.0)
    out = on_support(inside, _gammaincc(k, ys), 1.0) if upper else on_support(inside, _gammainc(k, ys), 0.0)
    return nan_unless(ok, out)


family("stats.chi2", _signature, "chi-squared", _logpdf, _cdf, note=" (gammainc: no derivative in df)")
globals().update(PUBLIC["stats.chi2"])
__all__ = sorted(PUBLIC["stats.chi2"])
