"""A compiled Wengert list: what ``wg.jit`` replays on plain NumPy values.

:class:`Program` is built from the list that wg.jit's staging interpreter
recorded (read through :mod:`wengert.core.graph`), in four passes:

1. **steps**: every op the outputs depend on, in list order (dead code never
   becomes a step), with its inputs as *slots* of one value list (traced
   inputs, constants, closed-over parameters read at each call, one slot per
   step); an op that hands its input on unchanged for the traced shapes (a
   reshape to the same shape, ``x * 1``) becomes no step, and an op equal to
   an earlier one (same rule, inputs and parameters) reuses its slot;
2. **fusion**: a 2-D transpose feeding a matrix product becomes part of it
   (``a @ b.T`` costs NumPy nothing: a view);
3. **lowering**: each step is bound to the NumPy call it needs for the traced
   shapes (``sum_to``'s axes worked out once, a ufunc called directly), and
   an elementwise step writes into the buffer of an input that dies with it
   (``out=``), so the replay allocates about what hand-written NumPy does;
4. **frees**: each intermediate is dropped after its last use, as eager code
   drops a temporary, so the replay's peak memory is not the sum of its values.

A replay is then one Python loop over the steps, each a call and a few list
lookups.  Only arrays the program made itself are ever written in place:
never an input, a constant, a parameter, or a view of one.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .core.graph import Node, node_of, nodes
from .core.rule import REGISTRY, Rule
from .core.tensor import Tensor, _new, dtype_of, normalize, shape_of, value_of
from .tree import tree_unflatten


class _Op:
    """One step before lowering: ``out = rule(*ins, **params)``, with the values the trace saw."""

    __slots__ = ("ans", "ins", "ones", "out", "params", "rule", "transposed", "vals")

    def __init__(self, rule: Rule, ins: list, out: int, params: dict | None, ans: Any, vals: tuple,
                 ones: tuple = ()) -> None:
        self.rule = rule
        self.ins = ins
        self.out = out
        self.params = params
        self.ans = ans
        self.vals = vals
        self.ones = ones  # the positions of inputs that are constants of ones (a backward pass's seed)
        self.transposed = (False, False)  # matmul only: read input 0 / 1 transposed (a fused transpose)


class Program:
    """A compiled Wengert list: input slots, constants, steps ``(call, argument slots, output slot)``."""

    def __init__(self, level: Any, tracers: list, out_leaves: list, out_td: Any) -> None:
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
            s = const_of.get(id(v))
            if s is None:
                keep.append(v)
                s = const_of[id(v)] = len(template)
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

        # 1. steps
        ops: list = []
        seen: dict = {}  # (rule, inputs, params) -> slot: an op computed twice is computed once
        for n in nodes([o for o in out_leaves if level.owns(o)]):
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
            key = _key(rule, ins, params)
            if key is not None and key in seen:
                slot_of[n.key] = seen[key]
                continue
            out = len(template)
            slot_of[n.key] = out
            if key is not None:
                seen[key] = out
            template.append(None)
            names.append("")
            ops.append(_Op(rule, ins, out, params, ans, vals, tuple(k for k, i in enumerate(ins) if _is_one(template[i]))))
        # outputs: a slot, or a constant handed out as it is (copied if an array)
        made = {op.out for op in ops}
        self.outputs = []
        for o in out_leaves:
            if level.owns(o):
                s = slot_of[node_of(o).key]
                self.outputs.append((s, s not in made))  # (an input or a constant is copied when handed out)
            else:
                self.outputs.append((None, value_of(o)))
        keep_slots = {s for s, _ in self.outputs if s is not None}
        # 2. fusion, then what the outputs still need
        ops = _needed(_fuse_transposes(ops), keep_slots)
        for i, op in enumerate(ops):
            names[op.out] = f"v{i}"
        self.shown = [(names[op.out], op.rule.name,
                       [names[i] + (".T" if k < 2 and op.transposed[k] else "") for k, i in enumerate(op.ins)],
                       op.params)
                      for op in ops]
        # 3. lowering and 4. frees
        self.steps = _lower(ops, keep_slots)
        # how each output is handed out: a fresh array of this program's as it is (once); anything that
        # may share memory with an input, a constant or another output is copied
        fresh = {op.out for op in ops if op.rule.name in _FRESH}
        self.plan = []
        handed: set = set()
        for s, extra in self.outputs:
            if s is None:
                self.plan.append((None, extra))
            else:
                self.plan.append((s, _AS_IS if s in fresh and s not in handed else _COPY))
                handed.add(s)
        self.template = template
        self.tail = template[len(tracers):]
        self.names = names
        self.single = self.outputs[0][0] if len(self.outputs) == 1 and out_td.kind == "leaf" else None

    def run(self, inputs: list, tensor_mode: bool = False) -> Any:
        """Replay the steps on ``inputs`` (plain values in the order of the traced leaves)."""
        vals = inputs + self.tail  # the inputs are the first slots; then the constants and steps
        for s, t, shape, dtype in self.live:
            v = value_of(t)
            if shape_of(v) != shape or dtype_of(v) != dtype:
                raise ValueError(f"wg.jit: a closed-over tensor changed from shape {shape} {dtype} to "
                                 f"{shape_of(v)} {dtype_of(v)} since the function was traced; make a new wg.jit")
            vals[s] = v
        # The hot loop: each step is (call, argument slot a, slot b, output slot, slots to free),
        # bound once at compile time.  One- and two-input steps (nearly all) index their slots
        # directly; b is _ONE or _MANY (then a is a tuple of slots) otherwise.
        for fn, a, b, out, frees in self.steps:
            if b >= 0:
                vals[out] = fn(vals[a], vals[b])
            elif b == _ONE:
                vals[out] = fn(vals[a])
            else:
                vals[out] = fn(*[vals[i] for i in a])
            for k in frees:
                vals[k] = None
        if self.single is not None:  # one output: the common case
            v = _plain(vals[self.single])
            if type(v) is np.ndarray and (self.outputs[0][1] or v.base is not None or not v.flags.writeable):
                v = v.copy()
            return _new(v) if tensor_mode else v
        return self._outputs(vals, tensor_mode)

    def _outputs(self, vals: list, tensor_mode: bool) -> Any:
        res = []
        for s, how in self.plan:
            if s is None:  # a constant output of fn
                v = how.copy() if type(how) is np.ndarray else how
                res.append(_new(v) if tensor_mode and isinstance(v, (float, np.ndarray)) else v)
                continue
            v = vals[s]
            if type(v) is not np.ndarray or not v.ndim:
                v = _plain(v)
            elif how is _COPY:
                v = v.copy()  # never hand out the program's inputs, constants, views, or one array twice
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


def _plain(v: Any) -> Any:
    """A result in the engine's storage form (a float64 scalar as a Python float)."""
    return v if type(v) is np.ndarray and v.ndim else normalize(v)


# ====================================================================== 1. steps
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


def _key(rule: Rule, ins: list, params: dict | None) -> tuple | None:
    """What makes two ops the same computation (None: never merged, e.g. a custom op with its context)."""
    if REGISTRY.get(rule.name) is not rule:
        return None
    try:
        p = tuple(sorted((k, _hashable(v)) for k, v in (params or {}).items()))
        hash(p)
    except TypeError:
        return None
    return (rule.index, tuple(ins), p)


def _hashable(v: Any) -> Any:
    if type(v) is np.ndarray:
        return ("array", v.shape, str(v.dtype), v.tobytes())
    if isinstance(v, (list, tuple)):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, slice):
        return ("slice", v.start, v.stop, v.step)
    if isinstance(v, np.dtype):
        return str(v)
    return v


# ====================================================================== 2. fusion
def _is_matrix_transpose(op: _Op) -> bool:
    if op.rule.name != "transpose" or len(shape_of(op.vals[0])) != 2:
        return False
    axes = (op.params or {}).get("axes")
    return axes is None or tuple(axes) == (1, 0)


def _fuse_transposes(ops: list) -> list:
    """matmul(a, transpose(b)) reads b transposed (a view in NumPy): the transpose step goes away if unused."""
    made_by = {op.out: op for op in ops}
    for op in ops:
        if op.rule.name != "matmul":
            continue
        flags = list(op.transposed)
        for k, s in enumerate(op.ins):
            src = made_by.get(s)
            if src is not None and _is_matrix_transpose(src):
                op.ins = list(op.ins)
                op.ins[k] = src.ins[0]
                flags[k] = True
        op.transposed = tuple(flags)
    return ops


def _needed(ops: list, keep: set) -> list:
    """The ops whose results the outputs still need, in order."""
    need = set(keep)
    out = []
    for op in reversed(ops):
        if op.out in need:
            out.append(op)
            need.update(op.ins)
    return out[::-1]


# ====================================================================== 3. lowering, 4. frees
# Steps that return a new array of their own (never a view of an input): their results may be
# written in place by a later step once nothing else reads them.
_FRESH = frozenset({"add", "subtract", "multiply", "divide", "negative", "exp", "log", "tanh", "sin", "cos", "sqrt",
                    "square", "relu", "maximum", "minimum", "matmul", "sum", "sum_to", "logsumexp", "where", "clip",
                    "greater", "less", "equal", "sigmoid", "softplus", "log1p", "expm1", "concatenate", "copy"})


def _lower(ops: list, keep: set) -> list:
    made = {op.out: op for op in ops}
    last: dict = {}  # slot -> index of the last op that reads it
    for k, op in enumerate(ops):
        for i in op.ins:
            last[i] = k
    steps = []
    for k, op in enumerate(ops):
        frees = tuple(i for i in dict.fromkeys(op.ins) if last.get(i) == k and i in made and i not in keep)
        # an input that dies here, made fresh by this program, shaped like the result: write into it
        into = None
        for j, i in enumerate(op.ins):
            src = made.get(i)
            # (0-d results come back from NumPy as scalars, not arrays: never a buffer)
            if (i in frees and src is not None and src.rule.name in _FRESH and type(op.ans) is np.ndarray
                    and op.ans.ndim and type(src.ans) is np.ndarray and src.ans.shape == op.ans.shape
                    and src.ans.dtype == op.ans.dtype and op.ins.count(i) == 1):
                into = j
                break
        fn = _call(op, into)
        ins = op.ins
        if len(ins) == 1:
            steps.append((fn, ins[0], _ONE, op.out, frees))
        elif len(ins) == 2:
            steps.append((fn, ins[0], ins[1], op.out, frees))
        else:
            steps.append((fn, tuple(ins), _MANY, op.out, frees))
    return steps


_ONE, _MANY = -1, -2  # the b field of a step with one input, or with a tuple of inputs in a
_AS_IS, _COPY = "as is", "copy"  # how an output is handed out


def _call(op: _Op, into: int | None) -> Callable:
    """The NumPy call of one step for the traced shapes (``into``: the input whose buffer receives the result)."""
    rule, params, vals, ans = op.rule, op.params or {}, op.vals, op.ans
    name = rule.name if REGISTRY.get(rule.name) is rule else None
    if rule.scalar is not None and not params and all(type(v) is float for v in vals):
        # Python floats: the engine's scalar path (math.tanh ...), exactly as an eager call computes it
        evaluate = rule.evaluate
        return lambda *values: evaluate(values, _EMPTY)
    ufunc = _UFUNCS.get(name) if name else None
    if ufunc is not None:
        if into is None:
            return ufunc
        if len(vals) == 1:
            return lambda x: ufunc(x, out=x)
        return (lambda x, y: ufunc(x, y, out=x)) if into == 0 else (lambda x, y: ufunc(x, y, out=y))
    if name == "relu" and type(ans) is np.ndarray:
        zero = np.zeros((), ans.dtype)  # (a zero of the right dtype: NumPy skips converting a Python 0)
        return (lambda x: np.maximum(x, zero, out=x)) if into is not None else (lambda x: np.maximum(x, zero))
    if name == "matmul":
        ta, tb = op.transposed
        if ta and tb:
            return lambda a, b: np.matmul(a.T, b.T)
        if ta:
            return lambda a, b: np.matmul(a.T, b)
        if tb:
            return lambda a, b: np.matmul(a, b.T)
        return np.matmul
    if name == "tanh_grad" and type(ans) is np.ndarray and type(vals[1]) is np.ndarray \
            and vals[1].shape == ans.shape and vals[1].dtype == ans.dtype:
        return _tanh_grad_call(0 in op.ones)
    if name == "sum" and type(vals[0]) is np.ndarray:
        return functools.partial(np.add.reduce, axis=params.get("axis"), keepdims=params.get("keepdims", False))
    if name == "sum_to" and type(vals[0]) is np.ndarray:
        return _sum_to_call(shape_of(vals[0]), tuple(params["shape"]))
    if name == "reshape" and type(vals[0]) is np.ndarray:
        shape = tuple(params["shape"])
        return lambda x: x.reshape(shape)
    if name == "transpose" and type(vals[0]) is np.ndarray:
        axes = params.get("axes")
        return lambda x: x.transpose(axes)
    if name == "logsumexp" and type(vals[0]) is np.ndarray:
        return _logsumexp_call(params.get("axis"), params.get("keepdims", False), shape_of(ans))
    fn = functools.partial(rule.impl, **params) if params else rule.impl
    if type(ans) is float:  # a float64 scalar stays a Python float, as the engine keeps it (scalar steps read it)
        return lambda *values: normalize(fn(*values))
    return fn


_EMPTY: dict = {}

# Rules whose forward is one NumPy ufunc (called directly, possibly with out=)
_UFUNCS = {name: REGISTRY[name].impl for name in (
    "add", "subtract", "multiply", "divide", "negative", "exp", "log", "log1p", "expm1", "tanh", "sin", "cos",
    "tan", "sqrt", "square", "arctan", "sinh", "cosh", "maximum", "minimum", "greater", "greater_equal", "less",
    "less_equal", "equal", "not_equal") if isinstance(REGISTRY[name].impl, np.ufunc)}


def _tanh_grad_call(seed: bool) -> Callable:
    """g (1 - a^2) in one buffer; g left out when it is the seed of ones (g * x is x for every IEEE value)."""
    if seed:
        def call(g: Any, a: np.ndarray) -> np.ndarray:
            r = np.multiply(a, a)
            return np.subtract(1.0, r, out=r)
    else:
        def call(g: Any, a: np.ndarray) -> np.ndarray:
            r = np.multiply(a, a)
            np.subtract(1.0, r, out=r)
            return np.multiply(g, r, out=r)
    return call


def _sum_to_call(xs: tuple, shape: tuple) -> Callable:
    """sum_to with its axes worked out once: the leading axes NumPy broadcast over, and the kept ones of size 1."""
    lead = len(xs) - len(shape)
    ones = tuple(lead + i for i, s in enumerate(shape) if s == 1 and xs[lead + i] != 1)
    if not ones:
        axes = tuple(range(lead))
        return lambda x: np.add.reduce(x, axis=axes)
    axes = tuple(range(lead)) + ones
    return lambda x: np.add.reduce(x, axis=axes, keepdims=True).reshape(shape)


def _logsumexp_call(axis: Any, keepdims: bool, out_shape: tuple) -> Callable:
    def call(x: np.ndarray) -> Any:
        m = np.max(x, axis=axis, keepdims=True)
        if not math.isfinite(np.add.reduce(m, axis=None)):  # (some max is inf or nan: an all -inf row's is not
            m = np.where(np.isfinite(m), m, 0)  # subtracted; a finite sum of the maxima means all are finite)
        out = np.log(np.add.reduce(np.exp(x - m), axis=axis, keepdims=True))
        out += m
        return out if keepdims else out.reshape(out_shape)

    return call


__all__ = ["Program"]
