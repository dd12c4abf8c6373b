"""``wengert train``: train a small network on a built-in dataset, with progress bars, metrics, plots, checkpoints.

    wengert train --data digits --model mlp --hidden 128,64 --epochs 40 --optimizer adam --seed 0 --out runs/digits
    wengert train --out runs/digits --resume --epochs 60

Writes ``checkpoint.safetensors`` (the model, the optimiser, every setting
and the run's state, in one file; rewritten atomically after every epoch),
``metrics.csv`` and ``curves.png`` into ``--out``.  ``--resume`` continues a
run exactly from its checkpoint (see :mod:`wengert.cli.resume` for what a
resume may change); a second run into the same ``--out`` needs ``--resume``
or ``--overwrite``.  Bad arguments exit with status 2 and a one-line
message; a NaN loss stops the run with a message naming the step (status
1); Ctrl-C stops it with one line (status 130), keeping the checkpoint of
the last completed epoch.  Under ``mpiexec -n N`` the ranks split every
batch and average their gradients (:mod:`wengert.distributed`); rank 0 alone
prints and writes, and a failing rank ends the whole job.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wengert import distributed

from .resume import (
    ARCH_KEYS,
    STATEFUL,
    ResumeError,
    UsageError,
    allowed_changes,
    reconcile,
    schedule_cycle,
    settings_of,
    track_given,
)

DATASETS = ("digits", "moons", "circles", "spirals", "xor")
MODELS = ("mlp", "cnn", "logreg")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu")
SCHEDULERS = ("none", "step", "cosine")
DEFAULT_LR = {"sgd": 0.1, "adam": 3e-3, "adamw": 3e-3, "rmsprop": 1e-3}
DEFAULT_WEIGHT_DECAY = {"adamw": 0.01}  # 0 for the others
CHECKPOINT = "checkpoint.safetensors"
FORMAT = "wengert-train-2"
ARTEFACTS = (CHECKPOINT, "metrics.csv", "curves.png")


# ------------------------------------------------------------------ argument types (one-line errors)
def _hidden(text: str) -> tuple:
    if text.strip() == "":
        return ()
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 128,64, got {text!r}")
    return sizes


def _number(kind: type, ok: Any, expected: str) -> Any:
    """An argparse type: parse ``text`` as ``kind`` and check ``ok(value)``, else a one-line error."""

    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            v = None
        if v is None or not ok(v):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return v

    parse.__name__ = expected  # argparse names the type in some messages
    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_seed = _number(int, lambda v: 0 <= v < 2**63, "an integer >= 0")
_positive_float = _number(float, lambda v: v > 0 and math.isfinite(v), "a positive number")
_nonneg_float = _number(float, lambda v: v >= 0 and math.isfinite(v), "a number >= 0")
_dropout = _number(float, lambda v: 0 <= v < 1, "a probability in [0, 1)")
_fraction = _number(float, lambda v: 0 < v < 1, "a fraction strictly between 0 and 1")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``wengert train`` (shared with ``wengert demo``)."""
    track_given(p)
    p.add_argument("--data", choices=DATASETS, default="digits", help="built-in dataset")
    p.add_argument("--model", choices=MODELS, default="mlp", help="mlp, cnn (digits only) or logreg")
    p.add_argument("--hidden", type=_hidden, default=(256,), metavar="N,N,...",
                   help="hidden layer widths of the MLP, e.g. 128,64 (default: 256)")
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu", help="activation of the hidden layers")
    p.add_argument("--dropout", type=_dropout, default=0.0, metavar="P", help="dropout after each hidden layer")
    p.add_argument("--no-standardize", dest="standardize", action="store_false",
                   help="feed raw features (default: standardise them with the training set's mean and std)")
    p.add_argument("--epochs", type=_positive_int, default=40,
                   help="total epochs of the run (on --resume: default the run's own; a larger value extends it)")
    p.add_argument("--batch-size", type=_positive_int, default=64, help="examples per step")
    p.add_argument("--lr", type=_positive_float, default=None,
                   help="learning rate (default: 0.1 for sgd, 3e-3 for adam and adamw, 1e-3 for rmsprop)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="the optimiser")
    p.add_argument("--momentum", type=_nonneg_float, default=0.0, help="SGD/RMSprop momentum")
    p.add_argument("--weight-decay", type=_nonneg_float, default=None,
                   help="weight decay (default: 0.01 for adamw, decoupled; 0 for the others)")
    p.add_argument("--scheduler", choices=SCHEDULERS, default="cosine",
                   help="learning-rate schedule over the epochs (step: x0.3 every third of them)")
    p.add_argument("--clip", type=_positive_float, default=None, metavar="MAX_NORM",
                   help="clip the gradient norm to this value (default: no clipping)")
    p.add_argument("--seed", type=_seed, default=0, help="seeds the data split, the weights and the shuffling")
    p.add_argument("--samples", type=_positive_int, default=1000, help="points of a generated dataset")
    p.add_argument("--noise", type=_nonneg_float, default=None,
                   help="noise of a generated dataset (default: the generator's own)")
    p.add_argument("--test-fraction", type=_fraction, default=0.2, help="share of the data held out for testing")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="floating-point precision")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default: runs/<data>-<model>)")
    p.add_argument("--resume", action="store_true", help=f"continue the run in --out from its {CHECKPOINT}")
    p.add_argument("--allow-change", type=allowed_changes, default=None, metavar="SETTING,...",
                   help="on --resume, accept these changed settings: optimizer, lr, momentum, weight-decay, "
                        "scheduler, batch-size, clip (default: none; others are refused)")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    p.add_argument("--detect-anomaly", action="store_true", help="find the op behind a NaN (slower)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    p.add_argument("--no-plot", action="store_true", help="do not write curves.png")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a network on a built-in dataset",
                       description="Train a network on a built-in dataset; writes a checkpoint, metrics.csv "
                                   "and curves.png.")
    add_arguments(p)
    p.set_defaults(func=run, _parser=p)


def check_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Checks that involve several options or the file system (exit 2 with one line via parser.error).

    Creates ``--out`` once everything else is fine.  On ``--resume`` the
    settings are checked again in :func:`train`, once the checkpoint's are in.
    """
    if args.out is None:
        args.out = os.path.join("runs", f"{args.data}-{args.model}")
    try:
        if not args.resume:
            resolve_defaults(args)
            check_settings(args)
    except UsageError as exc:
        parser.error(str(exc))
    if args.allow_change and not args.resume:
        parser.error("argument --allow-change: only applies with --resume")
    if args.resume and args.overwrite:
        parser.error("argument --overwrite: not allowed with --resume (one continues the run in --out, the other "
                     "replaces it)")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"argument --out: {args.out} exists and is not a directory")
    if args.resume and not (out / CHECKPOINT).is_file():
        parser.error(f"argument --resume: no {CHECKPOINT} in {args.out} to resume from")
    held = [name for name in ARTEFACTS if (out / name).exists()]
    if held and not args.resume and not args.overwrite:
        parser.error(f"argument --out: {args.out} already holds a run ({', '.join(held)}); continue it with "
                     "--resume, or replace it with --overwrite")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"argument --out: cannot create the directory {args.out}: {exc.strerror or exc}")
    if not os.access(out, os.W_OK):
        parser.error(f"argument --out: cannot write into {args.out} (permission denied)")
    if not args.resume and args.overwrite and distributed.init().is_root:  # under MPI, rank 0 alone writes
        for name in held:
            (out / name).unlink()


def resolve_defaults(args: argparse.Namespace) -> None:
    """Turn the per-optimiser defaults (None) into numbers, so that a checkpoint records what was used."""
    if args.lr is None:
        args.lr = DEFAULT_LR[args.optimizer]
    if args.weight_decay is None:
        args.weight_decay = DEFAULT_WEIGHT_DECAY.get(args.optimizer, 0.0)


def check_settings(args: argparse.Namespace) -> None:
    """The checks that involve several settings (raises :class:`UsageError`)."""
    if args.model == "cnn" and args.data != "digits":
        raise UsageError(f"argument --model: cnn needs image data (--data digits), got --data {args.data}")
    if args.data == "digits" and args.noise is not None:
        raise UsageError("argument --noise: only the generated datasets (moons, circles, spirals, xor) have noise")
    if args.momentum and args.optimizer not in ("sgd", "rmsprop"):
        raise UsageError(f"argument --momentum: the {args.optimizer} optimizer has no momentum setting")
    check_memory(args)


def _sizes(args: argparse.Namespace) -> tuple[int, int, int]:
    """(samples, features, classes) of the dataset, without making it."""
    if args.data == "digits":
        return 1797, 64, 10
    return args.samples, 2, 3 if args.data == "spirals" else 2


def check_memory(args: argparse.Namespace, available: int | None = None) -> None:
    """Refuse, before allocating anything, a run that needs more memory than the machine has.

    A rough upper bound: the data (generated in float64, then cast and split),
    the weights (made in float64, then cast), gradients and optimiser state,
    and the activations of one batch (or of an evaluation batch of 512).
    """
    available = _physical_memory() if available is None else available
    if not available:
        return
    n, d, classes = _sizes(args)
    item = np.dtype(args.dtype).itemsize
    widths = [d, *args.hidden, classes] if args.model == "mlp" else [d, classes] if args.model == "logreg" else [d]
    params = sum(a * b + b for a, b in itertools.pairwise(widths)) if args.model != "cnn" else 10_000
    needs = {
        "--samples": n * d * (3 * 8 + 3 * item),
        "--hidden": params * (8 + 6 * item),
        "--batch-size": max(args.batch_size, 512) * sum(widths) * item * 8,
    }
    total = sum(needs.values())
    if total > available:
        culprit = max(needs, key=needs.get)
        if culprit == "--batch-size" and args.batch_size <= 512:  # evaluation batches of 512: the widths are to blame
            culprit = "--hidden"
        what = {"--samples": f"{n} samples", "--hidden": f"a network of {params:.3g} parameters",
                "--batch-size": f"batches of {args.batch_size}"}[culprit]
        raise UsageError(f"argument {culprit}: {what} would need about {total / 2**30:.1f} GiB of memory, more than "
                         f"this machine's {available / 2**30:.1f} GiB; use a smaller value")


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 0


# ------------------------------------------------------------------ building blocks
def load_data(args: argparse.Namespace) -> tuple:
    """(X_train, X_test, y_train, y_test, n_classes, input_shape)."""
    from wengert import data

    if args.data == "digits":
        X, y = data.load_digits(flat=True)
    else:
        kw = {} if args.noise is None else {"noise": args.noise}
        X, y = data.DATASETS[args.data](args.samples, seed=args.seed, **kw)
    X = X.astype(args.dtype)
    try:
        Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_fraction=args.test_fraction, seed=args.seed, stratify=y)
    except ValueError:
        Xtr = Xte = np.zeros((0,))
    if len(Xtr) == 0 or len(Xte) == 0:
        classes = int(y.max()) + 1
        raise UsageError(f"argument --samples: {len(y)} samples leave {'no test' if len(Xte) == 0 else 'no training'} "
                         f"data with --test-fraction {args.test_fraction}; use --samples "
                         f"{classes * math.ceil(1 / min(args.test_fraction, 1 - args.test_fraction))} or more")
    if args.model == "cnn":
        Xtr, Xte = Xtr.reshape(-1, 1, 8, 8), Xte.reshape(-1, 1, 8, 8)
    return Xtr, Xte, ytr, yte, int(y.max()) + 1


def _standardize_module(mean: np.ndarray, std: np.ndarray) -> Any:
    from wengert import nn

    class Standardize(nn.Module):
        """(x - mean) / std with the training set's statistics, kept as buffers (so they are in the checkpoint)."""

        def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
            super().__init__()
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)

        def forward(self, x: Any) -> Any:
            import wengert as wg

            return (wg.as_tensor(x) - self.mean) * (1.0 / self.std)

    return Standardize(mean, std)


def build_model(args: argparse.Namespace, in_features: int, n_classes: int, X_train: np.ndarray | None = None) -> Any:
    """The network named by --model / --hidden / --activation, initialised from --seed.

    With ``--standardize`` (the default) the first layer standardises the
    inputs with the mean and std of ``X_train`` (per feature for the MLP, one
    value for the CNN).
    """
    from wengert import nn

    rng = np.random.default_rng(args.seed)
    dtype = np.dtype(args.dtype)
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
           "leaky_relu": nn.LeakyReLU}[args.activation]
    layers: list = []
    if args.standardize:
        if X_train is None:
            raise ValueError("build_model: standardisation needs the training inputs")
        if args.model == "cnn":
            mean, std = np.asarray(X_train.mean(), dtype=dtype), np.asarray(X_train.std() + 1e-3, dtype=dtype)
        else:  # a small floor keeps near-constant pixels (the digits' borders) from blowing up
            mean, std = X_train.mean(axis=0).astype(dtype), (X_train.std(axis=0) + 0.1).astype(dtype)
        layers.append(_standardize_module(mean, std))
    if args.model == "logreg":
        layers.append(nn.Linear(in_features, n_classes, dtype=dtype, rng=rng))
    elif args.model == "cnn":
        layers += [nn.Conv2d(1, 16, 3, padding=1, dtype=dtype, rng=rng), act(), nn.MaxPool2d(2),
                   nn.Conv2d(16, 32, 3, padding=1, dtype=dtype, rng=rng), act(), nn.MaxPool2d(2),
                   nn.Flatten()]
        if args.dropout:
            layers.append(nn.Dropout(args.dropout, rng=rng))
        layers.append(nn.Linear(32 * 2 * 2, n_classes, dtype=dtype, rng=rng))
    else:
        width = in_features
        for h in args.hidden:
            layers += [nn.Linear(width, h, dtype=dtype, rng=rng), act()]
            if args.dropout:
                layers.append(nn.Dropout(args.dropout, rng=rng))
            width = h
        layers.append(nn.Linear(width, n_classes, dtype=dtype, rng=rng))
    return nn.Sequential(*layers)


def build_optimizer(args: argparse.Namespace, model: Any) -> Any:
    """The optimiser named by --optimizer with --lr, --momentum and --weight-decay (defaults resolved)."""
    from wengert import optim

    params = list(model.parameters())
    lr, wd = args.lr, args.weight_decay
    if args.optimizer == "sgd":
        return optim.SGD(params, lr=lr, momentum=args.momentum, weight_decay=wd)
    if args.optimizer == "adam":
        return optim.Adam(params, lr=lr, weight_decay=wd)
    if args.optimizer == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=wd)
    return optim.RMSprop(params, lr=lr, momentum=args.momentum, weight_decay=wd)


def build_scheduler(args: argparse.Namespace, opt: Any, cycle: tuple[int, int], epoch: int,
                    state: dict | None = None) -> Any:
    """The --scheduler over one cycle ``(first epoch, length)``, positioned at ``epoch``; None for no schedule.

    With ``state`` (the scheduler's own state from a checkpoint of the same
    cycle) it continues exactly where it was, learning rates included;
    without, the learning rates come from the schedule's closed form at
    ``epoch`` and the groups' ``initial_lr``.
    """
    from wengert import optim

    start, length = cycle
    if args.scheduler == "step":
        sched = optim.StepLR(opt, step_size=max(1, length // 3), gamma=0.3)
    elif args.scheduler == "cosine":
        sched = optim.CosineAnnealingLR(opt, T_max=length)
    else:
        return None
    if state is None:
        sched.load_state_dict({"last_epoch": epoch - start})  # (an epoch count alone: the closed form)
    else:
        sched.load_state_dict(state)
        for g, lr in zip(opt.param_groups, state["_last_lr"]):
            g["lr"] = lr
    return sched


def evaluate(model: Any, X: np.ndarray, y: np.ndarray, batch_size: int = 512) -> tuple:
    """(mean loss, accuracy) of the model on (X, y), in eval mode, without recording a graph."""
    import wengert as wg
    from wengert.nn import functional as F

    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    with wg.no_grad():
        for lo in range(0, len(y), batch_size):
            logits = model(X[lo: lo + batch_size])
            yb = y[lo: lo + batch_size]
            total += float(F.cross_entropy(logits, yb, reduction="sum").item())
            correct += int(np.sum(np.argmax(logits.data, axis=1) == yb))
    model.train(was_training)
    return total / len(y), correct / len(y)


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped the run; ``completed`` epochs are in the checkpoint (None: nothing was saved)."""

    def __init__(self, out: Path, completed: int | None) -> None:
        super().__init__(out, completed)
        self.out, self.completed = out, completed

    def __str__(self) -> str:
        if self.completed is None:
            return "interrupted before the first epoch ended: nothing was saved"
        return (f"interrupted: {self.out / CHECKPOINT} holds epoch {self.completed} (nothing half-written); "
                f"continue with: wengert train --out {self.out} --resume")


@dataclass
class Result:
    """What a training run produced."""

    out: Path
    history: list = field(default_factory=list)  # one dict per epoch, including those of earlier calls
    seconds: float = 0.0
    files: list = field(default_factory=list)  # the files written by this call
    start_epoch: int = 0  # epochs completed before this call (non-zero on --resume)

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}


# ------------------------------------------------------------------ the run
def train(args: argparse.Namespace, echo: Any = print) -> Result:
    """Run (or resume) the training described by ``args``; returns the history and the files written.

    Raises :class:`UsageError` (bad settings), :class:`ResumeError` (a
    checkpoint that cannot continue as asked), :class:`NonFiniteLoss` and
    :class:`Interrupted` (Ctrl-C).
    """
    import wengert as wg
    from wengert.data import DataLoader, DistributedSampler
    from wengert.io import require_safetensors
    from wengert.nn import functional as F

    require_safetensors("wengert train")
    world = distributed.init()  # under mpiexec: this rank's part of each batch; rank 0 alone prints and writes
    if not world.is_root:
        echo = _silent
    out = Path(args.out)
    if world.is_root:
        out.mkdir(parents=True, exist_ok=True)
    ckpt = out / CHECKPOINT
    saved, notes, start_epoch = None, [], 0
    if args.resume:
        saved = _load_run(ckpt)
        start_epoch = saved["run"]["epoch"]
        notes = reconcile(args, saved["run"], start_epoch)
    resolve_defaults(args)
    check_settings(args)
    history: list = list(saved["run"]["history"]) if saved else []
    if start_epoch >= args.epochs:
        return Result(out=out, history=history, start_epoch=start_epoch)

    Xtr, Xte, ytr, yte, n_classes = load_data(args)
    in_features = int(np.prod(Xtr.shape[1:]))
    model = build_model(args, in_features, n_classes, Xtr)
    opt = build_optimizer(args, model)
    loader = DataLoader((Xtr, ytr), batch_sampler=DistributedSampler(len(ytr), args.batch_size, shuffle=True,
                                                                     seed=args.seed))
    cycle = schedule_cycle(args, saved["run"] if saved else None, start_epoch)
    if saved:
        notes += _restore(saved, args, model, opt, loader, ckpt)
        if args.scheduler != "none" and start_epoch and cycle[0] == start_epoch != saved["run"]["schedule_cycle"][0]:
            notes.append(f"extending the run to {args.epochs} epochs: a new cycle of the {args.scheduler} schedule "
                         f"over epochs {start_epoch + 1}..{args.epochs}, from lr {args.lr:g} (a warm restart)")
    sched = build_scheduler(args, opt, cycle, start_epoch, _scheduler_state(saved, args, cycle))
    for note in notes:
        echo(f"note: {note}")
    if saved:
        echo(f"resumed {ckpt} at epoch {start_epoch}")
    distributed.broadcast_parameters(model)

    progress = _progress_factory(args) if world.is_root else _silent
    t_start = time.perf_counter()
    step = start_epoch * len(loader)
    written: list = []
    anomaly = wg.detect_anomaly() if args.detect_anomaly else None
    if anomaly is not None:
        anomaly.__enter__()
    quiet_fp = np.errstate(over="ignore", invalid="ignore")  # a non-finite loss is reported below, by step
    quiet_fp.__enter__()
    try:
        for epoch in range(start_epoch, args.epochs):
            t0 = time.perf_counter()
            model.train()
            distributed.seed_per_rank(model, args.seed, epoch)
            loss_sum, correct, seen = 0.0, 0, 0
            bar = progress(loader, f"epoch {epoch + 1}/{args.epochs}")
            for xb, yb in bar:
                step += 1
                if len(yb) == 0:  # MPI: a short last batch left this rank nothing; it still joins the average
                    opt.zero_grad()
                    _update(model, opt, args.clip, weight=0)
                    continue
                try:
                    logits = model(xb)
                    loss = F.cross_entropy(logits, yb)
                except FloatingPointError as exc:  # --detect-anomaly found the op
                    raise NonFiniteLoss(f"training stopped at epoch {epoch + 1}, step {step}: {exc}") from None
                lv = float(loss.item())
                if not math.isfinite(lv):
                    raise NonFiniteLoss(
                        f"training stopped: the loss became {lv} at epoch {epoch + 1}, step {step} "
                        f"(batch {step - epoch * len(loader)} of {len(loader)}); try a smaller --lr or --clip, "
                        "and rerun with --detect-anomaly to find the op that produced it")
                opt.zero_grad()
                try:
                    loss.backward()
                except FloatingPointError as exc:
                    raise NonFiniteLoss(f"training stopped at epoch {epoch + 1}, step {step}: {exc}") from None
                _update(model, opt, args.clip, weight=len(yb))
                loss_sum += lv * len(yb)
                correct += int(np.sum(np.argmax(logits.data, axis=1) == yb))
                seen += len(yb)
                if hasattr(bar, "set_postfix_str"):
                    bar.set_postfix_str(f"loss {lv:.4f}", refresh=False)
            loss_sum, correct, seen = distributed.sum_over_ranks(loss_sum, correct, seen)
            lr = opt.param_groups[0]["lr"]
            if sched is not None:
                sched.step()
            test_loss, test_acc = evaluate(model, Xte, yte)
            row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                   "test_loss": test_loss, "test_acc": test_acc, "lr": lr, "seconds": time.perf_counter() - t0}
            if not args.quiet:
                echo(f"epoch {epoch + 1:3d}/{args.epochs}  train loss {row['train_loss']:.4f} "
                     f"acc {100 * row['train_acc']:5.1f}%   test loss {test_loss:.4f} acc {100 * test_acc:5.1f}%"
                     f"   ({row['seconds']:.2f} s)")
            with _sigint_deferred():  # the checkpoint and the metrics of an epoch are written together
                history.append(row)
                if world.is_root:
                    _checkpoint(ckpt, args, model, opt, sched, loader, history, cycle)
                    _write_csv(out / "metrics.csv", history)
            written = [ckpt, out / "metrics.csv"]
    except KeyboardInterrupt:
        raise Interrupted(out, len(history) if ckpt.exists() else None) from None
    finally:
        quiet_fp.__exit__(None, None, None)
        if anomaly is not None:
            anomaly.__exit__(None, None, None)
    result = Result(out=out, history=history, seconds=time.perf_counter() - t_start, files=written,
                    start_epoch=start_epoch)
    if not args.no_plot and history and world.is_root:
        png = _plot(out / "curves.png", history, f"{args.data} / {args.model}")
        if png is not None:
            result.files.append(png)
    return result


def _update(model: Any, opt: Any, clip: float | None, weight: int) -> None:
    """Average the gradients over the MPI ranks (a no-op in one process), clip them, take the optimiser step."""
    from wengert.optim import clip_grad_norm_

    distributed.allreduce_gradients(model, weight=weight)
    if clip is not None:
        clip_grad_norm_(model.parameters(), clip)
    opt.step()


def _silent(it: Any = None, *rest: Any) -> Any:
    """The echo and progress bar of the ranks other than 0 (they print nothing)."""
    return it


@contextlib.contextmanager
def _sigint_deferred() -> Any:
    """Hold Ctrl-C until the block is done (then raise it): files written together stay together."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, None)


def _progress_factory(args: argparse.Namespace) -> Any:
    if args.quiet:
        return lambda it, desc: it
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the nn extra
        return lambda it, desc: it
    return lambda it, desc: tqdm(it, desc=desc, leave=False, unit="batch", file=sys.stderr, disable=None)


def _checkpoint(path: Path, args: argparse.Namespace, model: Any, opt: Any, sched: Any, loader: Any, history: list,
                cycle: tuple[int, int]) -> None:
    """The whole run in one file: model, optimiser, every setting, the schedule, the shuffling, the history."""
    import wengert as wg

    run = {"epoch": len(history), "settings": settings_of(args), "schedule_cycle": list(cycle),
           "scheduler": sched.state_dict() if sched is not None else None,
           "loader": loader.state_dict(), "dropout_rngs": _dropout_rngs(model), "history": history}
    wg.save({"format": FORMAT, "model": model.state_dict(), "optim": opt.state_dict(), "run": run}, path)


def _scheduler_state(saved: dict | None, args: argparse.Namespace, cycle: tuple[int, int]) -> dict | None:
    """The checkpoint's scheduler state, if the run goes on with the same schedule, base lr and optimiser."""
    if saved is None:
        return None
    run, recorded = saved["run"], saved["run"]["settings"]
    state = run.get("scheduler")
    same = (list(cycle) == run["schedule_cycle"] and all(getattr(args, k) == recorded.get(k)
                                                          for k in ("scheduler", "lr", "optimizer")))
    return state if same and isinstance(state, dict) and isinstance(state.get("_last_lr"), list) else None


def _dropout_rngs(model: Any) -> dict:
    """The generators of the Dropout layers (their masks must continue exactly on --resume)."""
    from wengert import nn

    return {name: m.rng.bit_generator.state for name, m in model.named_modules() if isinstance(m, nn.Dropout)}


def _load_run(path: Path) -> dict:
    """The checkpoint of a run, with its run record checked (raises :class:`ResumeError` with one line)."""
    import wengert as wg
    from wengert.io import CheckpointError

    try:
        state = wg.load(path)
    except CheckpointError as exc:
        raise ResumeError(f"cannot resume: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        if any(isinstance(k, str) and k.startswith("model.") for k in state):
            raise ResumeError(f"cannot resume: {path} was written by an older wengert train; start a new run "
                              "(its weights still load with wg.load)")
        raise ResumeError(f"cannot resume: {path} was not written by wengert train (it has no run record)")
    run = state.get("run")
    needs = {"epoch": int, "settings": dict, "schedule_cycle": list, "loader": dict, "history": list}
    for key, kind in {"model": dict, "run": dict}.items():
        if not isinstance(state.get(key), kind):
            raise ResumeError(f"cannot resume: {path} has no {key!r} entry (damaged?)")
    for key, kind in needs.items():
        if not isinstance(run.get(key), kind) or isinstance(run.get(key), bool):
            raise ResumeError(f"cannot resume: the run record in {path} lacks {key!r} (damaged?)")
    missing = [k for k in ARCH_KEYS if k not in run["settings"]]
    if missing or run["epoch"] < 0 or len(run["history"]) != run["epoch"]:
        raise ResumeError(f"cannot resume: the run record in {path} is incomplete ({', '.join(missing) or 'epochs'})")
    return state


def _restore(saved: dict, args: argparse.Namespace, model: Any, opt: Any, loader: Any, path: Path) -> list[str]:
    """Put the checkpoint's state into the fresh model, optimiser and loader; returns notes to print."""
    run, notes = saved["run"], []
    completed = run["epoch"]
    try:
        model.load_state_dict(saved["model"])
    except (ValueError, TypeError) as exc:
        raise ResumeError(f"cannot resume from {path}: {exc}") from None
    recorded = run["settings"]
    ostate = saved.get("optim")
    stateful = recorded.get("optimizer") in STATEFUL or bool(recorded.get("momentum"))
    lacking = not isinstance(ostate, dict) or (completed > 0 and stateful and not ostate.get("state"))
    if args.optimizer != recorded.get("optimizer"):
        notes.append(f"the {args.optimizer} optimizer starts with fresh state (the checkpoint's is "
                     f"{recorded.get('optimizer')}'s)")
    elif lacking:
        if "optimizer" not in (args.allow_change or ()):
            raise ResumeError(f"cannot resume: {path} holds no {args.optimizer} state (its moments would restart "
                              "from zero); accept that with --allow-change optimizer")
        notes.append(f"the {args.optimizer} optimizer starts with fresh state (the checkpoint holds none)")
    else:
        try:
            opt.load_state_dict(ostate)
        except (ValueError, TypeError) as exc:
            raise ResumeError(f"cannot resume from {path}: {exc}") from None
    for g in opt.param_groups:  # the settings (recorded, or changed with --allow-change) win over the state's
        g["initial_lr"] = args.lr  # the schedule's base; the scheduler sets "lr" (or it is the base, unscheduled)
        if args.scheduler == "none":
            g["lr"] = args.lr
        g["weight_decay"] = args.weight_decay
        if "momentum" in g:
            g["momentum"] = args.momentum
    try:
        loader.load_state_dict(run["loader"])
        modules = dict(model.named_modules())
        for name, state in run.get("dropout_rngs", {}).items():
            modules[name].rng.bit_generator.state = state
    except (KeyError, TypeError, ValueError) as exc:
        raise ResumeError(f"cannot resume: the run record in {path} has a damaged generator state ({exc})") from None
    return notes


def _write_csv(path: Path, history: list) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(history[0]))
        w.writeheader()
        for row in history:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    os.replace(tmp, path)


def _plot(path: Path, history: list, title: str) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is in the nn extra
        return None
    ep = [r["epoch"] for r in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    a1.plot(ep, [r["train_loss"] for r in history], label="train")
    a1.plot(ep, [r["test_loss"] for r in history], label="test")
    a1.set_xlabel("epoch")
    a1.set_ylabel("cross-entropy")
    a1.set_yscale("log")
    a1.legend()
    a2.plot(ep, [100 * r["train_acc"] for r in history], label="train")
    a2.plot(ep, [100 * r["test_acc"] for r in history], label="test")
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy (%)")
    a2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return path


@distributed.abort_on_failure  # under MPI: MPI starts first, and a failing rank ends the whole job with its error
def run(args: argparse.Namespace) -> int:
    from wengert.io import require_safetensors

    parser = args._parser
    try:
        require_safetensors("wengert train")
    except ModuleNotFoundError as exc:
        print(f"wengert train: error: {exc}", file=sys.stderr)
        return 1
    check_arguments(args, parser)
    # what stops a run -> (the start of its one line, exit status); OSError: e.g. a full disk (the old checkpoint stays)
    stops = ((UsageError, f"{parser.prog}: error: ", 2), (NonFiniteLoss, "wengert train: ", 1),
             (ResumeError, "wengert train: error: ", 1), (Interrupted, "wengert train: ", 130),
             (MemoryError, "wengert train: error: out of memory; use a smaller --hidden, --batch-size or --samples", 1),
             (OSError, "wengert train: error: ", 1))
    try:
        result = train(args)
    except tuple(kind for kind, _, _ in stops) as exc:
        head, status = next((h, s) for kind, h, s in stops if isinstance(exc, kind))
        print(head if isinstance(exc, MemoryError) else f"{head}{exc}", file=sys.stderr)
        return status
    if not distributed.init().is_root:
        return 0
    if not result.files:
        print(f"nothing to do: the run in {args.out} has already completed {result.start_epoch} epochs "
              f"(--epochs {args.epochs}); give a larger --epochs to extend it")
        return 0
    f = result.final
    print(f"done in {result.seconds:.1f} s: test accuracy {100 * f['test_acc']:.2f}%, test loss {f['test_loss']:.4f}")
    for p in result.files:
        print(f"  wrote {p}")
    return 0


__all__ = ["Interrupted", "Result", "add_arguments", "add_parser", "build_model", "check_arguments", "evaluate",
           "train"]
