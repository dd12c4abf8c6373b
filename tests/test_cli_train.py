"""``wengert train`` and ``wengert demo``: artefacts, exact resume, NaN stop, one-line errors for bad arguments."""
from __future__ import annotations

import csv

import numpy as np
import pytest

import wengert as wg
from wengert.cli import main
from wengert.cli import train as train_cli


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _same_tensors(a_dir, b_dir):
    """The model and optimiser state of two runs are bit for bit the same."""
    a, b = (wg.load(d / "checkpoint.safetensors") for d in (a_dir, b_dir))
    for part in ("model", "optim"):
        flat_a, flat_b = _arrays(a[part]), _arrays(b[part])
        assert set(flat_a) == set(flat_b)
        for k in flat_a:
            np.testing.assert_array_equal(flat_a[k], flat_b[k], err_msg=f"{part}.{k}")


def _arrays(tree, prefix=""):
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, (list, tuple)) else ()
    out = {}
    for k, v in items:
        if isinstance(v, np.ndarray):
            out[f"{prefix}{k}"] = v
        else:
            out.update(_arrays(v, f"{prefix}{k}."))
    return out


FAST = ["--data", "moons", "--samples", "200", "--hidden", "8", "--batch-size", "32", "--quiet"]


def test_train_writes_checkpoint_metrics_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *FAST, "--epochs", "3", "--lr", "0.05", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "wrote" in text
    assert {p.name for p in out.iterdir()} == {"checkpoint.safetensors", "metrics.csv", "curves.png"}
    rows = _rows(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert set(rows[0]) == {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds"}
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ck = wg.load(out / "checkpoint.safetensors")  # the whole run in one file
    assert ck["format"] == "wengert-train-2" and "1.weight" in ck["model"] and ck["optim"]["state"]
    assert ck["run"]["epoch"] == 3 and len(ck["run"]["history"]) == 3
    settings = ck["run"]["settings"]
    assert settings["lr"] == 0.05 and settings["optimizer"] == "adam" and settings["batch_size"] == 32
    assert settings["scheduler"] == "cosine" and settings["weight_decay"] == 0.0 and settings["epochs"] == 3


@pytest.mark.parametrize("extra", [[], ["--dropout", "0.3"], ["--scheduler", "step"]])
def test_resume_continues_exactly(tmp_path, extra, monkeypatch, capsys):
    """A scheduled run stopped by Ctrl-C in its third epoch and resumed ends bit for bit as an uninterrupted one."""
    args = [*FAST, "--optimizer", "adam", "--lr", "0.01", "--no-plot", "--epochs", "4", *extra]
    assert main(["train", *args, "--out", str(tmp_path / "straight")]) == 0
    real_evaluate, calls = train_cli.evaluate, []

    def interrupted_evaluate(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_evaluate(*a, **kw)

    monkeypatch.setattr(train_cli, "evaluate", interrupted_evaluate)
    assert main(["train", *args, "--out", str(tmp_path / "split")]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted: " in err and "holds epoch 2" in err and "--resume" in err
    monkeypatch.undo()
    assert main(["train", "--out", str(tmp_path / "split"), "--resume", "--quiet"]) == 0  # settings from the file
    _same_tensors(tmp_path / "straight", tmp_path / "split")
    assert _rows(tmp_path / "split" / "metrics.csv") == [
        {**r, "seconds": s["seconds"]} for r, s in zip(_rows(tmp_path / "straight" / "metrics.csv"),
                                                       _rows(tmp_path / "split" / "metrics.csv"))]


def test_extending_runs(tmp_path, capsys):
    """Without a schedule a larger --epochs trains on as one run; with one, the extension is a new cycle."""
    plain = [*FAST, "--lr", "0.01", "--no-plot", "--scheduler", "none"]
    assert main(["train", *plain, "--epochs", "3", "--out", str(tmp_path / "straight")]) == 0
    assert main(["train", *plain, "--epochs", "2", "--out", str(tmp_path / "ext")]) == 0
    assert main(["train", "--out", str(tmp_path / "ext"), "--resume", "--epochs", "3", "--quiet"]) == 0
    _same_tensors(tmp_path / "straight", tmp_path / "ext")
    cos = [*FAST, "--lr", "0.01", "--no-plot", "--scheduler", "cosine"]
    assert main(["train", *cos, "--epochs", "2", "--out", str(tmp_path / "cos")]) == 0
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "cos"), "--resume", "--epochs", "6", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "a new cycle of the cosine schedule over epochs 3..6, from lr 0.01 (a warm restart)" in out
    lrs = [float(r["lr"]) for r in _rows(tmp_path / "cos" / "metrics.csv")]
    assert lrs == pytest.approx([0.01, 0.005, 0.01, 0.01 * (1 + np.cos(np.pi / 4)) / 2, 0.005,
                                 0.01 * (1 + np.cos(3 * np.pi / 4)) / 2], rel=1e-5)
    # interrupted at epoch 4 of the new cycle and resumed: the cycle goes on where it was
    ck = wg.load(tmp_path / "cos" / "checkpoint.safetensors")
    assert ck["run"]["schedule_cycle"] == [2, 4]


def test_resume_with_nothing_left_to_do(tmp_path, capsys):
    out = str(tmp_path / "r")
    assert main(["train", *FAST, "--epochs", "2", "--no-plot", "--out", out]) == 0
    capsys.readouterr()
    before = (tmp_path / "r" / "checkpoint.safetensors").read_bytes()
    assert main(["train", "--out", out, "--resume", "--epochs", "2"]) == 0
    text = capsys.readouterr().out
    assert "nothing to do: the run in" in text and "completed 2 epochs" in text and "wrote" not in text
    assert main(["train", "--out", out, "--resume"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert main(["train", "--out", out, "--resume", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --epochs: the run in" in err and "already completed 2 epochs" in err
    assert (tmp_path / "r" / "checkpoint.safetensors").read_bytes() == before


def test_resume_with_other_settings_is_refused(tmp_path, capsys):
    out = str(tmp_path / "r")
    assert main(["train", *FAST, "--epochs", "1", "--no-plot", "--out", out]) == 0
    assert main(["train", *FAST[:4], "--hidden", "16", "--quiet", "--epochs", "2", "--out", out, "--resume"]) == 1
    err = capsys.readouterr().err
    assert "cannot resume" in err and "--hidden [8] in the checkpoint, [16] now" in err


def test_cnn_and_logreg_models_train(tmp_path):
    assert main(["train", "--data", "digits", "--model", "cnn", "--epochs", "1", "--quiet", "--no-plot",
                 "--out", str(tmp_path / "cnn")]) == 0
    assert main(["train", "--data", "xor", "--model", "logreg", "--epochs", "1", "--quiet", "--no-plot",
                 "--optimizer", "sgd", "--out", str(tmp_path / "lr")]) == 0


def test_nan_loss_stops_with_the_step(tmp_path, capsys):
    code = main(["train", *FAST, "--optimizer", "sgd", "--lr", "1e30", "--epochs", "3", "--no-plot",
                 "--out", str(tmp_path / "nan")])
    assert code == 1
    err = capsys.readouterr().err
    assert "training stopped: the loss became" in err and "step" in err and "--detect-anomaly" in err


BAD = {
    "epochs_zero": (["--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
    "hidden": (["--hidden", "12,x"], "argument --hidden: expected comma-separated positive integers"),
    "lr": (["--lr", "-1"], "argument --lr: expected a positive number, got '-1'"),
    "lr_nan": (["--lr", "nan"], "argument --lr: expected a positive number"),
    "data": (["--data", "mnist"], "argument --data: invalid choice: 'mnist'"),
    "optimizer": (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice"),
    "cnn_moons": (["--data", "moons", "--model", "cnn"], "cnn needs image data"),
    "fraction": (["--test-fraction", "1.5"], "argument --test-fraction: expected a fraction"),
    "dropout": (["--dropout", "1"], "argument --dropout: expected a probability"),
    "noise_digits": (["--noise", "0.1"], "only the generated datasets"),
    "momentum_adam": (["--momentum", "0.9"], "the adam optimizer has no momentum setting"),
    "unknown": (["--frobnicate"], "unrecognized arguments: --frobnicate"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_arguments_exit_2_with_one_line(name, tmp_path, capsys):
    argv, message = BAD[name]
    with pytest.raises(SystemExit) as exc:
        main(["train", *argv, "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("wengert") and "error: " in err and message in err, err
    assert not (tmp_path / "x").exists()


def test_resume_without_checkpoint_and_out_on_a_file(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--resume", "--out", str(tmp_path / "none")])
    assert exc.value.code == 2 and "no checkpoint.safetensors in" in capsys.readouterr().err
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(SystemExit) as exc:
        main(["train", "--out", str(f)])
    assert exc.value.code == 2 and "is not a directory" in capsys.readouterr().err


def test_demo_reaches_97_percent(tmp_path, capsys):
    assert main(["demo", "--quiet", "--out", str(tmp_path / "demo")]) == 0
    text = capsys.readouterr().out
    assert "seed 001" in text and "artefacts:" in text and "curves.png" in text
    rows = _rows(tmp_path / "demo" / "metrics.csv")
    assert float(rows[-1]["test_acc"]) >= 0.97


def test_detect_anomaly_names_the_op_and_the_step(tmp_path, capsys):
    code = main(["train", *FAST, "--optimizer", "sgd", "--lr", "1e30", "--epochs", "3", "--no-plot",
                 "--detect-anomaly", "--out", str(tmp_path / "nan")])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "training stopped at epoch" in err and "step" in err and "of op '" in err
