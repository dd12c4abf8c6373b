"""CS231n's two-layer net with batch normalisation, ported to wengert: checked against numerical gradients.

    python examples/port_cs231n_twolayer.py [--quick] [--epochs 8]

The original is Stanford CS231n's assignment 2 (``layers.py``, ``fc_net.py``,
``gradient_check.py``, ``optim.py`` and the BatchNormalization notebook): a network
affine - batchnorm - relu - affine - softmax written as NumPy layer functions, each with a
hand-written backward pass; the notebook checks the gradients against numerical ones
(``eval_numerical_gradient`` and the ``rel_error`` print), checks the batchnorm forward pass
(in train mode each feature comes out with mean ~0 and std ~1, or beta and gamma; in test
mode the running averages normalise), then trains with a ``Solver`` and Adam.

What changed in the port:

- The layers' forward functions are CS231n's NumPy code, unchanged except that they return
  only ``out``: NumPy's functions (``np.maximum``, ``np.mean``, ``np.var``, ``np.exp``, ...)
  applied to wengert tensors stay in the graph, so the same functions run on plain arrays and
  on tensors. The ``*_backward`` functions and the caches are gone: ``model.loss`` gets its
  gradient dict from ``wg.value_and_grad`` of the forward pass (ndarrays in, ndarrays out).
- ``affine_forward`` writes ``x.reshape(N, -1) @ w`` instead of ``.dot(w)``: ``ndarray.dot``
  is a method NumPy does not dispatch, so an ndarray ``x`` cannot take a tensor ``w`` (a clear
  error says so; ``np.dot(x, w)`` and ``@`` dispatch).
- batchnorm's running averages are data, not part of the graph: the sample mean and variance
  they take in go through ``wg.stop_gradient`` (in PyTorch: ``.detach()``). NumPy code never
  needed this; without it the running averages would hold every step's graph.
- ``wg.gradcheck`` checks the whole gradient dict next to CS231n's element-by-element check.
  The network check uses N = 10 examples instead of 2: with 2, batchnorm's output sits on the
  curved part of ``x / sqrt(var + eps)`` and central differences at h = 1e-5 are off by 1e-5.
  ``b1``'s true gradient is 0 (a bias before batchnorm cancels), so its relative error compares
  two numbers near 0 (other seeds print 2.2e-03 for it); and an element-by-element
  relative error of small gradients is bounded by the rounding of ``f`` over ``2h`` (about
  1e-7 here). The tests therefore also take the relative error of the whole array.
- The layer is compared with wengert's own ``F.batch_norm`` and ``nn.BatchNorm1d`` (CS231n's
  momentum 0.9 is PyTorch's 0.1).
- The layer checks print the notebook's published output: the same seeds and forward code give
  the test-time means ``[-0.03927354 -0.04349152 -0.10452688]`` and stds ``[1.01531428
  1.01238373 0.97819988]``, and the VJP in place of the hand-written backward gives
  ``dgamma error: 7.420414216247087e-13``, ``dbeta error: 2.8795057655839487e-12`` to the last
  digit and ``dx error: 1.70292e-09`` (the notebook: 1.7029261e-09; the rounding differs).
- The training data are the built-in 8x8 digits instead of CIFAR-10; the ``Solver`` is a
  ten-line loop around CS231n's ``adam``. ``--quick`` trains fewer epochs (the tests' setting).
"""
from __future__ import annotations

import argparse

import numpy as np

import wengert as wg
from wengert import data, nn
from wengert.nn import functional as F

# ---------------------------------------------------------------- layers.py (forward passes only)


def affine_forward(x, w, b):
    """Affine layer: ``x`` of shape (N, d_1, ..., d_k) reshaped to (N, D), times ``w`` (D, M), plus ``b`` (M,)."""
    return x.reshape(x.shape[0], -1) @ w + b


def relu_forward(x):
    return np.maximum(0, x)


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation of (N, D) data; ``bn_param`` holds mode, eps, momentum and the running averages.

    In train mode the batch's mean and (biased) variance normalise, and the running averages are
    updated with ``running = momentum * running + (1 - momentum) * sample``; in test mode the
    running averages normalise.
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)

    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    if mode == "train":
        sample_mean = np.mean(x, axis=0)
        sample_var = np.var(x, axis=0)
        x_hat = (x - sample_mean) / np.sqrt(sample_var + eps)
        out = gamma * x_hat + beta
        # the running averages are data: cut them from the graph (CS231n's NumPy code had no graph)
        running_mean = momentum * running_mean + (1 - momentum) * np.asarray(wg.stop_gradient(sample_mean))
        running_var = momentum * running_var + (1 - momentum) * np.asarray(wg.stop_gradient(sample_var))
    elif mode == "test":
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_hat + beta
    else:
        raise ValueError(f'Invalid forward batchnorm mode "{mode}"')

    # Store the updated running means back into bn_param
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out


def softmax_loss(x, y):
    """Mean softmax cross-entropy of scores ``x`` (N, C) and labels ``y`` (N,)."""
    shifted_logits = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(Z)
    N = x.shape[0]
    return -np.sum(log_probs[np.arange(N), y]) / N


# ---------------------------------------------------------------- fc_net.py


class TwoLayerNet:
    """affine - batchnorm - relu - affine - softmax, its parameters in ``self.params`` (NumPy arrays)."""

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0,
                 dtype=np.float64):
        self.reg = reg
        self.dtype = dtype
        self.params = {
            "W1": weight_scale * np.random.randn(input_dim, hidden_dim),
            "b1": np.zeros(hidden_dim),
            "gamma1": np.ones(hidden_dim),
            "beta1": np.zeros(hidden_dim),
            "W2": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b2": np.zeros(num_classes),
        }
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)
        self.bn_params = [{"mode": "train"}]

    def scores(self, params, X):
        h = affine_forward(X, params["W1"], params["b1"])
        h = batchnorm_forward(h, params["gamma1"], params["beta1"], self.bn_params[0])
        h = relu_forward(h)
        return affine_forward(h, params["W2"], params["b2"])

    def data_and_reg_loss(self, params, X, y):
        W1, W2 = params["W1"], params["W2"]
        return softmax_loss(self.scores(params, X), y) + 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

    def loss(self, X, y=None):
        """Test mode (``y`` None): the scores.  Train mode: ``(loss, grads)``, grads keyed as ``self.params``."""
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        for bn_param in self.bn_params:
            bn_param["mode"] = mode
        if mode == "test":
            return self.scores(self.params, X)
        # CS231n: the forward pass keeps caches, then each layer's backward pass runs by hand
        loss, grads = wg.value_and_grad(self.data_and_reg_loss)(self.params, X, y)
        return loss, grads


# ---------------------------------------------------------------- gradient_check.py


def eval_numerical_gradient(f, x, verbose=True, h=0.00001):
    """A naive implementation of the numerical gradient of ``f`` at ``x`` (changed in place, then restored)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h  # increment by h
        fxph = f(x)  # evalute f(x + h)
        x[ix] = oldval - h
        fxmh = f(x)  # evaluate f(x - h)
        x[ix] = oldval  # restore
        grad[ix] = (fxph - fxmh) / (2 * h)  # the slope
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """The numerical gradient of ``sum(f(x) * df)``: the VJP of an array-valued ``f``."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h
        pos = np.asarray(f(x)).copy()
        x[ix] = oldval - h
        neg = np.asarray(f(x)).copy()
        x[ix] = oldval
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def rel_error(x, y):
    """returns relative error"""
    return np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))


def print_mean_std(x, axis=0):
    print(f"  means: {x.mean(axis=axis)}")
    print(f"  stds:  {x.std(axis=axis)}\n")


# ---------------------------------------------------------------- optim.py


def adam(w, dw, config=None):
    """Adam, with CS231n's config dict (the update is done in place on a copy, as in the assignment)."""
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)

    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw ** 2
    mt = config["m"] / (1 - config["beta1"] ** config["t"])
    vt = config["v"] / (1 - config["beta2"] ** config["t"])
    next_w = w - config["learning_rate"] * mt / (np.sqrt(vt) + config["epsilon"])
    return next_w, config


# ---------------------------------------------------------------- the notebook


def check_batchnorm_layer(verbose: bool = True) -> dict:
    """Batchnorm's gradients (the VJP replaces ``batchnorm_backward``) against numerical ones; and F.batch_norm."""
    np.random.seed(231)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma = np.random.randn(D)
    beta = np.random.randn(D)
    dout = np.random.randn(N, D)

    bn_param = {"mode": "train"}
    fx = lambda x: batchnorm_forward(x, gamma, beta, bn_param)
    fg = lambda a: batchnorm_forward(x, a, beta, bn_param)
    fb = lambda b: batchnorm_forward(x, gamma, b, bn_param)

    dx_num = eval_numerical_gradient_array(fx, x, dout)
    da_num = eval_numerical_gradient_array(fg, gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(fb, beta.copy(), dout)

    # CS231n: _, cache = batchnorm_forward(...); dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    _, vjp_fn = wg.vjp(lambda x, g, b: batchnorm_forward(x, g, b, bn_param), x, gamma, beta)
    dx, dgamma, dbeta = vjp_fn(dout)
    errors = {"dx": rel_error(dx_num, dx), "dgamma": rel_error(da_num, dgamma), "dbeta": rel_error(db_num, dbeta)}
    if verbose:
        print("batchnorm layer, gradients against numerical ones:")
        for name, err in errors.items():
            print(f"  {name} error: {err:.2e}")

    # the same layer in wengert's nn.functional, as a PyTorch user would call it
    out = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    ref = F.batch_norm(x, np.zeros(D), np.ones(D), gamma, beta, training=True, momentum=0.1, eps=1e-5)
    return {"errors": errors, "matches_F_batch_norm": float(np.max(np.abs(np.asarray(out) - ref.data)))}


def check_network_gradients(verbose: bool = True) -> list:
    """The whole network's gradient dict against numerical gradients, with reg 0 and 3.14."""
    np.random.seed(231)
    N, D, H, C = 10, 15, 20, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))

    def check(reg):
        if verbose:
            print("Running check with reg = ", reg)
        model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, reg=reg, weight_scale=5e-2, dtype=np.float64)
        loss, grads = model.loss(X, y)
        if verbose:
            print("Initial loss: ", loss)

        rel, normwise, numeric = {}, {}, {}
        for name in sorted(grads):
            f = lambda _: model.loss(X, y)[0]
            grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
            rel[name] = rel_error(grad_num, grads[name])
            normwise[name] = float(np.linalg.norm(grad_num - grads[name])
                                   / max(np.linalg.norm(grad_num) + np.linalg.norm(grads[name]), 1e-300))
            numeric[name] = grad_num
            if verbose:
                print(f"{name} relative error: {rel[name]:.2e}")

        report = wg.gradcheck(lambda p: model.data_and_reg_loss(p, X, y), model.params, atol=1e-7, rtol=1e-5)
        if verbose:
            print(report)
        return {"reg": reg, "loss": loss, "rel_error": rel, "normwise": normwise, "grads": grads,
                "numeric": numeric, "gradcheck_ok": report.ok}

    return [check(reg) for reg in [0, 3.14]]


def check_batchnorm_forward(verbose: bool = True) -> dict:
    """The notebook's forward checks: train-mode means and stds, then test mode after warming up the averages."""
    # Check the training-time forward pass by checking means and variances
    # of features both before and after batch normalization
    np.random.seed(231)
    N, D1, D2, D3 = 200, 50, 60, 3
    X = np.random.randn(N, D1)
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    result = {}
    if verbose:
        print("Before batch normalization:")
        print_mean_std(a, axis=0)

    gamma = np.ones((D3,))
    beta = np.zeros((D3,))
    # Means should be close to zero and stds close to one
    a_norm = np.asarray(batchnorm_forward(wg.tensor(a), gamma, beta, {"mode": "train"}))
    result["train"] = (a_norm.mean(axis=0), a_norm.std(axis=0))
    if verbose:
        print("After batch normalization (gamma=1, beta=0)")
        print_mean_std(a_norm, axis=0)

    gamma = np.asarray([1.0, 2.0, 3.0])
    beta = np.asarray([11.0, 12.0, 13.0])
    # Now means should be close to beta and stds close to gamma
    a_norm = np.asarray(batchnorm_forward(wg.tensor(a), gamma, beta, {"mode": "train"}))
    result["train_affine"] = (a_norm.mean(axis=0), a_norm.std(axis=0))
    if verbose:
        print("After batch normalization (gamma=", gamma, ", beta=", beta, ")")
        print_mean_std(a_norm, axis=0)

    # Check the test-time forward pass by running the training-time
    # forward pass many times to warm up the running averages, and then
    # checking the means and variances of activations after a test-time
    # forward pass.
    np.random.seed(231)
    N, D1, D2, D3 = 200, 50, 60, 3
    W1 = np.random.randn(D1, D2)
    W2 = np.random.randn(D2, D3)

    bn_param = {"mode": "train"}
    gamma = np.ones(D3)
    beta = np.zeros(D3)
    layer = nn.BatchNorm1d(D3, momentum=0.1, dtype=np.float64)  # the same, as PyTorch's layer
    for _t in range(50):
        X = np.random.randn(N, D1)
        a = np.maximum(0, X.dot(W1)).dot(W2)
        batchnorm_forward(wg.tensor(a), gamma, beta, bn_param)
        layer(a)
    bn_param["mode"] = "test"
    layer.eval()
    X = np.random.randn(N, D1)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    a_norm = np.asarray(batchnorm_forward(wg.tensor(a), gamma, beta, bn_param))
    result["test"] = (a_norm.mean(axis=0), a_norm.std(axis=0))
    result["running_mean_matches_BatchNorm1d"] = float(np.max(np.abs(bn_param["running_mean"]
                                                                     - layer.running_mean)))
    result["test_BatchNorm1d"] = (layer(a).data.mean(axis=0), layer(a).data.std(axis=0))
    # Means should be close to zero and stds close to one, but will be
    # noisier than training-time forward passes.
    if verbose:
        print("After batch normalization (test-time):")
        print_mean_std(a_norm, axis=0)
    return result


def train(epochs: int = 8, verbose: bool = True) -> dict:
    """A short training run on the digits (Adam, batch 100); validation accuracy in test mode."""
    images, labels = data.load_digits()
    X_train, X_val, y_train, y_val = data.train_test_split(images, labels, test_fraction=0.2, seed=0,
                                                          stratify=labels)
    np.random.seed(0)
    model = TwoLayerNet(input_dim=X_train.shape[1], hidden_dim=100, num_classes=10, weight_scale=1e-2, reg=1e-3)
    configs = {name: {"learning_rate": 1e-2} for name in model.params}
    batch_size, history = 100, []
    for epoch in range(epochs):
        order = np.random.permutation(len(X_train))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            loss, grads = model.loss(X_train[idx], y_train[idx])
            for name, w in model.params.items():
                model.params[name], configs[name] = adam(w, grads[name], configs[name])
            history.append(loss)
        val_acc = float(np.mean(np.argmax(model.loss(X_val), axis=1) == y_val))
        if verbose:
            print(f"(Epoch {epoch + 1} / {epochs}) loss {history[-1]:.4f} val_acc {val_acc:.3f}")
    return {"loss_history": history, "val_acc": val_acc}


def main(quick: bool = False, epochs: int | None = None, verbose: bool = True) -> dict:
    """Run the notebook's checks and a short training run; returns every figure it prints."""
    epochs = epochs if epochs is not None else (4 if quick else 8)
    return {"layer": check_batchnorm_layer(verbose), "network": check_network_gradients(verbose),
            "forward": check_batchnorm_forward(verbose), "train": train(epochs, verbose)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="train 4 epochs (default: off, 8 epochs)")
    ap.add_argument("--epochs", type=int, default=None, help="training epochs (default: 8, or 4 with --quick)")
    a = ap.parse_args()
    main(quick=a.quick, epochs=a.epochs)
