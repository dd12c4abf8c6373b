"""Data-parallel training on MPI: one process per rank, one gradient average per step.

Started by ``mpiexec -n N``, every rank holds the whole model, runs forward
and backward on its part of each global batch, and then averages the
gradients with the other ranks in one ``MPI_Allreduce`` of one flat buffer
(the pattern of Horovod and PyTorch's ``DistributedDataParallel``), so every
rank applies the same update and the weights stay identical everywhere.

The recipe, in a training script (``docs/distributed.md`` has the whole story)::

    from wengert import distributed, data

    world = distributed.init()                         # rank and size; no MPI with one process
    distributed.broadcast_parameters(model)            # everyone starts from rank 0's weights
    sampler = data.DistributedSampler(len(X), batch_size=512, shuffle=True, seed=0)
    for xb, yb in data.DataLoader((X, y), batch_sampler=sampler):
        loss = F.cross_entropy(model(xb), yb)          # the mean over this rank's part
        opt.zero_grad()
        loss.backward()
        distributed.allreduce_gradients(model, weight=len(yb))   # the global batch's mean gradient
        opt.step()

With one process (no ``mpiexec``, or ``mpiexec -n 1``) every function here
is a no-op and ``mpi4py`` is never imported: the one-process path costs
nothing and needs no MPI installed.

>>> from wengert import distributed
>>> world = distributed.init()                         # not under mpiexec here
>>> world.rank, world.size, world.is_root
(0, 1, True)
"""
from __future__ import annotations

import functools
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

# Environment variables through which MPI launchers announce the number of ranks, read before MPI starts:
# MPICH / Intel MPI / MVAPICH's hydra and Slurm's PMI-2 (PMI_SIZE), Open MPI (OMPI_COMM_WORLD_SIZE),
# MVAPICH2's own launcher (MV2_COMM_WORLD_SIZE).
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
# Set to 1 to start MPI whatever the environment says (a launcher that sets none of the variables above).
FORCE_VARIABLE = "WENGERT_DISTRIBUTED"


@dataclass(frozen=True)
class World:
    """Who this process is among the ranks of a data-parallel job."""

    rank: int
    size: int
    comm: Any = None  # the mpi4py communicator; None in a single process

    @property
    def is_root(self) -> bool:
        """Rank 0: the one that prints and writes files."""
        return self.rank == 0


class DistributedError(RuntimeError):
    """MPI cannot be used as the launcher asked (mpi4py missing, or from another MPI than mpiexec)."""


_ONE_PROCESS = World(0, 1, None)
_world: World | None = None


def launched_size() -> int:
    """The number of ranks the MPI launcher started (1 when not started by one), from the environment alone.

    Reads ``PMI_SIZE`` (MPICH, Intel MPI, Slurm PMI-2), ``OMPI_COMM_WORLD_SIZE``
    (Open MPI) or ``MV2_COMM_WORLD_SIZE`` (MVAPICH2); under Slurm with PMIx,
    ``SLURM_NTASKS``.  Nothing is imported.
    """
    for name in SIZE_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    if "PMIX_RANK" in os.environ and os.environ.get("SLURM_NTASKS", "").strip().isdigit():
        return int(os.environ["SLURM_NTASKS"])
    return 1


def init(comm: Any = None) -> World:
    """Join the data-parallel job (once; later calls return the same :class:`World`).

    Under ``mpiexec -n N`` with N > 1 this imports ``mpi4py`` (which starts
    MPI) and returns this process's rank among the N.  With one process it
    returns ``World(rank=0, size=1)`` without importing anything.  ``comm``
    chooses another mpi4py communicator than ``COMM_WORLD``.

    Raises :class:`DistributedError` (one line saying what to do) when the launcher
    started several ranks but ``mpi4py`` is missing, or when ``mpi4py``'s MPI
    is not the one of the ``mpiexec`` that started the job.
    """
    global _world
    if comm is not None:
        _world = World(int(comm.Get_rank()), int(comm.Get_size()), comm)
        return _world
    if _world is not None:
        return _world
    n = launched_size()
    forced = os.environ.get(FORCE_VARIABLE, "").strip() not in ("", "0")
    if n <= 1 and not forced and "mpi4py.MPI" not in sys.modules:
        _world = _ONE_PROCESS
        return _world
    try:
        from mpi4py import MPI
    except ImportError:
        raise DistributedError(f"wengert.distributed: started by an MPI launcher with {n} ranks, but mpi4py is not "
                           "installed: pip install 'wengert[distributed]' (mpi4py and the MPICH library)") from None
    world_comm = MPI.COMM_WORLD
    if n > 1 and world_comm.Get_size() != n:
        raise DistributedError(f"wengert.distributed: the launcher started {n} ranks but mpi4py's MPI sees "
                           f"{world_comm.Get_size()}: mpiexec and mpi4py come from different MPI libraries; run the "
                           "mpiexec installed next to mpi4py (in a virtual environment: .venv/bin/mpiexec)")
    _world = World(int(world_comm.Get_rank()), int(world_comm.Get_size()), world_comm)
    return _world


def _parallel() -> World | None:
    """The world when there is more than one rank, else None (the callers' no-op case)."""
    world = init()
    return world if world.size > 1 else None


def _parameters(params: Any) -> list:
    import wengert as wg
    from wengert.nn import Module

    if isinstance(params, Module):
        return list(params.parameters())
    if wg.is_tensor(params):
        return [params]
    out = list(params)
    for p in out:
        if not wg.is_tensor(p):
            raise TypeError(f"expected a Module, a tensor or an iterable of tensors, got an element of type "
                            f"{type(p).__name__}")
    return out


def _by_dtype(items: Iterable[tuple[Any, np.dtype]]) -> dict:
    """Group items by dtype, each group in the given order (the same on every rank)."""
    groups: dict = {}
    for item, dtype in items:
        groups.setdefault(np.dtype(dtype), []).append(item)
    return groups


def allreduce_gradients(params: Any, weight: float | None = None) -> None:
    """Average the gradients of ``params`` (a Module or tensors) over all ranks, in place, in one message.

    Every gradient of one dtype is copied into one flat buffer (so a model is
    one ``MPI_Allreduce`` per step, not one per parameter), summed across the
    ranks, divided, and handed back as each parameter's ``.grad``.

    ``weight=None`` gives the plain mean over ranks (right when every rank's
    loss is the mean over an equally large part of the batch).  With
    ``weight`` set on every rank, the result is ``sum_r w_r g_r / sum_r w_r``;
    pass the number of examples of this rank's part (``len(yb)``) and the
    result is the gradient of the mean loss over the whole global batch, also
    when the parts differ in size or one is empty (``weight=0``).

    A parameter whose ``.grad`` is None on some ranks counts as a zero
    gradient there; one with no gradient on any rank keeps ``.grad = None``.
    The averaged gradients are views into the buffer, which the next call for
    the same parameters reuses (as PyTorch DDP's ``gradient_as_bucket_view``):
    copy a ``.grad`` that you want to keep beyond the next step.
    With one process this does nothing.
    """
    if weight is not None and (isinstance(weight, bool) or not isinstance(weight, (int, float, np.number))
                               or not np.isfinite(weight) or weight < 0):
        raise ValueError(f"allreduce_gradients: weight must be a finite number >= 0 (e.g. len(yb)), got {weight!r}")
    world = _parallel()
    if world is None:
        return
    from mpi4py import MPI

    import wengert as wg

    ps = [p for p in _parameters(params) if p.requires_grad]
    w = 1.0 if weight is None else float(weight)
    for dtype, group in _by_dtype((p, p.dtype) for p in ps).items():
        sizes = [int(p.size) for p in group]
        n = sum(sizes)
        # layout: the weighted gradients, then this rank's weight, then one has-a-gradient flag per parameter
        buf = _buffer(dtype, group, n + 1 + len(group))
        offset = 0
        for i, (p, k) in enumerate(zip(group, sizes)):
            dest = buf[offset: offset + k]
            if p.grad is None:
                dest[...] = 0
                buf[n + 1 + i] = 0
            else:
                g = np.asarray(p.grad.data)
                if g.shape != p.shape:
                    raise ValueError(f"allreduce_gradients: a parameter of shape {p.shape} has a gradient of "
                                     f"shape {g.shape}")
                if weight is None:
                    np.copyto(dest.reshape(g.shape), g, casting="unsafe")
                else:
                    np.multiply(g, w, out=dest.reshape(g.shape), casting="unsafe")
                buf[n + 1 + i] = 1
            offset += k
        buf[n] = w
        world.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        total = float(buf[n])
        if not total > 0:
            raise ValueError("allreduce_gradients: the weights of all ranks sum to 0 (no rank had examples); "
                             "skip such a step on every rank")
        grads = buf[:n]
        np.divide(grads, buf[n], out=grads)
        offset = 0
        for i, (p, k) in enumerate(zip(group, sizes)):
            if buf[n + 1 + i] > 0:
                p.grad = wg.as_tensor(grads[offset: offset + k].reshape(p.shape))
            offset += k


_BUFFERS: dict = {}  # (dtype, ids of the parameters) -> the flat buffer of allreduce_gradients, reused every step
_MAX_BUFFERS = 8


def _buffer(dtype: np.dtype, group: list, size: int) -> np.ndarray:
    """The flat buffer of one group of parameters, allocated once and reused.

    A fresh buffer every step costs more than the copy into it (page faults,
    and MPI touching new memory), so the gradients handed back are views into
    a buffer that the next call for the same parameters overwrites, as with
    PyTorch DDP's ``gradient_as_bucket_view``.
    """
    key = (dtype, tuple(id(p) for p in group))
    buf = _BUFFERS.get(key)
    if buf is None or buf.size != size:
        if len(_BUFFERS) >= _MAX_BUFFERS:
            _BUFFERS.pop(next(iter(_BUFFERS)))
        buf = _BUFFERS[key] = np.empty(size, dtype=dtype)
    return buf


def broadcast_parameters(model: Any, root: int = 0) -> None:
    """Give every rank the parameters (and, for a Module, the buffers) of rank ``root``, in one message per dtype.

    Call it once after building the model (and after loading a checkpoint),
    so that all ranks start from the same weights even if they were
    initialised differently.  With one process this does nothing.
    """
    world = _parallel()
    if world is None:
        return
    if not 0 <= root < world.size:
        raise ValueError(f"broadcast_parameters: root must be a rank in [0, {world.size}), got {root!r}")
    from wengert.nn import Module

    if isinstance(model, Module):
        state = model.state_dict()
        model.load_state_dict(_broadcast_arrays(world, state, root))
        return
    ps = _parameters(model)
    new = _broadcast_arrays(world, {i: p.data for i, p in enumerate(ps)}, root)
    for i, p in enumerate(ps):
        p.data = new[i]


def _broadcast_arrays(world: World, arrays: dict, root: int) -> dict:
    """{key: array} -> the same keys with root's values, one ``MPI_Bcast`` per dtype."""
    out = {}
    for dtype, keys in _by_dtype((k, np.asarray(a).dtype) for k, a in arrays.items()).items():
        shapes = [np.shape(arrays[k]) for k in keys]
        sizes = [int(np.prod(s)) for s in shapes]
        buf = np.empty(sum(sizes), dtype=dtype)
        offset = 0
        for k, m in zip(keys, sizes):
            buf[offset: offset + m] = np.asarray(arrays[k]).reshape(-1)
            offset += m
        world.comm.Bcast(buf, root=root)
        offset = 0
        for k, s, m in zip(keys, shapes, sizes):
            out[k] = buf[offset: offset + m].reshape(s).copy()
            offset += m
    return out


def sum_over_ranks(*values: float) -> tuple:
    """The sums over all ranks of a few numbers (metrics such as a loss total and a count), in one message.

    Integers come back as integers.  With one process the values come back unchanged.

    >>> from wengert import distributed
    >>> distributed.sum_over_ranks(2.5, 7)
    (2.5, 7)
    """
    world = _parallel()
    if world is None:
        return tuple(values)
    from mpi4py import MPI

    buf = np.array(values, dtype=np.float64)
    world.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    return tuple(int(np.rint(s)) if isinstance(v, (int, np.integer)) else float(s) for v, s in zip(values, buf))


def seed_per_rank(model: Any, seed: int, epoch: int) -> None:
    """Give each random generator of the model (``m.rng`` of Dropout) its own stream for this rank and epoch.

    Under MPI every rank would otherwise draw the same dropout masks for
    different examples.  The stream is ``SeedSequence(seed,
    spawn_key=(epoch, rank))``: independent across ranks and epochs, and
    reproducible, so a run resumed at an epoch boundary draws the same masks
    without the checkpoint holding every rank's generator.  With one process
    this does nothing (the model keeps the generators it was built with).
    """
    world = _parallel()
    if world is None:
        return
    for m in model.modules():
        if isinstance(getattr(m, "rng", None), np.random.Generator):
            m.rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(epoch), world.rank)))


def abort_on_failure(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a main function so that a failing rank ends the whole MPI job with its error, never a hang.

    The wrapper first calls :func:`init` (under ``mpiexec`` this starts MPI:
    a rank that failed before that would leave the others waiting for it
    forever; if MPI cannot start, one line on stderr and status 1).  If
    ``fn`` then raises (or returns a non-zero exit status) on one rank while
    MPI runs with more than one rank, the error is printed with the rank's
    number and ``MPI_Abort`` stops every rank with that status.  With one
    process the exception or status passes through unchanged.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            init()
        except DistributedError as exc:
            print(exc, file=sys.stderr)
            return 1
        try:
            status = fn(*args, **kwargs)
        except BaseException as exc:
            code = 1
            if isinstance(exc, SystemExit):
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            world = _world
            if code == 0 or world is None or world.size <= 1:
                raise
            if not isinstance(exc, SystemExit):
                traceback.print_exc()
            _abort(world, code)
        world = _world
        if isinstance(status, int) and status != 0 and world is not None and world.size > 1:
            _abort(world, status)
        return status

    return wrapper


def _abort(world: World, code: int) -> None:
    sys.stdout.flush()
    print(f"wengert: rank {world.rank} of {world.size} failed (exit status {code}): aborting the MPI job",
          file=sys.stderr, flush=True)
    # MPI_Abort kills every rank at once, and the launcher may not have forwarded what this rank just wrote
    # (on a busy machine the error was lost): give its I/O proxy a moment first
    time.sleep(0.5)
    world.comm.Abort(code)


__all__ = ["DistributedError", "World", "abort_on_failure", "allreduce_gradients", "broadcast_parameters", "init", "launched_size",
           "seed_per_rank", "sum_over_ranks"]
