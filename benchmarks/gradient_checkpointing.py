"""Gradient checkpointing on a deep MLP: the memory one training step needs, with and without ``wg.checkpoint``.

A 32-layer tanh MLP (width 256, batch 2048, float64: the activations outweigh the weights) in blocks of 4.
Figure: the peak of memory allocated during one forward + backward pass (NumPy's
allocations, traced with tracemalloc), and the step's time, without
checkpointing and with every block after the first checkpointed.  Both give the
same gradients (checked).  Not a W workload: ``python benchmarks/gradient_checkpointing.py``
prints its table (``--quick``: width 256).
"""
from __future__ import annotations  # noqa: I001  (interleave first: it pins BLAS threads before NumPy loads)

import argparse
import time
import tracemalloc

from interleave import THREADS  # before numpy

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    import wengert as wg
    from wengert import nn

    width, depth, per_block, batch = (64, 12, 4, 256) if args.quick else (256, 32, 4, 2048)
    blocks = []
    for b in range(depth // per_block):
        layers = []
        for i in range(per_block):
            layers += [nn.Linear(width, width, rng=b * per_block + i), nn.Tanh()]
        blocks.append(nn.Sequential(*layers).double())
    x0 = np.random.default_rng(0).standard_normal((batch, width))

    def step(ckpt: bool) -> tuple:
        for blk in blocks:
            blk.zero_grad()
        h = wg.tensor(x0)
        tracemalloc.start()
        t0 = time.perf_counter()
        for k, blk in enumerate(blocks):
            h = wg.checkpoint(blk, h) if ckpt and k else blk(h)
        wg.sum(h * h).backward()
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak, dt, [p.grad.data.copy() for blk in blocks for p in blk.parameters()]

    step(False)  # warm-up
    plain = step(False)
    ckpt = step(True)
    same = all(np.allclose(a, b, rtol=1e-10, atol=1e-12) for a, b in zip(plain[2], ckpt[2]))
    print(f"| {depth}-layer tanh MLP, width {width}, batch {batch}, float64, {THREADS} BLAS thread(s) | peak MB | step s |")
    print("|---|---|---|")
    print(f"| no checkpointing | {plain[0] / 2**20:.1f} | {plain[1]:.3f} |")
    print(f"| wg.checkpoint every block of {per_block} layers | {ckpt[0] / 2**20:.1f} | {ckpt[1]:.3f} |")
    print(f"\nmemory x {ckpt[0] / plain[0]:.2f}, time x {ckpt[1] / plain[1]:.2f}; same gradients: {same}")


if __name__ == "__main__":
    main()
