"""Test specs for the rule table: one ``Spec`` per registered rule.

``tests/test_ops.py`` loops over ``wengert.REGISTRY`` and fails for any rule
without a spec, so adding an op means adding its spec.  Specs live in
``tests/specs_*.py`` files, each with a ``SPECS`` dict (rule name -> Spec).

A spec says how to draw inputs (several shape cases, including broadcasting
and keepdims), which arguments are differentiated, the op's parameters, and
an optional NumPy reference for the forward value.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Case:
    shapes: Sequence[tuple]  # one shape per array argument
    params: dict = field(default_factory=dict)


@dataclass
class Spec:
    cases: Sequence[Case]
    # how to draw an argument's values: rng, shape, arg index -> ndarray (float64 or complex128 unless it is a constant)
    draw: Callable[[np.random.Generator, tuple, int], Any] | None = None
    wrt: Sequence[int] | None = None  # differentiated arguments (default: all)
    ref: Callable[..., Any] | None = None  # NumPy reference: ref(*arrays, **params)
    call: Callable[..., Any] | None = None  # how to call the op (default: the rule itself)
    second_order: bool = True  # hvp / create_graph checks apply
    rtol: float = 1e-6
    eps: float = 1e-6
    nondiff: bool = False  # the rule has no gradient (comparisons, argmax)


def normal(rng: np.random.Generator, shape: tuple, i: int) -> np.ndarray:
    return rng.standard_normal(shape)


def positive(rng: np.random.Generator, shape: tuple, i: int) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


def away_from_zero(rng: np.random.Generator, shape: tuple, i: int) -> np.ndarray:
    """Normal values kept away from kinks at 0 (relu, abs, ...)."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.1, x + np.sign(x + 1e-12) * 0.2, x)


def distinct(rng: np.random.Generator, shape: tuple, i: int) -> np.ndarray:
    """Values with no ties and gaps much larger than the finite-difference step (max, min, sort...)."""
    n = int(np.prod(shape)) if shape else 1
    return (rng.permutation(n).reshape(shape) * 0.37 + rng.uniform(-0.05, 0.05, shape)).astype(np.float64)


def well_conditioned(rng: np.random.Generator, shape: tuple, i: int) -> np.ndarray:
    """Square matrices (batched) close to the identity, safe for inv/det/solve."""
    x = rng.standard_normal(shape) * 0.3
    if len(shape) >= 2 and shape[-1] == shape[-2]:
        x = x + 2.0 * np.eye(shape[-1])
    return x


def complex_normal(rng: np.random.Generator, shape: tuple, i: int) -> np.ndarray:
    """Complex values with standard normal real and imaginary parts."""
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def complex_right(rng: np.random.Generator, shape: tuple, i: int) -> np.ndarray:
    """Complex values in the right half-plane, away from the branch cut of log, sqrt and power (x <= 0)."""
    return rng.uniform(0.5, 2.0, shape) + 1j * rng.uniform(-1.5, 1.5, shape)


def load_specs(table: str = "SPECS") -> dict:
    """Every spec, from all ``tests/specs_*.py`` files (rule name -> Spec).

    ``table="COMPLEX_SPECS"`` gives the specs that check rules again on complex inputs
    (keyed ``NAME@complex``: a second spec of the same rule).
    """
    import importlib
    from pathlib import Path

    specs: dict = {}
    for path in sorted(Path(__file__).parent.glob("specs_*.py")):
        found = getattr(importlib.import_module(path.stem), table, {})
        specs.update(found if table == "SPECS" else {f"{name}@complex": s for name, s in found.items()})
    return specs


def setup_case(specs: dict, name: str, ci: int, seed: int) -> tuple:
    """Draw the inputs of case ``ci`` of rule ``name``.

    Returns ``(spec, case, rng, arrays, wrt, call)``: the float64 (or complex128) input arrays,
    the indices of the differentiated arguments, and ``call(*args, **params)``
    which applies the op (the rule itself unless the spec says otherwise).
    """
    from wengert.core.rule import REGISTRY

    spec = specs[name]
    case = spec.cases[ci]
    rng = np.random.default_rng(seed)
    draw = spec.draw or (lambda r, s, i: r.standard_normal(s))
    arrays = [np.asarray(draw(rng, shape, i)) for i, shape in enumerate(case.shapes)]
    arrays = [a.astype(np.float64) if a.dtype.kind == "f" else a.astype(np.complex128) if a.dtype.kind == "c" else a
              for a in arrays]
    wrt = tuple(spec.wrt if spec.wrt is not None else (i for i, a in enumerate(arrays) if a.dtype.kind in "fc"))
    rule = REGISTRY[name.partition("@")[0]]  # (NAME@complex: a second spec of the rule NAME)
    call = spec.call or (lambda *a, **p: rule(*a, **p))
    return spec, case, rng, arrays, wrt, call


def check_grads(f: Callable, *args: Any, order: int = 2) -> None:
    """Derivatives of ``f`` against finite differences (in the complex plane for complex values), both modes.

    ``wg.gradcheck`` compares the whole Jacobian in reverse and forward mode; ``order=2`` checks the
    VJP (for a random cotangent) and the JVP (for a random tangent) the same way, as HIPS autograd's
    ``check_grads`` does.
    """
    import wengert as wg

    rng = np.random.default_rng(0)

    def randn_like(a: Any) -> np.ndarray:
        r = rng.standard_normal(np.shape(a))
        return r + 1j * rng.standard_normal(np.shape(a)) if np.iscomplexobj(a) else r

    wg.gradcheck(f, *args, modes=("rev", "fwd"))
    if order < 2:
        return
    out = f(*args)
    u = randn_like(out.data if isinstance(out, wg.Tensor) else out)
    vs = tuple(randn_like(a) for a in args)
    wg.gradcheck(lambda *xs: wg.vjp(f, *xs)[1](u)[0], *args, modes=("rev", "fwd"))
    wg.gradcheck(lambda *xs: wg.jvp(f, xs, vs)[1], *args, modes=("rev", "fwd"))


def cube_gate():
    """A hand-written gate for tests of ``wg.Function``: x**3 with backward and jvp."""
    import wengert as wg

    class Cube(wg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x**2

        @staticmethod
        def jvp(ctx, t):
            (x,) = ctx.saved_tensors
            return t * 3 * x**2

    return Cube
