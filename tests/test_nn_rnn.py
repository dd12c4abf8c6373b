"""Recurrent layers: parity with PyTorch in float64 (outputs, final states and every gradient, with PyTorch's
state dict loaded), finite differences, the shapes of every layout, and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import wengert as wg
from wengert import nn

F64 = np.float64

MODULES = {
    "rnn_tanh": ("RNN", {}),
    "rnn_relu_2layer": ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
    "rnn_bidir_batch_first": ("RNN", {"bidirectional": True, "batch_first": True}),
    "gru": ("GRU", {}),
    "gru_2layer_bidir_nobias": ("GRU", {"num_layers": 2, "bidirectional": True, "bias": False}),
    "lstm": ("LSTM", {}),
    "lstm_2layer_bidir_batch_first": ("LSTM", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    "lstm_proj": ("LSTM", {"proj_size": 2, "num_layers": 2}),
}


def _torch_state(torch, state):
    return {k: torch.from_numpy(np.array(v)) for k, v in state.items()}


def _pair(torch, kind, kw, seed=0):
    """A wengert module and a PyTorch module with the same weights (PyTorch's state dict loaded into ours)."""
    torch.manual_seed(seed)
    tm = getattr(torch.nn, kind)(3, 4, **kw).double()
    m = getattr(nn, kind)(3, 4, dtype=F64, rng=1, **kw)
    missing, unexpected = m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert missing == [] and unexpected == []
    return m, tm


def _loss_weights(shape, seed):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_recurrent_module_matches_pytorch_outputs_and_gradients(name):
    torch = pytest.importorskip("torch")
    kind, kw = MODULES[name]
    m, tm = _pair(torch, kind, kw)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    rng = np.random.default_rng(2)
    batch_first = kw.get("batch_first", False)
    x = rng.normal(size=(2, 5, 3) if batch_first else (5, 2, 3))
    d = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    h_size = kw.get("proj_size") or 4
    h0 = rng.normal(size=(d * layers, 2, h_size))
    c0 = rng.normal(size=(d * layers, 2, 4))
    lstm = kind == "LSTM"

    xt = wg.tensor(x, requires_grad=True)
    h0t, c0t = wg.tensor(h0, requires_grad=True), wg.tensor(c0, requires_grad=True)
    out, state = m(xt, (h0t, c0t) if lstm else h0t)
    tx = torch.tensor(x, requires_grad=True)
    th0, tc0 = torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True)
    tout, tstate = tm(tx, (th0, tc0) if lstm else th0)

    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    states = state if lstm else (state,)
    tstates = tstate if lstm else (tstate,)
    for s, ts in zip(states, tstates):
        np.testing.assert_allclose(s.data, ts.detach().numpy(), rtol=1e-12, atol=1e-13)
    # a loss that reads the output and every final state, with weights so that no gradient is trivial
    ws = [_loss_weights(out.shape, 3)] + [_loss_weights(s.shape, 4 + i) for i, s in enumerate(states)]
    loss = sum(wg.sum(a * w) for a, w in zip((out, *states), ws))
    tloss = sum((a * torch.from_numpy(w)).sum() for a, w in zip((tout, *tstates), ws))
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h0t.grad.data, th0.grad.numpy(), rtol=1e-10, atol=1e-12)
    if lstm:
        np.testing.assert_allclose(c0t.grad.data, tc0.grad.numpy(), rtol=1e-10, atol=1e-12)
    tparams = dict(tm.named_parameters())
    for pname, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.data, tparams[pname].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=pname)


@pytest.mark.parametrize("kind", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cells_match_pytorch_over_a_loop(kind):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tcell = getattr(torch.nn, kind)(3, 4).double()
    cell = getattr(nn, kind)(3, 4, dtype=F64, rng=0)
    cell.load_state_dict({k: v.detach().numpy() for k, v in tcell.state_dict().items()})
    assert sorted(cell.state_dict()) == ["bias_hh", "bias_ih", "weight_hh", "weight_ih"]
    xs = np.random.default_rng(1).normal(size=(6, 2, 3))
    state, tstate = None, None
    for x in xs:
        state = cell(x, state)
        tstate = tcell(torch.from_numpy(x), tstate)
    h, th = (state[0], tstate[0]) if kind == "LSTMCell" else (state, tstate)
    np.testing.assert_allclose(h.data, th.detach().numpy(), rtol=1e-12, atol=1e-13)
    (h * h).sum().backward()
    (th * th).sum().backward()
    for pname, p in cell.named_parameters():
        np.testing.assert_allclose(p.grad.data, dict(tcell.named_parameters())[pname].grad.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=pname)
    # unbatched input (H_in,) gives an unbatched state
    one = cell(xs[0, 0])
    assert (one[0] if kind == "LSTMCell" else one).shape == (4,)


def test_unbatched_sequences_and_default_states_match_pytorch():
    torch = pytest.importorskip("torch")
    m, tm = _pair(torch, "GRU", {"num_layers": 2, "bidirectional": True})
    x = np.random.default_rng(0).normal(size=(5, 3))  # (L, H_in): no batch axis
    out, h = m(x)
    tout, th = tm(torch.from_numpy(x))
    assert out.shape == (5, 8) and h.shape == (4, 4)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(h.data, th.detach().numpy(), rtol=1e-12, atol=1e-13)
    h0 = np.random.default_rng(1).normal(size=(4, 4))  # an unbatched initial state
    np.testing.assert_allclose(m(x, h0)[0].data, tm(torch.from_numpy(x), torch.from_numpy(h0))[0].detach().numpy(),
                               rtol=1e-12, atol=1e-13)


def test_a_pytorch_state_dict_loads_and_ours_loads_into_pytorch():
    torch = pytest.importorskip("torch")
    m = nn.LSTM(3, 5, num_layers=2, bidirectional=True, rng=0)
    tm = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    assert list(m.state_dict()) == list(tm.state_dict())
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})  # strict in PyTorch too
    assert "weight_hh_l1_reverse" in m.state_dict()
    assert m.weight_ih_l0.dtype == np.float32


def test_recurrent_gradients_by_finite_differences():
    m = nn.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=2, dtype=F64, rng=0)
    names = [n for n, _ in m.named_parameters()]
    x = np.random.default_rng(0).normal(size=(4, 2, 2))

    def f(xx, *ps):
        saved = {n: m.__dict__[n] for n in names}
        m.__dict__.update(zip(names, ps))
        try:
            out, (h, c) = m(xx)
            return wg.sum(out * out) + wg.sum(h) + wg.sum(c * c)
        finally:
            m.__dict__.update(saved)

    assert wg.gradcheck(f, x, *[p.data.copy() for _, p in m.named_parameters()]).ok


def test_batch_first_transposes_only_the_output_not_the_states():
    m = nn.RNN(3, 4, batch_first=True, rng=0)
    out, h = m(np.zeros((2, 7, 3), np.float32))
    assert out.shape == (2, 7, 4) and h.shape == (1, 2, 4)


def test_dropout_acts_between_layers_in_training_only():
    m = nn.GRU(3, 4, num_layers=2, dropout=0.5, dtype=F64, rng=0)
    x = np.random.default_rng(0).normal(size=(5, 2, 3))
    a, b = m(x)[0].data, m(x)[0].data
    assert not np.allclose(a, b)  # a fresh mask each call
    m.eval()
    np.testing.assert_array_equal(m(x)[0].data, m(x)[0].data)
    with pytest.warns(UserWarning, match="dropout=0.3 does nothing with num_layers=1"):
        nn.LSTM(3, 4, dropout=0.3)


def test_repr_and_parameter_shapes():
    m = nn.LSTM(10, 20, num_layers=2, batch_first=True, proj_size=5)
    assert repr(m) == "LSTM(10, 20, proj_size=5, num_layers=2, batch_first=True)"
    shapes = {n: p.shape for n, p in m.named_parameters()}
    assert shapes["weight_ih_l0"] == (80, 10) and shapes["weight_hh_l0"] == (80, 5)
    assert shapes["weight_hr_l0"] == (5, 20) and shapes["weight_ih_l1"] == (80, 5)
    assert repr(nn.RNN(2, 3, nonlinearity="relu", bias=False)) == "RNN(2, 3, nonlinearity='relu', bias=False)"
    assert repr(nn.GRUCell(2, 3)) == "GRUCell(2, 3)"


def test_recurrent_bad_input_has_clear_messages():
    m = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(wg.ShapeError, match=r"LSTM\(3, 4, num_layers=2\): expected input of shape \(L, N, H_in\) "
                                           r"or \(L, H_in\) with H_in = 3, got shape \(5, 2, 7\)"):
        m(np.zeros((5, 2, 7), np.float32))
    with pytest.raises(wg.ShapeError, match=r"expected h_0 of shape \(2, 2, 4\), got \(1, 2, 4\)"):
        m(np.zeros((5, 2, 3), np.float32), (np.zeros((1, 2, 4)), np.zeros((2, 2, 4))))
    with pytest.raises(TypeError, match=r"initial state of an LSTM is a pair \(h_0, c_0\)"):
        m(np.zeros((5, 2, 3), np.float32), np.zeros((2, 2, 4)))
    with pytest.raises(TypeError, match="got a float64 input but the layer's parameters are float32"):
        m(wg.tensor(np.zeros((5, 2, 3))))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        nn.GRU(3, 0)
    with pytest.raises(ValueError, match="dropout must be a number in \\[0, 1\\]"):
        nn.GRU(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="proj_size must be 0 or in \\[1, hidden_size\\)"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(wg.ShapeError, match=r"LSTMCell\(3, 4\): expected c of shape \(2, 4\), got \(4,\)"):
        nn.LSTMCell(3, 4)(np.zeros((2, 3), np.float32), (np.zeros((2, 4)), np.zeros(4)))
