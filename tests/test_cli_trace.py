"""``wengert trace``: tables for formulas, and rejection of everything outside the whitelist."""
from __future__ import annotations

import math
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wengert.cli import main
from wengert.teach.formula import FUNCTIONS, MAX_LENGTH, FormulaError, parse

HAS_DOT = shutil.which("dot") is not None


def run(capsys, *argv):
    try:
        status = main(["trace", *argv])
    except SystemExit as exc:  # argparse errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def test_seed001(capsys):
    status, out, err = run(capsys, "(x + y) * z", "--at", "x=-2", "y=5", "z=-4")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "f = (x + y) * z   at x=-2, y=5, z=-4   (reverse mode)"
    assert lines[-1] == "gradient: df/dx = -4, df/dy = -4, df/dz = 3"
    assert "v1  x + y       3      dv1/dx = 1; dv1/dy = 1  -4" in out


def test_seed001_forward(capsys):
    status, out, _ = run(capsys, "(x + y) * z", "--at", "x=-2", "y=5", "z=-4", "--mode", "forward", "--wrt", "z")
    assert status == 0
    assert out.splitlines()[-1] == "gradient: df/dz = 3"


SEED004 = "xi1 = -W * X; xi2 = exp(xi1); xi3 = 1 + xi2; xi4 = 1 / xi3; xi5 = log(xi4); L = -y * xi5"


def test_seed004_steps_are_named(capsys):
    status, out, _ = run(capsys, SEED004, "--at", "W=3", "X=3", "y=1", "--precision", "8")
    assert status == 0
    assert "xi4  1 / xi3" in out and "dxi4/dxi3 = -0.99975323" in out  # the minus the seed's table drops
    assert "dL/dW = -0.00037018373" in out.splitlines()[-1]


@pytest.mark.parametrize("fmt, marker", [("md", "|---:|"), ("latex", r"\begin{tabular}"), ("html", "<table")])
def test_formats(capsys, fmt, marker):
    status, out, _ = run(capsys, "sigmoid(w * x)", "--at", "w=0.5", "x=2", "--format", fmt)
    assert status == 0 and marker in out


def test_dot_and_svg_files(capsys, tmp_path):
    dot = tmp_path / "g.dot"
    svg = tmp_path / "g.svg"
    status, _, err = run(capsys, "(x + y) * z", "--at", "x=-2", "y=5", "z=-4", "--dot", str(dot), "--svg", str(svg))
    assert dot.read_text().startswith("digraph wengert {")
    if HAS_DOT:
        assert status == 0 and "<svg" in svg.read_text()
    else:
        assert status == 1 and "apt-get install graphviz" in err


BAD_FORMULAS = [
    ("__import__('os').system('echo hi')", "attribute access"),
    ("__import__('os')", "unknown function '__import__'; allowed functions: abs"),
    ("x.real", "attribute access"),
    ("(lambda: 1)()", "lambda"),
    ("x[0]", "subscripts"),
    ("[a for a in x]", "comprehensions"),
    ("x ** 1000", "exponent 1000 is too large"),
    ("2 ** 2 ** 200 * x", "exponent"),
    ("1e300 * x", "too large"),
    ("9" * 400 + " * x", "too large"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("'abc' * x", "strings are not allowed"),
    ("x if x else x", "conditional"),
    ("import os", "statement"),
    ("x; y", "only the last statement"),
    ("exp(x, x)", "exactly one argument"),
    ("exp(x=1)", "keyword"),
    ("x // 2", "'//'"),
    ("_x * 2", "may not start with '_'"),
    ("exp", "is a function"),
    ("x +", "not a valid formula"),
    ("", "empty formula"),
    ("x" * (MAX_LENGTH + 1), "too long"),
    ("-" * 100 + " x", "nested too deeply"),  # (a formula starting with "-" needs a space in it for argparse)
    ("(" * 300 + "x" + ")" * 300, "not a valid formula"),
]


@pytest.mark.parametrize("formula, message", BAD_FORMULAS)
def test_rejections_exit_2_with_one_line(capsys, formula, message):
    status, out, err = run(capsys, formula, "--at", "x=1")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("wengert trace: error: ")
    assert message in err


@pytest.mark.parametrize("argv, message", [
    (["x * y", "--at", "x=1"], "no value for y"),
    (["x * y", "--at", "x=1", "y=2", "z=3"], "does not use; its variables are x, y"),
    (["x * y", "--at", "x=1", "y"], "expected NAME=NUMBER"),
    (["x * y", "--at", "x=1", "y=abc"], "not a number"),
    (["x * y", "--at", "x=1", "y=nan"], "finite"),
    (["x * y", "--at", "x=1", "x=2", "y=1"], "twice"),
    (["x * y", "--at", "x=1", "y=2", "--mode", "forward", "--wrt", "q"], "not a variable"),
    (["x * y", "--at", "x=1", "y=2", "--wrt", "x"], "--wrt is for --mode forward"),
    (["x * y", "--at", "x=1", "y=2", "--precision", "99"], "precision"),
    (["x * y", "--at", "x=1", "y=2", "--format", "pdf"], "invalid choice"),
    (["2 + 3"], "no variables"),
])
def test_bad_arguments_exit_2(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_singular_points_give_ieee_values(capsys):
    status, out, err = run(capsys, "log(x) + 1 / x", "--at", "x=0")
    assert status == 0 and "not finite" in err
    assert "gradient: df/dx = nan" in out  # 1/0 - 1/0^2 = inf - inf


def test_real_process_exit_status():
    proc = subprocess.run([sys.executable, "-m", "wengert", "trace", "__import__('os').system('echo PWNED')",
                           "--at", "x=1"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "PWNED" not in proc.stdout + proc.stderr
    assert proc.stderr.count("\n") == 1


# ------------------------------------------------------------------ fuzz: the parser only ever raises FormulaError
TOKENS = ["x", "y", "z", "1", "2.5", "1e3", "0", "+", "-", "*", "/", "**", "(", ")", ",", ";", "=", "q", ".",
          "[", "]", "lambda", ":", "'", "__import__", "os", "if", "else", " ", "\n", "~", "@", "%", "//", "<", "not",
          "and", "for", "in", "{", "}", "1j", "True", "None", "9" * 30, "e", "pi", "**-1"] + sorted(FUNCTIONS)


def _check(text: str) -> None:
    try:
        f = parse(text)
    except FormulaError:
        return
    values = {v: float(i) - 1.5 for i, v in enumerate(f.variables)}
    with np.errstate(all="ignore"):
        try:
            f.evaluate(values)  # on plain numbers
        except FormulaError:
            pass
        import wengert as wg

        try:
            f.evaluate({k: wg.tensor(v, requires_grad=True) for k, v in values.items()})  # on tensors
        except FormulaError:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_fuzz_arbitrary_text(text):
    _check(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join))
def test_fuzz_token_soup(text):
    _check(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=15).map(" ".join))
def test_fuzz_cli_never_crashes(text):
    try:
        status = main(["trace", text, "--at", "x=0.5", "y=-2", "z=3"])
    except SystemExit as exc:
        status = exc.code
    assert status in (0, 1, 2)


def test_valid_formulas_match_python_arithmetic():
    f = parse("a = x * y + sin(z); a / (1 + x ** 2) - -y")
    got = f.evaluate({"x": 0.5, "y": -2.0, "z": 3.0})
    want = (0.5 * -2.0 + math.sin(3.0)) / (1 + 0.25) + -2.0
    assert got.item() == pytest.approx(want, rel=1e-15)


def test_a_formula_that_starts_with_a_minus(capsys):
    """argparse would read '-W*X' as an option; right after 'trace' it is the formula."""
    status, out, err = run(capsys, "-W*X", "--at", "W=3", "X=2")
    assert status == 0 and err == ""
    assert out.splitlines()[0] == "f = -W*X   at W=3, X=2   (reverse mode)"
    assert out.splitlines()[-1] == "gradient: df/dW = -2, df/dX = -3"
    status, _, err = run(capsys, "--precision", "3")  # an option is still an option
    assert status == 2 and "formula" in err
