"""``wengert demo``: the main job.  (Until the nn layer lands: the seeds' worked examples.)"""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demo (the seeds' worked examples)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import wengert as wg

    x, y, z = (wg.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    f = (x + y) * z
    f.backward()
    print("seed 001: f = (x + y) * z at x=-2, y=5, z=-4")
    print(f"  f = {f.item():g};  df/dx = {x.grad.item():g}, df/dy = {y.grad.item():g}, df/dz = {z.grad.item():g}")
    W = wg.tensor(3.0, requires_grad=True)
    L = -1.0 * wg.log(wg.sigmoid(W * 3.0))
    L.backward()
    print("seed 004: L = -y log(sigmoid(W X)) at X=3, y=1, W=3")
    print(f"  L = {L.item():.10g};  dL/dW = {W.grad.item():.10g}  (= -X (1 - sigmoid(9)) = -3 e^-9 / (1 + e^-9))")
    return 0
