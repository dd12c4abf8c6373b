"""wg.fft: values against np.fft for every function and argument form, NumPy dispatch, derivatives
against finite differences (both modes, order 2, real and complex inputs), vmap against a loop, jit,
frequencies, a real-to-real function computed through FFTs, errors, and PyTorch's torch.fft as a
second oracle.  The four primitives (fft, ifft, rfft, irfft) and the shifts are also checked per op
by tests/test_ops.py from tests/specs_complex.py.
"""
from __future__ import annotations

import numpy as np
import pytest
from opspec import check_grads as check

import wengert as wg

try:
    import torch
except ImportError:  # pragma: no cover - torch is in the test extra
    torch = None

RNG = np.random.default_rng(5)


def _real(*shape):
    return RNG.standard_normal(shape)


def _cplx(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def _hermitian(*shape):
    """A half spectrum, as the inverse real transforms take: rfftn of a real array."""
    return np.fft.rfftn(_real(*shape[:-1], 2 * (shape[-1] - 1)))


# (function name, input, keyword arguments): every function, with n / s / axes / norm forms
CASES = [
    ("fft", _cplx(5), {}), ("fft", _real(3, 4), {"n": 6, "axis": 0, "norm": "ortho"}),
    ("ifft", _cplx(2, 5), {"n": 3, "norm": "forward"}),
    ("rfft", _real(6), {}), ("rfft", _real(2, 5), {"n": 4, "axis": -1, "norm": "ortho"}),
    ("irfft", _cplx(4), {}), ("irfft", _cplx(3, 4), {"n": 7, "axis": 0}),
    ("hfft", _cplx(4), {}), ("hfft", _cplx(2, 3), {"n": 5, "norm": "ortho"}),
    ("ihfft", _real(6), {}), ("ihfft", _real(3, 5), {"n": 4, "axis": 0, "norm": "forward"}),
    ("fft2", _cplx(3, 4), {}), ("fft2", _real(2, 3, 4), {"s": (4, 2), "axes": (0, 2), "norm": "ortho"}),
    ("ifft2", _cplx(3, 4), {"s": (2, 5), "axes": (-2, -1)}),
    ("fftn", _cplx(2, 3, 2), {}), ("fftn", _real(3, 4), {"axes": (0, 0)}),   # a repeated axis: two transforms
    ("ifftn", _cplx(2, 3, 4), {"s": (3, 3), "axes": (1, 2), "norm": "forward"}),
    ("rfft2", _real(4, 6), {}), ("rfft2", _real(2, 4, 5), {"s": (3, 4), "axes": (0, 2)}),
    ("irfft2", _hermitian(4, 4), {}), ("irfft2", _cplx(3, 4), {"s": (4, 5)}),
    ("rfftn", _real(2, 3, 4), {}), ("rfftn", _real(3, 5), {"s": (2, 6), "axes": (1, 0), "norm": "ortho"}),
    ("irfftn", _hermitian(2, 3, 3), {}), ("irfftn", _cplx(3, 4), {"s": (4, 5), "axes": (0, 1)}),
    ("fftshift", _real(4, 5), {}), ("fftshift", _cplx(4, 5), {"axes": 1}),
    ("ifftshift", _real(5, 3), {"axes": (0,)}),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


@pytest.mark.parametrize("name,x,kw", CASES, ids=IDS)
def test_values_match_numpy_and_numpy_dispatches(name, x, kw):
    want = getattr(np.fft, name)(x, **kw)
    got = getattr(wg.fft, name)(x, **kw)
    assert isinstance(got, wg.Tensor) and got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)
    t = wg.tensor(x, requires_grad=True)
    via_numpy = getattr(np.fft, name)(t, **kw)
    assert isinstance(via_numpy, wg.Tensor) and via_numpy.requires_grad
    np.testing.assert_allclose(via_numpy.data, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,x,kw", CASES, ids=IDS)
def test_derivatives_against_finite_differences(name, x, kw):
    check(lambda a: getattr(wg.fft, name)(a, **kw), x)


@pytest.mark.parametrize("name,x,kw", CASES[::3], ids=IDS[::3])
def test_vmap_matches_a_loop(name, x, kw):
    f = lambda a: getattr(wg.fft, name)(a, **kw)
    xs = np.stack([x, x * 0.5 + 1.0, -x])
    want = np.stack([np.asarray(f(a).data) for a in xs])
    np.testing.assert_allclose(wg.vmap(f)(xs), want, rtol=1e-12, atol=1e-12)
    u = RNG.standard_normal(want.shape[1:]) + (1j * RNG.standard_normal(want.shape[1:]) if np.iscomplexobj(want) else 0)
    g = wg.grad(lambda a: wg.sum(wg.real(f(a) * u)))
    np.testing.assert_allclose(wg.vmap(g)(xs), np.stack([g(a) for a in xs]), rtol=1e-10, atol=1e-12)


def test_jit():
    f = wg.jit(lambda x: wg.fft.irfft2(wg.fft.rfft2(x) * np.exp(-np.arange(3)), s=(4, 4)))
    x = _real(4, 4)
    want = np.fft.irfft2(np.fft.rfft2(x) * np.exp(-np.arange(3)), s=(4, 4))
    np.testing.assert_allclose(f(x), want, rtol=1e-12)
    np.testing.assert_allclose(f(x + 1.0), np.fft.irfft2(np.fft.rfft2(x + 1.0) * np.exp(-np.arange(3)), s=(4, 4)),
                               rtol=1e-12)
    g = wg.jit(wg.grad(lambda z: wg.sum(wg.abs(wg.fft.fft(z, norm="ortho")) ** 2)))   # Parseval: 2 conj(z)
    z = _cplx(6)
    np.testing.assert_allclose(g(z), 2 * np.conj(z), rtol=1e-12)


def test_frequencies():
    for n, d in ((5, 0.1), (8, 1.0), (1, 2.0)):
        np.testing.assert_allclose(wg.fft.fftfreq(n, d).data, np.fft.fftfreq(n, d), rtol=1e-15)
        np.testing.assert_allclose(wg.fft.rfftfreq(n, d).data, np.fft.rfftfreq(n, d), rtol=1e-15)
    assert isinstance(wg.fft.fftfreq(4), wg.Tensor)
    # the sample spacing may be a tensor, with a gradient: d/dd (k / (n d)) = -k / (n d^2)
    d = wg.tensor(0.5, requires_grad=True)
    wg.sum(wg.fft.fftfreq(6, d) * np.arange(6)).backward()
    k = np.fft.fftfreq(6, 1.0) * 6
    assert np.isclose(d.grad.item(), np.sum(-k / (6 * 0.25) * np.arange(6)))
    assert np.isclose(wg.grad(lambda d: wg.sum(wg.fft.rfftfreq(5, d)))(2.0), -np.sum(np.arange(3) / 5) / 4.0)
    np.testing.assert_allclose(np.fft.fftfreq(4, d=wg.tensor(0.5)).data, np.fft.fftfreq(4, 0.5))


def test_a_real_function_through_ffts_matches_the_direct_computation():
    # circular convolution with a kernel, by the convolution theorem, then a loss: the gradient is the
    # one of the same function written with a circulant matrix (autograd's third case: real to real)
    x, k = _real(8), _real(8)
    C = np.stack([np.roll(k, i) for i in range(8)], axis=1)       # (C x)_j = sum_i k_(j-i) x_i
    via_fft = lambda x: wg.sum(wg.tanh(wg.fft.irfft(wg.fft.rfft(x) * np.fft.rfft(k), n=8)))
    direct = lambda x: wg.sum(wg.tanh(C @ x))
    np.testing.assert_allclose(via_fft(x).item(), direct(x).item(), rtol=1e-12)
    g = wg.grad(via_fft)(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, wg.grad(direct)(x), rtol=1e-10)
    np.testing.assert_allclose(wg.hvp(via_fft, x, k), wg.hvp(direct, x, k), rtol=1e-9, atol=1e-12)


def test_float32_stays_single_precision():
    x = wg.tensor(_real(8).astype(np.float32), requires_grad=True)
    X = wg.fft.rfft(x)
    assert X.dtype == np.complex64
    wg.sum(wg.abs(X) ** 2).backward()
    assert x.grad.dtype == np.float32


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match='fft: norm must be "backward", "ortho" or "forward"'):
        wg.fft.fft(_real(4), norm="sideways")
    with pytest.raises(ValueError, match='norm must be'):
        wg.fft.fftn(_real(2, 2), norm="sideways")
    with pytest.raises(TypeError, match="rfft: complex inputs are not supported: rfft transforms real input; use wg.fft.fft"):
        wg.fft.rfft(_cplx(4))
    with pytest.raises(ValueError, match="Invalid number of FFT data points"):
        wg.fft.fft(_real(4), n=0)
    with pytest.raises(ValueError, match=r"fft: s \(3,\) and axes \(0, 1\) have different lengths"):
        wg.fft.fftn(_real(3, 3), s=(3,), axes=(0, 1))
    with pytest.raises(ValueError, match="fft.fftfreq: n should be an integer, got 2.5"):
        wg.fft.fftfreq(2.5)
    x = _real(3, 4)
    with pytest.warns(DeprecationWarning, match="axes. should not be None if .s. is not None"):  # as NumPy 2 warns
        got = wg.fft.fftn(x, s=(2, 4))
    np.testing.assert_allclose(got.data, np.fft.fftn(x, s=(2, 4), axes=(0, 1)), rtol=1e-12)


# ------------------------------------------------------------------ PyTorch's torch.fft as a second oracle
# The mapping of conventions (tests/test_complex.py): torch's input gradient for grad_output v is
# conj(our vjp(conj(v))), whether the input or the output is real or complex.
TORCH = [
    ("fft", _cplx(5), {"n": 7, "norm": "ortho"}), ("ifft", _cplx(2, 4), {"dim": 0}),
    ("rfft", _real(6), {}), ("irfft", _cplx(4), {}), ("irfft", _cplx(2, 4), {"n": 5, "norm": "forward"}),
    ("hfft", _cplx(4), {"n": 7}), ("ihfft", _real(6), {}),
    ("fft2", _cplx(3, 4), {"s": (4, 3)}), ("rfftn", _real(2, 3, 4), {}), ("irfftn", _cplx(3, 3), {"s": (3, 4), "dim": (0, 1)}),
    ("fftshift", _cplx(5), {}),
]


@pytest.mark.parametrize("name,x,kw", TORCH, ids=[f"{c[0]}-{i}" for i, c in enumerate(TORCH)])
@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_against_pytorch(name, x, kw):
    ours = dict(kw)
    if "dim" in ours:  # torch's dim is NumPy's axis (1-D) or axes (n-D)
        ours["axis" if name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft") else "axes"] = ours.pop("dim")
    out, pull = wg.vjp(lambda a: getattr(wg.fft, name)(a, **ours), x)
    out = np.asarray(out)
    xt = torch.tensor(x, requires_grad=True)
    yt = getattr(torch.fft, name)(xt, **kw)
    np.testing.assert_allclose(out, yt.detach().resolve_conj().numpy(), rtol=1e-12, atol=1e-12)
    v = RNG.standard_normal(out.shape) + (1j * RNG.standard_normal(out.shape) if np.iscomplexobj(out) else 0)
    (gt,) = torch.autograd.grad(yt, xt, grad_outputs=torch.tensor(v))
    np.testing.assert_allclose(np.conj(pull(np.conj(v))[0]), gt.resolve_conj().numpy(), rtol=1e-10, atol=1e-12)
