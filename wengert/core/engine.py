"""Reverse mode: walk the Wengert list backwards and apply each rule's VJP.

The walk is iterative.  Every tensor carries its position in the Wengert list
(``_seq``, its creation order), and a tensor's consumers are always created
after it.  Visiting the reachable nodes in decreasing position therefore
reaches a node only after every node that uses it, i.e. once its cotangent is
complete: one sort of integers, no recursion, and each cotangent is released
as soon as it has been passed on.
"""
from __future__ import annotations

import gc
from typing import Any

import numpy as np

from . import tensor as _tensor_mod
from .rule import anomaly_backward, fit, ieee
from .state import STATE
from .tensor import _MANY, RULE_LIST, Tensor, _new, dtype_of, seal_tape, shape_of, to_value

RELEASED_MSG = (
    "Trying to backward through the graph a second time (or to read a part of it that backward() already "
    "released). Pass retain_graph=True to the first backward() if you need to backward through it again."
)


def backward(root: Tensor, grad: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
    if not root.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require grad and has no grad_fn; "
            "create the inputs with requires_grad=True (and not inside wg.no_grad())"
        )
    if grad is None:
        if root.shape != ():
            raise RuntimeError(
                f"backward(): the output has shape {root.shape}, so its gradient is a Jacobian; "
                "pass grad= (the cotangent, same shape as the output), or reduce it to a scalar first (e.g. .sum())"
            )
        seed: Any = 1.0 if type(root._value) is float else np.ones((), root.dtype)
    else:
        seed = grad if isinstance(grad, Tensor) else to_value(grad, None)
        if shape_of(seed) != root.shape:
            raise RuntimeError(f"backward(): grad has shape {shape_of(seed)} but the output has shape {root.shape}")
        seed = fit(seed, root._value)
    if retain_graph is None:
        retain_graph = create_graph
    differentiable = create_graph or STATE.forward_active > 0
    if differentiable and not isinstance(seed, Tensor):
        seed = _new(seed)
    if not differentiable and isinstance(seed, Tensor):
        seed = seed._value
    saved = STATE.grad_enabled
    STATE.grad_enabled = bool(create_graph)
    try:
        walk(root, seed, retain_graph, differentiable)
    finally:
        STATE.grad_enabled = saved
        seal_tape()  # the next forward pass starts a new tape: this one goes with its last tensor


def walk(root: Tensor, seed: Any, retain_graph: bool, differentiable: bool, leaf_hook: Any = None) -> None:
    """The backward walk from ``root`` with cotangent ``seed``.

    With ``differentiable=True`` the VJPs are evaluated on Tensors (the saved
    inputs, the output, the cotangent), so the backward pass can itself be
    recorded or carry tangents; otherwise on plain values (the fast path).
    ``leaf_hook(tensor, cotangent)``, if given, receives each leaf cotangent
    instead of it being accumulated into ``.grad`` (used by the transforms).
    """
    anomaly = STATE.anomaly
    if (root._tape is not None and not differentiable and not anomaly and type(seed) is float
            and _tape_walk(root, seed, retain_graph, leaf_hook)):
        return
    handed = {id(seed)}  # arrays given to a .grad in this walk (the caller's seed counts as given)
    # Collect the nodes that can receive a cotangent, then visit them in decreasing
    # Wengert-list position, so every consumer of a node is done before the node.
    # Sorting the positions once is cheaper than a heap (list.sort compares ints in C).
    nodes = {root._seq: root}
    stack = [root]
    # The walk creates no reference cycles and everything it drops is freed by
    # reference counting; letting the cyclic GC rescan the (large, live) graph
    # during the walk would only cost time.  Restored in `finally`.
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        while stack:
            n = stack.pop()
            if n._tape is not None:
                args = n._tape.args(n._idx)
                if args is None:  # released (reported if a cotangent reaches it)
                    continue
            else:
                in0 = n._in0
                if n._rule is None or in0 is None:  # a leaf, or released (reported if the walk reaches it)
                    continue
                in1 = n._in1
                args = (in0,) if in1 is None else in0 if in1 is _MANY else (in0, in1)
            for a in args:
                if isinstance(a, Tensor) and a.requires_grad:
                    s = a._seq
                    if s not in nodes:
                        nodes[s] = a
                        stack.append(a)
        order = sorted(nodes, reverse=True)
        root._cot = seed
        for s in order:
            node = nodes[s]
            if node._cot is None:  # no path brought a cotangent here
                continue
            g = node._cot
            node._cot = None
            rule = node._rule
            if rule is None or node._retain:
                if leaf_hook is not None:
                    leaf_hook(node, g)
                else:
                    _accumulate_grad(node, g, differentiable, handed)
                if rule is None:
                    continue
            # the inputs, read from the node's two slots (see Tensor._args) without a
            # property call; on the plain-value path, their values.  Written out for
            # one and two inputs because this loop runs once per node of the graph.
            tape = node._tape
            if tape is not None:  # an entry of the scalar tape, walked as an object node
                in0 = tape.args(node._idx)
                in1 = _MANY
            else:
                in0 = node._in0
                in1 = node._in1
            if in0 is None:
                raise RuntimeError(RELEASED_MSG)
            if in1 is None:
                args = (in0,)
            elif in1 is _MANY:
                args = in0
            else:
                args = (in0, in1)
            params = node._params
            if differentiable:
                prims = args
                ans: Any = node
            else:
                ans = node._value
                if in1 is None:
                    prims = (in0._value if isinstance(in0, Tensor) else in0,)
                elif in1 is _MANY:
                    prims = tuple([a._value if isinstance(a, Tensor) else a for a in args])
                else:
                    prims = (in0._value if isinstance(in0, Tensor) else in0,
                             in1._value if isinstance(in1, Tensor) else in1)
            try:
                if rule.vjp_all is None and params is None:
                    vjps = rule.vjps
                    pairs = []
                    for i, a in enumerate(args):
                        if isinstance(a, Tensor) and a.requires_grad:
                            pairs.append((i, a, vjps[i](g, ans, *prims)))
                else:
                    pairs = _vjps(rule, args, params, g, ans, *prims)
            except ArithmeticError:  # a Python float raised where NumPy gives inf/nan: redo with NumPy scalars
                pairs = ieee(_vjps, rule, args, params, g, ans, *prims)
            for i, a, ct in pairs:
                if a._tape is not None:
                    # one tape entry can reach the walk as two objects (the tensor an op
                    # returned, held by an object node, and a view made by reading the
                    # tape): its cotangent goes to the one the walk visits
                    a = nodes[a._seq]
                av = a._value
                if type(ct) is not float or type(av) is not float:
                    ct = fit(ct, av)
                if anomaly:
                    anomaly_backward(node, ct, i)
                prev = a._cot
                a._cot = ct if prev is None else prev + ct
            if not retain_graph:
                if tape is not None:
                    tape.release(node._idx)
                else:
                    node._in0 = None  # release the saved inputs
    except BaseException:
        for n in nodes.values():  # an error stopped the walk: leave no stale cotangents behind
            n._cot = None
        raise
    finally:
        if gc_enabled:
            gc.enable()


def _tape_walk(root: Tensor, seed: float, retain_graph: bool, leaf_hook: Any) -> bool:
    """The walk for graphs recorded on scalar tapes (see core.tensor.Tape), on Python floats.

    Within a tape, entry order is creation order, and tapes are filled one
    after another, so visiting the tapes from the newest and each one's
    entries from the last is a reverse topological order: no sort, and the
    cotangents live in one list per tape.  An import entry hands its
    cotangent on: to a leaf (collected in a dict), or to an earlier tape.

    Returns False, having changed nothing, when the graph leaves the tapes for
    a non-leaf object node, or a tape has registered tensors (retain_grad,
    views held by wengert.teach): the general walk then does the work.
    Leaf gradients and releases are applied only once the whole walk is done.
    """
    gc_enabled = gc.isenabled()
    gc.disable()  # as in `walk`: nothing here makes cycles; do not let the collector rescan the graph
    try:
        return _tape_walk_body(root, seed, retain_graph, leaf_hook)
    finally:
        if gc_enabled:
            gc.enable()


def _tape_walk_body(root: Tensor, seed: float, retain_graph: bool, leaf_hook: Any) -> bool:
    pending_tapes = {root._tape: {root._idx: seed}}
    leaves: dict = {}  # id(leaf) -> [leaf, cotangent]
    walked = []  # (tape, [indices]) to release afterwards
    rules = RULE_LIST
    while pending_tapes:
        tape = max(pending_tapes, key=_tape_order)
        start = pending_tapes.pop(tape)
        if tape.views:
            return False
        entries = tape.entries
        top = max(start)
        cot: list = [None] * (top + 1)
        for i, g in start.items():
            cot[i] = g
        waiting = len(start)  # entries holding a cotangent not yet passed on
        done = []
        # This loop runs once per node of the graph: the entry's fields are
        # unpacked by layout (5: one input, 7: two) and the VJPs called directly.
        # The three "add c to cot[r]" blocks are written out on purpose: a helper
        # call per input would cost about a fifth of this walk on W1.
        for i in range(top, -1, -1):
            g = cot[i]
            if g is None:
                continue
            e = entries[i]
            try:
                n = len(e)
            except TypeError:  # a released entry is its seq alone
                raise RuntimeError(RELEASED_MSG) from None
            if n == 7:
                _, r, r0, r1, v0, v1, ans = e
                vjps = rules[r].vjps
                if type(r0) is int:
                    try:
                        c = vjps[0](g, ans, v0, v1)
                    except ArithmeticError:  # a Python float raised where NumPy gives inf/nan
                        c = float(ieee(vjps[0], g, ans, v0, v1))
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
                    p = cot[r1]
                    if p is None:
                        cot[r1] = c
                        waiting += 1
                    else:
                        cot[r1] = p + c
            elif n == 5:
                _, r, r0, v0, ans = e
                vjp = rules[r].vjps[0]
                try:
                    c = vjp(g, ans, v0)
                except ArithmeticError:
                    c = float(ieee(vjp, g, ans, v0))
                p = cot[r0]
                if p is None:
                    cot[r0] = c
                    waiting += 1
                else:
                    cot[r0] = p + c
            elif not _deliver(e[2], g, pending_tapes, leaves):  # an import: hand the cotangent on
                return False
            done.append(i)
            waiting -= 1
            if not waiting:
                break
        walked.append((tape, done))
    handed: set = set()
    for leaf, g in leaves.values():
        if type(g) is not float:  # a VJP that computed in NumPy scalars (np.float64): store a float
            g = float(g)
        if leaf_hook is not None:
            leaf_hook(leaf, g)
        else:
            _accumulate_grad(leaf, g, False, handed)
    if not retain_graph:
        for tape, done in walked:
            release = tape.release
            for i in done:
                release(i)
    return True


def _tape_order(tape: Any) -> int:
    return tape.order


def _deliver(t: Tensor, c: Any, pending_tapes: dict, leaves: dict) -> bool:
    """Pass cotangent ``c`` to the imported tensor ``t``; False if ``t`` is a node of the object graph."""
    if t._rule is None:
        slot = leaves.get(id(t))
        if slot is None:
            leaves[id(t)] = [t, c]
        else:
            slot[1] = slot[1] + c
        return True
    tape = t._tape
    if tape is None:
        return False
    start = pending_tapes.get(tape)
    if start is None:
        pending_tapes[tape] = {t._idx: c}
    else:
        i = t._idx
        start[i] = start[i] + c if i in start else c
    return True


def _vjps(rule: Any, args: tuple, params: dict | None, g: Any, ans: Any, *prims: Any) -> list:
    """The cotangents of one node's inputs that need them: [(index, input, cotangent)]."""
    if rule.vjp_all is not None:
        needs = [isinstance(a, Tensor) and a.requires_grad for a in args]
        cts = rule.vjp_all(g, ans, needs, *prims, **(params or {}))
        return [(i, a, cts[i]) for i, a in enumerate(args) if needs[i] and cts[i] is not None]
    pairs = []
    vjps = rule.vjps
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and a.requires_grad:
            if params is None:
                ct = vjps[i](g, ans, *prims)
            else:
                ct = vjps[i](g, ans, *prims, **params)
            pairs.append((i, a, ct))
    return pairs


def _accumulate_grad(node: Tensor, g: Any, differentiable: bool, handed: set) -> None:
    if isinstance(g, Tensor):
        gt = g if differentiable else _new(g._value)
    else:
        if type(g) is np.ndarray:
            # .grad must own its array: a cotangent can be a view (reshape, broadcast_to), the
            # caller's own seed, or the same object handed to two inputs (add passes g to both).
            # Copy only then; a fresh array from a VJP is kept as it is.
            if g.base is not None or not g.flags.writeable or id(g) in handed:
                g = g.copy()
            handed.add(id(g))
        gt = _new(g)
    if node.grad is None:
        node.grad = gt
    else:
        node.grad = node.grad + gt if differentiable else _new(node.grad._value + gt._value)


__all__ = ["RELEASED_MSG", "backward", "dtype_of", "walk"]


_tensor_mod._engine_backward = backward  # Tensor.backward calls this walk
