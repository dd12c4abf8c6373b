"""A small CNN trained with a checkpoint of the whole run, then resumed exactly, ported from PyTorch to wengert.

    python examples/port_cnn_checkpoint.py [--quick] [--epochs 10] [--stop-after 5] [--out cnn_run.safetensors]

The original is two PyTorch tutorials put together, as users do: "Training a Classifier" (the
LeNet-style ``Net`` of ``nn.Conv2d``, ``nn.MaxPool2d`` and ``nn.Linear``, ``nn.CrossEntropyLoss``,
``optim.SGD`` with momentum) and "Saving and loading a general checkpoint"
(``torch.save({"epoch": ..., "model_state_dict": ..., "optimizer_state_dict": ..., "loss": ...},
PATH)``, then a fresh model and optimiser, ``torch.load`` and ``load_state_dict``).

The script trains ``epochs`` epochs without a break, then trains again from the same seeds,
saving the whole run after every epoch, stops after ``stop_after`` epochs (the "crash"), builds
a new model and optimiser with other initial weights, loads the checkpoint and trains to the
end. The resumed run ends with exactly the weights, optimiser state and losses of the
uninterrupted one (``main`` returns the comparison; the tests assert it).

What changed in the port, besides ``import torch`` becoming ``import wengert as wg`` (with
``from wengert import nn, optim`` and ``from wengert.nn import functional as F``):

- The data are the built-in 8x8 digits (one channel; ``padding=1`` keeps the 3x3 convolutions
  from shrinking them) instead of CIFAR-10, and ``wg.data.DataLoader((X, y), batch_size=,
  shuffle=True, seed=)`` takes the arrays where PyTorch takes a ``Dataset``.
- To resume *exactly*, the checkpoint also holds the scheduler's and the loader's state (the
  shuffling generator): in PyTorch that is ``generator.get_state()``, which the tutorial leaves out.
- ``torch.load(PATH, weights_only=True)`` is ``wg.load(PATH, weights_only=True)`` (the file is
  safetensors, never pickle: weights only is all there is).
- The tutorial's test loop, ``_, predicted = wg.max(outputs, 1)``, is PyTorch's (a positional
  dim gives values and indices; ``np.max(outputs, 1)`` keeps NumPy's meaning). ``labels.size(0)``
  is ``len(labels)``: the loader yields NumPy arrays, whose ``size`` is a number.
- ``wg.manual_seed`` seeds the layers' initial weights, as ``torch.manual_seed`` does.
- The optimiser is Adam (lr 1e-2, halved every 3 epochs by ``StepLR``) instead of the tutorial's
  SGD at 1e-3, which needs many more steps on this small data set.
- ``--quick`` trains 4 epochs, stopping after 2 (the tests' setting).
"""
from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import wengert as wg
from wengert import data, nn, optim
from wengert.nn import functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)  # 8x8 -> 8x8, pooled to 4x4
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 3, padding=1)  # 4x4 -> 4x4, pooled to 2x2
        self.fc1 = nn.Linear(16 * 2 * 2, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = wg.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def load_data() -> tuple:
    images, labels = data.load_digits(flat=False)
    images = images[:, None].astype(np.float32)  # (N, 1, 8, 8)
    X_train, X_test, y_train, y_test = data.train_test_split(images, labels, test_fraction=0.2, seed=0,
                                                            stratify=labels)
    return X_train, y_train, X_test, y_test


def build(init_seed: int, X_train, y_train) -> tuple:
    """A fresh model, optimiser, scheduler and loader (``init_seed`` draws the initial weights)."""
    wg.manual_seed(init_seed)  # as torch.manual_seed: the layers' initial weights repeat
    net = Net()
    optimizer = optim.Adam(net.parameters(), lr=1e-2)
    scheduler = optim.StepLR(optimizer, step_size=3, gamma=0.5)
    trainloader = data.DataLoader((X_train, y_train), batch_size=32, shuffle=True, seed=0)
    return net, optimizer, scheduler, trainloader


def train_epoch(net, optimizer, trainloader, criterion) -> float:
    net.train()
    running_loss, batches = 0.0, 0
    for inputs, labels in trainloader:
        # zero the parameter gradients
        optimizer.zero_grad()

        # forward + backward + optimize
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()

        running_loss += loss.item()
        batches += 1
    return running_loss / batches


def accuracy(net, X, y) -> float:
    """The tutorial's test loop: the share of test images whose largest score is their label."""
    net.eval()
    testloader = data.DataLoader((X, y), batch_size=100, shuffle=False)
    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with wg.no_grad():
        for images, labels in testloader:
            # calculate outputs by running images through the network
            outputs = net(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = wg.max(outputs, 1)  # as torch.max(outputs, 1): values and indices
            total += len(labels)  # labels.size(0): the loader yields NumPy arrays
            correct += (predicted == labels).sum().item()
    return correct / total


def run(epochs: int, X_train, y_train, *, path: str | None = None, stop_after: int | None = None,
        resume: bool = False, init_seed: int = 0, verbose: bool = True) -> tuple:
    """Train to ``epochs`` (saving the whole run to ``path`` after every epoch; stopping after ``stop_after``)."""
    net, optimizer, scheduler, trainloader = build(init_seed, X_train, y_train)
    criterion = nn.CrossEntropyLoss()
    start, losses = 0, []
    if resume:
        checkpoint = wg.load(path, weights_only=True)
        net.load_state_dict(checkpoint["model_state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
        scheduler.load_state_dict(checkpoint["scheduler_state_dict"])
        trainloader.load_state_dict(checkpoint["loader_state_dict"])
        start = checkpoint["epoch"] + 1
        losses = list(checkpoint["losses"])
        if verbose:
            print(f"resumed from {path}: epoch {checkpoint['epoch']} done, loss {checkpoint['loss']:.4f}")
    for epoch in range(start, epochs):
        loss = train_epoch(net, optimizer, trainloader, criterion)
        scheduler.step()
        losses.append(loss)
        if verbose:
            print(f"[epoch {epoch + 1}] loss: {loss:.4f}  lr {scheduler.get_last_lr()[0]:g}")
        if path is not None:
            wg.save({
                "epoch": epoch,
                "model_state_dict": net.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(),
                "scheduler_state_dict": scheduler.state_dict(),
                "loader_state_dict": trainloader.state_dict(),
                "loss": loss,
                "losses": losses,
            }, path)
        if stop_after is not None and epoch + 1 == stop_after:
            if verbose:
                print(f"stopped after epoch {epoch + 1} (checkpoint in {path})")
            break
    return net, optimizer, losses


def _same_state(a: dict, b: dict) -> bool:
    """Two state dicts (nested) hold exactly the same numbers."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b))
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def main(quick: bool = False, epochs: int | None = None, stop_after: int | None = None, out: str | None = None,
         verbose: bool = True) -> dict:
    """Train without a break, then with a break and a resume; returns both runs' figures and the comparison."""
    epochs = epochs if epochs is not None else (4 if quick else 10)
    stop_after = stop_after if stop_after is not None else epochs // 2
    X_train, y_train, X_test, y_test = load_data()

    if verbose:
        print(f"--- {epochs} epochs without a break")
    net_a, opt_a, losses_a = run(epochs, X_train, y_train, verbose=verbose)

    tmp = None
    if out is None:
        tmp = tempfile.TemporaryDirectory()
        out = os.path.join(tmp.name, "cnn_run.safetensors")
    try:
        if verbose:
            print(f"--- the same run, stopped after {stop_after} epochs and resumed")
        run(epochs, X_train, y_train, path=out, stop_after=stop_after, verbose=verbose)
        net_b, opt_b, losses_b = run(epochs, X_train, y_train, path=out, resume=True, init_seed=1, verbose=verbose)
        saved = wg.load(out)
    finally:
        if tmp is not None:
            tmp.cleanup()

    result = {
        "losses": losses_a,
        "resumed_losses": losses_b,
        "same_weights": _same_state(net_a.state_dict(), net_b.state_dict()),
        "same_optimizer": _same_state(opt_a.state_dict(), opt_b.state_dict()),
        "test_accuracy": accuracy(net_a, X_test, y_test),
        "resumed_test_accuracy": accuracy(net_b, X_test, y_test),
        "checkpoint_epoch": saved["epoch"],
        "out": None if tmp is not None else out,
    }
    if verbose:
        print(f"test accuracy {100 * result['test_accuracy']:.1f}%; resumed run identical: "
              f"weights {result['same_weights']}, optimiser {result['same_optimizer']}, "
              f"losses {losses_a == losses_b}")
        if result["out"]:
            print(f"wrote {out}")
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 epochs (default: off, 10 epochs)")
    ap.add_argument("--epochs", type=int, default=None, help="epochs of the whole run (default: 10, or 4 with --quick)")
    ap.add_argument("--stop-after", type=int, default=None, help="epoch after which the second run stops and "
                    "resumes (default: half of --epochs)")
    ap.add_argument("--out", default=None, help="checkpoint file to write and keep (default: a temporary file)")
    a = ap.parse_args()
    main(quick=a.quick, epochs=a.epochs, stop_after=a.stop_after, out=a.out)
