"""W3: compute-bound training step of a large MLP.

float32, batch 512, MLP 784-2048-2048-10 with ReLU, softmax cross-entropy
(mean), plain SGD (lr 0.01), the same data and initial weights for every
library.  Figures: seconds per step (median after warm-up), GFLOP/s counting
3x the forward matmul flops, peak RSS of the process.  The steps themselves
are in ``mlp_steps.py`` (shared with W2).

libs: wengert (nn.Linear modules, F.cross_entropy, optim.SGD), numpy
(hand-written backprop), numpy_matmul (only the 9 raw matmuls of a step: the
roofline), torch, jax_jit, autograd, mygrad; interleaved: wengert and numpy
steps alternated in one process (the ratio that counts on a noisy machine).

    python benchmarks/w3_large_mlp.py --lib wengert [--quick]
"""
from __future__ import annotations

import itertools
import time

import numpy as np
from common import alternate, main, md_table, median, ratio, side_by_side, sig
from mlp_steps import NOTES, init_params, make

LIBS = ["wengert", "numpy", "numpy_matmul", "torch", "jax_jit", "autograd", "mygrad", "interleaved"]

BATCH, SIZES, C = 512, (784, 2048, 2048, 10), 10
LR = 0.01
STEP_FLOPS = 3 * sum(2 * BATCH * a * b for a, b in itertools.pairwise(SIZES))


def make_data() -> tuple:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    y = rng.integers(0, C, size=BATCH).astype(np.int64)
    return X, y


def measure(step, args) -> dict:
    """``step()`` runs one training step and returns its loss."""
    warm, reps = (1, 3) if args.quick else (2, 7)
    t0 = time.perf_counter()
    losses = [float(step())]
    first = time.perf_counter() - t0
    for _ in range(warm - 1):
        losses.append(float(step()))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        losses.append(float(step()))
        times.append(time.perf_counter() - t0)
    s = median(times)
    return {"step_s": sig(s), "gflops": sig(STEP_FLOPS / s / 1e9), "first_step_s": sig(first),
            "loss_first": sig(losses[0], 7), "loss_second": sig(losses[1], 7), "samples_s": [sig(t) for t in times]}


def bench(lib: str, args) -> dict:
    prepare, step = make(lib, init_params(SIZES), LR)
    x, y = prepare(*make_data())
    out = measure(lambda: step(x, y), args)
    out["note"] = NOTES[lib]
    return out


def bench_numpy_matmul(args) -> dict:
    """The 9 raw matmuls of a step (forward, dW, dX per layer) with the same shapes: the roofline."""
    rng = np.random.default_rng(2)

    def r(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    mats = []
    for a, b in itertools.pairwise(SIZES):
        mats += [(r(BATCH, a), r(a, b)), (r(BATCH, a).T, r(BATCH, b)), (r(BATCH, b), r(a, b).T)]
    out = measure(lambda: float(len([A @ B for A, B in mats])), args)
    out.pop("loss_first"), out.pop("loss_second")
    out["note"] = "the 9 raw matmuls of a step, nothing else"
    return out


def bench_interleaved(args) -> dict:
    """wengert and numpy steps alternated in one process: the ratio of each pair, then the median."""
    steps = {}
    for lib in ("wengert", "numpy"):
        prepare, step = make(lib, init_params(SIZES), LR)
        x, y = prepare(*make_data())
        steps[lib] = (lambda step=step, x=x, y=y: float(step(x, y)))

    pairs = alternate(steps["wengert"], steps["numpy"], 3 if args.quick else 9, warmup=2)
    ratios = [n / w for w, n in pairs]
    return {"throughput_ratio_median": sig(median(ratios)),
            "throughput_ratio_of_minima": sig(min(n for _, n in pairs) / min(w for w, _ in pairs)),
            "wengert_step_s": sig(median([w for w, _ in pairs])), "numpy_step_s": sig(median([n for _, n in pairs])),
            "pairs": len(pairs), "note": "numpy / wengert seconds per step (throughput ratio), alternated in one process"}


def table(rows: list) -> str:
    """Markdown: s/step, GFLOP/s, throughput relative to hand-written NumPy, peak RSS relative to it."""
    by = {r["lib"]: r for r in rows}
    base = by.get("numpy", {})
    body = []
    for lib in LIBS:
        r = by.get(lib)
        if r is None or lib == "interleaved":
            continue
        if r.get("status") != "ok":
            body.append([lib, r.get("status", "?"), "", "", "", "", ""])
            continue
        body.append([lib, r["step_s"], r["gflops"], ratio(base.get("step_s"), r["step_s"]), r["first_step_s"],
                     r.get("peak_rss_mb"), ratio(r.get("peak_rss_mb"), base.get("peak_rss_mb"))])
    out = md_table(["lib", "s/step (median)", "GFLOP/s (3x fwd)", "throughput x numpy", "first step s",
                    "peak RSS MB", "RSS x numpy"], body)
    return out + side_by_side(by.get("interleaved"), "wengert throughput / numpy", "steps",
                              "throughput_ratio_median", "throughput_ratio_of_minima")


if __name__ == "__main__":
    benches = {lib: (lambda a, lib=lib: bench(lib, a)) for lib in LIBS if lib not in ("numpy_matmul", "interleaved")}
    benches["numpy_matmul"] = bench_numpy_matmul
    benches["interleaved"] = bench_interleaved
    main("w3_large_mlp", benches)
