"""A tanh RNN that predicts the next value of noisy sine waves, with gradient clipping and a schedule.

    python examples/port_rnn_clip.py [--quick] [--epochs 30]

The original is the PyTorch program every RNN tutorial grows into: ``nn.RNN(input_size,
hidden_size, nonlinearity="tanh", batch_first=True)`` followed by ``nn.Linear(hidden_size, 1)``,
trained with ``nn.MSELoss`` and Adam to predict, at every step of a sequence, the next value;
``nn.utils.clip_grad_norm_`` bounds the gradient's norm (backpropagation through time can explode;
0.25, the clip of PyTorch's word-language-model example) and
a learning-rate scheduler (``ExponentialLR``) decays the step size once per epoch. The data are
sine waves with random frequency, phase and amplitude plus noise.

What changed in the port: ``import torch`` / ``from torch import nn, optim`` became ``import
wengert as wg`` / ``from wengert import nn, optim``; the mini-batches come from
``wg.data.DataLoader((X, Y), batch_size=, shuffle=True, seed=)`` instead of a
``TensorDataset`` in a ``torch.utils.data.DataLoader``; ``wg.manual_seed`` seeds the
layers' initial weights as ``torch.manual_seed`` does. Everything else, the model, the loop,
the clipping and the scheduler, is PyTorch's
code. ``--quick`` trains on fewer, shorter sequences for fewer epochs (the tests' setting).
"""
from __future__ import annotations

import argparse

import numpy as np

import wengert as wg
from wengert import data, nn, optim


class SineRNN(nn.Module):
    def __init__(self, hidden_size: int = 32):
        super().__init__()
        self.rnn = nn.RNN(input_size=1, hidden_size=hidden_size, num_layers=1, nonlinearity="tanh", batch_first=True)
        self.fc = nn.Linear(hidden_size, 1)

    def forward(self, x):
        out, _h_n = self.rnn(x)  # out: (batch, seq_len, hidden_size), every step's hidden state
        return self.fc(out)  # (batch, seq_len, 1): the prediction of the next value at every step


def make_waves(n: int, length: int, noise: float = 0.05, seed: int = 0) -> tuple:
    """``n`` noisy sine waves of ``length + 1`` samples; inputs are steps 0..L-1, targets steps 1..L."""
    rng = np.random.default_rng(seed)
    t = np.arange(length + 1)
    freq = rng.uniform(0.1, 0.3, size=(n, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    amp = rng.uniform(0.5, 1.0, size=(n, 1))
    waves = amp * np.sin(freq * t + phase) + noise * rng.standard_normal((n, length + 1))
    waves = waves.astype(np.float32)[..., None]  # (n, L + 1, 1)
    return waves[:, :-1], waves[:, 1:]


def main(quick: bool = False, epochs: int | None = None, verbose: bool = True) -> dict:
    """Train; returns the per-epoch losses, the learning rates, the gradient norms before clipping and baselines."""
    n, length, hidden = (256, 30, 16) if quick else (512, 40, 32)
    epochs = epochs if epochs is not None else (20 if quick else 30)
    X, Y = make_waves(n, length, seed=0)
    X_val, Y_val = make_waves(128, length, seed=1)

    wg.manual_seed(0)  # as torch.manual_seed(0)
    model = SineRNN(hidden)
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    scheduler = optim.ExponentialLR(optimizer, gamma=0.9)
    loader = data.DataLoader((X, Y), batch_size=32, shuffle=True, seed=0)

    with wg.no_grad():
        initial_val = criterion(model(X_val), Y_val).item()
    losses, val_losses, lrs, grad_norms = [], [], [], []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            pred = model(xb)
            loss = criterion(pred, yb)
            loss.backward()
            # clip_grad_norm_ returns the total norm before clipping
            grad_norms.append(nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.25).item())
            optimizer.step()
            total += loss.item() * len(xb)
        lrs.append(scheduler.get_last_lr()[0])
        scheduler.step()
        losses.append(total / len(X))
        model.eval()
        with wg.no_grad():
            val_losses.append(criterion(model(X_val), Y_val).item())
        if verbose:
            print(f"epoch {epoch + 1:3d}  train {losses[-1]:.5f}  val {val_losses[-1]:.5f}  lr {lrs[-1]:.5f}  "
                  f"grad norm (last batch) {grad_norms[-1]:.3f}")

    persistence = float(np.mean((X_val - Y_val) ** 2))  # predict "the next value is the current one"
    if verbose:
        print(f"validation MSE {val_losses[-1]:.5f} (untrained {initial_val:.5f}, repeating the last value "
              f"{persistence:.5f}, the noise {0.05 ** 2:.5f} in the targets alone)")
    return {"losses": losses, "val_losses": val_losses, "initial_val_loss": initial_val, "lrs": lrs,
            "grad_norms": grad_norms, "persistence_mse": persistence}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="256 waves of 30 steps, hidden size 16, 20 epochs "
                    "(default: off, 512 waves of 40 steps, hidden size 32, 30 epochs)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs (default: 30, or 20 with --quick)")
    a = ap.parse_args()
    main(quick=a.quick, epochs=a.epochs)
