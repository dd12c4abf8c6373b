"""How users reach an op: the public function, the Tensor methods, the NumPy dispatch entries.

Each primitive's :class:`~wengert.core.rule.Rule` (``ops/table.py``) and each
composite (``ops/composite.py``, marked with :func:`composite`) carries a
:class:`Surface` record: its ``wg.NAME``, more names, Tensor method names, the
NumPy functions and ufunc that dispatch to it, and, where the public
signature differs from the rule's, a ``prepare`` function that maps the one
to the other.  ``wengert.ops.api``, ``wengert.ops.methods`` and
``wengert.ops.interop`` are generated from these records, so adding a public
op touches its record and its test spec, nothing else.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.rule import Rule
from ..core.tape import RULES
from ..core.tensor import Tensor


@dataclass(frozen=True)
class Surface:
    """Where a primitive or composite is reachable from (see the module docstring)."""

    name: str | None = None  # wg.NAME (default: the rule's or the function's own name)
    aliases: tuple = ()  # more wg names (abs / absolute, ...)
    methods: tuple = ()  # Tensor method names
    numpy: tuple = ()  # NumPy functions that dispatch here (__array_function__)
    ufunc: Any = None  # the NumPy ufunc that dispatches here (__array_ufunc__)
    prepare: Callable | None = None  # public (args, kwargs) -> the target's (args, kwargs)
    public: bool = True  # False: methods / NumPy only, no wg.NAME


#: The composites marked with :func:`composite`, in declaration order: (function, Surface).
COMPOSITES: list = []


def composite(**kw: Any) -> Callable:
    """Mark a composite function as public, with its :class:`Surface` (a decorator)."""

    def mark(fn: Callable) -> Callable:
        COMPOSITES.append((fn, Surface(**kw)))
        return fn

    return mark


def records() -> list[tuple[Any, Surface]]:
    """Every public op: (rule or composite function, its Surface), rules first, in declaration order."""
    out = [(r, r.surface) for r in RULES if isinstance(r, Rule) and r.surface is not None]
    return out + list(COMPOSITES)


def public_name(target: Any, s: Surface) -> str:
    return s.name or (target.name if isinstance(target, Rule) else target.__name__)


def public_function(target: Any, s: Surface) -> Callable:
    """``wg.NAME``: array arguments become Tensors (so a Tensor comes back), then the rule or composite runs."""
    name = public_name(target, s)
    prepare = _torch_names(s.prepare, target)
    if isinstance(target, Rule) and prepare is None and target.arity == 1 and not target.param_names:
        op1 = target.op1

        def fn(x: Any) -> Tensor:
            return op1(x if isinstance(x, Tensor) else Tensor(x))
    elif isinstance(target, Rule) and prepare is None and target.arity == 2 and not target.param_names:
        op2 = target.op2

        def fn(x: Any, y: Any) -> Tensor:
            return op2(x if isinstance(x, Tensor) else Tensor(x), y)
    else:
        def fn(*args: Any, **kwargs: Any) -> Tensor:
            if prepare is not None:
                args, kwargs = prepare(*args, **kwargs)
            # (after prepare, a list in front is a sequence of arrays, e.g. stack's: left as it is)
            if args and not isinstance(args[0], Tensor) and not (prepare and isinstance(args[0], (list, tuple))):
                args = (_as_tensor(args[0]), *args[1:])
            return target(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "wengert"
    doc = target.doc if isinstance(target, Rule) else (target.__doc__ or "")
    kind = f"rule ``{target.name}``" if isinstance(target, Rule) else "a composite of primitives"
    fn.__doc__ = f"{doc.strip()}\n\nReturns a Tensor ({kind}; differentiable in reverse and forward mode)."
    try:
        fn.__signature__ = inspect.signature(s.prepare or (target.impl if isinstance(target, Rule) else target))
    except (TypeError, ValueError):
        pass
    return fn


def _torch_names(prepare: Callable | None, target: Any) -> Callable | None:
    """Accept PyTorch's ``dim=`` / ``keepdim=`` wherever the op takes NumPy's ``axis=`` / ``keepdims=``."""
    try:
        params = inspect.signature(prepare or (target.impl if isinstance(target, Rule) else target)).parameters
    except (TypeError, ValueError):
        return prepare
    if "axis" not in params or "dim" in params:
        return prepare

    def translate(*args: Any, **kwargs: Any) -> tuple:
        for torch_name, numpy_name in (("dim", "axis"), ("keepdim", "keepdims")):
            if torch_name in kwargs:
                if numpy_name in kwargs:
                    raise TypeError(f"give {numpy_name}= or {torch_name}= (PyTorch's name), not both")
                kwargs[numpy_name] = kwargs.pop(torch_name)
        return prepare(*args, **kwargs) if prepare is not None else (args, kwargs)

    return translate


def method(fn: Callable, name: str) -> Callable:
    """A Tensor method from a public function: ``t.NAME(*args)`` is ``fn(t, *args)``."""

    def m(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    m.__name__ = m.__qualname__ = name
    m.__doc__ = fn.__doc__
    return m


def _as_tensor(x: Any) -> Tensor:
    from ..core.tensor import as_tensor

    return as_tensor(x)


__all__ = ["COMPOSITES", "Surface", "composite", "method", "public_function", "public_name", "records"]
