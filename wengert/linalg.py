"""``wg.linalg``: NumPy's ``np.linalg`` on tensors, with exact derivatives in reverse and forward mode.

Each function here is the public function of a record in
``wengert/ops/linalg.py`` (or ``ops/table.py``: inv, det, solve) whose
surface names the ``np.linalg`` function it stands for, so this namespace
is generated and cannot drift.  The same functions answer NumPy's dispatch:
``np.linalg.svd(t)`` on a Tensor is ``wg.linalg.svd(t)``.

>>> import numpy as np, wengert as wg
>>> a = wg.tensor([[4.0, 2.0], [2.0, 3.0]], requires_grad=True)
>>> L = wg.linalg.cholesky(a)
>>> np.allclose((L @ L.T).data, a.data)
True
>>> sorted(name for name in wg.linalg.__all__ if name.startswith("eig"))
['eig', 'eigh', 'eigvals', 'eigvalsh']
"""
from __future__ import annotations

import numpy as np

from .ops.api import PUBLIC
from .ops.linalg import EighResult, EigResult, QRResult, SlogdetResult, SVDResult  # noqa: F401
from .ops.surface import public_function, public_name, records

LinAlgError = np.linalg.LinAlgError


def _namespace() -> dict:
    """np.linalg's name -> wengert's public function, for every record whose surface names an np.linalg function."""
    out = {}
    for target, s in records():
        for f in s.numpy:
            name = getattr(f, "__name__", None)
            if name and getattr(np.linalg, name, None) is f:
                out[name] = PUBLIC[public_name(target, s)] if s.public else public_function(target, s)
    return out


_FUNCTIONS = _namespace()
globals().update(_FUNCTIONS)

__all__ = sorted(_FUNCTIONS)
