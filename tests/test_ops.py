"""Every rule in the registry, checked from its spec: forward against NumPy, VJP against
central finite differences in float64, JVP against finite differences and against the VJP
(<u, J v> == <J^T u, v>), and the VJP's own derivative (create_graph) against finite
differences of the VJP.  A registered rule without a spec fails the suite.

Complex inputs (the specs' ``COMPLEX_SPECS``, run as ``NAME@complex``) are checked the same way in
the complex plane, in HIPS autograd's convention (docs/complex.md): the cotangent ``u`` of an output
stands for the real loss ``Re(sum(u * f))``, whose gradient with respect to a complex input
``z = x + iy`` is ``dL/dx - i dL/dy``; finite differences perturb the real and the imaginary parts."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from opspec import load_specs, setup_case

import wengert as wg
from wengert.core.rule import REGISTRY
from wengert.core.tensor import raw

SPECS = load_specs()
ALL = {**SPECS, **load_specs("COMPLEX_SPECS")}  # the same rules again on complex inputs: NAME@complex

CASES = [(name, i) for name in sorted(ALL) for i in range(len(ALL[name].cases))]


def test_every_registered_rule_has_a_spec():
    missing = sorted(set(REGISTRY) - set(SPECS))
    assert not missing, f"rules without a test spec (add them to tests/specs_*.py): {missing}"


def test_every_spec_names_a_rule():
    assert not sorted(set(SPECS) - set(REGISTRY))


def _setup(name, ci, seed):
    return setup_case(ALL, name, ci, seed)


def _as64(v):
    """A value as a float64 array (complex128 if it is complex)."""
    a = np.asarray(raw(v))
    return a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)


def _draw_like(rng, like):
    """Standard normal values of like's shape, complex if like is complex (a cotangent, a tangent)."""
    r = rng.standard_normal(np.shape(like))
    return r + 1j * rng.standard_normal(np.shape(like)) if np.iscomplexobj(like) else r


def _f(call, arrays, params, i, xi):
    args = list(arrays)
    args[i] = xi
    return _as64(call(*args, **params))


def _fd_grad(call, arrays, params, i, u, eps, f=None):
    """Central differences of Re<u, f> with respect to argument i (complex: d/dx - i d/dy, autograd's convention)."""
    f = f or (lambda xi: _f(call, arrays, params, i, xi))
    x = arrays[i]
    steps = (1.0, 1j) if np.iscomplexobj(x) else (1.0,)
    g = np.zeros(x.shape, dtype=x.dtype if np.iscomplexobj(x) else np.float64)
    for idx in np.ndindex(x.shape):
        for s in steps:
            xp = x.copy()
            xm = x.copy()
            xp[idx] += eps * s
            xm[idx] -= eps * s
            g[idx] += np.real(np.sum(u * f(xp)) - np.sum(u * f(xm))) / (2 * eps) * np.conj(s)
    return g


def _close(actual, expected, rtol):
    actual = _as64(actual)
    expected = _as64(expected)
    scale = max(1.0, float(np.max(np.abs(expected))) if expected.size else 1.0)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("name,ci", CASES)
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_rule(name, ci, seed):
    spec, case, rng, arrays, wrt, call = _setup(name, ci, seed)
    params = case.params

    # forward: plain values, Tensors and the NumPy reference agree
    plain = call(*arrays, **params)
    tensors = [wg.tensor(a, requires_grad=(i in wrt and not spec.nondiff)) for i, a in enumerate(arrays)]
    out = call(*tensors, **params)
    assert isinstance(out, wg.Tensor)
    np.testing.assert_allclose(out.data, np.asarray(plain), rtol=1e-13, atol=1e-15)
    if spec.ref is not None:
        np.testing.assert_allclose(out.data, spec.ref(*arrays, **params), rtol=1e-12, atol=1e-12)
    if spec.nondiff:
        assert not out.requires_grad
        return

    # reverse mode against central finite differences
    u = _draw_like(rng, out.data)
    out.backward(u)
    for i in wrt:
        fd = _fd_grad(call, arrays, params, i, u, spec.eps)
        assert tensors[i].grad.shape == arrays[i].shape
        _close(tensors[i].grad.data, fd, spec.rtol)

    # forward mode: J v against finite differences, and <u, J v> == sum_i <J_i^T u, v_i>
    vs = {i: _draw_like(rng, arrays[i]) for i in wrt}

    def with_wrt(*xs):
        full = list(arrays)
        for i, x in zip(wrt, xs):
            full[i] = x
        return call(*full, **params)

    _, jv = wg.jvp(with_wrt, tuple(arrays[i] for i in wrt), tuple(vs[i] for i in wrt))
    jv = _as64(jv)
    eps = spec.eps
    plus = call(*[a + eps * vs[i] if i in vs else a for i, a in enumerate(arrays)], **params)
    minus = call(*[a - eps * vs[i] if i in vs else a for i, a in enumerate(arrays)], **params)
    _close(jv, (_as64(plus) - _as64(minus)) / (2 * eps), spec.rtol)
    lhs = float(np.real(np.sum(u * jv)))
    rhs = sum(float(np.real(np.sum(tensors[i].grad.data * vs[i]))) for i in wrt)
    assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs), abs(rhs))

    # the VJP is itself differentiable (create_graph): d/dx_i <J^T u, w> against finite differences
    if spec.second_order:
        ts = [wg.tensor(a, requires_grad=(i in wrt)) for i, a in enumerate(arrays)]
        o = call(*ts, **params)
        j = wrt[0]
        o.backward(u, create_graph=True)
        w = _draw_like(rng, arrays[j])
        first = ts[j].grad
        for i in wrt:
            ts[i].grad = None
        if first.requires_grad:
            (first * w).sum().backward()

        def vjp_dot_w(*arrs):
            tt = [wg.tensor(a, requires_grad=(k == j)) for k, a in enumerate(arrs)]
            call(*tt, **params).backward(u)
            return float(np.real(np.sum(tt[j].grad.data * w)))

        for i in wrt:
            fd = _fd_grad(None, arrays, params, i, 1.0, 1e-5,
                          f=lambda xi, i=i: vjp_dot_w(*[xi if k == i else a for k, a in enumerate(arrays)]))
            got = ts[i].grad.data if ts[i].grad is not None else np.zeros(arrays[i].shape)
            _close(got, fd, 1e-5)


# ------------------------------------------------------------------ vmap against a loop, for every op
@pytest.mark.parametrize("name,ci", CASES)
def test_vmap_matches_a_loop(name, ci):
    """Every rule has a batching rule: vmap over a batch of draws equals a Python loop (values and VJPs)."""
    spec, case, rng, arrays, wrt, call = _setup(name, ci, 0)
    draws = [setup_case(ALL, name, ci, seed)[3] for seed in (1, 2, 3)]
    params = case.params
    f = lambda *a: call(*a, **params)
    batchable = [i for i, a in enumerate(arrays) if a.dtype.kind in "fbc"]
    for which in (batchable, batchable[:1], batchable[-1:]):
        stacked = [np.stack([d[i] for d in draws]) if i in which else arrays[i] for i in range(len(arrays))]
        in_axes = tuple(0 if i in which else None for i in range(len(arrays)))
        per_example = [[d[i] if i in which else arrays[i] for i in range(len(arrays))] for d in draws]
        got = wg.vmap(f, in_axes=in_axes)(*stacked)
        want = np.stack([np.asarray(raw(f(*a))) for a in per_example])
        _close(got, want, 1e-12)
        if spec.nondiff or not wrt:
            continue
        u = _draw_like(rng, want[0])
        g = wg.grad(lambda *a, u=u: wg.sum(f(*a) * u), argnums=wrt[0])
        _close(wg.vmap(g, in_axes=in_axes)(*stacked), np.stack([np.asarray(g(*a)) for a in per_example]), 1e-10)


# ------------------------------------------------------------------ random broadcast shapes (hypothesis)
BINARY = {
    "add": (lambda r, s: r.standard_normal(s), lambda r, s: r.standard_normal(s)),
    "subtract": (lambda r, s: r.standard_normal(s), lambda r, s: r.standard_normal(s)),
    "multiply": (lambda r, s: r.standard_normal(s), lambda r, s: r.standard_normal(s)),
    "divide": (lambda r, s: r.standard_normal(s), lambda r, s: r.uniform(0.5, 2, s)),
    "power": (lambda r, s: r.uniform(0.5, 2, s), lambda r, s: r.uniform(-1, 2, s)),
    "maximum": (lambda r, s: r.standard_normal(s), lambda r, s: r.standard_normal(s) + 10.0),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@settings(max_examples=8, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2**31 - 1))
def test_binary_ops_on_random_broadcast_shapes(name, shapes, seed):
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a, b = np.asarray(BINARY[name][0](rng, sa)), np.asarray(BINARY[name][1](rng, sb))
    rule = REGISTRY[name]
    ta, tb = wg.tensor(a, requires_grad=True), wg.tensor(b, requires_grad=True)
    out = rule(ta, tb)
    assert out.shape == shapes.result_shape
    u = rng.standard_normal(out.shape)
    out.backward(u)
    call = lambda *xs: rule(*xs)
    _close(ta.grad.data, _fd_grad(call, [a, b], {}, 0, u, 1e-6), 1e-6)
    _close(tb.grad.data, _fd_grad(call, [a, b], {}, 1, u, 1e-6), 1e-6)


@pytest.mark.parametrize("name", ["sum", "max", "logsumexp", "prod"])
@settings(max_examples=8, deadline=None)
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), data=st.data())
def test_reductions_on_random_axes(name, shape, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                               st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True)
                               .map(tuple)))
    keepdims = data.draw(st.booleans())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    x = (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.3 + 0.5).astype(np.float64)
    rule = REGISTRY[name]
    t = wg.tensor(x, requires_grad=True)
    out = rule(t, axis=axis, keepdims=keepdims)
    u = rng.standard_normal(out.shape)
    out.backward(u)
    call = lambda a: rule(a, axis=axis, keepdims=keepdims)
    _close(t.grad.data, _fd_grad(call, [x], {}, 0, u, 1e-6), 1e-6)
