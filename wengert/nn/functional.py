"""Neural-network functions: fused primitives (linear, conv2d, cross-entropy), pooling and losses.

Most functions here are *composites* written with the rules of
``wengert.ops`` and inherit their derivatives.  Three families are promoted to
primitives, each declared as one :class:`~wengert.core.Rule` record with its
forward, VJP and JVP side by side:

* ``linear`` (speed: one node for ``x @ W.T + b`` instead of three, and no
  un-broadcasting of the bias),
* ``conv2d`` with its two adjoints ``conv2d_input_grad`` and
  ``conv2d_weight_grad`` (speed: im2col through a strided window view; the
  three rules are each other's VJPs, so higher derivatives work),
* ``cross_entropy`` (stability and speed: log-sum-exp in the forward pass,
  ``softmax - onehot`` in the backward pass).

The VJPs take a fast path on plain NumPy values (first-order backward) and are
written with the rules themselves on Tensors (``create_graph=True``).

>>> import numpy as np, wengert as wg
>>> from wengert.nn import functional as F
>>> logits = wg.tensor([[1e4, 0.0, -1e4]], requires_grad=True)
>>> loss = F.cross_entropy(logits, np.array([1]))     # no overflow at logits of 1e4
>>> loss
tensor(10000., grad_fn=<cross_entropy>)
>>> loss.backward()
>>> logits.grad
tensor([[ 1., -1.,  0.]])
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import wengert as wg

from ..core.rule import ShapeError, apply
from ..core.tensor import Tensor, raw, shape_of
from ..ops import composite as C
from ..ops import table as R
from ..ops.nn import _NO_PARAMS, Saved, _pair, conv2d_rule, cross_entropy_rule, linear_rule
from ..ops.random import default_generator


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight.T + bias`` with ``weight`` of shape ``(out_features, in_features)``.

    >>> import wengert as wg
    >>> from wengert.nn import functional as F
    >>> F.linear(wg.tensor([[1.0, 2.0]]), wg.tensor([[3.0, 4.0]]), wg.tensor([0.5]))
    tensor([[11.5]])
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    if bias is None:
        return apply(linear_rule, (x, weight), _NO_PARAMS)
    return apply(linear_rule, (x, weight, bias), _NO_PARAMS)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of ``x`` (N, C, H, W) with ``weight`` (O, C, kh, kw).

    >>> import numpy as np, wengert as wg
    >>> from wengert.nn import functional as F
    >>> x = wg.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> F.conv2d(x, wg.tensor(np.ones((1, 1, 2, 2))), stride=2)
    tensor([[[[10., 18.],
              [42., 50.]]]])
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    stride, padding = _pair(stride, "stride"), _pair(padding, "padding")
    xs, ws = x.shape, shape_of(weight)
    if len(xs) != 4:
        raise ShapeError(f"conv2d: input must have shape (N, C, H, W), got shape {xs}")
    if len(ws) != 4 or ws[1] != xs[1]:
        raise ShapeError(f"conv2d: weight of shape {ws} does not fit an input of shape {xs} with {xs[1]} channels")
    if xs[2] + 2 * padding[0] < ws[2] or xs[3] + 2 * padding[1] < ws[3]:
        raise ShapeError(f"conv2d: kernel {ws[2:]} is larger than the padded input {xs[2:]} (padding {padding})")
    out = conv2d_rule(x, weight, stride=stride, padding=padding)
    if bias is not None:
        out = out + R.reshape(bias, shape=(1, -1, 1, 1))
    return out


# ============================================================== pooling (composites)


def _pool_windows(x: Tensor, k: tuple, s: tuple, name: str) -> Tensor:
    """Pooling windows of x (N, C, H, W) as (N, C, OH, OW, kh*kw), gathered by indexing."""
    n, c, h, w = x.shape
    if h < k[0] or w < k[1]:
        raise ShapeError(f"{name}: kernel {k} is larger than the input {x.shape[2:]}")
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    if k == s:  # non-overlapping windows: crop, then a reshape (no copy of indices)
        x = x[:, :, : oh * k[0], : ow * k[1]] if (oh * k[0], ow * k[1]) != (h, w) else x
        x = R.reshape(x, shape=(n, c, oh, k[0], ow, k[1]))
        x = R.transpose(x, axes=(0, 1, 2, 4, 3, 5))
        return R.reshape(x, shape=(n, c, oh, ow, k[0] * k[1]))
    rows = (np.arange(oh) * s[0])[:, None, None, None] + np.arange(k[0])[None, None, :, None]
    cols = (np.arange(ow) * s[1])[None, :, None, None] + np.arange(k[1])[None, None, None, :]
    win = x[:, :, rows, cols]  # (N, C, OH, OW, kh, kw); repeated pixels accumulate in the gradient
    return R.reshape(win, shape=(n, c, oh, ow, k[0] * k[1]))


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None) -> Tensor:
    """Maximum over each window (ties share the gradient evenly)."""
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    x = x if isinstance(x, Tensor) else Tensor(x)
    return R.max_(_pool_windows(x, k, s, "max_pool2d"), axis=-1)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None) -> Tensor:
    """Mean over each window."""
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    x = x if isinstance(x, Tensor) else Tensor(x)
    return C.mean(_pool_windows(x, k, s, "avg_pool2d"), axis=-1)


# ============================================================== losses


def _reduce(loss: Any, reduction: str, name: str) -> Any:
    if reduction == "mean":
        return C.mean(loss)
    if reduction == "sum":
        return R.sum_(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_same_shape(a: Any, b: Any, name: str) -> None:
    if shape_of(a) != shape_of(b):
        raise ShapeError(f"{name}: input has shape {shape_of(a)} but target has shape {shape_of(b)}")


def _target(target: Any) -> Any:
    """Targets of regression losses: constants, cut from any graph."""
    return raw(target) if isinstance(target, Tensor) else np.asarray(target)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error ``(input - target)^2``, averaged (or summed) over every element.

    >>> import wengert as wg
    >>> from wengert.nn import functional as F
    >>> F.mse_loss(wg.tensor([1.0, 2.0]), wg.tensor([0.0, 0.0]))
    tensor(2.5)
    """
    _check_same_shape(input, target, "mse_loss")
    d = input - (target if isinstance(target, Tensor) else _target(target))
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``|input - target|`` (abs'(0) = 0)."""
    _check_same_shape(input, target, "l1_loss")
    d = input - (target if isinstance(target, Tensor) else _target(target))
    return _reduce(R.absolute(d), reduction, "l1_loss")


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``, with ``d = input - target``.

    Written as ``0.5 q^2 + delta (|d| - q)`` with ``q = min(|d|, delta)``: one
    expression, continuous derivative ``clip(d, -delta, delta)``.

    >>> import wengert as wg
    >>> from wengert.nn import functional as F
    >>> F.huber_loss(wg.tensor([0.5, 3.0]), wg.tensor([0.0, 0.0]), reduction="none")
    tensor([0.125, 2.5  ])
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    _check_same_shape(input, target, "huber_loss")
    a = R.absolute(input - (target if isinstance(target, Tensor) else _target(target)))
    q = wg.clip(a, None, float(delta))
    return _reduce(0.5 * q * q + float(delta) * (a - q), reduction, "huber_loss")


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``: Huber's loss divided by ``beta`` (L1 at 0)."""
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return huber_loss(input, target, reduction=reduction, delta=beta) * (1.0 / beta)


_LOG_FLOOR = math.exp(-100.0)  # PyTorch's binary cross-entropy clamps each log at -100


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:
    """``-w (y log p + (1 - y) log(1 - p))`` on probabilities ``p``; each log is clamped at -100, as in PyTorch.

    The clamp keeps the loss finite (at most 100) where p is exactly 0 or 1.
    ``weight`` rescales each element (broadcast against the input).
    """
    _check_same_shape(input, target, "binary_cross_entropy")
    y = _target(target)
    p = np.asarray(input.data if isinstance(input, Tensor) else input)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("binary_cross_entropy: input must hold probabilities in [0, 1]; "
                         "for raw scores use binary_cross_entropy_with_logits")
    x = input if isinstance(input, Tensor) else Tensor(input)
    lp = R.log(R.clip(x, a_min=_LOG_FLOOR, a_max=None))
    lq = R.log(R.clip(1.0 - x, a_min=_LOG_FLOOR, a_max=None))
    loss = -(y * lp + (1.0 - y) * lq)
    if weight is not None:
        loss = loss * _target(weight)
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy from logits z: ``(1 - y) z + (1 + (pos_weight - 1) y) softplus(-z)``, stable for any z.

    Without ``pos_weight`` this is ``softplus(z) - y z``.  ``pos_weight``
    (broadcast along the last axis, one per class) weighs the positive
    term, ``weight`` each element.

    >>> import wengert as wg
    >>> from wengert.nn import functional as F
    >>> F.binary_cross_entropy_with_logits(wg.tensor([1e4, -1e4]), wg.tensor([1.0, 0.0]))
    tensor(0.)
    """
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    y = _target(target)
    z = input if isinstance(input, Tensor) else Tensor(input)
    if pos_weight is None:
        loss = R.softplus(z) - z * y
    else:
        loss = (1.0 - y) * z + (1.0 + (_target(pos_weight) - 1.0) * y) * R.softplus(-z)
    if weight is not None:
        loss = loss * _target(weight)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _check_reduction(reduction: str, name: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _classes_last(x: Tensor, t: np.ndarray, name: str) -> tuple:
    """Input (C,), (N, C) or (N, C, d1, ...) and its labels as (M, C) rows and (M,) labels; the output shape."""
    s = x.shape
    if len(s) == 0:
        raise ShapeError(f"{name}: input must have shape (C,), (N, C) or (N, C, d1, ...), got shape {s}")
    expected = () if len(s) == 1 else (s[0],) + s[2:]
    if t.shape != expected:
        raise ShapeError(f"{name}: target must have shape {expected} (one label per row of an input of shape {s}), "
                         f"got {t.shape}")
    if len(s) == 1:
        return wg.reshape(x, (1, s[0])), t.reshape(1), ()
    if len(s) == 2:
        return x, t, (s[0],)
    rows = wg.reshape(wg.moveaxis(x, 1, -1), (-1, s[1]))
    return rows, t.reshape(-1), t.shape


def _labels(t: np.ndarray, classes: int, ignore_index: int, name: str) -> np.ndarray:
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class labels, got dtype {t.dtype}")
    bad = ((t < 0) | (t >= classes)) & (t != ignore_index)
    if bad.any():
        pos = int(np.flatnonzero(bad.reshape(-1))[0])
        raise IndexError(f"{name}: labels must lie in [0, {classes}) for an input with {classes} classes, "
                         f"got label {int(t.reshape(-1)[pos])} at position {pos}")
    return t


def _class_weight(weight: Any, classes: int, name: str) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.shape != (classes,):
        raise ShapeError(f"{name}: weight must have shape ({classes},) (one per class), got {w.shape}")
    return w


def _weighted_nll(logp: Tensor, t: np.ndarray, weight: np.ndarray | None, ignore_index: int, reduction: str,
                  out_shape: tuple, smoothing: float = 0.0) -> Tensor:
    """PyTorch's nll_loss (and cross_entropy's label smoothing) on log-probabilities (M, C) and labels (M,).

    Per row: ``(1 - eps) w[y] (-logp[y]) + (eps / C) sum_c w[c] (-logp[c])``,
    zero for ignored rows; ``mean`` divides by the summed ``w[y]`` of the rows
    not ignored (NaN when every row is ignored, as in PyTorch).
    """
    m, c = logp.shape
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    row_w = (np.ones(m) if weight is None else weight[safe].astype(np.float64)) * valid
    dt = logp.dtype
    loss = -logp[np.arange(m), safe] * row_w.astype(dt)
    if smoothing:
        per_class = -logp if weight is None else -logp * weight.astype(dt)
        smooth = wg.sum(per_class, axis=1) * valid.astype(dt)
        loss = loss * (1.0 - smoothing) + smooth * (smoothing / c)
    if reduction == "none":
        return wg.reshape(loss, out_shape)
    total = wg.sum(loss)
    if reduction == "sum":
        return total
    denom = row_w.sum()
    return total * (1.0 / denom) if denom else total * np.nan


def cross_entropy(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy ``logsumexp(z_i) - z_i[y_i]`` from logits, as ``torch.nn.functional.cross_entropy``.

    ``input`` is (N, C), (C,) or (N, C, d1, ...); ``target`` holds integer
    labels of shape (N,), () or (N, d1, ...), or class probabilities of the
    input's shape.  ``weight`` (C,) weighs each class; labels equal to
    ``ignore_index`` contribute nothing; ``label_smoothing`` mixes the
    target with the uniform distribution.  ``mean`` divides by the summed
    weights of the rows counted (PyTorch's convention).

    The plain case ((N, C) logits, labels, no weight, nothing ignored, no
    smoothing) is one fused primitive: log-sum-exp, so logits of 1e4 do not
    overflow, and ``softmax - onehot`` in the backward pass.  Labels out of
    ``[0, C)`` are an error that names the first offending label.

    >>> import numpy as np, wengert as wg
    >>> from wengert.nn import functional as F
    >>> F.cross_entropy(wg.tensor([[0.0, 0.0]]), np.array([0]))    # log 2
    tensor(0.6931)
    >>> F.cross_entropy(wg.tensor([[0.0, 0.0], [5.0, 0.0]]), np.array([0, -100]))   # the second row is ignored
    tensor(0.6931)
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}")
    x = input if isinstance(input, Tensor) else Tensor(input)
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    s = x.shape
    if t.dtype.kind == "f" and t.shape == s:
        return _cross_entropy_probs(x, target, weight, ignore_index, reduction, label_smoothing)
    if _plain_labels(s, t, weight, label_smoothing, ignore_index):
        # (a slot for the softmax the backward pass reuses; unused, and dropped, when nothing is recorded)
        params = {"target": t, "reduction": reduction, "saved": Saved()} if x.requires_grad else \
            {"target": t, "reduction": reduction}
        return apply(cross_entropy_rule, (x,), params)
    rows, flat, out_shape = _classes_last(x, t, "cross_entropy")
    classes = rows.shape[1]
    flat = _labels(flat, classes, ignore_index, "cross_entropy")
    w = _class_weight(weight, classes, "cross_entropy")
    return _weighted_nll(C.log_softmax(rows, axis=1), flat, w, ignore_index, reduction, out_shape, label_smoothing)


_UNSIGNED = {np.dtype(f"<i{k}"): np.dtype(f"<u{k}") for k in (1, 2, 4, 8)}  # (same-size views of signed labels)
_UNSIGNED.update({d.newbyteorder(">"): u.newbyteorder(">") for d, u in _UNSIGNED.items()})


def _plain_labels(s: tuple, t: np.ndarray, weight: Any, smoothing: float, ignore_index: int) -> bool:
    """True for the fused primitive's case: (N, C) logits, N valid labels, none ignored, no weight or smoothing."""
    if len(s) != 2 or weight is not None or smoothing or t.dtype.kind not in "iu" or t.shape != (s[0],) or not s[0]:
        return False
    # labels outside [0, C) (ignored or invalid: the general path counts or names them); seen as unsigned,
    # a negative label is huge, so one max finds both kinds
    unsigned = _UNSIGNED.get(t.dtype)
    if (t if unsigned is None else t.view(unsigned)).max() >= s[1]:
        return False
    return not (0 <= ignore_index < s[1] and (t == ignore_index).any())


def _cross_entropy_probs(x: Tensor, target: Any, weight: Any, ignore_index: int, reduction: str,
                         smoothing: float) -> Tensor:
    """Cross-entropy against class probabilities: ``-sum_c w_c p_c log softmax(z)_c``, ``mean`` over the rows."""
    if ignore_index >= 0:
        raise ValueError("cross_entropy: ignore_index is not supported for class-probability targets")
    axis = 1 if x.ndim > 1 else 0
    classes = x.shape[axis]
    p = target if isinstance(target, Tensor) else np.asarray(target)
    if smoothing:
        p = p * (1.0 - smoothing) + smoothing / classes
    terms = C.log_softmax(x, axis=axis) * p
    w = _class_weight(weight, classes, "cross_entropy")
    if w is not None:
        terms = terms * np.reshape(w, (-1,) + (1,) * (x.ndim - axis - 1)).astype(x.dtype)
    if reduction == "none":
        return -wg.sum(terms, axis=axis)
    total = -wg.sum(terms)
    rows = x.size // classes if classes else 0
    return total if reduction == "sum" else (total * (1.0 / rows) if rows else total * np.nan)


def nll_loss(input: Any, target: Any, weight: Any = None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood ``-w[y_i] input[i, y_i]`` from log-probabilities, as ``torch.nn.functional.nll_loss``.

    Shapes, ``weight``, ``ignore_index`` and ``mean`` as in :func:`cross_entropy`.

    >>> import numpy as np, wengert as wg
    >>> from wengert.nn import functional as F
    >>> F.nll_loss(wg.tensor([[-1.0, -2.0], [-3.0, -4.0]]), np.array([1, 0]), weight=np.array([1.0, 3.0]))
    tensor(2.25)
    """
    _check_reduction(reduction, "nll_loss")
    x = input if isinstance(input, Tensor) else Tensor(input)
    rows, flat, out_shape = _classes_last(x, np.asarray(target.data if isinstance(target, Tensor) else target),
                                          "nll_loss")
    classes = rows.shape[1]
    flat = _labels(flat, classes, ignore_index, "nll_loss")
    return _weighted_nll(rows, flat, _class_weight(weight, classes, "nll_loss"), ignore_index, reduction, out_shape)


# ============================================================== normalisation (composites)


def _normalize(x: Tensor, axes: tuple, eps: float) -> tuple:
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` (biased variance), with the batch mean and variance."""
    mean = wg.mean(x, axis=axes, keepdims=True)
    d = x - mean
    var = wg.mean(d * d, axis=axes, keepdims=True)
    return d / wg.sqrt(var + eps), mean, var


def _per_channel(p: Any, ndim: int) -> Any:
    """A (C,) parameter shaped to broadcast over (N, C, *spatial)."""
    return wg.reshape(p, (-1,) + (1,) * (ndim - 2)) if isinstance(p, Tensor) else np.reshape(p, (-1,) + (1,) * (ndim - 2))


def _affine(y: Tensor, weight: Any, bias: Any, ndim: int | None = None) -> Tensor:
    if weight is not None:
        y = y * (weight if ndim is None else _per_channel(weight, ndim))
    if bias is not None:
        y = y + (bias if ndim is None else _per_channel(bias, ndim))
    return y


def _live(buf: Any) -> np.ndarray:
    """The array a running statistic lives in (a Tensor's live ``.data``, or the array itself)."""
    return buf.data if isinstance(buf, Tensor) else buf


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation over every axis but the channel axis 1 of ``(N, C, *)``, as ``torch.nn.functional``.

    In training, the batch mean and (biased) variance normalise the input and
    the running statistics, when given, are updated in place:
    ``running = (1 - momentum) running + momentum batch`` (the unbiased
    variance, n / (n - 1) times the biased one).  Otherwise the running
    statistics normalise.  ``weight`` and ``bias`` (shape (C,)) scale and shift.

    >>> import numpy as np, wengert as wg
    >>> from wengert.nn import functional as F
    >>> rm, rv = np.zeros(1), np.ones(1)
    >>> F.batch_norm(wg.tensor([[1.0], [3.0]]), rm, rv, training=True, momentum=0.5)
    tensor([[-1.],
            [ 1.]])
    >>> rm, rv                                  # mean 2, unbiased variance 2
    (array([1.]), array([1.5]))
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    s = x.shape
    if len(s) < 2:
        raise ShapeError(f"batch_norm: input must have shape (N, C, *), got shape {s}")
    axes = (0,) + tuple(range(2, len(s)))
    if training:
        n = x.size // s[1]
        if n < 2:
            raise ValueError(f"batch_norm: batch statistics need more than 1 value per channel in training mode "
                             f"(at least 2 samples), got input of shape {s}")
        y, mean, var = _normalize(x, axes, eps)
        if running_mean is not None:
            rm = _live(running_mean)
            rm *= 1.0 - momentum
            rm += momentum * mean.data.reshape(-1)
        if running_var is not None:
            rv = _live(running_var)
            rv *= 1.0 - momentum
            rv += (momentum * n / (n - 1)) * var.data.reshape(-1)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
        shape = (-1,) + (1,) * (len(s) - 2)
        rm, rv = np.reshape(_live(running_mean), shape), np.reshape(_live(running_var), shape)
        y = (x - rm.astype(x.dtype)) * (1.0 / np.sqrt(rv + eps)).astype(x.dtype)
    return _affine(y, weight, bias, len(s))


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing axes ``normalized_shape`` (biased variance), then scale and shift elementwise.

    >>> import wengert as wg
    >>> from wengert.nn import functional as F
    >>> F.layer_norm(wg.tensor([[1.0, 3.0], [0.0, 10.0]]), (2,))
    tensor([[-1.,  1.],
            [-1.,  1.]])
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.shape[len(x.shape) - k:] != shape or x.ndim < k:
        raise ShapeError(f"layer_norm: input of shape {x.shape} does not end in normalized_shape {shape}")
    y, _, _ = _normalize(x, tuple(range(x.ndim - k, x.ndim)), eps)
    return _affine(y, weight, bias)


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Split the channels of ``(N, C, *)`` into ``num_groups`` groups and normalise each group of each sample.

    >>> import numpy as np, wengert as wg
    >>> from wengert.nn import functional as F
    >>> F.group_norm(wg.tensor(np.array([[1.0, 3.0, 0.0, 10.0]])), 2)
    tensor([[-1.,  1., -1.,  1.]])
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    s = x.shape
    if len(s) < 2 or s[1] % num_groups:
        raise ShapeError(f"group_norm: input must have shape (N, C, *) with C divisible by num_groups={num_groups}, "
                         f"got shape {s}")
    grouped = wg.reshape(x, (s[0], num_groups, -1))
    y, _, _ = _normalize(grouped, (2,), eps)
    return _affine(wg.reshape(y, s), weight, bias, len(s))


# ============================================================== activations and regularisers (re-exported)


def relu(x: Any) -> Tensor:
    """max(x, 0) (relu'(0) = 0)."""
    return R.relu(x if isinstance(x, Tensor) else Tensor(x))


def dropout(x: Any, p: float, training: bool = True, rng: np.random.Generator | None = None) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (inverted dropout)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    x = x if isinstance(x, Tensor) else Tensor(x)
    if not training or p == 0.0:
        return x
    rng = rng if rng is not None else default_generator()  # wg.manual_seed repeats the masks
    keep = (rng.random(x.shape) >= p).astype(x.dtype) * (1.0 / (1.0 - p))
    return x * keep.astype(x.dtype)


softmax = C.softmax
log_softmax = C.log_softmax

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv2d",
    "cross_entropy",
    "dropout",
    "group_norm",
    "huber_loss",
    "l1_loss",
    "layer_norm",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "relu",
    "smooth_l1_loss",
    "softmax",
]
