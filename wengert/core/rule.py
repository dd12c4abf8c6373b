"""Rules: one record per primitive op (forward, VJP, JVP side by side), and `apply`.

A :class:`Rule` is the whole truth about one primitive:

* ``impl(*values, **params)``: the NumPy forward computation;
* ``scalar``: an optional fast version on Python floats (``math.sin`` ...);
* ``partials``: optional local partial derivatives d ans / d arg_i, for
  elementwise ops; the VJP (``g * partial``) and JVP (``t * partial``)
  follow from them, and the trace tables of ``wengert.teach`` print them;
* ``vjp``: per-argument functions ``(g, ans, *args, **params) -> cotangent``;
* ``jvp``: per-argument functions ``(t, ans, *args, **params) -> tangent``;
* ``vjp_all`` / ``jvp_all``: one function for all arguments (variadic ops).

Rules are written with the rules themselves (``cos(x)``, ``g * y``), so they
work on plain values (fast first-order backward) and on Tensors alike (the
backward pass is then recorded: higher derivatives and forward-over-reverse
come by composition).

Calling a rule is *polymorphic*: with any Tensor argument the op is recorded
and a Tensor comes back; with plain values only, the plain result comes back.
"""
from __future__ import annotations

import inspect
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .state import STATE
from .tensor import _MANY, RULE_LIST, TAPE_MAX, Tape, Tensor, _new, _next_seq, depends, dtype_of, normalize, shape_of

REGISTRY: dict[str, Rule] = {}


class ShapeError(ValueError):
    """An op got inputs whose shapes do not fit together."""


class Rule:
    __slots__ = (
        "__weakref__",
        "arity",
        "differentiable",
        "doc",
        "impl",
        "index",
        "jvp_all",
        "jvps",
        "name",
        "op1",
        "op2",
        "param_names",
        "partials",
        "scalar",
        "tape_ok",
        "vjp_all",
        "vjps",
    )

    def __init__(
        self,
        name: str,
        impl: Callable,
        *,
        scalar: Callable | None = None,
        partials: Sequence[Callable] | None = None,
        vjp: Sequence[Callable | None] | None = None,
        jvp: Sequence[Callable | None] | None = None,
        vjp_all: Callable | None = None,
        jvp_all: Callable | None = None,
        differentiable: bool = True,
        doc: str = "",
        register: bool = True,
    ) -> None:
        self.name = name
        self.impl = impl
        self.scalar = scalar
        self.partials = tuple(partials) if partials is not None else None
        if vjp is None and partials is not None:
            vjp = tuple(_vjp_from_partial(p) for p in partials)
        if jvp is None and partials is not None:
            jvp = tuple(_jvp_from_partial(p) for p in partials)
        self.vjps = tuple(vjp) if vjp is not None else None
        self.jvps = tuple(jvp) if jvp is not None else None
        self.vjp_all = vjp_all
        self.jvp_all = jvp_all
        self.differentiable = differentiable
        self.doc = doc
        # number of array inputs; positional arguments after them are the op's parameters
        self.arity = len(self.vjps) if self.vjps is not None else None
        self.param_names: tuple = ()
        if self.arity is not None:
            try:
                names = list(inspect.signature(impl).parameters)
                self.param_names = tuple(names[self.arity:])
            except (TypeError, ValueError):
                pass
        if differentiable and self.vjps is None and vjp_all is None:
            raise ValueError(f"rule {name!r}: a differentiable rule needs vjp, vjp_all or partials")
        # scalar ops of this rule are recorded on the tape (core.tensor.Tape): it has a
        # float forward and per-input VJPs, and takes one or two inputs
        self.tape_ok = bool(scalar is not None and differentiable and self.vjps is not None
                            and vjp_all is None and self.arity in (1, 2))
        self.index = len(RULE_LIST)
        RULE_LIST.append(self)
        self.op1 = _make_op1(self)
        self.op2 = _make_op2(self)
        if register:
            if name in REGISTRY:
                raise ValueError(f"rule {name!r} is already registered")
            REGISTRY[name] = self

    def __repr__(self) -> str:
        return f"<rule {self.name}>"

    def __call__(self, *args: Any, **params: Any) -> Any:
        if len(args) == 1 and type(args[0]) is float and self.scalar is not None and not params:
            # a rule on one Python float (e.g. cos(x) inside sin's VJP on the scalar path)
            try:
                r = self.scalar(args[0])
                if type(r) is float:
                    return r
            except (ArithmeticError, ValueError):
                pass
        if self.arity is not None and len(args) > self.arity:  # e.g. reshape(x, shape)
            extra = args[self.arity:]
            if len(extra) > len(self.param_names):
                raise TypeError(f"{self.name} takes {self.arity} array argument(s) and parameters "
                                f"{self.param_names}, got {len(args)} positional arguments")
            params = {**dict(zip(self.param_names, extra)), **params}
            args = args[: self.arity]
        for a in args:
            if isinstance(a, Tensor):
                return apply(self, args, params)
        return self.evaluate(args, params)

    def evaluate(self, values: Sequence[Any], params: dict) -> Any:
        """Compute the forward value on plain values (the scalar path when it applies)."""
        s = self.scalar
        if s is not None and not params:
            for v in values:
                tv = type(v)
                if tv is not float and tv is not int:
                    break
            else:
                try:
                    out = s(*values)
                    if type(out) is float:
                        return out
                except (ArithmeticError, ValueError):
                    pass  # math raises where NumPy returns inf/nan: let NumPy decide
                values = [np.float64(v) for v in values]
        try:
            out = self.impl(*values, **params)
        except ValueError as exc:
            msg = str(exc)
            if not any(w in msg for w in _SHAPE_WORDS):
                raise  # a rule's own validation message passes through unchanged
            shapes = ", ".join(str(shape_of(v)) for v in values if not isinstance(v, (str, type(None))))
            raise ShapeError(f"{self.name}: inputs of shapes {shapes} do not fit: {msg}") from None
        return normalize(out)


def _released_impl(*values: Any) -> Any:
    raise RuntimeError("a released graph node cannot be evaluated")


# NumPy's words for inputs whose shapes do not fit together
_SHAPE_WORDS = ("broadcast", "shape", "mismatch", "align", "dimension", "size")


def _vjp_from_partial(p: Callable) -> Callable:
    def vjp(g, ans, *args, **params):
        return g * p(ans, *args, **params)

    return vjp


def _jvp_from_partial(p: Callable) -> Callable:
    def jvp(t, ans, *args, **params):
        return t * p(ans, *args, **params)

    return jvp


def _constant(a: Any, rule: Rule) -> Any:
    """Check a non-Tensor argument of an op: numbers and numeric arrays only."""
    t = type(a)
    if t is float or t is int or t is bool:
        return a
    if t is np.ndarray or isinstance(a, np.generic):
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{rule.name}: unsupported dtype {a.dtype} (complex and object arrays are not supported)")
        return a
    if t is list or t is tuple:
        arr = np.asarray(a)
        return _constant(arr, rule)
    if isinstance(a, complex):
        raise TypeError(f"{rule.name}: complex numbers are not supported")
    raise TypeError(f"{rule.name}: cannot use an argument of type {t.__name__} as an array")


def apply(rule: Rule, args: Sequence[Any], params: dict) -> Tensor:
    """Run one op on Tensors: compute, record it in the graph, carry tangents."""
    values = []
    record = False
    tangent = False
    converted = False
    for a in args:
        if isinstance(a, Tensor):
            values.append(a._value)
            if a.requires_grad:
                record = True
            if a._tangent is not None:
                tangent = True
        else:
            c = _constant(a, rule)
            converted = converted or c is not a
            values.append(c)
    if converted:
        args = tuple(a if isinstance(a, Tensor) else v for a, v in zip(args, values))
    out = _new(rule.evaluate(values, params))
    return _finish(rule, out, args, values, params, record, tangent)


def _finish(rule: Rule, out: Tensor, args: Sequence[Any], values: Sequence[Any], params: dict,
            record: bool, tangent: bool) -> Tensor:
    """Record ``out`` as the op's output, check anomalies, carry the tangent."""
    record = record and STATE.grad_enabled and rule.differentiable
    if (record and rule.tape_ok and not params and type(out._value) is float and not STATE.anomaly
            and not (tangent and STATE.forward_active) and len(args) == rule.arity and _scalars(values)):
        if len(args) == 1:
            _tape1(rule, out, args[0], values[0])
        else:
            _tape2(rule, out, args[0], values[0], args[1], values[1])
        return out
    if record:
        out.requires_grad = True
    # Recorded: for reverse mode (record), or, while wg.jit traces, because an input
    # depends on the traced inputs (an op without derivative, an op under no_grad):
    # such a node keeps requires_grad False, so the backward walk never enters it,
    # but the jit program replays it (see wengert.jit).
    if record or (STATE.tracing and _any_depends(args)):
        out._rule = rule
        n = len(args)  # the inputs go to the node's two slots (see Tensor._args), written directly
        if n == 1:
            out._in0 = args[0]
        elif n == 2:
            out._in0, out._in1 = args
        else:
            out._in0, out._in1 = tuple(args), _MANY
        out._params = params or None
        for a in args:
            if isinstance(a, Tensor) and a._tape is not None:
                # this node holds the tensor of a tape entry: make it the entry's view, so that
                # reading the graph through the tape gives this same object (one node per entry
                # for the walk, trace tables and wg.jit)
                a._tape.register(a)
    if STATE.anomaly:
        _anomaly_forward(rule, out, record)
    if tangent and STATE.forward_active and rule.differentiable:
        # while tracing, tangents are computed on Tensors too, so that they are recorded
        out._tangent = _forward_tangent(rule, args, values, params, out, record or STATE.tracing > 0)
    return out


def _any_depends(args: Sequence[Any]) -> bool:
    for a in args:
        if depends(a):
            return True
    return False


_NOPARAMS: dict = {}
_alloc = object.__new__


def _scalars(values: Sequence[Any]) -> bool:
    for v in values:
        t = type(v)
        if t is not float and t is not int:
            return False
    return True


# Recording on the scalar tape (see core.tensor.Tape for the entry layouts).
def _tape1(rule: Rule, out: Tensor, x: Any, xv: Any) -> None:
    tape = STATE.tape
    if len(tape.entries) >= TAPE_MAX:
        tape = STATE.tape = Tape()
    r0 = tape.ref(x)
    entries = tape.entries
    out._idx = len(entries)
    entries.append((out._seq, rule.index, r0, xv, out._value))
    out.requires_grad = True
    out._rule = rule
    out._tape = tape


def _tape2(rule: Rule, out: Tensor, x: Any, xv: Any, y: Any, yv: Any) -> None:
    tape = STATE.tape
    if len(tape.entries) >= TAPE_MAX:
        tape = STATE.tape = Tape()
    r0 = tape.ref(x)
    r1 = tape.ref(y)
    entries = tape.entries
    out._idx = len(entries)
    entries.append((out._seq, rule.index, r0, r1, xv, yv, out._value))
    out.requires_grad = True
    out._rule = rule
    out._tape = tape


# The hot path of scalar code (micrograd-style networks, the W1/W4 benchmarks).
# Each rule carries `op1` / `op2`: the same thing as `apply` for the common case
# (one or two inputs, no parameters, Python-float values) with no list building,
# inlined recording on the tape, and no extra call: Tensor operators *are*
# these functions (wengert.ops.methods).  Anything else falls back to `apply`.
def apply1(rule: Rule, x: Tensor) -> Tensor:
    return rule.op1(x)


def apply2(rule: Rule, x: Any, y: Any) -> Tensor:
    return rule.op2(x, y)


def _make_op1(rule: Rule) -> Callable:
    s = rule.scalar
    index = rule.index
    fast = s is not None and rule.tape_ok

    def op1(x: Tensor) -> Tensor:
        v = x._value
        if fast and type(v) is float and not (STATE.anomaly or STATE.forward_active):
            try:
                r = s(v)
            except (ArithmeticError, ValueError):
                r = None
            if type(r) is float:
                out = _new(r)
                if x.requires_grad and STATE.grad_enabled:
                    tape = STATE.tape
                    entries = tape.entries
                    if len(entries) < TAPE_MAX:
                        # x is on this tape (an index), or already imported, or Tape.ref imports it
                        r0 = x._idx if x._tape is tape else tape.imports.get(id(x))
                        if r0 is None:
                            r0 = tape.ref(x)
                        out._idx = len(entries)
                        entries.append((out._seq, index, r0, v, r))
                        out.requires_grad = True
                        out._rule = rule
                        out._tape = tape
                    else:
                        _tape1(rule, out, x, v)
                    return out
                if STATE.tracing:  # wg.jit may need this op recorded: _finish decides
                    return apply(rule, (x,), _NOPARAMS)
                return out
        return apply(rule, (x,), _NOPARAMS)

    return op1


def _make_op2(rule: Rule) -> Callable:
    s = rule.scalar
    index = rule.index
    fast = s is not None and rule.tape_ok

    def op2(x: Any, y: Any) -> Tensor:
        if isinstance(x, Tensor):
            xv = x._value
            xg = x.requires_grad
            if isinstance(y, Tensor):
                yv = y._value
                yg = y.requires_grad
            else:
                yv = y
                yg = False
        else:  # reflected operator: y is the Tensor
            xv = x
            xg = False
            yv = y._value
            yg = y.requires_grad
        tx = type(xv)
        ty = type(yv)
        if fast and (tx is float or tx is int) and (ty is float or ty is int) and (tx is float or ty is float):
            try:
                r = s(xv, yv)
            except (ArithmeticError, ValueError):
                r = None
            if type(r) is float and not (STATE.anomaly or STATE.forward_active):
                # the new Tensor is built here rather than by _new (same slots; one call less
                # per op, and each slot written once)
                out = _alloc(Tensor)
                out._value = r
                out.grad = None
                out._in0 = None
                out._in1 = None
                out._params = None
                out._seq = seq = _next_seq()
                out._tangent = None
                out._cot = None
                out._retain = False
                out._meta = None
                if (xg or yg) and STATE.grad_enabled:
                    # _tape2 written out: an input on this tape is named by its index
                    # (the common case, no call), anything else by Tape.ref
                    tape = STATE.tape
                    entries = tape.entries
                    if len(entries) < TAPE_MAX:
                        # an input is on this tape (an index), or an imported tensor (a leaf: the
                        # dict lookup), or a number (None); Tape.ref handles the rest
                        if xg:
                            r0 = x._idx if x._tape is tape else tape.imports.get(id(x))
                            if r0 is None:
                                r0 = tape.ref(x)
                        else:
                            r0 = tape.ref(x) if isinstance(x, Tensor) else None
                        if yg:
                            r1 = y._idx if y._tape is tape else tape.imports.get(id(y))
                            if r1 is None:
                                r1 = tape.ref(y)
                        else:
                            r1 = tape.ref(y) if isinstance(y, Tensor) else None
                        out._idx = len(entries)
                        entries.append((seq, index, r0, r1, xv, yv, r))
                        out.requires_grad = True
                        out._rule = rule
                        out._tape = tape
                        return out
                    out._tape = None
                    _tape2(rule, out, x, xv, y, yv)
                    return out
                if STATE.tracing:  # wg.jit may need this op recorded: _finish decides
                    return apply(rule, (x, y), _NOPARAMS)
                out.requires_grad = False
                out._rule = None
                out._tape = None
                return out
        return apply(rule, (x, y), _NOPARAMS)

    return op2


def _forward_tangent(rule: Rule, args: Sequence[Any], values: list, params: dict, out: Tensor, recorded: bool) -> Any:
    """Forward mode: the output tangent from the input tangents, via the rule's JVP.

    When the op was recorded for reverse mode, the JVP is evaluated on Tensors
    so that the tangent is differentiable too (reverse-over-forward);
    otherwise it works on plain values and records nothing.
    """
    saved = STATE.forward_active
    STATE.forward_active = 0  # tangents of tangents are not carried (one level)
    try:
        if recorded and (STATE.record_tangents or STATE.tracing):
            prims, ans = args, out
        else:
            prims, ans = values, out._value
        try:
            tout = _jvps(rule, args, ans, prims, params, False)
        except ArithmeticError:  # Python floats raise where NumPy gives inf/nan: redo in NumPy scalars
            tout = _jvps(rule, args, _np(ans), [_np(p) for p in prims], params, True)
        if tout is None:
            return None
        return fit(tout, out._value, broadcast=True)
    finally:
        STATE.forward_active = saved


def _jvps(rule: Rule, args: Sequence[Any], ans: Any, prims: Sequence[Any], params: dict, as_np: bool) -> Any:
    tangents = [(_np(a._tangent) if as_np else a._tangent) if isinstance(a, Tensor) else None for a in args]
    if rule.jvp_all is not None:
        return rule.jvp_all(tangents, ans, *prims, **params)
    tout = None
    jvps = rule.jvps
    for i, t in enumerate(tangents):
        if t is not None:
            c = jvps[i](t, ans, *prims, **params)
            tout = c if tout is None else tout + c
    return tout


def _np(v: Any) -> Any:
    return np.float64(v) if type(v) is float else v


def ieee(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn`` on plain values with NumPy's IEEE semantics.

    Python floats raise where NumPy returns inf or nan (``1 / 0.0``), so on an
    ``ArithmeticError`` the call is repeated with float arguments as NumPy scalars.
    """
    try:
        return fn(*args, **kwargs)
    except ArithmeticError:
        return fn(*[_np(a) for a in args], **kwargs)


# Set by wengert.core.shapes (the primitives that undo broadcasting and cast dtypes).
_sum_to: Callable = None  # type: ignore[assignment]
_broadcast_to: Callable = None  # type: ignore[assignment]
_cast: Callable = None  # type: ignore[assignment]


def fit(ct: Any, like: Any, broadcast: bool = False) -> Any:
    """Bring a cotangent (or, with broadcast=True, a tangent) to the shape and dtype of ``like``.

    This is the one place where broadcasting is undone: a cotangent with the
    output's (broadcast) shape is summed back to the input's shape.
    """
    if type(ct) is float and type(like) is float:
        return ct
    if type(ct) is np.ndarray and type(like) is np.ndarray and ct.shape == like.shape and ct.dtype == like.dtype:
        return ct  # the common case for arrays, without the generic checks below
    shape = shape_of(like)
    cshape = shape_of(ct)
    if cshape != shape:
        ct = _broadcast_to(ct, shape) if broadcast else _sum_to(ct, shape)
    dt = dtype_of(like)
    if dtype_of(ct) != dt:
        ct = _cast(ct, dt)
    if not isinstance(ct, Tensor) and type(ct) is not float and type(ct) is not np.ndarray:
        ct = normalize(ct)
    return ct


# ------------------------------------------------------------------ anomaly
def creation_site() -> str:
    """The innermost stack frame outside the wengert package: where user code called the op."""
    pkg = __name__.rsplit(".", 2)[0]
    frame = sys._getframe(1)
    while frame is not None:
        mod = frame.f_globals.get("__name__", "")
        if mod != pkg and not mod.startswith(pkg + "."):
            return f'File "{frame.f_code.co_filename}", line {frame.f_lineno}, in {frame.f_code.co_name}'
        frame = frame.f_back
    return "<unknown>"


def _bad(value: Any) -> str | None:
    v = value._value if isinstance(value, Tensor) else value
    if type(v) is float:
        if math.isnan(v):
            return "nan"
        return "inf" if math.isinf(v) else None
    a = np.asarray(v)
    if a.dtype.kind != "f":
        return None
    if np.isnan(a).any():
        return "nan"
    if np.isinf(a).any():
        return "inf"
    return None


def _anomaly_forward(rule: Rule, out: Tensor, recorded: bool) -> None:
    site = creation_site()
    if recorded:
        if out._meta is None:
            out._meta = {}
        out._meta["site"] = site
    kind = _bad(out)
    if kind:
        raise FloatingPointError(f"forward of op '{rule.name}' produced {kind} (detect_anomaly); op created at {site}")


def anomaly_backward(node: Tensor, ct: Any, index: int) -> None:
    kind = _bad(ct)
    if kind:
        site = (node._meta or {}).get("site", "<unknown: enable detect_anomaly before the forward pass>")
        raise FloatingPointError(
            f"backward of op '{node._rule.name}' produced {kind} in the gradient of its input {index} "
            f"(detect_anomaly); op created at {site}"
        )


# The rule shown for a tape entry that backward() released (see core.tensor.Tape.view).
RELEASED_RULE = Rule("released", _released_impl, differentiable=False, register=False,
                     doc="a step whose saved values backward() released")


__all__ = ["REGISTRY", "Rule", "ShapeError", "apply", "apply1", "apply2", "fit"]
