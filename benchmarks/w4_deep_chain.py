"""W4: deep scalar chain x <- sin(x) * 1.0001 + 0.1, N links of 3 ops, gradient dx_N/dx_0.

x_0 = 0.5 (float64); N = 1e3, 1e4, 1e5, 1e6 links, i.e. 3N recorded ops
(sin, mul, add), as in the peer reference.  Forward = building the graph,
backward = ``backward()`` on x_N; per-op figures divide by 3N.  Each N runs in
its own fresh process (so that peak RSS belongs to that N and a crash or a
kill loses only that N); the process started by the runner orchestrates
them, skipping an N that would not finish within the time left or fit in
memory.  micrograd's recursive topological sort fails past a few hundred
links: that is reported as a crash, with the largest N that works.

libs: wengert, hand (Python floats and a list as the tape: the limit),
micrograd (sin added in its own style), torch (0-d float64), autograd, mygrad.

    python benchmarks/w4_deep_chain.py --lib wengert [--quick]     # all N
    python benchmarks/w4_deep_chain.py --lib wengert --n 100000    # one N
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

from common import Missing, fmt, main, md_table, median, need, ratio, seconds_left, sig

LIBS = ["wengert", "hand", "micrograd", "torch", "autograd", "mygrad"]

SIZES = (1_000, 10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000)
X0, A, C = 0.5, 1.0001, 0.1
OPS_PER_LINK = 3


def reference(n: int) -> tuple:
    """x_N and dx_N/dx_0 on Python floats: d/dx (sin(x) * A + C) = cos(x) * A."""
    x, g = X0, 1.0
    for _ in range(n):
        g *= math.cos(x) * A
        x = math.sin(x) * A + C
    return x, g


def repeats(n: int, quick: bool) -> int:
    if quick:
        return 2
    return {1_000: 7, 10_000: 5, 100_000: 3}.get(n, 2)


# ------------------------------------------------------------------ one N
def measure(build, grad_of, n: int, args) -> dict:
    """``build(n)`` records the chain and returns a state; ``grad_of(state)`` runs backward
    and returns (x_N, dx_N/dx_0).  Warm-up at min(n, 1000), then timed repeats."""
    grad_of(build(min(n, 1_000)))
    budget = 60.0 if not args.quick else 5.0
    fwd, bwd, fwd_cpu, bwd_cpu = [], [], [], []
    for _ in range(repeats(n, args.quick)):
        c0, t0 = time.process_time(), time.perf_counter()
        state = build(n)
        c1, t1 = time.process_time(), time.perf_counter()
        y, g = grad_of(state)
        c2, t2 = time.process_time(), time.perf_counter()
        del state
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
        fwd_cpu.append(c1 - c0)
        bwd_cpu.append(c2 - c1)
        if sum(fwd) + sum(bwd) > budget:
            break
    f, b = median(fwd), median(bwd)
    y_ref, g_ref = reference(n)
    ops = OPS_PER_LINK * n
    return {
        "fwd_s": sig(f), "bwd_s": sig(b), "bwd_over_fwd": sig(b / f),
        "fwd_us_per_op": sig(f / ops * 1e6), "bwd_us_per_op": sig(b / ops * 1e6),
        "fwd_cpu_us_per_op": sig(median(fwd_cpu) / ops * 1e6), "bwd_cpu_us_per_op": sig(median(bwd_cpu) / ops * 1e6),
        "repeats": len(fwd), "fwd_samples_s": [sig(t, 3) for t in fwd], "bwd_samples_s": [sig(t, 3) for t in bwd],
        "y": y, "grad": g, "y_ok": abs(y - y_ref) <= 1e-12 * abs(y_ref), "grad_ok": grad_ok(g, g_ref),
    }


def grad_ok(g: float, g_ref: float) -> bool:
    """The true gradient underflows past N ~ 1700 (|cos(x*) * A| ~ 0.66 per link): then any
    value below 1e-290 (the smallest denormal or 0.0) is right."""
    if abs(g_ref) < 1e-290:
        return abs(g) < 1e-290
    return abs(g - g_ref) <= 1e-9 * abs(g_ref)


def tensor_chain(leaf, sin, value=lambda t: t.item()):
    """build / grad_of for a library with eager tensors: ``leaf(x0)`` makes the input that
    requires grad, ``sin`` the op, ``value(t)`` a Python float; ``backward()`` fills ``.grad``."""
    def build(n):
        x0 = leaf(X0)
        x = x0
        for _ in range(n):
            x = sin(x) * A + C
        return x0, x

    def grad_of(state):
        x0, y = state
        y.backward()
        return float(value(y)), float(value(x0.grad) if hasattr(x0.grad, "item") else x0.grad)

    return build, grad_of


def bench_wengert(args) -> dict:
    import wengert as wg

    build, grad_of = tensor_chain(lambda v: wg.tensor(v, requires_grad=True), wg.sin)
    return measure(build, grad_of, args.n, args)


def bench_hand(args) -> dict:
    sin, cos = math.sin, math.cos

    def build(n):
        tape = [X0]  # the Wengert list: every x_i
        x = X0
        for _ in range(n):
            x = sin(x) * A + C
            tape.append(x)
        return tape

    def grad_of(tape):
        g = 1.0
        for x in reversed(tape[:-1]):
            g *= cos(x) * A
        return tape[-1], g

    return measure(build, grad_of, args.n, args)


def micrograd_value():
    """micrograd's Value with ``sin`` added in micrograd's own style (PyPI 0.1.0 lacks it)."""
    Value = need("micrograd.engine").Value
    if not hasattr(Value, "sin"):
        def sin(self):
            out = Value(math.sin(self.data), (self,), "sin")

            def _backward():
                self.grad += math.cos(self.data) * out.grad  # d sin = cos
            out._backward = _backward
            return out
        Value.sin = sin
    return Value


def bench_micrograd(args) -> dict:
    Value = micrograd_value()
    build, grad_of = tensor_chain(Value, Value.sin, value=lambda v: v.data)
    try:
        return measure(build, grad_of, args.n, args)
    except RecursionError as exc:
        t0 = time.perf_counter()
        state = build(args.n)
        f = time.perf_counter() - t0
        del state
        lo, hi = 1, min(args.n, 5_000)  # bisect the largest N whose backward works
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                grad_of(build(mid))
                lo = mid
            except RecursionError:
                hi = mid
        # a crash, reported with the forward figures (the status overrides common.main's "ok")
        return {"status": f"crash: RecursionError: {exc} (largest N that works: {lo})",
                "fwd_s": sig(f), "fwd_us_per_op": sig(f / (OPS_PER_LINK * args.n) * 1e6)}


def bench_torch(args) -> dict:
    torch = need("torch")
    build, grad_of = tensor_chain(lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True), torch.sin)
    out = measure(build, grad_of, args.n, args)
    out["torch_threads"] = torch.get_num_threads()
    return out


def bench_autograd(args) -> dict:
    anp = need("autograd.numpy")
    make_vjp = need("autograd.core").make_vjp
    n_links = [0]

    def chain(x):
        for _ in range(n_links[0]):
            x = anp.sin(x) * A + C
        return x

    def build(n):  # forward = trace the function and keep its VJP
        n_links[0] = n
        return make_vjp(chain, X0)

    def grad_of(state):
        vjp, y = state
        return float(y), float(vjp(1.0))

    return measure(build, grad_of, args.n, args)


def bench_mygrad(args) -> dict:
    mg = need("mygrad")
    build, grad_of = tensor_chain(mg.tensor, mg.sin)
    return measure(build, grad_of, args.n, args)


BENCHES = {"wengert": bench_wengert, "hand": bench_hand, "micrograd": bench_micrograd,
           "torch": bench_torch, "autograd": bench_autograd, "mygrad": bench_mygrad}


# ------------------------------------------------------------------ all N
def run_sizes(lib: str, args) -> dict:
    """Run each N in a fresh process of this script; skip an N predicted to overrun."""
    sizes = QUICK_SIZES if args.quick else SIZES
    runs, last = [], None
    for n in sizes:
        left = seconds_left()
        skip = skip_reason(lib, n, last, left, args.quick)
        if skip:
            runs.append({"n": n, "status": f"skipped: {skip}"})
            continue
        cmd = [sys.executable, os.path.abspath(__file__), "--lib", lib, "--n", str(n)]
        if args.quick:
            cmd.append("--quick")
        limit = None if left is None else max(left - 5.0, 1.0)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, check=False)
        except subprocess.TimeoutExpired:
            runs.append({"n": n, "status": f"crash: timeout after {limit:.0f} s"})
            break
        row = _last_json(proc.stdout)
        if row is None:
            err = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
            row = {"status": f"crash: exit code {proc.returncode}: {err[0][:300]}"}
        row.pop("versions", None)
        if str(row.get("status", "")).startswith("missing"):
            raise Missing(row["status"].split(":", 1)[1].strip())
        row["n"] = n
        runs.append(row)
        if row.get("status") == "ok":
            last = row
    return {"runs": runs}


def skip_reason(lib: str, n: int, last: dict | None, left: float | None, quick: bool) -> str | None:
    """Why N should not be run: predicted (linear in N from the last N that ran) to overrun
    the time left or the memory.  wengert always runs every N."""
    if lib == "wengert" or last is None:
        return None
    scale = n / last["n"]
    per_rep = (last["fwd_s"] + last["bwd_s"]) * scale
    need_s = per_rep * (1 + min(repeats(n, quick), 2)) + 5.0
    if left is not None and need_s > left:
        return f"predicted {need_s:.0f} s > {left:.0f} s left"
    need_mb = last["peak_rss_mb"] * scale
    avail = _available_mb()
    if avail is not None and need_mb > 0.7 * avail:
        return f"predicted {need_mb / 1024:.1f} GB > 70% of {avail / 1024:.1f} GB available"
    return None


def _available_mb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return None


def _last_json(out: str) -> dict | None:
    for line in reversed((out or "").strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return None


def dispatch(lib: str):
    bench = BENCHES[lib]

    def run(args):
        return bench(args) if args.n is not None else run_sizes(lib, args)

    return run


# ------------------------------------------------------------------ table
def table(rows: list) -> str:
    """Markdown: one row per (lib, N), with each lib's forward and backward time over wengert's."""
    base = {}
    for r in rows:
        if r["lib"] == "wengert":
            for run in r.get("runs", []):
                if run.get("status") == "ok":
                    base[run["n"]] = run
    out = []
    for r in rows:
        if r.get("status") != "ok":
            out.append([r["lib"]] + [None] * 11 + [r.get("status", "?"), None])
            continue
        for run in r.get("runs", []):
            n = run["n"]
            status = run.get("status", "?")
            if status == "ok":
                checks = [] if run.get("y_ok") and run.get("grad_ok") else ["WRONG VALUE OR GRADIENT"]
                status = "; ".join(["ok", *checks])
            w = base.get(n, {})
            out.append([
                r["lib"], n, OPS_PER_LINK * n, run.get("fwd_s"), run.get("bwd_s"), run.get("bwd_over_fwd"),
                run.get("fwd_us_per_op"), run.get("bwd_us_per_op"), _pair(run, "fwd_cpu_us_per_op", "bwd_cpu_us_per_op"),
                ratio(run.get("fwd_s"), w.get("fwd_s")), ratio(run.get("bwd_s"), w.get("bwd_s")),
                ratio(_total(run), _total(w)), status, run.get("peak_rss_mb"),
            ])
    head = ["lib", "N links", "ops", "fwd s", "bwd s", "bwd/fwd", "fwd µs/op", "bwd µs/op",
            "CPU µs/op fwd / bwd", "fwd x wengert", "bwd x wengert", "total x wengert", "status", "peak RSS MB"]
    note = ("\n\nN links of 3 ops each (sin, mul, add); µs/op divides by 3N. 'x wengert' = the lib's time over "
            "wengert's at the same N (above 1: wengert is faster). Each N runs in its own process; peak RSS is "
            "that process's. CPU µs/op is process time: wall time well above it means the process waited for a core. "
            "Values and gradients are checked against a float reference (the gradient "
            "underflows to ~0 past N ~ 1700).")
    return md_table(head, out) + note


def _pair(run: dict, a: str, b: str) -> str:
    x, y = run.get(a), run.get(b)
    return "–" if x is None and y is None else f"{fmt(x)} / {fmt(y)}"


def _total(run: dict) -> float | None:
    f, b = run.get("fwd_s"), run.get("bwd_s")
    return None if f is None or b is None else f + b


if __name__ == "__main__":
    main("w4_deep_chain", {lib: dispatch(lib) for lib in LIBS},
         extra_args=[("--n", {"type": int, "default": None, "help": "measure this one N (links) only"})])
