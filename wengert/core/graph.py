"""Reading the Wengert list: the one small API that backward's readers use (trace tables, drawings, wg.jit).

A :class:`Node` is one value of the list: the output of a recorded op (an
entry), or a *leaf* (a tensor the list imports: an input, a parameter).
Nodes are views: they hold the list, not the tensors, and two nodes of the
same value compare equal.  :func:`nodes` gives the nodes behind some
tensors in Wengert-list order; :func:`adjoints` and :func:`tangents` run
reverse and forward mode over them without touching any ``.grad``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .rule import Rule, fit, ieee
from .state import no_grad
from .tape import RULES, Tape, parts
from .tensor import Tensor, shape_of


class GraphReleasedError(RuntimeError):
    """The graph behind a tensor was freed by ``backward()``, so it cannot be read any more."""


RELEASED_HINT = (
    "the graph behind this tensor was released by backward(); trace or draw it before calling backward(), "
    "or call backward(retain_graph=True)"
)


@dataclass(frozen=True)
class Constant:
    """An input of an op that is not a node: a number, an array, or a tensor that needs no gradient."""

    value: Any
    tensor: Tensor | None = None

    @property
    def name(self) -> str | None:
        return self.tensor.name if self.tensor is not None else None


class Node:
    """One value of the Wengert list: an op's output (``tape``, ``index``) or a leaf (``tensor``)."""

    __slots__ = ("index", "tape", "tensor")

    def __init__(self, tape: Tape | None, index: int = -1, tensor: Tensor | None = None) -> None:
        self.tape = tape
        self.index = index
        self.tensor = tensor

    # ------------------------------------------------------------- identity
    @property
    def key(self) -> tuple:
        return (id(self.tape), self.index) if self.tensor is None else (id(self.tensor),)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"<{self.op}>" if not self.is_leaf else f"<leaf {self.label or ''}>".replace(" >", ">")

    @property
    def order(self) -> tuple:
        """Position in the Wengert list (tapes one after another, entries in creation order)."""
        return (self.tape.order, self.index) if self.tape is not None else (-1, 0)

    # ------------------------------------------------------------- contents
    @property
    def is_leaf(self) -> bool:
        return self.tensor is not None

    def _entry(self) -> tuple:
        e = self.tape.entries[self.index]
        if e is None:
            raise GraphReleasedError(RELEASED_HINT)
        return e

    @property
    def rule(self) -> Rule | None:
        return None if self.is_leaf else RULES[self._entry()[0]]

    @property
    def op(self) -> str:
        """The rule's name ('leaf' for a leaf, 'released' once backward() freed the entry)."""
        if self.is_leaf:
            return "leaf"
        e = self.tape.entries[self.index]
        return "released" if e is None else RULES[e[0]].name

    name = op  # (GradFn compatibility: t.grad_fn.name)

    def _parts(self) -> tuple:
        _, refs, vals, ans, params = parts(self._entry())
        return refs, vals, ans, dict(params or {})

    @property
    def params(self) -> dict:
        return {} if self.is_leaf else self._parts()[3]

    @property
    def value(self) -> Any:
        """The plain value (one level down, for a transform's list)."""
        if self.is_leaf:
            return self.tensor._value
        return _plain(self._parts()[2])

    @property
    def input_values(self) -> tuple:
        return () if self.is_leaf else tuple(_plain(v) for v in self._parts()[1])

    @property
    def inputs(self) -> tuple:
        """The op's inputs in order: a :class:`Node` for each recorded value, a :class:`Constant` otherwise."""
        if self.is_leaf:
            return ()
        refs, vals, _, _ = self._parts()
        return tuple(self._input(r, v) for r, v in zip(refs, vals))

    def _input(self, r: Any, v: Any) -> Node | Constant:
        if type(r) is int:
            e = self.tape.entries[r]
            if e is not None and len(e) == 1:
                return node_of(e[0])
            return Node(self.tape, r)
        return Constant(_plain(v), r)

    @property
    def label(self) -> str | None:
        """The name given to the value (``t.name = ...``), if any."""
        if self.is_leaf:
            return self.tensor.name
        names = self.tape.names
        return names.get(self.index) if names else None

    @property
    def site(self) -> str | None:
        """Where user code made it (recorded under ``detect_anomaly``)."""
        return None if self.is_leaf or not self.tape.sites else self.tape.sites.get(self.index)

    @property
    def partials(self) -> Any:
        return None if self.is_leaf else self.rule.partials


def _plain(v: Any) -> Any:
    return v._value if isinstance(v, Tensor) else v


def node_of(t: Tensor) -> Node:
    """The node of tensor ``t``: its entry if an op made it, else ``t`` as a leaf."""
    if t._tape is not None:
        return Node(t._tape, t._idx)
    return Node(None, tensor=t)


def nodes(roots: Iterable[Tensor | Node]) -> list[Node]:
    """The nodes that ``roots`` depend on (themselves included), in Wengert-list order (iterative).

    A leaf comes before every op that uses it (at its first import).
    """
    found: dict = {}
    first: dict = {}  # leaf key -> the position of its first import
    stack = [r if isinstance(r, Node) else node_of(r) for r in roots]
    while stack:
        n = stack.pop()
        if n.key in found:
            continue
        found[n.key] = n
        if n.is_leaf:
            continue
        refs, _, _, _ = n._parts()
        for r in refs:
            if type(r) is int:
                e = n.tape.entries[r]
                if e is None:
                    raise GraphReleasedError(RELEASED_HINT)
                child = node_of(e[0]) if len(e) == 1 else Node(n.tape, r)
                if child.is_leaf:
                    pos = (n.tape.order, r)
                    first[child.key] = min(first.get(child.key, pos), pos)
                if child.key not in found:
                    stack.append(child)

    def position(n: Node) -> tuple:
        if n.is_leaf:
            return (*first.get(n.key, (-1, -1)), 0)
        return (n.tape.order, n.index, 1)

    return sorted(found.values(), key=position)


def adjoints(root: Tensor, cotangent: Any = None) -> dict:
    """Reverse mode over the list: ``node key -> d root / d node`` for every node reached, by the engine's walk.

    ``.grad`` of every tensor is left untouched, and the graph is kept.
    """
    from .walk import walk

    if cotangent is None:
        seed: Any = 1.0 if type(root._value) is float else np.ones(root.shape, dtype=root.dtype)
    else:
        seed = fit(cotangent._value if isinstance(cotangent, Tensor) else cotangent, root._value)
    found: dict = {}
    if root._tape is None:
        found[node_of(root).key] = seed
        return found
    cots: dict = {}

    def on_leaf(t: Tensor, g: Any) -> None:
        found[node_of(t).key] = _plain(g)

    with no_grad():
        walk([(root._tape, root._idx, seed)], retain=True, on_leaf=on_leaf, cotangents=cots)
    for (tape, i), g in cots.items():
        e = tape.entries[i]
        key = node_of(e[0]).key if e is not None and len(e) == 1 else (id(tape), i)
        g = _plain(g)
        found[key] = g.copy() if type(g) is np.ndarray else g
    return found


def tangents(order: Sequence[Node], seeds: dict) -> dict:
    """Forward mode over the list: push tangents through ``order`` (nodes in list order) by the rules' JVPs.

    ``seeds`` maps node keys (the inputs) to their tangents; the result maps
    every node key to its tangent (None where it does not depend on a seed).
    """
    out = dict(seeds)
    with no_grad(), np.errstate(all="ignore"):
        for n in order:
            if n.is_leaf or n.key in out:
                continue
            inputs = n.inputs
            ts = [out.get(a.key) if isinstance(a, Node) else None for a in inputs]
            if all(t is None for t in ts) or not n.rule.differentiable:
                out[n.key] = None
                continue
            prims = n.input_values
            t = ieee(_jvp_call, n.rule, ts, n.params, n.value, *prims)
            out[n.key] = None if t is None else _plain(fit(t, n.value, broadcast=True))
    return out


def _jvp_call(rule: Rule, ts: list, params: dict, ans: Any, *prims: Any) -> Any:
    return rule.jvp(ts, ans, prims, params)


def local_partial(n: Node, index: int) -> Any:
    """d n / d (input ``index``) on plain values: the rule's elementwise partial, or None if it has none."""
    rule = n.rule
    if rule.partials is None:
        return None
    with no_grad(), np.errstate(all="ignore"):
        return _plain(ieee(rule.partials[index], n.value, *n.input_values, **n.params))


def vjp_of(n: Node, index: int, g: Any) -> Any:
    """The rule's VJP of node ``n`` for input ``index`` and output cotangent ``g``, on plain values."""
    rule = n.rule
    prims = n.input_values
    needs = [i == index for i in range(len(prims))]
    with no_grad(), np.errstate(all="ignore"):
        ct = ieee(lambda g_, a_, *p_: rule.vjp(g_, a_, p_, n.params, needs)[index], g, n.value, *prims)
    return _plain(fit(ct, prims[index]))


def jvp_of(n: Node, index: int, t: Any) -> Any:
    """The rule's JVP of node ``n`` for a tangent ``t`` on input ``index`` alone, on plain values (None: zero)."""
    prims = n.input_values
    ts = [t if i == index else None for i in range(len(prims))]
    with no_grad(), np.errstate(all="ignore"):
        out = ieee(lambda *args: n.rule.jvp(ts, args[0], args[1:], n.params), n.value, *prims)
    return None if out is None else _plain(fit(out, n.value, broadcast=True))


__all__ = [
    "RELEASED_HINT",
    "Constant",
    "GraphReleasedError",
    "Node",
    "adjoints",
    "jvp_of",
    "local_partial",
    "node_of",
    "nodes",
    "shape_of",
    "tangents",
    "vjp_of",
]
