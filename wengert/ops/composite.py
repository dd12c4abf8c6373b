"""Composite ops: written with the primitives of the table, so they inherit every derivative.

Like the rules, these are polymorphic: on plain values they compute plain
values, on Tensors they record the primitives they are made of.
"""
from __future__ import annotations

import itertools
import math
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.tensor import dtype_of, live_trace, raw, shape_of
from .surface import composite
from .table import (
    _axes,
    _ndim,
    argmax,
    argmin,
    broadcast_to,
    cast,
    clip,
    concatenate,
    equal,
    erf,
    exp,
    getitem,
    logsumexp,
    matmul,
    reshape,
    scatter_add,
    sqrt,
    stop_gradient,
    sum_,
    tanh,
    transpose,
    where,
)
from .table import max_ as _max
from .table import min_ as _min


def _count(x: Any, axis: Any) -> int:
    shape = shape_of(x)
    n = 1
    for a in _axes(axis, len(shape)):
        n *= shape[a]
    return n


def _abs2(x: Any) -> Any:
    """|x|^2, real: x * x, or real(x * conj(x)) for a complex x (as NumPy's var and norm compute it)."""
    if dtype_of(x).kind != "c":
        return x * x
    from .complex import abs2

    return abs2(x)


@composite(methods=("mean",), numpy=(np.mean,))
def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over axis: sum(x) / n."""
    return sum_(x, axis=axis, keepdims=keepdims) / float(_count(x, axis))


@composite(methods=("var",), numpy=(np.var,))
def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Variance over axis: mean of squared deviations (divided by n - ddof)."""
    d = x - mean(x, axis=axis, keepdims=True)
    return sum_(_abs2(d), axis=axis, keepdims=keepdims) / float(_count(x, axis) - ddof)


@composite(methods=("std",), numpy=(np.std,))
def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Standard deviation over axis: sqrt(var); where the variance is 0 (a length-1 axis, equal values) the
    gradient is 0, as in PyTorch (sqrt'(0) is infinite, and inf * 0 would give NaN)."""
    v = var(x, axis=axis, keepdims=keepdims, ddof=ddof)
    zero = equal(v, 0)
    return where(zero, 0.0, sqrt(where(zero, 1.0, v)))


@composite(methods=("log_softmax",))
def log_softmax(x: Any, axis: int = -1) -> Any:
    """log(softmax(x)) = x - logsumexp(x): stable for any logits."""
    return x - logsumexp(x, axis=axis, keepdims=True)


@composite(methods=("softmax",))
def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along axis, computed as exp(log_softmax(x)) (stable)."""
    return exp(log_softmax(x, axis=axis))


@composite(methods=("gelu",))
def gelu(x: Any, approximate: str = "none") -> Any:
    """Gaussian error linear unit x * Phi(x); approximate='tanh' gives the tanh form."""
    if approximate == "tanh":
        c = math.sqrt(2.0 / math.pi)
        return 0.5 * x * (1.0 + tanh(c * (x + 0.044715 * x * x * x)))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))


@composite(methods=("dot",), numpy=(np.dot,))
def dot(a: Any, b: Any) -> Any:
    """np.dot: a product for scalars, matmul up to 2-D, and for more axes the sum over the last axis of a and the
    second-to-last of b (shape a.shape[:-1] + b.shape[:-2] + b.shape[-1:])."""
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return a * b
    if nb == 1 or (na <= 2 and nb <= 2):
        return matmul(a, b)
    sa, sb = shape_of(a), shape_of(b)
    n = sa[-1]
    if sb[-2] != n:
        raise ValueError(f"dot: shapes {sa} and {sb} are not aligned: {n} (axis -1) != {sb[-2]} (axis -2)")
    rows = reshape(a, (-1, n))
    cols = reshape(transpose(b, axes=(nb - 2, *range(nb - 2), nb - 1)), (n, -1))
    return reshape(matmul(rows, cols), sa[:-1] + sb[:-2] + sb[-1:])


@composite(numpy=(np.outer,))
def outer(a: Any, b: Any) -> Any:
    """Outer product of two vectors (inputs are flattened, as in NumPy)."""
    a = reshape(a, (-1, 1))
    b = reshape(b, (1, -1))
    return a * b


@composite(methods=("flatten",))
def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """Merge the axes start_dim .. end_dim into one (all of them by default: a 1-D result)."""
    shape = shape_of(x)
    n = len(shape)
    if n == 0:
        return reshape(x, (1,))
    a, b = start_dim % n, end_dim % n
    if a > b:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {shape}")
    merged = 1
    for s in shape[a:b + 1]:
        merged *= s
    return reshape(x, shape[:a] + (merged,) + shape[b + 1:])


@composite(methods=("ravel",), numpy=(np.ravel,))
def ravel(x: Any) -> Any:
    """The elements as a 1-D array."""
    return reshape(x, (-1,))


@composite(methods=("expand_dims", "unsqueeze"), numpy=(np.expand_dims,))
def expand_dims(x: Any, axis: Any) -> Any:
    shape = shape_of(x)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    n = len(shape) + len(axes)
    axes = sorted(a % n for a in axes)
    out = list(shape)
    for a in axes:
        out.insert(a, 1)
    return reshape(x, tuple(out))


@composite(methods=("squeeze",), numpy=(np.squeeze,))
def squeeze(x: Any, axis: Any = None) -> Any:
    shape = shape_of(x)
    if axis is None:
        return reshape(x, tuple(s for s in shape if s != 1))
    axes = _axes(axis, len(shape))
    for a in axes:
        if shape[a] != 1:
            raise ValueError(f"squeeze: cannot remove axis {a} of size {shape[a]} (shape {shape})")
    return reshape(x, tuple(s for i, s in enumerate(shape) if i not in axes))


@composite(methods=("swapaxes",), numpy=(np.swapaxes,))
def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    """Exchange two axes (np.swapaxes: its argument names, axis1 and axis2)."""
    perm = list(range(_ndim(x)))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return transpose(x, axes=tuple(perm))


@composite(numpy=(np.moveaxis,))
def moveaxis(x: Any, source: int, destination: int) -> Any:
    n = _ndim(x)
    perm = [i for i in range(n) if i != source % n]
    perm.insert(destination % n, source % n)
    return transpose(x, axes=tuple(perm))


def _stack_args(xs: Any, axis: int = 0, **kw: Any) -> tuple:
    from ..core.tensor import as_tensor

    xs = list(xs)
    if kw:
        raise TypeError(f"stack: unexpected argument(s) {', '.join(kw)}")
    if xs:
        xs[0] = as_tensor(xs[0])  # (so that the result is a Tensor)
    return (xs,), {"axis": axis}


@composite(numpy=(np.stack,), prepare=_stack_args)
def stack(xs: Sequence[Any], axis: int = 0) -> Any:
    """Join tensors of equal shape along a new axis."""
    xs = list(xs)
    if not xs:
        raise ValueError("stack: need at least one array")
    shapes = {shape_of(x) for x in xs}
    if len(shapes) != 1:
        raise ValueError(f"stack: all inputs must have the same shape, got {sorted(shapes)}")
    return concatenate(*[expand_dims(x, axis) for x in xs], axis=axis)


@composite(numpy=(np.split,))
def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Split into pieces along axis (np.split semantics); each piece is a slice of x."""
    n = shape_of(x)[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ValueError(f"split: an axis of size {n} cannot be split into {k} equal sections")
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    ax = axis % _ndim(x)
    return [getitem(x, index=(slice(None),) * ax + (slice(lo, hi),)) for lo, hi in itertools.pairwise(bounds)]


def _traced_indices(indices: Any) -> bool:
    """Are ``indices`` a value a transform is tracing (jit, vmap)?  Then they must stay an input of the graph."""
    return live_trace(indices) is not None


def _gather(x: Any, indices: Any, axis: int) -> Any:
    """np.take_along_axis with the indices as an input of the graph (never read back into Python)."""
    from .numpy_ext import gather_along  # (numpy_ext builds on this module)

    return gather_along(x, indices, axis=axis)


@composite(methods=("take",), numpy=(np.take,))
def take(x: Any, indices: Any, axis: int | None = None) -> Any:
    """Elements at integer indices along an axis (repeated indices accumulate gradients)."""
    if _traced_indices(indices):  # indices computed under jit / vmap: a gather along the axis
        ishape = shape_of(indices)
        if axis is None:
            x, ax = reshape(x, (-1,)), 0
        else:
            ax = axis % _ndim(x)
        xs = shape_of(x)
        flat = reshape(indices, (1,) * ax + (-1,) + (1,) * (len(xs) - ax - 1))
        out = _gather(x, flat, ax)
        return reshape(out, xs[:ax] + tuple(ishape) + xs[ax + 1:])
    indices = np.asarray(raw(indices))
    if axis is None:
        return getitem(reshape(x, (-1,)), index=indices)
    ax = axis % _ndim(x)
    return getitem(x, index=(slice(None),) * ax + (indices,))


@composite(methods=("repeat",), numpy=(np.repeat,))
def repeat(x: Any, repeats: Any, axis: int | None = None) -> Any:
    """Repeat elements (np.repeat), as a gather: the gradient sums over the copies."""
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    n = shape_of(x)[axis]
    return take(x, np.repeat(np.arange(n), repeats), axis=axis)


@composite(methods=("tile",), numpy=(np.tile,))
def tile(x: Any, reps: Any) -> Any:
    """Tile an array (np.tile), as a gather over every axis."""
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    shape = shape_of(x)
    if len(reps) > len(shape):
        x = reshape(x, (1,) * (len(reps) - len(shape)) + shape)
        shape = shape_of(x)
    reps = (1,) * (len(shape) - len(reps)) + reps
    idx = np.ix_(*[np.tile(np.arange(s), r) for s, r in zip(shape, reps)])
    return getitem(x, index=idx)


@composite(methods=("flip",), numpy=(np.flip,))
def flip(x: Any, axis: Any = None) -> Any:
    """Reverse the order of elements along axis (all axes by default)."""
    axes = _axes(axis, _ndim(x))
    return getitem(x, index=tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(_ndim(x))))


@composite(numpy=(np.take_along_axis,))
def take_along_axis(x: Any, indices: Any, axis: int) -> Any:
    """np.take_along_axis, as an advanced index (gradients accumulate on repeats)."""
    if _traced_indices(indices):
        if len(shape_of(indices)) != _ndim(x):
            raise ValueError(f"take_along_axis: indices have {len(shape_of(indices))} dimensions, the array {_ndim(x)}")
        return _gather(x, indices, axis % _ndim(x))
    return getitem(x, index=along_index(shape_of(x), np.asarray(raw(indices)), axis, "take_along_axis"))


MaxMin = namedtuple("MaxMin", "values indices")  # what max(dim=) and min(dim=) return, as in PyTorch


def _extreme(rule: Any, arg: Any, x: Any, axis: Any, keepdims: bool, dim: Any, keepdim: Any) -> Any:
    if dim is None:
        return rule(x, axis=axis, keepdims=keepdim if keepdim is not None else keepdims)
    if axis is not None:
        raise TypeError(f"{rule.name}: give axis= (NumPy: the value) or dim= (PyTorch: values and indices), not both")
    k = bool(keepdim if keepdim is not None else keepdims)
    return MaxMin(rule(x, axis=dim, keepdims=k), arg(x, axis=dim, keepdims=k))


def _torch_dim(name: str, positional: tuple, dim: Any, keepdim: Any) -> tuple:
    """``wg.max(t, 1)`` / ``t.max(1, True)``: positional arguments after the tensor are PyTorch's dim and keepdim."""
    if len(positional) > 2:
        raise TypeError(f"{name}: takes at most 2 positional arguments after the tensor (dim, keepdim), "
                        f"got {len(positional)}")
    if positional and dim is not None:
        raise TypeError(f"{name}: dim given twice (positionally and as dim=)")
    if positional:
        dim = positional[0]
        if len(positional) > 1:
            keepdim = positional[1]
    return dim, keepdim


@composite(name="max", methods=("max",))
def max_(x: Any, *dim_keepdim: Any, axis: Any = None, keepdims: bool = False, dim: Any = None,
         keepdim: Any = None) -> Any:
    """Maximum over ``axis`` (NumPy: the values; ties split the gradient evenly).

    With PyTorch's ``dim`` (``wg.max(t, 1)``, ``t.max(dim=1)``) it returns
    ``(values, indices)`` as ``torch.max`` does; ``np.max(t, 1)`` keeps
    NumPy's meaning (the values).
    """
    dim, keepdim = _torch_dim("max", dim_keepdim, dim, keepdim)
    return _extreme(_max, argmax, x, axis, keepdims, dim, keepdim)


@composite(name="min", methods=("min",))
def min_(x: Any, *dim_keepdim: Any, axis: Any = None, keepdims: bool = False, dim: Any = None,
         keepdim: Any = None) -> Any:
    """Minimum over ``axis`` (NumPy: the values); with PyTorch's ``dim``, ``(values, indices)`` (see :func:`max_`)."""
    dim, keepdim = _torch_dim("min", dim_keepdim, dim, keepdim)
    return _extreme(_min, argmin, x, axis, keepdims, dim, keepdim)


@composite(name="amax", methods=("amax",), numpy=(np.max, np.amax))
def amax(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The maximum over ``axis`` (values only, as ``np.max(t, 1)``, ``np.amax`` and ``torch.amax``)."""
    return _max(a, axis=axis, keepdims=keepdims)


@composite(name="amin", methods=("amin",), numpy=(np.min, np.amin))
def amin(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The minimum over ``axis`` (values only, as ``np.min(t, 1)``, ``np.amin`` and ``torch.amin``)."""
    return _min(a, axis=axis, keepdims=keepdims)


@composite(methods=("clamp",))
def clamp(x: Any, min: Any = None, max: Any = None) -> Any:
    """PyTorch's name for clip: limit to [min, max]."""
    return clip(x, a_min=min, a_max=max)


@composite(methods=("masked_fill",))
def masked_fill(x: Any, mask: Any, value: Any) -> Any:
    """x with ``value`` where ``mask`` holds (PyTorch's masked_fill; no gradient to the filled places)."""
    return where(mask, value, x)


@composite(methods=("gather",))
def gather(x: Any, dim: int, index: Any) -> Any:
    """PyTorch's gather: ``out[i][j] = x[index[i][j]][j]`` along ``dim`` (NumPy's take_along_axis)."""
    return take_along_axis(x, index, dim)


def along_index(shape: tuple, indices: np.ndarray, axis: int, name: str = "indices") -> tuple:
    """The advanced index of an array of ``shape`` that picks ``indices`` along ``axis`` (np.take_along_axis's).

    Off ``axis`` the indices broadcast against the array, as NumPy's: a
    length-1 axis of either side stretches to the other's length.
    """
    nd = len(shape)
    if indices.ndim != nd:
        raise ValueError(f"{name}: indices have {indices.ndim} dimensions, the array {nd}")
    ax = axis % nd
    index = []
    for d in range(nd):
        if d == ax:
            index.append(indices)
            continue
        n = indices.shape[d] if shape[d] == 1 else shape[d]
        along = np.zeros(n, dtype=np.intp) if shape[d] == 1 else np.arange(n)
        index.append(along.reshape((1,) * d + (n,) + (1,) * (nd - d - 1)))
    return tuple(index)


@composite(public=False, methods=("scatter_add",))
def scatter_add_along(x: Any, dim: int, index: Any, src: Any) -> Any:
    """PyTorch's scatter_add: ``out = x`` with ``src[i][j]`` added at ``out[index[i][j]][j]`` (along ``dim``)."""
    idx = along_index(shape_of(x), np.asarray(raw(index)), dim, "scatter_add")
    return x + scatter_add(src, index=idx, shape=shape_of(x))


@composite(numpy=(), methods=())
def cat(tensors: Any, dim: int = 0) -> Any:
    """PyTorch's name for concatenate: join along an existing axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: need at least one tensor")
    from ..core.tensor import as_tensor

    tensors[0] = as_tensor(tensors[0])
    return concatenate(*tensors, axis=dim)


@composite(methods=("astype",))
def astype(x: Any, dtype: Any) -> Any:
    """x converted to ``dtype``.

    A floating (or complex) dtype keeps the gradient.  Integers and booleans
    have none: the result is a constant of the graph, as PyTorch's ``.long()``
    and JAX's ``astype(int)`` give (its values may index, the derivative
    through them is zero).
    """
    dt = np.dtype(dtype)
    if dt == dtype_of(x):
        return x
    if dt.kind not in "fc":
        return cast(stop_gradient(x), dtype=dt)
    return cast(x, dtype=dt)


@composite(public=False, methods=("double",))
def _double(x: Any) -> Any:
    return astype(x, np.float64)


@composite(public=False, methods=("float",))
def _float(x: Any) -> Any:
    return astype(x, np.float32)


@composite(public=False, methods=("to",))
def _to(x: Any, dtype: Any) -> Any:
    """PyTorch's ``t.to(dtype)`` (wengert computes on the CPU only: a device is not an argument)."""
    if isinstance(dtype, str) and dtype in ("cpu",):
        return x
    return astype(x, dtype)


@composite(public=False, methods=("type_as",))
def _type_as(x: Any, other: Any) -> Any:
    return astype(x, dtype_of(other))


@composite(public=False, methods=("t",))
def _t(x: Any) -> Any:
    """The transpose of a matrix (PyTorch's ``t()``: at most 2-D)."""
    if len(shape_of(x)) > 2:
        raise ValueError(f"t() expects a tensor with at most 2 dimensions, got shape {shape_of(x)}; use .mT or transpose")
    return transpose(x) if len(shape_of(x)) == 2 else x


__all__ = [
    "broadcast_to",
    "dot",
    "dtype_of",
    "expand_dims",
    "flatten",
    "flip",
    "gelu",
    "log_softmax",
    "mean",
    "moveaxis",
    "outer",
    "repeat",
    "softmax",
    "split",
    "squeeze",
    "stack",
    "std",
    "swapaxes",
    "take",
    "take_along_axis",
    "tile",
    "var",
]
