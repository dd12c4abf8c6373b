"""The NumPy surface of issue 11 (wengert/ops/numpy_ext.py): composites checked the way tests/test_ops.py checks
primitives, the wrong values of the issue as regression tests, conventions at kinks, NumPy dispatch, wg.r_ / wg.c_,
bad inputs, and the generated page docs/numpy.md.

Each composite case is one function written with ``np.*`` calls: on ndarrays it is NumPy's reference, on tensors it
runs wengert's functions through NumPy dispatch.  Each is checked for its values, its first derivatives in reverse
and forward mode against central finite differences (float64), its second derivatives (the gradient's own
derivatives, both modes), wg.vmap against a loop, and wg.jit against eager calls.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import wengert as wg
from wengert.core.state import ConcretizationError

RNG = np.random.default_rng(11)


def _normal(*shape):
    return RNG.standard_normal(shape)


def _distinct(*shape):
    n = int(np.prod(shape)) if shape else 1
    return (RNG.permutation(n).reshape(shape) * 0.37 + RNG.uniform(-0.05, 0.05, shape)).astype(np.float64)


def _flat(out):
    """One array of a function's outputs (several outputs, e.g. split's pieces, raveled and joined)."""
    if isinstance(out, (list, tuple)):
        return np.concatenate([np.ravel(o) for o in out]) if out else np.zeros(0)
    return out


# name, f (written with np.*), inputs (float64 arrays; the first is differentiated unless wrt says otherwise)
CASES = [
    # stacking and splitting
    ("vstack_1d", lambda x, y: np.vstack([x, y]), [_normal(3), _normal(3)]),
    ("vstack_2d", lambda x, y: np.vstack((x, y)), [_normal(2, 3), _normal(1, 3)]),
    ("hstack_1d", lambda x, y: np.hstack([x, y]), [_normal(2), _normal(3)]),
    ("hstack_2d", lambda x, y: np.hstack([x, y]), [_normal(2, 1), _normal(2, 3)]),
    ("dstack", lambda x, y: np.dstack([x, y]), [_normal(2, 3), _normal(2, 3)]),
    ("column_stack", lambda x, y: np.column_stack([x, y]), [_normal(3), _normal(3, 2)]),
    ("append_flat", lambda x, y: np.append(x, y), [_normal(2, 2), _normal(3)]),
    ("append_axis", lambda x, y: np.append(x, y, axis=0), [_normal(2, 3), _normal(1, 3)]),
    ("array_split", lambda x: np.array_split(x, 3, axis=1), [_normal(2, 7)]),
    ("array_split_idx", lambda x: np.array_split(x, [1, 4]), [_normal(5, 2)]),
    ("vsplit", lambda x: np.vsplit(x, [1, 3]), [_normal(4, 2)]),
    ("hsplit", lambda x: np.hsplit(x, 2), [_normal(2, 4)]),
    ("dsplit", lambda x: np.dsplit(x, [1]), [_normal(2, 2, 3)]),
    ("atleast_1d", lambda x: np.atleast_1d(x), [_normal()]),
    ("atleast_2d", lambda x: np.atleast_2d(x), [_normal(3)]),
    ("atleast_3d", lambda x, y: np.atleast_3d(x, y), [_normal(3), _normal(2, 3)]),
    # scans
    ("cumsum_flat", lambda x: np.cumsum(x), [_normal(2, 3)]),
    ("cumsum_axis", lambda x: np.cumsum(x, axis=0), [_normal(3, 2)]),
    ("cumprod_axis", lambda x: np.cumprod(x, axis=1), [_normal(2, 4)]),
    ("cumprod_zeros", lambda x: np.cumprod(x), [np.array([1.5, 0.0, -2.0, 0.0, 0.7])]),
    ("cumulative_sum", lambda x: np.cumulative_sum(x, axis=1, include_initial=True), [_normal(2, 3)]),
    # sorting
    ("sort", lambda x: np.sort(x, axis=0), [_distinct(3, 4)]),
    ("sort_flat", lambda x: np.sort(x, axis=None), [_distinct(2, 3)]),
    ("partition", lambda x: np.partition(x, 2), [_distinct(2, 5)]),
    # matrices and axes
    ("tril", lambda x: np.tril(x, -1), [_normal(3, 4)]),
    ("triu_batched", lambda x: np.triu(x, 1), [_normal(2, 3, 3)]),
    ("tril_1d", lambda x: np.tril(x), [_normal(3)]),
    ("trace", lambda x: np.trace(x), [_normal(3, 3)]),
    ("trace_offset", lambda x: np.trace(x, offset=1), [_normal(3, 4)]),
    ("trace_axes", lambda x: np.trace(x, -1, 2, 0), [_normal(3, 2, 4)]),
    ("diagonal", lambda x: np.diagonal(x, 1, -1, -2), [_normal(2, 4, 3)]),
    ("diag_of_matrix", lambda x: np.diag(x, -1), [_normal(3, 3)]),
    ("diag_of_vector", lambda x: np.diag(x, 1), [_normal(3)]),
    ("diagflat", lambda x: np.diagflat(x, -1), [_normal(2, 2)]),
    ("flipud", lambda x: np.flipud(x), [_normal(3, 2)]),
    ("fliplr", lambda x: np.fliplr(x), [_normal(2, 3)]),
    ("rot90", lambda x: np.rot90(x), [_normal(2, 3)]),
    ("rot90_k3_axes", lambda x: np.rot90(x, 3, axes=(1, 2)), [_normal(2, 3, 2)]),
    ("rot90_k2", lambda x: np.rot90(x, 2), [_normal(2, 3)]),
    ("rollaxis", lambda x: np.rollaxis(x, 2), [_normal(2, 3, 4)]),
    ("roll", lambda x: np.roll(x, 2, axis=1), [_normal(2, 3)]),
    ("roll_flat", lambda x: np.roll(x, -4), [_normal(2, 3)]),
    ("roll_axes", lambda x: np.roll(x, (1, -1), axis=(0, 1)), [_normal(3, 2)]),
    ("kron", lambda x, y: np.kron(x, y), [_normal(2, 2), _normal(3)]),
    ("kron_3d", lambda x, y: np.kron(x, y), [_normal(1, 2), _normal(2, 1, 2)]),
    ("inner", lambda x, y: np.inner(x, y), [_normal(2, 3), _normal(4, 3)]),
    ("inner_scalar", lambda x, y: np.inner(x, y), [_normal(), _normal(3)]),
    ("cross", lambda x, y: np.cross(x, y), [_normal(4, 3), _normal(3)]),
    ("cross_axes", lambda x, y: np.cross(x, y, axisa=0, axisb=1, axisc=0), [_normal(3, 2), _normal(2, 3)]),
    ("dot_nd", lambda x, y: np.dot(x, y), [_normal(2, 3, 4), _normal(2, 4, 3)]),
    ("dot_vec_nd", lambda x, y: np.dot(x, y), [_normal(3), _normal(2, 3, 2)]),
    ("dot_nd_vec", lambda x, y: np.dot(x, y), [_normal(2, 2, 3), _normal(3)]),
    # differences, selection, cleaning
    ("diff", lambda x: np.diff(x, 2, axis=0), [_normal(4, 2)]),
    ("diff_edges", lambda x, y: np.diff(x, prepend=0.5, append=y), [_normal(2, 3), _normal(2, 1)]),
    ("gradient", lambda x: np.gradient(x), [_normal(5)]),
    ("gradient_axes", lambda x: np.gradient(x, 0.5, axis=(1, 0)), [_normal(3, 4)]),
    ("gradient_coords", lambda x: np.gradient(x, [0.0, 0.5, 1.5, 1.75], edge_order=2), [_normal(4)]),
    ("select", lambda x, y: np.select([x > 0.5, x < -0.5], [x, 2.0 * y], -1.0), [_normal(2, 3), _normal(3)]),
    ("nan_to_num", lambda x: np.nan_to_num(x + np.array([0.0, np.nan, np.inf, -np.inf]), posinf=9.0), [_normal(4)]),
    ("linspace", lambda x, y: np.linspace(x, y, 5), [_normal(), _normal()]),
    ("linspace_arrays", lambda x, y: np.linspace(x, y, 4, endpoint=False, axis=1), [_normal(2), _normal(2)]),
    # unary ufuncs written as composites
    ("fabs", lambda x: np.fabs(x), [np.array([-1.5, 0.3, 2.0])]),
    ("degrees", lambda x: np.degrees(x), [_normal(3)]),
    ("radians", lambda x: np.radians(x), [_normal(3)]),
]


def _tensors(arrays, wrt):
    return [wg.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]


@pytest.mark.parametrize("name,f,arrays", CASES, ids=[c[0] for c in CASES])
def test_composite_values_and_derivatives(name, f, arrays):
    wrt = tuple(range(len(arrays)))
    want = f(*arrays)
    got = f(*_tensors(arrays, wrt))
    # values: the same structure as NumPy's, each piece a Tensor equal to NumPy's
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want)
        for g, w in zip(got, want):
            assert isinstance(g, wg.Tensor) and g.dtype == w.dtype
            np.testing.assert_allclose(g.data, w, rtol=1e-12, atol=1e-12)
    else:
        assert isinstance(got, wg.Tensor) and got.shape == np.shape(want) and got.dtype == np.asarray(want).dtype
        np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)

    flat = lambda *a: _flat(f(*a))
    # first derivatives, reverse and forward mode, against central finite differences
    assert wg.gradcheck(flat, *arrays, modes=("rev", "fwd"), atol=1e-6, rtol=1e-5).ok
    # second derivatives: the derivatives of <u, J> (reverse over reverse and forward over reverse)
    u = RNG.standard_normal(np.shape(flat(*arrays)))
    first = wg.grad(lambda *a: wg.sum(flat(*a) * u), argnums=wrt)
    assert wg.gradcheck(lambda *a: wg.concatenate([wg.ravel(g) for g in first(*a)]), *arrays,
                        modes=("rev", "fwd"), atol=1e-5, rtol=1e-4).ok


@pytest.mark.parametrize("name,f,arrays", CASES, ids=[c[0] for c in CASES])
def test_composite_vmap_and_jit(name, f, arrays):
    flat = lambda *a: _flat(f(*a))
    # wg.vmap over a batch of the first input equals a loop over it
    batch = np.stack([arrays[0] + 0.01 * k for k in range(3)])
    got = wg.vmap(flat, in_axes=(0,) + (None,) * (len(arrays) - 1))(batch, *arrays[1:])
    want = np.stack([np.asarray(flat(*_tensors([b, *arrays[1:]], ())).data) for b in batch])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # wg.jit: the same values and gradient, on the inputs it traced and on others (nothing frozen at trace time)
    u = RNG.standard_normal(np.shape(want)[1:])
    loss = lambda *a: wg.sum(flat(*a) * u)
    jitted, jitted_grad = wg.jit(flat), wg.jit(wg.grad(loss))
    for k in range(2):
        xs = [arrays[0][::-1].copy() if k and arrays[0].ndim == 1 else arrays[0] * (1 - 2 * k), *arrays[1:]]
        np.testing.assert_allclose(jitted(*xs), flat(*_tensors(xs, ())).data, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(jitted_grad(*xs), wg.grad(loss)(*xs), rtol=1e-12, atol=1e-12)


def test_wg_names_and_methods_agree_with_numpy_dispatch():
    x = _normal(3, 4)
    t = wg.tensor(x, requires_grad=True)
    same = [
        (wg.cumsum(t, 1), t.cumsum(axis=1), np.cumsum(x, 1)),
        (wg.cumprod(t), t.cumprod(), np.cumprod(x)),
        (wg.sort(t, 0), t.sort(axis=0), np.sort(x, 0)),
        (wg.argsort(t), t.argsort(), np.argsort(x)),
        (wg.partition(t, 1), t.partition(1), np.partition(x, 1)),
        (np.trace(t, 1), t.trace(offset=1), np.trace(x, 1)),
        (wg.diagonal(t), t.diagonal(), np.diagonal(x)),
        (wg.tril(t), t.tril(), np.tril(x)),
        (wg.triu(t, 1), t.triu(1), np.triu(x, 1)),
        (wg.roll(t, 1), t.roll(1), np.roll(x, 1)),
        (wg.diff(t), t.diff(), np.diff(x)),
        (wg.round(t, 1), t.round(1), np.round(x, 1)),
        (wg.around(t), wg.floor(t + 0.5) - (wg.remainder(t + 0.5, 2.0) == 1.0), np.around(x)),
        (wg.rot90(t), t.rot90(), np.rot90(x)),
        (wg.flipud(t), t.flipud(), np.flipud(x)),
        (wg.nan_to_num(t), t.nan_to_num(), np.nan_to_num(x)),
        (wg.arcsinh(t), t.arcsinh(), np.arcsinh(x)),
        (wg.asinh(t), wg.sinc(t) * 0 + wg.arcsinh(t), np.arcsinh(x)),
        (wg.log2(t * t), (t * t).log2(), np.log2(x * x)),
        (wg.hypot(t, 2.0), t.hypot(2.0), np.hypot(x, 2.0)),
        (wg.mod(t, 0.7), t.remainder(0.7), np.mod(x, 0.7)),
        (wg.row_stack([t, t]), wg.vstack([t, t]), np.vstack([x, x])),
        (wg.cross(t[:, :3], t[:, 1:]), wg.cross(t[:, :3], t[:, 1:]), np.cross(x[:, :3], x[:, 1:])),
    ]
    for a, b, want in same:
        assert isinstance(a, wg.Tensor) and isinstance(b, wg.Tensor)
        np.testing.assert_allclose(a.data, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(b.data, want, rtol=1e-12, atol=1e-12)
    # PyTorch's form of sort: values and indices
    values, indices = t.sort(dim=1, descending=True)
    np.testing.assert_array_equal(indices.data, np.argsort(-x, axis=1))
    np.testing.assert_allclose(values.data, -np.sort(-x, axis=1))


# ------------------------------------------------------------------ the wrong values of the issue
def test_std_over_a_length_one_axis_has_gradient_zero_in_every_mode():
    x = _normal(3, 1)
    f = lambda v: wg.sum(wg.std(v, axis=1))
    assert np.array_equal(wg.grad(f)(x), np.zeros((3, 1)))
    assert np.array_equal(wg.jvp(lambda v: wg.std(v, axis=1), (x,), (np.ones((3, 1)),))[1], np.zeros(3))
    assert np.array_equal(wg.hessian(f)(x), np.zeros((3, 1, 3, 1)))
    t = wg.tensor(x, requires_grad=True)
    np.std(t, axis=1, keepdims=True).sum().backward()
    assert np.array_equal(t.grad.data, np.zeros((3, 1)))


def test_std_elsewhere_is_unchanged_and_zero_spread_matches_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])  # the second row has no spread
    t = wg.tensor(x, requires_grad=True)
    wg.std(t, axis=1, ddof=1).sum().backward()
    tt = torch.tensor(x, requires_grad=True)
    tt.std(dim=1).sum().backward()
    np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=1e-12)
    assert wg.gradcheck(lambda v: wg.std(v, axis=0), _normal(4, 2), modes=("rev", "fwd")).ok


def test_power_with_exponent_zero_at_zero_has_derivative_zero_in_every_mode():
    x = np.array([0.0, 1.5, 2.0])
    f = lambda v: wg.sum(v**0.0)
    assert np.array_equal(wg.grad(f)(x), np.zeros(3))
    assert np.array_equal(wg.jvp(lambda v: v**0.0, (x,), (np.ones(3),))[1], np.zeros(3))
    assert np.array_equal(wg.hessian(f)(x), np.zeros((3, 3)))
    assert wg.grad(lambda v: v**0.0)(0.0) == 0.0  # the scalar path
    # a tensor exponent holding zeros: d/dx = 0 there, d/dy = x^y log x = 0 at x = 0
    y = np.array([0.0, 2.0, 0.0])
    gx, gy = wg.grad(lambda a, b: wg.sum(a**b), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, [0.0, 3.0, 0.0])
    np.testing.assert_allclose(gy, [0.0, 2.25 * math.log(1.5), math.log(2.0)])
    h = wg.hessian(lambda a: wg.sum(a ** y))(x)
    np.testing.assert_allclose(h, np.diag([0.0, 2.0, 0.0]))
    assert wg.gradcheck(lambda a, b: a**b, np.array([0.5, 1.5]), np.array([0.0, 2.0]), modes=("rev", "fwd")).ok


# ------------------------------------------------------------------ exactness and conventions
@pytest.mark.parametrize("x", [
    [1.5, 0.0, -2.0, 0.7], [0.0, 1.2, 0.0, 2.0], [0.0, 0.0, 0.0], [2.0, -1.0, 0.5, 0.0], [0.3, 0.5],
])
def test_cumprod_is_exact_at_zeros_against_pytorch_and_finite_differences(x):
    torch = pytest.importorskip("torch")
    x = np.array(x)
    u = np.arange(1.0, len(x) + 1)
    t = wg.tensor(x, requires_grad=True)
    (wg.cumprod(t) * u).sum().backward()
    tt = torch.tensor(x, requires_grad=True)
    (torch.cumprod(tt, 0) * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert wg.gradcheck(lambda v: wg.cumprod(v), x, modes=("rev", "fwd")).ok  # (a polynomial: FD is exact)


def test_sinc_is_exact_at_zero_in_every_order():
    assert wg.sinc(0.0).item() == 1.0
    assert wg.grad(wg.sinc)(0.0) == 0.0
    np.testing.assert_allclose(wg.grad(wg.grad(wg.sinc))(0.0), -math.pi**2 / 3, rtol=1e-12)
    np.testing.assert_allclose(wg.grad(wg.grad(wg.grad(wg.grad(wg.sinc))))(0.0), math.pi**4 / 5, rtol=1e-9)
    x = np.array([0.0, 1e-9, -3e-3, 0.009, 0.011, 0.4, -1.7])
    assert wg.gradcheck(lambda v: wg.sinc(v), x, modes=("rev", "fwd")).ok
    assert wg.gradcheck(wg.grad(lambda v: wg.sum(wg.sinc(v))), x, modes=("rev", "fwd"), atol=1e-5).ok


def test_elementwise_gradients_agree_with_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([0.3, -0.7, 0.55])
    y = np.array([1.3, 0.4, -0.9])
    pairs = [
        (wg.arcsin, torch.arcsin, x), (wg.arccos, torch.arccos, x), (wg.arctanh, torch.arctanh, x),
        (wg.arcsinh, torch.arcsinh, y), (wg.arccosh, torch.arccosh, y * y + 1.0), (wg.log2, torch.log2, y * y),
        (wg.log10, torch.log10, y * y), (wg.exp2, torch.exp2, y), (wg.reciprocal, torch.reciprocal, y),
        (wg.sinc, torch.sinc, y), (wg.rad2deg, torch.rad2deg, y), (wg.deg2rad, torch.deg2rad, y),
        (lambda a: wg.arctan2(a, y), lambda a: torch.atan2(a, torch.tensor(y)), x),
        (lambda a: wg.hypot(a, y), lambda a: torch.hypot(a, torch.tensor(y)), x),
        (lambda a: wg.logaddexp(a, y), lambda a: torch.logaddexp(a, torch.tensor(y)), x),
        (lambda a: wg.logaddexp2(a, y), lambda a: torch.logaddexp2(a, torch.tensor(y)), x),
        (lambda a: wg.remainder(y, a), lambda a: torch.remainder(torch.tensor(y), a), x),
        (lambda a: wg.fmod(y, a), lambda a: torch.fmod(torch.tensor(y), a), x),
        (lambda a: wg.fmax(a, y), lambda a: torch.fmax(a, torch.tensor(y)), x),
    ]
    for ours, theirs, v in pairs:
        t = wg.tensor(v, requires_grad=True)
        ours(t).sum().backward()
        tt = torch.tensor(v, requires_grad=True)
        out = theirs(tt)
        np.testing.assert_allclose(ours(v).data, out.detach().numpy(), rtol=1e-12)
        out.sum().backward()
        np.testing.assert_allclose(t.grad.data, tt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_fmax_and_fmin_give_the_gradient_to_the_number_beside_a_nan():
    x = np.array([1.0, np.nan, 2.0, np.nan])
    y = np.array([np.nan, 3.0, 2.0, np.nan])
    for fn in (wg.fmax, wg.fmin):
        gx, gy = wg.grad(lambda a, b, fn=fn: wg.sum(wg.where(wg.isnan(fn(a, b)), 0.0, fn(a, b))), argnums=(0, 1))(x, y)
        np.testing.assert_array_equal(gx, [1.0, 0.0, 0.5, 0.0])  # (a tie splits it; both NaN: none counted)
        np.testing.assert_array_equal(gy, [0.0, 1.0, 0.5, 0.0])


def test_hypot_at_the_origin_has_gradient_zero():
    assert wg.grad(lambda a: wg.hypot(a, 0.0))(0.0) == 0.0
    np.testing.assert_array_equal(wg.grad(lambda a: wg.sum(wg.hypot(a, np.zeros(2))))(np.zeros(2)), [0.0, 0.0])


def test_remainder_operators_and_floor_division():
    x = np.array([2.5, -1.25, 0.7])
    t = wg.tensor(x, requires_grad=True)
    np.testing.assert_allclose((t % 0.6).data, x % 0.6)
    np.testing.assert_allclose((2.0 % (t + 3.0)).data, 2.0 % (x + 3.0))
    np.testing.assert_allclose((t // 0.6).data, x // 0.6)
    np.testing.assert_allclose((1.0 // (t + 3.0)).data, 1.0 // (x + 3.0))
    assert not (t // 0.6).requires_grad
    (t % 0.6 + (2.0 % (t + 3.0))).sum().backward()
    np.testing.assert_allclose(t.grad.data, 1.0 - np.floor(2.0 / (x + 3.0)))
    s = wg.tensor(7.5, requires_grad=True)  # the scalar fast path: Python's % on floats is NumPy's remainder
    (s % -2.0).backward()
    assert (s % -2.0).item() == 7.5 % -2.0 and s.grad.item() == 1.0


@pytest.mark.parametrize("fn", ["floor", "ceil", "trunc", "rint", "round", "fix", "floor_divide"])
def test_non_differentiable_functions_give_zero_gradient(fn):
    x = np.array([0.4, -1.6, 2.5])
    f = (lambda v: wg.floor_divide(v, 0.7)) if fn == "floor_divide" else getattr(wg, fn)
    t = wg.tensor(x, requires_grad=True)
    assert not f(t).requires_grad
    np.testing.assert_array_equal(wg.grad(lambda v: wg.sum(f(v) * v))(x), f(x).data)  # d(f v)/dv = f
    np.testing.assert_array_equal(wg.jvp(f, (x,), (np.ones(3),))[1], np.zeros(3))


def test_sort_gradient_follows_values_under_jit_and_vmap():
    f = lambda v: np.sort(v)[0] * 10.0 + np.sort(v)[-1]
    g = wg.jit(wg.grad(f))
    for x in (np.array([3.0, 1.0, 2.0]), np.array([1.0, 3.0, 2.0]), np.array([2.0, 3.0, 1.0])):
        want = np.zeros(3)
        want[np.argmin(x)] += 10.0
        want[np.argmax(x)] += 1.0
        np.testing.assert_array_equal(g(x), want)
    xs = np.array([[3.0, 1.0, 2.0], [1.0, 3.0, 2.0]])
    np.testing.assert_array_equal(wg.vmap(wg.grad(f))(xs), [[1.0, 10.0, 0.0], [10.0, 1.0, 0.0]])
    np.testing.assert_array_equal(wg.vmap(lambda v: np.argsort(v))(xs), np.argsort(xs, axis=1))


def test_trace_through_wg_trace_keeps_numpys_meaning_for_a_matrix():
    a = np.arange(6.0).reshape(2, 3)
    assert wg.trace(a).item() == np.trace(a)  # (wg.trace of a function is the trace table: wengert.teach)


# ------------------------------------------------------------------ r_ and c_
@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")  # (NumPy's 'r' / 'c' make one)
@pytest.mark.parametrize("key", [
    lambda a, b, c: (a, b), lambda a, b, c: (a, b, slice(0, 3)), lambda a, b, c: (a, 2.5, b, slice(0, 1, 4j)),
    lambda a, b, c: ("0,2,1", a, b), lambda a, b, c: ("1,2", a, b), lambda a, b, c: ("r", a, b),
    lambda a, b, c: ("c", a, b), lambda a, b, c: (c, c), lambda a, b, c: ("-1", c, c),
], ids=["pair", "slice", "scalar_linspace", "directive3", "directive2", "row_matrix", "column_matrix", "2d",
        "axis"])
def test_r_matches_numpy_and_keeps_the_graph(key):
    a, b, c = _normal(3), _normal(3), _normal(2, 2)
    want = np.asarray(np.r_[key(a, b, c)])
    ta = wg.tensor(a, requires_grad=True)
    got = wg.r_[key(ta, b, c)]
    assert isinstance(got, wg.Tensor) and got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got.data, want, rtol=1e-12)
    assert wg.gradcheck(lambda v: wg.r_[key(v, b, c)], a, modes=("rev", "fwd")).ok


def test_c_matches_numpy_and_keeps_the_graph():
    a, m = _normal(3), _normal(3, 2)
    for key in [lambda v: (v, m, v), lambda v: (v, 2 * v), lambda v: (m, slice(0, 3), v)]:
        want = np.c_[key(a)]
        got = wg.c_[key(wg.tensor(a))]
        np.testing.assert_allclose(got.data, want, rtol=1e-12)
        assert wg.gradcheck(lambda v, key=key: wg.c_[key(v)], a, modes=("rev", "fwd")).ok
    np.testing.assert_array_equal(wg.r_[1, 2, 3].data, np.r_[1, 2, 3])  # plain items still give a tensor
    assert repr(wg.r_) == "wg.r_"


def test_numpy_r_does_not_drop_a_gradient_silently():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="drop its gradient"):
        np.r_[x * 2.0, x]
    with pytest.raises((TypeError, ConcretizationError), match="drop its derivative"):
        wg.grad(lambda v: wg.sum(np.r_[v, v]))(np.ones(2))


# ------------------------------------------------------------------ bad inputs: one clear line each
@pytest.mark.parametrize("call,error,words", [
    (lambda: wg.vsplit(wg.tensor([1.0, 2.0]), 2), ValueError, "vsplit only works on arrays of 2 or more"),
    (lambda: wg.hsplit(wg.ones((2, 3)), 2), ValueError, "cannot be split into 2 equal sections"),
    (lambda: wg.array_split(wg.ones(3), 0), ValueError, "number of sections must be larger than 0"),
    (lambda: wg.dsplit(wg.ones((2, 2)), 2), ValueError, "dsplit only works on arrays of 3 or more"),
    (lambda: wg.vstack([]), ValueError, "vstack: need at least one array"),
    (lambda: wg.diag(wg.ones((2, 2, 2))), ValueError, "diag: the input must be 1-D or 2-D"),
    (lambda: wg.diagonal(wg.ones((2, 2)), 0, 1, 1), ValueError, "axis1 and axis2 cannot be the same"),
    (lambda: wg.diagonal(wg.ones(3)), ValueError, "at least two dimensions"),
    (lambda: wg.rot90(wg.ones((2, 2)), 1, (0, 0)), ValueError, "the axes must be different"),
    (lambda: wg.fliplr(wg.ones(3)), ValueError, "fliplr: the input must be at least 2-D"),
    (lambda: wg.diff(wg.ones(3), -1), ValueError, "order n must be non-negative"),
    (lambda: wg.diff(wg.tensor(1.0)), ValueError, "diff: the input must be at least 1-D"),
    (lambda: wg.select([wg.ones(2) > 0], []), ValueError, "1 conditions but 0 choices"),
    (lambda: wg.select([wg.ones(2)], [wg.ones(2)]), TypeError, "condition 0 must be a boolean array"),
    (lambda: wg.cross(wg.ones(4), wg.ones(3)), ValueError, "dimension must be 2 or 3"),
    (lambda: wg.inner(wg.ones(3), wg.ones(2)), ValueError, "inner: the last axes of shapes (3,) and (2,) differ"),
    (lambda: wg.dot(wg.ones((2, 3, 4)), wg.ones((2, 3, 4))), ValueError, "dot: shapes (2, 3, 4) and (2, 3, 4) "
                                                                         "are not aligned"),
    (lambda: wg.sort(wg.ones(3), order="x"), TypeError, "order= (fields of structured arrays) is not supported"),
    (lambda: wg.sort(wg.ones(3), axis=1), np.exceptions.AxisError, "sort: axis 1 is out of bounds"),
    (lambda: wg.cumsum(wg.ones((2, 2)), axis=2), np.exceptions.AxisError, "cumsum: axis 2 is out of bounds"),
    (lambda: wg.gradient(wg.ones(1)), ValueError, "too short for edge_order=1"),
    (lambda: wg.gradient(wg.ones((3, 3)), 1.0, 2.0, 3.0), TypeError, "one per axis (2), got 3"),
    (lambda: wg.gradient(wg.ones(3), [0.0, 1.0]), ValueError, "must match the length of the corresponding axis"),
    (lambda: wg.linspace(wg.tensor(0.0), 1.0, -1), ValueError, "number of samples must be non-negative"),
    (lambda: wg.cumulative_sum(wg.ones((2, 2))), ValueError, "axis must be given"),
    (lambda: wg.r_["x", wg.ones(2)], ValueError, "unknown special directive 'x'"),
    (lambda: wg.r_[wg.ones(2), "0"], ValueError, "special directives must be the first entry"),
    (lambda: wg.r_["1;2"], TypeError, "matrix-string form"),
    (lambda: wg.r_["r", wg.ones((2, 2, 2)), wg.ones((2, 2, 2))], ValueError, "must be 2-D"),
    (lambda: np.nancumsum(wg.ones(2)), TypeError, "numpy.nancumsum has no wengert rule"),
])
def test_bad_inputs_raise_clear_errors(call, error, words):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert words in message and "\n" not in message


def test_cross_of_two_vectors_warns_as_numpy_does():
    with pytest.warns(DeprecationWarning, match="2-dimensional vectors"):
        out = wg.cross(wg.tensor([1.0, 2.0]), wg.tensor([3.0, 4.0]))
    assert out.item() == -2.0


# ------------------------------------------------------------------ the generated page
def test_docs_numpy_md_is_up_to_date():
    """docs/numpy.md holds the table generated from the records; `make docs` rewrites it."""
    from wengert.ops.surface import page_with_table

    path = Path(__file__).resolve().parents[1] / "docs" / "numpy.md"
    text = path.read_text(encoding="utf-8")
    assert text == page_with_table(text), "docs/numpy.md is out of date: run `make docs` and commit it"


def test_the_table_lists_every_record_once():
    from wengert.ops import api
    from wengert.ops.surface import markdown, public_name, records

    table = markdown()
    for target, s in records():
        name = public_name(target, s)
        if s.public and getattr(api, name) is api.PUBLIC[name]:
            assert table.count(f"| `wg.{name}`") == 1
    row = next(line for line in table.splitlines() if "`np.linspace`" in line)  # (wg.linspace is the constructor)
    assert row.startswith("| (NumPy only) |")
    row = next(line for line in table.splitlines() if line.startswith("| `wg.floor`"))
    assert "| none |" in row and "`np.floor`" in row and "primitive `floor`" in row
    row = next(line for line in table.splitlines() if line.startswith("| `wg.vstack`"))
    assert "`wg.row_stack`" in row and "| composite | yes |" in row


def test_wg_trace_of_an_array_takes_numpys_arguments():
    A = np.arange(27.0).reshape(3, 3, 3)
    np.testing.assert_array_equal(wg.trace(A, 1, 1, 2).data, np.trace(A, 1, 1, 2))
    np.testing.assert_array_equal(wg.trace(A[0], offset=-1).data, np.trace(A[0], offset=-1))
    x = wg.tensor(A[0], requires_grad=True)
    wg.trace(x, offset=1).backward()
    np.testing.assert_array_equal(x.grad.data, np.eye(3, k=1))
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) offset for the trace table"):
        wg.trace(lambda x: x, 1.0, offset=1)


def test_wg_linspace_is_differentiable_in_start_and_stop():
    g = wg.grad(lambda s: wg.sum(wg.linspace(0.0, s, 5) ** 2))(2.0)
    assert g == pytest.approx(60 * 2.0 / 16)
    lo = wg.tensor(1.0, requires_grad=True)
    wg.sum(wg.linspace(lo, 3.0, 4)).backward()  # each value is lo + k (3 - lo) / 3
    assert lo.grad.item() == pytest.approx(2.0)
    t, step = wg.linspace(0.0, 1.0, 3, retstep=True)
    np.testing.assert_array_equal(t.data, [0.0, 0.5, 1.0])
    assert step == 0.5
    assert wg.linspace(0.0, 1.0, 3, requires_grad=True).is_leaf
    with pytest.raises(ValueError, match="requires_grad=True makes a new leaf"):
        wg.linspace(lo, 3.0, 4, requires_grad=True)


def test_np_r_of_a_tensor_that_requires_grad_is_refused_and_names_wg_r():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"wg\.r_ / wg\.c_"):
        np.r_[x, 3.0]
    with pytest.raises(TypeError, match=r"would drop its gradient"):
        np.r_[x * 2.0, 3.0]
    y = wg.r_[x, 3.0]
    wg.sum(y * y).backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_numpy_ufunc_keywords_are_honoured_or_refused():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    y = np.exp(x, dtype=np.float32)
    assert y.dtype == np.float32
    wg.sum(y).backward()
    np.testing.assert_allclose(x.grad.data, np.exp([1.0, 2.0]), rtol=1e-6)
    with pytest.raises(TypeError, match=r"numpy.exp on a wengert Tensor takes no where= .*wg.where"):
        np.exp(x, where=np.array([True, False]))
    with pytest.raises(TypeError, match=r"takes no casting="):
        np.add(x, 1.0, casting="unsafe")


def test_take_and_gather_with_indices_computed_under_jit_and_vmap():
    """Indices computed inside a transform stay inputs of the graph: the compiled program is right for new inputs."""
    rng = np.random.default_rng(0)
    X, X2 = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))

    def f(X):
        i = wg.argmax(X, axis=1)
        a = wg.take(X[0], i)
        b = wg.take_along_axis(X, wg.reshape(i, (4, 1)), axis=1)
        c = wg.gather(X, 1, wg.reshape(i, (4, 1)))
        d = wg.take(X, i, axis=1)
        return wg.sum(a) + wg.sum(b * b) + wg.sum(c) + wg.sum(d * d)

    step = wg.jit(wg.value_and_grad(f))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to eager
        for A in (X, X2):
            v, g = step(A)
            v_ref, g_ref = wg.value_and_grad(f)(A)
            assert v == pytest.approx(v_ref)
            np.testing.assert_allclose(g, g_ref)
        np.testing.assert_allclose(wg.vmap(f)(np.stack([X, X2])), [f(X).item(), f(X2).item()])


def test_take_along_axis_broadcasts_as_numpy():
    """Off the axis, indices and array broadcast against each other (either side may have length 1)."""
    x = np.arange(12.0).reshape(3, 4)
    for arr, idx, ax in ((x, np.array([[1], [0], [2]]), 1), (x, np.array([[0, 1, 2, 0]]), 0),
                         (np.arange(3.0).reshape(3, 1), np.zeros((3, 3), dtype=int), 0)):
        np.testing.assert_array_equal(wg.take_along_axis(wg.tensor(arr), idx, ax).data, np.take_along_axis(arr, idx, ax))
        w = np.arange(1.0, 1.0 + np.take_along_axis(arr, idx, ax).size).reshape(np.take_along_axis(arr, idx, ax).shape)
        assert wg.gradcheck(lambda a, idx=idx, ax=ax, w=w: wg.sum(w * wg.take_along_axis(a, idx, ax)), arr).ok


def test_a_list_of_tensors_is_an_array_argument():
    """As NumPy makes a list an array, wg.mean([x, x + 2]) stacks its list in the graph; stack-like functions
    keep taking their sequence."""
    assert wg.grad(lambda x: wg.mean([x, x + 2.0]))(0.0) == 1.0
    assert wg.grad(lambda x: wg.sum([x, x * x]))(3.0) == 7.0
    assert wg.grad(lambda x: wg.sum(wg.append([x, 1.0], x)))(2.0) == 2.0
    assert wg.grad(lambda x: wg.std([x, 3.0 * x]))(1.0) == pytest.approx(1.0)
    np.testing.assert_array_equal(wg.concatenate([wg.tensor([1.0]), wg.tensor([2.0, 3.0])]).data, [1.0, 2.0, 3.0])
    a, b = wg.atleast_2d(1.0, 2.0)
    assert a.shape == b.shape == (1, 1)
