"""Gradient checkpointing: ``wg.checkpoint(fn, *args)`` keeps ``fn``'s inputs, not its intermediates.

Reverse mode keeps every value a VJP will need until the backward walk
reaches it: for a deep network, the activations of every layer.  A
checkpointed block is recorded as *one* entry of the Wengert list that holds
only its inputs and output; when the backward walk reaches it, the block's
forward runs again (recorded this time) and is walked at once, handing its
gradient to the block's inputs and, as in PyTorch, adding the gradients of the
parameters it uses (``.grad``) directly.  Memory for the block's
intermediates is traded for one more forward pass of it.

>>> import numpy as np, wengert as wg
>>> from wengert import nn
>>> block = nn.Sequential(nn.Linear(4, 8, rng=0), nn.Tanh(), nn.Linear(8, 4, rng=1)).double()
>>> x = wg.tensor(np.ones((2, 4)), requires_grad=True)
>>> wg.sum(wg.checkpoint(block, x) ** 2).backward()
>>> g_ckpt, w_ckpt = x.grad.data.copy(), block[0].weight.grad.data.copy()
>>> x.grad = None
>>> block.zero_grad()
>>> wg.sum(block(x) ** 2).backward()                      # the same gradients, without checkpointing
>>> bool(np.allclose(g_ckpt, x.grad.data)), bool(np.allclose(w_ckpt, block[0].weight.grad.data))
(True, True)

Inside a transform (``wg.grad``, ``wg.jit`` ...) or where nothing requires
grad, ``checkpoint`` simply calls ``fn``: the result is the same.  A
checkpointed block is differentiable once (``create_graph=True`` through it
is a clear error).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .core.rule import Rule, bind
from .core.state import enable_grad, is_grad_enabled, no_grad, state
from .core.tensor import Tensor, entry_of, live_trace, value_of
from .core.walk import walk, walk_leaf


def _impl(*values: Any, run: Callable) -> Any:
    with no_grad():  # the forward keeps nothing: the backward runs it again
        return value_of(run(*values))


def _vjp_all(g: Any, ans: Any, needs: list, *xs: Any, run: Callable) -> list:
    if isinstance(g, Tensor) or any(isinstance(x, Tensor) for x in xs):
        raise RuntimeError("wg.checkpoint is differentiable once: a derivative of its backward (create_graph=True, "
                           "grad of grad) cannot be taken; call the block without checkpoint for that")
    with enable_grad():
        inputs = [Tensor(x, requires_grad=need) if need else Tensor(x) for x, need in zip(xs, needs)]
        out = run(*inputs)
    if not isinstance(out, Tensor) or not out.requires_grad:
        return [None] * len(xs)
    index = {id(t): k for k, t in enumerate(inputs)}
    grads: list = [None] * len(xs)

    def on_leaf(t: Tensor, c: Any) -> None:
        k = index.get(id(t))
        if k is not None:
            grads[k] = c if grads[k] is None else grads[k] + c
        else:  # a parameter the block uses: its gradient is added to .grad now, as PyTorch's checkpoint does
            walk_leaf(t, c, False)

    root = entry_of(out)
    if root is not None:
        walk([(*root, g)], on_leaf=on_leaf)
    return grads


_CHECKPOINT = Rule("checkpoint", _impl, vjp_all=_vjp_all, register=False,
                   doc="a block recorded as one entry: its forward runs again when backward reaches it")


def checkpoint(fn: Callable, *args: Any) -> Any:
    """``fn(*args)``, recorded as one entry that keeps only the inputs: backward recomputes ``fn``'s forward.

    ``args`` are the block's inputs (tensors, arrays, numbers); parameters
    that ``fn`` closes over (a module's) get their gradients as usual.  ``fn``
    must return one tensor.  See the module docstring for when it just calls
    ``fn``.
    """
    if not callable(fn):
        raise TypeError(f"checkpoint: fn must be callable, got {type(fn).__name__}")
    if state().levels or not is_grad_enabled() or any(live_trace(a) is not None for a in args):
        return fn(*args)  # (a transform records in its own way: nothing to save here)
    if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        # no input is in the graph (the network's data): the entry would hand the parameters no gradient,
        # so this block is recorded as usual (checkpoint the blocks after the first one)
        return fn(*args)
    return bind(_CHECKPOINT, tuple(a if isinstance(a, Tensor) else Tensor(a) for a in args), {"run": fn})


__all__ = ["checkpoint"]
