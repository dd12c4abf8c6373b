"""Gradient-flow diagnostics: the vanishing sigmoid stack is flagged, the ReLU one is not."""
from __future__ import annotations

import itertools
import os
import runpy
import warnings

import numpy as np
import pytest

import wengert as wg
from wengert.teach.diagnostics import GradientFlowMonitor, GradientFlowWarning, plot_grad_norms

try:
    from wengert import nn
except ImportError:  # pragma: no cover - while the nn layer is being written
    nn = None
needs_nn = pytest.mark.skipif(nn is None, reason="wengert.nn is not importable yet")

EXAMPLE = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "vanishing_gradients.py")


def stack(act, depth=10, width=16, seed=0):
    layers = []
    for i in range(depth):
        layers += [nn.Linear(width, width, rng=seed + i, dtype=np.float64), act()]
    layers.append(nn.Linear(width, 1, rng=seed + depth, dtype=np.float64))
    return nn.Sequential(*layers)


def one_step(net, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(32, 16)), rng.normal(size=(32, 1))
    loss = wg.mean((net(x) - y) ** 2)
    loss.backward()


@needs_nn
def test_sigmoid_stack_is_flagged_and_relu_is_not():
    net = stack(nn.Sigmoid)
    with GradientFlowMonitor(net) as mon:
        one_step(net)
        with pytest.warns(GradientFlowWarning, match=r"vanishing gradients at step 0 .*'0' \(Linear\)"):
            mon.step()
    flagged = [f.layer for f in mon.flags if f.kind == "vanishing"]
    assert flagged[0] == "0" and "20" not in flagged  # the first layers, not the last
    norms = mon.grad_norms()
    assert norms["0"] < 1e-6 * norms["20"]

    net = stack(nn.ReLU)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradientFlowWarning)
        with GradientFlowMonitor(net) as mon:
            one_step(net)
            mon.step()
    assert mon.flags == []


@needs_nn
def test_records_activation_statistics_and_output_gradients():
    net = stack(nn.ReLU, depth=3)
    with GradientFlowMonitor(net, warn=False) as mon:
        for s in range(3):
            one_step(net, seed=s)
            mon.step()
            net.zero_grad()
    assert {r.step for r in mon.history} == {0, 1, 2}
    last = [r for r in mon.history if r.step == 2]
    assert [r.layer for r in last] == ["0", "1", "2", "3", "4", "5", "6"]
    relu = [r for r in last if r.type == "ReLU"]
    assert all(r.grad_norm is None and r.out_grad_norm is not None for r in relu)
    assert all(0.0 < r.act_zero_frac < 1.0 for r in relu)  # some units are off, some on
    assert all(r.act_mean >= 0.0 for r in relu)
    lin = [r for r in last if r.type == "Linear"]
    assert all(r.grad_norm > 0.0 for r in lin)
    assert "act mean" in mon.summary() and "Linear" in mon.summary()


@needs_nn
def test_detach_restores_forward_and_releases_outputs():
    net = stack(nn.Sigmoid, depth=2)
    mon = GradientFlowMonitor(net, warn=False).attach()
    assert all("forward" in m.__dict__ for _, m in mon.layers)
    one_step(net)
    mon.detach()
    assert all("forward" not in m.__dict__ for _, m in mon.layers)
    assert mon._outputs == {}


@needs_nn
def test_exploding_gradients_are_flagged():
    net = stack(nn.Tanh, depth=4)
    with wg.no_grad():
        for p in net.parameters():
            p.data = p.data * 50.0
    with GradientFlowMonitor(net, exploding=100.0) as mon:
        one_step(net)
        with pytest.warns(GradientFlowWarning, match="exploding"):
            mon.step()
    assert any(f.kind == "exploding" for f in mon.flags)


class _Scale:
    """A duck-typed layer (no wengert.nn): y = w * x."""

    def __init__(self, w):
        self.w = wg.tensor(w, requires_grad=True)

    def named_children(self):
        return iter(())

    def parameters(self):
        return [self.w]

    def forward(self, x):
        return self.w * x


class _Chain:
    def __init__(self, *layers):
        self.layers = layers

    def named_children(self):
        return ((str(i), m) for i, m in enumerate(self.layers))

    def forward(self, x):
        for m in self.layers:
            x = m.forward(x)
        return x


def test_duck_typed_model_and_plot(tmp_path):
    model = _Chain(_Scale(1e-7), _Scale(2.0), _Scale(3.0))
    with GradientFlowMonitor(model, warn=False) as mon:
        model.forward(wg.tensor([1.0, 2.0])).sum().backward()
        mon.step()
    # out = 3 w0 w1 w2: d/dw0 = 3 w1 w2 = 18, but d/dw1 = 3 w0 w2 and d/dw2 = 3 w0 w1 carry the 1e-7 factor
    assert mon.grad_norms() == pytest.approx({"0": 18.0, "1": 9e-7, "2": 6e-7})
    assert [f.layer for f in mon.flags] == ["1", "2"]
    path = tmp_path / "flow.png"
    fig = mon.plot(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes[0].get_yscale() == "log"


@needs_nn
def test_example_reproduces_seed003(tmp_path, capsys):
    ns = runpy.run_path(EXAMPLE, run_name="vanishing_gradients_example")
    out = tmp_path / "vg.png"
    monitors = ns["main"](str(out), steps=2)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(f.layer == "0" for f in monitors["sigmoid"].flags)
    assert monitors["relu"].flags == []
    printed = capsys.readouterr().out
    assert "sigmoid" in printed and "relu" in printed and "flagged: none" in printed


def test_plot_of_several_monitors_without_history_is_empty(tmp_path):
    model = _Chain(_Scale(1.0))
    fig = plot_grad_norms({"a": GradientFlowMonitor(model), "b": GradientFlowMonitor(model)}, str(tmp_path / "e.png"))
    assert (tmp_path / "e.png").exists() and fig is not None
    with pytest.raises(RuntimeError, match="no step"):
        GradientFlowMonitor(model).grad_norms()


# ------------------------------------------------------------------ recurrent models: gradients through time
def _sequence(steps=30, batch=4, features=3, seed=0):
    return np.random.default_rng(seed).normal(size=(steps, batch, features))


@needs_nn
def test_rnn_gradient_vanishing_through_time_is_flagged():
    rnn = nn.RNN(3, 16, dtype=np.float64, rng=0)  # PyTorch's init: |W_hh| ~ 0.6, so d h_T / d h_1 ~ 0.6^30
    with GradientFlowMonitor(rnn) as mon:
        out, _ = rnn(_sequence())
        wg.sum(out[-1] ** 2).backward()  # the loss reads the last step only
        with pytest.warns(GradientFlowWarning, match=r"vanishing gradients through time at step 0: the model "
                                                     r"\(RNN, l0\): \|d loss/d h\| at the first of 30 time steps is "
                                                     r"[0-9.e-]+ of the largest \(threshold 0.001\)"):
            mon.step()
    norms = mon.time_norms()["l0"]
    assert len(norms) == 30 and norms[0] < 1e-3 * max(norms) and norms[-1] == max(norms)
    assert [f.kind for f in mon.flags] == ["vanishing through time"]
    assert "first step / max (time)" in mon.summary() and "(30 steps)" in mon.summary()


@needs_nn
def test_lstm_layers_and_directions_are_each_watched_and_a_loss_at_every_step_is_not_flagged():
    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True, dtype=np.float64, rng=0)
            self.head = nn.Linear(10, 2, dtype=np.float64, rng=1)

        def forward(self, x):
            return self.head(self.lstm(x)[0])

    net = Tagger()
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradientFlowWarning)
        with GradientFlowMonitor(net) as mon:
            wg.mean(net(_sequence(steps=12)) ** 2).backward()  # every step has its own loss term
            mon.step()
    assert sorted(mon.time_norms()) == ["lstm/l0", "lstm/l0_reverse", "lstm/l1", "lstm/l1_reverse"]
    assert all(len(v) == 12 for v in mon.time_norms().values())
    assert mon.flags == []


@needs_nn
def test_a_handwritten_cell_in_a_loop_has_its_recurrent_matrix_and_its_time_steps_watched():
    class Cell(nn.Module):  # input projection in a sub-module, recurrent matrix held directly
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(3, 8, dtype=np.float64, rng=0)
            self.W_hh = nn.Parameter(np.random.default_rng(1).normal(0, 0.1, (8, 8)), dtype=np.float64)

        def forward(self, x, h):
            return wg.tanh(self.inp(x) + h @ self.W_hh)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell = Cell()

        def forward(self, xs):
            h = np.zeros((xs.shape[1], 8))
            for x in xs:
                h = self.cell(x, h)
            return h

    net = Net()
    mon = GradientFlowMonitor(net, warn=False)
    assert [name for name, _ in mon.layers] == ["cell", "cell.inp"]
    with mon:
        wg.sum(net(_sequence(steps=25)) ** 2).backward()
        records = mon.step()
    cell = next(r for r in records if r.layer == "cell")
    assert cell.grad_norm == pytest.approx(np.linalg.norm(net.cell.W_hh.grad.data))  # the recurrent matrix is there
    norms = mon.time_norms()["cell"]
    assert len(norms) == 25 and norms[0] < 1e-3 * norms[-1]
    assert any(f.kind == "vanishing through time" and f.layer == "cell" for f in mon.flags)
    # a layer applied at each step without feeding back is not a recurrence
    assert "cell.inp" not in mon.time_norms()


@needs_nn
def test_summary_and_monitor_display_as_html_tables():
    net = stack(nn.Tanh, depth=2)
    with GradientFlowMonitor(net, warn=False) as mon:
        assert "no step recorded" in mon._repr_html_()
        one_step(net)
        mon.step()
    table = mon.summary()
    assert isinstance(table, str) and table.splitlines()[0].startswith("layer")
    page = mon._repr_html_()
    assert page.startswith("<table>") and "<th>|grad W|</th>" in page and "gradient flow at step 0" in page
    assert page == table._repr_html_()

    class Printer:  # IPython's pretty printer, reduced to what the hook uses
        def __init__(self):
            self.out = []

        def text(self, s):
            self.out.append(s)

    printer = Printer()
    table._repr_pretty_(printer, False)
    assert printer.out == [str(table)]  # the table, not a quoted string with \n escapes


@needs_nn
def test_a_recurrent_module_stepped_by_hand_is_watched_through_its_fed_back_state():
    gru = nn.GRU(3, 8, dtype=np.float64, rng=0)  # decoding style: one step at a time, h_n fed back
    with GradientFlowMonitor(gru, warn=False) as mon:
        h = None
        for x in _sequence(steps=20):
            out, h = gru(x[None], h)
        wg.sum(out ** 2).backward()
        mon.step()
    norms = mon.time_norms()[""]  # the model itself, one entry per call: the gradient of the h_n it fed back
    assert len(norms) == 20 and norms[-1] == 0.0  # the last h_n is not used by the loss
    assert all(a < b for a, b in itertools.pairwise(norms[:-1])) and norms[0] < 1e-2 * max(norms)
