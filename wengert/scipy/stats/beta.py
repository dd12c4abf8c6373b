"""The beta distribution (``scipy.stats.beta``): pdf, logpdf, cdf, logcdf, sf, logsf.

y = (x - loc) / scale in [0, 1];  logpdf = (a-1) log y + (b-1) log(1-y) - betaln(a, b) - log(scale),
differentiable in x, a, b, loc and scale;  cdf = betainc(a, b, y), sf = betainc(b, a, 1 - y)
(no derivative in a, b).
"""
from __future__ import annotations

from typing import Any

from ...ops import table as R
from .._util import PUBLIC, safe
from ..special import _betainc, _betaln, _xlog1py, _xlogy
from ._common import family, nan_unless, on_support, positive, standardize


def _signature(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> None:
    """SciPy's arguments."""


def _params(x: Any, a: Any, b: Any, loc: Any, scale: Any) -> tuple:
    y, s, ok = standardize(x, loc, scale)
    ok = R.logical_and(ok, positive(a, b))
    return y, s, ok, safe(ok, a, 1.0), safe(ok, b, 1.0)


def _logpdf(x: Any, a: Any, b: Any, loc: Any, scale: Any) -> Any:
    y, s, ok, a, b = _params(x, a, b, loc, scale)
    inside = R.logical_and(R.greater_equal(y, 0), R.less_equal(y, 1))
    ys = safe(inside, y, 0.5)
    out = _xlogy(a - 1.0, ys) + _xlog1py(b - 1.0, -ys) - _betaln(a, b) - R.log(s)
    return nan_unless(ok, on_support(inside, out, -float("inf")))


def _cdf(x: Any, a: Any, b: Any, loc: Any, scale: Any, upper: bool) -> Any:
    y, _, ok, a, b = _params(x, a, b, loc, scale)
    below, above = R.less_equal(y, 0), R.greater_equal(y, 1)
    ys = safe(R.logical_or(below, above), 0.5, y)
    if upper:  # P(X > x) = I_{1-y}(b, a), accurate near y = 1
        out = R.where(below, 1.0, R.where(above, 0.0, _betainc(b, a, 1.0 - ys)))
    else:
        out = R.where(below, 0.0, R.where(above, 1.0, _betainc(a, b, ys)))
    return nan_unless(ok, out)


family("stats.beta", _signature, "beta", _logpdf, _cdf, note=" (betainc: no derivative in a, b)")
globals().update(PUBLIC["stats.beta"])
__all__ = sorted(PUBLIC["stats.beta"])
