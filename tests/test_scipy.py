"""wengert.scipy's composites and the rest of the package: the stats distributions, logsumexp/softmax, the
linalg composites, signal.convolve in every mode, odeint's derivatives, and the errors.

Values are checked against SciPy's own; derivatives against finite differences in float64 (both modes, via
wg.gradcheck), to second order (hvp against differences of the gradient), under vmap against a loop, and
against PyTorch where it has the same function.  The primitives are checked from their specs
(tests/specs_scipy.py) by tests/test_ops.py and tests/test_transforms.py.
"""
from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import scipy.signal
import scipy.special as sc
import scipy.stats as ss
from opspec import check_grads

import wengert as wg
from wengert.core.tensor import raw
from wengert.scipy import integrate, linalg, signal, special, stats
from wengert.scipy.stats import beta, chi2, dirichlet, gamma, multivariate_normal, norm, poisson, t


def _close(actual, expected, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(np.asarray(raw(actual), dtype=np.float64), np.asarray(expected, dtype=np.float64),
                               rtol=rtol, atol=atol)


def check_derivatives(f, *args, rtol=1e-5, atol=1e-7, second=True, eps=1e-6):
    """Gradients of f (reverse and forward mode) against finite differences, then the second derivative."""
    wg.gradcheck(f, *args, modes=("rev", "fwd"), rtol=rtol, atol=atol, eps=eps)
    if not second:
        return
    rng = np.random.default_rng(7)
    w = rng.standard_normal(np.shape(raw(f(*args))))
    vs = tuple(rng.standard_normal(np.shape(a)) for a in args)

    def h(xs):
        return wg.sum(f(*xs) * w)

    hv = wg.hvp(h, tuple(args), vs)
    g = wg.grad(h)
    gp = g(tuple(a + 1e-5 * v for a, v in zip(args, vs)))
    gm = g(tuple(a - 1e-5 * v for a, v in zip(args, vs)))
    for got, p, m in zip(hv, gp, gm):
        _close(got, (np.asarray(p) - np.asarray(m)) / 2e-5, rtol=1e-5, atol=1e-6)


def check_vmap(f, draws):
    """vmap over a batch of first arguments equals a loop, in values and per-example gradients."""
    first = np.stack([d[0] for d in draws])
    rest = draws[0][1:]
    in_axes = (0,) + (None,) * len(rest)
    got = wg.vmap(f, in_axes=in_axes)(first, *rest)
    _close(got, np.stack([np.asarray(raw(f(x, *rest))) for x in first]), rtol=1e-12)
    u = np.random.default_rng(3).standard_normal(np.shape(raw(f(first[0], *rest))))
    g = wg.grad(lambda x, *r: wg.sum(f(x, *r) * u))
    _close(wg.vmap(g, in_axes=in_axes)(first, *rest), np.stack([g(x, *rest) for x in first]), rtol=1e-10)


# ---------------------------------------------------------------------- the optional dependency
def test_missing_scipy_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "wengert.scipy" or m.startswith("wengert.scipy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)  # `import scipy` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'wengert\[scipy\]'") as info:
        importlib.import_module("wengert.scipy")
    assert "\n" not in str(info.value)


def test_the_package_leaves_wg_and_numpy_dispatch_alone():
    assert not hasattr(wg, "gammaln") and not hasattr(wg, "erfinv")
    with pytest.raises(TypeError, match="no wengert rule"):  # SciPy's ufunc on a tensor: not dispatched
        sc.gammaln(wg.tensor([1.0, 2.0], requires_grad=True))
    assert wg.exp(1.0).item() == pytest.approx(np.e)


def test_supported_lists_every_public_function():
    import wengert.scipy

    listed = wengert.scipy.supported()
    assert listed["special"] == sorted(special.__all__)
    assert "logpdf" in listed["stats.norm"] and listed["integrate"] == ["odeint"]
    for module, names in listed.items():
        mod = importlib.import_module(f"wengert.scipy.{module}")
        for name in names:
            fn = getattr(mod, name)
            assert fn.__doc__ and fn.__module__ == f"wengert.scipy.{module}", f"{module}.{name}"
    assert isinstance(special.gammaln(2.0), wg.Tensor)  # a Tensor back, as from every wg function


# ---------------------------------------------------------------------- stats: values, derivatives, vmap
def _u(r, lo, hi, shape):
    return r.uniform(lo, hi, shape)


# (name, our function, SciPy's, the arguments, the differentiated ones)
STATS = [
    *[(f"norm.{m}", getattr(norm, m), getattr(ss.norm, m),
       lambda r: (r.standard_normal((2, 3)), r.standard_normal(3), _u(r, 0.5, 2, (2, 1))), (0, 1, 2))
      for m in ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf")],
    *[(f"norm.{m}", getattr(norm, m), getattr(ss.norm, m),
       lambda r: (_u(r, 0.05, 0.95, (2, 3)), r.standard_normal(3), _u(r, 0.5, 2, (2, 1))), (0, 1, 2))
      for m in ("ppf", "isf")],
    *[(f"t.{m}", getattr(t, m), getattr(ss.t, m),
       lambda r: (r.standard_normal((2, 3)), _u(r, 1, 6, 3), r.standard_normal(3), _u(r, 0.5, 2, (2, 1))),
       (0, 1, 2, 3) if m in ("pdf", "logpdf") else (0, 2, 3))
      for m in ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf")],
    *[(f"gamma.{m}", getattr(gamma, m), getattr(ss.gamma, m),
       lambda r: (_u(r, 0.6, 4, (2, 3)), _u(r, 0.5, 3, 3), _u(r, -0.2, 0.2, 3), _u(r, 0.5, 2, (2, 1))),
       (0, 1, 2, 3) if m in ("pdf", "logpdf") else (0, 2, 3))
      for m in ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf")],
    *[(f"chi2.{m}", getattr(chi2, m), getattr(ss.chi2, m),
       lambda r: (_u(r, 0.6, 5, (2, 3)), _u(r, 1, 5, 3), _u(r, -0.2, 0.2, 3), _u(r, 0.5, 2, (2, 1))),
       (0, 1, 2, 3) if m in ("pdf", "logpdf") else (0, 2, 3))
      for m in ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf")],
    *[(f"beta.{m}", getattr(beta, m), getattr(ss.beta, m),
       lambda r: (_u(r, 0.15, 0.85, (2, 3)), _u(r, 0.8, 3, 3), _u(r, 0.8, 3, (2, 1)), _u(r, -0.05, 0.05, 3),
                  _u(r, 1.0, 1.1, (2, 1))),
       (0, 1, 2, 3, 4) if m in ("pdf", "logpdf") else (0, 3, 4))
      for m in ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf")],
    *[(f"poisson.{m}", getattr(poisson, m), getattr(ss.poisson, m),
       lambda r: (r.integers(0, 6, (2, 3)).astype(float), _u(r, 0.5, 4, (2, 1))), (1,))
      for m in ("pmf", "logpmf", "cdf", "logcdf", "sf", "logsf")],
]


def _wrt(fn, args, wrt):
    """fn as a function of the differentiated arguments only."""

    def f(*xs):
        full = list(args)
        for i, x in zip(wrt, xs):
            full[i] = x
        return fn(*full)

    return f, tuple(args[i] for i in wrt)


@pytest.mark.parametrize("name,fn,ref,make,wrt", STATS, ids=[s[0] for s in STATS])
def test_stats_values_and_derivatives(name, fn, ref, make, wrt):
    args = make(np.random.default_rng(0))
    out = fn(*args)
    assert isinstance(out, wg.Tensor)
    _close(out, ref(*args), rtol=1e-11)
    f, xs = _wrt(fn, args, wrt)
    check_derivatives(f, *xs)
    check_vmap(f, [_wrt(fn, make(np.random.default_rng(s)), wrt)[1] for s in (1, 2, 3)])


# points outside the support, on its boundary, and invalid parameters: SciPy's values.  Where the value is
# constant (outside the support, invalid parameters) the gradient is 0, never NaN.  (On the boundary a log-density's
# derivative may be infinite, and a density's, computed as exp(logpdf), then NaN, as in HIPS autograd.)
EDGES = [  # (function, SciPy's, arguments, where the gradient in the first argument must be 0)
    (norm.logpdf, ss.norm.logpdf, (np.array([0.0, 1.0]), 0.0, np.array([-1.0, 0.0])), [1, 1]),
    (norm.cdf, ss.norm.cdf, (np.array([-40.0, 40.0]), 0.0, 1.0), [1, 1]),
    (norm.logcdf, ss.norm.logcdf, (np.array([-40.0, 3.0]), 0.0, 1.0), [0, 0]),
    (gamma.logpdf, ss.gamma.logpdf, (np.array([-1.0, 0.0, 0.0, 0.0, 2.0]), np.array([2.0, 1.0, 2.0, 0.5, -1.0])),
     [1, 0, 0, 0, 1]),
    (gamma.pdf, ss.gamma.pdf, (np.array([-1.0, 0.0, 0.0, 2.0]), np.array([2.0, 1.0, 2.0, 1.0]), 0.0, 2.0),
     [1, 0, 0, 0]),
    (gamma.cdf, ss.gamma.cdf, (np.array([-1.0, 0.0, 2.0]), 2.0), [1, 0, 0]),
    (gamma.sf, ss.gamma.sf, (np.array([-1.0, 0.0, 2.0]), 2.0), [1, 0, 0]),
    (chi2.logpdf, ss.chi2.logpdf, (np.array([-1.0, 0.0, 0.0, 1.0]), np.array([3.0, 2.0, 4.0, -1.0])), [1, 0, 0, 1]),
    (chi2.cdf, ss.chi2.cdf, (np.array([-1.0, 0.0, 1.0]), 3.0), [1, 0, 0]),
    (beta.logpdf, ss.beta.logpdf, (np.array([-0.1, 0.0, 0.0, 1.0, 1.2, 0.5]), np.array([2.0, 1.0, 2.0, 2.0, 2.0, -1.0]),
                                   2.0), [1, 0, 0, 0, 1, 1]),
    (beta.cdf, ss.beta.cdf, (np.array([-0.1, 0.0, 0.3, 1.0, 1.2]), 2.0, 3.0), [1, 0, 0, 0, 1]),
    (beta.sf, ss.beta.sf, (np.array([-0.1, 0.0, 0.3, 1.0, 1.2]), 2.0, 3.0), [1, 0, 0, 0, 1]),
    (t.logpdf, ss.t.logpdf, (np.array([0.5, 0.5]), np.array([3.0, -1.0])), [0, 1]),
    (poisson.logpmf, ss.poisson.logpmf, (np.array([-1.0, 0.0, 1.5, 2.0, 0.0, 1.0]),
                                         np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])), [1, 1, 1, 1, 1, 1]),
    (poisson.pmf, ss.poisson.pmf, (np.array([3.0, 4.0]), 2.0, 1), [1, 1]),
    (poisson.cdf, ss.poisson.cdf, (np.array([-1.0, 0.0, 1.5, 2.0]), 1.5), [1, 1, 1, 1]),
    (poisson.sf, ss.poisson.sf, (np.array([-1.0, 0.0, 1.5, 2.0]), 1.5), [1, 1, 1, 1]),
]


@pytest.mark.parametrize("fn,ref,args,zero", EDGES, ids=[f"{f.__module__.rsplit('.', 1)[-1]}.{f.__name__}-{i}"
                                                         for i, (f, *_) in enumerate(EDGES)])
def test_stats_edges_match_scipy(fn, ref, args, zero):
    with np.errstate(all="ignore"):
        _close(fn(*args), ref(*args), rtol=1e-12)
        g = wg.grad(lambda x: wg.sum(fn(x, *args[1:])))(args[0])
    zero = np.asarray(zero, dtype=bool)
    assert np.all(g[zero] == 0.0)
    # the first argument's gradient elsewhere: finite away from the boundary of the support
    inner = ~zero & (args[0] != 0.0) & (args[0] != 1.0 if fn in (beta.logpdf, beta.cdf, beta.sf) else True)
    assert np.all(np.isfinite(g[inner]))


def test_stats_gradients_against_pytorch():
    torch = pytest.importorskip("torch")
    D = torch.distributions
    x, df, loc, scale = 0.7, 3.5, -0.2, 1.3
    for ours, theirs in [
        (lambda *p: t.logpdf(*p), lambda a, b, c, d: D.StudentT(b, c, d).log_prob(a)),
        (lambda a, b, c, d: norm.logcdf(a, c, d), lambda a, b, c, d: torch.special.log_ndtr((a - c) / d)),
    ]:
        args = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (x, df, loc, scale)]
        theirs(*args).backward()
        got = wg.grad(ours, argnums=(0, 1, 2, 3))(x, df, loc, scale)
        _close(got, [0.0 if a.grad is None else a.grad.item() for a in args], rtol=1e-10)
    # gamma and beta in their shape parameters, through digamma / betaln
    a_, b_ = torch.tensor(2.5, dtype=torch.float64, requires_grad=True), torch.tensor(1.7, dtype=torch.float64,
                                                                                     requires_grad=True)
    D.Beta(a_, b_).log_prob(torch.tensor(0.3, dtype=torch.float64)).backward()
    _close(wg.grad(lambda a, b: beta.logpdf(0.3, a, b), argnums=(0, 1))(2.5, 1.7), [a_.grad.item(), b_.grad.item()])
    c_ = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    D.Gamma(c_, torch.tensor(1 / 1.5, dtype=torch.float64)).log_prob(torch.tensor(2.0, dtype=torch.float64)).backward()
    _close(wg.grad(lambda a: gamma.logpdf(2.0, a, scale=1.5))(2.5), c_.grad.item())


def test_cdf_in_a_shape_parameter_is_a_clear_error():
    with pytest.raises(NotImplementedError, match=r"scipy.special.gammainc: no derivative with respect to a"):
        wg.grad(lambda a: gamma.cdf(1.0, a))(2.0)
    with pytest.raises(NotImplementedError, match=r"scipy.special.stdtr: no derivative with respect to df"):
        wg.grad(lambda d: t.cdf(0.3, d))(4.0)
    with pytest.raises(NotImplementedError, match=r"betainc: no derivative with respect to a"):
        x = wg.tensor(2.0, requires_grad=True)
        special.betainc(x, 2.0, 0.5).backward()
    # the count of a Poisson distribution is discrete: no gradient flows to it, and none is an error
    assert wg.grad(lambda k: poisson.logpmf(k, 2.0))(3.0) == 0.0


# ---------------------------------------------------------------------- multivariate normal, Dirichlet
def _psd(r, d):
    m = r.standard_normal((d, d))
    return m @ m.T + np.eye(d)


def test_multivariate_normal_matches_scipy_and_pytorch():
    r = np.random.default_rng(0)
    x, mean, cov = r.standard_normal((5, 3)), r.standard_normal(3), _psd(r, 3)
    for fn, ref in ((multivariate_normal.logpdf, ss.multivariate_normal.logpdf),
                    (multivariate_normal.pdf, ss.multivariate_normal.pdf)):
        _close(fn(x, mean, cov), ref(x, mean, cov), rtol=1e-11)
        _close(fn(x[0], mean, cov), ref(x[0], mean, cov), rtol=1e-11)  # one point: a scalar
    # SciPy's readings of the arguments: 1-D x of a 1-D distribution is many points; scalar and 1-D cov
    _close(multivariate_normal.logpdf(np.array([0.1, 0.5, -1.0]), 0.3, 2.0),
           ss.multivariate_normal.logpdf(np.array([0.1, 0.5, -1.0]), 0.3, 2.0))
    _close(multivariate_normal.logpdf(x, mean, np.array([1.0, 2.0, 0.5])),
           ss.multivariate_normal.logpdf(x, mean, np.array([1.0, 2.0, 0.5])))
    _close(multivariate_normal.logpdf(x, cov=cov), ss.multivariate_normal.logpdf(x, cov=cov))
    _close(multivariate_normal.logpdf(0.4), ss.multivariate_normal.logpdf(0.4))
    _close(multivariate_normal.entropy(mean, cov), ss.multivariate_normal.entropy(mean, cov))
    torch = pytest.importorskip("torch")
    tx, tm, tc = (torch.tensor(v, requires_grad=True) for v in (x, mean, cov))
    torch.distributions.MultivariateNormal(tm, covariance_matrix=tc).log_prob(tx).sum().backward()
    gx, gm, gc = wg.grad(lambda a, b, c: wg.sum(multivariate_normal.logpdf(a, b, c)), argnums=(0, 1, 2))(x, mean, cov)
    _close(gx, tx.grad.numpy(), rtol=1e-9)
    _close(gm, tm.grad.numpy(), rtol=1e-9)
    _close(gc, 0.5 * (tc.grad.numpy() + tc.grad.numpy().T), rtol=1e-9)  # only cov's symmetric part matters


def _sym(c):
    return 0.5 * (c + wg.transpose(c))


def test_multivariate_normal_derivatives_and_vmap():
    r = np.random.default_rng(1)
    x, mean, cov = r.standard_normal((2, 3)), r.standard_normal(3), _psd(r, 3)
    check_derivatives(lambda a, b, c: multivariate_normal.logpdf(a, b, _sym(c)), x, mean, cov)
    check_derivatives(lambda a, b, c: multivariate_normal.pdf(a, b, _sym(c)), x[0], mean, cov)
    check_derivatives(lambda c: multivariate_normal.entropy(mean, _sym(c)), cov)
    check_vmap(lambda a, b, c: multivariate_normal.logpdf(a, b, c),
               [(r.standard_normal(3), mean, cov) for _ in range(3)])
    check_vmap(lambda c, a: multivariate_normal.logpdf(a, mean, _sym(c)), [(_psd(r, 3), x) for _ in range(3)])


def test_multivariate_normal_singular_covariance():
    cov = np.diag([1.0, 2.0, 0.0])
    x = np.array([[0.3, -0.2, 0.0], [0.1, 0.1, 0.5]])  # the second point is off the support
    with np.errstate(divide="ignore"):
        _close(multivariate_normal.logpdf(x, np.zeros(3), cov, allow_singular=True),
               ss.multivariate_normal.logpdf(x, np.zeros(3), cov, allow_singular=True))
    g = wg.grad(lambda a: multivariate_normal.logpdf(a, np.zeros(3), cov, allow_singular=True))(x[0])
    _close(g, [-0.3, 0.1, 0.0])  # -pinv(cov) x
    with pytest.raises(NotImplementedError, match="allow_singular=True the covariance must be a constant"):
        wg.grad(lambda c: multivariate_normal.logpdf(x[0], np.zeros(3), c, allow_singular=True))(cov)
    with pytest.raises(np.linalg.LinAlgError):
        multivariate_normal.logpdf(x[0], np.zeros(3), cov)
    with pytest.raises(ValueError, match=r"'cov' must be of shape \(2, 2\), got \(3, 3\)"):
        multivariate_normal.logpdf(x, np.zeros(2), np.eye(3))
    with pytest.raises(ValueError, match="'mean' must be a vector of length 4"):
        multivariate_normal.logpdf(x, np.zeros((2, 2)), np.eye(4))
    with pytest.raises(ValueError, match="x has 3 components on its last axis"):
        multivariate_normal.logpdf(x, np.zeros(2), np.eye(2))


def test_dirichlet_matches_scipy_with_derivatives():
    r = np.random.default_rng(2)
    alpha = r.uniform(1.2, 3.0, 4)
    x = r.dirichlet(alpha, size=3).T  # (K, N): SciPy's components are on the first axis
    for fn, ref in ((dirichlet.logpdf, ss.dirichlet.logpdf), (dirichlet.pdf, ss.dirichlet.pdf)):
        _close(fn(x, alpha), ref(x, alpha), rtol=1e-11)
        _close(fn(x[:, 0], alpha), ref(x[:, 0], alpha), rtol=1e-11)
        _close(fn(x[:-1, 0], alpha), ref(x[:-1, 0], alpha), rtol=1e-11)  # K - 1 components
    check_derivatives(lambda a: dirichlet.logpdf(x, a), alpha)
    # in x, on the simplex (normalised, as the density lives there)
    check_derivatives(lambda v: dirichlet.pdf(v / wg.sum(v), alpha), x[:, 0])
    check_vmap(lambda a, v: dirichlet.logpdf(v, a), [(r.uniform(1.2, 3.0, 4), x) for _ in range(3)])


@pytest.mark.parametrize("x,match", [
    (np.array([0.5, 0.6, -0.1]), "greater than or equal to zero"),
    (np.array([0.5, 0.6, 0.1]), "on the simplex"),
    (np.array([0.5, 0.5]), "either 4 or 3 entries"),
])
def test_dirichlet_bad_x(x, match):
    with pytest.raises(ValueError, match=match):
        dirichlet.logpdf(x, np.ones(4 if "either" in match else 3) * 2.0)


# ---------------------------------------------------------------------- special: composites and conventions
def test_logsumexp_like_scipy():
    r = np.random.default_rng(3)
    a, b = r.standard_normal((2, 3)), r.standard_normal((2, 3))
    for kw in ({}, {"axis": 0}, {"axis": 1, "keepdims": True}, {"b": np.abs(b) + 0.1, "axis": 1},
               {"b": b, "axis": 1, "return_sign": True}, {"b": b, "return_sign": True}, {"return_sign": True}):
        got, want = special.logsumexp(a, **kw), sc.logsumexp(a, **kw)
        if kw.get("return_sign"):
            _close(got[0], want[0])
            _close(got[1], want[1])
        else:
            _close(got, want)
    with np.errstate(invalid="ignore"):  # a negative sum without return_sign: NaN, as SciPy
        assert np.isnan(special.logsumexp(np.array([1.0, 2.0]), b=np.array([1.0, -2.0])).item())
    # derivatives in a and in b, also where b is negative (the sign is locally constant)
    check_derivatives(lambda x, w: special.logsumexp(x, axis=1, b=w, return_sign=True)[0], a,
                      np.where(np.abs(b) < 0.2, 0.5, b))
    check_derivatives(lambda x: special.logsumexp(x, axis=0, keepdims=True), a)


def test_softmax_and_log_softmax_default_to_every_axis():
    x = np.random.default_rng(4).standard_normal((2, 3))
    for axis in (None, 0, 1):
        _close(special.softmax(x, axis=axis), sc.softmax(x, axis=axis))
        _close(special.log_softmax(x, axis=axis), sc.log_softmax(x, axis=axis))
    check_derivatives(lambda v: special.log_softmax(v), x)
    check_derivatives(lambda v: special.softmax(v, axis=1), x)


def test_aliases_and_multigammaln():
    _close(special.psi(2.5), sc.psi(2.5))
    _close(special.jn(2, 3.5), sc.jn(2, 3.5))
    a = np.array([[3.5, 4.0], [5.0, 3.2]])
    _close(special.multigammaln(a, 3), sc.multigammaln(a, 3))
    check_derivatives(lambda v: special.multigammaln(v, 3), a)
    with pytest.raises(TypeError, match=r"gammaln\(x\) takes 1 argument"):
        special.gammaln(1.0, 2.0)


def test_special_derivatives_against_pytorch():
    torch = pytest.importorskip("torch")
    x = np.array([0.3, 0.7, 1.9])
    pairs = [(special.gammaln, torch.special.gammaln), (special.digamma, torch.special.digamma),
             (special.erfinv, lambda v: torch.special.erfinv(v / 2)), (special.i0e, torch.special.i0e),
             (special.i1, torch.special.i1), (special.log_ndtr, torch.special.log_ndtr),
             (special.ndtri, lambda v: torch.special.ndtri(v / 2)), (special.erfcx, torch.special.erfcx),
             (special.logit, lambda v: torch.special.logit(v / 2)), (special.expit, torch.special.expit)]
    for ours, theirs in pairs:
        arg = x / 2 if ours in (special.erfinv, special.ndtri, special.logit) else x
        tx = torch.tensor(x, requires_grad=True)
        theirs(tx).sum().backward()
        _close(wg.grad(lambda v, f=ours: wg.sum(f(v)))(arg) * (0.5 if ours in (special.erfinv, special.ndtri,
                                                                               special.logit) else 1.0),
               tx.grad.numpy(), rtol=1e-9)
    ty = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64, requires_grad=True)
    torch.special.xlogy(ty, torch.tensor(x)).sum().backward()
    _close(wg.grad(lambda v: wg.sum(special.xlogy(v, x)))(np.array([0.0, 1.0, 2.0])), ty.grad.numpy())


def test_xlogy_at_zero_and_order_arguments():
    # xlogy(0, y) = 0 for every y: its y-derivative is 0 there, even at y = 0
    assert wg.grad(lambda y: special.xlogy(0.0, y))(0.0) == 0.0
    assert wg.grad(lambda y: special.xlog1py(0.0, y))(-1.0) == 0.0
    with pytest.raises(NotImplementedError, match=r"scipy.special.jv: no derivative with respect to v"):
        wg.grad(lambda n: special.jv(n, 2.0))(1.0)
    with pytest.raises(NotImplementedError, match="gammainc: no derivative with respect to a"):
        wg.jvp(lambda a: special.gammainc(a, 1.0), (2.0,), (1.0,))


def test_special_functions_under_jit():
    f = wg.jit(lambda x: wg.sum(special.gammaln(x) * stats.norm.logcdf(x) + special.i1e(x)))
    x = np.array([0.5, 1.5, 2.5])
    _close(f(x), np.sum(sc.gammaln(x) * ss.norm.logcdf(x) + sc.i1e(x)))
    _close(wg.grad(f)(x), wg.grad(lambda v: wg.sum(special.gammaln(v) * stats.norm.logcdf(v) + special.i1e(v)))(x))


# ---------------------------------------------------------------------- linalg composites
def test_cho_factor_cho_solve_solve_banded():
    r = np.random.default_rng(5)
    a, b = _psd(r, 3), r.standard_normal((3, 2))
    for lower in (False, True):
        c = linalg.cho_factor(a, lower=lower)
        assert c[1] is lower
        _close(linalg.cho_solve(c, b), scipy.linalg.cho_solve(scipy.linalg.cho_factor(a, lower=lower), b))
        check_derivatives(lambda m, v, lo=lower: linalg.cho_solve(linalg.cho_factor(_sym(m), lower=lo), v), a, b)
    # cho_solve reads only the factor's triangle: SciPy's own factor (other triangle unspecified) works too
    _close(linalg.cho_solve(scipy.linalg.cho_factor(a), b), np.linalg.solve(a, b))
    ab = np.array([[0.0, 1.0, 0.5, 0.2], [4.0, 5.0, 6.0, 4.5], [1.0, 0.3, 0.7, 0.0]])  # (l, u) = (1, 1)
    v = r.standard_normal(4)
    _close(linalg.solve_banded((1, 1), ab, v), scipy.linalg.solve_banded((1, 1), ab, v))
    g = wg.grad(lambda m: wg.sum(linalg.solve_banded((1, 1), m, v)))(ab)
    assert g[0, 0] == 0.0 and g[2, 3] == 0.0  # outside the band: not read
    check_derivatives(lambda m, w: linalg.solve_banded((1, 1), m, w), ab, v)
    with pytest.raises(ValueError, match=r"ab must have l \+ u \+ 1 = 3 rows"):
        linalg.solve_banded((1, 1), ab[:2], v)


def test_expm_frechet_sqrtm_and_the_core_solvers():
    r = np.random.default_rng(6)
    a, e = r.standard_normal((3, 3)) * 0.5, r.standard_normal((3, 3))
    ex, fr = linalg.expm_frechet(a, e)
    want = scipy.linalg.expm_frechet(a, e)
    _close(ex, want[0])
    _close(fr, want[1], rtol=1e-9)
    check_derivatives(lambda m, n: linalg.expm_frechet(m, n, compute_expm=False), a, e)
    m = _psd(r, 3)
    _close(linalg.solve(m, e), scipy.linalg.solve(m, e))
    _close(linalg.solve(m, e, transposed=True), scipy.linalg.solve(m.T, e))
    _close(linalg.inv(m), scipy.linalg.inv(m))
    _close(linalg.det(m), scipy.linalg.det(m))
    with pytest.raises(ValueError, match=r"a must be a square 2-D matrix, got shape \(2, 3\)"):
        linalg.solve_triangular(np.ones((2, 3)), np.ones(2))
    with pytest.raises(ValueError, match=r"b must have shape \(2,\) or \(2, k\)"):
        linalg.solve_triangular(np.eye(2), np.ones(3))
    with pytest.raises(ValueError, match="trans must be"):
        linalg.solve_triangular(np.eye(2), np.ones(2), trans="X")


def test_cholesky_gradient_against_pytorch():
    torch = pytest.importorskip("torch")
    a = _psd(np.random.default_rng(8), 3)
    w = np.random.default_rng(9).standard_normal((3, 3))
    ta = torch.tensor(a, requires_grad=True)
    (torch.linalg.cholesky(ta) * torch.tensor(w)).sum().backward()
    ours = wg.grad(lambda m: wg.sum(linalg.cholesky(m, lower=True) * w))(a)
    tg = ta.grad.numpy()
    _close(ours, 0.5 * (tg + tg.T), rtol=1e-9)
    _close(ours, ours.T)


# ---------------------------------------------------------------------- signal.convolve
@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("s1,s2", [((5,), (3,)), ((3,), (5,)), ((4, 3), (2, 2)), ((2, 3), (3, 4)),
                                   ((3, 2, 4), (2, 2, 3)), ((4,), (4,))])
def test_convolve_matches_scipy_in_every_mode(mode, s1, s2):
    r = np.random.default_rng(10)
    a, b = r.standard_normal(s1), r.standard_normal(s2)
    mixed = mode == "valid" and not (all(x >= y for x, y in zip(s1, s2)) or all(x <= y for x, y in zip(s1, s2)))
    if mixed:
        with pytest.raises(ValueError, match="at least as large as the other along every convolved axis"):
            signal.convolve(a, b, mode=mode)
        return
    _close(signal.convolve(a, b, mode=mode), scipy.signal.convolve(a, b, mode=mode), rtol=1e-11)
    if len(s1) < 3:
        check_derivatives(lambda x, y: signal.convolve(x, y, mode=mode), a, b)
        check_vmap(lambda x, y: signal.convolve(x, y, mode=mode), [(r.standard_normal(s1), b) for _ in range(3)])
        check_vmap(lambda y, x: signal.convolve(x, y, mode=mode), [(r.standard_normal(s2), a) for _ in range(3)])


def test_convolve_autograd_axes():
    """HIPS autograd's generalisation: convolve along some axes, contract others, keep the rest."""
    r = np.random.default_rng(11)
    a35, a34, a342 = r.standard_normal((3, 5)), r.standard_normal((3, 4)), r.standard_normal((3, 4, 2))
    for mode in ("valid", "full"):
        _close(signal.convolve(a35, a34, axes=([1], [0]), mode=mode)[1, 2],
               scipy.signal.convolve(a35[1, :], a34[:, 2], mode))
        _close(signal.convolve(a35, a34, axes=([], []), dot_axes=([0], [0]), mode=mode), np.tensordot(a35, a34, (0, 0)))
        _close(signal.convolve(a35, a342, axes=([1], [2]), dot_axes=([0], [0]), mode=mode)[2],
               sum(scipy.signal.convolve(a35[i, :], a342[i, 2, :], mode) for i in range(3)))
    check_derivatives(lambda x, y: signal.convolve(x, y, axes=([1, 0], [1, 0]), mode="same"),
                      r.standard_normal((4, 3)), r.standard_normal((3, 2)))
    check_derivatives(lambda x, y: signal.convolve(x, y, axes=([1], [1]), dot_axes=([0, 2], [2, 0]), mode="full"),
                      r.standard_normal((2, 3, 2)), r.standard_normal((2, 2, 2)))


def test_convolve_bad_arguments():
    with pytest.raises(ValueError, match="mode must be 'full', 'valid' or 'same', got 'wrap'"):
        signal.convolve(np.ones(3), np.ones(2), mode="wrap")
    with pytest.raises(ValueError, match="same dimensionality"):
        signal.convolve(np.ones(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match="method must be"):
        signal.convolve(np.ones(3), np.ones(2), method="magic")
    with pytest.raises(ValueError, match="dot axes 0 of in1 and 0 of in2 have sizes 3 and 2"):
        signal.convolve(np.ones((3, 2)), np.ones((2, 2)), axes=([1], [1]), dot_axes=([0], [0]))


# ---------------------------------------------------------------------- odeint
def _field(y, t, k, c):
    return -np.sqrt(t) * y + k - c * wg.mean((y + k) ** 2)  # written as HIPS autograd's tests write one


def test_odeint_values_and_gradients_against_the_whole_solve():
    r = np.random.default_rng(12)
    y0, k, c = r.standard_normal(3), r.standard_normal(3), 0.3
    t = np.linspace(0.1, 0.6, 4)
    tol = {"rtol": 1e-11, "atol": 1e-11}
    want = scipy.integrate.odeint(lambda y, s: np.asarray(_field(y, s, k, c)), y0, t, **tol)
    _close(integrate.odeint(_field, y0, t, args=(k, c), **tol), want, rtol=1e-9)
    # reverse (adjoint) and forward (sensitivities) mode against differences of the whole solve;
    # c is a float in args: differentiable too
    wg.gradcheck(lambda a, s, p, q: integrate.odeint(_field, a, s, args=(p, q), **tol), y0, t, k, c,
                 modes=("rev", "fwd"), eps=1e-5, rtol=1e-6, atol=1e-8)


def test_odeint_adjoint_equals_forward_sensitivities_and_the_exact_solution():
    # dy/dt = -k y:  y(t) = y0 e^(-k (t - t0)), with every derivative known
    y0, k = np.array([2.0, -1.0]), 0.7
    t = np.array([0.0, 0.5, 1.5])
    tol = {"rtol": 1e-12, "atol": 1e-12}

    def f(y0_, t_, k_):
        return integrate.odeint(lambda y, s, kk: -kk * y, y0_, t_, args=(k_,), **tol)

    rev = wg.jacrev(f, argnums=(0, 1, 2))(y0, t, k)
    fwd = wg.jacfwd(f, argnums=(0, 1, 2))(y0, t, k)
    for a, b in zip(rev, fwd):
        _close(a, b, rtol=1e-8, atol=1e-10)
    e = np.exp(-k * (t - t[0]))
    _close(rev[2], -(t - t[0])[:, None] * e[:, None] * y0, rtol=1e-8)  # d/dk
    dt = np.zeros((3, 2, 3))
    for i in range(3):
        dt[i, :, i] += -k * e[i] * y0  # moving t_i
        dt[i, :, 0] += k * e[i] * y0  # moving t_0
    _close(rev[1], dt, rtol=1e-8, atol=1e-10)
    _close(rev[0], e[:, None, None] * np.eye(2), rtol=1e-8, atol=1e-10)


def test_odeint_second_derivatives():
    t = np.array([0.0, 0.8])
    tol = {"rtol": 1e-10, "atol": 1e-10}

    def final(k):  # y(0.8) of y' = -k y^2, y(0) = 1: 1 / (1 + 0.8 k)
        return integrate.odeint(lambda y, s, kk: -kk * y * y, np.array([1.0]), t, args=(k,), **tol)[1, 0]

    k = 0.9
    _close(wg.grad(final)(k), -0.8 / (1 + 0.8 * k) ** 2, rtol=1e-7)
    _close(wg.grad(wg.grad(final))(k), 2 * 0.64 / (1 + 0.8 * k) ** 3, rtol=1e-6)  # reverse over reverse
    _close(wg.hvp(final, k, 1.0), 2 * 0.64 / (1 + 0.8 * k) ** 3, rtol=1e-6)  # forward over reverse


def test_odeint_arguments():
    tol = {"rtol": 1e-10, "atol": 1e-10}
    t = np.array([0.0, 1.0])
    # tfirst, an integer and a non-numeric constant in args, a scalar y0
    f = lambda s, y, n, name: -n * y if name == "decay" else y
    out = integrate.odeint(f, 1.0, t, args=(2, "decay"), tfirst=True, **tol)
    assert out.shape == (2, 1)
    _close(out[1, 0], np.exp(-2.0), rtol=1e-8)
    _close(wg.grad(lambda y: integrate.odeint(f, y, t, args=(2, "decay"), tfirst=True, **tol)[1, 0])(1.0),
           np.exp(-2.0), rtol=1e-8)
    # vmap over initial states: a loop of solves
    ys = np.array([[1.0], [2.0], [3.0]])
    got = wg.vmap(lambda y: integrate.odeint(lambda y_, s: -y_, y, t, **tol))(ys)
    _close(got[:, 1, 0], ys[:, 0] * np.exp(-1.0), rtol=1e-8)


def test_odeint_errors():
    t = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="full_output=True is not supported"):
        integrate.odeint(lambda y, s: -y, np.ones(2), t, full_output=1)
    k = wg.tensor(0.5, requires_grad=True)
    with pytest.raises(ValueError, match=r"pass it through args=\(\.\.\.\)"):
        integrate.odeint(lambda y, s: -k * y, np.ones(2), t)
    with pytest.raises(ValueError, match="t must be a 1-D array of time points"):
        integrate.odeint(lambda y, s: -y, np.ones(2), np.ones((2, 2)))


def test_sqrtm_of_a_matrix_without_a_real_root_is_complex():
    """As SciPy: a negative eigenvalue gives the complex principal root (it raised before), with its derivative;
    a real root stays real; under wg.jit a program compiled for one kind refuses the other."""
    a = np.array([[-1.0, 0.5], [0.0, 4.0]])
    x = linalg.sqrtm(a)
    assert x.dtype == np.complex128 == scipy.linalg.sqrtm(a).dtype
    np.testing.assert_allclose(x.data, scipy.linalg.sqrtm(a), rtol=1e-12)
    np.testing.assert_allclose((x @ x).data, a, atol=1e-12)
    g = wg.grad(lambda m: wg.sum(wg.real(linalg.sqrtm(m) * np.array([[1.0, 2.0j], [0.5, 1.0]]))))(a)
    assert g.dtype == np.float64
    check_grads(linalg.sqrtm, a)                        # the real matrix: real perturbations
    check_grads(linalg.sqrtm, a + 0.3j * np.eye(2))     # complex ones: the whole complex plane
    assert linalg.sqrtm(np.array([[4.0, 2.0], [2.0, 3.0]])).dtype == np.float64
    f = wg.jit(lambda m: linalg.sqrtm(m))
    _close(f(np.eye(2) * 4.0), np.eye(2) * 2.0)
    with pytest.raises(ValueError, match=r"^sqrtm: this real matrix has a complex square root, but wg.jit compiled "
                                         r"the function for one with a real square root .*a.astype\(complex\)"):
        f(a)
