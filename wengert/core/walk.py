"""Reverse mode: walk the Wengert list backwards, applying each entry's VJP.

Entries of one list are in creation order, and a list only imports from
lists made before it (:mod:`wengert.core.tape`), so visiting the lists from
the newest and each one's entries from the last reaches an entry only after
every entry that uses it: its cotangent is complete.  No collection, no
sort, no recursion; the cotangents live in one Python list per Wengert list,
and each is dropped once passed on.  An import entry hands its cotangent to
the tensor it imports: a leaf (collected, and given its ``.grad`` only once
the whole walk has succeeded) or a value of an older list (whose walk then
continues there).

The VJPs get the values the entry saved.  Those are plain values for the
eager list (a fast, first-order walk) and the primals one level down for a
transform's list, so that a transform's backward pass is itself processed by
the interpreters below it (grad of grad, forward over reverse).  With
``create_graph=True`` the eager walk hands the VJPs tensors standing for the
entries instead, so that the backward pass is recorded on the eager list too.
"""
from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .interpret import anomaly_active
from .rule import fit, ieee
from .state import state
from .tape import RULES, Tape, parts
from .tensor import Tensor, _new, shape_of, to_value
from .tensor import __name__ as _tensor_name

RELEASED_MSG = (
    "Trying to backward through the graph a second time (or to read a part of it that backward() already "
    "released). Pass retain_graph=True to the first backward() if you need to backward through it again."
)

_LEAF_LOCK = threading.Lock()  # leaves shared between threads get their .grad added one walk at a time


def backward(root: Tensor, grad: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
    if root._trace is not None:
        raise RuntimeError(
            f"backward() on a value that {root._trace.name} is transforming: return it from the function "
            "instead, and let the transform differentiate it (wg.grad, wg.vjp)")
    if not root.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require grad and has no grad_fn; "
            "create the inputs with requires_grad=True (and not inside wg.no_grad())"
        )
    if grad is None:
        v = root._value
        if type(v) is float:
            seed: Any = 1.0
        elif v.size == 1:  # (one element of any shape, e.g. (1, 1), has a gradient, as in PyTorch)
            seed = np.array(1, v.dtype) if not v.ndim else np.ones(v.shape, v.dtype)
        else:
            raise RuntimeError(
                f"backward(): the output has shape {root.shape}, so its gradient is a Jacobian; "
                "pass grad= (the cotangent, same shape as the output), or reduce it to a scalar first (e.g. .sum())"
            )
    else:
        seed = grad if isinstance(grad, Tensor) else to_value(grad, None)
        if shape_of(seed) != root.shape:
            raise RuntimeError(f"backward(): grad has shape {shape_of(seed)} but the output has shape {root.shape}")
        seed = fit(seed, root._value)
    if retain_graph is None:
        retain_graph = create_graph
    if create_graph and not isinstance(seed, Tensor):
        seed = _new(seed)
    if not create_graph and isinstance(seed, Tensor):
        seed = seed._value
    st = state()
    saved = st.grad_enabled
    st.grad_enabled = bool(create_graph)
    try:
        if root._tape is None:  # a leaf: its gradient is the seed
            walk_leaf(root, seed, create_graph)
        else:
            walk([(root._tape, root._idx, seed)], retain=retain_graph, views=create_graph)
    finally:
        st.grad_enabled = saved
        if st.tape.entries and st.tape is root._tape:
            st.tape = Tape()  # the next forward pass starts a new list: this one goes with its last tensor


def walk_leaf(leaf: Tensor, seed: Any, differentiable: bool) -> None:
    with _LEAF_LOCK:
        _accumulate(leaf, seed, differentiable, set())


def walk(roots: list, retain: bool = False, views: bool = False, on_leaf: Callable | None = None,
         cotangents: dict | None = None) -> None:
    """The backward walk from ``roots`` = [(tape, index, cotangent)].

    ``on_leaf(tensor, cotangent)``, if given, receives each imported tensor's
    cotangent instead of it being added to ``.grad`` (the transforms collect
    their inputs' cotangents so).  ``views=True`` (eager create_graph) makes
    the VJPs run on tensors standing for the entries, so the backward pass is
    recorded.  ``cotangents``, if given, receives ``(tape, index) ->
    cotangent`` for every entry reached (the trace tables' adjoint column).
    Entries are released afterwards unless ``retain``.
    """
    st = state()
    pending: dict = {}
    for tape, idx, g in roots:
        start = pending.setdefault(tape, {})
        start[idx] = g if idx not in start else start[idx] + g
    slow = views or cotangents is not None or (st.dynamic is not None and anomaly_active(st))
    leaves: dict = {}  # id(tensor) -> [tensor, cotangent]
    walked = []
    # The walk creates no reference cycles and everything it drops is freed by reference
    # counting; letting the cyclic GC rescan the (large, live) graph meanwhile only costs time.
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        while pending:
            tape = max(pending, key=_order) if len(pending) > 1 else next(iter(pending))
            start = pending.pop(tape)
            if slow or tape.retained or tape.hooks:
                done = _walk_tape_general(tape, start, pending, leaves, views, st, cotangents)
            else:
                done = _walk_tape(tape, start, pending, leaves)
            walked.append((tape, done))
    finally:
        if gc_enabled:
            gc.enable()
    # only now, the walk having succeeded, do the leaves get their gradients
    if on_leaf is not None:
        for leaf, g in leaves.values():
            on_leaf(leaf, g)
    else:
        handed: set = set()
        with _LEAF_LOCK:
            for leaf, g in leaves.values():
                if leaf._meta and leaf._meta.get("hooks"):
                    g = run_hooks(leaf._meta["hooks"], g, views)
                _accumulate(leaf, g, views, handed)
    if not retain:
        for tape, done in walked:
            tape.release(done)


def run_hooks(hooks: list, g: Any, differentiable: bool) -> Any:
    """Call each hook with the gradient (as a Tensor); a hook that returns a value replaces it (PyTorch's order)."""
    for h in list(hooks):
        t = g if isinstance(g, Tensor) else _new(g)
        r = h(t)
        if r is not None:
            r = r if (differentiable and isinstance(r, Tensor)) else (r._value if isinstance(r, Tensor) else
                                                                      to_value(r, None))
            if shape_of(r) != shape_of(g):
                raise ValueError(f"a gradient hook returned shape {shape_of(r)} for a gradient of shape {shape_of(g)}")
            g = r
    return g


def _order(tape: Tape) -> int:
    return tape.order


def _deliver(t: Tensor, c: Any, pending: dict, leaves: dict) -> None:
    """Pass cotangent ``c`` to the imported tensor ``t``: a leaf, or a value of an older list."""
    tape = t._tape
    if tape is None:
        if t._meta is not None and "stands_for" in t._meta:  # (an input an in-place op has since rebound)
            t = t._meta["stands_for"]
        slot = leaves.get(id(t))
        if slot is None:
            leaves[id(t)] = [t, c]
        else:
            slot[1] = slot[1] + c
        return
    start = pending.get(tape)
    if start is None:
        pending[tape] = {t._idx: c}
    else:
        i = t._idx
        start[i] = start[i] + c if i in start else c


def _seeded(start: dict) -> list:
    """One slot per entry up to the last one reached, holding the cotangents the walk of a list starts from."""
    cot: list = [None] * (max(start) + 1)
    for i, g in start.items():
        cot[i] = g
    return cot


def _walk_tape(tape: Tape, start: dict, pending: dict, leaves: dict) -> list:
    """One list's share of the walk, on saved values: the fast path (first-order eager, and transforms)."""
    entries = tape.entries
    rules = RULES
    cot = _seeded(start)
    top = len(cot) - 1
    waiting = len(start)  # entries holding a cotangent not yet passed on
    done = []
    # This loop runs once per entry of the graph: the entry is unpacked by layout
    # (6: two inputs, 4: one input, 8: three) and the VJPs are called directly.  The "add c
    # to cot[r]" blocks are written out on purpose: a helper call per input would
    # cost about a fifth of this walk on scalar code.
    for i in range(top, -1, -1):
        g = cot[i]
        if g is None:
            continue
        cot[i] = None
        e = entries[i]
        if e is None:
            raise RuntimeError(RELEASED_MSG)
        n = len(e)
        if n == 6:
            r, r0, r1, v0, v1, ans = e
            vjps = rules[r].vjps
            if type(r0) is int:
                try:
                    c = vjps[0](g, ans, v0, v1)
                except ArithmeticError:  # a Python float raised where NumPy gives inf/nan
                    c = float(ieee(vjps[0], g, ans, v0, v1))
                if type(c) is not float or type(v0) is not float:
                    c = fit(c, v0)
                p = cot[r0]
                if p is None:
                    cot[r0] = c
                    waiting += 1
                else:
                    cot[r0] = p + c
            if type(r1) is int:
                try:
                    c = vjps[1](g, ans, v0, v1)
                except ArithmeticError:
                    c = float(ieee(vjps[1], g, ans, v0, v1))
                if type(c) is not float or type(v1) is not float:
                    c = fit(c, v1)
                p = cot[r1]
                if p is None:
                    cot[r1] = c
                    waiting += 1
                else:
                    cot[r1] = p + c
        elif n == 4:
            r, r0, v0, ans = e
            vjp = rules[r].vjps[0]
            try:
                c = vjp(g, ans, v0)
            except ArithmeticError:
                c = float(ieee(vjp, g, ans, v0))
            if (type(c) is not float or type(v0) is not float) and (
                    type(c) is not np.ndarray or type(v0) is not np.ndarray or c.shape != v0.shape
                    or c.dtype != v0.dtype):
                c = fit(c, v0)
            p = cot[r0]
            if p is None:
                cot[r0] = c
                waiting += 1
            else:
                cot[r0] = p + c
        elif n == 8:
            r, r0, r1, r2, v0, v1, v2, ans = e
            vjps = rules[r].vjps
            for k, rk, vk in ((0, r0, v0), (1, r1, v1), (2, r2, v2)):
                if type(rk) is int:
                    try:
                        c = vjps[k](g, ans, v0, v1, v2)
                    except ArithmeticError:
                        c = float(ieee(vjps[k], g, ans, v0, v1, v2))
                    if type(c) is not np.ndarray or type(vk) is not np.ndarray or c.shape != vk.shape \
                            or c.dtype != vk.dtype:
                        c = fit(c, vk)
                    p = cot[rk]
                    if p is None:
                        cot[rk] = c
                        waiting += 1
                    else:
                        cot[rk] = p + c
        elif n == 1:  # an import: hand the cotangent on
            t = e[0]
            if t._tape is None and t._meta is None and id(t) not in leaves:
                leaves[id(t)] = [t, g]  # a leaf, reached for the first time (_deliver's common case, written out)
            else:
                _deliver(t, g, pending, leaves)
        else:
            for r0, c in _entry_vjps(e, g, None, tape, i):
                p = cot[r0]
                if p is None:
                    cot[r0] = c
                    waiting += 1
                else:
                    cot[r0] = p + c
        done.append(i)
        waiting -= 1
        if not waiting:
            break
    return done


def _entry_vjps(e: tuple, g: Any, inputs: tuple | None, tape: Tape, i: int) -> list:
    """``[(input index, cotangent)]`` of one entry for output cotangent ``g``, each fitted to its input.

    ``inputs`` are what the VJPs get as the entry's inputs and output (tensors
    standing for them, with create_graph); None: the saved values.
    """
    ri, refs, vals, ans, params = parts(e)
    rule = RULES[ri]
    if inputs is not None:
        prims, ans = inputs
    else:
        prims = vals
    needs = [type(r) is int for r in refs]
    try:
        cts = rule.vjp(g, ans, prims, params or {}, needs)
    except ArithmeticError:  # a Python float raised where NumPy gives inf/nan: redo in NumPy scalars
        cts = ieee(lambda g_, a_, *p_: rule.vjp(g_, a_, p_, params or {}, needs), g, ans, *prims)
    out = []
    for k, (r, c) in enumerate(zip(refs, cts)):
        if type(r) is int and c is not None:
            v = vals[k]
            if type(c) is np.ndarray and type(v) is np.ndarray and c.shape == v.shape and c.dtype == v.dtype:
                out.append((r, c))  # already fitted (fit's common case, without the call)
                continue
            try:
                c = fit(c, v)
            except ValueError as exc:
                raise ValueError(f"the VJP of '{rule.name}' returned a cotangent of shape {shape_of(c)} for its "
                                 f"input {k} of shape {shape_of(vals[k])}: {exc}") from None
            out.append((r, c))
    return out


def _walk_tape_general(tape: Tape, start: dict, pending: dict, leaves: dict, views: bool, st: Any,
                       cotangents: dict | None) -> list:
    """One list's share of the walk with everything on: create_graph views, anomaly checks, retain_grad."""
    entries = tape.entries
    cot = _seeded(start)
    top = len(cot) - 1
    anomaly = anomaly_active(st)
    retained = tape.retained or {}
    hooks = tape.hooks or {}
    done = []
    for i in range(top, -1, -1):
        g = cot[i]
        if g is None:
            continue
        cot[i] = None
        if i in hooks:
            g = run_hooks(hooks[i], g, views)
        if cotangents is not None:
            cotangents[(tape, i)] = g
        if i in retained:
            t = retained[i]()
            if t is not None:
                _accumulate(t, g, views, set())
        e = entries[i]
        if e is None:
            raise RuntimeError(RELEASED_MSG)
        if len(e) == 1:
            _deliver(e[0], g, pending, leaves)
            done.append(i)
            continue
        inputs = _views(tape, i, e) if views else None
        if views and not isinstance(g, Tensor):
            g = _new(g)
        for r, c in _entry_vjps(e, g, inputs, tape, i):
            if anomaly:
                _check_cotangent(tape, i, e, r, c)
            p = cot[r]
            cot[r] = c if p is None else p + c
        done.append(i)
    return done


def _views(tape: Tape, i: int, e: tuple) -> tuple:
    """Tensors standing for entry ``i``'s inputs and output, so that its VJP is recorded (create_graph)."""
    _, refs, vals, ans, _ = parts(e)
    prims = tuple(_view_of(tape, r, v) for r, v in zip(refs, vals))
    return prims, _view(tape, i, ans)


def _view_of(tape: Tape, r: Any, v: Any) -> Any:
    if type(r) is int:
        e = tape.entries[r]
        if e is not None and len(e) == 1:
            return e[0]  # an imported tensor stands for itself
        return _view(tape, r, v)
    return v if r is None else r


def _view(tape: Tape, idx: int, value: Any) -> Tensor:
    t = _new(value)
    t.requires_grad = True
    t._tape = tape
    t._idx = idx
    return t


def _check_cotangent(tape: Tape, i: int, e: tuple, r: int, c: Any) -> None:
    from .rule import is_bad

    kind = is_bad(c)
    if kind:
        index = list(parts(e)[1]).index(r)
        site = (tape.sites or {}).get(i, "<unknown: enable detect_anomaly before the forward pass>")
        raise FloatingPointError(
            f"backward of op '{RULES[e[0]].name}' produced {kind} in the gradient of its input {index} "
            f"(detect_anomaly); op created at {site}"
        )


def _accumulate(node: Tensor, g: Any, differentiable: bool, handed: set) -> None:
    """Add cotangent ``g`` into ``node.grad``.

    A first-order gradient is stored as its plain value, which ``.grad``
    wraps as a Tensor when it is first read (an optimiser that reads the
    values through ``grad_values`` never makes one); with ``differentiable``
    (create_graph) it is the Tensor in the graph.
    """
    if type(g) is np.ndarray:
        # .grad must own its array: a cotangent can be a view (reshape, broadcast_to), the
        # caller's own seed, or the same object handed to two inputs (add passes g to both).
        # Copy only then; a fresh array from a VJP is kept as it is.
        if g.base is not None or id(g) in handed or not g.flags.writeable:
            g = g.copy()
        handed.add(id(g))
    elif isinstance(g, Tensor):
        if not differentiable:
            g = g._value
    elif type(g) is not float:
        g = float(g) if type(node._value) is float else np.asarray(g, dtype=node.dtype)
    old = node._grad
    if old is None:
        node._grad = g
    elif differentiable:
        node._grad = (old if isinstance(old, Tensor) else _new(old)) + (g if isinstance(g, Tensor) else _new(g))
    else:
        node._grad = (old._value if isinstance(old, Tensor) else old) + g


__all__ = ["RELEASED_MSG", "backward", "walk"]


sys.modules[_tensor_name]._engine_backward = backward  # Tensor.backward calls this walk
