"""What the tables and drawings need from the Wengert list, on top of :mod:`wengert.core.graph`.

Nothing here changes how the engine works: nodes, adjoints (the engine's
own reverse walk, which leaves every ``.grad`` alone) and tangents (forward
mode over the recorded list) come from the core's read API; this module adds
the local partial derivatives a table shows.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..core.graph import (
    RELEASED_HINT,
    GraphReleasedError,
    Node,
    adjoints,
    local_partial,
    node_of,
    nodes,
    tangents,
    vjp_of,
)
from ..core.tensor import shape_of, value_of

#: Largest Jacobian (output size x input size) computed for a non-elementwise op's partial column.
MAX_JACOBIAN = 256


def collect(root: Any) -> list[Node]:
    """The nodes that ``root`` depends on, in Wengert-list order (a tensor without graph is its own leaf)."""
    return nodes([root])


def local_partials(node: Node) -> list[tuple[int, Any, str]]:
    """The local partial derivatives of ``node`` with respect to each of its recorded inputs.

    Returns ``(argument index, value, kind)`` for every argument that is a
    node.  ``kind`` is ``"elementwise"`` (the value is d ans / d arg
    elementwise, from ``Rule.partials``), ``"jacobian"`` (the full Jacobian,
    shape ``ans.shape + arg.shape``, built from the rule's VJP applied to unit
    cotangents) or ``"none"`` when the Jacobian would be larger than
    :data:`MAX_JACOBIAN` entries (the value is then ``None``).
    """
    if node.is_leaf:
        return []
    out: list[tuple[int, Any, str]] = []
    for i, a in enumerate(node.inputs):
        if not isinstance(a, Node):
            continue
        p = local_partial(node, i)
        if p is not None:
            out.append((i, _scalar(p), "elementwise"))
        else:
            out.append((i, *_jacobian(node, i)))
    return out


def _jacobian(node: Node, i: int) -> tuple[Any, str]:
    ans = node.value
    out_shape, in_shape = shape_of(ans), shape_of(node.input_values[i])
    n_out, n_in = int(np.prod(out_shape)), int(np.prod(in_shape))
    if n_out * n_in > MAX_JACOBIAN:
        return None, "none"
    dtype = np.result_type(np.asarray(ans).dtype, np.float64)
    rows = []
    for j in range(n_out):
        e = np.zeros(n_out, dtype=dtype)
        e[j] = 1.0
        g: Any = e.reshape(out_shape)
        if type(ans) is float:
            g = float(g)
        rows.append(np.asarray(vjp_of(node, i, g), dtype=dtype).reshape(n_in))
    jac = np.stack(rows).reshape(out_shape + in_shape)
    return (float(jac) if jac.ndim == 0 else jac), "jacobian"


def grad_of(n: Node) -> Any:
    """The ``.grad`` a node's tensor holds (a leaf's, or a retained intermediate's), as a plain value."""
    t = n.tensor
    if t is None and n.tape.retained and n.index in n.tape.retained:
        t = n.tape.retained[n.index]()
    g = None if t is None else t.grad
    return None if g is None else value_of(g)


def _scalar(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item() if v.ndim == 0 else np.asarray(v)
    return v


__all__ = ["MAX_JACOBIAN", "RELEASED_HINT", "GraphReleasedError", "Node", "adjoints", "collect", "grad_of", "local_partials",
           "node_of", "tangents"]
