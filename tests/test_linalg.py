"""wg.linalg, norms, einsum and tensordot: values against NumPy, derivatives against finite differences in
float64 (reverse and forward mode, second order), against PyTorch, vmap against a loop, NumPy dispatch, the
documented conventions (repeated eigenvalues, zero singular values, triangles) and every error message;
complex matrices (svd, eigh, eig ...) in the complex plane, with functions free of the vectors' phases.

The primitives (svd, eigh, eig, qr, cholesky, slogdet, pinv, einsum) also go through the generated per-op
test from tests/specs_linalg.py; here are the public functions built on them.
"""
from __future__ import annotations

import numpy as np
import pytest
from opspec import check_grads

import wengert as wg

inf = np.inf


# ------------------------------------------------------------------ draws
def _normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _spd(n, seed=0):
    x = _normal((n, n), seed) * 0.5
    return x @ x.T + n * np.eye(n)


def _real_eigs(n, seed=0):
    rng = np.random.default_rng(seed)
    p = np.eye(n) + 0.3 * rng.standard_normal((n, n))
    return p @ np.diag(np.arange(n) * 1.5 - 1.0) @ np.linalg.inv(p)


def _distinct(shape, seed=0):
    """Values with distinct magnitudes, away from 0 (no ties in max |x|, no kink of |x|)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    mags = 0.5 + rng.permutation(n) * 0.37
    return (mags * rng.choice([-1.0, 1.0], n)).reshape(shape)


def _sym(x):
    return (x + np.swapaxes(x, -1, -2)) / 2


L = wg.linalg

# name, function of arrays (a Tensor out), NumPy's reference (or None), inputs
CASES = [
    ("svd_U", lambda a: L.svd(a, full_matrices=False).U, lambda a: np.linalg.svd(a, full_matrices=False).U,
     [_normal((4, 3))]),
    ("svd_Vh_wide", lambda a: L.svd(a, full_matrices=False).Vh, lambda a: np.linalg.svd(a, full_matrices=False)[2],
     [_normal((2, 4))]),
    ("svd_full_complement", lambda a: L.svd(a).U[:, 2:] @ L.svd(a).U[:, 2:].T,
     lambda a: np.linalg.svd(a)[0][:, 2:] @ np.linalg.svd(a)[0][:, 2:].T, [_normal((4, 2))]),
    ("svd_S", lambda a: L.svd(a, compute_uv=False), lambda a: np.linalg.svd(a, compute_uv=False), [_normal((3, 4))]),
    ("svd_USVh", lambda a: (lambda r: (r.U * wg.expand_dims(r.S, -2)) @ r.Vh)(L.svd(a, full_matrices=False)), lambda a: a,
     [_normal((2, 3, 2))]),
    ("svd_hermitian_S", lambda a: L.svd(a, compute_uv=False, hermitian=True),
     lambda a: np.linalg.svd(a, compute_uv=False, hermitian=True), [_normal((3, 3))]),
    ("svdvals", lambda a: L.svdvals(a), np.linalg.svdvals, [_normal((2, 3, 4))]),
    ("eigh_vectors", lambda a: L.eigh(a).eigenvectors, lambda a: np.linalg.eigh(a)[1], [_normal((3, 3))]),
    ("eigh_values_U", lambda a: L.eigh(a, UPLO="U").eigenvalues, lambda a: np.linalg.eigh(a, UPLO="U")[0],
     [_normal((3, 3))]),
    ("eigvalsh", lambda a: L.eigvalsh(a), np.linalg.eigvalsh, [_normal((2, 3, 3))]),
    ("eig_values", lambda a: L.eig(a).eigenvalues, lambda a: np.linalg.eig(a)[0], [_real_eigs(3)]),
    ("eig_vectors", lambda a: L.eig(a).eigenvectors, lambda a: np.linalg.eig(a)[1], [_real_eigs(3, 1)]),
    ("eigvals", lambda a: L.eigvals(a), np.linalg.eigvals, [_real_eigs(4, 2)]),
    ("qr_Q", lambda a: L.qr(a).Q, lambda a: np.linalg.qr(a)[0], [_normal((4, 3))]),
    ("qr_R_wide", lambda a: L.qr(a, mode="r"), lambda a: np.linalg.qr(a, mode="r"), [_normal((2, 3))]),
    ("qr_complete_R", lambda a: L.qr(a, mode="complete").R, lambda a: np.linalg.qr(a, mode="complete")[1],
     [_normal((4, 2))]),
    ("cholesky", lambda a: L.cholesky(a), np.linalg.cholesky, [_spd(3)]),
    ("cholesky_upper", lambda a: L.cholesky(a, upper=True), lambda a: np.linalg.cholesky(a, upper=True), [_spd(3, 1)]),
    ("slogdet", lambda a: L.slogdet(a).logabsdet, lambda a: np.linalg.slogdet(a)[1], [np.eye(3) * 2 + _normal((3, 3)) * 0.3]),
    ("det", lambda a: L.det(a), np.linalg.det, [np.eye(3) * 2 + _normal((3, 3)) * 0.3]),
    ("pinv", lambda a: L.pinv(a), np.linalg.pinv, [_normal((4, 3))]),
    ("pinv_rtol", lambda a: L.pinv(a, rtol=1e-10), lambda a: np.linalg.pinv(a, rtol=1e-10), [_normal((2, 3))]),
    ("lstsq_x", lambda a, b: L.lstsq(a, b)[0], lambda a, b: np.linalg.lstsq(a, b)[0], [_normal((4, 2)), _normal((4, 3))]),
    ("lstsq_residuals", lambda a, b: L.lstsq(a, b)[1], lambda a, b: np.linalg.lstsq(a, b)[1],
     [_normal((4, 2)), _normal((4,))]),
    ("lstsq_x_wide", lambda a, b: L.lstsq(a, b)[0], lambda a, b: np.linalg.lstsq(a, b)[0], [_normal((2, 3)), _normal((2,))]),
    ("matrix_power_3", lambda a: L.matrix_power(a, 3), lambda a: np.linalg.matrix_power(a, 3), [_normal((3, 3))]),
    ("matrix_power_-2", lambda a: L.matrix_power(a, -2), lambda a: np.linalg.matrix_power(a, -2),
     [np.eye(2) * 2 + _normal((2, 2)) * 0.3]),
    ("matrix_power_batched", lambda a: L.matrix_power(a, 2), lambda a: np.linalg.matrix_power(a, 2), [_normal((2, 2, 2))]),
    ("cond", lambda a: L.cond(a), np.linalg.cond, [_normal((3, 3))]),
    ("cond_-2", lambda a: L.cond(a, -2), lambda a: np.linalg.cond(a, -2), [_normal((2, 3))]),
    ("cond_fro", lambda a: L.cond(a, "fro"), lambda a: np.linalg.cond(a, "fro"), [_normal((3, 3))]),
    ("tensordot_int", lambda a, b: wg.tensordot(a, b), lambda a, b: np.tensordot(a, b),
     [_normal((2, 3, 4)), _normal((3, 4, 2))]),
    ("tensordot_pairs", lambda a, b: wg.tensordot(a, b, axes=([0, 2], [1, 0])),
     lambda a, b: np.tensordot(a, b, axes=([0, 2], [1, 0])), [_normal((2, 3, 4)), _normal((4, 2, 3))]),
    ("tensordot_0", lambda a, b: wg.tensordot(a, b, 0), lambda a, b: np.tensordot(a, b, 0), [_normal((2,)), _normal((3,))]),
    ("multi_dot", lambda a, b, c: L.multi_dot([a, b, c]), lambda a, b, c: np.linalg.multi_dot([a, b, c]),
     [_normal((3,)), _normal((3, 4)), _normal((4, 2))]),
    ("tensorinv", lambda a: L.tensorinv(a, ind=1), lambda a: np.linalg.tensorinv(a, ind=1),
     [(np.eye(4) * 2 + _normal((4, 4)) * 0.3).reshape(4, 2, 2)]),
    ("tensorsolve", lambda a, b: L.tensorsolve(a, b), np.linalg.tensorsolve,
     [(np.eye(6) * 2 + _normal((6, 6)) * 0.3).reshape(2, 3, 6), _normal((2, 3))]),
    ("vecdot", lambda a, b: L.vecdot(a, b, axis=0), lambda a, b: np.linalg.vecdot(a, b, axis=0),
     [_normal((3, 2)), _normal((3, 1))]),
    ("matrix_transpose", lambda a: wg.matrix_transpose(a), np.matrix_transpose, [_normal((2, 3, 4))]),
    ("linalg_matmul", lambda a, b: L.matmul(a, b), np.linalg.matmul, [_normal((2, 3)), _normal((3,))]),
    ("einsum_sublist", lambda a, b: wg.einsum(a, [0, 1], b, [1, 2], [0, 2]),
     lambda a, b: np.einsum(a, [0, 1], b, [1, 2], [0, 2]), [_normal((2, 3)), _normal((3, 4))]),
    ("einsum_sublist_ellipsis", lambda a: wg.einsum(a, [Ellipsis, 0, 0], [Ellipsis, 0]),
     lambda a: np.einsum(a, [Ellipsis, 0, 0], [Ellipsis, 0]), [_normal((2, 3, 3))]),
]

# vector norms: every ord, over an axis, with keepdims
VECTOR_ORDS = [None, 2, 1, inf, -inf, 3, 0.5, -1.5]
MATRIX_ORDS = [None, "fro", "nuc", 2, -2, 1, -1, inf, -inf]
for _o in VECTOR_ORDS:
    CASES.append((f"norm_vector_{_o}", lambda x, o=_o: wg.norm(x, o), lambda x, o=_o: np.linalg.norm(x, o), [_distinct((4,))]))
    CASES.append((f"norm_vector_axis_{_o}", lambda x, o=_o: wg.norm(x, o, axis=0, keepdims=True),
                  lambda x, o=_o: np.linalg.norm(x, o, axis=0, keepdims=True), [_distinct((3, 2), 1)]))
for _o in MATRIX_ORDS:
    CASES.append((f"norm_matrix_{_o}", lambda x, o=_o: wg.norm(x, o), lambda x, o=_o: np.linalg.norm(x, o), [_distinct((3, 4))]))
    CASES.append((f"norm_matrix_axes_{_o}", lambda x, o=_o: wg.norm(x, o, axis=(2, 0), keepdims=True),
                  lambda x, o=_o: np.linalg.norm(x, o, axis=(2, 0), keepdims=True), [_distinct((3, 2, 4), 2)]))
CASES += [
    ("norm_flat_3d", lambda x: wg.norm(x), np.linalg.norm, [_normal((2, 3, 2))]),
    ("norm_method", lambda x: x.norm(1, axis=-1) if isinstance(x, wg.Tensor) else wg.norm(x, 1, axis=-1),
     lambda x: np.linalg.norm(x, 1, axis=-1), [_distinct((2, 3))]),
    ("vector_norm", lambda x: L.vector_norm(x, axis=(0, 2), ord=3), lambda x: np.linalg.vector_norm(x, axis=(0, 2), ord=3),
     [_distinct((2, 3, 2))]),
    ("vector_norm_all", lambda x: L.vector_norm(x, keepdims=True), lambda x: np.linalg.vector_norm(x, keepdims=True),
     [_normal((2, 3))]),
    ("matrix_norm", lambda x: L.matrix_norm(x, ord="nuc"), lambda x: np.linalg.matrix_norm(x, ord="nuc"),
     [_normal((2, 3, 2))]),
]

IDS = [c[0] for c in CASES]


def _value(t):
    return t.data if isinstance(t, wg.Tensor) else np.asarray(t)


@pytest.mark.parametrize("name,f,ref,inputs", CASES, ids=IDS)
def test_values_match_numpy(name, f, ref, inputs):
    out = f(*[wg.tensor(x) for x in inputs])
    assert isinstance(out, wg.Tensor)
    np.testing.assert_allclose(out.data, ref(*inputs), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,f,ref,inputs", CASES, ids=IDS)
def test_first_order_reverse_and_forward(name, f, ref, inputs):
    wg.gradcheck(f, *inputs, modes=("rev", "fwd"), rtol=1e-5, atol=1e-6)


SECOND_ORDER = ["svd_U", "svd_S", "svd_Vh_wide", "eigh_vectors", "eig_vectors", "qr_Q", "qr_R_wide", "cholesky",
                "slogdet", "pinv", "lstsq_x", "matrix_power_-2", "norm_vector_3", "norm_matrix_nuc", "norm_matrix_2",
                "tensordot_pairs", "einsum_sublist_ellipsis", "cond", "svd_full_complement", "cholesky_upper"]


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_order(name):
    """The derivative of the VJP, by reverse over reverse and forward over reverse, against finite differences."""
    _, f, _, inputs = CASES[IDS.index(name)]
    x0 = inputs[0]
    rest = inputs[1:]
    u = _normal(np.shape(_value(f(*inputs))), 7)

    def grad_of_x(x):
        return wg.grad(lambda y: wg.sum(f(y, *rest) * u))(x)

    wg.gradcheck(grad_of_x, x0, modes=("rev", "fwd"), rtol=1e-4, atol=1e-5)


VMAPPED = ["svd_U", "svd_S", "eigh_vectors", "eigvalsh", "eig_vectors", "qr_Q", "qr_R_wide", "cholesky", "slogdet",
           "pinv", "matrix_power_3", "norm_matrix_nuc", "norm_matrix_inf", "norm_vector_axis_3", "cond",
           "tensordot_pairs", "einsum_sublist_ellipsis", "svd_full_complement", "lstsq_x_wide"]


@pytest.mark.parametrize("name", VMAPPED)
def test_vmap_matches_a_loop(name):
    """A batch of inputs through wg.vmap equals a Python loop, in values and in per-example gradients."""
    _, f, _, inputs = CASES[IDS.index(name)]
    rng = np.random.default_rng(3)
    x0, rest = inputs[0], inputs[1:]
    batch = np.stack([x0 + 0.01 * rng.standard_normal(x0.shape) for _ in range(3)])
    if name.startswith("cholesky"):
        batch = _sym(batch) + np.eye(x0.shape[-1])
    g = wg.grad(lambda x: wg.sum(f(x, *rest) * 1.5))
    in_axes = (0,) + (None,) * len(rest)
    got = wg.vmap(lambda x, *r: f(x, *r), in_axes=in_axes)(batch, *rest)
    want = np.stack([_value(f(x, *rest)) for x in batch])
    np.testing.assert_allclose(_value(got), want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_value(wg.vmap(g)(batch)), np.stack([_value(g(x)) for x in batch]), rtol=1e-9, atol=1e-12)


def test_ord_0_counts_nonzeros_without_gradient():
    x = wg.tensor([1.0, 0.0, -2.0], requires_grad=True)
    n = wg.norm(x, 0)
    assert float(n.data) == 2.0 == np.linalg.norm(x.data, 0)
    assert not n.requires_grad


def test_norm_of_a_list_of_tensors():
    """np.linalg.norm([x, x + 2]): the list becomes one tensor in the graph (d/dx at 0 is 2 / sqrt(4) = 1)."""
    assert float(wg.grad(lambda x: wg.linalg.norm([x, x + 2]))(0.0)) == 1.0
    assert float(wg.grad(lambda x: wg.linalg.vector_norm((x, x + 2), ord=1))(1.0)) == 2.0


def test_norm_keeps_its_default_behaviour():
    """ord=None: the 2-norm of all elements for any shape, with axis and keepdims as before, and PyTorch's dim=."""
    x = _normal((2, 3, 4))
    np.testing.assert_allclose(wg.norm(x).data, np.sqrt((x * x).sum()))
    np.testing.assert_allclose(wg.norm(x, axis=(0, 2), keepdims=True).data, np.linalg.norm(x, axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(wg.tensor(x).norm(dim=1).data, np.linalg.norm(x, axis=1))
    np.testing.assert_allclose(wg.norm(x, keepdims=True).data, np.linalg.norm(x, keepdims=True))


# ------------------------------------------------------------------ against PyTorch
torch = pytest.importorskip("torch")


def _both(fw, ft, x, *rest):
    """Value and gradient of a scalar function in wengert and in PyTorch (float64)."""
    t = wg.tensor(x, requires_grad=True)
    out = fw(t, *rest)
    out.backward()
    tt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ot = ft(tt, *[torch.tensor(r) for r in rest])
    ot.backward()
    np.testing.assert_allclose(out.data, ot.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=1e-8, atol=1e-10)


W4 = _normal((4, 3), 11)
W3 = _normal((3, 3), 12)
W43 = _normal((3,), 13)


def test_svd_matches_torch():
    # squares of U and Vh: the same whatever sign each singular vector has
    def fw(a):
        u, s, vh = L.svd(a, full_matrices=False)
        return wg.sum(s * W43) + wg.sum(u * u * W4) + wg.sum(vh * vh * W3)

    def ft(a):
        u, s, vh = torch.linalg.svd(a, full_matrices=False)
        return (s * torch.tensor(W43)).sum() + (u * u * torch.tensor(W4)).sum() + (vh * vh * torch.tensor(W3)).sum()

    _both(fw, ft, _normal((4, 3), 1))


def test_eigh_matches_torch():
    # on the symmetric part: PyTorch's gradient is the symmetric one, wengert's reads the lower triangle
    def fw(a):
        w, v = L.eigh((a + a.T) * 0.5)
        return wg.sum(w * W43) + wg.sum(v * v * W3)

    def ft(a):
        w, v = torch.linalg.eigh((a + a.T) * 0.5)
        return (w * torch.tensor(W43)).sum() + (v * v * torch.tensor(W3)).sum()

    _both(fw, ft, _normal((3, 3), 2))


def test_eig_matches_torch():
    def fw(a):
        w, v = L.eig(a)
        return wg.sum(w * W43) + wg.sum(v * v * W3)

    def ft(a):
        w, v = torch.linalg.eig(a)
        return (w.real * torch.tensor(W43)).sum() + ((v * v).real * torch.tensor(W3)).sum()

    _both(fw, ft, _real_eigs(3, 4))


def test_qr_matches_torch():
    def fw(a):
        q, r = L.qr(a)
        return wg.sum(q * q * W4) + wg.sum(r * r * W3)

    def ft(a):
        q, r = torch.linalg.qr(a)
        return (q * q * torch.tensor(W4)).sum() + (r * r * torch.tensor(W3)).sum()

    _both(fw, ft, _normal((4, 3), 3))


def test_cholesky_slogdet_pinv_matrix_power_lstsq_norms_match_torch():
    spd = _spd(3, 5)
    _both(lambda a: wg.sum(L.cholesky((a + a.T) * 0.5) * W3),
          lambda a: (torch.linalg.cholesky((a + a.T) * 0.5) * torch.tensor(W3)).sum(), spd)
    _both(lambda a: L.slogdet(a).logabsdet, lambda a: torch.linalg.slogdet(a).logabsdet, np.eye(3) - _normal((3, 3), 6))
    _both(lambda a: wg.sum(L.pinv(a) * W4.T), lambda a: (torch.linalg.pinv(a) * torch.tensor(W4.T)).sum(), _normal((4, 3), 7))
    _both(lambda a: wg.sum(L.matrix_power(a, -3) * W3),
          lambda a: (torch.linalg.matrix_power(a, -3) * torch.tensor(W3)).sum(), np.eye(3) * 2 + _normal((3, 3), 8) * 0.3)
    b = _normal((4, 2), 9)
    _both(lambda a, b: wg.sum(L.lstsq(a, b)[0] * W4[:3, :2]),
          lambda a, b: (torch.linalg.lstsq(a, b).solution * torch.tensor(W4[:3, :2])).sum(), _normal((4, 3), 10), b)
    x = _distinct((3, 4), 4)
    for o in MATRIX_ORDS:
        _both(lambda a, o=o: wg.norm(a, o), lambda a, o=o: torch.linalg.norm(a, o), x)
    for o in VECTOR_ORDS:
        _both(lambda a, o=o: wg.norm(a, o), lambda a, o=o: torch.linalg.vector_norm(a, 2 if o is None else o), x[0])


def test_einsum_and_tensordot_match_torch():
    x = _normal((2, 3, 3), 1)
    _both(lambda a: wg.sum(wg.einsum("bii->bi", a) * W43[:, None].T),
          lambda a: (torch.einsum("bii->bi", a) * torch.tensor(W43[:, None].T)).sum(), x)
    _both(lambda a: wg.einsum("...ij,...ji", a, a).sum(), lambda a: torch.einsum("...ij,...ji", a, a).sum(), x)
    _both(lambda a: wg.tensordot(a, a, axes=([1, 2], [2, 1])).sum(),
          lambda a: torch.tensordot(a, a, dims=([1, 2], [2, 1])).sum(), x)


# ------------------------------------------------------------------ NumPy dispatch and the namespace
def test_every_wg_linalg_name_is_numpys():
    assert set(L.__all__) <= set(dir(np.linalg))
    for name in ["svd", "eigh", "eig", "qr", "cholesky", "slogdet", "pinv", "lstsq", "matrix_power", "norm", "inv",
                 "det", "solve", "eigvals", "eigvalsh", "svdvals", "matrix_rank", "tensordot", "multi_dot", "cond"]:
        assert callable(getattr(L, name)), name
    # decompositions are reached through wg.linalg only (NumPy has them there only); products at the top
    assert not hasattr(wg, "svd") and not hasattr(wg, "eigh")
    assert callable(wg.einsum) and callable(wg.tensordot) and callable(wg.norm)


@pytest.mark.parametrize("call", [
    lambda a: np.linalg.svd(a)[1], lambda a: np.linalg.svd(a, compute_uv=False), lambda a: np.linalg.eigh(a)[0],
    lambda a: np.linalg.eigvalsh(a), lambda a: np.linalg.qr(a)[1], lambda a: np.linalg.cholesky(a),
    lambda a: np.linalg.slogdet(a)[1], lambda a: np.linalg.pinv(a), lambda a: np.linalg.matrix_power(a, 2),
    lambda a: np.linalg.norm(a, "nuc"), lambda a: np.linalg.lstsq(a, a[:, 0])[0], lambda a: np.linalg.eig(a)[0],
    lambda a: np.linalg.eigvals(a), lambda a: np.linalg.svdvals(a), lambda a: np.linalg.cond(a),
    lambda a: np.linalg.tensordot(a, a), lambda a: np.tensordot(a, a, 1), lambda a: np.linalg.multi_dot([a, a, a]),
    lambda a: np.linalg.matrix_norm(a), lambda a: np.linalg.vector_norm(a), lambda a: np.linalg.matmul(a, a),
    lambda a: np.matrix_transpose(a), lambda a: np.linalg.vecdot(a, a), lambda a: np.linalg.tensorinv(a, 1),
    lambda a: np.einsum(a, [0, 1], a, [1, 2], [0, 2]), lambda a: np.einsum("ij,jk", a, a, optimize="greedy"),
])
def test_numpy_functions_dispatch_to_wengert(call):
    a = _spd(3)
    t = wg.tensor(a, requires_grad=True)
    out = call(t)
    assert isinstance(out, wg.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.data, call(a), rtol=1e-10, atol=1e-12)
    wg.sum(out).backward()
    assert t.grad is not None and np.all(np.isfinite(t.grad.data))


def test_sublist_einsum_regression():
    """np.einsum(a, [0, 1], B, [1, 2], [0, 2]) on a tensor raised AttributeError; now it is the product, with gradients."""
    a = wg.tensor(_normal((2, 3)), requires_grad=True)
    b = _normal((3, 4))
    out = np.einsum(a, [0, 1], b, [1, 2], [0, 2])
    np.testing.assert_allclose(out.data, a.data @ b)
    out.backward(np.ones((2, 4)))
    np.testing.assert_allclose(a.grad.data, np.ones((2, 4)) @ b.T)
    # the implicit output of the sublist form, and NumPy's explicit contraction paths
    np.testing.assert_allclose(wg.einsum(a, [0, 1], b, [1, 2]).data, a.data @ b)
    path = np.einsum_path("ij,jk->ik", a.data, b)[0]
    np.testing.assert_allclose(wg.einsum("ij,jk->ik", a, b, optimize=path).data, a.data @ b)


def test_results_are_named_like_numpys():
    a = _spd(2)
    assert L.svd(a)._fields == np.linalg.svd(a)._fields
    assert L.eigh(a)._fields == np.linalg.eigh(a)._fields
    assert L.eig(a)._fields == np.linalg.eig(a)._fields
    assert L.qr(a)._fields == np.linalg.qr(a)._fields
    assert L.slogdet(a)._fields == np.linalg.slogdet(a)._fields
    _, res, rank, s = L.lstsq(a, a[:, 0])
    assert int(rank.data) == 2 and res.shape == (0,) and s.shape == (2,)


# ------------------------------------------------------------------ the documented conventions
def test_repeated_eigenvalues_give_finite_eigenvalue_gradients():
    a = wg.tensor(np.eye(3), requires_grad=True)
    wg.sum(L.eigvalsh(a) * np.array([1.0, 2.0, 3.0])).backward()
    assert np.all(np.isfinite(a.grad.data))
    np.testing.assert_allclose(np.trace(a.grad.data), 6.0)  # d sum(c_i w_i) along I is sum(c_i)
    b = wg.tensor(np.eye(3), requires_grad=True)
    wg.sum(L.svdvals(b)).backward()
    np.testing.assert_allclose(b.grad.data, np.eye(3))


def test_projector_onto_a_repeated_eigenspace_has_the_exact_gradient():
    """The basis inside a repeated eigenspace is arbitrary, its projector is not: its gradient is exact there."""
    q, _ = np.linalg.qr(_normal((3, 3), 5))
    a = q @ np.diag([1.0, 1.0, 3.0]) @ q.T
    w = _normal((3, 3), 6)

    def f(x):
        v = L.eigh(x).eigenvectors[:, :2]
        return wg.sum((v @ v.T) * w)

    wg.gradcheck(f, a, modes=("rev", "fwd"), rtol=1e-5, atol=1e-6)


def test_zero_singular_values_give_finite_gradients():
    a = wg.tensor(np.outer([1.0, 2.0, 2.0], [1.0, -1.0]), requires_grad=True)  # rank 1
    wg.norm(a, "nuc").backward()
    u, _, vh = np.linalg.svd(a.data, full_matrices=False)
    np.testing.assert_allclose(a.grad.data, u @ vh, atol=1e-12)  # a subgradient of the nuclear norm


def test_eigh_and_cholesky_read_one_triangle():
    """The gradient lies on the triangle NumPy reads (eigh: UPLO, cholesky: upper)."""
    x = _spd(3)
    for f, lower in [(lambda a: L.eigvalsh(a), True), (lambda a: L.eigvalsh(a, UPLO="U"), False),
                     (lambda a: L.cholesky(a), True), (lambda a: L.cholesky(a, upper=True), False)]:
        t = wg.tensor(x, requires_grad=True)
        wg.sum(f(t) * _normal((3,) if f(t).ndim == 1 else (3, 3), 1)).backward()
        other = np.triu(t.grad.data, 1) if lower else np.tril(t.grad.data, -1)
        assert np.all(other == 0)


def test_under_jit():
    def f(a):
        s = L.svd(a, full_matrices=False).S
        return wg.sum(s) + wg.sum(L.eigh(a @ a.T).eigenvalues) + L.slogdet(a.T @ a).logabsdet

    x = _normal((3, 2))
    jf = wg.jit(f)
    np.testing.assert_allclose(_value(jf(x)), f(wg.tensor(x)).data, rtol=1e-12)
    np.testing.assert_allclose(_value(wg.grad(jf)(x)), _value(wg.grad(f)(x)), rtol=1e-10)
    np.testing.assert_allclose(_value(jf(x + 1.0)), f(wg.tensor(x + 1.0)).data, rtol=1e-12)  # replayed, not frozen


def test_hessian_of_logdet():
    """d^2 log det A = -A^-T (.) A^-T: wg.hessian (forward over reverse) against the formula."""
    a = _spd(3)
    h = wg.hessian(lambda x: L.slogdet(x).logabsdet)(a).data
    ainv = np.linalg.inv(a)
    np.testing.assert_allclose(h, -np.einsum("jk,li->ijkl", ainv, ainv), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("call,exc,match", [
    (lambda: L.svd(np.ones(3)), ValueError, r"svd: expects a matrix .* got shape \(3,\)"),
    (lambda: L.eigh(np.ones((2, 3))), ValueError, r"eigh: expects square matrices, got shape \(2, 3\)"),
    (lambda: L.eigh(np.eye(2), UPLO="X"), ValueError, "UPLO must be 'L' or 'U'"),
    (lambda: L.qr(np.eye(2), mode="raw"), ValueError, "mode must be 'reduced', 'complete' or 'r'"),
    (lambda: L.cholesky(-np.eye(2)), np.linalg.LinAlgError, "not positive definite"),
    (lambda: L.pinv(np.eye(2), rcond=1e-3, rtol=1e-3), ValueError, "rcond= or rtol=, not both"),
    (lambda: L.lstsq(np.eye(3), np.ones(2)), ValueError, "a has 3 rows but b has 2"),
    (lambda: L.matrix_power(np.eye(2), 1.5), TypeError, "exponent must be an integer"),
    (lambda: L.matrix_power(np.ones((2, 3)), 2), ValueError, "square"),
    (lambda: wg.norm(np.ones(3), "fro"), ValueError, "matrix norm; vector norms take a number"),
    (lambda: wg.norm(np.ones((2, 2)), 3), ValueError, "invalid norm order 3 for matrices"),
    (lambda: wg.norm(np.ones((2, 2, 2)), 2), ValueError, "give axis="),
    (lambda: wg.norm(np.ones((2, 2)), axis=(0, 0)), ValueError, "two different ones"),
    (lambda: wg.norm(np.ones(2), axis=3), np.exceptions.AxisError, "axis 3 is out of bounds"),
    (lambda: wg.tensordot(np.ones((2, 3)), np.ones((2, 3)), 1), ValueError, r"axis 1 of a \(size 3\) and axis 0 of b"),
    (lambda: wg.tensordot(np.ones(2), np.ones(2), 2), ValueError, "at least 2 dimensions"),
    (lambda: L.multi_dot([np.ones(2)]), ValueError, "at least two arrays"),
    (lambda: L.tensorinv(np.ones((2, 3)), 1), ValueError, "as many elements"),
    (lambda: wg.einsum("ij,jk", np.ones((2, 2))), ValueError, "name 2 operand"),
    (lambda: wg.einsum("ijk", np.ones((2, 2))), ValueError, r"operand 0 has shape \(2, 2\), but its subscripts 'ijk'"),
    (lambda: wg.einsum("i1", np.ones((2, 2))), ValueError, "use letters"),
    (lambda: wg.einsum("...i->i", np.ones((2, 2))), ValueError, "need a '...' in the output"),
    (lambda: wg.einsum("ij->ii", np.ones((2, 2))), ValueError, "must appear once in the output"),
    (lambda: wg.einsum("ij->k", np.ones((2, 2))), ValueError, "and in some operand"),
    (lambda: wg.einsum(np.ones(2), [60]), ValueError, "integers from 0 to 51"),
    (lambda: wg.einsum(np.ones(2), "i"), TypeError, "sublist form"),
    (lambda: wg.einsum("i", np.ones(2), out=np.ones(())), TypeError, "out= is not supported"),
    (lambda: wg.einsum("i", np.ones(2), dtype=float), TypeError, "dtype are not supported"),
])
def test_errors_are_clear(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ------------------------------------------------------------------ complex matrices
# A complex singular vector or eigenvector is unique only up to its phase (LAPACK picks one), so the functions
# differentiated here do not depend on it: values, |U|, U diag(c) Vh, V diag(c) V^-1, projectors.  The rules
# themselves are checked in the complex plane by tests/specs_linalg.py (COMPLEX_SPECS: svd@complex, ...).
def _cnormal(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _chpd(n, seed=0):
    """A Hermitian positive definite complex matrix, well conditioned."""
    x = _cnormal((n, n), seed) * 0.5
    return _mH(x) @ x + n * np.eye(n)


def _real_with_complex_eigs(seed=0):
    """A real 4 x 4 matrix with eigenvalues -1 +- i and 1 +- 2i."""
    p = np.eye(4) + 0.3 * _normal((4, 4), seed)
    blocks = np.array([[-1.0, 1.0, 0, 0], [-1.0, -1.0, 0, 0], [0, 0, 1.0, 2.0], [0, 0, -2.0, 1.0]])
    return p @ blocks @ np.linalg.inv(p)


def _flat(*parts):
    """Several results as one vector (so one gradcheck sees them all)."""
    return wg.concatenate([wg.reshape(p, (-1,)) for p in parts])


def _np_flat(*parts):
    return np.concatenate([np.reshape(p, -1) for p in parts])


def _c(k):
    return np.arange(1.0, k + 1.0)


def _mH(x):
    return np.conj(np.swapaxes(x, -1, -2))


def _svd_parts(a, full_matrices=False, hermitian=False):
    u, s, vh = L.svd(a, full_matrices=full_matrices, hermitian=hermitian)
    k = s.shape[-1]
    u1, vh1 = u[..., :k], vh[..., :k, :]
    return _flat(s, wg.abs(u1), wg.abs(vh1), (u1 * _c(k)) @ vh1)


def _np_svd_parts(a, full_matrices=False, hermitian=False):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices, hermitian=hermitian)
    k = s.shape[-1]
    u1, vh1 = u[..., :k], vh[..., :k, :]
    if hermitian:  # (NumPy's hermitian svd takes its vectors from eigh: their phases and |.| differ; U diag(c) Vh not)
        return _np_flat(s, (u1 * _c(k)) @ vh1)
    return _np_flat(s, np.abs(u1), np.abs(vh1), (u1 * _c(k)) @ vh1)


def _svd_complement(a):
    u, vh = L.svd(a).U, L.svd(a).Vh
    k = min(a.shape[-2:])
    u2, v2 = u[..., k:], wg.conj(wg.matrix_transpose(vh[..., k:, :]))
    return _flat(u2 @ wg.conj(wg.matrix_transpose(u2)), v2 @ wg.conj(wg.matrix_transpose(v2)))


def _np_svd_complement(a):
    u, _, vh = np.linalg.svd(a)
    k = min(a.shape[-2:])
    u2, v2 = u[..., k:], _mH(vh[..., k:, :])
    return _np_flat(u2 @ _mH(u2), v2 @ _mH(v2))


def _eigh_parts(a, UPLO="L"):
    w, v = L.eigh(a, UPLO=UPLO)
    return _flat(w, wg.abs(v), (v * _c(w.shape[-1])) @ wg.conj(wg.matrix_transpose(v)))


def _np_eigh_parts(a, UPLO="L"):
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return _np_flat(w, np.abs(v), (v * _c(w.shape[-1])) @ _mH(v))


def _eig_parts(a):
    w, v = L.eig(a)
    return _flat(w, wg.abs(v), (v * _c(w.shape[-1])) @ L.inv(v))


def _np_eig_parts(a):
    w, v = np.linalg.eig(a)
    return _np_flat(w, np.abs(v), (v * _c(w.shape[-1])) @ np.linalg.inv(v))


# name, function (a Tensor out), NumPy's reference, inputs
COMPLEX_CASES = [
    ("svd_parts_tall", _svd_parts, _np_svd_parts, [_cnormal((4, 3))]),
    ("svd_parts_wide_batched", _svd_parts, _np_svd_parts, [_cnormal((2, 2, 3), 1)]),
    ("svd_parts_full", lambda a: _svd_parts(a, True), lambda a: _np_svd_parts(a, True), [_cnormal((2, 4), 2)]),
    ("svd_complement", _svd_complement, _np_svd_complement, [_cnormal((4, 2), 3)]),
    ("svd_hermitian", lambda a: (lambda r: _flat(r.S, (r.U * _c(3)) @ r.Vh))(L.svd(a, hermitian=True)),
     lambda a: _np_svd_parts(a, hermitian=True), [_cnormal((3, 3), 4)]),
    ("svd_S", lambda a: L.svd(a, compute_uv=False), lambda a: np.linalg.svd(a, compute_uv=False), [_cnormal((3, 4), 5)]),
    ("svdvals_batched", L.svdvals, np.linalg.svdvals, [_cnormal((2, 3, 2), 6)]),
    ("norm_nuc", lambda a: wg.norm(a, "nuc"), lambda a: np.linalg.norm(a, "nuc"), [_cnormal((4, 3), 7)]),
    ("norm_nuc_axis", lambda a: wg.norm(a, "nuc", axis=(2, 0)), lambda a: np.linalg.norm(a, "nuc", axis=(2, 0)),
     [_cnormal((3, 2, 4), 8)]),
    ("norm_2", lambda a: wg.norm(a, 2), lambda a: np.linalg.norm(a, 2), [_cnormal((3, 3), 9)]),
    ("norm_-2", lambda a: wg.norm(a, -2), lambda a: np.linalg.norm(a, -2), [_cnormal((2, 3), 10)]),
    ("cond", L.cond, np.linalg.cond, [_cnormal((3, 3), 11)]),
    ("eigh_parts", _eigh_parts, _np_eigh_parts, [_cnormal((3, 3), 12)]),
    ("eigh_parts_U_batched", lambda a: _eigh_parts(a, "U"), lambda a: _np_eigh_parts(a, "U"), [_cnormal((2, 3, 3), 13)]),
    ("eigvalsh", L.eigvalsh, np.linalg.eigvalsh, [_cnormal((4, 4), 14)]),
    ("eig_parts", _eig_parts, _np_eig_parts, [_cnormal((3, 3), 15)]),
    ("eig_parts_batched", _eig_parts, _np_eig_parts, [_cnormal((2, 3, 3), 16)]),
    ("eig_parts_real_input", _eig_parts, _np_eig_parts, [_real_with_complex_eigs()]),
    ("eigvals_real_input", L.eigvals, np.linalg.eigvals, [_real_with_complex_eigs(1)]),
    ("eig_abs_real_random", lambda a: (lambda r: _flat(wg.abs(r[0]), wg.abs(r[1])))(L.eig(a)),
     lambda a: (lambda r: _np_flat(np.abs(r[0]), np.abs(r[1])))(np.linalg.eig(a)), [_normal((5, 5), 17)]),
    # unique factors (LAPACK's complex R has a real diagonal; L has a positive one): the parts themselves
    ("qr", lambda a: _flat(*L.qr(a)), lambda a: _np_flat(*np.linalg.qr(a)), [_cnormal((4, 3), 18)]),
    ("qr_r_wide", lambda a: L.qr(a, mode="r"), lambda a: np.linalg.qr(a, mode="r"), [_cnormal((2, 3), 19)]),
    ("qr_complete_R_batched", lambda a: L.qr(a, mode="complete").R, lambda a: np.linalg.qr(a, mode="complete")[1],
     [_cnormal((2, 3, 2), 20)]),
    ("cholesky", L.cholesky, np.linalg.cholesky, [_chpd(3, 21)]),
    ("cholesky_upper_batched", lambda a: L.cholesky(a, upper=True), lambda a: np.linalg.cholesky(a, upper=True),
     [np.stack([_chpd(3, 22), _chpd(3, 23)])]),
    ("slogdet", lambda a: _flat(*L.slogdet(a)), lambda a: _np_flat(*np.linalg.slogdet(a)), [_cnormal((3, 3), 24)]),
    ("slogdet_logabsdet_batched", lambda a: L.slogdet(a).logabsdet, lambda a: np.linalg.slogdet(a)[1],
     [_cnormal((2, 3, 3), 25)]),
    ("pinv", L.pinv, np.linalg.pinv, [_cnormal((4, 3), 26)]),
    ("pinv_hermitian", lambda a: L.pinv(a, hermitian=True), lambda a: np.linalg.pinv(a, hermitian=True),
     [_chpd(3, 27)]),
    ("lstsq_x", lambda a, b: L.lstsq(a, b)[0], lambda a, b: np.linalg.lstsq(a, b)[0], [_cnormal((4, 2), 28),
                                                                                         _cnormal((4, 3), 29)]),
    ("lstsq_residuals", lambda a, b: L.lstsq(a, b)[1], lambda a, b: np.linalg.lstsq(a, b)[1],
     [_cnormal((4, 2), 30), _cnormal((4,), 31)]),
    ("matrix_power_-2", lambda a: L.matrix_power(a, -2), lambda a: np.linalg.matrix_power(a, -2),
     [2 * np.eye(3) + 0.3 * _cnormal((3, 3), 32)]),
]
COMPLEX_IDS = [c[0] for c in COMPLEX_CASES]


@pytest.mark.parametrize("name,f,ref,inputs", COMPLEX_CASES, ids=COMPLEX_IDS)
def test_complex_values_match_numpy(name, f, ref, inputs):
    out = f(*[wg.tensor(x) for x in inputs])
    want = ref(*inputs)
    assert out.dtype == np.asarray(want).dtype
    np.testing.assert_allclose(out.data, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,f,ref,inputs", COMPLEX_CASES, ids=COMPLEX_IDS)
def test_complex_derivatives_to_second_order(name, f, ref, inputs):
    """In the complex plane: the Jacobian in both modes, and the VJP's and the JVP's own derivatives."""
    check_grads(f, *inputs, order=2)


@pytest.mark.parametrize("name", ["svd_parts_tall", "svd_S", "norm_nuc", "eigh_parts", "eig_parts",
                                  "eig_parts_real_input", "qr", "cholesky", "slogdet", "pinv"])
def test_complex_vmap_matches_a_loop(name):
    _, f, _, inputs = COMPLEX_CASES[COMPLEX_IDS.index(name)]
    x0 = inputs[0]
    rng = np.random.default_rng(3)
    batch = np.stack([x0 + 0.01 * rng.standard_normal(x0.shape) for _ in range(3)])
    g = wg.grad(lambda x: wg.sum(wg.real(f(x) * (1.5 - 0.5j))))
    np.testing.assert_allclose(_value(wg.vmap(f)(batch)), np.stack([_value(f(x)) for x in batch]), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(_value(wg.vmap(g)(batch)), np.stack([_value(g(x)) for x in batch]), rtol=1e-9,
                               atol=1e-12)


def test_complex_decompositions_have_numpys_dtypes():
    """Singular values and eigh's eigenvalues are real; eig of a real matrix is complex iff its eigenvalues are."""
    z = _cnormal((3, 3))
    assert L.svd(z).S.dtype == np.float64 and L.svd(z).U.dtype == np.complex128
    assert L.eigh(z).eigenvalues.dtype == np.float64 and L.eigvalsh(z).dtype == np.float64
    assert L.svdvals(z.astype(np.complex64)).dtype == np.float32
    assert L.eig(_real_with_complex_eigs()).eigenvalues.dtype == np.complex128
    assert L.eig(_real_eigs(3)).eigenvalues.dtype == np.float64
    assert L.lstsq(z[:2], z[:2, 0])[1].dtype == np.linalg.lstsq(z[:2], z[:2, 0])[1].dtype == np.float64  # (empty)
    assert L.lstsq(z, z[:, :2])[1].dtype == np.float64 and L.slogdet(z).logabsdet.dtype == np.float64
    # the gradient of a real input is real, though the eigenvalues are complex
    g = wg.grad(lambda a: wg.sum(wg.real(L.eigvals(a)) ** 2 + wg.imag(L.eigvals(a))))(_real_with_complex_eigs())
    assert g.dtype == np.float64


def test_complex_eigh_reads_one_triangle_and_the_real_diagonal():
    """As LAPACK: the imaginary parts of the diagonal and the other triangle are not read; their gradient is 0."""
    z = _cnormal((3, 3), 1)
    for uplo, other in (("L", lambda g: np.triu(g, 1)), ("U", lambda g: np.tril(g, -1))):
        t = wg.tensor(z, requires_grad=True)
        wg.sum(L.eigvalsh(t, UPLO=uplo) * np.array([1.0, -2.0, 3.0])).backward()
        assert np.all(other(t.grad.data) == 0) and np.all(np.diag(t.grad.data).imag == 0)
        h = np.tril(z) if uplo == "L" else np.triu(z)
        h = h + _mH(h) - np.diag(np.diag(h).real)
        np.testing.assert_allclose(L.eigvalsh(z, UPLO=uplo).data, np.linalg.eigvalsh(h), rtol=1e-12)


def test_complex_repeated_values_give_finite_value_gradients():
    """A unitary matrix: all singular values 1, the nuclear norm's gradient is conj(U Vh) = conj(Q); a zero singular
    value (the subgradient conj(U Vh), as for real matrices); a repeated eigenvalue of a Hermitian matrix."""
    q, _ = np.linalg.qr(_cnormal((3, 3), 2))
    np.testing.assert_allclose(wg.grad(lambda a: wg.norm(a, "nuc"))(q), np.conj(q), atol=1e-12)
    a = np.outer([1.0, 2.0j, 2.0], [1.0, -1.0 + 1.0j])           # rank 1: a zero singular value, 1/s taken as 0
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(wg.grad(lambda x: wg.norm(x, "nuc"))(a), np.conj(u @ vh), atol=1e-12)
    h = q @ np.diag([1.0, 1.0, 3.0]) @ _mH(q)                  # a repeated eigenvalue of a Hermitian matrix
    g = wg.grad(lambda a: wg.sum(L.eigvalsh(a) * np.array([1.0, 2.0, 3.0])))(h)
    assert np.all(np.isfinite(g))


# PyTorch as a second oracle: torch.autograd.grad(L, z) == conj(wg.grad(L)(z)) for a real loss L (docs/complex.md)
def _both_complex(fw, ft, z):
    t = wg.tensor(z, requires_grad=True)
    out = fw(t)
    out.backward()
    zt = torch.tensor(z, requires_grad=True)
    ot = ft(zt)
    ot.backward()
    np.testing.assert_allclose(out.data, ot.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.conj(t.grad.data), zt.grad.resolve_conj().numpy(), rtol=1e-8, atol=1e-10)


def test_complex_svd_matches_torch():
    c = _c(3)

    def fw(a):
        u, s, vh = L.svd(a, full_matrices=False)
        return wg.sum(s * W43) + wg.sum(wg.abs(u) * W4) + wg.sum(wg.abs(vh) ** 2 * W3) + wg.sum(wg.real((u * c) @ vh))

    def ft(a):
        u, s, vh = torch.linalg.svd(a, full_matrices=False)
        return ((s * torch.tensor(W43)).sum() + (u.abs() * torch.tensor(W4)).sum()
                + (vh.abs() ** 2 * torch.tensor(W3)).sum() + ((u * torch.tensor(c)) @ vh).real.sum())

    _both_complex(fw, ft, _cnormal((4, 3), 1))
    _both_complex(lambda a: wg.sum(L.matrix_norm(a, ord="nuc")), lambda a: torch.linalg.matrix_norm(a, "nuc").sum(),
                  _cnormal((2, 3, 4), 2))


def test_complex_qr_cholesky_slogdet_pinv_lstsq_match_torch():
    w43 = W4 + 1j * _normal((4, 3), 31)
    w33 = W3 - 2j * _normal((3, 3), 32)

    def part(x, w):
        return wg.sum(wg.real(x * w)) if isinstance(x, wg.Tensor) else (x * torch.tensor(w)).real.sum()

    for fw, ft, x in [
        (lambda a: part(L.qr(a).Q, w43) + part(L.qr(a).R, w33),
         lambda a: part(torch.linalg.qr(a).Q, w43) + part(torch.linalg.qr(a).R, w33), _cnormal((4, 3), 1)),
        (lambda a: part(L.cholesky((a + wg.conj(a.T)) * 0.5), w33),
         lambda a: part(torch.linalg.cholesky((a + a.conj().T) * 0.5), w33), _chpd(3, 2)),
        (lambda a: part(L.slogdet(a).sign, 1 - 2j) + L.slogdet(a).logabsdet,
         lambda a: part(torch.linalg.slogdet(a).sign, 1 - 2j) + torch.linalg.slogdet(a).logabsdet, _cnormal((3, 3), 3)),
        (lambda a: part(L.pinv(a), w43.T), lambda a: part(torch.linalg.pinv(a), w43.T), _cnormal((4, 3), 4)),
        (lambda a: part(L.lstsq(a, w43[:, :2])[0], w33[:, :2]),
         lambda a: part(torch.linalg.lstsq(a, torch.tensor(w43[:, :2])).solution, w33[:, :2]), _cnormal((4, 3), 5)),
    ]:
        _both_complex(fw, ft, x)


def test_complex_eigh_matches_torch():
    # on the Hermitian part: PyTorch's gradient is the Hermitian one, wengert's reads the lower triangle
    def fw(a):
        w, v = L.eigh((a + wg.conj(a.T)) * 0.5)
        return wg.sum(w * W43) + wg.sum(wg.abs(v) * W3)

    def ft(a):
        w, v = torch.linalg.eigh((a + a.conj().T) * 0.5)
        return (w * torch.tensor(W43)).sum() + (v.abs() * torch.tensor(W3)).sum()

    _both_complex(fw, ft, _cnormal((3, 3), 3))


def test_complex_eig_matches_torch():
    def fw(a):
        w, v = L.eig(a)
        return wg.sum(wg.real(w * (W43 + 2j))) + wg.sum(wg.abs(v) * W3)

    def ft(a):
        w, v = torch.linalg.eig(a)
        return (w * (torch.tensor(W43) + 2j)).real.sum() + (v.abs() * torch.tensor(W3)).sum()

    _both_complex(fw, ft, _cnormal((3, 3), 4))
    # a real matrix with complex eigenvalues: a real gradient (PyTorch's is real too)
    x = _real_with_complex_eigs(2)[:3, :3]
    t = wg.tensor(x, requires_grad=True)
    fw(t).backward()
    xt = torch.tensor(x, requires_grad=True)
    ft(xt).backward()
    assert t.grad.dtype == np.float64
    np.testing.assert_allclose(t.grad.data, xt.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_complex_decompositions_under_jit():
    z = _cnormal((3, 3), 5)
    f = lambda a: wg.sum(L.svdvals(a)) + wg.sum(wg.abs(L.eig(a).eigenvectors)) + wg.sum(L.eigvalsh(a) ** 2)
    jg = wg.jit(wg.grad(f))
    for x in (z, z + 0.1j):  # traced, then replayed
        np.testing.assert_allclose(jg(x), wg.grad(f)(x), rtol=1e-10)


def test_eig_of_a_real_matrix_under_jit_refuses_a_change_of_dtype():
    """NumPy's eig of a real matrix is real or complex by the values; a program compiled for one refuses the other."""
    g = wg.jit(wg.grad(lambda a: wg.sum(wg.abs(L.eigvals(a)))))
    np.testing.assert_allclose(g(_real_eigs(3)), wg.grad(lambda a: wg.sum(wg.abs(L.eigvals(a))))(_real_eigs(3)))
    with pytest.raises(ValueError, match=r"^eig: this real matrix has complex eigenvalues, but wg.jit compiled .* "
                                         r"pass a complex matrix \(a.astype\(complex\)\)"):
        g(np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]))  # eigenvalues +-i, 2
    h = wg.jit(lambda a: L.eigvals(a))
    np.testing.assert_allclose(h(_real_with_complex_eigs()), np.linalg.eigvals(_real_with_complex_eigs()))
    with pytest.raises(ValueError, match="has all real eigenvalues, but wg.jit compiled the function for one with "
                                         "complex eigenvalues"):
        h(np.diag([1.0, 2.0, 3.0, 4.0]))
