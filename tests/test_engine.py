"""The engine: tensors, backward, accumulation, release, higher order, grad modes, errors."""
from __future__ import annotations

import gc
import math
import weakref

import numpy as np
import pytest
from opspec import cube_gate

import wengert as wg


# ---------------------------------------------------------------- tensors
def test_tensor_basics():
    x = wg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.shape == (2, 2) and x.ndim == 2 and x.size == 4 and x.dtype == np.float64
    assert isinstance(x.data, np.ndarray) and x.grad is None and x.is_leaf
    assert len(x) == 2
    np.testing.assert_array_equal(np.asarray(x.detach()), [[1, 2], [3, 4]])
    with pytest.raises(TypeError, match=r"requires grad would drop its gradient.*wg.r_.*\.detach\(\)"):
        np.asarray(x)  # as PyTorch: the implicit conversion of a tensor that requires grad is refused
    with wg.no_grad():
        np.testing.assert_array_equal(np.asarray(x), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(x.T.data, [[1, 3], [2, 4]])
    assert x.numpy() is x.data
    s = wg.tensor(2.5)
    assert s.shape == () and s.item() == 2.5 and float(s) == 2.5 and isinstance(s.data, np.ndarray)
    assert "grad_fn=<multiply>" in repr(x * 2)
    assert "requires_grad=True" in repr(x)


def test_dtype_inference_follows_numpy():
    assert wg.tensor(1.0).dtype == np.float64
    assert wg.tensor(1).dtype == np.int64
    assert wg.tensor([True]).dtype == np.bool_
    assert wg.tensor(np.float32(1)).dtype == np.float32
    assert wg.tensor([1, 2], dtype="float32").dtype == np.float32


def test_tensor_copies_its_data():
    a = np.ones(3)
    t = wg.tensor(a)
    a[0] = 5
    assert t.data[0] == 1


def test_float32_stays_float32():
    x = wg.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    w = wg.tensor(np.ones((3, 4), dtype=np.float32), requires_grad=True)
    y = (wg.tanh(x @ w) * 2.0 + 1).sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


@pytest.mark.parametrize("name", ["maximum", "minimum", "add", "subtract", "multiply", "power", "arctan2"])
def test_a_number_promotes_the_same_on_either_side_of_a_binary_function(name):
    """wg.f(0.25, x) keeps x's float32, as wg.f(x, 0.25) and NumPy do, and as the jitted replay does."""
    f = getattr(wg, name)
    a = np.array(2.0, np.float32)
    for x in (a, np.full(3, 2.0, np.float32)):
        t = wg.tensor(x, requires_grad=True)
        left, right = f(0.25, t), f(t, 0.25)
        assert left.dtype == right.dtype == getattr(np, name)(0.25, x).dtype == np.float32
        np.testing.assert_array_equal(left.data, getattr(np, name)(0.25, x))
        jitted = wg.jit(lambda v, f=f: f(0.25, v))
        assert jitted(x).dtype == np.float32
        left.sum().backward()
        assert t.grad.dtype == np.float32
    assert type(f(0.25, 3.0)) is wg.Tensor  # (two numbers: still a Tensor back)


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        wg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        wg.tensor(3).requires_grad_()


@pytest.mark.parametrize("bad", [np.array([b"x"]), np.array([object()]), "text"])
def test_unsupported_dtypes_are_clear_errors(bad):
    with pytest.raises(TypeError, match="dtype|cannot make a tensor"):
        wg.tensor(bad)


# ---------------------------------------------------------------- backward
def test_seed_001_circuit():
    x, y, z = (wg.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    q = x + y
    f = q * z
    f.backward()
    assert f.item() == -12.0
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)


def test_gradients_accumulate_where_a_value_fans_out():
    x = wg.tensor(3.0, requires_grad=True)
    y = x * x + x  # x used three times
    y.backward()
    assert x.grad.item() == 7.0


def test_grad_accumulates_across_backward_calls_until_cleared():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6, 6])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3, 3])


def test_leaf_grads_do_not_alias():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    y = wg.tensor([1.0, 2.0], requires_grad=True)
    (x + y).backward(np.ones(2))
    x.grad.data[0] = 100
    assert y.grad.data[0] == 1


def test_broadcasting_is_undone():
    a = wg.tensor(np.ones((3, 1)), requires_grad=True)
    b = wg.tensor(np.arange(4.0), requires_grad=True)
    s = wg.tensor(2.0, requires_grad=True)
    ((a + b) * s).sum().backward()
    np.testing.assert_array_equal(a.grad.data, np.full((3, 1), 8.0))
    np.testing.assert_array_equal(b.grad.data, np.full(4, 6.0))
    assert s.grad.item() == float(np.sum(1 + np.arange(4.0)) * 3)


def test_repeated_indices_accumulate():
    x = wg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2, 0, 0])


def test_backward_with_explicit_cotangent():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.data, [2, 40])


def test_non_scalar_backward_needs_grad():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*pass grad="):
        (x * 2).backward()


def test_backward_grad_shape_must_match():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"grad has shape \(3,\) but the output has shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_constant_is_clear():
    with pytest.raises(RuntimeError, match="does not require grad"):
        wg.tensor(1.0).backward()


def test_graph_released_after_backward():
    x = wg.tensor(2.0, requires_grad=True)
    y = wg.exp(x) * 3
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = wg.tensor(2.0, requires_grad=True)
    y = wg.exp(x) * 3
    y.backward(retain_graph=True)
    y.backward()
    assert math.isclose(x.grad.item(), 6 * math.exp(2))


def test_intermediates_are_freed_after_backward():
    x = wg.tensor(np.ones(10), requires_grad=True)
    h = wg.tanh(x)
    ref = weakref.ref(h)
    y = (h * 2).sum()
    del h
    y.backward()
    assert ref() is None  # released by reference counting alone


def test_graph_has_no_reference_cycles():
    gc.collect()
    gc.disable()
    try:
        x = wg.tensor(np.ones(3), requires_grad=True)
        h = wg.sin(x) * x
        ref = weakref.ref(h)
        y = (h + 1).sum()
        del h, y
        assert ref() is None  # freed without the cyclic collector
    finally:
        gc.enable()


def test_retain_grad_on_intermediate():
    x = wg.tensor(3.0, requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).backward()
    assert h.grad.item() == 12.0 and x.grad.item() == 24.0


def test_detach_cuts_the_graph():
    x = wg.tensor(3.0, requires_grad=True)
    y = (x * 2).detach() * x
    y.backward()
    assert x.grad.item() == 6.0


def test_deep_chain_of_a_million_ops():
    x = wg.tensor(0.5, requires_grad=True)
    z = x
    for _ in range(1_000_000 // 3):
        z = wg.sin(z) * 1.0001 + 0.1
    z.backward()  # iterative: no RecursionError
    # the same derivative by the chain rule on floats
    v, d = 0.5, 1.0
    for _ in range(1_000_000 // 3):
        d *= math.cos(v) * 1.0001
        v = math.sin(v) * 1.0001 + 0.1
    assert math.isclose(z.item(), v, rel_tol=1e-12)
    assert math.isclose(x.grad.item(), d, rel_tol=1e-9)


# ---------------------------------------------------------------- higher order
def test_second_derivative_of_cube():
    x = wg.tensor(2.0, requires_grad=True)
    y = x**3
    y.backward(create_graph=True)
    g = x.grad
    assert g.item() == 12.0 and g.requires_grad
    x.grad = None
    g.backward()
    assert x.grad.item() == 12.0  # d2/dx2 x^3 = 6x


def test_third_derivative_of_sin():
    x = wg.tensor(0.7, requires_grad=True)
    y = wg.sin(x)
    y.backward(create_graph=True)
    g1 = x.grad
    x.grad = None
    g1.backward(create_graph=True)
    g2 = x.grad
    x.grad = None
    g2.backward()
    assert math.isclose(x.grad.item(), -math.cos(0.7), rel_tol=1e-12)


def test_mixed_second_derivative():
    x = wg.tensor(1.5, requires_grad=True)
    y = wg.tensor(-0.5, requires_grad=True)
    f = x * x * y + wg.exp(x * y)
    f.backward(create_graph=True)
    gx = x.grad
    x.grad = y.grad = None
    gx.backward()
    # d2f/dxdy = 2x + exp(xy) (1 + xy)
    assert math.isclose(y.grad.item(), 2 * 1.5 + math.exp(-0.75) * (1 - 0.75), rel_tol=1e-12)


# ---------------------------------------------------------------- grad modes
def test_no_grad_context_and_decorator():
    x = wg.tensor(1.0, requires_grad=True)
    with wg.no_grad():
        y = x * 2
        with wg.enable_grad():
            z = x * 2
    assert not y.requires_grad and z.requires_grad
    assert wg.is_grad_enabled()

    @wg.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad


def test_requires_grad_flag():
    x = wg.tensor(1.0)
    assert not (x * 2).requires_grad
    x.requires_grad_()
    assert (x * 2).requires_grad
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).requires_grad_(False)


# ---------------------------------------------------------------- custom Function
Cube = cube_gate()


def test_custom_function_backward():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name == "Cube"
    (y * wg.tensor([1.0, 1.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3, 12])


def test_custom_function_mixes_with_builtin_ops():
    x = wg.tensor(2.0, requires_grad=True)
    y = wg.sin(Cube.apply(x * 2)) + x
    y.backward()
    assert math.isclose(x.grad.item(), math.cos(64) * 3 * 16 * 2 + 1, rel_tol=1e-12)


def test_custom_function_is_first_order_only():
    x = wg.tensor(2.0, requires_grad=True)
    y = Cube.apply(x)
    with pytest.raises(RuntimeError, match="first-order"):
        y.backward(create_graph=True)


def test_custom_function_wrong_number_of_grads():
    class Bad(wg.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    a = wg.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="returned 1 gradients for 2 inputs"):
        Bad.apply(a, a).backward()


# ---------------------------------------------------------------- anomaly detection
def test_detect_anomaly_forward_names_op_and_site():
    x = wg.tensor(-1.0, requires_grad=True)
    with wg.detect_anomaly(), pytest.raises(FloatingPointError, match=r"forward of op 'log' produced nan.*test_engine"):
        wg.log(x)


def test_detect_anomaly_backward_names_op():
    x = wg.tensor(0.0, requires_grad=True)
    with wg.detect_anomaly():
        y = wg.sqrt(x)  # forward fine (0), backward 1/(2 sqrt 0) = inf
        with pytest.raises(FloatingPointError, match=r"backward of op 'sqrt' produced inf.*test_engine.py"):
            y.backward()


def test_without_anomaly_mode_nan_passes_silently_like_numpy():
    x = wg.tensor(-1.0, requires_grad=True)
    with np.errstate(invalid="ignore"):
        assert math.isnan(wg.log(x).item())


# ---------------------------------------------------------------- errors name the op and shapes
def test_shape_mismatch_names_op_and_shapes():
    a = wg.tensor(np.ones((2, 3)))
    with pytest.raises(wg.ShapeError, match=r"add: inputs of shapes \(2, 3\), \(4, 3\)"):
        a + np.ones((4, 3))
    with pytest.raises(wg.ShapeError, match=r"matmul: inputs of shapes \(2, 3\), \(2, 3\)"):
        a @ a


def test_setitem_on_tensor_requiring_grad_is_refused():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x[0] = 3.0
    c = wg.tensor([1.0, 2.0])
    c[0] = 3.0
    assert c.data[0] == 3.0


def test_tensors_are_not_pickled():
    import pickle

    with pytest.raises(TypeError, match="safetensors"):
        pickle.dumps(wg.tensor([1.0]))


# ---------------------------------------------------------------- NumPy interop
def test_numpy_functions_stay_in_the_graph():
    x = wg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = np.arange(3.0)
    y = np.sum(np.exp(x) * a, axis=0) + np.matmul(a, x) + np.concatenate([x, x]).sum()
    y = y + np.where(a > 0, x, 0).sum() + np.mean(np.tanh(x))
    assert isinstance(y, wg.Tensor)
    y.backward()
    expected = np.exp([1, 2, 3.0]) * a + a + 2 + (a > 0) + (1 - np.tanh([1, 2, 3.0]) ** 2) / 3
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


def test_ndarray_on_the_left_defers_to_tensor():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0]) * x
    assert isinstance(y, wg.Tensor) and y.requires_grad


def test_numpy_function_without_rule_is_a_clear_error():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="numpy.nancumsum has no wengert rule"):
        np.nancumsum(x)
    with pytest.raises(TypeError, match="numpy.spacing has no wengert rule"):
        np.spacing(x)
    with pytest.raises(TypeError, match="out="):
        np.exp(x, out=np.zeros(2))
    with pytest.raises(TypeError, match="add.reduce"):
        np.add.reduce(x)


def test_inspection_functions_work_on_data():
    x = wg.tensor([1.0, 2.0])
    assert np.shape(x) == (2,) and np.allclose(x, [1, 2]) and np.asarray(x).dtype == np.float64


def test_module_functions_exist():
    for name in ["exp", "log", "sum", "mean", "max", "matmul", "einsum", "concatenate", "stack", "where",
                 "softmax", "log_softmax", "logsumexp", "take_along_axis", "inv", "det", "solve", "split"]:
        assert callable(getattr(wg, name))
    assert isinstance(wg.exp([0.0, 1.0]), wg.Tensor)
