"""Graph drawings: the computation behind a tensor as Graphviz DOT, with values and gradients.

``wg.draw(y)`` returns a :class:`Drawing` whose ``.source`` is DOT text, in
the style of micrograd's pictures: one box per value (its name, value and
gradient) and one ellipse per op; constants appear as plain labels.  For a
scalar ``y`` every box shows its adjoint ``dy/dv`` (computed by the engine's
own reverse walk, without touching ``.grad``), and the boxes are shaded by
gradient magnitude.  ``.render("g.svg")`` (or ``.png``, ``.pdf``) runs the
Graphviz ``dot`` program, which must be installed separately.

>>> import wengert as wg
>>> x = wg.tensor(-2.0, requires_grad=True)
>>> y = wg.tensor(5.0, requires_grad=True)
>>> z = wg.tensor(-4.0, requires_grad=True)
>>> q = x + y
>>> f = q * z
>>> d = wg.draw(f)
>>> print(d.source.splitlines()[0])
digraph wengert {
>>> "q | value 3 | grad -4" in d.source
True
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from . import _format as F
from ._files import write_atomic
from ._graph import collect, grad_of, node_of

INSTALL_HINT = (
    "the Graphviz 'dot' program is needed to render drawings and was not found on PATH. Install it with "
    "'sudo apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS), "
    "'conda install graphviz' or from https://graphviz.org/download/ -- or use Drawing.source (DOT text) "
    "with any Graphviz viewer"
)

#: How long a notebook waits for ``dot`` to draw a picture before it shows none (seconds).
REPR_TIMEOUT = 10.0

#: Drawings refuse graphs with more value nodes than this unless ``max_nodes`` or ``collapse`` says otherwise.
MAX_NODES = 200

_OP_LABEL = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**", "negative": "neg",
             "matmul": "@"}

# light (small gradient) to dark (large gradient): the ends of ColorBrewer's YlOrRd
_LIGHT = (255, 255, 204)
_DARK = (189, 0, 38)
#: Gradient magnitudes are shaded on a log scale over at most this many decades below the largest.
DECADES = 12


class GraphvizNotFoundError(RuntimeError):
    """The ``dot`` program of Graphviz is not installed."""


class GraphTooLargeError(ValueError):
    """The graph has more nodes than a drawing allows."""


class Drawing:
    """A graph drawing: ``.source`` is the DOT text; :meth:`render` writes SVG/PNG/PDF with ``dot``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        edges = self.source.count(" -> ")
        if shutil.which("dot") is None:
            return (f"<Drawing: {edges} edges. No picture: Graphviz's 'dot' program is not installed; get it with "
                    "'apt-get install graphviz', 'brew install graphviz' or 'conda install graphviz', or paste "
                    ".source into any Graphviz viewer>")
        return f"<Drawing: {edges} edges; .source is DOT, .render('g.svg') draws it>"

    def render(self, path: str | os.PathLike, format: str | None = None, timeout: float = 60.0) -> str:
        """Write the drawing to ``path`` (format from the suffix: svg, png, pdf) with Graphviz ``dot``.

        Raises :class:`GraphvizNotFoundError`, with how to install Graphviz,
        when ``dot`` is not on the PATH.  Returns the path.
        """
        path = os.fspath(path)
        fmt = (format or os.path.splitext(path)[1].lstrip(".")).lower()
        if fmt not in ("svg", "png", "pdf", "dot", "gv"):
            raise ValueError(f"render: unknown format {fmt!r}; use a path ending in .svg, .png, .pdf or .dot")
        if fmt in ("dot", "gv"):
            return write_atomic(path, self.source)
        return write_atomic(path, self.pipe(fmt, timeout=timeout))

    def pipe(self, format: str = "svg", timeout: float = 60.0) -> bytes:
        """Run ``dot -T<format>`` on the source and return its output."""
        dot = shutil.which("dot")
        if dot is None:
            raise GraphvizNotFoundError(INSTALL_HINT)
        proc = subprocess.run([dot, f"-T{format}"], input=self.source.encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
        if proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip()
            raise RuntimeError(f"render: dot failed with status {proc.returncode}: {msg}")
        return proc.stdout

    def _repr_svg_(self) -> str | None:
        """Jupyter's picture: the SVG that ``dot`` draws, or None (the text repr shows) when it cannot.

        Never raises: a missing ``dot``, one that fails or one that takes
        longer than :data:`REPR_TIMEOUT` seconds gives None.  The SVG starts
        at ``<svg`` (no XML prolog or doctype, which HTML does not want).
        """
        if shutil.which("dot") is None:
            return None
        try:
            svg = self.pipe("svg", timeout=REPR_TIMEOUT).decode("utf-8", "replace")
        except (OSError, RuntimeError, subprocess.SubprocessError, GraphvizNotFoundError):
            return None
        start = svg.find("<svg")
        return svg[start:] if start >= 0 else None


def draw(
    y: Any,
    *,
    grads: str = "auto",
    color: bool = True,
    max_nodes: int = MAX_NODES,
    collapse: bool = False,
    precision: int = 4,
    rankdir: str = "LR",
    title: str | None = None,
) -> Drawing:
    """Graphviz DOT of the graph behind ``y`` (a Tensor, or a :class:`~wengert.teach.trace.Trace`).

    ``grads``: ``"auto"`` shows the adjoint ``dy/dv`` of every value when
    ``y`` is a scalar; ``"grad"`` shows the tensors' ``.grad`` attributes as
    they are (e.g. after ``backward()``); ``"none"`` shows values only.  A
    trace shows its own adjoints or tangents.  ``color`` shades the boxes by
    gradient magnitude (log scale).  Above ``max_nodes`` value nodes the
    drawing is refused with :class:`GraphTooLargeError`, unless
    ``collapse=True``: then the last ``max_nodes`` steps are drawn and the
    earlier ones are summarised in one box.  Values are shown to
    ``precision`` significant digits; tensors as values when small, else as
    shape and summary.  Variables are named after ``t.name``, or the
    caller's local variables, or ``v1, v2, ...``.

    The graph must not have been released: draw before ``backward()``, or
    call ``backward(retain_graph=True)``.
    """
    from .trace import Trace, _build, _tensor_names

    if grads not in ("auto", "grad", "none"):
        raise ValueError(f"draw: grads must be 'auto', 'grad' or 'none', got {grads!r}")
    if isinstance(y, Trace):
        tr = y
        n_values = len(tr.rows)
    elif isinstance(y, Tensor):
        nodes = collect(y)
        n_values = len(nodes)
        if n_values > max_nodes and not collapse:
            raise GraphTooLargeError(
                f"draw: the graph has {n_values} values, more than max_nodes={max_nodes}; pass "
                f"max_nodes={n_values} to draw it all (dot may take long), or collapse=True to draw the last "
                f"{max_nodes} steps with the earlier ones summarised"
            )
        frame = sys._getframe(1)
        local = dict(frame.f_locals)
        del frame
        names = _tensor_names(local)
        leaves = [n.tensor for n in nodes if n.is_leaf]
        leaf_names = [t.name or names.get(node_of(t).key) or f"x{i}" for i, t in enumerate(leaves)]
        mode = "reverse" if grads == "auto" and y.shape == () and y.requires_grad else "values"
        tr = _build(y, leaves, _dedupe(leaf_names), local, mode, None, precision, None, out_name=None,
                    with_partials=False)
    else:
        raise TypeError(f"draw: expected a Tensor or a Trace, got {type(y).__name__}")
    if n_values > max_nodes and not collapse:
        raise GraphTooLargeError(
            f"draw: the graph has {n_values} values, more than max_nodes={max_nodes}; pass max_nodes={n_values} "
            f"or collapse=True"
        )
    return Drawing(_dot(tr, grads, color, max_nodes, precision, rankdir, title))


def _dedupe(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        while n in out:
            n += "'"
        out.append(n)
    return out


def _esc(s: str) -> str:
    """Escape text for a Graphviz record label."""
    for c in "\\{}|<>\"":
        s = s.replace(c, "\\" + c)
    return s.replace("\n", " ")


def _shade(mag: float, lo: float, top: float, log_scale: bool) -> tuple[str, str]:
    """Fill and font colour for a gradient magnitude: light for small, dark red for the largest."""
    if not (mag > 0.0) or not math.isfinite(mag) or top <= 0.0:
        return "#ffffff", "black"
    if log_scale:
        t = (math.log10(max(mag, lo)) - math.log10(lo)) / (math.log10(top) - math.log10(lo))
    else:
        t = mag / top
    t = min(1.0, max(0.0, t))
    rgb = [round(a + (b - a) * t) for a, b in zip(_LIGHT, _DARK)]
    return "#" + "".join(f"{c:02x}" for c in rgb), ("white" if t > 0.6 else "black")


def _scale(mags: list[float]) -> tuple[float, float, bool]:
    """The shading range: a log scale over the magnitudes seen (at most DECADES), linear if they span < 10x."""
    pos = [m for m in mags if m > 0.0 and math.isfinite(m)]
    if not pos:
        return 0.0, 0.0, False
    top = max(pos)
    lo = max(min(pos), top / 10.0**DECADES)
    return lo, top, top / lo >= 10.0


def _dot(tr: Any, grads: str, color: bool, max_nodes: int, precision: int, rankdir: str, title: str | None) -> str:
    rows = tr.rows
    dropped = rows[: max(0, len(rows) - max_nodes)]
    kept = rows[len(dropped):]
    kept_names = {r.name for r in kept}
    p = precision

    def deriv(r: Any) -> Any:
        if tr.mode == "forward":
            return r.tangent
        if tr.mode in ("reverse", "both"):
            return r.adjoint
        if grads == "grad" and tr._nodes:
            return grad_of(tr._nodes[r.index])
        return None

    label_d = {"forward": f"d/d{tr.wrt}", "reverse": "grad"}.get(tr.mode, "grad")
    mags = {r.name: F.norm(deriv(r)) for r in kept if deriv(r) is not None}
    lo, top, log_scale = _scale(list(mags.values()))
    lines = ["digraph wengert {", f"  rankdir={rankdir if rankdir in ('LR', 'TB', 'RL', 'BT') else 'LR'};",
             '  node [fontname="Helvetica", fontsize=11];']
    if title:
        lines.append(f'  label="{_esc(title)}"; labelloc=t;')
    if dropped:
        lines.append(f'  earlier [shape=box, style=dashed, label="{len(dropped)} earlier values\\n(collapsed)"];')
    for r in kept:
        fields = [r.name, "value " + F.value(r.value, p)]
        if tr.mode == "both" and r.tangent is not None:
            fields.append(f"d/d{tr.wrt} " + F.value(r.tangent, p))
        d = deriv(r)
        if d is not None:
            fields.append(f"{label_d} " + F.value(d, p))
        style = ""
        if color and r.name in mags:
            fill, font = _shade(mags[r.name], lo, top, log_scale)
            style = f', style=filled, fillcolor="{fill}", fontcolor="{font}"'
        shape_note = "" if np.ndim(r.value) == 0 else f" ({F.shape(np.shape(r.value))})"
        fields[0] += shape_note
        lines.append(f'  n{r.index} [shape=record, label="{{ {" | ".join(_esc(s) for s in fields)} }}"{style}];')
        if r.kind != "op":
            continue
        op = _OP_LABEL.get(r.op or "", r.op or "?")
        lines.append(f'  op{r.index} [shape=ellipse, label="{_esc(op)}"];')
        lines.append(f"  op{r.index} -> n{r.index};")
        for k, a in enumerate(r.args):
            if a.name is None:
                lines.append(f'  c{r.index}_{k} [shape=plaintext, label="{_esc(F.value(a.value, p))}"];')
                lines.append(f"  c{r.index}_{k} -> op{r.index};")
            elif a.name in kept_names:
                lines.append(f"  n{tr[a.name].index} -> op{r.index};")
            else:
                lines.append(f"  earlier -> op{r.index};")
    if color and top > 0.0:
        scale = f"log scale from {F.number(lo, 2)}" if log_scale else "linear scale from 0"
        lines.append(f'  legend [shape=plaintext, fontsize=9, label="shading: |{label_d}|, {scale} (light) '
                     f'to {F.number(top, 3)} (dark red); white = 0"];')
    lines.append("}")
    # several edges from one constant box are fine; drop exact duplicate edges from collapsed inputs
    seen: set[str] = set()
    out = []
    for line in lines:
        if " -> " in line and line in seen:
            continue
        seen.add(line)
        out.append(line)
    return "\n".join(out) + "\n"


__all__ = ["INSTALL_HINT", "MAX_NODES", "Drawing", "GraphTooLargeError", "GraphvizNotFoundError", "draw"]
