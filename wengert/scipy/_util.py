"""What every module of wengert.scipy shares: elementwise rules with non-differentiable arguments,
the public functions (SciPy's names and signatures, a Tensor back), and a few private array helpers.

A rule here is named after the SciPy function it mirrors (``scipy.special.gammaln``), so a
trace table or an error names the function the user called.  Its record is an ordinary
:class:`~wengert.core.rule.Rule`: forward (SciPy's own function), VJP and JVP side by side,
written with the rules themselves (so they work on plain values and on tensors: higher
derivatives by composition), and a batching rule for ``wg.vmap``.  The rules carry no
:class:`~wengert.ops.surface.Surface`: SciPy functions do not dispatch on NumPy's protocols,
so ``wg.*`` and NumPy dispatch are untouched, and users call ``wengert.scipy.special.NAME``.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.rule import Rule
from ..core.tensor import Tensor, as_tensor, live_trace, value_of
from ..ops import batching
from ..ops import table as R

#: The public functions of wengert.scipy, by module (``"special"``, ``"stats.norm"`` ...): name -> function.
PUBLIC: dict[str, dict[str, Callable]] = {}


# ---------------------------------------------------------------------- rules
def no_derivative(rule_name: str, arg: str, why: str) -> Callable:
    """A VJP/JVP slot for an argument the rule has no derivative for: calling it is a clear error."""

    def fail(*_args: Any, **_params: Any) -> Any:
        raise NotImplementedError(
            f"{rule_name}: no derivative with respect to {arg} ({why}); pass {arg} as a constant, "
            "or detach() it")

    return fail


def elementwise(name: str, impl: Callable, args: str, partials: Sequence[Callable | str], doc: str) -> Rule:
    """An elementwise rule from its local partial derivatives ``partial(ans, *args)``.

    An entry of ``partials`` that is a string instead of a function marks an
    argument without a derivative (an integer order, a shape parameter SciPy
    gives no derivative for): the string says why, and differentiating with
    respect to that argument is an error that says so.
    """
    names = [a.strip() for a in args.split(",")]
    if len(names) != len(partials):
        raise ValueError(f"rule {name!r}: {len(names)} argument names for {len(partials)} partials")
    if all(callable(p) for p in partials):
        rule = Rule(name, impl, partials=tuple(partials), doc=doc)
    else:
        vjps, jvps = [], []
        for p, arg in zip(partials, names):
            if callable(p):
                vjps.append(_vjp_of(p))
                jvps.append(_jvp_of(p))
            else:
                vjps.append(no_derivative(name, arg, p))
                jvps.append(no_derivative(name, arg, p))
        rule = Rule(name, impl, vjp=vjps, jvp=jvps, doc=doc)
    rule.batch = batching.elementwise(rule)
    return rule


def _vjp_of(p: Callable) -> Callable:
    return lambda g, ans, *args, **params: g * p(ans, *args, **params)


def _jvp_of(p: Callable) -> Callable:
    return lambda t, ans, *args, **params: t * p(ans, *args, **params)


def nondiff(name: str, impl: Callable, doc: str) -> Rule:
    """An elementwise rule without derivative (a sign, a discrete value)."""
    rule = Rule(name, impl, differentiable=False, doc=doc)
    rule.batch = batching.elementwise(rule)
    return rule


# ---------------------------------------------------------------------- public functions
def tensor_out(value: Any) -> Any:
    """A public function's result: Tensors (tuples of them stay tuples), as every ``wg.*`` function returns."""
    if isinstance(value, tuple):
        return type(value)(*map(tensor_out, value)) if hasattr(value, "_fields") else tuple(map(tensor_out, value))
    if isinstance(value, (Tensor, bool)):  # (a flag such as cho_factor's lower stays a flag)
        return value
    return as_tensor(value)


def public(module: str, name: str | None = None, signature: Callable | None = None) -> Callable:
    """Register ``fn`` as ``wengert.scipy.<module>.<name>``; its result comes back as Tensors (a decorator).

    ``fn`` is a composite (written with rules) or a thin call of a rule; it
    keeps its own signature and docstring, which follow SciPy's.
    """

    def mark(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def public_fn(*args: Any, **kwargs: Any) -> Any:
            return tensor_out(fn(*args, **kwargs))

        public_fn.__module__ = f"wengert.scipy.{module}"
        if signature is not None:  # (SciPy's arguments; the result is a Tensor, whatever signature returns)
            public_fn.__signature__ = inspect.signature(signature).replace(return_annotation=inspect.Signature.empty)
        PUBLIC.setdefault(module, {})[name or fn.__name__] = public_fn
        return public_fn

    return mark


def export(module: str, rule: Rule, signature: str, name: str | None = None) -> Callable:
    """The public function of an elementwise rule, with SciPy's argument names (``"a, x"``)."""
    names = [s.strip() for s in signature.split(",")]
    public_name = name or rule.name.rsplit(".", 1)[-1]

    def fn(*args: Any) -> Any:
        if len(args) != len(names):
            raise TypeError(f"{public_name}({signature}) takes {len(names)} argument(s), got {len(args)}")
        return rule(*args)

    fn.__name__ = fn.__qualname__ = public_name
    how = "exact derivatives in reverse and forward mode" if rule.differentiable else "no derivative"
    fn.__doc__ = rule.doc + f"\n\nRule ``{rule.name}``: {how}."
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in names]
    out = public(module, public_name)(fn)
    out.__signature__ = inspect.Signature(params)
    return out


# ---------------------------------------------------------------------- helpers on values and tensors
def safe(cond: Any, x: Any, fill: float) -> Any:
    """``x`` where ``cond`` holds, ``fill`` elsewhere: the input of a branch whose value is then masked.

    Masking a value computed at a bad point still lets NaN into the gradient
    (0 * inf); computing it at a harmless point instead keeps the gradient 0.
    """
    return R.where(cond, x, fill)


def concrete(x: Any) -> Any:
    """The plain value of ``x`` if it has one here (not a transform's value), else None: for input checks only."""
    return None if live_trace(x) is not None else np.asarray(value_of(x))


def tri_mask(n: int, lower: bool, unit: bool = False, dtype: Any = np.float64) -> np.ndarray:
    """1 on the triangle a triangular solve reads (its diagonal too unless ``unit``), 0 elsewhere."""
    m = np.tril(np.ones((n, n), dtype=dtype)) if lower else np.triu(np.ones((n, n), dtype=dtype))
    if unit:
        np.fill_diagonal(m, 0.0)
    return m


__all__ = ["PUBLIC", "concrete", "elementwise", "export", "no_derivative", "nondiff", "public", "safe", "tensor_out",
           "tri_mask"]
