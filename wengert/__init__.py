"""wengert: backpropagation you can see, at the speed of NumPy.

>>> import wengert as wg
>>> x, y, z = (wg.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
>>> f = (x + y) * z
>>> f.backward()
>>> x.grad, y.grad, z.grad
(tensor(-4.), tensor(-4.), tensor(3.))
"""
from __future__ import annotations

from . import data, nn, optim  # noqa: F401  (neural networks, optimisers, datasets)
from .checkpoint import checkpoint  # noqa: F401  (gradient checkpointing: recompute instead of keeping)
from .core import (  # noqa: F401  (the engine)
    REGISTRY,
    Context,
    Function,
    Rule,
    ShapeError,
    Tensor,
    as_tensor,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    is_tensor,
    no_grad,
    set_grad_enabled,
    tensor,
)
from .io import load, save  # noqa: F401  (safetensors checkpoints)
from .jit import ConcretizationError, jit  # noqa: F401  (record once, replay on NumPy values)
from .ops.api import *  # wg.exp, wg.sum, ... as plain module functions
from .ops.api import abs, max, min, sum  # noqa: F401  (shadow the builtins on purpose, as NumPy does)
from .teach import GradientFlowMonitor, draw, trace  # noqa: F401  (seeing backprop; wg.trace(matrix) still sums the diagonal)
from .transforms import (  # noqa: F401  (derivatives as functions)
    GradcheckError,
    grad,
    gradcheck,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
    vmap,
)

__version__ = "0.1.0"

# ---- teaching tools that debug backprop: the wrong gate named, NaNs traced, forward vs reverse
from .teach import check_gates, compare_modes, explain_nan  # noqa: F401

# ---- wg.linalg and wg.fft: NumPy's np.linalg and np.fft on tensors (made from the records, after the surface)
from . import fft, linalg  # noqa: F401  # isort: skip

# ---- NumPy's index-expression builders: np.r_ / np.c_ cannot dispatch, so these take their place
# isort: split
from .ops.numpy_ext import c_, r_  # noqa: F401

# ---- dtype names as PyTorch spells them (NumPy dtypes: wg.float32 is np.float32; wg.float is float32, as torch.float)
# isort: split
import numpy as _np

float32, float64, double, float = _np.float32, _np.float64, _np.float64, _np.float32
complex64, complex128, cfloat, cdouble = _np.complex64, _np.complex128, _np.complex64, _np.complex128
int8, int16, int32, int64, uint8, long, int = _np.int8, _np.int16, _np.int32, _np.int64, _np.uint8, _np.int64, _np.int32
bool = _np.bool_

# ``from wengert import *`` gives every public name except those that would replace Python's own float, int, bool
__all__ = sorted(_n for _n in dir() if not _n.startswith("_") and _n not in ("float", "int", "bool", "annotations"))
