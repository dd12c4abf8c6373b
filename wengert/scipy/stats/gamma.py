"""The gamma distribution (``scipy.stats.gamma``, shape ``a``): pdf, logpdf, cdf, logcdf, sf, logsf.

y = (x - loc) / scale >= 0;  logpdf = (a - 1) log y - y - gammaln(a) - log(scale), differentiable
in x, a, loc and scale;  cdf = gammainc(a, y), differentiable in x, loc and scale (not in a).
"""
from __future__ import annotations

from typing import Any

from ...ops import table as R
from .._util import PUBLIC, safe
from ..special import _gammainc, _gammaincc, _gammaln, _xlogy
from ._common import family, nan_unless, on_support, positive, standardize


def _signature(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> None:
    """SciPy's arguments."""


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


family("stats.gamma", _signature, "gamma", _logpdf, _cdf, note=" (gammainc: no derivative in a)")
globals().update(PUBLIC["stats.gamma"])
__all__ = sorted(PUBLIC["stats.gamma"])
