"""PyTorch users' habits on tensors: in-place updates, the names they type, constructors (against torch, float64)."""
from __future__ import annotations

import numpy as np
import pytest

import wengert as wg

torch = pytest.importorskip("torch")


def _t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ---------------------------------------------------------------------- silent failures, fixed
def test_augmented_assignment_under_no_grad_updates_the_parameter_in_place():
    p = wg.tensor([1.0, 2.0], requires_grad=True)
    before = p
    wg.sum(p * p).backward()
    with wg.no_grad():
        p -= 0.1 * p.grad
    assert p is before and p.requires_grad and p.is_leaf
    np.testing.assert_allclose(p.data, [0.8, 1.6])
    q = wg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
        q += 1.0


def test_an_update_of_data_by_a_grad_works():
    p = wg.tensor([1.0, 2.0], requires_grad=True)
    wg.sum(p * p).backward()
    p.data -= 0.5 * p.grad  # numpy.subtract(..., out=...) with a tensor operand
    np.testing.assert_allclose(p.data, [0.0, 0.0])
    x = wg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="outside"):
        p.data -= x * 2.0  # a value in the graph: its derivative would be lost


def test_augmented_assignment_on_a_recorded_value_is_recorded():
    x = wg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2.0
    y += x * x
    y *= 3.0
    wg.sum(y).backward()
    xt = _t([1.0, 2.0, 3.0], True)
    yt = xt * 2.0
    yt += xt * xt
    yt *= 3.0
    yt.sum().backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy())


@pytest.mark.parametrize("name, args", [
    ("add_", ([0.5, -1.0],)), ("sub_", ([0.5, -1.0],)), ("mul_", ([2.0, 3.0],)), ("div_", ([2.0, 4.0],)),
    ("fill_", (7.0,)), ("zero_", ()), ("copy_", ([9.0, 8.0],)), ("clamp_", (-0.5, 0.5)),
])
def test_in_place_methods_match_pytorch(name, args):
    base = [0.25, -1.5]
    w = wg.tensor(base)
    t = _t(base)
    wargs = tuple(wg.tensor(a) if isinstance(a, list) else a for a in args)
    targs = tuple(_t(a) if isinstance(a, list) else a for a in args)
    assert getattr(w, name)(*wargs) is w
    getattr(t, name)(*targs)
    np.testing.assert_allclose(w.data, t.numpy())
    w2, t2 = wg.tensor(base), _t(base)
    if name in ("add_", "sub_"):
        getattr(w2, name)(wargs[0], alpha=-2.0)
        getattr(t2, name)(targs[0], alpha=-2.0)
        np.testing.assert_allclose(w2.data, t2.numpy())


def test_in_place_method_on_a_recorded_value_has_pytorchs_gradient():
    x = wg.tensor([0.5, -1.0], requires_grad=True)
    y = x * 3.0
    y.mul_(x).add_(x, alpha=2.0).clamp_(-1.0, 1.0)
    wg.sum(y).backward()
    xt = _t([0.5, -1.0], True)
    yt = xt * 3.0
    yt.mul_(xt).add_(xt, alpha=2.0).clamp_(-1.0, 1.0)
    yt.sum().backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy())


def test_grad_zero_and_seeded_random_fills():
    p = wg.tensor(np.ones(3), requires_grad=True)
    wg.sum(p * 2.0).backward()
    p.grad.zero_()
    np.testing.assert_allclose(p.grad.data, 0.0)
    wg.manual_seed(3)
    with wg.no_grad():
        a = wg.zeros(4).normal_(1.0, 2.0).data.copy()
        b = wg.zeros(4).uniform_(-1.0, 1.0).data.copy()
    wg.manual_seed(3)
    with wg.no_grad():
        np.testing.assert_array_equal(wg.zeros(4).normal_(1.0, 2.0).data, a)
        np.testing.assert_array_equal(wg.zeros(4).uniform_(-1.0, 1.0).data, b)
    assert np.all((b >= -1.0) & (b < 1.0))


# ---------------------------------------------------------------------- the names they type
def test_reductions_take_dim_and_keepdim():
    a = np.arange(12.0).reshape(3, 4) - 5.0
    x, t = wg.tensor(a), _t(a)
    for name in ("sum", "mean", "prod", "logsumexp", "argmax", "argmin", "any", "all"):
        w = getattr(x, name)(dim=1, keepdim=True)
        ref = getattr(t if name not in ("any", "all") else t > 0, name)(dim=1, keepdim=True)
        got = getattr(x > 0, name)(dim=1, keepdim=True) if name in ("any", "all") else w
        np.testing.assert_allclose(np.asarray(got.data, dtype=float), ref.numpy().astype(float), err_msg=name)
    np.testing.assert_allclose(wg.sum(x, dim=0).data, t.sum(dim=0).numpy())
    with pytest.raises(TypeError, match="not both"):
        x.sum(axis=0, dim=0)


def test_max_and_min_with_dim_return_values_and_indices():
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    x, t = wg.tensor(a, requires_grad=True), _t(a, True)
    v, i = x.max(dim=1)
    tv, ti = t.max(dim=1)
    np.testing.assert_allclose(v.data, tv.detach().numpy())
    np.testing.assert_array_equal(i.data, ti.numpy())
    wg.sum(v).backward()
    tv.sum().backward()
    np.testing.assert_allclose(x.grad.data, t.grad.numpy())
    _, indices = wg.min(x, dim=0, keepdim=True)
    np.testing.assert_array_equal(indices.data, t.min(dim=0, keepdim=True).indices.numpy())
    assert float(x.max()) == 7.0  # without dim: the value, as NumPy


def test_tensor_methods_match_pytorch_values_and_gradients():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 3, 4))
    idx = rng.integers(0, 3, (2, 3, 4))
    cases = {
        "pow": (lambda z: z.pow(3), lambda z: z.pow(3)),
        "clamp": (lambda z: z.clamp(-0.5, 0.5), lambda z: z.clamp(-0.5, 0.5)),
        "sign*": (lambda z: z.sign() * z, lambda z: z.sign() * z),
        "clone": (lambda z: z.clone() * 2.0, lambda z: z.clone() * 2.0),
        "view": (lambda z: z.view(6, 4), lambda z: z.view(6, 4)),
        "reshape": (lambda z: z.reshape(4, 6), lambda z: z.reshape(4, 6)),
        "permute": (lambda z: z.permute(2, 0, 1), lambda z: z.permute(2, 0, 1)),
        "unsqueeze": (lambda z: z.unsqueeze(1), lambda z: z.unsqueeze(1)),
        "squeeze": (lambda z: z.unsqueeze(0).squeeze(0), lambda z: z.unsqueeze(0).squeeze(0)),
        "flatten": (lambda z: z.flatten(1, 2), lambda z: z.flatten(1, 2)),
        "t": (lambda z: z[0].t(), lambda z: z[0].t()),
        "masked_fill": (lambda z: z.masked_fill(z > 0, 0.0), lambda z: z.masked_fill(z > 0, 0.0)),
        "gather": (lambda z: z.gather(1, idx), lambda z: z.gather(1, torch.tensor(idx))),
        "scatter_add": (lambda z: z.scatter_add(1, idx, z * 2.0), lambda z: z.scatter_add(1, torch.tensor(idx), z * 2.0)),
        "to": (lambda z: z.to(np.float32).to(np.float64), lambda z: z.to(torch.float32).to(torch.float64)),
        "type_as": (lambda z: z.type_as(z), lambda z: z.type_as(z)),
    }
    for name, (fw, ft) in cases.items():
        x, t = wg.tensor(a, requires_grad=True), _t(a, True)
        yw, yt = fw(x), ft(t)
        np.testing.assert_allclose(yw.data, yt.detach().numpy(), rtol=1e-6 if name == "to" else 1e-12, err_msg=name)
        u = rng.standard_normal(yt.shape)
        wg.sum(yw * u).backward()
        (yt * torch.tensor(u)).sum().backward()
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-6 if name == "to" else 1e-12, err_msg=name)
    x = wg.tensor(a)
    assert x.numel() == 24 and x.dim() == 3 and x.argmax(dim=2).shape == (2, 3)
    assert bool((x > 10).any()) is False and bool((x < 10).all()) is True


def test_constructors():
    a, b = wg.tensor([[1.0, 2.0]]), wg.tensor([[3.0, 4.0]])
    np.testing.assert_allclose(wg.cat([a, b], dim=1).data, torch.cat([_t([[1.0, 2.0]]), _t([[3.0, 4.0]])], dim=1))
    np.testing.assert_allclose(wg.full((2, 2), 3.5).data, torch.full((2, 2), 3.5).numpy())
    np.testing.assert_allclose(wg.linspace(0.0, 1.0, 5).data, torch.linspace(0.0, 1.0, 5, dtype=torch.float64).numpy())
    np.testing.assert_allclose(wg.arange(0, 5, 2).data, [0, 2, 4])
    assert wg.zeros_like(a).shape == (1, 2) and wg.ones_like(a).data.sum() == 2.0
    wg.manual_seed(7)
    r1, u1 = wg.randn(2, 3), wg.rand((4,))
    wg.manual_seed(7)
    np.testing.assert_array_equal(wg.randn(2, 3).data, r1.data)
    np.testing.assert_array_equal(wg.rand((4,)).data, u1.data)
    assert r1.shape == (2, 3) and float(u1.min()) >= 0.0
    with pytest.raises(ValueError, match="non-negative int"):
        wg.manual_seed(-1)


# ---------------------------------------------------------------------- hooks and gradient checkpointing
def test_register_hook_matches_pytorch():
    x, xt = wg.tensor([1.0, 2.0], requires_grad=True), _t([1.0, 2.0], True)
    seen = []
    for a in (x, xt):
        y = a * 3.0
        y.register_hook(lambda g: g + 1.0)
        y.retain_grad()
        h = a.register_hook(lambda g: g * 10)
        a.register_hook(lambda g: seen.append(float(g.sum())))
        (y * y).sum().backward()
        h.remove()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy())
    assert seen[0] == pytest.approx(seen[1])
    x.grad = None
    wg.sum(x * 2.0).backward()  # the removed hook no longer runs
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        wg.tensor([1.0]).register_hook(lambda g: g)


def test_checkpoint_gives_the_same_gradients_and_keeps_no_intermediates():
    from wengert import nn
    from wengert.core.state import state

    blocks = [nn.Sequential(nn.Linear(8, 8, rng=i), nn.Tanh(), nn.Linear(8, 8, rng=10 + i), nn.Tanh()).double()
              for i in range(4)]
    x0 = np.random.default_rng(0).standard_normal((5, 8))

    def run(ckpt):
        for b in blocks:
            b.zero_grad()
        x = wg.tensor(x0, requires_grad=True)
        h = x
        before = len(state().tape)
        for b in blocks:
            h = wg.checkpoint(b, h) if ckpt else b(h)
        entries = len(state().tape) - before
        wg.sum(h * h).backward()
        return x.grad.data.copy(), [p.grad.data.copy() for b in blocks for p in b.parameters()], entries

    gx, gp, n_ckpt = run(True)
    gx2, gp2, n_plain = run(False)
    np.testing.assert_allclose(gx, gx2, rtol=1e-12)
    for a, b in zip(gp, gp2):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert n_ckpt < n_plain / 3  # one entry per block (and its imports), not one per op
    y = wg.checkpoint(blocks[0], wg.tensor(x0, requires_grad=True))
    with pytest.raises(RuntimeError, match="checkpoint is differentiable once"):
        wg.sum(y).backward(create_graph=True)


def test_an_operand_of_a_foreign_type_gets_its_reflected_operator():
    """Python's protocol: t * other returns NotImplemented for a type wengert does not know, so other.__rmul__ runs."""

    class Duck:
        def __rmul__(self, other):
            return ("rmul", other)

        def __radd__(self, other):
            return ("radd", other)

    t = wg.tensor([1.0, 2.0])
    assert (t * Duck())[0] == "rmul" and (t + Duck())[0] == "radd"
    with pytest.raises(TypeError, match=r"unsupported operand type\(s\) for -: 'Tensor' and 'Duck'"):
        t - Duck()
    with pytest.raises(TypeError, match="multiply: cannot use an argument of type Duck"):
        wg.multiply(t, Duck())  # a function call is not an operator: the error is wengert's


def test_astype_to_integers_is_a_constant_of_the_graph():
    """As PyTorch's .long() and JAX's astype(int): no gradient through integers, and no error."""
    x = wg.tensor([1.5, 2.5], requires_grad=True)
    i = x.astype(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad and i.tolist() == [1, 2]
    W = np.ones((5, 3))
    W[:, -1] = [0, 1, 1, 2, 4]
    g = wg.grad(lambda W: wg.sum(W[W[:, -1].astype(np.int64)]))(W)
    np.testing.assert_array_equal(g, np.array([1, 2, 1, 0, 1])[:, None] * np.ones((1, 3)))
