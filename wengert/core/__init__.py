"""The engine: tensors, rules, the reverse walk, grad modes.  It knows no individual op."""
from . import engine, shapes  # noqa: F401  (register the walk with Tensor, sum_to / broadcast_to / cast / stop_gradient with the engine)
from .function import Context, Function
from .rule import REGISTRY, Rule, ShapeError, apply
from .state import STATE, ConcretizationError, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .tensor import Tensor, as_tensor, is_tensor, tensor

__all__ = [
           "REGISTRY",
           "STATE",
           "ConcretizationError",
           "Context",
           "Function",
           "Rule",
           "ShapeError",
           "Tensor",
           "apply",
           "as_tensor",
           "detect_anomaly",
           "enable_grad",
           "is_grad_enabled",
           "is_tensor",
           "no_grad",
           "tensor",
]
