"""A small convolutional network on the built-in 8x8 digits.

Conv(1->16, 3x3, pad 1) - ReLU - MaxPool 2 - Conv(16->32, 3x3, pad 1) - ReLU - MaxPool 2 - Linear(128 -> 10),
trained with Adam; prints the test accuracy after each epoch.

    python examples/cnn_digits.py [--epochs 8]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import wengert as wg
from wengert import data, nn, optim
from wengert.nn import functional as F


def main(epochs: int = 8, seed: int = 0) -> float:
    X, y = data.load_digits(flat=False)
    X = (X[:, None] - 0.3) / 0.4  # (N, 1, 8, 8), roughly standardised
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_fraction=0.2, seed=seed, stratify=y)
    rng = np.random.default_rng(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10, rng=rng))
    opt = optim.Adam(net.parameters(), lr=3e-3)
    loader = data.DataLoader((Xtr, ytr), batch_size=64, shuffle=True, seed=seed)
    acc = 0.0
    for epoch in range(epochs):
        t0 = time.perf_counter()
        net.train()
        for xb, yb in loader:
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with wg.no_grad():
            acc = float(np.mean(np.argmax(net(Xte).data, axis=1) == yte))
        print(f"epoch {epoch + 1}: last batch loss {loss.item():.4f}, test accuracy {100 * acc:.1f}% "
              f"({time.perf_counter() - t0:.1f} s)")
    return acc


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8, help="training epochs (default: 8)")
    main(ap.parse_args().epochs)
