"""Interpreters: the modes of the engine, each a level on the thread's stack.

An op on tensors goes to :func:`wengert.core.rule.bind`, which hands it to
the interpreter that owns its inputs:

* the **eager** interpreter (level 0, the end of :func:`wengert.core.rule.bind`):
  computes on plain values and records on the thread's Wengert list when an
  input requires grad (``backward()`` walks that list);
* a :class:`Reverse` level (``grad``, ``vjp``, ``jacrev``): records the
  differentiable ops on its own inputs on a list of its own, which the
  transform walks backwards;
* a :class:`Forward` level (``jvp``, ``jacfwd``, ``hvp``): carries a tangent
  beside each value through the rules' JVPs;
* a :class:`Stage` level (``wg.jit``): records every op on its inputs,
  differentiable or not, as a program to replay; Python may not read the
  values it stages (``bool``, ``float``: a :class:`ConcretizationError`).

A transform pushes its level (``with level:``); the values it hands its
function are *boxes* of that level (Tensors with ``_trace`` set), each
wrapping the value one level down (``_primal``).  An op is processed by the
highest level among its inputs' boxes: that level computes the op one level
down on the primals (:func:`wengert.core.rule.lower`), where the next owner
processes it, and so on to plain values.  Nesting to any depth, and no
confusion between the perturbations of two levels, follow from this
structure: a level only ever sees its own boxes; everything else is a
constant to it.  JAX's ``Trace``/``find_top_trace`` and HIPS autograd's
``TraceStack`` work the same way.

*Dynamic* interpreters (:class:`Sites`, :class:`Anomaly`) sit above all levels while they are
active and see every op.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .rule import Rule, bind, constant, creation_site, fit, is_bad, lower, record
from .state import ConcretizationError, state
from .tape import Tape
from .tensor import Tensor, _alloc, _new


class Level:
    """A transform's interpreter.  Use as a context manager: ``with level:`` pushes it on this thread's stack."""

    __slots__ = ("alive", "level", "name")
    requires_grad = False  # what its boxes report

    def __init__(self, name: str) -> None:
        self.name = name
        self.level = 0
        self.alive = False

    def __enter__(self) -> Level:
        st = state()
        st.levels.append(self)
        self.level = len(st.levels)
        self.alive = True
        return self

    def __exit__(self, *exc: object) -> None:
        state().levels.pop()
        self.alive = False

    def __repr__(self) -> str:
        return f"<{self.name} level {self.level}>"

    def box(self, primal: Any, tangent: Any = None) -> Tensor:
        """A value of this level wrapping ``primal`` (a plain value or a tensor one level down)."""
        t = _alloc(Tensor)
        t._value = primal._value if isinstance(primal, Tensor) else primal
        t._primal = primal
        t._tangent = tangent
        t._trace = self
        t._tape = None
        t.requires_grad = self.requires_grad
        t._grad = None
        t._meta = None
        return t

    # ---------------------------------------------------------- reading this level's values
    def owns(self, x: Any) -> bool:
        """Is ``x`` one of this level's boxes?"""
        return isinstance(x, Tensor) and x._trace is self

    def primal(self, x: Any) -> Any:
        """``x`` one level down, if it is this level's box (else ``x`` itself)."""
        return x._primal if isinstance(x, Tensor) and x._trace is self else x

    def tangent(self, x: Any) -> Any:
        """The tangent a forward level's box carries (None: zero, or not this level's)."""
        return x._tangent if isinstance(x, Tensor) and x._trace is self else None

    def entry(self, x: Any) -> tuple | None:
        """(list, index) of the entry that made this level's box ``x``; None for an input (or another value)."""
        if isinstance(x, Tensor) and x._trace is self and x._tape is not None:
            return x._tape, x._idx
        return None

    def unbox(self, x: Any) -> Any:
        """``x`` one level down: a box's primal; an eager constant as its plain value; anything else as it is."""
        if isinstance(x, Tensor):
            if x._trace is self:
                return x._primal
            if x._trace is None and not x.requires_grad and x._tape is None:
                return x._value
        return x

    def read(self, t: Tensor, what: str, strict: bool, array: bool = False) -> None:
        """Python reads the plain value of one of this level's boxes (see core.tensor.check_concrete)."""
        if array and self.alive:
            raise TypeError(
                f"{what} of a value that {self.name} is differentiating would drop its derivative silently; "
                "build arrays of tensors with wg.stack / wg.tensor([...]) (they stay in the graph), or use "
                ".detach() for the plain value")

    def stage_leaf(self, t: Tensor) -> bool:
        """``requires_grad_()`` on one of this level's values: may it become an eager leaf? (only while staging)"""
        return False

    def box_shape(self, t: Tensor) -> tuple:
        """The shape of this level's box ``t``: its primal's (a batching level hides its batch axis)."""
        p = t._primal
        if isinstance(p, Tensor):
            return p.shape
        return () if type(p) is float else p.shape

    def process(self, rule: Rule, args: Any, params: dict) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def _plain(rule: Rule, a: Any) -> Any:
    return a if isinstance(a, Tensor) else constant(a, rule)


def _wrap(out: Any) -> Tensor:
    return out if isinstance(out, Tensor) else _new(out)


class Reverse(Level):
    """Reverse mode: records the differentiable ops on this level's boxes on a Wengert list of its own."""

    __slots__ = ("tape",)
    requires_grad = True

    def __init__(self, name: str = "grad") -> None:
        super().__init__(name)
        self.tape = Tape()

    def process(self, rule: Rule, args: Any, params: dict) -> Tensor:
        primals = []
        owned = False
        for a in args:
            if isinstance(a, Tensor) and a._trace is self:
                primals.append(a._primal)
                owned = True
            else:
                primals.append(self.unbox(_plain(rule, a)))
        out = lower(rule, primals, params)
        if not (owned and rule.differentiable and state().grad_enabled):
            return _wrap(out)
        box = self.box(out)
        tape = self.tape
        refs = [tape.ref(a) if isinstance(a, Tensor) and a._trace is self else None for a in args]
        record(tape, rule, box, refs, primals, params)
        return box


class Forward(Level):
    """Forward mode: each box carries a tangent (None: zero), pushed through every op by its rule's JVP."""

    __slots__ = ()

    def __init__(self, name: str = "jvp") -> None:
        super().__init__(name)

    def process(self, rule: Rule, args: Any, params: dict) -> Tensor:
        primals = []
        tangents = []
        carried = False
        for a in args:
            if isinstance(a, Tensor) and a._trace is self:
                primals.append(a._primal)
                tangents.append(a._tangent)
                carried = carried or a._tangent is not None
            else:
                primals.append(self.unbox(_plain(rule, a)))
                tangents.append(None)
        out = lower(rule, primals, params)
        if not (carried and rule.differentiable):
            return _wrap(out)
        try:
            t = rule.jvp(tangents, out, primals, params)
        except ArithmeticError:  # Python floats raise where NumPy gives inf/nan: redo in NumPy scalars
            t = rule.jvp([_np(v) for v in tangents], _np(out), [_np(p) for p in primals], params)
        if t is None:
            return _wrap(out)
        return self.box(out, fit(t, out, broadcast=True))


def _np(v: Any) -> Any:
    return np.float64(v) if type(v) is float else v


class Stage(Level):
    """Staging for wg.jit: records every op on this level's boxes (differentiable or not) as a program.

    The boxes hold concrete values (the function runs on real values while
    it is traced), but Python may not branch on them: ``bool()``, ``float()``
    and the like raise :class:`ConcretizationError`; other plain reads
    (``.data``, a helper reading a value) are noted in ``leaks``, and the
    trace is then not compiled.
    """

    __slots__ = ("leaks", "tape")

    def __init__(self, name: str = "wg.jit") -> None:
        super().__init__(name)
        self.tape = Tape()
        self.leaks: list = []  # (what, must_rerun): values that left the staged program

    def process(self, rule: Rule, args: Any, params: dict) -> Tensor:
        values = []
        refs = []
        owned = False
        tape = self.tape
        for a in args:
            if isinstance(a, Tensor):
                if a._trace is self:
                    values.append(a._value)
                    refs.append(tape.ref(a))
                    owned = True
                    continue
                if a._trace is not None:  # a value of a transform running below this wg.jit (a closure)
                    self.leaks.append((f"a value that {a._trace.name} is differentiating, closed over", True))
                    refs.append(None)
                else:
                    refs.append(a)  # an eager tensor: a constant, or a parameter read at each call
                values.append(a._value)
            else:
                values.append(constant(a, rule))
                refs.append(None)
        out = rule.evaluate(values, params)
        if not owned:
            return _new(out)
        box = self.box(out)
        record(tape, rule, box, refs, values, params)
        return box

    def read(self, t: Tensor, what: str, strict: bool, array: bool = False) -> None:
        if not self.alive:
            return
        if strict:
            raise ConcretizationError(
                f"{what} of a tensor computed from the traced inputs of a function that {self.name} is compiling: "
                "its value is not fixed while tracing, so Python control flow or conversions on it cannot be "
                "compiled. Compute it with tensor ops (e.g. wg.where instead of if/else), mark the argument "
                f"static (static_argnums), or call the function without {self.name}")
        self.leaks.append((f"{what} of a traced tensor", False))

    def stage_leaf(self, t: Tensor) -> bool:
        # eagerly, requires_grad_() makes a leaf of the value: the staged op behind it is cut, which
        # a replay cannot do, so this trace runs eagerly; the value goes on as an eager tensor
        self.leaks.append(("requires_grad_() made a leaf of a value computed from the traced inputs", False))
        t._trace = None
        t._tape = None
        return True


class ScaledBasis:
    """A batch of 1-D examples kept as factors: the identity pushed through linear steps, O(n) or O(nk) per op.

    Jacobians push the identity through a function (jacrev: its rows as
    cotangents, jacfwd: its columns as tangents).  Stored dense, that batch
    costs a fresh n x n array in every op it meets.  Most of the ops it meets
    first are linear in it: a scaling by a plain vector, a product with a
    plain matrix.  So the batch is kept as
    ``r[:, None] * m * c`` (example ``i`` is ``r[i] * m[i] * c``):

    * ``m is None``: the identity, ``diag(r)`` (``c`` is then None: a scaling
      of a diagonal is one vector);
    * ``m`` a plain 2-D array (the identity after a product with a plain
      matrix, e.g. ``W @ basis``), ``r`` scaling its rows and ``c`` its
      columns (either None: ones).

    :class:`Batch` hands it only to batching rules marked ``keeps_basis =
    True`` (``wengert.ops.batching``: scalings fold into ``r`` or ``c``,
    products with a plain matrix and sums are computed from the factors);
    every other rule gets :meth:`dense`, so nothing else needs to know it
    exists.  ``r``, ``c`` and ``m`` are plain arrays; ``m`` may be (a view
    of) the caller's matrix, so it is never written and never handed out
    itself.
    """

    __slots__ = ("_dense", "c", "dtype", "m", "r")
    ndim = 2

    def __init__(self, r: np.ndarray | None, m: np.ndarray | None = None, c: np.ndarray | None = None) -> None:
        self.r = r
        self.m = m
        self.c = c
        self.dtype = np.result_type(*(a for a in (r, m, c) if a is not None))
        self._dense = None

    @property
    def shape(self) -> tuple:
        if self.m is None:
            n = self.r.shape[0]
            return (n, n)
        return self.m.shape

    @property
    def size(self) -> int:
        s = self.shape
        return s[0] * s[1]

    def dense(self) -> np.ndarray:
        """The batch as one array (made once; the same array on later calls)."""
        if self._dense is None:
            r, m, c = self.r, self.m, self.c
            if m is None:
                out = np.diag(r)
            else:
                out = m if c is None else m * c
                if r is not None:
                    out = r[:, None] * out
                if out is m:  # (a copy: m may be the caller's own matrix)
                    out = m.copy()
            self._dense = out
        return self._dense

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.dense()
        return a if dtype is None else a.astype(dtype, copy=False)

    def __repr__(self) -> str:
        if self.m is None:
            return f"ScaledBasis(diag {self.r!r})"
        return f"ScaledBasis(rows {self.r!r} x {self.m.shape} matrix x columns {self.c!r})"


class Batch(Level):
    """Batching for wg.vmap: each box holds a whole batch of values, stacked along axis 0 of its primal.

    An op on boxes goes to its rule's batching rule (``rule.batch(level,
    values, batched, params)``), which computes the whole batch one level
    down at once and returns it with the batch along axis 0.  A box's shape is
    one example's; Python may not read a batched value (``bool``, ``float``,
    ``.data``: a :class:`ConcretizationError`), since it is many values.
    """

    __slots__ = ("size",)

    def __init__(self, size: int, name: str = "wg.vmap") -> None:
        super().__init__(name)
        self.size = size

    def process(self, rule: Rule, args: Any, params: dict) -> Tensor:
        values = []
        batched = []
        for a in args:
            if isinstance(a, Tensor) and a._trace is self:
                v = a._primal
                if type(v) is ScaledBasis and not getattr(rule.batch, "keeps_basis", False):
                    v = v.dense()
                values.append(v)
                batched.append(True)
            else:
                values.append(self.unbox(_plain(rule, a)))
                batched.append(False)
        if rule.batch is None:
            raise NotImplementedError(
                f"{self.name}: op '{rule.name}' has no batching rule, so it cannot run on a batch; "
                "for a custom Function, define its vmap (see wg.Function)")
        return self.box(rule.batch(self, values, batched, params))

    def box_shape(self, t: Tensor) -> tuple:
        return super().box_shape(t)[1:]

    def stacked(self, t: Tensor) -> Any:
        """The whole batch that box ``t`` stands for, one level down, as an array (a scaled basis made dense)."""
        v = t._primal
        return v.dense() if type(v) is ScaledBasis else v

    def read(self, t: Tensor, what: str, strict: bool, array: bool = False) -> None:
        if not self.alive:
            return
        raise ConcretizationError(
            f"{what} of a batched value inside {self.name}: it stands for {self.size} values (one per example), "
            "so Python control flow or conversions on it cannot work; compute it with tensor ops "
            "(e.g. wg.where instead of if/else), or pass the argument with in_axes=None")


# ====================================================================== dynamic interpreters
class Dynamic:
    """An interpreter that sees every op while it is active (``with it:``), above every level.

    ``process`` hands the op on to whatever would process it without this
    interpreter, then calls :meth:`seen` with the result.
    """

    __slots__ = ("below",)

    def __enter__(self) -> Dynamic:
        st = state()
        self.below = st.dynamic
        st.dynamic = self
        return self

    def __exit__(self, *exc: object) -> None:
        state().dynamic = self.below

    def process(self, rule: Rule, args: Any, params: dict) -> Tensor:
        st = state()
        st.dynamic = self.below
        try:
            out = bind(rule, args, params)
        finally:
            st.dynamic = self
        self.seen(rule, out)
        return out

    def seen(self, rule: Rule, out: Tensor) -> None:  # pragma: no cover - abstract
        pass


class Sites(Dynamic):
    """Keeps where user code made each recorded op (``Node.site``), on every list that records it.

    >>> import wengert as wg
    >>> from wengert.core.graph import node_of
    >>> x = wg.tensor(2.0, requires_grad=True)
    >>> with Sites():
    ...     y = wg.sin(x)
    >>> node_of(y).site.startswith('File "')         # 'File "...", line N, in ...'
    True
    """

    __slots__ = ()

    def seen(self, rule: Rule, out: Tensor) -> None:
        self.keep(out)

    @staticmethod
    def keep(out: Tensor) -> str:
        """Note the creation site of ``out`` on the lists that hold it, and return it."""
        site = creation_site()
        t = out
        while isinstance(t, Tensor):  # every list that holds this value remembers where it was made
            if t._tape is not None:
                if t._tape.sites is None:
                    t._tape.sites = {}
                t._tape.sites[t._idx] = site
            t = t._primal if t._trace is not None else None
        return site


class Anomaly(Sites):
    """``detect_anomaly``: every op's value checked for NaN/Inf, and its creation site kept for the backward walk."""

    __slots__ = ()

    def seen(self, rule: Rule, out: Tensor) -> None:
        site = self.keep(out)
        kind = is_bad(out)
        if kind:
            raise FloatingPointError(f"forward of op '{rule.name}' produced {kind} (detect_anomaly); "
                                     f"op created at {site}")


def anomaly_active(st: Any) -> bool:
    d = st.dynamic
    while d is not None:
        if isinstance(d, Anomaly):
            return True
        d = d.below
    return False


class detect_anomaly:
    """Raise at the first NaN or Inf produced by a forward or backward step (in this thread).

    The error names the op and the line of user code that created it.

    >>> import wengert as wg
    >>> x = wg.tensor(-1.0, requires_grad=True)
    >>> with wg.detect_anomaly():
    ...     y = wg.log(x)                              # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FloatingPointError: forward of op 'log' produced nan...
    """

    def __enter__(self) -> detect_anomaly:
        self._interp = Anomaly()
        self._interp.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._interp.__exit__()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly():
                return fn(*args, **kwargs)

        return wrapper


__all__ = ["Anomaly", "Batch", "Dynamic", "Forward", "Level", "Reverse", "ScaledBasis", "Sites", "Stage",
           "anomaly_active",
           "detect_anomaly"]
