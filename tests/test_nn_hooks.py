"""Module hooks (forward pre-hooks, forward hooks, full backward hooks) against PyTorch's semantics, removable
handles, and the notebook display of modules."""
from __future__ import annotations

import numpy as np
import pytest

import wengert as wg
from wengert import nn

F64 = np.float64


def test_forward_pre_hook_and_forward_hook_see_and_replace_values():
    lin = nn.Linear(2, 2, dtype=F64, rng=0)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append(("pre", m, args[0].shape)))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(("post", m, out.shape)))
    x = np.ones((3, 2))
    y = lin(x)
    assert calls == [("pre", lin, (3, 2)), ("post", lin, (3, 2))]
    # a pre-hook's non-tuple result becomes the only argument; a forward hook's result replaces the output
    h3 = lin.register_forward_pre_hook(lambda m, args: args[0] * 0.0)
    h4 = lin.register_forward_hook(lambda m, args, out: out + 1.0)
    np.testing.assert_allclose(lin(x).data, np.tile(lin.bias.data + 1.0, (3, 1)))
    for h in (h1, h2, h3, h4):
        h.remove()
    h4.remove()  # a second remove does nothing
    calls.clear()
    np.testing.assert_array_equal(lin(x).data, y.data)
    assert calls == []


def test_hook_order_prepend_kwargs_and_context_manager():
    relu = nn.ReLU()
    order = []
    relu.register_forward_hook(lambda m, a, o: order.append("a"))
    relu.register_forward_hook(lambda m, a, o: order.append("b"))
    relu.register_forward_hook(lambda m, a, o: order.append("first"), prepend=True)
    relu(np.ones(2))
    assert order == ["first", "a", "b"]

    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return wg.tensor(x) * factor

    m = Scale()
    with m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True):
        assert m(np.ones(2)).data.tolist() == [3.0, 3.0]
    assert m(np.ones(2)).data.tolist() == [1.0, 1.0]  # removed on leaving the with block
    seen = []
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(kwargs), with_kwargs=True)
    m(np.ones(2), factor=2.0)
    assert seen == [{"factor": 2.0}]
    with pytest.raises(TypeError, match="the hook must be callable"):
        m.register_forward_hook("not a function")
    m2 = Scale()
    m2.register_forward_pre_hook(lambda mod, args, kwargs: "bad", with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"must return None or a tuple \(args, kwargs\)"):
        m2(np.ones(2))


def test_hooks_run_inside_sequential():
    net = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Tanh(), nn.Linear(3, 1, rng=1))
    shapes = {}
    for name, m in net.named_children():
        m.register_forward_hook(lambda mod, args, out, name=name: shapes.__setitem__(name, out.shape))
    net(np.ones((4, 2), np.float32))
    assert shapes == {"0": (4, 3), "1": (4, 3), "2": (4, 1)}


class _TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(np.array([1.5, -2.0]), dtype=F64)

    def forward(self, a, b, scale):
        return a * self.w + wg.tanh(b) * scale, a * b


def test_full_backward_hook_matches_pytorch():
    torch = pytest.importorskip("torch")

    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([1.5, -2.0], dtype=torch.float64))

        def forward(self, a, b, scale):
            return a * self.w + torch.tanh(b) * scale, a * b

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    got, want = [], []
    m, tm = _TwoInputs(), T()
    m.register_full_backward_hook(lambda mod, gi, go: got.append((gi, go)))
    tm.register_full_backward_hook(lambda mod, gi, go: want.append((gi, go)))
    at, bt = wg.tensor(a, requires_grad=True), wg.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    o1, o2 = m(at, bt, 2.0)
    t1, t2 = tm(ta, tb, 2.0)
    (wg.sum(o1 * o1) + wg.sum(o2)).backward()
    ((t1 * t1).sum() + t2.sum()).backward()
    assert len(got) == len(want) == 1
    (gi, go), (tgi, tgo) = got[0], want[0]
    assert len(gi) == len(tgi) == 3 and gi[2] is None and tgi[2] is None  # the float argument has no gradient
    for x, tx in zip(gi[:2] + go, tgi[:2] + tgo):
        np.testing.assert_allclose(x.data, tx.numpy(), rtol=1e-12)
    np.testing.assert_allclose(at.grad.data, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(m.w.grad.data, tm.w.grad.numpy(), rtol=1e-12)


def test_full_backward_hook_can_replace_grad_input_and_pre_hook_grad_output():
    lin = nn.Linear(2, 2, dtype=F64, rng=0)
    x = wg.tensor(np.ones((3, 2)), requires_grad=True)
    h = lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0.0 + 7.0,))
    lin(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((3, 2), 7.0))
    h.remove()
    x.grad = None
    lin.zero_grad()
    lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 2.0,))
    lin(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2.0 * np.ones((3, 2)) @ lin.weight.data)
    np.testing.assert_allclose(lin.bias.grad.data, [6.0, 6.0])  # the doubled grad_output reaches the parameters
    lin2 = nn.Linear(2, 2, dtype=F64, rng=0)
    lin2.register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="returned 2 gradients for 1 inputs"):
        lin2(x).sum().backward()


def test_full_backward_hook_fires_without_input_gradients():
    lin = nn.Linear(2, 1, dtype=F64, rng=0)
    seen = []
    lin.register_full_backward_hook(lambda m, gi, go: seen.append((gi, go[0].shape)))
    lin(np.ones((4, 2))).sum().backward()  # the input is data: no gradient, the parameters have one
    assert seen == [((None,), (4, 1))]
    with wg.no_grad():
        lin(np.ones((4, 2)))  # nothing recorded, no hook
    assert len(seen) == 1


def test_full_backward_hook_is_first_order_with_a_clear_error():
    lin = nn.Linear(2, 1, dtype=F64, rng=0)
    lin.register_full_backward_hook(lambda m, gi, go: None)
    x = wg.tensor(np.ones((1, 2)), requires_grad=True)
    with pytest.raises(RuntimeError, match="is first-order"):
        wg.grad(lambda t: wg.sum(wg.grad(lambda u: wg.sum(lin(u) ** 2))(t) ** 2))(x)


def test_module_displays_as_an_html_table():
    net = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Sequential(nn.Linear(3, 1, rng=1)))
    page = net._repr_html_()
    assert page.startswith("<table>") and page.endswith("</table>")
    assert "Sequential: 13 trainable numbers (float32)" in page
    assert "<td style='text-align:left'>Linear</td>" in page and "weight (3, 2), bias (3,)" in page
    assert "padding-left:4em'>0</td>" in page  # the nested Linear is indented twice
    net.eval()
    assert ", evaluation mode" in net._repr_html_()
    assert "&lt;" in nn.Module._repr_html_(_Named())  # settings are escaped


class _Named(nn.Module):
    def extra_repr(self):
        return "tag=<b>"


def test_sequential_runs_each_layer_as_its_call_would():
    """Layers with hooks, and layers that define their own __call__, go through __call__; others run forward."""
    import numpy as np

    from wengert import nn

    seen = []

    class Loud(nn.Module):
        def forward(self, x):
            return x * 2.0

        def __call__(self, x):
            seen.append("call")
            return super().__call__(x) + 1.0

    hooked = nn.ReLU()
    hooked.register_forward_hook(lambda m, args, out: out * 10.0)
    net = nn.Sequential(Loud(), hooked, nn.Identity())
    out = net(np.array([-1.0, 2.0]))
    assert seen == ["call"]
    np.testing.assert_allclose(out.data, [0.0, 50.0])  # relu(x * 2 + 1) * 10
