"""Debugging backprop: the one wrong local rule named, a NaN traced to the node that made it, forward vs reverse.

Whole-function gradient checks (``wg.gradcheck``, PyTorch's, JAX's) can only
say that *the gradient* is wrong.  Backprop is local: every gate knows its
own forward and its own local derivative (seed 001), so each can be checked
on its own.  These tools read the recorded Wengert list and do that:

* :func:`check_gates` checks every node's VJP (and JVP) against central
  finite differences of that node's forward alone, at the values it saw;
* :func:`explain_nan` names the first node whose value, local partial or
  adjoint is not finite, with the line that made it, and explains the
  classic traps (the ``where`` trap, ``log(0)``, ``sqrt`` at 0, ``exp``
  overflow, a zero denominator);
* :func:`compare_modes` counts and times forward mode (one pass per input)
  against reverse mode (one pass per output), seed 004's point in numbers.

>>> import wengert as wg
>>> class MultiplyGate(wg.Function):              # seed 001's gate, with a slip in its backward
...     @staticmethod
...     def forward(ctx, x, y):
...         ctx.save_for_backward(x, y)
...         return x * y
...     @staticmethod
...     def backward(ctx, dz):
...         x, y = ctx.saved_tensors
...         return dz * y, dz * y                 # should be dz * x for y
>>> def f(x, y, z):
...     q = x + y
...     return wg.exp(MultiplyGate.apply(q, z))
>>> report = wg.check_gates(f, -2.0, 5.0, -4.0)
>>> report.ok, [(b.op, b.input) for b in report.failures]
(False, [('MultiplyGate', 1)])
"""
from __future__ import annotations

import copy
import linecache
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.function import Context
from ..core.graph import Node, adjoints, local_partial, node_of, nodes, tangents, vjp_of
from ..core.rule import fit, is_bad
from ..core.state import no_grad
from . import _format as F
from .trace import Namer, Row, _arg_of, input_names, run_recorded, trace

_EPS64 = float(np.finfo(np.float64).eps)


# ====================================================================== shared
@dataclass
class _Recorded:
    """``f`` run once, with creation sites: its output, its list in order, and a name for every node."""

    out: Any
    leaves: list
    order: list
    names: dict

    def name(self, n: Node) -> str:
        return self.names.get(n.key, "?")

    def expression(self, n: Node, precision: int = 6) -> str:
        """``q = x + y`` for an op node, ``x`` for a leaf."""
        if n.is_leaf:
            return self.name(n)
        row = Row(0, self.name(n), "op", n.op, tuple(_arg_of(a, self.names) for a in n.inputs), n.params,
                  n.value, ())
        return f"{self.name(n)} = {row.expression('text', precision)}"


def _record(f: Callable, inputs: Sequence[Any], names: Sequence[str] | None, who: str) -> _Recorded:
    names = input_names(f, inputs, names, who)
    with np.errstate(all="ignore"):
        run = run_recorded(f, inputs, names, sites=True, who=who)
    if not run.out.requires_grad:
        raise ValueError(f"{who}: the output does not depend on the inputs (nothing was recorded); check that f "
                         "computes with its arguments and not inside wg.no_grad()")
    order = nodes([run.out])
    return _Recorded(run.out, run.leaves, order, Namer(order, run.leaves, names, run.local, run.out,
                                                       run.out_name).by_key)


_SITE = re.compile(r'^File "(?P<file>.*)", line (?P<line>\d+), in (?P<func>.*?)(?P<rest> \(inside wengert.*)?$')


def site_text(site: str | None) -> str | None:
    """``File ".../f.py", line 3, in f`` as ``f.py, line 3 in f: y = wg.sqrt(x)`` (with the source line when readable)."""
    if not site:
        return None
    m = _SITE.match(site)
    if not m:
        return site
    src = linecache.getline(m["file"], int(m["line"])).strip()
    where = f"{m['file'].rsplit('/', 1)[-1]}, line {m['line']} in {m['func']}"
    return f"{where}: {src}" if src else where


def _bad(v: Any) -> bool:
    """Does a value hold a NaN or an Inf?"""
    return is_bad(v) is not None


def _custom(n: Node) -> bool:
    """Is ``n`` an op of a user's ``wg.Function`` (its rule's name is the class name)?"""
    return isinstance(n.params.get("ctx"), Context)


# ====================================================================== check_gates
@dataclass(frozen=True)
class GateFailure:
    """One local rule that disagrees with finite differences of its own forward.

    ``op`` is the rule's name (a ``wg.Function`` subclass's name for a
    custom op), ``input`` the index of the input whose derivative is wrong,
    ``kind`` ``"vjp"`` (a custom op's ``backward``) or ``"jvp"``;
    ``expected`` (central differences) and ``got`` (the rule) are arrays
    of the input's shape for a VJP (the output's for a JVP), or the
    projections on random directions when the input is large
    (``directional``).  ``error`` holds the message when the rule raised.
    """

    op: str
    input: int
    kind: str
    expected: Any
    got: Any
    rel_error: float
    node: str
    expression: str
    site: str | None = None
    directional: bool = False
    error: str | None = None
    custom: bool = False
    input_name: str | None = None

    @property
    def rule(self) -> str:
        """How the user calls the wrong function: ``BadMul.backward``, ``multiply's VJP``."""
        if self.custom:
            return f"{self.op}.{'backward' if self.kind == 'vjp' else 'jvp'}"
        return f"{self.op}'s {self.kind.upper()}"

    def __str__(self) -> str:
        what = "gradient" if self.kind == "vjp" else "tangent"
        which = f"input {self.input}" + (f" ({self.input_name})" if self.input_name else "")
        lines = [f"{self.rule} returns the wrong {what} for {which} at node {self.expression}"]
        if self.error is not None:
            lines.append(f"    it raised: {self.error}")
        else:
            how = " (projected on random directions)" if self.directional else ""
            lines.append(f"    expected {F.value(self.expected, 6)} (central differences of {self.op}'s forward"
                         f"{how}), got {F.value(self.got, 6)}; relative error {F.number(self.rel_error, 3)}")
        if self.site:
            lines.append(f"    made at {self.site}")
        return "\n".join(lines)


@dataclass
class GateReport:
    """What :func:`check_gates` found: ``ok``, the ``failures``, how many checks ran, and what was skipped."""

    failures: list[GateFailure]
    checked: int
    nodes: int
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        if self.ok:
            head = (f"check_gates: all {self.nodes} local rules agree with finite differences of their own forward "
                    f"({self.checked} checks)")
        else:
            n = len({(b.expression, b.kind) for b in self.failures})
            head = (f"check_gates: {n} local rule{'s' if n != 1 else ''} disagree{'s' if n == 1 else ''} with finite "
                    f"differences of {'its' if n == 1 else 'their'} own forward ({self.checked} checks on "
                    f"{self.nodes} nodes)")
        lines = [head] + ["  " + str(b).replace("\n", "\n  ") for b in self.failures]
        lines += [f"  skipped: {s}" for s in self.skipped]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<GateReport: {len(self.failures)} failures in {self.checked} checks on {self.nodes} nodes>"


def _as64(v: Any) -> Any:
    if type(v) is float:
        return v
    a = np.asarray(v)
    if a.dtype.kind == "f" and a.dtype != np.float64:
        return a.astype(np.float64) if a.ndim else float(a)
    return v


def _fresh(params: dict) -> dict:
    # a custom op's forward fills its ctx (save_for_backward): each evaluation gets its own copy
    return {k: copy.copy(v) if isinstance(v, Context) else v for k, v in params.items()}


def _arr(v: Any) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


class _Gate:
    """One node's forward alone, evaluated at its recorded inputs (in float64) with one input moved."""

    def __init__(self, node: Node) -> None:
        self.rule = node.rule
        self.params = node.params
        self.prims = [_as64(v) for v in node.input_values]
        self.ctx_params = _fresh(self.params)
        with no_grad(), np.errstate(all="ignore"):
            self.ans = self.rule.evaluate(self.prims, self.ctx_params)

    def at(self, i: int, x: Any) -> np.ndarray:
        vals = list(self.prims)
        vals[i] = x
        with no_grad(), np.errstate(all="ignore"):
            return _arr(self.rule.evaluate(vals, _fresh(self.params)))

    def moved(self, i: int, direction: Any, h: float) -> Any:
        x = self.prims[i]
        return x + h * direction if type(x) is not float else x + h * float(direction)


def _compare(got: np.ndarray, expected: np.ndarray, noise: np.ndarray, rtol: float, atol: float) -> bool:
    return bool(np.all(np.abs(got - expected) <= atol + rtol * np.abs(expected) + noise))


def _rel(got: np.ndarray, expected: np.ndarray) -> float:
    d = float(np.linalg.norm(np.ravel(got - expected)))
    e = float(np.linalg.norm(np.ravel(expected)))
    return d / e if e > 0 else (math.inf if d > 0 else 0.0)


def _differences(gate: _Gate, i: int, u: Any, directions: list, eps: float) -> tuple:
    """Central differences of <u, F> (u None: F itself) along each direction, their rounding noise, and the
    jump between the one-sided differences (large at a kink, small where F is smooth)."""
    x = _arr(gate.prims[i])
    base = _arr(gate.ans)
    scale = max(float(np.max(np.abs(x))) if x.size else 0.0, 1e-3)
    h = eps * scale
    ests, noises, jumps = [], [], []
    for d in directions:
        plus, minus = gate.at(i, gate.moved(i, d, h)), gate.at(i, gate.moved(i, d, -h))
        if u is not None:
            plus, minus, mid = float(np.sum(plus * u)), float(np.sum(minus * u)), float(np.sum(base * u))
            mag = abs(plus) + abs(minus)
        else:
            mid = base
            mag = np.abs(plus) + np.abs(minus)
        ests.append((_arr(plus) - _arr(minus)) / (2 * h))
        noises.append(_arr(64 * _EPS64 * mag / (2 * h)))
        jumps.append(np.abs((_arr(plus) - mid) / h - (_arr(mid) - minus) / h))
    return np.array(ests), np.array(noises), np.array(jumps)


def _kink(jumps: list, noise: np.ndarray, est: np.ndarray) -> bool:
    """One-sided differences that disagree by the same amount at two step sizes: a kink (relu at 0), not curvature.

    Where F is smooth the jump shrinks with the step (it is h F''); at a kink it stays.
    """
    big, small = jumps
    return bool(np.any((big > 0.05 * np.abs(est) + 1e3 * noise + 1e-9) & (small > 0.5 * big)))


def _directions(x: Any, max_elements: int, rng: np.random.Generator) -> tuple[list, bool]:
    """Unit vectors along each element of x (small x), or three random directions (large x)."""
    size = int(np.size(x))
    if type(x) is float:
        return [1.0], False
    if size <= max_elements:
        out = []
        for j in range(size):
            e = np.zeros(size)
            e[j] = 1.0
            out.append(e.reshape(np.shape(x)))
        return out, False
    return [rng.standard_normal(np.shape(x)) for _ in range(3)], True


def _check_vjp(gate: _Gate, i: int, rng: np.random.Generator, eps: float, rtol: float, atol: float,
               max_elements: int) -> tuple | None:
    """(expected, got, rel_error, directional, error) when the VJP for input i is wrong, else None."""
    x = gate.prims[i]
    u = 1.0 if np.ndim(gate.ans) == 0 else rng.standard_normal(np.shape(gate.ans))
    needs = [k == i for k in range(len(gate.prims))]
    try:
        with no_grad(), np.errstate(all="ignore"):
            ct = gate.rule.vjp(u, gate.ans, gate.prims, gate.ctx_params, needs)[i]
            got = np.zeros(np.shape(x)) if ct is None else _arr(fit(ct, x))
    except Exception as exc:  # the rule itself is broken: that is the finding
        return None, None, math.inf, False, f"{type(exc).__name__}: {exc}"
    dirs, directional = _directions(x, max_elements, rng)
    got_proj = np.array([float(np.sum(got * d)) for d in dirs])
    best = None
    jumps = []
    for e in (eps, eps / 10):
        est, noise, jump = _differences(gate, i, _arr(u), dirs, e)
        if _compare(got_proj, est, noise, rtol, atol):
            return None
        jumps.append(jump)
        best = best if best is not None and _rel(got_proj, best) <= _rel(got_proj, est) else est
    if _kink(jumps, noise, best):
        return "kink"
    if directional:
        return best, got_proj, _rel(got_proj, best), True, None
    expected = best.reshape(np.shape(x)) if np.ndim(x) else float(best[0])
    got_out = got if np.ndim(x) else float(got)
    return expected, got_out, _rel(got_proj, best), False, None


class _NoJVP(Exception):
    pass


def _check_jvp(gate: _Gate, i: int, rng: np.random.Generator, eps: float, rtol: float,
               atol: float) -> tuple | None:
    rule = gate.rule
    if rule.jvps is None and rule.jvp_all is None:
        raise _NoJVP(f"{rule.name} has no JVP rule")
    x = gate.prims[i]
    v = 1.0 if type(x) is float else rng.standard_normal(np.shape(x))
    ts = [v if k == i else None for k in range(len(gate.prims))]
    try:
        with no_grad(), np.errstate(all="ignore"):
            t = rule.jvp(ts, gate.ans, gate.prims, gate.ctx_params)
            got = np.zeros(np.shape(gate.ans)) if t is None else _arr(fit(t, gate.ans, broadcast=True))
    except RuntimeError as exc:
        if "defines no jvp" in str(exc):  # a custom Function without the optional jvp
            raise _NoJVP(str(exc).split(",")[0]) from None
        return None, None, math.inf, False, f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        return None, None, math.inf, False, f"{type(exc).__name__}: {exc}"
    best = None
    jumps = []
    for e in (eps, eps / 10):
        est, noise, jump = _differences(gate, i, None, [v], e)
        if _compare(got, est[0], noise[0], rtol, atol):
            return None
        jumps.append(jump[0])
        best = best if best is not None and _rel(got, best) <= _rel(got, est[0]) else est[0]
    if _kink(jumps, noise[0], best):
        return "kink"
    expected = best if np.ndim(gate.ans) else float(best)
    return expected, (got if np.ndim(gate.ans) else float(got)), _rel(got, best), False, None


def check_gates(f: Callable, *inputs: Any, names: Sequence[str] | None = None, rtol: float = 1e-5,
                atol: float = 1e-8, eps: float = 1e-6, max_elements: int = 64, seed: int = 0) -> GateReport:
    """Check every local rule of ``f``'s Wengert list on its own, against finite differences of its forward.

    ``f`` is run once on ``inputs`` (numbers, arrays or tensors; copied
    into fresh leaves).  For every recorded op, at the values it actually
    saw, its VJP (a custom ``wg.Function``'s ``backward``) and its JVP,
    where it has one, are compared with central differences of that op's
    forward alone (in float64, whatever the graph's dtype).  A node whose
    inputs are not finite, or that sits on a kink (where the one-sided
    differences disagree: ``relu`` at 0), is skipped and listed.  Inputs
    with more than ``max_elements`` elements are checked along three
    random directions instead of element by element.

    Returns a :class:`GateReport`: ``.ok``, ``.failures`` (each names the
    op, the input index, expected and got values and the relative error)
    and a readable ``str()``.

    >>> import wengert as wg
    >>> wg.check_gates(lambda x, y: wg.sin(x * y) + y, 0.5, 2.0).ok
    True
    """
    rec = _record(f, inputs, names, "check_gates")
    rng = np.random.default_rng(seed)
    failures: list[GateFailure] = []
    skipped: list[str] = []
    checked = 0
    ops = [n for n in rec.order if not n.is_leaf]
    for n in ops:
        gate = _Gate(n)
        expr = rec.expression(n)
        if _bad(gate.ans) or any(_bad(v) for v in gate.prims if isinstance(v, (float, np.ndarray))):
            skipped.append(f"{expr}: its inputs or value are not finite (see wg.explain_nan)")
            continue
        for i, a in enumerate(n.inputs):
            if not isinstance(a, Node) or np.asarray(gate.prims[i]).dtype.kind != "f":
                continue
            for kind in ("vjp", "jvp"):
                try:
                    if kind == "vjp":
                        res = _check_vjp(gate, i, rng, eps, rtol, atol, max_elements)
                    else:
                        res = _check_jvp(gate, i, rng, eps, rtol, atol)
                except _NoJVP as why:
                    note = f"{expr}: {why} (its JVP is not checked)"
                    if note not in skipped:
                        skipped.append(note)
                    continue
                checked += 1
                if res == "kink":
                    skipped.append(f"{expr}: input {i} sits on a kink of {n.op} (one-sided differences disagree)")
                    break
                if res is None:
                    continue
                expected, got, rel, directional, error = res
                failures.append(GateFailure(n.op, i, kind, expected, got, rel, rec.name(n), expr,
                                            site_text(n.site), directional, error, _custom(n), rec.name(a)))
    return GateReport(failures, checked, len(ops), skipped)


# ====================================================================== explain_nan
@dataclass(frozen=True)
class NanReport:
    """What :func:`explain_nan` found.

    ``ok`` is true when every value, local partial and adjoint is finite.
    Otherwise: ``node`` (its name), ``op``, ``expression``, ``phase``
    (``"forward"`` or ``"backward"``), ``quantity`` (``"value"``, ``"local
    partial"`` or ``"adjoint"``), ``site`` (the line of user code that made
    the node), ``inputs`` (``(name, value)`` of what went in), ``value``
    (the non-finite value), ``index`` (its first non-finite element, for
    arrays), ``trap`` (``"where"``, ``"log0"``, ``"log_negative"``,
    ``"sqrt0"``, ``"sqrt_negative"``, ``"exp_overflow"``,
    ``"divide_by_zero"``, ``"overflow"`` (another op's result too large),
    ``"input"`` or ``None``) and ``explanation``.
    """

    ok: bool
    explanation: str
    node: str | None = None
    op: str | None = None
    expression: str | None = None
    phase: str | None = None
    quantity: str | None = None
    site: str | None = None
    inputs: tuple = ()
    value: Any = None
    index: tuple | None = None
    trap: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"explain_nan: {self.explanation}"
        lines = [f"explain_nan: the first non-finite {self.quantity} is at node {self.expression} "
                 f"({self.phase} pass)"]
        if self.site:
            lines.append(f"  made at {self.site}")
        if self.inputs:
            lines.append("  in: " + ", ".join(f"{k} = {F.value(v, 6)}" for k, v in self.inputs))
        lines.append("  " + self.explanation)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return "<NanReport: ok>" if self.ok else f"<NanReport: {self.trap or self.op} at {self.node} ({self.phase})>"


def _first_bad(v: Any) -> tuple | None:
    if type(v) is float or np.ndim(v) == 0:
        return None
    a = np.asarray(v)
    idx = np.argwhere(~np.isfinite(a))
    return tuple(int(k) for k in idx[0]) if len(idx) else None


def _at(v: Any, index: tuple | None, shape: tuple) -> Any:
    """The element of ``v`` (broadcast to ``shape``) at ``index``: the value that went into a bad element."""
    if index is None or np.ndim(v) == 0:
        return v if type(v) is float or np.ndim(v) else float(np.asarray(v))
    try:
        return np.broadcast_to(np.asarray(v), shape)[index].item()
    except (ValueError, IndexError):  # not elementwise (a matmul's input): the whole value went in
        return v


def _descendants_where(order: list, start: Node) -> bool:
    """Does a ``where`` select between values that depend on ``start`` (as one of its branches)?"""
    reach = {start.key}
    for n in order:
        if n.is_leaf or n.key in reach:
            continue
        ins = n.inputs
        if n.op == "where" and any(isinstance(a, Node) and a.key in reach for a in ins[1:]):
            return True
        if any(isinstance(a, Node) and a.key in reach for a in ins):
            reach.add(n.key)
    return False


_FIX_WHERE = ("Fix: make the untaken branch's input safe, so that it is finite (and its derivative too) "
              "wherever it is not selected, e.g. wg.where(x > 0, wg.sqrt(wg.where(x > 0, x, 1.0)), 0.0).")
_FIX_LOG = ("Fix: keep the argument positive, e.g. wg.log(x + 1e-12) or wg.log(wg.clip(x, 1e-12, None)); for the "
            "log of a probability from sigmoid or softmax, compute it from the logits (wg.log_softmax, "
            "nn.functional.binary_cross_entropy_with_logits), which never forms log(0).")
_FIX_SQRT0 = ("Fix: keep the argument away from 0, e.g. wg.sqrt(x + 1e-12) (a norm: wg.sqrt(wg.sum(x ** 2) + 1e-12)), "
              "or use the squared quantity if that is what the loss needs.")
_FIX_EXP = ("Fix: subtract the maximum before exponentiating (wg.logsumexp and wg.softmax do), or use the stable "
            "forms wg.sigmoid, wg.softplus, wg.logsumexp, wg.log_softmax instead of exp/log by hand.")
_FIX_DIV = ("Fix: keep the denominator away from 0 (d + 1e-12), or guard it: wg.where(d != 0, d, 1.0) in the "
            "denominator, and select the result you want where d == 0.")


def _explain_forward(rec: _Recorded, n: Node, out_finite: bool) -> tuple[str | None, str]:
    """(trap, paragraph) for node ``n``, the first with a non-finite value."""
    name = rec.name(n)
    if n.is_leaf:
        return "input", (f"The input {name} is already not finite ({F.value(n.value, 6)}): the NaN or Inf comes "
                         "from outside f. Check the data (np.isfinite) and what produced it.")
    op = n.op
    index = _first_bad(n.value)
    vals = [_at(v, index, np.shape(n.value)) for v in n.input_values]
    bad = F.value(_at(n.value, index, np.shape(n.value)), 6)
    where_masks = out_finite and _descendants_where(rec.order, n)
    cause, trap, fix = None, None, None
    if op in ("log", "log2", "log10") and vals:
        x = float(vals[0])
        trap = "log0" if x == 0 else ("log_negative" if x < 0 else None)
        cause = (f"log({F.number(x, 6)}) = {bad}: the logarithm of 0 is -inf" if x == 0 else
                 f"log({F.number(x, 6)}) = {bad}: the logarithm of a negative number is nan")
        fix = _FIX_LOG
    elif op == "log1p" and vals and float(vals[0]) <= -1:
        trap = "log0" if float(vals[0]) == -1 else "log_negative"
        cause = f"log1p({F.number(float(vals[0]), 6)}) = {bad}: log1p(x) needs x > -1"
        fix = _FIX_LOG
    elif op == "sqrt" and vals and float(vals[0]) < 0:
        trap, fix = "sqrt_negative", _FIX_SQRT0
        cause = f"sqrt({F.number(float(vals[0]), 6)}) = {bad}: the square root of a negative number is nan"
    elif op == "exp" and vals and float(vals[0]) > 0:
        limit = 88.72 if np.asarray(n.value).dtype == np.float32 else 709.78
        trap, fix = "exp_overflow", _FIX_EXP
        cause = (f"exp({F.number(float(vals[0]), 6)}) = {bad}: exp overflows above {limit} "
                 f"(the largest float of this dtype is about e^{limit})")
    elif op == "divide" and len(vals) == 2 and float(vals[1]) == 0:
        trap, fix = "divide_by_zero", _FIX_DIV
        cause = (f"{F.number(float(vals[0]), 6)} / 0 = {bad}: a division by a zero denominator "
                 f"({'0/0 is nan' if float(vals[0]) == 0 else 'x/0 is inf'})")
    else:
        shown = ", ".join(F.number(float(v), 6) for v in vals if np.ndim(v) == 0)
        if np.isinf(_at(n.value, index, np.shape(n.value))) and all(not _bad(v) for v in vals):
            big = "3.4e38 in float32" if np.asarray(n.value).dtype == np.float32 else "1.8e308 in float64"
            trap, fix = "overflow", ("Fix: scale the values down (normalise inputs, lower the learning rate), or "
                                     "compute in log space.")
            cause = f"{op}({shown}) = {bad}: the result overflows (the largest float is about {big})"
        else:
            cause = f"{op}({shown}) = {bad}: {op} gives a non-finite value at these finite inputs"
    where = (f" at element {index}" if index is not None else "")
    text = f"{cause}{where}."
    if where_masks:
        text += (f" A where(...) downstream discards this value, so the output is finite; but the backward pass "
                 f"multiplies the zero cotangent that where sends to the untaken branch by {op}'s local partial "
                 f"there (not finite), and 0 * inf or 0 * nan is nan: the gradient is nan (the 'where' trap). "
                 + _FIX_WHERE)
        return "where", text
    return trap, text + (" " + fix if fix else "")


def _explain_backward(rec: _Recorded, n: Node, i: int, g: Any, contribution: Any) -> tuple[str | None, str, Any]:
    """(trap, paragraph, local partial) for node ``n`` whose VJP for input ``i`` turned finite g non-finite."""
    op = n.op
    index = _first_bad(contribution)
    shape = np.shape(n.value)
    partial = local_partial(n, i)  # None for a rule without elementwise partials
    vals = [_at(v, index, np.shape(contribution) if index is not None else shape) for v in n.input_values]
    p_at = None if partial is None else _at(partial, index, np.shape(contribution) if index is not None else shape)
    g_at = _at(g, index, np.shape(contribution) if index is not None else shape) if np.ndim(g) else g
    who = rec.name(n.inputs[i]) if isinstance(n.inputs[i], Node) else f"input {i}"
    lp = f"d{rec.name(n)}/d{who}"
    desc = (f"The backward pass gets a finite adjoint {F.value(g_at, 6)} at {rec.name(n)}, but {op}'s VJP turns it "
            f"into {F.value(_at(contribution, index, np.shape(contribution)) if index else contribution, 6)} for "
            f"{who}")
    if p_at is not None:
        desc += f": the local partial {lp} = {F.value(p_at, 6)} there"
    desc += f" (at element {index} of {who})." if index is not None else "."
    zero_times_inf = p_at is not None and g_at is not None and np.ndim(g_at) == 0 and float(g_at) == 0.0
    if zero_times_inf and _descendants_where(rec.order, n):
        return "where", (desc + f" That adjoint is 0 because a where(...) downstream did not select this branch, "
                         f"and 0 * {F.value(p_at, 6)} is nan: the 'where' trap. " + _FIX_WHERE), partial
    x = float(vals[0]) if vals and np.ndim(vals[0]) == 0 else None
    if op == "sqrt" and x == 0:
        return "sqrt0", (desc + " The derivative of sqrt, 1/(2 sqrt(x)), is infinite at x = 0 (e.g. the norm "
                         "of a zero vector). " + _FIX_SQRT0), partial
    if op == "power" and x == 0:
        return "sqrt0", (desc + " The derivative of x ** p with p < 1 is infinite at x = 0. " + _FIX_SQRT0), partial
    if op == "divide" and len(vals) == 2 and np.ndim(vals[1]) == 0 and float(vals[1]) == 0:
        return "divide_by_zero", desc + " The denominator is 0. " + _FIX_DIV, partial
    if op in ("log", "log2", "log10") and x == 0:
        return "log0", desc + " The derivative of log, 1/x, is infinite at 0. " + _FIX_LOG, partial
    return None, desc + f" {op} is not differentiable at these inputs (its local derivative is not finite).", partial


def explain_nan(f: Callable, *inputs: Any, names: Sequence[str] | None = None, cotangent: Any = None) -> NanReport:
    """Run ``f`` forward and backward and name the first node whose value, local partial or adjoint is not finite.

    The forward pass is searched first, in Wengert-list order; then the
    backward pass, from the output: the first node whose VJP turns a
    finite adjoint into a non-finite one.  The report names the node and
    its expression, the user's line that made it, the values that went
    in, and explains the classic traps with their fixes.  A non-scalar
    output is seeded with ``cotangent`` (default all ones).

    >>> import wengert as wg
    >>> r = wg.explain_nan(lambda x: wg.where(x > 0, wg.sqrt(x), 0.0), 0.0)
    >>> r.ok, r.trap, r.phase, r.op
    (False, 'where', 'backward', 'sqrt')
    >>> wg.explain_nan(lambda x: wg.log(x) * 2, 3.0).ok
    True
    """
    rec = _record(f, inputs, names, "explain_nan")
    out = rec.out
    out_finite = not _bad(out.data)
    for n in rec.order:
        if _bad(n.value):
            trap, text = _explain_forward(rec, n, out_finite)
            idx = _first_bad(n.value)
            ins = () if n.is_leaf else tuple(
                (rec.name(a) if isinstance(a, Node) else "constant", _at(v, idx, np.shape(n.value)))
                for a, v in zip(n.inputs, n.input_values))
            return NanReport(False, text, rec.name(n), n.op, rec.expression(n), "forward", "value",
                             site_text(n.site), ins, n.value, idx, trap)
    if cotangent is None:
        cotangent = 1.0 if out.shape == () else np.ones(out.shape)
    with np.errstate(all="ignore"):
        adj = adjoints(out, cotangent)
    for n in reversed(rec.order):
        if n.is_leaf:
            continue
        g = adj.get(n.key)
        if g is None:
            continue
        if _bad(g):
            return NanReport(False, (f"The adjoint of {rec.name(n)} is not finite although every contribution "
                                     "to it is: their sum overflowed. Scale the loss down."),
                             rec.name(n), n.op, rec.expression(n), "backward", "adjoint", site_text(n.site),
                             (), g, _first_bad(g), None)
        for i, a in enumerate(n.inputs):
            if not isinstance(a, Node):
                continue
            c = vjp_of(n, i, g)
            if _bad(c):
                trap, text, partial = _explain_backward(rec, n, i, g, c)
                quantity = "local partial" if partial is not None and _bad(partial) else "adjoint"
                ins = tuple((rec.name(b) if isinstance(b, Node) else "constant", v)
                            for b, v in zip(n.inputs, n.input_values))
                return NanReport(False, text, rec.name(n), n.op, rec.expression(n), "backward", quantity,
                                 site_text(n.site), ins, c, _first_bad(c), trap)
    return NanReport(True, f"every value, local partial and adjoint of {rec.name(rec.order[-1])} is finite "
                           f"({len(rec.order)} nodes)")


# ====================================================================== compare_modes
@dataclass
class ModesReport:
    """Forward against reverse mode for one function: passes, derivative-rule calls and measured times.

    ``forward_passes`` is n (one JVP pass per input number) and
    ``reverse_passes`` m (one VJP pass per output number); ``forward_ops``
    and ``reverse_ops`` count the derivative-rule calls of all passes
    (``ops`` is the length of the list); ``forward_time`` and
    ``reverse_time`` are measured seconds for all passes (best of
    ``repeat``).  ``jacobian`` is the m x n Jacobian (from reverse mode;
    ``agree`` says forward mode gives the same), and ``table`` the trace
    with the first pass of each side by side.
    """

    n_inputs: int
    n_outputs: int
    ops: int
    forward_passes: int
    reverse_passes: int
    forward_ops: int
    reverse_ops: int
    forward_time: float
    reverse_time: float
    jacobian: np.ndarray
    agree: bool
    table: Any

    @property
    def cheaper(self) -> str:
        """``"reverse"``, ``"forward"`` or ``"either"``: the mode with fewer passes."""
        if self.reverse_passes < self.forward_passes:
            return "reverse"
        return "forward" if self.forward_passes < self.reverse_passes else "either"

    def summary(self) -> str:
        n, m = self.n_inputs, self.n_outputs
        rows = [("mode", "passes", "derivative-rule calls", "time"),
                ("forward", str(self.forward_passes), f"{self.forward_ops} JVPs", _seconds(self.forward_time)),
                ("reverse", str(self.reverse_passes), f"{self.reverse_ops} VJPs", _seconds(self.reverse_time))]
        widths = [max(len(r[k]) for r in rows) for k in range(4)]
        lines = [f"compare_modes: {self.table.output_name} maps R^{n} -> R^{m} ({n} input number{'s' * (n != 1)}, {m} output "
                 f"number{'s' * (m != 1)}); its Wengert list has {self.ops} ops"]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        if self.cheaper == "reverse":
            lines.append(f"Reverse mode needs fewer passes ({m} instead of {n}): one per output, against one per "
                         "input. This is why deep learning backpropagates: many weights, one loss.")
        elif self.cheaper == "forward":
            lines.append(f"Forward mode needs fewer passes ({n} instead of {m}): one per input, against one per "
                         "output.")
        else:
            lines.append(f"Both modes need {n} passes here (as many inputs as outputs).")
        lines.append("Both modes give the same Jacobian." if self.agree else
                     "WARNING: the two modes give different Jacobians: a JVP or VJP rule is wrong (wg.check_gates).")
        return "\n".join(lines)

    def __str__(self) -> str:
        t = self.table
        how = (f"tangents d/d{t.wrt} (forward pass 1 of {self.forward_passes}) and adjoints of "
               f"{t.output_name}" + (" (reverse pass 1 of " + str(self.reverse_passes) + ", output element 0)"
                                     if self.n_outputs > 1 else " (the one reverse pass)"))
        return self.summary() + f"\n\nThe trace with {how}, side by side:\n" + t.to_text()

    def __repr__(self) -> str:
        return (f"<ModesReport R^{self.n_inputs} -> R^{self.n_outputs}: forward {self.forward_passes} passes, "
                f"reverse {self.reverse_passes}>")


def _seconds(t: float) -> str:
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    return f"{t * 1e3:.2f} ms" if t < 1 else f"{t:.2f} s"


def _unit(shape: tuple, j: int) -> Any:
    if shape == ():
        return 1.0
    e = np.zeros(int(np.prod(shape)))
    e[j] = 1.0
    return e.reshape(shape)


def compare_modes(f: Callable, *inputs: Any, names: Sequence[str] | None = None, repeat: int = 3) -> ModesReport:
    """Forward mode or reverse mode for ``f: R^n -> R^m``?  Both computed, counted and timed.

    Forward mode pushes one tangent per input number through the recorded
    list (n passes); reverse mode pulls one cotangent per output number
    back through it (m passes).  Both run over the same Wengert list, by
    the rules' own JVPs and VJPs, and build the whole Jacobian.  The
    report gives the passes, the derivative-rule calls, the measured times
    (best of ``repeat``), whether the two Jacobians agree, and the trace
    table with the first tangent and adjoint columns side by side
    (``wg.trace(f, ..., mode="both")``).

    >>> import wengert as wg
    >>> r = wg.compare_modes(lambda x, y, z: (x + y) * z, -2.0, 5.0, -4.0)
    >>> r.forward_passes, r.reverse_passes, r.cheaper
    (3, 1, 'reverse')
    >>> r.jacobian
    array([[-4., -4.,  3.]])
    """
    if not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"compare_modes: repeat must be a positive int, got {repeat!r}")
    names = input_names(f, inputs, names, "compare_modes")
    run = run_recorded(f, inputs, names, who="compare_modes")
    out = run.out
    if not out.requires_grad:
        raise ValueError("compare_modes: the output does not depend on the inputs (nothing was recorded)")
    leaves = run.leaves
    leaf_keys = [node_of(leaf).key for leaf in leaves]
    order = [node_of(leaf) for leaf in leaves]
    order += [n for n in nodes([out]) if n.key not in set(leaf_keys)]
    out_key = node_of(out).key
    in_shapes = [leaf.shape for leaf in leaves]
    n_in = sum(int(np.prod(s)) for s in in_shapes)
    m_out = int(np.prod(out.shape))
    n_ops = sum(1 for n in order if not n.is_leaf)

    def forward() -> tuple[np.ndarray, int]:
        cols, calls = [], 0
        for key, shape in zip(leaf_keys, in_shapes):
            for j in range(int(np.prod(shape))):
                tan = tangents(order, {key: _unit(shape, j)})
                calls += sum(1 for n in order if not n.is_leaf and tan.get(n.key) is not None)
                t = tan.get(out_key)
                cols.append(np.zeros(m_out) if t is None else np.ravel(np.asarray(t, dtype=np.float64)))
        return np.stack(cols, axis=1), calls

    def reverse() -> tuple[np.ndarray, int]:
        rows, calls = [], 0
        for j in range(m_out):
            adj = adjoints(out, _unit(out.shape, j))
            calls += sum(1 for n in order if not n.is_leaf and n.key in adj)
            rows.append(np.concatenate([np.ravel(np.asarray(adj.get(k, np.zeros(s)), dtype=np.float64))
                                        for k, s in zip(leaf_keys, in_shapes)]))
        return np.stack(rows), calls

    def best(fn: Callable) -> tuple:
        times = []
        res: Any = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = fn()
            times.append(time.perf_counter() - t0)
        return res, min(times)

    with np.errstate(all="ignore"):
        (jf, f_calls), f_time = best(forward)
        (jr, r_calls), r_time = best(reverse)
    agree = bool(np.allclose(jf, jr, rtol=1e-9, atol=1e-12, equal_nan=True))
    first = in_shapes[0]
    table = trace(f, *inputs, mode="both", names=names, wrt=0, tangent=None if first == () else _unit(first, 0),
                  cotangent=None if out.shape == () else _unit(out.shape, 0))
    return ModesReport(n_in, m_out, n_ops, n_in, m_out, f_calls, r_calls, f_time, r_time, jr, agree, table)


__all__ = ["GateFailure", "GateReport", "ModesReport", "NanReport", "check_gates", "compare_modes", "explain_nan",
           "site_text"]
