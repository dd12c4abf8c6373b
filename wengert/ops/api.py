"""The public functions: ``wg.exp``, ``wg.sum``, ... generated from the rule and composite records.

Each record's :class:`~wengert.ops.surface.Surface` names its public
function; :func:`~wengert.ops.surface.public_function` makes it: array
arguments become Tensors (so a Tensor always comes back), then the rule or
composite runs.  The constructors (``zeros``, ``arange``, ...) make leaves
and are written here by hand.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ..core.tensor import Tensor, dtype_of, is_traced, shape_of, value_of
from ..core.tensor import __name__ as _tensor_name

# the modules whose records (rules, composites) make the public surface register them on import
from . import complex as _complex  # noqa: F401
from . import composite as _composite  # noqa: F401
from . import fft as _fft  # noqa: F401
from . import linalg as _linalg  # noqa: F401
from . import numpy_ext as _numpy_ext
from . import table as _table  # noqa: F401
from .random import manual_seed, rand, randint, randn, randperm
from .surface import public_function, public_name, records

PUBLIC: dict = {}  # name -> public function, in declaration order

for _target, _s in records():
    if not _s.public:
        continue
    _fn = public_function(_target, _s)
    for _name in (public_name(_target, _s), *_s.aliases):
        PUBLIC[_name] = _fn
globals().update(PUBLIC)


# ----------------------------------------------------------------- constructors (leaves, not ops)
def zeros(shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


def zeros_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(shape_of(x), dtype=dtype or dtype_of(x)), requires_grad=requires_grad)


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(shape_of(x), dtype=dtype or dtype_of(x)), requires_grad=requires_grad)


def arange(*args: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.arange(*args, dtype=dtype), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = np.float64) -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype))


def full(shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value`` (NumPy's and PyTorch's ``full``)."""
    return Tensor(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False, dtype: Any = None,
             axis: int = 0, requires_grad: bool = False) -> Any:
    """``num`` evenly spaced values from ``start`` to ``stop`` (NumPy's ``linspace``; PyTorch's ``steps`` is ``num``).

    With plain ``start`` and ``stop`` it makes a new tensor (a leaf if
    ``requires_grad``); with a ``start`` or ``stop`` that carries a gradient it
    is an op of the graph, differentiable in both.

    >>> import wengert as wg
    >>> s = wg.tensor(1.0, requires_grad=True)
    >>> wg.sum(wg.linspace(0.0, s, 5)).backward()     # d/ds of 0 + s/4 + s/2 + 3s/4 + s
    >>> s.grad
    tensor(2.5)
    """
    if int(num) < 0:
        raise ValueError(f"linspace: the number of samples must be non-negative, got {num}")
    if is_traced(start) or is_traced(stop):
        if requires_grad:
            raise ValueError("linspace: requires_grad=True makes a new leaf, but start or stop is already in the graph "
                             "(the result is differentiable in them); leave requires_grad out")
        return _numpy_ext.linspace(start, stop, num, endpoint=endpoint, retstep=retstep, dtype=dtype, axis=axis)
    out = np.linspace(value_of(start), value_of(stop), num, endpoint=endpoint, retstep=retstep, dtype=dtype, axis=axis)
    if retstep:
        return Tensor(out[0], requires_grad=requires_grad), out[1]
    return Tensor(out, requires_grad=requires_grad)


__all__ = [*PUBLIC, "arange", "eye", "full", "linspace", "manual_seed", "ones", "ones_like", "rand", "randint",
           "randn", "randperm", "zeros", "zeros_like"]

sys.modules[_tensor_name]._stack = PUBLIC["stack"]  # wg.tensor([t1, t2]) of tensors stacks them in the graph
