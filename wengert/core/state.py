"""Global switches of the engine: gradient recording, forward mode, anomaly detection.

They live in one small object so that the hot path reads one attribute, and so
that readers of the code find every switch in one place.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class _State:
    __slots__ = ("anomaly", "forward_active", "grad_enabled", "record_tangents", "tape", "tracing")

    def __init__(self) -> None:
        self.grad_enabled = True  # record the graph for reverse mode?
        self.forward_active = 0  # > 0 while a jvp is carrying tangents
        self.anomaly = False  # check every forward value and cotangent for NaN/Inf
        # Record tangent computations for reverse mode (reverse-over-forward)?  A jvp
        # with no reverse transform around it turns this off: its tangents then
        # travel as plain values even through ops that are recorded (e.g. the
        # forward pass inside hvp = jvp(grad(f))), which saves a second graph.
        self.record_tangents = True
        # > 0 while wg.jit traces a function: a tensor that depends on the traced
        # inputs then has no concrete value to hand to Python (bool, float, ...).
        self.tracing = 0
        self.tape: Any = None  # the scalar tape new scalar ops are recorded on (core.tensor.Tape)


STATE = _State()


class ConcretizationError(TypeError):
    """Python asked for the value of a tensor that wg.jit is tracing (``if x > 0:``, ``float(x)``)."""


def check_concrete(t: Any, what: str) -> None:
    """Raise :class:`ConcretizationError` if ``t`` depends on inputs that wg.jit is tracing."""
    if not STATE.tracing:
        return
    from .tensor import depends  # (core.tensor imports this module)

    if depends(t):
        raise ConcretizationError(
            f"{what} of a tensor computed from the traced inputs of a function that wg.jit is compiling: its value "
            "is not fixed while tracing, so Python control flow or conversions on it cannot be compiled. Compute it "
            "with tensor ops (e.g. wg.where instead of if/else), mark the argument static (static_argnums), "
            "or call the function without wg.jit"
        )


class _GradMode:
    """Context manager and decorator that sets gradient recording on or off."""

    _enabled: bool = True

    def __enter__(self) -> None:
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self._enabled

    def __exit__(self, *exc: object) -> None:
        STATE.grad_enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        mode = type(self)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mode():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Stop recording the graph (for evaluation and parameter updates).

    >>> import wengert as wg
    >>> x = wg.tensor(2.0, requires_grad=True)
    >>> with wg.no_grad():
    ...     y = x * 3
    >>> y.requires_grad
    False
    """

    _enabled = False


class enable_grad(_GradMode):
    """Record the graph again inside a ``no_grad`` block."""

    _enabled = True


def is_grad_enabled() -> bool:
    return STATE.grad_enabled


class detect_anomaly:
    """Raise at the first NaN or Inf produced by a forward or backward step.

    The error names the op and the line of user code that created it.

    >>> import wengert as wg
    >>> x = wg.tensor(-1.0, requires_grad=True)
    >>> with wg.detect_anomaly():
    ...     y = wg.log(x)                              # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FloatingPointError: forward of op 'log' produced nan...
    """

    def __enter__(self) -> detect_anomaly:  # noqa: PYI034
        self._prev = STATE.anomaly
        STATE.anomaly = True
        return self

    def __exit__(self, *exc: object) -> None:
        STATE.anomaly = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly():
                return fn(*args, **kwargs)

        return wrapper
