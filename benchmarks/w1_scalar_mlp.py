"""W1: scalar MLP 2-16-16-1 on 100 two-moons points, micrograd style (one step = fwd + bwd + SGD).

Every weight is its own 0-d value and the network is evaluated one scalar op
at a time, exactly as a micrograd user writes it: a neuron is
``sum((w_i * x_i for ...), b)`` followed by ``tanh`` on the hidden layers; the
loss is ``sum((out - y) ** 2)`` over the 100 points.  One step = forward over
all points, backward, SGD update (lr 5e-4).

libs: wengert (0-d ``wg.tensor`` values), wengert_nogc (same, cyclic GC
disabled), wengert_f32 (same as wengert, the data fed as NumPy float32 scalars,
as a loop over ``make_moons`` output sees them: NumPy scalars take the same
fast path as Python floats), hand (chain rule written out on Python floats: the limit),
micrograd (as users run it, GC on), micrograd_nogc (GC disabled during the
timed steps, ``gc.collect()`` after each one, untimed and reported), torch0d
(0-d float64 torch tensors).

    python benchmarks/w1_scalar_mlp.py --lib wengert [--quick]
"""
from __future__ import annotations

import gc
import itertools
import math
import time

import numpy as np
from common import fmt, main, md_table, median, need, ratio, sig

LIBS = ["wengert", "wengert_nogc", "wengert_f32", "hand", "micrograd", "micrograd_nogc", "torch0d"]

SIZES = (2, 16, 16, 1)
N_POINTS = 100
LR = 0.0005

# Op nodes of one step's graph, counted as micrograd builds it (and checked
# against the real wengert / micrograd graph in the run):
#   hidden 1: 16 neurons x (2 mul + 2 add + tanh)   =  80
#   hidden 2: 16 neurons x (16 mul + 16 add + tanh) = 528
#   output:    1 neuron  x (16 mul + 16 add)        =  32
#   loss term: (out - y) ** 2                       =   2    per point
#   sum over the points: 100 adds (the first is 0 + term)
OPS_PER_STEP = N_POINTS * (80 + 528 + 32 + 2) + N_POINTS


# ------------------------------------------------------------------ data
def two_moons(f32: bool = False) -> tuple:
    """100 noisy two-moons points (seed 0) with labels -1 / +1, shuffled.

    Python floats; with ``f32`` NumPy float32 scalars (iterating a float32 array).
    """
    rng = np.random.default_rng(0)
    half = N_POINTS // 2
    t_a = np.linspace(0.0, np.pi, half)
    t_b = np.linspace(0.0, np.pi, N_POINTS - half)
    upper = np.stack([np.cos(t_a), np.sin(t_a)], axis=1)
    lower = np.stack([1.0 - np.cos(t_b), 0.5 - np.sin(t_b)], axis=1)
    X = np.concatenate([upper, lower]) + rng.normal(scale=0.1, size=(N_POINTS, 2))
    y = np.concatenate([-np.ones(half), np.ones(N_POINTS - half)])
    order = rng.permutation(N_POINTS)
    if f32:
        return [list(row) for row in X[order].astype(np.float32)], list(y[order].astype(np.float32))
    return X[order].tolist(), y[order].tolist()


def init_params() -> list:
    """[(W, b), ...] per layer as nested Python lists: W uniform(-1, 1) (seed 1), b zero."""
    rng = np.random.default_rng(1)
    layers = []
    for n_in, n_out in itertools.pairwise(SIZES):
        layers.append((rng.uniform(-1.0, 1.0, size=(n_out, n_in)).tolist(), [0.0] * n_out))
    return layers


# ------------------------------------------------------------------ timing
def time_steps(step, args, between=None) -> dict:
    """``step()`` returns (loss, fwd_s, bwd_s, upd_s).  One warm-up step, then repeats.

    ``between()``, if given, runs after each step outside every measurement.
    The CPU time of each step (``time.process_time``) is recorded too: on a
    busy machine wall time above CPU time means the step waited for a core.
    """
    repeats = 2 if args.quick else 5
    losses = []
    loss, *_ = step()  # warm-up: step 1
    losses.append(loss)
    if between is not None:
        between()
    totals, fwd, bwd, upd, cpu = [], [], [], [], []
    for _ in range(repeats):
        c0 = time.process_time()
        loss, f, b, u = step()
        cpu.append(time.process_time() - c0)
        if between is not None:
            between()
        losses.append(loss)
        fwd.append(f)
        bwd.append(b)
        upd.append(u)
        totals.append(f + b + u)
    s = median(totals)
    return {
        "step_s": sig(s), "fwd_s": sig(median(fwd)), "bwd_s": sig(median(bwd)), "upd_s": sig(median(upd)),
        "step_cpu_s": sig(median(cpu)), "step_samples_s": [sig(t, 3) for t in totals],
        "op_nodes_per_step": OPS_PER_STEP, "op_nodes_per_s": sig(OPS_PER_STEP / s),
        "us_per_op_node": sig(s / OPS_PER_STEP * 1e6),
        "loss_step1": losses[0], "loss_step2": losses[1], "loss_last": losses[-1], "steps": len(losses),
    }


def count_ops(root, inputs_of) -> int:
    """Op (non-leaf) nodes reachable from ``root``; ``inputs_of(node)`` gives a node's inputs, () for leaves."""
    seen, stack, ops = {}, [root], 0  # id -> node: keeping the nodes alive keeps their ids unique
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        ins = inputs_of(node)
        ops += bool(ins)
        stack.extend(ins)
    return ops


def mlp_forward(layers, x, tanh):
    """The micrograd-style network on one point: ``layers`` is [[(w_list, b), ...], ...]."""
    last = len(layers) - 1
    for li, layer in enumerate(layers):
        outs = []
        for w, b in layer:
            act = sum((wi * xi for wi, xi in zip(w, x)), b)
            outs.append(tanh(act) if li < last else act)
        x = outs
    return x[0]


def squared_loss(layers, X, Y, tanh):
    return sum((mlp_forward(layers, x, tanh) - y) ** 2 for x, y in zip(X, Y))


def network(scalar) -> tuple:
    """The initial network as ``scalar(v)`` values: (layers [[(w_list, b), ...], ...], flat params)."""
    layers = [[([scalar(v) for v in W[j]], scalar(b[j])) for j in range(len(b))] for W, b in init_params()]
    params = [p for layer in layers for w, b in layer for p in (*w, b)]
    return layers, params


def sgd_step(layers, params, tanh, update, value, zero=None, f32=False):
    """One step as a micrograd user writes it: loss, zero the grads (``p.grad = zero``),
    ``loss.backward()``, ``update(params)``.  Returns (loss as float, fwd_s, bwd_s, upd_s)."""
    X, Y = two_moons(f32)

    def step():
        t0 = time.perf_counter()
        loss = squared_loss(layers, X, Y, tanh)
        t1 = time.perf_counter()
        for p in params:
            p.grad = zero
        loss.backward()
        t2 = time.perf_counter()
        update(params)
        t3 = time.perf_counter()
        return value(loss), t1 - t0, t2 - t1, t3 - t2

    return step


def time_steps_gc(step, args, nogc: bool, between=None) -> dict:
    """:func:`time_steps` with the cyclic GC on, or off (``nogc``) during the steps."""
    gc.collect()
    if nogc:
        gc.disable()
    try:
        return time_steps(step, args, between=between)
    finally:
        gc.enable()


# ------------------------------------------------------------------ wengert
def bench_wengert(args, nogc: bool = False, f32: bool = False) -> dict:
    import wengert as wg

    layers, params = network(lambda v: wg.tensor(v, requires_grad=True))

    def update(params):
        for p in params:
            p.data -= LR * p.grad.data

    # untimed check: the graph has micrograd's node count
    loss = squared_loss(layers, *two_moons(f32), wg.tanh)
    from wengert.core.graph import nodes  # the read API of the Wengert list

    ops = sum(not n.is_leaf for n in nodes([loss]))
    del loss
    out = time_steps_gc(sgd_step(layers, params, wg.tanh, update, lambda t: t.item(), f32=f32), args, nogc)
    out["data"] = "float32 NumPy scalars" if f32 else "Python floats"
    out["op_nodes_measured"] = ops
    out["gc_unreachable_after_steps"] = gc.collect()  # objects only the cyclic GC could free: 0 = no cycles
    return out


# ------------------------------------------------------------------ hand
def bench_hand(args) -> dict:
    """The same network, its chain rule written out on Python floats (no graph)."""
    X, Y = two_moons()
    (W1, b1), (W2, b2), (W3, b3) = init_params()
    w3 = W3[0]
    H = range(16)
    tanh = math.tanh

    def step():
        t0 = time.perf_counter()
        loss = 0.0
        tape = []
        for (x0, x1), y in zip(X, Y):
            h1 = [tanh(b1[j] + W1[j][0] * x0 + W1[j][1] * x1) for j in H]
            h2 = []
            for j in H:
                a = b2[j]
                row = W2[j]
                for k in H:
                    a += row[k] * h1[k]
                h2.append(tanh(a))
            out = b3[0]
            for k in H:
                out += w3[k] * h2[k]
            err = out - y
            loss += err * err
            tape.append((x0, x1, h1, h2, err))
        t1 = time.perf_counter()
        gW1 = [[0.0, 0.0] for _ in H]
        gb1 = [0.0] * 16
        gW2 = [[0.0] * 16 for _ in H]
        gb2 = [0.0] * 16
        gw3 = [0.0] * 16
        gb3 = 0.0
        for x0, x1, h1, h2, err in tape:
            g_out = 2.0 * err  # d(err^2)/d out
            gb3 += g_out
            g_h1 = [0.0] * 16
            for j in H:
                gw3[j] += g_out * h2[j]
                g_a2 = g_out * w3[j] * (1.0 - h2[j] * h2[j])  # tanh' = 1 - tanh^2
                gb2[j] += g_a2
                grow, row = gW2[j], W2[j]
                for k in H:
                    grow[k] += g_a2 * h1[k]
                    g_h1[k] += g_a2 * row[k]
            for k in H:
                g_a1 = g_h1[k] * (1.0 - h1[k] * h1[k])
                gb1[k] += g_a1
                gW1[k][0] += g_a1 * x0
                gW1[k][1] += g_a1 * x1
        t2 = time.perf_counter()
        for j in H:
            W1[j][0] -= LR * gW1[j][0]
            W1[j][1] -= LR * gW1[j][1]
            b1[j] -= LR * gb1[j]
            row, grow = W2[j], gW2[j]
            for k in H:
                row[k] -= LR * grow[k]
            b2[j] -= LR * gb2[j]
            w3[j] -= LR * gw3[j]
        b3[0] -= LR * gb3
        t3 = time.perf_counter()
        return loss, t1 - t0, t2 - t1, t3 - t2

    return time_steps(step, args)


# ------------------------------------------------------------------ micrograd
def micrograd_value():
    """micrograd's Value with ``tanh`` added in micrograd's own style (PyPI 0.1.0 lacks it)."""
    engine = need("micrograd.engine")
    Value = engine.Value
    if not hasattr(Value, "tanh"):
        def tanh(self):
            t = math.tanh(self.data)
            out = Value(t, (self,), "tanh")

            def _backward():
                self.grad += (1.0 - t * t) * out.grad  # d tanh = 1 - tanh^2
            out._backward = _backward
            return out
        Value.tanh = tanh
    return Value


def bench_micrograd(args, nogc: bool = False) -> dict:
    Value = micrograd_value()
    layers, params = network(Value)
    collects = []

    def update(params):
        for p in params:
            p.data -= LR * p.grad

    def collect():  # free the last step's cyclic graph, outside the measurements
        c0 = time.perf_counter()
        gc.collect()
        collects.append(time.perf_counter() - c0)

    loss = squared_loss(layers, *two_moons(), Value.tanh)
    ops = count_ops(loss, lambda v: tuple(v._prev) if v._op else ())
    del loss
    step = sgd_step(layers, params, Value.tanh, update, lambda v: v.data, zero=0.0)
    out = time_steps_gc(step, args, nogc, between=collect if nogc else None)
    out["op_nodes_measured"] = ops
    if nogc:
        out["gc_collect_s_untimed"] = sig(median(collects))
    out["note"] = "tanh added to micrograd's Value in its own style"
    return out


# ------------------------------------------------------------------ torch 0-d
def bench_torch0d(args) -> dict:
    torch = need("torch")
    layers, params = network(lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))

    def update(params):
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad

    out = time_steps(sgd_step(layers, params, torch.tanh, update, lambda t: t.item()), args)
    out["torch_threads"] = torch.get_num_threads()
    return out


# ------------------------------------------------------------------ table
def table(rows: list) -> str:
    """Markdown: one row per lib, with the ratio of each lib's step time to wengert's."""
    by = {r["lib"]: r for r in rows if r.get("status") == "ok"}
    base = by.get("wengert", {}).get("step_s")
    ref = by.get("hand") or by.get("micrograd") or by.get("wengert") or {}
    ref_losses = (ref.get("loss_step1"), ref.get("loss_step2"))
    out = []
    for r in rows:
        if r.get("status") != "ok":
            out.append([r["lib"]] + [None] * 10 + [r.get("status", "?")])
            continue
        l1, l2 = r.get("loss_step1"), r.get("loss_step2")
        tol = 1e-5 if r["lib"].endswith("_f32") else 1e-9  # float32 data rounds the inputs
        agree = all(a is not None and b is not None and abs(a - b) <= tol * max(1.0, abs(b))
                    for a, b in zip((l1, l2), ref_losses))
        notes = []
        f32_ratio = ratio(r.get("step_s"), base) if r["lib"].endswith("_f32") else None
        if f32_ratio is not None:
            notes.append(f"float32 data: {f32_ratio:.2f}x wengert's step on Python floats")
        if r.get("op_nodes_measured") not in (None, OPS_PER_STEP):
            notes.append(f"graph has {r['op_nodes_measured']} op nodes")
        if "gc_unreachable_after_steps" in r:
            notes.append(f"gc found {r['gc_unreachable_after_steps']} cyclic objects")
        if "gc_collect_s_untimed" in r:
            notes.append(f"gc.collect {fmt(r['gc_collect_s_untimed'])} s/step untimed")
        out.append([
            r["lib"], r.get("step_s"), ratio(r.get("step_s"), base), r.get("step_cpu_s"), r.get("fwd_s"), r.get("bwd_s"),
            r.get("upd_s"), r.get("op_nodes_per_s"), r.get("us_per_op_node"),
            f"{l1:.6f} / {l2:.6f}" + ("" if agree else " (DIFFERS)"), r.get("peak_rss_mb"),
            "ok" + ("; " + "; ".join(notes) if notes else ""),
        ])
    head = ["lib", "s/step (median)", "x wengert", "CPU s/step", "fwd s", "bwd s", "upd s", "op nodes/s",
            "µs/op node", "loss step 1 / 2", "peak RSS MB", "status"]
    note = (f"\n\n{OPS_PER_STEP:,} op nodes per step (micrograd's count). 'x wengert' = the lib's s/step over "
            "wengert's (above 1: wengert is faster). CPU s/step is process time: wall time well above it means the "
            "step waited for a core (a busy machine). Losses must agree across libs (DIFFERS marks a mismatch "
            "with the reference lib).")
    return md_table(head, out) + note


if __name__ == "__main__":
    main("w1_scalar_mlp", {
        "wengert": bench_wengert,
        "wengert_nogc": lambda a: bench_wengert(a, nogc=True),
        "wengert_f32": lambda a: bench_wengert(a, f32=True),
        "hand": bench_hand,
        "micrograd": bench_micrograd,
        "micrograd_nogc": lambda a: bench_micrograd(a, nogc=True),
        "torch0d": bench_torch0d,
    })
