"""Round-robin timing for workloads that compare several functions measured in one process (W5, W6).

Not a workload script: it defines no ``LIBS``.  The runner only runs ``w*_*.py``.

Importing this module pins the math libraries to ``THREADS`` threads (environment variable
``WENGERT_BENCH_THREADS``, default 1; 0 keeps each library's default).  On a small shared
machine, multithreaded BLAS timings are dominated by scheduling (a 1000 x 1000 matvec ranged
from 0.13 to 60 ms on the 2-core VM); one thread gives every library the same, stable
footing.  Import it before NumPy.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable

THREADS = int(os.environ.get("WENGERT_BENCH_THREADS", "1"))
if THREADS > 0:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(THREADS)
    if THREADS == 1:  # XLA's CPU backend (jax)
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()

from common import median


def pin_torch(torch: object) -> int:
    """Apply THREADS to PyTorch's intra-op pool; returns the thread count it uses."""
    if THREADS > 0:
        torch.set_num_threads(THREADS)  # type: ignore[attr-defined]
    return torch.get_num_threads()  # type: ignore[attr-defined]


def interleaved(fns: dict[str, Callable[[], object]], n: int, warmup: int = 3) -> dict[str, float]:
    """Median seconds of each function, timed round-robin so that all see the same machine load.

    Each timed call follows an untimed call of the same function, so that no function pays for
    waking BLAS threads or refilling caches after the one before it.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict = {k: [] for k in fns}
    for _ in range(n):
        for k, fn in fns.items():
            fn()  # untimed: wakes BLAS threads and caches after the previous function
            t0 = time.perf_counter()
            fn()
            samples[k].append(time.perf_counter() - t0)
    return {k: median(ts) for k, ts in samples.items()}
