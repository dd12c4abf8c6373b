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
class Flag:
    """A vanishing or exploding gradient found at one step in one layer."""

    step: int
    layer: str
    kind: str  # "vanishing" or "exploding"
    value: float
    message: str


def _layers(model: Any) -> list[tuple[str, Any]]:
    """The leaf modules of ``model`` (modules without children), with their names, in order."""
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

    def has_children(m: Any) -> bool:
        kids = getattr(m, "named_children", None)
        return kids is not None and any(True for _ in kids())

    leaves = [(n, m) for n, m in mods if not has_children(m)]
    return leaves or [("", model)]


def _own_params(m: Any) -> list[Any]:
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
        v = np.asarray(a._value if isinstance(a, Tensor) else a, dtype=np.float64)
        total += float(np.sum(v * v))
        seen = True
    return math.sqrt(total) if seen else None


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
                 saturation: float = 0.01, warn: bool = True) -> None:
        self.model = model
        self.vanishing = float(vanishing)
        self.relative = float(relative)
        self.exploding = float(exploding)
        self.saturation = float(saturation)
        self.warn = warn
        self.layers = _layers(model)
        self.history: list[LayerStats] = []
        self.flags: list[Flag] = []
        self._step = 0
        self._outputs: dict[str, Tensor] = {}
        self._acts: dict[str, tuple] = {}
        self._saved: list[tuple[Any, bool, Any]] = []
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
        return self

    def detach(self) -> None:
        """Restore every layer's ``forward`` and release the observed outputs."""
        for mod, had, prev in self._saved:
            if had:
                mod.__dict__["forward"] = prev
            else:
                mod.__dict__.pop("forward", None)
        self._saved = []
        self._outputs.clear()

    def __enter__(self) -> GradientFlowMonitor:  # noqa: PYI034  (typing.Self needs Python 3.11)
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def _wrap(self, name: str, forward: Any) -> Any:
        def observed(*args: Any, **kwargs: Any) -> Any:
            out = forward(*args, **kwargs)
            if isinstance(out, Tensor):
                self._observe(name, out)
            return out

        observed.__wrapped__ = forward  # type: ignore[attr-defined]
        return observed

    def _observe(self, name: str, out: Tensor) -> None:
        a = np.asarray(out.data, dtype=np.float64)
        if a.size:
            lo, hi = float(a.min()), float(a.max())
            span = hi - lo
            sat = float(np.mean((a <= lo + self.saturation * span) | (a >= hi - self.saturation * span))) if span > 0 else 1.0
            # saturation relative to the observed range says little for unbounded activations; for sigmoid/tanh
            # outputs use the fixed ranges they saturate at
            if 0.0 <= lo and hi <= 1.0:
                sat = float(np.mean((a < self.saturation) | (a > 1.0 - self.saturation)))
            elif -1.0 <= lo and hi <= 1.0:
                sat = float(np.mean(np.abs(a) > 1.0 - self.saturation))
            self._acts[name] = (float(a.mean()), float(a.std()), float(np.mean(a == 0.0)), sat)
        if out.requires_grad:
            if not out.is_leaf:
                out.retain_grad()
            self._outputs[name] = out

    # ---------------------------------------------------------------- record
    def step(self) -> list[LayerStats]:
        """Record this step's statistics (call it after ``backward()``); returns them and raises the flags."""
        records = []
        for name, mod in self.layers:
            act = self._acts.get(name, (math.nan, math.nan, math.nan, math.nan))
            params = _own_params(mod)
            gnorm = _norm(p.grad for p in params) if params else None
            out = self._outputs.get(name)
            onorm = _norm([out.grad]) if out is not None and out.grad is not None else None
            if out is not None:
                out.grad = None  # retained gradients are this step's only
            records.append(LayerStats(self._step, name, type(mod).__name__, *act, gnorm, onorm))
        self._outputs.clear()
        self._acts.clear()
        self.history.extend(records)
        self._check(records)
        self._step += 1
        return records

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

    def summary(self, step: int = -1) -> str:
        """A text table of one step: activations and gradient norms per layer."""
        if not self.history:
            return "GradientFlowMonitor: no step recorded yet"
        s = sorted({r.step for r in self.history})[step]
        rows = [("layer", "type", "act mean", "act std", "zero", "saturated", "|grad W|", "|grad out|")]
        for r in self.history:
            if r.step == s:
                rows.append((r.layer or "(model)", r.type, f"{r.act_mean:.3g}", f"{r.act_std:.3g}",
                             f"{r.act_zero_frac:.0%}", f"{r.act_saturated_frac:.0%}",
                             "-" if r.grad_norm is None else f"{r.grad_norm:.3g}",
                             "-" if r.out_grad_norm is None else f"{r.out_grad_norm:.3g}"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)

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


__all__ = ["Flag", "GradientFlowMonitor", "GradientFlowWarning", "LayerStats", "plot_grad_norms"]
