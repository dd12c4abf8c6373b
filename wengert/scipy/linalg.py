"""``scipy.linalg`` with derivatives: triangular and Cholesky solves, matrix functions, Sylvester equations.

The primitives are ``solve_triangular``, ``cholesky``, ``solve_sylvester``,
``sqrtm`` and ``expm``, each with its adjoint formula, written with the rules
themselves (so second derivatives come by composition); ``cho_factor``,
``cho_solve``, ``solve_banded``, ``expm_frechet``, ``solve``, ``inv`` and ``det``
are composites of them and of the core's ``solve``, ``inv`` and ``det``.

Conventions:

* ``solve_triangular`` reads one triangle of ``a`` (without its diagonal when
  ``unit_diagonal=True``), as LAPACK does: the other entries get a zero gradient.
* ``cholesky`` is treated as a function of the symmetric part of ``a`` (as in
  PyTorch and JAX): its gradient is symmetric, and a tangent is symmetrised.
* ``cho_factor`` returns the factor with zeros in the triangle SciPy leaves
  unspecified (as JAX does); ``cho_solve`` reads only the factor's triangle.
* ``sqrtm`` returns what SciPy does: a real root of a real matrix where one
  exists, else (a negative eigenvalue) the complex principal root, and complex
  roots of complex matrices; its derivative holds in the complex plane too
  (HIPS autograd's convention, docs/complex.md).  Under ``wg.jit`` a program
  compiled for a real root refuses a matrix whose root is complex (and the
  reverse), since SciPy picks the dtype by the values.

>>> import numpy as np
>>> import wengert as wg
>>> from wengert.scipy import linalg
>>> A = np.array([[4.0, 2.0], [2.0, 3.0]])
>>> linalg.cho_solve(linalg.cho_factor(A), np.array([2.0, 1.0]))
tensor([0.5, 0. ])
>>> S = linalg.sqrtm(A)
>>> bool(np.allclose((S @ S).data, A))
True
>>> wg.grad(lambda a: wg.trace(linalg.expm(a)))(np.zeros((2, 2)))   # d tr e^A / dA = e^(A^T)
array([[1., 0.],
       [0., 1.]])
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sl

from ..core.rule import Rule
from ..core.tensor import dtype_of, shape_of
from ..ops import batching
from ..ops import table as R
from ..ops.complex import dtype_guard
from ..ops.linalg import matrix_transpose as mT
from ._util import PUBLIC, public, tri_mask


def _square(name: str, a: Any) -> int:
    s = np.shape(a)
    if len(s) != 2 or s[0] != s[1]:
        raise ValueError(f"{name}: a must be a square 2-D matrix, got shape {tuple(s)}")
    return s[0]


def _as_matrix(x: Any) -> Any:
    """A 1-D right-hand side as one column (what a solve of a matrix does to a vector)."""
    return R.reshape(x, shape=shape_of(x) + (1,)) if len(shape_of(x)) == 1 else x


# ---------------------------------------------------------------------- solve_triangular
def _trans(trans: Any) -> int:
    t = {0: 0, "N": 0, "n": 0, 1: 1, "T": 1, "t": 1, 2: 1, "C": 1, "c": 1}.get(trans)
    if t is None:
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    return t


def _solve_triangular_impl(a: Any, b: Any, trans: int = 0, lower: bool = False, unit_diagonal: bool = False) -> Any:
    n = _square("solve_triangular", a)
    if np.shape(b)[:1] != (n,) or np.ndim(b) > 2:
        raise ValueError(f"solve_triangular: b must have shape ({n},) or ({n}, k) for a of shape {np.shape(a)}, "
                         f"got {np.shape(b)}")
    return sl.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


def _op(m: Any, trans: int) -> Any:
    return mT(m) if trans else m


def _tri_vjp_a(g: Any, ans: Any, a: Any, b: Any, trans: int = 0, lower: bool = False,
               unit_diagonal: bool = False) -> Any:
    # x = op(A)^-1 b:  d op(A) = -(op(A)^-T g) x^T, restricted to the triangle that is read
    gb = _solve_triangular(a, g, trans=1 - trans, lower=lower, unit_diagonal=unit_diagonal)
    d = -R.matmul(_as_matrix(gb), mT(_as_matrix(ans)))
    return _op(d, trans) * tri_mask(shape_of(a)[0], lower, unit_diagonal, dtype_of(a))


def _tri_vjp_b(g: Any, ans: Any, a: Any, b: Any, trans: int = 0, lower: bool = False,
               unit_diagonal: bool = False) -> Any:
    # db = op(A)^-T g
    return _solve_triangular(a, g, trans=1 - trans, lower=lower, unit_diagonal=unit_diagonal)


def _tri_jvp_a(t: Any, ans: Any, a: Any, b: Any, trans: int = 0, lower: bool = False,
               unit_diagonal: bool = False) -> Any:
    # dx = -op(A)^-1 op(dA) x
    dm = _op(t * tri_mask(shape_of(a)[0], lower, unit_diagonal, dtype_of(a)), trans)
    r = -R.matmul(dm, _as_matrix(ans))
    out = _solve_triangular(a, r, trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    return R.reshape(out, shape=shape_of(ans))


def _tri_jvp_b(t: Any, ans: Any, a: Any, b: Any, trans: int = 0, lower: bool = False,
               unit_diagonal: bool = False) -> Any:
    return _solve_triangular(a, t, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


_solve_triangular = Rule(
    "scipy.linalg.solve_triangular", _solve_triangular_impl,
    vjp=(_tri_vjp_a, _tri_vjp_b), jvp=(_tri_jvp_a, _tri_jvp_b),
    doc="solve op(a) x = b for triangular a (op: identity or transpose);  "
        "db = op(a)^-T g,  d op(a) = -(op(a)^-T g) x^T on the triangle read")
_solve_triangular.batch = batching.loop(_solve_triangular)


@public("linalg")
def solve_triangular(a: Any, b: Any, trans: Any = 0, lower: bool = False, unit_diagonal: bool = False,
                     overwrite_b: bool = False, check_finite: bool = True) -> Any:
    """Solve ``a x = b`` (``trans=1``: ``a^T x = b``) for a triangular ``a`` (SciPy's ``solve_triangular``).

    Only the ``lower`` (or upper) triangle of ``a`` is read, without its
    diagonal when ``unit_diagonal=True``; the other entries get zero gradient.
    ``overwrite_b`` and ``check_finite`` are accepted for SciPy's signature (no effect).

    >>> from wengert.scipy.linalg import solve_triangular
    >>> solve_triangular([[2.0, 0.0], [1.0, 1.0]], [2.0, 3.0], lower=True)
    tensor([1., 2.])
    """
    return _solve_triangular(a, b, trans=_trans(trans), lower=bool(lower), unit_diagonal=bool(unit_diagonal))


# ---------------------------------------------------------------------- cholesky
def _cholesky_impl(a: Any, lower: bool = False) -> Any:
    _square("cholesky", a)
    return sl.cholesky(a, lower=lower)


def _phi(x: Any) -> Any:
    """The lower triangle of x with its diagonal halved."""
    n = shape_of(x)[-1]
    return x * (np.tril(np.ones((n, n)), -1) + 0.5 * np.eye(n)).astype(dtype_of(x))


def _cholesky_vjp(g: Any, ans: Any, a: Any, lower: bool = False) -> Any:
    # A = L L^T:  S = L^-T phi(L^T Lbar) L^-1,  Abar = (S + S^T) / 2
    low = ans if lower else mT(ans)
    gl = g if lower else mT(g)
    p = _phi(R.matmul(mT(low), gl))
    y = _solve_triangular(low, p, trans=1, lower=True)  # L^-T P
    s = mT(_solve_triangular(low, mT(y), trans=1, lower=True))  # (L^-T P) L^-1
    return 0.5 * (s + mT(s))


def _cholesky_jvp(t: Any, ans: Any, a: Any, lower: bool = False) -> Any:
    # dL = L phi(L^-1 sym(dA) L^-T)
    low = ans if lower else mT(ans)
    sym = 0.5 * (t + mT(t))
    y = _solve_triangular(low, sym, lower=True)  # L^-1 dA
    c = mT(_solve_triangular(low, mT(y), lower=True))  # L^-1 dA L^-T
    dl = R.matmul(low, _phi(c))
    return dl if lower else mT(dl)


_cholesky = Rule("scipy.linalg.cholesky", _cholesky_impl, vjp=(_cholesky_vjp,), jvp=(_cholesky_jvp,),
                 doc="Cholesky factor of a symmetric positive definite matrix (of its symmetric part);  "
                     "dL = L phi(L^-1 dA L^-T), phi: lower triangle, half diagonal")
_cholesky.batch = batching.loop(_cholesky)


@public("linalg")
def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The Cholesky factor of ``a`` (SciPy's default: upper, ``a = U^T U``; ``lower=True``: ``a = L L^T``).

    Treated as a function of the symmetric part of ``a``, so the gradient is symmetric.
    """
    return _cholesky(a, lower=bool(lower))


@public("linalg")
def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True) -> tuple:
    """``(c, lower)`` for :func:`cho_solve` (SciPy's ``cho_factor``); the unused triangle of ``c`` is zero."""
    return _cholesky(a, lower=bool(lower)), bool(lower)


@public("linalg")
def cho_solve(c_and_lower: tuple, b: Any, overwrite_b: bool = False, check_finite: bool = True) -> Any:
    """Solve ``a x = b`` from ``cho_factor(a)`` (SciPy's ``cho_solve``): two triangular solves."""
    c, lower = c_and_lower
    lower = bool(lower)
    # a = L L^T: L y = b, L^T x = y;  a = U^T U: U^T y = b, U x = y
    y = _solve_triangular(c, b, trans=0 if lower else 1, lower=lower)
    return _solve_triangular(c, y, trans=1 if lower else 0, lower=lower)


# ---------------------------------------------------------------------- Sylvester equations, sqrtm
def _sylvester_impl(a: Any, b: Any, q: Any) -> Any:
    _square("solve_sylvester", a)
    _square("solve_sylvester", b)
    return sl.solve_sylvester(a, b, q)


def _sylvester_vjp(g: Any, ans: Any, needs: list, a: Any, b: Any, q: Any) -> list:
    # A X + X B = Q:  Qbar = solve_sylvester(A^T, B^T, G),  Abar = -Qbar X^T,  Bbar = -X^T Qbar
    qb = _solve_sylvester(mT(a), mT(b), g)
    return [-R.matmul(qb, mT(ans)) if needs[0] else None,
            -R.matmul(mT(ans), qb) if needs[1] else None,
            qb if needs[2] else None]


def _sylvester_jvp(tangents: list, ans: Any, a: Any, b: Any, q: Any) -> Any:
    # dX = solve_sylvester(A, B, dQ - dA X - X dB)
    ta, tb, tq = tangents
    r = np.zeros(shape_of(ans), dtype_of(ans)) if tq is None else tq
    if ta is not None:
        r = r - R.matmul(ta, ans)
    if tb is not None:
        r = r - R.matmul(ans, tb)
    return _solve_sylvester(a, b, r)


_solve_sylvester = Rule("scipy.linalg.solve_sylvester", _sylvester_impl, vjp_all=_sylvester_vjp,
                        jvp_all=_sylvester_jvp,
                        doc="X with A X + X B = Q;  dX = solve_sylvester(A, B, dQ - dA X - X dB)")
_solve_sylvester.batch = batching.loop(_solve_sylvester)


@public("linalg")
def solve_sylvester(a: Any, b: Any, q: Any) -> Any:
    """The solution X of ``a X + X b = q`` (SciPy's ``solve_sylvester``), differentiable in all three."""
    return _solve_sylvester(a, b, q)


def _sqrtm_impl(a: Any) -> Any:
    _square("sqrtm", a)
    a = np.asarray(a)
    r = np.asarray(sl.sqrtm(a))
    if a.dtype.kind != "c" and r.dtype.kind == "c" and \
            np.abs(r.imag).max(initial=0.0) <= 1e-10 * max(1.0, np.abs(r.real).max(initial=0.0)):
        r = r.real  # (SciPy before 1.16 could give a real root a complex dtype, with imaginary parts of rounding)
    return r.astype(np.result_type(a.dtype, np.float32, np.complex64 if r.dtype.kind == "c" else np.float32))


_sqrtm = Rule("scipy.linalg.sqrtm", _sqrtm_impl,
              # X X = A:  dX X + X dX = dA (holomorphic: the VJP is the transpose, for complex X too)
              vjp=(lambda g, ans, a: _solve_sylvester(mT(ans), mT(ans), g),),
              jvp=(lambda t, ans, a: _solve_sylvester(ans, ans, t),),
              doc="the principal square root X of A (X X = A; complex where A has a negative eigenvalue);  "
                  "dX = solve_sylvester(X, X, dA)")
_sqrtm.batch = batching.loop(_sqrtm)
_sqrtm_kind = dtype_guard("sqrtm", "a complex square root", "a real square root",
                          "SciPy's sqrtm returns a real root where one exists, a complex one otherwise")


@public("linalg")
def sqrtm(A: Any, disp: bool = True, blocksize: int = 64) -> Any:
    """The principal square root of ``A`` (SciPy's ``sqrtm``): real for a real matrix that has a real root, complex
    for one with a negative eigenvalue (as SciPy), and for complex matrices.

    >>> import numpy as np
    >>> from wengert.scipy import linalg
    >>> linalg.sqrtm(np.array([[-4.0, 0.0], [0.0, 9.0]]))
    tensor([[0.+2.j, 0.+0.j],
            [0.+0.j, 3.+0.j]], dtype=complex128)
    """
    x = _sqrtm(A)
    if dtype_of(A).kind != "c":
        x = _sqrtm_kind(x, kind=dtype_of(x).kind)
    return x


# ---------------------------------------------------------------------- expm
def _expm_impl(a: Any) -> Any:
    s = np.shape(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ValueError(f"expm: A must be a square matrix (or a stack of them), got shape {tuple(s)}")
    return sl.expm(a)


def _frechet(a: Any, e: Any) -> Any:
    """The Frechet derivative L(A, E) of expm: the upper right block of expm([[A, E], [0, A]])."""
    n = shape_of(a)[-1]
    zero = np.zeros(np.broadcast_shapes(shape_of(a), shape_of(e)), dtype=np.result_type(dtype_of(a), dtype_of(e)))
    top = R.concatenate(a + zero, e + zero, axis=-1)
    bottom = R.concatenate(zero, a + zero, axis=-1)
    big = _expm(R.concatenate(top, bottom, axis=-2))
    lead = (slice(None),) * (len(shape_of(big)) - 2)
    return R.getitem(big, index=(*lead, slice(0, n), slice(n, 2 * n)))


_expm = Rule("scipy.linalg.expm", _expm_impl,
             # d expm(A) = L(A, dA);  its adjoint: Abar = L(A^T, G)
             vjp=(lambda g, ans, a: _frechet(mT(a), g),),
             jvp=(lambda t, ans, a: _frechet(a, t),),
             doc="matrix exponential (batched over leading axes);  d expm(A) = L(A, dA), "
                 "the upper right block of expm([[A, dA], [0, A]])")
_expm.batch = batching.elementwise(_expm)  # (a stack of matrices is what the forward takes)


@public("linalg")
def expm(A: Any) -> Any:
    """The matrix exponential of ``A`` (SciPy's ``expm``; a stack of matrices too)."""
    return _expm(A)


@public("linalg")
def expm_frechet(A: Any, E: Any, method: Any = None, compute_expm: bool = True, check_finite: bool = True) -> Any:
    """``(expm(A), L(A, E))``, or ``L(A, E)`` with ``compute_expm=False`` (SciPy's ``expm_frechet``).

    The Frechet derivative is the upper right block of ``expm([[A, E], [0, A]])``:
    a composite of ``expm``, so it is differentiable again.
    """
    frechet = _frechet(A, E)
    return (_expm(A), frechet) if compute_expm else frechet


# ---------------------------------------------------------------------- composites of the core's solvers
@public("linalg")
def solve_banded(l_and_u: tuple, ab: Any, b: Any, overwrite_ab: bool = False, overwrite_b: bool = False,
                 check_finite: bool = True) -> Any:
    """Solve ``a x = b`` for a banded ``a`` given in band storage ``ab`` (SciPy's ``solve_banded``).

    ``ab[u + i - j, j] == a[i, j]``; entries of ``ab`` outside the band are not
    read (zero gradient).  The band matrix is expanded and solved densely: exact,
    differentiable in ``ab`` and ``b``, O(n^3).
    """
    lo, up = (int(v) for v in l_and_u)
    rows, n = shape_of(ab)
    if rows != lo + up + 1:
        raise ValueError(f"solve_banded: ab must have l + u + 1 = {lo + up + 1} rows for (l, u) = ({lo}, {up}), "
                         f"got shape {shape_of(ab)}")
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    r = up + i - j
    inside = (r >= 0) & (r <= lo + up)
    a = R.getitem(ab, index=(np.where(inside, r, 0), j)) * inside.astype(dtype_of(ab))
    return R.solve(a, b)


@public("linalg")
def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
          check_finite: bool = True, assume_a: Any = None, transposed: bool = False) -> Any:
    """Solve ``a x = b`` (``transposed=True``: ``a^T x = b``) with the whole of ``a`` (SciPy's ``solve``).

    ``assume_a`` is accepted for SciPy's signature: the solution is the same for
    the symmetric or positive definite matrices it describes.
    """
    return R.solve(mT(a) if transposed else a, b)


@public("linalg")
def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The inverse of ``a`` (SciPy's ``inv``)."""
    return R.inv(a)


@public("linalg")
def det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """The determinant of ``a`` (SciPy's ``det``)."""
    return R.det(a)


__all__ = sorted(PUBLIC["linalg"])
