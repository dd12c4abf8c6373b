"""What each thread is doing: grad mode, its eager Wengert list, and the stack of interpreters.

Every mode of the engine is an *interpreter* that processes ops (see
:mod:`wengert.core.interpret`): evaluating on plain values, recording the
eager Wengert list for ``backward()``, and one more for each running
transform (``grad``, ``jvp``, ``wg.jit`` ...).  A transform pushes its
interpreter as a new *level* on this thread's stack; an op is processed by
the highest level that owns one of its inputs.  *Dynamic* interpreters
(anomaly checking, the trace tables' frame capture) see every op while they
are active, whoever owns the inputs.

All of it lives per thread (a ``ContextVar`` whose value each thread creates
on first use), as PyTorch's grad mode does: a thread inside ``no_grad`` or a
transform never changes what another thread records.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any


class ThreadState:
    """The per-thread state (one object per thread, see :func:`state`)."""

    __slots__ = ("dynamic", "grad_enabled", "levels", "tape")

    def __init__(self) -> None:
        from .tape import Tape  # (the tape module imports nothing from here at import time)

        self.grad_enabled = True  # record for reverse mode? (no_grad / enable_grad)
        self.tape: Any = Tape()  # the eager Wengert list new recorded ops go on
        self.levels: list = []  # the interpreters of the running transforms; levels[i].level == i + 1
        self.dynamic: Any = None  # the innermost dynamic interpreter (anomaly, ...), or None


_STATE: ContextVar[ThreadState] = ContextVar("wengert_state")
_get = _STATE.get


def state() -> ThreadState:
    """This thread's state (made on first use: a new thread starts with grad mode on and no transform)."""
    try:
        return _get()
    except LookupError:
        st = ThreadState()
        _STATE.set(st)
        return st


class ConcretizationError(TypeError):
    """Python asked for the plain value of a traced tensor (``if x > 0:``, ``float(x)``) inside wg.jit or wg.vmap."""


# ====================================================================== grad mode
class _GradMode:
    """Context manager and decorator that sets gradient recording on or off for this thread."""

    _enabled: bool = True

    def __enter__(self) -> None:
        st = state()
        self._prev = st.grad_enabled
        st.grad_enabled = self._enabled

    def __exit__(self, *exc: object) -> None:
        state().grad_enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        mode = type(self)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mode():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Stop recording for reverse mode (for evaluation and parameter updates), in this thread.

    >>> import wengert as wg
    >>> x = wg.tensor(2.0, requires_grad=True)
    >>> with wg.no_grad():
    ...     y = x * 3
    >>> y.requires_grad
    False
    """

    _enabled = False


class enable_grad(_GradMode):
    """Record again inside a ``no_grad`` block."""

    _enabled = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(mode)``: recording on or off, as a context manager or a plain call (as in PyTorch).

    >>> import wengert as wg
    >>> with wg.set_grad_enabled(False):
    ...     wg.is_grad_enabled()
    False
    """

    def __init__(self, mode: bool) -> None:
        self._enabled = bool(mode)
        st = state()
        self._prev = st.grad_enabled
        st.grad_enabled = self._enabled  # a plain call sets the mode at once

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        state().grad_enabled = self._prev


def is_grad_enabled() -> bool:
    """Is this thread recording for reverse mode?"""
    return state().grad_enabled


__all__ = ["ConcretizationError", "ThreadState", "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled",
           "state"]
