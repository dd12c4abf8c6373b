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
from .lr_scheduler import CosineAnnealingLR, LRScheduler, StepLR
from .optimizer import SGD, Adam, AdamW, Optimizer, RMSprop, clip_grad_norm_

__all__ = [
           "SGD",
           "Adam",
           "AdamW",
           "CosineAnnealingLR",
           "LRScheduler",
           "Optimizer",
           "RMSprop",
           "StepLR",
           "clip_grad_norm_",
]
