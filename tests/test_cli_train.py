"""``wengert train`` and ``wengert demo``: artefacts, exact resume, NaN stop, one-line errors for bad arguments."""
from __future__ import annotations

import csv

import numpy as np
import pytest

import wengert as wg
from wengert.cli import main


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


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
    state, meta = wg.load(out / "checkpoint.safetensors", with_metadata=True)
    assert "model.1.weight" in state and any(k.startswith("optim.state.") for k in state)
    assert meta["format"] == "wengert-train-1"


@pytest.mark.parametrize("extra", [[], ["--dropout", "0.3"]])
def test_resume_continues_exactly(tmp_path, extra):
    args = [*FAST, "--optimizer", "adam", "--lr", "0.01", "--no-plot", *extra]
    assert main(["train", *args, "--epochs", "4", "--out", str(tmp_path / "straight")]) == 0
    assert main(["train", *args, "--epochs", "2", "--out", str(tmp_path / "split")]) == 0
    assert main(["train", *args, "--epochs", "4", "--out", str(tmp_path / "split"), "--resume"]) == 0
    a = wg.load(tmp_path / "straight" / "checkpoint.safetensors")
    b = wg.load(tmp_path / "split" / "checkpoint.safetensors")
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    rows = _rows(tmp_path / "split" / "metrics.csv")
    assert len(rows) == 4


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
