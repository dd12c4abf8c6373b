"""J1: Jacobians and Hessians in one batched pass: f(x) = tanh(W x), x in R^300, W ~ N(0, 1/300), float64.

Figures: the time of ``jacrev(f)``, ``jacfwd(f)`` and ``hessian`` of
``sum(tanh(W x))``, over one plain NumPy f measured in the same process; for
JAX, jitted and not.  Target: wengert's *eager* Jacobians at least as fast
as JAX's *jitted* ones.  Every result is checked against the closed form
J = diag(1 - tanh^2) W and H = W^T diag(-2 t (1 - t^2)) W.

libs: wengert (eager: vmap of the pullback / of the JVP over the identity),
wengert_keepmem (the same with malloc keeping freed memory, see
keep_freed_memory), numpy_hand (the closed forms in NumPy), jax (no jit),
jax_jit, torch (torch.func.jacrev / jacfwd / hessian).

    python benchmarks/j1_jacobians.py --lib wengert [--quick]
"""
from __future__ import annotations  # noqa: I001  (interleave first: it pins BLAS threads before NumPy loads)

from interleave import THREADS, interleaved, pin_torch  # before numpy

import numpy as np
from common import main, md_table, need, sig

LIBS = ["wengert", "wengert_keepmem", "numpy_hand", "jax", "jax_jit", "torch"]
N, QUICK_N = 300, 60


def make_data(n: int) -> tuple:
    rng = np.random.default_rng(0)
    return rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n)


def _reference(W: np.ndarray, x: np.ndarray) -> tuple:
    t = np.tanh(W @ x)
    return (1 - t * t)[:, None] * W, W.T @ np.diag(-2 * t * (1 - t * t)) @ W


def measure(args, jacrev, jacfwd, hessian) -> dict:
    n = QUICK_N if args.quick else N
    W, x = make_data(n)
    J, H = _reference(W, x)
    errs = {k: float(np.max(np.abs(np.asarray(fn()) - ref)) / np.max(np.abs(ref)))
            for k, fn, ref in (("jacrev", jacrev, J), ("jacfwd", jacfwd, J), ("hessian", hessian, H))}
    t = interleaved({"numpy_f": lambda: np.tanh(W @ x), "jacrev": jacrev, "jacfwd": jacfwd, "hessian": hessian},
                    5 if args.quick else 21)
    out = {"n": n, "threads": THREADS, "numpy_f_s": sig(t["numpy_f"])}
    for k in ("jacrev", "jacfwd", "hessian"):
        out[f"{k}_s"] = sig(t[k])
        out[f"{k}_over_numpy_f"] = sig(t[k] / t["numpy_f"])
        out[f"{k}_relerr"] = sig(errs[k], 2)
    return out


def bench_wengert(args) -> dict:
    import wengert as wg

    W, x = make_data(QUICK_N if args.quick else N)
    f = lambda x: wg.tanh(W @ x)
    s = lambda x: wg.sum(wg.tanh(W @ x))
    out = measure(args, lambda: wg.jacrev(f)(x), lambda: wg.jacfwd(f)(x), lambda: wg.hessian(s)(x))
    out["note"] = "eager: jacrev = vmap of the pullback, jacfwd = vmap of the JVP, hessian = jacfwd(jacrev)"
    return out


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the system (Linux only).

    A call that frees more than about two arrays of its largest size at once
    (720 KB each at n = 300) makes glibc trim its heap, and the next call
    faults every page back in (on the project's VM that cost as much as the
    Hessian's matrix product).  JAX (XLA's buffer pool) and PyTorch keep such
    memory; this makes malloc do the same, for the ``*_keepmem`` rows only, to
    show that cost separately: where the two wengert rows agree, the library's
    calls do not pay it (each Jacobian makes one n x n array, its result).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return False
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallopt"):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_trim_threshold, 1 << 28)) and bool(libc.mallopt(m_mmap_threshold, 1 << 28))


def bench_wengert_keepmem(args) -> dict:
    if not keep_freed_memory():
        return {"status": "n/a (no glibc mallopt)"}
    out = bench_wengert(args)
    out["note"] = "as wengert, with malloc keeping freed memory (mallopt M_TRIM_THRESHOLD / M_MMAP_THRESHOLD)"
    return out


def bench_numpy_hand(args) -> dict:
    """The closed forms written in NumPy: J = (1 - t^2)[:, None] W, H = W^T (c[:, None] W) (the limit)."""
    W, x = make_data(QUICK_N if args.quick else N)

    def jac():
        t = np.tanh(W @ x)
        return (1 - t * t)[:, None] * W

    def hess():
        t = np.tanh(W @ x)
        return W.T @ ((-2 * t * (1 - t * t))[:, None] * W)

    out = measure(args, jac, jac, hess)
    out["note"] = "hand-written closed forms (jacrev and jacfwd are the same code)"
    return out


def bench_jax(args, jit: bool) -> dict:
    jax = need("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    W, x = (jnp.asarray(a) for a in make_data(QUICK_N if args.quick else N))
    f = lambda x: jnp.tanh(W @ x)
    s = lambda x: jnp.sum(jnp.tanh(W @ x))
    jr, jf, h = jax.jacrev(f), jax.jacfwd(f), jax.hessian(s)
    if jit:
        jr, jf, h = jax.jit(jr), jax.jit(jf), jax.jit(h)
    b = jax.block_until_ready
    out = measure(args, lambda: np.asarray(b(jr(x))), lambda: np.asarray(b(jf(x))), lambda: np.asarray(b(h(x))))
    out["note"] = "jax.jacrev / jacfwd / hessian" + (", jitted (compiled in the warm-up)" if jit else ", no jit")
    return out


def bench_torch(args) -> dict:
    torch = need("torch")
    pin_torch(torch)
    from torch.func import hessian, jacfwd, jacrev

    W, x = (torch.from_numpy(a) for a in make_data(QUICK_N if args.quick else N))
    f = lambda x: torch.tanh(W @ x)
    s = lambda x: torch.tanh(W @ x).sum()
    out = measure(args, lambda: jacrev(f)(x).numpy(), lambda: jacfwd(f)(x).numpy(), lambda: hessian(s)(x).numpy())
    out["note"] = "torch.func.jacrev / jacfwd / hessian"
    return out


def table(rows: list) -> str:
    by = {r["lib"]: r for r in rows}
    jit = by.get("jax_jit") if by.get("jax_jit", {}).get("status") == "ok" else None
    body = []
    for lib in LIBS:
        r = by.get(lib)
        if r is None:
            continue
        if r.get("status") != "ok":
            body.append([lib, r.get("status", "?")] + [""] * 7)
            continue
        cells = [lib, 1e3 * r["numpy_f_s"]]
        for k in ("jacrev", "jacfwd", "hessian"):
            cells.append(f"{1e3 * r[k + '_s']:.3g} ms ({r[k + '_over_numpy_f']:.3g}x f)")
        for k in ("jacrev", "jacfwd", "hessian"):
            cells.append(None if jit is None else r[k + "_s"] / jit[k + "_s"])
        body.append(cells)
    text = md_table(["lib", "numpy f ms", "jacrev", "jacfwd", "hessian", "jacrev x jax_jit", "jacfwd x jax_jit",
                     "hessian x jax_jit"], body)
    n = next((r.get("n") for r in rows if r.get("status") == "ok"), N)
    return text + (f"\n\nn = {n}; 'x jax_jit' = the lib's time over JAX's jitted time (below 1: faster than jitted "
                   "JAX); results checked against the closed forms.")


if __name__ == "__main__":
    main("j1_jacobians", {"wengert": bench_wengert, "wengert_keepmem": bench_wengert_keepmem,
                          "numpy_hand": bench_numpy_hand, "jax": lambda a: bench_jax(a, False),
                          "jax_jit": lambda a: bench_jax(a, True), "torch": bench_torch})
