"""The sigmoid network of seed 003: 2 inputs, 2 hidden sigmoid units, 1 sigmoid output.

With x = (0.888, -0.49), w1..w6 = 1.76, 0.4, 0.97, 2.24, 1.86, -0.97 and zero biases, the
seed computes a1 = 1.367, h1 = 0.797, a2 = -0.236, h2 = 0.441, a3 = 1.055, y = 0.741.
The seed rounds h1 and h2 to three decimals before the output layer; carried exactly,
a3 = 1.0542 and y = 0.7416 (0.742 to three places).  The script reproduces these numbers, backpropagates a squared loss against target 1, and then
shows the vanishing gradients of a deep sigmoid stack (seed 003: sigmoid' <= 1/4 per layer).

    python examples/sigmoid_network.py
"""
from __future__ import annotations

import argparse

import numpy as np

from wengert import nn


def seed_003() -> None:
    net = nn.Sequential(nn.Linear(2, 2, dtype=np.float64), nn.Sigmoid(), nn.Linear(2, 1, dtype=np.float64),
                        nn.Sigmoid())
    net.load_state_dict({"0.weight": [[1.76, 0.4], [0.97, 2.24]], "0.bias": [0.0, 0.0],
                         "2.weight": [[1.86, -0.97]], "2.bias": [0.0]})
    x = np.array([[0.888, -0.49]])
    a12 = net[0](x)
    h12 = net[1](a12)
    a3 = net[2](h12)
    y = net[3](a3)
    print(f"a1 = {a12.data[0, 0]:.3f}, h1 = {h12.data[0, 0]:.3f}, a2 = {a12.data[0, 1]:.3f}, "
          f"h2 = {h12.data[0, 1]:.3f}, a3 = {a3.data[0, 0]:.4f}, y = {y.data[0, 0]:.4f}")
    loss = 0.5 * ((y - 1.0) ** 2).sum()
    loss.backward()
    for name, p in net.named_parameters():
        print(f"  dL/d{name} = {np.array2string(p.grad.data, precision=5)}")


def vanishing(depth: int = 10, width: int = 16) -> list:
    layers = []
    for i in range(depth):
        layers += [nn.Linear(width, width, dtype=np.float64, rng=i), nn.Sigmoid()]
    net = nn.Sequential(*layers)
    x = np.random.default_rng(0).standard_normal((32, width))
    net(x).sum().backward()
    norms = [float(np.linalg.norm(net[2 * i].weight.grad.data)) for i in range(depth)]
    print("gradient norm of each layer's weights, first to last (sigmoid stack):")
    for i, n in enumerate(norms):
        print(f"  layer {i + 1:2d}: {n:.3e}  {'#' * max(1, int(8 + np.log10(n) * 2))}")
    return norms


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=10, help="layers of the deep sigmoid stack (default: 10)")
    ap.add_argument("--width", type=int, default=16, help="units per layer of the deep stack (default: 16)")
    a = ap.parse_args()
    seed_003()
    vanishing(a.depth, a.width)
