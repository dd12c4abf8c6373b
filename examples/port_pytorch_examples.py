"""PyTorch's "Learning PyTorch with Examples", ported to wengert: a cubic fitted to sin(x), four ways.

    python examples/port_pytorch_examples.py [--quick] [--steps 2000]

The original is the PyTorch tutorial of that name (``polynomial_autograd.py``,
``polynomial_custom_function.py``, ``polynomial_nn.py``, ``polynomial_optim.py``): fit
``y = a + b x + c x^2 + d x^3`` to ``sin(x)`` on 2000 points of ``[-pi, pi]`` by gradient
descent on the summed squared error, for 2000 steps,

1. with tensors and autograd, updating ``a, b, c, d`` by hand under ``no_grad``;
2. with a custom autograd Function (the Legendre polynomial ``P3``, its backward by hand);
3. with ``nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1))`` and ``nn.MSELoss(reduction="sum")``,
   updating ``model.parameters()`` by hand;
4. with the same model and ``optim.RMSprop``.

What changed in the port, besides ``import torch`` becoming ``import wengert as wg`` (and
``from wengert import nn, optim``):

- ``dtype = torch.float`` is ``wg.float`` (NumPy's float32); the constructors take no
  ``device=`` (everything is on the CPU).
- ``torch.linspace`` and ``torch.randn`` default to float32, wengert's to NumPy's float64, so
  the port passes ``dtype`` where the tutorial relies on the default (its ``nn`` and ``optim``
  parts).
- ``p = torch.tensor([1, 2, 3])`` is ``wg.tensor([1, 2, 3])``: a float32 tensor raised to an
  int64 tensor stays float32, as in PyTorch and JAX (NumPy would give float64).
- ``torch.autograd.Function`` is ``wg.Function``; ``torch.full`` is ``wg.full``.
- ``--quick`` runs 1000 steps instead of 2000 (the test suite's setting).
"""
from __future__ import annotations

import argparse
import math

import numpy as np

import wengert as wg
from wengert import nn, optim

dtype = wg.float  # torch.float (float32)


def polynomial_autograd(steps: int = 2000, verbose: bool = True) -> dict:
    """Tensors and autograd: the four coefficients are leaf tensors updated by hand."""
    wg.manual_seed(0)
    # Create Tensors to hold input and outputs.
    x = wg.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = wg.sin(x)

    # Create random Tensors for weights. For a third order polynomial, we need
    # 4 weights: y = a + b x + c x^2 + d x^3
    # Setting requires_grad=True indicates that we want to compute gradients with
    # respect to these Tensors during the backward pass.
    a = wg.randn((), dtype=dtype, requires_grad=True)
    b = wg.randn((), dtype=dtype, requires_grad=True)
    c = wg.randn((), dtype=dtype, requires_grad=True)
    d = wg.randn((), dtype=dtype, requires_grad=True)

    learning_rate = 1e-6
    losses = []
    for t in range(steps):
        # Forward pass: compute predicted y using operations on Tensors.
        y_pred = a + b * x + c * x ** 2 + d * x ** 3

        # Compute and print loss using operations on Tensors.
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        if verbose and t % 100 == 99:
            print(t, loss.item())

        # Use autograd to compute the backward pass.
        loss.backward()

        # Manually update weights using gradient descent. Wrap in no_grad() because
        # the weights have requires_grad=True, but we don't need to track this in autograd.
        with wg.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad

            # Manually zero the gradients after updating weights
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None

    coef = [a.item(), b.item(), c.item(), d.item()]
    if verbose:
        print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
    return {"losses": losses, "coef": coef, "dtype": str(a.dtype), "leaf": a.is_leaf and a.requires_grad}


class LegendrePolynomial3(wg.Function):
    """The tutorial's custom autograd Function: ``P3(x) = (5 x^3 - 3 x) / 2``, its backward by hand."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


def polynomial_custom_function(steps: int = 2000, verbose: bool = True) -> dict:
    """``y = a + b P3(c + d x)`` with the custom Function, updated by hand."""
    x = wg.linspace(-math.pi, math.pi, 2000, dtype=dtype)
    y = wg.sin(x)

    # The weights are initialised not too far from the correct result to ensure convergence.
    a = wg.full((), 0.0, dtype=dtype, requires_grad=True)
    b = wg.full((), -1.0, dtype=dtype, requires_grad=True)
    c = wg.full((), 0.0, dtype=dtype, requires_grad=True)
    d = wg.full((), 0.3, dtype=dtype, requires_grad=True)

    learning_rate = 5e-6
    losses = []
    for t in range(steps):
        # To apply our Function, we use Function.apply method. We alias this as 'P3'.
        P3 = LegendrePolynomial3.apply

        # Forward pass: compute predicted y using operations; we compute P3 using our custom op.
        y_pred = a + b * P3(c + d * x)

        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        if verbose and t % 100 == 99:
            print(t, loss.item())

        loss.backward()

        with wg.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad

            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None

    if verbose:
        print(f"Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)")
    return {"losses": losses, "coef": [a.item(), b.item(), c.item(), d.item()]}


def _features():
    x = wg.linspace(-math.pi, math.pi, 2000, dtype=dtype)  # torch.linspace: float32 by default
    y = wg.sin(x)
    # For this example, the output y is a linear function of (x, x^2, x^3), so
    # we can consider it as a linear layer neural network. Let's prepare the
    # tensor (x, x^2, x^3).
    p = wg.tensor([1, 2, 3])  # int64: xx ** p stays float32, as in PyTorch
    xx = x.unsqueeze(-1).pow(p)
    # In the above code, x.unsqueeze(-1) has shape (2000, 1), and p has shape
    # (3,), for this case, broadcasting semantics will apply to obtain a tensor
    # of shape (2000, 3)
    return xx, y


def _result(model) -> list:
    # You can access the first layer of `model` like accessing the first item of a list
    linear_layer = model[0]
    return [linear_layer.bias.item(), linear_layer.weight[:, 0].item(), linear_layer.weight[:, 1].item(),
            linear_layer.weight[:, 2].item()]


def polynomial_nn(steps: int = 2000, verbose: bool = True) -> dict:
    """``nn.Sequential`` + ``nn.MSELoss(reduction="sum")``, parameters updated by hand."""
    wg.manual_seed(0)  # torch.manual_seed(0): the layers' initial weights repeat
    xx, y = _features()

    # Use the nn package to define our model as a sequence of layers. nn.Sequential
    # is a Module which contains other Modules, and applies them in sequence to
    # produce its output. The Linear Module computes output from input using a
    # linear function, and holds internal Tensors for its weight and bias.
    # The Flatten layer flatens the output of the linear layer to a 1D tensor,
    # to match the shape of `y`.
    model = nn.Sequential(
        nn.Linear(3, 1),
        nn.Flatten(0, 1),
    )

    # The nn package also contains definitions of popular loss functions; in this
    # case we will use Mean Squared Error (MSE) as our loss function.
    loss_fn = nn.MSELoss(reduction="sum")

    learning_rate = 1e-6
    losses = []
    for t in range(steps):
        # Forward pass: compute predicted y by passing x to the model.
        y_pred = model(xx)

        # Compute and print loss.
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        if verbose and t % 100 == 99:
            print(t, loss.item())

        # Zero the gradients before running the backward pass.
        model.zero_grad()

        # Backward pass: compute gradient of the loss with respect to all the learnable
        # parameters of the model.
        loss.backward()

        # Update the weights using gradient descent. Each parameter is a Tensor, so
        # we can access its gradients like we did before.
        with wg.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad

    coef = _result(model)
    if verbose:
        print(f"Result: y = {coef[0]} + {coef[1]} x + {coef[2]} x^2 + {coef[3]} x^3")
    return {"losses": losses, "coef": coef}


def polynomial_optim(steps: int = 2000, verbose: bool = True) -> dict:
    """The same model trained by ``optim.RMSprop``."""
    wg.manual_seed(0)
    xx, y = _features()
    model = nn.Sequential(
        nn.Linear(3, 1),
        nn.Flatten(0, 1),
    )
    loss_fn = nn.MSELoss(reduction="sum")

    # Use the optim package to define an Optimizer that will update the weights of
    # the model for us. Here we will use RMSprop; the optim package contains many other
    # optimization algorithms. The first argument to the RMSprop constructor tells the
    # optimizer which Tensors it should update.
    learning_rate = 1e-3
    optimizer = optim.RMSprop(model.parameters(), lr=learning_rate)
    losses = []
    for t in range(steps):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        if verbose and t % 100 == 99:
            print(t, loss.item())

        # Before the backward pass, use the optimizer object to zero all of the
        # gradients for the variables it will update (which are the learnable
        # weights of the model).
        optimizer.zero_grad()

        # Backward pass: compute gradient of the loss with respect to model parameters
        loss.backward()

        # Calling the step function on an Optimizer makes an update to its parameters
        optimizer.step()

    coef = _result(model)
    if verbose:
        print(f"Result: y = {coef[0]} + {coef[1]} x + {coef[2]} x^2 + {coef[3]} x^3")
    return {"losses": losses, "coef": coef}


def least_squares() -> tuple:
    """The exact answer the four runs approach: the least-squares cubic and its summed squared error."""
    x = np.linspace(-math.pi, math.pi, 2000)
    V = np.stack([np.ones_like(x), x, x ** 2, x ** 3], 1)
    coef, *_ = np.linalg.lstsq(V, np.sin(x), rcond=None)
    return coef, float(np.sum((V @ coef - np.sin(x)) ** 2))


def main(quick: bool = False, steps: int | None = None, verbose: bool = True) -> dict:
    """Run the four parts; returns each one's losses and coefficients, and the least-squares optimum."""
    steps = steps if steps is not None else (1000 if quick else 2000)
    result = {}
    for name, part in [("autograd", polynomial_autograd), ("custom_function", polynomial_custom_function),
                       ("nn", polynomial_nn), ("optim", polynomial_optim)]:
        if verbose:
            print(f"--- {name}")
        result[name] = part(steps, verbose)
    coef, best = least_squares()
    result["least_squares"] = {"coef": coef.tolist(), "loss": best}
    if verbose:
        print(f"least squares: loss {best:.4f}, y = {coef[0]:.4f} + {coef[1]:.4f} x + {coef[2]:.4f} x^2 "
              f"+ {coef[3]:.4f} x^3")
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1000 steps per part (default: off, the tutorial's 2000)")
    ap.add_argument("--steps", type=int, default=None, help="steps per part (default: 2000, or 1000 with --quick)")
    a = ap.parse_args()
    main(quick=a.quick, steps=a.steps)
