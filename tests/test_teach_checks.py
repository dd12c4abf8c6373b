"""check_gates, explain_nan, compare_modes: the wrong gate named, NaNs traced to their origin, forward vs reverse."""
from __future__ import annotations

import numpy as np
import pytest

import wengert as wg


# ====================================================================== check_gates
class MultiplyGate(wg.Function):
    """Seed 001's gate, right."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, dz):
        x, y = ctx.saved_tensors
        return dz * y, dz * x


class BadMul(MultiplyGate):
    """Seed 001's gate with the classic slip: the backward for y uses y instead of x."""

    @staticmethod
    def backward(ctx, dz):
        _x, y = ctx.saved_tensors
        return dz * y, dz * y  # the second should be dz * x


class BadJvp(wg.Function):
    """A right backward and a wrong jvp (forgets the chain rule's factor 2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return x * t


class Raises(wg.Function):
    @staticmethod
    def forward(ctx, x):
        return 3.0 * x

    @staticmethod
    def backward(ctx, g):
        raise ZeroDivisionError("oops")


def bigger(gate):
    def f(x, y, z, w):
        q = x + y
        m = gate.apply(q, z)
        s = wg.sigmoid(m) * wg.tanh(w)
        return wg.log(1.0 + s * s) + wg.exp(-q) * w
    return f


def test_check_gates_names_the_one_wrong_gate():
    report = wg.check_gates(bigger(BadMul), -2.0, 5.0, -4.0, 0.7)
    assert not report.ok
    assert len(report.failures) == 1
    bad = report.failures[0]
    assert (bad.op, bad.input, bad.kind) == ("BadMul", 1, "vjp")
    # at q = 3, z = -4 the gate's d(qz)/dz is q = 3; the slipped backward returns z = -4 (times the cotangent 1)
    assert bad.expected == pytest.approx(3.0, rel=1e-6) and bad.got == pytest.approx(-4.0)
    assert bad.rel_error == pytest.approx(7.0 / 3.0, rel=1e-6)
    assert bad.node == "m" and bad.expression == "m = BadMul(q, z)"
    assert bad.rule == "BadMul.backward" and bad.input_name == "z"
    assert "test_teach_checks.py" in bad.site and "m = gate.apply(q, z)" in bad.site
    text = str(report)
    assert "BadMul.backward returns the wrong gradient for input 1 (z)" in text
    assert "expected 3" in text and "got -4" in text
    assert report.checked > 10 and report.nodes == 12


def test_check_gates_passes_a_right_graph():
    report = wg.check_gates(bigger(MultiplyGate), -2.0, 5.0, -4.0, 0.7)
    assert report.ok and report.failures == []
    assert "all 12 local rules agree" in str(report)
    # the custom gate has no jvp: said, not failed
    assert any("MultiplyGate" in s and "no jvp" in s for s in report.skipped)


def test_check_gates_checks_jvps_too():
    report = wg.check_gates(lambda x: wg.sin(BadJvp.apply(x)), 1.5)
    assert [(b.op, b.input, b.kind) for b in report.failures] == [("BadJvp", 0, "jvp")]
    assert report.failures[0].expected == pytest.approx(3.0, rel=1e-6)  # d(x^2) along t = 1 at x = 1.5
    assert report.failures[0].got == pytest.approx(1.5)
    assert "BadJvp.jvp returns the wrong tangent" in str(report)


def test_check_gates_reports_a_rule_that_raises():
    report = wg.check_gates(lambda x: Raises.apply(x) * 2.0, 1.0)
    (bad,) = report.failures
    assert bad.op == "Raises" and bad.error.startswith("ZeroDivisionError: oops")
    assert "it raised: ZeroDivisionError: oops" in str(report)


def test_check_gates_on_arrays_and_builtin_rules():
    rng = np.random.default_rng(1)
    W, b, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=(5, 4))

    def net(W, b, x):
        h = wg.tanh(x @ W.T + b)
        return wg.mean(wg.logsumexp(h, axis=1) + wg.sum(h * h, axis=1))

    report = wg.check_gates(net, W, b, x)
    assert report.ok, str(report)
    assert report.checked >= 2 * report.nodes - 2


def test_check_gates_in_float32_checks_in_float64():
    x = np.linspace(-1.0, 1.0, 6, dtype=np.float32)
    report = wg.check_gates(lambda x: wg.sum(wg.exp(x) * wg.sin(x)), x)
    assert report.ok, str(report)


def test_check_gates_large_inputs_use_random_directions():
    class BadSum(wg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.sum(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return np.full(x.shape, 2.0 * g)  # the gradient of a sum is g, not 2g

    report = wg.check_gates(lambda x: BadSum.apply(x * 1.0), np.arange(100.0))
    (bad,) = report.failures
    assert bad.directional and np.shape(bad.expected) == (3,)
    np.testing.assert_allclose(bad.got, 2 * bad.expected, rtol=1e-6)


def test_check_gates_skips_kinks_and_nonfinite_nodes():
    report = wg.check_gates(lambda x: wg.sum(wg.relu(x) + wg.abs(x)), np.array([0.0, 1.0, -1.0]))
    assert report.ok
    assert any("kink of relu" in s for s in report.skipped)
    report = wg.check_gates(lambda x: wg.where(x > 0, wg.log(x), 0.0), -1.0)
    assert report.ok and any("not finite" in s for s in report.skipped)


def test_check_gates_leaves_user_tensors_alone():
    x = wg.tensor(2.0, requires_grad=True)
    wg.check_gates(lambda x: x * x, x)
    assert x.grad is None


def test_check_gates_bad_input():
    with pytest.raises(TypeError, match="check_gates: the first argument must be a function"):
        wg.check_gates(3.0, 1.0)
    with pytest.raises(ValueError, match="check_gates: give the inputs"):
        wg.check_gates(lambda x: x)
    with pytest.raises(TypeError, match="check_gates: f must return one Tensor, got float"):
        wg.check_gates(lambda x: 3.0, 1.0)
    with pytest.raises(ValueError, match="check_gates: the output does not depend on the inputs"):
        wg.check_gates(lambda x: wg.tensor(1.0) * 2, 1.0)


# ====================================================================== explain_nan
def test_explain_nan_where_trap_at_zero():
    def f(x):
        return wg.where(x > 0, wg.sqrt(x), 0.0)

    r = wg.explain_nan(f, 0.0)
    assert not r.ok and r.trap == "where"
    assert (r.phase, r.op, r.quantity) == ("backward", "sqrt", "local partial")
    assert "return wg.where(x > 0, wg.sqrt(x), 0.0)" in r.site
    assert "0 * inf is nan" in r.explanation and "untaken branch" in r.explanation
    assert r.inputs == (("x", 0.0),)
    # the forward value is finite, the gradient is not: that is the trap
    assert np.isfinite(f(wg.tensor(0.0)).item())


def test_explain_nan_where_trap_in_the_untaken_branch():
    r = wg.explain_nan(lambda x: wg.where(x > 0, wg.sqrt(x), 0.0), -1.0)
    assert r.trap == "where" and r.phase == "forward" and r.op == "sqrt"
    assert "sqrt(-1) = nan" in r.explanation and "wg.where(x > 0, wg.sqrt(wg.where(x > 0, x, 1.0)), 0.0)" in str(r)


def test_explain_nan_log_of_zero_and_of_negatives():
    r = wg.explain_nan(lambda p: -wg.log(p) * 2.0, 0.0)
    assert (r.trap, r.op, r.phase, r.quantity) == ("log0", "log", "forward", "value")
    assert r.value == -np.inf and "log(0) = -inf" in r.explanation and "log_softmax" in r.explanation
    r = wg.explain_nan(lambda x: wg.log(x - 5.0), 1.0)
    assert r.trap == "log_negative" and r.inputs == (("v1", -4.0),)


def test_explain_nan_sqrt_at_zero():
    def norm(v):
        return wg.sqrt(wg.sum(v * v))

    r = wg.explain_nan(norm, np.zeros(3))
    assert (r.trap, r.op, r.phase) == ("sqrt0", "sqrt", "backward")
    assert "infinite at x = 0" in r.explanation and "1e-12" in r.explanation
    r = wg.explain_nan(lambda x: wg.sqrt(x), -2.0)
    assert r.trap == "sqrt_negative" and r.phase == "forward"


def test_explain_nan_exp_overflow():
    r = wg.explain_nan(lambda x: wg.exp(x * 1000.0) / 2.0, 1.0)
    assert (r.trap, r.op) == ("exp_overflow", "exp")
    assert "exp(1000) = inf" in r.explanation and "709.78" in r.explanation and "logsumexp" in r.explanation
    r = wg.explain_nan(lambda x: wg.exp(x), np.array([1.0, 100.0], dtype=np.float32))
    assert r.trap == "exp_overflow" and "88.72" in r.explanation and r.index == (1,)


def test_explain_nan_division_by_zero():
    r = wg.explain_nan(lambda x, y: x / (y - 1.0), 2.0, 1.0)
    assert (r.trap, r.op) == ("divide_by_zero", "divide")
    assert r.inputs == (("x", 2.0), ("v1", 0.0)) and "zero denominator" in r.explanation
    assert "x/0 is inf" in r.explanation
    r = wg.explain_nan(lambda x: x / x, 0.0)
    assert r.trap == "divide_by_zero" and "0/0 is nan" in r.explanation


def test_explain_nan_input_and_arrays():
    r = wg.explain_nan(lambda x: x * 2.0, np.nan)
    assert r.trap == "input" and r.node == "x"
    r = wg.explain_nan(lambda x: wg.sum(wg.log(x)), np.array([1.0, 2.0, 0.0, 4.0]))
    assert r.trap == "log0" and r.index == (2,) and r.inputs == (("x", 0.0),)
    assert "at element (2,)" in r.explanation


def test_explain_nan_ok():
    r = wg.explain_nan(lambda x, y: wg.tanh(x) * y + wg.log(y), 0.3, 2.0)
    assert r.ok and r.trap is None and "finite" in str(r)


def test_explain_nan_first_node_wins():
    def f(x):
        a = wg.log(x)        # -inf first
        return wg.exp(-a * 1000.0)  # then inf from it

    r = wg.explain_nan(f, 0.0)
    assert r.node == "a" and r.trap == "log0"


# ====================================================================== compare_modes
def test_compare_modes_r3_to_r():
    r = wg.compare_modes(lambda x, y, z: (x + y) * z, -2.0, 5.0, -4.0)
    assert (r.forward_passes, r.reverse_passes) == (3, 1)
    assert (r.n_inputs, r.n_outputs, r.ops) == (3, 1, 2) and r.cheaper == "reverse"
    # x's pass touches both ops, y's both, z's only the multiply; the reverse pass touches both once
    assert (r.forward_ops, r.reverse_ops) == (5, 2)
    np.testing.assert_array_equal(r.jacobian, [[-4.0, -4.0, 3.0]])
    assert r.agree and r.forward_time > 0 and r.reverse_time > 0
    text = str(r)
    assert "v2 maps R^3 -> R^1" in text and "Reverse mode needs fewer passes (1 instead of 3)" in text
    assert "dv/dx" in text and "dv2/dv" in text  # the tangent and adjoint columns side by side


def test_compare_modes_r_to_r3():
    r = wg.compare_modes(lambda x: wg.stack([wg.sin(x), wg.cos(x), x * x]), 0.5)
    assert (r.forward_passes, r.reverse_passes) == (1, 3) and r.cheaper == "forward"
    np.testing.assert_allclose(r.jacobian[:, 0], [np.cos(0.5), -np.sin(0.5), 1.0])
    assert "Forward mode needs fewer passes (1 instead of 3)" in str(r)


def test_compare_modes_vectors_match_jacobian():
    A = np.arange(6.0).reshape(2, 3)

    def f(v):
        return wg.tanh(wg.tensor(A) @ v)

    v = np.array([0.1, -0.2, 0.3])
    r = wg.compare_modes(f, v, repeat=1)
    assert (r.forward_passes, r.reverse_passes) == (3, 2) and r.agree
    np.testing.assert_allclose(r.jacobian, wg.jacobian(f)(v).data, rtol=1e-12)
    assert r.table.mode == "both" and r.table.rows[-1].adjoint.tolist() == [1.0, 0.0]


def test_compare_modes_bad_input():
    with pytest.raises(ValueError, match="compare_modes: repeat must be a positive int"):
        wg.compare_modes(lambda x: x * 2, 1.0, repeat=0)
    with pytest.raises(ValueError, match="compare_modes: the output does not depend on the inputs"):
        wg.compare_modes(lambda x: wg.tensor(2.0) * 3, 1.0)


def test_check_gates_on_a_small_network():
    from wengert import nn
    from wengert.nn import functional as F

    net = nn.Sequential(nn.Conv2d(1, 2, 3, rng=0, dtype=np.float64), nn.ReLU(), nn.Flatten(),
                        nn.Linear(32, 8, rng=1, dtype=np.float64), nn.Tanh(), nn.Linear(8, 3, rng=2, dtype=np.float64))
    x = np.random.default_rng(0).normal(size=(2, 1, 6, 6))
    report = wg.check_gates(lambda x: F.cross_entropy(net(x), np.array([0, 2])), x)
    assert report.ok, str(report)
    assert report.nodes >= 8 and report.checked >= 20


def test_explain_nan_other_overflow_and_array_elements():
    r = wg.explain_nan(lambda x: wg.sum(x) * 1e308, np.array([10.0, 10.0]))
    assert (r.trap, r.op) == ("overflow", "multiply") and r.inputs == (("v1", 20.0), ("constant", 1e308))
    assert "overflows (the largest float is about 1.8e308 in float64)" in r.explanation
    r = wg.explain_nan(lambda a, b: wg.sum(wg.sqrt(a * b)), np.ones((2, 3)), np.array([1.0, 0.0, 2.0]))
    assert r.trap == "sqrt0" and r.index == (0, 1) and "(at element (0, 1) of v1)" in r.explanation
    r = wg.explain_nan(lambda A, x: wg.sum(wg.sqrt(A @ x)), np.zeros((2, 2)), np.ones(2))
    assert r.trap == "sqrt0" and r.phase == "backward"
