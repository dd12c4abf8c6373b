"""Test specs for the fused primitives of ``wengert.nn.functional`` (linear, conv2d and its adjoints,
cross_entropy); the generic test in ``tests/test_ops.py`` runs them."""
from __future__ import annotations

import numpy as np
from opspec import Case, Spec

import wengert.nn.functional  # noqa: F401  (registers the rules)


def _ce_ref(z, target, reduction="mean"):
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    losses = lse - z[np.arange(len(z)), target]
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


def _conv_ref(x, w, stride=(1, 1), padding=(0, 0)):
    """A direct loop over output pixels (slow, obviously right)."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    n, _c, h, wd = xp.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // stride[0] + 1, (wd - kw) // stride[1] + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride[0]: i * stride[0] + kh, j * stride[1]: j * stride[1] + kw]
            out[:, :, i, j] = np.einsum("ncab,ocab->no", patch, w)
    return out


_T = np.array([0, 4, 2, 1])

SPECS = {
    "linear": Spec(
        cases=[Case([(4, 3), (2, 3), (2,)]), Case([(4, 3), (2, 3)]), Case([(2, 3, 3), (2, 3), (2,)]),
               Case([(3,), (2, 3), (2,)])],
        ref=lambda x, w, b=None: x @ w.T + (0 if b is None else b),
    ),
    "conv2d": Spec(
        cases=[Case([(2, 2, 4, 4), (3, 2, 3, 3)], {"stride": (1, 1), "padding": (0, 0)}),
               Case([(1, 2, 5, 4), (2, 2, 3, 2)], {"stride": (2, 1), "padding": (1, 1)})],
        ref=_conv_ref,
    ),
    "conv2d_input_grad": Spec(
        cases=[Case([(2, 3, 2, 2), (3, 2, 3, 3)], {"x_shape": (2, 2, 4, 4), "stride": (1, 1), "padding": (0, 0)}),
               Case([(1, 2, 3, 5), (2, 2, 3, 2)], {"x_shape": (1, 2, 5, 4), "stride": (2, 1), "padding": (1, 1)})],
    ),
    "conv2d_weight_grad": Spec(
        cases=[Case([(2, 2, 4, 4), (2, 3, 2, 2)], {"w_shape": (3, 2, 3, 3), "stride": (1, 1), "padding": (0, 0)}),
               Case([(1, 2, 5, 4), (1, 2, 3, 5)], {"w_shape": (2, 2, 3, 2), "stride": (2, 1), "padding": (1, 1)})],
    ),
    "cross_entropy": Spec(
        cases=[Case([(4, 5)], {"target": _T, "reduction": "mean"}), Case([(4, 5)], {"target": _T, "reduction": "sum"}),
               Case([(4, 5)], {"target": _T, "reduction": "none"})],
        ref=_ce_ref,
    ),
}
