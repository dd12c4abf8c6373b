"""Seed 003's point, measured: gradients vanish in a deep sigmoid stack, not in the same stack with ReLU.

The derivative of the sigmoid is at most 1/4, so on its way back through ten
sigmoid layers the gradient is multiplied by ten factors below 1/4 (times the
weights): the first layers hardly learn.  ReLU's derivative is 1 where the
unit is active, so the gradient keeps its size.

Run:  python examples/vanishing_gradients.py [--out vanishing_gradients.png] [--steps 5]

It trains both 10-layer MLPs for a few steps of gradient descent on the same
data with a GradientFlowMonitor attached, prints the per-layer gradient
norms, and plots them (log scale) side by side.
"""
from __future__ import annotations

import argparse
import warnings

import numpy as np

import wengert as wg
from wengert import nn
from wengert.teach.diagnostics import GradientFlowMonitor, GradientFlowWarning, plot_grad_norms


def mlp(activation: type, depth: int = 10, width: int = 32, n_in: int = 8, seed: int = 0) -> nn.Module:
    """``depth`` hidden Linear + activation layers, then a Linear output (float64, PyTorch's default init)."""
    layers: list[nn.Module] = []
    fan_in = n_in
    for i in range(depth):
        layers += [nn.Linear(fan_in, width, rng=seed + i, dtype=np.float64), activation()]
        fan_in = width
    layers.append(nn.Linear(fan_in, 1, rng=seed + depth, dtype=np.float64))
    return nn.Sequential(*layers)


def train(net: nn.Module, x: np.ndarray, y: np.ndarray, steps: int, lr: float = 0.1) -> GradientFlowMonitor:
    """A few steps of plain gradient descent on the mean squared error, monitored."""
    with warnings.catch_warnings(record=True) as caught, GradientFlowMonitor(net) as mon:
        warnings.simplefilter("always", GradientFlowWarning)
        for _ in range(steps):
            loss = wg.mean((net(x) - y) ** 2)
            loss.backward()
            mon.step()
            with wg.no_grad():
                for p in net.parameters():
                    p.data = p.data - lr * p.grad.data
            net.zero_grad()
    mon.warnings = [str(w.message) for w in caught if issubclass(w.category, GradientFlowWarning)]
    return mon


def main(out: str = "vanishing_gradients.png", steps: int = 5) -> dict[str, GradientFlowMonitor]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8))
    y = np.sin(x[:, :1]) + 0.1 * rng.normal(size=(128, 1))
    monitors = {}
    for name, act in (("sigmoid", nn.Sigmoid), ("relu", nn.ReLU)):
        mon = train(mlp(act), x, y, steps)
        monitors[name] = mon
        norms = mon.grad_norms()
        first, last = norms["0"], norms["20"]
        print(f"{name:8s} gradient norm of the first layer {first:.2e}, of the last {last:.2e} "
              f"(ratio {first / last:.1e}); flagged: {sorted({f.layer for f in mon.flags}, key=int) or 'none'}")
        for message in mon.warnings:
            print("  warning:", message[:160] + ("..." if len(message) > 160 else ""))
    plot_grad_norms(monitors, out, title="10-layer MLP: per-layer gradient norm (sigmoid vs ReLU)")
    print(f"plot written to {out}")
    return monitors


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="vanishing_gradients.png", help="PNG file to write")
    parser.add_argument("--steps", type=int, default=5, help="training steps per network")
    args = parser.parse_args()
    main(args.out, args.steps)
