"""wengert.nn: every layer's gradients by finite differences (float64), losses, Module behaviour,
bad-input messages, and parity with PyTorch (same weights and batches, 20 SGD and Adam steps)."""
from __future__ import annotations

import numpy as np
import pytest

import wengert as wg
from wengert import nn, optim
from wengert.nn import functional as F
from wengert.nn.module import StateDictError

F64 = np.float64


def _gradcheck_layer(layer: nn.Module, x: np.ndarray, **kw) -> None:
    """gradcheck of layer(x) with respect to x and every parameter, by swapping the parameters for inputs."""
    names = [n for n, _ in layer.named_parameters()]
    owners = []
    for n in names:
        mod = layer
        *path, leaf = n.split(".")
        for part in path:
            mod = mod._modules[part]
        owners.append((mod, leaf))

    def f(xx, *ps):
        saved = [m.__dict__[leaf] for m, leaf in owners]
        for (m, leaf), p in zip(owners, ps):
            m.__dict__[leaf] = p
        try:
            return layer(xx)
        finally:
            for (m, leaf), p in zip(owners, saved):
                m.__dict__[leaf] = p

    params = [p.data.copy() for _, p in layer.named_parameters()]
    report = wg.gradcheck(f, x, *params, **kw)
    assert report.ok


def _away_from_zero(rng, shape):
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.1, x + 0.3 * np.sign(x + 1e-12), x)


LAYERS = {
    "linear": lambda: (nn.Linear(3, 4, dtype=F64, rng=0), (5, 3)),
    "linear_nobias_3d": lambda: (nn.Linear(3, 2, bias=False, dtype=F64, rng=0), (2, 2, 3)),
    "conv2d": lambda: (nn.Conv2d(2, 3, 3, dtype=F64, rng=0), (2, 2, 5, 5)),
    "conv2d_stride_pad": lambda: (nn.Conv2d(2, 2, (3, 2), stride=2, padding=1, dtype=F64, rng=0), (1, 2, 5, 6)),
    "maxpool": lambda: (nn.MaxPool2d(2), (2, 2, 4, 5)),
    "maxpool_overlap": lambda: (nn.MaxPool2d(3, stride=1), (1, 2, 4, 4)),
    "avgpool": lambda: (nn.AvgPool2d(2), (2, 1, 4, 4)),
    "avgpool_overlap": lambda: (nn.AvgPool2d(2, stride=1), (1, 1, 3, 4)),
    "flatten": lambda: (nn.Flatten(), (2, 3, 2)),
    "batchnorm": lambda: (nn.BatchNorm1d(3, dtype=F64), (6, 3)),
    "layernorm": lambda: (nn.LayerNorm(4, dtype=F64), (3, 4)),
    "relu": lambda: (nn.ReLU(), (3, 4)),
    "sigmoid": lambda: (nn.Sigmoid(), (3, 4)),
    "tanh": lambda: (nn.Tanh(), (3, 4)),
    "leaky_relu": lambda: (nn.LeakyReLU(0.1), (3, 4)),
    "gelu": lambda: (nn.GELU(), (3, 4)),
    "softmax": lambda: (nn.Softmax(dim=1), (3, 4)),
    "sequential": lambda: (nn.Sequential(nn.Linear(3, 5, dtype=F64, rng=0), nn.Tanh(),
                                         nn.Linear(5, 2, dtype=F64, rng=1)), (4, 3)),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradients_by_finite_differences(name):
    layer, shape = LAYERS[name]()
    rng = np.random.default_rng(1)
    if "pool" in name:  # distinct values, far apart compared with the FD step: no ties, no kinks
        x = (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37).astype(F64)
    else:
        x = _away_from_zero(rng, shape)
    _gradcheck_layer(layer, x)


def test_dropout_gradient_is_the_mask():
    x = wg.tensor(np.ones((4, 50)), requires_grad=True)
    y = F.dropout(x, 0.5, training=True, rng=np.random.default_rng(0))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)  # d/dx (mask * x / (1 - p)) = mask / (1 - p)
    assert set(np.unique(y.data)) == {0.0, 2.0}
    d = nn.Dropout(0.5, rng=0).eval()
    assert d(x) is x


def test_embedding_gradient_accumulates_repeated_rows():
    emb = nn.Embedding(5, 3, dtype=F64, rng=0)
    out = emb(np.array([[1, 1], [4, 0]]))
    assert out.shape == (2, 2, 3)
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.data[:, 0], [1.0, 2.0, 0.0, 0.0, 1.0])
    with pytest.raises(IndexError, match=r"index 7 is out of range \[0, 5\)"):
        emb(np.array([7]))


def test_conv2d_matches_a_direct_loop():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2))
    out = F.conv2d(wg.tensor(x), wg.tensor(w), stride=(2, 1), padding=1).data
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros(out.shape)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            ref[:, :, i, j] = np.einsum("ncab,ocab->no", xp[:, :, 2 * i: 2 * i + 3, j: j + 2], w)
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_layers_default_to_float32_and_keep_it():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert all(p.dtype == np.float32 for p in net.parameters())
    loss = F.cross_entropy(net(np.ones((2, 4), np.float32)), np.array([0, 1]))
    assert loss.dtype == np.float32
    loss.backward()
    assert all(p.grad.dtype == np.float32 for p in net.parameters())
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())


def test_same_seed_same_network():
    a = nn.Sequential(nn.Linear(3, 4, rng=7), nn.Linear(4, 2, rng=8))
    b = nn.Sequential(nn.Linear(3, 4, rng=7), nn.Linear(4, 2, rng=8))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and np.array_equal(va, vb)
    nn.init.seed(3)
    c = nn.Linear(3, 4)
    nn.init.seed(3)
    assert np.array_equal(c.weight.data, nn.Linear(3, 4).weight.data)


def test_initialisers_have_the_documented_spread():
    rng = np.random.default_rng(0)
    w = nn.Parameter(np.zeros((400, 300)), dtype=F64)
    nn.init.kaiming_normal_(w, rng=rng)
    assert abs(w.data.std() - np.sqrt(2 / 300)) < 0.01 * np.sqrt(2 / 300) * 5
    nn.init.xavier_uniform_(w, rng=rng)
    bound = np.sqrt(6 / 700)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    nn.init.zeros_(w)
    assert not w.data.any()
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(np.zeros(3)))
    with pytest.raises(TypeError, match="rng must be"):
        nn.Linear(2, 2, rng="seed")


# ------------------------------------------------------------------ losses
def test_cross_entropy_is_stable_and_matches_the_formula():
    z = np.array([[1e4, 0.0, -1e4], [0.5, -0.2, 0.1]])
    y = np.array([1, 2])
    out = F.cross_entropy(wg.tensor(z), y, reduction="none").data
    ref = np.array([1e4, np.log(np.exp(z[1]).sum()) - 0.1])
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    assert np.isfinite(out).all()
    assert F.cross_entropy(wg.tensor(z), y, reduction="sum").item() == pytest.approx(ref.sum())
    t = wg.tensor(np.full((2, 3), 1e4, dtype=np.float32), requires_grad=True)
    F.cross_entropy(t, np.array([0, 1])).backward()
    assert np.isfinite(t.grad.data).all()


def test_cross_entropy_second_backward_recomputes_the_softmax():
    z = wg.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    loss = F.cross_entropy(z, np.array([0, 1, 2, 0]))
    loss.backward(retain_graph=True)
    g1 = z.grad.data.copy()
    z.grad = None
    loss.backward()
    np.testing.assert_allclose(z.grad.data, g1, rtol=1e-14)


def test_nll_of_log_softmax_is_cross_entropy():
    rng = np.random.default_rng(0)
    z = wg.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    y = np.array([0, 3, 1, 1, 2])
    a = F.cross_entropy(z, y)
    b = F.nll_loss(F.log_softmax(z, axis=1), y)
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    ga = wg.grad(lambda t: F.cross_entropy(t, y))(z.data)
    gb = wg.grad(lambda t: F.nll_loss(F.log_softmax(t, axis=1), y))(z.data)
    np.testing.assert_allclose(np.asarray(ga), np.asarray(gb), rtol=1e-10)


@pytest.mark.parametrize("loss", ["mse", "l1", "bce", "bce_logits", "ce", "nll"])
def test_loss_gradients_by_finite_differences(loss):
    rng = np.random.default_rng(2)
    if loss == "bce":
        x, t = rng.uniform(0.1, 0.9, (3, 2)), rng.uniform(0, 1, (3, 2))
    elif loss in ("ce", "nll"):
        x, t = rng.standard_normal((4, 3)), np.array([0, 2, 1, 2])
    else:
        x, t = _away_from_zero(rng, (3, 2)), rng.standard_normal((3, 2))
    fn = {"mse": F.mse_loss, "l1": F.l1_loss, "bce": F.binary_cross_entropy,
          "bce_logits": F.binary_cross_entropy_with_logits, "ce": F.cross_entropy,
          "nll": lambda a, b, reduction: F.nll_loss(F.log_softmax(a, axis=1), b, reduction=reduction)}[loss]
    for red in ("mean", "sum", "none"):
        assert wg.gradcheck(lambda a, red=red: fn(a, t, reduction=red), x).ok


def test_binary_cross_entropy_is_clamped_and_logits_version_is_stable():
    p = wg.tensor([0.0, 1.0, 0.5], requires_grad=True)
    loss = F.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0]))
    assert np.isfinite(loss.item()) and loss.item() > 10
    loss.backward()
    assert np.isfinite(p.grad.data).all()
    z = wg.tensor([1e4, -1e4, 0.0], requires_grad=True)
    out = F.binary_cross_entropy_with_logits(z, np.array([1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(out.data, [0.0, 0.0, np.log(2)], atol=1e-12)
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        F.binary_cross_entropy(wg.tensor([1.5]), np.array([1.0]))


def test_loss_bad_inputs_have_clear_messages():
    z = wg.tensor(np.zeros((3, 4)))
    with pytest.raises(IndexError, match=r"labels must lie in \[0, 4\) .* got label 4 at position 1"):
        F.cross_entropy(z, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match="got label -1 at position 2"):
        F.cross_entropy(z, np.array([0, 1, -1]))
    # labels of every integer type and byte order: a negative one is never read as a large unsigned one
    for dt in (np.int8, np.int16, np.int32, ">i8"):
        with pytest.raises(IndexError, match="got label -2 at position 0"):
            F.cross_entropy(z, np.array([-2, 1, 0], dtype=dt))
        with pytest.raises(IndexError, match="got label 4 at position 2"):
            F.cross_entropy(z, np.array([0, 1, 4], dtype=dt))
        np.testing.assert_allclose(F.cross_entropy(z, np.array([0, 1, 3], dtype=dt)).item(), np.log(4))
    assert F.cross_entropy(z, np.array([0, 1, 3], dtype=np.uint8)).item() == pytest.approx(np.log(4))
    assert F.cross_entropy(z, np.array([0, -100, 3], dtype=np.int16)).item() == pytest.approx(np.log(4))
    with pytest.raises(TypeError, match="integer class labels"):
        F.cross_entropy(z, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(wg.ShapeError, match=r"target must have shape \(3,\)"):
        F.cross_entropy(z, np.array([0, 1]))
    with pytest.raises(wg.ShapeError, match=r"target must have shape \(\) \(one label per row of an input of shape "
                                           r"\(4,\)\), got \(1,\)"):
        F.cross_entropy(wg.tensor(np.zeros(4)), np.array([0]))  # an unbatched input (C,) takes one 0-d label
    with pytest.raises(wg.ShapeError, match=r"input must have shape \(C,\), \(N, C\) or \(N, C, d1, \.\.\.\)"):
        F.cross_entropy(wg.tensor(0.0), np.array(0))
    with pytest.raises(ValueError, match="reduction must be"):
        F.cross_entropy(z, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(wg.ShapeError, match=r"mse_loss: input has shape \(3, 4\) but target has shape \(4,\)"):
        F.mse_loss(z, np.zeros(4))


# ------------------------------------------------------------------ Module
class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU())
        self.head = nn.Linear(3, 1, rng=1)
        self.scale = nn.Parameter(np.array([2.0]))
        self.bn = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.head(self.bn(self.body(x))) * self.scale


def test_module_registers_parameters_modules_and_buffers():
    net = _Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "body.0.weight", "body.0.bias", "head.weight", "head.bias", "bn.weight", "bn.bias"]
    assert net.num_parameters() == 9 + 4 + 1 + 6
    assert set(net.state_dict()) == set(names) | {"bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}
    assert "(body): Sequential(" in repr(net) and "(0): Linear(in_features=2, out_features=3, bias=True)" in repr(net)
    net.eval()
    assert not net.body[1].training
    net.train()
    assert net.bn.training
    out = net(np.ones((4, 2), np.float32)).sum()
    out.backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    shared = nn.Linear(2, 2)
    twice = nn.Sequential(shared, shared)
    assert len(list(twice.parameters())) == 2
    with pytest.raises(TypeError, match="cannot replace parameter 'scale'"):
        net.scale = np.ones(1)


def test_apply_reaches_every_submodule():
    net = _Net()
    net.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert not net.body[0].weight.data.any() and not net.head.weight.data.any()


def test_module_without_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(2))

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Bad()


def test_state_dict_round_trip_and_strict_errors():
    a, b = _Net(), _Net()
    for p in b.parameters():
        p.data[...] = 0.5
    b(np.ones((4, 2), np.float32))  # moves the running statistics
    a.load_state_dict(b.state_dict())
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert np.array_equal(va, vb), k
    sd = b.state_dict()
    del sd["head.bias"]
    sd["extra.weight"] = np.zeros(3)
    with pytest.raises(StateDictError, match=r"missing keys: head.bias \| unexpected keys: extra.weight"):
        a.load_state_dict(sd)
    missing, unexpected = a.load_state_dict(sd, strict=False)
    assert missing == ["head.bias"] and unexpected == ["extra.weight"]
    sd = b.state_dict()
    sd["head.weight"] = np.zeros((2, 3))
    with pytest.raises(StateDictError, match=r"head.weight: shape mismatch: checkpoint \(2, 3\), model \(1, 3\)"):
        a.load_state_dict(sd, strict=False)


def test_batchnorm_running_statistics_and_eval():
    bn = nn.BatchNorm1d(2, dtype=F64, momentum=0.5)
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    y = bn(x)
    np.testing.assert_allclose(y.data, [[-1, -1], [1, 1]], atol=1e-4)
    np.testing.assert_allclose(bn.running_mean, [1.0, 2.0])
    np.testing.assert_allclose(bn.running_var, [0.5 + 0.5 * 2.0, 0.5 + 0.5 * 8.0])
    bn.eval()
    np.testing.assert_allclose(bn(x).data, (x - bn.running_mean) / np.sqrt(bn.running_var + 1e-5))
    bn.train()
    with pytest.raises(ValueError, match="at least 2 samples"):
        bn(np.ones((1, 2)))


def test_wrong_input_width_names_the_layer_and_both_shapes():
    net = nn.Sequential(nn.Linear(64, 10))
    with pytest.raises(wg.ShapeError, match=r"Linear\(in_features=64, out_features=10, bias=True\): expected input "
                                           r"of shape \(\.\.\., 64\), got input of shape \(8, 63\)"):
        net(np.zeros((8, 63), np.float32))
    with pytest.raises(wg.ShapeError, match=r"Conv2d\(1, 4, .*\): expected input of shape \(N, 1, H, W\), got shape "
                                           r"\(2, 3, 8, 8\)"):
        nn.Conv2d(1, 4, 3)(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(wg.ShapeError, match="MaxPool2d.*expected input of shape \\(N, C, H, W\\), got shape \\(8, 8\\)"):
        nn.MaxPool2d(2)(np.zeros((8, 8)))
    with pytest.raises(wg.ShapeError, match=r"BatchNorm1d\(3.*got shape \(4, 2\)"):
        nn.BatchNorm1d(3)(np.zeros((4, 2)))
    with pytest.raises(wg.ShapeError, match="kernel .* is larger than the padded input"):
        F.conv2d(wg.tensor(np.zeros((1, 1, 2, 2))), wg.tensor(np.zeros((1, 1, 3, 3))))
    with pytest.raises(TypeError, match="item 1 is a int, not a Module"):
        nn.Sequential(nn.ReLU(), 3)


def test_nan_is_traced_to_its_op_by_detect_anomaly():
    lin = nn.Linear(2, 1, dtype=F64, rng=0)
    x = np.array([[1.0, -1.0]])
    with pytest.raises(FloatingPointError, match="op 'log'"), np.errstate(invalid="ignore"), wg.detect_anomaly():
        wg.log(lin(x) - 100.0)


# ------------------------------------------------------------------ parity with PyTorch
def _torch_mlp(torch, net):
    tn = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 5), torch.nn.ReLU(),
                             torch.nn.Linear(5, 3)).double()
    _copy_into_torch(torch, net, tn)
    return tn


def _copy_into_torch(torch, net, tn):
    with torch.no_grad():
        for (k, v), (tk, tv) in zip(net.state_dict().items(), tn.state_dict().items()):
            assert v.shape == tuple(tv.shape), (k, tk)
            tv.copy_(torch.from_numpy(v.copy()))


def _parity(torch, net, tn, make_opts, batches):
    opt, topt = make_opts(list(net.parameters()), list(tn.parameters()))
    for x, y in batches:
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = torch.nn.functional.cross_entropy(tn(torch.from_numpy(x)), torch.from_numpy(y))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        assert abs(loss.item() - tloss.item()) <= 1e-6 * max(1.0, abs(tloss.item()))
    for (k, v), (_, tv) in zip(net.state_dict().items(), tn.state_dict().items()):
        np.testing.assert_allclose(v, tv.detach().numpy(), rtol=1e-6, atol=1e-8, err_msg=k)


OPTS = {
    "sgd": lambda ps, tps, torch: (optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
                                   torch.optim.SGD(tps, lr=0.1, momentum=0.9, weight_decay=1e-3)),
    "adam": lambda ps, tps, torch: (optim.Adam(ps, lr=0.01), torch.optim.Adam(tps, lr=0.01)),
}


@pytest.mark.parametrize("opt", sorted(OPTS))
def test_mlp_matches_pytorch_over_20_steps(opt):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    net = nn.Sequential(nn.Linear(6, 8, dtype=F64, rng=1), nn.Tanh(), nn.Linear(8, 5, dtype=F64, rng=2), nn.ReLU(),
                        nn.Linear(5, 3, dtype=F64, rng=3))
    tn = _torch_mlp(torch, net)
    batches = [(rng.standard_normal((16, 6)), rng.integers(0, 3, 16)) for _ in range(20)]
    _parity(torch, net, tn, lambda a, b: OPTS[opt](a, b, torch), batches)


@pytest.mark.parametrize("opt", sorted(OPTS))
def test_cnn_matches_pytorch_over_20_steps(opt):
    torch = pytest.importorskip("torch")
    images, labels = wg.data.load_digits(flat=False)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, dtype=F64, rng=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 6, 3, stride=2, padding=1, dtype=F64, rng=2), nn.ReLU(), nn.AvgPool2d(2),
                        nn.Flatten(), nn.Linear(6, 10, dtype=F64, rng=3))
    T = torch.nn
    tn = T.Sequential(T.Conv2d(1, 4, 3, padding=1), T.ReLU(), T.MaxPool2d(2), T.Conv2d(4, 6, 3, stride=2, padding=1),
                      T.ReLU(), T.AvgPool2d(2), T.Flatten(), T.Linear(6, 10)).double()
    _copy_into_torch(torch, net, tn)
    x = images.astype(F64)[:, None]
    batches = [(x[i * 16:(i + 1) * 16], labels[i * 16:(i + 1) * 16]) for i in range(20)]
    _parity(torch, net, tn, lambda a, b: OPTS[opt](a, b, torch), batches)
