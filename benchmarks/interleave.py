"""Round-robin timing for workloads that compare several functions measured in one process (W5, W6).

Not a workload script: it defines no ``LIBS``.  The runner only runs ``w*_*.py``.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from common import median


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
