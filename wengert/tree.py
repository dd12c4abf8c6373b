"""Trees of arrays: flatten nested lists, tuples and dicts to a list of leaves and back.

The transforms (``grad``, ``jvp``, ``jacobian`` ...) accept and return such
trees, so that a parameter dict of a network "just works".  A *tree* is a
``list``, ``tuple`` (named tuples included) or ``dict`` whose entries are
trees, or ``None`` (an empty tree); anything else is a *leaf*.

Leaves are listed depth first, dict entries in the dict's own (insertion)
order.  ``flatten_like`` flattens a second tree (tangents, cotangents)
against the structure of a first one and says precisely where they differ.

>>> from wengert.tree import tree_flatten, tree_unflatten
>>> leaves, treedef = tree_flatten({"w": [1.0, 2.0], "b": 3.0})
>>> leaves
[1.0, 2.0, 3.0]
>>> treedef
TreeDef({'w': [*, *], 'b': *})
>>> tree_unflatten(treedef, [10.0, 20.0, 30.0])
{'w': [10.0, 20.0], 'b': 30.0}
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class TreeDef:
    """The shape of a tree without its leaves (what ``tree_unflatten`` needs to rebuild it)."""

    __slots__ = ("children", "kind", "meta", "num_leaves")

    def __init__(self, kind: str, meta: Any, children: tuple, num_leaves: int) -> None:
        self.kind = kind  # "leaf", "none", "list", "tuple", "namedtuple" or "dict"
        self.meta = meta  # dict keys, or the named-tuple class
        self.children = children
        self.num_leaves = num_leaves

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TreeDef):
            return NotImplemented
        return (self.kind, self.meta, self.children) == (other.kind, other.meta, other.children)

    def __hash__(self) -> int:
        return hash((self.kind, self.meta if self.kind != "dict" else tuple(self.meta), self.children))

    def __repr__(self) -> str:
        return f"TreeDef({_describe(self)})"


LEAF = TreeDef("leaf", None, (), 1)
_NONE = TreeDef("none", None, (), 0)


def _describe(td: TreeDef) -> str:
    if td.kind == "leaf":
        return "*"
    if td.kind == "none":
        return "None"
    inner = [_describe(c) for c in td.children]
    if td.kind == "dict":
        return "{" + ", ".join(f"{k!r}: {s}" for k, s in zip(td.meta, inner)) + "}"
    if td.kind == "list":
        return "[" + ", ".join(inner) + "]"
    if td.kind == "namedtuple":
        return f"{td.meta.__name__}(" + ", ".join(inner) + ")"
    return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"


def is_leaf(x: Any) -> bool:
    """True unless ``x`` is a list, tuple, dict or None."""
    return not (x is None or isinstance(x, (list, tuple, dict)))


def tree_flatten(tree: Any) -> tuple[list, TreeDef]:
    """The leaves of ``tree`` (depth first) and its structure.

    >>> tree_flatten((1.0, [2.0, None]))
    ([1.0, 2.0], TreeDef((*, [*, None])))
    """
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _flatten(x: Any, leaves: list) -> TreeDef:
    if x is None:
        return _NONE
    t = type(x)
    if t is dict or isinstance(x, dict):
        keys = tuple(x)
        children = tuple(_flatten(x[k], leaves) for k in keys)
        return TreeDef("dict", keys, children, sum(c.num_leaves for c in children))
    if t is list or t is tuple or isinstance(x, (list, tuple)):
        children = tuple(_flatten(c, leaves) for c in x)
        n = sum(c.num_leaves for c in children)
        if isinstance(x, list):
            return TreeDef("list", None, children, n)
        if hasattr(t, "_fields"):
            return TreeDef("namedtuple", t, children, n)
        return TreeDef("tuple", None, children, n)
    leaves.append(x)
    return LEAF


def tree_unflatten(treedef: TreeDef, leaves: Sequence[Any]) -> Any:
    """Rebuild a tree of the structure ``treedef`` from its leaves.

    >>> leaves, td = tree_flatten([1.0, (2.0, 3.0)])
    >>> tree_unflatten(td, ["a", "b", "c"])
    ['a', ('b', 'c')]
    """
    if treedef.num_leaves != len(leaves):
        raise ValueError(f"tree_unflatten: the structure {treedef} has {treedef.num_leaves} leaves, got {len(leaves)}")
    it = iter(leaves)
    return _unflatten(treedef, it)


def _unflatten(td: TreeDef, it: Any) -> Any:
    kind = td.kind
    if kind == "leaf":
        return next(it)
    if kind == "none":
        return None
    children = [_unflatten(c, it) for c in td.children]
    if kind == "dict":
        return dict(zip(td.meta, children))
    if kind == "list":
        return children
    if kind == "namedtuple":
        return td.meta(*children)
    return tuple(children)


def flatten_like(treedef: TreeDef, tree: Any, what: str = "tree", expected: str = "the primals") -> list:
    """The leaves of ``tree``, which must have the structure ``treedef``.

    Dicts are matched by key (their order may differ).  The error says where
    the two structures part.

    >>> _, td = tree_flatten({"a": 1.0, "b": [2.0]})
    >>> flatten_like(td, {"b": [20.0], "a": 10.0})
    [10.0, 20.0]
    >>> flatten_like(td, {"a": 1.0})
    Traceback (most recent call last):
    ...
    ValueError: tree has keys ['a'] at the root but the primals have keys ['a', 'b']
    """
    leaves: list = []
    _flatten_like(treedef, tree, leaves, what, expected, "")
    return leaves


def _flatten_like(td: TreeDef, x: Any, leaves: list, what: str, expected: str, path: str) -> None:
    kind = td.kind
    where = path or "the root"
    if kind == "leaf":
        if not is_leaf(x):
            raise TypeError(f"{what} has a {type(x).__name__} at {where} where {expected} have an array")
        leaves.append(x)
        return
    if kind == "none":
        if x is not None:
            raise ValueError(f"{what} has {type(x).__name__} at {where} where {expected} have None")
        return
    if kind == "dict":
        if not isinstance(x, dict):
            raise TypeError(f"{what} has a {type(x).__name__} at {where} where {expected} have a dict")
        if set(x) != set(td.meta):
            raise ValueError(f"{what} has keys {sorted(map(str, x))} at {where} but {expected} have keys "
                             f"{sorted(map(str, td.meta))}")
        for k, c in zip(td.meta, td.children):
            _flatten_like(c, x[k], leaves, what, expected, f"{path}[{k!r}]")
        return
    want = list if kind == "list" else tuple
    if not isinstance(x, want):
        raise TypeError(f"{what} has a {type(x).__name__} at {where} where {expected} have a {want.__name__}")
    if len(x) != len(td.children):
        raise ValueError(f"{what} has {len(x)} entries at {where} where {expected} have {len(td.children)}")
    for i, (c, xi) in enumerate(zip(td.children, x)):
        _flatten_like(c, xi, leaves, what, expected, f"{path}[{i}]")


def tree_map(fn: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """Apply ``fn`` to every leaf (and the matching leaves of ``rest``), keeping the structure.

    >>> tree_map(lambda a, b: a + b, {"x": 1.0, "y": (2.0,)}, {"x": 10.0, "y": (20.0,)})
    {'x': 11.0, 'y': (22.0,)}
    """
    leaves, td = tree_flatten(tree)
    others = [flatten_like(td, r, "tree", "the first tree") for r in rest]
    return tree_unflatten(td, [fn(*xs) for xs in zip(leaves, *others)])


__all__ = ["LEAF", "TreeDef", "flatten_like", "is_leaf", "tree_flatten", "tree_map", "tree_unflatten"]
