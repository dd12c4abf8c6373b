"""An MLP classifier on two moons, with its decision boundary plotted.

    python examples/moons.py [--out moons_boundary.png] [--epochs 200]

Writes the PNG file named by --out: the predicted probability of class 1 over the plane, the
0.5 contour, and the training points.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import wengert as wg
from wengert import data, nn, optim
from wengert.nn import functional as F


def main(out: str = "moons_boundary.png", epochs: int = 200) -> tuple:
    X, y = data.make_moons(400, noise=0.15, seed=0)
    net = nn.Sequential(nn.Linear(2, 32, rng=0), nn.Tanh(), nn.Linear(32, 32, rng=1), nn.Tanh(),
                        nn.Linear(32, 2, rng=2))
    opt = optim.Adam(net.parameters(), lr=0.01)
    loader = data.DataLoader((X, y), batch_size=64, shuffle=True, seed=0)
    for _epoch in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with wg.no_grad():
        acc = float(np.mean(np.argmax(net(X).data, axis=1) == y))
        xx, yy = np.meshgrid(np.linspace(-1.5, 2.5, 200), np.linspace(-1.0, 1.5, 150))
        grid = np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)
        prob = F.softmax(net(grid), axis=1).data[:, 1].reshape(xx.shape)
    print(f"training accuracy {100 * acc:.1f}% after {epochs} epochs, final batch loss {loss.item():.4f}")
    path = None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return acc, path
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.contourf(xx, yy, prob, levels=20, cmap="RdBu_r", alpha=0.6)
    ax.contour(xx, yy, prob, levels=[0.5], colors="k")
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolors="w", linewidths=0.4, s=18)
    ax.set_title(f"two moons: MLP 2-32-32-2, accuracy {100 * acc:.1f}%")
    path = out
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")
    return acc, path


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="moons_boundary.png", help="PNG file to write (default: moons_boundary.png)")
    ap.add_argument("--epochs", type=int, default=200, help="training epochs (default: 200)")
    a = ap.parse_args()
    main(a.out, a.epochs)
