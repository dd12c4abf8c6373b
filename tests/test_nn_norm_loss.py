"""Normalisation layers, loss functions and modules, Flatten/Unflatten and the input dtype policy: parity with
PyTorch in float64 (values, gradients, running statistics step by step), finite differences, and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import wengert as wg
from wengert import nn
from wengert.nn import functional as F

F64 = np.float64


def _load_from_torch(m, tm):
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})


# ------------------------------------------------------------------ normalisation
NORMS = {
    "bn1d_2d": (lambda T: T.BatchNorm1d(3), lambda: nn.BatchNorm1d(3, dtype=F64), (6, 3)),
    "bn1d_3d": (lambda T: T.BatchNorm1d(3, momentum=0.3), lambda: nn.BatchNorm1d(3, momentum=0.3, dtype=F64),
                (4, 3, 5)),
    "bn2d": (lambda T: T.BatchNorm2d(3), lambda: nn.BatchNorm2d(3, dtype=F64), (4, 3, 2, 5)),
    "bn2d_cumulative": (lambda T: T.BatchNorm2d(2, momentum=None), lambda: nn.BatchNorm2d(2, momentum=None, dtype=F64),
                        (3, 2, 3, 3)),
    "bn2d_no_affine": (lambda T: T.BatchNorm2d(2, affine=False), lambda: nn.BatchNorm2d(2, affine=False, dtype=F64),
                       (3, 2, 3, 3)),
    "bn2d_no_running": (lambda T: T.BatchNorm2d(2, track_running_stats=False),
                        lambda: nn.BatchNorm2d(2, track_running_stats=False, dtype=F64), (3, 2, 3, 3)),
    "bn3d": (lambda T: T.BatchNorm3d(2), lambda: nn.BatchNorm3d(2, dtype=F64), (2, 2, 2, 3, 2)),
    "groupnorm": (lambda T: T.GroupNorm(2, 4), lambda: nn.GroupNorm(2, 4, dtype=F64), (3, 4, 5)),
    "groupnorm_instance": (lambda T: T.GroupNorm(3, 3, affine=False), lambda: nn.GroupNorm(3, 3, affine=False, dtype=F64),
                           (2, 3, 2, 2)),
    "layernorm_trailing_2": (lambda T: T.LayerNorm([3, 4]), lambda: nn.LayerNorm([3, 4], dtype=F64), (2, 5, 3, 4)),
    "layernorm_no_bias": (lambda T: T.LayerNorm(4, bias=False), lambda: nn.LayerNorm(4, bias=False, dtype=F64), (3, 4)),
    "layernorm_no_affine": (lambda T: T.LayerNorm(4, elementwise_affine=False),
                            lambda: nn.LayerNorm(4, elementwise_affine=False, dtype=F64), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(NORMS))
def test_normalisation_matches_pytorch_step_by_step(name):
    torch = pytest.importorskip("torch")
    make_t, make, shape = NORMS[name]
    torch.manual_seed(0)
    tm = make_t(torch.nn).double()
    m = make()
    with torch.no_grad():  # non-trivial affine parameters
        for p in tm.parameters():
            p.copy_(torch.randn(p.shape, dtype=torch.float64))
    _load_from_torch(m, tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    rng = np.random.default_rng(1)
    for step in range(3):  # training: batch statistics, running statistics move
        x = rng.normal(1.0, 2.0, size=shape)
        w = rng.normal(size=shape)
        xt = wg.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        y, ty = m(xt), tm(tx)
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-11, atol=1e-12, err_msg=f"step {step}")
        wg.sum(y * w).backward()
        (ty * torch.from_numpy(w)).sum().backward()
        np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-9, atol=1e-11)
        tparams = dict(tm.named_parameters())
        for pname, p in m.named_parameters():
            np.testing.assert_allclose(p.grad.data, tparams[pname].grad.numpy(), rtol=1e-9, atol=1e-11)
            p.grad = None
        tm.zero_grad()
        for k, v in tm.state_dict().items():
            np.testing.assert_allclose(m.state_dict()[k], v.numpy(), rtol=1e-12, atol=1e-14, err_msg=k)
    m.eval()
    tm.eval()
    x = rng.normal(size=shape)
    np.testing.assert_allclose(m(x).data, tm(torch.from_numpy(x)).detach().numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("make,shape", [(lambda: nn.BatchNorm2d(2, dtype=F64), (3, 2, 2, 2)),
                                        (lambda: nn.GroupNorm(2, 4, dtype=F64), (2, 4, 3)),
                                        (lambda: nn.LayerNorm([2, 3], dtype=F64), (2, 2, 3))])
def test_normalisation_gradients_by_finite_differences(make, shape):
    m = make()
    names = [n for n, _ in m.named_parameters()]
    x = np.random.default_rng(0).normal(size=shape)
    w = np.random.default_rng(1).normal(size=shape)

    def f(xx, *ps):
        saved = {n: m.__dict__[n] for n in names}
        m.__dict__.update(zip(names, ps))
        try:
            return wg.sum(m(xx) * w)
        finally:
            m.__dict__.update(saved)

    rngp = np.random.default_rng(2)
    assert wg.gradcheck(f, x, *[rngp.normal(size=p.shape) for _, p in m.named_parameters()]).ok


def test_batchnorm_bad_input_and_reset():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(wg.ShapeError, match=r"BatchNorm2d\(3, .*\): expected input of shape \(N, C, H, W\) with C = 3, "
                                           r"got shape \(2, 3, 4\)"):
        bn(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="more than 1 value per channel in training mode"):
        bn(np.zeros((1, 3, 1, 1), np.float32))
    bn(np.random.default_rng(0).normal(size=(2, 3, 2, 2)))
    assert int(bn.num_batches_tracked) == 1 and bn.running_mean.any()
    bn.reset_running_stats()
    assert int(bn.num_batches_tracked) == 0 and not bn.running_mean.any() and (bn.running_var == 1).all()
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(wg.ShapeError, match=r"LayerNorm\(\(3,\), .*\): expected input ending in \(3,\), got shape"):
        nn.LayerNorm(3)(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="evaluation .* needs running_mean and running_var"):
        F.batch_norm(wg.tensor(np.zeros((2, 3))), None, None)


def test_functional_normalisation_matches_pytorch():
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(4, 6, 3)), rng.normal(size=6), rng.normal(size=6)
    t = [torch.from_numpy(a) for a in (x, w, b)]
    np.testing.assert_allclose(F.group_norm(x, 3, w, b).data, TF.group_norm(t[0], 3, t[1], t[2]).numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.layer_norm(x, (6, 3), eps=1e-3).data, TF.layer_norm(t[0], (6, 3), eps=1e-3).numpy(),
                               rtol=1e-12)
    rm, rv = np.zeros(6), np.ones(6)
    trm, trv = torch.zeros(6, dtype=torch.float64), torch.ones(6, dtype=torch.float64)
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.2)
    ty = TF.batch_norm(t[0], trm, trv, t[1], t[2], training=True, momentum=0.2)
    np.testing.assert_allclose(y.data, ty.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-12)


# ------------------------------------------------------------------ losses
def _loss_cases(rng):
    logits = rng.normal(size=(5, 4))
    labels = np.array([0, 3, -100, 1, 3])
    spatial = rng.normal(size=(2, 3, 2, 2))
    spatial_labels = np.array([[[0, 2], [1, 1]], [[2, 0], [-100, 1]]])
    probs = rng.dirichlet(np.ones(4), size=5)
    cw = np.array([0.5, 2.0, 1.0, 1.5])
    p = rng.uniform(0.05, 0.95, size=(4, 3))
    y01 = rng.uniform(0, 1, size=(4, 3))
    reg_x, reg_y = rng.normal(size=(4, 3)) * 2, rng.normal(size=(4, 3))
    return {
        "mse": ("MSELoss", {}, reg_x, reg_y),
        "l1": ("L1Loss", {}, reg_x, reg_y),
        "huber": ("HuberLoss", {"delta": 0.7}, reg_x, reg_y),
        "smooth_l1": ("SmoothL1Loss", {"beta": 0.5}, reg_x, reg_y),
        "bce": ("BCELoss", {}, p, y01),
        "bce_weight": ("BCELoss", {"weight": rng.uniform(0.5, 2, size=3)}, p, y01),
        "bce_logits": ("BCEWithLogitsLoss", {}, reg_x, y01),
        "bce_logits_pos_weight": ("BCEWithLogitsLoss", {"pos_weight": np.array([0.5, 2.0, 3.0]),
                                                        "weight": rng.uniform(0.5, 2, size=(4, 3))}, reg_x, y01),
        "ce": ("CrossEntropyLoss", {}, logits, np.array([0, 3, 2, 1, 3])),
        "ce_ignore_weight": ("CrossEntropyLoss", {"weight": cw}, logits, labels),
        "ce_smoothing": ("CrossEntropyLoss", {"label_smoothing": 0.2}, logits, labels),
        "ce_smoothing_weight": ("CrossEntropyLoss", {"label_smoothing": 0.1, "weight": cw, "ignore_index": 3},
                                logits, np.array([0, 3, 2, 1, 3])),
        "ce_spatial": ("CrossEntropyLoss", {"weight": cw[:3]}, spatial, spatial_labels),
        "ce_unbatched": ("CrossEntropyLoss", {}, logits[0], np.array(2)),
        "ce_probs": ("CrossEntropyLoss", {"weight": cw, "label_smoothing": 0.1}, logits, probs),
        "nll": ("NLLLoss", {"weight": cw}, logits, labels),
        "nll_spatial": ("NLLLoss", {}, spatial, spatial_labels),
    }


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(_loss_cases(np.random.default_rng(0))))
def test_loss_modules_match_pytorch(name, reduction):
    torch = pytest.importorskip("torch")
    cls, kw, x, t = _loss_cases(np.random.default_rng(0))[name]
    tkw = {k: torch.from_numpy(np.asarray(v)) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    ours = getattr(nn, cls)(reduction=reduction, **kw)
    theirs = getattr(torch.nn, cls)(reduction=reduction, **tkw)
    xt = wg.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    out, tout = ours(xt, t), theirs(tx, torch.from_numpy(t))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-14)
    g = np.random.default_rng(1).normal(size=out.shape)
    wg.sum(out * g).backward()
    (tout * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-13)
    if "weight" in kw:
        assert "weight" in ours.state_dict()  # class weights are buffers, as in PyTorch


@pytest.mark.parametrize("name", ["huber", "smooth_l1", "bce_logits_pos_weight", "ce_smoothing_weight", "ce_spatial",
                                  "ce_probs", "nll"])
def test_new_losses_by_finite_differences(name):
    cls, kw, x, t = _loss_cases(np.random.default_rng(0))[name]
    loss = getattr(nn, cls)(**kw)
    assert wg.gradcheck(lambda a: loss(a, t), x).ok


def test_cross_entropy_fast_path_and_general_path_agree():
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(6, 5)), rng.integers(0, 5, 6)
    fused = F.cross_entropy(wg.tensor(z), y)
    assert fused.grad_fn is None or "cross_entropy" in repr(fused)
    general = F.cross_entropy(wg.tensor(z), y, weight=np.ones(5))  # the composite path, same value
    assert fused.item() == pytest.approx(general.item(), rel=1e-13)
    all_ignored = F.cross_entropy(wg.tensor(z[:2]), np.array([-100, -100]))
    assert np.isnan(all_ignored.item())  # 0 / 0, as in PyTorch


def test_loss_bad_inputs_name_the_loss_and_the_fix():
    z = wg.tensor(np.zeros((3, 4)))
    with pytest.raises(wg.ShapeError, match=r"cross_entropy: weight must have shape \(4,\) \(one per class\)"):
        F.cross_entropy(z, np.array([0, 1, 2]), weight=np.ones(3))
    with pytest.raises(ValueError, match="label_smoothing must lie in \\[0, 1\\]"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="ignore_index is not supported for class-probability targets"):
        F.cross_entropy(z, np.full((3, 4), 0.25), ignore_index=0)
    with pytest.raises(wg.ShapeError, match=r"nll_loss: target must have shape \(2, 5\)"):
        F.nll_loss(wg.tensor(np.zeros((2, 3, 5))), np.zeros((2, 3), np.int64))
    with pytest.raises(IndexError, match=r"nll_loss: labels must lie in \[0, 3\) .* got label 7 at position 4"):
        F.nll_loss(wg.tensor(np.zeros((2, 3, 5))), np.array([[0, 1, 2, 0, 7], [0] * 5]))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="delta must be > 0"):
        nn.HuberLoss(delta=0.0)
    with pytest.raises(TypeError):  # PyTorch's second slot is the deprecated size_average: keyword-only here
        nn.CrossEntropyLoss(None, -100)
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        nn.BCELoss()(wg.tensor([1.5]), np.array([1.0]))


def test_binary_cross_entropy_clamps_each_log_at_minus_100_as_pytorch():
    torch = pytest.importorskip("torch")
    p, y = np.array([0.0, 1.0, 0.5, 1.0]), np.array([1.0, 0.0, 1.0, 1.0])
    ours = F.binary_cross_entropy(wg.tensor(p), y, reduction="none").data
    theirs = torch.nn.functional.binary_cross_entropy(torch.from_numpy(p), torch.from_numpy(y), reduction="none")
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12)
    assert ours[0] == pytest.approx(100.0)


# ------------------------------------------------------------------ Flatten, Unflatten
def test_flatten_and_unflatten_match_pytorch():
    torch = pytest.importorskip("torch")
    x = np.arange(120.0).reshape(2, 3, 4, 5)
    for args in [(), (0,), (1, 2), (0, -2), (2, 3), (-3, -1)]:
        np.testing.assert_array_equal(nn.Flatten(*args)(x).data, torch.nn.Flatten(*args)(torch.from_numpy(x)).numpy())
    np.testing.assert_array_equal(nn.Unflatten(1, (2, -1, 2))(x.reshape(2, 60)).data, x.reshape(2, 2, 15, 2))
    assert repr(nn.Flatten(0, 2)) == "Flatten(start_dim=0, end_dim=2)"
    with pytest.raises(wg.ShapeError, match=r"Flatten\(start_dim=3, end_dim=1\): cannot flatten axes 3\.\.1"):
        nn.Flatten(3, 1)(x)
    with pytest.raises(wg.ShapeError, match=r"axis 1 of an input of shape \(2, 60\) cannot be split into \(7, 8\)"):
        nn.Unflatten(1, (7, 8))(x.reshape(2, 60))


# ------------------------------------------------------------------ dtype policy
def test_arrays_are_converted_to_the_layer_dtype_and_tensors_must_match():
    lin = nn.Linear(3, 2, rng=0)  # float32
    out = lin(np.ones((4, 3)))  # NumPy's float64 data: converted, as data
    assert out.dtype == np.float32
    with pytest.raises(TypeError, match=r"Linear\(in_features=3, out_features=2, bias=True\): got a float64 input but "
                                        r"the layer's parameters are float32; convert the input \(x.astype\(np.float32\)\) "
                                        r"or the layer \(.double\(\)\)"):
        lin(wg.tensor(np.ones((4, 3))))
    lin.double()
    assert lin(wg.tensor(np.ones((4, 3)))).dtype == np.float64
    with pytest.raises(TypeError, match=r"got a float32 input but the layer's parameters are float64; .*\(.float\(\)\)"):
        lin(wg.tensor(np.ones((4, 3), np.float32)))
    conv = nn.Conv2d(1, 2, 3)
    assert conv(np.zeros((1, 1, 5, 5))).dtype == np.float32
    for layer in (nn.BatchNorm2d(1), nn.GroupNorm(1, 1), nn.LayerNorm(5), nn.GRU(5, 2)):
        with pytest.raises(TypeError, match="got a float64 input but the layer's parameters are float32"):
            layer(wg.tensor(np.zeros((2, 1, 5, 5)) if not isinstance(layer, nn.GRU) else np.zeros((3, 2, 5))))
    net = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 1, rng=1))
    assert net(np.ones((2, 3))).dtype == np.float32  # one conversion at the door, float32 all the way
