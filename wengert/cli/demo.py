"""``wengert demo`` (``make demo``): train the digits MLP to at least 97% test accuracy and show what it wrote.

A three-line preamble recalls the first worked example of the lecture notes
(seed 001); then an MLP 64-128-64-10 learns the 8x8 handwritten digits with
Adam and a cosine learning-rate schedule, in a few seconds on two cores.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

TARGET_ACCURACY = 0.97
DEMO_ARGS = ["--data", "digits", "--model", "mlp", "--hidden", "128,64", "--optimizer", "adam", "--lr", "0.003",
             "--batch-size", "64", "--epochs", "40", "--scheduler", "cosine", "--seed", "1"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train the digits MLP to >= 97%% test accuracy and show the artefacts",
                       description="Train an MLP on the built-in 8x8 digits (the recipe of `wengert train` "
                                   "with: " + " ".join(DEMO_ARGS) + ").")
    p.add_argument("--out", default=os.path.join("runs", "demo"), metavar="DIR",
                   help="where to write the checkpoint, metrics and plot (default: runs/demo)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    p.set_defaults(func=run)


def _preamble() -> None:
    import wengert as wg

    x, y, z = (wg.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    f = (x + y) * z
    f.backward()
    print("wengert demo -- seed 001: f = (x + y) * z at x=-2, y=5, z=-4")
    print(f"  f = {f.item():g};  backprop gives df/dx = {x.grad.item():g}, df/dy = {y.grad.item():g}, "
          f"df/dz = {z.grad.item():g}")
    print("now the same chain rule, through a network: an MLP 64-128-64-10 on the 8x8 handwritten digits\n")


def run(args: argparse.Namespace) -> int:
    from .train import Interrupted, add_arguments, train

    _preamble()
    parser = argparse.ArgumentParser(prog="wengert demo")
    add_arguments(parser)
    targs = parser.parse_args(DEMO_ARGS + ["--out", args.out, "--overwrite"] + (["--quiet"] if args.quiet else []))
    t0 = time.perf_counter()
    try:
        result = train(targs)
    except Interrupted as exc:
        print(f"wengert demo: {exc}", file=sys.stderr)
        return 130
    wall = time.perf_counter() - t0
    final = result.final
    acc = final["test_acc"]
    print(f"\ntest accuracy {100 * acc:.2f}% after {final['epoch']} epochs in {wall:.1f} s "
          f"(target: {100 * TARGET_ACCURACY:.0f}% in under a minute)")
    print("artefacts:")
    for p in result.files:
        size = os.path.getsize(p) if os.path.exists(p) else 0
        print(f"  {p!s:40s} {size / 1024:7.1f} KiB")
    best = max(result.history, key=lambda r: r["test_acc"])
    print(f"  metrics.csv: one row per epoch (best test accuracy {100 * best['test_acc']:.2f}% at epoch "
          f"{best['epoch']}); curves.png: loss and accuracy curves")
    print(f"extend it with:  wengert train --out {args.out} --resume --epochs 60")
    if acc < TARGET_ACCURACY:
        print(f"demo FAILED: test accuracy {100 * acc:.2f}% is below {100 * TARGET_ACCURACY:.0f}%", file=sys.stderr)
        return 1
    return 0
