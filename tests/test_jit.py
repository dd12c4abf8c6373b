"""wg.jit: the replay equals the eager call, the cache, what is refused, and bad input.

Every equality is checked at inputs *other* than the ones the function was
traced at: a replay that kept a trace-time value as a constant would pass at
the traced inputs and fail there.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from opspec import cube_gate

import wengert as wg
from wengert.jit import JitFallbackWarning

TOL = 1e-12


def _close(a, b, tol=TOL):
    np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=tol, atol=tol)


def _compiled(jf, *args):
    """True when jf has a compiled program (not an eager fallback) for these arguments."""
    try:
        jf.program(*args)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------- W6 and friends
def _w6(l, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((200, l)) / np.sqrt(l)
    return A, [rng.standard_normal(l) for _ in range(3)]


@pytest.mark.parametrize("l", [1, 10, 100, 1000])
def test_w6_value_and_gradient_equal_eager(l):
    A, thetas = _w6(l)

    def f(theta):
        return wg.sum(wg.tanh(A @ theta))

    jf, jg = wg.jit(f), wg.jit(wg.grad(f))
    for th in thetas:  # the first call traces, the others replay
        _close(jf(th), f(th).item())
        _close(jg(th), wg.grad(f)(th))
    assert type(jf(thetas[0])) is float and type(jg(thetas[0])) is np.ndarray
    assert _compiled(jg, thetas[0])


def test_w6_replay_is_bitwise_equal_to_eager():
    A, thetas = _w6(10)
    f = lambda th: wg.sum(wg.tanh(A @ th))
    jg = wg.jit(wg.grad(f))
    for th in thetas:
        assert np.array_equal(jg(th), wg.grad(f)(th))


def _mlp_params(rng, sizes=(3, 5, 2)):
    p = {}
    for i, (m, n) in enumerate(itertools.pairwise(sizes)):
        p[f"W{i}"] = rng.standard_normal((m, n)) / np.sqrt(m)
        p[f"b{i}"] = rng.standard_normal(n) * 0.1
    return p


def _mlp_loss(p, X, Y):
    h = wg.tanh(X @ p["W0"] + p["b0"])
    logits = h @ p["W1"] + p["b1"]
    logp = logits - wg.logsumexp(logits, axis=1, keepdims=True)
    return -wg.mean(wg.sum(logp * Y, axis=1))


def test_mlp_value_and_grad_with_a_dict_of_params(rng):
    X = rng.standard_normal((7, 3))
    Y = np.eye(2)[rng.integers(0, 2, 7)]
    jvg = wg.jit(wg.value_and_grad(_mlp_loss))
    for _ in range(3):
        p = _mlp_params(rng)
        X2 = X + rng.standard_normal(X.shape)
        value, g = jvg(p, X2, Y)
        ev, eg = wg.value_and_grad(_mlp_loss)(p, X2, Y)
        _close(value, ev)
        assert set(g) == set(p)
        for k in p:
            _close(g[k], eg[k])
    assert _compiled(jvg, p, X, Y)


def test_softmax_logsumexp_indexing_and_reductions_with_axis(rng):
    def f(x):
        s = wg.softmax(x, axis=1)
        a = wg.sum(s[:, 1:3] * x[[0, 2, 2, 1], :2], axis=0)  # basic and advanced (repeated) indexing
        b = wg.logsumexp(x[:, :2], axis=0) + wg.mean(x[:, 1:] ** 2, axis=0)
        return wg.sum(a * b) + wg.sum(wg.exp(x), axis=(0, 1))

    jf, jg = wg.jit(f), wg.jit(wg.grad(f))
    for _ in range(3):
        x = rng.standard_normal((4, 3))
        _close(jf(x), f(x).item())
        _close(jg(x), wg.grad(f)(x))
    assert _compiled(jg, x)


def test_hvp_inside_jit(rng):
    f = lambda x: wg.sum(wg.sin(x) * x ** 3)
    j = wg.jit(lambda x, v: wg.hvp(f, x, v))
    for _ in range(3):
        x, v = rng.standard_normal(5), rng.standard_normal(5)
        _close(j(x, v), wg.hvp(f, x, v))


def test_second_derivative_inside_jit():
    j = wg.jit(wg.grad(wg.grad(lambda x: x ** 3 * wg.sin(x))))
    for x in (0.3, 1.7, -2.0):
        _close(j(x), wg.grad(wg.grad(lambda x: x ** 3 * wg.sin(x)))(x))


# ---------------------------------------------------------------------- cache and retracing
class Counted:
    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.fn(*args, **kwargs)


def test_cache_hit_does_not_call_fn_and_a_new_shape_retraces(rng):
    f = Counted(lambda x: wg.sum(wg.tanh(x) * x))
    j = wg.jit(f)
    j(rng.standard_normal(3))
    j(rng.standard_normal(3))
    j(rng.standard_normal(3))
    assert f.calls == 1
    x5 = rng.standard_normal(5)
    _close(j(x5), np.sum(np.tanh(x5) * x5))
    assert f.calls == 2
    j(x5.astype(np.float32))  # a new dtype retraces too
    assert f.calls == 3


def test_python_floats_are_traced_and_ints_are_static():
    f = Counted(lambda x, n: x ** n)
    j = wg.jit(f)
    assert j(2.0, 3) == 8.0 and j(3.0, 3) == 27.0
    assert f.calls == 1
    assert j(3.0, 2) == 9.0
    assert f.calls == 2


def test_static_argnums_unrolls_python_control_flow():
    def f(x, n):
        for _ in range(n):
            x = wg.sin(x)
        return wg.sum(x)

    g = wg.jit(wg.grad(f), static_argnums=(1,))
    x = np.array([0.5, 1.0])
    for n in (1, 3):
        _close(g(x, n), wg.grad(f)(x, n))
        _close(g(x + 1, n), wg.grad(f)(x + 1, n))


def test_integer_arrays_are_static_by_content(rng):
    f = Counted(lambda x, idx: wg.sum(x[idx] ** 2))
    j = wg.jit(wg.grad(f))
    x = rng.standard_normal(5)
    i1, i2 = np.array([0, 0, 3]), np.array([1, 2, 4])
    _close(j(x, i1), wg.grad(f)(x, i1))
    _close(j(x, i2), wg.grad(f)(x, i2))
    calls = f.calls
    _close(j(x + 1, i1), wg.grad(f)(x + 1, i1))
    assert f.calls == calls + 1  # the eager grad above called f once; the jitted one did not


# ---------------------------------------------------------------------- constants, parameters, outputs
def test_closed_over_arrays_are_captured_at_trace_time():
    A = np.array([1.0, 2.0])
    j = wg.jit(lambda x: wg.sum(A * x))
    assert j(np.ones(2)) == 3.0
    A[:] = 10.0  # not seen: the program holds a copy, as a JAX jit holds its constants
    assert j(np.ones(2)) == 3.0


def test_closed_over_parameters_are_read_live():
    w = wg.tensor([1.0, 2.0], requires_grad=True)
    j = wg.jit(lambda x: wg.sum(w * x))
    assert j(np.ones(2)) == 3.0
    with wg.no_grad():
        w.data = np.array([5.0, 5.0])  # e.g. an optimiser step
    assert j(np.ones(2)) == 10.0


def test_returned_arrays_are_owned_by_the_caller():
    j = wg.jit(wg.grad(lambda x: wg.sum(x)))  # the gradient is a constant of the program
    g = j(np.zeros(3))
    g[:] = 7.0
    assert np.array_equal(j(np.zeros(3)), np.ones(3))
    out = wg.jit(lambda x: (x, x * 1.0))(np.arange(3.0))
    assert not np.shares_memory(out[0], out[1])


def test_tensor_arguments_give_tensors_without_graph():
    j = wg.jit(lambda x: wg.exp(x) * 2.0)
    r = j(wg.tensor([0.0, 1.0]))
    assert isinstance(r, wg.Tensor) and r.grad_fn is None
    _close(r.data, 2 * np.exp([0.0, 1.0]))


def test_tensors_that_require_grad_run_eagerly_and_stay_differentiable():
    f = Counted(lambda x: wg.sum(x * x))
    j = wg.jit(f)
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    y = j(x)
    y.backward()
    _close(x.grad.data, [2.0, 4.0])
    with wg.no_grad():
        assert j(x).item() == 5.0  # under no_grad the call compiles
    assert f.calls == 2


def test_custom_function_forward_replays(rng):
    Cube = cube_gate()
    j = wg.jit(lambda x: wg.sum(Cube.apply(x)))
    for _ in range(2):
        x = rng.standard_normal(4)
        _close(j(x), np.sum(x ** 3))
    g = wg.jit(wg.grad(lambda x: wg.sum(Cube.apply(x))))  # its backward is staged as one more op
    for _ in range(2):
        x = rng.standard_normal(4)
        _close(g(x), 3 * x ** 2)
    assert _compiled(g, x) and "Cube.backward" in str(g.program(x))
    with pytest.raises(RuntimeError, match="first-order"):  # a derivative of its backward is still refused
        wg.jit(wg.grad(wg.grad(lambda x: Cube.apply(x))))(1.0)


# ---------------------------------------------------------------------- ops without gradient
# While tracing, the engine records what a reverse-mode graph leaves out (comparisons, sign,
# no_grad, detach, the tests inside derivative rules), so these compile: no fallback warning,
# and equal to eager at inputs other than the traced one.
def _compiles_and_matches(target, xs, *, bitwise=False):
    j = wg.jit(target)
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)
        for x in xs:  # the first call traces; the others replay at new inputs
            got, want = j(x), target(x)
            want = want.data if isinstance(want, wg.Tensor) else want
            _close(got, want)
            if bitwise:
                assert np.array_equal(np.asarray(got), np.asarray(want))
        assert _compiled(j, xs[0])
    return j


def _relu_mlp_loss(p, X, y):
    h = wg.relu(X @ p["W0"] + p["b0"])
    return wg.mean((h @ p["W1"] + p["b1"] - y) ** 2)


def test_grad_of_a_relu_mlp_compiles(rng):
    X, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    g = lambda p: wg.grad(_relu_mlp_loss)(p, X, y)
    j = wg.jit(g)
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)
        for _ in range(4):  # new parameters at every call: different relu masks
            p = _mlp_params(rng, (3, 6, 1))
            got, want = j(p), g(p)
            for k in p:
                _close(got[k], want[k])
                assert np.array_equal(got[k], want[k])  # relu's mask as a rule is bit for bit the NumPy one
        assert _compiled(j, p)
    assert "greater" in str(j.program(p))


def test_grad_of_nn_losses_compiles(rng):
    from wengert.nn import functional as F

    X, Y, labels = rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), rng.integers(0, 2, 8)
    losses = (lambda W: F.mse_loss(wg.relu(X @ W), Y), lambda W: F.l1_loss(X @ W, Y),
              lambda W: F.cross_entropy(wg.relu(X @ W), labels),
              lambda W: F.binary_cross_entropy_with_logits(X @ W, (Y > 0).astype(np.float64)))
    for loss in losses:  # their shape checks read a traced tensor only for its shape
        _compiles_and_matches(wg.grad(loss), [rng.standard_normal((3, 2)) for _ in range(3)])


ACTIVATIONS = {
    "relu": wg.relu,
    "abs": wg.abs,
    "maximum": lambda h: wg.maximum(h, 0.1 * h),
    "minimum": lambda h: wg.minimum(h, 0.3),
    "clip": lambda h: wg.clip(h, -0.5, 0.5),
    "clip_lo": lambda h: wg.clip(h, -0.5, None),
    "leaky_relu": lambda h: wg.leaky_relu(h, 0.2),
    "elu": wg.elu,
    "sign": lambda h: wg.sign(h) * h * h,
    "where": lambda h: wg.where(h > 0, h, 0.1 * h),
    "where_float_condition": lambda h: wg.where(wg.sign(h) + 1.0, h, h * h),
    "power_y": lambda h: 1.5 ** h + wg.abs(h) ** h,
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_grad_through_ops_without_gradient_compiles(rng, name):
    act = ACTIVATIONS[name]
    W = rng.standard_normal((6, 6))
    f = lambda x: wg.sum(act(W @ x) ** 2)
    xs = [rng.standard_normal(6) for _ in range(4)]
    _compiles_and_matches(f, xs)
    _compiles_and_matches(wg.grad(f), xs, bitwise=True)


@pytest.mark.parametrize("reduce", [wg.max, wg.min])
def test_grad_of_max_and_min_reductions_compiles(rng, reduce):
    xs = [rng.standard_normal((4, 3)) for _ in range(3)]
    xs.append(np.array([[1.0, 1.0, 0.0], [2.0, -1.0, 2.0], [0.0, 0.0, 0.0], [3.0, 1.0, 1.0]]))  # ties: split evenly
    for axis in (None, 0, 1):
        f = lambda x, axis=axis: wg.sum(reduce(x, axis=axis) ** 2) + wg.sum(x)
        _compiles_and_matches(wg.grad(f), xs, bitwise=True)
    _compiles_and_matches(wg.grad(lambda x: wg.sum(reduce(x, axis=1, keepdims=True) * x)), xs, bitwise=True)


def test_float32_inputs_keep_their_dtype(rng):
    xs = [rng.standard_normal(5).astype(np.float32) for _ in range(3)]
    for act in (wg.relu, lambda h: wg.maximum(h, 0.0), lambda h: wg.leaky_relu(h, 0.2), lambda h: wg.clip(h, -0.5, 0.5)):
        j = _compiles_and_matches(wg.grad(lambda x, act=act: wg.sum(act(x) * x)), xs, bitwise=True)
        assert j(xs[0]).dtype == np.float32


def test_scalar_relu_and_comparisons_compile():
    f = lambda x: wg.relu(x) * x + wg.where(x > 1.0, x, 0.0) + wg.abs(x) * wg.sign(x)
    _compiles_and_matches(f, [0.5, -1.5, 2.0, -0.25])
    _compiles_and_matches(wg.grad(f), [0.5, -1.5, 2.0, -0.25], bitwise=True)


def test_higher_derivatives_and_forward_mode_through_relu_compile(rng):
    f = lambda x: wg.sum(wg.relu(x) ** 3 + wg.abs(x) * x)
    xs = [rng.standard_normal(4) for _ in range(3)]
    for transform in (wg.hessian(f), wg.jacfwd(lambda x: wg.relu(x) * wg.sin(x)), wg.grad(lambda x: wg.sum(wg.grad(f)(x) ** 2))):
        _compiles_and_matches(transform, xs)
    _compiles_and_matches(lambda v: wg.hvp(f, xs[0] + v, v), xs)


def test_no_grad_and_detach_inside_fn_compile(rng):
    xs = [rng.standard_normal(3) for _ in range(3)]

    def with_no_grad(x):
        with wg.no_grad():
            scale = wg.sum(x * x)
        return wg.sum(x * scale)

    def with_detach(x):
        return wg.sum(x * wg.sum(x * x).detach())

    for fn in (with_no_grad, with_detach):
        _compiles_and_matches(fn, xs, bitwise=True)
        j = _compiles_and_matches(wg.grad(fn), xs, bitwise=True)
        for x in xs:  # the detached factor is a constant for the gradient: d/dx (x * c) = c
            _close(j(x), np.full(3, np.sum(x * x)))
    assert "stop_gradient" not in str(wg.jit(with_detach).program(xs[0]))  # an identity: no step


def test_scalar_ops_under_no_grad_compile():
    def f(x):
        with wg.no_grad():
            s = x * x  # Python-float ops: the engine's scalar fast paths
            s = wg.tanh(s) + 1.0
        return x * s

    j = _compiles_and_matches(f, [2.0, 3.0, -1.5])
    _compiles_and_matches(wg.grad(f), [2.0, 3.0, -1.5], bitwise=True)
    assert "tanh" in str(j.program(2.0))


def test_nodes_without_gradient_stay_out_of_the_backward_walk():
    seen = {}

    def f(x):
        m = x > 0  # recorded while tracing, without gradient
        seen.update(is_leaf=m.is_leaf, grad_fn=m.grad_fn, requires_grad=m.requires_grad, text=repr(m))
        return wg.sum(wg.where(m, x, 0.0) * x)

    j = wg.jit(wg.grad(f))
    x = np.array([1.0, -2.0, 3.0])
    _close(j(x), [2.0, 0.0, 6.0])
    assert seen == {"is_leaf": True, "grad_fn": None, "requires_grad": False, "text": "tensor([ True, False,  True], dtype=bool)"}
    eager = wg.tensor(x, requires_grad=True) > 0  # outside a trace nothing is recorded
    assert eager.grad_fn is None and eager.is_leaf


def test_plain_value_reads_still_run_eagerly_and_exactly(rng):
    xs = [rng.standard_normal(3) for _ in range(3)]

    def with_data(x):
        return wg.sum(x * float(np.sum(x.data)))  # .data: Python reads the value

    def with_backward(x):
        t = wg.tensor(x, requires_grad=True)  # a new leaf from a traced value, and a plain backward
        wg.sum(t ** 3).backward()
        return t.grad

    def with_leaf(x):
        with wg.no_grad():
            c = x * 2.0
        c.requires_grad_()  # eagerly a leaf: the recorded op is cut
        return wg.sum(c * x)

    for fn, want in ((with_data, lambda x: np.sum(x) ** 2), (with_backward, lambda x: 3 * x ** 2),
                     (with_leaf, lambda x: 2 * x)):
        target = wg.grad(fn) if fn is with_leaf else fn
        j = wg.jit(target)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for x in xs:
                got = j(x)
                _close(got.data if isinstance(got, wg.Tensor) else got, want(x))
        assert any(issubclass(w.category, JitFallbackWarning) for w in caught), fn.__name__
        assert not _compiled(j, xs[0])
    prod_grad = wg.jit(wg.grad(lambda x: wg.prod(x)))  # prod's derivative is a primitive (exact at zeros): compiles
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)
        _close(prod_grad(np.array([2.0, 3.0])), [3.0, 2.0])
        _close(prod_grad(np.array([0.0, 3.0])), [3.0, 0.0])
    assert _compiled(prod_grad, np.array([0.0, 3.0]))


def test_transforms_of_constant_arguments_closing_over_a_traced_value_compile(rng):
    """jvp / jacfwd of a closure over x: inside a trace the transform keeps its graph, so x stays traced."""
    c, t = np.array([1.0, 2.0, 0.5]), np.array([0.5, -1.0, 2.0])
    for fn in (lambda x: wg.jvp(lambda y: wg.sum(wg.sin(y * x)), (c,), (t,))[1],
               lambda x: wg.jacfwd(lambda y: wg.sin(y * x))(c)):
        j = wg.jit(fn)
        with warnings.catch_warnings():
            warnings.simplefilter("error", JitFallbackWarning)
            for _ in range(3):  # traced at the first x, replayed at the others
                x = rng.standard_normal(3)
                _close(j(x), fn(x))
        assert _compiled(j, x)


def test_python_control_flow_on_a_traced_value_is_a_concretization_error():
    def f(x):
        if x.sum() > 0:
            return x
        return -x

    with pytest.raises(wg.ConcretizationError, match="wg.jit") as info:
        wg.jit(f)(np.array([1.0, 2.0]))
    assert "wg.where" in str(info.value) and "static_argnums" in str(info.value)
    with pytest.raises(wg.ConcretizationError, match="wg.jit"):
        wg.jit(lambda x: float(wg.sum(x)))(np.array([1.0]))
    with pytest.raises(wg.ConcretizationError, match="wg.jit"):
        wg.jit(lambda x: np.asarray(x))(np.array([1.0]))
    with pytest.raises(wg.ConcretizationError, match="wg.jit"):  # a comparison is traced too
        wg.jit(lambda x: x * 2.0 if wg.sum(x > 0) else x)(np.array([1.0]))
    with pytest.raises(wg.ConcretizationError, match="wg.jit"):
        wg.jit(lambda x: x * wg.sign(x).item())(np.array([1.0]))
    with pytest.raises(wg.ConcretizationError, match="wg.jit"):
        wg.jit(lambda x: x if wg.sum(x).detach() > 0 else -x)(np.array([1.0]))


# ---------------------------------------------------------------------- bad input
def test_bad_input_errors():
    with pytest.raises(TypeError, match="must be callable"):
        wg.jit(3.0)
    with pytest.raises(TypeError, match="static_argnums must be"):
        wg.jit(lambda x: x, static_argnums="0")
    with pytest.raises(ValueError, match="twice"):
        wg.jit(lambda x: x, static_argnums=(0, 0))
    j = wg.jit(lambda x, opts: x * len(opts), static_argnums=1)
    with pytest.raises(TypeError, match="static argument 1 .* list, which is not hashable"):
        j(np.ones(2), [1, 2])
    assert np.array_equal(j(np.ones(2), (1, 2)), [2.0, 2.0])
    with pytest.raises(IndexError, match="static_argnums=2 is out of range: .* 2 positional arguments"):
        wg.jit(lambda x, y: x, static_argnums=2)(np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="neither an array nor hashable"):
        wg.jit(lambda x, s: x)(np.ones(2), {1, 2})
    with pytest.raises(TypeError, match="float16"):
        wg.jit(lambda x: x)(np.ones(2, dtype=np.float16))


def test_program_prints_the_wengert_list():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    text = str(wg.jit(wg.grad(lambda t: wg.sum(wg.tanh(A @ t)))).program(np.ones(2)))
    assert "in0: float64 (2,)" in text and "tanh(v0)" in text and text.splitlines()[-1].startswith("  return v")


def test_no_profiler_hook_in_the_package():
    # the staging interpreter sees every read of a traced value where it happens (Tensor's
    # conversions, raw()): nothing watches other functions' frames by name
    import pathlib

    import wengert

    root = pathlib.Path(wengert.__file__).parent
    hits = [str(p) for p in root.rglob("*.py") if "setprofile" in p.read_text() or "settrace" in p.read_text()]
    assert hits == []


def test_keyword_arguments_and_nested_jit(rng):
    inner = wg.jit(lambda x: wg.sum(wg.sin(x)))
    outer = wg.jit(lambda x, scale=1.0: scale * inner(x) + inner(np.ones(2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback, no unchecked trace
        for _ in range(2):
            x, s = rng.standard_normal(3), float(rng.standard_normal())
            _close(outer(x, scale=s), s * np.sum(np.sin(x)) + 2 * np.sin(1.0))
    with pytest.raises(TypeError, match="float16"):
        wg.jit(lambda x: x)(np.ones(2, dtype=np.float16))


def test_hessian_and_jacobians_compile(rng):
    f = lambda x: wg.sum(wg.sin(x) * x ** 3)
    g = lambda x: wg.sin(x) * x
    for transform in (wg.hessian(f), wg.jacfwd(g), wg.jacrev(g)):
        j = wg.jit(transform)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # compiled, no fallback
            for _ in range(2):
                x = rng.standard_normal(3)
                _close(j(x), transform(x))


def test_the_replay_drops_each_intermediate_after_its_last_use(rng):
    from test_program import replay_lifetimes

    A = rng.standard_normal((6, 4))
    f = lambda theta: wg.sum(wg.tanh(A @ theta) ** 2 + wg.sin(A @ theta))
    j = wg.jit(wg.grad(f))
    theta = rng.standard_normal(4)
    prog = j.program(theta)
    held, last_read, outputs = replay_lifetimes(prog)
    for k, values in enumerate(held):  # the values the slots hold after step k
        for v in values:
            assert v in outputs or last_read[v] > k  # held only while a later step reads it
    for v, k in last_read.items():
        if v not in outputs:
            assert v not in held[k]  # dropped by its last reader
    assert outputs <= held[-1]
    _close(j(theta), wg.grad(f)(theta))


def test_the_compiler_merges_repeats_fuses_transposes_and_reuses_dead_buffers(rng):
    def f(W, x):
        h = wg.tanh(x @ W)
        return wg.sum(wg.log_softmax(h, axis=1) * wg.exp(h) * wg.exp(h))

    j = wg.jit(wg.value_and_grad(f, argnums=(0, 1)))
    W, x = rng.standard_normal((4, 5)), rng.standard_normal((8, 4))
    text = str(j.program(W, x))
    assert "transpose" not in text and "in0.T" in text  # g @ W.T: NumPy reads W transposed, no step
    assert text.count("= exp(v1)") == 1  # exp(h) twice is one step
    for _ in range(3):
        W, x = rng.standard_normal((4, 5)), rng.standard_normal((8, 4))
        W0, x0 = W.copy(), x.copy()
        v, (dW, dx) = j(W, x)
        v2, (dW2, dx2) = wg.value_and_grad(f, argnums=(0, 1))(W, x)
        _close(v, v2)
        _close(dW, dW2)
        _close(dx, dx2)
        # buffers written in place are the program's own: the inputs are never touched
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(x, x0)
