"""W3: compute-bound training step of a large MLP.

float32, batch 512, MLP 784-2048-2048-10 with ReLU, softmax cross-entropy
(mean), plain SGD (lr 0.01), the same data and initial weights for every
library.  Figures: seconds per step (median after warm-up), GFLOP/s counting
3x the forward matmul flops, peak RSS of the process.

libs: wengert (nn.Linear modules, F.cross_entropy, optim.SGD), numpy
(hand-written backprop), numpy_matmul (only the 9 raw matmuls of a step: the
roofline), torch, jax_jit, autograd, mygrad.

    python benchmarks/w3_large_mlp.py --lib wengert [--quick]
"""
from __future__ import annotations

import itertools
import time

import numpy as np
from common import main, md_table, median, need, ratio, sig

LIBS = ["wengert", "numpy", "numpy_matmul", "torch", "jax_jit", "autograd", "mygrad"]

BATCH, SIZES, C = 512, (784, 2048, 2048, 10), 10
LR = 0.01
STEP_FLOPS = 3 * sum(2 * BATCH * a * b for a, b in itertools.pairwise(SIZES))


def make_data() -> tuple:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, C, size=BATCH).astype(np.int64)
    return X, y


def make_params() -> list:
    """[W1, b1, W2, b2, W3, b3], W of shape (in, out) ~ N(0, 2/in) (seed 1), b = 0, float32."""
    rng = np.random.default_rng(1)
    out = []
    for nin, nout in itertools.pairwise(SIZES):
        out.append((rng.standard_normal((nin, nout)) * np.sqrt(2.0 / nin)).astype(np.float32))
        out.append(np.zeros(nout, dtype=np.float32))
    return out


def measure(step, args) -> dict:
    """``step()`` runs one training step and returns its loss as a float."""
    warm, reps = (1, 3) if args.quick else (2, 7)
    t0 = time.perf_counter()
    losses = [step()]
    first = time.perf_counter() - t0
    for _ in range(warm - 1):
        losses.append(step())
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        losses.append(step())
        times.append(time.perf_counter() - t0)
    s = median(times)
    return {"step_s": sig(s), "gflops": sig(STEP_FLOPS / s / 1e9), "first_step_s": sig(first),
            "loss_first": sig(losses[0], 7), "loss_second": sig(losses[1], 7), "samples_s": [sig(t) for t in times]}


def bench_wengert(args) -> dict:
    import wengert as wg
    from wengert import nn, optim
    from wengert.nn import functional as F

    ps = make_params()
    model = nn.Sequential(nn.Linear(784, 2048), nn.ReLU(), nn.Linear(2048, 2048), nn.ReLU(), nn.Linear(2048, 10))
    model.load_state_dict({"0.weight": ps[0].T, "0.bias": ps[1], "2.weight": ps[2].T, "2.bias": ps[3],
                           "4.weight": ps[4].T, "4.bias": ps[5]})
    del ps
    opt = optim.SGD(model.parameters(), lr=LR)
    xn, y = make_data()
    x = wg.tensor(xn)

    def step() -> float:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    out = measure(step, args)
    out["note"] = "nn.Sequential(Linear, ReLU, ...), F.cross_entropy, optim.SGD"
    return out


def bench_numpy(args) -> dict:
    W1, b1, W2, b2, W3, b3 = make_params()
    x, y = make_data()
    rows = np.arange(BATCH)

    def step() -> float:
        z1 = x @ W1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ W2 + b2
        h2 = np.maximum(z2, 0)
        z3 = h2 @ W3 + b3
        m = z3.max(axis=1, keepdims=True)
        e = np.exp(z3 - m)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - z3[rows, y]))
        dz3 = e / s
        dz3[rows, y] -= 1
        dz3 /= BATCH
        dW3, db3 = h2.T @ dz3, dz3.sum(axis=0)
        dz2 = (dz3 @ W3.T) * (z2 > 0)
        dW2, db2 = h1.T @ dz2, dz2.sum(axis=0)
        dz1 = (dz2 @ W2.T) * (z1 > 0)
        dW1, db1 = x.T @ dz1, dz1.sum(axis=0)
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2), (W3, dW3), (b3, db3)):
            p -= LR * g
        return loss

    out = measure(step, args)
    out["note"] = "hand-written backprop (skips the input gradient)"
    return out


def bench_numpy_matmul(args) -> dict:
    rng = np.random.default_rng(2)
    mats = []
    for a, b in itertools.pairwise(SIZES):
        mats.append((rng.standard_normal((BATCH, a)).astype(np.float32), rng.standard_normal((a, b)).astype(np.float32)))
        mats.append((rng.standard_normal((BATCH, a)).astype(np.float32).T, rng.standard_normal((BATCH, b)).astype(np.float32)))
        mats.append((rng.standard_normal((BATCH, b)).astype(np.float32), rng.standard_normal((a, b)).astype(np.float32).T))
    out = measure(lambda: float(len([A @ B for A, B in mats])), args)
    out.pop("loss_first"), out.pop("loss_second")
    out["note"] = "the 9 raw matmuls of a step (forward, dW, dX per layer), nothing else: the roofline"
    return out


def bench_torch(args) -> dict:
    torch = need("torch")
    import torch.nn.functional as TF

    ps = [torch.tensor(p, requires_grad=True) for p in make_params()]
    W1, b1, W2, b2, W3, b3 = ps
    xn, yn = make_data()
    x, y = torch.from_numpy(xn), torch.from_numpy(yn)
    opt = torch.optim.SGD(ps, lr=LR)

    def step() -> float:
        h1 = torch.relu(x @ W1 + b1)
        h2 = torch.relu(h1 @ W2 + b2)
        loss = TF.cross_entropy(h2 @ W3 + b3, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    out = measure(step, args)
    out["note"] = f"eager, {torch.get_num_threads()} threads"
    return out


def bench_jax_jit(args) -> dict:
    jax = need("jax")
    import jax.numpy as jnp

    def loss_fn(params, x, y):
        W1, b1, W2, b2, W3, b3 = params
        h1 = jax.nn.relu(x @ W1 + b1)
        h2 = jax.nn.relu(h1 @ W2 + b2)
        logp = jax.nn.log_softmax(h2 @ W3 + b3)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def jstep(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return [p - LR * g for p, g in zip(params, grads)], loss

    state = {"params": [jnp.asarray(p) for p in make_params()]}
    xn, yn = make_data()
    x, y = jnp.asarray(xn), jnp.asarray(yn.astype(np.int32))

    def step() -> float:
        state["params"], loss = jstep(state["params"], x, y)
        return float(loss)

    out = measure(step, args)
    out["note"] = "whole step jitted; first step includes compilation"
    return out


def bench_autograd(args) -> dict:
    need("autograd")
    import autograd.numpy as anp
    from autograd import value_and_grad
    from autograd.scipy.special import logsumexp

    xn, yn = make_data()
    rows = np.arange(BATCH)

    def loss_fn(params):
        W1, b1, W2, b2, W3, b3 = params
        h1 = anp.maximum(anp.dot(xn, W1) + b1, 0)
        h2 = anp.maximum(anp.dot(h1, W2) + b2, 0)
        z = anp.dot(h2, W3) + b3
        return -anp.mean((z - logsumexp(z, axis=1, keepdims=True))[rows, yn])

    grad_fn = value_and_grad(loss_fn)
    state = {"params": make_params()}

    def step() -> float:
        loss, grads = grad_fn(state["params"])
        state["params"] = [p - LR * g for p, g in zip(state["params"], grads)]
        return float(loss)

    return measure(step, args)


def bench_mygrad(args) -> dict:
    mg = need("mygrad")
    from mygrad.nnet.activations import relu
    from mygrad.nnet.losses import softmax_crossentropy

    ps = [mg.tensor(p) for p in make_params()]
    W1, b1, W2, b2, W3, b3 = ps
    x, y = make_data()

    def step() -> float:
        h1 = relu(mg.matmul(x, W1) + b1)
        h2 = relu(mg.matmul(h1, W2) + b2)
        loss = softmax_crossentropy(mg.matmul(h2, W3) + b3, y)
        loss.backward()
        for p in ps:
            p.data -= LR * p.grad
        return float(loss.item())

    return measure(step, args)


def table(rows: list) -> str:
    """Markdown: s/step, GFLOP/s, throughput relative to hand-written NumPy, peak RSS relative to it."""
    by = {r["lib"]: r for r in rows}
    base = by.get("numpy", {})
    body = []
    for lib in LIBS:
        r = by.get(lib)
        if r is None:
            continue
        if r.get("status") != "ok":
            body.append([lib, r.get("status", "?"), "", "", "", "", ""])
            continue
        body.append([lib, r["step_s"], r["gflops"], ratio(base.get("step_s"), r["step_s"]), r["first_step_s"],
                     r.get("peak_rss_mb"), ratio(r.get("peak_rss_mb"), base.get("peak_rss_mb"))])
    return md_table(["lib", "s/step (median)", "GFLOP/s (3x fwd)", "throughput x numpy", "first step s",
                     "peak RSS MB", "RSS x numpy"], body)


if __name__ == "__main__":
    main("w3_large_mlp", {"wengert": bench_wengert, "numpy": bench_numpy, "numpy_matmul": bench_numpy_matmul,
                          "torch": bench_torch, "jax_jit": bench_jax_jit, "autograd": bench_autograd,
                          "mygrad": bench_mygrad})
