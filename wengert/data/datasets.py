"""Built-in datasets that need no network: toy 2-D generators and the 8x8 handwritten digits.

Every generator takes ``n`` (the number of points), ``noise`` and ``seed``
and returns ``(X, y)``: ``X`` float32 of shape ``(n, 2)``, ``y`` int64 labels.

>>> from wengert import data
>>> X, y = data.make_moons(100, noise=0.1, seed=0)
>>> X.shape, X.dtype, sorted(set(y.tolist()))
((100, 2), dtype('float32'), [0, 1])
>>> images, labels = data.load_digits(flat=False)
>>> images.shape, labels.shape, float(images.max())
((1797, 8, 8), (1797,), 1.0)
"""
from __future__ import annotations

from importlib import resources

import numpy as np


def _check(n: int, noise: float) -> None:
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"the number of points must be an integer >= 2, got {n!r}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")


def _finish(X: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator) -> tuple:
    X = X + noise * rng.standard_normal(X.shape)
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order].astype(np.int64)


def make_moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple:
    """Two interleaving half circles (classes 0 and 1)."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0 = np.linspace(0.0, np.pi, n0)
    t1 = np.linspace(0.0, np.pi, n - n0)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1), np.stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    y = np.concatenate([np.zeros(n0), np.ones(n - n0)])
    return _finish(X, y, noise, rng)


def make_circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> tuple:
    """A small circle (class 1) inside a large one (class 0); ``factor`` is the ratio of the radii."""
    _check(n, noise)
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must lie in (0, 1), got {factor}")
    rng = np.random.default_rng(seed)
    n0 = n // 2
    t0 = np.linspace(0.0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0.0, 2 * np.pi, n - n0, endpoint=False)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1), factor * np.stack([np.cos(t1), np.sin(t1)], 1)])
    y = np.concatenate([np.zeros(n0), np.ones(n - n0)])
    return _finish(X, y, noise, rng)


def make_spirals(n: int = 300, noise: float = 0.2, classes: int = 3, turns: float = 1.0, seed: int = 0) -> tuple:
    """``classes`` interleaved spiral arms (the CS231n toy problem); radius in [0, 1]."""
    _check(n, noise)
    if classes < 2:
        raise ValueError(f"make_spirals: need at least 2 classes, got {classes}")
    rng = np.random.default_rng(seed)
    sizes = [n // classes + (1 if k < n % classes else 0) for k in range(classes)]
    Xs, ys = [], []
    for k, m in enumerate(sizes):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(0.0, 2 * np.pi * turns, m) + 2 * np.pi * k / classes + noise * rng.standard_normal(m)
        Xs.append(np.stack([r * np.sin(t), r * np.cos(t)], 1))
        ys.append(np.full(m, k))
    return _finish(np.concatenate(Xs), np.concatenate(ys), 0.0, rng)


def make_xor(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple:
    """Points around the four corners (+-1, +-1); class 1 where the signs differ (XOR)."""
    _check(n, noise)
    rng = np.random.default_rng(seed)
    corners = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    which = np.arange(n) % 4
    X = corners[which]
    y = (np.sign(X[:, 0]) != np.sign(X[:, 1])).astype(np.int64)
    return _finish(X, y, noise, rng)


def load_digits(flat: bool = True) -> tuple:
    """The 8x8 handwritten digits (1,797 images, 10 classes; the UCI set as scikit-learn ships it).

    Pixels are scaled to [0, 1] (float32): shape ``(1797, 64)``, or
    ``(1797, 8, 8)`` with ``flat=False``.  Labels are int64.  The array file
    ships inside the package, so no network is needed.
    """
    ref = resources.files("wengert.data").joinpath("digits.npz")
    with ref.open("rb") as fh, np.load(fh, allow_pickle=False) as z:
        images = z["images"].astype(np.float32) / 16.0
        labels = z["labels"].astype(np.int64)
    return (images.reshape(len(images), -1) if flat else images), labels


__all__ = ["load_digits", "make_circles", "make_moons", "make_spirals", "make_xor"]
