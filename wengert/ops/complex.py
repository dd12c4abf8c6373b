"""Complex numbers: the ops that see a complex number as two real ones.

The engine's convention for complex derivatives is HIPS autograd's (JAX's
too; docs/complex.md compares it with PyTorch's).  Write ``z = x + iy`` and
a function's output ``f = u + iv``.  Then

* ``wg.grad(f)(z)`` is ``du/dx - i du/dy``: for a holomorphic ``f`` that is
  the complex derivative ``f'(z)``; for a real-valued ``f`` (a loss) it is the
  conjugate of the direction of steepest ascent;
* a VJP maps a cotangent ``g`` to ``g * f'(z)`` for holomorphic ops: a
  *transpose*, never a conjugate transpose.  So every holomorphic rule of the
  table (``multiply``, ``exp``, ``matmul`` ...) is right on complex numbers as
  written for real ones, and only the ops below, which are not holomorphic,
  have rules of their own;
* where a complex cotangent or tangent meets a real value (an input of an op
  with a complex output, a real output of an op with complex inputs), it is
  cast to its real part: the one place this happens is the ``cast`` rule that
  :func:`wengert.core.rule.fit` applies.

Ops that need an order (``maximum``, ``relu``, comparisons ...) refuse complex
inputs with an error naming the op (their records' ``real_only``); the
reductions ``max``, ``min``, ``argmax`` and ``argmin`` keep NumPy's order of
complex numbers (by real part, then imaginary part), as HIPS autograd does.

>>> import wengert as wg
>>> wg.grad(lambda z: z * z)(1 + 2j)                      # holomorphic: f'(z) = 2z
(2+4j)
>>> wg.grad(lambda z: wg.real(z * wg.conj(z)))(1 + 2j)    # |z|^2: du/dx - i du/dy = 2 conj(z)
(2-4j)
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.rule import REGISTRY, Rule
from ..core.tensor import Tensor, dtype_of, shape_of
from .batching import elementwise, loop
from .surface import Surface, composite
from .table import divide, equal, multiply, not_equal, where


def _is_complex(x: Any) -> bool:
    return type(x) is not float and dtype_of(x).kind == "c"


# ============================================================== the parts of a complex number
real = Rule(
    "real", np.real,
    # u = x, v = 0:  du/dx - i du/dy = 1, so the cotangent g passes (as g + 0j for a complex input)
    vjp=(lambda g, ans, x: g,),
    jvp=(lambda t, ans, x: real(t),),
    doc="the real part;  d/dx real(x + iy) = 1, d/dy = 0",
    surface=Surface(numpy=(np.real,)),
)

imag = Rule(
    "imag", np.imag,
    # u = y, v = 0:  du/dx - i du/dy = -i  (0 for a real input: fit keeps the real part of -i g)
    vjp=(lambda g, ans, x: multiply(-1j, g),),
    jvp=(lambda t, ans, x: imag(t),),
    doc="the imaginary part (zeros for a real input);  d/dx imag(x + iy) = 0, d/dy = 1",
    surface=Surface(numpy=(np.imag,)),
)

conjugate = Rule(
    "conjugate", np.conjugate,
    # u = x, v = -y: autograd's VJP formula gives g_x - i g_y = conj(g)
    vjp=(lambda g, ans, x: conjugate(g),),
    jvp=(lambda t, ans, x: conjugate(t),),
    doc="the complex conjugate x - iy (the identity on real numbers)",
    surface=Surface(aliases=("conj",), methods=("conj", "conjugate"), ufunc=np.conjugate),
)


def _angle_impl(z: Any, deg: bool = False) -> Any:
    return np.angle(z, deg=deg)


def _angle_d(ans: Any, z: Any, deg: bool = False) -> Any:
    # u = atan2(y, x):  du/dx - i du/dy = (-y - ix) / |z|^2 = -i / z;  0 for a real input (0 or pi, constant)
    if not _is_complex(z):
        return np.zeros(shape_of(z), dtype=np.result_type(dtype_of(z), np.float32))
    d = divide(-1j, z)
    return multiply(d, 180.0 / math.pi) if deg else d


angle = Rule(
    "angle", _angle_impl,
    partials=(_angle_d,),
    doc="the argument (phase) of a complex number, in radians (degrees with deg=True);  "
        "d angle / dz = -i/z in autograd's convention, 0 for real inputs",
    surface=Surface(methods=("angle",), numpy=(np.angle,)),
)


def abs_partial(ans: Any, z: Any) -> Any:
    """d|z| for a complex ``z``: du/dx - i du/dy = conj(z) / |z|, and 0 at z = 0 (as abs'(0) = 0 for reals)."""
    return divide(conjugate(z), where(equal(ans, 0.0), 1.0, ans))


def dtype_guard(op: str, when_complex: str, when_real: str, why: str, subject: str = "this real matrix",
                fix: str = "pass a complex matrix (a.astype(complex))") -> Rule:
    """An identity op for a result whose dtype NumPy or SciPy choose by the values (eig, sqrtm, real_if_close).

    The derivative formulas after it depend on that dtype, so a program that ``wg.jit`` compiled for one must not
    replay on the other: called as ``guard(x, kind=dtype_of(x).kind)`` while tracing, it raises if the kind changes.
    """
    def impl(x: Any, kind: str = "f") -> Any:
        got = np.asarray(x).dtype.kind
        if got != kind:  # (only a compiled program replayed on new values gets here)
            now, then = (when_complex, when_real) if got == "c" else (when_real, when_complex)
            raise ValueError(f"{op}: {subject} has {now}, but wg.jit compiled the function for one with {then} "
                             f"({why}); {fix} to compile one program for both")
        return x

    guard = Rule(f"{op}_dtype_guard", impl, register=False,
                 vjp=(lambda g, ans, x, kind="f": g,), jvp=(lambda t, ans, x, kind="f": t,),
                 doc=f"the identity, which raises when {op} changes dtype between a trace and its replay")
    guard.batch = elementwise(guard)
    return guard


def _real_if_close_impl(a: Any, tol: float = 100) -> Any:
    return np.real_if_close(a, tol=tol)


real_if_close_rule = Rule(
    "real_if_close", _real_if_close_impl,
    # the identity on values, or the real part: fit casts the cotangent / tangent to the input's / output's dtype
    vjp=(lambda g, ans, a, tol=100: g,),
    jvp=(lambda t, ans, a, tol=100: t,),
    doc="a complex input whose imaginary parts are all within tol machine epsilons of 0 as its real part; "
        "anything else unchanged",
)

_real_if_close_kind = dtype_guard("real_if_close", "imaginary parts that are not negligible",
                                  "negligible imaginary parts", "the output's dtype depends on the values",
                                  subject="this input", fix="call np.real(z) or keep z complex yourself")


@composite(numpy=(np.real_if_close,))
def real_if_close(a: Any, tol: float = 100) -> Any:
    """A complex input whose imaginary parts are all within ``tol`` machine epsilons of 0, as its real part
    (np.real_if_close); anything else unchanged.  The dtype depends on the values: a program ``wg.jit``
    compiled for one outcome refuses the other."""
    out = real_if_close_rule(a, tol=tol)
    return _real_if_close_kind(out, kind=dtype_of(out).kind)


# ============================================================== tests (no gradient)
@composite(numpy=(np.iscomplex,))
def iscomplex(x: Any) -> Any:
    """Elementwise: is the imaginary part nonzero? (bool; False everywhere for a real input)."""
    return not_equal(imag(x), 0)


@composite(numpy=(np.isreal,))
def isreal(x: Any) -> Any:
    """Elementwise: is the imaginary part zero? (bool; True everywhere for a real input)."""
    return equal(imag(x), 0)


@composite(numpy=(np.iscomplexobj,))
def iscomplexobj(x: Any) -> bool:
    """Does ``x`` have a complex dtype? (a Python bool, read from the dtype, not the values)."""
    return dtype_of(x).kind == "c"


@composite(numpy=(np.isrealobj,))
def isrealobj(x: Any) -> bool:
    """Does ``x`` have a non-complex dtype? (a Python bool, read from the dtype, not the values)."""
    return dtype_of(x).kind != "c"


def abs2(z: Any) -> Any:
    """|z|^2 as a real value: ``z * z`` for real numbers, ``real(z * conj(z))`` for complex ones (var, norm)."""
    return real(multiply(z, conjugate(z))) if _is_complex(z) else multiply(z, z)


# ============================================================== batching, and the ops defined on real numbers only
for _rule in (real, imag, conjugate, angle):
    _rule.batch = elementwise(_rule)
real_if_close_rule.batch = loop(real_if_close_rule)  # (whether it drops the imaginary part is decided per example)

UNORDERED = "complex numbers are not ordered; compare wg.real(z), wg.imag(z) or wg.abs(z) instead"
# The rules of the table whose definition needs real numbers: an order, or a real-only formula (the
# decompositions of ops/linalg.py say so in their records).  (max, min, argmax and argmin keep NumPy's order of
# complex numbers, by real part then imaginary part, as HIPS autograd does: they pick an element, and the
# gradient goes to it.)
REAL_ONLY = {
    **dict.fromkeys(["maximum", "minimum", "clip", "relu", "leaky_relu", "elu",
                     "greater", "greater_equal", "less", "less_equal"], UNORDERED),
    **dict.fromkeys(["logsumexp", "cross_entropy"], "it is defined for real logits; apply it to wg.real(z) or wg.abs(z)"),
    **dict.fromkeys(["sigmoid", "softplus"],
                    "its stable real formula has no complex version here; write it with wg.exp for complex inputs"),
}
for _name, _why in REAL_ONLY.items():
    REGISTRY[_name].real_only = _why

# NumPy's and PyTorch's attributes t.real and t.imag (properties, so not methods of the records' surfaces)
Tensor.real = property(real, doc="The real part (an op in the graph: gradients flow through it).")  # type: ignore[attr-defined]
Tensor.imag = property(imag, doc="The imaginary part (an op in the graph: gradients flow through it).")  # type: ignore[attr-defined]

__all__ = ["UNORDERED", "abs2", "abs_partial", "angle", "conjugate", "imag", "iscomplex", "iscomplexobj", "isreal", "isrealobj",
           "real", "real_if_close"]
