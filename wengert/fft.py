"""``wg.fft``: NumPy's ``np.fft``, differentiable in reverse and forward mode, batched by ``wg.vmap``.

The same names, arguments and results as ``np.fft`` (``n``, ``axis``, ``s``,
``axes``, ``norm``); the rules and their derivatives (the adjoints of the
DFT) are in ``wengert/ops/fft.py``.  NumPy's own functions dispatch here too:
``np.fft.fft(t)`` of a Tensor stays in the graph.

>>> import numpy as np, wengert as wg
>>> x = wg.tensor([0.0, 1.0, 0.0, -1.0], requires_grad=True)
>>> X = wg.fft.fft(x)
>>> np.allclose(X.data, np.fft.fft(x.data))
True
>>> wg.sum(wg.abs(X) ** 2).backward()                 # Parseval: sum |X|^2 = n sum x^2
>>> x.grad
tensor([ 0.,  8.,  0., -8.])
"""
from __future__ import annotations

from .ops.api import PUBLIC as _PUBLIC

_NAMES = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn",
          "rfftn", "irfftn", "fftshift", "ifftshift", "fftfreq", "rfftfreq")

globals().update({name: _PUBLIC[f"fft.{name}"] for name in _NAMES})

__all__ = list(_NAMES)
