"""Neural networks: modules, layers, initialisers and losses (``wengert.nn.functional``).

The names, signatures and defaults are PyTorch's (``nn.Linear``,
``nn.LSTM(batch_first=True)``, ``nn.CrossEntropyLoss(label_smoothing=0.1)``,
``nn.utils.clip_grad_norm_``, ...), and so are the parameter names, so a
PyTorch state dict loads.

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
from . import functional, init, utils

# every layer: the lists are each module's __all__
from .layers import *
from .layers import __all__ as _layers
from .loss import *
from .loss import __all__ as _losses
from .module import Module, Parameter
from .normalization import *
from .normalization import __all__ as _norms
from .rnn import *
from .rnn import __all__ as _rnns
from .stateless import functional_call

__all__ = [*_layers, *_losses, *_norms, *_rnns, "Module", "Parameter", "functional", "functional_call", "init", "utils"]
