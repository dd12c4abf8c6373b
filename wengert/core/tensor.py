"""The Tensor: a NumPy value plus its place in a Wengert list.

A tensor is one of:

* an *eager* tensor (``_trace is None``): a constant, a leaf that requires
  grad, or the output of an op recorded on its thread's eager list
  (``_tape``, ``_idx``), which ``backward()`` walks;
* a *box* of a running transform's interpreter (``_trace``): it wraps the
  value one level down (``_primal``: a plain value or a lower tensor) and,
  for forward mode, a tangent (``_tangent``).  See :mod:`wengert.core.interpret`.

``_value`` is always the plain value (the innermost primal): a Python
``float`` for a 0-d float64 (the scalar path then uses ``math`` instead of
paying NumPy's per-call overhead), else an ``np.ndarray``.  ``.data`` gives
an ndarray.  The list never refers to its tensors, and no closure captures
one, so the graph has no reference cycles: reference counting frees it.
"""
from __future__ import annotations

from sys import getrefcount as _getrefcount
from typing import Any

import numpy as np

from .state import ConcretizationError, state

_GRAD_KINDS = "fc"  # the dtypes that carry derivatives: floating point and complex (docs/complex.md)
_OK_KINDS = "biufc"


class Tensor:
    """An n-dimensional array that records how it was computed.

    Create one with :func:`wengert.tensor`.  Operators ``+ - * / ** @`` and
    the functions of ``wengert`` (or NumPy's, via ``__array_ufunc__``) record
    the computation; ``backward()`` fills ``.grad`` of the leaves.
    """

    __slots__ = (
        "__weakref__",
        "_grad",  # .grad: None, a Tensor, or the plain value backward() stored (wrapped on first read of .grad)
        "_idx",  # the entry's index in _tape (set only with _tape)
        "_meta",  # optional dict: name, ...
        "_primal",  # a box's value one level down (set only on boxes)
        "_tangent",  # a forward-mode box's tangent (set only on boxes; None: zero)
        "_tape",  # the Wengert list holding the op that made this value, or None
        "_trace",  # the interpreter (transform level) this box belongs to; None for eager tensors
        "_value",  # the plain value: float (0-d float64) or np.ndarray
        "requires_grad",
    )

    __array_priority__ = 1000.0

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._value = to_value(data, dtype)
        self._trace = None
        self._tape = None
        self.requires_grad = False
        self._grad = None
        self._meta = None
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ basics
    @property
    def data(self) -> np.ndarray:
        if self._trace is not None:
            self._trace.read(self, ".data", strict=False)
        v = self._value
        return np.array(v) if type(v) is float else v

    @data.setter
    def data(self, new: Any) -> None:
        value = to_value(new._value if isinstance(new, Tensor) else new, None)
        if shape_of(value) != self.shape:
            raise ValueError(f"data: new value has shape {shape_of(value)}, tensor has shape {self.shape}")
        self._value = value

    @property
    def shape(self) -> tuple:
        if self._trace is not None:  # a box: its own shape (wg.vmap's hides the batch axis)
            return self._trace.box_shape(self)
        v = self._value
        return () if type(v) is float else v.shape

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def dtype(self) -> np.dtype:
        v = self._value  # (a float holds a 0-d float64; every other value has its dtype)
        return _F64 if type(v) is float else v.dtype

    @property
    def grad(self) -> Tensor | None:
        """The gradient ``backward()`` accumulated into this tensor (a Tensor of its shape), or None."""
        g = self._grad
        if g is not None and not isinstance(g, Tensor):
            g = self._grad = _new(g)  # (made on first read: an optimiser that reads values never needs it)
        return g

    @grad.setter
    def grad(self, new: Tensor | None) -> None:
        # checked here, as PyTorch does: a number or an array would only fail at the next backward()
        if new is not None:
            if not isinstance(new, Tensor):
                raise TypeError(f"assigned grad must be a Tensor or None, got {type(new).__name__} (to clear a "
                                "gradient write p.grad = None, or p.grad.zero_())")
            if new.shape != self.shape:
                raise ValueError(f"assigned grad has shape {new.shape}, but the tensor has shape {self.shape}")
        self._grad = new

    @property
    def is_leaf(self) -> bool:
        """A tensor not computed by an op recorded for reverse mode (an input, a parameter, a constant)."""
        return self._tape is None or not self.requires_grad

    @property
    def grad_fn(self) -> Any:
        """The recorded op that made this tensor (a :class:`wengert.core.graph.Node`), or None for a leaf."""
        if self.is_leaf:
            return None
        from .graph import Node

        return Node(self._tape, self._idx)

    @property
    def name(self) -> str | None:
        return self._meta.get("name") if self._meta else None

    @name.setter
    def name(self, value: str | None) -> None:
        if self._meta is None:
            self._meta = {}
        self._meta["name"] = value
        if self._tape is not None:  # the entry keeps the name: tables and drawings show it after this tensor is gone
            self._tape.name(self._idx, value)

    def item(self) -> Any:
        check_concrete(self, "item()")
        v = self._value
        if type(v) is float:
            return v
        if v.size != 1:
            raise ValueError(f"item(): only a tensor with one element can be converted to a Python scalar, "
                             f"got shape {v.shape}")
        return v.item()

    def numpy(self) -> np.ndarray:
        check_concrete(self, "numpy()", strict=False)
        v = self._value
        return np.array(v) if type(v) is float else v

    def tolist(self) -> Any:
        check_concrete(self, "tolist()")
        return np.asarray(self._value).tolist()

    def detach(self) -> Tensor:
        """A new tensor with the same value, cut from the graph (no gradient, no tangent, at every level)."""
        return _stop_gradient(self)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if self._trace is not None and self._trace.alive and self._trace.stage_leaf(self):
            return self.requires_grad_(flag)  # (the stage made this value an eager leaf)
        if self._trace is not None and self._trace.alive:
            raise RuntimeError("requires_grad_() on a value inside a transform (grad, jvp, wg.jit ...): the "
                               "transform decides what is differentiated; use argnums, or wg.stop_gradient / .detach()")
        if flag and self.dtype.kind not in _GRAD_KINDS:
            raise TypeError(
                f"only floating-point tensors can require gradients (float32, float64, complex64, complex128), "
                f"got dtype {self.dtype}; "
                "convert first, e.g. wg.tensor(x, dtype='float64')"
            )
        if not flag and self._tape is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use .detach() to cut it from the graph")
        self.requires_grad = bool(flag)
        return self

    def register_hook(self, hook: Any) -> Any:
        """Call ``hook(grad)`` when backward computes this tensor's gradient; a returned value replaces it.

        As in PyTorch: the hook gets the gradient as a Tensor, runs before
        ``.grad`` of a leaf is filled (or the next op's gradient is computed,
        for an intermediate), and the returned handle's ``remove()`` takes it off.

        >>> import wengert as wg
        >>> x = wg.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([20., 40.])
        """
        if not self.requires_grad or self._trace is not None:
            raise RuntimeError("register_hook() on a tensor that does not require grad: it gets no gradient")
        if not callable(hook):
            raise TypeError(f"register_hook: the hook must be callable, got {type(hook).__name__}")
        if self._tape is not None:
            tape = self._tape
            if tape.hooks is None:
                tape.hooks = {}
            hooks = tape.hooks.setdefault(self._idx, [])
        else:
            if self._meta is None:
                self._meta = {}
            hooks = self._meta.setdefault("hooks", [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after ``backward()``."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self._tape is not None:
            self._tape.retain(self._idx, self)

    def backward(self, grad: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Reverse mode: accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is the cotangent of ``self`` (required unless ``self`` is a
        scalar).  The saved graph is released afterwards unless
        ``retain_graph=True``; ``create_graph=True`` records the backward pass
        itself so that ``.grad`` can be differentiated again.
        """
        _engine_backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    # ------------------------------------------------------------ conversions
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self._trace is not None:
            self._trace.read(self, "conversion to a NumPy array (np.asarray / np.array)", strict=True, array=True)
        elif self.requires_grad and state().grad_enabled:
            what = "computed in a graph" if self._tape is not None else "that requires grad"
            raise TypeError(
                f"np.asarray / np.array of a tensor {what} would drop its gradient silently (as PyTorch, this "
                "refuses). Use wg.stack / wg.tensor([...]) to build arrays of tensors and wg.r_ / wg.c_ for "
                "np.r_ / np.c_ (they stay in the graph), or .detach() (or .data) for the plain value")
        v = self._value
        a = np.array(v) if type(v) is float else v
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
        v = self._value
        if type(v) is not float and v.size != 1:
            raise ValueError(f"the truth value of a tensor with {v.size} elements is ambiguous; "
                             "use .any() or .all() (or wg.any / wg.all)")
        return bool(v)

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
        body = np.array2string(np.asarray(self._value), separator=", ", precision=4, threshold=20)
        extra = []
        if self.dtype != np.float64:
            extra.append(f"dtype={self.dtype}")
        if self._trace is not None and self._trace.alive and getattr(self, "_tangent", None) is not None:
            extra.append("tangent=...")
        if self._tape is not None and self.requires_grad:
            from .tape import RULES

            e = self._tape.entries[self._idx]
            name = RULES[e[0]].name if e is not None and len(e) > 1 else "released"
            extra.append(f"grad_fn=<{name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        tail = (", " + ", ".join(extra)) if extra else ""
        body = body.replace("\n", "\n       ")
        return f"tensor({body}{tail})"

    def __getstate__(self):  # no pickling: checkpoints go through safetensors
        raise TypeError("wengert tensors are not pickled; save a state_dict with wg.save() (safetensors)")


class _HookHandle:
    """What register_hook returns: ``remove()`` takes the hook off."""

    __slots__ = ("hook", "hooks")

    def __init__(self, hooks: list, hook: Any) -> None:
        self.hooks = hooks
        self.hook = hook

    def remove(self) -> None:
        if self.hook in self.hooks:
            self.hooks.remove(self.hook)


def check_concrete(t: Tensor, what: str, strict: bool = True) -> None:
    """Python is about to read the plain value of ``t``: an interpreter that traces it may object.

    ``strict`` reads (``bool``, ``float``, ``item``, an index) are control
    flow on the value: wg.jit and wg.vmap raise :class:`ConcretizationError`.
    Other reads (``.data``, ``numpy()``) make wg.jit run the function eagerly.
    """
    trace = t._trace
    if trace is not None:
        trace.read(t, what, strict=strict)


def mutate(t: Tensor, change: Any, what: str = "an in-place operation", traced: bool = False) -> bool:
    r"""Change a plain tensor in place: ``change(array)`` modifies the ndarray it is given.

    Returns False, changing nothing, when ``t`` is a value in a graph (a
    recorded tensor, or a transform's value): the caller then records the
    change as an op and :func:`rebind`\ s ``t`` to its result.  A leaf that
    requires grad may only be changed inside ``wg.no_grad()`` (as in PyTorch).
    The array is written in place when nothing else holds it; otherwise
    (a recorded op saved it, or another tensor shares it) the change goes to a
    copy, so that values a backward pass will read keep what they were.
    """
    if t._trace is not None or t._tape is not None:
        return False
    if t.requires_grad and state().grad_enabled:  # (so is changing it by a value in a graph, ``traced``)
        raise RuntimeError(
            f"{what} on a leaf tensor that requires grad would corrupt its gradient; do it inside "
            "wg.no_grad() (as an optimiser step does), or build a new tensor (x = x + ...)")
    if traced:  # the new value depends on a value in a graph: the change must be an op
        return False
    old = t._value
    if type(old) is np.ndarray and old.flags.writeable and _getrefcount(old) <= _OWNED_REFS:
        change(old)
    else:
        new = np.array(old, copy=True)
        change(new)
        t._value = normalize(new)
    return True


_OWNED_REFS = 3  # getrefcount's argument, mutate's local `old`, and the tensor's own slot


def rebind(t: Tensor, new: Tensor) -> None:
    """Make ``t`` stand for ``new``'s value and place (an in-place op on a value in a graph).

    The op that made ``new`` may have imported ``t`` into its list (``t`` came
    from an older list, or is a transform's input): that import must keep
    naming ``t``'s old place, which ``t`` is about to leave.  It is handed to a
    stand-in holding the old place; for an input (no place: its cotangent is
    collected by identity) the stand-in names ``t`` as the input it stands for.
    """
    tape = new._tape
    if tape is not None and tape is not t._tape:
        i = tape.imports.pop(id(t), None)
        if i is not None:
            old = _alloc(Tensor)
            for slot in ("_value", "_trace", "_tape", "_idx", "_primal", "_tangent", "requires_grad", "_grad"):
                if hasattr(t, slot):
                    setattr(old, slot, getattr(t, slot))
            old._meta = {"stands_for": t} if t._tape is None else None
            tape.entries[i] = (old,)
            tape.imports[id(old)] = i
    t._value = new._value
    t._trace = new._trace
    t._tape = new._tape
    t.requires_grad = new.requires_grad
    if new._tape is not None:
        t._idx = new._idx
    if new._trace is not None:
        t._primal = new._primal
        t._tangent = new._tangent


def _new(value: Any) -> Tensor:
    """Wrap an already-normalised value as an eager tensor without graph (the hot path: no checks)."""
    t = _alloc(Tensor)
    t._value = value
    t._trace = None
    t._tape = None
    t.requires_grad = False
    t._grad = None
    t._meta = None
    return t


_alloc = object.__new__


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
    if t is int or t is bool or t is complex:
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
            f"unsupported dtype {arr.dtype}: wengert tensors hold bool, integer, floating-point or complex numbers "
            "(object and string arrays are not supported)"
        )
    if arr.dtype == np.float16:
        raise TypeError("float16 is not supported; use float32 or float64")
    return normalize(arr)


def shape_of(x: Any) -> tuple:
    if type(x) is float:
        return ()
    if isinstance(x, Tensor):
        if x._trace is not None:
            return x._trace.box_shape(x)
        x = x._value
        return () if type(x) is float else x.shape
    s = getattr(x, "shape", None)
    return s if s is not None else np.shape(x)


def dtype_of(x: Any) -> np.dtype:
    if type(x) is float:
        return _F64
    if isinstance(x, Tensor):
        x = x._value
        if type(x) is float:
            return _F64
    d = getattr(x, "dtype", None)
    return d if d is not None else np.asarray(x).dtype


def raw(x: Any) -> Any:
    """The plain value of a tensor (or the argument itself): a read that tracing interpreters see."""
    if isinstance(x, Tensor):
        if x._trace is not None:
            import sys

            caller = sys._getframe(1).f_code.co_name
            x._trace.read(x, f"'{caller}' (a derivative or helper) read the plain value", strict=False)
        return x._value
    return x


def value_of(x: Any) -> Any:
    """The plain value of a tensor (or ``x`` itself), for code that only hands values on (no interpreter is told)."""
    return x._value if isinstance(x, Tensor) else x


def grad_values(params: Any) -> list:
    """``[(tensor, value, gradient value)]`` for each tensor of ``params`` whose ``.grad`` is set.

    What an optimiser's step reads, in one call for all its parameters (the
    values are the live arrays: updating them in place updates the tensors).
    """
    out = []
    for p in params:
        g = p._grad
        if g is not None:
            out.append((p, p._value, g._value if isinstance(g, Tensor) else g))
    return out


def clear_grads(params: Any) -> None:
    """Set ``.grad`` of every tensor of ``params`` to None (an optimiser's ``zero_grad``)."""
    for p in params:
        p._grad = None


def live_trace(x: Any) -> Any:
    """The running interpreter (transform level) that ``x`` is a value of, or None."""
    if isinstance(x, Tensor):
        t = x._trace
        if t is not None and t.alive:
            return t
    return None


def entry_of(x: Any) -> tuple | None:
    """``(tape, index)`` of the Wengert-list entry that computed eager tensor ``x``, or None (a leaf or a constant)."""
    if isinstance(x, Tensor) and x._tape is not None:
        return x._tape, x._idx
    return None


def in_graph(x: Any) -> bool:
    """Is ``x`` an eager tensor computed by a recorded op (a non-leaf of the eager graph)?"""
    return isinstance(x, Tensor) and x._trace is None and x._tape is not None


def is_traced(x: Any) -> bool:
    """Does ``x`` carry a derivative or trace: a tensor that requires grad, is recorded, or is a transform's box?"""
    return isinstance(x, Tensor) and (x._trace is not None or x.requires_grad)


_F64 = np.dtype(np.float64)


def _contains_tensor(data: Any) -> bool:
    if isinstance(data, Tensor):
        return True
    if isinstance(data, (list, tuple)):
        return any(_contains_tensor(d) for d in data)
    return False


def _nested_stack(data: Any, dtype: Any) -> Tensor:
    """A (nested) list that holds tensors, as one tensor in the graph: a stack of stacks."""
    if isinstance(data, (list, tuple)):
        if not data:
            raise ValueError("tensor: an empty list inside a list of tensors has no shape to stack")
        return _stack([_nested_stack(d, dtype) for d in data])
    t = data if isinstance(data, Tensor) else Tensor(data, dtype=dtype)
    if dtype is not None and t.dtype != np.dtype(dtype):
        t = t.astype(dtype)
    return t


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Make a tensor from a number, nested list, ndarray or tensor (the data is copied).

    dtype inference follows NumPy: Python floats give float64, ints int64.
    A list that holds tensors is stacked *in the graph* (``wg.stack``), so
    gradients flow through it.

    >>> import wengert as wg
    >>> x = wg.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4.])
    >>> a = wg.tensor(1.0, requires_grad=True)
    >>> (wg.tensor([a * 2, a * 3]).sum() + a).backward()
    >>> a.grad
    tensor(6.)
    """
    if isinstance(data, (list, tuple)) and _contains_tensor(data):
        t = _nested_stack(data, dtype)
        if any(_contains_traced(d) for d in data):
            if requires_grad:
                raise RuntimeError("tensor(..., requires_grad=True) of values that are already in a graph: "
                                   "the result is not a leaf; drop requires_grad (gradients flow through it)")
            return t
        data = t._value
    if isinstance(data, Tensor):
        if data._trace is not None:  # a copy of a traced value: a constant (wg.jit cannot compile it)
            data._trace.read(data, "wg.tensor() of a traced value (a constant copy)", strict=False, array=True)
        data = data._value
    if isinstance(data, np.ndarray):
        data = data.copy()
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _contains_traced(data: Any) -> bool:
    if isinstance(data, Tensor):
        return is_traced(data)
    if isinstance(data, (list, tuple)):
        return any(_contains_traced(d) for d in data)
    return False


def as_tensor(x: Any) -> Tensor:
    """Return ``x`` if it is a tensor, else wrap it (without copying ndarrays; lists of tensors are stacked)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (list, tuple)) and _contains_tensor(x):
        return _nested_stack(x, None)
    return Tensor(x)


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


__all__ = ["ConcretizationError", "Tensor", "as_tensor", "is_tensor", "tensor"]

# Set by wengert.core.walk when it is imported (it needs Tensor, and Tensor.backward needs it).
_engine_backward: Any = None
# Set by wengert.core.shapes: the rule `stop_gradient` (detach).
_stop_gradient: Any = None
# Set by wengert.ops.api: wg.stack (a list of tensors made into one tensor, in the graph).
_stack: Any = None
