"""Complex numbers: tensors, HIPS autograd's convention on worked examples, finite differences in the
complex plane (real and imaginary parts perturbed, through wg.gradcheck), nesting, vmap, jit, the
errors of the ops that need an order, and PyTorch's complex autograd as a second oracle.

The per-op checks (every rule of the table on complex inputs, and the rules of ops/complex.py) are
the specs of tests/specs_complex.py, run by tests/test_ops.py.
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

RNG = np.random.default_rng(11)


def _z(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


# ------------------------------------------------------------------ tensors
def test_complex_tensors():
    z = wg.tensor(1 + 2j)
    assert z.dtype == np.complex128 and z.shape == () and z.item() == 1 + 2j
    assert wg.tensor([1j, 2]).dtype == np.complex128
    z64 = wg.tensor(np.array([1 + 1j], dtype=np.complex64), requires_grad=True)
    y = (z64 * z64 * 2.0).sum()
    assert y.dtype == np.complex64
    y.backward()
    assert z64.grad.dtype == np.complex64
    np.testing.assert_allclose(z64.grad.data, 4 * (1 + 1j), rtol=1e-6)
    assert "dtype=complex128" in repr(wg.tensor([1 + 2j]))
    # complex NumPy arrays and Python complex numbers as constants in ops
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    w = x * np.array([1j, 1 + 1j]) + 2j
    assert w.dtype == np.complex128
    wg.sum(wg.abs(w) ** 2).backward()   # |x0 i + 2i|^2 + |x1 (1 + i) + 2i|^2
    np.testing.assert_allclose(x.grad.data, [2 * (1 + 2), 2 * 2 * 2 + 2 * 2])
    assert x.grad.dtype == np.float64     # a real input gets a real gradient
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        wg.tensor([1, 2], requires_grad=True)


def test_tensor_attributes_and_numpy_dispatch():
    a = _z(2, 3)
    t = wg.tensor(a, requires_grad=True)
    for got, want in [(t.real, a.real), (t.imag, a.imag), (t.conj(), a.conj()), (t.conjugate(), a.conj()),
                      (t.angle(), np.angle(a)), (np.real(t), a.real), (np.imag(t), a.imag),
                      (np.conj(t), a.conj()), (np.conjugate(t), a.conj()), (np.angle(t, deg=True), np.angle(a, deg=True)),
                      (wg.conj(t), a.conj()), (np.abs(t), np.abs(a)), (np.exp(t), np.exp(a))]:
        assert isinstance(got, wg.Tensor) and got.requires_grad
        np.testing.assert_allclose(got.data, want, rtol=1e-13)
    r = wg.tensor([1.0, -2.0])
    np.testing.assert_array_equal(r.real.data, [1.0, -2.0])
    np.testing.assert_array_equal(r.imag.data, [0.0, 0.0])


# ------------------------------------------------------------------ the convention, on worked examples
def test_holomorphic_function_gives_the_complex_derivative():
    z0 = 0.7 - 1.3j
    assert np.isclose(wg.grad(lambda z: z * z)(z0), 2 * z0)
    assert np.isclose(wg.grad(lambda z: z ** 3)(z0), 3 * z0 ** 2)
    assert np.isclose(wg.grad(wg.exp)(z0), np.exp(z0))
    assert np.isclose(wg.grad(lambda z: 1.0 / z)(z0), -1 / z0 ** 2)
    assert np.isclose(wg.grad(wg.sin)(z0), np.cos(z0))
    z = wg.tensor(z0, requires_grad=True)
    (z * z).backward()                                   # backward() of a complex scalar: the same convention
    assert np.isclose(z.grad.item(), 2 * z0)
    # forward mode: a tangent dz gives f'(z) dz, for a real and an imaginary direction alike
    _, t1 = wg.jvp(lambda z: z * z, (z0,), (1.0 + 0j,))
    _, ti = wg.jvp(lambda z: z * z, (z0,), (1j,))
    assert np.isclose(t1, 2 * z0) and np.isclose(ti, 2j * z0)
    assert isinstance(wg.grad(lambda z: z * z)(z0), complex)   # a Python complex in, a Python complex out


def test_real_valued_function_gives_du_dx_minus_i_du_dy():
    z0 = 1.0 + 2.0j
    # f(z) = |z|^2 = x^2 + y^2:  du/dx - i du/dy = 2x - 2iy = 2 conj(z)
    for f in (lambda z: wg.abs(z) ** 2, lambda z: wg.real(z * wg.conj(z)), lambda z: z.real ** 2 + z.imag ** 2):
        assert np.isclose(wg.grad(f)(z0), 2 * np.conj(z0))
    assert np.isclose(wg.grad(wg.abs)(z0), np.conj(z0) / abs(z0))
    assert np.isclose(wg.grad(wg.real)(z0), 1.0)
    assert np.isclose(wg.grad(wg.imag)(z0), -1j)
    assert np.isclose(wg.grad(wg.angle)(z0), -1j / z0)
    assert np.isclose(wg.grad(lambda z: wg.real(wg.conj(z)))(z0), 1.0)
    # a step against conj(grad) decreases a real loss: the direction of steepest descent
    loss = lambda z: wg.abs(z - (3 - 1j)) ** 2
    z = 0.5 + 0.5j
    for _ in range(50):
        z = z - 0.1 * np.conj(wg.grad(loss)(z))
    assert abs(z - (3 - 1j)) < 1e-4


def test_a_real_function_with_complex_internals_gets_the_real_gradient():
    # cos x computed as Re(e^(ix)): the same gradient as a real implementation, and a real one
    g = wg.grad(lambda x: wg.real(wg.exp(1j * x)))(0.3)
    assert isinstance(g, float) and np.isclose(g, -np.sin(0.3))
    g = wg.grad(lambda x: wg.sum(wg.real(x)))(2.0)
    assert isinstance(g, float)
    g = wg.grad(lambda x: wg.sum(wg.real(x)))(1j)
    assert isinstance(g, complex)
    x = np.array([0.2, -1.0, 0.4])
    gr = wg.grad(lambda x: wg.sum(wg.abs(x * (1 + 2j)) ** 2))(x)
    assert gr.dtype == np.float64
    np.testing.assert_allclose(gr, 2 * 5 * x)


# ------------------------------------------------------------------ finite differences in the complex plane
FUNCTIONS = {
    "polynomial": (lambda z: z ** 3 - 2j * z + 1.0, [_z(3)]),
    "non-holomorphic": (lambda z: z * z * wg.conj(z) + wg.abs(z), [_z(4)]),
    "mixed real and complex": (lambda x, z: wg.exp(1j * x) * z + x * wg.real(z) ** 2, [RNG.standard_normal(3), _z(3)]),
    "real and imag": (lambda z: wg.real(z) * wg.imag(z) + wg.imag(z ** 2), [_z(2, 2)]),
    "angle in degrees": (lambda z: wg.angle(z, deg=True), [_z(3)]),
    "matmul": (lambda a, b: a @ b, [_z(2, 3), _z(3, 2)]),
    "inverse": (lambda a: wg.inv(a + 3 * np.eye(3)), [_z(3, 3)]),
    "mean": (lambda z: wg.mean(z, axis=0), [_z(3, 2)]),
    "var": (lambda z: wg.var(z, axis=1), [_z(2, 4)]),
    "std": (lambda z: wg.std(z), [_z(5)]),
    "norm": (lambda z: wg.norm(z), [_z(2, 3)]),
    "real_if_close (kept complex)": (lambda z: wg.real_if_close(z), [_z(3)]),
    "astype": (lambda x: wg.astype(x, np.complex128) * 1j, [RNG.standard_normal(3)]),
    "division and sqrt": (lambda z: wg.sqrt(z * z + 4.0) / (z + 3.0), [_z(3)]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_complex_functions_against_finite_differences(name):
    f, args = FUNCTIONS[name]
    check(f, *args)


def test_values_of_composites_match_numpy():
    z = _z(3, 4)
    for got, want in [(wg.var(z), np.var(z)), (wg.std(z, axis=0), np.std(z, axis=0)), (wg.norm(z), np.linalg.norm(z)),
                      (wg.mean(z, axis=1), np.mean(z, axis=1)), (wg.var(z, ddof=1), np.var(z, ddof=1))]:
        assert got.dtype == np.asarray(want).dtype
        np.testing.assert_allclose(got.data, want, rtol=1e-13)


def test_second_order_and_nesting():
    z0 = 0.4 + 0.9j
    assert np.isclose(wg.grad(wg.grad(lambda z: z ** 3))(z0), 6 * z0)          # holomorphic: f''(z)
    d2 = wg.jvp(lambda z: wg.jvp(lambda w: w ** 3, (z,), (1.0 + 0j,))[1], (z0,), (1.0 + 0j,))[1]
    assert np.isclose(d2, 6 * z0)
    # forward over reverse of a real loss: the Hessian of x^4 + y^4 + x y^2 as a 2x2 real map
    loss = lambda z: z.real ** 4 + z.imag ** 4 + z.real * z.imag ** 2
    x, y = 0.4, 0.9
    hx = wg.hvp(loss, z0, 1.0 + 0j)               # d/dx of (du/dx - i du/dy)
    hy = wg.hvp(loss, z0, 1j)                     # d/dy of it
    assert np.isclose(hx, (12 * x ** 2) - 1j * (2 * y))
    assert np.isclose(hy, (2 * y) - 1j * (12 * y ** 2 + 2 * x))


def test_jacobians_of_a_holomorphic_function_are_complex_derivatives():
    f = lambda z: z ** 2 + wg.sum(z) * z
    z = _z(3)
    want = np.diag(2 * z) + np.diag(np.full(3, np.sum(z))) + z[:, None] * np.ones((1, 3))
    np.testing.assert_allclose(wg.jacfwd(f)(z), want, rtol=1e-12)
    np.testing.assert_allclose(wg.jacrev(f)(z), want, rtol=1e-12)


def test_vmap_and_jit_of_complex_functions():
    loss = lambda z: wg.sum(wg.abs(wg.exp(z) - 1.0) ** 2)
    zs = _z(4, 3)
    per_example = np.stack([wg.grad(loss)(z) for z in zs])
    np.testing.assert_allclose(wg.vmap(wg.grad(loss))(zs), per_example, rtol=1e-12)
    np.testing.assert_allclose(wg.jit(wg.grad(loss))(zs[0]), per_example[0], rtol=1e-12)
    f = wg.jit(lambda z: wg.conj(z) * z ** 2 + wg.angle(z))
    np.testing.assert_allclose(f(zs), np.conj(zs) * zs ** 2 + np.angle(zs), rtol=1e-12)
    np.testing.assert_allclose(f(zs[1:]), np.conj(zs[1:]) * zs[1:] ** 2 + np.angle(zs[1:]), rtol=1e-12)
    np.testing.assert_allclose(wg.vmap(wg.real_if_close)(np.array([[1 + 1e-16j], [1 + 1j]])), [[1 + 0j], [1 + 1j]])


# ------------------------------------------------------------------ the new ops
def test_real_if_close_values_dtype_and_gradient():
    a = np.array([1.0 + 1e-15j, -2.0])
    t = wg.tensor(a, requires_grad=True)
    r = wg.real_if_close(t)
    assert r.dtype == np.float64 and r.dtype == np.real_if_close(a).dtype
    (r * np.array([2.0, 3.0])).sum().backward()
    assert t.grad.dtype == np.complex128
    np.testing.assert_array_equal(t.grad.data, [2.0, 3.0])
    assert wg.real_if_close(np.array([1 + 1e-3j])).dtype == np.complex128
    assert wg.real_if_close(np.array([1 + 1e-14j]), tol=1000).dtype == np.float64
    assert isinstance(np.real_if_close(t), wg.Tensor)


def test_max_and_min_keep_numpys_order():
    a = np.array([1 + 5j, 2 - 1j, 2 + 3j, -4 + 0j])            # by real part, then imaginary part
    t = wg.tensor(a, requires_grad=True)
    m = wg.max(t)
    assert m.item() == np.max(a) == 2 + 3j
    assert wg.argmax(t).item() == np.argmax(a) == 2 and wg.min(t).item() == np.min(a)
    m.backward()
    np.testing.assert_array_equal(t.grad.data, [0, 0, 1, 0])    # the gradient goes to the element picked


def test_complex_tests():
    a = np.array([1.0, 2 + 1j, 3j, 0.0 + 0j])
    t = wg.tensor(a)
    np.testing.assert_array_equal(wg.iscomplex(t).data, np.iscomplex(a))
    np.testing.assert_array_equal(wg.isreal(t).data, np.isreal(a))
    np.testing.assert_array_equal(np.iscomplex(t).data, np.iscomplex(a))
    np.testing.assert_array_equal(np.isreal(t).data, np.isreal(a))
    np.testing.assert_array_equal(wg.iscomplex(np.array([1.0, 2.0])).data, [False, False])
    assert wg.iscomplexobj(t) is True and np.iscomplexobj(t) is True and wg.isrealobj(t) is False
    assert wg.iscomplexobj(wg.tensor([1.0])) is False and np.isrealobj(wg.tensor([1.0])) is True
    # they read the dtype, not the values: fine under jit and vmap
    assert wg.jit(lambda z: z * 2 if wg.iscomplexobj(z) else z)(a).dtype == np.complex128
    np.testing.assert_array_equal(wg.vmap(wg.iscomplex)(a[:, None]), np.iscomplex(a)[:, None])


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("op", [
    lambda z: wg.maximum(z, 0.0), lambda z: wg.minimum(z, 1j), wg.relu, lambda z: z > 0, lambda z: z <= 1j,
    lambda z: wg.clip(z, 0, 1), lambda z: wg.fmax(z, 0.0), lambda z: np.fmin(z, 1.0), wg.fabs, wg.logsumexp, wg.sigmoid, wg.softplus,
    lambda z: wg.leaky_relu(z), wg.elu, lambda z: wg.softmax(z, axis=-1)])
def test_ops_that_need_real_numbers_name_themselves(op):
    with pytest.raises(TypeError, match=r"^\w+: complex inputs are not supported: .+; (compare|apply|write|use) "):
        op(wg.tensor(_z(3)))


def test_scipy_special_functions_of_complex_arguments():
    special = pytest.importorskip("wengert.scipy.special")
    import scipy.special as sc

    z = np.array([0.7 + 0.4j, 1.2 - 0.3j])
    for name in ("erf", "erfc", "gamma", "rgamma"):
        np.testing.assert_allclose(getattr(special, name)(z).data, getattr(sc, name)(z), rtol=1e-12)
        check(getattr(special, name), z, order=1)
    check(lambda a: special.jv(1.5, a), z)
    with pytest.raises(TypeError, match="polygamma: complex inputs are not supported: SciPy defines polygamma"):
        special.polygamma(1, z)
    with pytest.raises(TypeError, match="ive: complex inputs are not supported: for complex z its scale"):
        special.ive(1.0, z)


def test_ordered_ops_say_why():
    with pytest.raises(TypeError, match="maximum: complex inputs are not supported: complex numbers are not ordered; "
                                        "compare wg.real"):
        wg.maximum(wg.tensor([1j]), wg.tensor([2.0]))
    with pytest.raises(TypeError, match="rfft: complex inputs .* use wg.fft.fft for complex input"):
        wg.fft.rfft(wg.tensor(_z(4)))


@pytest.mark.parametrize("name", ["svd", "eigh", "eig", "qr", "cholesky", "slogdet", "pinv", "norm"])
def test_decompositions_take_complex_matrices(name):
    """They refused complex matrices; now they give NumPy's results, dtypes included (their derivatives:
    tests/test_linalg.py and the NAME@complex specs of tests/specs_linalg.py)."""
    a = _z(3, 3)
    a = a @ np.conj(a.T) + np.eye(3)  # (Hermitian positive definite, for cholesky)
    ours = getattr(wg.linalg, name)(wg.tensor(a)) if name != "norm" else wg.norm(wg.tensor(a), "nuc")
    theirs = getattr(np.linalg, name)(a) if name != "norm" else np.linalg.norm(a, "nuc")
    for got, want in zip(ours if isinstance(ours, tuple) else [ours], theirs if isinstance(ours, tuple) else [theirs]):
        assert got.dtype == np.asarray(want).dtype
        np.testing.assert_allclose(got.data, want, rtol=1e-12, atol=1e-12)


def test_norms_of_complex_values_are_real():
    z = _z(3, 4)
    for got, want in [(wg.norm(z), np.linalg.norm(z)), (wg.norm(z, "fro"), np.linalg.norm(z, "fro")),
                      (wg.norm(z, axis=1), np.linalg.norm(z, axis=1)), (wg.norm(z, 3, axis=0), np.linalg.norm(z, 3, axis=0)),
                      (wg.linalg.vector_norm(z), np.linalg.vector_norm(z)),
                      (wg.linalg.vecdot(z, z[::-1]), np.linalg.vecdot(z, z[::-1]))]:
        assert got.dtype == np.asarray(want).dtype
        np.testing.assert_allclose(got.data, want, rtol=1e-12)
    check(lambda a: wg.norm(a, axis=0), z)
    check(lambda a: wg.linalg.vecdot(a, a[::-1]), z)


def test_bad_cotangents_and_tangents_are_clear():
    _, pull = wg.vjp(lambda x: x * 2.0, np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="cotangent for output 0 is complex .complex128. but the output is real"):
        pull(np.array([1j, 1.0]))
    with pytest.raises(TypeError, match="tangent for primal 0 has dtype float64 but its primal has dtype complex128"):
        wg.jvp(lambda z: z * z, (np.array([1j]),), (np.array([1.0]),))
    with pytest.raises(TypeError, match="tangent for primal 0 has dtype complex128 but its primal has dtype float64"):
        wg.jvp(lambda z: z * z, (np.array([1.0]),), (np.array([1j]),))
    with pytest.raises(TypeError, match="dtype int64; derivatives are defined for float32, float64, complex64"):
        wg.grad(lambda x: x)(np.array(1))


def test_optimizers_refuse_complex_parameters():
    # their update theta -= lr * grad would climb in the imaginary part (descent is along -conj(grad))
    with pytest.raises(TypeError, match="SGD: can only optimise floating-point tensors, got complex128; keep the real"):
        wg.optim.SGD([wg.tensor([1j], requires_grad=True)], lr=0.1)


def test_checkpoints_still_refuse_complex_arrays(tmp_path):
    with pytest.raises(TypeError, match="dtype complex128; only bool, integer and float"):
        wg.save({"w": wg.tensor([1 + 1j])}, tmp_path / "c.safetensors")


def test_trace_tables_keep_complex_inputs():
    t = wg.trace(lambda z: wg.abs(z * z), 1 + 2j)                 # |z|^2: the adjoint of z is 2 conj(z)
    assert "(1+2j)" in str(t) and "(2-4j)" in str(t)


def test_gradcheck_catches_a_wrong_complex_backward():
    class Abs2(wg.Function):                      # |z|^2 with the conjugate forgotten in backward
        @staticmethod
        def forward(ctx, z):
            ctx.save_for_backward(z)
            return wg.real(z * wg.conj(z))

        @staticmethod
        def backward(ctx, g):
            (z,) = ctx.saved_tensors
            return 2 * g * z                      # right: 2 g conj(z)

    with pytest.raises(wg.GradcheckError):
        wg.gradcheck(Abs2.apply, np.array([1 + 2j]))


# ------------------------------------------------------------------ PyTorch as a second oracle
# PyTorch's z.grad of a real loss L is dL/dx + i dL/dy, the conjugate of autograd's dL/dx - i dL/dy, and
# a complex output's grad_output v there stands for our cotangent conj(v).  So for any function (holomorphic
# or not): torch.autograd.grad(f(z), z, v) == conj(vjp(f, z)(conj(v))).
TORCH_PAIRS = {} if torch is None else {
    "z^2 conj(z)": (lambda z: z ** 2 * wg.conj(z), lambda z: z ** 2 * torch.conj(z)),
    "abs": (wg.abs, torch.abs),
    "angle": (wg.angle, torch.angle),
    "real * imag": (lambda z: wg.real(z) * wg.imag(z), lambda z: torch.real(z) * torch.imag(z)),
    "exp, log": (lambda z: wg.log(wg.exp(z) + 2.0), lambda z: torch.log(torch.exp(z) + 2.0)),
    "sqrt, divide": (lambda z: wg.sqrt(z * z + 4.0) / (z + 3.0), lambda z: torch.sqrt(z * z + 4.0) / (z + 3.0)),
    "tanh, sinh": (lambda z: wg.tanh(z) * wg.sinh(z), lambda z: torch.tanh(z) * torch.sinh(z)),
    "matmul": (lambda z: z @ wg.transpose(z), lambda z: z @ z.T),
    "var": (lambda z: wg.var(z, axis=0), lambda z: torch.var(z, dim=0, unbiased=False)),
    "norm": (wg.norm, torch.linalg.norm),
}


@pytest.mark.parametrize("name", sorted(TORCH_PAIRS))
@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_against_pytorch(name):
    fw, ft = TORCH_PAIRS[name]
    z = _z(3, 3)
    out, pull = wg.vjp(fw, z)
    out = np.asarray(out)
    v = RNG.standard_normal(out.shape) + (1j * RNG.standard_normal(out.shape) if np.iscomplexobj(out) else 0)
    zt = torch.tensor(z, requires_grad=True)
    yt = ft(zt)
    np.testing.assert_allclose(out, yt.detach().resolve_conj().numpy(), rtol=1e-12, atol=1e-12)
    (gt,) = torch.autograd.grad(yt, zt, grad_outputs=torch.tensor(v))
    np.testing.assert_allclose(np.conj(pull(np.conj(v))[0]), gt.resolve_conj().numpy(), rtol=1e-10, atol=1e-12)


def test_real_if_close_under_jit_refuses_a_change_of_outcome():
    """The output's dtype depends on the values: a program compiled for one outcome must not replay the other."""
    f = wg.jit(lambda z: wg.sum(wg.abs(wg.real_if_close(z))))
    near = np.array([-1.0 + 1e-17j, 2.0 + 0j])
    assert f(near) == pytest.approx(3.0)
    with pytest.raises(ValueError, match=r"real_if_close: this input has imaginary parts that are not negligible, "
                                          r"but wg.jit compiled the function for one with negligible"):
        f(np.array([-1.0 + 1.0j, 2.0 + 0j]))
    g = wg.jit(wg.grad(lambda z: wg.sum(wg.abs(wg.real_if_close(z)))))
    far = np.array([-1.0 + 1.0j, 2.0 + 0j])
    np.testing.assert_allclose(g(far), wg.grad(lambda z: wg.sum(wg.abs(wg.real_if_close(z))))(far))
