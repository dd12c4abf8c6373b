"""What the distributions share: loc/scale standardisation, invalid parameters as NaN, the support."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...ops import table as R
from .._util import safe


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


__all__ = ["nan_unless", "on_support", "positive", "standardize"]
