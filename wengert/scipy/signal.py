"""``scipy.signal.convolve`` with derivatives: n-d convolution in the modes full, valid and same.

One primitive, ``scipy.signal.convolve``, computes a full or valid
convolution; ``mode='same'`` is the centred slice of the full one.  Its VJP is a
correlation, written as a convolution with the other input flipped (a full
convolution's adjoint is a valid one and vice versa), so the rule serves its
own derivatives and every order comes by composition.

Besides SciPy's arguments, ``axes=`` and ``dot_axes=`` (keywords) take HIPS
autograd's generalisation: convolve along ``axes=([axes of in1], [axes of in2])``,
contract ``dot_axes`` pairwise as a tensordot does, and keep the other axes
(output: in1's kept axes, in2's kept axes, then the convolved ones).

>>> import numpy as np
>>> import wengert as wg
>>> from wengert.scipy.signal import convolve
>>> convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
tensor([0. , 1. , 2.5, 4. , 1.5])
>>> convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]), mode="same")
tensor([1. , 2.5, 4. ])
>>> wg.grad(lambda k: wg.sum(convolve(np.array([1.0, 2.0, 3.0]), k, mode="valid")))(np.ones(2))
array([5., 3.])
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..core.rule import Rule
from ..core.tensor import shape_of
from ..ops import batching
from ..ops import table as R
from ._util import PUBLIC, public

_MODES = ("full", "valid", "same")


def _kept(ndim: int, conv: tuple, dot: tuple) -> list:
    return [i for i in range(ndim) if i not in conv and i not in dot]


def _valid_order(na: list, nb: list) -> bool:
    """For a valid convolution: True if in1 is the larger input along every convolved axis, False if in2 is."""
    if all(x >= y for x, y in zip(na, nb)):
        return True
    if all(x <= y for x, y in zip(na, nb)):
        return False
    raise ValueError("convolve: for mode 'valid', one input must be at least as large as the other along every "
                     f"convolved axis, got sizes {tuple(na)} and {tuple(nb)}")


def _conv_impl(a: Any, b: Any, axes: tuple, dot_axes: tuple, mode: str) -> Any:
    a, b = np.asarray(a), np.asarray(b)
    (ca, cb), (da, db) = axes, dot_axes
    ka, kb = _kept(a.ndim, ca, da), _kept(b.ndim, cb, db)
    na, nb = [a.shape[i] for i in ca], [b.shape[i] for i in cb]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"convolve: dot axes {i} of in1 and {j} of in2 have sizes {a.shape[i]} and {b.shape[j]}")
    A = a.transpose(ka + list(da) + list(ca))
    B = b.transpose(kb + list(db) + list(cb))
    k = len(ca)
    # labels: in1's kept axes, in2's kept axes, the dot axes, the output's convolved axes, the window
    lka = list(range(len(ka)))
    lkb = list(range(len(ka), len(ka) + len(kb)))
    ld = list(range(len(ka) + len(kb), len(ka) + len(kb) + len(da)))
    lout = list(range(ld[-1] + 1 if ld else len(ka) + len(kb), (ld[-1] + 1 if ld else len(ka) + len(kb)) + k))
    lwin = [i + k for i in lout]
    if k == 0:  # nothing to convolve: a tensordot over the dot axes
        return np.einsum(A, lka + ld, B, lkb + ld, lka + lkb)
    slide_a = mode == "full" or _valid_order(na, nb)
    slider, kernel = (A, B) if slide_a else (B, A)
    if mode == "full":  # pad by (kernel size - 1) on both sides: the full convolution is then a valid one
        nk = kernel.shape[-k:]
        slider = np.pad(slider, [(0, 0)] * (slider.ndim - k) + [(n - 1, n - 1) for n in nk])
    conv = tuple(range(slider.ndim - k, slider.ndim))
    view = sliding_window_view(slider, kernel.shape[-k:], axis=conv)  # (..., out positions, window)
    flipped = kernel[(Ellipsis,) + (slice(None, None, -1),) * k]  # sum_m S[n + m] K[-m]: a convolution
    lv = (lka if slide_a else lkb) + ld + lout + lwin
    lk = (lkb if slide_a else lka) + ld + lwin
    return np.einsum(view, lv, flipped, lk, lka + lkb + lout)


def _flip(x: Any, axes: tuple) -> Any:
    idx = [slice(None)] * len(shape_of(x))
    for ax in axes:
        idx[ax] = slice(None, None, -1)
    return R.getitem(x, index=tuple(idx))


def _conv_vjp(g: Any, ans: Any, needs: list, a: Any, b: Any, axes: tuple, dot_axes: tuple, mode: str) -> list:
    # out[n] = sum_k a[k] b[n - k]:  abar[k] = sum_n g[n] b[n - k], a correlation, i.e. a convolution of g
    # with b flipped; full <-> valid (a valid convolution's adjoint is full where the input was the larger)
    out = []
    sa, sb = shape_of(a), shape_of(b)
    (ca, cb), (da, db) = axes, dot_axes
    ka, kb = _kept(len(sa), ca, da), _kept(len(sb), cb, db)
    nka, nkb, k = len(ka), len(kb), len(ca)
    g_conv = tuple(range(nka + nkb, nka + nkb + k))
    for i, need in enumerate(needs):
        if not need:
            out.append(None)
            continue
        # the result's axes: this input's kept axes, then its dot axes (in the order of the other's, which
        # are kept axes of the other there, so sorted), then its convolved axes
        if i == 0:
            order = ka + [da[list(db).index(q)] for q in sorted(db)] + list(ca)
            other, o_conv, o_kept, g_kept = b, cb, kb, tuple(range(nka, nka + nkb))
            bigger = any(sa[p] > sb[q] for p, q in zip(ca, cb))
        else:
            order = kb + [db[list(da).index(p)] for p in sorted(da)] + list(cb)
            other, o_conv, o_kept, g_kept = a, ca, ka, tuple(range(nka))
            bigger = any(sb[q] > sa[p] for p, q in zip(ca, cb))
        new_mode = "valid" if mode == "full" else ("full" if bigger else "valid")
        r = _convolve(g, _flip(other, o_conv), axes=(g_conv, tuple(o_conv)), dot_axes=(g_kept, tuple(o_kept)),
                      mode=new_mode)
        out.append(R.transpose(r, axes=tuple(int(p) for p in np.argsort(order))))
    return out


def _conv_jvp(tangents: list, ans: Any, a: Any, b: Any, axes: tuple, dot_axes: tuple, mode: str) -> Any:
    ta, tb = tangents  # (bilinear)
    out = None if ta is None else _convolve(ta, b, axes=axes, dot_axes=dot_axes, mode=mode)
    if tb is not None:
        c = _convolve(a, tb, axes=axes, dot_axes=dot_axes, mode=mode)
        out = c if out is None else out + c
    return out


def _shifted(axes: tuple, which: int) -> tuple:
    return tuple(tuple(ax + 1 for ax in pair) if i == which else tuple(pair) for i, pair in enumerate(axes))


def _conv_batch(level: Any, vals: list, batched: list, params: dict) -> Any:
    """A batched input's batch axis is one more kept axis of it (in1's: first in the output; in2's: moved there)."""
    if batched[0] and batched[1]:
        return batching.loop(_convolve)(level, vals, batched, params)
    which = 0 if batched[0] else 1
    axes, dot_axes = _shifted(params["axes"], which), _shifted(params["dot_axes"], which)
    out = _convolve(*vals, axes=axes, dot_axes=dot_axes, mode=params["mode"])
    if which == 0:
        return out
    a_nd = len(shape_of(vals[0]))
    pos = a_nd - len(params["axes"][0]) - len(params["dot_axes"][0])  # in1's kept axes come first
    n = len(shape_of(out))
    return R.transpose(out, axes=(pos,) + tuple(i for i in range(n) if i != pos))


_convolve = Rule("scipy.signal.convolve", _conv_impl, vjp_all=_conv_vjp, jvp_all=_conv_jvp,
                 doc="full or valid n-d convolution (with autograd's dot and kept axes);  "
                     "d/din1 = convolve(g, flip(in2)), valid for full and full for valid")
_convolve.batch = _conv_batch


def _axis_pairs(name: str, pairs: Any, nd1: int, nd2: int) -> tuple:
    try:
        first, second = pairs
        first = tuple(int(a) % nd1 for a in first)
        second = tuple(int(a) % nd2 for a in second)
    except (TypeError, ValueError):
        raise ValueError(f"convolve: {name} must be a pair of axis lists, ([axes of in1], [axes of in2]), "
                         f"got {pairs!r}") from None
    if len(first) != len(second):
        raise ValueError(f"convolve: {name} pairs {len(first)} axes of in1 with {len(second)} of in2")
    return first, second


@public("signal")
def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto", *, axes: Any = None,
             dot_axes: Any = None) -> Any:
    """The n-d convolution of ``in1`` and ``in2`` (SciPy's ``convolve``), differentiable in both.

    ``mode``: ``'full'`` (every overlap), ``'valid'`` (complete overlaps only),
    ``'same'`` (the size of ``in1``, centred as SciPy centres it).  ``method``
    is accepted for SciPy's signature; the values are computed directly.
    ``axes`` / ``dot_axes``: HIPS autograd's generalisation (see the module).
    """
    if mode not in _MODES:
        raise ValueError(f"convolve: mode must be 'full', 'valid' or 'same', got {mode!r}")
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"convolve: method must be 'auto', 'direct' or 'fft', got {method!r}")
    s1, s2 = shape_of(in1), shape_of(in2)
    if axes is None and dot_axes is None:
        if len(s1) != len(s2):
            raise ValueError(f"convolve: in1 and in2 should have the same dimensionality, got shapes {s1} and {s2}")
        conv = (tuple(range(len(s1))), tuple(range(len(s2))))
    else:
        conv = _axis_pairs("axes", axes if axes is not None else ((), ()), max(len(s1), 1), max(len(s2), 1))
    dots = _axis_pairs("dot_axes", dot_axes if dot_axes is not None else ((), ()), max(len(s1), 1), max(len(s2), 1))
    out = _convolve(in1, in2, axes=conv, dot_axes=dots, mode="valid" if mode == "valid" else "full")
    if mode != "same":
        return out
    # 'same': the centre of the full convolution, as large as in1 along the convolved axes
    n_out = len(shape_of(out))
    k = len(conv[0])
    index = [slice(None)] * n_out
    for j, (p, q) in enumerate(zip(*conv)):
        start = (s2[q] - 1) // 2
        index[n_out - k + j] = slice(start, start + s1[p])
    return R.getitem(out, index=tuple(index))


__all__ = sorted(PUBLIC["signal"])
