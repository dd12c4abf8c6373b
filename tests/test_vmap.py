"""wg.vmap: JAX's semantics, composition with every transform, per-example gradients, and its errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from opspec import cube_gate

import wengert as wg
from wengert import nn
from wengert.jit import JitFallbackWarning


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _loop(f, *args, in_axes):
    """The reference: f on each example, stacked (in_axes per argument: 0 or None)."""
    n = next(np.shape(a)[0] for a, ax in zip(args, in_axes) if ax == 0)
    return np.stack([np.asarray(f(*[a[i] if ax == 0 else a for a, ax in zip(args, in_axes)])) for i in range(n)])


def test_in_axes_and_out_axes(rng):
    W, X = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    f = lambda w, x: wg.tanh(w @ x)
    np.testing.assert_allclose(wg.vmap(f, in_axes=(None, 0))(W, X), _loop(f, W, X, in_axes=(None, 0)))
    np.testing.assert_allclose(wg.vmap(f, in_axes=(None, 1))(W, X.T), _loop(f, W, X, in_axes=(None, 0)))
    np.testing.assert_allclose(wg.vmap(f, in_axes=(None, -1), out_axes=1)(W, X.T), _loop(f, W, X, in_axes=(None, 0)).T)
    Ws = rng.standard_normal((5, 3, 4))
    np.testing.assert_allclose(wg.vmap(f)(Ws, X), np.stack([np.tanh(w @ x) for w, x in zip(Ws, X)]))


def test_pytrees_in_and_out(rng):
    p = {"w": rng.standard_normal(3), "b": 0.5}
    xs = rng.standard_normal((4, 3))

    def f(p, x):
        y = wg.sum(p["w"] * x) + p["b"]
        return {"y": y, "both": (y, x * 2.0)}

    out = wg.vmap(f, in_axes=({"w": None, "b": None}, 0))(p, xs)
    np.testing.assert_allclose(out["y"], xs @ p["w"] + 0.5)
    np.testing.assert_allclose(out["both"][1], xs * 2.0)
    unbatched = wg.vmap(f, in_axes=(None, 0), out_axes={"y": 0, "both": (0, 0)})(p, xs)
    np.testing.assert_allclose(unbatched["y"], out["y"])
    # an output that does not depend on the batch is repeated (or handed back as it is with out_axes=None)
    const = wg.vmap(lambda x: (wg.sum(x), np.ones(2)), out_axes=(0, None))(xs)
    assert np.shape(const[0]) == (4,) and np.shape(const[1]) == (2,)
    assert np.shape(wg.vmap(lambda x: (wg.sum(x), np.ones(2)))(xs)[1]) == (4, 2)


def test_nested_vmap_is_an_outer_product(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(4)
    out = wg.vmap(lambda x: wg.vmap(lambda y: x * y)(b))(a)
    np.testing.assert_allclose(out, np.outer(a, b))
    # a batched value of the outer vmap inside the inner one
    A = rng.standard_normal((3, 4))
    out = wg.vmap(lambda row: wg.vmap(lambda v: v * wg.sum(row))(row))(A)
    np.testing.assert_allclose(out, A * A.sum(axis=1, keepdims=True))


def _mlp(p, x):
    h = wg.tanh(x @ p["W0"] + p["b0"])
    return h @ p["W1"] + p["b1"]


def _xent(p, x, y):  # y one-hot
    return -wg.sum(y * wg.log_softmax(_mlp(p, x), axis=-1))


def test_per_example_gradients_of_an_mlp(rng):
    p = {"W0": rng.standard_normal((4, 6)) * 0.5, "b0": np.zeros(6), "W1": rng.standard_normal((6, 3)), "b1": np.zeros(3)}
    X, Y = rng.standard_normal((8, 4)), np.eye(3)[rng.integers(0, 3, 8)]
    per = wg.vmap(wg.grad(_xent), in_axes=(None, 0, 0))(p, X, Y)
    for i in range(8):
        gi = wg.grad(_xent)(p, X[i], Y[i])
        for k in p:
            np.testing.assert_allclose(per[k][i], gi[k], rtol=1e-12, atol=1e-14)
    batched = wg.grad(lambda p: wg.mean(-wg.sum(Y * wg.log_softmax(_mlp(p, X), axis=-1), axis=-1)))(p)
    for k in p:
        np.testing.assert_allclose(per[k].mean(axis=0), batched[k], rtol=1e-12, atol=1e-14)


def test_per_example_gradients_of_a_module_through_functional_call(rng):
    net = nn.Sequential(nn.Linear(4, 5, rng=0), nn.Tanh(), nn.Linear(5, 2, rng=1)).double()
    params = {k: v.data for k, v in net.named_parameters()}
    X, Y = rng.standard_normal((6, 4)), np.eye(2)[rng.integers(0, 2, 6)]

    def loss(p, x, y):
        return -wg.sum(y * wg.log_softmax(nn.functional_call(net, p, x)))

    per = wg.vmap(wg.grad(loss), in_axes=(None, 0, 0))(params, X, Y)
    for i in (0, 5):
        gi = wg.grad(loss)(params, X[i], Y[i])
        for k in params:
            np.testing.assert_allclose(per[k][i], gi[k], rtol=1e-12)
    assert net[0].weight.grad is None  # the module's own parameters were not touched
    with pytest.raises(KeyError, match="no parameter or buffer named 'nope'"):
        nn.functional_call(net, {"nope": 1.0}, X[0])


def test_vmap_composes_with_every_transform(rng):
    f = lambda x: wg.sum(wg.sin(x) * x ** 2)
    X, V = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    g = wg.grad(f)
    np.testing.assert_allclose(wg.vmap(g)(X), _loop(g, X, in_axes=(0,)), rtol=1e-12)
    # grad of vmap
    np.testing.assert_allclose(wg.grad(lambda x: wg.sum(wg.vmap(f)(x)))(X), _loop(g, X, in_axes=(0,)), rtol=1e-12)
    # vmap of jvp and of hvp
    jv = wg.vmap(lambda x, v: wg.jvp(f, (x,), (v,))[1])(X, V)
    np.testing.assert_allclose(jv, np.einsum("bi,bi->b", _loop(g, X, in_axes=(0,)), V), rtol=1e-12)
    hv = wg.vmap(lambda x, v: wg.hvp(f, x, v))(X, V)
    np.testing.assert_allclose(hv, np.stack([wg.hvp(f, x, v) for x, v in zip(X, V)]), rtol=1e-12)
    # jit of vmap of grad: one program
    j = wg.jit(wg.vmap(g))
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitFallbackWarning)
        for _ in range(2):
            X = rng.standard_normal((4, 3))
            np.testing.assert_allclose(j(X), _loop(g, X, in_axes=(0,)), rtol=1e-12)
    assert len(j.program(X).steps) > 0


def test_custom_functions_under_vmap():
    Cube = cube_gate()
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    with pytest.raises(NotImplementedError, match="Cube defines no vmap"):
        wg.vmap(lambda x: Cube.apply(x))(X)

    class BatchedCube(Cube):
        @staticmethod
        def vmap(ctx, batched, x):
            ctx.save_for_backward(x)
            return x ** 3

    np.testing.assert_allclose(wg.vmap(lambda x: BatchedCube.apply(x))(X), X ** 3)
    # jacobians through a Function: its backward / jvp run once per row / column
    np.testing.assert_allclose(wg.jacrev(lambda x: Cube.apply(x))(X[0]), np.diag(3 * X[0] ** 2))
    np.testing.assert_allclose(wg.jacfwd(lambda x: Cube.apply(x))(X[0]), np.diag(3 * X[0] ** 2))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: wg.vmap(lambda x, y: x * y)(np.ones(3), np.ones(4)), ValueError,
     r"different batch sizes: size 3 for argument 0; size 4 for argument 1"),
    (lambda: wg.vmap(lambda x: x, in_axes=2)(np.ones((3, 4))), ValueError,
     r"in_axes=2 for argument 0 is out of range: it has shape \(3, 4\)"),
    (lambda: wg.vmap(lambda x, y: x, in_axes=(0,))(np.ones(3), np.ones(3)), ValueError,
     r"in_axes has 1 entries but the function was called with 2 positional arguments"),
    (lambda: wg.vmap(lambda x: x, in_axes=None)(np.ones(3)), ValueError, r"no argument is batched"),
    (lambda: wg.vmap(lambda x: x, out_axes=None)(np.ones(3)), ValueError, r"out_axes=None for an output that depends"),
    (lambda: wg.vmap(lambda x: x, out_axes=3)(np.ones((3, 2))), ValueError, r"out_axes=3 is out of range"),
    (lambda: wg.vmap(lambda x: x if wg.sum(x) > 0 else -x)(np.ones((3, 2))), wg.ConcretizationError,
     r"batched value inside wg.vmap.*3 values.*wg.where"),
    (lambda: wg.vmap(lambda x: float(x))(np.ones(3)), wg.ConcretizationError, r"batched value"),
    (lambda: wg.vmap(lambda p: p["a"], in_axes=({"b": 0},))({"a": np.ones(3)}), ValueError,
     r"do not match its structure"),
    (lambda: wg.vmap(3), TypeError, r"fun must be callable"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_jacobians_and_hessians_are_one_batched_pass(rng):
    W = rng.standard_normal((5, 4)) / 2
    f = lambda x: wg.tanh(W @ x)
    x = rng.standard_normal(4)
    J = (1 - np.tanh(W @ x) ** 2)[:, None] * W
    np.testing.assert_allclose(wg.jacrev(f)(x), J, rtol=1e-12)
    np.testing.assert_allclose(wg.jacfwd(f)(x), J, rtol=1e-12)
    np.testing.assert_allclose(wg.jacrev(f, chunk_size=2)(x), J, rtol=1e-12)
    np.testing.assert_allclose(wg.jacfwd(f, chunk_size=3)(x), J, rtol=1e-12)
    s = lambda x: wg.sum(wg.tanh(W @ x))
    t = np.tanh(W @ x)
    H = W.T @ np.diag(-2 * t * (1 - t ** 2)) @ W
    for mode in ("fwd", "rev"):
        np.testing.assert_allclose(wg.hessian(s, mode=mode)(x), H, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        wg.jacrev(f, chunk_size=0)(x)


# ---------------------------------------------------------------------- the identity basis kept as its diagonal
_DENSE_CASES = [
    ("matvec", lambda W, x: W @ x),
    ("vecmat", lambda W, x: x @ W),
    ("tanh of matvec", lambda W, x: wg.tanh(W @ x)),
    ("scaled twice", lambda W, x: -(2.0 * (x * np.arange(1.0, 7.0)))),
    ("scaled then summed", lambda W, x: wg.sum(W * x, axis=1)),
    ("matvec of a scaled input", lambda W, x: W @ (x * 3.0) + wg.sin(x)),
    ("through a matrix", lambda W, x: wg.exp(W.T @ wg.tanh(W @ x))),
]


@pytest.mark.parametrize("name,f", _DENSE_CASES, ids=[c[0] for c in _DENSE_CASES])
def test_jacobians_equal_the_dense_identity(rng, name, f):
    """jacrev / jacfwd carry the identity as its diagonal (ScaledBasis); the results are those of the dense identity."""
    W, x = rng.standard_normal((6, 6)), rng.standard_normal(6)
    g = lambda x: f(W, x)
    eye = np.eye(6)
    _, pull = wg.vjp(g, x)
    by_rows = wg.vmap(pull)(np.eye(np.size(g(x))))[0]
    by_cols = wg.vmap(lambda t: wg.jvp(g, (x,), (t,))[1], out_axes=-1)(eye)
    np.testing.assert_allclose(wg.jacrev(g)(x), by_rows, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(wg.jacfwd(g)(x), by_cols, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(wg.jit(wg.jacrev(g))(x), by_rows, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(wg.jit(wg.jacfwd(g))(x), by_cols, rtol=1e-13, atol=1e-14)


def test_jacobians_are_not_views_of_the_callers_matrix(rng):
    W, x = rng.standard_normal((5, 5)), rng.standard_normal(5)
    for J in (wg.jacrev(lambda x: W @ x)(x), wg.jacfwd(lambda x: W @ x)(x),
              wg.jacrev(lambda x: x @ W)(x), wg.jacfwd(lambda x: x @ W)(x)):
        assert not np.shares_memory(J, W)
        J[...] = 0.0  # the caller may write into the result
    assert np.all(W != 0.0)


def test_the_diagonal_basis_keeps_non_finite_scales_exact(rng):
    """A scale that is inf or nan makes the dense batch's zeros nan: the basis is then made dense, as eagerly."""
    x = rng.standard_normal(4)
    for s in (np.array([1.0, np.inf, 2.0, 3.0]), np.array([1.0, np.nan, 2.0, 3.0])):
        scale = lambda x, s=s: x * s
        dense = wg.vmap(lambda t, scale=scale: wg.jvp(scale, (x,), (t,))[1], out_axes=-1)(np.eye(4))
        np.testing.assert_array_equal(wg.jacfwd(scale)(x), dense)


def test_the_diagonal_basis_against_a_matrix_of_the_wrong_size_is_the_eager_error(rng):
    W = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match=r"matmul"):
        wg.jacfwd(lambda x: W @ x)(np.ones(5))
    with pytest.raises(ValueError, match=r"matmul"):
        wg.jacrev(lambda x: x @ W)(np.ones(5))


def test_a_custom_function_sees_the_basis_as_an_array(rng):
    x = rng.standard_normal(3)
    cube = cube_gate()
    J = wg.jacrev(lambda x: cube.apply(x))(x)
    np.testing.assert_allclose(J, np.diag(3 * x ** 2), rtol=1e-12)
    np.testing.assert_allclose(wg.jacfwd(lambda x: cube.apply(x))(x), np.diag(3 * x ** 2), rtol=1e-12)
