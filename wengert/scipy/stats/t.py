"""Student's t distribution (``scipy.stats.t``): pdf, logpdf, cdf, logcdf, sf, logsf.

y = (x - loc) / scale;  logpdf = gammaln((df+1)/2) - gammaln(df/2) - log(df pi)/2 - log(scale)
- (df+1)/2 log1p(y^2/df), differentiable in x, df, loc and scale;  cdf = stdtr(df, y),
differentiable in x, loc and scale (not in df: no closed form).
"""
from __future__ import annotations

import math
from typing import Any

from ...ops import table as R
from .._util import PUBLIC, safe
from ..special import _gammaln, _stdtr
from ._common import family, nan_unless, positive, standardize


def _signature(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> None:
    """SciPy's arguments."""


def _logpdf(x: Any, df: Any, loc: Any, scale: Any) -> Any:
    y, s, ok = standardize(x, loc, scale)
    ok = R.logical_and(ok, positive(df))
    d = safe(ok, df, 1.0)
    out = (_gammaln(0.5 * (d + 1.0)) - _gammaln(0.5 * d) - 0.5 * R.log(d * math.pi) - R.log(s)
           - 0.5 * (d + 1.0) * R.log1p(y * y / d))
    return nan_unless(ok, out)


def _cdf(x: Any, df: Any, loc: Any, scale: Any, upper: bool) -> Any:
    y, _, ok = standardize(x, loc, scale)
    ok = R.logical_and(ok, positive(df))
    return nan_unless(ok, _stdtr(safe(ok, df, 1.0), -y if upper else y))


family("stats.t", _signature, "Student's t", _logpdf, _cdf, note=" (stdtr: no derivative in df)")
globals().update(PUBLIC["stats.t"])
__all__ = sorted(PUBLIC["stats.t"])
