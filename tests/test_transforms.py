"""The function transforms (wengert.transforms): every op through jvp / vjp / hvp, compositions, bad input.

Per-op checks loop over the rule specs (tests/specs_*.py), as tests/test_ops.py
does for the engine, but go through the public transforms: ``wg.jvp`` against
central finite differences, ``wg.vjp`` against ``wg.jvp`` (<u, J v> = <J^T u, v>),
and ``wg.hvp`` against finite differences of ``wg.grad``.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opspec import cube_gate, load_specs, setup_case

import wengert as wg
from wengert.core.rule import REGISTRY
from wengert.core.tensor import raw

# ---------------------------------------------------------------------- per-op, from the specs


SPECS = load_specs()
OP_CASES = [(name, i) for name in sorted(SPECS) if name in REGISTRY and not SPECS[name].nondiff
            for i in range(len(SPECS[name].cases))]


def _op_setup(name: str, ci: int, seed: int = 0):
    spec, case, rng, arrays, wrt, call = setup_case(SPECS, name, ci, seed)

    def f(*xs):
        """The op as a function of its differentiated arguments only."""
        args = list(arrays)
        for i, x in zip(wrt, xs):
            args[i] = x
        out = call(*args, **case.params)
        return out if isinstance(out, wg.Tensor) else wg.tensor(out)

    return spec, rng, arrays, wrt, f


def _as64(v):
    a = np.asarray(v)
    return a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)


def _randn_like(rng, x):
    """Standard normal values of x's shape, complex for a complex x (tangents and cotangents of complex values)."""
    r = rng.standard_normal(np.shape(x))
    return r + 1j * rng.standard_normal(np.shape(x)) if np.iscomplexobj(x) else r


def _close(actual, expected, rtol):
    actual = _as64(actual)
    expected = _as64(expected)
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def test_op_cases_were_found():
    assert len(OP_CASES) > 20, "no rule specs found in tests/specs_*.py"


@pytest.mark.parametrize("name,ci", OP_CASES)
def test_op_jvp_vjp_hvp(name, ci):
    spec, rng, arrays, wrt, f = _op_setup(name, ci)
    xs = tuple(arrays[i] for i in wrt)
    vs = tuple(_randn_like(rng, x) for x in xs)
    eps = spec.eps

    # jvp (true forward mode) against central finite differences
    out, tout = wg.jvp(f, xs, vs)
    plus = raw(f(*[x + eps * v for x, v in zip(xs, vs)]))
    minus = raw(f(*[x - eps * v for x, v in zip(xs, vs)]))
    assert np.shape(tout) == np.shape(out)
    _close(tout, (_as64(plus) - _as64(minus)) / (2 * eps), spec.rtol)

    # vjp against jvp: <u, J v> == sum_i <J_i^T u, v_i>
    out2, vjp_fn = wg.vjp(f, *xs)
    np.testing.assert_allclose(out2, out)
    u = _randn_like(rng, out)
    cts = vjp_fn(u)
    assert len(cts) == len(xs)
    for c, x in zip(cts, xs):
        assert np.shape(c) == x.shape
    # (complex values: the real part of the same sums, autograd's convention; docs/complex.md)
    lhs = float(np.real(np.sum(u * tout)))
    rhs = sum(float(np.real(np.sum(c * v))) for c, v in zip(cts, vs))
    assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs), abs(rhs))

    # hvp (forward-over-reverse) against finite differences of the gradient, for h = <w, f>
    if spec.second_order:
        w = _randn_like(rng, out)

        def h(args):
            return wg.sum(f(*args) * w)

        hv = wg.hvp(h, xs, vs)
        g = wg.grad(h)
        gp = g(tuple(x + 1e-5 * v for x, v in zip(xs, vs)))
        gm = g(tuple(x - 1e-5 * v for x, v in zip(xs, vs)))
        for got, a, b in zip(hv, gp, gm):
            _close(got, (a - b) / 2e-5, 1e-5)


# ---------------------------------------------------------------------- random smooth functions
UNARY = {
    "sin": wg.sin, "tanh": wg.tanh, "sigmoid": wg.sigmoid, "softplus": wg.softplus,
    "exp_small": lambda x: wg.exp(0.3 * x), "square": lambda x: x * x, "cos": wg.cos,
}


def _random_fn(names: list, A: np.ndarray):
    """R^n -> R^m: alternate a random elementwise op with a fixed linear map (and a product)."""

    def f(x):
        h = x
        for k, name in enumerate(names):
            h = UNARY[name](h)
            if k % 2 == 0:
                h = A @ h
            else:
                h = h * wg.roll(h, 1) if hasattr(wg, "roll") else h * h[::-1]
        return h

    return f


fn_names = st.lists(st.sampled_from(sorted(UNARY)), min_size=1, max_size=4)


@settings(max_examples=12, deadline=None)
@given(names=fn_names, seed=st.integers(0, 2**31 - 1))
def test_hessian_is_symmetric_and_matches_hvp(names, seed):
    rng = np.random.default_rng(seed)
    n = 4
    A = rng.standard_normal((n, n)) / 2
    g = _random_fn(names, A)

    def f(x):
        return wg.sum(g(x))

    x = rng.standard_normal(n)
    H = wg.hessian(f)(x)
    assert H.shape == (n, n)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    v = rng.standard_normal(n)
    np.testing.assert_allclose(wg.hvp(f, x, v), H @ v, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(wg.jacrev(wg.grad(f))(x), H, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(wg.hessian(f, mode="fwd")(x), H, rtol=1e-10, atol=1e-12)


@settings(max_examples=12, deadline=None)
@given(names=fn_names, seed=st.integers(0, 2**31 - 1))
def test_jacfwd_equals_jacrev(names, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((3, 3)) / 2
    f = _random_fn(names, A)
    x = rng.standard_normal(3)
    Jf = wg.jacfwd(f)(x)
    Jr = wg.jacrev(f)(x)
    assert Jf.shape == Jr.shape == (3, 3)
    np.testing.assert_allclose(Jf, Jr, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wg.jacobian(f, mode="fwd")(x), Jr, rtol=1e-12, atol=1e-12)
    eps = 1e-6
    fd = np.stack([(raw(f(x + eps * e)) - raw(f(x - eps * e))) / (2 * eps) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(Jr, fd, rtol=1e-6, atol=1e-7)


def test_jacobian_layouts():
    x = np.arange(6.0).reshape(2, 3)
    J = wg.jacrev(lambda x: x.sum(axis=0))(x)
    assert J.shape == (3, 2, 3)
    np.testing.assert_allclose(J, wg.jacfwd(lambda x: x.sum(axis=0))(x))
    J2 = wg.jacrev(lambda a, b: {"p": a * b, "s": wg.sum(a)}, argnums=(0, 1))(np.ones(2), np.full(2, 3.0))
    assert set(J2) == {"p", "s"} and isinstance(J2["p"], tuple)
    np.testing.assert_allclose(J2["p"][0], 3 * np.eye(2))
    np.testing.assert_allclose(J2["p"][1], np.eye(2))
    np.testing.assert_allclose(J2["s"][0], [1.0, 1.0])
    np.testing.assert_allclose(J2["s"][1], [0.0, 0.0])
    Jf = wg.jacfwd(lambda a, b: {"p": a * b, "s": wg.sum(a)}, argnums=(0, 1))(np.ones(2), np.full(2, 3.0))
    for k in ("p", "s"):
        for i in (0, 1):
            np.testing.assert_allclose(Jf[k][i], J2[k][i])


def test_third_derivatives_by_nesting_grad():
    d3 = wg.grad(wg.grad(wg.grad(wg.sin)))
    for x in (0.0, 0.7, -2.0):
        assert abs(d3(x) - (-np.cos(x))) < 1e-12
    d4 = wg.grad(wg.grad(wg.grad(wg.grad(lambda x: x ** 5))))
    assert abs(d4(1.5) - 120 * 1.5) < 1e-9
    # mixed partials through argnums: d^3 (x^2 y^3) / dx dy dy = 2x * 6y
    fxyy = wg.grad(wg.grad(wg.grad(lambda x, y: x * x * y ** 3, argnums=0), argnums=1), argnums=1)
    assert abs(fxyy(1.5, 2.0) - 2 * 1.5 * 6 * 2.0) < 1e-9


def test_reverse_over_forward_and_forward_over_reverse_agree():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((5, 5)) / 3

    def f(x):
        return wg.sum(wg.tanh(W @ wg.tanh(W @ x)))

    x, v = rng.standard_normal(5), rng.standard_normal(5)
    a = wg.hvp(f, x, v)  # forward over reverse
    b = wg.grad(lambda y: wg.jvp(f, (y,), (v,))[1])(x)  # reverse over forward
    c = wg.grad(lambda y: wg.sum(wg.grad(f)(y) * v))(x)  # reverse over reverse
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------- seed 002: logistic regression
def test_logistic_regression_gradient_is_xt_a_minus_y_over_m():
    rng = np.random.default_rng(2)
    m, n = 50, 4
    X = rng.standard_normal((m, n))
    y = (rng.random(m) < 0.5).astype(np.float64)
    theta = rng.standard_normal(n)

    def J(theta):
        a = wg.sigmoid(X @ theta)
        return -wg.mean(y * wg.log(a) + (1 - y) * wg.log(1 - a))

    a = 1 / (1 + np.exp(-X @ theta))
    np.testing.assert_allclose(wg.grad(J)(theta), X.T @ (a - y) / m, rtol=1e-12, atol=1e-14)
    # and the Hessian is X^T diag(a (1 - a)) X / m
    np.testing.assert_allclose(wg.hessian(J)(theta), X.T @ (X * (a * (1 - a))[:, None]) / m, rtol=1e-10)


# ---------------------------------------------------------------------- conventions
def test_result_types_follow_the_inputs():
    f = lambda x: wg.sum(x * x)
    g = wg.grad(f)
    assert type(g(3.0)) is float and g(3.0) == 6.0
    assert type(g(np.array([1.0, 2.0]))) is np.ndarray
    assert isinstance(g(np.float32(2.0)), np.float32)
    arr0 = g(np.array(2.0))
    assert type(arr0) is np.ndarray and arr0.shape == ()
    t = wg.tensor([1.0, 2.0])
    gt = g(t)
    assert isinstance(gt, wg.Tensor) and not gt.requires_grad
    np.testing.assert_allclose(gt.data, [2.0, 4.0])
    g32 = g(np.ones(3, np.float32))
    assert g32.dtype == np.float32
    v, _ = wg.value_and_grad(f)(np.array([1.0, 2.0]))
    assert type(v) is float and v == 5.0
    vt, _ = wg.value_and_grad(f)(t)
    assert isinstance(vt, wg.Tensor) and not vt.requires_grad


def test_trees_of_parameters():
    Pair = namedtuple("Pair", "a b")
    params = {"layer": [np.ones(2), Pair(2.0, np.array([[1.0, 2.0]]))], "bias": 0.5, "none": None}

    def loss(p):
        a, b = p["layer"][1]
        return wg.sum(p["layer"][0] * a) + wg.sum(b * b) + p["bias"] ** 2

    g = wg.grad(loss)(params)
    assert set(g) == {"layer", "bias", "none"} and g["none"] is None
    assert isinstance(g["layer"][1], Pair)
    np.testing.assert_allclose(g["layer"][0], [2.0, 2.0])
    assert g["layer"][1].a == 2.0
    np.testing.assert_allclose(g["layer"][1].b, [[2.0, 4.0]])
    assert g["bias"] == 1.0
    # jvp with matching tangent trees (dict order may differ)
    out, tout = wg.jvp(lambda p: p["x"] * p["y"], ({"x": 2.0, "y": 3.0},), ({"y": 1.0, "x": 0.0},))
    assert (out, tout) == (6.0, 2.0)


def test_argnums_and_has_aux():
    f = lambda x, y, z: (x * y * z, {"xy": x * y})
    g, aux = wg.grad(f, argnums=(0, 2), has_aux=True)(1.0, 2.0, 3.0)
    assert g == (6.0, 2.0) and aux == {"xy": 2.0}
    (v, aux2), g2 = wg.value_and_grad(f, argnums=-1, has_aux=True)(1.0, 2.0, 3.0)
    assert v == 6.0 and g2 == 2.0 and aux2 == {"xy": 2.0}
    out, fn, aux3 = wg.vjp(f, 1.0, 2.0, 3.0, has_aux=True)
    assert out == 6.0 and fn(1.0) == (6.0, 3.0, 2.0) and aux3 == {"xy": 2.0}
    out, tout, aux4 = wg.jvp(f, (1.0, 2.0, 3.0), (1.0, 0.0, 0.0), has_aux=True)
    assert (out, tout) == (6.0, 6.0) and aux4 == {"xy": 2.0}


def test_vjp_fn_is_reusable_and_handles_tree_outputs():
    x = np.array([1.0, 2.0, 3.0])
    out, fn = wg.vjp(lambda x: [x * 2.0, wg.sum(x * x)], x)
    assert isinstance(out, list) and out[1] == 14.0
    a = fn([np.ones(3), 0.0])
    b = fn([np.zeros(3), 1.0])
    np.testing.assert_allclose(a[0], [2.0, 2.0, 2.0])
    np.testing.assert_allclose(b[0], 2 * x)
    np.testing.assert_allclose(fn([np.ones(3), 1.0])[0], a[0] + b[0])


def test_gradients_are_owned_writable_arrays():
    x = np.array([1.0, 2.0])
    g = wg.grad(lambda x: wg.sum(x))(x)  # sum's VJP broadcasts: a read-only view inside the engine
    g += 1.0
    np.testing.assert_allclose(g, [2.0, 2.0])
    ga, gb = wg.grad(lambda a, b: wg.sum(a + b), argnums=(0, 1))(x, x.copy())
    ga += 1.0
    np.testing.assert_allclose(gb, [1.0, 1.0])


def test_unused_and_constant_inputs_get_zero_gradients():
    assert wg.grad(lambda x, y: x * 2.0, argnums=1)(1.0, 5.0) == 0.0
    np.testing.assert_array_equal(wg.grad(lambda x: 3.0)(np.ones(2)), np.zeros(2))
    _, tout = wg.jvp(lambda x: np.ones(2), (1.0,), (1.0,))
    np.testing.assert_array_equal(tout, np.zeros(2))


def test_transforms_leave_user_grads_and_graphs_alone():
    w = wg.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3.0  # a user graph that f closes over
    g = wg.grad(lambda x: wg.sum(x * h))(np.ones(2))
    np.testing.assert_allclose(g, [3.0, 6.0])
    assert w.grad is None
    wg.sum(h).backward()  # the user's graph was not released by the transform
    np.testing.assert_allclose(w.grad.data, [3.0, 3.0])
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    wg.grad(lambda x: wg.sum(x * x))(x)
    assert x.grad is None


def test_grad_works_inside_no_grad():
    with wg.no_grad():
        assert wg.grad(lambda x: x * x)(3.0) == 6.0


def test_grad_of_requires_grad_tensor_is_differentiable_like_create_graph():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    g = wg.grad(lambda x: wg.sum(x ** 3))(x)  # 3 x^2, connected to x
    assert g.requires_grad
    wg.sum(g).backward()
    np.testing.assert_allclose(x.grad.data, [6.0, 12.0])


def test_jvp_records_no_graph():
    x = wg.tensor(np.linspace(0.0, 1.0, 4))
    out, tout = wg.jvp(lambda x: wg.sum(wg.sin(x) * x), (x,), (np.ones(4),))
    assert isinstance(out, wg.Tensor) and out.grad_fn is None and not out.requires_grad
    assert "tangent" not in repr(x) and "tangent" not in repr(out)  # no tangent rides along afterwards
    ref = np.sum(np.cos(x.data) * x.data + np.sin(x.data))
    assert abs(tout.item() - ref) < 1e-12


def test_differentiating_through_a_closure_over_an_outer_variable():
    rng = np.random.default_rng(3)
    W0, x0 = rng.standard_normal((3, 4)), rng.standard_normal(4)

    def outer(W):
        gx = wg.grad(lambda x: wg.sum(wg.tanh(W @ x)))(x0)
        return wg.sum(gx * gx)

    def outer_np(W):
        t = np.tanh(W @ x0)
        gx = W.T @ (1 - t * t)
        return np.sum(gx * gx)

    gW = wg.grad(outer)(W0)
    fd = np.zeros_like(W0)
    for idx in np.ndindex(W0.shape):
        e = np.zeros_like(W0)
        e[idx] = 1e-6
        fd[idx] = (outer_np(W0 + e) - outer_np(W0 - e)) / 2e-6
    np.testing.assert_allclose(gW, fd, rtol=1e-6, atol=1e-8)


def test_w5_style_hvp_against_finite_differences_of_hand_gradient():
    rng = np.random.default_rng(0)
    D = 30
    W1, W2 = rng.standard_normal((D, D)) / np.sqrt(D), rng.standard_normal((D, D)) / np.sqrt(D)
    x, v = rng.standard_normal(D), rng.standard_normal(D)

    def hand_grad(x):
        h1 = np.tanh(W1 @ x)
        h2 = np.tanh(W2 @ h1)
        return W1.T @ ((W2.T @ (1 - h2 * h2)) * (1 - h1 * h1))

    def f(x):
        return wg.sum(wg.tanh(W2 @ wg.tanh(W1 @ x)))

    np.testing.assert_allclose(wg.grad(f)(x), hand_grad(x), rtol=1e-12, atol=1e-14)
    fd = (hand_grad(x + 1e-5 * v) - hand_grad(x - 1e-5 * v)) / 2e-5
    np.testing.assert_allclose(wg.hvp(f, x, v), fd, rtol=1e-7, atol=1e-9)


def test_against_torch_when_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    A = rng.standard_normal((4, 4))
    x, v = rng.standard_normal(4), rng.standard_normal(4)

    def f(x):
        return wg.sum(wg.sigmoid(A @ x) * wg.sin(x))

    def tf(x):
        return (torch.sigmoid(torch.from_numpy(A) @ x) * torch.sin(x)).sum()

    xt = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad(tf(xt), xt, create_graph=True)
    (hv,) = torch.autograd.grad(g, xt, grad_outputs=torch.from_numpy(v))
    np.testing.assert_allclose(wg.grad(f)(x), g.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(wg.hvp(f, x, v), hv.numpy(), rtol=1e-12)
    H = torch.autograd.functional.hessian(tf, torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(wg.hessian(f)(x), H, rtol=1e-11, atol=1e-13)


# ---------------------------------------------------------------------- gradcheck
def test_gradcheck_passes_and_reports():
    rng = np.random.default_rng(0)
    rep = wg.gradcheck(lambda a, b: wg.tanh(a @ b), rng.standard_normal((2, 3)), rng.standard_normal(3),
                       modes=("rev", "fwd"))
    assert rep.ok and len(rep.entries) == 4
    assert {e.mode for e in rep.entries} == {"rev", "fwd"}
    assert all(e.max_abs_err < 1e-8 for e in rep.entries)
    assert "max abs err" in str(rep)


class _BadSquare(wg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x  # the slip: should be 2 x g


class _GoodSquare(_BadSquare):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2.0 * x * g


def test_gradcheck_catches_a_wrong_hand_written_backward():
    with pytest.raises(wg.GradcheckError) as info:
        wg.gradcheck(_BadSquare.apply, np.array([1.0, 2.0, 3.0]))
    rep = info.value.report
    assert not rep.ok and rep.entries[0].worst == (2, 2)
    assert rep.entries[0].analytic == 3.0 and abs(rep.entries[0].numeric - 6.0) < 1e-6
    assert "| argument 0 | rev |" in str(info.value) and "NO" in str(info.value)
    assert wg.gradcheck(_GoodSquare.apply, np.array([1.0, 2.0, 3.0])).ok
    rep2 = wg.gradcheck(_BadSquare.apply, np.array([1.0]), raise_on_failure=False)
    assert not rep2.ok


def test_gradcheck_forward_mode_needs_a_jvp_on_custom_functions():
    with pytest.raises(RuntimeError, match="defines no jvp"):
        wg.gradcheck(_GoodSquare.apply, np.array([1.0]), modes=("fwd",))


def test_gradcheck_works_in_float64_for_float32_inputs():
    rep = wg.gradcheck(lambda x: wg.exp(x), np.array([0.1, 0.2], dtype=np.float32))
    assert rep.ok


# ---------------------------------------------------------------------- bad input: each error names what was expected
@pytest.mark.parametrize("call,exc,match", [
    (lambda: wg.grad(lambda x: x * 2.0)(np.ones(3)), ValueError, r"must return a scalar \(one element\), got shape \(3,\).*jacrev.*vjp"),
    (lambda: wg.grad(lambda x: [x, x])(1.0), TypeError, r"must return a scalar, got a list.*jacrev"),
    (lambda: wg.grad(lambda x: wg.sum(x))(np.arange(3)), TypeError, r"argument 0 has dtype int64.*float"),
    (lambda: wg.grad(lambda x: x)(3), TypeError, r"argument 0 is the Python int 3.*pass 3.0"),
    (lambda: wg.grad(lambda p: p["a"] * p["b"])({"a": 1.0, "b": 2}), TypeError, r"argument 0 at \['b'\] is the Python int"),
    (lambda: wg.grad(lambda x, y: x, argnums=2)(1.0, 2.0), IndexError, r"argnums=2 is out of range.*2 positional arguments.*0\.\.1"),
    (lambda: wg.grad(lambda x: x, argnums=(0, 0)), ValueError, r"names an argument twice"),
    (lambda: wg.grad(lambda x: x, argnums="x"), TypeError, r"argnums must be an int"),
    (lambda: wg.grad(lambda x: x, has_aux=True)(1.0), TypeError, r"has_aux=True.*pair"),
    (lambda: wg.jvp(wg.sin, (np.ones(2),), (np.ones(3),)), ValueError, r"tangent for primal 0 has shape \(3,\) but its primal has shape \(2,\)"),
    (lambda: wg.jvp(wg.sin, (np.ones(2),), (np.ones(2, np.float32),)), TypeError, r"tangent for primal 0 has dtype float32 but its primal has dtype float64"),
    (lambda: wg.jvp(wg.sin, (np.ones(2),), ()), ValueError, r"expected a tuple of 1 tangent"),
    (lambda: wg.jvp(wg.sin, np.ones(2), (np.ones(2),)), TypeError, r"primals must be a tuple"),
    (lambda: wg.jvp(lambda p: p["a"], ({"a": 1.0},), ({"b": 1.0},)), ValueError, r"keys \['b'\].*keys \['a'\]"),
    (lambda: wg.jvp(lambda x: x, (np.arange(2),), (np.ones(2),)), TypeError, r"primal 0 has dtype int64"),
    (lambda: wg.vjp(lambda x: x * 2.0, np.ones(2))[1](np.ones(3)), ValueError, r"cotangent for output 0 has shape \(3,\) but the output has shape \(2,\)"),
    (lambda: wg.vjp(lambda x: x), TypeError, r"at least one primal"),
    (lambda: wg.jacobian(wg.sin, mode="both"), ValueError, r"mode must be 'rev' or 'fwd'"),
    (lambda: wg.hessian(wg.sin, mode="both"), ValueError, r"hessian: mode must be 'rev' or 'fwd'"),
    (lambda: wg.gradcheck(wg.sin, np.ones(2), modes=("sideways",)), ValueError, r"modes must be"),
    (lambda: wg.gradcheck(wg.sin, np.arange(2)), TypeError, r"no floating-point input"),
])
def test_bad_input_messages(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_vjp_never_hands_back_the_callers_cotangent_object():
    u = np.array([1.0, 2.0])
    (ct,) = wg.vjp(lambda x: x + 0.0, np.zeros(2))[1](u)
    ct += 1.0
    np.testing.assert_array_equal(u, [1.0, 2.0])


def test_hessian_over_several_arguments_and_trees():
    def f(a, b):
        return wg.sum(a * a * b) + b[0] ** 3

    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    H = wg.hessian(f, argnums=(0, 1))(a, b)
    Hf = wg.hessian(f, argnums=(0, 1), mode="fwd")(a, b)
    np.testing.assert_allclose(H[0][0], np.diag(2 * b))
    np.testing.assert_allclose(H[0][1], np.diag(2 * a))
    np.testing.assert_allclose(H[1][0], np.diag(2 * a))
    np.testing.assert_allclose(H[1][1], np.diag([6 * b[0], 0.0]))
    for i in (0, 1):
        for j in (0, 1):
            np.testing.assert_allclose(Hf[i][j], H[i][j])
    Ht = wg.hessian(lambda p: f(p["a"], p["b"]))({"a": a, "b": b})
    np.testing.assert_allclose(Ht["a"]["b"], H[0][1])


_Cube = cube_gate()


def test_custom_function_in_forward_and_reverse_mode():
    x = np.array([1.0, 2.0])
    assert wg.gradcheck(_Cube.apply, x, modes=("rev", "fwd")).ok
    np.testing.assert_allclose(wg.jvp(_Cube.apply, (x,), (np.ones(2),))[1], [3.0, 12.0])
    with pytest.raises(RuntimeError, match="first-order"):
        wg.grad(wg.grad(_Cube.apply))(2.0)


def test_hvp_through_a_first_order_custom_function_is_never_silently_zero():
    x = np.array([1.0, 2.0])
    try:
        hv = wg.hvp(lambda x: wg.sum(_Cube.apply(x)), x, np.ones(2))
    except RuntimeError as err:
        assert "first-order" in str(err)
    else:
        np.testing.assert_allclose(hv, 6.0 * x)


def test_derivative_of_an_hvp():
    f = lambda x: wg.sum(x ** 4) / 12.0  # H = diag(x^2), so H v = x^2 v
    x, v = np.array([1.0, 2.0, 3.0]), np.array([1.0, -1.0, 2.0])
    np.testing.assert_allclose(wg.grad(lambda x: wg.sum(wg.hvp(f, x, v)))(x), 2 * x * v)
    np.testing.assert_allclose(wg.jacrev(lambda x: wg.hvp(f, x, v))(x), np.diag(2 * x * v))
    xt = wg.tensor(x, requires_grad=True)
    wg.sum(wg.hvp(f, xt, v)).backward()
    np.testing.assert_allclose(xt.grad.data, 2 * x * v)


def test_gradcheck_and_jacobians_of_an_empty_input():
    assert wg.gradcheck(lambda x: wg.sum(x ** 2), np.zeros(0), modes=("rev", "fwd")).ok
    assert wg.gradcheck(lambda x, y: wg.sum(x ** 2) * y, np.zeros(0), 2.0, modes=("rev", "fwd")).ok
    assert wg.jacfwd(lambda x: x ** 2)(np.zeros(0)).shape == (0, 0)
    assert wg.jacrev(lambda x: x ** 2)(np.zeros(0)).shape == (0, 0)


def test_an_output_of_one_element_has_a_gradient_in_any_shape():
    """As PyTorch's backward() and HIPS autograd's grad: a (1, 1) output is a scalar in all but shape."""
    f = lambda x: wg.reshape(wg.sum(x * x), (1, 1))
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(wg.grad(f)(x), [2.0, 4.0])
    t = wg.tensor(x, requires_grad=True)
    f(t).backward()
    np.testing.assert_array_equal(t.grad.data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match=r"shape \(2,\), so its gradient is a Jacobian"):
        (t * 2.0).backward()
