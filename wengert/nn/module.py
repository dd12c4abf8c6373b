"""``Module`` and ``Parameter``: the containers of a network.

A module's attributes that are :class:`Parameter` s or modules are registered
automatically when assigned, in assignment order, so ``parameters()`` finds
them; ``state_dict()`` names them by their attribute paths.

>>> import wengert as wg
>>> from wengert import nn
>>> class TwoLayer(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.hidden = nn.Linear(2, 3, rng=0)
...         self.out = nn.Linear(3, 1, rng=1)
...     def forward(self, x):
...         return self.out(wg.relu(self.hidden(x)))
>>> net = TwoLayer()
>>> [name for name, _ in net.named_parameters()]
['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
>>> net
TwoLayer(
  (hidden): Linear(in_features=2, out_features=3, bias=True)
  (out): Linear(in_features=3, out_features=1, bias=True)
)
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from . import hooks as _hooks
from ._display import Table as _Table


class Parameter(Tensor):
    """A tensor that a :class:`Module` registers as trainable (``requires_grad=True`` by default).

    ``p.data`` is the live array: optimisers update it in place.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        arr = np.array(data, dtype=dtype, order="C")  # always a C-ordered copy: a parameter owns its storage
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float32)
        super().__init__(arr, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and networks.  Subclasses define ``forward``; call the module to run it."""

    training: bool
    _hooks: _hooks.ModuleHooks | None = None  # created by the first register_*_hook

    def __init__(self) -> None:
        d = self.__dict__
        d["_parameters"] = OrderedDict()
        d["_modules"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["training"] = True

    # ------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        params, modules, buffers = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in buffers:
            buffers[name] = value
        elif name in params or name in modules:
            if value is not None:
                kind = "parameter" if name in params else "sub-module"
                raise TypeError(f"cannot replace {kind} {name!r} of {type(self).__name__} with a "
                                f"{type(value).__name__}; assign a Parameter/Module or None")
            params.pop(name, None)
            modules.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for reg in (self._parameters, self._modules, self._buffers):
            reg.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: Any) -> None:
        """A non-trainable array that belongs to the state (e.g. BatchNorm's running mean)."""
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    def register_parameter(self, name: str, value: Parameter | None) -> None:
        if value is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, value)

    def add_module(self, name: str, module: Module) -> None:
        setattr(self, name, module)

    # ------------------------------------------------------------ running
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        hooks = self._hooks
        if hooks is None:
            return self.forward(*args, **kwargs)
        return _hooks.call_with_hooks(self, hooks, args, kwargs)

    # ------------------------------------------------------------ hooks (PyTorch's signatures)
    def _hook_table(self) -> _hooks.ModuleHooks:
        if self._hooks is None:
            self.__dict__["_hooks"] = _hooks.ModuleHooks()
        return self._hooks  # type: ignore[return-value]

    def register_forward_pre_hook(self, hook: Any, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> _hooks.RemovableHandle:
        """Call ``hook(module, args)`` before each ``forward``; a non-None result replaces ``args``.

        With ``with_kwargs=True`` the hook is ``hook(module, args, kwargs)`` and
        may return ``(args, kwargs)``.  Returns a handle whose ``remove()``
        unregisters the hook.
        """
        return self._hook_table().add("forward_pre", hook, prepend, with_kwargs)

    def register_forward_hook(self, hook: Any, *, prepend: bool = False,
                              with_kwargs: bool = False) -> _hooks.RemovableHandle:
        """Call ``hook(module, args, output)`` after each ``forward``; a non-None result replaces the output.

        >>> import numpy as np
        >>> from wengert import nn
        >>> relu = nn.ReLU()
        >>> h = relu.register_forward_hook(lambda m, args, out: out * 2.0)
        >>> relu(np.array([-1.0, 3.0]))
        tensor([0., 6.])
        """
        return self._hook_table().add("forward", hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook: Any, *, prepend: bool = False) -> _hooks.RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the module's input gradients are computed.

        ``grad_input`` has one entry per positional argument of ``forward``
        (None for arguments that are not tensors requiring a gradient) and
        ``grad_output`` one per output tensor; a non-None result (one entry
        per input) replaces ``grad_input``.  First-order only (see
        :mod:`wengert.nn.hooks`).

        >>> import numpy as np, wengert as wg
        >>> from wengert import nn
        >>> lin = nn.Linear(2, 1, dtype=np.float64, rng=0)
        >>> h = lin.register_full_backward_hook(lambda m, gi, go: print("grad_output", go[0].data.ravel()))
        >>> x = wg.tensor(np.ones((3, 2)), requires_grad=True)
        >>> lin(x).sum().backward()
        grad_output [1. 1. 1.]
        """
        return self._hook_table().add("backward", hook, prepend)

    def register_full_backward_pre_hook(self, hook: Any, *, prepend: bool = False) -> _hooks.RemovableHandle:
        """Call ``hook(module, grad_output)`` before the module's input gradients are computed.

        A non-None result (one entry per output) replaces ``grad_output``.
        """
        return self._hook_table().add("backward_pre", hook, prepend)

    # ------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every sub-module (each once), with their attribute paths."""
        seen: set[int] = set()
        stack = [(prefix, self)]
        while stack:  # iterative, pre-order, in registration order
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            children = [(f"{name}.{k}" if name else k, m) for k, m in mod._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator[Module]:
        yield from (m for m in self._modules.values() if m is not None)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from ((k, m) for k, m in self._modules.items() if m is not None)

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Every parameter (each once, even if shared), with its attribute path; ``recurse=False``: this module's own."""
        seen: set[int] = set()
        for mname, mod in (self.named_modules(prefix) if recurse else [(prefix, self)]):
            for pname, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self) -> Iterator[tuple[str, Any]]:
        for mname, mod in self.named_modules():
            for bname, b in mod._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def num_parameters(self) -> int:
        """The number of trainable numbers."""
        return int(sum(p.size for p in self.parameters()))

    def apply(self, fn: Any) -> Module:
        """Call ``fn(module)`` on this module and every sub-module (e.g. a custom initialisation); returns self."""
        for m in self.modules():
            fn(m)
        return self

    # ------------------------------------------------------------ modes
    def zero_grad(self) -> None:
        """Forget the gradients of every parameter (sets ``.grad`` to None)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Training mode (Dropout drops, BatchNorm uses batch statistics); returns self."""
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def evaluation_mode(self) -> Module:
        """Evaluation mode: ``train(False)``; also called ``eval``, PyTorch's name (not the builtin)."""
        return self.train(False)

    eval = evaluation_mode

    def double(self) -> Module:
        """Convert every parameter and buffer to float64 (in place); returns self."""
        return self._cast(np.float64)

    def float(self) -> Module:
        """Convert every parameter and buffer to float32 (in place); returns self."""
        return self._cast(np.float32)

    def _cast(self, dtype: Any) -> Module:
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.data = np.array(p.data, dtype=dtype, order="C")  # (the setter keeps 0-d float64 as a float)
                    p.grad = None
            for k, b in m._buffers.items():
                if isinstance(b, np.ndarray) and b.dtype.kind == "f":
                    m.register_buffer(k, b.astype(dtype))
        return self

    # ------------------------------------------------------------ state
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Every parameter and buffer as a NumPy array (a copy), keyed by attribute path."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, p in self.named_parameters():
            out[name] = p.data.copy()
        for name, b in self.named_buffers():
            out[name] = np.array(b.data if isinstance(b, Tensor) else b)
        return out

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> tuple[list, list]:
        """Copy arrays (or tensors) into the parameters and buffers, casting to their dtypes; all or nothing.

        Every entry is checked before anything is written: with ``strict=True``
        (the default) missing or unexpected keys are an error that lists them;
        a shape mismatch, a value that is not numeric (strings, objects), a
        complex value (its imaginary part would be lost) or a value that does
        not fit the parameter's dtype (1e300 in float32) is always an error.
        On any error the module is left exactly as it was.  Returns
        ``(missing_keys, unexpected_keys)``.

        >>> import numpy as np
        >>> from wengert import nn
        >>> net = nn.Linear(2, 1, rng=0)
        >>> net.load_state_dict({"weight": np.array([[1e300, 0.0]]), "bias": np.zeros(1)})
        Traceback (most recent call last):
        ...
        wengert.nn.module.StateDictError: load_state_dict into Linear: weight: values up to 1e+300 do not fit float32 (they would become inf)
        """
        where = f"load_state_dict into {type(self).__name__}"
        if not isinstance(state, Mapping):
            raise TypeError(f"{where}: expected a mapping of names to arrays (model.state_dict() or wg.load(path)), "
                            f"got {type(state).__name__}")
        # name -> (owning module and buffer name, or None and the parameter; shape; dtype)
        targets: dict[str, tuple[Any, Any, tuple, np.dtype]] = {}
        for name, p in self.named_parameters():
            targets[name] = (None, p, p.shape, p.dtype)
        for mname, mod in self.named_modules():
            for bname, b in mod._buffers.items():
                if b is not None:
                    arr = b.data if isinstance(b, Tensor) else np.asarray(b)
                    targets[f"{mname}.{bname}" if mname else bname] = (mod, bname, arr.shape, arr.dtype)
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets), key=str)
        problems, ready = [], []
        for key, (mod, ref, shape, dtype) in targets.items():
            if key not in state:
                continue
            try:
                ready.append((mod, ref, _checked_cast(state[key], shape, dtype)))
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(map(str, unexpected)))
        if problems:
            raise StateDictError(f"{where}: " + " | ".join(problems))
        for mod, ref, arr in ready:  # nothing below can fail: every value is cast and checked
            if mod is not None:
                mod.register_buffer(ref, arr)
            elif arr.ndim:
                np.copyto(ref.data, arr)  # in place: p.data stays the live array that optimisers update
            else:
                ref.data = arr
        return missing, unexpected

    # ------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The layer's settings, shown inside its repr."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"

    def _repr_html_(self) -> str:
        """Jupyter: the module tree as a table (one row per module: settings, own parameters, their count)."""
        rows, depths = [], []
        for name, m in self.named_modules():
            own = list(m.named_parameters(recurse=False))
            params = ", ".join(f"{k} {tuple(p.shape)}" for k, p in own)
            count = sum(int(p.size) for _, p in own)
            depth = name.count(".") + 1 if name else 0
            rows.append([name.rsplit(".", 1)[-1] if name else "(model)", type(m).__name__, m.extra_repr(),
                         params, f"{count:,}" if own else ""])
            depths.append(depth)
        dtypes = sorted({str(p.dtype) for p in self.parameters()})
        title = (f"{type(self).__name__}: {self.num_parameters():,} trainable numbers"
                 + (f" ({', '.join(dtypes)})" if dtypes else "")
                 + ("" if self.training else ", evaluation mode"))
        table = _Table(["module", "type", "settings", "parameters", "numbers"], rows, title=title, indent=depths)
        return table._repr_html_()


class StateDictError(ValueError):
    """A state dict that does not fit the module (keys, shapes, dtypes); nothing was loaded."""


def _checked_cast(value: Any, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """``value`` as a fresh C-ordered array of ``dtype``, or a ValueError saying why it cannot be one."""
    if isinstance(value, Tensor):
        value = value.data
    try:
        src = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an array ({type(exc).__name__}: {exc})") from None
    if src.dtype.kind not in "biuf":
        what = "complex (the imaginary part would be lost)" if src.dtype.kind == "c" else f"not numeric ({src.dtype})"
        raise ValueError(f"the value is {what}")
    if tuple(src.shape) != tuple(shape):
        raise ValueError(f"shape mismatch: checkpoint {tuple(src.shape)}, model {tuple(shape)}")
    with np.errstate(all="ignore"):
        out = np.array(src, dtype=dtype, order="C")
        if dtype.kind == "f" and src.dtype.kind == "f":
            bad = np.isfinite(src) & ~np.isfinite(out)
            if bad.any():
                raise ValueError(f"values up to {np.max(np.abs(src[bad])):.4g} do not fit {dtype} "
                                 "(they would become inf)")
        elif dtype.kind in "iub" and src.dtype.kind in "fiu" and not np.array_equal(out, src):
            raise ValueError(f"values do not fit {dtype} exactly (e.g. fractions or out of range)")
    return out


__all__ = ["Module", "Parameter", "StateDictError"]
