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
program: 1 input, 5 steps, 2 constants
  in0: float64 (2,)
  v0 = matmul(c0, in0)
  v1 = tanh(v0)
  v2 = multiply(v1, v1)
  v3 = subtract(c1, v2)
  v4 = matmul(v3, c0)
  return v4

(``c0`` is ``A``, ``c1`` the ``1.0`` of tanh's derivative ``1 - tanh^2``;
the backward's seed, broadcast by sum's VJP, was a multiplication by ones
and is dropped, as are reshapes and casts that change nothing.)

**Semantics** (the JAX ones, where the engine allows):

* *What is traced.*  Arguments are flattened with :mod:`wengert.tree`.
  Floating-point arrays, Tensors and Python floats are traced (a Python
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

from .core.graph import Node, node_of, nodes
from .core.interpret import Stage, anomaly_active
from .core.rule import REGISTRY, Rule
from .core.state import ConcretizationError, is_grad_enabled, state
from .core.tensor import Tensor, _new, dtype_of, live_trace, normalize, shape_of, value_of
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
        prog = self._cache.get(key)
        if prog is not None:
            self._cache.move_to_end(key)
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
        prog = self._lookup(key)
        if prog is None:
            prog, out = _compile(self, args, kwargs, values, tensor_mode)
            self._store(key, prog)
            return out
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
            if t is np.ndarray and a.ndim and a.dtype.kind == "f" and a.dtype.char != "e":  # not float16
                key.append((a.shape, a.dtype))
                values.append(a)
            elif t is float:
                key.append(float)
                values.append(a)
            else:
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


def _leaf_key(jf: Jitted, leaf: Any, i: int) -> tuple:
    """A leaf's part of the cache key and its traced value (or _STATIC)."""
    t = type(leaf)
    if t is float:
        return float, leaf
    if t is np.ndarray or isinstance(leaf, np.generic):
        a = np.asarray(leaf)
        kind = a.dtype.kind
        if kind == "f" and a.dtype != np.float16:
            return (a.shape, a.dtype), normalize(a)
        if kind in "biu":  # indices and masks: static, keyed by their contents
            return ("static array", a.shape, a.dtype, a.tobytes()), _STATIC
        raise TypeError(f"jit: argument leaf {i} of {_name(jf)} has dtype {a.dtype}, which wengert does not "
                        "support (use float32 or float64)")
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
        return o

    if isinstance(out, Tensor):
        return one(out)
    leaves, td = tree_flatten(out)
    return tree_unflatten(td, [one(o) for o in leaves])


# ====================================================================== the program
def _passes_through(rule: Rule, ans: Any, vals: tuple, ins: list, template: list) -> int | None:
    """The slot whose value this step hands on unchanged for the traced shapes, or None.

    Dropping such steps is exact: reshape / broadcast_to / sum_to / cast to the
    input's own shape and dtype, stop_gradient, and x * 1 (a constant of ones,
    e.g. the seed of a backward pass broadcast by sum's VJP: x * 1 is x for
    every IEEE value, -0.0 and NaN included).
    """
    name = rule.name
    if len(vals) == 1 and name in ("stop_gradient", "reshape", "broadcast_to", "sum_to", "cast"):
        keep = 0
    elif name == "multiply" and len(vals) == 2:
        ones = [k for k in (1, 0) if _is_one(template[ins[k]])]  # (only constants have a value before the run)
        if not ones:
            return None
        keep = 1 - ones[0]
    else:
        return None
    s = vals[keep]
    if shape_of(ans) == shape_of(s) and dtype_of(ans) == dtype_of(s) and type(ans) is type(s):
        return ins[keep]
    return None


def _is_one(c: Any) -> bool:
    return (type(c) is float or type(c) is np.ndarray) and bool(np.all(np.equal(c, 1.0)))


class Program:
    """A compiled Wengert list: input slots, constants, steps ``(forward, argument slots, output slot)``.

    Slots are positions in one list of values: the traced inputs first, then
    the constants, then one slot per step.  ``run`` fills the inputs and
    calls each step's NumPy forward in order.
    """

    def __init__(self, level: Stage, tracers: list, out_leaves: list, out_td: Any) -> None:
        self.out_td = out_td
        template: list = []  # the initial slot values: None for inputs and steps, the constants
        names: list = []  # for printing: in0, c1, v2 ...
        self.input_slots = []
        slot_of: dict = {}  # node key -> slot
        for i, z in enumerate(tracers):
            slot_of[node_of(z).key] = len(template)
            self.input_slots.append(len(template))
            template.append(None)
            names.append(f"in{i}")
        self.input_info = [(shape_of(z), dtype_of(z)) for z in tracers]
        self.live: list = []  # (slot, Tensor, shape, dtype): closed-over tensors that require grad, read at each call
        live_of: dict = {}
        const_of: dict = {}  # id(raw constant) -> slot
        keep = []  # the objects whose ids key const_of, kept alive while building

        def const(v: Any) -> int:
            k = id(v)
            s = const_of.get(k)
            if s is None:
                keep.append(v)
                s = const_of[k] = len(template)
                template.append(np.array(v, copy=True, order="K") if type(v) is np.ndarray else v)
                names.append(f"c{sum(n.startswith('c') for n in names)}")
            return s

        def live(t: Tensor) -> int:
            s = live_of.get(id(t))
            if s is None:
                s = live_of[id(t)] = len(template)
                self.live.append((s, t, shape_of(t), dtype_of(t)))
                template.append(None)
                names.append(f"p{len(self.live) - 1}")
            return s

        steps = []
        shown = []  # (name, rule name, argument names, params) for printing
        for n in nodes([o for o in out_leaves if level.owns(o)]):  # the staged list, in order; dead code is left out
            if n.is_leaf:  # one of the traced inputs
                continue
            rule, vals, ans, params = n.rule, n.input_values, n.value, n.params or None
            ins = []
            for a in n.inputs:
                if isinstance(a, Node):
                    ins.append(slot_of[a.key])
                elif a.tensor is not None and a.tensor.requires_grad:
                    ins.append(live(a.tensor))  # a parameter: the program reads its value at each call
                else:
                    ins.append(const(a.value))
            same = _passes_through(rule, ans, vals, ins, template)
            if same is not None:
                slot_of[n.key] = same  # no step: the output is that input
                continue
            out = len(template)
            slot_of[n.key] = out
            template.append(None)
            names.append(f"v{len(steps)}")
            steps.append(_step(rule, ans, vals, params, tuple(ins), out))
            shown.append((names[out], rule.name, [names[i] for i in ins], params))
        self.template = template
        self.tail = template[len(tracers):]
        self.names = names
        self.shown = shown
        # outputs: a slot, or a constant handed out as it is (copied if an array)
        self.outputs = []
        made = {st[3] for st in steps}
        for o in out_leaves:
            if level.owns(o):
                s = slot_of[node_of(o).key]
                self.outputs.append((s, s not in made))  # (an input or a constant is copied when handed out)
            else:
                self.outputs.append((None, value_of(o)))
        self.single = self.outputs[0][0] if len(self.outputs) == 1 and out_td.kind == "leaf" else None
        self.steps = _with_frees(steps, {s for s, _ in self.outputs if s is not None})

    def run(self, inputs: list, tensor_mode: bool = False) -> Any:
        """Replay the steps on ``inputs`` (plain values in the order of the traced leaves)."""
        vals = inputs + self.tail  # the inputs are the first slots; then the constants and steps
        for s, t, shape, dtype in self.live:
            v = value_of(t)
            if shape_of(v) != shape or dtype_of(v) != dtype:
                raise ValueError(f"wg.jit: a closed-over tensor changed from shape {shape} {dtype} to "
                                 f"{shape_of(v)} {dtype_of(v)} since the function was traced; make a new wg.jit")
            vals[s] = v
        # The hot loop: each step is (NumPy forward, argument slot a, slot b, output slot,
        # normalise?, slots to free), bound once at compile time.  One- and two-input steps
        # (nearly all) index their slots directly; b is _ONE or _MANY (then a is a tuple of
        # slots) otherwise.  An intermediate is dropped after its last use, as eager code
        # drops a temporary, so the replay's peak memory is not the sum of all its values.
        for fn, a, b, out, norm, frees in self.steps:
            if b >= 0:
                v = fn(vals[a], vals[b])
            elif b == _ONE:
                v = fn(vals[a])
            else:
                v = fn(*[vals[i] for i in a])
            vals[out] = normalize(v) if norm else v
            for k in frees:
                vals[k] = None
        if self.single is not None:  # one output: the common case
            v = vals[self.single]
            if type(v) is np.ndarray and (self.outputs[0][1] or v.base is not None or not v.flags.writeable):
                v = v.copy()
            return _new(v) if tensor_mode else v
        return self._outputs(vals, tensor_mode)

    def _outputs(self, vals: list, tensor_mode: bool) -> Any:
        res = []
        seen = set()
        for s, extra in self.outputs:
            if s is None:  # a constant output of fn
                v = extra.copy() if type(extra) is np.ndarray else extra
                res.append(_new(v) if tensor_mode and isinstance(v, (float, np.ndarray)) else v)
                continue
            v = vals[s]
            if type(v) is np.ndarray and (extra or v.base is not None or not v.flags.writeable or id(v) in seen):
                v = v.copy()  # never hand out the program's constants, views, or one array twice
            seen.add(id(v))
            res.append(_new(v) if tensor_mode else v)
        if len(res) == 1 and self.out_td.kind == "leaf":
            return res[0]
        return tree_unflatten(self.out_td, res)

    def __str__(self) -> str:
        used = {n for _, _, ins, _ in self.shown for n in ins}
        n_const = sum(1 for n in used if n.startswith("c"))
        n_in = len(self.input_slots)
        head = f"program: {n_in} input{'s' if n_in != 1 else ''}, {len(self.steps)} steps, "
        lines = [head + f"{n_const} constant{'s' if n_const != 1 else ''}"]
        for i, (shape, dtype) in enumerate(self.input_info):
            lines.append(f"  in{i}: {dtype} {shape}")
        for s, _, shape, dtype in self.live:
            lines.append(f"  {self.names[s]}: {dtype} {shape} (a closed-over tensor that requires grad, read at each call)")
        for name, rule, ins, params in self.shown:
            p = "".join(f", {k}={v!r}" for k, v in (params or {}).items() if k != "ctx")
            lines.append(f"  {name} = {rule}({', '.join(ins)}{p})")
        outs = [self.names[s] if s is not None else "const" for s, _ in self.outputs]
        lines.append(f"  return {', '.join(outs)}")
        return "\n".join(lines)

    __repr__ = __str__


def _step(rule: Rule, ans: Any, vals: tuple, params: dict | None, ins: tuple, out: int) -> tuple:
    """Bind one step: the function to call on plain values, and whether its result needs normalising."""
    if rule.scalar is not None and not params and all(type(v) is float for v in vals):
        # Python floats: the engine's scalar path (math.tanh ...), exactly as an eager call computes it
        fn, norm = _scalar_call(rule), False
    else:
        impl = _DIRECT.get(rule.name, rule.impl) if REGISTRY.get(rule.name) is rule else rule.impl
        fn = impl if not params else functools.partial(impl, **params)
        # An n-d array result comes back from NumPy as an ndarray already; 0-d results
        # (np.float64 from a full reduction ...) are brought to storage form as the engine does.
        norm = not (type(ans) is np.ndarray and ans.ndim > 0)
    if len(ins) == 1:
        return (fn, ins[0], _ONE, out, norm)
    if len(ins) == 2:
        return (fn, ins[0], ins[1], out, norm)
    return (fn, ins, _MANY, out, norm)


_ONE, _MANY = -1, -2  # the b field of a step with one input, or with a tuple of inputs in a


def _with_frees(steps: list, keep: set) -> list:
    """Each step with the slots of intermediates whose last use it is (never the outputs in ``keep``)."""
    made = {st[3] for st in steps}
    last: dict = {}
    for k, (_, a, b, _, _) in enumerate(steps):
        for i in ((a,) if b == _ONE else (a, b) if b >= 0 else a):
            if i in made and i not in keep:
                last[i] = k
    frees: list = [[] for _ in steps]
    for i, k in last.items():
        frees[k].append(i)
    return [(*st, tuple(f)) for st, f in zip(steps, frees)]

# Rules whose forward only adds input validation to one NumPy call: the trace has
# validated the inputs, whose shapes the cache key fixes, so the replay calls NumPy.
_DIRECT = {"matmul": np.matmul}


def _scalar_call(rule: Rule) -> Callable:
    evaluate = rule.evaluate
    empty: dict = {}

    def call(*values: Any) -> Any:
        return evaluate(values, empty)

    return call
