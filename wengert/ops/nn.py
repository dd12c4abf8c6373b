"""The fused primitives of neural networks: linear, conv2d (with its two adjoints), cross_entropy.

Each is promoted from a composite to a primitive for speed or stability (its
docstring says which).  Their public functions, with argument checking,
are ``wengert.nn.functional.linear``, ``conv2d`` and ``cross_entropy``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..core.rule import Rule
from ..core.tensor import Tensor, dtype_of, shape_of
from . import composite as C
from . import table as R
from .kernels import column_sums, max_keepdims

# ============================================================== linear

_NO_PARAMS: dict = {}  # shared, never mutated


def _linear_impl(x: Any, w: Any, b: Any = None) -> Any:
    out = np.matmul(x, w.T)
    if b is not None:
        out += b  # out is a fresh array
    return out


# y = x W^T + b:  dx = g W,  dW = g^T x,  db = g summed over the leading axes.  One VJP per input, so
# that an entry is the compact three-input layout and the walk calls them directly; each is straight
# NumPy on plain values (every training step's backward pass) and written with rules on tensors
# (a recorded backward pass: higher derivatives).
def _linear_vjp_x(g: Any, ans: Any, x: Any, w: Any, b: Any = None) -> Any:
    if type(g) is np.ndarray and type(w) is np.ndarray:
        return np.matmul(g, w)
    return R.matmul(g, w)


def _linear_vjp_w(g: Any, ans: Any, x: Any, w: Any, b: Any = None) -> Any:
    if type(g) is np.ndarray and type(x) is np.ndarray:
        if g.ndim == 2:
            return np.matmul(g.T, x)
        n_out, n_in = w.shape
        return np.matmul(g.reshape(-1, n_out).T, x.reshape(-1, n_in))
    n_out, n_in = shape_of(w)
    return R.matmul(R.transpose(R.reshape(g, shape=(-1, n_out))), R.reshape(x, shape=(-1, n_in)))


def _linear_vjp_b(g: Any, ans: Any, x: Any, w: Any, b: Any = None) -> Any:
    if type(g) is np.ndarray:
        nd = g.ndim
        return column_sums(g) if nd == 2 else g if nd == 1 else column_sums(g.reshape(-1, g.shape[-1]))
    if len(shape_of(g)) == 1:
        return g
    return R.sum_(R.reshape(g, shape=(-1, shape_of(w)[0])), axis=0)


def _linear_jvp_all(tangents: list, ans: Any, x: Any, w: Any, b: Any = None) -> Any:
    tx, tw = tangents[0], tangents[1]
    tb = tangents[2] if len(tangents) > 2 else None
    out = None
    for term in (None if tx is None else R.matmul(tx, R.transpose(w)),
                 None if tw is None else R.matmul(x, R.transpose(tw)),
                 tb):
        if term is not None:
            out = term if out is None else out + term
    return out


linear_rule = Rule(
    "linear", _linear_impl, vjp=(_linear_vjp_x, _linear_vjp_w, _linear_vjp_b), jvp_all=_linear_jvp_all,
    doc="linear(x, W, b) = x @ W.T + b, W of shape (out, in).  Fused primitive (speed: one graph node, "
        "its three VJPs called directly by the walk, no un-broadcasting of the bias).",
)



# ============================================================== conv2d (three adjoint primitives)


def _pair(v: Any, name: str) -> tuple:
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    t = tuple(int(i) for i in v)
    if len(t) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return t


def _pad_hw(x: np.ndarray, padding: tuple) -> np.ndarray:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _windows(x: np.ndarray, kh: int, kw: int, stride: tuple, padding: tuple) -> np.ndarray:
    """A strided view (N, C, OH, OW, kh, kw) of the padded input: im2col without copying."""
    v = sliding_window_view(_pad_hw(x, padding), (kh, kw), axis=(2, 3))
    return v[:, :, :: stride[0], :: stride[1]]


def _conv_impl(x: Any, w: Any, stride: tuple = (1, 1), padding: tuple = (0, 0)) -> Any:
    # y[n, o, i, j] = sum_{c, a, b} xpad[n, c, i*s + a, j*s + b] w[o, c, a, b]
    win = _windows(np.asarray(x), w.shape[2], w.shape[3], stride, padding)
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # (N, OH, OW, O)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def _conv_input_grad_impl(g: Any, w: Any, x_shape: tuple, stride: tuple = (1, 1), padding: tuple = (0, 0)) -> Any:
    # dx = the adjoint of conv2d in x: scatter g w back onto the input, one kernel offset at a time
    n, c, h, wd = x_shape
    ph, pw = padding
    sh, sw = stride
    _, _, kh, kw = w.shape
    oh, ow = g.shape[2], g.shape[3]
    cols = np.tensordot(g, w, axes=([1], [0]))  # (N, OH, OW, C, kh, kw)
    dxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=np.result_type(g, w))
    for a in range(kh):  # a loop over kernel offsets (kh * kw of them), never over pixels
        for b in range(kw):
            dxp[:, :, a: a + sh * oh: sh, b: b + sw * ow: sw] += cols[:, :, :, :, a, b].transpose(0, 3, 1, 2)
    return dxp[:, :, ph: ph + h, pw: pw + wd]


def _conv_weight_grad_impl(x: Any, g: Any, w_shape: tuple, stride: tuple = (1, 1), padding: tuple = (0, 0)) -> Any:
    # dw[o, c, a, b] = sum_{n, i, j} g[n, o, i, j] xpad[n, c, i*s + a, j*s + b]
    win = _windows(np.asarray(x), w_shape[2], w_shape[3], stride, padding)
    return np.tensordot(g, win, axes=([0, 2, 3], [0, 2, 3]))  # (O, C, kh, kw)


# With B(x, w, g) = <conv2d(x, w), g>, the three rules are the three partial
# derivatives of one trilinear form, so each one's VJP is one of the others.
conv2d_rule = Rule(
    "conv2d", _conv_impl,
    vjp=(lambda g, ans, x, w, stride=(1, 1), padding=(0, 0):
         conv2d_input_grad(g, w, x_shape=shape_of(x), stride=stride, padding=padding),
         lambda g, ans, x, w, stride=(1, 1), padding=(0, 0):
         conv2d_weight_grad(x, g, w_shape=shape_of(w), stride=stride, padding=padding)),
    jvp=(lambda t, ans, x, w, stride=(1, 1), padding=(0, 0): conv2d_rule(t, w, stride=stride, padding=padding),
         lambda t, ans, x, w, stride=(1, 1), padding=(0, 0): conv2d_rule(x, t, stride=stride, padding=padding)),
    doc="2-D cross-correlation of x (N, C, H, W) with w (O, C, kh, kw); im2col via a strided view.",
)

conv2d_input_grad = Rule(
    "conv2d_input_grad", _conv_input_grad_impl,
    vjp=(lambda G, ans, g, w, x_shape, stride=(1, 1), padding=(0, 0): conv2d_rule(G, w, stride=stride, padding=padding),
         lambda G, ans, g, w, x_shape, stride=(1, 1), padding=(0, 0):
         conv2d_weight_grad(G, g, w_shape=shape_of(w), stride=stride, padding=padding)),
    jvp=(lambda t, ans, g, w, x_shape, stride=(1, 1), padding=(0, 0):
         conv2d_input_grad(t, w, x_shape=x_shape, stride=stride, padding=padding),
         lambda t, ans, g, w, x_shape, stride=(1, 1), padding=(0, 0):
         conv2d_input_grad(g, t, x_shape=x_shape, stride=stride, padding=padding)),
    doc="The VJP of conv2d with respect to its input (a transposed convolution).",
)

conv2d_weight_grad = Rule(
    "conv2d_weight_grad", _conv_weight_grad_impl,
    vjp=(lambda G, ans, x, g, w_shape, stride=(1, 1), padding=(0, 0):
         conv2d_input_grad(g, G, x_shape=shape_of(x), stride=stride, padding=padding),
         lambda G, ans, x, g, w_shape, stride=(1, 1), padding=(0, 0): conv2d_rule(x, G, stride=stride, padding=padding)),
    jvp=(lambda t, ans, x, g, w_shape, stride=(1, 1), padding=(0, 0):
         conv2d_weight_grad(t, g, w_shape=w_shape, stride=stride, padding=padding),
         lambda t, ans, x, g, w_shape, stride=(1, 1), padding=(0, 0):
         conv2d_weight_grad(x, t, w_shape=w_shape, stride=stride, padding=padding)),
    doc="The VJP of conv2d with respect to its weight.",
)



class Saved:
    """A slot for a value that a forward pass computes and the first-order backward pass reuses.

    The softmax of cross_entropy is computed in the forward pass anyway; the
    plain-value VJP takes it from here (once) instead of recomputing it.  The
    differentiable VJP (``create_graph``) and the JVP always recompute it with
    the rules.
    """

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None

    def __repr__(self) -> str:
        return "Saved()"


def _ce_impl(z: Any, target: Any, reduction: str = "mean", saved: Saved | None = None) -> Any:
    # loss_i = logsumexp(z_i) - z_i[target_i] = log(sum_j exp(z_ij - m_i)) - (z_i[target_i] - m_i)
    z = np.asarray(z)
    n = z.shape[0]
    m = max_keepdims(z, 1)
    shifted = z - m
    e = np.exp(shifted)
    s = np.add.reduce(e, axis=1, keepdims=True)  # (the ufunc itself: .sum() is a Python wrapper around it)
    losses = np.log(s[:, 0])
    losses -= shifted[np.arange(n), target]
    if saved is not None:
        e /= s
        saved.value = e  # softmax(z), for the backward pass
    if reduction == "mean":
        return np.add.reduce(losses) / n if n else losses.sum() * np.nan
    if reduction == "sum":
        return losses.sum()
    return losses


def _ce_scale(g: Any, n: int, reduction: str) -> Any:
    """The cotangent of each row's loss, shaped to broadcast over the classes."""
    if reduction == "mean":
        return g * (1.0 / n) if n else g
    if reduction == "sum":
        return g
    return R.reshape(g, shape=(-1, 1))


def _ce_vjp(g: Any, ans: Any, z: Any, target: Any, reduction: str = "mean", saved: Saved | None = None) -> Any:
    # d loss_i / d z_i = softmax(z_i) - onehot(target_i)
    if not isinstance(g, Tensor) and type(z) is np.ndarray:  # first order, on plain values
        n = z.shape[0]
        p = None
        if saved is not None:
            p, saved.value = saved.value, None  # used once: a second backward recomputes it
        if p is None:
            m = max_keepdims(z, 1)
            p = np.exp(z - m)
            p /= p.sum(axis=1, keepdims=True)
        p[np.arange(n), target] -= 1.0
        if reduction == "none":
            p *= np.reshape(g, (-1, 1))
        elif reduction == "mean":
            p *= float(g) / n
        else:
            p *= float(g)
        return p
    n = shape_of(z)[0]
    onehot = np.zeros(shape_of(z), dtype=dtype_of(z))
    onehot[np.arange(n), target] = 1.0
    return (C.softmax(z, axis=1) - onehot) * _ce_scale(g, n, reduction)


def _ce_jvp(t: Any, ans: Any, z: Any, target: Any, reduction: str = "mean", saved: Saved | None = None) -> Any:
    n = shape_of(z)[0]
    onehot = np.zeros(shape_of(z), dtype=dtype_of(z))
    onehot[np.arange(n), target] = 1.0
    per_row = R.sum_(t * (C.softmax(z, axis=1) - onehot), axis=1)
    if reduction == "none":
        return per_row
    total = R.sum_(per_row)
    return total * (1.0 / n) if reduction == "mean" and n else total


cross_entropy_rule = Rule(
    "cross_entropy", _ce_impl, vjp=(_ce_vjp,), jvp=(_ce_jvp,),
    doc="softmax cross-entropy from logits (N, C) and integer labels (N,).  Fused primitive (stability: "
        "log-sum-exp, no overflow; speed: one node, softmax - onehot in the backward pass).",
)


__all__ = ["Saved", "conv2d_input_grad", "conv2d_rule", "conv2d_weight_grad", "cross_entropy_rule", "linear_rule"]
