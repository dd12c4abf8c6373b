"""NumPy formulations of two kernels that the obvious call runs slowly, with the same values.

* ``np.maximum(x, 0)`` (ReLU): NumPy's ``maximum`` has no vectorised loop for
  an operand broadcast from one value.  Against a full array of zeros it runs
  about three times faster.
* ``x.max(axis=-1, keepdims=True)`` over short rows (the logits of a few
  classes): NumPy reduces a short contiguous axis one row at a time.  Taken
  column-wise on the transposed copy, the maxima come about twice as fast.
* ``g.sum(axis=0)`` of a 2-D floating array (a bias gradient): as the
  product ``ones @ g``, BLAS's matrix-vector product, about twice as fast.

The first two are exact: an elementwise maximum is the same function
whatever the layout of its operands (NaN and signed zeros included), and a
maximum does not depend on the order it is taken in.  The column sums are
the same sums added in BLAS's order: equal to NumPy's within rounding (as
accurate), inf and NaN alike, but their last bits, and the sign of a column
of negative zeros, may differ.
"""
from __future__ import annotations

from typing import Any

import numpy as np

#: The largest array for which maximum_zero keeps an array of zeros (elements), and how many it keeps.
FULL_SIZE = 1 << 16
_KEPT = 16
_ZEROS: dict = {}  # (shape, dtype) -> a read-only array of zeros


def maximum_zero(x: Any) -> Any:
    """``np.maximum(x, 0)``, against a kept array of zeros where ``x`` is a small floating array."""
    if type(x) is np.ndarray and x.dtype.kind == "f" and 0 < x.size <= FULL_SIZE:
        key = (x.shape, x.dtype)
        z = _ZEROS.get(key)
        if z is None:
            if len(_ZEROS) >= _KEPT:
                _ZEROS.clear()  # (shapes seen long ago are made again when they come back)
            z = np.zeros(x.shape, x.dtype)
            z.flags.writeable = False
            _ZEROS[key] = z
        return np.maximum(x, z)
    return np.maximum(x, 0)


def short_rows(shape: tuple, axis: Any) -> bool:
    """Is a maximum over ``axis`` of an array of ``shape`` one over short rows (see :func:`row_max`)?"""
    return len(shape) == 2 and axis in (1, -1) and 0 < shape[1] <= 32 and shape[0] >= 8


def row_max(x: np.ndarray) -> np.ndarray:
    """The maxima of the rows of a 2-D array, as a column, taken column-wise on the transposed copy."""
    return np.maximum.reduce(x.T.copy(), axis=0).reshape(x.shape[0], 1)


def max_keepdims(x: Any, axis: Any) -> Any:
    """``np.max(x, axis=axis, keepdims=True)``, by :func:`row_max` over short rows."""
    if type(x) is np.ndarray and short_rows(x.shape, axis):
        return row_max(x)
    return np.max(x, axis=axis, keepdims=True)


_ONES: dict = {}  # (rows, dtype) -> a read-only vector of ones


def column_sums(g: Any) -> Any:
    """``np.add.reduce(g, axis=0)``, as ``ones @ g`` where ``g`` is a 2-D floating array with rows."""
    if type(g) is np.ndarray and g.ndim == 2 and g.dtype.kind in "fc" and g.shape[0]:
        key = (g.shape[0], g.dtype)
        ones = _ONES.get(key)
        if ones is None:
            if len(_ONES) >= _KEPT:
                _ONES.clear()
            ones = np.ones(g.shape[0], g.dtype)
            ones.flags.writeable = False
            _ONES[key] = ones
        return np.matmul(ones, g)
    return np.add.reduce(g, axis=0)


__all__ = ["FULL_SIZE", "column_sums", "max_keepdims", "maximum_zero", "row_max", "short_rows"]
