"""Trace tables: the Wengert list of a computation, one row per elementary step.

``wg.trace(f, *inputs)`` runs ``f`` on fresh leaf tensors, reads the graph it
recorded and returns a :class:`Trace`: for every variable ``v_i`` its
expression ``v_i = op(v_j, v_k)``, its forward value, its local partial
derivatives ``d v_i / d v_j`` and, in reverse mode, its adjoint
``dL/dv_i`` (computed by the engine's own backward walk) or, in forward mode,
its tangent ``dv_i/dx`` for one chosen input (computed by the engine's own
forward mode).  The same trace prints as plain text, Markdown, LaTeX and
HTML, and its rows are plain data.

The circuit of seed 001, ``f = (x + y) z`` at ``(-2, 5, -4)``:

>>> import wengert as wg
>>> def f(x, y, z):
...     q = x + y
...     return q * z
>>> print(wg.trace(f, -2.0, 5.0, -4.0))
#  v  expression  value  local partials         df/dv
0  x  input       -2                            -4
1  y  input       5                             -4
2  z  input       -4                            3
3  q  x + y       3      dq/dx = 1; dq/dy = 1   -4
4  f  q * z       -12    df/dq = -4; df/dz = 3  1

Intermediate variables take the names of ``f``'s local variables (here
``q``); the output takes ``f``'s name.  Forward mode follows one input:

>>> print(wg.trace(f, -2.0, 5.0, -4.0, mode="forward", wrt="x").to_text())
#  v  expression  value  local partials  dv/dx
0  x  input       -2                     1
1  y  constant    5                      0
2  z  constant    -4                     0
3  q  x + y       3      dq/dx = 1       1
4  f  q * z       -12    df/dq = -4      -4
"""
from __future__ import annotations

import html as _html
import inspect
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.graph import Constant
from ..core.interpret import Dynamic
from ..core.state import enable_grad, state
from ..core.tensor import Tensor, in_graph, value_of
from . import _format as F
from ._graph import Node, adjoints, collect, local_partials, node_of, tangents

MODES = ("reverse", "forward", "both")


# ====================================================================== rows
@dataclass(frozen=True)
class Arg:
    """One argument of a step as the table shows it: a variable (by name) or a constant (by value)."""

    name: str | None
    value: Any


@dataclass(frozen=True)
class Partial:
    """A local partial derivative ``d v / d wrt`` of one step.

    ``kind`` is ``"elementwise"`` (``value`` holds d v / d wrt element by
    element, broadcasting as the op does), ``"jacobian"`` (``value`` is the
    full Jacobian, of shape ``v.shape + wrt.shape``) or ``"none"`` (too large
    to show: ``value`` is ``None``; the adjoint column is still exact).
    """

    wrt: str
    value: Any
    kind: str


@dataclass(frozen=True)
class Row:
    """One line of the Wengert list: ``name = op(args)``, its value and derivatives.

    ``kind`` is ``"input"`` (a differentiated input or other leaf),
    ``"constant"`` (an input that is not differentiated) or ``"op"``.
    ``adjoint`` is ``dL/dv`` (reverse mode, ``None`` for constants) and
    ``tangent`` is ``dv/dx`` (forward mode); the other one is ``None``, except
    in ``mode="both"``, where a row has both.
    """

    index: int
    name: str
    kind: str
    op: str | None
    args: tuple[Arg, ...]
    params: dict
    value: Any
    partials: tuple[Partial, ...]
    adjoint: Any = None
    tangent: Any = None

    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    def expression(self, fmt: str = "text", precision: int = 6) -> str:
        """The right-hand side, e.g. ``x + y`` (``fmt`` is ``"text"``, ``"latex"`` or ``"html"``)."""
        return _expression(self, fmt, precision)


# ====================================================================== the trace
@dataclass
class Trace:
    """The evaluation trace (Wengert list) of one computation, with its derivatives.

    ``rows`` are plain :class:`Row` objects.  Print the table with ``str()``
    or :meth:`to_text`; :meth:`to_markdown`, :meth:`to_latex` (a
    ``tabular``) and :meth:`to_html` give the other formats.  ``precision``
    is the number of significant digits printed (the rows keep full values).
    :meth:`to_html` with ``interactive=True`` (or :meth:`save_html`) gives a
    page that steps through the forward and backward passes; Jupyter shows
    that page's stepper inline.
    """

    rows: list[Row]
    output: Tensor
    mode: str
    wrt: str | None = None
    precision: int = 6
    max_elements: int = F.MAX_ELEMENTS
    _nodes: list = field(default_factory=list, repr=False)  # the nodes behind the rows, in order
    _by_name: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {r.name: r for r in self.rows}

    # -------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __getitem__(self, key: int | str) -> Row:
        """A row by position or by variable name."""
        if isinstance(key, str):
            try:
                return self._by_name[key]
            except KeyError:
                raise KeyError(f"no variable {key!r} in this trace; variables: {', '.join(self._by_name)}") from None
        return self.rows[key]

    @property
    def output_name(self) -> str:
        return self.rows[-1].name

    @property
    def value(self) -> Any:
        """The value of the output."""
        return self.rows[-1].value

    @property
    def gradient(self) -> dict[str, Any]:
        """Reverse mode (and "both"): ``{input name: d output / d input}``; forward mode: ``{output name: d output / d wrt}``."""
        if self.mode == "forward":
            return {self.output_name: self.rows[-1].tangent}
        return {r.name: r.adjoint for r in self.rows if r.kind == "input"}

    def draw(self, **kwargs: Any) -> Any:
        """Draw the graph of this trace, with every value and adjoint/tangent (see :func:`wengert.draw`)."""
        from .draw import draw

        return draw(self, **kwargs)

    # -------------------------------------------------------------- formats
    @property
    def columns(self) -> tuple[str, ...]:
        """The derivative columns, in order: ``("tangent",)``, ``("adjoint",)`` or both (``mode="both"``)."""
        return {"forward": ("tangent",), "reverse": ("adjoint",), "both": ("tangent", "adjoint")}.get(
            self.mode, ("adjoint",))

    def _header(self, fmt: str) -> list[str]:
        out = self.output_name
        wrt = self.wrt or "x"
        heads = []
        for col in self.columns:
            if fmt == "latex":
                heads.append(rf"$\partial v_i / \partial {F.latex_name(wrt)}$" if col == "tangent"
                             else rf"$\partial {F.latex_name(out)} / \partial v_i$")
            elif fmt == "html":
                heads.append(f"&part;v<sub>i</sub>/&part;{F.html_name(wrt)}" if col == "tangent"
                             else f"&part;{F.html_name(out)}/&part;v<sub>i</sub>")
            else:
                heads.append(f"dv/d{wrt}" if col == "tangent" else f"d{out}/dv")
        first = {"latex": ["", r"$v_i$"], "html": ["#", "v<sub>i</sub>"]}.get(fmt, ["#", "v"])
        return first + ["expression", "value", "local partials"] + heads

    def _cells(self, row: Row, fmt: str, precision: int) -> list[str]:
        p, m = precision, self.max_elements
        derivs = [row.tangent if col == "tangent" else row.adjoint for col in self.columns]
        if fmt == "latex":
            val = "$" + F.latex_value(row.value, p, m) + "$"
            ds = ["" if d is None else "$" + F.latex_value(d, p, m) + "$" for d in derivs]
            expr = row.expression("latex", p)
            expr = expr if row.kind != "op" else "$" + expr + "$"
            parts = ", ".join(
                rf"$\frac{{\partial {F.latex_name(row.name)}}}{{\partial {F.latex_name(q.wrt)}}} = "
                + _partial_value(q, "latex", p, m) + "$"
                for q in row.partials
            )
            return [str(row.index), "$" + F.latex_name(row.name) + "$", expr, val, parts, *ds]
        if fmt == "html":
            val = _html.escape(F.value(row.value, p, m))
            ds = ["" if d is None else _html.escape(F.value(d, p, m)) for d in derivs]
            parts = "; ".join(
                f"&part;{F.html_name(row.name)}/&part;{F.html_name(q.wrt)} = " + _partial_value(q, "html", p, m)
                for q in row.partials
            )
            return [str(row.index), F.html_name(row.name), row.expression("html", p), val, parts, *ds]
        val = F.value(row.value, p, m)
        ds = ["" if d is None else F.value(d, p, m) for d in derivs]
        parts = "; ".join(f"d{row.name}/d{q.wrt} = " + _partial_value(q, "text", p, m) for q in row.partials)
        return [str(row.index), row.name, row.expression("text", p), val, parts, *ds]

    def to_text(self, precision: int | None = None, max_rows: int = 200) -> str:
        """The table as aligned plain text (for the terminal).

        Above ``max_rows`` rows, the middle of the list is elided.
        """
        p = self.precision if precision is None else precision
        body = [self._cells(r, "text", p) for r in _elide(self.rows, max_rows)]
        head = self._header("text")
        table = [head] + [b if b is not None else ["..."] + [""] * (len(head) - 1) for b in body]
        widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
        lines = []
        for line in table:
            cells = [c.ljust(w) for c, w in zip(line, widths)]
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)

    def to_markdown(self, precision: int | None = None, max_rows: int = 200) -> str:
        """The table in Markdown (expressions and partials as code spans)."""
        p = self.precision if precision is None else precision

        def esc(s: str) -> str:
            return s.replace("|", "\\|")

        head = self._header("text")
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---:"] + ["---"] * (len(head) - 1)) + "|"]
        for r in _elide(self.rows, max_rows):
            if r is None:
                lines.append("| ... |" + " |" * (len(head) - 1))
                continue
            c = self._cells(r, "text", p)
            c[2] = f"`{c[2]}`" if r.kind == "op" else c[2]
            c[4] = "; ".join(f"`{s}`" for s in c[4].split("; ")) if c[4] else ""
            lines.append("| " + " | ".join(esc(x) for x in c) + " |")
        return "\n".join(lines)

    def to_latex(self, precision: int | None = None, max_rows: int = 200) -> str:
        """The table as a LaTeX ``tabular`` (ready to paste into lecture notes; needs no package)."""
        p = self.precision if precision is None else precision
        head = self._header("latex")
        lines = [r"\begin{tabular}{r" + "l" * (len(head) - 1) + "}", r"\hline", " & ".join(head) + r" \\", r"\hline"]
        for r in _elide(self.rows, max_rows):
            if r is None:
                lines.append(rf"\multicolumn{{{len(head)}}}{{c}}{{$\vdots$}} \\")
                continue
            lines.append(" & ".join(self._cells(r, "latex", p)) + r" \\")
        lines += [r"\hline", r"\end{tabular}"]
        return "\n".join(lines)

    def to_html(self, precision: int | None = None, max_rows: int = 200, interactive: bool = False,
                title: str | None = None) -> str:
        """The table as an HTML ``<table class="wengert-trace">``; with ``interactive=True``, a whole page.

        The interactive page is one self-contained HTML document (styles and
        script inline, no network: it works from ``file://``) with the graph
        drawing and the Wengert list, and buttons (and the arrow keys) that
        step through the forward pass (values appear node by node) and then
        the backward pass (each adjoint appears as local partial times
        incoming adjoint, summed where a value fans out).  See
        :mod:`wengert.teach.page`.
        """
        p = self.precision if precision is None else precision
        if interactive:
            from .page import page

            return page(self, precision=p, title=title, max_rows=max_rows)
        head = self._header("html")
        cells = "".join(f"<th>{h}</th>" for h in head)
        body = []
        for r in _elide(self.rows, max_rows):
            if r is None:
                body.append(f'<tr><td colspan="{len(head)}">&hellip;</td></tr>')
                continue
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in self._cells(r, "html", p)) + "</tr>")
        return ('<table class="wengert-trace">\n<thead><tr>' + cells + "</tr></thead>\n<tbody>\n"
                + "\n".join(body) + "\n</tbody>\n</table>")

    def save_html(self, path: str | os.PathLike, precision: int | None = None, title: str | None = None) -> str:
        """Write the interactive page (``to_html(interactive=True)``) to ``path``, atomically; returns the path."""
        from ._files import write_atomic

        return write_atomic(path, self.to_html(precision=precision, interactive=True, title=title))

    def _repr_html_(self) -> str:
        # Jupyter: the stepper, inline (its controls and keys act on this output only)
        from .page import widget

        return widget(self)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"<Trace of {self.output_name} ({self.mode} mode): {len(self.rows)} rows>"


def _elide(rows: Sequence[Row], max_rows: int) -> list:
    if len(rows) <= max_rows:
        return list(rows)
    head = max_rows // 2
    return list(rows[:head]) + [None] + list(rows[len(rows) - (max_rows - head):])


def _partial_value(q: Partial, fmt: str, p: int, m: int) -> str:
    if q.kind == "none":
        return "(Jacobian too large to show)" if fmt != "latex" else r"\text{(Jacobian too large to show)}"
    if fmt == "latex":
        return F.latex_value(q.value, p, m)
    s = F.value(q.value, p, m)
    return _html.escape(s) if fmt == "html" else s


# ====================================================================== expressions
_INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**", "matmul": "@"}
_LATEX_INFIX = {"add": "+", "subtract": "-", "multiply": r"\cdot", "matmul": ""}
_HTML_INFIX = {"add": "+", "subtract": "&minus;", "multiply": "&middot;", "divide": "/", "matmul": "@"}
_LATEX_FUN = {"exp": r"\exp", "log": r"\log", "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "tanh": r"\tanh",
              "sinh": r"\sinh", "cosh": r"\cosh", "arctan": r"\arctan", "sigmoid": r"\sigma"}


def _arg(a: Arg, fmt: str, p: int, first: bool) -> str:
    if a.name is not None:
        return {"latex": F.latex_name, "html": F.html_name}.get(fmt, str)(a.name)
    if fmt == "latex":
        s = F.latex_value(a.value, p)
    else:
        s = F.value(a.value, p)
        s = _html.escape(s) if fmt == "html" else s
    negative = s.startswith("-")
    return f"({s})" if negative and not first else s


def _param_text(params: dict, p: int) -> str:
    shown = []
    for k, v in params.items():
        if v is None or v is False:  # the defaults (axis=None, keepdims=False) say nothing
            continue
        if isinstance(v, (bool, int, float, str, type(None))) or (
            isinstance(v, tuple) and all(isinstance(e, (int, type(None))) for e in v)
        ):
            shown.append(f"{k}={v!r}" if not isinstance(v, float) else f"{k}={F.number(v, p)}")
        elif isinstance(v, np.ndarray):
            shown.append(f"{k}={F.value(v, p)}")
        elif k == "index":
            shown.append("index=...")
    return ", ".join(shown)


def _index_text(index: Any) -> str:
    """``(slice(0, 2), 1)`` as ``0:2, 1``; arrays as their values (or shape)."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for i in parts:
        if isinstance(i, slice):
            s = ("" if i.start is None else str(i.start)) + ":" + ("" if i.stop is None else str(i.stop))
            out.append(s + (f":{i.step}" if i.step is not None else ""))
        elif i is None:
            out.append("None")
        elif i is Ellipsis:
            out.append("...")
        elif isinstance(i, (int, np.integer)):
            out.append(str(int(i)))
        else:
            a = np.asarray(i)
            out.append(F.value(a, 6) if a.size <= F.MAX_ELEMENTS else f"<index {tuple(a.shape)}>")
    return ", ".join(out)


def _expression(row: Row, fmt: str, p: int) -> str:
    if row.kind != "op":
        return {"input": "input", "constant": "constant"}[row.kind]
    op = row.op or "?"
    args = [_arg(a, fmt, p, i == 0) for i, a in enumerate(row.args)]
    if op == "getitem" and len(args) == 1 and "index" in row.params:
        idx = _index_text(row.params["index"])
        if fmt == "latex":
            return f"{args[0]}[{F.latex_text(idx)}]"
        return f"{args[0]}[{_html.escape(idx) if fmt == 'html' else idx}]"
    if op in _INFIX and len(args) == 2:
        a, b = args
        if fmt == "latex":
            if op == "divide":
                return rf"\frac{{{a}}}{{{b}}}"
            if op == "power":
                return f"{{{a}}}^{{{b}}}"
            return f"{a} {_LATEX_INFIX[op]} {b}".replace("  ", " ")
        if fmt == "html":
            if op == "power":
                return f"{a}<sup>{b}</sup>"
            return f"{a} {_HTML_INFIX[op]} {b}"
        return f"{a} {_INFIX[op]} {b}"
    if op == "negative" and len(args) == 1:
        return ("&minus;" if fmt == "html" else "-") + args[0]
    extra = _param_text(row.params, p)
    if fmt == "latex":
        inner = ", ".join(args) + (r", \text{" + F.latex_text(extra) + "}" if extra else "")
        if op == "sqrt":
            return rf"\sqrt{{{inner}}}"
        if op == "abs":
            return rf"\left|{inner}\right|"
        fun = _LATEX_FUN.get(op, r"\mathrm{" + F.latex_text(op) + "}")
        return rf"{fun}\left({inner}\right)"
    inner = ", ".join(args) + ((", " + (_html.escape(extra) if fmt == "html" else extra)) if extra else "")
    return f"{_html.escape(op) if fmt == 'html' else op}({inner})"


# ====================================================================== building a trace
def _signature_names(f: Callable, n: int) -> list[str]:
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i in range(n):
        if i < len(params) and params[i].kind in (params[i].POSITIONAL_ONLY, params[i].POSITIONAL_OR_KEYWORD):
            names.append(params[i].name)
        elif params and params[-1].kind == params[-1].VAR_POSITIONAL:
            names.append(f"{params[-1].name}{i - len(params) + 1}")
        else:
            names.append(f"x{i}")
    return names


class _FrameCapture(Dynamic):
    """While ``f`` runs, find ``f``'s own frame (any op inside ``f`` has it on the stack).

    A frame object kept past its return still holds the function's final
    local variables, which name the intermediates of the table.
    """

    __slots__ = ("code", "frame")

    def __init__(self, code: Any) -> None:
        self.code = code
        self.frame: Any = None

    def seen(self, rule: Any, out: Any) -> None:
        if self.frame is not None:
            return
        fr = sys._getframe(1)
        outer = None
        while fr is not None:  # the outermost call of a recursive f
            if fr.f_code is self.code:
                outer = fr
            fr = fr.f_back
        self.frame = outer


def _call_keeping_locals(f: Callable, args: Sequence[Any]) -> tuple[Any, dict]:
    """Call ``f`` and read its local variables as it returned (to name the intermediates)."""
    code = getattr(f, "__code__", None)
    if code is None:
        return f(*args), {}
    capture = _FrameCapture(code)
    with capture:
        out = f(*args)
    local = dict(capture.frame.f_locals) if capture.frame is not None else {}
    capture.frame = None
    return out, local


def _tensor_names(namespace: dict) -> dict:
    """``{node key: variable name}`` for the tensors bound to (non-underscore) names.

    The parameters of a module bound to a name are named by their paths,
    e.g. ``net.0.weight``.
    """
    names: dict = {}
    for k, v in namespace.items():
        if k.startswith("_"):
            continue
        if isinstance(v, Tensor):
            names.setdefault(node_of(v).key, k)
        elif not isinstance(v, type) and _is_module(v):
            for pname, p in v.named_parameters():
                if isinstance(p, Tensor):
                    names.setdefault(node_of(p).key, f"{k}.{pname}")
    return names


def _is_module(v: Any) -> bool:
    """A wengert (or PyTorch-like) module: it has named_parameters() (looked up on the type, not the instance)."""
    return callable(getattr(type(v), "named_parameters", None))


def _as_float_leaf(v: Any) -> Tensor:
    t = Tensor(value_of(v))
    if t.dtype.kind not in "fc":  # (complex inputs stay complex)
        t = Tensor(t.data.astype(np.float64))
    return t


def trace(
    f: Callable | None = None,
    *inputs: Any,
    mode: str = "reverse",
    wrt: Any = None,
    names: Sequence[str] | None = None,
    precision: int = 6,
    cotangent: Any = None,
    tangent: Any = None,
    **numpy_args: Any,
) -> Trace | Tracer:
    """The Wengert list of ``f(*inputs)`` with values, local partials and adjoints (or tangents).

    ``inputs`` are numbers, arrays or tensors (copied into fresh leaves).
    ``mode="reverse"`` (default) gives the adjoint ``d out / d v`` of every
    variable, for a scalar output (pass ``cotangent=`` otherwise);
    ``mode="forward"`` gives the tangent ``d v / d x`` for the one input
    ``wrt`` (a name, a position or the input object; default the first), in
    the direction ``tangent`` (default all ones).  In reverse mode ``wrt``
    may list the inputs to differentiate (default all); inputs left out are
    constants.  ``mode="both"`` gives both columns side by side: the
    tangent for ``wrt`` and the adjoint of every input (all inputs are
    differentiated).  ``names`` names the inputs (default: ``f``'s parameter
    names); intermediates are named after ``f``'s local variables, or
    ``v1, v2, ...``.  ``precision`` is the number of significant digits shown.

    Called without ``f``, returns a context manager (:class:`Tracer`) that
    traces the code in its block.  Called with an array instead of a
    function, ``wg.trace(A, offset=0, axis1=0, axis2=1, dtype=None)`` keeps
    NumPy's meaning (the sum of a diagonal, as ``np.trace``, differentiable),
    so the two uses of the name do not clash.

    >>> import wengert as wg
    >>> t = wg.trace(lambda x: wg.exp(-x), 0.0)
    >>> t.gradient
    {'x': -1.0}
    >>> t.rows[-1].partials
    (Partial(wrt='v1', value=1.0, kind='elementwise'),)
    >>> wg.teach.trace([[1.0, 2.0], [3.0, 4.0]])      # a matrix: the sum of its diagonal
    tensor(5.)
    >>> wg.trace([[1.0, 2.0], [3.0, 4.0]], offset=1)  # as np.trace
    tensor(2.)
    """
    if mode not in MODES:
        raise ValueError(f"trace: mode must be 'reverse', 'forward' or 'both', got {mode!r}")
    if not isinstance(precision, int) or not 1 <= precision <= 17:
        raise ValueError(f"trace: precision must be an int between 1 and 17, got {precision!r}")
    if f is None:
        return Tracer(mode=mode, wrt=wrt, precision=precision, cotangent=cotangent, tangent=tangent)
    if not callable(f) and isinstance(f, (Tensor, np.ndarray, list, tuple)):
        # ``wg.trace(matrix)`` keeps NumPy's meaning: the sum of a diagonal (wengert.ops.api.trace)
        from ..ops.api import trace as matrix_trace

        if np.ndim(value_of(f)) < 2:
            raise ValueError(
                f"trace: wg.trace(A) of an array is the matrix trace (the sum of a diagonal, as np.trace), which "
                f"needs at least 2 axes, got shape {np.shape(value_of(f))}; for the trace "
                "table (the Wengert list) of a function, call wg.trace(f, *inputs)")
        return matrix_trace(f, *inputs, **numpy_args)
    if numpy_args:
        raise TypeError(f"trace: unexpected keyword argument(s) {', '.join(sorted(numpy_args))} for the trace table "
                        "of a function (offset, axis1, axis2 and dtype are for wg.trace(A) of an array)")
    if not callable(f):
        raise TypeError(f"trace: the first argument must be a function (or nothing, for the 'with' form), got {type(f).__name__}")
    if not inputs:
        raise ValueError("trace: give the inputs to evaluate f at, e.g. wg.trace(f, -2.0, 5.0)")

    names = input_names(f, inputs, names)
    chosen = _resolve_wrt(wrt, inputs, names, mode)
    run = run_recorded(f, inputs, names, chosen if mode != "both" else range(len(inputs)))
    seed = None
    if mode in ("forward", "both"):
        x = run.leaves[chosen[0]]
        seed = (x, _tangent_like(x, tangent))
    return _build(run.out, run.leaves, names, run.local, mode,
                  wrt_name=names[chosen[0]] if mode in ("forward", "both") else None,
                  precision=precision, cotangent=cotangent, out_name=run.out_name, seed=seed)


def input_names(f: Callable, inputs: Sequence[Any], names: Sequence[str] | None, who: str = "trace") -> list[str]:
    """The inputs' names: ``names`` if given, else a tensor's ``.name`` or ``f``'s parameter names."""
    if names is None:
        names = [getattr(v, "name", None) or s for v, s in zip(inputs, _signature_names(f, len(inputs)))]
    names = list(names)
    if len(names) != len(inputs) or len(set(names)) != len(names):
        raise ValueError(f"{who}: names must give one distinct name per input, got {names} for {len(inputs)} inputs")
    return names


@dataclass
class Run:
    """``f`` run once on fresh leaves: its output, the leaves, ``f``'s local variables and the output's name."""

    out: Tensor
    leaves: list
    names: list
    local: dict
    out_name: str | None


def run_recorded(f: Callable, inputs: Sequence[Any], names: Sequence[str], differentiated: Any = None,
                 sites: bool = False, who: str = "trace") -> Run:
    """Run ``f`` on fresh float leaves (those at positions ``differentiated`` require grad; default all).

    With ``sites=True`` every recorded op keeps the line of user code that
    made it (``Node.site``).  ``f``'s local variables are kept to name the
    intermediates.
    """
    from ..core.interpret import Sites

    if not callable(f):
        raise TypeError(f"{who}: the first argument must be a function, got {type(f).__name__}")
    if not inputs:
        raise ValueError(f"{who}: give the inputs to evaluate f at, e.g. {who}(f, -2.0, 5.0)")
    leaves = [_as_float_leaf(v) for v in inputs]
    chosen = set(range(len(leaves)) if differentiated is None else differentiated)
    for i, leaf in enumerate(leaves):
        if i in chosen:
            leaf.requires_grad_(True)
    with enable_grad():
        if sites:
            with Sites():
                out, local = _call_keeping_locals(f, leaves)
        else:
            out, local = _call_keeping_locals(f, leaves)
    if not isinstance(out, Tensor):
        raise TypeError(f"{who}: f must return one Tensor, got {type(out).__name__}")
    fname = getattr(f, "__name__", "")
    out_name = fname if fname.isidentifier() and fname not in names else None
    return Run(out, leaves, list(names), local, out_name)


def _resolve_wrt(wrt: Any, inputs: Sequence[Any], names: list[str], mode: str) -> list[int]:
    if wrt is None:
        return [0] if mode in ("forward", "both") else list(range(len(inputs)))
    items = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    out = []
    for w in items:
        if isinstance(w, str):
            if w not in names:
                raise ValueError(f"trace: wrt={w!r} is not an input; inputs are {', '.join(names)}")
            out.append(names.index(w))
        elif isinstance(w, (int, np.integer)) and not isinstance(w, bool):
            if not -len(inputs) <= w < len(inputs):
                raise ValueError(f"trace: wrt={w} is out of range for {len(inputs)} inputs")
            out.append(int(w) % len(inputs))
        else:
            hits = [i for i, v in enumerate(inputs) if v is w]
            if not hits:
                raise ValueError("trace: wrt must be an input's name, position or the input object itself")
            out.append(hits[0])
    if mode in ("forward", "both") and len(out) != 1:
        raise ValueError(f"trace: forward mode follows exactly one input (wrt=...), got {len(out)}")
    return sorted(set(out))


def _tangent_like(x: Tensor, tangent: Any) -> Any:
    if tangent is None:
        return 1.0 if type(value_of(x)) is float else np.ones(x.shape, dtype=x.dtype)
    t = np.asarray(value_of(tangent), dtype=x.dtype)
    if t.shape != x.shape:
        raise ValueError(f"trace: tangent has shape {t.shape}, the input has shape {x.shape}")
    return float(t) if type(value_of(x)) is float else t


def _build(out: Tensor, inputs: Sequence[Tensor], input_names: Sequence[str], local: dict, mode: str,
           wrt_name: str | None, precision: int, cotangent: Any, out_name: str | None,
           with_partials: bool = True, seed: tuple | None = None) -> Trace:
    """Rows for the list behind ``out``; ``mode`` "reverse", "forward"/"both" (``seed`` = (input, tangent)) or "values"."""
    if not out.requires_grad and mode == "forward":
        raise ValueError(f"trace: the output does not depend on wrt={wrt_name!r} (nothing was recorded): "
                         "its derivative is 0; trace by another input")
    if not out.requires_grad:
        raise ValueError(
            "trace: the output does not depend on any differentiated input (nothing was recorded); "
            "check wrt=, and that f computes with its arguments and not inside wg.no_grad()"
        )
    nodes = collect(out)
    order: list[Node] = [node_of(t) for t in inputs]
    known = {n.key for n in order}
    order += [n for n in nodes if n.key not in known]
    node_keys = {n.key for n in nodes} | {node_of(t).key for t in inputs if t.requires_grad}

    namer = Namer(order, inputs, input_names, local, out, out_name)
    by_key, local_names, give = namer.by_key, namer.local_names, namer.give

    # constants that are named (by the caller or a local variable) get a row too, before their first use
    with_consts: list[Node] = []
    for n in order:
        for a in n.inputs:
            if isinstance(a, Constant) and a.tensor is not None:
                c = node_of(a.tensor)
                if c.key in node_keys or c.key in known:
                    continue
                nm = a.tensor.name or local_names.get(c.key)
                if nm:
                    known.add(c.key)
                    if c.key not in by_key:
                        give(c.key, nm)
                    with_consts.append(c)
        with_consts.append(n)
    order = with_consts

    adj: dict = {}
    tan: dict = {}
    if mode in ("reverse", "both"):
        if cotangent is None and out.shape != ():
            raise ValueError(
                f"trace: the output has shape {out.shape}; reverse mode needs a scalar output or cotangent= "
                "(the output's cotangent, e.g. np.ones(shape))"
            )
        adj = adjoints(out, cotangent)
    if mode in ("forward", "both") and seed is not None:
        tan = tangents(order, {node_of(seed[0]).key: seed[1]})

    rows = []
    for i, n in enumerate(order):
        differentiated = n.key in node_keys
        if n.is_leaf:
            kind = "input" if differentiated else "constant"
            op, args, params, partials = None, (), {}, ()
        else:
            kind, op, params = "op", n.op, n.params
            args = tuple(_arg_of(a, by_key) for a in n.inputs)
            partials = _merge_partials(n, by_key) if with_partials else ()
        adjoint = tangent = None
        if mode in ("reverse", "both") and differentiated:
            adjoint = adj.get(n.key)
            if adjoint is None:
                adjoint = _zeros_like(n.value)
        if mode in ("forward", "both"):
            tangent = tan.get(n.key)
            if tangent is None:
                tangent = _zeros_like(n.value)
        rows.append(Row(i, by_key[n.key], kind, op, args, params, n.value, partials, adjoint, tangent))
    return Trace(rows, out, mode, wrt=wrt_name, precision=precision, _nodes=order)


class Namer:
    """Names for the nodes of a list: ``t.name``, then the input names, ``f``'s local variables, then v1, v2, ...

    ``by_key`` maps node keys to names; :meth:`give` names one more node
    (adding primes to keep names distinct).
    """

    def __init__(self, order: Sequence[Node], inputs: Sequence[Tensor], input_names: Sequence[str], local: dict,
                 out: Tensor | None = None, out_name: str | None = None) -> None:
        self.by_key: dict = {}
        self.taken: set[str] = set()
        for t, n in zip(inputs, input_names):
            self.give(node_of(t).key, n)
        self.local_names = _tensor_names(local)
        if out is not None and out_name and node_of(out).key not in self.local_names:
            self.local_names.setdefault(node_of(out).key, out_name)
        for n in order:
            if n.key not in self.by_key and n.label:
                self.give(n.key, n.label)
        for n in order:
            if n.key not in self.by_key and n.key in self.local_names:
                self.give(n.key, self.local_names[n.key])
        count = 0
        for n in order:
            if n.key not in self.by_key:
                count += 1
                while f"v{count}" in self.taken:
                    count += 1
                self.give(n.key, f"v{count}")

    def give(self, key: Any, name: str) -> None:
        while name in self.taken:
            name += "'"
        self.by_key[key] = name
        self.taken.add(name)


def _arg_of(a: Any, by_key: dict) -> Arg:
    if isinstance(a, Node):
        return Arg(by_key.get(a.key), a.value)
    name = by_key.get(node_of(a.tensor).key) if a.tensor is not None else None
    return Arg(name, a.value)


def _merge_partials(n: Node, by_key: dict) -> tuple[Partial, ...]:
    """One partial per distinct input (``x * x`` has one: ``2x``, the sum over both slots)."""
    merged: dict = {}
    inputs = n.inputs
    for i, val, kind in local_partials(n):
        a = inputs[i]
        prev = merged.get(a.key)
        if prev is None:
            merged[a.key] = Partial(by_key[a.key], val, kind)
        elif prev.kind == kind and val is not None and prev.value is not None:
            merged[a.key] = Partial(prev.wrt, prev.value + val, kind)
        else:
            merged[a.key] = Partial(prev.wrt, None, "none")
    return tuple(merged.values())


def _zeros_like(v: Any) -> Any:
    return 0.0 if type(v) is float else np.zeros(np.shape(v), dtype=np.result_type(np.asarray(v).dtype, np.float32))


# ====================================================================== the `with` form
class Tracer:
    """Context manager form of :func:`trace`: trace the code in a ``with`` block.

    Create the inputs with ``requires_grad=True`` (before or inside the
    block); intermediates are named after the block's local variables.  The
    traced output is the one given to :meth:`of`, or else the last tensor
    assigned to a variable in the block.  In forward mode, ``wrt`` must be
    an input tensor created before the block.

    >>> import wengert as wg
    >>> with wg.trace() as tr:
    ...     x = wg.tensor(-2.0, requires_grad=True)
    ...     y = wg.tensor(5.0, requires_grad=True)
    ...     z = wg.tensor(-4.0, requires_grad=True)
    ...     q = x + y
    ...     f = q * z
    >>> tr.gradient
    {'x': -4.0, 'y': -4.0, 'z': 3.0}
    """

    def __init__(self, mode: str = "reverse", wrt: Any = None, precision: int = 6,
                 cotangent: Any = None, tangent: Any = None) -> None:
        self.mode = mode
        self.wrt = wrt
        self.precision = precision
        self.cotangent = cotangent
        self.tangent = tangent
        self._start: tuple = (-1, -1)
        self._locals: dict = {}
        self._output: Tensor | None = None
        self._trace: Trace | None = None

    def __enter__(self) -> Tracer:
        if self.mode in ("forward", "both"):
            if not isinstance(self.wrt, Tensor):
                raise ValueError("trace: the 'with' form in forward mode needs wrt=<an input tensor created before the block>")
            if not self.wrt.requires_grad:
                self.wrt.requires_grad_(True)
        tape = state().tape
        self._start = (tape.order, len(tape.entries) - 1)  # values recorded after this are the block's
        return self

    def __exit__(self, *exc: object) -> None:
        frame = sys._getframe(1)
        self._locals = dict(frame.f_locals)
        del frame
        if exc[0] is None and self._output is None:
            cands = [node_of(v) for k, v in self._locals.items() if isinstance(v, Tensor) and not k.startswith("_")
                     and v.requires_grad and in_graph(v)]
            cands = [n for n in cands if n.order > self._start]
            if cands:
                last = max(cands, key=lambda n: n.order)
                self._output = next(v for v in self._locals.values()
                                    if in_graph(v) and node_of(v) == last)
        if exc[0] is None and self._output is not None:
            self._trace = self.of(self._output)

    def of(self, y: Tensor) -> Trace:
        """The trace of ``y`` (a tensor computed in the block)."""
        if not isinstance(y, Tensor):
            raise TypeError(f"trace: expected a Tensor, got {type(y).__name__}")
        nodes = collect(y)
        leaves = [n.tensor for n in nodes if n.is_leaf]
        names = _tensor_names(self._locals)
        leaf_names = [t.name or names.get(node_of(t).key) or f"x{i}" for i, t in enumerate(leaves)]
        wrt_name = None
        seed = None
        if self.mode in ("forward", "both"):
            wrt_name = names.get(node_of(self.wrt).key) or self.wrt.name or "x"
            seed = (self.wrt, _tangent_like(self.wrt, self.tangent))
        return _build(y, leaves, leaf_names, self._locals, self.mode, wrt_name, self.precision,
                      self.cotangent, out_name=None, seed=seed)

    @property
    def trace(self) -> Trace:
        """The trace of the block's output."""
        if self._trace is None:
            raise RuntimeError("trace: nothing traced yet (no tensor requiring grad was assigned in the block)")
        return self._trace

    def __getattr__(self, name: str) -> Any:
        # the Trace's attributes (rows, gradient, to_text, ...) once the block has run
        trace = self.__dict__.get("_trace")
        if name.startswith("_") or trace is None:
            raise AttributeError(f"Tracer has no attribute {name!r} (the block has not produced a trace yet)")
        return getattr(trace, name)

    def __str__(self) -> str:
        return str(self.trace)

    def __repr__(self) -> str:
        return f"<Tracer ({self.mode} mode): {self._trace!r}>"

    def _repr_html_(self) -> str:
        return self.trace._repr_html_()


__all__ = ["Arg", "Partial", "Row", "Trace", "Tracer", "trace"]
