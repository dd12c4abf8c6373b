"""Neural networks: modules, layers, initialisers and losses (``wengert.nn.functional``).

>>> import numpy as np, wengert as wg
>>> from wengert import nn
>>> from wengert.nn import functional as F
>>> net = nn.Sequential(nn.Linear(2, 16, rng=0), nn.Tanh(), nn.Linear(16, 2, rng=1))
>>> x, y = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32), np.array([0, 1])
>>> loss = F.cross_entropy(net(x), y)
>>> loss.backward()
>>> net[0].weight.grad.shape
(16, 2)
"""
from . import functional, init

# every layer: the list is layers.__all__
from .layers import *
from .layers import __all__ as _layers
from .module import Module, Parameter

__all__ = [*_layers, "Module", "Parameter", "functional", "init"]  # noqa: PLE0604
