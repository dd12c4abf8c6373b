"""Composite ops (written with primitives): forward against NumPy, gradient against finite differences."""
from __future__ import annotations

import numpy as np
import pytest

import wengert as wg


def _fd(f, x, u, eps=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        g[idx] = (np.sum(u * f(xp)) - np.sum(u * f(xm))) / (2 * eps)
    return g


def _data(t):
    return t.data if isinstance(t, wg.Tensor) else np.asarray(t)


CASES = [
    ("mean", lambda x: wg.mean(x, axis=1), lambda x: np.mean(x, axis=1), (3, 4)),
    ("mean_keep", lambda x: wg.mean(x, axis=(0, 2), keepdims=True), lambda x: np.mean(x, (0, 2), keepdims=True), (2, 3, 2)),
    ("var", lambda x: wg.var(x, axis=0), lambda x: np.var(x, axis=0), (4, 3)),
    ("var_ddof", lambda x: wg.var(x, ddof=1), lambda x: np.var(x, ddof=1), (5,)),
    ("std", lambda x: wg.std(x, axis=1, keepdims=True), lambda x: np.std(x, axis=1, keepdims=True), (3, 4)),
    ("norm", lambda x: wg.norm(x), lambda x: np.linalg.norm(x), (3, 4)),
    ("softmax", lambda x: wg.softmax(x, axis=0), lambda x: np.exp(x) / np.exp(x).sum(0), (3, 4)),
    ("log_softmax", lambda x: wg.log_softmax(x), lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True)), (3, 4)),
    ("gelu", lambda x: wg.gelu(x), None, (5,)),
    ("gelu_tanh", lambda x: wg.gelu(x, approximate="tanh"), None, (5,)),
    ("dot", lambda x: wg.dot(x, np.arange(4.0)), lambda x: np.dot(x, np.arange(4.0)), (3, 4)),
    ("outer", lambda x: wg.outer(x, np.arange(3.0)), lambda x: np.outer(x, np.arange(3.0)), (4,)),
    ("flatten", lambda x: wg.flatten(x), lambda x: x.ravel(), (2, 3)),
    ("squeeze", lambda x: wg.squeeze(x, 1), lambda x: np.squeeze(x, 1), (3, 1, 2)),
    ("expand_dims", lambda x: wg.expand_dims(x, 1), lambda x: np.expand_dims(x, 1), (3, 2)),
    ("swapaxes", lambda x: wg.swapaxes(x, 0, 2), lambda x: np.swapaxes(x, 0, 2), (2, 3, 4)),
    ("moveaxis", lambda x: wg.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1), (2, 3, 4)),
    ("stack", lambda x: wg.stack([x, 2 * x], axis=1), lambda x: np.stack([x, 2 * x], axis=1), (3, 2)),
    ("split", lambda x: wg.split(x, 2, axis=1)[1], lambda x: np.split(x, 2, axis=1)[1], (3, 4)),
    ("split_idx", lambda x: wg.split(x, [1, 3])[1], lambda x: np.split(x, [1, 3])[1], (5,)),
    ("repeat", lambda x: wg.repeat(x, 2, axis=0), lambda x: np.repeat(x, 2, axis=0), (3, 2)),
    ("repeat_flat", lambda x: wg.repeat(x, [1, 2, 0]), lambda x: np.repeat(x, [1, 2, 0]), (3,)),
    ("tile", lambda x: wg.tile(x, (2, 3)), lambda x: np.tile(x, (2, 3)), (2, 2)),
    ("tile_1d", lambda x: wg.tile(x, 2), lambda x: np.tile(x, 2), (3,)),
    ("flip", lambda x: wg.flip(x, axis=1), lambda x: np.flip(x, axis=1), (2, 3)),
    ("flip_all", lambda x: wg.flip(x), lambda x: np.flip(x), (2, 3)),
    ("take", lambda x: wg.take(x, [2, 0, 2], axis=1), lambda x: np.take(x, [2, 0, 2], axis=1), (2, 3)),
    ("take_along_axis", lambda x: wg.take_along_axis(x, np.array([[0, 0], [2, 1]]), 1),
     lambda x: np.take_along_axis(x, np.array([[0, 0], [2, 1]]), 1), (2, 3)),
    ("pad", lambda x: wg.pad(x, ((1, 0), (0, 2))), lambda x: np.pad(x, ((1, 0), (0, 2))), (2, 3)),
    ("clip", lambda x: wg.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5), (6,)),
    ("where", lambda x: wg.where(x > 0, x, -2 * x), lambda x: np.where(x > 0, x, -2 * x), (6,)),
    ("transpose_method", lambda x: x.transpose(1, 0) if isinstance(x, wg.Tensor) else x.T, lambda x: x.T, (2, 3)),
    ("reshape_method", lambda x: x.reshape(3, 2), lambda x: x.reshape(3, 2), (2, 3)),
    ("elu", lambda x: wg.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), (5,)),
    ("leaky_relu", lambda x: wg.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x), (5,)),
]


@pytest.mark.parametrize("name,f,ref,shape", CASES, ids=[c[0] for c in CASES])
def test_composite(name, f, ref, shape):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    x = rng.standard_normal(shape)
    x = np.where(np.abs(x) < 0.05, 0.3, x)  # away from kinks
    t = wg.tensor(x, requires_grad=True)
    out = f(t)
    if ref is not None:
        np.testing.assert_allclose(out.data, ref(x), rtol=1e-12, atol=1e-12)
    u = rng.standard_normal(out.shape)
    out.backward(u)
    fd = _fd(lambda a: _data(f(wg.tensor(a))), x, u)
    np.testing.assert_allclose(t.grad.data, fd, rtol=1e-6, atol=1e-7)


def test_gelu_exact_values():
    from math import erf, sqrt

    x = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])
    expected = [0.5 * v * (1 + erf(v / sqrt(2))) for v in x]
    np.testing.assert_allclose(wg.gelu(x).data, expected, rtol=1e-12)


def test_softmax_and_logsumexp_are_stable():
    x = wg.tensor([1e4, 0.0, -1e4], requires_grad=True)
    s = wg.softmax(x)
    assert np.all(np.isfinite(s.data)) and s.data[0] == 1.0
    lse = wg.logsumexp(x)
    assert lse.item() == 1e4
    lse.backward()
    np.testing.assert_allclose(x.grad.data, [1, 0, 0])
    assert np.isfinite(wg.log_softmax(x).data).all()


def test_sigmoid_and_softplus_are_stable():
    x = wg.tensor([-800.0, 0.0, 800.0], requires_grad=True)
    np.testing.assert_array_equal(wg.sigmoid(x).data, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(wg.softplus(x).data, [0.0, np.log(2), 800.0])
    wg.softplus(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.5, 1.0])


def test_kinks_follow_the_documented_convention():
    x = wg.tensor([0.0, 0.0, 0.0], requires_grad=True)
    (wg.relu(x) + wg.abs(x) + wg.leaky_relu(x, 0.2)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.2, 0.2, 0.2])  # relu'(0)=0, abs'(0)=0, leaky'(0)=slope
    a = wg.tensor([1.0, 2.0], requires_grad=True)
    b = wg.tensor([1.0, 3.0], requires_grad=True)
    wg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 0.0])
    np.testing.assert_array_equal(b.grad.data, [0.5, 1.0])
    c = wg.tensor([-1.0, 1.0, 2.0], requires_grad=True)
    wg.clip(c, -1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(c.grad.data, [1.0, 1.0, 0.0])


def test_prod_gradient_with_zeros_is_exact():
    x = wg.tensor([2.0, 0.0, 3.0], requires_grad=True)
    wg.prod(x).backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 6.0, 0.0])


def test_split_and_stack_errors():
    with pytest.raises(ValueError, match="cannot be split into 3 equal sections"):
        wg.split(wg.tensor(np.ones(4)), 3)
    with pytest.raises(ValueError, match="same shape"):
        wg.stack([np.ones(2), np.ones(3)])
