"""Gradient-flow diagnostics: watch activations and gradient norms layer by layer.

:class:`GradientFlowMonitor` attaches to a module (anything PyTorch-like:
``named_modules()`` or ``named_children()``, ``parameters()``, layers that
are called through their ``forward``) and records, at every
:meth:`~GradientFlowMonitor.step`, for each layer: statistics of its output
activations (mean, standard deviation, fraction of exact zeros, fraction
saturated) and the norms of its gradients (its parameters' ``.grad`` and
the gradient of the loss with respect to its output).  It flags a layer
whose gradient norm is tiny (vanishing) or huge or not finite (exploding)
with a :class:`GradientFlowWarning` that names the layer, and plots the
per-layer gradient norms to a PNG with matplotlib.

This is seed 003's point: the derivative of the sigmoid is at most 1/4, so
in a deep sigmoid stack the gradient shrinks layer after layer on its way
back to the input.

Recurrent models are watched *through time* as well: for ``nn.RNN``,
``nn.GRU`` and ``nn.LSTM`` (each layer and direction) and for any module
called in a loop with its own output fed back to it (a cell), the monitor
records the norm of d loss / d h_t at every time step and flags the layer when
the gradient reaching the first step is below ``through_time`` times the
largest one: the early steps of the sequence do not learn.  Every module that
holds parameters is covered, also one with sub-modules (a hand-written cell
whose input projection is an ``nn.Linear`` and whose recurrent matrix is its
own ``Parameter``).

>>> import numpy as np, wengert as wg
>>> from wengert import nn
>>> from wengert.teach.diagnostics import GradientFlowMonitor
>>> layers = []
>>> for i in range(10):
...     layers += [nn.Linear(16, 16, rng=i, dtype=np.float64), nn.Sigmoid()]
>>> net = nn.Sequential(*layers)
>>> x = np.random.default_rng(0).normal(size=(32, 16))
>>> with GradientFlowMonitor(net, warn=False) as mon:
...     loss = wg.mean(net(x) ** 2)
...     loss.backward()
...     record = mon.step()
>>> [f.layer for f in mon.flags if f.kind == "vanishing"][:3]
['0', '2', '4']
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..nn._display import Table


class GradientFlowWarning(UserWarning):
    """A layer's gradients vanish or explode."""


@dataclass(frozen=True)
class LayerStats:
    """One layer at one step (plain data).

    ``grad_norm`` is the L2 norm of the layer's parameter gradients (``None``
    for a layer without parameters); ``out_grad_norm`` the norm of
    d loss / d (layer output); ``act_*`` describe the layer's output.
    """

    step: int
    layer: str
    type: str
    act_mean: float
    act_std: float
    act_zero_frac: float
    act_saturated_frac: float
    grad_norm: float | None
    out_grad_norm: float | None


@dataclass(frozen=True)
class TimeStats:
    """The gradient through time of one recurrent layer (and direction) at one step (plain data).

    ``norms[k]`` is the L2 norm of d loss / d h at the k-th time step *in the
    order the steps were computed* (for a reverse direction: from the last
    time step to the first); ``part`` names the layer and direction of an
    ``nn.RNN``/``GRU``/``LSTM`` (``"l0"``, ``"l0_reverse"``), and is ``""`` for a
    cell called in a loop.
    """

    step: int
    layer: str
    part: str
    type: str
    norms: tuple

    @property
    def key(self) -> str:
        """``layer/part`` (``part`` alone for the model itself, ``layer`` alone for a cell)."""
        return "/".join(x for x in (self.layer, self.part) if x)

    @property
    def first_ratio(self) -> float:
        """The gradient norm at the first computed time step over the largest one (NaN if all are zero)."""
        top = max(self.norms, default=0.0)
        return self.norms[0] / top if top > 0 and math.isfinite(top) else math.nan


@dataclass(frozen=True)
class Flag:
    """A vanishing or exploding gradient found at one step in one layer."""

    step: int
    layer: str
    kind: str  # "vanishing", "exploding" or "vanishing through time"
    value: float
    message: str


def _has_children(m: Any) -> bool:
    kids = getattr(m, "named_children", None)
    return kids is not None and any(True for _ in kids())


def _direct_params(m: Any) -> list[Any]:
    """The parameters a module holds itself (not those of its sub-modules)."""
    named = getattr(m, "named_parameters", None)
    if named is not None:
        try:
            return [p for _, p in named(recurse=False)]
        except TypeError:  # a PyTorch-like module without recurse=
            pass
    own = getattr(m, "_parameters", None)
    return [p for p in own.values() if p is not None] if isinstance(own, dict) else []


def _layers(model: Any) -> list[tuple[str, Any]]:
    """The modules to watch, with their names, in order: every leaf, and every module that holds parameters."""
    if hasattr(model, "named_modules"):
        mods = list(model.named_modules())
    elif hasattr(model, "named_children"):
        mods, stack = [], [("", model)]
        while stack:
            name, m = stack.pop()
            mods.append((name, m))
            kids = [(f"{name}.{k}" if name else k, c) for k, c in m.named_children()]
            stack.extend(reversed(kids))
    else:
        raise TypeError(f"GradientFlowMonitor: {type(model).__name__} has neither named_modules() nor named_children()")
    layers = [(n, m) for n, m in mods if not _has_children(m) or _direct_params(m)]
    return layers or [("", model)]


def _own_params(m: Any) -> list[Any]:
    """A leaf's parameters, or a container's own (its sub-modules are watched as layers of their own)."""
    if _has_children(m):
        return _direct_params(m)
    if hasattr(m, "named_parameters"):
        return [p for _, p in m.named_parameters()]
    if hasattr(m, "parameters"):
        return list(m.parameters())
    return []


def _norm(arrays: Iterable[Any]) -> float | None:
    total, seen = 0.0, False
    for a in arrays:
        if a is None:
            continue
        v = np.asarray(a.data if isinstance(a, Tensor) else a, dtype=np.float64)
        total += float(np.sum(v * v))
        seen = True
    return math.sqrt(total) if seen else None


def _tensors(out: Any) -> list[Tensor]:
    """The tensors among a module's outputs, in order (nested tuples flattened: out, h, c of an LSTM)."""
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors(o)]
    return []


def _fed_back(prev: list[Tensor], args: tuple, kwargs: dict) -> int | None:
    """Which of a module's previous outputs is an argument of its next call (a recurrence), by position."""
    given = {id(t) for t in _tensors(list(args) + list(kwargs.values()))}
    return next((k for k, t in enumerate(prev) if id(t) in given), None)


def _activation_stats(arrays: list[np.ndarray], saturation: float) -> tuple:
    """Mean, standard deviation, fraction of zeros and fraction saturated of all outputs of a layer in one step."""
    a = np.concatenate([np.asarray(x, dtype=np.float64).reshape(-1) for x in arrays]) if arrays else np.zeros(0)
    if not a.size:
        return (math.nan, math.nan, math.nan, math.nan)
    lo, hi = float(a.min()), float(a.max())
    span = hi - lo
    sat = float(np.mean((a <= lo + saturation * span) | (a >= hi - saturation * span))) if span > 0 else 1.0
    # saturation relative to the observed range says little for unbounded activations; for sigmoid/tanh
    # outputs use the fixed ranges they saturate at
    if 0.0 <= lo and hi <= 1.0:
        sat = float(np.mean((a < saturation) | (a > 1.0 - saturation)))
    elif -1.0 <= lo and hi <= 1.0:
        sat = float(np.mean(np.abs(a) > 1.0 - saturation))
    return (float(a.mean()), float(a.std()), float(np.mean(a == 0.0)), sat)


class GradientFlowMonitor:
    """Record per-layer activation statistics and gradient norms; flag vanishing and exploding gradients.

    Use it as a context manager (or :meth:`attach` / :meth:`detach`) around
    training, and call :meth:`step` after each ``backward()``::

        with GradientFlowMonitor(model) as mon:
            for x, y in batches:
                loss = loss_fn(model(x), y)
                loss.backward()
                mon.step()
                opt.step(); opt.zero_grad()
        mon.plot("flow.png")

    A layer's gradient is flagged as *vanishing* when its norm is below
    ``vanishing`` (absolute) or below ``relative`` times the largest layer
    gradient norm of the same step, and as *exploding* when above
    ``exploding`` or not finite.  (The defaults separate a 10-layer sigmoid
    MLP, whose first layer gets ~1e-9 of the last layer's gradient, from the
    same MLP with ReLU, ~1e-4 with PyTorch's default initialisation: three
    decades on each side.)  Layers are judged by their parameter
    gradients (a model without parameters: by their output gradients).  A
    :class:`GradientFlowWarning` names the flagged layers the first time
    each is flagged; ``flags`` keeps every flag (``warn=False``: flags only).

    While attached, each leaf layer's ``forward`` is wrapped (on the
    instance; :meth:`detach` restores it) to see its output, and the outputs
    are marked ``retain_grad()`` so their gradients can be read.
    """

    def __init__(self, model: Any, *, vanishing: float = 1e-10, relative: float = 1e-6, exploding: float = 1e3,
                 saturation: float = 0.01, through_time: float = 1e-3, warn: bool = True) -> None:
        self.model = model
        self.vanishing = float(vanishing)
        self.relative = float(relative)
        self.exploding = float(exploding)
        self.saturation = float(saturation)
        self.through_time = float(through_time)
        self.warn = warn
        self.layers = _layers(model)
        self.history: list[LayerStats] = []
        self.time_history: list[TimeStats] = []
        self.flags: list[Flag] = []
        self._step = 0
        self._outputs: dict[str, list[Tensor]] = {}  # every output of a layer in this step, in call order
        self._calls: dict[str, list[list[Tensor]]] = {}  # every call's output tensors, for gradients through time
        self._acts: dict[str, list[np.ndarray]] = {}
        self._recurrent: dict[str, int] = {}  # layer -> which output came back to it as an argument this step
        self._sequences: dict[tuple[str, str], list[Tensor]] = {}  # per-step hidden states of nn.RNN/GRU/LSTM
        self._saved: list[tuple[Any, bool, Any]] = []
        self._handles: list[Any] = []
        self._warned: set[tuple[str, str]] = set()

    # ---------------------------------------------------------------- attach
    def attach(self) -> GradientFlowMonitor:
        """Wrap each layer's ``forward`` so its output is observed."""
        if self._saved:
            return self
        for name, mod in self.layers:
            d = getattr(mod, "__dict__", None)
            if d is None:
                raise TypeError(f"GradientFlowMonitor: layer {name!r} ({type(mod).__name__}) cannot be wrapped")
            had = "forward" in d
            self._saved.append((mod, had, d.get("forward")))
            d["forward"] = self._wrap(name, mod.forward)
            if hasattr(mod, "register_step_hook"):  # nn.RNN / GRU / LSTM: the hidden state of every time step
                self._handles.append(mod.register_step_hook(self._step_hook(name)))
        return self

    def detach(self) -> None:
        """Restore every layer's ``forward`` and release the observed outputs."""
        for mod, had, prev in self._saved:
            if had:
                mod.__dict__["forward"] = prev
            else:
                mod.__dict__.pop("forward", None)
        self._saved = []
        for h in self._handles:
            h.remove()
        self._handles = []
        self._outputs.clear()
        self._calls.clear()
        self._sequences.clear()

    def __enter__(self) -> GradientFlowMonitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def _wrap(self, name: str, forward: Any) -> Any:
        def observed(*args: Any, **kwargs: Any) -> Any:
            calls = self._calls.get(name)
            if calls and name not in self._recurrent:
                k = _fed_back(calls[-1], args, kwargs)
                if k is not None:
                    self._recurrent[name] = k
            out = forward(*args, **kwargs)
            self._observe(name, _tensors(out))
            return out

        observed.__wrapped__ = forward  # type: ignore[attr-defined]
        return observed

    def _observe(self, name: str, outs: list[Tensor]) -> None:
        if not outs:
            return
        self._acts.setdefault(name, []).append(outs[0].data)
        kept = []
        for t in outs:
            if t.requires_grad:
                if not t.is_leaf:
                    t.retain_grad()
                kept.append(t)
        if outs[0].requires_grad:
            self._outputs.setdefault(name, []).append(outs[0])
        self._calls.setdefault(name, []).append(kept)

    def _step_hook(self, name: str) -> Any:
        def hook(module: Any, layer: int, direction: int, hidden: list) -> None:
            part = f"l{layer}" + ("_reverse" if direction else "")
            kept = []
            for h in hidden:
                if isinstance(h, Tensor) and h.requires_grad:
                    if not h.is_leaf:
                        h.retain_grad()
                    kept.append(h)
            if len(kept) == len(hidden) and len(kept) > 1:
                self._sequences[(name, part)] = kept

        return hook

    # ---------------------------------------------------------------- record
    def step(self) -> list[LayerStats]:
        """Record this step's statistics (call it after ``backward()``); returns them and raises the flags."""
        records = []
        times: list[TimeStats] = []
        for name, mod in self.layers:
            act = _activation_stats(self._acts.get(name, []), self.saturation)
            params = _own_params(mod)
            gnorm = _norm(p.grad for p in params) if params else None
            outs = self._outputs.get(name, [])
            grads = [o.grad for o in outs]
            onorm = _norm(grads) if any(g is not None for g in grads) else None
            calls = self._calls.get(name, [])
            k = self._recurrent.get(name)
            if k is not None and len(calls) > 1:  # called in a loop, feeding back output k: one call per time step
                norms = tuple((_norm([c[k].grad]) or 0.0) if k < len(c) else 0.0 for c in calls)
                times.append(TimeStats(self._step, name, "", type(mod).__name__, norms))
            for c in calls:
                for t in c:
                    t.grad = None  # retained gradients are this step's only
            records.append(LayerStats(self._step, name, type(mod).__name__, *act, gnorm, onorm))
        types = dict(self.layers)
        for (name, part), hs in self._sequences.items():
            norms = tuple(_norm([h.grad]) or 0.0 for h in hs)
            times.append(TimeStats(self._step, name, part, type(types[name]).__name__, norms))
            for h in hs:
                h.grad = None
        self._outputs.clear()
        self._calls.clear()
        self._acts.clear()
        self._recurrent.clear()
        self._sequences.clear()
        self.history.extend(records)
        self.time_history.extend(times)
        self._check(records)
        self._check_time(times)
        self._step += 1
        return records

    def _check_time(self, times: list[TimeStats]) -> None:
        """Flag recurrent layers whose gradient at the first time step is a tiny fraction of the largest."""
        found, new = [], False
        for t in times:
            ratio = t.first_ratio
            if math.isnan(ratio) or ratio >= self.through_time:
                continue
            kind = t.type + (f", {t.part}" if t.part else "")
            where = f"'{t.layer}' ({kind})" if t.layer else f"the model ({kind})"
            detail = (f"{where}: |d loss/d h| at the first of {len(t.norms)} time steps is {ratio:.2g} of the "
                      "largest")
            self.flags.append(Flag(t.step, t.key, "vanishing through time", ratio,
                                   f"vanishing gradient through time in {detail} at step {t.step}"))
            found.append(detail)
            if (t.key, "time") not in self._warned:
                self._warned.add((t.key, "time"))
                new = True
        if self.warn and new:
            step = times[0].step
            warnings.warn(f"vanishing gradients through time at step {step}: " + "; ".join(found)
                          + f" (threshold {self.through_time:g}); the early steps of the sequence hardly learn",
                          GradientFlowWarning, stacklevel=3)

    def _check(self, records: list[LayerStats]) -> None:
        """Flag the layers of one step; one warning per kind lists every newly flagged layer."""
        with_params = [r for r in records if r.grad_norm is not None]
        judged = [(r, r.grad_norm, "parameter gradient") for r in with_params] or [
            (r, r.out_grad_norm, "output gradient") for r in records if r.out_grad_norm is not None]
        finite = [v for _, v, _ in judged if math.isfinite(v)]
        top = max(finite, default=0.0)
        found: dict[str, list[str]] = {"vanishing": [], "exploding": []}
        new: dict[str, bool] = {"vanishing": False, "exploding": False}
        for r, v, what in judged:
            label = f"'{r.layer}' ({r.type})" if r.layer else f"the model ({r.type})"
            if not math.isfinite(v) or v > self.exploding:
                kind, detail = "exploding", f"{label} {what} norm {v:.3g}"
            elif v < self.vanishing or (top > 0.0 and v < self.relative * top):
                kind = "vanishing"
                detail = f"{label} {what} norm {v:.3g}" + (f" ({v / top:.2g} of the largest)" if top > 0 else "")
            else:
                continue
            self.flags.append(Flag(r.step, r.layer, kind, v, f"{kind} gradient in layer {detail} at step {r.step}"))
            found[kind].append(detail)
            if (r.layer, kind) not in self._warned:
                self._warned.add((r.layer, kind))
                new[kind] = True
        if not self.warn:
            return
        step = records[0].step if records else self._step
        if new["vanishing"]:
            warnings.warn(
                f"vanishing gradients at step {step} in {len(found['vanishing'])} of {len(judged)} layers: "
                + "; ".join(found["vanishing"])
                + f" (thresholds: {self.vanishing:g} absolute, {self.relative:g} of the largest layer's)",
                GradientFlowWarning, stacklevel=3)
        if new["exploding"]:
            warnings.warn(
                f"exploding gradients at step {step} in {len(found['exploding'])} of {len(judged)} layers: "
                + "; ".join(found["exploding"]) + f" (threshold {self.exploding:g}, or not finite)",
                GradientFlowWarning, stacklevel=3)

    # ---------------------------------------------------------------- read
    def grad_norms(self, step: int = -1, which: str = "param") -> dict[str, float | None]:
        """``{layer: gradient norm}`` at one recorded step (default the last); ``which`` is "param" or "output"."""
        if not self.history:
            raise RuntimeError("GradientFlowMonitor: no step recorded yet; call step() after backward()")
        steps = sorted({r.step for r in self.history})
        s = steps[step]
        attr = "grad_norm" if which == "param" else "out_grad_norm"
        return {r.layer: getattr(r, attr) for r in self.history if r.step == s}

    def time_norms(self, step: int = -1) -> dict[str, tuple]:
        """``{layer (or layer/part): per-time-step gradient norms}`` of the recurrent layers at one recorded step."""
        if not self.time_history:
            return {}
        s = sorted({r.step for r in self.time_history})[step]
        return {r.key: r.norms for r in self.time_history if r.step == s}

    def summary(self, step: int = -1) -> str:
        """A table of one step: activations and gradient norms per layer (text; an HTML table in Jupyter).

        For recurrent layers a last column gives the gradient at the first
        time step relative to the largest (the smallest over the layer's
        parts) and the number of steps.
        """
        if not self.history:
            return "GradientFlowMonitor: no step recorded yet"
        s = sorted({r.step for r in self.history})[step]
        through: dict[str, TimeStats] = {}
        for t in self.time_history:
            if t.step == s and (t.layer not in through or t.first_ratio < through[t.layer].first_ratio):
                through[t.layer] = t
        header = ["layer", "type", "act mean", "act std", "zero", "saturated", "|grad W|", "|grad out|"]
        if through:
            header.append("first step / max (time)")
        rows = []
        for r in self.history:
            if r.step == s:
                row = [r.layer or "(model)", r.type, f"{r.act_mean:.3g}", f"{r.act_std:.3g}",
                       f"{r.act_zero_frac:.0%}", f"{r.act_saturated_frac:.0%}",
                       "-" if r.grad_norm is None else f"{r.grad_norm:.3g}",
                       "-" if r.out_grad_norm is None else f"{r.out_grad_norm:.3g}"]
                if through:
                    t = through.get(r.layer)
                    row.append("-" if t is None else f"{t.first_ratio:.2g} ({len(t.norms)} steps)")
                rows.append(row)
        flagged = sorted({f.layer for f in self.flags if f.step == s})
        title = f"gradient flow at step {s}" + (f"; flagged: {', '.join(flagged)}" if flagged else "")
        return Table(header, rows, title=title)

    def _repr_html_(self) -> str:
        """Jupyter: the last step's summary as a table."""
        table = self.summary()
        return table._repr_html_() if isinstance(table, Table) else f"<p>{table}</p>"

    def plot(self, path: str | None = None, which: str = "param", title: str | None = None) -> Any:
        """Per-layer gradient norms (log scale), one line per recorded step; returns the matplotlib Figure.

        With ``path``, the figure is also saved (PNG by its suffix).  Uses
        matplotlib's object API (no pyplot, no global backend change).
        """
        return plot_grad_norms({"": self}, path, which=which, title=title)


def plot_grad_norms(monitors: dict[str, GradientFlowMonitor], path: str | None = None, which: str = "param",
                    title: str | None = None, step: int | None = None) -> Any:
    """Plot per-layer gradient norms of several monitors on one log-scale axis (e.g. sigmoid vs ReLU).

    ``step=None`` draws every recorded step (later steps darker) for one
    monitor, and the last step for several.  Returns the Figure; saves it
    to ``path`` when given.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install matplotlib (or wengert[viz])") from exc
    fig = Figure(figsize=(7.5, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    several = len(monitors) > 1
    attr = "grad_norm" if which == "param" else "out_grad_norm"
    ticks: list[str] = []
    for label, mon in monitors.items():
        steps = sorted({r.step for r in mon.history})
        if not steps:
            continue
        shown = [steps[step if step is not None else -1]] if several or step is not None else steps
        for k, s in enumerate(shown):
            recs = [r for r in mon.history if r.step == s and getattr(r, attr) is not None]
            xs = list(range(len(recs)))
            ys = [max(getattr(r, attr), 1e-300) for r in recs]
            if len(recs) > len(ticks):
                ticks = [r.layer or r.type for r in recs]
            shade = 0.3 + 0.7 * (k + 1) / len(shown)
            name = label if several else (f"step {s}" if len(shown) <= 6 or k in (0, len(shown) - 1) else None)
            ax.plot(xs, ys, marker="o", label=name, alpha=shade if not several else 1.0)
    ax.set_yscale("log")
    ax.set_xticks(range(len(ticks)))
    ax.set_xticklabels(ticks, rotation=45 if len(ticks) > 8 else 0, fontsize=8)
    ax.set_xlabel("layer (input side on the left)")
    ax.set_ylabel("parameter gradient norm" if which == "param" else "output gradient norm")
    ax.set_title(title or "Gradient flow: gradient norm per layer")
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path)
    return fig


__all__ = ["Flag", "GradientFlowMonitor", "GradientFlowWarning", "LayerStats", "TimeStats", "plot_grad_norms"]
