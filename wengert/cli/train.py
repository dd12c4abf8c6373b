"""``wengert train``: train a small network on a built-in dataset, with progress bars, metrics, plots, checkpoints.

    wengert train --data digits --model mlp --hidden 128,64 --epochs 20 --optimizer adam --seed 0 --out runs/digits

Writes ``checkpoint.safetensors`` (model, optimiser and run state; rewritten
atomically after every epoch), ``metrics.csv`` and ``curves.png`` into
``--out``; ``--resume`` continues a run from its checkpoint.  Bad arguments
exit with status 2 and a one-line message; a NaN loss stops the run with a
message naming the step (status 1).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DATASETS = ("digits", "moons", "circles", "spirals", "xor")
MODELS = ("mlp", "cnn", "logreg")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "leaky_relu")
SCHEDULERS = ("none", "step", "cosine")
DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}
# settings that fix the network's shape: a checkpoint can only resume a run with the same ones
ARCH_KEYS = ("data", "model", "hidden", "activation", "dropout", "standardize", "dtype", "samples", "noise",
             "test_fraction", "seed")
CHECKPOINT = "checkpoint.safetensors"


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
_positive_float = _number(float, lambda v: v > 0 and math.isfinite(v), "a positive number")
_nonneg_float = _number(float, lambda v: v >= 0 and math.isfinite(v), "a number >= 0")
_dropout = _number(float, lambda v: 0 <= v < 1, "a probability in [0, 1)")
_fraction = _number(float, lambda v: 0 < v < 1, "a fraction strictly between 0 and 1")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``wengert train`` (shared with ``wengert demo``)."""
    p.add_argument("--data", choices=DATASETS, default="digits", help="built-in dataset (default: digits)")
    p.add_argument("--model", choices=MODELS, default="mlp", help="mlp, cnn (digits only) or logreg")
    p.add_argument("--hidden", type=_hidden, default=(128, 64), metavar="N,N,...",
                   help="hidden layer widths of the MLP (default: 128,64)")
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    p.add_argument("--dropout", type=_dropout, default=0.0, metavar="P", help="dropout after each hidden layer")
    p.add_argument("--no-standardize", dest="standardize", action="store_false",
                   help="feed raw features (default: standardise them with the training set's mean and std)")
    p.add_argument("--epochs", type=_positive_int, default=20)
    p.add_argument("--batch-size", type=_positive_int, default=32)
    p.add_argument("--lr", type=_positive_float, default=None,
                   help="learning rate (default: 0.1 for sgd, 1e-3 otherwise)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    p.add_argument("--momentum", type=_nonneg_float, default=0.0, help="SGD/RMSprop momentum")
    p.add_argument("--weight-decay", type=_nonneg_float, default=0.0)
    p.add_argument("--scheduler", choices=SCHEDULERS, default="none", help="learning-rate schedule per epoch")
    p.add_argument("--clip", type=_positive_float, default=None, metavar="MAX_NORM",
                   help="clip the gradient norm to this value")
    p.add_argument("--seed", type=int, default=0, help="seeds the data split, the weights and the shuffling")
    p.add_argument("--samples", type=_positive_int, default=1000, help="points of a generated dataset")
    p.add_argument("--noise", type=_nonneg_float, default=None, help="noise of a generated dataset")
    p.add_argument("--test-fraction", type=_fraction, default=0.2)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default: runs/<data>-<model>)")
    p.add_argument("--resume", action="store_true", help=f"continue the run in --out from its {CHECKPOINT}")
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
    """Checks that involve several options (exit 2 with one line via parser.error)."""
    if args.model == "cnn" and args.data != "digits":
        parser.error(f"argument --model: cnn needs image data (--data digits), got --data {args.data}")
    if args.data == "digits" and args.noise is not None:
        parser.error("argument --noise: only the generated datasets (moons, circles, spirals, xor) have noise")
    if args.momentum and args.optimizer not in ("sgd", "rmsprop"):
        parser.error(f"argument --momentum: the {args.optimizer} optimizer has no momentum setting")
    if args.out is None:
        args.out = os.path.join("runs", f"{args.data}-{args.model}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"argument --out: {args.out} exists and is not a directory")
    if args.resume and not (out / CHECKPOINT).is_file():
        parser.error(f"argument --resume: no {CHECKPOINT} in {args.out} to resume from")


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
    Xtr, Xte, ytr, yte = data.train_test_split(X, y, test_fraction=args.test_fraction, seed=args.seed, stratify=y)
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


def build_optimizer(args: argparse.Namespace, model: Any) -> tuple:
    from wengert import optim

    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]
    params = list(model.parameters())
    if args.optimizer == "sgd":
        opt = optim.SGD(params, lr=lr, momentum=args.momentum, weight_decay=args.weight_decay)
    elif args.optimizer == "adam":
        opt = optim.Adam(params, lr=lr, weight_decay=args.weight_decay)
    elif args.optimizer == "adamw":
        opt = optim.AdamW(params, lr=lr, weight_decay=args.weight_decay or 0.01)
    else:
        opt = optim.RMSprop(params, lr=lr, momentum=args.momentum, weight_decay=args.weight_decay)
    sched = None
    if args.scheduler == "step":
        sched = optim.StepLR(opt, step_size=max(1, args.epochs // 3), gamma=0.3)
    elif args.scheduler == "cosine":
        sched = optim.CosineAnnealingLR(opt, T_max=args.epochs)
    return opt, sched


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


@dataclass
class Result:
    """What a training run produced."""

    out: Path
    history: list = field(default_factory=list)  # one dict per epoch
    seconds: float = 0.0
    files: list = field(default_factory=list)

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}


# ------------------------------------------------------------------ the run
def train(args: argparse.Namespace, echo: Any = print) -> Result:
    """Run (or resume) the training described by ``args``; returns the history and the files written."""
    import wengert as wg
    from wengert.data import DataLoader
    from wengert.nn import functional as F
    from wengert.optim import clip_grad_norm_

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    Xtr, Xte, ytr, yte, n_classes = load_data(args)
    in_features = int(np.prod(Xtr.shape[1:]))
    model = build_model(args, in_features, n_classes, Xtr)
    opt, sched = build_optimizer(args, model)
    loader = DataLoader((Xtr, ytr), batch_size=args.batch_size, shuffle=True, seed=args.seed)
    history: list = []
    start_epoch = 0
    ckpt = out / CHECKPOINT
    if args.resume:
        start_epoch, history = _restore(ckpt, args, model, opt, sched, loader)
        echo(f"resumed {ckpt} at epoch {start_epoch}")

    progress = _progress_factory(args)
    t_start = time.perf_counter()
    step = start_epoch * len(loader)
    anomaly = wg.detect_anomaly() if args.detect_anomaly else None
    if anomaly is not None:
        anomaly.__enter__()
    quiet_fp = np.errstate(over="ignore", invalid="ignore")  # a non-finite loss is reported below, by step
    quiet_fp.__enter__()
    try:
        for epoch in range(start_epoch, args.epochs):
            t0 = time.perf_counter()
            model.train()
            loss_sum, correct, seen = 0.0, 0, 0
            bar = progress(loader, f"epoch {epoch + 1}/{args.epochs}")
            for xb, yb in bar:
                step += 1
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
                if args.clip is not None:
                    clip_grad_norm_(model.parameters(), args.clip)
                opt.step()
                loss_sum += lv * len(yb)
                correct += int(np.sum(np.argmax(logits.data, axis=1) == yb))
                seen += len(yb)
                if hasattr(bar, "set_postfix_str"):
                    bar.set_postfix_str(f"loss {lv:.4f}", refresh=False)
            lr = opt.param_groups[0]["lr"]
            if sched is not None:
                sched.step()
            test_loss, test_acc = evaluate(model, Xte, yte)
            row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                   "test_loss": test_loss, "test_acc": test_acc, "lr": lr, "seconds": time.perf_counter() - t0}
            history.append(row)
            if not args.quiet:
                echo(f"epoch {epoch + 1:3d}/{args.epochs}  train loss {row['train_loss']:.4f} "
                     f"acc {100 * row['train_acc']:5.1f}%   test loss {test_loss:.4f} acc {100 * test_acc:5.1f}%"
                     f"   ({row['seconds']:.2f} s)")
            _checkpoint(ckpt, args, model, opt, sched, loader, history)
            _write_csv(out / "metrics.csv", history)
    finally:
        quiet_fp.__exit__(None, None, None)
        if anomaly is not None:
            anomaly.__exit__(None, None, None)
    result = Result(out=out, history=history, seconds=time.perf_counter() - t_start)
    result.files = [ckpt, out / "metrics.csv"]
    if not args.no_plot and history:
        png = _plot(out / "curves.png", history, f"{args.data} / {args.model}")
        if png is not None:
            result.files.append(png)
    return result


def _progress_factory(args: argparse.Namespace) -> Any:
    if args.quiet:
        return lambda it, desc: it
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is in the nn extra
        return lambda it, desc: it
    return lambda it, desc: tqdm(it, desc=desc, leave=False, unit="batch", file=sys.stderr, disable=None)


def _checkpoint(path: Path, args: argparse.Namespace, model: Any, opt: Any, sched: Any, loader: Any,
                history: list) -> None:
    import wengert as wg

    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    state.update({f"optim.{k}": v for k, v in opt.state_dict().items()})
    run = {"epoch": len(history), "arch": {k: _jsonable(getattr(args, k)) for k in ARCH_KEYS},
           "scheduler": sched.state_dict() if sched is not None else None,
           "loader": loader.state_dict(), "dropout_rngs": _dropout_rngs(model), "history": history}
    wg.save(state, path, metadata={"format": "wengert-train-1", "run": json.dumps(run)})


def _dropout_rngs(model: Any) -> dict:
    """The generators of the Dropout layers (their masks must continue exactly on --resume)."""
    from wengert import nn

    return {name: m.rng.bit_generator.state for name, m in model.named_modules() if isinstance(m, nn.Dropout)}


def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _restore(path: Path, args: argparse.Namespace, model: Any, opt: Any, sched: Any, loader: Any) -> tuple:
    import wengert as wg

    state, meta = wg.load(path, with_metadata=True)
    if meta.get("format") != "wengert-train-1" or "run" not in meta:
        raise ValueError(f"{path} was not written by wengert train (no run metadata): cannot resume from it")
    run = json.loads(meta["run"])
    mismatch = [f"--{k.replace('_', '-')} {run['arch'].get(k)!r} in the checkpoint, {_jsonable(getattr(args, k))!r} now"
                for k in ARCH_KEYS if run["arch"].get(k) != _jsonable(getattr(args, k))]
    if mismatch:
        raise ValueError("cannot resume: the run's settings differ: " + "; ".join(mismatch))
    model.load_state_dict({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})
    opt.load_state_dict({k[len("optim."):]: v for k, v in state.items() if k.startswith("optim.")})
    if sched is not None and run.get("scheduler"):
        sched.load_state_dict(run["scheduler"])
    loader.load_state_dict(run["loader"])
    modules = dict(model.named_modules())
    for name, state in run.get("dropout_rngs", {}).items():
        modules[name].rng.bit_generator.state = state
    return int(run["epoch"]), list(run["history"])


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


def run(args: argparse.Namespace) -> int:
    parser = args._parser
    check_arguments(args, parser)
    try:
        result = train(args)
    except NonFiniteLoss as exc:
        print(f"wengert train: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a checkpoint that cannot be resumed
        print(f"wengert train: error: {exc}", file=sys.stderr)
        return 1
    f = result.final
    print(f"done in {result.seconds:.1f} s: test accuracy {100 * f['test_acc']:.2f}%, test loss {f['test_loss']:.4f}")
    for p in result.files:
        print(f"  wrote {p}")
    return 0


__all__ = ["Result", "add_arguments", "add_parser", "build_model", "check_arguments", "evaluate", "train"]
