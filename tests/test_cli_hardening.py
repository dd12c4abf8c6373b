"""``wengert`` on bad input and interrupted runs (issue 12, items 2, 7, 13, 14 and the messages; issue 13's first minutes).

Every bad input gets one line on stderr and exit status 2 (bad arguments)
or 1 (a run that cannot go on); nothing here may end in a traceback.
"""
from __future__ import annotations

import csv
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import wengert as wg
from wengert.cli import build_parser, main
from wengert.cli import train as train_cli

FAST = ["--data", "moons", "--samples", "200", "--hidden", "8", "--batch-size", "32", "--quiet", "--no-plot"]
ROOT = Path(__file__).resolve().parent.parent


def _call(capsys, *argv):
    try:
        status = main(list(argv))
    except SystemExit as exc:  # argparse errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _lrs(out_dir):
    with open(Path(out_dir) / "metrics.csv", newline="") as fh:
        return [float(r["lr"]) for r in csv.DictReader(fh)]


# ------------------------------------------------------------------ item 2: a finished run is never replaced silently
def test_a_second_run_into_the_same_out_is_refused(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", *FAST, "--epochs", "1", "--out", out]) == 0
    before = (tmp_path / "run" / "checkpoint.safetensors").read_bytes()
    status, _, err = _call(capsys, "train", *FAST, "--epochs", "1", "--seed", "3", "--out", out)
    assert status == 2 and "already holds a run (checkpoint.safetensors, metrics.csv)" in _one_line(err)
    assert "--resume" in err and "--overwrite" in err
    assert (tmp_path / "run" / "checkpoint.safetensors").read_bytes() == before
    status, _, err = _call(capsys, "train", *FAST, "--out", out, "--resume", "--overwrite")
    assert status == 2 and "argument --overwrite: not allowed with --resume" in _one_line(err)
    assert main(["train", *FAST, "--epochs", "1", "--seed", "3", "--out", out, "--overwrite"]) == 0
    assert wg.load(tmp_path / "run" / "checkpoint.safetensors")["run"]["settings"]["seed"] == 3


# ------------------------------------------------------------------ item 7: --resume and changed settings
@pytest.fixture
def adamw_run(tmp_path):
    out = str(tmp_path / "adamw")
    assert main(["train", *FAST, "--optimizer", "adamw", "--epochs", "2", "--scheduler", "cosine", "--out", out]) == 0
    return out


@pytest.mark.parametrize("change, message", [
    (["--optimizer", "adam"], "--optimizer 'adamw' in the checkpoint, 'adam' now"),
    (["--optimizer", "sgd"], "--optimizer 'adamw' in the checkpoint, 'sgd' now"),
    (["--batch-size", "16"], "--batch-size 32 in the checkpoint, 16 now"),
    (["--scheduler", "step"], "--scheduler 'cosine' in the checkpoint, 'step' now"),
    (["--lr", "0.25"], "--lr 0.003 in the checkpoint, 0.25 now"),
    (["--weight-decay", "0"], "--weight-decay 0.01 in the checkpoint, 0.0 now"),
])
def test_resume_refuses_changed_settings_naming_them(adamw_run, change, message, capsys):
    before = Path(adamw_run, "checkpoint.safetensors").read_bytes()
    status, _, err = _call(capsys, "train", "--out", adamw_run, "--resume", "--epochs", "4", *change)
    assert status == 1 and message in _one_line(err) and "--allow-change" in err
    assert Path(adamw_run, "checkpoint.safetensors").read_bytes() == before


def test_resume_accepts_changes_it_is_told_to(adamw_run, capsys):
    status, out, _ = _call(capsys, "train", "--out", adamw_run, "--resume", "--epochs", "4", "--optimizer", "sgd",
                           "--lr", "0.05", "--allow-change", "optimizer,lr")
    assert status == 0 and "the sgd optimizer starts with fresh state" in out and "changed --lr" in out
    assert "--weight-decay takes the sgd default" in out
    ck = wg.load(Path(adamw_run, "checkpoint.safetensors"))
    assert ck["optim"]["type"] == "SGD" and ck["run"]["settings"]["optimizer"] == "sgd"
    assert ck["run"]["settings"]["weight_decay"] == 0.0
    # the new base lr follows the schedule from where it is: epoch 3 of the new 2-epoch cycle starts at 0.05
    assert _lrs(adamw_run)[2:] == pytest.approx([0.05, 0.025])
    status, _, err = _call(capsys, "train", "--out", adamw_run, "--resume", "--allow-change", "hidden")
    assert status == 2 and "argument --allow-change: hidden: not a setting that can change" in _one_line(err)


def test_a_new_lr_applies_on_a_run_without_schedule(tmp_path, capsys):
    out = str(tmp_path / "plain")
    assert main(["train", *FAST, "--scheduler", "none", "--lr", "0.01", "--epochs", "1", "--out", out]) == 0
    assert main(["train", "--out", out, "--resume", "--epochs", "3", "--lr", "0.002", "--allow-change", "lr"]) == 0
    assert _lrs(out) == pytest.approx([0.01, 0.002, 0.002])


def test_resume_refuses_a_checkpoint_without_optimizer_state(adamw_run, capsys):
    path = Path(adamw_run, "checkpoint.safetensors")
    ck = wg.load(path)
    ck["optim"]["state"] = {}
    wg.save(ck, path)
    status, _, err = _call(capsys, "train", "--out", adamw_run, "--resume", "--epochs", "3")
    assert status == 1 and "holds no adamw state (its moments would restart from zero)" in _one_line(err)
    status, out, _ = _call(capsys, "train", "--out", adamw_run, "--resume", "--epochs", "3",
                           "--allow-change", "optimizer")
    assert status == 0 and "starts with fresh state (the checkpoint holds none)" in out


# ------------------------------------------------------------------ item 13: no tracebacks
def test_damaged_checkpoints_give_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *FAST, "--epochs", "1", "--out", str(out)]) == 0
    path = out / "checkpoint.safetensors"
    good = wg.load(path)
    damaged = {
        "empty run record": ({**good, "run": {}}, "lacks 'epoch'"),
        "missing tensors": ({**good, "model": {k: v for k, v in good["model"].items() if k != "1.weight"}},
                            "missing keys: 1.weight"),
        "foreign file": ({"w": np.ones(2)}, "was not written by wengert train"),
        "older format": ({"model.1.weight": np.ones(2)}, "written by an older wengert train"),
    }
    for name, (state, message) in damaged.items():
        wg.save(state, path)
        status, _, err = _call(capsys, "train", "--out", str(out), "--resume", "--epochs", "2")
        assert status == 1 and message in _one_line(err), name
    path.write_bytes(b"\x80\x04junk")
    status, _, err = _call(capsys, "train", "--out", str(out), "--resume", "--epochs", "2")
    assert status == 1 and "looks like a pickle file" in _one_line(err)


BAD = {
    "seed_negative": (["--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
    "hidden_negative": (["--hidden", "-5,3"], "argument --hidden: expected comma-separated positive integers"),
    "samples_two": (["--data", "moons", "--samples", "2"], "argument --samples: 2 samples leave no test data"),
    "hidden_huge": (["--hidden", "100000000"], "argument --hidden: a network of"),
    "samples_huge": (["--data", "moons", "--samples", "1000000000000"], "argument --samples: 1000000000000 samples"),
    "allow_change_alone": (["--allow-change", "lr"], "argument --allow-change: only applies with --resume"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_arguments_exit_2_with_one_line(name, tmp_path, capsys):
    argv, message = BAD[name]
    status, _, err = _call(capsys, "train", "--quiet", *argv, "--out", str(tmp_path / "x"))
    assert status == 2 and message in _one_line(err) and err.startswith("wengert train: error: "), err
    assert not (tmp_path / "x" / "checkpoint.safetensors").exists()


def test_out_that_cannot_be_a_directory(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    status, _, err = _call(capsys, "train", *FAST, "--out", str(tmp_path / "afile" / "sub"))
    assert status == 2 and "argument --out: cannot create the directory" in _one_line(err)
    if os.path.isdir("/proc/self"):
        status, _, err = _call(capsys, "train", *FAST, "--out", "/proc/wengert-test/x")
        assert status == 2 and "argument --out: cannot create the directory" in _one_line(err)


def test_memory_check_names_the_option():
    args = build_parser().parse_args(["train", "--hidden", "4096,4096", "--data", "moons"])
    train_cli.resolve_defaults(args)
    train_cli.check_memory(args, available=2**40)  # fits in a TiB
    with pytest.raises(train_cli.UsageError, match=r"argument --hidden: a network of 1.68e\+07 parameters would need"):
        train_cli.check_memory(args, available=2**27)


def test_ctrl_c_stops_with_one_line_and_resumes_exactly(tmp_path):
    """A real SIGINT to a real `wengert train`: exit 130, one line, then an exact resume."""
    args = ["--data", "digits", "--hidden", "32", "--scheduler", "none", "--quiet", "--no-plot", "--epochs", "400"]
    out = tmp_path / "run"
    # (a test run started in the background inherits SIGINT ignored: give the child the default disposition,
    # which is what a terminal's Ctrl-C meets)
    proc = subprocess.Popen([sys.executable, "-m", "wengert", "train", *args, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    ckpt = out / "checkpoint.safetensors"
    deadline = time.monotonic() + 120
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted: " in _one_line(stderr) and "--resume" in stderr
    assert not [n for n in os.listdir(out) if n.endswith(".tmp")]  # nothing half-written
    done = wg.load(ckpt)["run"]["epoch"]
    assert f"holds epoch {done}" in stderr
    assert main(["train", "--out", str(out), "--resume", "--epochs", str(done + 1), "--quiet"]) == 0
    assert main(["train", *args[:-1], str(done + 1), "--out", str(tmp_path / "straight")]) == 0
    a, b = wg.load(ckpt), wg.load(tmp_path / "straight" / "checkpoint.safetensors")
    for k in a["model"]:
        np.testing.assert_array_equal(a["model"][k], b["model"][k], err_msg=k)


# ------------------------------------------------------------------ item 14: only NumPy installed
def test_missing_safetensors_is_named_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)  # import safetensors now fails
    status, _, err = _call(capsys, "train", *FAST, "--out", str(tmp_path / "x"))
    assert status == 1 and "needs the safetensors package" in _one_line(err) and "pip install 'wengert[nn]'" in err
    assert not (tmp_path / "x").exists()
    for call in (lambda: wg.save({"w": np.ones(1)}, tmp_path / "a"), lambda: wg.load(tmp_path / "a")):
        with pytest.raises(ModuleNotFoundError, match=r"needs the safetensors package .*pip install 'wengert\[nn\]'"):
            call()


# ------------------------------------------------------------------ defaults, --help, --version, the demo's hint
def test_default_settings_reach_97_percent_on_digits(tmp_path, capsys):
    assert main(["train", "--data", "digits", "--model", "mlp", "--quiet", "--no-plot",
                 "--out", str(tmp_path / "d")]) == 0
    assert wg.load(tmp_path / "d" / "checkpoint.safetensors")["run"]["history"][-1]["test_acc"] >= 0.97


def test_help_shows_every_default_and_version(capsys):
    parser = build_parser()
    for name in ("train", "trace", "demo"):
        status, out, _ = _call(capsys, name, "--help")
        assert status == 0
        entries: dict = {}  # "--epochs EPOCHS ...": its whole help entry, lines joined
        for line in out.split("options:", 1)[1].splitlines():
            if line.startswith("  -"):
                key = line.split()[0].rstrip(",")
                entries[key] = line
            elif line.startswith("   ") and entries:
                entries[key] += line
        sub = next(a for a in parser._actions if hasattr(a, "choices") and a.choices and name in a.choices).choices[name]
        for action in sub._actions:
            if action.option_strings and action.nargs != 0 and action.dest != "help":
                entry = " ".join(entries[action.option_strings[0]].split())
                assert "default" in entry, f"{name}: {entry}"
    status, out, _ = _call(capsys, "--version")
    assert status == 0 and out.strip() == f"wengert {wg.__version__}"


def test_the_demos_resume_hint_is_a_command_that_works(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("wengert.cli.demo.DEMO_ARGS", [*FAST[:8], "--epochs", "2", "--lr", "0.01"])
    monkeypatch.setattr("wengert.cli.demo.TARGET_ACCURACY", 0.0)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--quiet"]) == 0
    hint = next(line for line in capsys.readouterr().out.splitlines() if "wengert train" in line)
    command = shlex.split(hint.split(":", 1)[1])
    assert command[:2] == ["wengert", "train"] and "--resume" in command
    assert main([*command[1:], "--quiet", "--no-plot"]) == 0
    assert wg.load(tmp_path / "runs" / "demo" / "checkpoint.safetensors")["run"]["epoch"] == 60


# ------------------------------------------------------------------ trace messages
def test_trace_messages(capsys):
    status, out, err = _call(capsys, "trace", "-x", "--at", "x=1")
    assert status == 0 and out.splitlines()[-1] == "gradient: df/dx = -1"
    status, out, _ = _call(capsys, "trace", "--at", "x=1", "y=2", "x*y")  # --at does not swallow the formula
    assert status == 0 and out.splitlines()[-1] == "gradient: df/dx = 2, df/dy = 1"
    status, out, _ = _call(capsys, "trace", "--at", "x=1", "-(x * x)")
    assert status == 0 and out.splitlines()[-1] == "gradient: df/dx = -2"
    terms = [f"x{i}" for i in range(39)]
    status, out, err = _call(capsys, "trace", " + ".join(terms), "--at", *[f"{t}=1" for t in terms])
    assert status == 0 and "df/dx38 = 1" in out, err
    status, _, err = _call(capsys, "trace", "x*y", "--at", "x=1", "y=2", "z")
    assert status == 2 and "argument --at: expected NAME=NUMBER, got 'z'" in _one_line(err)
    status, _, err = _call(capsys, "trace", "--at", "x=1")
    assert status == 2 and "no formula given" in _one_line(err)


def test_constant_folding_keeps_the_sign_of_zero():
    from wengert.teach.formula import parse

    assert parse("x + 1/-0.0").function()(1.0) == -np.inf
    assert parse("1/y").function()(-0.0) == -np.inf  # through a variable: the same arithmetic
    assert parse("x + 1/-0.0").function()(wg.tensor(1.0)).item() == -np.inf
    assert np.isnan(parse("x * (-8) ** (1/3)").function()(2.0))
    assert parse("x * 0 ** -1").function()(1.0) == np.inf
