"""W3DP: W3's large-MLP step data-parallel on MPI, 2 ranks of one BLAS thread against 1 process of one BLAS thread.

The step of W3 (float32, global batch 512, MLP 784-2048-2048-10 ReLU, softmax
cross-entropy, SGD lr 0.01, the same data and initial weights) run by one
process, and by two ranks that each take half of the global batch and average
their gradients before the update.  Every run is a fresh set of processes
(``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1``): warm-up steps,
then timed steps; the one-process and two-rank runs alternate, and the ratio
that counts is the median over the pairs (both runs of a pair saw about the
same machine load).

libs: wengert (``wengert.distributed`` on mpi4py and MPICH: one
``MPI_Allreduce`` of one flat float32 buffer per step, after the backward
pass; the one-process run never starts MPI); torch_ddp (PyTorch
``DistributedDataParallel`` over gloo on the loopback interface, its bucketed
allreduce overlapped with the backward pass; launched by the same mpiexec).

Figures: seconds per step of each (median), the throughput ratio (2 ranks over
1 process, per pair, then the median; also the ratio of the fastest runs,
which other load on the machine disturbs least), the scaling efficiency (ratio / 2), the
seconds per step spent inside the allreduce (rank 0, which includes waiting for
the slower rank) and the seconds of one allreduce when both ranks are ready,
the volume averaged per step, and the loss after the timed steps in both runs
(the same up to float32 rounding).  The table ends with a model, not a
measurement, of several machines on a 10 Gb/s link.

    python benchmarks/w3dp_data_parallel.py --lib wengert [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import Missing, main, md_table, median, need, sig

LIBS = ["wengert", "torch_ddp"]
HERE = Path(__file__).resolve().parent
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "PMI_FD", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                      "MV2_COMM_WORLD_SIZE", "PMIX_RANK")
LINK_GBIT_S = 10.0  # the link of the model of several machines
LINK_LATENCY_S = 50e-6  # per message of the ring (TCP over Ethernet; InfiniBand is ~20x less)


# ------------------------------------------------------------------ one run (a worker process, one per rank)
def _rank_and_size() -> tuple:
    for rank_var, size_var in (("PMI_RANK", "PMI_SIZE"), ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE")):
        if os.environ.get(size_var):
            return int(os.environ[rank_var]), int(os.environ[size_var])
    return 0, 1


def _data_part(rank: int, size: int) -> tuple:
    """This rank's part of W3's global batch, cut by the DistributedSampler of wengert.data."""
    from w3_large_mlp import BATCH, make_data

    from wengert.data import DistributedSampler

    X, y = make_data()
    (idx,) = list(DistributedSampler(BATCH, BATCH, num_replicas=size, rank=rank))
    return X[idx], y[idx]


def worker_wengert(steps: int, warmup: int) -> dict | None:
    from mlp_steps import init_params, wengert_model
    from w3_large_mlp import LR, SIZES

    import wengert as wg
    from wengert import distributed, optim
    from wengert.nn import functional as F

    world = distributed.init()
    model = wengert_model(init_params(SIZES))
    distributed.broadcast_parameters(model)
    opt = optim.SGD(model.parameters(), lr=LR)
    xb, yb = _data_part(world.rank, world.size)
    xb = wg.tensor(xb)
    step_s, allreduce_s, losses = [], [], []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        t1 = time.perf_counter()
        distributed.allreduce_gradients(model, weight=len(yb))
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        losses.append(float(loss.item()) * len(yb))
        if i >= warmup:
            step_s.append(t3 - t0)
            allreduce_s.append(t2 - t1)
    n_params = sum(p.size for p in model.parameters())
    out = {"step_s": median(step_s), "samples_s": [sig(t) for t in step_s], "allreduce_s": median(allreduce_s),
           "buffer_mb": n_params * 4 / 1e6, "loss_last": None}
    (loss_sum,) = distributed.sum_over_ranks(losses[-1])
    out["loss_last"] = loss_sum / 512
    if world.size > 1:  # the allreduce alone, every rank ready (a barrier first): no waiting for a slower rank
        ready = []
        for _ in range(5):
            world.comm.Barrier()
            t0 = time.perf_counter()
            distributed.allreduce_gradients(model, weight=len(yb))
            ready.append(time.perf_counter() - t0)
        out["allreduce_ready_s"] = median(ready)
        out["allreduce_max_rank_s"] = _max_over_ranks(world, out["allreduce_s"])
    return out if world.is_root else None


def _max_over_ranks(world, value: float) -> float:
    from mpi4py import MPI

    buf = np.array([value])
    world.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.MAX)
    return float(buf[0])


def worker_torch(steps: int, warmup: int, port: int) -> dict | None:
    import torch
    import torch.distributed as dist
    import torch.nn.functional as TF
    from mlp_steps import init_params
    from w3_large_mlp import LR, SIZES

    torch.set_num_threads(1)
    rank, size = _rank_and_size()
    params = init_params(SIZES)
    layers = []
    for k in range(len(params) // 2):
        lin = torch.nn.Linear(*params[2 * k].shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(params[2 * k].T.copy()))
            lin.bias.copy_(torch.from_numpy(params[2 * k + 1]))
        layers += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    if size > 1:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xb, yb = (torch.from_numpy(a) for a in _data_part(rank, size))
    step_s, losses = [], []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = TF.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        t1 = time.perf_counter()
        losses.append(float(loss.detach()) * len(yb))
        if i >= warmup:
            step_s.append(t1 - t0)
    total = torch.tensor([losses[-1]], dtype=torch.float64)
    if size > 1:
        dist.all_reduce(total)
        dist.barrier()  # no rank tears gloo down while another still talks to it
        dist.destroy_process_group()
    out = {"step_s": median(step_s), "samples_s": [sig(t) for t in step_s], "loss_last": float(total[0]) / 512}
    return out if rank == 0 else None


# ------------------------------------------------------------------ the side-by-side runs (the runner's process)
def _mpiexec() -> str:
    local = Path(sys.executable).parent / "mpiexec"
    found = str(local) if local.exists() else shutil.which("mpiexec")
    if found is None:
        raise Missing("no mpiexec (pip install 'wengert[distributed]')")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(lib: str, ranks: int, steps: int, warmup: int) -> dict:
    """One fresh run: 1 process (no launcher) or ``mpiexec -n ranks``; returns rank 0's figures."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    env.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", lib, "--steps", str(steps),
           "--warmup", str(warmup), "--port", str(_free_port())]
    if ranks > 1:
        cmd = [_mpiexec(), "-n", str(ranks), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(HERE.parent), timeout=600,
                          check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or "no output").strip().splitlines()[-1:]
        raise RuntimeError(f"{lib} with {ranks} rank(s) failed (exit {proc.returncode}): {tail[0][:300]}")
    return json.loads(lines[-1])


def bench(lib: str, args) -> dict:
    if lib == "wengert":
        need("mpi4py")
    else:
        torch = need("torch")
        if not torch.distributed.is_available():
            raise Missing("this torch build has no torch.distributed")
    pairs, steps, warmup = (2, 2, 1) if args.quick else (7, 6, 2)
    ones, twos = [], []
    load = [os.getloadavg()[0]]
    for i in range(pairs):  # alternate which run goes first
        order = (1, 2) if i % 2 == 0 else (2, 1)
        got = {n: _run(lib, n, steps, warmup) for n in order}
        ones.append(got[1])
        twos.append(got[2])
        load.append(os.getloadavg()[0])
    ratios = [a["step_s"] / b["step_s"] for a, b in zip(ones, twos)]
    out = {"pairs": pairs, "steps_per_run": steps, "warmup_steps": warmup,
           "one_step_s": sig(median([r["step_s"] for r in ones])), "two_step_s": sig(median([r["step_s"] for r in twos])),
           "throughput_ratio": sig(median(ratios)), "pair_ratios": [sig(r) for r in ratios],
           "throughput_ratio_of_minima": sig(min(r["step_s"] for r in ones) / min(r["step_s"] for r in twos)),
           "efficiency": sig(median(ratios) / 2),
           "loss_one": sig(ones[-1]["loss_last"], 7), "loss_two": sig(twos[-1]["loss_last"], 7),
           "load_1min": [sig(v, 3) for v in load]}
    if lib == "wengert":
        out.update({"allreduce_s": sig(median([r["allreduce_s"] for r in twos])),
                    "allreduce_max_rank_s": sig(median([r["allreduce_max_rank_s"] for r in twos])),
                    "allreduce_ready_s": sig(median([r["allreduce_ready_s"] for r in twos])),
                    "buffer_mb": sig(twos[-1]["buffer_mb"])})
    out["note"] = ("wengert.distributed, mpi4py + MPICH, one allreduce after backward" if lib == "wengert"
                   else "DistributedDataParallel over gloo (loopback), allreduce overlapped with backward")
    return out


# ------------------------------------------------------------------ the table
def model_rows(one_step_s: float, buffer_mb: float, machines=(2, 4, 8, 16, 64)) -> list:
    """Several machines on a 10 Gb/s link (a model, not a measurement).

    Each machine computes its 1/N of the global batch at the speed measured
    here for one process; a ring allreduce then moves 2 (N-1)/N of the buffer
    in and out of every machine, plus 2 (N-1) message latencies, and is not
    overlapped with the backward pass.
    """
    rows = []
    for n in machines:
        compute = one_step_s / n
        transfer = 2 * (n - 1) / n * buffer_mb * 1e6 / (LINK_GBIT_S * 1e9 / 8) + 2 * (n - 1) * LINK_LATENCY_S
        speedup = one_step_s / (compute + transfer)
        rows.append([n, compute, transfer, speedup, speedup / n])
    return rows


def table(rows: list) -> str:
    body = []
    for r in rows:
        if r.get("status") != "ok":
            body.append([r["lib"], r.get("status", "?")] + [""] * 8)
            continue
        share = r.get("allreduce_s") / r["two_step_s"] if r.get("allreduce_s") is not None else None
        body.append([r["lib"], r["one_step_s"], r["two_step_s"], r["throughput_ratio"], r["efficiency"],
                     r.get("allreduce_s"), share, r.get("allreduce_ready_s"), r.get("buffer_mb"),
                     f"{r['loss_one']} / {r['loss_two']}"])
    out = md_table(["lib", "1 process s/step", "2 ranks s/step", "throughput 2 ranks / 1", "scaling efficiency",
                    "allreduce s/step (rank 0)", "allreduce share of step", "allreduce s, ranks ready",
                    "MB averaged per step", "loss after the steps, 1 / 2"], body)
    ok = [r for r in rows if r.get("status") == "ok"]
    if ok:
        out += ("\n\nEach process and rank: one BLAS thread. Throughput ratio: median over "
                + ", ".join(f"{r['lib']} {r['pairs']} pairs {r['pair_ratios']} (ratio of the fastest runs "
                            f"{r.get('throughput_ratio_of_minima')})" for r in ok)
                + "; 1-minute load average before and after each pair: "
                + "; ".join(f"{r['lib']} {r['load_1min']}" for r in ok) + ".")
    w = next((r for r in ok if r["lib"] == "wengert"), None)
    if w is not None:
        out += (f"\n\nModel, not a measurement: N machines on a {LINK_GBIT_S:g} Gb/s link, each computing 1/N of the "
                f"global batch at this run's one-process speed ({w['one_step_s']} s/step), then a ring allreduce of "
                f"the {w['buffer_mb']} MB buffer (2 (N-1)/N of it through each link, {LINK_LATENCY_S * 1e6:g} µs "
                "per message), not overlapped with the backward pass.\n\n")
        out += md_table(["machines", "compute s/step", "allreduce s/step", "speed-up", "efficiency"],
                        model_rows(w["one_step_s"], w["buffer_mb"]))
    return out


def _worker_main(argv: list) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", choices=LIBS, required=True)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--port", type=int, default=29500)
    a = ap.parse_args(argv)
    out = worker_wengert(a.steps, a.warmup) if a.worker == "wengert" else worker_torch(a.steps, a.warmup, a.port)
    if out is not None:
        print(json.dumps({k: sig(v) for k, v in out.items()}), flush=True)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        _worker_main(sys.argv[1:])
    else:
        main("w3dp_data_parallel", {lib: (lambda a, lib=lib: bench(lib, a)) for lib in LIBS})
