"""The compiled program (wengert/program.py): what the replay does to memory, and its lowerings.

Each lowering is checked against the eager call bit for bit, at inputs other
than the traced ones, on the pattern it matches and on near misses of it.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np

import wengert as wg
from wengert.core.tensor import value_of
from wengert.jit import JitFallbackWarning


def replay_lifetimes(prog) -> tuple:
    """Follow the values through the slots of ``prog.steps`` without running them.

    Returns ``(held, last_read, outputs)``: for each step, the values (named
    by the index of the step that made them) the slots hold after it; each
    value's last reader; the values handed out.
    """
    slot_value: dict = {}  # slot -> the step whose value it holds
    held, last_read = [], {}
    for k, (fn, a, b, c, out, free) in enumerate(prog.steps):
        reads = (a, b) if b >= 0 else (a,) if b == -1 else tuple(a)
        if c >= 0:
            reads += (c,)
        for s in reads:
            if s in slot_value:
                last_read[slot_value[s]] = k
        if fn.__name__ == "_drop":  # (a pseudo-step that only frees its slot)
            slot_value.pop(out, None)
        else:
            slot_value[out] = k
        if free:
            slot_value.pop(free, None)
        held.append(set(slot_value.values()))
    outputs = {slot_value[s] for s in prog.out_slots if s in slot_value}
    return held, last_read, outputs


def _same(got, want):
    """Bit for bit (NaN where NaN), same dtype and kind of value."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def _mlp_loss(ps, x, y1h):
    W1, b1, W2, b2, W3, b3 = ps
    h1 = wg.relu(x @ W1 + b1)
    h2 = wg.relu(h1 @ W2 + b2)
    return -wg.mean(wg.sum(y1h * wg.log_softmax(h2 @ W3 + b3, axis=1), axis=1))


def _sgd_step(ps, x, y1h, lr=0.1):
    loss, grads = wg.value_and_grad(_mlp_loss)(ps, x, y1h)
    return [p - lr * g for p, g in zip(ps, grads)], loss


def _mlp_data(rng, dtype, sizes=(5, 7, 6, 4), batch=8):
    ps = []
    for nin, nout in itertools.pairwise(sizes):
        ps += [(rng.standard_normal((nin, nout)) / np.sqrt(nin)).astype(dtype), (0.1 * rng.standard_normal(nout)).astype(dtype)]
    batches = [(rng.standard_normal((batch, sizes[0])).astype(dtype),
                np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], batch)]) for _ in range(4)]
    return ps, batches


def test_a_training_step_replays_the_eager_step_bit_for_bit(rng):
    for dtype in (np.float32, np.float64):
        ps, batches = _mlp_data(rng, dtype)
        step = wg.jit(_sgd_step)
        eager = [p.copy() for p in ps]
        for x, y in batches * 2:  # the first call traces, the others replay; the parameters move
            with warnings.catch_warnings():
                warnings.simplefilter("error", JitFallbackWarning)  # compiled, not run eagerly
                ps, loss = step(ps, x, y)
            eager, loss_eager = _sgd_step(eager, x, y)
            _same(loss, loss_eager)
            for p, q in zip(ps, eager):
                _same(p, q)


def test_outputs_are_never_written_by_a_later_call(rng):
    ps, batches = _mlp_data(rng, np.float32)
    step = wg.jit(_sgd_step)
    step(ps, *batches[0])
    first, _ = step(ps, *batches[1])
    kept = [p.copy() for p in first]
    second, _ = step(first, *batches[2])
    third, _ = step(ps, *batches[3])
    for p, q in zip(first, kept):
        _same(p, q)  # neither the next call (which read them) nor a later one wrote them
    handed = first + second + third
    for i, p in enumerate(handed):
        assert p.flags.writeable and p.flags.owndata
        assert not any(np.shares_memory(p, q) for q in handed[i + 1:] + ps + [x for b in batches for x in b])


def test_the_replay_holds_few_values_at_once():
    import tracemalloc

    f = lambda x: wg.sum(wg.sin(wg.exp(wg.tanh(wg.cos(wg.sin(x) * 2.0) + 1.0) * 0.5)))
    j = wg.jit(wg.grad(f))
    x = np.random.default_rng(0).standard_normal(1 << 16)
    j(x)
    n_steps = len(j.program(x).steps)
    tracemalloc.start()
    try:
        g = j(x + 1.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # each intermediate is dropped after its last use and most steps write into a dead buffer:
    # the replay holds a handful of arrays at once, not one per step
    assert n_steps > 12 and peak < 6 * x.nbytes
    _same(g, wg.grad(f)(x + 1.0))


def test_python_float_constants_become_arrays_of_the_operands_dtype_exactly(rng):
    c = 0.1  # not a float32: NumPy rounds it to the array's dtype; the typed constant is that rounding
    edge = np.array([np.float32(c), np.nextafter(np.float32(c), 1), np.nextafter(np.float32(c), 0), -0.0, np.nan,
                     np.inf], dtype=np.float32)

    def f(x):
        return (x * c, c * x, x - c, c - x, x / c, c / x, x + 1e-30, x > c, x < c, x == c,
                wg.maximum(x, c), (x > 0) * c, x * 1e300)  # a bool array times c is float64: a near miss

    j = wg.jit(f)
    for dtype in (np.float32, np.float64):
        for x in (edge.astype(dtype), rng.standard_normal(6).astype(dtype), rng.standard_normal(6).astype(dtype)):
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # (1e300 overflows float32, in both)
                got, want = j(x), f(wg.tensor(x))
            for g, w in zip(got, want):
                _same(g, value_of(w))
            typed = [v for v in j.program(x).tail if type(v) is np.ndarray and v.ndim == 0 and v.dtype == dtype]
            assert any(v == dtype(c) for v in typed)  # the lowering applied


EDGE = np.array([0.0, -0.0, 1.5, -1.5, np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-40], dtype=np.float64)


def _edge_values(rng, shape, dtype):
    """Random values of ``shape`` with the IEEE edge cases (NaN, infinities, signed zeros, a denormal) mixed in."""
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    idx = rng.choice(flat.size, size=min(flat.size // 3, 40), replace=False)
    with np.errstate(over="ignore"):
        flat[idx] = rng.choice(EDGE, size=idx.size).astype(dtype)
    return x


def test_relu_maximum_and_minimum_against_a_constant_exactly(rng):
    def f(x):
        return wg.relu(x), wg.maximum(x, 0.5), wg.minimum(x, -0.0), wg.maximum(0.25, x), wg.minimum(x, np.float64(2.0))

    j = wg.jit(f)
    # small results compare against a full array of the constant, large ones against the value
    for shape in ((7, 9), (3,), (300, 300)):
        for dtype in (np.float32, np.float64):
            for _ in range(2):
                x = _edge_values(rng, shape, dtype)
                got, want = j(x), f(wg.tensor(x))
                for g, w in zip(got, want):
                    _same(g, value_of(w))
    full = [v for v in j.program(np.ones((7, 9), np.float32)).tail if type(v) is np.ndarray and v.shape == (7, 9)]
    assert len(full) >= 3  # the lowering applied: zeros for relu, 0.5, -0.0, 0.25 as arrays
    assert not any(type(v) is np.ndarray and v.shape == (300, 300) for v in j.program(np.ones((300, 300))).tail)


def test_relu_against_a_broadcast_operand_is_not_widened(rng):
    # the constant only takes the result's shape when the other operand has it (a near miss: x broadcasts)
    f = lambda x, y: wg.maximum(x, 0.5) + y
    j = wg.jit(f)
    for _ in range(3):
        x, y = _edge_values(rng, (4,), np.float32), rng.standard_normal((3, 4)).astype(np.float32)
        _same(j(x, y), value_of(f(wg.tensor(x), wg.tensor(y))))
    assert not any(type(v) is np.ndarray and v.shape == (3, 4) for v in j.program(x, y).tail)


def test_log_softmax_and_its_gradient_exactly_for_any_rows(rng):
    def loss(z, y):
        return -wg.sum(y * wg.log_softmax(z, axis=1))

    special = np.array([[-np.inf] * 5, [np.inf, 1.0, 2.0, 3.0, 4.0], [np.nan, 0.0, 1.0, 2.0, 3.0],
                        [0.0, -0.0, -1.0, -2.0, -3.0], [-0.0, -0.0, -0.0, -0.0, -0.0], [-np.inf, 0.0, 1.0, -np.inf, 2.0],
                        [3e38, 3e38, -3e38, 0.0, 1.0], [1e-40, -1e-40, 0.0, -0.0, 1e-45]])
    cases = [(16, 5), (8, 5), (4, 5), (16, 40), (1, 3)]  # short rows (the column-wise maximum) and near misses
    for dtype in (np.float32, np.float64):
        for n, k in cases:
            j = wg.jit(wg.value_and_grad(loss))
            jl = wg.jit(lambda z: (wg.log_softmax(z, axis=1), wg.logsumexp(z, axis=1), wg.logsumexp(z, axis=0),
                                   wg.logsumexp(z, axis=-1, keepdims=True)))
            for rep in range(3):
                z = rng.standard_normal((n, k)).astype(dtype)
                if rep and k == 5:
                    rows = rng.choice(len(special), size=min(n, len(special)), replace=False)
                    with np.errstate(over="ignore"):
                        z[: len(rows)] = special[rows].astype(dtype)
                y = np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
                with np.errstate(all="ignore"):
                    (v, g), (v2, g2) = j(z, y), wg.value_and_grad(loss)(z, y)
                    _same(v, v2)
                    _same(g, g2)
                    for a, b in zip(jl(z), (wg.log_softmax(z, axis=1), wg.logsumexp(z, axis=1), wg.logsumexp(z, axis=0),
                                            wg.logsumexp(z, axis=-1, keepdims=True))):
                        _same(a, value_of(b))


def test_every_call_hands_out_the_same_kinds_the_first_one_included():
    A = np.arange(3.0)
    f = lambda x: (x * 2.0, A, 1.5, 3)  # a traced output, a closed-over array, a float and an int
    for tensor_mode in (False, True):
        j = wg.jit(f)
        x = wg.tensor(np.ones(3)) if tensor_mode else np.ones(3)
        kinds = []
        for _ in range(3):  # the first call traces, the others replay
            out, a, c, n = j(x)
            assert a is not A and np.array_equal(value_of(a), A)  # the caller's own copy, every time
            kinds.append(tuple(type(v) for v in (out, a, c, n)))
        assert len(set(kinds)) == 1
        assert kinds[0][3] is int and (kinds[0][0] is wg.Tensor) == tensor_mode


def test_outputs_keep_the_structure_fn_returns(rng):
    from collections import namedtuple

    Pair = namedtuple("Pair", "a b")
    x = rng.standard_normal(3)
    shapes = [
        lambda x: ([x * 2.0, x + 1.0], wg.sum(x)),  # a tuple of a list and a leaf (one itemgetter)
        lambda x: ([x * 2.0], [x + 1.0, x], wg.sum(x)),
        lambda x: ([], x * 2.0),  # an empty list
        lambda x: ((x * 2.0, x + 1.0), wg.sum(x)),  # a tuple inside: not a list
        lambda x: ([x * 2.0, [x + 1.0]], x),  # a list of a list
        lambda x: {"a": x * 2.0, "b": (x, None)},
        lambda x: Pair(x * 2.0, [x]),
        lambda x: (x * 2.0,),
        lambda x: x * 2.0,
    ]
    for f in shapes:
        j = wg.jit(f)
        for _ in range(2):
            got, want = j(x), wg.tree.tree_map(lambda t: value_of(t) if isinstance(t, wg.Tensor) else t, f(wg.tensor(x)))
            assert type(got) is type(want)
            g_leaves, g_td = wg.tree.tree_flatten(got)
            w_leaves, w_td = wg.tree.tree_flatten(want)
            assert g_td == w_td
            for a, b in zip(g_leaves, w_leaves):
                _same(a, b)
