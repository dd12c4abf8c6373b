"""The public functions (``wg.exp``, ``wg.sum``, ...) and the Tensor operators and methods.

Every public function turns its array arguments into Tensors and calls the
rule (or composite) of the same name, so it always returns a Tensor.  The
NumPy dispatch tables map NumPy's functions to these, explicitly.
"""
from __future__ import annotations

import sys

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.rule import Rule, apply, apply1, apply2
from ..core.tensor import Tensor, dtype_of, raw, shape_of
from . import composite as C
from . import table as R


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _public_unary(rule: Rule, name: str | None = None):
    def fn(x: Any) -> Tensor:
        return apply1(rule, x if isinstance(x, Tensor) else Tensor(x))

    fn.__name__ = fn.__qualname__ = name or rule.name
    fn.__doc__ = f"{rule.doc}\n\nElementwise; returns a Tensor (rule ``{rule.name}``)."
    return fn


def _public_binary(rule: Rule, name: str | None = None):
    def fn(x: Any, y: Any) -> Tensor:
        return apply2(rule, x if isinstance(x, Tensor) else Tensor(x), y)

    fn.__name__ = fn.__qualname__ = name or rule.name
    fn.__doc__ = f"{rule.doc}\n\nElementwise with NumPy broadcasting; returns a Tensor (rule ``{rule.name}``)."
    return fn


# ----------------------------------------------------------------- elementwise
exp = _public_unary(R.exp)
log = _public_unary(R.log)
log1p = _public_unary(R.log1p)
expm1 = _public_unary(R.expm1)
sqrt = _public_unary(R.sqrt)
square = _public_unary(R.square)
sin = _public_unary(R.sin)
cos = _public_unary(R.cos)
tan = _public_unary(R.tan)
tanh = _public_unary(R.tanh)
arctan = _public_unary(R.arctan)
sinh = _public_unary(R.sinh)
cosh = _public_unary(R.cosh)
sigmoid = _public_unary(R.sigmoid)
softplus = _public_unary(R.softplus)
relu = _public_unary(R.relu)
abs = _public_unary(R.absolute, "abs")
absolute = abs
sign = _public_unary(R.sign)
erf = _public_unary(R.erf)
negative = _public_unary(R.negative)
isfinite = _public_unary(R.isfinite)
isnan = _public_unary(R.isnan)
isinf = _public_unary(R.isinf)

add = _public_binary(R.add)
subtract = _public_binary(R.subtract)
multiply = _public_binary(R.multiply)
divide = _public_binary(R.divide)
power = _public_binary(R.power)
maximum = _public_binary(R.maximum)
minimum = _public_binary(R.minimum)
matmul = _public_binary(R.matmul)
greater = _public_binary(R.greater)
greater_equal = _public_binary(R.greater_equal)
less = _public_binary(R.less)
less_equal = _public_binary(R.less_equal)
equal = _public_binary(R.equal)
not_equal = _public_binary(R.not_equal)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    return R.leaky_relu(_t(x), negative_slope=negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return R.elu(_t(x), alpha=alpha)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """x * Phi(x) (exact, with erf) or its tanh approximation."""
    return C.gelu(_t(x), approximate=approximate)


def clip(x: Any, a_min: Any = None, a_max: Any = None) -> Tensor:
    """Limit values to [a_min, a_max]; the gradient passes inside the closed interval."""
    return R.clip(_t(x), lo=a_min, hi=a_max)


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """x where condition holds, else y (NumPy broadcasting; no gradient to the condition)."""
    if isinstance(condition, Tensor):  # an op input, not a plain value: wg.jit records how it was computed
        c = condition if condition.dtype == np.bool_ else R.not_equal(condition, 0)  # (as np.asarray(., bool))
        return R.where(c, _t(x), y)
    return R.where(np.asarray(condition, dtype=bool), _t(x), y)


# ----------------------------------------------------------------- reductions
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over axis (all axes by default)."""
    return R.sum_(_t(x), axis=axis, keepdims=keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over axis."""
    return C.mean(_t(x), axis=axis, keepdims=keepdims)


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over axis (ddof as in NumPy)."""
    return C.var(_t(x), axis=axis, keepdims=keepdims, ddof=ddof)


def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Standard deviation over axis (ddof as in NumPy)."""
    return C.std(_t(x), axis=axis, keepdims=keepdims, ddof=ddof)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Euclidean norm (the 2-norm of a vector, Frobenius of a matrix) over axis."""
    if ord not in (None, 2, "fro"):
        raise ValueError(f"norm: only the 2-norm / Frobenius norm is supported, got ord={ord!r}")
    return C.norm(_t(x), axis=axis, keepdims=keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over axis; tied maxima share the gradient evenly."""
    return R.max_(_t(x), axis=axis, keepdims=keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over axis; tied minima share the gradient evenly."""
    return R.min_(_t(x), axis=axis, keepdims=keepdims)


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Product over axis (exact gradient also where x has zeros)."""
    return R.prod(_t(x), axis=axis, keepdims=keepdims)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over axis, without overflow."""
    return R.logsumexp(_t(x), axis=axis, keepdims=keepdims)


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Index of the maximum (an integer tensor, no gradient)."""
    return R.argmax(_t(x), axis=axis, keepdims=keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Index of the minimum (an integer tensor, no gradient)."""
    return R.argmin(_t(x), axis=axis, keepdims=keepdims)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """Softmax along axis (stable for any logits)."""
    return C.softmax(_t(x), axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """Log-softmax along axis (stable for any logits)."""
    return C.log_softmax(_t(x), axis=axis)


# ----------------------------------------------------------------- linear algebra
def dot(a: Any, b: Any) -> Tensor:
    """np.dot for up to 2-D arrays."""
    return C.dot(_t(a), b)


def outer(a: Any, b: Any) -> Tensor:
    """Outer product of two vectors."""
    return C.outer(_t(a), b)


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation, e.g. ``wg.einsum('ij,jk->ik', a, b)``."""
    return R.einsum(*[_t(o) for o in operands], subscripts=subscripts)


def trace(x: Any) -> Tensor:
    """Sum of the diagonal of a matrix."""
    return R.trace(_t(x))


def inv(a: Any) -> Tensor:
    """Matrix inverse."""
    return R.inv(_t(a))


def det(a: Any) -> Tensor:
    """Determinant."""
    return R.det(_t(a))


def solve(a: Any, b: Any) -> Tensor:
    """Solve a @ x = b for x."""
    return R.solve(_t(a), b)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes (reverse them by default)."""
    return R.transpose(_t(x), axes=None if axes is None else tuple(axes))


permute = transpose


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    return C.swapaxes(_t(x), axis1, axis2)


def moveaxis(x: Any, source: int, destination: int) -> Tensor:
    return C.moveaxis(_t(x), source, destination)


# ----------------------------------------------------------------- shape
def reshape(x: Any, shape: Any) -> Tensor:
    """Reshape (one dimension may be -1)."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return R.reshape(_t(x), shape=shape)


def flatten(x: Any) -> Tensor:
    return C.flatten(_t(x))


def ravel(x: Any) -> Tensor:
    return C.flatten(_t(x))


def squeeze(x: Any, axis: Any = None) -> Tensor:
    return C.squeeze(_t(x), axis=axis)


def expand_dims(x: Any, axis: Any) -> Tensor:
    return C.expand_dims(_t(x), axis)


def broadcast_to(x: Any, shape: Any) -> Tensor:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return R.broadcast_to(_t(x), shape=shape)


def concatenate(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """Join along an existing axis."""
    xs = [_t(x) for x in xs]
    if not xs:
        raise ValueError("concatenate: need at least one array")
    return R.concatenate(*xs, axis=axis)


def stack(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """Join along a new axis."""
    return C.stack([_t(x) for x in xs], axis=axis)


def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list:
    return C.split(_t(x), indices_or_sections, axis=axis)


def take(x: Any, indices: Any, axis: int | None = None) -> Tensor:
    return C.take(_t(x), indices, axis=axis)


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Tensor:
    return C.repeat(_t(x), repeats, axis=axis)


def tile(x: Any, reps: Any) -> Tensor:
    return C.tile(_t(x), reps)


def flip(x: Any, axis: Any = None) -> Tensor:
    return C.flip(_t(x), axis=axis)


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: float = 0.0) -> Tensor:
    """Constant padding (other modes are not supported)."""
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got {mode!r}")
    return R.pad(_t(x), pad_width=_hashable(pad_width), constant_values=constant_values)


def take_along_axis(x: Any, indices: Any, axis: int) -> Tensor:
    return C.take_along_axis(_t(x), indices, axis)


def astype(x: Any, dtype: Any) -> Tensor:
    x = _t(x)
    dt = np.dtype(dtype)
    if dt == x.dtype:
        return x
    if x.requires_grad and dt.kind != "f":
        raise TypeError(f"astype({dt}) would drop the gradient; detach() first if that is intended")
    return R.cast(x, dtype=dt)


def _hashable(v: Any) -> Any:
    if isinstance(v, (list, np.ndarray)):
        return tuple(_hashable(i) for i in v)
    if isinstance(v, tuple):
        return tuple(_hashable(i) for i in v)
    return int(v) if isinstance(v, (np.integer,)) else v


# ----------------------------------------------------------------- indexing
def _index(index: Any) -> Any:
    """Turn tensors and lists inside an index into plain NumPy indices."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Tensor):
        v = index.data
        if v.dtype.kind == "f":
            raise IndexError("tensors used as indices must be integer or bool tensors")
        return v
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(x: Tensor, index: Any) -> Tensor:
    return apply(R.getitem, (x,), {"index": _index(index)})


# ----------------------------------------------------------------- creation helpers
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


__all__ = [n for n, v in list(globals().items()) if callable(v) and not n.startswith("_")
           and getattr(v, "__module__", None) == __name__] + ["abs", "absolute", "permute"]
_ = builtins


from ..core.tensor import __name__ as _tensor_name  # noqa: E402

sys.modules[_tensor_name]._stack = stack  # wg.tensor([t1, t2]) of tensors stacks them in the graph
