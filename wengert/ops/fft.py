"""Discrete Fourier transforms: ``wg.fft.*``, NumPy's ``np.fft`` with exact derivatives in both modes.

Four primitives do the work, each a 1-D transform along one axis with NumPy's
``n``, ``axis`` and ``norm``: ``fft``, ``ifft``, ``rfft`` and ``irfft``.  The
n-dimensional transforms, ``hfft`` / ``ihfft`` and the frequencies are
composites of them, written as NumPy writes them, so they inherit every
derivative and batching rule.

The derivatives are the adjoints of the DFT, in autograd's convention (a VJP
is a transpose, docs/complex.md):

* ``fft`` is ``y = F P x``: ``P`` pads or truncates x to ``n`` points, ``F`` is
  the (scaled) DFT matrix, which is *symmetric*.  So the VJP is
  ``P^T F g``: the same transform of the cotangent, cut or padded back to the
  input's length.  The same holds for ``ifft``, with its own scaling.
* ``rfft`` keeps the first ``n//2 + 1`` outputs of ``fft`` of a real input:
  its VJP pads the cotangent with zeros to ``n`` points, transforms it with
  ``fft``, and keeps the real part (``fit`` does that for a real input).
* ``irfft`` reads a half spectrum ``X`` as the Hermitian spectrum it stands
  for, so ``y_j = sum_k w_k Re(X_k e^(2 pi i jk/n))`` (times the norm's
  scale) with ``w_k = 2`` for the bins that stand for two, and ``w_0 = 1``
  (and ``w_(n/2) = 1`` for even ``n``): real-linear, not complex-linear.  Its
  VJP is ``w * ifft(g)`` on the first ``n//2 + 1`` bins, cut or padded back;
  exact for odd and even ``n`` alike (the imaginary parts that ``irfft``
  ignores get zero gradient).

Every JVP is the transform itself (all of them are linear over the reals).

>>> import numpy as np, wengert as wg
>>> x = wg.tensor([1.0, 2.0, 0.0, -1.0], requires_grad=True)
>>> y = wg.fft.irfft(wg.fft.rfft(x) * np.array([1.0, 0.5, 0.0]))   # a low-pass filter
>>> wg.sum(y * y).backward()
>>> bool(np.allclose(x.grad.data, 2 * np.fft.irfft(np.fft.rfft(y.data) * [1.0, 0.5, 0.0])))
True
>>> np.fft.fft(x).dtype                               # NumPy's functions dispatch here
dtype('complex128')
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..core.rule import Rule
from ..core.tensor import Tensor, dtype_of, shape_of
from .batching import _nd, _shift
from .complex import conjugate
from .surface import Surface, composite
from .table import getitem, multiply, pad

_NORMS = (None, "backward", "ortho", "forward")


# ============================================================== helpers
def _check_norm(norm: Any) -> None:
    if norm not in _NORMS:
        raise ValueError(f'fft: norm must be "backward", "ortho" or "forward" (or None), got {norm!r}')


def _resize(x: Any, axis: int, m: int) -> Any:
    """x cut to, or padded with zeros to, ``m`` points along ``axis`` (the adjoint of NumPy's ``n=``)."""
    shape = shape_of(x)
    ax = axis % len(shape)
    k = shape[ax]
    if k > m:
        return getitem(x, index=(slice(None),) * ax + (slice(0, m),))
    if k < m:
        return pad(x, pad_width=tuple((0, m - k) if i == ax else (0, 0) for i in range(len(shape))))
    return x


def _length(x: Any, n: Any, axis: int) -> int:
    return int(n) if n is not None else shape_of(x)[axis]


def _swap(norm: Any) -> Any:
    """hfft / ihfft scale as the inverse transforms do: backward and forward trade places."""
    return {None: "forward", "backward": "forward", "forward": "backward", "ortho": "ortho"}[norm]


# ============================================================== the 1-D primitives
def _rfft_vjp(g: Any, ans: Any, a: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    # y = R F P a (R keeps the first n//2 + 1 bins):  a_bar = Re(P^T F R^T g)  (fit keeps the real part)
    full = _resize(g, axis, _length(a, n, axis))
    return _resize(fft(full, axis=axis, norm=norm), axis, shape_of(a)[axis])


def _irfft_weights(n: int, axis: int, ndim: int, dtype: Any) -> np.ndarray:
    """w_k = 2 for the bins that stand for two of the full spectrum, 1 for bin 0 (and bin n/2 of an even n)."""
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w.reshape((-1,) + (1,) * (ndim - 1 - axis % ndim)).astype(np.result_type(dtype, np.float32))


def _irfft_vjp(g: Any, ans: Any, a: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    # y_j = s * sum_k w_k Re(X_k e^(2 pi i jk/n)):  X_bar_k = w_k * ifft(g)_k on the n//2 + 1 bins used
    m = shape_of(ans)[axis]
    half = _resize(ifft(g, axis=axis, norm=norm), axis, m // 2 + 1)
    w = _irfft_weights(m, axis, len(shape_of(a)), dtype_of(ans))
    return _resize(multiply(half, w), axis, shape_of(a)[axis])


def _transform(name: str, doc: str, vjp: Any = None, real_only: str = "") -> Rule:
    """The rule of np.fft.NAME(a, n, axis, norm); its VJP is the same transform unless ``vjp`` is given."""
    np_fn = getattr(np.fft, name)

    def impl(a: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
        _check_norm(norm)
        return np_fn(a, n=n, axis=axis, norm=norm)

    def same_vjp(g: Any, ans: Any, a: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
        # fft and ifft: y = F P a with F symmetric, so a_bar = P^T F g: the same transform, cut or padded back
        return _resize(rule(g, axis=axis, norm=norm), axis, shape_of(a)[axis])

    rule = Rule(
        name, impl,
        vjp=(vjp or same_vjp,),
        jvp=(lambda t, ans, a, n=None, axis=-1, norm=None: rule(t, n=n, axis=axis, norm=norm),),  # linear
        doc=doc,
        real_only=real_only,
        surface=Surface(public=False, numpy=(np_fn,)),
    )
    rule.batch = _batch_1d(rule)
    return rule


def _batch_1d(rule: Rule) -> Any:
    def batch(level: Any, vals: list, batched: list, params: dict) -> Any:
        (x,) = vals
        return rule(x, **{**params, "axis": _shift(params.get("axis", -1), _nd(x, True))[0]})

    return batch


fft = _transform("fft", "1-D discrete Fourier transform along axis (np.fft.fft);  VJP: the same transform of the "
                        "cotangent (the DFT matrix is symmetric), cut or padded back to the input's length")
ifft = _transform("ifft", "1-D inverse discrete Fourier transform along axis (np.fft.ifft);  VJP: ifft of the cotangent")
rfft = _transform("rfft", "1-D DFT of a real input, the n//2 + 1 non-negative frequencies (np.fft.rfft);  VJP: the "
                          "real part of fft of the cotangent padded with zeros to n points",
                  vjp=_rfft_vjp, real_only="rfft transforms real input; use wg.fft.fft for complex input")
irfft = _transform("irfft", "inverse of rfft: a real signal of n points from a half spectrum (np.fft.irfft);  VJP: "
                            "w * ifft(g) on the bins used, w = 2 for the bins that stand for two, 1 for the others",
                   vjp=_irfft_vjp)


# ============================================================== shifts
def _fftshift_impl(x: Any, axes: Any = None) -> Any:
    return np.fft.fftshift(x, axes=axes)


def _ifftshift_impl(x: Any, axes: Any = None) -> Any:
    return np.fft.ifftshift(x, axes=axes)


def _shift_batch(rule: Rule) -> Any:
    def batch(level: Any, vals: list, batched: list, params: dict) -> Any:
        (x,) = vals
        return rule(x, axes=_shift(params.get("axes"), _nd(x, True)))

    return batch


fftshift = Rule(
    "fftshift", _fftshift_impl,
    # a permutation: its adjoint is the inverse permutation
    vjp=(lambda g, ans, x, axes=None: ifftshift(g, axes=axes),),
    jvp=(lambda t, ans, x, axes=None: fftshift(t, axes=axes),),
    doc="the zero frequency moved to the centre (np.fft.fftshift);  VJP: ifftshift",
    surface=Surface(public=False, numpy=(np.fft.fftshift,)),
)
ifftshift = Rule(
    "ifftshift", _ifftshift_impl,
    vjp=(lambda g, ans, x, axes=None: fftshift(g, axes=axes),),
    jvp=(lambda t, ans, x, axes=None: ifftshift(t, axes=axes),),
    doc="the inverse of fftshift (np.fft.ifftshift);  VJP: fftshift",
    surface=Surface(public=False, numpy=(np.fft.ifftshift,)),
)
fftshift.batch = _shift_batch(fftshift)
ifftshift.batch = _shift_batch(ifftshift)


# ============================================================== n-dimensional transforms (composites)
def _nd_args(x: Any, s: Any, axes: Any, inverse_real: bool = False) -> tuple[list, list]:
    """The lengths and axes of an n-dimensional transform, as NumPy's ``_cook_nd_args`` makes them."""
    shape = shape_of(x)
    shapeless = s is None
    if shapeless:
        s = list(shape) if axes is None else [shape[a] for a in axes]
    s = list(s)
    if axes is None:
        if not shapeless:
            warnings.warn("fft: `axes` should not be None if `s` is not None (deprecated in NumPy 2.0); "
                          "pass axes=[0, ..., k-1] explicitly", DeprecationWarning, stacklevel=5)
        axes = list(range(-len(s), 0))
    axes = list(axes)
    if len(s) != len(axes):
        raise ValueError(f"fft: s {tuple(s)} and axes {tuple(axes)} have different lengths")
    if inverse_real and shapeless:
        s[-1] = (shape[axes[-1]] - 1) * 2
    s = [shape[a] if (n == -1 or n is None) else n for n, a in zip(s, axes)]
    return s, axes


def _fftn(fn: Any, x: Any, s: Any, axes: Any, norm: Any) -> Any:
    s, axes = _nd_args(x, s, axes)
    for n, a in reversed(list(zip(s, axes))):  # the last axis first, as NumPy does
        x = fn(x, n=n, axis=a, norm=norm)
    return x


def _rfftn(x: Any, s: Any, axes: Any, norm: Any) -> Any:
    s, axes = _nd_args(x, s, axes)
    x = rfft(x, n=s[-1], axis=axes[-1], norm=norm)
    for n, a in reversed(list(zip(s[:-1], axes[:-1]))):
        x = fft(x, n=n, axis=a, norm=norm)
    return x


def _irfftn(x: Any, s: Any, axes: Any, norm: Any) -> Any:
    s, axes = _nd_args(x, s, axes, inverse_real=True)
    for n, a in zip(s[:-1], axes[:-1]):
        x = ifft(x, n=n, axis=a, norm=norm)
    return irfft(x, n=s[-1], axis=axes[-1], norm=norm)


@composite(public=False, numpy=(np.fft.fft2,))
def fft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None) -> Any:
    """2-D discrete Fourier transform (np.fft.fft2): fft along each of ``axes``, the last first."""
    return _fftn(fft, a, s, axes, norm)


@composite(public=False, numpy=(np.fft.ifft2,))
def ifft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None) -> Any:
    """2-D inverse discrete Fourier transform (np.fft.ifft2)."""
    return _fftn(ifft, a, s, axes, norm)


@composite(public=False, numpy=(np.fft.fftn,))
def fftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None) -> Any:
    """N-D discrete Fourier transform (np.fft.fftn): fft along each of ``axes`` (all by default)."""
    return _fftn(fft, a, s, axes, norm)


@composite(public=False, numpy=(np.fft.ifftn,))
def ifftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None) -> Any:
    """N-D inverse discrete Fourier transform (np.fft.ifftn)."""
    return _fftn(ifft, a, s, axes, norm)


@composite(public=False, numpy=(np.fft.rfft2,))
def rfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None) -> Any:
    """2-D DFT of a real input (np.fft.rfft2): rfft along the last of ``axes``, then fft."""
    return _rfftn(a, s, axes, norm)


@composite(public=False, numpy=(np.fft.irfft2,))
def irfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None) -> Any:
    """Inverse of rfft2 (np.fft.irfft2)."""
    return _irfftn(a, s, axes, norm)


@composite(public=False, numpy=(np.fft.rfftn,))
def rfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None) -> Any:
    """N-D DFT of a real input (np.fft.rfftn)."""
    return _rfftn(a, s, axes, norm)


@composite(public=False, numpy=(np.fft.irfftn,))
def irfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None) -> Any:
    """Inverse of rfftn (np.fft.irfftn)."""
    return _irfftn(a, s, axes, norm)


@composite(public=False, numpy=(np.fft.hfft,))
def hfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    """The real spectrum of a signal with Hermitian symmetry (np.fft.hfft): irfft(conj(a)), scaled as a forward transform."""
    _check_norm(norm)
    if n is None:
        n = (shape_of(a)[axis] - 1) * 2
    return irfft(conjugate(a), n=n, axis=axis, norm=_swap(norm))


@composite(public=False, numpy=(np.fft.ihfft,))
def ihfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None) -> Any:
    """The inverse of hfft (np.fft.ihfft): conj(rfft(a)), scaled as an inverse transform."""
    _check_norm(norm)
    return conjugate(rfft(a, n=n, axis=axis, norm=_swap(norm)))


# ============================================================== frequencies
def _freq_args(n: int, d: Any = 1.0, device: Any = None) -> tuple:
    """(n is a count, not an array: it stays a Python int.)"""
    return (), {"n": n, "d": d}


def _check_n(n: Any, name: str) -> int:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise ValueError(f"fft.{name}: n should be an integer, got {n!r}")
    return int(n)


@composite(public=False, numpy=(np.fft.fftfreq,), prepare=_freq_args)  # (np.fft.fftfreq does not dispatch)
def fftfreq(n: int, d: Any = 1.0) -> Any:
    """The sample frequencies of an n-point DFT with sample spacing d (np.fft.fftfreq; a tensor d gets a gradient)."""
    n = _check_n(n, "fftfreq")
    k = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)])
    return Tensor(k) * (1.0 / (n * d))


@composite(public=False, numpy=(np.fft.rfftfreq,), prepare=_freq_args)
def rfftfreq(n: int, d: Any = 1.0) -> Any:
    """The non-negative sample frequencies of rfft (np.fft.rfftfreq; a tensor d gets a gradient)."""
    n = _check_n(n, "rfftfreq")
    return Tensor(np.arange(0, n // 2 + 1)) * (1.0 / (n * d))


__all__ = ["fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifft2", "ifftn", "ifftshift", "ihfft",
           "irfft", "irfft2", "irfftn", "rfft", "rfft2", "rfftfreq", "rfftn"]
