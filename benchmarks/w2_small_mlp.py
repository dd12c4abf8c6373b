"""W2: overhead-bound training of a small MLP (one epoch = 32 SGD steps of batch 64).

X float32 (2048, 64) ~ N(0, 1) (seed 0); labels = argmax of a fixed random
linear teacher (10 classes).  MLP 64-128-128-10 with ReLU, softmax
cross-entropy (mean over the batch), plain SGD lr 0.1, fixed batch order, the
same initial weights for every library (seed 1).  Figure: seconds per epoch,
the median over several epochs after one warm-up epoch.

libs: wengert (nn.Linear modules, F.cross_entropy, optim.SGD: the way a user
writes it), numpy (hand-written backprop: the limit), torch (eager), jax (no
jit), jax_jit (the whole step jitted), autograd (HIPS), mygrad.

    python benchmarks/w2_small_mlp.py --lib wengert [--quick]
"""
from __future__ import annotations

import itertools
import time

import numpy as np
from common import main, md_table, median, need, ratio, sig

LIBS = ["wengert", "numpy", "torch", "jax", "jax_jit", "autograd", "mygrad"]

N, D, H, C = 2048, 64, 128, 10
B = 64
STEPS = N // B
LR = 0.1
SIZES = (D, H, H, C)


def make_batches() -> list:
    """The 32 batches (x float32 (64, 64), y int64 (64,)) of one epoch, in a fixed order."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D)).astype(np.float32)
    teacher = rng.standard_normal((D, C)).astype(np.float32)
    y = np.argmax(X @ teacher, axis=1).astype(np.int64)
    return [(X[i * B:(i + 1) * B].copy(), y[i * B:(i + 1) * B].copy()) for i in range(STEPS)]


def make_params() -> list:
    """[W1, b1, W2, b2, W3, b3], W of shape (in, out) ~ N(0, 2/in) (seed 1), b = 0, float32."""
    rng = np.random.default_rng(1)
    out = []
    for nin, nout in itertools.pairwise(SIZES):
        out.append((rng.standard_normal((nin, nout)) * np.sqrt(2.0 / nin)).astype(np.float32))
        out.append(np.zeros(nout, dtype=np.float32))
    return out


def measure(epoch, args) -> dict:
    """Time ``epoch()`` (which returns the epoch's mean loss as a float): one warm-up, then the median."""
    reps = 3 if args.quick else 7
    t0 = time.perf_counter()
    first_loss = epoch()
    first = time.perf_counter() - t0
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t0)
    s = median(times)
    return {"epoch_s": sig(s), "step_ms": sig(1e3 * s / STEPS), "first_epoch_s": sig(first),
            "loss_epoch1": sig(first_loss, 7), "samples_s": [sig(t) for t in times]}


# ------------------------------------------------------------------ wengert
def bench_wengert(args) -> dict:
    import wengert as wg
    from wengert import nn, optim
    from wengert.nn import functional as F

    ps = make_params()
    model = nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(), nn.Linear(H, C))
    model.load_state_dict({"0.weight": ps[0].T, "0.bias": ps[1], "2.weight": ps[2].T, "2.bias": ps[3],
                           "4.weight": ps[4].T, "4.bias": ps[5]})
    opt = optim.SGD(model.parameters(), lr=LR)
    batches = [(wg.tensor(x), y) for x, y in make_batches()]

    def epoch() -> float:
        losses = []
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return float(np.mean(losses))

    out = measure(epoch, args)
    out["note"] = "nn.Sequential(Linear, ReLU, ...), F.cross_entropy, optim.SGD"
    return out


# ------------------------------------------------------------------ numpy (the limit)
def bench_numpy(args) -> dict:
    W1, b1, W2, b2, W3, b3 = make_params()
    batches = make_batches()
    rows = np.arange(B)

    def step(x, y) -> float:
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
        dz3 /= B
        dW3, db3 = h2.T @ dz3, dz3.sum(axis=0)
        dz2 = (dz3 @ W3.T) * (z2 > 0)
        dW2, db2 = h1.T @ dz2, dz2.sum(axis=0)
        dz1 = (dz2 @ W2.T) * (z1 > 0)
        dW1, db1 = x.T @ dz1, dz1.sum(axis=0)
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2), (W3, dW3), (b3, db3)):
            p -= LR * g
        return loss

    out = measure(lambda: float(np.mean([step(x, y) for x, y in batches])), args)
    out["note"] = "hand-written backprop (skips the input gradient)"
    return out


# ------------------------------------------------------------------ torch
def bench_torch(args) -> dict:
    torch = need("torch")
    import torch.nn.functional as TF

    ps = [torch.tensor(p, requires_grad=True) for p in make_params()]
    W1, b1, W2, b2, W3, b3 = ps
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in make_batches()]
    opt = torch.optim.SGD(ps, lr=LR)

    def epoch() -> float:
        losses = []
        for x, y in batches:
            h1 = torch.relu(x @ W1 + b1)
            h2 = torch.relu(h1 @ W2 + b2)
            loss = TF.cross_entropy(h2 @ W3 + b3, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return float(np.mean(losses))

    out = measure(epoch, args)
    out["note"] = f"eager, {torch.get_num_threads()} threads, F.cross_entropy, torch.optim.SGD"
    return out


# ------------------------------------------------------------------ jax
def bench_jax(args, jit: bool) -> dict:
    jax = need("jax")
    import jax.numpy as jnp

    def loss_fn(params, x, y):
        W1, b1, W2, b2, W3, b3 = params
        h1 = jax.nn.relu(x @ W1 + b1)
        h2 = jax.nn.relu(h1 @ W2 + b2)
        logp = jax.nn.log_softmax(h2 @ W3 + b3)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    grad_fn = jax.value_and_grad(loss_fn)

    def step(params, x, y):
        loss, grads = grad_fn(params, x, y)
        return [p - LR * g for p, g in zip(params, grads)], loss

    if jit:
        step = jax.jit(step)
    batches = [(jnp.asarray(x), jnp.asarray(y.astype(np.int32))) for x, y in make_batches()]
    state = {"params": [jnp.asarray(p) for p in make_params()]}

    def epoch() -> float:
        params, losses = state["params"], []
        for x, y in batches:
            params, loss = step(params, x, y)
            losses.append(loss)
        state["params"] = params
        return float(np.mean([float(v) for v in losses]))

    out = measure(epoch, args)
    out["note"] = "whole step jitted; first epoch includes compilation" if jit else "no jit"
    return out


# ------------------------------------------------------------------ autograd
def bench_autograd(args) -> dict:
    need("autograd")
    import autograd.numpy as anp
    from autograd import value_and_grad
    from autograd.scipy.special import logsumexp

    rows = np.arange(B)

    def loss_fn(params, x, y):
        W1, b1, W2, b2, W3, b3 = params
        h1 = anp.maximum(anp.dot(x, W1) + b1, 0)
        h2 = anp.maximum(anp.dot(h1, W2) + b2, 0)
        z = anp.dot(h2, W3) + b3
        return -anp.mean((z - logsumexp(z, axis=1, keepdims=True))[rows, y])

    grad_fn = value_and_grad(loss_fn)
    batches = make_batches()
    state = {"params": make_params()}

    def epoch() -> float:
        params, losses = state["params"], []
        for x, y in batches:
            loss, grads = grad_fn(params, x, y)
            params = [p - LR * g for p, g in zip(params, grads)]
            losses.append(float(loss))
        state["params"] = params
        return float(np.mean(losses))

    return measure(epoch, args)


# ------------------------------------------------------------------ mygrad
def bench_mygrad(args) -> dict:
    mg = need("mygrad")
    from mygrad.nnet.activations import relu
    from mygrad.nnet.losses import softmax_crossentropy

    ps = [mg.tensor(p) for p in make_params()]
    W1, b1, W2, b2, W3, b3 = ps
    batches = make_batches()

    def epoch() -> float:
        losses = []
        for x, y in batches:
            h1 = relu(mg.matmul(x, W1) + b1)
            h2 = relu(mg.matmul(h1, W2) + b2)
            loss = softmax_crossentropy(mg.matmul(h2, W3) + b3, y)
            loss.backward()
            for p in ps:
                p.data -= LR * p.grad
            losses.append(float(loss.item()))
        return float(np.mean(losses))

    return measure(epoch, args)


# ------------------------------------------------------------------ table
def table(rows: list) -> str:
    """Markdown: seconds per epoch, ms per step, ratio to hand-written NumPy, first epoch, loss, peak RSS."""
    by = {r["lib"]: r for r in rows}
    base = by.get("numpy", {}).get("epoch_s")
    body = []
    for lib in LIBS:
        r = by.get(lib)
        if r is None:
            continue
        if r.get("status") != "ok":
            body.append([lib, r.get("status", "?"), "", "", "", "", ""])
            continue
        body.append([lib, r["epoch_s"], r["step_ms"], ratio(r["epoch_s"], base), r["first_epoch_s"],
                     f"{r['loss_epoch1']:.6f}", r.get("peak_rss_mb")])
    return md_table(["lib", "s/epoch (median)", "ms/step", "x numpy", "first epoch s", "mean loss epoch 1",
                     "peak RSS MB"], body)


if __name__ == "__main__":
    main("w2_small_mlp", {"wengert": bench_wengert, "numpy": bench_numpy, "torch": bench_torch,
                          "jax": lambda a: bench_jax(a, False), "jax_jit": lambda a: bench_jax(a, True),
                          "autograd": bench_autograd, "mygrad": bench_mygrad})
