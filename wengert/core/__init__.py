"""The engine: tensors, rules, the reverse walk, grad modes.  It knows no individual op."""
from . import shapes  # noqa: F401  (registers sum_to / broadcast_to / cast with the engine)
from .function import Context, Function
from .rule import REGISTRY, Rule, ShapeError, apply
from .state import STATE, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .tensor import Tensor, as_tensor, is_tensor, tensor

__all__ = ["Tensor", "tensor", "as_tensor", "is_tensor", "Rule", "REGISTRY", "ShapeError", "apply", "Function",
           "Context", "no_grad", "enable_grad", "is_grad_enabled", "detect_anomaly", "STATE"]
