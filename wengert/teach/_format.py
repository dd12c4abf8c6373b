"""Formatting numbers, tensors and names for the trace tables and drawings (text, LaTeX, HTML)."""
from __future__ import annotations

import html
import math
import re
from typing import Any

import numpy as np

#: Tensors with at most this many elements are printed in full; larger ones as a shape and a summary.
MAX_ELEMENTS = 8

GREEK = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"]
_NAME = re.compile(r"^([A-Za-z]+)_?(\d+)$")


def number(x: float, precision: int) -> str:
    """A number to ``precision`` significant digits: ``3``, ``-0.000370184``, ``1.2341e-04``."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0.0:
        return "0"  # never "-0"
    return f"{x:.{precision}g}"


def value(v: Any, precision: int, max_elements: int = MAX_ELEMENTS) -> str:
    """A scalar as a number; a small tensor as its values; a large one as shape and summary."""
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        return number(v, precision)
    a = np.asarray(v)
    if a.ndim == 0:
        return number(a.item(), precision) if a.dtype.kind in "biuf" else str(a.item())
    if a.dtype.kind not in "biuf":
        return f"<{a.dtype} array {shape(a.shape)}>"
    if a.size <= max_elements:
        return _nested(a, precision)
    af = a.astype(np.float64)
    return (f"{tuple(a.shape)} mean {number(af.mean(), precision)}, "
            f"min {number(af.min(), precision)}, max {number(af.max(), precision)}")


def _nested(a: np.ndarray, precision: int) -> str:
    if a.ndim == 1:
        return "[" + ", ".join(number(x, precision) for x in a.tolist()) + "]"
    return "[" + ", ".join(_nested(sub, precision) for sub in a) + "]"


def shape(s: tuple) -> str:
    """``(3, 4)`` as ``3x4``."""
    return "x".join(str(d) for d in s) if s else "scalar"


def norm(v: Any) -> float:
    """The L2 norm of a value (the absolute value of a scalar)."""
    if v is None:
        return 0.0
    a = np.asarray(v, dtype=np.float64)
    return float(np.sqrt(np.sum(a * a))) if a.ndim else abs(float(a))


# ---------------------------------------------------------------- LaTeX
def latex_number(x: float, precision: int) -> str:
    """A number in LaTeX: ``1.2341e-04`` becomes ``1.2341 \\times 10^{-4}``."""
    s = number(x, precision)
    if s in ("nan", "inf", "-inf"):
        return {"nan": r"\mathrm{NaN}", "inf": r"\infty", "-inf": r"-\infty"}[s]
    if "e" in s:
        mant, exp = s.split("e")
        return f"{mant} \\times 10^{{{int(exp)}}}"
    return s


def latex_value(v: Any, precision: int, max_elements: int = MAX_ELEMENTS) -> str:
    """A value in LaTeX math mode (without the dollars)."""
    if v is None:
        return ""
    a = np.asarray(v)
    if a.ndim == 0 and a.dtype.kind in "biuf":
        return latex_number(a.item(), precision)
    if a.dtype.kind in "biuf" and a.size <= max_elements:
        return _latex_nested(a, precision)
    return r"\text{" + latex_text(value(v, precision, max_elements)) + "}"


def _latex_nested(a: np.ndarray, precision: int) -> str:
    if a.ndim == 1:
        return "[" + ", ".join(latex_number(x, precision) for x in a.tolist()) + "]"
    return "[" + ", ".join(_latex_nested(sub, precision) for sub in a) + "]"


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_text(s: str) -> str:
    """Escape plain text for LaTeX."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in s)


def _split_name(name: str) -> tuple[str, str | None]:
    """``xi1`` -> ``("xi", "1")``, ``x_0`` -> ``("x", "0")``, ``W`` -> ``("W", None)``."""
    m = _NAME.match(name)
    return (m.group(1), m.group(2)) if m else (name, None)


def latex_name(name: str) -> str:
    """A variable name in LaTeX math: ``xi1`` -> ``\\xi_{1}``, ``v3`` -> ``v_{3}``, ``W`` -> ``W``."""
    base, sub = _split_name(name)
    return _latex_base(base) + ("" if sub is None else f"_{{{sub}}}")


def _latex_base(base: str) -> str:
    if base in GREEK:
        return "\\" + base
    if len(base) == 1 and base.isalpha():
        return base
    return r"\mathrm{" + latex_text(base) + "}"


# ---------------------------------------------------------------- HTML
def html_name(name: str) -> str:
    """A variable name in HTML: ``xi1`` -> ``&xi;<sub>1</sub>``."""
    base, sub = _split_name(name)
    return _html_base(base) + ("" if sub is None else f"<sub>{sub}</sub>")


def _html_base(base: str) -> str:
    if base in GREEK:
        return f"&{base};"
    return f"<i>{html.escape(base)}</i>" if len(base) == 1 else html.escape(base)


__all__ = [
    "GREEK",
    "MAX_ELEMENTS",
    "html_name",
    "latex_name",
    "latex_number",
    "latex_text",
    "latex_value",
    "norm",
    "number",
    "shape",
    "value",
]
