"""wg.jit: record the Wengert list once, then replay it on plain NumPy values.

An eager call pays Python bookkeeping for every op (a Tensor per value, a
graph node per op, a reverse walk); on small arrays that bookkeeping costs
more than NumPy's own work.  ``jit(fn)`` runs ``fn`` once on *tracers* (input
Tensors that the engine records), keeps the recorded graph from the outputs
back to the inputs as a *program* (a topologically ordered list of steps
``v7 = tanh(v6)``), and answers later calls with the same shapes and dtypes
by running those steps' NumPy forward implementations on plain values: no
Tensor, no graph, no walk.  A gradient compiles the same way, because
``grad`` applied to traced inputs records its own backward pass (that is how
``grad(grad(f))`` works): ``jit(grad(f))`` is one program holding the
forward *and* the backward ops.

>>> import numpy as np, wengert as wg
>>> A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
>>> f = lambda theta: wg.sum(wg.tanh(A @ theta))
>>> g = wg.jit(wg.grad(f))
>>> theta = np.array([0.1, -0.2])
>>> np.allclose(g(theta), wg.grad(f)(theta))        # the first call traces, later ones replay
True
>>> print(g.program(theta))                          # doctest: +NORMALIZE_WHITESPACE
program: 1 input, 4 steps, 2 constants
  in0: float64 (2,)
  v0 = matmul(c0, in0)
  v1 = tanh(v0)
  v2 = tanh_grad(c1, v1)
  v3 = matmul(v2, c0)
  return v3

(``c0`` is ``A``, ``c1`` the ``1.0`` of tanh's derivative ``1 - tanh^2``;
the backward's seed, broadcast by sum's VJP, was a multiplication by ones
and is dropped, as are reshapes and casts that change nothing.)

**Semantics** (the JAX ones, where the engine allows):

* *What is traced.*  Arguments are flattened with :mod:`wengert.tree`.
  Floating-point and complex arrays, Tensors and Python floats are traced (a Python
  float becomes a float64 tracer, so a new value does not recompile).
  Everything else is *static*: part of the cache key, by value: Python ints,
  bools, strings, ``None``, integer and boolean arrays (usually indices or
  masks; keyed by their contents), and the arguments named in
  ``static_argnums`` (which must be hashable).
* *Cache.*  The key is the argument structure, each traced leaf's shape and
  dtype, and the static values; a new key traces ``fn`` again.
* *Constants.*  Values that do not depend on the traced inputs (closed-over
  arrays, ``wg.tensor(...)`` made inside ``fn``) are captured when ``fn`` is
  traced, ndarrays by copy: changing a closed-over array afterwards is not
  seen.  Closed-over Tensors that *require grad* (a model's parameters) are
  the exception: every op on them was recorded, so the program reads their
  current value at each call (an optimiser's updates are seen).
* *Side effects and randomness* in ``fn`` (printing, ``np.random``) happen
  once, while tracing; the replay only repeats the recorded ops.
* *Python control flow on traced values* (``if x.sum() > 0:``, ``float(x)``)
  raises :class:`~wengert.core.state.ConcretizationError`: the branch would be
  frozen.  Use ``wg.where``, or mark the argument static.
* *What comes back.*  Trees as ``fn`` returns them; each traced output is a
  plain value (an ndarray, or a Python float for a float64 scalar), or a
  Tensor without graph when some argument was a Tensor.  Arrays handed out
  are never views of the program's constants or of each other.
* *When ``fn`` runs eagerly instead.*  The replay cannot be differentiated,
  so a call with a Tensor argument that another transform is differentiating
  (or that requires grad, with grad mode on), or a call under
  ``wg.detect_anomaly()``, simply calls ``fn``.  And where Python reads a
  traced value *outside* the staged program (see below) the program would
  silently go stale, so such a trace is not compiled: ``fn`` runs eagerly for
  that signature, with a :class:`JitFallbackWarning` that says what was read.
* *Cache.*  At most ``cache_size`` programs (default 64) are kept per jitted
  function, the least recently used going first: a function called with
  ever new shapes does not grow without bound.

**How it traces.**  ``wg.jit`` is an interpreter (:class:`wengert.core.interpret.Stage`):
while ``fn`` runs, every op on a traced value goes on the stage's own Wengert
list, differentiable or not: comparisons, ``sign``, ``argmax``, ops under
``wg.no_grad()``, ``detach()`` (as ``stop_gradient``), and the tests inside
derivative rules (relu's mask, where's condition), which the rules compute
with the comparison rules when given Tensors.  A transform inside ``fn``
(``grad``, ``jvp``, ``hessian``) is a level above the stage, so the ops of
its backward or tangent pass land on the same list: one program.  What the
stage cannot record is Python reading a traced value: ``bool()``,
``float()``, ``item()`` and indices raise :class:`ConcretizationError` (the
branch would be frozen), and the other reads (``.data``, a rule or helper
reading a plain value, ``wg.tensor(x)`` of a traced ``x``) make the trace run
eagerly instead, with a warning: the results stay exact, only not compiled.

Custom ops (``wg.Function``) replay their ``forward``; under ``jit(grad(f))``
their ``backward`` is staged as one more op of the program (it runs on plain
values at each replay).  A derivative *of* that backward (``grad(grad(f))``
through one) is refused with the Function's own error, staged or not.
"""
from __future__ import annotations

import functools
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .core.interpret import Stage, anomaly_active
from .core.state import ConcretizationError, is_grad_enabled, state
from .core.tensor import Tensor, _new, live_trace, normalize, value_of
from .program import Program
from .tree import tree_flatten, tree_unflatten

__all__ = ["ConcretizationError", "JitFallbackWarning", "Jitted", "Program", "jit"]


class JitFallbackWarning(UserWarning):
    """wg.jit could not compile a trace exactly, so the function runs eagerly for that signature."""


def jit(fn: Callable, static_argnums: int | Sequence[int] = (), cache_size: int = 64) -> Jitted:
    """Compile ``fn`` by tracing it once per argument signature and replaying the recorded ops.

    ``static_argnums`` names positional arguments that are not traced: their
    values (which must be hashable) become part of the cache key and are seen
    by ``fn`` as plain Python values, so ``fn`` may branch on them.
    ``cache_size`` bounds the programs kept (least recently used go first).
    See the module docstring (:mod:`wengert.jit`) for what is traced, cached
    and returned.

    >>> import numpy as np, wengert as wg
    >>> def f(x, n):
    ...     for _ in range(n):                 # n is static: the loop is unrolled while tracing
    ...         x = wg.sin(x)
    ...     return wg.sum(x)
    >>> g = wg.jit(wg.grad(f), static_argnums=1)
    >>> x = np.array([0.5, 1.0])
    >>> np.allclose(g(x, 3), wg.grad(f)(x, 3))
    True
    """
    if not callable(fn):
        raise TypeError(f"jit: fn must be callable, got a {type(fn).__name__}; "
                        "use wg.jit(f, static_argnums=...) or functools.partial(wg.jit, static_argnums=...) "
                        "as a decorator")
    if not isinstance(cache_size, int) or isinstance(cache_size, bool) or cache_size < 1:
        raise ValueError(f"jit: cache_size must be a positive int, got {cache_size!r}")
    return Jitted(fn, _static_nums(static_argnums), cache_size)


def _static_nums(static_argnums: Any) -> tuple:
    if isinstance(static_argnums, (int, np.integer)) and not isinstance(static_argnums, bool):
        return (int(static_argnums),)
    if isinstance(static_argnums, (tuple, list)) and all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in static_argnums):
        nums = tuple(int(a) for a in static_argnums)
        if len(set(nums)) != len(nums):
            raise ValueError(f"jit: static_argnums={static_argnums!r} names an argument twice")
        return nums
    raise TypeError(f"jit: static_argnums must be an int or a tuple of ints, got {static_argnums!r}")


# ====================================================================== the jitted callable
_EAGER = "eager"  # a cache entry: this signature could not be compiled, call fn


class Jitted:
    """What :func:`jit` returns: call it like ``fn``; ``.program(*args)`` shows the compiled Wengert list."""

    def __init__(self, fn: Callable, static_argnums: tuple, cache_size: int = 64) -> None:
        functools.update_wrapper(self, fn, updated=())  # name, docstring (not fn's __dict__: it would shadow ours)
        self.fn = fn
        self.static_argnums = static_argnums
        self.cache_size = cache_size
        self._cache: OrderedDict = OrderedDict()

    def __repr__(self) -> str:
        return f"<wg.jit of {getattr(self.fn, '__qualname__', self.fn)!r}, {len(self._cache)} compiled>"

    def _lookup(self, key: Any) -> Any:
        cache = self._cache
        prog = cache.get(key)
        if prog is not None and len(cache) > 1:
            cache.move_to_end(key)  # (the least recently used goes first when the cache is full)
        return prog

    def _store(self, key: Any, prog: Any) -> None:
        if prog is None:  # not cached: the trace met a value another transform is differentiating
            return
        self._cache[key] = prog
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        sig = _signature(self, args, kwargs)
        if sig is None:  # a Tensor argument the caller may differentiate, or anomaly mode
            return self.fn(*args, **kwargs)
        key, values, tensor_mode = sig
        cache = self._cache
        prog = cache.get(key)
        if prog is None:
            prog, out = _compile(self, args, kwargs, values, tensor_mode)
            self._store(key, prog)
            return out
        if len(cache) > 1:
            cache.move_to_end(key)  # (the least recently used goes first when the cache is full)
        if prog is _EAGER:  # handed out as a replay would be, so that every call returns the same kinds
            return _hand_out(self.fn(*args, **kwargs), tensor_mode)
        return prog.run(values, tensor_mode)

    def program(self, *args: Any, **kwargs: Any) -> Program:
        """The compiled program for these arguments (traced now if it is not cached yet)."""
        sig = _signature(self, args, kwargs)
        if sig is None:
            raise ValueError("jit.program: these arguments are not compiled (a Tensor argument requires grad, "
                             "or detect_anomaly is on): the function runs eagerly for them")
        key, values, tensor_mode = sig
        prog = self._lookup(key)
        if prog is None:
            prog, _ = _compile(self, args, kwargs, values, tensor_mode)
            self._store(key, prog)
        if prog is None or prog is _EAGER:
            raise ValueError(f"jit.program: {self!r} runs eagerly for these arguments (see the JitFallbackWarning "
                             "of its first call)")
        return prog


def _signature(jf: Jitted, args: tuple, kwargs: dict) -> tuple | None:
    """(cache key, traced values in order, tensor mode), or None when ``fn`` must run eagerly.

    This runs on every call, before the replay: the common case (positional
    ndarrays and floats, nothing static) is handled by the first loop alone.
    """
    if anomaly_active(state()):
        return None
    if not kwargs and not jf.static_argnums:
        key = []
        values = []
        for a in args:
            t = type(a)
            if t is np.ndarray:
                shape = a.shape
                if shape and a.dtype.char in _FLOATS:
                    key.append((shape, a.dtype))
                    values.append(a)
                    continue
                break
            if t is list or t is tuple:  # a list of parameter arrays: as common, one level down
                entries = []
                for e in a:
                    if type(e) is np.ndarray:
                        shape = e.shape
                        if shape and e.dtype.char in _FLOATS:
                            entries.append((shape, e.dtype))
                            continue
                    elif type(e) is float:
                        entries.append(float)
                        continue
                    break
                else:
                    if entries:
                        key.append((t, tuple(entries)))
                        values += a
                        continue
                break
            if t is float:
                key.append(float)
                values.append(a)
                continue
            break
        else:
            return tuple(key), values, False
    # the general case: trees, kwargs, static arguments
    nargs = len(args)
    static = {}
    for n in jf.static_argnums:
        if not -nargs <= n < nargs:
            raise IndexError(f"jit: static_argnums={n} is out of range: {_name(jf)} was called with {nargs} "
                             f"positional argument{'s' if nargs != 1 else ''}")
        static[n % nargs] = args[n]
    for n, v in static.items():
        try:
            hash(v)
        except TypeError:
            raise TypeError(f"jit: static argument {n} of {_name(jf)} is a {type(v).__name__}, which is not "
                            "hashable; static arguments are part of the cache key (use a tuple instead of a "
                            "list, or pass arrays as traced arguments)") from None
    dynamic = tuple(a for i, a in enumerate(args) if i not in static)
    leaves, treedef = tree_flatten((dynamic, kwargs))
    key = [treedef, tuple((n, type(v), v) for n, v in sorted(static.items()))]
    values = []
    tensor_mode = False
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, Tensor):
            tensor_mode = True
            if live_trace(leaf) is not None or (leaf.requires_grad and is_grad_enabled()):
                return None  # the caller may differentiate through this call: the replay could not
            leaf = value_of(leaf)
        entry, value = _leaf_key(jf, leaf, i)
        key.append(entry)
        if value is not _STATIC:
            values.append(value)
    return tuple(key), values, tensor_mode


_STATIC = object()  # marks a leaf that is part of the key, not traced
_FLOATS = frozenset("fdg")  # the dtype.char of the float arrays the first loop traces (float16 is refused)


def _leaf_key(jf: Jitted, leaf: Any, i: int) -> tuple:
    """A leaf's part of the cache key and its traced value (or _STATIC)."""
    t = type(leaf)
    if t is float:
        return float, leaf
    if t is np.ndarray or isinstance(leaf, np.generic):
        a = np.asarray(leaf)
        kind = a.dtype.kind
        if kind in "fc" and a.dtype != np.float16:
            return (a.shape, a.dtype), normalize(a)
        if kind in "biu":  # indices and masks: static, keyed by their contents
            return ("static array", a.shape, a.dtype, a.tobytes()), _STATIC
        raise TypeError(f"jit: argument leaf {i} of {_name(jf)} has dtype {a.dtype}, which wengert does not "
                        "support (use float32, float64, complex64 or complex128)")
    if isinstance(leaf, float):  # a float subclass
        return float, float(leaf)
    try:
        hash(leaf)
    except TypeError:
        raise TypeError(f"jit: argument leaf {i} of {_name(jf)} is a {t.__name__}, which is neither an array "
                        "nor hashable; non-array leaves are static (part of the cache key) and must be hashable"
                        ) from None
    return ("static", t, leaf), _STATIC


def _name(jf: Jitted) -> str:
    return getattr(jf.fn, "__name__", "fn")


# ====================================================================== tracing
def _compile(jf: Jitted, args: tuple, kwargs: dict, values: list, tensor_mode: bool) -> tuple:
    """Trace ``fn`` once: (the Program, or _EAGER, or None: not to be cached; and the result of this first call)."""
    level = Stage("wg.jit")
    with level:
        tracers = [level.box(v) for v in values]
        call_args, call_kwargs = _substitute(jf, args, kwargs, tracers)
        out = jf.fn(*call_args, **call_kwargs)
    if level.leaks:
        what = level.leaks[0][0]
        if any(r for _, r in level.leaks):
            # the traced values lost a derivative that an enclosing transform needs: run fn again,
            # eagerly, for this call, and compile the next one (the closure may be gone by then)
            return None, jf.fn(*args, **kwargs)
        warnings.warn(f"wg.jit: {_name(jf)} runs eagerly for these argument shapes: {what}; a compiled replay "
                      "would treat that value as a constant", JitFallbackWarning, stacklevel=3)
        return _EAGER, _hand_out(out, tensor_mode)
    out_leaves, out_td = tree_flatten(out)
    prog = Program(level, tracers, out_leaves, out_td)
    return prog, _hand_out(out, tensor_mode)


def _substitute(jf: Jitted, args: tuple, kwargs: dict, tracers: list) -> tuple:
    """The call's arguments with every traced leaf replaced by its tracer."""
    it = iter(tracers)
    nargs = len(args)
    static = {n % nargs for n in jf.static_argnums}
    dynamic = tuple(a for i, a in enumerate(args) if i not in static)
    leaves, treedef = tree_flatten((dynamic, kwargs))
    new = []
    for i, leaf in enumerate(leaves):  # traced exactly where _signature took a value
        _, value = _leaf_key(jf, value_of(leaf), i)
        new.append(leaf if value is _STATIC else next(it))
    dyn, kw = tree_unflatten(treedef, new)
    dyn = iter(dyn)
    call_args = [args[i] if i in static else next(dyn) for i in range(nargs)]
    return call_args, kw


def _hand_out(out: Any, tensor_mode: bool) -> Any:
    """Outputs computed on Tensors (the tracing call, an eager fallback), handed out like a replay's."""

    def one(o: Any) -> Any:
        if isinstance(o, Tensor):
            v = value_of(o)
            if type(v) is np.ndarray:
                v = v.copy()  # they may be views; the caller gets its own
            return _new(v) if tensor_mode else v
        if type(o) is np.ndarray:  # an array fn returned as it is (a replay hands out a copy of it too)
            o = o.copy()
        return _new(o) if tensor_mode and isinstance(o, (float, np.ndarray)) else o

    if isinstance(out, Tensor):
        return one(out)
    leaves, td = tree_flatten(out)
    return tree_unflatten(td, [one(o) for o in leaves])
