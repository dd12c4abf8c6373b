"""micrograd's moons demo, ported to wengert: a scalar-by-scalar MLP trained with a max-margin loss.

    python examples/port_micrograd_moons.py [--quick] [--steps 100] [--out boundary.png]

The original is ``demo.ipynb`` of Andrej Karpathy's micrograd: an MLP 2-16-16-1 built from
``Neuron``/``Layer``/``MLP`` classes whose every weight is a scalar ``Value``, trained on 100
points of sklearn's two moons (labels mapped to -1/+1) with the SVM "max-margin" loss
``relu(1 - y score)`` plus an L2 penalty, by full-batch SGD with a learning rate decaying from
1.0 to 0.1 over 100 steps. It reaches 100% training accuracy.

What changed in the port:

- ``Value(x)`` is a 0-d wengert tensor, ``wg.tensor(x, requires_grad=True)``; ``act.relu()``,
  ``sum(..., self.b)``, ``score.data`` and ``loss.backward()`` are unchanged.
- The data come from ``wg.data.make_moons`` (float32 X, int64 y: the loop multiplies 0-d
  tensors by NumPy scalars) instead of ``sklearn.datasets.make_moons(n_samples=, random_state=)``.
- micrograd feeds the inputs as ``list(map(Value, xrow))``. The port passes the NumPy scalars
  themselves (``list(xrow)``), which take the same fast path as Python floats; wrapped as 0-d
  float32 tensors they would work too (float64 weights times a float32 0-d tensor is float64, as
  in PyTorch) but each op would take the general path, about 5x slower.
- ``zero_grad`` sets ``p.grad = None`` (micrograd's ``p.grad = 0`` is refused at once, as
  in PyTorch: a gradient is a tensor), and the update is PyTorch's ``with wg.no_grad(): p -= lr * p.grad``
  (micrograd's ``p.data -= lr * p.grad`` works too).
- ``--out FILE`` writes micrograd's decision-boundary plot (needs matplotlib); ``--quick`` trains
  a 2-8-8-1 network on 50 points (the test suite's setting; it reaches 100% too).
"""
from __future__ import annotations

import argparse
import random

import numpy as np

import wengert as wg
from wengert.data import make_moons


class Module:
    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def parameters(self):
        return []


class Neuron(Module):
    def __init__(self, nin, nonlin=True):
        self.w = [wg.tensor(random.uniform(-1, 1), requires_grad=True) for _ in range(nin)]
        self.b = wg.tensor(0.0, requires_grad=True)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]

    def __repr__(self):
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self):
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(Module):
    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self):
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


def main(quick: bool = False, steps: int = 100, out: str | None = None, verbose: bool = True) -> dict:
    """Train micrograd's MLP on the moons; returns the losses, the final accuracy and the plot's path."""
    np.random.seed(1337)
    random.seed(1337)
    n_samples, hidden = (50, 8) if quick else (100, 16)

    X, y = make_moons(n_samples, noise=0.1, seed=1337)
    y = y * 2 - 1  # make y be -1 or 1

    model = MLP(2, [hidden, hidden, 1])  # 2-layer neural network
    if verbose:
        print(model)
        print("number of parameters", len(model.parameters()))

    def loss(batch_size=None):
        # inline DataLoader :)
        if batch_size is None:
            Xb, yb = X, y
        else:
            ri = np.random.permutation(X.shape[0])[:batch_size]
            Xb, yb = X[ri], y[ri]
        inputs = [list(xrow) for xrow in Xb]  # micrograd: list(map(Value, xrow)); see the docstring

        # forward the model to get scores
        scores = list(map(model, inputs))

        # svm "max-margin" loss
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(yb, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        # L2 regularization
        alpha = 1e-4
        reg_loss = alpha * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss

        # also get accuracy
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]
        return total_loss, sum(accuracy) / len(accuracy)

    losses, accuracies = [], []
    for k in range(steps):
        # forward
        total_loss, acc = loss()

        # backward
        model.zero_grad()
        total_loss.backward()

        # update (sgd)
        learning_rate = 1.0 - 0.9 * k / steps
        with wg.no_grad():
            for p in model.parameters():
                p -= learning_rate * p.grad

        losses.append(total_loss.item())
        accuracies.append(float(acc))
        if verbose and (k % 10 == 0 or k == steps - 1):
            print(f"step {k} loss {total_loss.data}, accuracy {acc * 100}%")

    final_loss, final_acc = loss()
    path = plot_boundary(model, X, y, out) if out else None
    return {"losses": losses, "accuracies": accuracies, "final_loss": final_loss.item(), "accuracy": float(final_acc),
            "dtype": str(final_loss.dtype), "out": path}


def plot_boundary(model, X, y, out: str) -> str | None:
    """micrograd's decision-boundary figure, written to ``out``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return None
    h = 0.25
    x_min, x_max = X[:, 0].min() - 1, X[:, 0].max() + 1
    y_min, y_max = X[:, 1].min() - 1, X[:, 1].max() + 1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))
    Xmesh = np.c_[xx.ravel(), yy.ravel()]
    inputs = [list(xrow) for xrow in Xmesh]
    with wg.no_grad():
        scores = list(map(model, inputs))
    Z = np.array([s.data > 0 for s in scores])
    Z = Z.reshape(xx.shape)
    fig = plt.figure()
    plt.contourf(xx, yy, Z, cmap=plt.cm.Spectral, alpha=0.8)
    plt.scatter(X[:, 0], X[:, 1], c=y, s=40, cmap=plt.cm.Spectral)
    plt.xlim(xx.min(), xx.max())
    plt.ylim(yy.min(), yy.max())
    fig.savefig(out, dpi=80)
    plt.close(fig)
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="MLP 2-8-8-1 on 50 points (default: off, micrograd's "
                    "2-16-16-1 on 100 points)")
    ap.add_argument("--steps", type=int, default=100, help="SGD steps (default: 100)")
    ap.add_argument("--out", default=None, help="PNG file for the decision boundary (default: none)")
    a = ap.parse_args()
    result = main(quick=a.quick, steps=a.steps, out=a.out)
    print(f"final loss {result['final_loss']:.4f}, accuracy {100 * result['accuracy']:.1f}%")
