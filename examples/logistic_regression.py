"""Logistic regression, as in seeds 002 and 004: one sigmoid unit trained by gradient descent.

Part 1 redoes seed 004's worked example: X = 3, y = 1, W = 3, L = -y log(sigmoid(W X)).
The chain rule gives dL/dW = -X (1 - sigmoid(9)) = -3 e^-9 / (1 + e^-9) = -0.000370...; the
seed's table prints +0.00037018372: its xi_4 row drops the minus sign of d(1/xi_3)/d xi_3.

Part 2 trains logistic regression (seed 002's notation: z = w.x + b, a = sigmoid(z),
J = mean of -(y log a + (1 - y) log(1 - a))) on two well-separated digit classes, and checks
the autodiff gradient against the seed's closed form dJ/dw = X^T (a - y) / m, dJ/db = mean(a - y).

    python examples/logistic_regression.py
"""
from __future__ import annotations

import argparse
import math

import numpy as np

import wengert as wg
from wengert import data, nn, optim
from wengert.nn import functional as F


def seed_004() -> None:
    W = wg.tensor(3.0, requires_grad=True)
    X, y = 3.0, 1.0
    L = -y * wg.log(wg.sigmoid(W * X))
    L.backward()
    exact = -3 * math.exp(-9) / (1 + math.exp(-9))
    print(f"seed 004: L = {L.item():.6e}, dL/dW = {W.grad.item():.11f} (closed form {exact:.11f})")


def train(epochs: int = 100, lr: float = 0.5) -> float:
    X, y = data.load_digits()
    keep = (y == 0) | (y == 1)
    X, y = X[keep].astype(np.float64), (y[keep] == 1).astype(np.float64)
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_fraction=0.25, seed=0)
    model = nn.Linear(64, 1, dtype=np.float64, rng=0)
    opt = optim.SGD(model.parameters(), lr=lr)
    for epoch in range(epochs):
        z = model(Xtr)[:, 0]
        J = F.binary_cross_entropy(wg.sigmoid(z), ytr)
        opt.zero_grad()
        J.backward()
        if epoch == 0:  # the seed's closed form, checked once
            a = 1 / (1 + np.exp(-z.data))
            np.testing.assert_allclose(model.weight.grad.data[0], Xtr.T @ (a - ytr) / len(ytr), rtol=1e-10)
            np.testing.assert_allclose(model.bias.grad.data[0], np.mean(a - ytr), rtol=1e-10)
            print("epoch 1: autodiff gradient == X^T (a - y) / m (seed 002's formula)")
        opt.step()
    with wg.no_grad():
        acc = float(np.mean((model(Xte).data[:, 0] > 0) == (yte == 1)))
    print(f"after {epochs} epochs: training cost J = {J.item():.4f}, test accuracy (0 vs 1) = {100 * acc:.1f}%")
    return acc


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=100, help="gradient-descent steps of part 2 (default: 100)")
    ap.add_argument("--lr", type=float, default=0.5, help="learning rate of part 2 (default: 0.5)")
    a = ap.parse_args()
    seed_004()
    train(a.epochs, a.lr)
