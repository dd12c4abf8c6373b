"""wengert.optim: every optimiser and scheduler against PyTorch's formulas, clipping, state round trips, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

import wengert as wg
from wengert import nn, optim

CONFIGS = {
    "sgd": ("SGD", {"lr": 0.1}),
    "sgd_momentum_wd": ("SGD", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}),
    "sgd_nesterov": ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    "sgd_dampening": ("SGD", {"lr": 0.05, "momentum": 0.5, "dampening": 0.3}),
    "adam": ("Adam", {"lr": 0.01}),
    "adam_wd_amsgrad": ("Adam", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "betas": (0.8, 0.9)}),
    "adamw": ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    "rmsprop": ("RMSprop", {"lr": 0.01}),
    "rmsprop_centered_momentum": ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.01}),
}


def _problem(rng):
    A = rng.standard_normal((5, 4))
    b = rng.standard_normal(5)
    w0 = rng.standard_normal(4)
    s0 = np.array(0.7)  # a 0-d parameter too
    return A, b, w0, s0


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_optimizer_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    cls, kw = CONFIGS[name]
    A, b, w0, s0 = _problem(np.random.default_rng(0))
    w, s = nn.Parameter(w0, dtype=np.float64), nn.Parameter(s0, dtype=np.float64)
    tw, ts = torch.tensor(w0, requires_grad=True), torch.tensor(s0, requires_grad=True)
    opt = getattr(optim, cls)([w, s], **kw)
    topt = getattr(torch.optim, cls)([tw, ts], **kw)
    At, bt = torch.from_numpy(A), torch.from_numpy(b)
    for _ in range(20):
        opt.zero_grad()
        loss = (wg.tanh(wg.matmul(A, w) * s - b) ** 2).sum()
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = (torch.tanh(At @ tw * ts - bt) ** 2).sum()
        tloss.backward()
        topt.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-9)
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert float(s.data) == pytest.approx(float(ts.detach()), rel=1e-9)


@pytest.mark.parametrize("name", ["sgd_momentum_wd", "adam_wd_amsgrad", "rmsprop_centered_momentum"])
def test_optimizer_state_dict_resumes_exactly(name):
    cls, kw = CONFIGS[name]
    A, b, w0, _s0 = _problem(np.random.default_rng(1))

    def run(steps, w, opt):
        for _ in range(steps):
            opt.zero_grad()
            ((wg.matmul(A, w) - b) ** 2).sum().backward()
            opt.step()

    w1 = nn.Parameter(w0, dtype=np.float64)
    o1 = getattr(optim, cls)([w1], **kw)
    run(10, w1, o1)
    w2 = nn.Parameter(w0, dtype=np.float64)
    o2 = getattr(optim, cls)([w2], **kw)
    run(5, w2, o2)
    state = o2.state_dict()
    w3 = nn.Parameter(w2.data, dtype=np.float64)
    o3 = getattr(optim, cls)([w3], lr=123.0)  # hyperparameters come back from the state too
    o3.load_state_dict(state)
    run(5, w3, o3)
    np.testing.assert_array_equal(w1.data, w3.data)


def test_updates_are_in_place_and_record_nothing():
    w = nn.Parameter(np.ones(3), dtype=np.float64)
    live = w.data
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert w.data is live and not np.allclose(live, 1.0)
    assert w.is_leaf and w.requires_grad


def test_parameters_without_grad_are_skipped():
    a, b = nn.Parameter(np.ones(2), dtype=np.float64), nn.Parameter(np.ones(2), dtype=np.float64)
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    (a * 2.0).sum().backward()
    opt.step()
    np.testing.assert_array_equal(a.data, [0.0, 0.0])
    np.testing.assert_array_equal(b.data, [1.0, 1.0])


def test_schedulers_match_pytorch():
    torch = pytest.importorskip("torch")
    for make, tmake in ((lambda o: optim.StepLR(o, step_size=3, gamma=0.5),
                         lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
                        (lambda o: optim.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
                         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01))):
        opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.2)
        topt = torch.optim.SGD([torch.ones(1, requires_grad=True)], lr=0.2)
        s, ts = make(opt), tmake(topt)
        for _ in range(12):
            assert s.get_last_lr()[0] == pytest.approx(ts.get_last_lr()[0], rel=1e-9, abs=1e-12)
            topt.step()
            s.step()
            ts.step()
        st = s.state_dict()
        s2 = make(optim.SGD([nn.Parameter(np.ones(1))], lr=0.2))
        s2.load_state_dict(st)
        assert s2.get_last_lr() == s.get_last_lr()


def test_clip_grad_norm_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    g1, g2 = rng.standard_normal((3, 2)), rng.standard_normal(4)
    ps = [wg.tensor(np.zeros_like(g), requires_grad=True) for g in (g1, g2)]
    for p, g in zip(ps, (g1, g2)):
        p.grad = wg.tensor(g.copy())
    tps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in (g1, g2)]
    for p, g in zip(tps, (g1, g2)):
        p.grad = torch.from_numpy(g.copy())
    for norm_type in (2.0, 1.0, math.inf):
        for p, g in zip(ps, (g1, g2)):
            p.grad = wg.tensor(g.copy())
        for p, g in zip(tps, (g1, g2)):
            p.grad = torch.from_numpy(g.copy())
        total = optim.clip_grad_norm_(ps, 0.5, norm_type=norm_type)
        ttotal = torch.nn.utils.clip_grad_norm_(tps, 0.5, norm_type=norm_type)
        assert total == pytest.approx(float(ttotal), rel=1e-12)
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-12)
    assert optim.clip_grad_norm_([wg.tensor([1.0], requires_grad=True)], 1.0) == 0.0  # no grads yet


def test_optimizer_bad_input():
    w = nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of tensors"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.Adam([w], lr=-1.0)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas must lie in"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="floating-point tensors"):
        optim.SGD([wg.tensor([1, 2])], lr=0.1)
    with pytest.raises(ValueError, match="appears twice"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(KeyError, match="unexpected key 'bogus'"):
        optim.SGD([w], lr=0.1).load_state_dict({"bogus": np.zeros(1)})
    with pytest.raises(ValueError, match="step_size must be >= 1"):
        optim.StepLR(optim.SGD([w], lr=0.1), step_size=0)
    with pytest.raises(TypeError, match="needs a wengert optimizer"):
        optim.StepLR(object(), step_size=1)


def test_frozen_parameters_are_left_alone():
    net = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Linear(2, 1, rng=1))
    net[0].weight.requires_grad_(False)
    frozen = net[0].weight.data.copy()
    opt = optim.Adam(net.parameters(), lr=0.1)
    net(np.ones((3, 2), np.float32)).sum().backward()
    opt.step()
    assert np.array_equal(net[0].weight.data, frozen) and not np.array_equal(net[1].weight.data, 0)


def test_param_groups_have_their_own_lr():
    a, b = nn.Parameter(np.ones(1), dtype=np.float64), nn.Parameter(np.ones(1), dtype=np.float64)
    opt = optim.SGD([{"params": [a], "lr": 1.0}, {"params": [b]}], lr=0.1)
    (a + b).sum().backward()
    opt.step()
    assert a.data[0] == pytest.approx(0.0) and b.data[0] == pytest.approx(0.9)
