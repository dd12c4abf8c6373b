"""Custom ops with the gate API of the lecture notes: ``forward(ctx, ...)``, ``backward(ctx, g)``.

A :class:`Function` subclass becomes a rule like the built-in ones: the engine
calls its backward exactly as it calls a built-in VJP.

>>> import numpy as np, wengert as wg
>>> class MultiplyGate(wg.Function):
...     @staticmethod
...     def forward(ctx, x, y):
...         ctx.save_for_backward(x, y)       # must keep these around!
...         return x * y
...     @staticmethod
...     def backward(ctx, dz):
...         x, y = ctx.saved_tensors
...         return dz * y, dz * x             # [dz/dx * dL/dz, dz/dy * dL/dz]
>>> x = wg.tensor(3.0, requires_grad=True); y = wg.tensor(-4.0, requires_grad=True)
>>> z = MultiplyGate.apply(x, y)
>>> z.backward()
>>> x.grad, y.grad
(tensor(-4.), tensor(3.))
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .rule import Rule, bind
from .state import no_grad
from .tensor import Tensor, raw, shape_of


class Context:
    """What a custom op keeps between its forward and backward."""

    def __init__(self, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *values: Any) -> None:
        self.saved_tensors = tuple(v._value if isinstance(v, Tensor) else v for v in values)


class Function:
    """Base class for custom ops.  Override ``forward`` and ``backward`` (and optionally ``jvp``).

    ``forward(ctx, *inputs)`` receives NumPy values (floats for scalars) and
    returns a NumPy value; ``backward(ctx, g)`` receives the output's cotangent
    and returns one cotangent per input (``None`` for inputs without gradient);
    ``jvp(ctx, *tangents)`` (optional, for forward mode) returns the output
    tangent, with ``None`` for inputs that carry no tangent.  Both work on
    NumPy values, so a custom op is differentiable once: a derivative of its
    backward (grad of grad, an hvp through it) is a clear error, never zero.
    """

    @staticmethod
    def forward(ctx: Context, *inputs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    jvp = None
    vmap = None  # optional: vmap(ctx, batched, *inputs) -> the outputs of a whole batch (see wg.vmap)

    @classmethod
    def _rule(cls) -> Rule:
        r = cls.__dict__.get("_wengert_rule")
        if r is None:
            r = cls._wengert_rule = _function_rule(cls)
        return r

    @classmethod
    def apply(cls, *inputs: Any) -> Tensor:
        needs = tuple(isinstance(a, Tensor) and (a.requires_grad or a._trace is not None) for a in inputs)
        ctx = Context(needs)
        args = tuple(a if isinstance(a, Tensor) else Tensor(a) for a in inputs)
        return bind(cls._rule(), args, {"ctx": ctx})


def _function_rule(cls: type) -> Rule:
    name = cls.__name__
    first_order = (f"custom Function {name} is first-order (differentiable once): its backward and jvp work on NumPy values, "
                   "so a derivative of them (create_graph=True, grad of grad, an hvp or jvp over grad through it) "
                   "cannot be taken; write the op with wengert's functions to get higher derivatives")

    def impl(*values: Any, ctx: Context) -> Any:
        with no_grad():
            return raw(cls.forward(ctx, *values))

    def vjp_all(g: Any, ans: Any, needs: list, *args: Any, ctx: Context) -> list:
        if _batch_of_plain(g) and not any(isinstance(v, Tensor) for v in (ans, *args)):
            # many cotangents at once (wg.jacrev is vmap of the pullback): one backward call per cotangent
            rows = [vjp_all(gk, ans, needs, *args, ctx=ctx) for gk in g._trace.stacked(g)]
            return [None if rows[0][i] is None else g._trace.box(np.stack([r[i] for r in rows]))
                    for i in range(len(args))]
        traced = [v for v in (g, ans, *args) if isinstance(v, Tensor)]
        if traced:
            if not all(_staged(v) for v in traced):
                raise RuntimeError(first_order)
            # wg.jit stages the backward as one more op, which its replay calls on plain values
            # (the forward's output is an input of it: the replay must run the forward, which fills ctx, first)
            return [bind(backward_rule, (g, ans, *args), {"ctx": ctx, "index": i}) if need else None
                    for i, need in enumerate(needs)]
        grads = cls.backward(ctx, g)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != len(args):
            raise RuntimeError(f"{name}.backward returned {len(grads)} gradients for {len(args)} inputs")
        out = []
        for i, (gi, a) in enumerate(zip(grads, args)):
            gi = raw(gi)
            if gi is not None and needs[i]:
                gs, s = shape_of(gi), shape_of(a)
                try:
                    fits = gs == s or np.broadcast_shapes(s, gs) == gs
                except ValueError:
                    fits = False
                if not fits:
                    raise ValueError(f"{name}.backward returned a gradient of shape {gs} for input {i}, which has "
                                     f"shape {s}; return one gradient per input, each of its input's shape")
            out.append(gi)
        return out

    def jvp_all(tangents: list, ans: Any, *args: Any, ctx: Context) -> Any:
        if cls.jvp is None:
            raise RuntimeError(f"custom Function {name} defines no jvp, so forward mode cannot go through it")
        batched = [t for t in tangents if isinstance(t, Tensor)]
        if batched and all(_batch_of_plain(t) and t._trace is batched[0]._trace for t in batched) and \
                not any(isinstance(v, Tensor) for v in (ans, *args)):
            # many tangents at once (wg.jacfwd is vmap of the JVP): one jvp call per tangent
            level = batched[0]._trace
            stacks = [level.stacked(t) if isinstance(t, Tensor) else None for t in tangents]
            rows = [raw(cls.jvp(ctx, *[t if s is None else s[k] for t, s in zip(tangents, stacks)]))
                    for k in range(level.size)]
            return level.box(np.stack(rows))
        if any(isinstance(v, Tensor) for v in (ans, *args, *tangents)):
            raise RuntimeError(first_order)
        return raw(cls.jvp(ctx, *tangents))

    def backward_impl(g: Any, ans: Any, *args: Any, ctx: Context, index: int) -> Any:
        grads = vjp_all(g, ans, [i == index for i in range(len(args))], *args, ctx=ctx)
        return grads[index]

    def batch(level: Any, values: list, batched: list, params: dict) -> Any:
        if cls.vmap is None:
            raise NotImplementedError(
                f"custom Function {name} defines no vmap, so wg.vmap cannot run it on a batch: define "
                "vmap(ctx, batched, *inputs) (inputs with batched[i] carry the batch along axis 0; return the "
                "outputs for the whole batch, batch first)")
        if any(isinstance(v, Tensor) for v in values):
            raise RuntimeError(first_order)
        with no_grad():
            return raw(cls.vmap(params["ctx"], tuple(batched), *values))

    backward_rule = Rule(f"{name}.backward", backward_impl, differentiable=False, register=False,
                         doc=f"the backward of custom Function {name}, for input `index`")
    return Rule(f"{name}", impl, vjp_all=vjp_all, jvp_all=jvp_all, batch=batch, register=False,
                doc=(cls.__doc__ or "").strip())


def _batch_of_plain(v: Any) -> bool:
    """Is ``v`` a batch of plain values (wg.vmap's box over plain arrays)?"""
    from .interpret import Batch

    return (isinstance(v, Tensor) and isinstance(v._trace, Batch) and v._trace.alive
            and not isinstance(v._primal, Tensor))


def _staged(v: Tensor) -> bool:
    """Is ``v`` a value that wg.jit stages (and no derivative level processes)?"""
    from .interpret import Stage

    return v._trace is not None and isinstance(v._trace, Stage) and not isinstance(v._primal, Tensor)


__all__ = ["Context", "Function", "np"]
