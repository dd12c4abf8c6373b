"""``wg.fft``: NumPy's ``np.fft``, differentiable in reverse and forward mode, batched by ``wg.vmap``.

The same names, arguments and results as ``np.fft`` (``n``, ``axis``, ``s``,
``axes``, ``norm``).  Each function here is the public function of a record
in ``wengert/ops/fft.py`` whose surface names the ``np.fft`` function it
stands for, so this namespace is generated and cannot drift; the same
functions answer NumPy's dispatch (``np.fft.fft(t)`` of a Tensor stays in
the graph).  The derivatives, the adjoints of the DFT, are explained in
``wengert/ops/fft.py`` and docs/complex.md.

>>> import numpy as np, wengert as wg
>>> x = wg.tensor([0.0, 1.0, 0.0, -1.0], requires_grad=True)
>>> X = wg.fft.fft(x)
>>> np.allclose(X.data, np.fft.fft(x.data))
True
>>> wg.sum(wg.abs(X) ** 2).backward()                 # Parseval: sum |X|^2 = n sum x^2
>>> x.grad
tensor([ 0.,  8.,  0., -8.])
>>> sorted(wg.fft.__all__)[:4]
['fft', 'fft2', 'fftfreq', 'fftn']
"""
from __future__ import annotations

import numpy as np

from .ops.surface import numpy_namespace

_FUNCTIONS = numpy_namespace(np.fft)
globals().update(_FUNCTIONS)

__all__ = sorted(_FUNCTIONS)
