"""Specs for the primitives of wengert/ops/numpy_ext.py (the NumPy surface of issue 11).

The composites of that module (stacking, splitting, sort, trace, ...) are
checked in tests/test_numpy_ext.py.
"""
from __future__ import annotations

import numpy as np
from opspec import Case, Spec, distinct, normal, positive

UNARY = [Case([()]), Case([(3,)]), Case([(2, 3)])]
BINARY = [Case([(), ()]), Case([(3,), (3,)]), Case([(2, 3), (3,)]), Case([(2, 1), (1, 4)])]
SCAN = [Case([(4,)], {"axis": 0}), Case([(3, 4)], {"axis": 1}), Case([(2, 3, 2)], {"axis": -2})]


def uniform(lo, hi):
    return lambda rng, shape, i: rng.uniform(lo, hi, shape)


def signed(lo, hi):
    """Values of magnitude in [lo, hi] and either sign (away from 0)."""
    return lambda rng, shape, i: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], shape)


def unary(draw=normal, ref=None, **kw):
    return Spec(cases=UNARY, draw=draw, ref=ref, **kw)


def binary(draw=normal, ref=None, **kw):
    return Spec(cases=BINARY, draw=draw, ref=ref, **kw)


def nondiff(ref, cases=UNARY, draw=None):
    return Spec(cases=cases, draw=draw or uniform(-3, 3), ref=ref, nondiff=True)


def _remainder_draw(rng, shape, i):
    return rng.uniform(-3, 3, shape) if i == 0 else rng.uniform(0.7, 1.9, shape) * rng.choice([-1.0, 1.0], shape)


def _apart(rng, shape, i):
    """Distinct values, the second argument shifted so that no pair ties (fmax, fmin)."""
    return distinct(rng, shape, i) + (0.11 if i else 0.0)


def _indices_second(rng, shape, i):
    """Float data for argument 0, integer indices in [0, 2) (repeats included) for argument 1."""
    return rng.standard_normal(shape) if i == 0 else rng.integers(0, 2, shape)


SPECS = {
    # unary ufuncs
    "log2": unary(positive, np.log2),
    "log10": unary(positive, np.log10),
    "exp2": unary(normal, np.exp2),
    "arcsin": unary(uniform(-0.9, 0.9), np.arcsin),
    "arccos": unary(uniform(-0.9, 0.9), np.arccos),
    "arcsinh": unary(normal, np.arcsinh),
    "arccosh": unary(uniform(1.2, 3.0), np.arccosh),
    "arctanh": unary(uniform(-0.9, 0.9), np.arctanh),
    "rad2deg": unary(normal, np.rad2deg),
    "deg2rad": unary(normal, np.deg2rad),
    "reciprocal": unary(signed(0.5, 2.0), np.reciprocal),
    "cbrt": unary(signed(0.5, 2.0), np.cbrt),
    "sinc": unary(uniform(-2.5, 2.5), np.sinc),
    # no gradient
    "floor": nondiff(np.floor),
    "ceil": nondiff(np.ceil),
    "trunc": nondiff(np.trunc),
    "rint": nondiff(np.rint),
    "round": nondiff(lambda x, decimals=0: np.round(x, decimals),
                     cases=[Case([(3,)]), Case([(2, 3)], {"decimals": 1}), Case([()], {"decimals": -1})]),
    "floor_divide": nondiff(np.floor_divide, cases=BINARY[1:], draw=_remainder_draw),
    # binary ufuncs
    "arctan2": binary(signed(0.3, 2.0), np.arctan2),
    "hypot": binary(signed(0.3, 2.0), np.hypot),
    "logaddexp": binary(normal, np.logaddexp),
    "logaddexp2": binary(normal, np.logaddexp2),
    "fmax": Spec(cases=BINARY[:3], draw=_apart, ref=np.fmax),
    "fmin": Spec(cases=BINARY[:3], draw=_apart, ref=np.fmin),
    "remainder": binary(_remainder_draw, np.remainder),
    "fmod": binary(_remainder_draw, np.fmod),
    # the scan (cumprod is a composite: tests/test_numpy_ext.py)
    "cumsum": Spec(cases=SCAN, ref=lambda x, axis: np.cumsum(x, axis=axis)),
    # sorting permutations (no gradient) and the gather / scatter they feed
    "argsort": Spec(cases=[Case([(5,)]), Case([(3, 4)], {"axis": 0}), Case([(2, 3)], {"axis": None})],
                    draw=distinct, nondiff=True, ref=lambda x, axis=-1: np.argsort(x, axis=axis)),
    "argpartition": Spec(cases=[Case([(5,)], {"kth": 2}), Case([(3, 4)], {"kth": (0, 3), "axis": 1})],
                         draw=distinct, nondiff=True,
                         ref=lambda x, kth, axis=-1: np.argpartition(x, kth, axis=axis)),
    "gather_along": Spec(cases=[Case([(3, 4), (3, 5)], {"axis": 1}), Case([(4, 2), (3, 2)], {"axis": 0}),
                                Case([(2, 3), (1, 3)], {"axis": 0}), Case([(2, 1), (3, 3)], {"axis": 0})],
                         draw=_indices_second, wrt=(0,),
                         ref=lambda x, idx, axis: np.take_along_axis(x, idx, axis=axis)),
    "scatter_along": Spec(cases=[Case([(3, 4), (3, 4)], {"axis": 1, "shape": (3, 2)}),
                                 Case([(3, 2), (3, 2)], {"axis": 0, "shape": (2, 2)})],
                          draw=_indices_second, wrt=(0,)),
}
