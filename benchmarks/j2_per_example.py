"""J2: per-example gradients of a 20-64-10 tanh MLP's softmax cross-entropy over 256 examples (float64).

Figure: the time of ``vmap(grad(loss), in_axes=(None, 0, 0))`` (one gradient
per example, one batched pass) over the time of one gradient of the mean loss
over the whole batch, both in the same process.  Target: within 5x.  The
per-example gradients are checked: their mean equals the batched gradient.

libs: wengert (eager vmap of grad, and jit of it), jax (vmap(grad), with and
without jit), torch (torch.func.vmap(grad)).

    python benchmarks/j2_per_example.py --lib wengert [--quick]
"""
from __future__ import annotations  # noqa: I001  (interleave first: it pins BLAS threads before NumPy loads)

from interleave import THREADS, interleaved, pin_torch  # before numpy

import numpy as np
from common import main, md_table, need, sig

LIBS = ["wengert", "wengert_jit", "jax", "jax_jit", "torch"]
SIZES, N, QUICK_N = (20, 64, 10), 256, 32


def make_data(n: int) -> tuple:
    rng = np.random.default_rng(0)
    d, h, c = SIZES
    p = {"W0": rng.standard_normal((d, h)) / np.sqrt(d), "b0": np.zeros(h),
         "W1": rng.standard_normal((h, c)) / np.sqrt(h), "b1": np.zeros(c)}
    X = rng.standard_normal((n, d))
    Y = np.eye(c)[rng.integers(0, c, n)]
    return p, X, Y


def measure(args, per_example, batched) -> dict:
    """Time both (round robin) and check mean(per-example) == batched."""
    pe, bg = per_example(), batched()
    err = max(float(np.max(np.abs(np.asarray(pe[k]).mean(axis=0) - np.asarray(bg[k])))) for k in bg)
    t = interleaved({"per_example": per_example, "batched": batched}, 5 if args.quick else 21)
    return {"n": QUICK_N if args.quick else N, "threads": THREADS, "per_example_s": sig(t["per_example"]),
            "batched_s": sig(t["batched"]), "ratio": sig(t["per_example"] / t["batched"]), "mean_abs_err": sig(err, 2)}


def bench_wengert(args, jit: bool = False) -> dict:
    import wengert as wg

    p, X, Y = make_data(QUICK_N if args.quick else N)

    def loss(p, x, y):  # one example (or a batch: the mean over its rows)
        h = wg.tanh(x @ p["W0"] + p["b0"])
        logp = wg.log_softmax(h @ p["W1"] + p["b1"], axis=-1)
        return -wg.mean(wg.sum(y * logp, axis=-1))

    per = wg.vmap(wg.grad(loss), in_axes=(None, 0, 0))
    whole = wg.grad(loss)
    if jit:
        per, whole = wg.jit(per), wg.jit(whole)
    out = measure(args, lambda: per(p, X, Y), lambda: whole(p, X, Y))
    out["note"] = "vmap(grad(loss), in_axes=(None, 0, 0))" + (", both jitted" if jit else ", eager")
    return out


def bench_jax(args, jit: bool) -> dict:
    jax = need("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    p, X, Y = make_data(QUICK_N if args.quick else N)
    p = {k: jnp.asarray(v) for k, v in p.items()}
    X, Y = jnp.asarray(X), jnp.asarray(Y)

    def loss(p, x, y):
        h = jnp.tanh(x @ p["W0"] + p["b0"])
        logp = jax.nn.log_softmax(h @ p["W1"] + p["b1"], axis=-1)
        return -jnp.mean(jnp.sum(y * logp, axis=-1))

    per, whole = jax.vmap(jax.grad(loss), in_axes=(None, 0, 0)), jax.grad(loss)
    if jit:
        per, whole = jax.jit(per), jax.jit(whole)
    b = jax.block_until_ready
    out = measure(args, lambda: b(per(p, X, Y)), lambda: b(whole(p, X, Y)))
    out["note"] = "jax.vmap(jax.grad(loss))" + (", both jitted" if jit else ", no jit")
    return out


def bench_torch(args) -> dict:
    torch = need("torch")
    pin_torch(torch)
    from torch.func import grad, vmap

    p, X, Y = make_data(QUICK_N if args.quick else N)
    p = {k: torch.from_numpy(v) for k, v in p.items()}
    X, Y = torch.from_numpy(X), torch.from_numpy(Y)

    def loss(p, x, y):
        h = torch.tanh(x @ p["W0"] + p["b0"])
        logp = torch.log_softmax(h @ p["W1"] + p["b1"], dim=-1)
        return -(y * logp).sum(-1).mean()

    per, whole = vmap(grad(loss), in_dims=(None, 0, 0)), grad(loss)
    out = measure(args, lambda: per(p, X, Y), lambda: whole(p, X, Y))
    out["note"] = "torch.func.vmap(torch.func.grad(loss))"
    return out


def table(rows: list) -> str:
    body = []
    for r in rows:
        if r.get("status") != "ok":
            body.append([r["lib"], r.get("status", "?"), "", "", ""])
            continue
        body.append([r["lib"], 1e3 * r["per_example_s"], 1e3 * r["batched_s"], r["ratio"], r["mean_abs_err"]])
    text = md_table(["lib", "per-example grads ms", "one batched grad ms", "ratio (target <= 5)",
                     "|mean(per-example) - batched|"], body)
    n = next((r.get("n") for r in rows if r.get("status") == "ok"), N)
    return text + f"\n\n{n} examples, MLP 20-64-10 tanh, softmax cross-entropy, float64."


if __name__ == "__main__":
    main("j2_per_example", {"wengert": bench_wengert, "wengert_jit": lambda a: bench_wengert(a, True),
                            "jax": lambda a: bench_jax(a, False), "jax_jit": lambda a: bench_jax(a, True),
                            "torch": bench_torch})
