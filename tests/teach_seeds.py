"""The seeds' worked examples as functions, shared by the teaching tools' tests (named as the seeds name them)."""
from __future__ import annotations

import wengert as wg


def f(x, y, z):
    """Seed 001's circuit f = (x + y) z (at x = -2, y = 5, z = -4: gradient -4, -4, 3)."""
    q = x + y
    return q * z


def L(W, X, y):
    """Seed 004's logistic loss -y log(sigmoid(W X)) as its six elementary steps."""
    xi1 = -X * W
    xi2 = wg.exp(xi1)
    xi3 = 1 + xi2
    xi4 = 1 / xi3
    xi5 = wg.log(xi4)
    return -y * xi5
