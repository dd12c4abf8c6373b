"""Readers of the tape: collect the Wengert list behind a tensor, and compute what the tables show.

Nothing here changes how the engine works.  The reverse pass that fills the
adjoint column *is* the engine's own walk (:func:`wengert.core.engine.walk`):
every intermediate is marked as "retained" for the duration of the walk, and
the walk's ``leaf_hook`` hands us each cotangent instead of accumulating it
into ``.grad`` -- so tracing never touches the ``.grad`` of the user's
tensors.  Local partial derivatives come from the rules themselves
(``Rule.partials`` for elementwise ops, or the rule's VJP applied to unit
cotangents for the others).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.engine import walk
from ..core.rule import Rule, fit, ieee
from ..core.state import STATE
from ..core.tensor import Tensor, shape_of

#: Largest Jacobian (output size x input size) computed for a non-elementwise op's partial column.
MAX_JACOBIAN = 256


class GraphReleasedError(RuntimeError):
    """The graph behind a tensor was freed by ``backward()``, so it cannot be read any more."""


RELEASED_HINT = (
    "the graph behind this tensor was released by backward(); trace or draw it before calling backward(), "
    "or call backward(retain_graph=True)"
)


def adopt(namespace: dict) -> None:
    """Make the tensors bound in ``namespace`` the graph's own nodes, so tables and drawings use their names.

    An op on Python floats is recorded on the scalar tape (core.tensor.Tape),
    and reading the graph gives a view per entry; a tensor that user code
    still holds is registered as that entry's view instead.  Call this before
    :func:`collect`.
    """
    for v in namespace.values():
        if isinstance(v, Tensor) and v._tape is not None:
            v._tape.register(v)


def collect(root: Tensor) -> list[Tensor]:
    """The recorded nodes that ``root`` depends on, in Wengert-list order (creation order).

    A node is a tensor that requires grad: a leaf (an input) or the output of
    a recorded op.  Constants (tensors that do not require grad, and raw
    numbers) are not nodes; they appear inline in the expressions.  The walk
    is iterative, so graphs of any depth can be collected.
    """
    if not root.requires_grad:
        return [root]
    seen: dict[int, Tensor] = {id(root): root}
    stack = [root]
    while stack:
        node = stack.pop()
        if node._rule is None:
            continue
        args = node._args
        if args is None:
            raise GraphReleasedError(RELEASED_HINT)
        for a in args:
            if isinstance(a, Tensor) and a.requires_grad and id(a) not in seen:
                seen[id(a)] = a
                stack.append(a)
    return sorted(seen.values(), key=lambda t: t._seq)


def adjoints(root: Tensor, nodes: Sequence[Tensor], seed: Any = None) -> dict[int, Any]:
    """Reverse mode: ``d root / d v`` for every node ``v`` (by ``id``), via the engine's own walk.

    ``seed`` is the cotangent of ``root`` (default 1 for a scalar).  The
    ``.grad`` of every tensor is left untouched, and the graph is kept.
    """
    if seed is None:
        seed = 1.0 if type(root._value) is float else np.ones(root.shape, dtype=root.dtype)
    else:
        seed = fit(seed._value if isinstance(seed, Tensor) else seed, root._value)
    found: dict[int, Any] = {}

    def hook(node: Tensor, g: Any) -> None:
        g = g._value if isinstance(g, Tensor) else g
        found[id(node)] = g.copy() if type(g) is np.ndarray else g

    retained = [(n, n._retain) for n in nodes if n._rule is not None]
    saved_grad = STATE.grad_enabled
    try:
        for n, _ in retained:
            n._retain = True
        STATE.grad_enabled = False
        walk(root, seed, retain_graph=True, differentiable=False, leaf_hook=hook)
    finally:
        STATE.grad_enabled = saved_grad
        for n, flag in retained:
            n._retain = flag
    return found


def _vjp(rule: Rule, index: int, g: Any, ans: Any, prims: Sequence[Any], params: dict) -> Any:
    """The rule's VJP for argument ``index`` on plain values."""
    if rule.vjp_all is not None:
        needs = [i == index for i in range(len(prims))]
        return rule.vjp_all(g, ans, needs, *prims, **params)[index]
    return rule.vjps[index](g, ans, *prims, **params)


def local_partials(node: Tensor) -> list[tuple[int, Any, str]]:
    """The local partial derivatives of ``node`` with respect to each of its recorded inputs.

    Returns ``(argument index, value, kind)`` for every argument that is a
    recorded tensor.  ``kind`` is ``"elementwise"`` (the value is
    d ans / d arg elementwise, from ``Rule.partials``), ``"jacobian"`` (the
    full Jacobian, shape ``ans.shape + arg.shape``, built from the rule's VJP
    applied to unit cotangents) or ``"none"`` when the Jacobian would be
    larger than :data:`MAX_JACOBIAN` entries (the value is then ``None``).
    """
    rule = node._rule
    args = node._args
    if rule is None:
        return []
    if args is None:
        raise GraphReleasedError(RELEASED_HINT)
    params = node._params or {}
    prims = [a._value if isinstance(a, Tensor) else a for a in args]
    ans = node._value
    out: list[tuple[int, Any, str]] = []
    saved = STATE.grad_enabled, STATE.forward_active
    STATE.grad_enabled, STATE.forward_active = False, 0
    try:
        with np.errstate(all="ignore"):
            for i, a in enumerate(args):
                if not (isinstance(a, Tensor) and a.requires_grad):
                    continue
                if rule.partials is not None:
                    p = rule.partials[i]
                    val = ieee(p, ans, *prims, **params)
                    out.append((i, _plain(val), "elementwise"))
                    continue
                out.append((i, *ieee(_jacobian, rule, i, params, ans, *prims)))
    finally:
        STATE.grad_enabled, STATE.forward_active = saved
    return out


def _jacobian(rule: Rule, i: int, params: dict, ans: Any, *prims: Any) -> tuple[Any, str]:
    out_shape, in_shape = shape_of(ans), shape_of(prims[i])
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
        ct = fit(_plain(_vjp(rule, i, g, ans, prims, params)), prims[i])
        rows.append(np.asarray(ct, dtype=dtype).reshape(n_in))
    jac = np.stack(rows).reshape(out_shape + in_shape)
    return (float(jac) if jac.ndim == 0 else jac), "jacobian"


def _plain(v: Any) -> Any:
    if isinstance(v, Tensor):
        return v._value
    if isinstance(v, np.generic):
        return v.item() if v.ndim == 0 else np.asarray(v)
    return v


__all__ = ["MAX_JACOBIAN", "RELEASED_HINT", "GraphReleasedError", "adjoints", "collect", "local_partials"]
