"""The engine's part of the hardening issue: one clear line for each bad input, and results that are right."""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import wengert as wg


def test_the_output_of_a_one_op_trace_has_adjoint_one():
    for f, args in ((lambda x, y: x * y, (3.0, 4.0)), (lambda x: wg.exp(x), (1.0,)), (lambda x: x + 5.0, (2.0,))):
        assert wg.trace(f, *args).rows[-1].adjoint == 1.0
    out = subprocess.run([sys.executable, "-m", "wengert", "trace", "x*y", "--at", "x=1", "y=2"],
                         capture_output=True, text=True, check=True).stdout
    last_row = next(line for line in out.splitlines() if line.startswith("2 "))
    assert last_row.split()[-1] == "1", out


def test_the_jit_cache_is_bounded_and_least_recently_used_goes_first():
    j = wg.jit(lambda x: wg.sum(x * x), cache_size=8)
    for n in range(1, 30):
        j(np.ones(n))
    assert len(j._cache) == 8
    j(np.ones(25))  # recently used: stays
    j(np.ones(100))
    assert any(k[0][0] == (25,) for k in j._cache) and not any(k[0][0] == (22,) for k in j._cache)
    with pytest.raises(ValueError, match="cache_size must be a positive int"):
        wg.jit(lambda x: x, cache_size=0)
    assert wg.jit(lambda x: x).cache_size == 64


def test_a_function_whose_backward_returns_the_wrong_shape_is_named():
    class BadShape(wg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return np.ones(5)

    x = wg.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"BadShape.backward returned a gradient of shape \(5,\) for input 0"):
        wg.sum(BadShape.apply(x)).backward()
    assert x.grad is None


def test_the_creation_site_skips_the_wengert_command_itself():
    namespace = {"__name__": "__main__"}
    code = compile("from wengert.core.rule import creation_site\nsite = creation_site()", "/opt/venv/bin/wengert", "exec")
    exec(code, namespace)  # as the console script runs: module __main__, file named like the command
    assert "bin/wengert" not in namespace["site"] and "test_core_messages.py" in namespace["site"]


def test_truth_value_of_a_tensor_suggests_methods_that_exist():
    t = wg.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\.any\(\) or \.all\(\)"):
        bool(t > 1)
    assert bool((t > 1).any()) and not bool((t > 1).all())


def test_the_two_meanings_of_trace_say_which_is_which():
    assert float(wg.trace(np.eye(3))) == 3.0  # a matrix: NumPy's trace
    with pytest.raises(ValueError, match=r"matrix trace.*at least 2 axes.*trace table.*wg.trace\(f, \*inputs\)"):
        wg.trace(wg.tensor([1.0, 2.0, 3.0]))


def test_no_stray_warnings_from_the_engine_on_a_plain_step():
    x = wg.tensor(np.linspace(-1, 1, 5), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        wg.sum(wg.tanh(x) * x).backward()
    assert x.grad.shape == (5,)
