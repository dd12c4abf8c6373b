"""``scipy.stats`` with derivatives: the distributions HIPS autograd differentiates, with SciPy's arguments.

``norm``, ``t``, ``gamma``, ``beta``, ``chi2``, ``poisson``, ``multivariate_normal``
and ``dirichlet``, each a module (``wengert.scipy.stats.norm.logpdf(x, loc, scale)``,
as ``scipy.stats.norm.logpdf``).  Every function is a composite of the rules of
``wengert.scipy.special`` (``gammaln``, ``ndtr``, ``gammainc``, ...) and of the
core, so each argument SciPy's formula depends on smoothly is differentiable,
``loc`` and ``scale`` included, to any order.  The exceptions are the shape
parameters of the CDFs that need the derivative of an incomplete gamma or beta
function in its shape (``gamma.cdf`` in ``a``, ``beta.cdf`` in ``a`` and ``b``,
``chi2.cdf`` and ``t.cdf`` in ``df``): an error says so.

Outside the support the values are SciPy's (``pdf`` 0, ``logpdf`` -inf, ``cdf``
0 or 1) with a zero gradient; invalid parameters (``scale <= 0``) give NaN.

>>> import numpy as np
>>> import wengert as wg
>>> from wengert.scipy.stats import norm
>>> norm.logpdf(np.array([0.0, 1.0]))
tensor([-0.9189, -1.4189])
>>> wg.grad(lambda s: norm.logpdf(2.0, 0.0, s))(1.0)      # d/ds [-z^2/2 - log s] = (z^2 - 1) / s
3.0
"""
from . import beta, chi2, dirichlet, gamma, multivariate_normal, norm, poisson, t

__all__ = ["beta", "chi2", "dirichlet", "gamma", "multivariate_normal", "norm", "poisson", "t"]
