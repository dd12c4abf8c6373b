"""W5: gradient, Hessian-vector product and full Hessian of f(x) = sum(tanh(W2 @ tanh(W1 @ x))).

x in R^1000, W1, W2 (1000 x 1000) ~ N(0, 1/1000), float64 (seed 0), as in
the peer reference.  Figures: the time of f, of its gradient, of one HVP and
of the full Hessian; the ratios grad/f and hvp/f against the library's own f
and against plain NumPy f measured in the same process (the target:
grad/f <= 2, hvp/f <= 4 with f as plain NumPy).  Every result is checked:
the gradient against a hand-written NumPy gradient, the HVP against central
differences of it, the Hessian against the HVP and for symmetry.

libs: wengert (wg.grad, wg.hvp = jvp of grad (forward-over-reverse),
wg.hessian = jacfwd(jacrev): every HVP at once, vmapped), numpy (f and
the hand-written gradient: the limit), torch (autograd.grad; HVP by double backward, torch.func.jvp(grad)
as a second figure; torch.func.hessian), jax (jax.grad, jvp of grad,
jax.hessian, no jit), jax_jit (the same, each jitted), autograd (HIPS: grad,
hessian_vector_product, hessian).  W5FF: the second directional derivative
v^T H v by forward over forward (jvp of jvp), for wengert and JAX.

    python benchmarks/w5_hvp.py --lib wengert [--quick]
"""
from __future__ import annotations  # noqa: I001  (interleave first: it pins BLAS threads before NumPy loads)

import time

from interleave import THREADS, interleaved, pin_torch  # before numpy

import numpy as np
from common import main, md_table, need, ratio, sig

LIBS = ["wengert", "wengert_jit", "numpy", "torch", "jax", "jax_jit", "autograd"]

D = 1000
QUICK_D = 200


def make_data(d: int) -> tuple:
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((d, d)) / np.sqrt(d)
    W2 = rng.standard_normal((d, d)) / np.sqrt(d)
    x = rng.standard_normal(d)
    v = rng.standard_normal(d)
    return W1, W2, x, v


def np_f(W1: np.ndarray, W2: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum(np.tanh(W2 @ np.tanh(W1 @ x))))


def np_grad(W1: np.ndarray, W2: np.ndarray, x: np.ndarray) -> np.ndarray:
    """By hand: d sum(h2) / dx = W1^T ((W2^T (1 - h2^2)) * (1 - h1^2))."""
    h1 = np.tanh(W1 @ x)
    h2 = np.tanh(W2 @ h1)
    return W1.T @ ((W2.T @ (1.0 - h2 * h2)) * (1.0 - h1 * h1))


def relerr(a, b) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def timed(fn, args, n: int, warmup: int = 3) -> float:
    """Median seconds of ``n`` calls after ``warmup`` (fewer with --quick)."""
    return interleaved({"fn": fn}, max(3, n // 5) if args.quick else n, warmup)["fn"]


def measure(args, f, grad, hvp, hessian, extra=None) -> dict:
    """Time and check one library's f, grad, hvp and hessian (callables returning arrays)."""
    d = QUICK_D if args.quick else D
    W1, W2, x, v = make_data(d)
    fns = {"numpy_f": lambda: np_f(W1, W2, x), "f": f, "grad": grad}
    if hvp:
        fns["hvp"] = hvp
    t = interleaved(fns, 9 if args.quick else 41)
    t_np, t_f, t_g, t_h = t["numpy_f"], t["f"], t["grad"], t.get("hvp")
    out = {"d": d, "threads": THREADS, "numpy_f_s": sig(t_np), "f_s": sig(t_f), "grad_s": sig(t_g), "hvp_s": sig(t_h),
           "grad_over_f": sig(ratio(t_g, t_f)), "hvp_over_f": sig(ratio(t_h, t_f)),
           "grad_over_numpy_f": sig(ratio(t_g, t_np)), "hvp_over_numpy_f": sig(ratio(t_h, t_np))}
    g_ref = np_grad(W1, W2, x)
    eps = 1e-5
    hv_ref = (np_grad(W1, W2, x + eps * v) - np_grad(W1, W2, x - eps * v)) / (2 * eps)
    out["grad_relerr"] = sig(relerr(grad(), g_ref), 2)
    if hvp:
        out["hvp_relerr_vs_fd"] = sig(relerr(hvp(), hv_ref), 2)
    if hessian:
        hessian()  # warm-up (jit compiles here)
        t0 = time.perf_counter()
        H = np.asarray(hessian())
        out["hessian_s"] = sig(time.perf_counter() - t0)
        out["hessian_over_f"] = sig(ratio(out["hessian_s"], t_f))
        out["hessian_v_relerr_vs_fd"] = sig(relerr(H @ v, hv_ref), 2)
        out["hessian_symmetry_relerr"] = sig(relerr(H, H.T), 2)
    out.update(extra or {})
    return out


# ------------------------------------------------------------------ wengert
def bench_wengert(args) -> dict:
    import wengert as wg

    W1, W2, x, v = make_data(QUICK_D if args.quick else D)

    def f(x):
        return wg.sum(wg.tanh(W2 @ wg.tanh(W1 @ x)))

    g = wg.grad(f)

    def hvp_rev_rev():  # reverse over reverse, for comparison: grad of <grad f, v>
        return wg.grad(lambda y: wg.sum(g(y) * v))(x)

    out = measure(args, lambda: f(x), lambda: g(x), lambda: wg.hvp(f, x, v), lambda: wg.hessian(f)(x))
    t_rr = timed(hvp_rev_rev, args, 21)
    out["hvp_rev_rev_s"] = sig(t_rr)
    out["hvp_rev_rev_over_numpy_f"] = sig(t_rr / out["numpy_f_s"])
    t = interleaved({"numpy_f": lambda: np_f(W1, W2, x), "jvp": lambda: wg.jvp(f, (x,), (v,))},
                    9 if args.quick else 41)
    out["jvp_s"] = sig(t["jvp"])  # true forward mode: f and J v in one pass, no graph
    out["jvp_over_numpy_f"] = sig(t["jvp"] / t["numpy_f"])
    out.update(_forward_over_forward(args, lambda: wg.jvp(lambda y: wg.jvp(f, (y,), (v,))[1], (x,), (v,))[1],
                                     lambda: wg.hvp(f, x, v), W1, W2, x, v))
    out["note"] = ("grad = wg.grad(f) on an ndarray; hvp = wg.hvp (jvp of grad, forward-over-reverse); "
                   "hessian = wg.hessian (jacfwd(jacrev): vmap of the HVP over the unit vectors); "
                   "hvp_rev_rev = grad of <grad f, v>; ff = jvp of jvp (v^T H v)")
    return out


def _forward_over_forward(args, ff, hvp, W1, W2, x, v) -> dict:
    """W5FF: v^T H v by jvp of jvp, timed against NumPy f in one process, checked against v . (H v)."""
    t = interleaved({"numpy_f": lambda: np_f(W1, W2, x), "ff": ff}, 9 if args.quick else 41)
    return {"ff_s": sig(t["ff"]), "ff_over_numpy_f": sig(t["ff"] / t["numpy_f"]),
            "ff_relerr_vs_hvp": sig(relerr(float(np.asarray(ff())), float(np.dot(v, np.asarray(hvp())))), 2)}


def bench_wengert_jit(args) -> dict:
    """wg.jit of f, grad and hvp: each recorded once (first call, untimed) and replayed on NumPy values."""
    import wengert as wg

    W1, W2, x, v = make_data(QUICK_D if args.quick else D)

    def f(x):
        return wg.sum(wg.tanh(W2 @ wg.tanh(W1 @ x)))

    jf, jg = wg.jit(f), wg.jit(wg.grad(f))
    jh = wg.jit(lambda x, v: wg.hvp(f, x, v))
    t0 = time.perf_counter()
    jg(x), jh(x, v)
    compile_s = time.perf_counter() - t0
    jf(x)
    out = measure(args, lambda: jf(x), lambda: jg(x), lambda: jh(x, v), None)
    out["compile_s"] = sig(compile_s)
    out["note"] = "wg.jit(f), wg.jit(wg.grad(f)), wg.jit(hvp); first calls (the traces) timed apart: compile_s"
    return out


# ------------------------------------------------------------------ numpy (the limit)
def bench_numpy(args) -> dict:
    W1, W2, x, _ = make_data(QUICK_D if args.quick else D)
    out = measure(args, lambda: np_f(W1, W2, x), lambda: np_grad(W1, W2, x), None, None)
    out["note"] = "f and the hand-written gradient only"
    return out


# ------------------------------------------------------------------ torch
def bench_torch(args) -> dict:
    torch = need("torch")
    threads = pin_torch(torch)
    from torch.func import grad as fgrad
    from torch.func import hessian as fhessian
    from torch.func import jvp as fjvp

    W1, W2, x0, v = (torch.from_numpy(a) for a in make_data(QUICK_D if args.quick else D))

    def f(x):
        return torch.tanh(W2 @ torch.tanh(W1 @ x)).sum()

    def run_f():
        with torch.no_grad():
            return f(x0)

    def run_grad():
        x = x0.detach().requires_grad_(True)
        return torch.autograd.grad(f(x), x)[0].numpy()

    def run_hvp():  # double backward
        x = x0.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(x), x, create_graph=True)
        return torch.autograd.grad(g, x, grad_outputs=v)[0].numpy()

    def run_hvp_func():
        return fjvp(fgrad(f), (x0,), (v,))[1].numpy()

    out = measure(args, run_f, run_grad, run_hvp, lambda: fhessian(f)(x0).numpy())
    out["hvp_func_s"] = sig(timed(run_hvp_func, args, 21))
    out["note"] = (f"{threads} threads; hvp = double backward; hvp_func = "
                   "torch.func.jvp(torch.func.grad(f)); hessian = torch.func.hessian")
    return out


# ------------------------------------------------------------------ jax
def bench_jax(args, jit: bool) -> dict:
    jax = need("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    W1, W2, x0, v = (jnp.asarray(a) for a in make_data(QUICK_D if args.quick else D))

    def f(x, W1, W2):
        return jnp.sum(jnp.tanh(W2 @ jnp.tanh(W1 @ x)))

    g = jax.grad(f)

    def hvp(x, v, W1, W2):
        return jax.jvp(lambda y: g(y, W1, W2), (x,), (v,))[1]

    def ff(x, v, W1, W2):  # jvp of jvp: v^T H v
        return jax.jvp(lambda y: jax.jvp(lambda z: f(z, W1, W2), (y,), (v,))[1], (x,), (v,))[1]

    H = jax.hessian(f)
    if jit:
        f, g, hvp, H, ff = jax.jit(f), jax.jit(g), jax.jit(hvp), jax.jit(H), jax.jit(ff)
    b = jax.block_until_ready
    out = measure(args, lambda: b(f(x0, W1, W2)), lambda: np.asarray(b(g(x0, W1, W2))),
                  lambda: np.asarray(b(hvp(x0, v, W1, W2))), lambda: np.asarray(b(H(x0, W1, W2))))
    Wn1, Wn2, xn, vn = make_data(QUICK_D if args.quick else D)
    out.update(_forward_over_forward(args, lambda: b(ff(x0, v, W1, W2)), lambda: b(hvp(x0, v, W1, W2)),
                                     Wn1, Wn2, xn, vn))
    out["note"] = "hvp = jax.jvp(jax.grad(f)); hessian = jax.hessian" + ("; all jitted" if jit else "; no jit")
    return out


# ------------------------------------------------------------------ autograd
def bench_autograd(args) -> dict:
    need("autograd")
    import autograd.numpy as anp
    from autograd import grad, hessian, hessian_vector_product

    W1, W2, x, v = make_data(QUICK_D if args.quick else D)

    def f(x):
        return anp.sum(anp.tanh(anp.dot(W2, anp.tanh(anp.dot(W1, x)))))

    g, h, H = grad(f), hessian_vector_product(f), hessian(f)
    out = measure(args, lambda: f(x), lambda: g(x), lambda: h(x, v), lambda: H(x))
    out["note"] = "autograd.grad, hessian_vector_product (reverse over reverse), hessian"
    return out


# ------------------------------------------------------------------ table
def table(rows: list) -> str:
    """Markdown: times in ms, ratios to the library's own f and to NumPy f, the Hessian, the checks."""
    by = {r["lib"]: r for r in rows}
    body = []
    for lib in LIBS:
        r = by.get(lib)
        if r is None:
            continue
        if r.get("status") != "ok":
            body.append([lib, r.get("status", "?")] + [""] * 10)
            continue

        def ms(key, r=r):
            return None if r.get(key) is None else 1e3 * r[key]

        errs = " / ".join(f"{r[k]:.1e}" if r.get(k) is not None else "–"
                          for k in ("grad_relerr", "hvp_relerr_vs_fd", "hessian_v_relerr_vs_fd"))
        body.append([lib, ms("f_s"), ms("numpy_f_s"), ms("grad_s"), ms("hvp_s"), r.get("grad_over_f"),
                     r.get("hvp_over_f"), r.get("grad_over_numpy_f"), r.get("hvp_over_numpy_f"),
                     r.get("hessian_s"), errs, r.get("peak_rss_mb")])
    text = md_table(["lib", "f ms", "numpy f ms", "grad ms", "hvp ms", "grad/f", "hvp/f", "grad / numpy f",
                     "hvp / numpy f", "hessian s", "rel. err grad / hvp (vs FD) / H·v", "peak RSS MB"], body)
    notes = []
    w = by.get("wengert")
    if w and w.get("status") == "ok" and w.get("hvp_rev_rev_s"):
        notes.append(f"- wengert reverse-over-reverse HVP (grad of <grad f, v>): {1e3 * w['hvp_rev_rev_s']:.3g} ms "
                     f"({w['hvp_rev_rev_over_numpy_f']:.3g} x numpy f).")
    if w and w.get("status") == "ok" and w.get("jvp_s"):
        notes.append(f"- wengert jvp (true forward mode, f and J v in one pass): {1e3 * w['jvp_s']:.3g} ms "
                     f"({w['jvp_over_numpy_f']:.3g} x numpy f).")
    for lib in ("wengert", "jax", "jax_jit"):
        r = by.get(lib)
        if r and r.get("status") == "ok" and r.get("ff_s"):
            notes.append(f"- W5FF, {lib}: v^T H v by jvp of jvp {1e3 * r['ff_s']:.3g} ms ({r['ff_over_numpy_f']:.3g} x "
                         f"numpy f; rel. err vs v . Hv {r['ff_relerr_vs_hvp']:.1e}).")
    t = by.get("torch")
    if t and t.get("status") == "ok" and t.get("hvp_func_s"):
        notes.append(f"- torch.func.jvp(torch.func.grad(f)) HVP: {1e3 * t['hvp_func_s']:.3g} ms; "
                     "the table's torch row uses double backward.")
    d = next((r.get("d") for r in rows if r.get("status") == "ok"), D)
    threads = next((r.get("threads") for r in rows if r.get("status") == "ok"), None)
    notes.append(f"- d = {d}; math libraries pinned to {threads or 'their default number of'} thread(s) "
                 "(WENGERT_BENCH_THREADS); targets: grad / numpy f <= 2, hvp / numpy f <= 3, jvp of jvp / numpy f <= 6.")
    return text + "\n\n" + "\n".join(notes)


if __name__ == "__main__":
    main("w5_hvp", {"wengert": bench_wengert, "wengert_jit": bench_wengert_jit, "numpy": bench_numpy, "torch": bench_torch,
                    "jax": lambda a: bench_jax(a, False), "jax_jit": lambda a: bench_jax(a, True),
                    "autograd": bench_autograd})
