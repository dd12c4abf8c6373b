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

from .rule import Rule, apply
from .state import STATE
from .tensor import Tensor, raw


class Context:
    """What a custom op keeps between its forward and backward."""

    def __init__(self, needs_input_grad: tuple) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()

    def save_for_backward(self, *values: Any) -> None:
        self.saved_tensors = tuple(raw(v) for v in values)


class Function:
    """Base class for custom ops.  Override ``forward`` and ``backward`` (and optionally ``jvp``).

    ``forward(ctx, *inputs)`` receives NumPy values (floats for scalars) and
    returns a NumPy value; ``backward(ctx, g)`` receives the output's cotangent
    and returns one cotangent per input (``None`` for inputs without gradient);
    ``jvp(ctx, *tangents)`` (optional, for forward mode) returns the output
    tangent, with ``None`` for inputs that carry no tangent.
    """

    @staticmethod
    def forward(ctx: Context, *inputs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    jvp = None

    @classmethod
    def _rule(cls) -> Rule:
        r = cls.__dict__.get("_wengert_rule")
        if r is None:
            name = cls.__name__
            has_jvp = cls.jvp is not None

            def impl(*values: Any, ctx: Context) -> Any:
                with _no_record():
                    return cls.forward(ctx, *values)

            def vjp_all(g: Any, ans: Any, needs: list, *args: Any, ctx: Context) -> list:
                if isinstance(g, Tensor):  # a differentiable walk: create_graph or forward-over-reverse
                    carried = [v for v in (g, ans, *args) if isinstance(v, Tensor) and v._tangent is not None]
                    if STATE.grad_enabled or carried:
                        raise RuntimeError(
                            f"custom Function {name} is first-order: its backward works on NumPy values, so "
                            "create_graph=True (or forward-over-reverse) cannot differentiate through it"
                        )
                    g = g._value
                grads = cls.backward(ctx, g)
                if not isinstance(grads, tuple):
                    grads = (grads,)
                if len(grads) != len(args):
                    raise RuntimeError(f"{name}.backward returned {len(grads)} gradients for {len(args)} inputs")
                return list(grads)

            def jvp_all(tangents: list, ans: Any, *args: Any, ctx: Context) -> Any:
                if not has_jvp:
                    raise RuntimeError(f"custom Function {name} defines no jvp, so forward mode cannot go through it")
                return cls.jvp(ctx, *[raw(t) for t in tangents])

            r = Rule(f"{name}", impl, vjp_all=vjp_all, jvp_all=jvp_all, register=False,
                     doc=(cls.__doc__ or "").strip())
            cls._wengert_rule = r
        return r

    @classmethod
    def apply(cls, *inputs: Any) -> Tensor:
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in inputs)
        ctx = Context(needs)
        args = tuple(a if isinstance(a, Tensor) else Tensor(a) for a in inputs)
        return apply(cls._rule(), args, {"ctx": ctx})


class _no_record:
    def __enter__(self) -> None:
        self._prev = STATE.grad_enabled, STATE.forward_active
        STATE.grad_enabled = False
        STATE.forward_active = 0

    def __exit__(self, *exc: object) -> None:
        STATE.grad_enabled, STATE.forward_active = self._prev


__all__ = ["Context", "Function", "np"]
