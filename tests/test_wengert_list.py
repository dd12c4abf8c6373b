"""The Wengert list (core.tape) and its one reverse walk (core.walk).

Scalar and array ops are entries of the same list; these tests check that
gradients are right across lists, mixed with arrays, with retain_grad /
retain_graph / create_graph, that the list holds no objects the cyclic
garbage collector must keep scanning, that the read API gives the list back,
and that threads never see each other's modes or lists.
"""
from __future__ import annotations

import gc
import math
import threading

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from opspec import cube_gate

import wengert as wg
from wengert.core import tape as tape_mod
from wengert.core.graph import Constant, Node, node_of, nodes
from wengert.core.state import state


def leaf(v: float) -> wg.Tensor:
    return wg.tensor(v, requires_grad=True)


def fd(f, xs, i, eps=1e-6):
    """Central difference of f (a function of floats) in argument i."""
    lo = list(xs)
    hi = list(xs)
    lo[i] -= eps
    hi[i] += eps
    return (f(*hi) - f(*lo)) / (2 * eps)


def expr(x, y, z, tanh, exp, sin):
    """A scalar expression that reuses values, mixes unary and binary ops and constants."""
    a = x * y + 3.0
    b = tanh(a) * z - x / y
    c = exp(-b) + sin(x) ** 2
    return c * a - 2.0 * (c - z) ** 3 + a / (1.0 + c * c)


def test_scalar_and_array_ops_are_entries_of_one_list():
    x = leaf(3.0)
    a = wg.tensor([1.0, 2.0], requires_grad=True)
    s = -x * 3.0  # scalar ops
    v = a * s  # an array op using a scalar entry
    assert s._tape is v._tape is state().tape
    order = nodes([v])
    assert [n.op for n in order] == ["leaf", "negative", "multiply", "leaf", "multiply"]
    assert order[-1].inputs[0] == node_of(a) and order[-1].inputs[1] == node_of(s)
    assert s.grad_fn.inputs[0].inputs[0] == node_of(x)  # the leaf itself, through its import entry


def test_gradients_match_finite_differences():
    vals = (0.7, -1.3, 0.4)
    x, y, z = (leaf(v) for v in vals)
    out = expr(x, y, z, wg.tanh, wg.exp, wg.sin)
    out.backward()
    ref = lambda *v: expr(*v, math.tanh, math.exp, math.sin)
    assert out.item() == pytest.approx(ref(*vals), rel=1e-14)
    for i, t in enumerate((x, y, z)):
        assert t.grad.item() == pytest.approx(fd(ref, vals, i), rel=1e-7)


def test_a_chain_across_many_lists(monkeypatch):
    monkeypatch.setattr(tape_mod, "TAPE_MAX", 64)
    monkeypatch.setattr("wengert.core.rule._TAPE_MAX", 64)
    state().tape = tape_mod.Tape()
    x = leaf(0.5)
    y = x
    tapes = set()
    for _ in range(1000):
        y = wg.sin(y) * 1.0001 + 0.1
        tapes.add(id(y._tape))
    assert len(tapes) > 10
    y.backward()
    v, d = 0.5, 1.0  # d/dx of the chain, by hand on floats
    for _ in range(1000):
        d *= math.cos(v) * 1.0001
        v = math.sin(v) * 1.0001 + 0.1
    assert y.item() == pytest.approx(v, rel=1e-13)
    assert x.grad.item() == pytest.approx(d, rel=1e-12)


def test_a_list_of_arrays_rolls_over_by_bytes(monkeypatch):
    monkeypatch.setattr(tape_mod, "TAPE_BYTES", 10_000)
    state().tape = tape_mod.Tape()
    w = wg.tensor(np.full(1000, 0.5), requires_grad=True)
    y = w
    lists = set()
    for _ in range(20):
        y = wg.tanh(y) * 1.5
        lists.add(id(y._tape))
    assert len(lists) > 5  # each list holds at most ~10 kB of array values
    wg.sum(y).backward()
    v, d = np.full(1000, 0.5), np.ones(1000)
    for _ in range(20):
        d *= (1 - np.tanh(v) ** 2) * 1.5
        v = np.tanh(v) * 1.5
    np.testing.assert_allclose(w.grad.data, d, rtol=1e-12)


def test_mixed_with_array_ops_both_ways():
    """Scalars -> an array op -> scalars again."""
    a, b = leaf(1.5), leaf(-0.5)
    s = a * b + 1.0
    v = wg.stack([s, a, b * 2.0])
    m = (v * v).sum()
    out = m * a + wg.tanh(m)
    out.backward()

    def f(a, b):
        s = a * b + 1.0
        m = s * s + a * a + (2 * b) ** 2
        return m * a + math.tanh(m)

    assert out.item() == pytest.approx(f(1.5, -0.5), rel=1e-14)
    assert a.grad.item() == pytest.approx(fd(f, (1.5, -0.5), 0), rel=1e-7)
    assert b.grad.item() == pytest.approx(fd(f, (1.5, -0.5), 1), rel=1e-7)


def test_retain_grad_on_an_intermediate_and_the_root():
    x = leaf(2.0)
    h = x * x
    h.retain_grad()
    out = wg.sin(h) * 3.0
    out.retain_grad()
    out.backward()
    assert h.grad.item() == pytest.approx(3.0 * math.cos(4.0))
    assert out.grad.item() == 1.0
    assert x.grad.item() == pytest.approx(3.0 * math.cos(4.0) * 4.0)


def test_release_retain_graph_and_accumulation():
    x = leaf(2.0)
    y = x * x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == pytest.approx(24.0)  # accumulated twice
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_a_second_root_through_released_entries_is_an_error():
    x = leaf(2.0)
    z = x * 3.0
    a = z + 1.0
    b = z * 2.0
    a.backward()
    with pytest.raises(RuntimeError, match="second time"):
        b.backward()


def test_create_graph():
    x = leaf(2.0)
    y = x**3
    y.backward(create_graph=True)
    g = x.grad
    assert g.item() == pytest.approx(12.0)
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(12.0)  # d/dx 3x^2 = 6x


def test_python_float_errors_give_ieee_results():
    x = leaf(0.0)
    y = wg.sqrt(x * 1.0)  # math.sqrt(0) = 0, but its derivative 0.5 / 0 raises in Python
    with np.errstate(divide="ignore"):
        y.backward()
    assert x.grad.item() == math.inf


def test_no_grad_records_nothing():
    x = leaf(1.0)
    n = len(state().tape.entries)
    with wg.no_grad():
        y = x * 2.0 + 1.0
    assert not y.requires_grad and y.grad_fn is None
    assert len(state().tape.entries) == n


def test_a_backward_starts_a_new_list():
    x = leaf(1.0)
    y = x * 2.0
    before = state().tape
    y.backward()
    assert state().tape is not before


def test_constants_as_tensors_are_kept_for_tables():
    x = leaf(2.0)
    c = wg.tensor(5.0)
    y = x * c
    a, b = y.grad_fn.inputs
    assert a == node_of(x) and isinstance(b, Constant) and b.tensor is c and b.value == 5.0
    y.backward()
    assert x.grad.item() == 5.0 and c.grad is None


def test_names_outlive_the_named_tensor():
    x = leaf(2.0)
    h = x * x
    h.name = "h"
    out = h + 1.0
    del h
    gc.collect()
    inner = out.grad_fn.inputs[0]
    assert isinstance(inner, Node) and inner.label == "h" and inner.op == "multiply"


def test_the_list_is_not_scanned_by_the_cyclic_gc():
    """Entries hold only atoms, so the collector stops tracking them; only imports (leaves) stay tracked."""
    state().tape = tape_mod.Tape()
    params = [leaf(0.1 * i) for i in range(10)]
    acc = params[0]
    for _ in range(200):
        for p in params:
            acc = wg.tanh(acc * p + 0.5)
    gc.collect()
    entries = acc._tape.entries
    tracked = [e for e in entries if gc.is_tracked(e)]
    assert len(entries) > 4000
    assert all(len(e) == 1 for e in tracked)  # the import entries, one per leaf
    assert len(tracked) == len(params)


def test_graph_has_no_cycles_with_gc_off():
    gc.collect()
    gc.disable()
    try:
        x = leaf(0.3)
        y = x
        for _ in range(100):
            y = wg.tanh(y * 1.1) + x
        y.backward()
        del x, y
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_one_entry_reached_by_several_ops_gets_its_whole_cotangent():
    x = leaf(0.5)
    a = x * 2.0
    b = wg.stack([a, a * a])  # an array op on a
    c = a * 3.0  # a scalar op on a
    out = b.sum() + c
    del a
    out.backward()
    # out = 2x + 4x^2 + 6x  ->  d/dx = 8 + 8x
    assert x.grad.item() == pytest.approx(8.0 + 8.0 * 0.5, rel=1e-14)


def test_forward_mode_and_hvp_on_scalar_functions():
    f = lambda x: wg.tanh(x) * x**3
    x0 = 0.7
    t = math.tanh(x0)
    d1 = (1 - t * t) * x0**3 + 3 * t * x0**2
    _, tangent = wg.jvp(f, (x0,), (1.0,))
    assert float(tangent) == pytest.approx(d1, rel=1e-12)
    h = float(wg.hvp(f, x0, 1.0))
    assert h == pytest.approx(fd(lambda x: float(wg.grad(f)(x)), (x0,), 0), rel=1e-6)


def test_a_custom_function_among_scalar_ops():
    Cube = cube_gate()
    x = leaf(1.5)
    h = x * 2.0
    y = Cube.apply(h) + h
    y.backward()
    assert x.grad.item() == pytest.approx(3 * 3.0**2 * 2.0 + 2.0)


def test_anomaly_mode_at_backward_only():
    x = leaf(0.0)
    y = wg.sqrt(x * 1.0)  # recorded before anomaly mode
    with wg.detect_anomaly(), pytest.raises(FloatingPointError, match="sqrt"), np.errstate(divide="ignore"):
        y.backward()


def test_leaf_gradients_are_stored_as_floats():
    """A scalar graph's leaf gradient keeps the storage form of a 0-d float64 (a Python float)."""
    x = leaf(2.5)
    y = wg.maximum(x, 2) * 3.0 + wg.minimum(x, 3)  # mixed float / int arguments
    y.backward()
    assert type(x.grad.item()) is float and x.grad.item() == 4.0
    assert isinstance(x.grad.data, np.ndarray)


def test_numpy_scalars_take_the_scalar_path():
    """NumPy scalars next to a float64 value compute as Python numbers: same values, same dtype, same entries."""
    w = leaf(0.25)
    xs = [np.float32(1.5), np.float64(-2.0), np.int64(3)]
    out = w
    for x in xs:
        out = out * x + x
    assert type(out._value) is float  # the storage form of a float64 scalar
    out.backward()
    ref = leaf(0.25)
    r = ref
    for x in (1.5, -2.0, 3.0):
        r = r * x + x
    r.backward()
    assert out.item() == r.item() and w.grad.item() == ref.grad.item()
    assert (wg.tensor(np.float32(2.0)) * np.float32(3.0)).dtype == np.float32  # two float32: stays float32


def test_a_failed_backward_leaves_every_grad_as_it_was():
    class Boom(wg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")

    a, b = leaf(1.0), leaf(2.0)
    out = a * 3.0 + Boom.apply(b) + a * b
    with pytest.raises(ValueError, match="boom"):
        out.backward()
    assert a.grad is None and b.grad is None  # no leaf got a partial share


def test_lists_of_other_threads_keep_the_walk_order():
    """A value from a list another thread made later is imported through a new list (the walk order holds)."""
    x = leaf(0.5)
    mine = x * 2.0  # on this thread's list
    box = {}

    def other():
        box["y"] = mine * 3.0 + x  # on the other thread's list, made after ours

    t = threading.Thread(target=other)
    t.start()
    t.join()
    out = box["y"] * mine + mine  # this thread now uses the other thread's newer value
    out.backward()
    # out = (6x + x) * 2x + 2x = 14 x^2 + 2x  ->  d/dx = 28 x + 2
    assert x.grad.item() == pytest.approx(28 * 0.5 + 2)


def test_a_thread_in_no_grad_never_affects_another():
    inside, go = threading.Event(), threading.Event()
    results = {}

    def sleeper():
        with wg.no_grad():
            inside.set()
            go.wait(5)
            results["sleeper"] = wg.is_grad_enabled()

    t = threading.Thread(target=sleeper)
    t.start()
    inside.wait(5)
    x = leaf(3.0)
    y = x * x  # recorded here while the other thread sits in no_grad
    y.backward()
    results["main"] = wg.is_grad_enabled()
    go.set()
    t.join()
    assert x.grad.item() == 6.0 and results == {"main": True, "sleeper": False}


def test_four_threads_doing_backward_at_once_get_right_gradients():
    errors = []
    barrier = threading.Barrier(4)

    def scalar_worker(k):
        barrier.wait()
        for i in range(300):
            x = leaf(1.0 + k + i * 1e-3)
            y = x * x * x + 2.0 * x + 1.0  # dy/dx = 3x^2 + 2
            y.backward()
            want = 3 * x.item() ** 2 + 2
            if abs(x.grad.item() - want) > 1e-9 * want:
                errors.append((k, i, x.grad.item(), want))

    def array_worker(k):
        barrier.wait()
        rng = np.random.default_rng(k)
        for _ in range(100):
            W = wg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
            v = rng.standard_normal(3)
            wg.sum(wg.tanh(W @ v)).backward()
            want = (1 - np.tanh(W.data @ v) ** 2)[:, None] * v[None, :]
            if not np.allclose(W.grad.data, want, rtol=1e-12):
                errors.append(("array", k))
            g = wg.grad(lambda w: wg.sum(w * w * w))(v)  # a transform too
            if not np.allclose(g, 3 * v * v, rtol=1e-12):
                errors.append(("grad", k))

    threads = [threading.Thread(target=f, args=(k,)) for k, f in
               enumerate((scalar_worker, scalar_worker, array_worker, array_worker))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


_UNARY = ("tanh", "sin", "cos", "sigmoid", "softplus", "arctan", "square", "negative")
_BINARY = ("add", "subtract", "multiply")


def _program(ops, xs):
    """Run a random straight-line program: each op reads earlier values (fan-out included)."""
    vals = list(xs)
    for kind, name, i, j, c in ops:
        a = vals[i % len(vals)]
        if kind == 1:
            vals.append(getattr(wg, name)(a))
        elif c is not None:
            vals.append(getattr(wg, name)(a, c))
        else:
            vals.append(getattr(wg, name)(a, vals[j % len(vals)]))
    return vals[-1] + 0.5 * vals[len(xs)] if len(vals) > len(xs) else vals[-1] * 1.0


@settings(max_examples=60, deadline=None)
@given(
    xs=st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=4),
    ops=st.lists(
        st.one_of(
            st.tuples(st.just(1), st.sampled_from(_UNARY), st.integers(0, 50), st.just(0), st.none()),
            st.tuples(st.just(2), st.sampled_from(_BINARY), st.integers(0, 50), st.integers(0, 50),
                      st.one_of(st.none(), st.floats(-1.5, 1.5))),
        ),
        min_size=1, max_size=25,
    ),
)
def test_random_scalar_programs_agree_on_every_path(xs, ops):
    """The fast walk, the general walk (anomaly mode) and a transform's own list give the same gradients."""
    fast = [leaf(v) for v in xs]
    out = _program(ops, fast)
    out.backward()
    general = [leaf(v) for v in xs]
    try:
        with wg.detect_anomaly():
            ref = _program(ops, general)
            ref.backward()
    except FloatingPointError:  # a program that overflows (x^2 of x^2 of ...): nothing to compare
        assume(False)
    by_grad = wg.grad(lambda *v: _program(ops, list(v)), argnums=tuple(range(len(xs))))(*map(float, xs))
    assert out.item() == ref.item()
    for a, b, c in zip(fast, general, by_grad):
        ga = a.grad.item() if a.grad is not None else 0.0
        gb = b.grad.item() if b.grad is not None else 0.0
        assert ga == pytest.approx(gb, rel=1e-12, abs=1e-300)
        assert ga == pytest.approx(float(c), rel=1e-12, abs=1e-300)


def test_in_place_assignment_on_a_tensor_from_an_older_list():
    """y[0] = 5 after a backward pass: the new list imports y, and the walk must not follow y to its new place."""
    x = wg.tensor(np.arange(3.0), requires_grad=True)
    y = x * 2.0
    wg.sum(y).backward(retain_graph=True)  # (the next op starts a new list)
    y[0] = 5.0
    x.grad = None
    wg.sum(y * y).backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 8.0, 16.0])


def test_in_place_assignment_on_the_input_of_a_transform():
    def f(x):
        x[1] = 3.0
        return wg.sum(x * x)

    x0 = np.arange(5.0)
    expect = [0.0, 0.0, 4.0, 6.0, 8.0]
    np.testing.assert_array_equal(wg.grad(f)(x0.copy()), expect)
    _, pull = wg.vjp(f, x0.copy())
    np.testing.assert_array_equal(pull(1.0)[0], expect)
    np.testing.assert_array_equal(wg.jit(wg.grad(f))(x0.copy() + 1.0), [2.0, 0.0, 6.0, 8.0, 10.0])
    np.testing.assert_array_equal(wg.jvp(f, (x0.copy(),), (np.ones(5),))[1], 2.0 * (0 + 0 + 2 + 3 + 4))
    np.testing.assert_array_equal(np.diag(wg.hessian(f)(x0.copy())), [2.0, 0.0, 2.0, 2.0, 2.0])


def test_three_input_entries_on_every_path():
    """linear(x, W, b) is one compact three-input entry; every reader of the list reads it."""
    from wengert.nn import functional as F

    rng = np.random.default_rng(0)
    x = wg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = wg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = wg.tensor(rng.standard_normal(2), requires_grad=True)
    y = F.linear(x, w, b)
    e = y._tape.entries[y._idx]
    assert len(e) == 8 and tape_mod.parts(e)[1] == tuple(e[1:4])
    assert [n.op for n in y.grad_fn.inputs] == ["leaf", "leaf", "leaf"]  # graph.Node reads the layout
    g = rng.standard_normal((4, 2))
    want = {"x": g @ w.data, "w": g.T @ x.data, "b": g.sum(axis=0)}
    # the fast walk
    y.backward(g, retain_graph=True)
    for name, t in (("x", x), ("w", w), ("b", b)):
        np.testing.assert_allclose(t.grad.data, want[name])
        t.grad = None
    # the general walk: create_graph (views of the entry's inputs), and a hook on the entry
    y.register_hook(lambda gr: gr * 2.0)
    y.backward(wg.tensor(g), create_graph=True)
    np.testing.assert_allclose(w.grad.data, 2 * want["w"])
    assert w.grad.requires_grad
    # second order through the recorded backward: d/dx sum((dL/dW)^2) where dL/dW = g^T x
    x.grad = w.grad = b.grad = None
    np.testing.assert_allclose(wg.grad(lambda x_: wg.sum(wg.grad(lambda w_: wg.sum(F.linear(x_, w_, b.data) * g))
                                                         (w.data) ** 2))(x.data), 2 * g @ (g.T @ x.data))


def test_anomaly_names_the_input_of_a_three_input_entry():
    from wengert.nn import functional as F

    x = wg.tensor(np.ones((1, 2)), requires_grad=True)
    w = wg.tensor(np.ones((1, 2)))  # (x's is the first cotangent: W's input 1 needs none)
    with wg.detect_anomaly(), pytest.raises(FloatingPointError, match="backward of op 'linear'.*input 0"):
        F.linear(x, w, wg.tensor(np.zeros(1), requires_grad=True)).backward(np.array([[np.inf]]))


def test_grad_is_one_tensor_per_accumulation_and_optimisers_read_values():
    from wengert import optim
    from wengert.core.tensor import grad_values

    w = wg.tensor(np.ones(3), requires_grad=True)
    (w * 2.0).sum().backward()
    g = w.grad
    assert g is w.grad and isinstance(g, wg.Tensor)  # made once, on the first read
    g.data[0] = 5.0  # writes into the stored gradient, as in PyTorch
    np.testing.assert_allclose(w.grad.data, [5.0, 2.0, 2.0])
    (w * 3.0).sum().backward()  # accumulates onto what is there
    np.testing.assert_allclose(w.grad.data, [8.0, 5.0, 5.0])
    v = wg.tensor(np.ones(2), requires_grad=True)
    (v * 4.0).sum().backward()
    [(p, value, gv)] = grad_values([v, wg.tensor(np.ones(2), requires_grad=True)])  # (no grad yet: skipped)
    assert p is v and value is v.data and type(gv) is np.ndarray
    np.testing.assert_allclose(gv, [4.0, 4.0])
    optim.SGD([v], lr=0.5).step()
    np.testing.assert_allclose(v.data, [-1.0, -1.0])
    np.testing.assert_allclose(v.grad.data, [4.0, 4.0])
    # create_graph: .grad is the tensor in the graph, differentiable again
    x = wg.tensor(2.0, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.item() == 12.0
    gx = x.grad
    x.grad = None
    gx.backward()
    assert x.grad.item() == 12.0  # d(3 x^2)/dx at 2
