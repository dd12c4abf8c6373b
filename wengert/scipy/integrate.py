"""``scipy.integrate.odeint`` with derivatives: the adjoint method in reverse mode, forward sensitivities in forward mode.

``odeint(func, y0, t, args)`` solves dy/dt = func(y, t, *args) with SciPy's
LSODA and returns y at the times ``t`` (shape ``(len(t), len(y0))``).  It is one
rule, ``scipy.integrate.odeint``, differentiable in the initial state ``y0``,
the time points ``t`` and the floating-point arrays passed through ``args``:

* **VJP (the adjoint method).**  Between two output times, the adjoint
  a(t) = dL/dy(t) obeys da/dt = -(df/dy)^T a, and the parameters' cotangent
  gathers dp/dt = -(df/dp)^T a.  Both are integrated *backwards*, from t[i] to
  t[i-1], together with y itself (restarted at each output y(t[i])), as one
  augmented system; ``func``'s VJPs come from ``wg.vjp``.  The time points get
  g_i . f(y_i, t_i), and t[0] gets -a(t[0]) . f(y_0, t_0).
* **JVP (forward sensitivities).**  The tangent s = dy obeys
  ds/dt = (df/dy) s + (df/dp) dp, integrated forwards with y, from
  s(t[0]) = dy0 - f(y0, t0) dt0; the output tangent at t[i] adds f(y_i, t_i) dt_i.

Both solve ODEs with this same rule (``func``'s VJP and JVP written with the
transforms), so they are differentiable again: second derivatives come by
composition.  Their accuracy is the solver's: pass ``rtol``/``atol`` as to SciPy.

Write ``func`` with wengert or NumPy functions (both work on the tensors the
derivatives pass in), and pass every parameter you differentiate through
``args``: a tensor ``func`` closes over gets no gradient, and using one is an error.

>>> import numpy as np
>>> import wengert as wg
>>> from wengert.scipy.integrate import odeint
>>> decay = lambda y, t, k: -k * y                        # y(t) = y0 e^(-k t)
>>> t = np.array([0.0, 1.0])
>>> float(odeint(decay, 2.0, t, args=(0.5,), rtol=1e-10, atol=1e-10)[1, 0])   # 2 e^-0.5
1.213061319...
>>> dk = wg.grad(lambda k: odeint(decay, 2.0, t, args=(k,), rtol=1e-10, atol=1e-10)[1, 0])(0.5)
>>> round(float(dk), 6)                                    # d/dk 2 e^(-k) = -2 e^(-k)
-1.213061
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.integrate as si

from ..core.rule import Rule
from ..core.tensor import Tensor, dtype_of, is_traced, shape_of, value_of
from ..ops import batching
from ..ops import composite as C
from ..ops import table as R
from ._util import PUBLIC, public


def _rhs(func: Callable) -> Callable:
    """``func`` as SciPy calls it: plain values in, a flat float array out."""

    def rhs(y: np.ndarray, t: float, *args: Any) -> np.ndarray:
        out = func(y, t, *args)
        if is_traced(out):
            raise ValueError(
                "odeint: func's value depends on a tensor that carries a gradient but is not one of odeint's "
                "inputs; pass it through args=(...) so that its gradient is computed")
        return np.asarray(value_of(out), dtype=np.float64).ravel()

    return rhs


def _odeint_impl(y0: Any, t: Any, *args: Any, func: Callable, options: tuple, adjoint: tuple) -> Any:
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"odeint: t must be a 1-D array of time points, got shape {t.shape}")
    y0 = np.asarray(y0, dtype=np.float64).ravel()
    return si.odeint(_rhs(func), y0, t, args=tuple(args), **dict(options))


def _row(x: Any, i: int) -> Any:
    return R.getitem(x, index=i)


def _flat(x: Any) -> Any:
    return R.reshape(x, shape=(-1,))


def _f(func: Callable, y: Any, t: Any, args: tuple) -> Any:
    return _flat(func(y, t, *args))


def _odeint_vjp(g: Any, ans: Any, needs: list, y0: Any, t: Any, *args: Any, func: Callable, options: tuple,
                adjoint: tuple) -> list:
    from ..transforms import vjp

    steps, dim = shape_of(ans)
    sizes = [int(np.prod(shape_of(a))) for a in args]

    def augmented(state: Any, tt: Any, *a: Any) -> Any:
        # [y, a_y, a_p]' = [f, -(df/dy)^T a_y, -(df/dp)^T a_y]
        y = R.getitem(state, index=slice(0, dim))
        adj = R.getitem(state, index=slice(dim, 2 * dim))
        f, pull = vjp(lambda yy, *aa: func(yy, tt, *aa), y, *a)
        cts = pull(-adj)
        return R.concatenate(_flat(f), *[_flat(c) for c in cts], axis=0)

    adj_y = _row(g, steps - 1)
    adj_p = np.zeros(sum(sizes))
    t_bar = [None] * steps
    before_g0 = np.zeros(dim)  # the adjoint at t[0] before g[0] is added
    for i in range(steps - 1, 0, -1):
        yi = _row(ans, i)
        t_bar[i] = R.sum_(_f(func, yi, _row(t, i), args) * _row(g, i))
        state = R.concatenate(yi, adj_y, adj_p, axis=0)
        span = C.stack([_row(t, i), _row(t, i - 1)])
        back = _row(_odeint(state, span, *args, func=augmented, options=adjoint, adjoint=adjoint), 1)
        before_g0 = R.getitem(back, index=slice(dim, 2 * dim))
        adj_y = before_g0 + _row(g, i - 1)
        adj_p = R.getitem(back, index=slice(2 * dim, None))
    t_bar[0] = -R.sum_(_f(func, _row(ans, 0), _row(t, 0), args) * before_g0)
    out = [R.reshape(adj_y, shape=shape_of(y0)) if needs[0] else None,
           C.stack(t_bar) if needs[1] else None]
    start = 0
    for a, n, need in zip(args, sizes, needs[2:]):
        out.append(R.reshape(R.getitem(adj_p, index=slice(start, start + n)), shape=shape_of(a)) if need else None)
        start += n
    return out


def _odeint_jvp(tangents: list, ans: Any, y0: Any, t: Any, *args: Any, func: Callable, options: tuple,
                adjoint: tuple) -> Any:
    from ..transforms import jvp

    steps, dim = shape_of(ans)
    dy0, dt = tangents[0], tangents[1]
    dargs = [np.zeros(shape_of(a), dtype_of(a)) if d is None else d for a, d in zip(args, tangents[2:])]
    n = len(args)
    s0 = np.zeros(dim) if dy0 is None else _flat(dy0)
    if dt is not None:  # moving t[0] moves the start: s(t0) = dy0 - f(y0, t0) dt0
        s0 = s0 - _f(func, _flat(y0), _row(t, 0), args) * _row(dt, 0)

    def sensitivity(state: Any, tt: Any, *a: Any) -> Any:
        # [y, s]' = [f, (df/dy) s + (df/dp) dp]
        y = R.getitem(state, index=slice(0, dim))
        s = R.getitem(state, index=slice(dim, 2 * dim))
        f, jf = jvp(lambda yy, *aa: func(yy, tt, *aa), (y, *a[:n]), (s, *a[n:]))
        return R.concatenate(_flat(f), _flat(jf), axis=0)

    state = R.concatenate(_flat(y0) + np.zeros(dim), s0, axis=0)
    sol = _odeint(state, t, *args, *dargs, func=sensitivity, options=adjoint, adjoint=adjoint)
    out = R.getitem(sol, index=(slice(None), slice(dim, 2 * dim)))
    if dt is not None:  # moving t[i] moves where y is read: + f(y_i, t_i) dt_i
        fs = C.stack([_f(func, _row(ans, i), _row(t, i), args) for i in range(steps)])
        out = out + fs * R.reshape(dt, shape=(steps, 1))
    return out


_odeint = Rule("scipy.integrate.odeint", _odeint_impl, vjp_all=_odeint_vjp, jvp_all=_odeint_jvp,
               doc="y at the times t of dy/dt = func(y, t, *args) (LSODA);  VJP by the adjoint method, "
                   "JVP by forward sensitivities")
_odeint.batch = batching.loop(_odeint)


def _differentiable(a: Any) -> bool:
    """Is an entry of ``args`` a floating-point array (an input of the rule) rather than a constant?"""
    if isinstance(a, Tensor) or isinstance(a, (np.ndarray, np.floating)):
        return dtype_of(a).kind == "f"
    return type(a) is float


@public("integrate")
def odeint(func: Callable, y0: Any, t: Any, args: tuple = (), Dfun: Any = None, col_deriv: int = 0,
           full_output: int = 0, ml: Any = None, mu: Any = None, rtol: Any = None, atol: Any = None,
           tcrit: Any = None, h0: float = 0.0, hmax: float = 0.0, hmin: float = 0.0, ixpr: int = 0,
           mxstep: int = 0, mxhnil: int = 0, mxordn: int = 12, mxords: int = 5, printmessg: int = 0,
           tfirst: bool = False) -> Any:
    """Integrate dy/dt = func(y, t, *args) from y0 over the times t (SciPy's ``odeint``), differentiably.

    Gradients reach ``y0``, ``t`` and the floating-point arrays in ``args``
    (integers and other objects in ``args`` are constants).  ``Dfun``, ``ml``,
    ``mu``, ``tcrit`` and the other options go to SciPy's solver as they are;
    the derivative solves use the same tolerances.  ``full_output`` is not
    supported (its diagnostics have no derivative).
    """
    if full_output:
        raise ValueError("odeint: full_output=True is not supported by wengert.scipy.integrate.odeint (the "
                         "solver's diagnostics have no derivative); call scipy.integrate.odeint for them")
    if not isinstance(args, tuple):
        args = (args,)
    inputs = [i for i, a in enumerate(args) if _differentiable(a)]

    def with_constants(fn: Callable) -> Callable:
        """``fn`` as the rule calls it: (y, t, *the inputs among args), the constants put back in their places."""

        def call(y: Any, tt: Any, *values: Any) -> Any:
            full = list(args)
            for i, v in zip(inputs, values):
                full[i] = v
            return fn(tt, y, *full) if tfirst else fn(y, tt, *full)

        return call

    shared = {"rtol": rtol, "atol": atol, "h0": h0, "hmax": hmax, "hmin": hmin, "mxstep": mxstep,
              "mxordn": mxordn, "mxords": mxords}
    options = dict(shared, Dfun=Dfun, col_deriv=col_deriv, ml=ml, mu=mu, tcrit=tcrit, ixpr=ixpr,
                   mxhnil=mxhnil, printmessg=printmessg)
    if Dfun is not None:  # (a Jacobian helps the forward solve only)
        options["Dfun"] = with_constants(Dfun)
    # per-component tolerances do not fit the larger augmented systems: those use SciPy's defaults
    adjoint = {k: v for k, v in shared.items() if np.ndim(v) == 0}
    return _odeint(y0, t, *[args[i] for i in inputs], func=with_constants(func), options=tuple(options.items()),
                   adjoint=tuple(adjoint.items()))


__all__ = sorted(PUBLIC["integrate"])
