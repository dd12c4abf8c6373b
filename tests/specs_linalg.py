"""Specs for the linear algebra rules (wengert/ops/linalg.py) and einsum (wengert/ops/table.py).

A decomposition's rule packs its parts side by side on the last axis, so its
spec checks all parts at once (forward against NumPy's parts, packed the same
way).  Where a part is not unique (the extra columns of full_matrices=True /
mode='complete'), the spec's ``call`` checks what is: the projector onto them.

COMPLEX_SPECS (run as ``NAME@complex``) check the decompositions on complex
matrices, in the complex plane.  A complex singular vector or eigenvector is
unique only up to its phase (LAPACK picks one), so their ``call`` checks
functions that do not depend on it: the values, ``|U|^2`` elementwise, and
products such as ``U diag(c) Vh`` (the phases of u_j and v_j cancel) or
``V diag(c) V^-1``.
"""
from __future__ import annotations

import numpy as np
from opspec import Case, Spec, complex_normal, well_conditioned

from wengert.core.tensor import shape_of
from wengert.ops import linalg as L
from wengert.ops.complex import conjugate
from wengert.ops.table import inv, matmul


def _spd(rng, shape, i):
    """Symmetric positive definite matrices (batched), well conditioned."""
    x = rng.standard_normal(shape) * 0.5
    return np.swapaxes(x, -1, -2) @ x + shape[-1] * np.eye(shape[-1])


def _real_eigs(rng, shape, i):
    """Non-symmetric matrices with real eigenvalues at least 1 apart: P diag(w) P^-1."""
    n = shape[-1]
    p = np.eye(n) + 0.3 * rng.standard_normal(shape)
    w = np.arange(n, dtype=float) * 1.5 - 1.0 + rng.uniform(-0.2, 0.2, shape[:-1])
    return p @ (w[..., :, None] * np.linalg.inv(p))


def _signed(rng, shape, i):
    """Well-conditioned matrices, some with a negative determinant."""
    x = well_conditioned(rng, shape, i)
    x[..., 0, :] *= np.where(rng.random(shape[:-2] + (1,)) < 0.5, -1.0, 1.0)
    return x


def _packed(fn):
    """NumPy's decomposition, packed as the rule packs it."""
    return lambda a, **p: L._pack(fn(a, **p), a.ndim - 2)


def _projector(x):
    return matmul(x, L._H(x))


def _svd_call(a, full_matrices=False):
    """The packed svd; with full_matrices, the extra columns of U and V as projectors (a basis is not unique)."""
    out = L.svd_rule(a, full_matrices=full_matrices)
    if not full_matrices:
        return out
    u, s, vh = L._unpack(out, L._svd_shapes(shape_of(a), True))
    k = min(shape_of(a)[-2:])
    parts = [L._cols(u, 0, k), s, L._rows(vh, 0, k), _projector(L._cols(u, k)), _projector(L._T(L._rows(vh, k)))]
    return L._pack_tangents(parts, shape_of(a)[:-2])


def _svd_ref(a, full_matrices=False):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    if not full_matrices:
        return L._pack((u, s, vh), a.ndim - 2)
    k = min(a.shape[-2:])
    u2, v2 = u[..., k:], np.swapaxes(vh[..., k:, :], -1, -2)
    parts = (u[..., :k], s, vh[..., :k, :], u2 @ np.swapaxes(u2, -1, -2), v2 @ np.swapaxes(v2, -1, -2))
    return L._pack(parts, a.ndim - 2)


def _qr_call(a, mode="reduced"):
    out = L.qr_rule(a, mode=mode)
    m, n = shape_of(a)[-2:]
    if mode != "complete" or m <= n:
        return out
    q, r = L._unpack(out, L._qr_shapes(shape_of(a), mode))
    return L._pack_tangents([L._cols(q, 0, n), r, _projector(L._cols(q, n))], shape_of(a)[:-2])


def _qr_ref(a, mode="reduced"):
    q, r = np.linalg.qr(a, mode=mode)
    m, n = a.shape[-2:]
    if mode != "complete" or m <= n:
        return L._pack((q, r), a.ndim - 2)
    q2 = q[..., n:]
    return L._pack((q[..., :n], r, q2 @ np.conj(np.swapaxes(q2, -1, -2))), a.ndim - 2)


def _einsum_ref(*ops, subscripts, optimize=False):
    return np.einsum(subscripts, *ops)


def _symmetric(rng, shape, i):
    x = rng.standard_normal(shape)
    return x + np.swapaxes(x, -1, -2)


def _full_rank(rng, shape, i):
    """Matrices (batched, any aspect) with singular values bounded away from 0: pinv's derivative is
    ill-conditioned near a drop in rank, where finite differences cannot check it."""
    x = rng.standard_normal(shape) * 0.3
    k = np.arange(min(shape[-2:]))
    x[..., k, k] += 2.0
    return x


SPECS = {
    "einsum": Spec(cases=[
        Case([(2, 3), (3, 4)], {"subscripts": "ij,jk->ik"}), Case([(2, 3), (2, 3)], {"subscripts": "ij,ij->"}),
        Case([(2, 3, 4), (4,)], {"subscripts": "bij,j->bi"}), Case([(3, 4)], {"subscripts": "ij->j"}),
        Case([(2, 3), (4,)], {"subscripts": "ij,k->ik"}),
        # the ellipsis, broadcasting against size 1, implicit output
        Case([(2, 2, 3), (3, 4)], {"subscripts": "...ij,jk->...ik"}),
        Case([(1, 2, 3), (4, 3, 2)], {"subscripts": "...ij,...jk"}),
        # repeated letters within an operand: diagonals and traces
        Case([(3, 3)], {"subscripts": "ii->i"}), Case([(3, 3)], {"subscripts": "ii"}),
        Case([(2, 3, 3), (3,)], {"subscripts": "bii,i->b", "optimize": True}),
        Case([(3, 2, 3)], {"subscripts": "iji->j"}),
    ], ref=_einsum_ref),
    "svd": Spec(cases=[
        Case([(3, 3)]), Case([(4, 2)]), Case([(2, 4)]), Case([(2, 3, 2)]),
        Case([(4, 2)], {"full_matrices": True}), Case([(2, 3)], {"full_matrices": True}),
    ], call=_svd_call, ref=_svd_ref, rtol=1e-5),
    "eigh": Spec(cases=[Case([(3, 3)]), Case([(3, 3)], {"UPLO": "U"}), Case([(2, 3, 3)])],
                 ref=_packed(np.linalg.eigh), rtol=1e-5),
    "eig": Spec(cases=[Case([(3, 3)]), Case([(2, 2, 2)])], draw=_real_eigs, ref=_packed(np.linalg.eig), rtol=1e-5),
    "qr": Spec(cases=[Case([(4, 3)]), Case([(3, 3)]), Case([(2, 4)]), Case([(2, 3, 2)]),
                      Case([(4, 2)], {"mode": "complete"})], call=_qr_call, ref=_qr_ref, rtol=1e-5),
    "cholesky": Spec(cases=[Case([(3, 3)]), Case([(3, 3)], {"upper": True}), Case([(2, 2, 2)])], draw=_spd,
                     ref=lambda a, upper=False: np.linalg.cholesky(a, upper=upper)),
    "slogdet": Spec(cases=[Case([(3, 3)]), Case([(2, 2, 2)])], draw=_signed, ref=_packed(np.linalg.slogdet)),
    "pinv": Spec(cases=[Case([(3, 2)]), Case([(2, 3)]), Case([(3, 3)]), Case([(2, 3, 2)]),
                        Case([(3, 3)], {"hermitian": True})], draw=_full_rank,
                 ref=lambda a, rcond=1e-15, hermitian=False: np.linalg.pinv(a, rcond=rcond, hermitian=hermitian),
                 rtol=1e-5),
    "matrix_rank": Spec(cases=[Case([(3, 3)]), Case([(2, 3, 4)])], nondiff=True,
                        draw=lambda rng, s, i: rng.standard_normal(s) * (rng.random(s[:-1] + (1,)) < 0.7),
                        ref=lambda a: np.linalg.matrix_rank(a)),
}


# ---------------------------------------------------------------------- complex matrices
def _weights(k):
    """Fixed weights c for products U diag(c) Vh (distinct, so that each pair of vectors counts)."""
    return np.arange(1.0, k + 1.0)


def _moduli2(x):
    """|x|^2 elementwise (free of each column's phase), as a complex-typed part among the others."""
    return x * conjugate(x)


def _svd_phase_free(a, full_matrices=False):
    """Functions of the complex svd that do not depend on the phases of the singular vectors: s, |U|^2, |Vh|^2,
    U diag(c) Vh and, with full_matrices, the projectors onto the extra columns."""
    u, s, vh = L._unpack(L.svd_rule(a, full_matrices=full_matrices), L._svd_shapes(shape_of(a), full_matrices))
    k = min(shape_of(a)[-2:])
    u1, vh1 = L._cols(u, 0, k), L._rows(vh, 0, k)
    parts = [s, _moduli2(u1), _moduli2(vh1), matmul(u1 * _weights(k), vh1)]
    if full_matrices:
        u2, v2 = L._cols(u, k), L._H(L._rows(vh, k))
        parts += [matmul(u2, L._H(u2)), matmul(v2, L._H(v2))]
    return L._pack_tangents(parts, shape_of(a)[:-2])


def _svd_phase_free_ref(a, full_matrices=False):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    k = min(a.shape[-2:])
    u1, vh1 = u[..., :k], vh[..., :k, :]
    parts = [s, np.abs(u1) ** 2, np.abs(vh1) ** 2, (u1 * _weights(k)) @ vh1]
    if full_matrices:
        u2, v2 = u[..., k:], np.conj(np.swapaxes(vh[..., k:, :], -1, -2))
        parts += [u2 @ np.conj(np.swapaxes(u2, -1, -2)), v2 @ np.conj(np.swapaxes(v2, -1, -2))]
    return L._pack(parts, a.ndim - 2)


def _eigh_phase_free(a, UPLO="L"):
    """w, |V|^2 and V diag(c) V^H of the Hermitian matrix eigh reads (the triangle UPLO, the real diagonal)."""
    w, v = L._unpack(L.eigh_rule(a, UPLO=UPLO), L._eig_shapes(a))
    n = shape_of(a)[-1]
    return L._pack_tangents([w, _moduli2(v), matmul(v * _weights(n), L._H(v))], shape_of(a)[:-2])


def _eigh_phase_free_ref(a, UPLO="L"):
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    vh = np.conj(np.swapaxes(v, -1, -2))
    return L._pack([w, np.abs(v) ** 2, (v * _weights(a.shape[-1])) @ vh], a.ndim - 2)


def _eig_phase_free(a):
    """w, |V|^2 and V diag(c) V^-1 (free of each eigenvector's phase; |v_j| = 1 is NumPy's normalisation)."""
    w, v = L._unpack(L.eig_rule(a), L._eig_shapes(a))
    n = shape_of(a)[-1]
    return L._pack_tangents([w, _moduli2(v), matmul(v * _weights(n), inv(v))], shape_of(a)[:-2])


def _eig_phase_free_ref(a):
    w, v = np.linalg.eig(a)
    return L._pack([w, np.abs(v) ** 2, (v * _weights(a.shape[-1])) @ np.linalg.inv(v)], a.ndim - 2)


def _complex_eigs(rng, shape, i):
    """Complex matrices (eigenvalues distinct with probability 1), and for 4 x 4 ones real matrices with two pairs of
    complex conjugate eigenvalues (-1 +- i, 1 +- 2i): NumPy's eig then returns complex values for a real input."""
    if shape[-1] != 4:
        return complex_normal(rng, shape, i)
    p = np.eye(4) + 0.3 * rng.standard_normal(shape)
    blocks = np.array([[-1.0, 1.0, 0, 0], [-1.0, -1.0, 0, 0], [0, 0, 1.0, 2.0], [0, 0, -2.0, 1.0]])
    return p @ blocks @ np.linalg.inv(p)


def _complex_hpd(rng, shape, i):
    """Hermitian positive definite complex matrices (batched), well conditioned."""
    x = complex_normal(rng, shape, i) * 0.5
    return np.conj(np.swapaxes(x, -1, -2)) @ x + shape[-1] * np.eye(shape[-1])


def _complex_full_rank(rng, shape, i):
    """Complex matrices (any aspect) with singular values bounded away from 0 (see _full_rank)."""
    x = complex_normal(rng, shape, i) * 0.3
    k = np.arange(min(shape[-2:]))
    x[..., k, k] += 2.0
    return x


def _sqrtm_draw(rng, shape, i):
    """Complex matrices near 2 I (2 x 2), and real matrices with a negative eigenvalue (3 x 3: P diag(-1, 2, 3) P^-1),
    whose principal square root is complex: away from the negative real axis, where the root is not continuous."""
    if shape[-1] == 2:
        return 0.3 * complex_normal(rng, shape, i) + 2.0 * np.eye(2)
    p = np.eye(3) + 0.3 * rng.standard_normal(shape)
    return p @ (np.array([-1.0, 2.0, 3.0])[:, None] * np.linalg.inv(p))


def _sqrtm_ref(a):
    import scipy.linalg

    return scipy.linalg.sqrtm(a)


COMPLEX_SPECS = {
    "svd": Spec(cases=[Case([(3, 3)]), Case([(4, 2)]), Case([(2, 3)]), Case([(2, 3, 2)]),
                       Case([(4, 2)], {"full_matrices": True}), Case([(2, 3)], {"full_matrices": True})],
                draw=complex_normal, call=_svd_phase_free, ref=_svd_phase_free_ref, rtol=1e-5),
    # a complex matrix that is not Hermitian: eigh reads one triangle and the real part of the diagonal
    "eigh": Spec(cases=[Case([(3, 3)]), Case([(3, 3)], {"UPLO": "U"}), Case([(2, 3, 3)])], draw=complex_normal,
                 call=_eigh_phase_free, ref=_eigh_phase_free_ref, rtol=1e-5),
    "eig": Spec(cases=[Case([(3, 3)]), Case([(2, 2, 2)]), Case([(4, 4)])], draw=_complex_eigs,
                call=_eig_phase_free, ref=_eig_phase_free_ref, rtol=1e-5),
    # LAPACK's complex R has a real diagonal, which makes Q and R unique: the parts themselves are checked
    "qr": Spec(cases=[Case([(4, 3)]), Case([(3, 3)]), Case([(2, 4)]), Case([(2, 3, 2)]),
                      Case([(4, 2)], {"mode": "complete"})], draw=complex_normal, call=_qr_call, ref=_qr_ref,
               rtol=1e-5),
    # (the draws are Hermitian; the derivative sees the whole complex plane of every element, the triangle and the
    # imaginary part of the diagonal that are not read included)
    "cholesky": Spec(cases=[Case([(3, 3)]), Case([(3, 3)], {"upper": True}), Case([(2, 2, 2)])], draw=_complex_hpd,
                     ref=lambda a, upper=False: np.linalg.cholesky(a, upper=upper)),
    "slogdet": Spec(cases=[Case([(3, 3)]), Case([(2, 2, 2)])], draw=_complex_full_rank,
                    ref=_packed(np.linalg.slogdet)),
    "pinv": Spec(cases=[Case([(3, 2)]), Case([(2, 3)]), Case([(3, 3)]), Case([(2, 3, 2)]),
                        Case([(3, 3)], {"hermitian": True})], draw=_complex_full_rank,
                 ref=lambda a, rcond=1e-15, hermitian=False: np.linalg.pinv(a, rcond=rcond, hermitian=hermitian),
                 rtol=1e-5),
    # (wengert.scipy.linalg's rule: its real spec is in tests/specs_scipy.py)
    "scipy.linalg.sqrtm": Spec(cases=[Case([(2, 2)]), Case([(3, 3)])], draw=_sqrtm_draw, ref=_sqrtm_ref),
}
