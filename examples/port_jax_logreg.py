"""A JAX-style logistic regression, ported to wengert: a params dict, value_and_grad, a jitted update, vmap.

    python examples/port_jax_logreg.py [--quick] [--steps 300]

The original is the logistic regression of JAX's quickstart and autodiff cookbook, written the
way JAX users write training code: pure functions of a parameter dict (a pytree),
``predict(params, inputs) = sigmoid(inputs @ W + b)`` with the cookbook's
``sigmoid(x) = 0.5 (tanh(x / 2) + 1)``, the mean negative log-likelihood as the loss, one
``@jit``-compiled ``update`` that computes ``value_and_grad(loss)`` and applies SGD with
``tree_map``, and ``vmap`` for per-example predictions and per-example gradients.

What changed in the port: only the imports. ``import jax.numpy as jnp`` became ``import
wengert as jnp`` (``jnp.dot``, ``jnp.tanh``, ``jnp.log``, ``jnp.mean`` exist under the same
names), ``from jax import grad, jit, value_and_grad, vmap`` became ``from wengert import ...``,
and ``jax.tree_util.tree_map`` is ``wengert.tree.tree_map``. The data are NumPy arrays from a
seeded ``numpy.random.default_rng`` instead of ``jax.random`` keys (wengert has no
``jnp.array`` and no splittable keys: ``np.asarray`` and NumPy's generators serve).
``--quick`` runs fewer steps on fewer points (the test suite's setting).
"""
from __future__ import annotations

import argparse

import numpy as np

import wengert as jnp
from wengert import grad, jit, value_and_grad, vmap
from wengert.tree import tree_map


def sigmoid(x):
    return 0.5 * (jnp.tanh(x / 2) + 1)


# Outputs probability of a label being true.
def predict(params, inputs):
    return sigmoid(jnp.dot(inputs, params["W"]) + params["b"])


# Training loss is the negative log-likelihood of the training examples.
def loss(params, inputs, targets):
    preds = predict(params, inputs)
    label_probs = preds * targets + (1 - preds) * (1 - targets)
    return -jnp.mean(jnp.log(label_probs))


def sgd_step(params, inputs, targets, lr):
    value, grads = value_and_grad(loss)(params, inputs, targets)
    return value, tree_map(lambda p, g: p - lr * g, params, grads)


update = jit(sgd_step)  # in JAX: @jit on sgd_step; kept apart here so the eager step can be compared


def make_data(n: int, dim: int, seed: int = 0) -> tuple:
    """Linearly separable-ish data: labels from a random hyperplane, with label noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim))
    w_true = rng.standard_normal(dim)
    y = (X @ w_true + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
    params = {"W": 0.01 * rng.standard_normal(dim), "b": 0.0}
    return X, y, params


def main(quick: bool = False, steps: int | None = None, verbose: bool = True) -> dict:
    """Train with the jitted update; returns losses, accuracy and the checks of jit and vmap against eager code."""
    n, dim = (200, 5) if quick else (1000, 10)
    steps = steps if steps is not None else (150 if quick else 300)
    X, y, params = make_data(n, dim)
    lr = 0.5

    # jit: the first call traces sgd_step (forward and backward) into one program, later calls replay it.
    eager_value, eager_params = sgd_step(params, X, y, lr)
    losses = []
    for i in range(steps):
        value, params_next = update(params, X, y, lr)
        if i == 0:
            jit_matches_eager = (value == eager_value
                                 and all(np.array_equal(params_next[k], eager_params[k]) for k in params))
        params = params_next
        losses.append(float(value))
        if verbose and (i % 50 == 0 or i == steps - 1):
            print(f"step {i:4d}  loss {value:.4f}")
    if verbose:
        print(update.program(params, X, y, lr))

    # vmap: predict one example at a time, batched over the rows of X, equals the batched predict.
    per_example = vmap(predict, in_axes=(None, 0))(params, X)
    batched = predict(params, X)
    vmap_matches = bool(np.allclose(per_example, batched, rtol=1e-13, atol=0))
    accuracy = float(np.mean((per_example > 0.5) == y))

    # Per-example gradients: vmap of grad; their mean is the gradient of the mean loss.
    per_example_grads = vmap(grad(loss), in_axes=(None, 0, 0))(params, X, y)
    full = grad(loss)(params, X, y)
    per_example_ok = bool(np.allclose(per_example_grads["W"].mean(0), full["W"], rtol=1e-10, atol=1e-14)
                          and np.isclose(per_example_grads["b"].mean(), full["b"], rtol=1e-10, atol=1e-14))
    if verbose:
        print(f"accuracy {100 * accuracy:.1f}%  per-example gradients {per_example_grads['W'].shape}")
    return {"losses": losses, "accuracy": accuracy, "jit_matches_eager": bool(jit_matches_eager),
            "vmap_matches": vmap_matches, "per_example_grads_ok": per_example_ok,
            "per_example_grad_shape": per_example_grads["W"].shape}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 points in 5-D, 150 steps (default: off, 1000 points "
                    "in 10-D, 300 steps)")
    ap.add_argument("--steps", type=int, default=None, help="SGD steps (default: 300, or 150 with --quick)")
    a = ap.parse_args()
    main(quick=a.quick, steps=a.steps)
