"""Optimisers (SGD, Adam, AdamW, RMSprop), learning-rate schedulers and gradient clipping.

>>> import numpy as np, wengert as wg
>>> from wengert import nn, optim
>>> w = nn.Parameter(np.array([3.0]), dtype=np.float64)
>>> opt = optim.Adam([w], lr=0.1)
>>> for _ in range(300):
...     opt.zero_grad()
...     ((w - 1.0) ** 2).sum().backward()
...     opt.step()
>>> round(float(w.data[0]), 2)
1.0
"""
from ..nn.utils import clip_grad_norm_  # (also here, where earlier versions had it; PyTorch's home is nn.utils)
from . import lr_scheduler
from .lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from .optimizer import SGD, Adam, AdamW, Optimizer, RMSprop

__all__ = [
           "SGD",
           "Adam",
           "AdamW",
           "CosineAnnealingLR",
           "ExponentialLR",
           "LRScheduler",
           "LambdaLR",
           "LinearLR",
           "OneCycleLR",
           "Optimizer",
           "RMSprop",
           "ReduceLROnPlateau",
           "SequentialLR",
           "StepLR",
           "clip_grad_norm_",
           "lr_scheduler",
]
