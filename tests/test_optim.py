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


def _sgd(lrs=(0.2,), momentum=0.9):
    return optim.SGD([{"params": [nn.Parameter(np.ones(1))], "lr": lr} for lr in lrs], lr=lrs[0], momentum=momentum)


def _torch_sgd(torch, lrs=(0.2,), momentum=0.9):
    return torch.optim.SGD([{"params": [torch.ones(1, requires_grad=True)], "lr": lr} for lr in lrs], lr=lrs[0],
                           momentum=momentum)


SCHEDULERS = {
    "exponential": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "linear": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=7),
    "linear_default": lambda m, o: m.LinearLR(o),
    "lambda": lambda m, o: m.LambdaLR(o, lambda e: 1.0 / (1.0 + e)),
    "lambda_per_group": lambda m, o: m.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: e % 3 + 1]),
    "onecycle": lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=20),
    "onecycle_linear_three_phase": lambda m, o: m.OneCycleLR(o, max_lr=1.0, epochs=4, steps_per_epoch=5,
                                                             anneal_strategy="linear", three_phase=True,
                                                             pct_start=0.25),
    "sequential": lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.2, total_iters=4),
                                                  m.ExponentialLR(o, gamma=0.8), m.StepLR(o, 3, gamma=0.5)],
                                              milestones=[5, 12]),
    "step": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "cosine": lambda m, o: m.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
    "chained_exponential_step": lambda m, o: (m.ExponentialLR(o, gamma=0.9), m.StepLR(o, 4, gamma=0.1)),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_matches_pytorch_step_by_step(name):
    torch = pytest.importorskip("torch")
    opt, topt = _sgd((0.2, 0.05)), _torch_sgd(torch, (0.2, 0.05))
    s, ts = SCHEDULERS[name](optim, opt), SCHEDULERS[name](torch.optim.lr_scheduler, topt)
    s, ts = (s if isinstance(s, tuple) else (s,)), (ts if isinstance(ts, tuple) else (ts,))
    for step in range(20 if "onecycle" in name else 25):
        for g, tg in zip(opt.param_groups, topt.param_groups):
            assert g["lr"] == pytest.approx(tg["lr"], rel=1e-12, abs=1e-15), f"step {step}"
            assert g["momentum"] == pytest.approx(tg["momentum"], rel=1e-12)  # OneCycleLR cycles it
        assert s[-1].get_last_lr() == pytest.approx(ts[-1].get_last_lr(), rel=1e-12, abs=1e-15)
        topt.step()
        for a, b in zip(s, ts):
            a.step()
            b.step()


def test_onecycle_cycles_adam_beta1_and_refuses_to_overrun():
    torch = pytest.importorskip("torch")
    opt = optim.Adam([nn.Parameter(np.ones(1))], lr=0.1)
    topt = torch.optim.Adam([torch.ones(1, requires_grad=True)], lr=0.1)
    s = optim.OneCycleLR(opt, max_lr=0.5, total_steps=6)
    ts = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.5, total_steps=6)
    for _ in range(5):
        assert opt.param_groups[0]["betas"] == pytest.approx(topt.param_groups[0]["betas"], rel=1e-12)
        topt.step()
        s.step()
        ts.step()
    s.step()
    ts.step()
    with pytest.raises(ValueError, match="Tried to step 7 times"):
        ts.step()
    with pytest.raises(ValueError, match="stepped 7 times, but total_steps is 6"):
        s.step()
    with pytest.raises(ValueError, match="cycle_momentum needs an optimizer with momentum or betas"):
        optim.OneCycleLR(optim.Optimizer([nn.Parameter(np.ones(1))], {"lr": 0.1}), max_lr=1.0, total_steps=3)


@pytest.mark.parametrize("kw", [{}, {"mode": "max", "threshold_mode": "abs", "threshold": 0.05},
                                {"patience": 1, "cooldown": 2, "min_lr": [0.01, 0.001], "factor": 0.5}])
def test_reduce_lr_on_plateau_matches_pytorch(kw):
    torch = pytest.importorskip("torch")
    opt, topt = _sgd((0.2, 0.05)), _torch_sgd(torch, (0.2, 0.05))
    kw = {"patience": 2, **kw}
    s = optim.ReduceLROnPlateau(opt, **kw)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.97, 0.89, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 1.2, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    for m in metrics:
        s.step(wg.tensor(m))
        ts.step(m)
        assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
        assert (s.best, s.num_bad_epochs, s.cooldown_counter) == (ts.best, ts.num_bad_epochs, ts.cooldown_counter)
    with pytest.raises(TypeError, match=r"needs the monitored metric: sched.step\(val_loss\)"):
        s.step()


def test_scheduler_state_round_trips_through_json():
    import json

    for make in (lambda o: optim.OneCycleLR(o, max_lr=1.0, total_steps=30),
                 lambda o: optim.SequentialLR(o, [optim.LinearLR(o, total_iters=3), optim.ExponentialLR(o, 0.9)], [3]),
                 lambda o: optim.ReduceLROnPlateau(o, patience=0),
                 lambda o: optim.LambdaLR(o, lambda e: 0.5 ** e)):
        opt = _sgd()
        s = make(opt)
        for k in range(6):
            s.step(1.0 + k) if isinstance(s, optim.ReduceLROnPlateau) else s.step()
        state = json.loads(json.dumps(s.state_dict()))
        opt2 = _sgd()
        s2 = make(opt2)
        opt2.param_groups[0].update({k: v for k, v in opt.param_groups[0].items() if k != "params"})
        s2.load_state_dict(state)
        for _ in range(3):
            for x in (s, s2):
                x.step(0.5) if isinstance(x, optim.ReduceLROnPlateau) else x.step()
        assert s2.get_last_lr() == s.get_last_lr() and opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def test_scheduler_bad_arguments():
    opt = _sgd()
    with pytest.raises(ValueError, match=r"start_factor must lie in \(0, 1\]"):
        optim.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="expected 1 values of lr_lambda"):
        optim.LambdaLR(opt, [lambda e: 1.0, lambda e: 2.0])
    with pytest.raises(ValueError, match="needs one milestone fewer than schedulers"):
        optim.SequentialLR(opt, [optim.ExponentialLR(opt, 0.9)], milestones=[3])
    with pytest.raises(TypeError, match="ReduceLROnPlateau, which needs the metric"):
        optim.SequentialLR(opt, [optim.ExponentialLR(opt, 0.9), optim.ReduceLROnPlateau(opt)], milestones=[3])
    with pytest.raises(ValueError, match="give total_steps, or epochs and steps_per_epoch"):
        optim.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="factor must be < 1.0"):
        optim.ReduceLROnPlateau(opt, factor=2.0)
    with pytest.raises(KeyError, match="has no 'initial_lr'"):
        optim.ExponentialLR(_sgd(), 0.9, last_epoch=3)


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
        total = nn.utils.clip_grad_norm_(ps, 0.5, norm_type=norm_type)
        ttotal = torch.nn.utils.clip_grad_norm_(tps, 0.5, norm_type=norm_type)
        assert isinstance(total, wg.Tensor) and total.shape == () and total.dtype == np.float64  # as PyTorch: a tensor
        assert total.item() == pytest.approx(float(ttotal), rel=1e-12)
        for p, tp in zip(ps, tps):
            np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-12)
    assert nn.utils.clip_grad_norm_([wg.tensor([1.0], requires_grad=True)], 1.0).item() == 0.0  # no grads yet
    assert optim.clip_grad_norm_ is nn.utils.clip_grad_norm_


def test_clip_grad_norm_scales_in_place_and_only_down():
    w = wg.tensor([3.0, 4.0], requires_grad=True)
    (w * 0.5).sum().backward()  # grad (0.5, 0.5): norm below max_norm, left as it is
    g = w.grad.data
    nn.utils.clip_grad_norm_([w], 10.0)
    assert w.grad.data is g and np.array_equal(g, [0.5, 0.5])
    s = wg.tensor(2.0, requires_grad=True)
    (s * s).backward()  # a 0-d gradient
    nn.utils.clip_grad_norm_(s, 1.0)
    assert s.grad.item() == pytest.approx(1.0 / (4.0 + 1e-6) * 4.0)
    bad = wg.tensor([1.0], requires_grad=True)
    bad.grad = wg.tensor([np.inf])
    with pytest.raises(RuntimeError, match="non-finite, so it cannot be clipped.*error_if_nonfinite=False"):
        nn.utils.clip_grad_norm_([bad], 1.0, error_if_nonfinite=True)
    with pytest.warns(UserWarning, match="empty generator"):
        nn.utils.clip_grad_norm_((p for p in []), 1.0)


def test_clip_grad_value_matches_pytorch():
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(0).normal(size=(4, 3)) * 3
    p = wg.tensor(np.zeros((4, 3)), requires_grad=True)
    p.grad = wg.tensor(g.copy())
    tp = torch.zeros((4, 3), dtype=torch.float64, requires_grad=True)
    tp.grad = torch.from_numpy(g.copy())
    assert nn.utils.clip_grad_value_([p], 1.5) is None
    torch.nn.utils.clip_grad_value_([tp], 1.5)
    np.testing.assert_array_equal(p.grad.data, tp.grad.numpy())


def test_parameters_to_vector_round_trip():
    net = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Linear(3, 1, rng=1))
    v = nn.utils.parameters_to_vector(net.parameters())
    assert v.shape == (13,)
    nn.utils.vector_to_parameters(np.arange(13.0), net.parameters())
    np.testing.assert_array_equal(net[1].bias.data, [12.0])
    with pytest.raises(ValueError, match="the vector has 3 elements, the parameters 13"):
        nn.utils.vector_to_parameters(np.zeros(3), net.parameters())


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
    with pytest.raises(ValueError, match="expected the dict that SGD.state_dict\\(\\) returns"):
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
