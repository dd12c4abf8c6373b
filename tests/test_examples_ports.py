"""The six ported programs of examples/port_*.py, run at their quick sizes, and the figures each one checks.

Each port is a real program (micrograd's moons demo, PyTorch's "Learning PyTorch with Examples",
a JAX-style logistic regression, CS231n's two-layer net with batchnorm, a CNN with a checkpoint
and resume, a tanh RNN with clipping) written as its users write it; ``main(quick=True)``
returns what the program prints. The last section tests the PyTorch habits that the ports first
had to avoid (each failed, some silently, before it was fixed).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from test_examples_nn import _load  # loads examples/NAME.py as a module (their --help is tested there too)

import wengert as wg
from wengert import nn


# ---------------------------------------------------------------------- 1. micrograd's moons demo
def test_port_micrograd_moons_reaches_micrograds_accuracy(tmp_path):
    out = tmp_path / "boundary.png"
    r = _load("port_micrograd_moons").main(quick=True, out=str(out), verbose=False)
    assert r["accuracy"] == 1.0  # micrograd's demo: 100% on the training points
    assert r["final_loss"] < r["losses"][0] / 10
    assert r["dtype"] == "float64"  # float64 weights times float32 NumPy scalars: float64, as in NumPy/PyTorch
    if r["out"] is not None:  # matplotlib is optional
        assert out.read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------------- 2. PyTorch's polynomial tutorial
@pytest.fixture(scope="module")
def pytorch_examples():
    return _load("port_pytorch_examples").main(quick=True, verbose=False)


@pytest.mark.parametrize("part", ["autograd", "custom_function", "nn", "optim"])
def test_port_pytorch_examples_each_way_fits_the_cubic(pytorch_examples, part):
    r = pytorch_examples[part]
    best = pytorch_examples["least_squares"]["loss"]
    assert r["losses"][-1] < r["losses"][0] / 10
    assert best <= r["losses"][-1] < 4 * best  # approaching the least-squares cubic (8.82)
    if part != "custom_function":  # a + b x + c x^2 + d x^3, next to the least-squares coefficients
        _, b_best, _, d_best = pytorch_examples["least_squares"]["coef"]
        assert abs(r["coef"][1] - b_best) < 0.2 and abs(r["coef"][3] - d_best) < 0.03


def test_port_pytorch_examples_in_place_updates_keep_leaves(pytorch_examples):
    r = pytorch_examples["autograd"]
    assert r["leaf"] and r["dtype"] == "float32"  # `a -= lr * a.grad` under no_grad updated a in place


def test_port_pytorch_examples_match_pytorch():
    """The port's autograd, custom-Function and RMSprop parts give PyTorch's numbers from the same start (float32)."""
    torch = pytest.importorskip("torch")
    ex = _load("port_pytorch_examples")
    steps = 300
    mine = ex.polynomial_autograd(steps, verbose=False)
    wg.manual_seed(0)
    start = [wg.randn((), dtype=np.float32).item() for _ in range(4)]  # the port's draws, in its order
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    a, b, c, d = (torch.tensor(v, requires_grad=True) for v in start)
    for _ in range(steps):
        loss = (a + b * x + c * x ** 2 + d * x ** 3 - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= 1e-6 * p.grad
                p.grad = None
    np.testing.assert_allclose(mine["coef"], [a.item(), b.item(), c.item(), d.item()], rtol=1e-3, atol=1e-5)

    mine = ex.polynomial_custom_function(steps, verbose=False)

    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    a, b, c, d = (torch.full((), v, requires_grad=True) for v in (0.0, -1.0, 0.0, 0.3))
    losses = []
    for _ in range(steps):
        loss = (a + b * LegendrePolynomial3.apply(c + d * x) - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= 5e-6 * p.grad
                p.grad = None
    np.testing.assert_allclose(mine["losses"], losses, rtol=1e-5)  # float32: the sums round differently
    np.testing.assert_allclose(mine["coef"], [a.item(), b.item(), c.item(), d.item()], rtol=1e-3, atol=1e-6)

    mine = ex.polynomial_optim(steps, verbose=False)
    nn.init.seed(0)
    linear = nn.Linear(3, 1)  # the port's initial weights
    xx = x.unsqueeze(-1).pow(torch.tensor([1, 2, 3]))
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(linear.weight.data))
        model[0].bias.copy_(torch.from_numpy(linear.bias.data))
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        loss = torch.nn.MSELoss(reduction="sum")(model(xx), y)
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    np.testing.assert_allclose(mine["losses"], losses, rtol=1e-5)


# ---------------------------------------------------------------------- 3. JAX-style logistic regression
def test_port_jax_logreg_jit_vmap_and_training():
    r = _load("port_jax_logreg").main(quick=True, verbose=False)
    assert r["jit_matches_eager"]  # the jitted update step gives the eager step's numbers, bit for bit
    assert r["vmap_matches"] and r["per_example_grads_ok"] and r["per_example_grad_shape"] == (200, 5)
    assert r["losses"][-1] < r["losses"][0] / 3
    assert r["accuracy"] > 0.85


# ---------------------------------------------------------------------- 4. CS231n's two-layer net with batchnorm
@pytest.fixture(scope="module")
def cs231n():
    return _load("port_cs231n_twolayer").main(quick=True, verbose=False)


def test_port_cs231n_batchnorm_layer_gradients(cs231n):
    layer = cs231n["layer"]
    assert max(layer["errors"].values()) < 1e-7  # CS231n's rel_error of dx, dgamma, dbeta
    # the notebook's published figures: dx 1.7029261167605239e-09 from its hand-written backward
    np.testing.assert_allclose(layer["errors"]["dx"], 1.70292e-09, rtol=1e-5)
    assert layer["errors"]["dgamma"] == pytest.approx(7.420414216247087e-13, rel=1e-9)
    assert layer["errors"]["dbeta"] == pytest.approx(2.8795057655839487e-12, rel=1e-9)
    assert layer["matches_F_batch_norm"] < 1e-12


def test_port_cs231n_network_gradients(cs231n):
    for check in cs231n["network"]:
        assert check["gradcheck_ok"]  # wg.gradcheck, atol 1e-7, rtol 1e-5
        for name, err in check["normwise"].items():
            if name == "b1":  # a bias before batchnorm cancels: its gradient is 0, analytically and numerically
                assert np.abs(check["grads"]["b1"]).max() < 1e-12 and np.abs(check["numeric"]["b1"]).max() < 1e-9
            else:
                assert err < 1e-7, (check["reg"], name, err)
        rel = {k: v for k, v in check["rel_error"].items() if k != "b1"}
        assert max(rel.values()) < 1e-5  # CS231n's element-by-element print, down to the rounding of f / 2h


def test_port_cs231n_batchnorm_forward(cs231n):
    fwd = cs231n["forward"]
    mean, std = fwd["train"]
    np.testing.assert_allclose(mean, 0.0, atol=1e-12)
    np.testing.assert_allclose(std, 1.0, rtol=1e-6)
    mean, std = fwd["train_affine"]
    np.testing.assert_allclose(mean, [11.0, 12.0, 13.0], rtol=1e-12)
    np.testing.assert_allclose(std, [1.0, 2.0, 3.0], rtol=1e-6)
    mean, std = fwd["test"]  # the notebook's published test-time figures
    np.testing.assert_allclose(mean, [-0.03927354, -0.04349152, -0.10452688], atol=1e-8)
    np.testing.assert_allclose(std, [1.01531428, 1.01238373, 0.97819988], atol=1e-8)
    for mean, std in (fwd["test"], fwd["test_BatchNorm1d"]):  # running averages: noisier
        assert np.abs(mean).max() < 0.15 and np.abs(std - 1.0).max() < 0.05
    assert fwd["running_mean_matches_BatchNorm1d"] < 1e-12  # CS231n's momentum 0.9 is PyTorch's 0.1


def test_port_cs231n_training(cs231n):
    train = cs231n["train"]
    assert train["val_acc"] > 0.9
    assert np.mean(train["loss_history"][-5:]) < np.mean(train["loss_history"][:5]) / 5


# ---------------------------------------------------------------------- 5. CNN, checkpoint and resume
def test_port_cnn_checkpoint_resumes_exactly(tmp_path):
    out = tmp_path / "run" / "cnn.safetensors"
    out.parent.mkdir()
    r = _load("port_cnn_checkpoint").main(quick=True, out=str(out), verbose=False)
    assert r["same_weights"] and r["same_optimizer"]
    assert r["resumed_losses"] == r["losses"]  # every epoch's loss, bit for bit
    assert r["resumed_test_accuracy"] == r["test_accuracy"] > 0.85
    assert r["losses"][-1] < r["losses"][0] / 5
    assert r["out"] == str(out) and r["checkpoint_epoch"] == 3  # --out keeps the last epoch's checkpoint
    saved = wg.load(out)
    assert sorted(saved) == ["epoch", "loader_state_dict", "loss", "losses", "model_state_dict",
                             "optimizer_state_dict", "scheduler_state_dict"]
    assert saved["loss"] == r["losses"][-1] and saved["losses"] == r["losses"]


# ---------------------------------------------------------------------- 6. tanh RNN with clipping
def test_port_rnn_clip_loss_falls():
    r = _load("port_rnn_clip").main(quick=True, verbose=False)
    assert r["losses"][-1] < r["losses"][0] / 10
    assert r["val_losses"][-1] < r["initial_val_loss"] / 20
    assert r["val_losses"][-1] < 0.75 * r["persistence_mse"]  # better than repeating the last value
    assert any(g > 0.25 for g in r["grad_norms"])  # the clipping acted
    lrs = r["lrs"]
    np.testing.assert_allclose(lrs, [1e-2 * 0.9 ** k for k in range(len(lrs))], rtol=1e-12)  # ExponentialLR


# ---------------------------------------------------------------------- habits the ports first had to avoid
def test_habit_two_0d_tensors_promote_as_in_pytorch():
    w = wg.tensor(0.5, requires_grad=True)
    x = wg.tensor(np.float32(2.0))
    assert (w * x).dtype == np.float64 and (x * w).dtype == np.float64
    # against an array with axes a 0-d tensor is a scalar (PyTorch): the array's float32 stays
    assert (wg.tensor(np.ones(3, np.float32)) * w).dtype == np.float32
    (w * x).backward()
    assert w.grad.item() == 2.0


def test_habit_float_tensor_to_an_integer_tensor_power_keeps_its_dtype():
    x = wg.linspace(-1.0, 1.0, 5, dtype=np.float32)
    assert x.unsqueeze(-1).pow(wg.tensor([1, 2, 3])).dtype == np.float32
    assert (x + np.arange(5)).dtype == np.float32  # an integer array takes the float's dtype (PyTorch, JAX)
    assert (wg.tensor([1, 2]) * 1.5).dtype == np.float64


def test_habit_manual_seed_seeds_the_layers_and_dropout():
    wg.manual_seed(0)
    a = nn.Linear(3, 2).weight.data.copy()
    m = nn.Dropout(0.5)(wg.ones(20)).data.copy()
    wg.manual_seed(0)
    assert np.array_equal(nn.Linear(3, 2).weight.data, a)
    assert np.array_equal(nn.Dropout(0.5)(wg.ones(20)).data, m)


def test_habit_assigning_a_number_to_grad_is_refused_at_once():
    p = wg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"assigned grad must be a Tensor or None, got int.*p.grad = None"):
        p.grad = 0
    with pytest.raises(ValueError, match=r"assigned grad has shape \(3,\), but the tensor has shape \(2,\)"):
        p.grad = wg.zeros(3)
    p.grad = wg.ones(2)
    p.grad = None


def test_habit_load_accepts_weights_only(tmp_path):
    path = tmp_path / "c.safetensors"
    wg.save({"epoch": 1}, path)
    assert wg.load(path, weights_only=True) == {"epoch": 1}
    assert wg.load(path, map_location="cpu") == {"epoch": 1}
    with pytest.raises(ValueError, match="weights_only=False has nothing to allow"):
        wg.load(path, weights_only=False)
    with pytest.raises(ValueError, match="map_location='cuda'"):
        wg.load(path, map_location="cuda")


def test_habit_dtype_names():
    assert wg.float32 == np.float32 and wg.float == np.float32 and wg.float64 == np.float64 and wg.int64 == np.int64
    assert wg.double == np.float64 and wg.long == np.int64 and wg.int == np.int32 and wg.bool == np.bool_
    assert wg.zeros(2, dtype=wg.long).dtype == np.int64
    assert wg.ones(2).to(wg.float32).dtype == np.float32
    # a star import must not replace Python's own float / int / bool
    assert not {"float", "int", "bool"} & set(wg.__all__) and {"tensor", "float32", "nn"} <= set(wg.__all__)


def test_habit_max_with_a_positional_dim_returns_values_and_indices():
    outputs = wg.tensor([[1.0, 3.0], [4.0, 2.0]])
    _, predicted = wg.max(outputs, 1)
    assert predicted.tolist() == [1, 0]
    values, indices = outputs.max(1, True)
    assert values.shape == (2, 1) and indices.tolist() == [[1], [0]]
    # NumPy's spelling keeps NumPy's meaning: np.max(t, 1), wg.amax, axis=
    for v in (np.max(outputs, 1), wg.amax(outputs, 1), wg.max(outputs, axis=1), outputs.amax(1)):
        assert isinstance(v, wg.Tensor) and v.tolist() == [3.0, 4.0]
    assert wg.min(outputs, 0).indices.tolist() == [0, 1] and np.min(outputs, 0).tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="dim given twice"):
        wg.max(outputs, 1, dim=1)
