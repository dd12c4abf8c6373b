"""The scalar tape (core.tensor.Tape): ops on Python floats recorded as plain tuples.

Checks that graphs built on the tape give the same gradients as the object
graph (and as finite differences), across tapes, mixed with array ops, with
retain_grad / retain_graph / create_graph, and that the tape holds no objects
the cyclic garbage collector must keep scanning.
"""
from __future__ import annotations

import gc
import importlib
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from opspec import cube_gate

import wengert as wg
from wengert.core.state import STATE

tensor_mod = importlib.import_module("wengert.core.tensor")  # (wengert.core.tensor is also the function)


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


def test_scalar_ops_go_on_the_tape_and_views_read_back():
    W = leaf(3.0)
    xi1 = -W * 3.0
    assert xi1._tape is not None and xi1._tape is STATE.tape
    (inner,) = [a for a in xi1.grad_fn.inputs]
    assert inner.grad_fn.name == "negative"
    assert inner.grad_fn.inputs == (W,)  # the leaf itself, through its import entry
    assert inner.item() == -3.0
    assert xi1.grad_fn.inputs[0] is inner  # one view per entry while it is held


def test_gradients_match_finite_differences():
    vals = (0.7, -1.3, 0.4)
    x, y, z = (leaf(v) for v in vals)
    out = expr(x, y, z, wg.tanh, wg.exp, wg.sin)
    assert out._tape is not None
    out.backward()
    ref = lambda *v: expr(*v, math.tanh, math.exp, math.sin)
    assert out.item() == pytest.approx(ref(*vals), rel=1e-14)
    for i, t in enumerate((x, y, z)):
        assert t.grad.item() == pytest.approx(fd(ref, vals, i), rel=1e-7)


def test_tape_gradients_equal_the_object_graph():
    """The same expression on 0-d arrays of float32 -> float64 (object nodes) gives the same gradients."""
    vals = (0.7, -1.3, 0.4)
    xs = [leaf(v) for v in vals]
    expr(*xs, wg.tanh, wg.exp, wg.sin).backward()
    with wg.detect_anomaly():  # anomaly mode keeps ops off the tape
        ys = [leaf(v) for v in vals]
        out = expr(*ys, wg.tanh, wg.exp, wg.sin)
        assert out._tape is None
        out.backward()
    for a, b in zip(xs, ys):
        assert a.grad.item() == pytest.approx(b.grad.item(), rel=1e-13)


def test_a_chain_across_many_tapes(monkeypatch):
    monkeypatch.setattr(tensor_mod, "TAPE_MAX", 64)
    monkeypatch.setattr("wengert.core.rule.TAPE_MAX", 64)
    x = leaf(0.5)
    y = x
    tapes = set()
    for _ in range(1000):
        y = wg.sin(y) * 1.0001 + 0.1
        tapes.add(id(y._tape))
    assert len(tapes) > 10
    y.backward()
    # d/dx of the chain, by hand on floats
    v, d = 0.5, 1.0
    for _ in range(1000):
        d *= math.cos(v) * 1.0001
        v = math.sin(v) * 1.0001 + 0.1
    assert y.item() == pytest.approx(v, rel=1e-13)
    assert x.grad.item() == pytest.approx(d, rel=1e-12)


def test_mixed_with_array_ops_both_ways():
    """Scalars -> an array op -> scalars again: the walk leaves the tape and comes back."""
    a, b = leaf(1.5), leaf(-0.5)
    s = a * b + 1.0  # tape
    v = wg.stack([s, a, b * 2.0])  # object node over tape views
    m = (v * v).sum()  # object graph, 0-d result
    out = m * a + wg.tanh(m)  # back on the tape, with an object node as input
    out.backward()

    def f(a, b):
        s = a * b + 1.0
        m = s * s + a * a + (2 * b) ** 2
        return m * a + math.tanh(m)

    assert out.item() == pytest.approx(f(1.5, -0.5), rel=1e-14)
    assert a.grad.item() == pytest.approx(fd(f, (1.5, -0.5), 0), rel=1e-7)
    assert b.grad.item() == pytest.approx(fd(f, (1.5, -0.5), 1), rel=1e-7)


def test_retain_grad_on_an_intermediate():
    x = leaf(2.0)
    h = x * x
    h.retain_grad()
    out = wg.sin(h) * 3.0
    out.backward()
    assert h.grad.item() == pytest.approx(3.0 * math.cos(4.0))
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


def test_create_graph_on_the_tape():
    x = leaf(2.0)
    y = x**3
    y.backward(create_graph=True)
    g = x.grad
    assert g.item() == pytest.approx(12.0)
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(12.0)  # d/dx 3x^2 = 6x


def test_transforms_on_scalar_functions():
    f = lambda x: wg.tanh(x) * x + x**3
    g = wg.grad(f)(0.3)
    t = math.tanh(0.3)
    assert float(g) == pytest.approx((1 - t * t) * 0.3 + t + 3 * 0.09, rel=1e-12)
    assert float(wg.grad(wg.grad(f))(0.3)) == pytest.approx(fd(lambda x: float(wg.grad(f)(x)), (0.3,), 0), rel=1e-6)


def test_python_float_errors_give_ieee_results():
    x = leaf(0.0)
    y = wg.sqrt(x * 1.0)  # math.sqrt(0) = 0, but its derivative 0.5 / 0 raises in Python
    assert y._tape is not None
    with np.errstate(divide="ignore"):
        y.backward()
    assert x.grad.item() == math.inf


def test_no_grad_records_nothing():
    x = leaf(1.0)
    n = len(STATE.tape.entries)
    with wg.no_grad():
        y = x * 2.0 + 1.0
    assert not y.requires_grad and y._tape is None
    assert len(STATE.tape.entries) == n


def test_a_backward_starts_a_new_tape():
    x = leaf(1.0)
    y = x * 2.0
    before = STATE.tape
    y.backward()
    assert STATE.tape is not before


def test_constants_as_tensors_are_kept_for_tables():
    x = leaf(2.0)
    c = wg.tensor(5.0)
    y = x * c
    assert y.grad_fn.inputs == (x, c)
    y.backward()
    assert x.grad.item() == 5.0 and c.grad is None


def test_names_outlive_the_named_tensor():
    x = leaf(2.0)
    h = x * x
    h.name = "h"
    out = h + 1.0
    del h
    gc.collect()
    (inner,) = out.grad_fn.inputs[:1]
    assert inner.name == "h"


def test_the_tape_is_not_scanned_by_the_cyclic_gc():
    """Entries hold only atoms, so the collector stops tracking them; only imports (leaves) stay tracked."""
    tensor_mod.seal_tape()  # a fresh tape
    params = [leaf(0.1 * i) for i in range(10)]
    acc = params[0]
    for _ in range(200):
        for p in params:
            acc = wg.tanh(acc * p + 0.5)
    gc.collect()
    entries = acc._tape.entries
    tracked = [e for e in entries if gc.is_tracked(e)]
    assert len(entries) > 4000
    assert all(len(e) == 3 for e in tracked)  # the import entries, one per leaf
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


def test_retain_grad_on_the_root():
    x = leaf(3.0)
    y = x * x
    y.retain_grad()
    y.backward()
    assert y.grad.item() == 1.0 and x.grad.item() == 6.0


def test_an_entry_used_by_an_object_node_and_by_the_tape():
    """`a` reaches the walk through stack (the object a * 2.0 returned) and through c's entry (a view)."""
    x = leaf(0.5)
    a = x * 2.0
    b = wg.stack([a, a * a])  # object node holding the tensor `a`
    c = a * 3.0  # tape entry naming a's entry by index
    out = b.sum() + c
    del a
    out.backward()
    # out = 2x + 4x^2 + 6x  ->  d/dx = 8 + 8x
    assert x.grad.item() == pytest.approx(8.0 + 8.0 * 0.5, rel=1e-14)


def test_one_object_per_entry_when_an_object_node_holds_it():
    """Trace tables and wg.jit dedupe nodes by identity: the graph must not show one entry twice."""
    x = leaf(0.5)
    a = x * 2.0
    b = wg.expand_dims(a, 0)  # an object node holding the object `a`
    c = a * 3.0  # names a's entry by index
    assert b.grad_fn.inputs[0] is a
    assert c.grad_fn.inputs[0] is a


def test_forward_mode_and_hvp_on_scalar_functions():
    f = lambda x: wg.tanh(x) * x**3
    x0 = 0.7
    t = math.tanh(x0)
    d1 = (1 - t * t) * x0**3 + 3 * t * x0**2
    _, tangent = wg.jvp(f, (x0,), (1.0,))
    assert float(tangent) == pytest.approx(d1, rel=1e-12)
    h = float(wg.hvp(f, x0, 1.0))
    assert h == pytest.approx(fd(lambda x: float(wg.grad(f)(x)), (x0,), 0), rel=1e-6)


def test_a_custom_function_on_tape_tensors():
    Cube = cube_gate()
    x = leaf(1.5)
    h = x * 2.0  # on the tape
    y = Cube.apply(h) + h  # an object node over the tape tensor, then back on the tape
    y.backward()
    assert x.grad.item() == pytest.approx(3 * 3.0**2 * 2.0 + 2.0)


def test_anomaly_mode_at_backward_only():
    x = leaf(0.0)
    y = wg.sqrt(x * 1.0)  # recorded on the tape, before anomaly mode
    with wg.detect_anomaly(), pytest.raises(FloatingPointError, match="sqrt"), np.errstate(divide="ignore"):
        y.backward()


def test_leaf_gradients_are_stored_as_floats():
    """A scalar graph's leaf gradient keeps the storage form of a 0-d float64 (a Python float)."""
    x = leaf(2.5)
    y = wg.maximum(x, 2) * 3.0 + wg.minimum(x, 3)  # mixed float / int arguments
    assert y._tape is not None
    y.backward()
    assert type(x.grad._value) is float and x.grad.item() == 4.0
    assert isinstance(x.grad.data, np.ndarray)


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
def test_random_scalar_programs_match_the_object_graph(xs, ops):
    tape_leaves = [leaf(v) for v in xs]
    out = _program(ops, tape_leaves)
    assert out._tape is not None
    out.backward()
    obj_leaves = [leaf(v) for v in xs]
    try:
        with wg.detect_anomaly():  # anomaly mode records object nodes instead of tape entries
            ref = _program(ops, obj_leaves)
            assert ref._tape is None
            ref.backward()
    except FloatingPointError:  # a program that overflows (x^2 of x^2 of ...): nothing to compare
        assume(False)
    assert out.item() == ref.item()
    for a, b in zip(tape_leaves, obj_leaves):
        ga = a.grad.item() if a.grad is not None else 0.0
        gb = b.grad.item() if b.grad is not None else 0.0
        assert ga == pytest.approx(gb, rel=1e-12, abs=1e-300)
