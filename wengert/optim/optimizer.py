"""Optimisers: ``theta := theta - lr * step(grad)``, updated in place without recording a graph.

The update formulas follow PyTorch's ``torch.optim`` exactly (the tests
compare 20 steps against it), so hyperparameters carry over.

>>> import numpy as np, wengert as wg
>>> from wengert import nn, optim
>>> w = nn.Parameter(np.array([1.0, -2.0]), dtype=np.float64)
>>> opt = optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward()          # grad = 2 w
>>> opt.step()
>>> w
Parameter containing:
tensor([ 0.8, -1.6], requires_grad=True)
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..core.tensor import Tensor, clear_grads, grad_values


def _as_param_list(params: Any) -> list:
    if isinstance(params, Tensor):
        raise TypeError("optimizer params must be an iterable of tensors (e.g. model.parameters()), got one tensor")
    params = list(params)
    if not params:
        raise ValueError("optimizer got an empty parameter list")
    return params


class Optimizer:
    """Base class: holds parameter groups (each a dict with ``params`` and hyperparameters) and per-parameter state."""

    defaults: dict

    def __init__(self, params: Iterable[Any], defaults: dict) -> None:
        self.defaults = dict(defaults)
        items = _as_param_list(params)
        if isinstance(items[0], dict):
            groups = [dict(g) for g in items]
        else:
            groups = [{"params": items}]
        self.param_groups: list[dict] = []
        seen: set[int] = set()
        for g in groups:
            ps = _as_param_list(g["params"])
            for p in ps:
                if not isinstance(p, Tensor):
                    raise TypeError(f"{type(self).__name__}: can only optimise tensors, got {type(p).__name__}")
                if p.dtype.kind == "c":
                    raise TypeError(f"{type(self).__name__}: can only optimise floating-point tensors, got {p.dtype}; "
                                    "keep the real and imaginary parts as two real parameters (descent on a complex "
                                    "one steps along -conj(grad): docs/complex.md)")
                if p.dtype.kind != "f":
                    raise TypeError(f"{type(self).__name__}: can only optimise floating-point tensors, got {p.dtype}")
                if id(p) in seen:
                    raise ValueError(f"{type(self).__name__}: a parameter appears twice")
                seen.add(id(p))
            g["params"] = ps
            for k, v in self.defaults.items():
                g.setdefault(k, v)
            self.param_groups.append(g)
        self.state: dict[int, dict] = {}  # keyed by the parameter's position over all groups
        for k, v in self.defaults.items():
            if k in ("lr", "momentum", "weight_decay", "eps", "alpha") and v < 0:
                raise ValueError(f"{type(self).__name__}: {k} must be >= 0, got {v}")

    def _params(self) -> Iterable[tuple[int, Tensor, dict]]:
        i = 0
        for g in self.param_groups:
            for p in g["params"]:
                yield i, p, g
                i += 1

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (sets ``.grad`` to None)."""
        for g in self.param_groups:
            clear_grads(g["params"])

    def step(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """The optimiser's state as PyTorch lays it out, plus its type, ready for ``wg.save``.

        ``{"type": "Adam", "state": {i: {"step": 3, "exp_avg": array, ...}},
        "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1, ...]}]}``:
        per-parameter state keyed by the parameter's position over all groups,
        and each group's hyperparameters with the positions of its parameters.
        The arrays are copies.
        """
        state = {i: {k: (int(v) if k == "step" else np.array(v)) for k, v in s.items()}
                 for i, s in sorted(self.state.items())}
        groups, start = [], 0
        for g in self.param_groups:
            entry = {k: (tuple(v) if isinstance(v, list) else v) for k, v in g.items() if k != "params"}
            entry["params"] = list(range(start, start + len(g["params"])))
            start += len(g["params"])
            groups.append(entry)
        return {"type": type(self).__name__, "state": state, "param_groups": groups}

    def _state_names(self, group: dict) -> set[str]:  # pragma: no cover - each optimiser says
        """The names of the per-parameter state that :meth:`step` keeps for a parameter of ``group``."""
        raise NotImplementedError

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` gave: hyperparameters and per-parameter state; all or nothing.

        The parameters must be the same, in the same order.  Everything is
        checked before anything changes: the optimiser type, the number of
        groups and parameters, every group's hyperparameters, every state
        entry's names, shapes and finite casts.
        """
        from ..nn.module import _checked_cast

        name = type(self).__name__
        where = f"{name}.load_state_dict"
        if not isinstance(state, Mapping) or "state" not in state or "param_groups" not in state:
            got = sorted(map(str, state))[:6] if isinstance(state, Mapping) else type(state).__name__
            raise ValueError(f"{where}: expected the dict that {name}.state_dict() returns (with 'state' and "
                             f"'param_groups'), got {got}")
        saved_type = state.get("type", name)
        if saved_type != name:
            raise ValueError(f"{where}: the state was saved by {saved_type}, not {name}; build an {saved_type} to "
                             f"resume it (or start {name} afresh)")
        groups, entries = state["param_groups"], state["state"]
        if not isinstance(groups, (list, tuple)) or len(groups) != len(self.param_groups):
            raise ValueError(f"{where}: the state has {len(groups) if isinstance(groups, (list, tuple)) else 'no'} "
                             f"parameter groups, this optimiser {len(self.param_groups)}")
        new_groups = []
        for j, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if not isinstance(saved, Mapping):
                raise TypeError(f"{where}: parameter group {j} is a {type(saved).__name__}, not a dict")
            lacking = sorted(set(self.defaults) - set(saved))  # (schedulers may add keys such as initial_lr)
            if lacking:
                raise ValueError(f"{where}: parameter group {j} lacks {name}'s hyperparameters {lacking} (it has "
                                 f"{sorted(set(saved) - {'params'})})")
            if len(saved.get("params", ())) != len(own["params"]):
                raise ValueError(f"{where}: parameter group {j} held {len(saved.get('params', ()))} parameters, "
                                 f"this optimiser's holds {len(own['params'])}")
            hyper = {}
            for k, v in saved.items():
                if k == "params":
                    continue
                if isinstance(own.get(k), bool) or isinstance(v, bool):
                    hyper[k] = bool(v)
                elif isinstance(own.get(k), tuple) or isinstance(v, (list, tuple)):
                    hyper[k] = tuple(float(x) for x in v)
                elif isinstance(v, (int, float, np.number, np.ndarray)):
                    hyper[k] = float(v)
                else:
                    hyper[k] = v
            new_groups.append(hyper)
        params = [(p, new_groups[j]) for j, g in enumerate(self.param_groups) for p in g["params"]]
        if not isinstance(entries, Mapping):
            raise TypeError(f"{where}: 'state' is a {type(entries).__name__}, not a dict")
        new_state: dict[int, dict] = {}
        for i, entry in entries.items():
            if isinstance(i, str) and i.isdigit():
                i = int(i)
            if not isinstance(i, int) or not 0 <= i < len(params):
                raise ValueError(f"{where}: state for parameter {i!r}, but the optimiser has {len(params)} parameters")
            p, hyper = params[i]
            names = self._state_names(hyper)
            if not isinstance(entry, Mapping) or set(entry) != names:
                got = sorted(entry) if isinstance(entry, Mapping) else type(entry).__name__
                raise ValueError(f"{where}: the state of parameter {i} has {got}, {name} keeps {sorted(names)}")
            out = {}
            for k, v in entry.items():
                if k == "step":
                    out[k] = int(np.asarray(v))
                    continue
                try:
                    out[k] = _checked_cast(v, p.shape, p.dtype)
                except ValueError as exc:
                    raise ValueError(f"{where}: state {i}.{k}: {exc}") from None
            new_state[i] = out
        for g, hyper in zip(self.param_groups, new_groups):  # nothing below can fail
            g.update(hyper)
        self.state = new_state

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        n = sum(len(g["params"]) for g in self.param_groups)
        return f"{type(self).__name__}({n} parameters, {hp})"


def _grad(p: Tensor) -> np.ndarray | None:
    g = p.grad
    if g is None:
        return None
    return g.data


def _set(p: Tensor, new: np.ndarray) -> None:
    """Store a new value into a parameter (only 0-d float64 parameters need this; arrays update in place)."""
    p.data = new


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum (heavy-ball or Nesterov) and L2 weight decay.

    ``v := momentum * v + (1 - dampening) * g;  theta := theta - lr * v``  (``g + momentum * v`` with Nesterov).
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.01, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False) -> None:
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening = 0")
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                                      "nesterov": nesterov})

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for g in self.param_groups:
            lr, mom, wd = g["lr"], g["momentum"], g["weight_decay"]
            simple = mom == 0 and wd == 0
            for p, data, grad in grad_values(g["params"]):
                if simple and type(data) is np.ndarray:  # the common case, kept lean: theta -= lr * grad, in place
                    data -= lr * grad
                    continue
                grad = np.asarray(grad)
                data = p.data
                d = grad + wd * data if wd else grad
                if mom:
                    idx = self._index(p)
                    st = self.state.setdefault(idx, {})
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        buf = st["momentum_buffer"] = np.array(d, dtype=data.dtype)
                    else:
                        buf *= mom
                        buf += (1.0 - g["dampening"]) * d
                    d = d + mom * buf if g["nesterov"] else buf
                if data.ndim:
                    data -= lr * d
                else:
                    _set(p, data - lr * d)

    def _state_names(self, group: dict) -> set[str]:
        return {"momentum_buffer"} if group["momentum"] else set()

    def _index(self, p: Tensor) -> int:
        idx = getattr(self, "_index_of", None)
        if idx is None:
            idx = self._index_of = {id(q): i for i, q, _ in self._params()}
        return idx[id(p)]


class Adam(Optimizer):
    """Adam: moving averages m, v of g and g^2, bias-corrected:  theta -= lr * m_hat / (sqrt(v_hat) + eps).

    ``weight_decay`` adds ``wd * theta`` to the gradient (L2, as in PyTorch's Adam); see :class:`AdamW`.
    """

    _decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"{type(self).__name__}: betas must lie in [0, 1), got {betas}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                      "amsgrad": amsgrad})

    def _state_names(self, group: dict) -> set[str]:
        return {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group["amsgrad"] else set())

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for i, p, g in self._params():
            grad = _grad(p)
            if grad is None:
                continue
            lr, (b1, b2), eps, wd = g["lr"], g["betas"], g["eps"], g["weight_decay"]
            data = p.data
            if wd and self._decoupled:  # AdamW: shrink theta first, then the plain Adam step
                if data.ndim:
                    data *= 1.0 - lr * wd
                else:
                    _set(p, data * (1.0 - lr * wd))
                    data = p.data
            elif wd:
                grad = grad + wd * data
            st = self.state.get(i)
            if st is None:
                st = self.state[i] = {"step": 0, "exp_avg": np.zeros_like(data), "exp_avg_sq": np.zeros_like(data)}
                if g["amsgrad"]:
                    st["max_exp_avg_sq"] = np.zeros_like(data)
            st["step"] += 1
            t = st["step"]
            m, v = st["exp_avg"], st["exp_avg_sq"]
            m *= b1
            m += (1.0 - b1) * grad
            v *= b2
            v += (1.0 - b2) * (grad * grad)
            if g["amsgrad"]:
                np.maximum(st["max_exp_avg_sq"], v, out=st["max_exp_avg_sq"])
                v = st["max_exp_avg_sq"]
            step_size = lr / (1.0 - b1**t)
            denom = np.sqrt(v) / math.sqrt(1.0 - b2**t) + eps
            if data.ndim:
                data -= step_size * (m / denom)
            else:
                _set(p, data - step_size * (m / denom))


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``theta *= 1 - lr * wd`` before the Adam step."""

    _decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root-mean-square of recent gradients.

    ``s := alpha s + (1 - alpha) g^2;  theta -= lr * g / (sqrt(s) + eps)`` (with optional momentum and centering).
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay, "momentum": momentum,
                                      "centered": centered})

    def _state_names(self, group: dict) -> set[str]:
        return ({"step", "square_avg"} | ({"momentum_buffer"} if group["momentum"] else set())
                | ({"grad_avg"} if group["centered"] else set()))

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for i, p, g in self._params():
            grad = _grad(p)
            if grad is None:
                continue
            lr, alpha, eps, wd, mom = g["lr"], g["alpha"], g["eps"], g["weight_decay"], g["momentum"]
            data = p.data
            if wd:
                grad = grad + wd * data
            st = self.state.get(i)
            if st is None:
                st = self.state[i] = {"step": 0, "square_avg": np.zeros_like(data)}
                if mom:
                    st["momentum_buffer"] = np.zeros_like(data)
                if g["centered"]:
                    st["grad_avg"] = np.zeros_like(data)
            st["step"] += 1
            sq = st["square_avg"]
            sq *= alpha
            sq += (1.0 - alpha) * (grad * grad)
            if g["centered"]:
                ga = st["grad_avg"]
                ga *= alpha
                ga += (1.0 - alpha) * grad
                avg = np.sqrt(sq - ga * ga) + eps
            else:
                avg = np.sqrt(sq) + eps
            if mom:
                buf = st["momentum_buffer"]
                buf *= mom
                buf += grad / avg
                upd = lr * buf
            else:
                upd = lr * (grad / avg)
            if data.ndim:
                data -= upd
            else:
                _set(p, data - upd)


__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop"]
