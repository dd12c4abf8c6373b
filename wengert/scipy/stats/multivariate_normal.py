"""The multivariate normal distribution (``scipy.stats.multivariate_normal``): pdf, logpdf, entropy.

With L the Cholesky factor of cov and z = L^-1 (x - mean):  logpdf = -(d log(2 pi)
+ 2 sum(log diag L) + |z|^2) / 2, a composite of ``scipy.linalg.cholesky`` and
``solve_triangular``, so x, mean and cov are all differentiable, to any order
(cov's gradient is symmetric: only its symmetric part matters).  Arguments and
shapes are SciPy's: x's last axis holds the components (a 1-D x of a 1-D
distribution is many points), and the result is squeezed.

``allow_singular=True`` follows SciPy (pseudo-inverse and pseudo-determinant
over the eigenvalues above a cutoff, -inf off the support), with cov a
constant: a singular covariance has no gradient, as in HIPS autograd.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...core.tensor import is_traced, shape_of, value_of
from ...ops import table as R
from .._util import public
from ..linalg import _cholesky, _solve_triangular

_LOG_2PI = math.log(2.0 * math.pi)


def _parameters(mean: Any, cov: Any) -> tuple:
    """(dim, mean as a vector, cov as a matrix), as SciPy infers them."""
    cshape = shape_of(cov)
    if mean is None:
        dim = 1 if len(cshape) < 2 else cshape[0]
        mean = np.zeros(dim)
    else:
        dim = int(np.prod(shape_of(mean)))
    if dim == 1:
        mean = R.reshape(mean, shape=(1,))
        cov = R.reshape(cov, shape=(1, 1))
    if len(shape_of(mean)) != 1 or shape_of(mean)[0] != dim:
        raise ValueError(f"multivariate_normal: 'mean' must be a vector of length {dim}, got shape {shape_of(mean)}")
    nd = len(shape_of(cov))
    if nd == 0:
        cov = cov * np.eye(dim)
    elif nd == 1:
        cov = R.reshape(cov, shape=(dim, 1)) * np.eye(dim)
    elif shape_of(cov) != (dim, dim):
        raise ValueError(f"multivariate_normal: 'cov' must be of shape ({dim}, {dim}), got {shape_of(cov)}")
    return dim, mean, cov


def _quantiles(x: Any, dim: int) -> Any:
    """x with the components on its last axis (SciPy's reading of 0-d and 1-d x)."""
    s = shape_of(x)
    if len(s) == 0:
        return R.reshape(x, shape=(1, 1) if dim == 1 else (1,))
    if len(s) == 1:
        x = R.reshape(x, shape=(s[0], 1) if dim == 1 else (1, s[0]))
    if shape_of(x)[-1] != dim:
        raise ValueError(f"multivariate_normal: x has {shape_of(x)[-1]} components on its last axis (shape {s}), "
                         f"the distribution has {dim}")
    return x


def _squeeze(out: Any) -> Any:
    return R.reshape(out, shape=tuple(n for n in shape_of(out) if n != 1))


def _logdet_and_whiten(cov: Any, dim: int, allow_singular: bool) -> tuple:
    """(rank, log pseudo-determinant, whiten, support): whiten(dev) has |.|^2 = dev^T cov^+ dev."""
    if not allow_singular:
        low = _cholesky(cov, lower=True)
        diag = R.getitem(low, index=(np.arange(dim), np.arange(dim)))

        def whiten(dev: Any) -> Any:  # z = L^-1 dev, for each row of dev
            return R.transpose(_solve_triangular(low, R.transpose(dev), lower=True))

        return dim, 2.0 * R.sum_(R.log(diag)), whiten, None
    if is_traced(cov):
        raise NotImplementedError(
            "multivariate_normal: with allow_singular=True the covariance must be a constant (a singular covariance "
            "has no gradient); pass cov as an array, or use allow_singular=False for a positive definite one")
    c = np.asarray(value_of(cov), dtype=float)
    s, u = np.linalg.eigh(c)
    eps = 1e6 * np.finfo(float).eps * np.max(np.abs(s))
    if np.min(s) < -eps:
        raise ValueError("multivariate_normal: the covariance must be symmetric positive semidefinite")
    keep = s > eps
    whiten_matrix = u[:, keep] / np.sqrt(s[keep])
    null = u[:, ~keep]
    return int(keep.sum()), float(np.sum(np.log(s[keep]))), (lambda dev: R.matmul(dev, whiten_matrix)), \
        (null, 1e3 * eps)


def _logpdf(x: Any, mean: Any, cov: Any, allow_singular: bool) -> Any:
    dim, mean, cov = _parameters(mean, cov)
    x = _quantiles(x, dim)
    lead = shape_of(x)[:-1]
    dev = R.reshape(x, shape=(-1, dim)) - mean
    rank, logdet, whiten, support = _logdet_and_whiten(cov, dim, allow_singular)
    z = whiten(dev)
    out = -0.5 * (rank * _LOG_2PI + logdet + R.sum_(z * z, axis=-1))
    if support is not None and rank < dim:  # off the support (dev outside the range of cov): -inf, as SciPy
        null, tol = support
        r = R.matmul(dev, null)
        inside = R.less(R.sqrt(R.sum_(r * r, axis=-1)), tol)
        out = R.where(inside, out, -np.inf)
    return _squeeze(R.reshape(out, shape=lead))


@public("stats.multivariate_normal")
def logpdf(x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Any:
    """log of the multivariate normal density at x (last axis: the components)."""
    return _logpdf(x, mean, cov, allow_singular)


@public("stats.multivariate_normal")
def pdf(x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Any:
    """The multivariate normal density exp(logpdf)."""
    return R.exp(_logpdf(x, mean, cov, allow_singular))


@public("stats.multivariate_normal")
def entropy(mean: Any = None, cov: Any = 1) -> Any:
    """The differential entropy (d (1 + log(2 pi)) + log det cov) / 2 (differentiable in cov)."""
    dim, _, cov = _parameters(mean, cov)
    rank, logdet, _, _ = _logdet_and_whiten(cov, dim, False)
    return 0.5 * (rank * (_LOG_2PI + 1.0) + logdet)
