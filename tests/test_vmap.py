"""wg.vmap: JAX's semantics, composition with every transform, per-example gradients, and its errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from opspec import cube_gate

import wengert as wg
from wengert import nn
from wengert.core.interpret import ScaledBasis
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


# ---------------------------------------------------------------------- the identity basis kept as factors
# A ScaledBasis (r[:, None] * m * c) handed to vmap directly: every function of one example must give exactly
# what it gives on the dense batch, whether a rule computes from the factors or makes the basis dense first.
def _factored_bases(rng, dtype=np.float64):
    n, k = 150, 9  # (150 rows: the products run in several blocks of rows)
    cast = lambda a: np.asarray(a).astype(dtype)
    M, r, c, d = cast(rng.standard_normal((n, k))), cast(rng.standard_normal(n)), cast(rng.standard_normal(k)), \
        cast(rng.standard_normal(k))
    if np.dtype(dtype).kind == "c":
        M = M + 1j * cast(rng.standard_normal((n, k)))
    return {"diagonal": ScaledBasis(d), "matrix": ScaledBasis(None, M), "rows": ScaledBasis(r, M),
            "columns": ScaledBasis(None, M, c), "both": ScaledBasis(r, M, c)}


def _example_functions(rng, k, dtype=np.float64):
    from wengert.ops.table import tanh_grad

    v, B, A = rng.standard_normal(k), rng.standard_normal((k, 5)).astype(dtype), rng.standard_normal((4, k))
    y = np.tanh(rng.standard_normal(k))
    vinf = v.copy()
    vinf[1] = np.inf
    return {
        "times a number": lambda t: t * 2.5,
        "times a vector": lambda t: t * v,
        "a vector times": lambda t: v * t,
        "times an int vector": lambda t: t * np.arange(k),
        "times a float32 vector": lambda t: t * v.astype(np.float32),
        "times a complex number": lambda t: t * (1 - 2j),
        "times inf": lambda t: t * vinf,
        "times nan": lambda t: t * np.where(np.arange(k) == 2, np.nan, 1.0),
        "times its own sum (rows)": lambda t: t * wg.sum(t),
        "times itself": lambda t: t * t,
        "times a function of itself": lambda t: t * wg.tanh(t),
        "times a matrix of rows (broadcast)": lambda t: t * np.ones((2, k)),
        "negated": lambda t: -t,
        "tanh_grad": lambda t: tanh_grad(t, y),
        "tanh_grad of a scaled basis": lambda t: tanh_grad(3.0 * t, y) * v,
        "plus itself": lambda t: t + t,
        "tanh": lambda t: wg.tanh(t),
        "summed": lambda t: wg.sum(t),
        "summed over axis -1, kept": lambda t: wg.sum(t * v, axis=-1, keepdims=True),
        "summed over (0,)": lambda t: wg.sum(-t, axis=(0,)),
        "times a matrix": lambda t: t @ B,
        "a matrix times": lambda t: A @ t,
        "dot a vector": lambda t: (t * v) @ v,
        "a vector dot": lambda t: v @ t,
        "dot itself": lambda t: t @ t,
        "a chain": lambda t: wg.sum(wg.tanh((t * v) @ B) * 2.0),
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_a_factored_basis_gives_what_its_dense_batch_gives(rng, dtype):
    tol = {"rtol": 2e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for bname, basis in _factored_bases(rng, dtype).items():
        dense = np.array(basis)
        assert dense.dtype == basis.dtype and dense.shape == basis.shape
        for fname, g in _example_functions(rng, basis.shape[1], dtype).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # (inf and nan factors)
                got, want = wg.vmap(g)(basis), wg.vmap(g)(dense.copy())
            assert np.asarray(got).dtype == np.asarray(want).dtype, (bname, fname)
            np.testing.assert_allclose(got, want, **tol, err_msg=f"{bname}: {fname}")


def test_a_weighted_gram_product_is_mirrored_only_for_the_transpose(rng):
    """m diag(c) B with m = B^T is computed by its upper block triangle; any other m is multiplied in full."""
    n = 150
    W = rng.standard_normal((n, n))
    c, r = rng.standard_normal(n), rng.standard_normal(n)
    other = W.T.copy()
    other[3, 100] += 1.0  # (the same shape and nearly the same matrix, but not W^T: no symmetry)
    for basis in (ScaledBasis(None, W.T, c), ScaledBasis(r, W.T, c), ScaledBasis(None, W.T),
                  ScaledBasis(None, other, c), ScaledBasis(None, W, c), ScaledBasis(None, W.T[:, ::-1], c)):
        dense = np.array(basis)
        np.testing.assert_allclose(wg.vmap(lambda t: t @ W)(basis), dense @ W, rtol=1e-12, atol=1e-11)
        np.testing.assert_allclose(wg.vmap(lambda t: W.T @ t)(basis), dense @ W, rtol=1e-12, atol=1e-11)


def test_a_factored_basis_against_values_of_a_lower_level(rng):
    """Factors that are tensors of an outer transform (here grad) are not folded: the basis is made dense."""
    basis = ScaledBasis(None, rng.standard_normal((6, 4)), rng.standard_normal(4))
    v, B = rng.standard_normal(4), rng.standard_normal((4, 3))
    for g in (lambda batch, p: wg.sum(wg.vmap(lambda t: t * p)(batch) ** 2),
              lambda batch, p: wg.sum(wg.vmap(lambda t: t @ (p[:, None] * B))(batch) ** 2),
              lambda batch, p: wg.sum(wg.vmap(lambda t: (p[:3, None] * B.T) @ t)(batch) ** 2),
              lambda batch, p: wg.sum(wg.vmap(lambda t: wg.sum(t * p))(batch) ** 2),
              lambda batch, p: wg.sum(wg.vmap(lambda t: t @ p)(batch) ** 2)):
        got = wg.grad(lambda p, g=g: g(basis, p))(v)
        want = wg.grad(lambda p, g=g: g(np.array(basis), p))(v)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_factored_basis_in_a_bad_op_is_the_eager_error(rng):
    basis = ScaledBasis(rng.standard_normal(5), rng.standard_normal((5, 4)), rng.standard_normal(4))
    for g in (lambda t: t @ np.ones((3, 2)), lambda t: np.ones((2, 3)) @ t, lambda t: t @ np.ones(3),
              lambda t: wg.sum(t, axis=1)):
        errors = []
        for batch in (basis, np.array(basis)):
            with pytest.raises(Exception) as info:
                wg.vmap(g)(batch)
            errors.append(type(info.value))
        assert errors[0] is errors[1]


def _hvp_columns(f, x):
    """The loop reference: one Hessian-vector product per unit vector."""
    return np.stack([wg.hvp(f, x, e) for e in np.eye(np.size(x), dtype=np.asarray(x).dtype)], axis=1)


@pytest.mark.parametrize("shape", [(150, 150), (7, 5), (5, 7)])
def test_the_hessian_of_f_of_W_x_is_its_closed_form(rng, shape):
    """W^T diag(c) W: the factored basis and the mirrored Gram product, in every mode, chunked or not."""
    W = rng.standard_normal(shape) / np.sqrt(shape[1])
    x = rng.standard_normal(shape[1])
    s = lambda x: wg.sum(wg.tanh(W @ x))
    t = np.tanh(W @ x)
    H = W.T @ np.diag(-2 * t * (1 - t ** 2)) @ W
    tol = {"rtol": 1e-10, "atol": 1e-12}
    for h in (wg.hessian(s), wg.hessian(s, mode="rev"), wg.jacfwd(wg.jacrev(s), chunk_size=4),
              wg.jacfwd(wg.jacrev(s, chunk_size=3))):
        got = h(x)
        np.testing.assert_allclose(got, H, **tol)
        assert not np.shares_memory(got, W) and got.flags.writeable
    np.testing.assert_allclose(_hvp_columns(s, x), H, **tol)
    np.testing.assert_allclose(wg.jit(wg.hessian(s))(x), H, **tol)
    X = rng.standard_normal((3, shape[1]))
    np.testing.assert_allclose(wg.vmap(wg.hessian(s))(X), np.stack([wg.hessian(s)(x) for x in X]), **tol)
    # float32 throughout: float32 Hessian
    W32, x32 = W.astype(np.float32), x.astype(np.float32)
    H32 = wg.hessian(lambda x: wg.sum(wg.tanh(W32 @ x)))(x32)
    assert H32.dtype == np.float32
    np.testing.assert_allclose(H32, H, rtol=1e-4, atol=1e-5)


def test_hessians_where_the_factored_basis_does_not_apply(rng):
    """Other functions, dtypes and levels: every Hessian equals the loop of Hessian-vector products."""
    n = 6
    W, A = rng.standard_normal((n, n)) / 2, rng.standard_normal((4, n)) / 2
    Wc = W + 1j * rng.standard_normal((n, n)) / 2
    x = rng.standard_normal(n)
    cases = {
        "two matrices": lambda x: wg.sum(wg.tanh(W @ x)) + wg.sum(wg.sin(A @ x)),
        "x on both sides": lambda x: x @ (W @ x) + wg.sum(wg.tanh(x @ W)),
        "a complex matrix": lambda x: wg.real(wg.sum(wg.tanh(Wc @ x))),
        "float32 matrix, float64 input": lambda x: wg.sum(wg.tanh(W.astype(np.float32) @ x)),
        "a scaled input": lambda x: wg.sum(wg.tanh(W @ (2.0 * x)) * np.arange(1.0, n + 1)),
    }
    for name, f in cases.items():
        want = _hvp_columns(f, x)
        for mode in ("fwd", "rev"):
            np.testing.assert_allclose(wg.hessian(f, mode=mode)(x), want, rtol=1e-10, atol=1e-12, err_msg=name)


def test_the_gradient_of_a_hessian_through_its_matrix(rng):
    """W a value of grad (not plain): the basis meets it as a tensor and is made dense; against differences."""
    n = 5
    W, x, P = rng.standard_normal((n, n)) / 2, rng.standard_normal(n), rng.standard_normal((n, n))
    loss = lambda W: wg.sum(wg.hessian(lambda x: wg.sum(wg.tanh(W @ x)))(x) * P)
    g = wg.grad(loss)(W)
    eps = 1e-6
    fd = np.zeros_like(W)
    for i in range(n):
        for j in range(n):
            d = np.zeros_like(W)
            d[i, j] = eps
            fd[i, j] = (float(loss(W + d)) - float(loss(W - d))) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
