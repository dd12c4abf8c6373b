"""W2: overhead-bound training of a small MLP (one epoch = 32 SGD steps of batch 64).

X float32 (2048, 64) ~ N(0, 1) (seed 0); labels = argmax of a fixed random
linear teacher (10 classes).  MLP 64-128-128-10 with ReLU, softmax
cross-entropy (mean over the batch), plain SGD lr 0.1, fixed batch order, the
same initial weights for every library (seed 1).  Figure: seconds per epoch,
the median over several epochs after one warm-up epoch.  The steps themselves
are in ``mlp_steps.py`` (shared with W3).

libs: wengert (nn.Linear modules, F.cross_entropy, optim.SGD: the way a user
writes it), numpy (hand-written backprop: the limit), torch (eager), jax (no
jit), jax_jit (the whole step jitted), autograd (HIPS), mygrad; interleaved:
wengert and numpy epochs alternated in one process, so that both see the same
machine (the ratio that counts on a noisy machine).

    python benchmarks/w2_small_mlp.py --lib wengert [--quick]
"""
from __future__ import annotations

import time

import numpy as np
from common import alternate, main, md_table, median, ratio, side_by_side, sig
from mlp_steps import NOTES, init_params, make

LIBS = ["wengert", "wengert_jit", "numpy", "torch", "jax", "jax_jit", "autograd", "mygrad", "interleaved",
        "interleaved_jit"]

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


def bench(lib: str, args) -> dict:
    prepare, step = make(lib, init_params(SIZES), LR)
    batches = [prepare(x, y) for x, y in make_batches()]

    def epoch() -> float:
        losses = [step(x, y) for x, y in batches]
        return float(np.mean([float(v) for v in losses]))

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
            "loss_epoch1": sig(first_loss, 7), "samples_s": [sig(t) for t in times], "note": NOTES[lib]}


def bench_interleaved(args, lib_a: str = "wengert") -> dict:
    """``lib_a`` and numpy epochs alternated in one process: the ratio of each pair, then the median."""
    runs = {}
    for lib in (lib_a, "numpy"):
        prepare, step = make(lib, init_params(SIZES), LR)
        batches = [prepare(x, y) for x, y in make_batches()]
        runs[lib] = (step, batches)

    def epoch(lib: str) -> None:
        step, batches = runs[lib]
        for x, y in batches:
            step(x, y)

    epoch(lib_a)  # (a jitted step compiles in its first epoch: not part of the pairs)
    pairs = alternate(lambda: epoch(lib_a), lambda: epoch("numpy"), 5 if args.quick else 21)
    ratios = [w / n for w, n in pairs]
    return {"ratio_median": sig(median(ratios)), "ratio_of_minima": sig(min(w for w, _ in pairs) / min(n for _, n in pairs)),
            "wengert_epoch_s": sig(median([w for w, _ in pairs])), "numpy_epoch_s": sig(median([n for _, n in pairs])),
            "pairs": len(pairs), "note": f"{lib_a} / numpy seconds per epoch, alternated in one process"}


def table(rows: list) -> str:
    """Markdown: seconds per epoch, ms per step, ratio to hand-written NumPy, first epoch, loss, peak RSS."""
    by = {r["lib"]: r for r in rows}
    base = by.get("numpy", {}).get("epoch_s")
    body = []
    for lib in LIBS:
        r = by.get(lib)
        if r is None or lib.startswith("interleaved"):
            continue
        if r.get("status") != "ok":
            body.append([lib, r.get("status", "?"), "", "", "", "", ""])
            continue
        body.append([lib, r["epoch_s"], r["step_ms"], ratio(r["epoch_s"], base), r["first_epoch_s"],
                     f"{r['loss_epoch1']:.6f}", r.get("peak_rss_mb")])
    out = md_table(["lib", "s/epoch (median)", "ms/step", "x numpy", "first epoch s", "mean loss epoch 1",
                    "peak RSS MB"], body)
    return (out + side_by_side(by.get("interleaved"), "wengert / numpy", "epochs", "ratio_median", "ratio_of_minima")
            + side_by_side(by.get("interleaved_jit"), "wengert_jit / numpy", "epochs", "ratio_median",
                           "ratio_of_minima"))


if __name__ == "__main__":
    benches = {lib: (lambda a, lib=lib: bench(lib, a)) for lib in LIBS if not lib.startswith("interleaved")}
    benches["interleaved"] = bench_interleaved
    benches["interleaved_jit"] = lambda a: bench_interleaved(a, "wengert_jit")
    main("w2_small_mlp", benches)
