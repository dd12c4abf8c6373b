"""Trace tables: the seeds' tables exactly, adjoints against the engine, formats, and edge cases."""
from __future__ import annotations

import html.parser
import math

import numpy as np
import pytest

import wengert as wg
from wengert.teach import Trace, trace
from wengert.teach._graph import GraphReleasedError

E9 = math.exp(-9.0)


# ------------------------------------------------------------------ seed 001: f = (x + y) z
def circuit(x, y, z):
    q = x + y
    return q * z


def test_seed001_reverse_table():
    t = trace(circuit, -2.0, 5.0, -4.0)
    assert [r.name for r in t] == ["x", "y", "z", "q", "circuit"]
    assert [r.kind for r in t] == ["input", "input", "input", "op", "op"]
    assert [r.value for r in t] == [-2.0, 5.0, -4.0, 3.0, -12.0]
    assert [r.adjoint for r in t] == [-4.0, -4.0, 3.0, -4.0, 1.0]
    q, f = t["q"], t["circuit"]
    assert q.expression() == "x + y" and f.expression() == "q * z"
    assert [(p.wrt, p.value) for p in q.partials] == [("x", 1.0), ("y", 1.0)]  # dq/dx = dq/dy = 1
    assert [(p.wrt, p.value) for p in f.partials] == [("q", -4.0), ("z", 3.0)]  # df/dq = z, df/dz = q
    assert t.gradient == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_seed001_text_exactly():
    def f(x, y, z):
        q = x + y
        return q * z

    assert str(trace(f, -2.0, 5.0, -4.0)) == "\n".join([
        "#  v  expression  value  local partials         df/dv",
        "0  x  input       -2                            -4",
        "1  y  input       5                             -4",
        "2  z  input       -4                            3",
        "3  q  x + y       3      dq/dx = 1; dq/dy = 1   -4",
        "4  f  q * z       -12    df/dq = -4; df/dz = 3  1",
    ])


@pytest.mark.parametrize("wrt, expected", [("x", -4.0), ("y", -4.0), ("z", 3.0)])
def test_seed001_forward_mode_gives_the_same_derivatives(wrt, expected):
    t = trace(circuit, -2.0, 5.0, -4.0, mode="forward", wrt=wrt)
    assert t.rows[-1].tangent == expected
    assert t[wrt].tangent == 1.0
    assert all(r.adjoint is None for r in t)
    assert "tangent" not in repr(t.output)  # tangents do not ride along after the trace


# ------------------------------------------------------------------ seed 004: L = -y log(sigmoid(W X))
def seed004(W, X, y):
    xi1 = -X * W  # X is a constant here: one step, d xi1 / dW = -X
    xi2 = wg.exp(xi1)
    xi3 = 1 + xi2
    xi4 = 1 / xi3
    xi5 = wg.log(xi4)
    return -y * xi5


STEPS = ["xi1", "xi2", "xi3", "xi4", "xi5", "seed004"]
VALUES = [-9.0, E9, 1 + E9, 1 / (1 + E9), math.log(1 / (1 + E9)), -math.log(1 / (1 + E9))]
PARTIALS = [-3.0, E9, 1.0, -1 / (1 + E9) ** 2, 1 + E9, -1.0]
TANGENTS = [-3.0, -3 * E9, -3 * E9, 3 * E9 / (1 + E9) ** 2, 3 * E9 / (1 + E9), -3 * E9 / (1 + E9)]
ADJOINTS = [E9 / (1 + E9), 1 / (1 + E9), 1 / (1 + E9), -(1 + E9), -1.0, 1.0]


def _ops(t: Trace) -> list:
    return [r for r in t if r.kind == "op"]


def test_seed004_forward_table():
    t = trace(seed004, 3.0, 3.0, 1.0, mode="forward", wrt="W", precision=8)
    rows = _ops(t)
    assert [r.name for r in rows] == STEPS
    for r, v, p, tg in zip(rows, VALUES, PARTIALS, TANGENTS):
        assert r.value == pytest.approx(v, rel=1e-14, abs=1e-300)
        assert len(r.partials) == 1 and r.partials[0].value == pytest.approx(p, rel=1e-14)
        assert r.tangent == pytest.approx(tg, rel=1e-13)
    assert t["W"].tangent == 1.0 and t["X"].kind == "constant"


def test_seed004_backward_table():
    t = trace(seed004, 3.0, 3.0, 1.0, wrt="W", precision=8)
    rows = _ops(t)
    for r, v, p, a in zip(rows, VALUES, PARTIALS, ADJOINTS):
        assert r.value == pytest.approx(v, rel=1e-14)
        assert r.partials[0].value == pytest.approx(p, rel=1e-14)
        assert r.adjoint == pytest.approx(a, rel=1e-13)
    dLdW = t.gradient["W"]
    assert dLdW == pytest.approx(-3 * E9 / (1 + E9), rel=1e-14)  # = -X (1 - sigmoid(W X))
    # the engine agrees
    W = wg.tensor(3.0, requires_grad=True)
    (-1.0 * wg.log(wg.sigmoid(W * 3.0))).backward()
    assert W.grad.item() == pytest.approx(dLdW, rel=1e-12)


def test_seed004_slips_are_found():
    """The seed's table has a sign slip; we print the correct signs.

    1. Row xi4, column "value of the partial derivative": the seed prints
       (1/(1+e^-9))^2 although its own formula column says -1/xi3^2; the
       correct value is -1/(1+e^-9)^2 = -0.99975...
    2. That wrong sign propagates down the seed's last column (d xi_n / dW):
       it prints -3e^-9 (1/(1+e^-9))^2 for xi4, -3e^-9/(1+e^-9) for xi5 and
       +3e^-9/(1+e^-9) for L, and the final dL/dW as +0.00037018372.  The
       correct values have the opposite signs: dL/dW = -3e^-9/(1+e^-9)
       = -0.000370183728 (and the L row applies dL/dxi5 = -1 correctly to
       the wrong xi5 entry).
    3. The "Forward mode" table heads that column dL/dxi_n, but its entries
       are the tangents dxi_n/dW (the first table's heading).
    """
    seed_xi4_partial = (1 / (1 + E9)) ** 2
    seed_tangents = {"xi4": -3 * E9 * (1 / (1 + E9)) ** 2, "xi5": -3 * E9 * (1 / (1 + E9)), "seed004": 3 * E9 / (1 + E9)}
    seed_dLdW = 0.00037018372

    t = trace(seed004, 3.0, 3.0, 1.0, mode="forward", wrt="W", precision=11)
    ours_xi4 = t["xi4"].partials[0].value
    assert ours_xi4 < 0 < seed_xi4_partial and ours_xi4 == pytest.approx(-seed_xi4_partial, rel=1e-15)
    for name, seed_value in seed_tangents.items():
        assert t[name].tangent == pytest.approx(-seed_value, rel=1e-13), name
    # the seed rounds to 11 digits after the point; the magnitude agrees, the sign does not
    ours = t.rows[-1].tangent
    assert ours < 0 < seed_dLdW and abs(ours + seed_dLdW) < 1e-11
    assert "-0.00037018373" in t.to_text(precision=8)
    # the rows before xi4 agree with the seed, signs included
    assert t["xi1"].tangent == -3.0 and t["xi2"].tangent == pytest.approx(-3 * E9)


def test_seed004_as_the_seed_writes_it_with_all_inputs_differentiated():
    # -W * X as Python reads it is two steps: v = -W, xi1 = v * X
    def L(W, X, y):
        xi1 = -W * X
        xi5 = wg.log(1 / (1 + wg.exp(xi1)))
        return -y * xi5

    t = trace(L, 3.0, 3.0, 1.0)
    assert t.gradient["W"] == pytest.approx(-3 * E9 / (1 + E9), rel=1e-14)
    assert t.gradient["X"] == pytest.approx(-3 * E9 / (1 + E9), rel=1e-14)
    assert t.gradient["y"] == pytest.approx(math.log1p(E9), rel=1e-12)  # dL/dy = -log(sigmoid(9))


# ------------------------------------------------------------------ against the engine, random computations
UNARY = [wg.exp, wg.sin, wg.cos, wg.tanh, wg.sigmoid, lambda v: v * v, lambda v: -v, wg.softplus]
BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (1.5 + b * b)]


def random_program(rng: np.random.Generator, n_inputs: int, n_steps: int):
    """A random straight-line program over the inputs (values reused: fan-out, broadcasting)."""
    plan = []
    for i in range(n_steps):
        if rng.random() < 0.4:
            plan.append(("u", int(rng.integers(len(UNARY))), int(rng.integers(n_inputs + i)), None))
        else:
            plan.append(("b", int(rng.integers(len(BINARY))), int(rng.integers(n_inputs + i)),
                         int(rng.integers(n_inputs + i))))

    def f(*xs):
        vals = list(xs)
        for kind, k, a, b in plan:
            vals.append(UNARY[k](vals[a]) if kind == "u" else BINARY[k](vals[a], vals[b]))
        out = wg.sum(vals[-1])
        for x in xs:  # every input takes part (an unused input's derivative is 0)
            out = out + 0.0 * wg.sum(x)
        return out

    return f


@pytest.mark.parametrize("seed", range(12))
def test_trace_adjoints_equal_engine_gradients(seed):
    rng = np.random.default_rng(seed)
    shapes = [(), (3,), (2, 3)]
    inputs = [rng.normal(size=shapes[int(rng.integers(3))]) for _ in range(3)]
    f = random_program(rng, len(inputs), int(rng.integers(3, 12)))
    names = ["x0", "x1", "x2"]
    t = trace(f, *inputs, names=names)
    leaves = [wg.tensor(v, requires_grad=True) for v in inputs]
    f(*leaves).backward()
    for name, leaf in zip(names, leaves):
        expected = leaf.grad.data if leaf.grad is not None else np.zeros(leaf.shape)  # an unused input
        np.testing.assert_allclose(t.gradient[name], expected, rtol=1e-12, atol=1e-14)
    # every adjoint is the chain rule over the row's consumers: dL/dv_j = sum_i dL/dv_i * dv_i/dv_j
    check_chain_rule(t)
    # forward mode along a random direction gives the directional derivative <dL/dx, e>
    for k in range(len(inputs)):
        e = rng.normal(size=np.shape(inputs[k]))
        tf = trace(f, *inputs, mode="forward", wrt=k, tangent=e, names=names)
        assert tf.rows[-1].tangent == pytest.approx(float(np.sum(t.gradient[f"x{k}"] * e)), rel=1e-10, abs=1e-12)


def _sum_to(a, shape):
    a = np.asarray(a, dtype=float)
    while a.ndim > len(shape):
        a = a.sum(axis=0)
    for i, s in enumerate(shape):
        if s == 1 and a.shape[i] != 1:
            a = a.sum(axis=i, keepdims=True)
    return a


def check_chain_rule(t: Trace) -> None:
    total = {r.name: np.zeros(r.shape) for r in t}
    total[t.rows[-1].name] = np.ones(t.rows[-1].shape)
    for r in t:
        for p in r.partials:
            if p.kind == "elementwise":
                total[p.wrt] = total[p.wrt] + _sum_to(np.asarray(r.adjoint) * p.value, t[p.wrt].shape)
            elif p.kind == "jacobian":
                nd = np.ndim(r.value)
                contrib = np.tensordot(np.asarray(r.adjoint), p.value, axes=nd) if nd else r.adjoint * p.value
                total[p.wrt] = total[p.wrt] + contrib
            else:
                raise AssertionError(f"no partial for {r.name}")
    for r in t:
        if r.adjoint is not None:
            np.testing.assert_allclose(total[r.name], r.adjoint, rtol=1e-10, atol=1e-13, err_msg=r.name)


def test_jacobian_partials_of_non_elementwise_ops():
    A = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    def f(x):
        h = wg.tensor(A) @ x
        return wg.sum(wg.tanh(h) * x[:2])

    t = trace(f, np.array([0.1, -0.2, 0.3]))
    h = t["h"]
    assert h.partials[0].kind == "jacobian"
    np.testing.assert_array_equal(h.partials[0].value, A)  # d(Ax)/dx = A
    check_chain_rule(t)


def test_tracing_leaves_grads_alone_and_keeps_the_graph():
    p = wg.tensor(2.0, requires_grad=True)
    t = trace(lambda x: x * p, 3.0)
    assert p.grad is None
    assert t.gradient == {"x": 2.0, "p": 3.0}  # closed-over leaves are inputs too (named from the closure)
    assert t["p"].adjoint == 3.0 and t["p"].kind == "input"  # a closed-over leaf gets a row of its own
    t.output.backward()  # the graph is still there
    assert p.grad.item() == 3.0


def test_with_form_names_locals_and_picks_the_last_output():
    with wg.trace() as tr:
        x = wg.tensor(-2.0, requires_grad=True)
        y = wg.tensor(5.0, requires_grad=True)
        z = wg.tensor(-4.0, requires_grad=True)
        q = x + y
        f = q * z
    assert [r.name for r in tr.rows] == ["x", "y", "z", "q", "f"]
    assert tr.gradient == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert tr.of(q).gradient == {"x": 1.0, "y": 1.0}
    assert "q * z" in str(tr)
    del f


def test_with_form_forward_mode():
    x = wg.tensor(2.0, requires_grad=True)
    with wg.trace(mode="forward", wrt=x) as tr:
        y = wg.sin(x) * x
    assert tr.rows[-1].tangent == pytest.approx(math.cos(2.0) * 2.0 + math.sin(2.0))
    assert "tangent" not in repr(x) and "tangent" not in repr(y)


def test_named_constants_get_rows_and_unnamed_are_inlined():
    X = wg.tensor(3.0)
    X.name = "X"

    def f(W):
        return wg.exp(W * X) + 2.0

    t = trace(f, 1.0)
    assert [r.name for r in t][:2] == ["W", "X"]
    assert t["X"].kind == "constant" and t["X"].adjoint is None
    assert t.rows[-1].expression() == "v2 + 2"


def test_non_scalar_output_needs_a_cotangent():
    with pytest.raises(ValueError, match="cotangent"):
        trace(lambda x: x * 2.0, np.ones(3))
    t = trace(lambda x: x * 2.0, np.ones(3), cotangent=np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(t.gradient["x"], [2.0, 0.0, -2.0])


def test_large_tensors_are_summarised_small_ones_shown():
    t = trace(lambda x: wg.sum(x * x), np.arange(100.0).reshape(10, 10) / 10)
    text = t.to_text()
    assert "(10, 10) mean 4.95, min 0, max 9.9" in text
    t2 = trace(lambda x: wg.sum(x * x), np.array([1.0, 2.0]))
    assert "[1, 2]" in t2.to_text() and "[2, 4]" in t2.to_text()


def test_precision():
    t = trace(lambda x: wg.exp(x), 1.0)
    assert "2.71828" in t.to_text() and "2.718281828" in t.to_text(precision=10)
    assert "2.7" in trace(lambda x: wg.exp(x), 1.0, precision=2).to_text()
    with pytest.raises(ValueError, match="precision"):
        trace(lambda x: x, 1.0, precision=0)


def test_formats():
    t = trace(seed004, 3.0, 3.0, 1.0, wrt="W")
    md = t.to_markdown().splitlines()
    assert md[0].startswith("| # | v | expression") and md[1].startswith("|---:|")
    assert len(md) == 2 + len(t)
    assert "`1 / xi3`" in t.to_markdown()
    tex = t.to_latex()
    assert tex.startswith(r"\begin{tabular}{rlllll}") and tex.endswith(r"\end{tabular}")
    assert tex.count(r"\\") == 1 + len(t)
    assert r"\frac{1}{\xi_{3}}" in tex and r"\frac{\partial \xi_{4}}{\partial \xi_{3}} = -0.999753" in tex
    assert r"1.23410 \times 10^{-4}" in t.to_latex(precision=6) or r"0.00012341" in t.to_latex()

    class Cells(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows = 0
            self.stack = []

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows += 1
            if tag not in ("br",):
                self.stack.append(tag)

        def handle_endtag(self, tag):
            assert self.stack and self.stack.pop() == tag, f"unbalanced </{tag}>"

    p = Cells()
    p.feed(t.to_html())
    assert p.rows == 1 + len(t) and not p.stack
    assert "&xi;<sub>4</sub>" in t.to_html()


def test_errors_are_clear():
    with pytest.raises(ValueError, match="mode"):
        trace(circuit, 1.0, 2.0, 3.0, mode="sideways")
    with pytest.raises(ValueError, match="not an input"):
        trace(circuit, 1.0, 2.0, 3.0, wrt="w")
    with pytest.raises(ValueError, match="exactly one"):
        trace(circuit, 1.0, 2.0, 3.0, mode="forward", wrt=["x", "y"])
    with pytest.raises(TypeError, match="one Tensor"):
        trace(lambda x: 3, 1.0)
    with pytest.raises(ValueError, match="does not depend"):
        trace(lambda x, y: y * 2.0, 1.0, 2.0, wrt="x")
    x = wg.tensor(1.0, requires_grad=True)
    y = wg.exp(x) * 2.0
    y.backward()
    with pytest.raises(GraphReleasedError, match="retain_graph"):
        wg.draw(y)


def test_matrix_trace_keeps_its_numpy_meaning():
    assert wg.trace(np.array([[1.0, 2.0], [3.0, 4.0]])).item() == 5.0
    A = wg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    wg.trace(A).backward()
    np.testing.assert_array_equal(A.grad.data, np.eye(2))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_ieee_values_at_singular_points():
    t = trace(lambda x: 1.0 / x, 0.0)
    assert t.rows[-1].value == math.inf and t.gradient["x"] == -math.inf
    assert t.rows[-1].partials[0].value == -math.inf


def test_module_parameters_are_named_by_their_paths():
    nn = pytest.importorskip("wengert.nn", reason="wengert.nn is not importable yet")
    net = nn.Sequential(nn.Linear(2, 2, rng=0, dtype=np.float64), nn.Sigmoid(), nn.Linear(2, 1, rng=1, dtype=np.float64))
    t = trace(lambda x: wg.sum(net(x)), np.array([[1.0, 2.0]]))
    assert [r.name for r in t if r.kind == "input"] == ["x", "net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"]
    net(np.array([[1.0, 2.0]])).sum().backward()
    np.testing.assert_allclose(t["net.0.weight"].adjoint, net[0].weight.grad.data, rtol=1e-12)


# ---------------------------------------------------------------- mode="both": tangents and adjoints side by side
def test_both_mode_side_by_side():
    def f(x, y, z):
        q = x + y
        return q * z

    t = wg.trace(f, -2.0, 5.0, -4.0, mode="both", wrt="y")
    assert t.columns == ("tangent", "adjoint")
    assert str(t) == "\n".join([
        "#  v  expression  value  local partials         dv/dy  df/dv",
        "0  x  input       -2                            0      -4",
        "1  y  input       5                             1      -4",
        "2  z  input       -4                            0      3",
        "3  q  x + y       3      dq/dx = 1; dq/dy = 1   1      -4",
        "4  f  q * z       -12    df/dq = -4; df/dz = 3  -4     1",
    ])
    assert t.gradient == {"x": -4.0, "y": -4.0, "z": 3.0}  # reverse mode's: every input
    assert t.rows[-1].tangent == -4.0  # forward mode's: d f / d y
    md = t.to_markdown().splitlines()
    assert md[0] == "| # | v | expression | value | local partials | dv/dy | df/dv |" and md[1].count("|") == 8
    tex = t.to_latex()
    assert tex.startswith(r"\begin{tabular}{rllllll}") and r"$\partial v_i / \partial y$" in tex
    assert "<th>&part;v<sub>i</sub>/&part;<i>y</i></th>" in t.to_html() and t.to_html().count("<th>") == 7


def test_both_mode_agrees_with_each_mode_alone():
    def g(a, b):
        return wg.sum(wg.tanh(a * b) + a)

    a, b = np.array([0.5, -1.0]), np.array([2.0, 0.25])
    both = wg.trace(g, a, b, mode="both", wrt="b", tangent=np.array([1.0, -1.0]))
    rev = wg.trace(g, a, b)
    fwd = wg.trace(g, a, b, mode="forward", wrt="b", tangent=np.array([1.0, -1.0]))
    for rb, rr, rf in zip(both.rows, rev.rows, fwd.rows):
        np.testing.assert_array_equal(rb.adjoint, rr.adjoint)
        np.testing.assert_array_equal(rb.tangent, rf.tangent)


def test_both_mode_bad_input():
    with pytest.raises(ValueError, match="forward mode follows exactly one input"):
        wg.trace(lambda x, y: x * y, 1.0, 2.0, mode="both", wrt=["x", "y"])
    with pytest.raises(ValueError, match="reverse mode needs a scalar output or cotangent="):
        wg.trace(lambda x: x * np.ones(2), 1.0, mode="both")
    with pytest.raises(ValueError, match="mode must be 'reverse', 'forward' or 'both'"):
        wg.trace(lambda x: x, 1.0, mode="sideways")


def test_both_mode_with_block():
    x = wg.tensor(3.0, requires_grad=True)
    with wg.trace(mode="both", wrt=x) as tr:
        y = wg.sin(x) * x  # noqa: F841
    assert tr.rows[-1].tangent == pytest.approx(np.cos(3.0) * 3.0 + np.sin(3.0))
    assert tr.gradient["x"] == pytest.approx(np.cos(3.0) * 3.0 + np.sin(3.0))
