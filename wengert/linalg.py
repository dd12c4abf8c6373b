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

from .ops.linalg import EighResult, EigResult, QRResult, SlogdetResult, SVDResult  # noqa: F401
from .ops.surface import numpy_namespace

LinAlgError = np.linalg.LinAlgError

_FUNCTIONS = numpy_namespace(np.linalg)
globals().update(_FUNCTIONS)

__all__ = sorted(_FUNCTIONS)
