"""The engine: tensors, the Wengert list, rules, interpreters, the reverse walk.  It knows no individual op.

Read in this order: ``state`` (per-thread grad mode and interpreter stack),
``tape`` (the Wengert list), ``tensor`` (a value and its place in the list),
``rule`` (one record per primitive, and ``bind``, which applies one),
``interpret`` (the interpreters: eager, reverse, forward, staging, anomaly),
``walk`` (reverse mode), ``graph`` (the read API for the list's readers),
``shapes`` (the primitives the engine itself needs), ``function`` (custom ops).
"""
from . import shapes, walk  # noqa: F401  (register the walk with Tensor, sum_to / broadcast_to / cast / stop_gradient)
from .function import Context, Function
from .interpret import detect_anomaly
from .rule import REGISTRY, Rule, ShapeError, apply, bind
from .state import ConcretizationError, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .tensor import Tensor, as_tensor, is_tensor, tensor

__all__ = [
    "REGISTRY",
    "ConcretizationError",
    "Context",
    "Function",
    "Rule",
    "ShapeError",
    "Tensor",
    "apply",
    "as_tensor",
    "bind",
    "detect_anomaly",
    "enable_grad",
    "is_grad_enabled",
    "is_tensor",
    "no_grad",
    "set_grad_enabled",
    "tensor",
]
