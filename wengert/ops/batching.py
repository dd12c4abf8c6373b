"""Batching rules: how each primitive runs on a whole batch at once (the ``batch`` slot of its record).

``wg.vmap`` is an interpreter level (:class:`wengert.core.interpret.Batch`):
a batched value carries its batch along axis 0, one level down.  A rule's
``batch(level, values, batched, params)`` gets the op's values (the batched
ones with that leading axis) and returns the whole batch of results, batch
axis first.  Like VJPs, batching rules compute with the rules themselves, so
they run on plain arrays and on the tensors of lower levels alike: vmap of
grad, grad of vmap and jit of both compose.

Most rules batch by a handful of patterns, applied at the end of this file:

* elementwise rules broadcast: a batched argument gets unit axes after its
  batch axis so that it lines up with the others (NumPy aligns from the right);
* reductions and shape ops shift their axes past the batch axis;
* a few (matmul, einsum, getitem, ...) have rules of their own;
* :func:`decompose` batches a rule through an equivalent composite of batched
  primitives, and :func:`loop` runs it example by example and stacks the
  results (correct for anything; used where nothing faster applies).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.interpret import ScaledBasis
from ..core.rule import REGISTRY
from ..core.shapes import broadcast_to, cast, stop_gradient, sum_to
from ..core.tensor import dtype_of, shape_of
from . import composite as C
from . import nn as N
from . import table as R


def _nd(v: Any, batched: bool) -> int:
    """The logical number of axes of a value (its batch axis not counted)."""
    return len(shape_of(v)) - (1 if batched else 0)


def _align(v: Any, n: int) -> Any:
    """A batched value with unit axes after its batch axis, so that it has ``n`` logical axes."""
    s = shape_of(v)
    k = len(s) - 1
    if k >= n:
        return v
    return R.reshape(v, shape=(s[0],) + (1,) * (n - k) + tuple(s[1:]))


def _full_batch(level: Any, v: Any) -> Any:
    """An unbatched value repeated along a new leading batch axis (``level.size`` copies, a broadcast view)."""
    return broadcast_to(v, shape=(level.size,) + tuple(shape_of(v)))


# ---------------------------------------------------------------------- patterns
def elementwise(rule: Any) -> Callable:
    def batch(level: Any, vals: list, batched: list, params: dict) -> Any:
        n = max(_nd(v, b) for v, b in zip(vals, batched))
        return rule(*[_align(v, n) if b else v for v, b in zip(vals, batched)], **params)

    return batch


def _shift(axis: Any, nd: int) -> tuple:
    """Logical axes (None, an int or a tuple) as the axes of the batched value."""
    if axis is None:
        return tuple(range(1, nd + 1))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    if nd == 0:
        return tuple(int(a) + 1 for a in axis)  # (NumPy will complain about the axis, as eagerly)
    return tuple(int(a) % nd + 1 if -nd <= int(a) < nd else int(a) + 1 for a in axis)


def reduction(rule: Any) -> Callable:
    def batch(level: Any, vals: list, batched: list, params: dict) -> Any:
        (x,) = vals
        return rule(x, **{**params, "axis": _shift(params.get("axis"), _nd(x, True))})

    return batch


def arg_reduction(rule: Any) -> Callable:
    """argmax / argmin: one axis, or the flattened value when axis is None."""

    def batch(level: Any, vals: list, batched: list, params: dict) -> Any:
        (x,) = vals
        nd = _nd(x, True)
        keep = params.get("keepdims", False)
        axis = params.get("axis")
        if axis is None:
            out = rule(R.reshape(x, shape=(shape_of(x)[0], -1)), axis=1)
            return R.reshape(out, shape=(shape_of(x)[0],) + (1,) * nd) if keep else out
        return rule(x, axis=_shift(axis, nd)[0], keepdims=keep)

    return batch


def loop(rule: Any) -> Callable:
    """Run the op example by example and stack the results (correct for any rule)."""

    def batch(level: Any, vals: list, batched: list, params: dict) -> Any:
        outs = []
        for i in range(level.size):
            args = [R.getitem(v, index=i) if b else v for v, b in zip(vals, batched)]
            outs.append(rule(*args, **params))
        return C.stack(outs, axis=0)

    return batch


def decompose(fn: Callable) -> Callable:
    """Batch a rule through ``fn``, a composite of batched primitives computing the same thing."""

    def batch(level: Any, vals: list, batched: list, params: dict) -> Any:
        out = fn(*[level.box(v) if b else v for v, b in zip(vals, batched)], **params)
        return level.primal(out) if level.owns(out) else _full_batch(level, out)

    return batch


# ---------------------------------------------------------------------- shape ops
def _reshape(level: Any, vals: list, batched: list, params: dict) -> Any:
    (x,) = vals
    return R.reshape(x, shape=(shape_of(x)[0],) + tuple(params["shape"]))


def _transpose(level: Any, vals: list, batched: list, params: dict) -> Any:
    (x,) = vals
    nd = _nd(x, True)
    axes = params.get("axes")
    perm = (0,) + (tuple(range(nd, 0, -1)) if axes is None else _shift(axes, nd))
    return R.transpose(x, axes=perm)


def _broadcast_to(level: Any, vals: list, batched: list, params: dict) -> Any:
    (x,) = vals
    shape = tuple(params["shape"])
    return broadcast_to(_align(x, len(shape)), shape=(shape_of(x)[0],) + shape)


def _sum_to(level: Any, vals: list, batched: list, params: dict) -> Any:
    (x,) = vals
    shape = tuple(params["shape"])
    s = shape_of(x)[1:]
    lead = len(s) - len(shape)
    axes = tuple(range(1, 1 + lead)) + tuple(1 + lead + i for i, d in enumerate(shape)
                                             if d == 1 and s[lead + i] != 1)
    y = R.sum_(x, axis=axes, keepdims=True) if axes else x
    return R.reshape(y, shape=(shape_of(x)[0],) + shape)


def _concatenate(level: Any, vals: list, batched: list, params: dict) -> Any:
    nd = max(_nd(v, b) for v, b in zip(vals, batched))
    axis = params.get("axis", 0) % max(nd, 1) + 1
    return R.concatenate(*[v if b else _full_batch(level, v) for v, b in zip(vals, batched)], axis=axis)


def _pad(level: Any, vals: list, batched: list, params: dict) -> Any:
    (x,) = vals
    pw = np.broadcast_to(np.asarray(params["pad_width"], dtype=int), (_nd(x, True), 2))
    pad_width = ((0, 0),) + tuple((int(a), int(b)) for a, b in pw)
    return R.pad(x, pad_width=pad_width, constant_values=params.get("constant_values", 0.0))


# ---------------------------------------------------------------------- indexing
def _advanced(index: tuple) -> tuple[tuple, bool, int]:
    """(index with boolean masks as integer arrays, whether a prepended batch slice keeps the batch axis first,
    the number of axes the advanced indices make)."""
    out = []
    for e in index:
        if isinstance(e, np.ndarray) and e.dtype == bool:
            out.extend(np.nonzero(e))
        else:
            out.append(e)
    arrays = [i for i, e in enumerate(out) if isinstance(e, np.ndarray)]
    if not arrays:
        return tuple(out), True, 0
    if any(e is Ellipsis for e in out):
        return tuple(out), False, -1  # (where an ellipsis expands is shape-dependent: loop)
    adv = [i for i, e in enumerate(out) if isinstance(e, (np.ndarray, int, np.integer))]
    contiguous = adv == list(range(adv[0], adv[-1] + 1))
    ndim = np.broadcast(*[out[i] for i in arrays]).ndim
    return tuple(out), contiguous, ndim


def _move_first(x: Any, k: int) -> Any:
    """Move axis k to the front."""
    n = len(shape_of(x))
    return R.transpose(x, axes=(k,) + tuple(i for i in range(n) if i != k))


def _getitem(level: Any, vals: list, batched: list, params: dict) -> Any:
    (x,) = vals
    index = params["index"]
    index, in_place, k = _advanced(index if isinstance(index, tuple) else (index,))
    if k < 0:
        return loop(R.getitem)(level, vals, batched, params)
    out = R.getitem(x, index=(slice(None),) + index)
    # advanced indices apart from each other go first, before the batch axis (NumPy's rule)
    return out if in_place else _move_first(out, k)


def _scatter_add(level: Any, vals: list, batched: list, params: dict) -> Any:
    (u,) = vals
    index = params["index"]
    index, in_place, k = _advanced(index if isinstance(index, tuple) else (index,))
    if k < 0:
        return loop(R.scatter_add)(level, vals, batched, params)
    if not in_place:  # u is laid out as getitem's output: the batch axis goes where NumPy puts it
        n = len(shape_of(u))
        u = R.transpose(u, axes=tuple(range(1, k + 1)) + (0,) + tuple(range(k + 1, n)))
    return R.scatter_add(u, index=(slice(None),) + index, shape=(level.size,) + tuple(params["shape"]))


def _setitem(level: Any, vals: list, batched: list, params: dict) -> Any:
    x, v = vals
    bx, bv = batched
    index = params["index"]
    index, in_place, k = _advanced(index if isinstance(index, tuple) else (index,))
    if not in_place or k < 0:
        return loop(R.setitem)(level, vals, batched, params)
    if not bx:
        x = R.copy(_full_batch(level, x))
    if bv:
        sel = shape_of(R.getitem(np.zeros(shape_of(x)[1:]), index=index))  # one example's selection
        v = _align(v, len(sel))
    return R.setitem(x, v, index=(slice(None),) + index)


# ---------------------------------------------------------------------- linear algebra
# A Jacobian's identity basis reaches the batching rules below as a ScaledBasis (see its docstring): example i
# is r[i] * m[i] * c, m None meaning the identity.  The rules marked keeps_basis compute from those factors
# where the result is again one, or is a plain product they can do with less work; anything else makes the
# basis dense first, which is always correct.

def _plain(u: Any) -> bool:
    """Is ``u`` a plain number or array (not a tensor of a lower level)?"""
    return isinstance(u, (float, int, np.generic)) or type(u) is np.ndarray


def _finite(v: np.ndarray) -> bool:
    """Only finite factors make a basis: its dense form holds zeros, which inf or nan would turn into nan."""
    return bool(np.isfinite(v).all())


def _ones(d: np.ndarray) -> bool:
    return bool((d == 1).all())


def _fold(rule: Any, k: int, vals: list, batched: list) -> ScaledBasis | None:
    """``rule`` (elementwise, linear in argument ``k``, a ScaledBasis) of plain factors, as a ScaledBasis.

    A factor that is one per example (batched, shape (n,)) scales the rows,
    one per column (unbatched, shape () or the examples' length) the columns;
    an elementwise op linear in the basis is its argument times what the
    rule gives for ones, so the rule on ``r`` (or ``c``) is the new ``r`` (or
    ``c``).  None: the op is not such a scaling here.
    """
    v = vals[k]
    n, width = v.shape
    rows = cols = False
    for j, u in enumerate(vals):
        if j == k:
            continue
        if not _plain(u):
            return None
        s = np.shape(u)
        if batched[j] and s == (n,):
            rows = True
        elif not batched[j] and s in ((), (width,)):
            cols = True
        else:
            return None
    if v.m is not None and rows and cols:
        return None
    # (a factor of ones has the batch's dtype, so that the new factor's dtype is the scaled batch's, as eagerly;
    # a non-finite u gives a non-finite factor, unless the rule maps it to a finite one, as it would the batch)
    if v.m is None or rows:  # (scaling a diagonal's rows or its columns is scaling its diagonal)
        r = v.r if v.r is not None else np.ones(n, v.dtype)
        new = rule(*(r if j == k else u for j, u in enumerate(vals)))
        return ScaledBasis(new, v.m, v.c) if _finite(new) else None
    c = v.c if v.c is not None else np.ones(width, v.dtype)
    new = rule(*(c if j == k else u for j, u in enumerate(vals)))
    return ScaledBasis(v.r, v.m, new) if _finite(new) else None


def _times_ones(vals: list, batched: list) -> Any:
    """A batch times plain ones that change neither its shape nor its dtype is the batch itself (a view of it).

    (A gradient's seed is ones: under forward-over-reverse each such product
    would otherwise copy a whole batch of tangents.)
    """
    (a, b), (ba, bb) = vals, batched
    if ba == bb:
        return None
    v, u = (a, b) if ba else (b, a)
    if type(v) is not np.ndarray or type(u) is not np.ndarray or u.size > v.size or u.dtype != v.dtype:
        return None
    if u.ndim >= v.ndim or (u.shape != v.shape[v.ndim - u.ndim:] and not all(s == 1 for s in u.shape)):
        return None
    return v.view() if _ones(u) else None


def scaling(rule: Any, linear_in: tuple = (0, 1), ones_keep: bool = False) -> Callable:
    """The batching rule of an elementwise op that is linear in its one batched argument (multiply, negative).

    A :class:`ScaledBasis` in a position of ``linear_in``, scaled by plain
    finite values, stays one (:func:`_fold`).  With ``ones_keep`` a batch
    times plain ones is the batch itself (a view).  Anything else is batched
    by broadcasting.
    """
    dense = elementwise(rule)

    def batch(level: Any, vals: list, batched: list, params: dict) -> Any:
        for k, v in enumerate(vals):
            if type(v) is ScaledBasis:
                if k in linear_in and not params:
                    folded = _fold(rule, k, vals, batched)
                    if folded is not None:
                        return folded
                vals = [u.dense() if type(u) is ScaledBasis else u for u in vals]
                break
        if ones_keep and not params:  # (multiply: a batch times plain ones is the batch)
            same = _times_ones(vals, batched)
            if same is not None:
                return same
        return dense(level, vals, batched, params)

    batch.keeps_basis = True
    return batch


# Rows of the basis multiplied at a time by _factored_product: few enough that the scaled rows stay small next
# to the result (no second whole batch of memory), enough that each product is still an efficient matrix
# product.
_BLOCK_ROWS = 64


def _is_transpose(m: np.ndarray, b: np.ndarray) -> bool:
    """Is ``m`` exactly ``b.T`` (the same memory read the other way round)?"""
    return (m.shape == b.shape[::-1] and m.strides == b.strides[::-1]
            and m.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _factored_product(s: ScaledBasis, b: np.ndarray) -> np.ndarray:
    """``s.dense() @ b`` for a plain matrix ``b``, without making ``s`` dense: block by block of its rows."""
    r, m, c = s.r, s.m, s.c
    n, p = m.shape[0], b.shape[1]
    out = np.empty((n, p), s.dtype)
    # m diag(c) m^T is symmetric (a Hessian of f(W x) is W^T diag(c) W): its upper block triangle, mirrored,
    # is the whole of it, for a little over half the multiplications
    gram = p == n and _is_transpose(m, b)
    for lo in range(0, n, _BLOCK_ROWS):
        hi = min(lo + _BLOCK_ROWS, n)
        rows = m[lo:hi] if c is None else m[lo:hi] * c
        if gram:
            np.matmul(rows, b[:, lo:], out=out[lo:hi, lo:])
            out[hi:, lo:hi] = out[lo:hi, hi:].T
        else:
            np.matmul(rows, b, out=out[lo:hi])
    if r is not None:
        out *= r[:, None]
    return out


def _basis_times(s: ScaledBasis, b: Any) -> Any:
    """The batch ``s`` times ``b`` (unbatched: one matrix or vector, for every example) from the factors.

    None where nothing faster than the dense product applies.
    """
    width = s.shape[1]
    bs = shape_of(b)
    if len(bs) not in (1, 2) or bs[0] != width or width == 0:
        return None  # (the dense product then gives the eager error)
    r, m, c = s.r, s.m, s.c
    if len(bs) == 1:  # one number per example: r_i m_i c . b, a matrix-vector product
        if m is None:
            return r * b
        if type(b) is not np.ndarray:
            return None
        out = m @ (b if c is None else c * b)
        return out if r is None else r * out
    if m is None:  # rows d_i e_i @ B = d_i B[i]: the matrix B itself, scaled by rows
        if type(b) is np.ndarray and b.dtype == r.dtype and b.dtype.kind in "fc":
            return ScaledBasis(None if _ones(r) else r, b)
        return R.reshape(r, shape=(-1, 1)) * b
    dt = s.dtype  # (the blocks are written into one array: every factor has its dtype)
    if type(b) is not np.ndarray or not all(a is None or a.dtype == dt for a in (b, m, r, c)):
        return None
    return _factored_product(s, b)


_LAST_AXIS = (None, 0, -1, (0,), (-1,))  # an example of a basis is a vector: these sum all of it


def _sum(level: Any, vals: list, batched: list, params: dict) -> Any:
    """sum's batching rule: of a basis (see ScaledBasis) over its examples' one axis, from the factors."""
    (x,) = vals
    if type(x) is ScaledBasis:
        if set(params) <= {"axis", "keepdims"} and params.get("axis") in _LAST_AXIS:
            r, m, c = x.r, x.m, x.c
            if m is None:  # the rows of diag(r) sum to r
                out = r.copy()
            else:  # r_i (m_i . c): a matrix-vector product
                out = np.add.reduce(m, axis=1) if c is None else m @ c
                out = out if r is None else r * out
            return out.reshape(-1, 1) if params.get("keepdims") else out
        x = x.dense()
    return _plain_sum(level, [x], batched, params)


_sum.keeps_basis = True
_plain_sum = reduction(REGISTRY["sum"])


def _matmul(level: Any, vals: list, batched: list, params: dict) -> Any:
    a, b = vals
    ba, bb = batched
    # a basis (see ScaledBasis) against one matrix or vector: from its factors, O(n^2) instead of O(n^3) where
    # it is still the identity; A @ x_i is x_i @ A^T
    if type(a) is ScaledBasis:
        out = None if bb else _basis_times(a, b)
        if out is not None:
            return out
        a = a.dense()
    if type(b) is ScaledBasis:
        out = None
        if not ba:
            at = a if _nd(a, False) != 2 else a.T if type(a) is np.ndarray else R.transpose(a)
            out = _basis_times(b, at)
        if out is not None:
            return out
        b = b.dense()
    na, nb = _nd(a, ba), _nd(b, bb)
    if na == 0 or nb == 0:
        return R.matmul(a, b)  # (the same error as eagerly)
    # a batch of vectors against one matrix is one matrix product (not B small ones)
    if ba and not bb and na == 1 and nb == 2:  # rows a_i @ B
        return R.matmul(a, b)
    if bb and not ba and nb == 1 and na == 2:  # A @ b_i, as rows: b @ A^T
        return R.matmul(b, R.transpose(a))
    if ba and not bb and nb == 2 and na >= 2:  # (B, ..., n, k) @ (k, m): the batch and rows as one stack of rows
        s = shape_of(a)
        out = R.matmul(R.reshape(a, shape=(-1, s[-1])), b)
        return R.reshape(out, shape=s[:-1] + (shape_of(b)[-1],))
    if na == 1:  # a vector is a 1 x k matrix ...
        s = shape_of(a)
        a = R.reshape(a, shape=s[:-1] + (1, s[-1]))
    if nb == 1:  # ... and a k x 1 matrix on the right
        s = shape_of(b)
        b = R.reshape(b, shape=s + (1,))
    la, lb = max(na, 2), max(nb, 2)
    n = max(la, lb)
    # a batched operand gets unit axes after its batch axis, so that the batch axes line up (or broadcast)
    if ba:
        a = _align(a, n)
    if bb:
        b = _align(b, n)
    out = R.matmul(a, b)
    s = shape_of(out)
    if na == 1:
        out = R.reshape(out, shape=s[:-2] + s[-1:])
        s = shape_of(out)
    if nb == 1:
        out = R.reshape(out, shape=s[:-1])
    return out


def _einsum(level: Any, vals: list, batched: list, params: dict) -> Any:
    from .table import _einsum_terms

    # the letters of one example ('...' written out), then a fresh letter for the batch axis
    shapes = [shape_of(v)[1:] if b else shape_of(v) for v, b in zip(vals, batched)]
    ins, out = _einsum_terms(params["subscripts"], shapes)
    used = set("".join(ins) + out)
    z = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in used)
    spec = ",".join(z + t if b else t for t, b in zip(ins, batched)) + "->" + z + out
    return R.einsum(*vals, subscripts=spec, optimize=params.get("optimize", False))


def _trace(level: Any, vals: list, batched: list, params: dict) -> Any:
    (x,) = vals
    if _nd(x, True) != 2:
        return R.trace(x)  # (the same error as eagerly)
    n, m = shape_of(x)[1:]
    return R.sum_(x * np.eye(n, m, dtype=dtype_of(x)), axis=(1, 2))


def _solve(level: Any, vals: list, batched: list, params: dict) -> Any:
    a, b = vals
    if _nd(b, batched[1]) == 1 and batched[1]:  # a batch of vectors: solve them as one-column matrices
        s = shape_of(b)
        out = R.solve(a, R.reshape(b, shape=s + (1,)))
        return R.reshape(out, shape=s)
    return R.solve(a, b)


# ---------------------------------------------------------------------- fused nn primitives
def _linear(level: Any, vals: list, batched: list, params: dict) -> Any:
    if not any(batched[1:]):  # a batch of inputs through one layer: the fused op as it is
        return N.linear_rule(*vals)
    return decompose(lambda x, w, b=None: R.matmul(x, R.transpose(w)) + (0.0 if b is None else b))(
        level, vals, batched, params)


def _merge_first(x: Any) -> Any:
    s = shape_of(x)
    return R.reshape(x, shape=(s[0] * s[1],) + tuple(s[2:]))


def _conv2d(level: Any, vals: list, batched: list, params: dict) -> Any:
    x, w = vals
    if batched[1]:
        return loop(N.conv2d_rule)(level, vals, batched, params)
    out = N.conv2d_rule(_merge_first(x), w, **params)  # the batch and the images as one stack of images
    return R.reshape(out, shape=tuple(shape_of(x)[:2]) + tuple(shape_of(out)[1:]))


def _conv2d_input_grad(level: Any, vals: list, batched: list, params: dict) -> Any:
    g, w = vals
    if batched[1] or not batched[0]:
        return loop(N.conv2d_input_grad)(level, vals, batched, params)
    xs = tuple(params["x_shape"])
    out = N.conv2d_input_grad(_merge_first(g), w, **{**params, "x_shape": (level.size * xs[0],) + xs[1:]})
    return R.reshape(out, shape=(level.size,) + xs)


def _cross_entropy(z: Any, target: Any, reduction: str = "mean", saved: Any = None) -> Any:
    """cross_entropy as a composite (log-softmax, then the target's entries), for batching."""
    n = shape_of(z)[0]
    losses = -R.getitem(C.log_softmax(z, axis=1), index=(np.arange(n), np.asarray(target)))
    if reduction == "mean":
        return R.sum_(losses) * (1.0 / n)
    return R.sum_(losses) if reduction == "sum" else losses


# ---------------------------------------------------------------------- the table
_ELEMENTWISE = ("add", "subtract", "multiply", "divide", "negative", "power", "maximum", "minimum", "where",
                "tanh", "exp", "log", "log1p", "expm1", "sqrt", "square", "sin", "cos", "tan", "arctan", "sinh",
                "cosh", "sigmoid", "softplus", "relu", "leaky_relu", "elu", "abs", "sign", "erf", "clip",
                "greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "logical_and",
                "logical_or", "logical_not", "isfinite", "isnan", "isinf", "copy")
_REDUCTIONS = ("sum", "max", "min", "prod", "logsumexp", "any", "all", "prod_others")


def _install() -> None:
    rules = dict(REGISTRY)
    for name in _ELEMENTWISE:
        rules[name].batch = elementwise(rules[name])
    rules["multiply"].batch = scaling(rules["multiply"], ones_keep=True)
    rules["negative"].batch = scaling(rules["negative"])
    rules["tanh_grad"].batch = scaling(rules["tanh_grad"], linear_in=(0,))
    for name in _REDUCTIONS:
        rules[name].batch = reduction(rules[name])
    for name in ("argmax", "argmin"):
        rules[name].batch = arg_reduction(rules[name])
    for rule in (cast, stop_gradient):
        rule.batch = elementwise(rule)
    sum_to.batch = _sum_to
    broadcast_to.batch = _broadcast_to
    own = {"reshape": _reshape, "transpose": _transpose, "concatenate": _concatenate, "pad": _pad,
           "getitem": _getitem, "scatter_add": _scatter_add, "setitem": _setitem, "matmul": _matmul,
           "einsum": _einsum, "trace": _trace, "solve": _solve,
           "inv": elementwise(rules["inv"]), "det": elementwise(rules["det"]),
           "linear": _linear, "conv2d": _conv2d, "conv2d_input_grad": _conv2d_input_grad,
           "conv2d_weight_grad": loop(N.conv2d_weight_grad), "cross_entropy": decompose(_cross_entropy)}
    for name, fn in own.items():
        rules[name].batch = fn
    _matmul.keeps_basis = True
    rules["sum"].batch = _sum


_install()

__all__ = ["arg_reduction", "decompose", "elementwise", "loop", "reduction", "scaling"]
