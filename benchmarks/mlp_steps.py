"""One training step of the W2/W3 MLP in each library: ReLU hidden layers, softmax cross-entropy (mean), plain SGD.

``make(lib, params, lr)`` returns ``(prepare, step)``: ``prepare(x, y)`` converts
one NumPy batch to the library's arrays (once, outside the timing) and
``step(x, y)`` runs forward, backward and the SGD update on a prepared batch
and returns the loss (anything ``float()`` accepts; JAX's stays on device
until then).  ``params`` is ``[W1, b1, W2, b2, W3, b3]`` with ``W`` of shape
``(in, out)``, as :func:`init_params` makes them.  Used by
``w2_small_mlp.py`` (many small batches) and ``w3_large_mlp.py`` (one large
batch).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
from common import need


def init_params(sizes: tuple, seed: int = 1) -> list:
    """[W1, b1, ...], W of shape (in, out) ~ N(0, 2/in) (He), b = 0, float32."""
    rng = np.random.default_rng(seed)
    out = []
    for nin, nout in itertools.pairwise(sizes):
        out.append((rng.standard_normal((nin, nout)) * np.sqrt(2.0 / nin)).astype(np.float32))
        out.append(np.zeros(nout, dtype=np.float32))
    return out


def _same(x: Any, y: Any) -> tuple:
    return x, y


def numpy_step(params: list, lr: float) -> tuple:
    """Hand-written backprop: the limit for an eager engine (it skips the input's gradient)."""
    W1, b1, W2, b2, W3, b3 = params

    def step(x: np.ndarray, y: np.ndarray) -> float:
        rows = np.arange(len(y))
        z1 = x @ W1 + b1
        h1 = np.maximum(z1, 0)
        z2 = h1 @ W2 + b2
        h2 = np.maximum(z2, 0)
        z3 = h2 @ W3 + b3
        m = z3.max(axis=1, keepdims=True)
        e = np.exp(z3 - m)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - z3[rows, y]))
        dz3 = e / s
        dz3[rows, y] -= 1
        dz3 /= len(y)
        dW3, db3 = h2.T @ dz3, dz3.sum(axis=0)
        dz2 = (dz3 @ W3.T) * (z2 > 0)
        dW2, db2 = h1.T @ dz2, dz2.sum(axis=0)
        dz1 = (dz2 @ W2.T) * (z1 > 0)
        dW1, db1 = x.T @ dz1, dz1.sum(axis=0)
        for p, g in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2), (W3, dW3), (b3, db3)):
            p -= lr * g
        return loss

    return _same, step


def wengert_model(params: list) -> Any:
    """nn.Sequential of Linear/ReLU holding ``params`` (also the model of the data-parallel W3DP)."""
    from wengert import nn

    sizes = [params[0].shape[0]] + [params[i].shape[1] for i in range(0, len(params), 2)]
    layers: list = []
    for i, (nin, nout) in enumerate(itertools.pairwise(sizes)):
        layers += [nn.Linear(nin, nout), nn.ReLU()] if i < len(sizes) - 2 else [nn.Linear(nin, nout)]
    model = nn.Sequential(*layers)
    state = {}
    for k in range(len(params) // 2):
        state[f"{2 * k}.weight"] = params[2 * k].T  # nn.Linear stores W as (out, in), as PyTorch does
        state[f"{2 * k}.bias"] = params[2 * k + 1]
    model.load_state_dict(state)
    return model


def wengert_step(params: list, lr: float) -> tuple:
    """The way a user writes it: nn.Sequential of Linear/ReLU, F.cross_entropy, optim.SGD."""
    import wengert as wg
    from wengert import optim
    from wengert.nn import functional as F

    model = wengert_model(params)
    opt = optim.SGD(model.parameters(), lr=lr)

    def step(x: Any, y: np.ndarray) -> float:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return (lambda x, y: (wg.tensor(x), y)), step


def wengert_jit_step(params: list, lr: float) -> tuple:
    """W2J: the step written functionally (value_and_grad over a list of arrays, then p - lr * g), under wg.jit."""
    import wengert as wg

    def loss_fn(ps: list, x: Any, y1h: Any) -> Any:
        W1, b1, W2, b2, W3, b3 = ps
        h1 = wg.relu(x @ W1 + b1)
        h2 = wg.relu(h1 @ W2 + b2)
        return -wg.mean(wg.sum(y1h * wg.log_softmax(h2 @ W3 + b3, axis=1), axis=1))

    grad_fn = wg.value_and_grad(loss_fn)

    @wg.jit
    def update(ps: list, x: Any, y1h: Any) -> tuple:
        loss, grads = grad_fn(ps, x, y1h)
        return [p - lr * g for p, g in zip(ps, grads)], loss

    state = {"params": [p.copy() for p in params]}

    def step(x: np.ndarray, y1h: np.ndarray) -> float:
        state["params"], loss = update(state["params"], x, y1h)
        return loss

    return (lambda x, y: (x, np.eye(params[-1].shape[0], dtype=x.dtype)[y])), step


def torch_step(params: list, lr: float) -> tuple:
    """PyTorch eager: explicit parameter tensors, F.cross_entropy, torch.optim.SGD."""
    torch = need("torch")
    import torch.nn.functional as TF

    ps = [torch.tensor(p, requires_grad=True) for p in params]
    W1, b1, W2, b2, W3, b3 = ps
    opt = torch.optim.SGD(ps, lr=lr)

    def step(x: Any, y: Any) -> Any:
        h1 = torch.relu(x @ W1 + b1)
        h2 = torch.relu(h1 @ W2 + b2)
        loss = TF.cross_entropy(h2 @ W3 + b3, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    return (lambda x, y: (torch.from_numpy(x), torch.from_numpy(y))), step


def jax_step(params: list, lr: float, jit: bool) -> tuple:
    """JAX: value_and_grad of the loss and the SGD update, the whole step jitted or not."""
    jax = need("jax")
    import jax.numpy as jnp

    def loss_fn(ps, x, y):
        W1, b1, W2, b2, W3, b3 = ps
        h1 = jax.nn.relu(x @ W1 + b1)
        h2 = jax.nn.relu(h1 @ W2 + b2)
        logp = jax.nn.log_softmax(h2 @ W3 + b3)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    grad_fn = jax.value_and_grad(loss_fn)

    def update(ps, x, y):
        loss, grads = grad_fn(ps, x, y)
        return [p - lr * g for p, g in zip(ps, grads)], loss

    if jit:
        update = jax.jit(update)
    state = {"params": [jnp.asarray(p) for p in params]}

    def step(x: Any, y: Any) -> Any:
        state["params"], loss = update(state["params"], x, y)
        return loss

    return (lambda x, y: (jnp.asarray(x), jnp.asarray(y.astype(np.int32)))), step


def autograd_step(params: list, lr: float) -> tuple:
    """HIPS autograd: value_and_grad of a NumPy-style loss."""
    need("autograd")
    import autograd.numpy as anp
    from autograd import value_and_grad
    from autograd.scipy.special import logsumexp

    def loss_fn(ps, x, y):
        W1, b1, W2, b2, W3, b3 = ps
        h1 = anp.maximum(anp.dot(x, W1) + b1, 0)
        h2 = anp.maximum(anp.dot(h1, W2) + b2, 0)
        z = anp.dot(h2, W3) + b3
        return -anp.mean((z - logsumexp(z, axis=1, keepdims=True))[np.arange(len(y)), y])

    grad_fn = value_and_grad(loss_fn)
    state = {"params": list(params)}

    def step(x: np.ndarray, y: np.ndarray) -> float:
        loss, grads = grad_fn(state["params"], x, y)
        state["params"] = [p - lr * g for p, g in zip(state["params"], grads)]
        return float(loss)

    return _same, step


def mygrad_step(params: list, lr: float) -> tuple:
    """MyGrad: its relu and softmax_crossentropy, in-place update of .data."""
    mg = need("mygrad")
    from mygrad.nnet.activations import relu
    from mygrad.nnet.losses import softmax_crossentropy

    ps = [mg.tensor(p) for p in params]
    W1, b1, W2, b2, W3, b3 = ps

    def step(x: np.ndarray, y: np.ndarray) -> float:
        h1 = relu(mg.matmul(x, W1) + b1)
        h2 = relu(mg.matmul(h1, W2) + b2)
        loss = softmax_crossentropy(mg.matmul(h2, W3) + b3, y)
        loss.backward()
        for p in ps:
            p.data -= lr * p.grad
        return float(loss.item())

    return _same, step


MAKERS: dict[str, Callable[..., tuple]] = {
    "wengert": wengert_step, "wengert_jit": wengert_jit_step, "numpy": numpy_step, "torch": torch_step,
    "jax": lambda p, lr: jax_step(p, lr, jit=False), "jax_jit": lambda p, lr: jax_step(p, lr, jit=True),
    "autograd": autograd_step, "mygrad": mygrad_step,
}

NOTES = {
    "wengert": "nn.Sequential(Linear, ReLU, ...), F.cross_entropy, optim.SGD",
    "wengert_jit": "wg.jit of value_and_grad + p - lr * g (functional, one-hot labels); first step compiles",
    "numpy": "hand-written backprop (skips the input's gradient)",
    "torch": "eager, F.cross_entropy, torch.optim.SGD",
    "jax": "value_and_grad, no jit",
    "jax_jit": "the whole step jitted; the first step includes compilation",
    "autograd": "HIPS autograd value_and_grad",
    "mygrad": "mygrad.nnet relu + softmax_crossentropy",
}


def make(lib: str, params: list, lr: float) -> tuple:
    """(prepare, step) for ``lib``; raises common.Missing when the peer is not installed."""
    return MAKERS[lib](params, lr)
