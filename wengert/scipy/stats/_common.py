"""What the distributions share: loc/scale standardisation, invalid parameters as NaN, the support."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ...ops import table as R
from .._util import public, safe


def standardize(x: Any, loc: Any, scale: Any) -> tuple:
    """``(y, scale, ok)``: y = (x - loc) / scale, with scale replaced by 1 where it is not positive (ok False)."""
    ok = R.greater(scale, 0)
    s = safe(ok, scale, 1.0)
    return (x - loc) / s, s, ok


def positive(*params: Any) -> Any:
    """Whether every parameter is positive (elementwise)."""
    ok = True
    for p in params:
        ok = R.logical_and(ok, R.greater(p, 0))
    return ok


def nan_unless(ok: Any, value: Any) -> Any:
    """``value`` where the parameters are valid, NaN elsewhere (SciPy's answer for invalid parameters)."""
    return R.where(ok, value, np.nan)


def on_support(inside: Any, value: Any, outside: float) -> Any:
    """``value`` inside the support, the constant ``outside`` (0, 1 or -inf) elsewhere."""
    return R.where(inside, value, outside)




def family(module: str, signature: Callable, what: str, logdensity: Callable, cdf: Callable,
           logcdf: Callable | None = None, discrete: bool = False, note: str = "") -> None:
    """Register a distribution's public functions (``wengert.scipy.stats.<name>``) from three of its formulas.

    ``logdensity(*params)`` and ``cdf(*params, upper=...)`` (``upper=True``:
    the survival function) take the arguments of ``signature`` (SciPy's, e.g.
    ``(x, a, loc=0.0, scale=1.0)``); ``logcdf(*params, upper=...)`` is
    log(cdf) unless given.  They make logpdf, pdf = exp(logpdf), cdf, logcdf,
    sf and logsf (logpmf and pmf for a ``discrete`` one).
    """
    sig = inspect.signature(signature)
    density = "pmf" if discrete else "pdf"
    mass = "probability mass" if discrete else "density"
    log_cdf = logcdf or (lambda *p, upper: R.log(cdf(*p, upper=upper)))
    made = {
        f"log{density}": (logdensity, f"log of the {what} {mass}"),
        density: (lambda *p: R.exp(logdensity(*p)), f"the {what} {mass}, exp(log{density})"),
        "cdf": (lambda *p: cdf(*p, upper=False), f"P(X <= x) for the {what} distribution{note}"),
        "logcdf": (lambda *p: log_cdf(*p, upper=False), f"log P(X <= x) for the {what} distribution{note}"),
        "sf": (lambda *p: cdf(*p, upper=True), f"P(X > x), the survival function of the {what} distribution{note}"),
        "logsf": (lambda *p: log_cdf(*p, upper=True), f"log P(X > x) for the {what} distribution{note}"),
    }
    for name, (formula, doc) in made.items():
        public(module, name, signature=signature)(_bound(sig, formula, name, doc))


def _bound(sig: inspect.Signature, formula: Callable, name: str, doc: str) -> Callable:
    """``formula`` called with SciPy's arguments (keywords and defaults as in ``sig``)."""

    def fn(*args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        return formula(*bound.args)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc + "."
    return fn


__all__ = ["family", "nan_unless", "on_support", "positive", "standardize"]
