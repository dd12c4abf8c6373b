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
   shapes (``sum_to``'s axes worked out once, a ufunc called directly, a
   Python float constant converted once to the other operand's dtype), and an
   elementwise step writes into the buffer of an input that dies with it
   (``out=``), so the replay allocates about what hand-written NumPy does;
4. **slots**: each value takes the slot of an input that dies at its step
   (else one freed earlier), and an input that dies without giving its slot
   is cleared right after the step: every intermediate is dropped after its
   last use, as eager code drops a temporary, so the replay's peak memory is
   not the sum of its values, and the value list is as long as the most
   values alive at once.

Every lowering computes what the eager op computes, bit for bit.  A replay is
then one Python loop over the steps, each a call and a few list lookups.
Only arrays the program made itself during the call are ever written in
place: never an input, a constant, a parameter, a view of one, or an array
handed out by an earlier call.
"""
from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .core.graph import Node, node_of, nodes
from .core.rule import REGISTRY, Rule
from .core.tensor import Tensor, _new, dtype_of, normalize, shape_of, value_of
from .ops.kernels import FULL_SIZE, row_max, short_rows


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
        live_logical: list = []  # (slot, Tensor, shape, dtype): closed-over tensors that require grad, read at each call
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
                live_logical.append((s, t, shape_of(t), dtype_of(t)))
                template.append(None)
                names.append(f"p{len(live_logical) - 1}")
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
        # 3. lowering: each op bound to its NumPy call, typed constants added to the template
        lowered = _lower(ops, keep_slots, template, names)
        # how each output is handed out: a fresh array of this program's as it is (once); anything that
        # may share memory with an input, a constant or another output is copied
        made_by = {op.out: op for op in ops}
        out_logical = []
        hows = []
        handed: set = set()
        for s, extra in self.outputs:
            if s is None:  # a constant output of fn: a constant slot, copied at each call if an array
                out_logical.append(len(template))
                template.append(extra)
                names.append("const")
                hows.append(_CONST)
                continue
            op = made_by.get(s)
            if op is None or op.rule.name not in _FRESH or s in handed:
                hows.append(_COPY)  # never hand out the program's inputs, constants, views, or one array twice
            elif type(op.ans) is np.ndarray and op.ans.ndim:
                hows.append(_AS_IS)
            else:
                hows.append(_PLAIN)  # a scalar: in the engine's storage form
            out_logical.append(s)
            handed.add(s)
        # 4. slots: each value's slot is reused once the value dies, so a step's output usually
        # replaces the input that died there (no separate free)
        self.steps, phys, n_slots = _allocate(ops, lowered, keep_slots, template, len(tracers))
        tail = [None] * (n_slots - len(tracers))
        for s, p in phys.items():
            if p >= len(tracers) and s not in made_by:
                tail[p - len(tracers)] = template[s]
        self.tail = tail
        self.live = [(phys[s], t, shape, dtype) for s, t, shape, dtype in live_logical]
        self.live_shown = [(names[s], shape, dtype) for s, _, shape, dtype in live_logical]
        self.out_slots = [phys[s] for s in out_logical]
        self.fixes = [(i, how) for i, how in enumerate(hows) if how is not _AS_IS]
        self.wrap = [how is not _CONST or isinstance(self.outputs[i][1], (float, np.ndarray))
                     for i, how in enumerate(hows)]
        self.rebuild = _rebuilder(out_td)
        self.names = names

    def run(self, inputs: list, tensor_mode: bool = False) -> Any:
        """Replay the steps on ``inputs`` (plain values in the order of the traced leaves)."""
        vals = inputs + self.tail  # the inputs are the first slots; then the constants and the values
        if self.live:
            self._read_live(vals)
        # The hot loop: each step is (call, argument slots a, b, c, output slot, slot to free), bound
        # once at compile time.  Two inputs (b >= 0), two and a buffer to write into (c >= 0, NumPy's
        # ufuncs take it as the argument after the inputs) and one input (b == _ONE) index their
        # slots directly; otherwise (b == _MANY) a is a tuple of slots.  free is 0 when nothing dies
        # at this step besides the input whose slot the output takes (slot 0 is never a value's).
        for fn, a, b, c, out, free in self.steps:
            if b >= 0:
                if c < 0:
                    vals[out] = fn(vals[a], vals[b])
                else:
                    vals[out] = fn(vals[a], vals[b], vals[c])
            elif b == _ONE:
                vals[out] = fn(vals[a])
            else:
                vals[out] = fn(*[vals[i] for i in a])
            if free:
                vals[free] = None
        res = [vals[s] for s in self.out_slots]
        for i, how in self.fixes:
            res[i] = _output_value(res[i], how)
        if tensor_mode:
            res = [_new(v) if w else v for v, w in zip(res, self.wrap)]
        return self.rebuild(res)

    def _read_live(self, vals: list) -> None:
        for s, t, shape, dtype in self.live:
            v = value_of(t)
            if shape_of(v) != shape or dtype_of(v) != dtype:
                raise ValueError(f"wg.jit: a closed-over tensor changed from shape {shape} {dtype} to "
                                 f"{shape_of(v)} {dtype_of(v)} since the function was traced; make a new wg.jit")
            vals[s] = v

    def __str__(self) -> str:
        used = {n for _, _, ins, _ in self.shown for n in ins}
        n_const = sum(1 for n in used if n.startswith("c"))
        n_in = len(self.input_slots)
        head = f"program: {n_in} input{'s' if n_in != 1 else ''}, {len(self.shown)} steps, "
        lines = [head + f"{n_const} constant{'s' if n_const != 1 else ''}"]
        for i, (shape, dtype) in enumerate(self.input_info):
            lines.append(f"  in{i}: {dtype} {shape}")
        for name, shape, dtype in self.live_shown:
            lines.append(f"  {name}: {dtype} {shape} (a closed-over tensor that requires grad, read at each call)")
        for name, rule, ins, params in self.shown:
            p = "".join(f", {k}={v!r}" for k, v in (params or {}).items() if k != "ctx")
            lines.append(f"  {name} = {rule}({', '.join(ins)}{p})")
        outs = [self.names[s] if s is not None else "const" for s, _ in self.outputs]
        lines.append(f"  return {', '.join(outs)}")
        return "\n".join(lines)

    __repr__ = __str__


# How an output is handed out: as it is (a fresh array of this program's, handed out once); a
# scalar in storage form; copied (it may share memory with an input, a constant or another
# output); a constant of fn (a copy if an array, else as it is)
_AS_IS, _PLAIN, _COPY, _CONST = "as is", "plain", "copy", "constant"


def _output_value(v: Any, how: str) -> Any:
    """An output of the replay as it is handed out (a scalar in the engine's storage form: a float64 one as a float)."""
    if how is _CONST:
        return v.copy() if type(v) is np.ndarray else v
    if type(v) is not np.ndarray or not v.ndim:
        return normalize(v)
    return v.copy() if how is _COPY else v


def _rebuilder(td: Any) -> Callable:
    """A function rebuilding the tree ``td`` from the list of its leaves, its structure read once.

    (``tree_unflatten`` walks the structure at every call; lists and tuples of
    leaves, the common case, become one slice here, and a tuple of leaves and
    lists of leaves, such as ``(new_params, loss)``, one ``itemgetter`` of
    indices and slices.)
    """
    if td.kind == "tuple" and len(td.children) > 1 and all(
            c.kind == "leaf" or (c.kind == "list" and all(g.kind == "leaf" for g in c.children)) for c in td.children):
        items, start = [], 0
        for c in td.children:
            items.append(start if c.kind == "leaf" else slice(start, start + c.num_leaves))
            start += c.num_leaves
        return operator.itemgetter(*items)
    build, _ = _builder(td, 0)
    return build


def _builder(td: Any, start: int) -> tuple:
    kind, children = td.kind, td.children
    if kind == "leaf":
        return (lambda res: res[start]), start + 1
    if kind == "none":
        return (lambda res: None), start
    stop = start + td.num_leaves
    if kind in ("list", "tuple") and all(c.kind == "leaf" for c in children):
        if kind == "list":
            return (lambda res: res[start:stop]), stop
        return (lambda res: tuple(res[start:stop])), stop
    parts = []
    for c in children:
        part, start = _builder(c, start)
        parts.append(part)
    if kind == "list":
        return (lambda res: [part(res) for part in parts]), stop
    if kind == "tuple":
        return (lambda res: tuple([part(res) for part in parts])), stop
    if kind == "dict":
        keys = td.meta
        return (lambda res: dict(zip(keys, [part(res) for part in parts]))), stop
    cls = td.meta  # a named tuple
    return (lambda res: cls(*[part(res) for part in parts])), stop


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


# ====================================================================== 3. lowering
# Steps that return a new array of their own (never a view of an input): their results may be
# written in place by a later step once nothing else reads them.
_FRESH = frozenset({"add", "subtract", "multiply", "divide", "negative", "exp", "log", "tanh", "sin", "cos", "sqrt",
                    "square", "relu", "maximum", "minimum", "matmul", "sum", "sum_to", "logsumexp", "where", "clip",
                    "greater", "less", "equal", "sigmoid", "softplus", "log1p", "expm1", "concatenate", "copy"})


def _last_reads(ops: list) -> dict:
    """slot -> index of the last op that reads it."""
    last: dict = {}
    for k, op in enumerate(ops):
        for i in op.ins:
            last[i] = k
    return last


def _lower(ops: list, keep: set, template: list, names: list) -> list:
    """Each op bound to its NumPy call: ``[(call, argument slots, slot written into or None)]``.

    An elementwise op whose input dies at it, was made fresh by this program
    and has the result's shape and dtype writes into that input's buffer.
    Constants a call needs (a typed zero, a Python float as an array of the
    other operand's dtype) are appended to ``template``.
    """
    made = {op.out: op for op in ops}
    last = _last_reads(ops)
    typed: dict = {}  # (type, value) -> the slot of a constant the calls added

    def const(v: np.ndarray, name: str) -> int:
        key = (type(v), _hashable(v))
        s = typed.get(key)
        if s is None:
            s = typed[key] = len(template)
            v.flags.writeable = False  # (read by every call: a bug that wrote into it would raise)
            template.append(v)
            names.append(name)
        return s

    lowered = []
    for k, op in enumerate(ops):
        into = None
        for j, i in enumerate(op.ins):
            src = made.get(i)
            # (0-d results come back from NumPy as scalars, not arrays: never a buffer)
            if (last[i] == k and i not in keep and src is not None and src.rule.name in _FRESH
                    and type(op.ans) is np.ndarray and op.ans.ndim and type(src.ans) is np.ndarray
                    and src.ans.shape == op.ans.shape and src.ans.dtype == op.ans.dtype and op.ins.count(i) == 1):
                into = j
                break
        fn, args = _call(op, into, template, const)
        lowered.append((fn, args, None if into is None else op.ins[into]))
    return lowered


def _call(op: _Op, into: int | None, template: list, const: Callable) -> tuple:
    """The NumPy call of one step for the traced shapes and its argument slots.

    ``into``: the input whose buffer receives the result.
    """
    rule, params, vals, ans = op.rule, op.params or {}, op.vals, op.ans
    ins = list(op.ins)
    name = rule.name if REGISTRY.get(rule.name) is rule else None
    if rule.scalar is not None and not params and all(type(v) is float for v in vals):
        # Python floats: the engine's scalar path (math.tanh ...), exactly as an eager call computes it
        evaluate = rule.evaluate
        return (lambda *values: evaluate(values, _EMPTY)), ins
    ufunc = _UFUNCS.get(name) if name else None
    if ufunc is not None:
        ins = _typed_constants(op, ins, template, const)
        if ufunc is np.maximum or ufunc is np.minimum:
            ins = _full_constants(op, ins, template, const)
        if into is None:
            return ufunc, ins
        if ufunc is np.maximum or ufunc is np.minimum:  # (NumPy deprecates their positional out)
            return ((lambda x, y: ufunc(x, y, out=x)) if into == 0 else (lambda x, y: ufunc(x, y, out=y))), ins
        return ufunc, ins + [ins[into]]  # out, positionally: the argument after the inputs
    if name == "relu" and type(ans) is np.ndarray:
        # a zero of the result's dtype (NumPy would convert a Python 0 at every call), as an array of
        # the result's shape where that is small (see _full_constants)
        zero = const(np.zeros(ans.shape if 0 < ans.size <= FULL_SIZE else (), ans.dtype), "0")
        if into is not None:
            return (lambda x, z: np.maximum(x, z, out=x)), [ins[0], zero]
        return np.maximum, [ins[0], zero]
    if name == "matmul":
        ta, tb = op.transposed
        if ta and tb:
            return (lambda a, b: np.matmul(a.T, b.T)), ins
        if ta:
            return (lambda a, b: np.matmul(a.T, b)), ins
        if tb:
            return (lambda a, b: np.matmul(a, b.T)), ins
        return np.matmul, ins
    return _call_other(op, name, params, vals, ans), ins


def _call_other(op: _Op, name: str | None, params: dict, vals: tuple, ans: Any) -> Callable:
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
        return _logsumexp_call(vals[0].shape, params.get("axis"), params.get("keepdims", False), shape_of(ans))
    fn = functools.partial(op.rule.impl, **params) if params else op.rule.impl
    if type(ans) is float:  # a float64 scalar stays a Python float, as the engine keeps it (scalar steps read it)
        return lambda *values: normalize(fn(*values))
    return fn


def _typed_constants(op: _Op, ins: list, template: list, const: Callable) -> list:
    """A Python float constant against a float array, as a 0-d array of the array's dtype.

    NumPy converts a Python float to the other operand's dtype anyway (it is a
    "weak" scalar), so the values are the same bit for bit; only the
    conversion, about a third of a small ufunc call, happens once.
    """
    if len(ins) != 2 or type(op.ans) is not np.ndarray:
        return ins
    for k in (0, 1):
        c, other = template[ins[k]], op.vals[1 - k]
        if (type(c) is float and type(op.vals[k]) is float and type(other) is np.ndarray
                and other.dtype.kind == "f" and op.ans.dtype in (other.dtype, np.dtype(bool))):
            ins = list(ins)
            ins[k] = const(np.array(c, dtype=other.dtype), repr(c))
    return ins


def _full_constants(op: _Op, ins: list, template: list, const: Callable) -> list:
    """maximum / minimum against a 0-d constant: against an array of the result's shape instead.

    NumPy's maximum and minimum have no vectorised loop for an operand
    broadcast from one value: against a full array they run about three times
    faster.  The values are the same, NaN and signed zeros included (an
    elementwise function either way); the array costs memory, hence the size
    limit.
    """
    ans = op.ans
    if type(ans) is not np.ndarray or not 0 < ans.size <= FULL_SIZE:
        return ins
    for k in (0, 1):
        c, other = template[ins[k]], op.vals[1 - k]
        if (type(c) is np.ndarray and c.ndim == 0 and c.dtype == ans.dtype and type(other) is np.ndarray
                and other.shape == ans.shape):
            ins = list(ins)
            ins[k] = const(np.full(ans.shape, c, dtype=c.dtype), f"{c!r}")
    return ins


_EMPTY: dict = {}

# Rules whose forward is one NumPy ufunc (called directly, possibly writing into a dead buffer)
_UFUNCS = {name: REGISTRY[name].impl for name in (
    "add", "subtract", "multiply", "divide", "negative", "exp", "log", "log1p", "expm1", "tanh", "sin", "cos",
    "tan", "sqrt", "square", "arctan", "sinh", "cosh", "maximum", "minimum", "greater", "greater_equal", "less",
    "less_equal", "equal", "not_equal") if isinstance(REGISTRY[name].impl, np.ufunc)}


# ====================================================================== 4. slots
_ONE, _MANY = -1, -2  # the b field of a step with one input, or with a tuple of inputs in a


def _allocate(ops: list, lowered: list, keep: set, template: list, n_inputs: int) -> tuple:
    """The steps on reusable slots: ``(steps, logical slot -> slot, number of slots)``.

    The inputs keep slots 0..n-1, the constants and closed-over tensors
    follow; each value then takes the slot of an input that dies at its step
    (the buffer it was written into, if any), else a slot freed earlier, else
    a new one.  An input that dies without giving its slot is freed right
    after the step (``free``), so every intermediate is dropped after its last
    use, as eager code drops a temporary.
    """
    made = {op.out for op in ops}
    last = _last_reads(ops)
    phys: dict = {}
    fixed = [s for s in range(len(template)) if s not in made]  # inputs (first), constants, closed-over tensors
    offset = 0 if n_inputs else 1  # (slot 0 is never a value's: free = 0 means "nothing to free")
    for p, s in enumerate(fixed):
        phys[s] = p + (offset if p >= n_inputs else 0)
    n_slots = len(fixed) + offset
    pool: list = []  # slots of values already dropped
    steps = []
    for k, (op, (fn, args, into)) in enumerate(zip(ops, lowered)):
        dying = [i for i in dict.fromkeys(op.ins) if last[i] == k and i in made and i not in keep]
        a = [phys[i] for i in args]
        if into is not None or dying:
            out = phys[into if into is not None else dying[0]]
        elif pool:
            out = pool.pop()
        else:
            out = n_slots
            n_slots += 1
        phys[op.out] = out
        extra = [phys[i] for i in dying if phys[i] != out]
        steps.append(_step(fn, a, out, extra[0] if extra else 0))
        for s in extra[1:]:  # (only ops of three or more inputs)
            steps.append((_drop, s, _ONE, -1, s, 0))
        pool.extend(extra)
    return steps, phys, n_slots


def _step(fn: Callable, a: list, out: int, free: int) -> tuple:
    if len(a) == 2:
        return (fn, a[0], a[1], -1, out, free)
    if len(a) == 3:
        return (fn, a[0], a[1], a[2], out, free)
    if len(a) == 1:
        return (fn, a[0], _ONE, -1, out, free)
    return (fn, tuple(a), _MANY, -1, out, free)


def _drop(x: Any) -> None:
    return None


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
        return functools.partial(np.add.reduce, axis=tuple(range(lead)))
    axes = tuple(range(lead)) + ones
    if not lead:  # keepdims gives the shape itself
        return functools.partial(np.add.reduce, axis=axes, keepdims=True)
    return lambda x: np.add.reduce(x, axis=axes, keepdims=True).reshape(shape)


def _logsumexp_call(x_shape: tuple, axis: Any, keepdims: bool, out_shape: tuple) -> Callable:
    """logsumexp as the engine computes it (max, exp of the difference, sum, log, plus the max).

    Rows of a few entries (logits of a few classes): NumPy reduces a short
    contiguous axis one row at a time, so their maxima are taken column-wise
    on the transposed copy instead.  A maximum is exact in any order; only
    which NaN or which signed zero comes out may differ, and neither reaches
    the result (a NaN maximum is replaced by 0; x - (+0) and x - (-0) have
    the same exp, and log(s) + (+-0) is the same sum).
    """
    short = short_rows(x_shape, axis)

    def call(x: np.ndarray) -> Any:
        if short:
            m = row_max(x)
        else:
            m = np.maximum.reduce(x, axis=axis, keepdims=True)
        if not math.isfinite(np.add.reduce(m, axis=None)):  # (some max is inf or nan: an all -inf row's is not
            m = np.where(np.isfinite(m), m, 0)  # subtracted; a finite sum of the maxima means all are finite)
        e = np.subtract(x, m)
        np.exp(e, e)
        out = np.add.reduce(e, axis=axis, keepdims=True)
        np.log(out, out)
        out += m
        return out if keepdims else out.reshape(out_shape)

    return call


__all__ = ["Program"]
