"""Linear algebra: NumPy's ``np.linalg`` with exact derivatives in reverse and forward mode.

The decompositions are primitives, each with the standard adjoint formulas
(references: M. Giles, "An extended collection of matrix derivative results",
2008; J. Townsend, "Differentiating the singular value decomposition", 2016;
I. Murray, "Differentiation of the Cholesky decomposition", 2016; HIPS
autograd's and JAX's rules, which these follow).  Everything else here
(norms, lstsq, matrix_power, tensordot, ...) is a composite of primitives.

**One decomposition, several outputs.**  A rule has one output, and a
decomposition has several (U, S, Vh).  Each decomposition is therefore one
primitive whose output *packs* its parts side by side along the last axis
(``_pack``: each part flattened over its matrix axes); the public function
unpacks them again (``_unpack``: a slice and a reshape per part).  The
decomposition runs once, and its VJP sees the cotangents of all parts at once
(zero for the parts a computation does not use).

**Complex matrices.**  The derivatives follow HIPS autograd's convention
(docs/complex.md): a VJP is a transpose, never a conjugate transpose, so the
formulas of the literature (written for the conjugate convention) appear here
with ``conj`` where they meet a cotangent: the VJP of ``svd`` is ``conj`` of
the literature's one applied to ``conj(g)``.  For real matrices every ``conj``
is skipped and the formulas are the real ones.  Parts that are real in value
(svd's S, eigh's w, slogdet's logabsdet) are packed among complex ones: the
public functions return their real part, and the imaginary part of their
cotangent is dropped.

**Gauge and degeneracy.**  Where a part is not unique, the derivative is taken
in the gauge NumPy's values have locally (LAPACK's choice of signs), and:

* a complex singular vector or eigenvector is unique only up to its phase
  (``U D``, ``V D`` with D diagonal unitary are an svd too), and LAPACK's
  choice of it is no simple rule: the derivative turns no phase (eigh, eig:
  ``Im diag(V^H dV) = 0``; svd: the phase that ``diag(U^H dA V)`` does
  define is shared out, half to u_j and the opposite half to v_j, as
  PyTorch does).  That is exact for every function that does not depend on
  the phases (the values, ``|U|``, ``U diag(c) Vh``, ``V diag(c) V^-1``,
  projectors ...); a function that does has no derivative of NumPy's
  values to match;

* repeated eigenvalues (eigh, eig) or singular values (svd) make the
  derivative of the vectors undefined: the pairs with *equal* values are
  left out of it (their 1 / (w_j - w_i) is taken as 0; "equal" means within
  rounding, 4 n eps max|w|, since LAPACK returns equal values a few eps apart).  That is exact for
  functions of the values alone and for functions that do not depend on the
  basis chosen inside a repeated eigenspace (projectors, U diag(s) V^T ...);
  for others no derivative exists there.  Nearly equal values give large
  (correct) derivatives.
* a zero singular value makes 1 / s infinite: it is taken as 0, which is
  exact for functions of the singular values (the nuclear norm's gradient
  is then U Vh, a subgradient);
* the extra columns of ``svd(full_matrices=True)``'s U (and rows of Vh) and of
  ``qr(mode='complete')``'s Q are some basis of a complement space: they move
  with the first ones and are otherwise not rotated (the derivative that
  keeps ``Q2^T dQ2 = 0``), which is exact for functions of that space
  (``Q2 Q2^T``, projections onto it).

**Triangles.**  ``eigh``, ``cholesky`` and ``pinv(hermitian=True)`` read
one triangle of their input, as NumPy does (eigh: ``UPLO``, cholesky:
``upper``), and of a complex input only the real part of the diagonal
(LAPACK's Hermitian routines): their gradient is the exact derivative of
that, zero in the other strict triangle and real on the diagonal.  For a
symmetric input built as ``B + B.T`` or ``X @ X.T`` the gradient flowing on
is the same as a symmetric one (PyTorch's).

The rules batch over leading axes, as NumPy's linalg functions do.
"""
from __future__ import annotations

import operator
from collections import namedtuple
from typing import Any

import numpy as np

from ..core.rule import Rule
from ..core.tensor import dtype_of, raw, shape_of
from . import batching
from .complex import abs2, conjugate, dtype_guard, imag, real
from .surface import Surface, composite
from .table import (
    _T,
    absolute,
    cast,
    concatenate,
    copy,
    einsum,
    getitem,
    inv,
    less_equal,
    matmul,
    negative,
    not_equal,
    power,
    reshape,
    solve,
    sqrt,
    sum_,
    transpose,
    where,
)
from .table import max_ as _max
from .table import min_ as _min

SVDResult = namedtuple("SVDResult", "U S Vh")
EighResult = namedtuple("EighResult", "eigenvalues eigenvectors")
EigResult = namedtuple("EigResult", "eigenvalues eigenvectors")
QRResult = namedtuple("QRResult", "Q R")
SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")


# ====================================================================== helpers
def _check_matrix(name: str, shape: tuple, square: bool = False) -> None:
    if len(shape) < 2:
        raise ValueError(f"{name}: expects a matrix or a stack of matrices (at least 2 dimensions), got shape {shape}")
    if square and shape[-1] != shape[-2]:
        raise ValueError(f"{name}: expects square matrices, got shape {shape}")


def _pack(parts: tuple, nbatch: int) -> np.ndarray:
    """The parts of a decomposition as one array: each flattened over its own axes, side by side on the last axis."""
    batch = np.shape(parts[0])[:nbatch]
    return np.concatenate([np.reshape(p, batch + (-1,)) for p in parts], axis=-1)


def _pack_tangents(parts: list, batch: tuple) -> Any:
    """:func:`_pack` with the rules: the packed tangent of a decomposition, from the tangents of its parts."""
    return concatenate(*[reshape(p, batch + (-1,)) for p in parts], axis=-1)


def _unpack(packed: Any, shapes: tuple) -> list:
    """The parts of a packed decomposition (or of its cotangent), each a slice of the last axis, reshaped."""
    batch = shape_of(packed)[:-1]
    parts, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape, dtype=int))
        part = getitem(packed, index=(Ellipsis, slice(start, start + size)))
        parts.append(reshape(part, batch + tuple(shape)))
        start += size
    return parts


def _cols(x: Any, start: int, stop: int | None = None) -> Any:
    return getitem(x, index=(Ellipsis, slice(start, stop)))


def _rows(x: Any, start: int, stop: int | None = None) -> Any:
    return getitem(x, index=(Ellipsis, slice(start, stop), slice(None)))


def _is_complex(x: Any) -> bool:
    return dtype_of(x).kind == "c"


def _conj(x: Any) -> Any:
    """The complex conjugate (no op on real values, so that the real formulas stay as they were)."""
    return conjugate(x) if _is_complex(x) else x


def _H(x: Any) -> Any:
    """The conjugate transpose of matrices (the transpose of real ones)."""
    return _T(_conj(x))


def _real(x: Any) -> Any:
    """The real part of a part that is real in value but packed among complex ones (S, eigh's w, a cotangent of it)."""
    return real(x) if _is_complex(x) else x


def _row(v: Any) -> Any:
    """A vector (..., k) as a row (..., 1, k): ``X * _row(v)`` is X diag(v)."""
    s = shape_of(v)
    return reshape(v, s[:-1] + (1, s[-1]))


def _col(v: Any) -> Any:
    """A vector (..., k) as a column (..., k, 1): ``_col(v) * X`` is diag(v) X."""
    return reshape(v, shape_of(v) + (1,))


def _eye(n: int, like: Any) -> np.ndarray:
    return np.eye(n, dtype=dtype_of(like))


def _diag(v: Any) -> Any:
    """A vector (..., k) as the diagonal matrix (..., k, k)."""
    k = shape_of(v)[-1]
    return _row(v) * _eye(k, v)


def _diagonal(x: Any) -> Any:
    """The diagonal (..., k) of matrices (..., k, k)."""
    return einsum(x, subscripts="...ii->...i")


def _mask(n: int, like: Any, k: int, lower: bool) -> np.ndarray:
    """The 0/1 matrix of the lower (upper) triangle from diagonal k on."""
    ones = np.ones((n, n), dtype=dtype_of(like))
    return np.tril(ones, k) if lower else np.triu(ones, -k)


def _tril(x: Any, k: int = 0) -> Any:
    """The lower triangle of matrices, from diagonal k down (a product with a constant mask)."""
    return x * _mask(shape_of(x)[-1], x, k, True)


def _tri_sym(x: Any, lower: bool = True) -> Any:
    """The symmetric (Hermitian) matrix that a function reading only x's lower (upper) triangle sees: LAPACK
    reads the strict triangle and the real part of the diagonal."""
    n = shape_of(x)[-1]
    strict = x * _mask(n, x, -1, lower)
    return strict + _H(strict) + _real(x) * _eye(n, x)


def _tri_sym_adjoint(s: Any, lower: bool = True) -> Any:
    """The adjoint of :func:`_tri_sym`: a gradient with respect to the symmetric (Hermitian) matrix, as one for x
    (real on the diagonal, whose imaginary part is not read)."""
    n = shape_of(s)[-1]
    return (s + _H(s)) * _mask(n, s, -1, lower) + _real(s) * _eye(n, s)


def _safe_recip(d: Any, scale: Any, n: int) -> Any:
    """1 / d, and 0 where d is 0 up to rounding (|d| <= 4 n eps scale): the convention for equal eigenvalues
    and zero singular values (LAPACK returns equal ones a few eps apart)."""
    tol = (4.0 * n * float(np.finfo(np.result_type(dtype_of(d), np.float32)).eps)) * scale
    zero = less_equal(absolute(d), tol)
    return where(zero, 0.0, 1.0 / where(zero, 1.0, d))


def _largest(w: Any) -> Any:
    """max |w| over the last axis, kept as an axis (the scale that "equal up to rounding" refers to)."""
    return _max(absolute(w), axis=-1, keepdims=True)


def _gaps(w: Any) -> Any:
    """F with F_ij = 1 / (w_j - w_i), 0 on the diagonal and where w_i == w_j up to rounding."""
    return _safe_recip(_row(w) - _col(w), _col(_largest(w)), shape_of(w)[-1])


def _recip_singular(s: Any) -> Any:
    """1 / s, and 0 for singular values that are 0 up to rounding."""
    return _safe_recip(s, _largest(s), shape_of(s)[-1])


def _stacked(rule: Rule) -> Any:
    """The batching rule: NumPy's linalg functions run on stacks of matrices, so a batch is one more leading axis."""
    direct = batching.elementwise(rule)
    one_by_one = batching.loop(rule)  # (an input that is not a matrix: the error NumPy gives eagerly)

    def batch(level: Any, vals: list, batched: list, params: dict) -> Any:
        if any(b and len(shape_of(v)) < 3 for v, b in zip(vals, batched)):
            return one_by_one(level, vals, batched, params)
        return direct(level, vals, batched, params)

    return batch


def _complement_vjp(g1: Any, q1: Any, q2: Any, g2: Any) -> Any:
    """The cotangent of the first columns Q1 when the extra columns move as ``dQ2 = -Q1 dQ1^H Q2``:
    ``g1 - conj(Q2) g2^H conj(Q1)`` (``g1 - Q2 g2^T Q1`` for real matrices)."""
    return g1 - matmul(_conj(q2), matmul(_H(g2), _conj(q1)))


def _complement_jvp(dq1: Any, q1: Any, q2: Any) -> Any:
    """The tangent of the extra columns Q2 (a basis of the complement of Q1): ``-Q1 dQ1^H Q2`` (Q2^H dQ2 = 0)."""
    return negative(matmul(q1, matmul(_H(dq1), q2)))


# ====================================================================== svd
def _svd_shapes(shape: tuple, full_matrices: bool) -> tuple:
    m, n = shape[-2:]
    k = min(m, n)
    return (m, m if full_matrices else k), (k,), (n if full_matrices else k, n)


def _svd_impl(a: Any, full_matrices: bool = False) -> Any:
    a = np.asarray(a)
    _check_matrix("svd", a.shape)
    return _pack(np.linalg.svd(a, full_matrices=full_matrices), a.ndim - 2)


def _svd_split(ans: Any, a: Any, full_matrices: bool) -> tuple:
    """U, s, V of the packed svd (V = Vh^H, s real), and (U2, V2), the extra columns of full matrices (or None)."""
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    u, s, vh = _unpack(ans, _svd_shapes(shape_of(a), full_matrices))
    v = _H(vh)
    u2 = _cols(u, k) if full_matrices and m > k else None
    v2 = _cols(v, k) if full_matrices and n > k else None
    return (_cols(u, 0, k) if u2 is not None else u), _real(s), (_cols(v, 0, k) if v2 is not None else v), u2, v2


def _svd_phase(p: Any, s_inv: Any) -> Any:
    """The phase term of a complex svd: ``i Im(p_jj) / (2 s_j)``, half of it turning u_j, half v_j the other way
    (PyTorch's choice: (U D, V D) with D diagonal unitary is an svd as well, so only the difference of the two phase
    derivatives is defined)."""
    return 1j * imag(_diagonal(p)) * (0.5 * s_inv)


def _svd_vjp(g: Any, ans: Any, a: Any, full_matrices: bool = False) -> Any:
    # A = U S V^H, F_ij = 1 / (s_j^2 - s_i^2), J = F o (U^T gU), K = F o (V^T gV) with gV = gVh^H:
    # gA = conj(U) [diag(gs) + (J + J^H) S + S (K + K^H) + i Im(diag(U^T gU - V^T gV)) / 2S] V^T
    #      + (gU - conj(U) U^T gU) S^-1 V^T + conj(U) S^-1 (gV^H - (V^T gV)^H V^T)   (the last two when m > k, n > k)
    # (for real matrices conj and ^H are no-ops and the phase term is 0: Townsend's formula)
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    u, s, v, u2, v2 = _svd_split(ans, a, full_matrices)
    gu, gs, gvh = _unpack(g, _svd_shapes(shape_of(a), full_matrices))
    gv = _H(gvh)
    if u2 is not None:
        gu = _complement_vjp(_cols(gu, 0, k), u, u2, _cols(gu, k))
    if v2 is not None:
        gv = _complement_vjp(_cols(gv, 0, k), v, v2, _cols(gv, k))
    f = _gaps(s * s)
    uc = _conj(u)
    utgu = matmul(_T(u), gu)
    vtgv = matmul(_T(v), gv)
    j = f * utgu
    kk = f * vtgv
    inner = _diag(_real(gs)) + (j + _H(j)) * _row(s) + _col(s) * (kk + _H(kk))
    s_inv = _recip_singular(s)
    if _is_complex(u):
        inner = inner + _diag(_svd_phase(utgu - vtgv, s_inv))
    ga = matmul(matmul(uc, inner), _T(v))
    if m > k:
        ga = ga + matmul((gu - matmul(uc, utgu)) * _row(s_inv), _T(v))
    if n > k:
        ga = ga + matmul(uc, _col(s_inv) * (_H(gv) - matmul(_H(vtgv), _T(v))))
    return ga


def _svd_jvp(t: Any, ans: Any, a: Any, full_matrices: bool = False) -> Any:
    # P = U^H dA V:  ds = Re diag(P),  dU = U (F o (P S + S P^H) + Phi) + (I - U U^H) dA V S^-1,
    #                dV = V (F o (S P + P^H S) - Phi) + (I - V V^H) dA^H U S^-1,  Phi = i Im(diag P) / 2S
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    u, s, v, u2, v2 = _svd_split(ans, a, full_matrices)
    p = matmul(matmul(_H(u), t), v)
    f = _gaps(s * s)
    ds = _real(_diagonal(p))
    du = matmul(u, f * (p * _row(s) + _col(s) * _H(p)))
    dv = matmul(v, f * (_col(s) * p + _H(p) * _row(s)))
    s_inv = _recip_singular(s)
    if _is_complex(u):
        phase = _row(_svd_phase(p, s_inv))
        du = du + u * phase
        dv = dv - v * phase
    if m > k:
        dav = matmul(t, v)
        du = du + (dav - matmul(u, matmul(_H(u), dav))) * _row(s_inv)
    if n > k:
        datu = matmul(_H(t), u)
        dv = dv + (datu - matmul(v, matmul(_H(v), datu))) * _row(s_inv)
    if u2 is not None:
        du = concatenate(du, _complement_jvp(du, u, u2), axis=-1)
    if v2 is not None:
        dv = concatenate(dv, _complement_jvp(dv, v, v2), axis=-1)
    return _pack_tangents([du, ds, _H(dv)], shape_of(a)[:-2])


svd_rule = Rule(
    "svd", _svd_impl,
    vjp=(_svd_vjp,), jvp=(_svd_jvp,),
    doc="singular value decomposition, packed: U, S and Vh side by side on the last axis (see wg.linalg.svd);  "
        "dS = Re diag(U^H dA V), dU = U (F o (P S + S P^H)) + ... with P = U^H dA V, F_ij = 1/(s_j^2 - s_i^2)",
)
svd_rule.batch = _stacked(svd_rule)


@composite(public=False, numpy=(np.linalg.svd,))
def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """Singular value decomposition ``a = U @ diag(S) @ Vh`` (np.linalg.svd): an ``SVDResult(U, S, Vh)``, or S alone.

    Differentiable where the singular values are distinct and nonzero; see
    the module docstring of ``wengert.ops.linalg`` for repeated or zero ones
    and for the extra columns of ``full_matrices=True``.  ``hermitian=True``
    reads the lower triangle (as NumPy does) and gives an SVD of that
    symmetric (Hermitian) matrix (the singular vectors may differ in sign or
    phase from NumPy's).  Complex matrices: S is real, and the singular
    vectors are unique only up to a phase, so differentiate functions that
    do not depend on it (S, ``abs(U)``, ``U @ diag(c) @ Vh`` ...).

    >>> import numpy as np, wengert as wg
    >>> a = wg.tensor([[3.0, 0.0], [4.0, 5.0]], requires_grad=True)
    >>> U, S, Vh = wg.linalg.svd(a)
    >>> S                                   # singular values, largest first
    tensor([6.7082, 2.2361], grad_fn=<reshape>)
    >>> S.sum().backward()                  # d(nuclear norm)/dA = U @ Vh
    >>> np.allclose(a.grad.data, (U @ Vh).data)
    True
    """
    _check_matrix("svd", shape_of(a))
    if hermitian:
        a = _tri_sym(a)
    if not compute_uv:
        return _real(_unpack(svd_rule(a, full_matrices=False), _svd_shapes(shape_of(a), False))[1])
    u, s, vh = _unpack(svd_rule(a, full_matrices=bool(full_matrices)), _svd_shapes(shape_of(a), bool(full_matrices)))
    return SVDResult(u, _real(s), vh)


@composite(public=False, numpy=(np.linalg.svdvals,))
def svdvals(x: Any) -> Any:
    """The singular values, largest first (np.linalg.svdvals); their gradient is U diag(g) Vh."""
    return svd(x, compute_uv=False)


# ====================================================================== eigh
def _eigh_impl(a: Any, UPLO: str = "L") -> Any:
    a = np.asarray(a)
    _check_matrix("eigh", a.shape, square=True)
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    return _pack(np.linalg.eigh(a, UPLO=UPLO), a.ndim - 2)


def _eig_shapes(a: Any) -> tuple:
    n = shape_of(a)[-1]
    return (n,), (n, n)


def _eigh_vjp(g: Any, ans: Any, a: Any, UPLO: str = "L") -> Any:
    # A = V diag(w) V^H, F_ij = 1 / (w_j - w_i):  gA_herm = conj(V) [diag(gw) + F o (V^T gV)] V^T,
    # then onto the triangle eigh reads
    w, v = _unpack(ans, _eig_shapes(a))
    gw, gv = _unpack(g, _eig_shapes(a))
    inner = _diag(_real(gw)) + _gaps(_real(w)) * matmul(_T(v), gv)
    return _tri_sym_adjoint(matmul(matmul(_conj(v), inner), _T(v)), UPLO == "L")


def _eigh_jvp(t: Any, ans: Any, a: Any, UPLO: str = "L") -> Any:
    # X = V^H dA_herm V:  dw = diag(X) (real),  dV = V (F o X)  (no turn of each v_j's phase: diag(V^H dV) = 0)
    w, v = _unpack(ans, _eig_shapes(a))
    x = matmul(matmul(_H(v), _tri_sym(t, UPLO == "L")), v)
    return _pack_tangents([_real(_diagonal(x)), matmul(v, _gaps(_real(w)) * x)], shape_of(a)[:-2])


eigh_rule = Rule(
    "eigh", _eigh_impl,
    vjp=(_eigh_vjp,), jvp=(_eigh_jvp,),
    doc="eigenvalues and eigenvectors of a symmetric (Hermitian) matrix, packed side by side (see wg.linalg.eigh);  "
        "dw = diag(V^H dA V), dV = V (F o V^H dA V) with F_ij = 1/(w_j - w_i)",
)
eigh_rule.batch = _stacked(eigh_rule)


@composite(public=False, numpy=(np.linalg.eigh,))
def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of a symmetric or Hermitian matrix (np.linalg.eigh): ``(w, V)``.

    Only the ``UPLO`` triangle is read (and of a complex matrix the real part
    of the diagonal), so the gradient is zero in the other strict triangle.
    The eigenvalues are real; complex eigenvectors are unique only up to a
    phase, so differentiate functions that do not depend on it (``w``,
    ``abs(V)``, ``V @ diag(c) @ V.conj().T`` ...).  Repeated eigenvalues: see
    ``wengert.ops.linalg``.

    >>> import wengert as wg
    >>> a = wg.tensor([[2.0, 1.0], [1.0, 2.0]], requires_grad=True)
    >>> w, v = wg.linalg.eigh(a)
    >>> w
    tensor([1., 3.], grad_fn=<reshape>)
    >>> w[1].backward()                     # d w_max / dA = v v^T, on the lower triangle
    >>> a.grad
    tensor([[0.5, 0. ],
            [1. , 0.5]])
    """
    _check_matrix("eigh", shape_of(a), square=True)
    w, v = _unpack(eigh_rule(a, UPLO=UPLO), _eig_shapes(a))
    return EighResult(_real(w), v)


@composite(public=False, numpy=(np.linalg.eigvalsh,))
def eigvalsh(a: Any, UPLO: str = "L") -> Any:
    """The eigenvalues of a symmetric or Hermitian matrix, ascending (np.linalg.eigvalsh); gradient
    conj(V) diag(g) V^T."""
    return eigh(a, UPLO=UPLO).eigenvalues


# ====================================================================== eig
def _eig_impl(a: Any) -> Any:
    a = np.asarray(a)
    _check_matrix("eig", a.shape, square=True)
    return _pack(np.linalg.eig(a), a.ndim - 2)


def _eig_vjp(g: Any, ans: Any, a: Any) -> Any:
    # A U = U diag(w), columns of U of unit length;  G = U^T gU, F_ij = 1 / (w_j - w_i):
    # gA = U^-T [diag(gw) + F o (G - U^T conj(U) diag(Re diag G))] U^T   (the second term keeps |u_j| = 1)
    w, u = _unpack(ans, _eig_shapes(a))
    gw, gu = _unpack(g, _eig_shapes(a))
    gg = matmul(_T(u), gu)
    h = gg - matmul(_T(u), _conj(u)) * _row(_real(_diagonal(gg)))
    inner = _diag(gw) + _gaps(w) * h
    return solve(_T(u), matmul(inner, _T(u)))


def _eig_jvp(t: Any, ans: Any, a: Any) -> Any:
    # P = U^-1 dA U:  dw = diag(P),  dU = U (C + diag(c)) with C = F o P and c_j = -Re (U^H U C)_jj
    # (|u_j| stays 1; u_j's phase does not turn: Im c_j = 0)
    w, u = _unpack(ans, _eig_shapes(a))
    p = solve(u, matmul(t, u))
    c = _gaps(w) * p
    du = matmul(u, c - _diag(_real(_diagonal(matmul(matmul(_H(u), u), c)))))
    return _pack_tangents([_diagonal(p), du], shape_of(a)[:-2])


eig_rule = Rule(
    "eig", _eig_impl,
    vjp=(_eig_vjp,), jvp=(_eig_jvp,),
    doc="eigenvalues and unit eigenvectors of a square matrix, packed (see wg.linalg.eig; complex when the "
        "eigenvalues are);  dw = diag(U^-1 dA U), dU = U (F o U^-1 dA U + diag(c)) with F_ij = 1/(w_j - w_i)",
)
eig_rule.batch = _stacked(eig_rule)


_eig_kind = dtype_guard("eig", "complex eigenvalues", "all real eigenvalues",
                        "NumPy's eig returns real arrays for real eigenvalues, complex ones otherwise")


@composite(public=False, numpy=(np.linalg.eig,))
def eig(a: Any) -> EigResult:
    """Eigenvalues and unit eigenvectors of a square matrix (np.linalg.eig): ``EigResult(w, V)``, ``a V = V diag(w)``.

    As NumPy: a real matrix whose eigenvalues are all real gives real
    results, any other matrix complex ones (a real matrix's complex
    eigenvalues come in conjugate pairs; under ``wg.jit`` a program compiled
    for one kind refuses the other).  The derivative keeps each
    eigenvector of unit length and does not turn its phase (the one PyTorch
    and JAX take); NumPy's eigenvectors are unique only up to that phase, so
    differentiate functions that do not depend on it (the eigenvalues,
    ``abs(V)``, ``V diag(c) V^-1`` ...).  Repeated eigenvalues: see
    ``wengert.ops.linalg``.

    >>> import numpy as np, wengert as wg
    >>> a = wg.tensor([[2.0, 1.0], [0.0, 3.0]], requires_grad=True)
    >>> w, v = wg.linalg.eig(a)
    >>> w
    tensor([2., 3.], grad_fn=<reshape>)
    >>> w[0].backward()                     # y x^T / (y^T x): left and right eigenvectors of w[0]
    >>> a.grad
    tensor([[ 1.,  0.],
            [-1.,  0.]])
    """
    _check_matrix("eig", shape_of(a), square=True)
    packed = eig_rule(a)
    if not _is_complex(a):
        packed = _eig_kind(packed, kind=dtype_of(packed).kind)
    w, v = _unpack(packed, _eig_shapes(a))
    return EigResult(w, v)


@composite(public=False, numpy=(np.linalg.eigvals,))
def eigvals(a: Any) -> Any:
    """The eigenvalues of a square matrix (np.linalg.eigvals; complex unless they are all real); see :func:`eig`."""
    return eig(a).eigenvalues


# ====================================================================== qr
def _qr_shapes(shape: tuple, mode: str) -> tuple:
    m, n = shape[-2:]
    k = min(m, n)
    return ((m, m), (m, n)) if mode == "complete" else ((m, k), (k, n))


def _qr_impl(a: Any, mode: str = "reduced") -> Any:
    a = np.asarray(a)
    _check_matrix("qr", a.shape)
    return _pack(np.linalg.qr(a, mode=mode), a.ndim - 2)


def _qr_square_vjp(q: Any, r: Any, gq: Any, gr: Any) -> Any:
    # A = Q R with m >= n (R square, its diagonal real):  M = Q^T gQ - gR R^T,
    # gA = [gQ + conj(Q) (tril(M - M^H, -1) - M + i Im diag(M))] R^-T
    mm = matmul(_T(q), gq) - matmul(gr, _T(r))
    inner = _tril(mm - _H(mm), -1) - mm
    if _is_complex(q):
        inner = inner + _diag(1j * imag(_diagonal(mm)))
    b = gq + matmul(_conj(q), inner)
    return _T(solve(r, _T(b)))


def _qr_square_jvp(q: Any, r: Any, t: Any) -> tuple:
    # D = dA R^-1, C = Q^H D, W = tril(C, -1) - tril(C, -1)^H + i Im diag(C) (= Q^H dQ; LAPACK's R has a real
    # diagonal, so dR R^-1 has one):  dR = (C - W) R,  dQ = D - Q (C - W)
    d = _T(solve(_T(r), _T(t)))
    c = matmul(_H(q), d)
    low = _tril(c, -1)
    w = low - _H(low)
    if _is_complex(q):
        w = w + _diag(1j * imag(_diagonal(c)))
    cw = c - w
    return d - matmul(q, cw), matmul(cw, r)


def _qr_vjp(g: Any, ans: Any, a: Any, mode: str = "reduced") -> Any:
    m, n = shape_of(a)[-2:]
    q, r = _unpack(ans, _qr_shapes(shape_of(a), mode))
    gq, gr = _unpack(g, _qr_shapes(shape_of(a), mode))
    if m < n:  # A = Q [R1 R2] with X = A[:, :m] = Q R1 and R2 = Q^H Y for Y = A[:, m:]
        y = _cols(a, m)
        gr2 = _cols(gr, m)
        gx = _qr_square_vjp(q, _cols(r, 0, m), gq + matmul(_conj(y), _H(gr2)), _cols(gr, 0, m))
        return concatenate(gx, matmul(_conj(q), gr2), axis=-1)
    if mode == "complete" and m > n:  # Q = [Q1 Q2], R = [R1; 0]
        q1 = _cols(q, 0, n)
        gq1 = _complement_vjp(_cols(gq, 0, n), q1, _cols(q, n), _cols(gq, n))
        return _qr_square_vjp(q1, _rows(r, 0, n), gq1, _rows(gr, 0, n))
    return _qr_square_vjp(q, r, gq, gr)


def _qr_jvp(t: Any, ans: Any, a: Any, mode: str = "reduced") -> Any:
    m, n = shape_of(a)[-2:]
    batch = shape_of(a)[:-2]
    q, r = _unpack(ans, _qr_shapes(shape_of(a), mode))
    if m < n:  # dR2 = dQ^H Y + Q^H dY
        dq, dr1 = _qr_square_jvp(q, _cols(r, 0, m), _cols(t, 0, m))
        dr2 = matmul(_H(dq), _cols(a, m)) + matmul(_H(q), _cols(t, m))
        return _pack_tangents([dq, concatenate(dr1, dr2, axis=-1)], batch)
    if mode == "complete" and m > n:
        q1, q2 = _cols(q, 0, n), _cols(q, n)
        dq1, dr1 = _qr_square_jvp(q1, _rows(r, 0, n), t)
        dq = concatenate(dq1, _complement_jvp(dq1, q1, q2), axis=-1)
        dr = concatenate(dr1, np.zeros(batch + (m - n, n), dtype=dtype_of(a)), axis=-2)
        return _pack_tangents([dq, dr], batch)
    dq, dr = _qr_square_jvp(q, r, t)
    return _pack_tangents([dq, dr], batch)


qr_rule = Rule(
    "qr", _qr_impl,
    vjp=(_qr_vjp,), jvp=(_qr_jvp,),
    doc="QR decomposition, packed: Q and R side by side (see wg.linalg.qr);  "
        "dR = (C - W) R, dQ = dA R^-1 - Q (C - W) with C = Q^H dA R^-1, W = Q^H dQ",
)
qr_rule.batch = _stacked(qr_rule)


@composite(public=False, numpy=(np.linalg.qr,))
def qr(a: Any, mode: str = "reduced") -> Any:
    """QR decomposition ``a = Q @ R`` (np.linalg.qr): ``QRResult(Q, R)``, or R alone with ``mode='r'``.

    Differentiable where the first min(m, n) columns of ``a`` are linearly
    independent.  ``mode='raw'`` (LAPACK's Householder reflectors) is not
    offered: use 'reduced', 'complete' or 'r'.

    >>> import numpy as np, wengert as wg
    >>> a = wg.tensor(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), requires_grad=True)
    >>> Q, R = wg.linalg.qr(a)
    >>> np.allclose((Q @ R).data, a.data)
    True
    """
    _check_matrix("qr", shape_of(a))
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r} "
                         "(mode='raw' gives LAPACK's reflectors, which have no gradient here)")
    inner = "reduced" if mode == "r" else mode
    q, r = _unpack(qr_rule(a, mode=inner), _qr_shapes(shape_of(a), inner))
    return r if mode == "r" else QRResult(q, r)


# ====================================================================== cholesky
def _cholesky_impl(a: Any, upper: bool = False) -> Any:
    a = np.asarray(a)
    _check_matrix("cholesky", a.shape, square=True)
    return np.linalg.cholesky(a, upper=upper)


def _phi(x: Any) -> Any:
    """The lower triangle with the diagonal halved."""
    n = shape_of(x)[-1]
    return x * (_mask(n, x, -1, True) + 0.5 * _eye(n, x))


def _cholesky_vjp(g: Any, ans: Any, a: Any, upper: bool = False) -> Any:
    # A = L L^H:  gA_herm = L^-T Phi(L^T gL) conj(L)^-1, then onto the triangle cholesky reads
    low = _H(ans) if upper else ans
    gl = _H(g) if upper else g
    w = solve(_T(low), _phi(matmul(_T(low), gl)))  # L^-T Phi(L^T gL)
    return _tri_sym_adjoint(_T(solve(_H(low), _T(w))), not upper)


def _cholesky_jvp(t: Any, ans: Any, a: Any, upper: bool = False) -> Any:
    # dL = L Phi(L^-1 dA_herm L^-H)
    low = _H(ans) if upper else ans
    y = solve(low, _tri_sym(t, not upper))  # L^-1 dA
    dl = matmul(low, _phi(_H(solve(low, _H(y)))))
    return _H(dl) if upper else dl


cholesky = Rule(
    "cholesky", _cholesky_impl,
    vjp=(_cholesky_vjp,), jvp=(_cholesky_jvp,),
    doc="Cholesky factor L of a symmetric (Hermitian) positive definite matrix, a = L L^H (upper=True: U = L^H, "
        "a = U^H U); reads only the lower (upper) triangle and the real diagonal, as NumPy does;  "
        "dL = L Phi(L^-1 dA L^-H), Phi: the lower triangle with the diagonal halved",
    surface=Surface(public=False, numpy=(np.linalg.cholesky,)),
)
cholesky.batch = _stacked(cholesky)


# ====================================================================== slogdet
def _slogdet_impl(a: Any) -> Any:
    a = np.asarray(a)
    _check_matrix("slogdet", a.shape, square=True)
    return _pack(np.linalg.slogdet(a), a.ndim - 2)


def _slogdet_vjp(g: Any, ans: Any, a: Any) -> Any:
    # with tau = tr(A^-1 dA):  d log|det A| = Re tau,  d sign = sign i Im tau (a real sign has no derivative):
    # gA = (Re g_log + i Im(g_sign sign)) A^-T
    gsign, glog = _unpack(g, ((), ()))
    if _is_complex(a):
        sign, _ = _unpack(ans, ((), ()))
        glog = _real(glog) + 1j * imag(gsign * sign)
    return reshape(glog, shape_of(glog) + (1, 1)) * _T(inv(a))


def _slogdet_jvp(t: Any, ans: Any, a: Any) -> Any:
    tau = sum_(inv(a) * _T(t), axis=(-2, -1))
    if _is_complex(a):
        sign, _ = _unpack(ans, ((), ()))
        return _pack_tangents([sign * (1j * imag(tau)), real(tau)], shape_of(a)[:-2])
    return _pack_tangents([0.0 * tau, tau], shape_of(a)[:-2])


slogdet_rule = Rule(
    "slogdet", _slogdet_impl,
    vjp=(_slogdet_vjp,), jvp=(_slogdet_jvp,),
    doc="sign and log|det| of a square matrix, packed side by side (see wg.linalg.slogdet);  "
        "d log|det A| = Re tr(A^-1 dA), d sign = sign i Im tr(A^-1 dA) (0 for a real matrix)",
)
slogdet_rule.batch = _stacked(slogdet_rule)


@composite(public=False, numpy=(np.linalg.slogdet,))
def slogdet(a: Any) -> SlogdetResult:
    """Sign and natural log of the absolute determinant (np.linalg.slogdet): ``SlogdetResult(sign, logabsdet)``.

    >>> import wengert as wg
    >>> a = wg.tensor([[2.0, 1.0], [1.0, -3.0]], requires_grad=True)
    >>> sign, logabsdet = wg.linalg.slogdet(a)
    >>> sign, logabsdet
    (tensor(-1., grad_fn=<reshape>), tensor(1.9459, grad_fn=<reshape>))
    >>> logabsdet.backward()                # A^-T
    >>> a.grad
    tensor([[ 0.4286,  0.1429],
            [ 0.1429, -0.2857]])
    """
    _check_matrix("slogdet", shape_of(a), square=True)
    sign, logabsdet = _unpack(slogdet_rule(a), ((), ()))
    return SlogdetResult(sign, _real(logabsdet))


# ====================================================================== pinv
def _pinv_impl(a: Any, rcond: float = 1e-15, hermitian: bool = False) -> Any:
    a = np.asarray(a)
    _check_matrix("pinv", a.shape)
    return np.linalg.pinv(a, rcond=rcond, hermitian=hermitian)


def _pinv_vjp(g: Any, ans: Any, a: Any, rcond: float = 1e-15, hermitian: bool = False) -> Any:
    # P = A^+ (rank locally constant), the conjugates written with a bar:
    # gA = -P^T G P^T + (I - Abar Pbar) G^H Pbar P^T + P^T Pbar G^H (I - Pbar Abar)
    if hermitian:  # (the symmetric / Hermitian matrix NumPy reads from the lower triangle)
        a = _tri_sym(a)
    pt, pc, ac, gh = _T(ans), _conj(ans), _conj(a), _H(g)
    x = matmul(gh, matmul(pc, pt))
    y = matmul(matmul(pt, pc), gh)
    ga = negative(matmul(matmul(pt, g), pt)) + (x - matmul(ac, matmul(pc, x))) + (y - matmul(matmul(y, pc), ac))
    return _tri_sym_adjoint(ga) if hermitian else ga


def _pinv_jvp(t: Any, ans: Any, a: Any, rcond: float = 1e-15, hermitian: bool = False) -> Any:
    # dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P   (Golub and Pereyra, 1973)
    if hermitian:
        a, t = _tri_sym(a), _tri_sym(t)
    p, ph, th = ans, _H(ans), _H(t)
    x = matmul(matmul(p, ph), th)
    y = matmul(th, matmul(ph, p))
    return negative(matmul(matmul(p, t), p)) + (x - matmul(matmul(x, a), p)) + (y - matmul(p, matmul(a, y)))


def _pinv_args(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = None) -> tuple:
    if rcond is not None and rtol is not None:
        raise ValueError("pinv: give rcond= or rtol=, not both")
    if rcond is None:  # NumPy's defaults: 1e-15, or with rtol=None given, max(M, N) * eps
        rcond = rtol if rtol is not None else 1e-15
    return (a,), {"rcond": float(rcond), "hermitian": bool(hermitian)}


pinv = Rule(
    "pinv", _pinv_impl,
    vjp=(_pinv_vjp,), jvp=(_pinv_jvp,),
    doc="Moore-Penrose pseudo-inverse (np.linalg.pinv; singular values below rcond * the largest count as 0); "
        "exact where the rank does not change;  dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P",
    surface=Surface(public=False, numpy=(np.linalg.pinv,), prepare=_pinv_args),
)
pinv.batch = _stacked(pinv)


# ====================================================================== matrix_rank (no gradient)
def _matrix_rank_impl(a: Any, tol: Any = None, hermitian: bool = False, rtol: Any = None) -> Any:
    return np.asarray(np.linalg.matrix_rank(a, tol=tol, hermitian=hermitian, rtol=rtol))


matrix_rank = Rule(
    "matrix_rank", _matrix_rank_impl, differentiable=False,
    doc="the number of singular values above the tolerance (np.linalg.matrix_rank; an integer: no gradient)",
    surface=Surface(public=False, numpy=(np.linalg.matrix_rank,)),
)
matrix_rank.batch = _stacked(matrix_rank)


# ====================================================================== composites
@composite(public=False, numpy=(np.linalg.lstsq,))
def lstsq(a: Any, b: Any, rcond: Any = None) -> tuple:
    """Least-squares solution of ``a x = b`` (np.linalg.lstsq): ``(x, residuals, rank, s)``.

    ``x = pinv(a) @ b`` (differentiable in a and b where the rank does not
    change); ``residuals`` are the squared residual norms per column when
    ``a`` has full column rank and more rows than columns (else empty, as in
    NumPy: deciding that reads the rank); ``rank`` and ``s`` as in NumPy.

    >>> import numpy as np, wengert as wg
    >>> a = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    >>> x, res, rank, s = wg.linalg.lstsq(a, np.array([1.0, 2.0, 2.0]))
    >>> x, res
    (tensor([1.1667, 0.5   ]), tensor([0.1667]))
    """
    _check_matrix("lstsq", shape_of(a))
    if len(shape_of(a)) != 2 or len(shape_of(b)) not in (1, 2):
        raise ValueError(f"lstsq: expects a matrix a and a vector or matrix b, got shapes {shape_of(a)} and {shape_of(b)}")
    m, n = shape_of(a)
    if shape_of(b)[0] != m:
        raise ValueError(f"lstsq: a has {m} rows but b has {shape_of(b)[0]}; they must match")
    if rcond is None:
        rcond = float(np.finfo(np.result_type(dtype_of(a), np.float32)).eps * max(m, n))
    x = matmul(pinv(a, rcond=rcond), b)
    rank = matrix_rank(a, rtol=rcond)
    s = svdvals(a)
    if m > n and int(raw(rank)) == n:
        r = b - matmul(a, x)
        res = sum_(abs2(r), axis=0)
        if len(shape_of(b)) == 1:
            res = reshape(res, (1,))
    else:
        res = np.empty((0,), dtype=np.finfo(dtype_of(x)).dtype)  # (real, for complex x too: NumPy's)
    from ..core.tensor import as_tensor

    return x, as_tensor(res), rank, s


@composite(public=False, numpy=(np.linalg.matrix_power,))
def matrix_power(a: Any, n: int) -> Any:
    """``a`` multiplied by itself ``n`` times (np.linalg.matrix_power): repeated squaring; n < 0 inverts first.

    ``n = 0`` gives the identity (no gradient).

    >>> import wengert as wg
    >>> a = wg.tensor([[1.0, 1.0], [0.0, 1.0]], requires_grad=True)
    >>> wg.linalg.matrix_power(a, 3)
    tensor([[1., 3.],
            [0., 1.]], grad_fn=<matmul>)
    """
    shape = shape_of(a)
    _check_matrix("matrix_power", shape, square=True)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"matrix_power: the exponent must be an integer, got {n!r}") from None
    if n == 0:
        eye = np.broadcast_to(np.eye(shape[-1], dtype=dtype_of(a)), shape)
        return where(np.ones(shape, dtype=bool), eye, a)
    if n < 0:
        a, n = inv(a), -n
    if n == 1:
        return copy(a)
    result, z = None, a
    while n:
        if n & 1:
            result = z if result is None else matmul(result, z)
        n >>= 1
        if n:
            z = matmul(z, z)
    return result


# ---------------------------------------------------------------------- norms
def _vector_norm(x: Any, ord: Any, axis: int, keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return sqrt(sum_(abs2(x), axis=axis, keepdims=keepdims))
    if isinstance(ord, str):
        raise ValueError(f"norm: ord={ord!r} is a matrix norm; vector norms take a number, inf or -inf")
    if ord == np.inf:
        return _max(absolute(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return _min(absolute(x), axis=axis, keepdims=keepdims)
    if ord == 0:  # the number of nonzero entries (no gradient)
        return sum_(cast(not_equal(x, 0.0), _float(x)), axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum_(absolute(x), axis=axis, keepdims=keepdims)
    p = float(ord)
    return power(sum_(power(absolute(x), p), axis=axis, keepdims=keepdims), 1.0 / p)


def _float(x: Any) -> np.dtype:
    d = dtype_of(x)
    return d if d.kind == "f" else np.dtype(np.float64)


def _matrix_norm(x: Any, ord: Any, row: int, col: int, keepdims: bool) -> Any:
    nd = len(shape_of(x))
    if ord in (None, "fro", "f"):
        out = sqrt(sum_(abs2(x), axis=(row, col)))
    elif ord in ("nuc", 2, -2):
        rest = [i for i in range(nd) if i not in (row, col)]
        s = svdvals(transpose(x, axes=(*rest, row, col)))
        out = sum_(s, axis=-1) if ord == "nuc" else (_max if ord == 2 else _min)(s, axis=-1)
    elif ord in (1, -1, np.inf, -np.inf):
        # 1: the largest column sum of |x| (sum over rows); inf: the largest row sum
        over, then = (row, col) if ord in (1, -1) else (col, row)
        sums = sum_(absolute(x), axis=over)
        out = (_max if ord in (1, np.inf) else _min)(sums, axis=then - 1 if then > over else then)
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices; use None, 'fro', 'nuc', 1, -1, 2, -2, "
                         "inf or -inf")
    if keepdims:
        shape = list(shape_of(x))
        shape[row] = shape[col] = 1
        out = reshape(out, tuple(shape))
    return out


@composite(methods=("norm",), numpy=(np.linalg.norm,))
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """Vector or matrix norm (np.linalg.norm), every ``ord``, over ``axis`` (one axis: vectors, two: matrices).

    Vectors: None or 2 (Euclidean), 1, inf (max |x|), -inf (min |x|), 0 (the
    number of nonzeros, no gradient) and any p: ``sum(|x|^p)^(1/p)``.
    Matrices: None or 'fro' (Frobenius), 'nuc' (sum of singular values), 2
    and -2 (largest and smallest singular value), 1 and -1 (max / min column
    sum of |x|), inf and -inf (max / min row sum).  With ``ord=None`` and no
    axis, the 2-norm of all the elements (any shape).  Ties (max, min) split
    the gradient evenly; abs'(0) = 0; at x = 0 the Euclidean norm's gradient
    is nan (0/0), as in NumPy-based autograd.

    >>> import wengert as wg
    >>> x = wg.tensor([[3.0, -4.0], [0.0, 12.0]], requires_grad=True)
    >>> wg.norm(x), wg.norm(x, 1), wg.norm(x, "nuc"), wg.norm(x, 3, axis=1)
    (tensor(13., grad_fn=<sqrt>), tensor(16., grad_fn=<max>), tensor(15.5242, grad_fn=<sum>), tensor([ 4.4979, 12.    ], grad_fn=<power>))
    """
    x = _array(x)
    nd = len(shape_of(x))
    if axis is None:
        if ord is None:
            return sqrt(sum_(abs2(x), axis=None, keepdims=keepdims))
        if nd not in (1, 2):
            raise ValueError(f"norm: with ord={ord!r}, give axis= for an array of {nd} dimensions "
                             "(1 axis: a vector norm, 2: a matrix norm)")
        axis = tuple(range(nd))
    elif isinstance(axis, (int, np.integer)):
        axis = (int(axis),)
    axis = tuple(int(a) % nd if -nd <= int(a) < nd else _bad_axis(a, nd) for a in axis)
    if len(axis) == 1:
        return _vector_norm(x, ord, axis[0], keepdims)
    if len(axis) == 2 and axis[0] != axis[1]:
        return _matrix_norm(x, ord, axis[0], axis[1], keepdims)
    raise ValueError(f"norm: axis must name one axis (a vector norm) or two different ones (a matrix norm), got {axis}")


def _array(x: Any) -> Any:
    """A list or tuple (of numbers or tensors: np.linalg.norm([x, y])) as one tensor, in the graph."""
    if isinstance(x, (list, tuple)):
        from ..core.tensor import as_tensor

        return as_tensor(x)
    return x


def _bad_axis(a: Any, nd: int) -> int:
    raise np.exceptions.AxisError(f"norm: axis {a} is out of bounds for an array of dimension {nd}")


@composite(public=False, numpy=(np.linalg.vector_norm,))
def vector_norm(x: Any, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """The vector norm of np.linalg.vector_norm: over ``axis`` (all elements, flattened, by default)."""
    x = _array(x)
    if axis is None:
        out = _vector_norm(reshape(x, (-1,)), ord, 0, False)
        return reshape(out, (1,) * len(shape_of(x))) if keepdims else out
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(axes) == 1:
        return _vector_norm(x, ord, int(axes[0]), keepdims)
    # several axes: move them to the end and flatten them into one
    nd = len(shape_of(x))
    axes = tuple(int(a) % nd for a in axes)
    rest = [i for i in range(nd) if i not in axes]
    moved = transpose(x, axes=(*rest, *axes))
    flat = reshape(moved, tuple(shape_of(x)[i] for i in rest) + (-1,))
    out = _vector_norm(flat, ord, -1, False)
    if keepdims:
        out = reshape(out, tuple(1 if i in axes else s for i, s in enumerate(shape_of(x))))
    return out


@composite(public=False, numpy=(np.linalg.matrix_norm,))
def matrix_norm(x: Any, keepdims: bool = False, ord: Any = "fro") -> Any:
    """The matrix norm of np.linalg.matrix_norm, over the last two axes."""
    _check_matrix("matrix_norm", shape_of(x))
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


@composite(public=False, numpy=(np.linalg.cond,))
def cond(x: Any, p: Any = None) -> Any:
    """Condition number (np.linalg.cond): s_max / s_min for p None, 2 (-2: the inverse), else norm(x) norm(inv(x))."""
    _check_matrix("cond", shape_of(x))
    if p in (None, 2, -2):
        s = svdvals(x)
        big, small = _cols(s, 0, 1), _cols(s, -1)
        r = big / small if p != -2 else small / big
        return reshape(r, shape_of(r)[:-1])
    _check_matrix("cond", shape_of(x), square=True)
    return norm(x, p, axis=(-2, -1)) * norm(inv(x), p, axis=(-2, -1))


# ---------------------------------------------------------------------- products
def _letters(n: int, start: int = 0) -> str:
    from .table import _LETTERS

    if start + n > len(_LETTERS):
        raise ValueError("tensordot: too many axes (at most 52 in all)")
    return _LETTERS[start:start + n]


@composite(numpy=(np.tensordot, np.linalg.tensordot))
def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """Sum products over the given axes (np.tensordot): ``axes=N`` pairs a's last N axes with b's first N;
    ``axes=(a_axes, b_axes)`` names them.  Written as an einsum.

    >>> import numpy as np, wengert as wg
    >>> a, b = np.arange(24.0).reshape(2, 3, 4), np.arange(12.0).reshape(4, 3)
    >>> np.allclose(wg.tensordot(a, b, axes=([1, 2], [1, 0])).data, np.tensordot(a, b, axes=([1, 2], [1, 0])))
    True
    """
    na, nb = len(shape_of(a)), len(shape_of(b))
    if isinstance(axes, (int, np.integer)):
        k = int(axes)
        if k < 0 or k > min(na, nb):
            raise ValueError(f"tensordot: axes={k} needs both arrays to have at least {k} dimensions, "
                             f"got shapes {shape_of(a)} and {shape_of(b)}")
        ax_a, ax_b = list(range(na - k, na)), list(range(k))
    else:
        try:
            ax_a, ax_b = axes
        except (TypeError, ValueError):
            raise ValueError(f"tensordot: axes must be an int or a pair of axis sequences, got {axes!r}") from None
        ax_a = [int(ax_a)] if isinstance(ax_a, (int, np.integer)) else [int(i) for i in ax_a]
        ax_b = [int(ax_b)] if isinstance(ax_b, (int, np.integer)) else [int(i) for i in ax_b]
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: the axis lists have different lengths: {ax_a} and {ax_b}")
        ax_a = [i % na for i in ax_a]
        ax_b = [i % nb for i in ax_b]
    for i, j in zip(ax_a, ax_b):
        if shape_of(a)[i] != shape_of(b)[j]:
            raise ValueError(f"tensordot: axis {i} of a (size {shape_of(a)[i]}) and axis {j} of b "
                             f"(size {shape_of(b)[j]}) must have the same size")
    la = _letters(na)
    lb = list(_letters(nb, na))
    for i, j in zip(ax_a, ax_b):
        lb[j] = la[i]
    out = "".join(c for i, c in enumerate(la) if i not in ax_a) + "".join(c for j, c in enumerate(lb) if j not in ax_b)
    return einsum(a, b, subscripts=f"{la},{''.join(lb)}->{out}")


def _multi_dot_args(arrays: Any, *, out: Any = None) -> tuple:
    if out is not None:
        raise TypeError("multi_dot: out= is not supported (a tensor is never written in place); use the result")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("multi_dot: expects at least two arrays")
    from ..core.tensor import as_tensor

    arrays[0] = as_tensor(arrays[0])  # (so that the result is a Tensor)
    return (arrays,), {}


@composite(public=False, numpy=(np.linalg.multi_dot,), prepare=_multi_dot_args)
def multi_dot(arrays: Any) -> Any:
    """The product of several matrices (np.linalg.multi_dot; the first and last may be vectors), as one einsum
    in the cheapest order (NumPy's ``optimize``)."""
    terms = []
    for i, x in enumerate(arrays):
        nd = len(shape_of(x))
        ok = nd == 2 or (nd == 1 and i in (0, len(arrays) - 1))
        if not ok:
            raise ValueError(f"multi_dot: array {i} has shape {shape_of(x)}; expected matrices "
                             "(the first and last may be vectors)")
        letters = _letters(2, i)
        if nd == 1:
            letters = letters[1] if i == 0 else letters[0]
        terms.append(letters)
    out_letters = (terms[0][0] if len(terms[0]) == 2 else "") + (terms[-1][-1] if len(terms[-1]) == 2 else "")
    return einsum(*arrays, subscripts=",".join(terms) + "->" + out_letters, optimize=True)


@composite(public=False, name="matmul", numpy=(np.linalg.matmul,))
def _linalg_matmul(x1: Any, x2: Any) -> Any:
    """np.linalg.matmul: the matrix product (wg.matmul)."""
    return matmul(x1, x2)


@composite(numpy=(np.linalg.matrix_transpose, np.matrix_transpose))
def matrix_transpose(x: Any) -> Any:
    """Swap the last two axes (np.matrix_transpose; a tensor's ``.mT``)."""
    _check_matrix("matrix_transpose", shape_of(x))
    return _T(x)


@composite(public=False, numpy=(np.linalg.vecdot,))
def vecdot(x1: Any, x2: Any, axis: int = -1) -> Any:
    """The dot product of vectors along ``axis``, broadcasting the rest (np.linalg.vecdot: x1 is conjugated)."""
    x1, x2 = _array(x1), _array(x2)
    return sum_(conjugate(x1) * x2 if dtype_of(x1).kind == "c" else x1 * x2, axis=axis)


@composite(public=False, numpy=(np.linalg.tensorinv,))
def tensorinv(a: Any, ind: int = 2) -> Any:
    """The inverse of an N-d array for tensordot with ``ind`` axes (np.linalg.tensorinv)."""
    shape = shape_of(a)
    if ind <= 0:
        raise ValueError(f"tensorinv: ind must be a positive integer, got {ind}")
    rows = int(np.prod(shape[:ind], dtype=int))
    cols = int(np.prod(shape[ind:], dtype=int))
    if rows != cols:
        raise ValueError(f"tensorinv: the first {ind} axes of shape {shape} must hold as many elements as the others")
    return reshape(inv(reshape(a, (rows, cols))), shape[ind:] + shape[:ind])


@composite(public=False, numpy=(np.linalg.tensorsolve,))
def tensorsolve(a: Any, b: Any, axes: Any = None) -> Any:
    """Solve ``tensordot(a, x, axes=x.ndim) = b`` for x (np.linalg.tensorsolve)."""
    na = len(shape_of(a))
    if axes is not None:
        order = [i for i in range(na) if i not in [k % na for k in axes]] + [k % na for k in axes]
        a = transpose(a, axes=tuple(order))
    shape = shape_of(a)[-(na - len(shape_of(b))):]  # (NumPy's slice: all axes when b has as many as a)
    n = int(np.prod(shape, dtype=int))
    if int(np.prod(shape_of(a), dtype=int)) != n * n:
        raise ValueError(f"tensorsolve: a of shape {shape_of(a)} is not square for b of shape {shape_of(b)}")
    return reshape(solve(reshape(a, (n, n)), reshape(b, (-1,))), shape)


__all__ = ["EigResult", "EighResult", "QRResult", "SVDResult", "SlogdetResult", "cholesky", "cond", "eig", "eigh",
           "eigvals", "eigvalsh", "lstsq", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv",
           "qr", "slogdet", "svd", "svdvals", "tensordot", "tensorinv", "tensorsolve", "vecdot", "vector_norm"]
