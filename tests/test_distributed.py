"""Data-parallel training on MPI: the sampler, the one-process no-ops, and a few real ``mpiexec -n 2`` runs.

The MPI runs are few and small (six launches of two ranks each); they are
skipped where ``mpiexec`` or ``mpi4py`` is missing (``make test`` installs the
``distributed`` extra, so CI runs them).  Each launch has a timeout: a hang is
a failure, not a stuck suite.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wengert as wg
from wengert import data, distributed, nn
from wengert.cli import main

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "PMI_FD", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_RANK",
                      distributed.FORCE_VARIABLE)


# ------------------------------------------------------------------ the sampler (one process)
def _one_process_batches(n, batch, shuffle, drop_last, seed, epochs):
    loader = data.DataLoader(np.arange(n), batch_size=batch, shuffle=shuffle, seed=seed, drop_last=drop_last)
    return [[b.tolist() for b in loader] for _ in range(epochs)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), batch=st.integers(1, 9), replicas=st.integers(1, 5), shuffle=st.booleans(),
       drop_last=st.booleans())
def test_sampler_parts_make_the_one_process_batches(n, batch, replicas, shuffle, drop_last):
    expected = _one_process_batches(n, batch, shuffle, drop_last, seed=3, epochs=2)
    loaders = [data.DataLoader(np.arange(n), batch_sampler=data.DistributedSampler(
        n, batch, shuffle=shuffle, seed=3, drop_last=drop_last, num_replicas=replicas, rank=r))
        for r in range(replicas)]
    assert {len(loader) for loader in loaders} == {len(expected[0])}  # every rank takes the same number of steps
    for epoch in expected:
        parts = [[b.tolist() for b in loader] for loader in loaders]
        for k, whole in enumerate(epoch):
            pieces = [parts[r][k] for r in range(replicas)]
            assert [i for piece in pieces for i in piece] == whole  # the ranks' parts, in rank order, are the one-process batch
            assert max(map(len, pieces)) - min(map(len, pieces)) <= 1


def test_sampler_covers_every_example_once_per_epoch_with_uneven_sizes():
    n, replicas = 23, 3  # 23 = 2 * 10 + 3: the parts of the last batch have 1 row each; 10 = 3 + 3 + 4
    samplers = [data.DistributedSampler(n, 10, shuffle=True, seed=0, num_replicas=replicas, rank=r)
                for r in range(replicas)]
    for _ in range(3):
        seen = np.concatenate([np.arange(n)[idx] for s in samplers for idx in s])
        assert sorted(seen.tolist()) == list(range(n))
    sizes = [[len(np.arange(n)[idx]) for idx in s] for s in samplers]
    assert sizes == [[3, 3, 1], [3, 3, 1], [4, 4, 1]]
    empty = data.DistributedSampler(n, 10, num_replicas=4, rank=0)  # 3 rows for 4 ranks: rank 0 gets none
    assert [len(np.arange(n)[idx]) for idx in empty] == [2, 2, 0]


def test_one_replica_is_the_plain_loader_and_shares_its_checkpoint_state():
    X = np.arange(30.0).reshape(15, 2)
    plain = data.DataLoader(X, batch_size=4, shuffle=True, seed=7)
    split = data.DataLoader(X, batch_sampler=data.DistributedSampler(15, 4, shuffle=True, seed=7))  # world of one
    assert [b.tolist() for b in plain] == [b.tolist() for b in split]
    state = json.loads(json.dumps(split.state_dict()))
    again = data.DataLoader(X, batch_size=4, shuffle=True, seed=0)
    again.load_state_dict(state)
    assert [b.tolist() for b in again] == [b.tolist() for b in plain]
    assert "rank 0 of 1" in repr(split.batch_sampler) and "batch_size=4" in repr(split)


@pytest.mark.parametrize("make, message", [
    (lambda: data.DistributedSampler(10, 4, num_replicas=2, rank=2), "rank must be an integer in [0, 2)"),
    (lambda: data.DistributedSampler(10, 4, num_replicas=0, rank=0), "num_replicas must be a positive integer"),
    (lambda: data.DistributedSampler(10, 0, num_replicas=1, rank=0), "batch_size must be a positive integer"),
    (lambda: data.DistributedSampler(-1, 4), "num_samples must be an integer >= 0"),
    (lambda: data.DataLoader(np.zeros(10), batch_size=5, batch_sampler=data.BatchSampler(10, 4)),
     "give batch_size, shuffle, seed and drop_last to the sampler"),
    (lambda: data.DataLoader(np.zeros(10), batch_sampler=data.BatchSampler(12, 4)),
     "the batch_sampler covers 12 samples, the arrays have 10"),
    (lambda: data.DataLoader(np.zeros(10), batch_sampler=[[0, 1]]), "batch_sampler must be a BatchSampler"),
])
def test_sampler_and_loader_errors_say_what_to_fix(make, message):
    with pytest.raises((ValueError, TypeError)) as info:
        make()
    text = str(info.value)
    assert message in text and "\n" not in text


# ------------------------------------------------------------------ one process: no MPI, no-ops
def test_one_process_is_rank_0_of_1_and_every_call_is_a_no_op():
    world = distributed.init()
    assert (world.rank, world.size, world.is_root, world.comm) == (0, 1, True, None)
    model = nn.Sequential(nn.Linear(3, 2, rng=0), nn.Dropout(0.5, rng=1))
    before = model.state_dict()
    rng_before = model[1].rng
    (model(np.ones((4, 3))).sum()).backward()
    grads = [p.grad for p in model.parameters()]
    distributed.broadcast_parameters(model)
    distributed.allreduce_gradients(model, weight=4)
    distributed.seed_per_rank(model, seed=0, epoch=1)
    assert [p.grad for p in model.parameters()] == grads  # the very same gradient tensors
    assert model[1].rng is rng_before
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert distributed.sum_over_ranks(1.5, 3) == (1.5, 3)


def test_launched_size_reads_the_launchers_variables(monkeypatch):
    for name in LAUNCHER_VARIABLES + ("SLURM_NTASKS",):
        monkeypatch.delenv(name, raising=False)
    assert distributed.launched_size() == 1
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert distributed.launched_size() == 4
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE")
    monkeypatch.setenv("PMIX_RANK", "0")
    monkeypatch.setenv("SLURM_NTASKS", "8")
    assert distributed.launched_size() == 8


def test_under_mpi_without_mpi4py_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setattr(distributed, "_world", None)
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now fails
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    with pytest.raises(distributed.DistributedError) as info:
        distributed.init()
    text = str(info.value)
    assert "2 ranks" in text and "pip install 'wengert[distributed]'" in text and "\n" not in text


def test_wengert_train_under_mpi_without_mpi4py_exits_1_with_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(distributed, "_world", None)
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    assert main(["train", *FAST, "--epochs", "1", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("wengert.distributed: started by an MPI launcher with 2 ranks, but mpi4py is not installed")
    assert "pip install 'wengert[distributed]'" in err and "\n" not in err


@pytest.mark.parametrize("weight", [-1, float("nan"), "3", True])
def test_allreduce_gradients_rejects_a_bad_weight(weight):
    with pytest.raises(ValueError) as info:
        distributed.allreduce_gradients([], weight=weight)
    assert "weight must be a finite number >= 0 (e.g. len(yb))" in str(info.value)


def test_abort_on_failure_lets_errors_and_statuses_through_in_one_process():
    @distributed.abort_on_failure
    def failing():
        raise KeyError("x")

    with pytest.raises(KeyError):
        failing()
    assert distributed.abort_on_failure(lambda: 3)() == 3


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg", **extra)
    return env


def test_single_process_training_never_imports_mpi4py(tmp_path):
    code = ("import sys; from wengert.cli import main; "
            f"status = main(['train', *{FAST!r}, '--epochs', '1', '--out', {str(tmp_path / 'run')!r}]); "
            "assert status == 0, status; assert 'mpi4py' not in sys.modules, 'mpi4py was imported'; print('clean')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(ROOT),
                          env=_clean_env(), check=False)
    assert proc.returncode == 0 and "clean" in proc.stdout, proc.stderr[-2000:]


# ------------------------------------------------------------------ real MPI runs: mpiexec -n 2
def _mpiexec() -> str | None:
    local = Path(sys.executable).parent / "mpiexec"  # the MPI installed next to mpi4py (the distributed extra)
    return str(local) if local.exists() else shutil.which("mpiexec")


needs_mpi = pytest.mark.skipif(_mpiexec() is None or importlib.util.find_spec("mpi4py") is None,
                               reason="needs mpi4py and mpiexec: pip install 'wengert[distributed]'")

FAST = ["--data", "moons", "--samples", "101", "--hidden", "8", "--batch-size", "16", "--quiet", "--no-plot"]
# 101 points, test fraction 0.2: 81 training points = 5 batches of 16 and one of 1, so rank 0's last part is empty;
# no schedule: a run stopped after 2 epochs and resumed to 3 then makes the steps of a 3-epoch run
EXACT = [*FAST, "--dtype", "float64", "--optimizer", "adam", "--lr", "0.02", "--clip", "1.0", "--scheduler", "none"]


def _mpirun(args: list, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [_mpiexec(), "-n", "2", sys.executable, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(cwd), env=_clean_env(),
                          check=False)


def _numbers(tree, prefix="") -> dict:
    """The arrays and floats of a checkpoint's tree, by path (model and optimiser state)."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, (list, tuple)) else ()
    out = {}
    for k, v in items:
        if isinstance(v, (np.ndarray, float)):
            out[f"{prefix}{k}"] = v
        else:
            out.update(_numbers(v, f"{prefix}{k}."))
    return out


def _run_state(out: Path) -> tuple:
    ck = wg.load(out / "checkpoint.safetensors")
    return _numbers({"model": ck["model"], "optim": ck["optim"]}), ck["run"]["history"]


@needs_mpi
def test_two_ranks_equal_one_process_through_the_library_api():
    proc = _mpirun([str(ROOT / "tests" / "distributed_script.py")], ROOT)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert proc.stdout.split() == ["OK"]  # printed by rank 0 alone


@needs_mpi
def test_two_ranks_equal_one_process_through_the_cli_and_resume(tmp_path, capsys):
    assert main(["train", *EXACT, "--epochs", "3", "--out", str(tmp_path / "one")]) == 0
    capsys.readouterr()
    loud = [a for a in EXACT if a != "--quiet"]
    first = _mpirun(["-m", "wengert", "train", *loud, "--epochs", "2", "--out", "two"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    # rank 0 alone reports
    assert first.stdout.count("epoch   1/2") == 1 and first.stdout.count("done in") == 1, first.stdout
    assert first.stdout.count("wrote") == 2
    resumed = _mpirun(["-m", "wengert", "train", *EXACT, "--epochs", "3", "--out", "two", "--resume"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("resumed") == 1
    assert {p.name for p in (tmp_path / "two").iterdir()} == {p.name for p in (tmp_path / "one").iterdir()}

    one, one_history = _run_state(tmp_path / "one")
    two, two_history = _run_state(tmp_path / "two")
    assert set(one) <= set(two)  # (a resumed run's optimiser groups also record the schedule's initial_lr)
    for k in one:  # weights, optimiser moments and hyperparameters
        np.testing.assert_allclose(two[k], one[k], rtol=1e-9, atol=1e-12, err_msg=k)
    for a, b in zip(one_history, two_history, strict=True):
        for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr"):
            assert b[key] == pytest.approx(a[key], rel=1e-9), (a["epoch"], key)
    with open(tmp_path / "two" / "metrics.csv", newline="") as fh:
        assert [r["epoch"] for r in csv.DictReader(fh)] == ["1", "2", "3"]


@needs_mpi
@pytest.mark.parametrize("where, error", [
    ("evaluate", "RuntimeError"),  # escapes run()
    ("evaluate", "t.NonFiniteLoss"),  # run() prints it and returns 1
    ("check_arguments", "SystemExit"),  # before training, as a bad argument would (exit status 2 on rank 1 alone)
])
def test_a_failing_rank_ends_the_whole_job_with_its_error(tmp_path, where, error):
    # rank 1 fails; rank 0 goes on to its next collective call and would wait there forever
    code = ("import sys; import wengert.cli.train as t; from wengert import distributed; from wengert.cli import main\n"
            f"real = t.{where}\n"
            "def patched(*a, **k):\n"
            "    if distributed.init().rank == 1:\n"
            "        print('failed on purpose on rank 1', file=sys.stderr)\n"
            f"        raise {error}(2 if {error} is SystemExit else 'failed on purpose')\n"
            "    return real(*a, **k)\n"
            f"t.{where} = patched\n"
            f"sys.exit(main(['train', *{FAST!r}, '--epochs', '3', '--out', 'run']))\n")
    proc = _mpirun(["-c", code], tmp_path, timeout=60)
    status = 2 if error == "SystemExit" else 1
    assert proc.returncode == status, proc.stderr[-2000:]
    assert "failed on purpose on rank 1" in proc.stderr
    assert f"rank 1 of 2 failed (exit status {status})" in proc.stderr
