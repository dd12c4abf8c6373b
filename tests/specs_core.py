"""Specs for the core rule table (wengert/ops/table.py and wengert/core/shapes.py)."""
from __future__ import annotations

import numpy as np
from opspec import Case, Spec, away_from_zero, distinct, normal, positive, well_conditioned

UNARY_SHAPES = [Case([()]), Case([(3,)]), Case([(2, 3)])]
BINARY_SHAPES = [
    Case([(), ()]), Case([(3,), (3,)]), Case([(2, 3), (3,)]), Case([(2, 1), (1, 4)]), Case([(), (2, 2)]),
    Case([(4, 1, 3), (2, 1)]),
]
REDUCE_CASES = [
    Case([(4,)]), Case([(3, 4)], {"axis": 0}), Case([(3, 4)], {"axis": 1, "keepdims": True}),
    Case([(2, 3, 4)], {"axis": (0, 2)}), Case([(2, 3)], {"axis": None, "keepdims": True}), Case([()]),
]


def unary(draw=normal, ref=None, **kw):
    return Spec(cases=UNARY_SHAPES, draw=draw, ref=ref, **kw)


def binary(draw=normal, ref=None, **kw):
    return Spec(cases=BINARY_SHAPES, draw=draw, ref=ref, **kw)


def _pow_draw(rng, shape, i):
    return rng.uniform(0.5, 2.0, shape) if i == 0 else rng.uniform(-1.5, 2.5, shape)


def _bool_first(rng, shape, i):
    return rng.random(shape) > 0.5 if i == 0 else rng.standard_normal(shape)


def _clip_draw(rng, shape, i):
    x = rng.uniform(-2, 2, shape)
    return np.where(np.abs(np.abs(x) - 1.0) < 0.05, x * 0.8, x)  # keep away from the bounds


def _index_draw(rng, shape, i):
    return rng.standard_normal(shape)


SPECS = {
    # elementwise arithmetic
    "add": binary(ref=np.add),
    "subtract": binary(ref=np.subtract),
    "multiply": binary(ref=np.multiply),
    "divide": binary(draw=lambda rng, s, i: normal(rng, s, i) if i == 0 else positive(rng, s, i), ref=np.divide),
    "negative": unary(ref=np.negative),
    "power": binary(draw=_pow_draw, ref=np.power),
    "maximum": Spec(
        cases=[Case([(3,), (3,)]), Case([(2, 3), (3,)]), Case([(), ()])],
        draw=lambda rng, s, i: distinct(rng, s, i) + (0.11 if i else 0.0), ref=np.maximum),
    "minimum": Spec(cases=[Case([(3,), (3,)]), Case([(2, 3), (3,)]), Case([(), ()])],
                    draw=lambda rng, s, i: distinct(rng, s, i) + (0.11 if i else 0.0), ref=np.minimum),
    "where": Spec(cases=[Case([(3,), (3,), (3,)]), Case([(2, 3), (3,), (2, 1)]), Case([(), (), ()])],
                  draw=_bool_first, wrt=(1, 2), ref=np.where),
    # elementwise functions
    "exp": unary(ref=np.exp),
    "log": unary(draw=positive, ref=np.log),
    "log1p": unary(draw=positive, ref=np.log1p),
    "expm1": unary(ref=np.expm1),
    "sqrt": unary(draw=positive, ref=np.sqrt),
    "square": unary(ref=np.square),
    "sin": unary(ref=np.sin),
    "cos": unary(ref=np.cos),
    "tan": unary(draw=lambda rng, s, i: rng.uniform(-1.2, 1.2, s), ref=np.tan),
    "tanh": unary(ref=np.tanh),
    "tanh_grad": binary(draw=lambda rng, s, i: normal(rng, s, i) if i == 0 else rng.uniform(-0.9, 0.9, s),
                        ref=lambda g, a: g * (1 - a * a)),
    "arctan": unary(ref=np.arctan),
    "sinh": unary(ref=np.sinh),
    "cosh": unary(ref=np.cosh),
    "sigmoid": unary(ref=lambda x: 1 / (1 + np.exp(-x))),
    "softplus": unary(ref=lambda x: np.log1p(np.exp(x))),
    "relu": unary(draw=away_from_zero, ref=lambda x: np.maximum(x, 0)),
    "leaky_relu": Spec(cases=[Case([(3,)]), Case([(2, 3)], {"negative_slope": 0.2}), Case([()])],
                       draw=away_from_zero, ref=lambda x, negative_slope=0.01: np.where(x > 0, x, negative_slope * x)),
    "elu": Spec(cases=[Case([(3,)]), Case([(2, 3)], {"alpha": 0.5}), Case([()])], draw=away_from_zero,
                ref=lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(x))),
    "abs": unary(draw=away_from_zero, ref=np.abs),
    "erf": unary(),
    "clip": Spec(cases=[Case([(5,)], {"a_min": -1.0, "a_max": 1.0}), Case([(2, 3)], {"a_min": -1.0}), Case([()], {"a_max": 1.0})],
                 draw=_clip_draw, ref=lambda x, a_min=None, a_max=None: np.clip(x, a_min, a_max)),
    "sign": Spec(cases=UNARY_SHAPES, nondiff=True, ref=np.sign),
    # comparisons
    **{name: Spec(cases=BINARY_SHAPES[:3], nondiff=True, ref=getattr(np, name))
       for name in ["greater", "greater_equal", "less", "less_equal", "equal", "not_equal"]},
    "logical_and": Spec(cases=BINARY_SHAPES[:3], nondiff=True, ref=np.logical_and),
    "logical_or": Spec(cases=BINARY_SHAPES[:3], nondiff=True, ref=np.logical_or),
    "logical_not": Spec(cases=UNARY_SHAPES, nondiff=True, ref=np.logical_not),
    "isfinite": Spec(cases=UNARY_SHAPES, nondiff=True, ref=np.isfinite),
    "isnan": Spec(cases=UNARY_SHAPES, nondiff=True, ref=np.isnan),
    "isinf": Spec(cases=UNARY_SHAPES, nondiff=True, ref=np.isinf),
    # reductions
    "sum": Spec(cases=REDUCE_CASES, ref=np.sum),
    "max": Spec(cases=REDUCE_CASES, draw=distinct, ref=np.max),
    "min": Spec(cases=REDUCE_CASES, draw=distinct, ref=np.min),
    "prod": Spec(cases=REDUCE_CASES, draw=lambda rng, s, i: rng.uniform(0.5, 1.5, s) * rng.choice([-1, 1], s),
                 ref=np.prod),
    "logsumexp": Spec(cases=REDUCE_CASES, ref=lambda x, axis=None, keepdims=False:
                      np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))),
    "argmax": Spec(cases=[Case([(5,)]), Case([(3, 4)], {"axis": 1})], nondiff=True, draw=distinct, ref=np.argmax),
    "argmin": Spec(cases=[Case([(5,)]), Case([(3, 4)], {"axis": 0})], nondiff=True, draw=distinct, ref=np.argmin),
    "any": Spec(cases=[Case([(5,)]), Case([(3, 4)], {"axis": 1}), Case([(2, 3)], {"axis": 0, "keepdims": True})],
                nondiff=True, draw=lambda rng, s, i: rng.standard_normal(s) > 0.8, ref=np.any),
    "all": Spec(cases=[Case([(5,)]), Case([(3, 4)], {"axis": 1}), Case([(2, 3)], {"axis": 0, "keepdims": True})],
                nondiff=True, draw=lambda rng, s, i: rng.standard_normal(s) > -0.8, ref=np.all),
    "copy": unary(ref=np.copy),
    "prod_others": Spec(cases=[Case([(4,)]), Case([(3, 4)], {"axis": 1}), Case([(2, 3, 2)], {"axis": (0, 2)})],
                        draw=positive, rtol=1e-5,
                        ref=lambda x, axis=None: np.prod(x, axis=axis, keepdims=True) / x),
    # shape
    "reshape": Spec(cases=[Case([(2, 3)], {"shape": (3, 2)}), Case([(6,)], {"shape": (2, -1)}), Case([()], {"shape": (1,)})],
                    ref=np.reshape),
    "transpose": Spec(cases=[Case([(2, 3)]), Case([(2, 3, 4)], {"axes": (1, 2, 0)})], ref=np.transpose),
    "broadcast_to": Spec(cases=[Case([(3,)], {"shape": (2, 3)}), Case([(2, 1)], {"shape": (2, 4)}), Case([()], {"shape": (3,)})],
                         ref=np.broadcast_to),
    "sum_to": Spec(cases=[Case([(2, 3)], {"shape": (3,)}), Case([(2, 4)], {"shape": (2, 1)}), Case([(3,)], {"shape": ()})]),
    "cast": Spec(cases=[Case([(3,)], {"dtype": np.dtype(np.float64)})]),
    "stop_gradient": Spec(cases=UNARY_SHAPES, nondiff=True, ref=lambda x: x),  # what detach() records under wg.jit
    "getitem": Spec(cases=[
        Case([(5,)], {"index": 2}), Case([(4, 3)], {"index": (slice(1, 3), slice(None, None, 2))}),
        Case([(5,)], {"index": np.array([0, 0, 3])}), Case([(4, 3)], {"index": (np.array([1, 1, 2]), np.array([0, 2, 0]))}),
        Case([(4, 3)], {"index": np.array([True, False, True, True])}), Case([(3, 4)], {"index": (Ellipsis, None, 1)}),
    ], ref=lambda x, index: x[index]),
    "scatter_add": Spec(cases=[
        Case([(3,)], {"index": np.array([0, 0, 2]), "shape": (4,)}), Case([(2, 2)], {"index": (slice(1, 3), slice(0, 2)), "shape": (3, 3)}),
    ]),
    "concatenate": Spec(cases=[Case([(2, 3), (1, 3)]), Case([(2, 3), (2, 2), (2, 1)], {"axis": 1})],
                        ref=lambda *xs, axis=0: np.concatenate(xs, axis=axis)),
    "setitem": Spec(cases=[Case([(4,), ()], {"index": 1}), Case([(3, 4), (4,)], {"index": 1}),
                           Case([(5,), (2,)], {"index": np.array([0, 3])}), Case([(2, 3), (2, 1)], {"index": (slice(None), slice(1, 3))})]),
    "pad": Spec(cases=[Case([(3,)], {"pad_width": ((1, 2),)}), Case([(2, 3)], {"pad_width": ((0, 1), (2, 0)), "constant_values": 1.5})],
                ref=lambda x, pad_width, constant_values=0.0: np.pad(x, pad_width, constant_values=constant_values)),
    # linear algebra
    "matmul": Spec(cases=[Case([(2, 3), (3, 4)]), Case([(3,), (3, 4)]), Case([(2, 3), (3,)]), Case([(3,), (3,)]),
                          Case([(5, 2, 3), (3, 4)]), Case([(2, 1, 2, 3), (3, 3, 2)])], ref=np.matmul),
    "trace": Spec(cases=[Case([(3, 3)]), Case([(2, 4)])], ref=np.trace),
    "inv": Spec(cases=[Case([(3, 3)]), Case([(2, 2, 2)])], draw=well_conditioned, ref=np.linalg.inv),
    "det": Spec(cases=[Case([(3, 3)]), Case([(2, 2, 2)])], draw=well_conditioned, ref=np.linalg.det),
    "solve": Spec(cases=[Case([(3, 3), (3,)]), Case([(3, 3), (3, 2)])], draw=well_conditioned, ref=np.linalg.solve),
}
