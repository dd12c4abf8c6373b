"""Specs for complex numbers: the rules of wengert/ops/complex.py (SPECS), and the rules of the
core table checked again on complex inputs (COMPLEX_SPECS, run by test_ops as ``NAME@complex``).

Derivatives are checked in the complex plane in HIPS autograd's convention (see tests/test_ops.py
and docs/complex.md).  Inputs of log, sqrt and power stay in the right half-plane, away from the
branch cut on the negative real axis.
"""
from __future__ import annotations

import numpy as np
from opspec import Case, Spec, complex_normal, complex_right, normal

UNARY = [Case([()]), Case([(3,)]), Case([(2, 3)])]
BINARY = [Case([(), ()]), Case([(3,), (3,)]), Case([(2, 3), (3,)]), Case([(2, 1), (1, 4)])]


def unary(draw=complex_normal, ref=None, **kw):
    return Spec(cases=UNARY, draw=draw, ref=ref, **kw)


def binary(draw=complex_normal, ref=None, **kw):
    return Spec(cases=BINARY, draw=draw, ref=ref, **kw)


def _mixed(rng, shape, i):
    """A complex first argument and a real second one (a real value meets a complex cotangent)."""
    return complex_normal(rng, shape, i) if i == 0 else normal(rng, shape, i)


def _real_first(rng, shape, i):
    return normal(rng, shape, i) if i == 0 else complex_normal(rng, shape, i)


def _distinct_real_parts(rng, shape, i):
    n = int(np.prod(shape)) if shape else 1
    return (rng.permutation(n).reshape(shape) * 0.37) + 1j * rng.standard_normal(shape)


def _away_from_zero(rng, shape, i):
    z = complex_normal(rng, shape, i)
    return np.where(np.abs(z) < 0.3, z + 0.5, z)


def _far_from_real(rng, shape, i):
    """Complex values (kept complex by real_if_close; tests/test_complex.py checks the values it makes real)."""
    return complex_normal(rng, shape, i) if len(shape) != 1 else normal(rng, shape, i)


def _complex_matrix(rng, shape, i):
    z = 0.3 * complex_normal(rng, shape, i)
    if len(shape) >= 2 and shape[-1] == shape[-2]:
        z = z + 2.0 * np.eye(shape[-1])
    return z


def _bool_first(rng, shape, i):
    return rng.random(shape) > 0.5 if i == 0 else complex_normal(rng, shape, i)


SPECS = {
    "real": Spec(cases=UNARY, draw=complex_normal, ref=np.real),
    "imag": Spec(cases=UNARY, draw=complex_normal, ref=np.imag),
    "conjugate": Spec(cases=UNARY, draw=complex_normal, ref=np.conjugate),
    "angle": Spec(cases=[Case([()]), Case([(3,)]), Case([(2, 3)], {"deg": True})], draw=_away_from_zero,
                  ref=lambda z, deg=False: np.angle(z, deg=deg)),
    "real_if_close": Spec(cases=[Case([(3,)]), Case([(2, 2)], {"tol": 1000}), Case([()])], draw=_far_from_real,
                          ref=lambda a, tol=100: np.real_if_close(a, tol=tol)),
}

def _fft_cases(real_input: bool) -> list:
    """n equal to, below and above the input's length, other axes, each norm."""
    return [Case([(5,)]), Case([(3, 4)], {"axis": 0, "norm": "ortho"}), Case([(2, 5)], {"n": 3, "norm": "forward"}),
            Case([(4, 3)], {"n": 6, "axis": -1, "norm": "backward"}), Case([(2, 3, 4)], {"axis": 1, "n": 4})]


def _fft_ref(name):
    return lambda a, n=None, axis=-1, norm=None: getattr(np.fft, name)(a, n=n, axis=axis, norm=norm)


def _half_spectrum(rng, shape, i):
    return complex_normal(rng, shape, i)


FFT_SPECS = {
    "fft": Spec(cases=_fft_cases(False), draw=complex_normal, ref=_fft_ref("fft")),
    "ifft": Spec(cases=_fft_cases(False), draw=complex_normal, ref=_fft_ref("ifft")),
    "rfft": Spec(cases=_fft_cases(True), draw=normal, ref=_fft_ref("rfft")),
    # irfft: odd and even n, the default n = 2(m - 1), inputs cut (n small) and padded (n large)
    "irfft": Spec(cases=[Case([(4,)]), Case([(3, 4)], {"axis": 0, "n": 5, "norm": "ortho"}),
                         Case([(2, 5)], {"n": 4, "norm": "forward"}), Case([(4, 3)], {"n": 9}),
                         Case([(2, 3, 4)], {"axis": 1, "n": 3})],
                  draw=_half_spectrum, ref=_fft_ref("irfft")),
    "fftshift": Spec(cases=[Case([(5,)]), Case([(4, 3)], {"axes": 0}), Case([(2, 3, 4)], {"axes": (0, 2)})],
                     draw=complex_normal, ref=lambda x, axes=None: np.fft.fftshift(x, axes=axes)),
    "ifftshift": Spec(cases=[Case([(5,)]), Case([(4, 3)], {"axes": (-1,)})], draw=normal,
                      ref=lambda x, axes=None: np.fft.ifftshift(x, axes=axes)),
}
SPECS.update(FFT_SPECS)

# The rules of the core table on complex inputs: holomorphic ones keep their real formulas (a VJP is
# g * f'(z)), abs has its own complex derivative, and real inputs mixed with complex ones get the
# real part of their cotangent.
COMPLEX_SPECS = {
    "fft": Spec(cases=_fft_cases(True)[:3], draw=normal, ref=_fft_ref("fft")),  # (named @complex: real input here)
    "ifft": Spec(cases=_fft_cases(True)[:3], draw=normal, ref=_fft_ref("ifft")),
    "add": binary(ref=np.add),
    "subtract": binary(draw=_mixed, ref=np.subtract),
    "multiply": binary(ref=np.multiply),
    "divide": binary(draw=lambda rng, s, i: complex_normal(rng, s, i) if i == 0 else complex_right(rng, s, i),
                     ref=np.divide),
    "negative": unary(ref=np.negative),
    "power": Spec(cases=[Case([(), ()]), Case([(3,), (3,)]), Case([(2, 3), ()], {})],
                  draw=lambda rng, s, i: complex_right(rng, s, i) if i == 0 else 0.5 * complex_normal(rng, s, i),
                  ref=np.power),
    "where": Spec(cases=[Case([(3,), (3,), (3,)]), Case([(2, 3), (3,), (2, 1)])], draw=_bool_first, wrt=(1, 2),
                  ref=np.where),
    "exp": unary(ref=np.exp),
    "log": unary(draw=complex_right, ref=np.log),
    "log1p": unary(draw=complex_right, ref=np.log1p),
    "expm1": unary(ref=np.expm1),
    "sqrt": unary(draw=complex_right, ref=np.sqrt),
    "square": unary(ref=np.square),
    "sin": unary(ref=np.sin),
    "cos": unary(ref=np.cos),
    "tan": unary(draw=lambda rng, s, i: 0.5 * complex_normal(rng, s, i), ref=np.tan),
    "tanh": unary(draw=lambda rng, s, i: 0.5 * complex_normal(rng, s, i), ref=np.tanh),
    "arctan": unary(draw=lambda rng, s, i: 0.5 * complex_normal(rng, s, i), ref=np.arctan),
    "erf": unary(draw=lambda rng, s, i: 0.7 * complex_normal(rng, s, i)),
    "sinh": unary(ref=np.sinh),
    "cosh": unary(ref=np.cosh),
    "abs": unary(draw=_away_from_zero, ref=np.abs),
    "copy": unary(ref=np.copy),
    "sign": Spec(cases=UNARY, draw=_away_from_zero, nondiff=True, ref=np.sign),
    "equal": Spec(cases=BINARY[:2], draw=complex_normal, nondiff=True, ref=np.equal),
    "not_equal": Spec(cases=BINARY[:2], draw=complex_normal, nondiff=True, ref=np.not_equal),
    "isfinite": Spec(cases=UNARY, draw=complex_normal, nondiff=True, ref=np.isfinite),
    # NumPy's order of complex numbers: by real part (distinct here), then imaginary part
    **{name: Spec(cases=[Case([(4,)]), Case([(3, 4)], {"axis": 1}), Case([(2, 3)], {"axis": 0, "keepdims": True})],
                  draw=_distinct_real_parts, ref=getattr(np, name), nondiff=name.startswith("arg"))
       for name in ("max", "min", "argmax", "argmin")},
    "sum": Spec(cases=[Case([(4,)]), Case([(3, 4)], {"axis": 0}), Case([(2, 3)], {"axis": 1, "keepdims": True})],
                draw=complex_normal, ref=np.sum),
    "prod": Spec(cases=[Case([(4,)]), Case([(3, 4)], {"axis": 1})], draw=_away_from_zero, ref=np.prod),
    "prod_others": Spec(cases=[Case([(4,)]), Case([(3, 4)], {"axis": 1})], draw=_away_from_zero, rtol=1e-5,
                        ref=lambda x, axis=None: np.prod(x, axis=axis, keepdims=True) / x),
    "reshape": Spec(cases=[Case([(2, 3)], {"shape": (3, 2)})], draw=complex_normal, ref=np.reshape),
    "transpose": Spec(cases=[Case([(2, 3, 4)], {"axes": (1, 2, 0)})], draw=complex_normal, ref=np.transpose),
    "broadcast_to": Spec(cases=[Case([(3,)], {"shape": (2, 3)})], draw=complex_normal, ref=np.broadcast_to),
    "sum_to": Spec(cases=[Case([(2, 3)], {"shape": (3,)})], draw=complex_normal),
    "cast": Spec(cases=[Case([(3,)], {"dtype": np.dtype(np.complex128)}), Case([(2, 2)], {"dtype": np.dtype(np.float64)})],
                 draw=lambda rng, s, i: complex_normal(rng, s, i) if len(s) == 2 else normal(rng, s, i)),
    "getitem": Spec(cases=[Case([(5,)], {"index": np.array([0, 0, 3])}), Case([(4, 3)], {"index": (slice(1, 3), 1)})],
                    draw=complex_normal, ref=lambda x, index: x[index]),
    "scatter_add": Spec(cases=[Case([(3,)], {"index": np.array([0, 0, 2]), "shape": (4,)})], draw=complex_normal),
    "concatenate": Spec(cases=[Case([(2, 3), (1, 3)]), Case([(2, 2), (2, 1)], {"axis": 1})], draw=_real_first,
                        ref=lambda *xs, axis=0: np.concatenate(xs, axis=axis)),
    "setitem": Spec(cases=[Case([(4,), ()], {"index": 1}), Case([(3, 4), (4,)], {"index": 1})], draw=complex_normal),
    "pad": Spec(cases=[Case([(3,)], {"pad_width": ((1, 2),)})], draw=complex_normal,
                ref=lambda x, pad_width, constant_values=0.0: np.pad(x, pad_width, constant_values=constant_values)),
    "matmul": Spec(cases=[Case([(2, 3), (3, 4)]), Case([(3,), (3, 2)]), Case([(2, 3), (3,)])], draw=_real_first,
                   ref=np.matmul),
    "einsum": Spec(cases=[Case([(2, 3), (3, 4)], {"subscripts": "ij,jk->ik"}), Case([(2, 3), (2, 3)], {"subscripts": "ij,ij->"})],
                   draw=complex_normal, ref=lambda *ops, subscripts: np.einsum(subscripts, *ops)),
    "trace": Spec(cases=[Case([(3, 3)])], draw=complex_normal, ref=np.trace),
    "inv": Spec(cases=[Case([(3, 3)]), Case([(2, 2, 2)])], draw=_complex_matrix, ref=np.linalg.inv),
    "det": Spec(cases=[Case([(3, 3)]), Case([(2, 2, 2)])], draw=_complex_matrix, ref=np.linalg.det),
    "solve": Spec(cases=[Case([(3, 3), (3,)]), Case([(3, 3), (3, 2)])], draw=_complex_matrix, ref=np.linalg.solve),
    "linear": Spec(cases=[Case([(4, 3), (2, 3), (2,)])], draw=complex_normal,
                   ref=lambda x, w, b: x @ w.T + b),
    "conv2d": Spec(cases=[Case([(1, 2, 4, 4), (3, 2, 2, 2)], {"stride": (1, 1), "padding": (1, 1)})],
                   draw=complex_normal),
    "conv2d_input_grad": Spec(cases=[Case([(1, 3, 2, 2), (3, 2, 3, 3)],
                                          {"x_shape": (1, 2, 4, 4), "stride": (1, 1), "padding": (0, 0)})],
                              draw=complex_normal),
    "conv2d_weight_grad": Spec(cases=[Case([(1, 2, 4, 4), (1, 3, 2, 2)],
                                           {"w_shape": (3, 2, 3, 3), "stride": (1, 1), "padding": (0, 0)})],
                               draw=_real_first),
    "stop_gradient": Spec(cases=UNARY[1:], draw=complex_normal, nondiff=True, ref=lambda x: x),
    **{name: Spec(cases=UNARY[1:], draw=complex_normal, nondiff=True, ref=getattr(np, name))
       for name in ("isnan", "isinf", "logical_not")},
    **{name: Spec(cases=BINARY[1:3], draw=complex_normal, nondiff=True, ref=getattr(np, name))
       for name in ("logical_and", "logical_or")},
    **{name: Spec(cases=[Case([(4,)]), Case([(2, 3)], {"axis": 1})], nondiff=True, ref=getattr(np, name),
                  draw=lambda rng, s, i: complex_normal(rng, s, i) * (rng.random(s) > 0.3))
       for name in ("any", "all")},
}


