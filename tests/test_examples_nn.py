"""Smoke tests of the neural-network examples in examples/ (small settings), and their checked numbers."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_logistic_regression(capsys):
    ex = _load("logistic_regression")
    ex.seed_004()
    assert "dL/dW = -0.00037018373" in capsys.readouterr().out
    assert ex.train(epochs=20) > 0.95


def test_two_layer_relu():
    ex = _load("two_layer_relu")
    ex.check_lemmas()  # asserts autodiff == the seed's hand-derived gradients
    assert ex.fit_sine(steps=300) < 0.05


def test_sigmoid_network(capsys):
    ex = _load("sigmoid_network")
    ex.seed_003()
    assert "a1 = 1.367, h1 = 0.797, a2 = -0.236, h2 = 0.441, a3 = 1.0542, y = 0.7416" in capsys.readouterr().out
    norms = ex.vanishing(depth=6)
    assert norms[0] < 1e-2 * norms[-1]  # the first layer's gradient has vanished


def test_cnn_digits():
    assert _load("cnn_digits").main(epochs=2) > 0.8


def test_moons(tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "sub" / "boundary.png"
    acc, path = _load("moons").main(out=str(target), epochs=30)
    assert acc > 0.9 and path == str(target) and target.read_bytes()[:4] == b"\x89PNG"  # --out names the file


@pytest.mark.parametrize("script", sorted(p.stem for p in EXAMPLES.glob("*.py")))
def test_examples_accept_help(script, monkeypatch, capsys):
    import runpy
    import sys

    monkeypatch.setattr(sys, "argv", [f"{script}.py", "--help"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_path(str(EXAMPLES / f"{script}.py"), run_name="__main__")
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage:") and "--help" in text
