"""Run by tests/test_distributed.py under ``mpiexec -n 2``: the library API of wengert.distributed on real ranks.

Every rank also trains the one-process reference itself (no MPI calls), so the
comparison needs no files.  Each check asserts; rank 0 prints ``OK`` at the end.
"""
from __future__ import annotations

import sys

import numpy as np


def build(seed: int):
    from wengert import nn

    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(5, 7, dtype=np.float64, rng=rng), nn.Tanh(),
                         nn.Linear(7, 3, dtype=np.float64, rng=rng))


def train(model, loader, distributed_step: bool) -> list:
    from wengert import distributed, optim
    from wengert.nn import functional as F

    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(3):
        for xb, yb in loader:
            opt.zero_grad()
            if len(yb):
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                losses.append(float(loss.item()) * len(yb))
            if distributed_step:
                distributed.allreduce_gradients(model, weight=len(yb))
            opt.step()
    return losses


def main() -> None:
    import wengert as wg
    from wengert import data, distributed

    world = distributed.init()
    assert world.size == 2 and world.comm is not None, world
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((49, 5)), rng.integers(0, 3, 49)  # 49 = 3 * 16 + 1: the last part of rank 1 is empty

    # the one-process reference, computed on every rank without MPI
    ref = build(0)
    ref_losses = train(ref, data.DataLoader((X, y), batch_size=16, shuffle=True, seed=5), distributed_step=False)

    # data parallel: rank 1 starts from other weights, which broadcast_parameters replaces by rank 0's
    model = build(0 if world.rank == 0 else 99)
    distributed.broadcast_parameters(model)
    sampler = data.DistributedSampler(len(y), batch_size=16, shuffle=True, seed=5)
    assert (sampler.rank, sampler.num_replicas) == (world.rank, 2)
    losses = train(model, data.DataLoader((X, y), batch_sampler=sampler), distributed_step=True)
    for (name, a), b in zip(ref.state_dict().items(), model.state_dict().values()):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12, err_msg=name)
    (total,) = distributed.sum_over_ranks(float(np.sum(losses)))
    np.testing.assert_allclose(total, np.sum(ref_losses), rtol=1e-9)

    # accumulating without zero_grad into gradients that are views of the reused buffer: twice the average
    from wengert.nn import functional as F

    xb, yb = X[world.rank::2], y[world.rank::2]
    model.zero_grad()
    for _ in range(2):
        F.cross_entropy(model(xb), yb).backward()
        distributed.allreduce_gradients(model, weight=len(yb))
        if _ == 0:
            once = [p.grad.data.copy() for p in model.parameters()]
    for p, g in zip(model.parameters(), once):
        np.testing.assert_allclose(p.grad.data, 2 * g, rtol=1e-12)

    # plain mean (no weight); a gradient present on one rank only; a parameter with no gradient anywhere
    a = wg.tensor(np.zeros(3), requires_grad=True)
    b = wg.tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    c = wg.tensor(np.zeros(4), requires_grad=True)
    a.grad = wg.tensor(np.full(3, 1.0 + world.rank))
    if world.rank == 0:
        b.grad = wg.tensor(np.array([2.0, 4.0], dtype=np.float32))
    distributed.allreduce_gradients([a, b, c])
    np.testing.assert_array_equal(a.grad.data, [1.5, 1.5, 1.5])
    np.testing.assert_array_equal(b.grad.data, [1.0, 2.0])
    assert b.grad.dtype == np.float32 and c.grad is None

    # parameters given as a list are broadcast too; 0-d parameters survive the round trip
    s = wg.tensor(np.float64(world.rank + 7.0), requires_grad=True)
    distributed.broadcast_parameters([s, a])
    assert s.item() == 7.0

    # dropout: after seed_per_rank each rank draws its own masks, reproducibly per epoch
    from wengert import nn

    drop = nn.Sequential(nn.Dropout(0.5, rng=1))
    distributed.seed_per_rank(drop, seed=0, epoch=4)
    mask = drop(np.ones(64)).data
    distributed.seed_per_rank(drop, seed=0, epoch=4)
    np.testing.assert_array_equal(drop(np.ones(64)).data, mask)
    buf = np.empty((2, 64))
    world.comm.Allgather(mask, buf)
    assert not np.array_equal(buf[0], buf[1]), "the ranks drew the same dropout mask"

    if world.rank == 0:
        print("OK", flush=True)


if __name__ == "__main__":
    main()
    sys.exit(0)
