"""Transforms nest to any order: every composition agrees with every other and with finite differences.

Each transform is an interpreter level (wengert.core.interpret); these tests
check the structure's promises: jvp of jvp, jacfwd of jacfwd, grad of jvp,
jvp of grad, grad of grad, to order three, with wg.jit of each; no confusion
between the perturbations of two levels; the functions that vjp and jvp
return are differentiable in their cotangent / tangent; custom Functions are
right or a clear error under every transform; and no silent gradient loss.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opspec import cube_gate

import wengert as wg
from wengert.jit import JitFallbackWarning

# ---------------------------------------------------------------------- random programs over the rule table
_UNARY = ("sin", "cos", "tanh", "exp", "sigmoid", "softplus", "arctan", "square", "negative")
_BINARY = ("add", "subtract", "multiply", "maximum")


def _program(ops, n):
    """f: R^n -> R, a random straight-line program (elementwise rules, fan-out, a final reduction)."""

    def f(x):
        vals = [x[i] for i in range(n)] + [x]
        for kind, name, i, j in ops:
            a = vals[i % len(vals)]
            if kind == 1:
                vals.append(getattr(wg, name)(a) if name != "exp" else wg.exp(wg.tanh(a)))
            else:
                vals.append(getattr(wg, name)(a, vals[j % len(vals)]))
        return wg.sum(vals[-1] * vals[n] + 0.3 * vals[-2])

    return f


def _fd(f, x, eps=1e-5):
    """Central differences of f (an array function) at x, stacked on a trailing axis."""
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e.flat[k] = eps
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.stack(cols, axis=-1)


def _hessians(f, x):
    """The Hessian of f by six compositions of forward and reverse mode."""
    n = x.size
    eye = np.eye(n)
    hvp_rows = np.stack([wg.hvp(f, x, eye[i]) for i in range(n)])
    jvp_jvp = np.array([[wg.jvp(lambda y, i=i: wg.jvp(f, (y,), (eye[i],))[1], (x,), (eye[j],))[1] for j in range(n)]
                        for i in range(n)])
    grad_jvp = np.stack([wg.grad(lambda y, i=i: wg.jvp(f, (y,), (eye[i],))[1])(x) for i in range(n)])
    return {
        "jacfwd(jacrev)": wg.jacfwd(wg.jacrev(f))(x),
        "jacrev(jacrev)": wg.jacrev(wg.jacrev(f))(x),
        "jacfwd(jacfwd)": wg.jacfwd(wg.jacfwd(f))(x),
        "jacrev(jacfwd)": wg.jacrev(wg.jacfwd(f))(x),
        "hvp": hvp_rows,
        "jvp(jvp)": jvp_jvp,
        "grad(jvp)": grad_jvp,
        "jacrev(grad)": wg.jacrev(wg.grad(f))(x),
    }


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just(1), st.sampled_from(_UNARY), st.integers(0, 30), st.just(0)),
        st.tuples(st.just(2), st.sampled_from(_BINARY), st.integers(0, 30), st.integers(0, 30)),
    ),
    min_size=1, max_size=8,
)


@settings(max_examples=25, deadline=None)
@given(ops=_OPS, seed=st.integers(0, 2**31 - 1))
def test_every_second_order_composition_agrees(ops, seed):
    n = 3
    f = _program(ops, n)
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
    hs = _hessians(f, x)
    ref = hs["jacrev(jacrev)"]
    for name, h in hs.items():
        np.testing.assert_allclose(h, ref, rtol=1e-9, atol=1e-9, err_msg=name)
    g = wg.grad(f)
    np.testing.assert_allclose(ref, _fd(g, x), rtol=1e-5, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(ops=_OPS, seed=st.integers(0, 2**31 - 1))
def test_third_order_compositions_agree(ops, seed):
    n = 2
    f = _program(ops, n)
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
    t_rrr = wg.jacrev(wg.jacrev(wg.jacrev(f)))(x)
    t_fff = wg.jacfwd(wg.jacfwd(wg.jacfwd(f)))(x)
    t_frf = wg.jacfwd(wg.jacrev(wg.jacfwd(f)))(x)
    t_ffr = wg.jacfwd(wg.jacfwd(wg.grad(f)))(x)
    e0, e1 = np.eye(n)
    jjj = wg.jvp(lambda a: wg.jvp(lambda b: wg.jvp(f, (b,), (e0,))[1], (a,), (e1,))[1], (x,), (e1,))[1]
    for t in (t_fff, t_frf, t_ffr):
        np.testing.assert_allclose(t, t_rrr, rtol=1e-8, atol=1e-8)
    assert float(jjj) == pytest.approx(float(t_rrr[0, 1, 1]), rel=1e-8, abs=1e-8)
    np.testing.assert_allclose(t_rrr, _fd(wg.hessian(f), x), rtol=1e-4, atol=1e-5)


def test_jit_of_each_composition_compiles_and_matches():
    f = lambda x: wg.sum(wg.tanh(x) * wg.sin(x) ** 2)
    v = np.array([1.0, -0.5, 0.25])
    compositions = {
        "grad(grad)": lambda x: wg.grad(lambda y: wg.sum(wg.grad(f)(y) * v))(x),
        "jvp(jvp)": lambda x: wg.jvp(lambda y: wg.jvp(f, (y,), (v,))[1], (x,), (v,))[1],
        "jvp(grad)": lambda x: wg.jvp(wg.grad(f), (x,), (v,))[1],
        "grad(jvp)": lambda x: wg.grad(lambda y: wg.jvp(f, (y,), (v,))[1])(x),
        "jacfwd(jacfwd)": lambda x: wg.jacfwd(wg.jacfwd(f))(x),
        "jacfwd(jacrev)": lambda x: wg.jacfwd(wg.jacrev(f))(x),
    }
    rng = np.random.default_rng(0)
    for name, comp in compositions.items():
        j = wg.jit(comp)
        with warnings.catch_warnings():
            warnings.simplefilter("error", JitFallbackWarning)
            for _ in range(3):
                x = rng.standard_normal(3)
                np.testing.assert_allclose(j(x), comp(x), rtol=1e-12, atol=1e-14, err_msg=name)
        assert len(j.program(x).steps) > 0, name


# ---------------------------------------------------------------------- perturbation confusion
def test_no_perturbation_confusion_in_reverse_and_forward_mode():
    # d/dx [x * (d/dy (x + y))(1)] at 1 is 1, not 2 (Siskind and Pearlmutter's example)
    assert wg.grad(lambda x: x * wg.grad(lambda y: x + y)(1.0))(1.0) == 1.0
    assert wg.jvp(lambda x: x * wg.jvp(lambda y: x + y, (1.0,), (1.0,))[1], (1.0,), (1.0,))[1] == 1.0
    assert wg.grad(lambda x: x * wg.jvp(lambda y: x * y, (2.0,), (1.0,))[1])(3.0) == 6.0  # d/dx x*x
    assert wg.jvp(lambda x: wg.grad(lambda y: x * y * y)(x), (2.0,), (1.0,))[1] == 8.0  # d/dx [2xy at y = x] = 4x


def test_a_closure_over_an_outer_value_is_differentiated_by_the_outer_transform():
    def outer(a):
        inner = lambda b: wg.sum(wg.sin(a * b))  # a is the outer level's value
        return wg.sum(wg.grad(inner)(np.array([1.0, 2.0])))

    a0 = 0.3
    ref = lambda a: float(np.sum(a * np.cos(a * np.array([1.0, 2.0]))))
    assert wg.grad(outer)(a0) == pytest.approx((ref(a0 + 1e-6) - ref(a0 - 1e-6)) / 2e-6, rel=1e-6)


# ---------------------------------------------------------------------- vjp / jvp functions are differentiable
def test_the_vjp_function_is_differentiable_in_its_cotangent():
    _, f = wg.vjp(lambda x: x * 2.0, np.ones(3))
    np.testing.assert_allclose(wg.grad(lambda g: wg.sum(f(g)[0] ** 2))(np.ones(3)), [8.0, 8.0, 8.0])
    # and in the primal it closed over, to second order (a mixture-model fit flattens through it so)
    def loss(x):
        _, pull = wg.vjp(lambda y: wg.sin(y) * y, x)
        return wg.sum(pull(x)[0] ** 2)

    x0 = np.array([0.4, -0.7])
    g = wg.grad(loss)(x0)
    np.testing.assert_allclose(g, _fd(lambda x: np.float64(loss(x)), x0), rtol=1e-6)
    np.testing.assert_allclose(wg.jacfwd(wg.grad(loss))(x0), _fd(wg.grad(loss), x0), rtol=1e-5, atol=1e-7)


def test_the_jvp_is_differentiable_in_its_tangent_to_any_order():
    f = lambda x: wg.sin(x) * x
    x0 = np.array([0.3, 1.1])
    lin = lambda t: wg.sum(wg.jvp(f, (x0,), (t,))[1] ** 2)  # quadratic in t
    t0 = np.array([1.0, -2.0])
    d = np.cos(x0) * x0 + np.sin(x0)
    np.testing.assert_allclose(wg.grad(lin)(t0), 2 * d * d * t0, rtol=1e-12)
    np.testing.assert_allclose(wg.hessian(lin)(t0), np.diag(2 * d * d), rtol=1e-12)


# ---------------------------------------------------------------------- custom Functions under every transform
def test_a_custom_function_is_right_or_a_clear_error_under_every_transform():
    Cube = cube_gate()
    x0 = np.array([0.5, -1.5])
    f = lambda x: wg.sum(Cube.apply(x))
    np.testing.assert_allclose(wg.grad(f)(x0), 3 * x0**2)
    np.testing.assert_allclose(wg.jvp(f, (x0,), (np.ones(2),))[1], np.sum(3 * x0**2))
    np.testing.assert_allclose(wg.jit(wg.grad(f))(x0), 3 * x0**2)
    np.testing.assert_allclose(wg.jacrev(lambda x: Cube.apply(x))(x0), np.diag(3 * x0**2))
    np.testing.assert_allclose(wg.jacfwd(lambda x: Cube.apply(x))(x0), np.diag(3 * x0**2))
    for second in (lambda: wg.grad(wg.grad(lambda x: Cube.apply(x)))(0.5),
                   lambda: wg.hvp(f, x0, np.ones(2)),
                   lambda: wg.jvp(lambda y: wg.jvp(lambda x: Cube.apply(x), (y,), (1.0,))[1], (0.5,), (1.0,)),
                   lambda: wg.hessian(f)(x0)):
        with pytest.raises(RuntimeError, match="Cube is first-order"):
            second()


# ---------------------------------------------------------------------- no silent gradient loss
def test_values_in_a_graph_stay_in_it_or_the_conversion_is_named():
    with pytest.raises(TypeError, match="wg.stack"):
        wg.grad(lambda x: np.sum(np.array([x, x**2])))(3.0)
    with pytest.raises(TypeError, match="wg.stack"):
        wg.grad(lambda x: np.sum([x, x]))(3.0)
    assert wg.grad(lambda x: wg.sum(wg.tensor([x, x**2])))(3.0) == 7.0  # the graph way
    a = wg.tensor(1.0, requires_grad=True)
    (wg.tensor([a * 2, a * 3]).sum() + a).backward()
    assert a.grad.item() == 6.0
    with pytest.raises(TypeError, match="wg.stack"):
        np.asarray(a * 2)
    with pytest.raises(TypeError, match="stack"):
        wg.exp([a * 2, a * 3])


def test_in_place_writes_are_right_in_both_modes():
    def f(x):
        A = x * 1.0
        A[1] = 3.0
        return A

    out, tangent = wg.jvp(f, (np.ones(3),), (np.ones(3),))
    np.testing.assert_allclose(out, [1.0, 3.0, 1.0])
    np.testing.assert_allclose(tangent, [1.0, 0.0, 1.0])
    np.testing.assert_allclose(wg.jacrev(f)(np.ones(3)), np.diag([1.0, 0.0, 1.0]))
    x = wg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2.0
    y[0] = x[2] * 10.0  # a recorded write: y now stands for the result
    wg.sum(y).backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 2.0, 12.0])
    # a plain tensor that a recorded op saved is copied on write: the recorded gradient stays right
    c = wg.tensor([1.0, 2.0])
    w = wg.tensor([3.0, 4.0], requires_grad=True)
    z = wg.sum(w * c)
    c[0] = 100.0
    z.backward()
    np.testing.assert_allclose(w.grad.data, [1.0, 2.0])
    assert c.data[0] == 100.0


def test_second_derivative_through_max_where_and_indexing():
    f = lambda x: wg.sum(wg.maximum(x, 0.0) ** 3) + wg.sum(wg.where(x > 0, x * x, -x)) + x[0] * x[1] ** 2
    x0 = np.array([0.7, -0.4, 1.3])
    h = wg.hessian(f)(x0)
    np.testing.assert_allclose(h, wg.jacfwd(wg.jacfwd(f))(x0), rtol=1e-12)
    np.testing.assert_allclose(h, _fd(wg.grad(f), x0), rtol=1e-6, atol=1e-6)
    assert math.isfinite(float(np.sum(h)))
