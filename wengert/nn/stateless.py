"""Calling a module with other parameters: ``functional_call``, as ``torch.func.functional_call``.

The transforms take functions of arrays; a module holds its parameters.
``functional_call(module, params, *args)`` runs the module with the tensors
of ``params`` (names as in ``state_dict()``) in place of its own, so that
``grad``, ``vmap`` and ``jit`` can treat a network as a function of its
parameters: per-example gradients are ``vmap(grad(loss))`` over the
parameters dict.

>>> import numpy as np, wengert as wg
>>> from wengert import nn
>>> net = nn.Linear(2, 1, rng=0)
>>> p = {"weight": np.array([[1.0, 2.0]]), "bias": np.array([0.5])}
>>> nn.functional_call(net, p, np.array([3.0, 4.0]))
tensor([11.5])
"""
from __future__ import annotations

from typing import Any

from ..core.tensor import Tensor, as_tensor
from .module import Module


def functional_call(module: Module, params: dict, *args: Any, **kwargs: Any) -> Any:
    """``module(*args, **kwargs)`` with the parameters and buffers named in ``params`` replaced for this call.

    Names not in ``params`` keep the module's own values; a name the module
    does not have is an error that lists its names.  The module is left as
    it was, also when the call raises.
    """
    if not isinstance(module, Module):
        raise TypeError(f"functional_call: expected a wengert nn.Module, got {type(module).__name__}")
    if not hasattr(params, "items"):
        raise TypeError(f"functional_call: params must be a dict of name -> tensor, got {type(params).__name__}")
    owners = {}
    for mname, mod in module.named_modules():
        for pname in (*mod._parameters, *mod._buffers):
            owners[f"{mname}.{pname}" if mname else pname] = (mod, pname)
    unknown = sorted(set(params) - set(owners))
    if unknown:
        raise KeyError(f"functional_call: {type(module).__name__} has no parameter or buffer named "
                       f"{', '.join(map(repr, unknown))}; its names are {', '.join(owners)}")
    saved = []
    try:
        for name, value in params.items():
            mod, pname = owners[name]
            saved.append((mod, pname, mod.__dict__.get(pname)))
            object.__setattr__(mod, pname, value if isinstance(value, Tensor) else as_tensor(value))
        return module(*args, **kwargs)
    finally:
        for mod, pname, old in reversed(saved):
            object.__setattr__(mod, pname, old)


__all__ = ["functional_call"]
