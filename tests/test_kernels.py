"""wengert.ops.kernels: the faster formulations give NumPy's plain results bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

import wengert as wg
from wengert.ops import kernels

EDGES = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-310, -1e-310, 1.0, -1.0, 3e38, -3e38]


def _same(a: np.ndarray, b: np.ndarray) -> None:
    """Equal bit for bit (NaN payloads and signed zeros included), same dtype and shape."""
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (1,), (12,), (64, 128), (3, 4, 5), (256, 256), (257, 256)])
def test_maximum_zero_is_maximum_with_zero(dtype, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    flat[: min(len(EDGES), flat.size)] = np.array(EDGES, dtype=dtype)[: flat.size]
    _same(kernels.maximum_zero(x), np.maximum(x, 0))
    if x.ndim == 2:  # a strided input
        _same(kernels.maximum_zero(x.T), np.maximum(x.T, 0))
        _same(kernels.maximum_zero(x[::2]), np.maximum(x[::2], 0))


def test_maximum_zero_hands_out_fresh_arrays_and_keeps_a_bounded_number():
    x = -np.ones((4, 5), np.float32)
    out = kernels.maximum_zero(x)
    out += 7.0  # the result is the caller's own array: the kept zeros are not touched
    _same(kernels.maximum_zero(x), np.zeros((4, 5), np.float32))
    for n in range(1, 3 * kernels._KEPT):
        kernels.maximum_zero(np.ones(n))
    assert len(kernels._ZEROS) <= kernels._KEPT
    assert all(not z.flags.writeable and not z.any() for z in kernels._ZEROS.values())
    # integers, booleans and complex numbers are not floating: NumPy's own maximum with 0
    for v in (np.array([-2, 3]), np.array([True, False])):
        _same(kernels.maximum_zero(v), np.maximum(v, 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(64, 10), (8, 1), (8, 32), (7, 10), (64, 33), (5,), (3, 4, 2)])
def test_max_keepdims_is_max_keepdims(dtype, shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    if x.ndim == 2:
        x[0, 0] = np.nan
        x[1] = -np.inf
        x[2, :] = -0.0
        x[3, 0] = np.inf
    for axis in (-1, 1, 0, None) if x.ndim >= 2 else (-1, 0, None):
        want = np.max(x, axis=axis, keepdims=True)
        got = kernels.max_keepdims(x, axis)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)  # (which NaN, which signed zero: either, as NumPy's order gives)
    if x.ndim == 2:
        np.testing.assert_array_equal(kernels.max_keepdims(x.T.T[:, ::-1], 1), np.max(x[:, ::-1], axis=1, keepdims=True))


def test_max_keepdims_of_no_classes_is_numpys_error():
    with pytest.raises(ValueError, match="zero-size"):
        kernels.max_keepdims(np.ones((16, 0)), 1)


def test_relu_cross_entropy_and_logsumexp_through_the_kernels():
    """The rules that use the kernels: values and gradients as the plain formulas give them."""
    rng = np.random.default_rng(2)
    z = rng.standard_normal((64, 10))
    z[0, 3] = 1e4  # logits that would overflow exp without the shift
    y = rng.integers(0, 10, 64)
    t = wg.tensor(z, requires_grad=True)
    loss = wg.nn.functional.cross_entropy(t, y)
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    np.testing.assert_allclose(loss.item(), np.mean(lse - z[np.arange(64), y]), rtol=1e-12)
    loss.backward()
    p = np.exp(z - lse[:, None])
    p[np.arange(64), y] -= 1
    np.testing.assert_allclose(t.grad.data, p / 64, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(wg.logsumexp(wg.tensor(z), axis=1).data, lse, rtol=1e-12)
    r = wg.relu(wg.tensor(z))
    _same(r.data, np.maximum(z, 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("shape", [(64, 128), (1, 5), (7, 1), (300, 3)])
def test_column_sums_are_numpys_within_rounding(dtype, shape):
    rng = np.random.default_rng(3)
    g = rng.standard_normal(shape).astype(dtype)
    if dtype == np.complex128:
        g = g + 1j * rng.standard_normal(shape)
    want = np.add.reduce(g.astype(np.complex128 if dtype == np.complex128 else np.float64), axis=0)
    got = kernels.column_sums(g)
    assert got.dtype == g.dtype and got.shape == (shape[1],) and got.flags.writeable
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * shape[0])
    np.testing.assert_allclose(kernels.column_sums(np.asfortranarray(g)), want, rtol=tol, atol=tol * shape[0])
    np.testing.assert_allclose(kernels.column_sums(g[::-1, ::2]), want[::2], rtol=tol, atol=tol * shape[0])
    out = kernels.column_sums(g)
    out += 1  # the caller's own array: the kept ones are not touched
    np.testing.assert_allclose(kernels.column_sums(g), got)


def test_column_sums_special_values_and_what_they_leave_to_numpy():
    g = np.array([[1.0, np.inf, np.nan, np.inf, 2.0], [2.0, 1.0, 0.0, -np.inf, 3.0]])
    with np.errstate(invalid="ignore"):  # (inf - inf: both warn, as NumPy's sum does)
        got, want = kernels.column_sums(g), np.sum(g, axis=0)
    np.testing.assert_array_equal(got, want)  # inf, nan and inf - inf = nan, as NumPy
    # integers, 1-D and 3-D arrays, and no rows: NumPy's own sum, exactly
    for v in (np.arange(12).reshape(3, 4), np.arange(5.0), np.ones((2, 3, 4)), np.ones((0, 3))):
        want = np.add.reduce(v, axis=0)
        _same(kernels.column_sums(v), want)


def test_linear_bias_gradient_through_column_sums():
    from wengert.nn import functional as F

    rng = np.random.default_rng(4)
    x = wg.tensor(rng.standard_normal((5, 2, 3)), requires_grad=True)  # leading axes are folded
    w = wg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = wg.tensor(rng.standard_normal(4), requires_grad=True)
    g = rng.standard_normal((5, 2, 4))
    F.linear(x, w, b).backward(g)
    np.testing.assert_allclose(b.grad.data, g.reshape(-1, 4).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(w.grad.data, g.reshape(-1, 4).T @ x.data.reshape(-1, 3), rtol=1e-12)
