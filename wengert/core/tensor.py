"""The Tensor: a NumPy value plus the one step of the Wengert list that made it.

A tensor that was computed by an op remembers that op's rule, its input
tensors (in order) and the op's non-differentiable parameters.  It never
refers to the tensors computed *from* it, and no closure captures it, so the
graph has no reference cycles: reference counting alone frees it.

Storage: a 0-d float64 value is kept as a Python ``float`` (the scalar path
then uses ``math`` instead of paying NumPy's per-call overhead); every other
value is an ``np.ndarray``.  ``.data`` always gives an ndarray.
"""
from __future__ import annotations

import itertools
import weakref
from typing import Any

import numpy as np

from .state import STATE, check_concrete

# Creation order: a tensor is always created after its inputs, so sorting by
# this counter is a topological order of the graph (the Wengert list order).
_next_seq = itertools.count().__next__

_FLOAT_KINDS = "f"
_OK_KINDS = "biuf"


class Tensor:
    """An n-dimensional array that records how it was computed.

    Create one with :func:`wengert.tensor`.  Operators ``+ - * / ** @`` and
    the functions of ``wengert`` (or NumPy's, via ``__array_ufunc__``) record
    the computation; ``backward()`` fills ``.grad`` of the leaves.
    """

    __slots__ = (
        "__weakref__",
        "_cot",  # cotangent being accumulated during a backward walk
        "_idx",  # the entry's index on _tape (set only with _tape)
        "_in0",  # the op's inputs in order (Tensors or raw constants), stored without a tuple:
        "_in1",  # see the `_args` property below; _in0 is None for leaves and once released
        "_meta",  # optional dict: name, creation site (anomaly mode), ...
        "_params",  # the op's non-differentiable keyword parameters, or None
        "_retain",  # keep .grad on this non-leaf
        "_rule",  # the rule of the op that made this tensor, None for leaves
        "_seq",  # position in the Wengert list
        "_tangent",  # forward-mode tangent (raw value or Tensor), or None
        "_tape",  # the scalar tape holding this op's entry, or None (see Tape)
        "_value",  # float (0-d float64) or np.ndarray
        "grad",  # Tensor or None
        "requires_grad",
    )

    __array_priority__ = 1000.0

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        value = to_value(data, dtype)
        _init(self, value)
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ basics
    @property
    def data(self) -> np.ndarray:
        v = self._value
        return np.array(v) if type(v) is float else v

    @data.setter
    def data(self, new: Any) -> None:
        value = to_value(new.data if isinstance(new, Tensor) else new, None)
        if shape_of(value) != self.shape:
            raise ValueError(f"data: new value has shape {shape_of(value)}, tensor has shape {self.shape}")
        self._value = value

    @property
    def shape(self) -> tuple:
        v = self._value
        return () if type(v) is float else v.shape

    @property
    def ndim(self) -> int:
        v = self._value
        return 0 if type(v) is float else v.ndim

    @property
    def size(self) -> int:
        v = self._value
        return 1 if type(v) is float else v.size

    @property
    def dtype(self) -> np.dtype:
        return dtype_of(self._value)

    @property
    def is_leaf(self) -> bool:
        # (a node that wg.jit recorded without gradient counts as a leaf, as it would eagerly)
        return self._rule is None or not self.requires_grad

    @property
    def grad_fn(self) -> GradFn | None:
        return GradFn(self) if self._rule is not None and self.requires_grad else None

    @property
    def name(self) -> str | None:
        return self._meta.get("name") if self._meta else None

    @name.setter
    def name(self, value: str | None) -> None:
        if self._meta is None:
            self._meta = {}
        self._meta["name"] = value
        tape = self._tape
        if tape is not None:  # the entry keeps the name: tables and drawings show it after this tensor is gone
            if tape.names is None:
                tape.names = {}
            tape.names[self._idx] = value
            tape.register(self)

    def item(self) -> Any:
        check_concrete(self, "item()")
        v = self._value
        if type(v) is float:
            return v
        if v.size != 1:
            raise ValueError(f"item(): only a tensor with one element can be converted to a Python scalar, got shape {v.shape}")
        return v.item()

    def numpy(self) -> np.ndarray:
        check_concrete(self, "numpy()")
        return self.data

    def tolist(self) -> Any:
        check_concrete(self, "tolist()")
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new tensor with the same value, cut from the graph."""
        if STATE.tracing and depends(self):  # wg.jit replays it: a recorded op without gradient
            return _stop_gradient(self)
        return _new(self._value)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.dtype.kind not in _FLOAT_KINDS:
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self.dtype}; "
                "convert first, e.g. wg.tensor(x, dtype='float64')"
            )
        if not flag and self._rule is not None and self.requires_grad:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach() to cut it from the graph")
        if flag and self._rule is not None and not self.requires_grad:
            # a node that wg.jit recorded without gradient: eagerly it is a leaf, so it becomes one
            # (the trace then no longer holds how it was computed; wg.jit's guard sees this call)
            self._rule = None
            self._in0 = self._in1 = None
            self._params = None
        self.requires_grad = bool(flag)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after ``backward()``."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retain = True
        if self._tape is not None:  # the backward walk reaches this entry through the tape: register this tensor
            self._tape.register(self)

    def backward(self, grad: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Reverse mode: accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is the cotangent of ``self`` (required unless ``self`` is a
        scalar).  The saved graph is released afterwards unless
        ``retain_graph=True``; ``create_graph=True`` records the backward pass
        itself so that ``.grad`` can be differentiated again.
        """
        _engine_backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    # ------------------------------------------------------------ the op's inputs
    # The inputs are kept in two slots rather than one tuple: a tuple per node
    # doubles the objects that Python's cyclic GC must scan while a graph is
    # being built, which (measured on the W1 benchmark) tripled forward time.
    # One input: (_in0, None); two: (_in0, _in1); more: (tuple, _MANY).
    @property
    def _args(self) -> tuple | None:
        if self._tape is not None:
            return self._tape.args(self._idx)
        a = self._in0
        if a is None:
            return None
        b = self._in1
        if b is None:
            return (a,)
        if b is _MANY:
            return a
        return (a, b)

    @_args.setter
    def _args(self, args: Any) -> None:
        if self._tape is not None:
            raise RuntimeError("the inputs of an op recorded on the scalar tape cannot be replaced")
        if args is None:
            self._in0 = None
            return
        n = len(args)
        if n == 1:
            self._in0, self._in1 = args[0], None
        elif n == 2:
            self._in0, self._in1 = args
        else:
            self._in0, self._in1 = tuple(args), _MANY

    # ------------------------------------------------------------ conversions
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        check_concrete(self, "conversion to a NumPy array (np.asarray)")
        a = self.data
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self.shape[0]):
            yield self[i]

    def __bool__(self) -> bool:
        check_concrete(self, "bool() (an if/while on a tensor)")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        check_concrete(self, "use as an index")
        if self.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, got dtype {self.dtype}")
        return int(self.item())

    __hash__ = object.__hash__  # __eq__ is elementwise, as in NumPy

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=4, threshold=20)
        extra = []
        if self.dtype != np.float64:
            extra.append(f"dtype={self.dtype}")
        if self._rule is not None and self.requires_grad:
            extra.append(f"grad_fn=<{self._rule.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self._tangent is not None:
            extra.append("tangent=...")
        tail = (", " + ", ".join(extra)) if extra else ""
        body = body.replace("\n", "\n       ")
        return f"tensor({body}{tail})"

    def __getstate__(self):  # no pickling: checkpoints go through safetensors
        raise TypeError("wengert tensors are not pickled; save a state_dict with wg.save() (safetensors)")


class GradFn:
    """A read-only view of the op that produced a tensor (``t.grad_fn``)."""

    __slots__ = ("_t",)

    def __init__(self, t: Tensor) -> None:
        self._t = t

    @property
    def name(self) -> str:
        return self._t._rule.name

    @property
    def inputs(self) -> tuple:
        args = self._t._args
        if args is None:
            raise RuntimeError("the graph behind this tensor was released by backward(); use retain_graph=True")
        return tuple(a for a in args if isinstance(a, Tensor))

    @property
    def params(self) -> dict:
        return dict(self._t._params or {})

    def __repr__(self) -> str:
        return f"<{self.name}>"


_MANY = object()  # marks _in0 as holding a tuple of three or more inputs


# ---------------------------------------------------------------- the scalar tape
# Every rule, by its position here: tape entries name their rule by this integer.
RULE_LIST: list = []

# Entries per tape before a new one is started (a tape lives while any of its
# tensors does, so this bounds what one kept tensor can hold on to).
TAPE_MAX = 1 << 18

_next_tape = itertools.count().__next__


class Tape:
    """A stretch of the Wengert list for scalar ops, stored as plain tuples.

    Scalar code (micrograd-style networks) makes one graph node per ``+`` or
    ``*``.  As Tensor objects, those nodes stay alive until backward and
    Python's cyclic garbage collector scans them again and again while the
    graph grows (measured: a third of the W1 step), although the graph has no
    cycles.  So an op on Python floats (the ``Rule.scalar`` path) records its
    line here instead: a tuple of atoms (ints, floats), which the collector
    stops tracking at its first pass, and the Tensor that the op returns is
    only a view (``_tape``, ``_idx``) that dies as soon as user code drops it.

    Entry layouts.  An op's input is named by an int (an earlier entry of this
    tape), by a Tensor that needs no gradient (a constant, kept so that tables
    can name it), or by None (a raw number); its value is in the entry too.

    * one input:  ``(seq, rule index, in0, v0, ans)``
    * two inputs: ``(seq, rule index, in0, in1, v0, v1, ans)``
    * an import: ``(seq, -1, tensor)``: a tensor from outside this tape (a
      leaf, a node of the object graph, a tensor of an earlier tape), entered
      once, on its first use, so that the entries using it hold only atoms
    * released by backward: the entry's ``seq`` alone (an int already held, so
      releasing allocates nothing)
    """

    __slots__ = ("__weakref__", "entries", "imports", "names", "order", "views")

    def __init__(self) -> None:
        self.entries: list = []
        self.order = _next_tape()  # tapes are filled one after another: a later tape only uses earlier ones
        self.imports: dict = {}  # id(tensor) -> index of its import entry (the entry keeps the tensor alive)
        self.views: Any = None  # WeakValueDictionary idx -> Tensor, made on first use
        self.names: dict | None = None  # idx -> the name given to the entry's tensor (t.name = ...)

    def __repr__(self) -> str:
        return f"<tape {self.order}: {len(self.entries)} entries>"

    def ref(self, x: Any) -> Any:
        """How an entry names its input ``x`` (see the layouts above)."""
        if not isinstance(x, Tensor):
            return None
        if not x.requires_grad:
            return x
        if x._tape is self:
            return x._idx
        i = self.imports.get(id(x))
        if i is None:
            i = self.imports[id(x)] = len(self.entries)
            self.entries.append((x._seq, -1, x))
        return i

    def args(self, idx: int) -> tuple | None:
        """The inputs of entry ``idx`` as the object graph has them (Tensors or constants); None if released."""
        e = self.entries[idx]
        if type(e) is int:
            return None
        refs = ((e[2], e[3]),) if len(e) == 5 else ((e[2], e[4]), (e[3], e[5]))
        return tuple(self._input(r, v) for r, v in refs)

    def _input(self, r: Any, value: Any) -> Any:
        if r is None:
            return value
        if type(r) is not int:
            return r
        e = self.entries[r]
        return e[2] if type(e) is tuple and len(e) == 3 else self.view(r, value)

    def view(self, idx: int, value: Any) -> Tensor:
        """The one Tensor standing for entry ``idx`` while anyone holds it (``value``: the entry's result)."""
        views = self.views
        if views is None:
            views = self.views = weakref.WeakValueDictionary()
        t = views.get(idx)
        if t is None:
            e = self.entries[idx]
            t = _new(value)
            t.requires_grad = True
            if type(e) is int:  # released: the view still orders the walk, which reports it when reached
                from .rule import RELEASED_RULE
                t._rule = RELEASED_RULE
                t._seq = e
            else:
                t._rule = RULE_LIST[e[1]]
                t._seq = e[0]
            t._tape = self
            t._idx = idx
            if self.names and idx in self.names:
                t._meta = {"name": self.names[idx]}
            views[idx] = t
        return t

    def register(self, t: Tensor) -> None:
        """Make ``t`` the tensor that stands for its entry (retain_grad: the walk must reach this object)."""
        if self.views is None:
            self.views = weakref.WeakValueDictionary()
        self.views[t._idx] = t

    def release(self, idx: int) -> None:
        e = self.entries[idx]
        if type(e) is tuple and len(e) > 3:
            self.entries[idx] = e[0]


def seal_tape() -> None:
    """Start a new tape (after a backward walk), so the old one is freed with its last tensor."""
    if STATE.tape.entries:
        STATE.tape = Tape()


def _init(t: Tensor, value: Any) -> None:
    t._value = value
    t.requires_grad = False
    t.grad = None
    t._rule = None
    t._in0 = None
    t._in1 = None
    t._params = None
    t._seq = _next_seq()
    t._tape = None
    t._tangent = None
    t._cot = None
    t._retain = False
    t._meta = None


def _new(value: Any) -> Tensor:
    """Wrap an already-normalised value (the hot path: no checks)."""
    t = object.__new__(Tensor)
    t._value = value
    t.requires_grad = False
    t.grad = None
    t._rule = None
    t._in0 = None
    t._in1 = None
    t._params = None
    t._seq = _next_seq()
    t._tape = None
    t._tangent = None
    t._cot = None
    t._retain = False
    t._meta = None
    return t


# ---------------------------------------------------------------- values
def normalize(out: Any) -> Any:
    """Bring a NumPy result into storage form: Python float for 0-d float64, else ndarray."""
    t = type(out)
    if t is float:
        return out
    if t is np.ndarray:
        if out.ndim == 0 and out.dtype.char == "d":
            return float(out)
        return out
    if t is np.float64:
        return float(out)
    if isinstance(out, np.generic):
        return np.asarray(out)
    if t is int or t is bool:
        return np.asarray(out)
    if isinstance(out, Tensor):
        return out._value
    raise TypeError(f"an op returned {t.__name__}, expected an array")


def to_value(data: Any, dtype: Any) -> Any:
    """Convert user data to storage form, checking the dtype."""
    if isinstance(data, Tensor):
        data = data._value
    if dtype is None and type(data) is float:
        return data
    try:
        arr = np.asarray(data, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot make a tensor from {type(data).__name__}: {exc}") from None
    if arr.dtype.kind not in _OK_KINDS:
        raise TypeError(
            f"unsupported dtype {arr.dtype}: wengert tensors hold bool, integer or floating-point numbers "
            "(complex and object arrays are not supported)"
        )
    if arr.dtype == np.float16:
        raise TypeError("float16 is not supported; use float32 or float64")
    return normalize(arr)


def shape_of(x: Any) -> tuple:
    if type(x) is float:
        return ()
    s = getattr(x, "shape", None)
    return s if s is not None else np.shape(x)


def dtype_of(x: Any) -> np.dtype:
    if type(x) is float:
        return _F64
    d = getattr(x, "dtype", None)
    return d if d is not None else np.asarray(x).dtype


def depends(x: Any) -> bool:
    """Is ``x`` a tensor that depends on inputs being traced (by wg.jit, or by a reverse pass)?

    It requires grad, or it is the output of a recorded op: outside a wg.jit
    trace every recorded op requires grad; while tracing, the engine also
    records ops without gradient (comparisons, ops under no_grad, detach) on
    such tensors, with ``requires_grad = False`` (core.rule._finish).
    """
    return isinstance(x, Tensor) and (x.requires_grad or x._rule is not None)


def raw(x: Any) -> Any:
    """The plain value of a tensor (or the argument itself)."""
    return x._value if isinstance(x, Tensor) else x


_F64 = np.dtype(np.float64)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Make a tensor from a number, nested list, ndarray or tensor (the data is copied).

    dtype inference follows NumPy: Python floats give float64, ints int64.

    >>> import wengert as wg
    >>> x = wg.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4.])
    """
    if isinstance(data, Tensor):
        data = data._value
    if isinstance(data, np.ndarray):
        data = data.copy()
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(x: Any) -> Tensor:
    """Return ``x`` if it is a tensor, else wrap it (without copying ndarrays)."""
    if isinstance(x, Tensor):
        return x
    return Tensor(x)


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


__all__ = ["STATE", "Tensor", "as_tensor", "is_tensor", "tensor"]


STATE.tape = Tape()

# Set by wengert.core.engine when it is imported (it needs Tensor, and Tensor.backward needs it).
_engine_backward: Any = None
# Set by wengert.core.shapes: the rule `stop_gradient`, which detach() records while wg.jit traces.
_stop_gradient: Any = None
