"""The interactive page: step through the forward and the backward pass of a trace, node by node.

``wg.trace(f, ...).save_html("f.html")`` (or ``wengert trace FORMULA --at
... --html f.html``) writes one self-contained HTML file: the graph drawing
and the Wengert list, with buttons (and the arrow keys) that step through the
forward pass (each value appears, computed from its inputs) and then the
backward pass (each adjoint appears as *local partial x incoming adjoint*,
summed where a value fans out).  Styles, data and script are inline and
nothing is fetched, so the page works from ``file://`` and offline.

The page's contract (what a test or a script can rely on): the buttons
``id="next"``, ``id="prev"`` and ``id="reset"``; the explanation of the
current step in ``id="note"``; one table row per Wengert-list entry,
``<tr data-node="NAME">``, which gets ``data-shown-value`` once the forward
pass reaches it and ``data-shown-adjoint`` (``data-shown-tangent`` for a
forward-mode trace) once its derivative is shown; the arrow keys step
(right/down: next, left/up: back; Home: reset).

In Jupyter a trace displays as the same stepper (:func:`widget`), whose
controls and keys act on that output only.  Without JavaScript (an untrusted
notebook) the whole table shows, as ``to_html()`` gives it.

>>> import wengert as wg
>>> def f(x, y, z):
...     q = x + y
...     return q * z
>>> html = wg.trace(f, -2.0, 5.0, -4.0).to_html(interactive=True)
>>> html.startswith("<!DOCTYPE html>"), 'id="next"' in html, '<tr data-node="q"' in html
(True, True, True)
>>> steps = page_steps(wg.trace(f, -2.0, 5.0, -4.0))
>>> [s["note"] for s in steps][3:6]
['q = x + y = -2 + 5 = 3', 'f = q * z = 3 * (-4) = -12', 'df/df = 1: the backward pass starts from the output']
>>> steps[-1]["formula"]
'df/dx = ∂q/∂x × df/dq = 1 × (-4) = -4'
"""
from __future__ import annotations

import dataclasses
import html
import json
import uuid
from typing import Any

import numpy as np

from ..core.graph import GraphReleasedError, jvp_of, vjp_of
from . import _format as F
from ._files import write_atomic

#: The graph is drawn in the page up to this many values (the table always shows every row).
MAX_NODES = 200
#: Longest value shown inside a graph box (the table shows it whole).
GRAPH_TEXT = 18
#: The graph is drawn this much larger than its layout units (easier to read next to the table).
SCALE = 1.2

_OP_LABEL = {"add": "+", "subtract": "−", "multiply": "×", "divide": "÷", "power": "**", "negative": "−",
             "matmul": "@"}


# ====================================================================== the steps
def _num(v: Any, p: int) -> str:
    s = F.value(v, p)
    return f"({s})" if s.startswith("-") else s


def _total(parts: list) -> Any:
    out = parts[0]
    for c in parts[1:]:
        out = out + c
    return out


def _consumers(tr: Any) -> dict:
    """``{row name: [(consumer row, [input slots])]}``: which ops use each value, through which inputs."""
    uses: dict = {}
    for r in tr.rows:
        if r.kind != "op":
            continue
        slots: dict = {}
        for k, a in enumerate(r.args):
            if a.name is not None:
                slots.setdefault(a.name, []).append(k)
        for name, ks in slots.items():
            uses.setdefault(name, []).append((r, ks))
    return uses


def _partial_text(consumer: Any, wrt: str, p: int) -> tuple[str, str, bool]:
    """(symbol, value text, elementwise?) of the local partial d consumer / d wrt shown in a step."""
    sym = f"∂{consumer.name}/∂{wrt}"
    for q in consumer.partials:
        if q.wrt == wrt:
            if q.kind == "elementwise":
                return sym, _num(q.value, p), True
            return sym, "", False
    return sym, "", False


def _forward_note(r: Any, p: int) -> str:
    if r.kind == "input":
        return f"{r.name} = {F.value(r.value, p)}: an input"
    if r.kind == "constant":
        return f"{r.name} = {F.value(r.value, p)}: a constant (no derivative flows to it)"
    with_values = dataclasses.replace(r, args=tuple(dataclasses.replace(a, name=None) for a in r.args))
    return f"{r.name} = {r.expression('text', p)} = {with_values.expression('text', p)} = {F.value(r.value, p)}"


def _tangent_formula(tr: Any, r: Any, node: Any, p: int) -> str:
    """``dq/dx = ∂q/∂x × dx/dx + ∂q/∂y × dy/dx = 1 × 1 + 1 × 0 = 1`` (forward mode: the chain rule forwards)."""
    x = tr.wrt or "x"
    lhs = f"d{r.name}/d{x}"
    if r.kind != "op":
        if r.kind == "input" and r.name == x:
            return f"{lhs} = {F.value(r.tangent, p)}: the seed (the direction we differentiate in)"
        return f"{lhs} = {F.value(r.tangent, p)}: {r.name} does not move with {x}"
    syms, nums, parts = [], [], []
    by_name = {a.name: k for k, a in enumerate(r.args) if a.name is not None}
    for name in by_name:
        u = tr[name]
        if u.tangent is None or u.kind == "constant":
            continue
        sym, val, elementwise = _partial_text(r, name, p)
        syms.append(f"{sym} × d{name}/d{x}" if elementwise else f"{sym} · d{name}/d{x}")
        if node is not None:
            c = [jvp_of(node, k, u.tangent) for k, a in enumerate(r.args) if a.name == name]
            c = [v for v in c if v is not None]
            parts.append(_total(c) if c else 0.0)
        nums.append(f"{val} × {_num(u.tangent, p)}" if elementwise else (_num(parts[-1], p) if parts else "?"))
    if not syms:
        return f"{lhs} = 0: no input of {r.name} moves with {x}"
    return f"{lhs} = {' + '.join(syms)} = {' + '.join(nums)} = {F.value(r.tangent, p)}"


def _seeded_with_one(r: Any) -> bool:
    return np.ndim(r.adjoint) == 0 and float(r.adjoint) == 1.0


def _adjoint_formula(tr: Any, r: Any, uses: list, p: int) -> tuple[str, int]:
    """``df/dx = ∂q/∂x × df/dq + ... = 1 × (-4) + ... = -4`` and the number of ops it sums over."""
    out = tr.output_name
    lhs = f"d{out}/d{r.name}"
    if r is tr.rows[-1]:
        return (f"{lhs} = 1: the seed" if _seeded_with_one(r)
                else f"{lhs} = {F.value(r.adjoint, p)}: the seed (the cotangent given)"), 0
    used = [(c, ks) for c, ks in uses if c.adjoint is not None]
    if not used:
        return f"{lhs} = 0: no op that the output depends on uses {r.name}", 0
    syms, nums = [], []
    for c, ks in used:
        sym, val, elementwise = _partial_text(c, r.name, p)
        if elementwise:
            syms.append(f"{sym} × d{out}/d{c.name}")
            nums.append(f"{val} × {_num(c.adjoint, p)}")
        else:
            syms.append(f"({sym})ᵀ · d{out}/d{c.name}")
            nums.append(_num(_contribution(tr, c, ks), p))
    return f"{lhs} = {' + '.join(syms)} = {' + '.join(nums)} = {F.value(r.adjoint, p)}", len(used)


def _contribution(tr: Any, c: Any, ks: list) -> Any:
    """What consumer ``c`` passes back through its inputs ``ks``: the VJP of its rule for its adjoint."""
    try:
        node = tr._nodes[c.index]
        return _total([vjp_of(node, k, c.adjoint) for k in ks])
    except (GraphReleasedError, IndexError):
        return "?"


def page_steps(tr: Any, precision: int | None = None) -> list[dict]:
    """The steps of the page, in order: one per row forwards (its value), then one per adjoint backwards.

    Each step is a dict: ``phase`` ("forward" or "backward"), ``row`` (its
    index), ``note`` (the sentence shown), ``formula`` (the chain rule with
    numbers: forward-mode tangents in the forward pass, adjoints in the
    backward pass; may be empty) and ``fanout`` (how many ops a backward
    step sums over).
    """
    p = tr.precision if precision is None else precision
    steps: list[dict] = []
    has_tangent = "tangent" in tr.columns
    for r in tr.rows:
        node = tr._nodes[r.index] if r.kind == "op" and tr._nodes else None
        formula = ""
        if has_tangent and r.tangent is not None:
            try:
                formula = _tangent_formula(tr, r, node, p)
            except GraphReleasedError:
                formula = f"d{r.name}/d{tr.wrt} = {F.value(r.tangent, p)}"
        steps.append({"phase": "forward", "row": r.index, "note": _forward_note(r, p), "formula": formula,
                      "fanout": 0})
    if "adjoint" in tr.columns:
        uses = _consumers(tr)
        for r in reversed(tr.rows):
            if r.adjoint is None:
                continue
            formula, fan = _adjoint_formula(tr, r, uses.get(r.name, []), p)
            if r is tr.rows[-1]:
                note = f"d{r.name}/d{r.name} = 1: the backward pass starts from the output"
                if not _seeded_with_one(r):
                    note = f"d{r.name} = {F.value(r.adjoint, p)}: the backward pass starts from the cotangent given"
            elif fan > 1:
                note = (f"{r.name} feeds {fan} ops, so the gradients add: d{tr.output_name}/d{r.name} = "
                        f"{F.value(r.adjoint, p)}")
            else:
                note = f"d{tr.output_name}/d{r.name} = {F.value(r.adjoint, p)}: local partial × incoming adjoint"
            steps.append({"phase": "backward", "row": r.index, "note": note, "formula": formula, "fanout": fan})
    return steps


# ====================================================================== the graph drawing
def _short(s: str) -> str:
    return s if len(s) <= GRAPH_TEXT else s[: GRAPH_TEXT - 1] + "…"


def _layout(tr: Any) -> tuple[dict, list, dict]:
    """Columns and order of the graph's nodes: values ``("v", i)``, ops ``("o", i)``, constants ``("c", i, k)``.

    An op's value sits one column right of its op, which sits right of its
    latest input; an input sits just left of its first use (as in seed 001's
    circuit).  Within a column, nodes are ordered by the mean position of
    their neighbours (a few barycentre sweeps) to keep edges from crossing.
    """
    rows = tr.rows
    index = {r.name: r.index for r in rows}
    depth: dict = {}
    col: dict = {}
    edges: list = []
    for r in rows:
        if r.kind != "op":
            depth[r.index] = 0
            continue
        named = [index[a.name] for a in r.args if a.name is not None and a.name in index]
        depth[r.index] = 1 + max((depth[j] for j in named), default=0)
        col[("o", r.index)] = 2 * depth[r.index] - 1
        col[("v", r.index)] = 2 * depth[r.index]
        for k, a in enumerate(r.args):
            src = ("v", index[a.name]) if a.name is not None and a.name in index else ("c", r.index, k)
            if src[0] == "c":
                col[src] = col[("o", r.index)] - 1
            edges.append((src, ("o", r.index)))
        edges.append((("o", r.index), ("v", r.index)))
    for r in rows:
        if r.kind != "op":
            uses = [col[t] for s, t in edges if s == ("v", r.index)]
            col[("v", r.index)] = min(uses) - 1 if uses else 0
    shift = -min(col.values()) if col else 0
    for k in col:
        col[k] += shift
    columns: dict = {}
    for key in sorted(col, key=lambda k: (k[1], k[0] != "v", k[2] if len(k) > 2 else 0)):
        columns.setdefault(col[key], []).append(key)
    nbrs: dict = {k: [] for k in col}
    for s, t in edges:
        nbrs[s].append(t)
        nbrs[t].append(s)
    pos = {k: i for c in columns.values() for i, k in enumerate(c)}
    for sweep in range(4):
        order = sorted(columns) if sweep % 2 == 0 else sorted(columns, reverse=True)
        for c in order:
            side = -1 if sweep % 2 == 0 else 1
            keys = columns[c]

            def bary(k: Any, side: int = side, c: int = c) -> float:
                ps = [pos[n] for n in nbrs[k] if (col[n] - c) * side > 0]
                return sum(ps) / len(ps) if ps else pos[k]

            keys.sort(key=lambda k: (bary(k), pos[k]))
            for i, k in enumerate(keys):
                pos[k] = i
    return columns, edges, col


def graph_svg(tr: Any, precision: int, uid: str) -> str:
    """The graph of the trace as inline SVG: a box per value, an ellipse per op, constants as plain labels."""
    if len(tr.rows) > MAX_NODES:
        return (f'<p class="wg-nograph">The graph has {len(tr.rows)} values, more than {MAX_NODES}: it is not '
                "drawn here; the table below holds every step (wg.draw(..., collapse=True) draws its last steps).</p>")
    columns, edges, col = _layout(tr)
    p = precision
    lines = 2 + len(tr.columns)  # name, value, derivatives
    line_h, gap_x, gap_y = 15, 30, 22
    box_h = 10 + line_h * lines
    labels = {"tangent": f"d/d{tr.wrt or 'x'} ", "adjoint": "grad "}
    sizes: dict = {}
    for key in col:
        if key[0] == "v":
            r = tr.rows[key[1]]
            texts = [_short(r.name), "value " + _short(F.value(r.value, p))]
            texts += [labels[c] + _short(F.value(getattr(r, c), p)) for c in tr.columns if getattr(r, c) is not None]
            sizes[key] = (max(70, 7.4 * max(len(t) for t in texts) + 18), box_h)
        elif key[0] == "o":
            label = _OP_LABEL.get(tr.rows[key[1]].op or "", tr.rows[key[1]].op or "?")
            sizes[key] = (max(34, 8 * len(label) + 18), 30)
        else:
            arg = tr.rows[key[1]].args[key[2]]
            sizes[key] = (max(30, 7 * len(_short(F.value(arg.value, p))) + 8), 20)
    xs: dict = {}
    x = 12
    for c in sorted(columns):
        w = max(sizes[k][0] for k in columns[c])
        for k in columns[c]:
            xs[k] = x + w / 2
        x += w + gap_x
    width = x - gap_x + 12
    tallest = max(len(v) for v in columns.values())
    height = 16 + tallest * (box_h + gap_y)
    ys: dict = {}
    for keys in columns.values():
        top = 8 + (tallest - len(keys)) * (box_h + gap_y) / 2
        for i, k in enumerate(keys):
            ys[k] = top + i * (box_h + gap_y) + (box_h + gap_y) / 2
    out = [f'<svg class="wg-svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width * SCALE:.0f}" '
           f'height="{height * SCALE:.0f}" '
           'role="img" aria-label="the computational graph">',
           f'<defs><marker id="wg-arrow-{uid}" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="8" '
           'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" fill="#777"/></marker></defs>',
           '<g class="wg-edges">']
    for s, t in edges:
        x1, y1 = xs[s] + sizes[s][0] / 2, ys[s]
        x2, y2 = xs[t] - sizes[t][0] / 2, ys[t]
        mid = (x1 + x2) / 2
        frm = s[1] if s[0] != "c" else "c"
        out.append(f'<path class="wg-edge" data-from="{frm}" data-to="{t[1]}" '
                   f'd="M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" '
                   f'marker-end="url(#wg-arrow-{uid})"/>')
    out.append("</g>")
    for key in col:
        cx, cy = xs[key], ys[key]
        w, h = sizes[key]
        if key[0] == "v":
            r = tr.rows[key[1]]
            name = html.escape(_short(r.name))
            texts = [f'<text class="wg-gname" x="0" y="{-h / 2 + 17:.1f}">{name}</text>']
            y = -h / 2 + 17 + line_h
            texts.append(f'<text class="wg-gval" x="0" y="{y:.1f}"></text>')
            for column in tr.columns:
                y += line_h
                cls = "wg-gtan" if column == "tangent" else "wg-gadj"
                texts.append(f'<text class="{cls}" x="0" y="{y:.1f}"></text>')
            out.append(f'<g class="wg-gnode wg-{r.kind}" data-graph-node="{html.escape(r.name, quote=True)}" '
                       f'data-row="{r.index}" transform="translate({cx:.1f},{cy:.1f})">'
                       f'<rect x="{-w / 2:.1f}" y="{-h / 2:.1f}" width="{w:.1f}" height="{h}" rx="7"/>'
                       + "".join(texts) + "</g>")
        elif key[0] == "o":
            r = tr.rows[key[1]]
            label = html.escape(_OP_LABEL.get(r.op or "", r.op or "?"))
            out.append(f'<g class="wg-gop" data-op-row="{r.index}" transform="translate({cx:.1f},{cy:.1f})">'
                       f'<ellipse rx="{w / 2:.1f}" ry="{h / 2:.1f}"/><text x="0" y="4.5">{label}</text></g>')
        else:
            arg = tr.rows[key[1]].args[key[2]]
            out.append(f'<g class="wg-gconst" transform="translate({cx:.1f},{cy:.1f})">'
                       f'<text x="0" y="4">{html.escape(_short(F.value(arg.value, p)))}</text></g>')
    out.append("</svg>")
    return "\n".join(out)


# ====================================================================== the HTML
_CSS = """
.wg-stepper{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d1d1f;
  max-width:100%;outline:none}
.wg-stepper .wg-controls{display:none;gap:8px;align-items:center;flex-wrap:wrap;margin:6px 0 8px}
.wg-stepper.wg-live .wg-controls{display:flex}
.wg-stepper button{font:inherit;font-size:14px;padding:5px 14px;border:1px solid #999;border-radius:6px;
  background:#f6f6f6;cursor:pointer}
.wg-stepper button:hover:not(:disabled){background:#e8e8e8}
.wg-stepper button:disabled{opacity:.45;cursor:default}
.wg-stepper .wg-status{font-size:13px;color:#555;margin-left:6px}
.wg-stepper .wg-note{display:none;min-height:2.6em;padding:6px 10px;margin-bottom:8px;background:#f4f7fb;
  border-left:4px solid #1f5fa8;font-size:14px}
.wg-stepper.wg-live .wg-note{display:block}
.wg-stepper .wg-note .wg-formula{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;
  font-size:13px;color:#333;margin-top:3px}
.wg-stepper .wg-graph{overflow-x:auto;margin-bottom:10px}
.wg-stepper .wg-svg text{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px;
  text-anchor:middle}
.wg-stepper .wg-edge{fill:none;stroke:#999;stroke-width:1.3}
.wg-stepper .wg-edge.wg-fwd{stroke:#2a7a2a;stroke-width:2.6}
.wg-stepper .wg-edge.wg-bwd{stroke:#c0392b;stroke-width:2.6;stroke-dasharray:6 3}
.wg-stepper .wg-gnode rect{fill:#fff;stroke:#555;stroke-width:1.2}
.wg-stepper .wg-gnode.wg-constant rect{fill:#f3f3f3;stroke-dasharray:3 2}
.wg-stepper .wg-gnode.wg-current rect{stroke:#e67e22;stroke-width:3.5;fill:#fff8ec}
.wg-stepper .wg-gop ellipse{fill:#eef2f7;stroke:#555}
.wg-stepper .wg-gop.wg-current ellipse{stroke:#e67e22;stroke-width:3}
.wg-stepper .wg-gname{font-weight:bold;font-family:system-ui,Helvetica,Arial,sans-serif!important}
.wg-stepper .wg-gval{fill:#2a7a2a}
.wg-stepper .wg-gadj{fill:#c0392b}
.wg-stepper .wg-gtan{fill:#1f5fa8}
.wg-stepper .wg-gconst text{fill:#666}
.wg-stepper table.wg-table{border-collapse:collapse;font-size:13px}
.wg-stepper .wg-table th,.wg-stepper .wg-table td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;
  vertical-align:top}
.wg-stepper .wg-table th{background:#f2f2f2}
.wg-stepper .wg-table td.wg-value,.wg-stepper .wg-table td.wg-tangent,.wg-stepper .wg-table td.wg-adjoint{
  font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;white-space:nowrap}
.wg-stepper .wg-table td.wg-value{color:#2a7a2a}
.wg-stepper .wg-table td.wg-adjoint{color:#c0392b}
.wg-stepper .wg-table td.wg-tangent{color:#1f5fa8}
.wg-stepper .wg-table .wg-why{display:block;font-size:11px;color:#666;white-space:normal}
.wg-stepper .wg-table tr.wg-current{background:#fff3cd}
.wg-stepper .wg-table .wg-fan{font-size:10px;background:#c0392b;color:#fff;border-radius:8px;padding:0 6px;
  margin-left:6px}
.wg-stepper.wg-live .wg-table tr:not([data-shown-value]) .wg-partials{visibility:hidden}
.wg-stepper .wg-nograph{color:#666;font-size:13px}
.wg-stepper .wg-help{font-size:12px;color:#777;margin-top:6px}
"""

# The stepper.  ``root`` is the widget's element; state is the number of steps applied (0..steps.length),
# and every change re-renders from scratch (a few hundred rows at most: simple and always consistent).
_JS = """
(function (root) {
  "use strict";
  var data = JSON.parse(root.querySelector("script.wg-data").textContent);
  var steps = data.steps, rows = data.rows;
  var trs = {}, gnodes = {}, gops = {};
  root.querySelectorAll("tr[data-node]").forEach(function (tr) { trs[tr.getAttribute("data-row")] = tr; });
  root.querySelectorAll("[data-graph-node]").forEach(function (g) { gnodes[g.getAttribute("data-row")] = g; });
  root.querySelectorAll("[data-op-row]").forEach(function (g) { gops[g.getAttribute("data-op-row")] = g; });
  var edges = root.querySelectorAll(".wg-edge");
  var btnNext = root.querySelector(".wg-next"), btnPrev = root.querySelector(".wg-prev"),
      btnReset = root.querySelector(".wg-reset"), status = root.querySelector(".wg-status"),
      note = root.querySelector(".wg-note");
  var k = 0;

  function setCell(tr, cls, text, why, fan) {
    var td = tr.querySelector("td." + cls);
    if (!td) { return; }
    td.textContent = text;
    if (why) {
      var s = document.createElement("span");
      s.className = "wg-why";
      s.textContent = why;
      td.appendChild(s);
    }
    if (fan > 1) {
      var b = document.createElement("span");
      b.className = "wg-fan";
      b.textContent = "+ " + fan + " paths";
      td.insertBefore(b, td.firstChild ? td.firstChild.nextSibling : null);
    }
  }

  function setGraph(i, cls, text) {
    var g = gnodes[i];
    if (!g) { return; }
    var t = g.querySelector("text." + cls);
    if (t) { t.textContent = text; }
  }

  function clear() {
    Object.keys(trs).forEach(function (i) {
      var tr = trs[i];
      tr.removeAttribute("data-shown-value");
      tr.removeAttribute("data-shown-adjoint");
      tr.removeAttribute("data-shown-tangent");
      tr.classList.remove("wg-current");
      ["wg-value", "wg-tangent", "wg-adjoint"].forEach(function (c) { setCell(tr, c, "", "", 0); });
    });
    Object.keys(gnodes).forEach(function (i) {
      gnodes[i].classList.remove("wg-current");
      ["wg-gval", "wg-gtan", "wg-gadj"].forEach(function (c) { setGraph(i, c, ""); });
    });
    Object.keys(gops).forEach(function (i) { gops[i].classList.remove("wg-current"); });
    edges.forEach(function (e) { e.classList.remove("wg-fwd"); e.classList.remove("wg-bwd"); });
  }

  function apply(s) {
    var r = rows[s.row], tr = trs[s.row];
    if (s.phase === "forward") {
      tr.setAttribute("data-shown-value", r.value);
      setCell(tr, "wg-value", r.value, "", 0);
      setGraph(s.row, "wg-gval", "value " + r.gvalue);
      if (r.tangent !== null) {
        tr.setAttribute("data-shown-tangent", r.tangent);
        setCell(tr, "wg-tangent", r.tangent, s.formula, 0);
        setGraph(s.row, "wg-gtan", data.tangentLabel + " " + r.gtangent);
      }
    } else {
      tr.setAttribute("data-shown-adjoint", r.adjoint);
      setCell(tr, "wg-adjoint", r.adjoint, s.formula, s.fanout);
      setGraph(s.row, "wg-gadj", "grad " + r.gadjoint);
    }
  }

  function highlight(s) {
    var i = String(s.row);
    if (trs[i]) { trs[i].classList.add("wg-current"); }
    if (gnodes[i]) { gnodes[i].classList.add("wg-current"); }
    edges.forEach(function (e) {
      if (s.phase === "forward" && e.getAttribute("data-to") === i) { e.classList.add("wg-fwd"); }
      if (s.phase === "backward" && e.getAttribute("data-from") === i && e.getAttribute("data-to") !== i) {
        e.classList.add("wg-bwd");
        var op = gops[e.getAttribute("data-to")];
        if (op) { op.classList.add("wg-current"); }
      }
    });
    if (s.phase === "forward" && gops[i]) { gops[i].classList.add("wg-current"); }
  }

  function render() {
    clear();
    for (var j = 0; j < k; j++) { apply(steps[j]); }
    var nf = data.forwardSteps, nb = steps.length - nf;
    note.textContent = "";
    if (k === 0) {
      status.textContent = "Ready: " + steps.length + " steps (" + nf + " forward" +
        (nb ? ", " + nb + " backward" : "") + ")";
      note.textContent = "Press Next (or the right arrow key) to run the forward pass, one node at a time.";
    } else {
      var s = steps[k - 1];
      highlight(s);
      status.textContent = (s.phase === "forward" ? "Forward pass: step " + k + " of " + nf
                                                  : "Backward pass: step " + (k - nf) + " of " + nb);
      var line = document.createElement("div");
      line.textContent = s.note;
      note.appendChild(line);
      if (s.formula) {
        var f = document.createElement("div");
        f.className = "wg-formula";
        f.textContent = s.formula;
        note.appendChild(f);
      }
      if (k === steps.length) {
        var d = document.createElement("div");
        d.className = "wg-formula";
        d.textContent = data.doneNote;
        note.appendChild(d);
      }
    }
    btnPrev.disabled = k === 0;
    btnReset.disabled = k === 0;
    btnNext.disabled = k === steps.length;
  }

  function go(to) {
    k = Math.max(0, Math.min(steps.length, to));
    render();
  }

  btnNext.addEventListener("click", function () { go(k + 1); });
  btnPrev.addEventListener("click", function () { go(k - 1); });
  btnReset.addEventListener("click", function () { go(0); });
  var keys = data.page ? document : root;
  keys.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
    var t = ev.target && ev.target.tagName;
    if (t === "INPUT" || t === "TEXTAREA") { return; }
    if (ev.key === "ArrowRight" || ev.key === "ArrowDown") { go(k + 1); }
    else if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") { go(k - 1); }
    else if (ev.key === "Home" || ev.key === "Escape") { go(0); }
    else { return; }
    ev.preventDefault();
  });
  root.classList.add("wg-live");
  render();
})(document.getElementById(%s));
"""


def _table(tr: Any, p: int) -> str:
    head = tr._header("html")
    cls = ["wg-index", "wg-name", "wg-expr", "wg-value", "wg-partials"] + [f"wg-{c}" for c in tr.columns]
    out = ['<table class="wg-table wengert-trace">', "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head)
           + "</tr></thead>", "<tbody>"]
    for r in tr.rows:
        cells = "".join(f'<td class="{c}">{v}</td>' for c, v in zip(cls, tr._cells(r, "html", p)))
        out.append(f'<tr data-node="{html.escape(r.name, quote=True)}" data-row="{r.index}">{cells}</tr>')
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


def _data(tr: Any, p: int, is_page: bool) -> dict:
    def text(v: Any) -> Any:
        return None if v is None else F.value(v, p)

    rows = [{"name": r.name, "value": text(r.value), "gvalue": _short(text(r.value)),
             "adjoint": text(r.adjoint), "gadjoint": None if r.adjoint is None else _short(text(r.adjoint)),
             "tangent": text(r.tangent), "gtangent": None if r.tangent is None else _short(text(r.tangent))}
            for r in tr.rows]
    steps = page_steps(tr, p)
    nf = sum(1 for s in steps if s["phase"] == "forward")
    if "adjoint" in tr.columns:
        grads = ", ".join(f"d{tr.output_name}/d{k} = {F.value(v, p)}" for k, v in tr.gradient.items())
        done = f"Done: both passes. The gradient: {grads}."
    else:
        done = f"Done: d{tr.output_name}/d{tr.wrt} = {F.value(tr.rows[-1].tangent, p)} (one forward pass)."
    return {"rows": rows, "steps": steps, "forwardSteps": nf, "page": is_page, "doneNote": done,
            "tangentLabel": f"d/d{tr.wrt or 'x'}"}


def _script_json(obj: Any) -> str:
    # JSON inside <script>: no "</" can end the element early
    return json.dumps(obj, ensure_ascii=True).replace("<", "\\u003c").replace(">", "\\u003e")


def widget(tr: Any, precision: int | None = None, *, is_page: bool = False, uid: str | None = None) -> str:
    """The stepper as an HTML fragment (styles and script inline), e.g. for Jupyter's ``_repr_html_``.

    Several widgets can share a document: each acts on its own elements, and
    its keys act only while it has the focus (click it first).  On the
    page (``is_page=True``) the buttons get the ids ``next``, ``prev`` and
    ``reset`` and the arrow keys act on the whole document.
    """
    p = tr.precision if precision is None else precision
    uid = uid or "wg-" + uuid.uuid4().hex[:10]
    ids = {n: (f' id="{n}"' if is_page else "") for n in ("next", "prev", "reset", "note", "status")}
    help_keys = ("Keys: → or ↓ next step, ← or ↑ back, Home reset." if is_page
                 else "Click here, then: → next step, ← back, Home reset.")
    return "\n".join([
        f'<div class="wg-stepper" id="{uid}" tabindex="0">',
        f"<style>{_CSS}</style>",
        '<div class="wg-controls">',
        f'<button type="button" class="wg-reset"{ids["reset"]} title="Reset (Home)">⟲ Reset</button>',
        f'<button type="button" class="wg-prev"{ids["prev"]} title="Back (←)">◀ Back</button>',
        f'<button type="button" class="wg-next"{ids["next"]} title="Next (→)">Next ▶</button>',
        f'<span class="wg-status"{ids["status"]}></span>',
        "</div>",
        f'<div class="wg-note"{ids["note"]} aria-live="polite"></div>',
        f'<div class="wg-graph">{graph_svg(tr, p, uid)}</div>',
        _table(tr, p),
        f'<div class="wg-help">{help_keys}</div>',
        f'<script type="application/json" class="wg-data">{_script_json(_data(tr, p, is_page))}'
        "</script>",
        "<script>" + _JS % json.dumps(uid) + "</script>",
        "</div>",
    ])


def page(tr: Any, precision: int | None = None, title: str | None = None, max_rows: int | None = None) -> str:
    """The whole interactive page for trace ``tr``: one self-contained HTML document (no network).

    ``max_rows`` is accepted for symmetry with ``to_html`` and ignored: the
    page steps through every row.
    """
    del max_rows
    p = tr.precision if precision is None else precision
    mode = {"reverse": "reverse mode", "forward": f"forward mode, d/d{tr.wrt}",
            "both": f"forward mode d/d{tr.wrt} and reverse mode"}.get(tr.mode, tr.mode)
    title = title or f"Wengert list of {tr.output_name}"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{margin:18px 24px;background:#fff}h1{font:600 20px system-ui,Helvetica,Arial,sans-serif;"
        "margin:0 0 4px}.wg-sub{font:13px system-ui,Helvetica,Arial,sans-serif;color:#666;margin:0 0 6px}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="wg-sub">{html.escape(mode)}; made by wengert. Values in green, adjoints in red'
        + (", tangents in blue" if "tangent" in tr.columns else "") + ".</p>",
        widget(tr, p, is_page=True, uid="wengert-trace"),
        "</body>",
        "</html>",
        "",
    ])


def save_page(tr: Any, path: Any, precision: int | None = None, title: str | None = None) -> str:
    """Write :func:`page` to ``path`` atomically; returns the path."""
    return write_atomic(path, page(tr, precision, title))


__all__ = ["MAX_NODES", "graph_svg", "page", "page_steps", "save_page", "widget", "write_atomic"]
