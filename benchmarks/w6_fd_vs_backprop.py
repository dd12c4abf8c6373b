"""W6: one reverse-mode gradient against central finite differences, for l = 10 ... 10,000 parameters.

f(theta) = sum(tanh(A @ theta)), A (200 x l) ~ N(0, 1/l), theta ~ N(0, 1),
float64, seed l (as in the peer reference).  Finite differences need 2l
evaluations of f (h = 1e-6, black box); reverse mode needs one forward and
one backward pass, whatever l.  Figures per l: the time of plain NumPy f, of
the library's f and gradient (timed round-robin with NumPy f, in one
process), grad / numpy-f (the target: <= 3 at every l, which at l = 10 means
a per-call overhead of tens of microseconds), and FD time / gradient time,
the cost ratio that grows like l.  ``table()`` also draws that ratio
against l into ``benchmarks/results/w6_fd_vs_backprop.png``.

libs: wengert (wg.grad), wengert_jit (wg.jit(wg.grad(f)): the Wengert list
recorded once and replayed on NumPy values; its first call, which traces,
is timed separately as the compile time), numpy_fd (the finite differences), numpy_hand
(hand-written gradient: the limit), torch (autograd.grad), autograd (HIPS
grad), jax_jit (jax.jit(jax.grad)).

    python benchmarks/w6_fd_vs_backprop.py --lib wengert [--quick]
"""
from __future__ import annotations  # noqa: I001  (interleave first: it pins BLAS threads before NumPy loads)

import time
from pathlib import Path

from interleave import THREADS, interleaved, pin_torch  # before numpy

import numpy as np
from common import main, md_table, median, need, ratio, seconds_left, sig

LIBS = ["wengert", "wengert_jit", "numpy_fd", "numpy_hand", "torch", "autograd", "jax_jit"]

LS = (10, 100, 1000, 10000)
QUICK_LS = (10, 100, 1000)
M = 200
H = 1e-6
PLOT = Path(__file__).resolve().parent / "results" / "w6_fd_vs_backprop.png"


def make_data(l: int) -> tuple:
    rng = np.random.default_rng(l)
    A = rng.standard_normal((M, l)) / np.sqrt(l)
    theta = rng.standard_normal(l)
    return A, theta


def np_f(A: np.ndarray, theta: np.ndarray) -> float:
    return float(np.sum(np.tanh(A @ theta)))


def np_grad(A: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """By hand: A^T (1 - tanh(A theta)^2)."""
    t = np.tanh(A @ theta)
    return A.T @ (1.0 - t * t)


def fd_grad(f, theta: np.ndarray) -> np.ndarray:
    """Central differences, one coordinate at a time: 2 l calls of f."""
    th = theta.copy()
    g = np.empty_like(th)
    for i in range(th.size):
        old = th[i]
        th[i] = old + H
        fp = f(th)
        th[i] = old - H
        fm = f(th)
        th[i] = old
        g[i] = (fp - fm) / (2 * H)
    return g


def relerr(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def repeats(l: int, quick: bool) -> int:
    n = {10: 301, 100: 301, 1000: 101, 10000: 31}[l]
    return max(5, n // 10) if quick else n


def sizes(args) -> tuple:
    return QUICK_LS if args.quick else LS


def per_l(args, make) -> dict:
    """``make(A, theta)`` -> (f, grad) of one library; both timed against NumPy f for every l."""
    out = {}
    for l in sizes(args):
        A, th = make_data(l)
        f, grad = make(A, th)
        t = interleaved({"numpy_f": lambda A=A, th=th: np_f(A, th), "f": f, "grad": grad}, repeats(l, args.quick))
        out[str(l)] = {"numpy_f_s": sig(t["numpy_f"]), "f_s": sig(t["f"]), "grad_s": sig(t["grad"]),
                       "grad_over_f": sig(ratio(t["grad"], t["f"])),
                       "grad_over_numpy_f": sig(ratio(t["grad"], t["numpy_f"])),
                       "grad_relerr": sig(relerr(np.asarray(grad()), np_grad(A, th)), 2)}
    return {"per_l": out, "threads": THREADS}


# ------------------------------------------------------------------ libraries
def bench_wengert(args) -> dict:
    import wengert as wg

    def make(A, th):
        def f(theta):
            return wg.sum(wg.tanh(A @ theta))

        g = wg.grad(f)
        return (lambda: f(th)), (lambda: g(th))

    out = per_l(args, make)
    out["note"] = "wg.grad(f) on an ndarray theta (returns an ndarray)"
    return out


def bench_wengert_jit(args) -> dict:
    import wengert as wg

    compile_s = {}

    def make(A, th):
        def f(theta):
            return wg.sum(wg.tanh(A @ theta))

        jf, jg = wg.jit(f), wg.jit(wg.grad(f))
        t0 = time.perf_counter()
        jg(th)  # the first call traces f and its gradient: the compile time, kept out of the timings
        compile_s[th.size] = time.perf_counter() - t0
        jf(th)
        return (lambda: jf(th)), (lambda: jg(th))

    out = per_l(args, make)
    for l, row in out["per_l"].items():
        row["compile_s"] = sig(compile_s[int(l)])
    out["note"] = "wg.jit(wg.grad(f)) on an ndarray theta; compiled in a first call timed separately (compile_s)"
    return out


def bench_numpy_fd(args) -> dict:
    out = {}
    for l in sizes(args):
        A, th = make_data(l)
        def f(t, A=A):
            return np_f(A, t)

        t_f = interleaved({"f": lambda f=f, th=th: f(th)}, repeats(l, args.quick))["f"]
        left = seconds_left()
        if left is not None and left < 2 * l * t_f * 3 + 5:
            out[str(l)] = {"f_s": sig(t_f), "status": "skipped: not enough time left"}
            continue
        n = 1 if l >= 10000 or args.quick else (3 if l == 1000 else 5)
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            g = fd_grad(f, th)
            ts.append(time.perf_counter() - t0)
        out[str(l)] = {"numpy_f_s": sig(t_f), "fd_s": sig(median(ts)), "fd_evals": 2 * l,
                       "fd_over_numpy_f": sig(median(ts) / t_f), "fd_relerr": sig(relerr(g, np_grad(A, th)), 2)}
    return {"per_l": out, "threads": THREADS, "note": f"central differences, h = {H:g}, 2 l calls of the NumPy f"}


def bench_numpy_hand(args) -> dict:
    out = per_l(args, lambda A, th: ((lambda: np_f(A, th)), (lambda: np_grad(A, th))))
    out["note"] = "hand-written gradient A^T (1 - tanh(A theta)^2)"
    return out


def bench_torch(args) -> dict:
    torch = need("torch")
    threads = pin_torch(torch)

    def make(A, th):
        At, th0 = torch.from_numpy(A), torch.from_numpy(th)

        def f(t):
            return torch.tanh(At @ t).sum()

        def run_f():
            with torch.no_grad():
                return f(th0)

        def run_g():
            t = th0.detach().requires_grad_(True)
            return torch.autograd.grad(f(t), t)[0].numpy()

        return run_f, run_g

    out = per_l(args, make)
    out["note"] = f"torch.autograd.grad, {threads} threads; f under no_grad"
    return out


def bench_autograd(args) -> dict:
    need("autograd")
    import autograd.numpy as anp
    from autograd import grad

    def make(A, th):
        def f(t):
            return anp.sum(anp.tanh(anp.dot(A, t)))

        g = grad(f)
        return (lambda: f(th)), (lambda: g(th))

    out = per_l(args, make)
    out["note"] = "autograd.grad"
    return out


def bench_jax_jit(args) -> dict:
    jax = need("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def f(t, A):
        return jnp.sum(jnp.tanh(A @ t))

    jf, jg = jax.jit(f), jax.jit(jax.grad(f))
    b = jax.block_until_ready

    def make(A, th):
        Aj, tj = jnp.asarray(A), jnp.asarray(th)
        return (lambda: b(jf(tj, Aj))), (lambda: np.asarray(b(jg(tj, Aj))))

    out = per_l(args, make)
    out["note"] = "jax.jit(f), jax.jit(jax.grad(f)) (compiled in the warm-up)"
    return out


# ------------------------------------------------------------------ table and plot
def table(rows: list) -> str:
    """Markdown: per l, NumPy f, FD gradient, each library's gradient, grad / numpy-f and FD / grad; writes the plot."""
    by = {r["lib"]: r for r in rows if r.get("status") == "ok"}
    fd = by.get("numpy_fd", {}).get("per_l", {})
    grad_libs = [lib for lib in LIBS if lib != "numpy_fd" and lib in by]
    ls = sorted({int(k) for r in by.values() for k in r.get("per_l", {})})
    headers = ["l", "numpy f µs", "FD grad ms (2l evals)"]
    for lib in grad_libs:
        headers += [f"{lib} grad µs", f"{lib} grad / numpy f", f"FD / {lib}"]
    body = []
    curves: dict = {lib: [] for lib in grad_libs}
    for l in ls:
        fdl = fd.get(str(l), {})
        fd_s = fdl.get("fd_s")
        nf = [r["per_l"][str(l)]["numpy_f_s"] for r in by.values() if str(l) in r.get("per_l", {})
              and r["per_l"][str(l)].get("numpy_f_s")]
        row = [l, 1e6 * min(nf) if nf else None, 1e3 * fd_s if fd_s else None]
        for lib in grad_libs:
            d = by[lib].get("per_l", {}).get(str(l), {})
            g = d.get("grad_s")
            row += [1e6 * g if g else None, d.get("grad_over_numpy_f"), ratio(fd_s, g)]
            if fd_s and g:
                curves[lib].append((l, fd_s / g))
        body.append(row)
    text = md_table(headers, body) if body else "no rows"
    compiled = by.get("wengert_jit", {}).get("per_l", {})
    if compiled:
        text += "\n\nwengert_jit compile time (its first call, which traces f and its gradient): " + ", ".join(
            f"l = {l}: {1e3 * compiled[str(l)]['compile_s']:.2f} ms" for l in ls
            if compiled.get(str(l), {}).get("compile_s"))
    missing = [f"{r['lib']}: {r.get('status')}" for r in rows if r.get("status") != "ok"]
    if missing:
        text += "\n\nNot measured: " + "; ".join(missing)
    plotted = _plot(curves)
    if plotted:
        text += f"\n\nPlot of FD time / gradient time against l: `{plotted}`"
    return text


def _plot(curves: dict) -> str | None:
    """FD / gradient cost ratio against l, log-log, one line per library (None when nothing to draw)."""
    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for lib, pts in curves.items():
        xs, ys = zip(*pts)
        ax.loglog(xs, ys, marker="o", label=lib, linewidth=2.5 if lib == "wengert" else 1.2)
    xs = sorted({x for pts in curves.values() for x, _ in pts})
    ax.loglog(xs, xs, "k:", label="slope 1 (∝ l)")
    ax.set_xlabel("l (number of parameters)")
    ax.set_ylabel("finite-difference time / gradient time")
    ax.set_title("W6: f = sum(tanh(A θ)), A 200 × l")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=120)
    plt.close(fig)
    return str(PLOT.relative_to(PLOT.parent.parent.parent))


if __name__ == "__main__":
    main("w6_fd_vs_backprop", {"wengert": bench_wengert, "wengert_jit": bench_wengert_jit, "numpy_fd": bench_numpy_fd, "numpy_hand": bench_numpy_hand,
                               "torch": bench_torch, "autograd": bench_autograd, "jax_jit": bench_jax_jit})
