"""Shared helpers for the benchmark scripts ``benchmarks/w*_*.py``.

The convention (see ``benchmarks/README.md``): a workload script defines

- ``LIBS``: the library names it can measure, in table order;
- ``table(rows) -> str``: a Markdown table of the rows the runner collected;

and, run as ``python benchmarks/wN_xxx.py --lib NAME [--quick]``, measures ONE
library in that process and prints exactly one JSON line on stdout (built by
:func:`main`).  Every row has ``lib`` and ``status``: ``"ok"``,
``"missing: <reason>"`` (the peer is not installed) or ``"crash: <error>"``.

This module is imported by every workload script: keep its functions and
their signatures stable.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

# The runner sets this to the per-process timeout, so that a script can skip
# sizes that would not finish in time instead of being killed.
TIMEOUT_ENV = "WENGERT_BENCH_TIMEOUT_S"

_START = time.perf_counter()


class Missing(Exception):
    """Raised by a benchmark function when its peer library is not installed."""


def need(module: str) -> Any:
    """Import ``module`` or raise :class:`Missing` (reported, not failed)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Missing(f"{module} not importable ({exc})") from None


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 2**20


def median(xs: list) -> float:
    return statistics.median(xs)


def timeit(fn: Callable[[], Any], warmup: int = 1, repeats: int = 5, budget_s: float | None = None) -> tuple:
    """Call ``fn`` ``warmup`` times untimed, then up to ``repeats`` timed times.

    Stops early (after at least one timed call) once the timed calls exceed
    ``budget_s``.  Returns ``(median_seconds, samples)``.
    """
    for _ in range(warmup):
        fn()
    samples: list = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        if budget_s is not None and sum(samples) > budget_s:
            break
    return statistics.median(samples), samples


def alternate(a: Callable[[], Any], b: Callable[[], Any], pairs: int, warmup: int = 1) -> list:
    """Time ``a()`` and ``b()`` alternately in one process: ``[(seconds of a, seconds of b), ...]``.

    Both see the same machine load, so the ratio within each pair is steadier than
    a ratio of figures from separate processes.
    """
    def timed(fn: Callable[[], Any]) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    for _ in range(warmup):
        timed(a), timed(b)
    return [(timed(a), timed(b)) for _ in range(pairs)]


def seconds_left() -> float | None:
    """Seconds this process has left before the runner's timeout (None: no limit)."""
    limit = os.environ.get(TIMEOUT_ENV)
    if not limit:
        return None
    return float(limit) - (time.perf_counter() - _START)


def sig(x: Any, digits: int = 4) -> Any:
    """Round a float to ``digits`` significant digits for the JSON line."""
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)):
        return x
    x = float(x)
    if x == 0.0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


# ------------------------------------------------------------------ versions
_DISTS = ("wengert", "micrograd", "autograd", "mygrad", "torch", "jax", "tinygrad")


def lib_versions(lib: str) -> dict:
    """Versions of Python, NumPy and the library behind a bench name (``torch0d`` -> torch)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    names = ["numpy"] + [d for d in _DISTS if lib.startswith(d)]
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            mod = sys.modules.get(name)
            if mod is not None and hasattr(mod, "__version__"):
                out[name] = str(mod.__version__)
    return out


# ------------------------------------------------------------------ main
def main(workload: str, benches: dict, extra_args: list | None = None, argv: list | None = None) -> None:
    """Parse ``--lib NAME [--quick]``, run ``benches[NAME](args)`` and print one JSON line.

    ``benches`` maps lib name -> function(args) -> dict of figures.  The line
    holds ``workload``, ``lib``, ``status``, the figures, ``peak_rss_mb``,
    ``wall_s`` and ``versions``.  A missing peer or an exception becomes a
    status; the exit code is 0 either way.  Anything the library prints goes
    to stderr so that stdout stays one JSON line.
    """
    ap = argparse.ArgumentParser(description=workload)
    ap.add_argument("--lib", required=True, choices=list(benches))
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats (smoke test)")
    for flag, kwargs in extra_args or []:
        ap.add_argument(flag, **kwargs)
    args = ap.parse_args(argv)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    rec: dict = {"workload": workload, "lib": args.lib, "quick": bool(args.quick)}
    for flag, _ in extra_args or []:  # the extra arguments are part of the record (e.g. "n")
        key = flag.lstrip("-").replace("-", "_")
        rec[key] = getattr(args, key)
    t0 = time.perf_counter()
    try:
        figures = benches[args.lib](args)
        rec["status"] = "ok"
        rec.update(figures)
    except Missing as exc:
        rec["status"] = f"missing: {exc}"
    except ModuleNotFoundError as exc:
        rec["status"] = f"missing: {exc}"
    except Exception as exc:
        rec["status"] = f"crash: {type(exc).__name__}: {exc}"[:500]
        rec["traceback"] = traceback.format_exc()[-2000:]
    rec["wall_s"] = sig(time.perf_counter() - t0)
    rec["peak_rss_mb"] = sig(peak_rss_mb())
    rec["versions"] = lib_versions(args.lib)
    sys.stdout = real_stdout
    print(json.dumps(rec), flush=True)


# ------------------------------------------------------------------ tables
def fmt(x: Any, digits: int = 3) -> str:
    """A number for a table: ``digits`` significant digits, thousands separators; '–' for None."""
    if x is None:
        return "–"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int) or (float(x).is_integer() and abs(x) >= 10**digits):
        return f"{int(x):,}"
    if x == 0 or not math.isfinite(x):
        return str(x)
    s = f"{x:.{digits}g}"
    if "e" not in s and abs(x) >= 1000:
        s = f"{x:,.0f}"
    return s


def md_table(headers: list, rows: list) -> str:
    """A Markdown table from a header list and rows of cells (formatted with :func:`fmt`)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [c if isinstance(c, str) else fmt(c) for c in row]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)


def side_by_side(inter: dict | None, what: str, unit: str, med_key: str, min_key: str) -> str:
    """The table footer for an ``alternate()`` row: ``what`` = ``med_key`` over ``inter['pairs']`` ``unit``."""
    if inter is None or inter.get("status") != "ok":
        return ""
    return (f"\n\nSide by side in one process ({inter['pairs']} alternated {unit}): {what} = {inter[med_key]} "
            f"(median of the pair ratios; ratio of the fastest {unit} {inter[min_key]}).")


def ratio(a: Any, b: Any) -> float | None:
    """a / b, or None when either is missing or b is zero."""
    if a is None or b is None or not b:
        return None
    return a / b


__all__ = [
    "TIMEOUT_ENV",
    "Missing",
    "fmt",
    "lib_versions",
    "main",
    "md_table",
    "median",
    "need",
    "peak_rss_mb",
    "ratio",
    "seconds_left",
    "sig",
    "timeit",
]
