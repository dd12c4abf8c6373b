"""SciPy with derivatives: ``wengert.scipy.special``, ``.stats``, ``.signal``, ``.linalg``, ``.integrate``.

The functions HIPS autograd differentiates (and a few more), with SciPy's
names and signatures, each a rule of its own (exact derivatives in reverse and
forward mode, a batching rule for ``wg.vmap``) or a composite of rules.  SciPy
functions do not dispatch on NumPy's protocols: call them from here
(``wengert.scipy.special.gammaln(x)``), not as ``scipy.special.gammaln(t)``.

Needs SciPy, the optional extra ``scipy``: ``pip install 'wengert[scipy]'``.
"""
from __future__ import annotations

try:
    import scipy as _scipy  # noqa: F401
except ImportError:
    raise ImportError("wengert.scipy needs SciPy, which is not installed; install it with "
                      "pip install 'wengert[scipy]'") from None

# importing the modules registers their rules
from . import integrate, linalg, signal, special, stats
from ._util import PUBLIC


def supported() -> dict[str, list[str]]:
    """The SciPy functions wengert differentiates, by module: ``{"special": ["beta", ...], "stats.norm": [...], ...}``."""
    return {module: sorted(names) for module, names in sorted(PUBLIC.items())}


__all__ = ["integrate", "linalg", "signal", "special", "stats", "supported"]
