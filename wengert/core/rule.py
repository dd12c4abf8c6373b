"""Rules: one record per primitive op (forward, VJP, JVP side by side), and ``bind``, which applies one.

A :class:`Rule` is the whole truth about one primitive:

* ``impl(*values, **params)``: the NumPy forward computation;
* ``scalar``: an optional fast version on Python floats (``math.sin`` ...);
* ``partials``: optional local partial derivatives d ans / d arg_i, for
  elementwise ops; the VJP (``g * partial``) and JVP (``t * partial``)
  follow from them, and the trace tables of ``wengert.teach`` print them;
* ``vjp``: per-argument functions ``(g, ans, *args, **params) -> cotangent``;
* ``jvp``: per-argument functions ``(t, ans, *args, **params) -> tangent``;
* ``vjp_all`` / ``jvp_all``: one function for all arguments (variadic ops);
* ``batch``: the batching rule (filled by wg.vmap's rules);
* ``real_only``: why the op refuses complex inputs (e.g. "complex numbers
  are not ordered"), or "" for ops defined on complex numbers too;
* the public surface it is reached by (``wg.NAME``, Tensor methods, NumPy
  functions), from which ``wengert.ops`` generates them.

Rules are written with the rules themselves (``cos(x)``, ``g * y``), so they
work on plain values (a fast first-order backward) and on Tensors alike (the
backward pass is then processed by whatever interpreters own those tensors:
higher derivatives come by composition).

Calling a rule is *polymorphic*: with plain values only, the plain result
comes back; with any Tensor argument, :func:`bind` hands the op to the
interpreter that owns the inputs (see :mod:`wengert.core.interpret`) and a
Tensor comes back.
"""
from __future__ import annotations

import inspect
import math
import operator
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import tape as _lists
from .state import _get, state
from .tape import RULES, Tape
from .tensor import Tensor, _alloc, _new, dtype_of, normalize, shape_of

REGISTRY: dict[str, Rule] = {}


class ShapeError(ValueError):
    """An op got inputs whose shapes do not fit together."""


class Rule:
    __slots__ = (
        "__weakref__",
        "arity",
        "batch",
        "compact",
        "differentiable",
        "doc",
        "impl",
        "index",
        "jvp_all",
        "jvp_by_partials",
        "jvps",
        "name",
        "op1",
        "op2",
        "operator2",
        "param_names",
        "partials",
        "real_only",
        "scalar",
        "surface",
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
        batch: Callable | None = None,
        differentiable: bool = True,
        doc: str = "",
        register: bool = True,
        surface: Any = None,
        real_only: str = "",
    ) -> None:
        self.name = name
        self.impl = impl
        self.scalar = scalar
        self.partials = tuple(partials) if partials is not None else None
        if vjp is None and partials is not None:
            vjp = tuple(_vjp_from_partial(p) for p in partials)
        self.jvp_by_partials = jvp is None and partials is not None
        if jvp is None and partials is not None:
            jvp = tuple(_jvp_from_partial(p) for p in partials)
        self.vjps = tuple(vjp) if vjp is not None else None
        self.jvps = tuple(jvp) if jvp is not None else None
        self.vjp_all = vjp_all
        self.jvp_all = jvp_all
        self.batch = batch
        self.differentiable = differentiable
        self.doc = doc
        self.surface = surface
        # why complex inputs are refused and what to do ("complex numbers are not ordered; ..."), or "" if accepted
        self.real_only = real_only
        # number of array inputs; positional arguments after them are the op's parameters
        self.arity = len(self.vjps) if self.vjps is not None else None
        self.param_names: tuple = ()
        try:
            if isinstance(impl, np.ufunc):  # (a ufunc's own keywords, out= and where=, are not the op's parameters)
                raise TypeError
            names = [p.name for p in inspect.signature(impl).parameters.values()
                     if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            self.param_names = tuple(names[self.arity:]) if self.arity is not None else ()
        except (TypeError, ValueError):
            pass
        if differentiable and self.vjps is None and vjp_all is None:
            raise ValueError(f"rule {name!r}: a differentiable rule needs vjp, vjp_all or partials")
        # an op of this rule on Python floats takes the scalar fast path (op1 / op2 below):
        # it has a float forward and per-input VJPs, and takes one or two inputs
        self.tape_ok = bool(scalar is not None and differentiable and self.vjps is not None
                            and vjp_all is None and self.arity in (1, 2))
        # its entries without parameters use the compact layouts (core.tape), which the walk
        # reads with per-input VJPs
        self.compact = self.vjps is not None and vjp_all is None
        self.index = len(RULES)
        RULES.append(self)
        self.op1 = _make_op1(self)
        self.op2 = _make_op2(self)
        self.operator2 = _make_op2(self, operator=True)
        if register:
            if name in REGISTRY:
                raise ValueError(f"rule {name!r} is already registered")
            REGISTRY[name] = self

    def __repr__(self) -> str:
        return f"<rule {self.name}>"

    def __call__(self, *args: Any, **params: Any) -> Any:
        if len(args) == 1 and type(args[0]) is float and self.scalar is not None and not params:
            # a rule on one Python float (e.g. cos(x) inside sin's VJP on the plain path)
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
                return bind(self, args, params)
        return self.evaluate(args, params)

    def evaluate(self, values: Sequence[Any], params: dict) -> Any:
        """Compute the forward value on plain values (the scalar path when it applies)."""
        s = self.scalar
        if s is not None and len(values) == 2:
            values = _category_promotion(values)
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
        if self.real_only:
            for v in values:
                if type(v) is not np.ndarray or v.dtype.kind == "c":
                    check_real(self, values)  # (arrays of real numbers, the common case, pass without the call)
                    break
        try:
            out = self.impl(*values, **params)
        except ValueError as exc:
            msg = str(exc)
            if not any(w in msg for w in _SHAPE_WORDS):
                raise  # a rule's own validation message passes through unchanged
            shapes = ", ".join(str(shape_of(v)) for v in values if not isinstance(v, (str, type(None))))
            raise ShapeError(f"{self.name}: inputs of shapes {shapes} do not fit: {msg}") from None
        if type(out) is np.ndarray and out.ndim:
            return out  # already in storage form (normalize's first case, without the call)
        return normalize(out)

    # ---------------------------------------------------------- derivatives
    def jvp(self, tangents: Sequence[Any], ans: Any, prims: Sequence[Any], params: dict) -> Any:
        """The output tangent for input ``tangents`` (None: zero), or None if every tangent is zero."""
        if self.jvp_all is not None:
            return self.jvp_all(list(tangents), ans, *prims, **params)
        if self.jvp_by_partials and len(tangents) == 2 and tangents[0] is not None and tangents[0] is tangents[1] \
                and prims[0] is prims[1]:
            # one input twice (x * x): t * (p0 + p1), the partials added on the primal, not two products of t
            p0, p1 = self.partials
            return tangents[0] * (p0(ans, *prims, **params) + p1(ans, *prims, **params))
        out = None
        jvps = self.jvps
        for i, t in enumerate(tangents):
            if t is not None:
                c = jvps[i](t, ans, *prims, **params)
                out = c if out is None else out + c
        return out

    def vjp(self, g: Any, ans: Any, prims: Sequence[Any], params: dict, needs: Sequence[bool]) -> list:
        """The cotangent of each input that ``needs`` one (None elsewhere), for output cotangent ``g``."""
        if self.vjp_all is not None:
            return list(self.vjp_all(g, ans, list(needs), *prims, **params))
        vjps = self.vjps
        return [vjps[i](g, ans, *prims, **params) if need else None for i, need in enumerate(needs)]


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


def constant(a: Any, rule: Rule) -> Any:
    """Check a non-Tensor argument of an op: numbers and numeric arrays only."""
    t = type(a)
    if t is float or t is int or t is bool or t is complex:
        return a
    if t is np.ndarray or isinstance(a, np.generic):
        if a.dtype.kind not in "biufc":
            raise TypeError(f"{rule.name}: unsupported dtype {a.dtype} (object and string arrays are not supported)")
        return a
    if t is list or t is tuple:
        from .tensor import _contains_tensor

        if _contains_tensor(a):
            raise TypeError(f"{rule.name}: a list that holds tensors is not an array; make it one tensor in the "
                            "graph first, with wg.stack(...) or wg.tensor([...])")
        return constant(np.asarray(a), rule)
    if isinstance(a, complex):
        return complex(a)
    raise TypeError(f"{rule.name}: cannot use an argument of type {t.__name__} as an array")


def check_real(rule: Rule, values: Sequence[Any]) -> None:
    """Raise for a complex input to a rule that is defined on real numbers only (``real_only``: an ordering ...)."""
    for v in values:
        if type(v) is not float and v is not None and dtype_of(v).kind == "c":
            raise TypeError(f"{rule.name}: complex inputs are not supported: {rule.real_only}")


# ====================================================================== bind
def bind(rule: Rule, args: Sequence[Any], params: dict) -> Tensor:
    """Apply ``rule`` to ``args`` (some of them Tensors): the interpreter that owns the inputs processes it.

    A dynamic interpreter (anomaly checking ...) sees every op first.  Then
    the highest transform level that owns an input (its box is among the
    arguments) processes the op.  With none, the eager interpreter does: it
    computes on the plain values, and records the op on the thread's list
    when an input requires grad (written here, in the loop that looks for
    a level: this runs for every op).
    """
    try:
        st = _get()
    except LookupError:
        st = state()
    if st.dynamic is not None:
        return st.dynamic.process(rule, args, params)
    values = []
    record = False
    held_float = False
    for a in args:
        if isinstance(a, Tensor):
            t = a._trace
            if t is not None:
                if t.alive:
                    return _top_level(args).process(rule, args, params)
            elif a.requires_grad:
                record = True
            v = a._value
            values.append(v)
            held_float = held_float or type(v) is float
        else:
            values.append(constant(a, rule))
    if held_float and len(values) > 1:
        values = _strong_zero_d(args, values)
    out = _new(rule.evaluate(values, params))
    if record and st.grad_enabled and rule.differentiable:
        record_eager(st, rule, out, args, values, params)
    return out


def _top_level(args: Sequence[Any]) -> Any:
    """The highest running level that owns one of ``args``."""
    top = None
    for a in args:
        if isinstance(a, Tensor):
            t = a._trace
            if t is not None and t.alive and (top is None or t.level > top.level):
                top = t
    return top


apply = bind  # (the name used by custom ops and older code)


def lower(rule: Rule, values: Sequence[Any], params: dict) -> Any:
    """Apply ``rule`` one level down: ``bind`` if a Tensor is among ``values``, else plain evaluation."""
    for v in values:
        if isinstance(v, Tensor):
            return bind(rule, values, params)
    return rule.evaluate([constant(v, rule) for v in values], params)


def _category_promotion(values: Sequence[Any]) -> Sequence[Any]:
    """An integer array against a floating one takes the float's dtype (PyTorch's and JAX's rule).

    NumPy gives float64 for float32 with int64, which would silently turn a
    float32 model float64 (``x ** wg.tensor([1, 2, 3])``).
    """
    a, b = values
    da, db = getattr(a, "dtype", None), getattr(b, "dtype", None)
    if da is None or db is None or da == db:
        return values
    if da.kind in "fc" and db.kind in "iu":
        return (a, b.astype(da))
    if db.kind in "fc" and da.kind in "iu":
        return (a.astype(db), b)
    return values


def _strong_zero_d(args: Sequence[Any], values: list) -> list:
    """Two 0-d tensors promote as arrays do (float64 with float32 is float64), as in PyTorch.

    A 0-d float64 tensor holds a Python float, which NumPy would treat as a
    weak scalar (float32 wins); against another 0-d float tensor it is made
    a NumPy float64.  Against arrays with axes it stays weak, as PyTorch's
    0-d tensors are.
    """
    low = False
    for a, v in zip(args, values):
        if isinstance(a, Tensor) and type(v) is np.ndarray:
            if v.ndim:
                return values
            low = low or (v.dtype.kind == "f" and v.dtype != _F64)
    if not low:
        return values
    return [np.float64(v) if type(v) is float and isinstance(a, Tensor) else v for a, v in zip(args, values)]


_F64 = np.dtype(np.float64)


def record_eager(st: Any, rule: Rule, out: Tensor, args: Sequence[Any], values: Sequence[Any], params: dict) -> None:
    """Put ``out = rule(*args)`` on the thread's eager list.

    The list is the thread's current one, or a new one when that is full, or
    when an input lives on a list made after it (by another thread: the walk
    visits newer lists first, so this list may not import from it).  The
    inputs' references are found in the same pass (``Tape.ref`` written out:
    this runs for every recorded op).
    """
    tape = st.tape
    if len(tape.entries) >= _lists.TAPE_MAX or tape.nbytes >= _lists.TAPE_BYTES:
        tape = st.tape = Tape()
    while True:
        refs = []
        entries, imports = tape.entries, tape.imports
        for a in args:
            if isinstance(a, Tensor) and a._trace is None:
                if not a.requires_grad:
                    refs.append(a)
                    continue
                t = a._tape
                if t is tape:
                    refs.append(a._idx)
                    continue
                if t is not None and t.order > tape.order:
                    break
                i = imports.get(id(a))
                if i is None:
                    i = imports[id(a)] = len(entries)
                    entries.append((a,))
                refs.append(i)
            else:
                refs.append(None)
        else:
            break
        tape = st.tape = Tape()
    record(tape, rule, out, refs, values, params)
    out.requires_grad = True


def record(tape: Tape, rule: Rule, out: Tensor, refs: Sequence[Any], values: Sequence[Any], params: dict) -> None:
    """Append the entry ``out = rule(inputs)`` to ``tape`` (see core.tape for the layouts) and place ``out`` there."""
    ans = out._value if out._trace is None else out._primal
    n = len(refs)
    entries = tape.entries
    out._idx = len(entries)
    if not params and n == 1 and rule.compact:
        entries.append((rule.index, refs[0], values[0], ans))
    elif not params and n == 2 and rule.compact:
        entries.append((rule.index, refs[0], refs[1], values[0], values[1], ans))
    elif not params and n == 3 and rule.compact:
        entries.append((rule.index, refs[0], refs[1], refs[2], values[0], values[1], values[2], ans))
    else:
        entries.append((rule.index, tuple(refs), tuple(values), ans, params or None))
    if type(ans) is np.ndarray:
        tape.nbytes += ans.nbytes
    out._tape = tape


# ====================================================================== the scalar fast path
# Scalar code (micrograd-style networks, the W1/W4 benchmarks) spends most of its
# time in one place: an eager op on one or two Python floats.  Each rule carries
# `op1` / `op2`, which do what `bind` does for that case with no list
# building, no extra call and the recording written out; Tensor operators *are*
# these functions (wengert.ops.methods).  Anything else goes to `bind`.
# NumPy scalars next to a float64 value compute as Python numbers: the same value
# and dtype (NEP 50), at the scalar path's speed.
_NP_NUMBERS = frozenset({np.float64, np.float32, np.int64, np.int32, np.int16, np.int8,
                         np.uint64, np.uint32, np.uint16, np.uint8})


def _make_op1(rule: Rule) -> Callable:
    s = rule.scalar
    index = rule.index
    fast = s is not None and rule.tape_ok
    noparams: dict = {}

    def op1(x: Tensor) -> Tensor:
        v = x._value
        if fast and type(v) is float and x._trace is None:
            try:
                st = _get()
            except LookupError:
                st = state()
            if st.dynamic is None:
                try:
                    r = s(v)
                except (ArithmeticError, ValueError):
                    r = None
                if type(r) is float:
                    out = _new(r)
                    if x.requires_grad and st.grad_enabled:
                        tape = st.tape
                        entries = tape.entries
                        r0 = x._idx if x._tape is tape else tape.imports.get(id(x))
                        if r0 is None or len(entries) >= _TAPE_MAX:
                            record_eager(st, rule, out, (x,), (v,), noparams)
                            return out
                        out._idx = len(entries)
                        entries.append((index, r0, v, r))
                        out.requires_grad = True
                        out._tape = tape
                    return out
        return bind(rule, (x,), noparams)

    return op1


def _operand(v: Any) -> bool:
    """Is ``v`` something an op takes as an argument (else, for an operator, Python asks the other operand)?"""
    return isinstance(v, (Tensor, np.ndarray, np.generic, float, int, complex, list, tuple))


def _make_op2(rule: Rule, operator: bool = False) -> Callable:
    """The rule's two-argument entry point with the scalar fast path.

    ``operator``: Python's binary operator (``t * y``): an operand of a foreign
    type gives ``NotImplemented``, so that Python tries the other operand's
    reflected method (an xarray DataArray's ``__rmul__``) instead of an error.
    """
    s = rule.scalar
    index = rule.index
    fast = s is not None and rule.tape_ok
    noparams: dict = {}
    numbers = _NP_NUMBERS

    if operator:
        def slow(x: Any, y: Any) -> Any:
            if not (_operand(x) and _operand(y)):
                return NotImplemented
            return bind(rule, (x, y), noparams)
    else:
        def slow(x: Any, y: Any) -> Any:
            return bind(rule, (x, y), noparams)

    def op2(x: Any, y: Any) -> Tensor:
        if not fast:
            return slow(x, y)
        if isinstance(x, Tensor):
            if x._trace is not None:
                return slow(x, y)
            xv = x._value
            xg = x.requires_grad
            if isinstance(y, Tensor):
                if y._trace is not None:
                    return slow(x, y)
                yv = y._value
                yg = y.requires_grad
            else:
                yv = y
                yg = False
        else:  # a reflected operator: y is the Tensor
            if y._trace is not None:
                return slow(x, y)
            xv = x
            xg = False
            yv = y._value
            yg = y.requires_grad
        tx = type(xv)
        ty = type(yv)
        if tx is float:
            if ty is not float and ty is not int:
                if ty not in numbers:
                    return slow(x, y)
                yv = float(yv)
        elif ty is float:
            if tx is not int:
                if tx not in numbers:
                    return slow(x, y)
                xv = float(xv)
        else:
            return slow(x, y)
        try:
            st = _get()
        except LookupError:
            st = state()
        if st.dynamic is not None:
            return slow(x, y)
        try:
            r = s(xv, yv)
        except (ArithmeticError, ValueError):
            return slow(x, y)
        if type(r) is not float:
            return slow(x, y)
        # the new Tensor is built here rather than by _new (the same slots, each written once)
        out = _alloc(Tensor)
        out._value = r
        out._trace = None
        out._grad = None
        out._meta = None
        if (xg or yg) and st.grad_enabled:
            tape = st.tape
            entries = tape.entries
            # an input on this tape is named by its index (the common case), an imported
            # one (a leaf) by a dict lookup, a number or constant by None / the tensor
            if xg:
                r0 = x._idx if x._tape is tape else tape.imports.get(id(x))
            else:
                r0 = x if isinstance(x, Tensor) else None
            if yg:
                r1 = y._idx if y._tape is tape else tape.imports.get(id(y))
            else:
                r1 = y if isinstance(y, Tensor) else None
            if (xg and r0 is None) or (yg and r1 is None) or len(entries) >= _TAPE_MAX:
                out._tape = None
                record_eager(st, rule, out, (x, y), (xv, yv), noparams)
                return out
            out._idx = len(entries)
            entries.append((index, r0, r1, xv, yv, r))
            out.requires_grad = True
            out._tape = tape
            return out
        out.requires_grad = False
        out._tape = None
        return out

    return op2


_TAPE_MAX = 1 << 18  # kept equal to core.tape.TAPE_MAX (read here as a local constant: the hot path)


# ====================================================================== helpers
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
    output's (broadcast) shape is summed back to the input's shape.  It is also
    where complex numbers meet real ones: a complex cotangent or tangent of a
    real value is cast to its real part (the ``cast`` rule; docs/complex.md).
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


def creation_site() -> str:
    """Where user code called the op: the innermost stack frame outside the wengert package.

    The ``wengert`` command's own launcher (and runpy) are not user code: when
    no user frame is on the stack (``wengert train --detect-anomaly``), the
    innermost frame of the package is named instead, and said to be ours.
    """
    frame = sys._getframe(1)
    inner = None
    while frame is not None:
        if _ours(frame):
            inner = inner or frame
        else:
            return _site(frame)
        frame = frame.f_back
    return _site(inner) + " (inside wengert: no user code on the stack)" if inner is not None else "<unknown>"


_PKG = __name__.rsplit(".", 2)[0]
_PKG_DIR = __file__.rsplit("/", 2)[0] if "/" in __file__ else ""


def _ours(frame: Any) -> bool:
    mod = frame.f_globals.get("__name__", "")
    if mod == _PKG or mod.startswith(_PKG + ".") or mod in ("runpy", "importlib._bootstrap"):
        return True
    filename = frame.f_code.co_filename
    # the console script `wengert` (or `python -m wengert`) runs as __main__
    return mod == "__main__" and (filename.rsplit("/", 1)[-1] == _PKG or filename.startswith(_PKG_DIR + "/"))


def _site(frame: Any) -> str:
    return f'File "{frame.f_code.co_filename}", line {frame.f_lineno}, in {frame.f_code.co_name}'


def is_bad(value: Any) -> str | None:
    """'nan' or 'inf' if a float value has one, else None."""
    v = value._value if isinstance(value, Tensor) else value
    if type(v) is float:
        if math.isnan(v):
            return "nan"
        return "inf" if math.isinf(v) else None
    a = np.asarray(v)
    if a.dtype.kind not in "fc":
        return None
    if np.isnan(a).any():
        return "nan"
    if np.isinf(a).any():
        return "inf"
    return None


# The rule shown for an entry that backward() released.
RELEASED_RULE = Rule("released", _released_impl, differentiable=False, register=False,
                     doc="a step whose saved values backward() released")

_ = operator

__all__ = ["REGISTRY", "Rule", "ShapeError", "apply", "bind", "constant", "fit", "lower", "record"]


def reflected(rule: Rule) -> Callable:
    """Python's reflected operator (``y * t``, ``t.__rmul__(y)``) for ``rule``."""
    op = rule.operator2

    def rop(self: Any, other: Any) -> Any:
        return op(other, self)

    return rop
