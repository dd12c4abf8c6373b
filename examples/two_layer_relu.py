"""The two-layer ReLU network of seed 000, with the squared loss J = 1/2 (y - h(x))^2.

    z = W1 x + b1,  a = ReLU(z),  h = W2 a + b2

The script checks the seed's three chain-rule lemmas against autodiff on one example
(dJ/dW = dJ/dz u^T, dJ/db = dJ/dz, dJ/du = W^T dJ/dz, dJ/dz = dJ/da * relu'(z)), then fits
y = sin(x) on [-3, 3] with nn.Linear layers and SGD.

    python examples/two_layer_relu.py
"""
from __future__ import annotations

import argparse

import numpy as np

import wengert as wg
from wengert import nn, optim
from wengert.nn import functional as F


def check_lemmas() -> None:
    rng = np.random.default_rng(0)
    W1, b1 = rng.standard_normal((4, 1)), rng.standard_normal(4)
    W2, b2 = rng.standard_normal((1, 4)), rng.standard_normal(1)
    x, y = np.array([0.7]), np.array([0.2])
    ps = [wg.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]
    z = wg.matmul(ps[0], x) + ps[1]
    a = wg.relu(z)
    h = wg.matmul(ps[2], a) + ps[3]
    J = 0.5 * ((y - h) ** 2).sum()
    J.backward()
    # by hand, from the last layer to the first (the seed's recipe)
    dh = (h.data - y)                       # dJ/dh
    dW2, db2 = np.outer(dh, a.data), dh     # lemma 1
    da = W2.T @ dh                          # lemma 3
    dz = da * (z.data > 0)                  # lemma 2
    dW1, db1 = np.outer(dz, x), dz          # lemma 1 again
    for name, p, hand in zip(("W1", "b1", "W2", "b2"), ps, (dW1, db1, dW2, db2)):
        np.testing.assert_allclose(p.grad.data, hand, rtol=1e-12, err_msg=name)
    print("seed 000 lemmas: autodiff == hand-derived dJ/dW1, dJ/db1, dJ/dW2, dJ/db2")


def fit_sine(steps: int = 2000, hidden: int = 32) -> float:
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, (256, 1))
    y = np.sin(x)
    net = nn.Sequential(nn.Linear(1, hidden, dtype=np.float64, rng=0), nn.ReLU(),
                        nn.Linear(hidden, 1, dtype=np.float64, rng=1))
    opt = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    for step in range(steps):
        J = 0.5 * F.mse_loss(net(x), y)
        opt.zero_grad()
        J.backward()
        opt.step()
        if step % 500 == 0 or step == steps - 1:
            print(f"step {step:5d}  J = {J.item():.5f}")
    return J.item()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000, help="SGD steps of the sine fit (default: 2000)")
    ap.add_argument("--hidden", type=int, default=32, help="hidden units of the sine fit (default: 32)")
    a = ap.parse_args()
    check_lemmas()
    fit_sine(a.steps, a.hidden)
