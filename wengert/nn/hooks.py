"""Module hooks, as in PyTorch: forward pre-hooks, forward hooks and full backward hooks.

``module.register_forward_pre_hook(hook)`` calls ``hook(module, args)`` before
``forward``; ``register_forward_hook(hook)`` calls ``hook(module, args,
output)`` after it; ``register_full_backward_hook(hook)`` calls ``hook(module,
grad_input, grad_output)`` once the gradients with respect to the module's
inputs are known.  Each returns a :class:`RemovableHandle`; a hook that
returns something other than None replaces what it was given.

The backward hooks are built on :class:`wengert.Function`, the public
custom-op API: the module's tensor inputs pass through one identity gate and
its tensor outputs through another.  The output gate's backward sees
``grad_output``; the input gate's backward sees ``grad_input``, calls the
hooks and returns what they return.  Several inputs (or outputs) share one
gate: they are flattened and concatenated before it and split after it, so
that a hook runs once per backward pass with all its gradients.  Like any
custom Function the gates are first-order: ``create_graph=True`` through a
module with backward hooks is an error that says so.

>>> import numpy as np, wengert as wg
>>> from wengert import nn
>>> lin = nn.Linear(3, 2, dtype=np.float64, rng=0)
>>> seen = []
>>> handle = lin.register_forward_hook(lambda m, args, out: seen.append(out.shape))
>>> _ = lin(np.ones((4, 3)))
>>> seen
[(4, 2)]
>>> handle.remove()
>>> _ = lin(np.ones((4, 3)))
>>> seen
[(4, 2)]
"""
from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

import wengert as wg

from ..core.function import Function
from ..core.tensor import Tensor


class RemovableHandle:
    """What ``register_*_hook`` returns: ``handle.remove()`` unregisters the hook (also usable as ``with``)."""

    _ids = itertools.count()

    def __init__(self, hooks_dict: OrderedDict, extra: OrderedDict | None = None) -> None:
        self.id = next(RemovableHandle._ids)
        self._dicts = [weakref.ref(hooks_dict)] + ([weakref.ref(extra)] if extra is not None else [])

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        for ref in self._dicts:
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"<RemovableHandle id={self.id}>"


class ModuleHooks:
    """The hooks of one module (created on its first registration): four ordered dicts keyed by handle id."""

    __slots__ = ("__weakref__", "backward", "backward_pre", "forward", "forward_pre", "with_kwargs")

    def __init__(self) -> None:
        self.forward_pre: OrderedDict[int, Callable] = OrderedDict()
        self.forward: OrderedDict[int, Callable] = OrderedDict()
        self.backward: OrderedDict[int, Callable] = OrderedDict()
        self.backward_pre: OrderedDict[int, Callable] = OrderedDict()
        self.with_kwargs: OrderedDict[int, bool] = OrderedDict()  # handle ids of hooks that take kwargs too

    def add(self, kind: str, hook: Callable, prepend: bool = False, with_kwargs: bool = False) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"register_{kind}_hook: the hook must be callable, got {type(hook).__name__}")
        table = getattr(self, kind)
        handle = RemovableHandle(table, self.with_kwargs if with_kwargs else None)
        table[handle.id] = hook
        if with_kwargs:
            self.with_kwargs[handle.id] = True
        if prepend:
            table.move_to_end(handle.id, last=False)
        return handle


def call_with_hooks(module: Any, hooks: ModuleHooks, args: tuple, kwargs: dict) -> Any:
    """``module(*args, **kwargs)`` with its hooks, in PyTorch's order (pre-hooks, forward, forward hooks)."""
    name = type(module).__name__
    for hid, hook in list(hooks.forward_pre.items()):
        if hid in hooks.with_kwargs:
            res = hook(module, args, kwargs)
            if res is not None:
                if not (isinstance(res, tuple) and len(res) == 2):
                    raise RuntimeError(f"{name}: a forward pre-hook registered with_kwargs=True must return None "
                                       f"or a tuple (args, kwargs), got {type(res).__name__}")
                args, kwargs = res
        else:
            res = hook(module, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
    gate = None
    if hooks.backward or hooks.backward_pre:
        gate = _BackwardHookGate(module, hooks)
        args = gate.wrap_inputs(args)
    out = module.forward(*args, **kwargs)
    for hid, hook in list(hooks.forward.items()):
        res = hook(module, args, kwargs, out) if hid in hooks.with_kwargs else hook(module, args, out)
        if res is not None:
            out = res
    if gate is not None:
        out = gate.wrap_outputs(out)
    return out


# ------------------------------------------------------------------ backward hooks


class _IdentityGate(Function):
    """One graph node: y = x; in the backward pass, ``callback(g)`` sees (and may replace) the cotangent.

    A Function's inputs are tensors, so the callback reaches ``forward`` through
    a per-thread stack that :func:`_gate` fills just before ``apply``.
    """

    @staticmethod
    def forward(ctx: Any, x: Any) -> Any:
        stack = _pending.__dict__.get("stack")
        ctx.callback = stack.pop() if stack else None
        return np.array(x, copy=True)  # a fresh value: the output never aliases the input

    @staticmethod
    def backward(ctx: Any, g: Any) -> Any:
        return g if ctx.callback is None else ctx.callback(g)


_pending = threading.local()


def _gate(x: Tensor, callback: Callable[[Any], Any]) -> Tensor:
    """``x`` through an identity node whose backward returns ``callback(g)`` as the cotangent of ``x``."""
    stack = _pending.__dict__.setdefault("stack", [])
    stack.append(callback)
    depth = len(stack)
    try:
        return _IdentityGate.apply(x)
    finally:
        del stack[depth - 1:]  # (already popped by forward, unless it did not run)


def _join(tensors: list[Tensor]) -> tuple[Tensor, list]:
    """Several tensors as one flat tensor (for one gate), with what :func:`_split` needs to undo it."""
    if len(tensors) == 1:
        return tensors[0], [None]
    dtype = np.result_type(*[t.dtype for t in tensors])
    flat = wg.concatenate([wg.reshape(wg.astype(t, dtype), (-1,)) for t in tensors])
    return flat, [(t.shape, t.dtype, t.size) for t in tensors]


def _split(flat: Tensor, layout: list) -> list[Tensor]:
    if layout == [None]:
        return [flat]
    bounds = list(itertools.accumulate(size for _, _, size in layout))[:-1]
    pieces = wg.split(flat, bounds)
    return [wg.astype(wg.reshape(p, shape), dt) for p, (shape, dt, _) in zip(pieces, layout)]


def _split_value(g: Any, layout: list) -> list:
    if layout == [None]:
        return [g]
    g = np.asarray(g).reshape(-1)
    out, start = [], 0
    for shape, dt, size in layout:
        out.append(g[start: start + size].reshape(shape).astype(dt, copy=False))
        start += size
    return out


def _join_value(values: list, layout: list) -> Any:
    if layout == [None]:
        return values[0]
    return np.concatenate([np.asarray(v, dtype=np.result_type(*[d for _, d, _ in layout])).reshape(-1)
                           for v in values])


def _as_tensors(values: list) -> tuple:
    return tuple(None if v is None else Tensor(np.asarray(v)) for v in values)


def _as_value(v: Any, like: Any) -> Any:
    if v is None:
        return np.zeros(np.shape(like), dtype=np.asarray(like).dtype)
    return np.asarray(v.data if isinstance(v, Tensor) else v)


class _BackwardHookGate:
    """The two gates of one call of a module with full backward hooks (PyTorch's ``BackwardHook``)."""

    def __init__(self, module: Any, hooks: ModuleHooks) -> None:
        self.module = module
        self.hooks = hooks
        self.n_inputs = 0
        self.input_index: list[int] | None = None  # positions of the inputs that pass through the input gate
        self.input_layout: list = []
        self.grad_outputs: tuple | None = None
        self.n_outputs = 0

    # ---- inputs
    def wrap_inputs(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        index = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not index or not wg.is_grad_enabled():
            return args
        self.input_index = index
        flat, self.input_layout = _join([args[i] for i in index])
        pieces = _split(_gate(flat, self._input_backward), self.input_layout)
        args = list(args)
        for i, p in zip(index, pieces):
            args[i] = p
        return tuple(args)

    def _input_backward(self, g: Any) -> Any:
        values = _split_value(g, self.input_layout)
        grads: list = [None] * self.n_inputs
        for i, v in zip(self.input_index or [], values):
            grads[i] = v
        new = self._run_hooks(tuple(_as_tensors(grads)))
        if new is None:
            return g
        return _join_value([_as_value(new[i], v) for i, v in zip(self.input_index or [], values)], self.input_layout)

    def _run_hooks(self, grad_input: tuple) -> tuple | None:
        name = type(self.module).__name__
        grad_output = self.grad_outputs if self.grad_outputs is not None else (None,) * max(self.n_outputs, 1)
        replaced = None
        for hook in list(self.hooks.backward.values()):
            res = hook(self.module, grad_input, grad_output)
            if res is None:
                continue
            res = res if isinstance(res, tuple) else (res,)
            if len(res) != len(grad_input):
                raise RuntimeError(f"{name}: a backward hook returned {len(res)} gradients for "
                                   f"{len(grad_input)} inputs; return one per input (None where there is none)")
            grad_input = replaced = res
        return replaced

    # ---- outputs
    def wrap_outputs(self, out: Any) -> Any:
        single = isinstance(out, Tensor)
        items = [out] if single else list(out) if isinstance(out, (tuple, list)) else None
        if items is None:
            return out
        index = [i for i, o in enumerate(items) if isinstance(o, Tensor) and o.requires_grad]
        self.n_outputs = len(items)
        if not index:
            return out
        flat, layout = _join([items[i] for i in index])

        def output_backward(g: Any) -> Any:
            values = _split_value(g, layout)
            grads: list = [None] * len(items)
            for i, v in zip(index, values):
                grads[i] = v
            grad_output = _as_tensors(grads)
            changed = False
            for hook in list(self.hooks.backward_pre.values()):
                res = hook(self.module, grad_output)
                if res is not None:
                    grad_output = res if isinstance(res, tuple) else (res,)
                    changed = True
            self.grad_outputs = grad_output
            if self.input_index is None:  # no input needs a gradient: the hooks run now, with grad_input all None
                self._run_hooks((None,) * self.n_inputs)
            if not changed:
                return g
            return _join_value([_as_value(grad_output[i], v) for i, v in zip(index, values)], layout)

        pieces = _split(_gate(flat, output_backward), layout)
        for i, p in zip(index, pieces):
            items[i] = p
        return items[0] if single else type(out)(items)


__all__ = ["ModuleHooks", "RemovableHandle", "call_with_hooks"]
