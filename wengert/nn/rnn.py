"""Recurrent layers with PyTorch's arguments, return values and parameter names.

``RNN``, ``GRU`` and ``LSTM`` run a whole sequence (``num_layers`` stacked,
``bidirectional``, ``batch_first``, ``dropout`` between layers); the cells
``RNNCell``, ``GRUCell`` and ``LSTMCell`` run one step.  The update formulas
are PyTorch's (gates in the order i, f, g, o for the LSTM and r, z, n for the
GRU), and so are the parameter names (``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse`` for the backward direction,
``weight_hr_l0`` for an LSTM with ``proj_size``): a PyTorch state dict loads.

* RNN:  ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`` (or ``relu``)
* GRU:  ``r = s(W_ir x + b_ir + W_hr h + b_hr)``, ``z = s(W_iz x + b_iz + W_hz h + b_hz)``,
  ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``
* LSTM: ``i, f, g, o = s(.), s(.), tanh(.), s(.)`` of ``W_ih x + b_ih + W_hh h + b_hh``,
  ``c' = f * c + i * g``, ``h' = o * tanh(c')`` (then ``h' = W_hr h'`` with ``proj_size``)

The input projection ``W_ih x + b_ih`` of a whole sequence is one matrix
product before the loop over time; each step adds ``W_hh h + b_hh`` and the
gates.  Every step is recorded, so backpropagation through time is the
engine's ordinary reverse walk.

>>> import numpy as np, wengert as wg
>>> from wengert import nn
>>> lstm = nn.LSTM(input_size=3, hidden_size=4, num_layers=2, batch_first=True, dtype=np.float64, rng=0)
>>> x = np.random.default_rng(0).normal(size=(5, 7, 3))           # (batch, time, features)
>>> out, (h_n, c_n) = lstm(x)
>>> out.shape, h_n.shape, c_n.shape
((5, 7, 4), (2, 5, 4), (2, 5, 4))
>>> [name for name, _ in lstm.named_parameters()][:4]
['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
"""
from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from typing import Any

import numpy as np

import wengert as wg

from ..core.rule import ShapeError
from ..core.tensor import Tensor
from . import functional as F
from . import init
from .hooks import RemovableHandle
from .layers import layer_input
from .module import Module, Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _chunk(a: Tensor, k: int, size: int) -> Tensor:
    """Gate ``k`` of a (..., gates * size) pre-activation."""
    return a[..., k * size: (k + 1) * size]


def _step(mode: str, xp: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor, b_hh: Tensor | None,
          w_hr: Tensor | None = None) -> tuple:
    """One time step: ``xp`` is the input projection ``W_ih x + b_ih``; returns the new ``(h, c)``."""
    gh = F.linear(h, w_hh, b_hh)
    if mode == "RNN_TANH":
        return wg.tanh(xp + gh), None
    if mode == "RNN_RELU":
        return wg.relu(xp + gh), None
    size = w_hh.shape[0] // _GATES[mode]
    if mode == "GRU":
        r = wg.sigmoid(_chunk(xp, 0, size) + _chunk(gh, 0, size))
        z = wg.sigmoid(_chunk(xp, 1, size) + _chunk(gh, 1, size))
        n = wg.tanh(_chunk(xp, 2, size) + r * _chunk(gh, 2, size))
        return n + z * (h - n), None  # = (1 - z) * n + z * h
    gates = xp + gh
    i = wg.sigmoid(_chunk(gates, 0, size))
    f = wg.sigmoid(_chunk(gates, 1, size))
    g = wg.tanh(_chunk(gates, 2, size))
    o = wg.sigmoid(_chunk(gates, 3, size))
    c = f * c + i * g
    h = o * wg.tanh(c)
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _uniform(g: np.random.Generator, bound: float, shape: tuple, dtype: Any) -> Parameter:
    return Parameter(g.uniform(-bound, bound, shape), dtype=dtype)


class RNNBase(Module):
    """What RNN, GRU and LSTM share: the parameters of every layer and direction, and the loop over time."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 dtype: Any = np.float32, rng: Any = None) -> None:
        super().__init__()
        name = type(self).__name__
        if not (isinstance(hidden_size, (int, np.integer)) and hidden_size > 0):
            raise ValueError(f"{name}: hidden_size must be a positive integer, got {hidden_size!r}")
        if not (isinstance(num_layers, (int, np.integer)) and num_layers > 0):
            raise ValueError(f"{name}: num_layers must be a positive integer, got {num_layers!r}")
        if not (isinstance(dropout, (int, float)) and 0.0 <= dropout <= 1.0) or isinstance(dropout, bool):
            raise ValueError(f"{name}: dropout must be a number in [0, 1] (the probability of zeroing an element), "
                             f"got {dropout!r}")
        if proj_size < 0 or (proj_size and proj_size >= hidden_size):
            raise ValueError(f"{name}: proj_size must be 0 or in [1, hidden_size), got {proj_size}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} does nothing with num_layers=1 (dropout acts between layers)",
                          UserWarning, stacklevel=3)
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout, self.proj_size = float(dropout), int(proj_size)
        self.rng = init.get_rng(rng)
        gates = _GATES[mode]
        out_size = proj_size or hidden_size
        directions = 2 if bidirectional else 1
        bound = 1.0 / math.sqrt(hidden_size)  # PyTorch: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H))
        self._names: list[list[str]] = []  # per (layer, direction): w_ih, w_hh, b_ih, b_hh, w_hr (None if absent)
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else out_size * directions
            for direction in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = [(f"weight_ih{sfx}", (gates * hidden_size, layer_in)),
                          (f"weight_hh{sfx}", (gates * hidden_size, out_size))]
                if bias:
                    shapes += [(f"bias_ih{sfx}", (gates * hidden_size,)), (f"bias_hh{sfx}", (gates * hidden_size,))]
                if proj_size:
                    shapes.append((f"weight_hr{sfx}", (proj_size, hidden_size)))
                for pname, shape in shapes:
                    setattr(self, pname, _uniform(self.rng, bound, shape, dtype))
                self._names.append([f"weight_ih{sfx}", f"weight_hh{sfx}",
                                    f"bias_ih{sfx}" if bias else None, f"bias_hh{sfx}" if bias else None,
                                    f"weight_hr{sfx}" if proj_size else None])
        self.__dict__["_step_hooks"] = OrderedDict()

    # ---------------------------------------------------------------- per-step hidden states
    def register_step_hook(self, hook: Any) -> RemovableHandle:
        """Call ``hook(module, layer, direction, hidden_states)`` after each layer and direction of a forward pass.

        ``hidden_states`` lists the hidden state tensors of every time step in
        the order they were computed (for the reverse direction: from the
        last time step to the first).  :class:`~wengert.teach.GradientFlowMonitor`
        uses it to measure the gradient through time.  (A wengert addition:
        PyTorch's fused kernels keep no per-step tensors.)
        """
        handle = RemovableHandle(self._step_hooks)
        self._step_hooks[handle.id] = hook
        return handle

    def _params(self, idx: int) -> list:
        return [None if n is None else getattr(self, n) for n in self._names[idx]]

    # ---------------------------------------------------------------- forward
    def _check_hidden(self, h: Any, expected: tuple, what: str, batched: bool, dtype: Any) -> Tensor:
        h = layer_input(self, h, dtype)
        want = expected if batched else expected[:1] + expected[2:]
        if h.shape != want:
            raise ShapeError(f"{self!r}: expected {what} of shape {want}, got {h.shape}")
        return h if batched else wg.reshape(h, expected)

    def forward(self, input: Any, hx: Any = None) -> tuple:
        dtype = self.weight_ih_l0.dtype
        x = layer_input(self, input, dtype)
        s = x.shape
        layout = "(N, L, H_in)" if self.batch_first else "(L, N, H_in)"
        if len(s) not in (2, 3) or s[-1] != self.input_size:
            raise ShapeError(f"{self!r}: expected input of shape {layout} or (L, H_in) with H_in = {self.input_size}, "
                             f"got shape {s}")
        batched = len(s) == 3
        if not batched:
            x = wg.reshape(x, (s[0], 1, s[1]))
        elif self.batch_first:
            x = wg.swapaxes(x, 0, 1)
        steps, batch = x.shape[0], x.shape[1]
        directions = 2 if self.bidirectional else 1
        out_size = self.proj_size or self.hidden_size
        h_shape = (self.num_layers * directions, batch, out_size)
        c_shape = (self.num_layers * directions, batch, self.hidden_size)
        lstm = self.mode == "LSTM"
        if hx is None:
            h0 = np.zeros(h_shape, dtype=dtype)
            c0 = np.zeros(c_shape, dtype=dtype) if lstm else None
        elif lstm:
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"{self!r}: the initial state of an LSTM is a pair (h_0, c_0), got {type(hx).__name__}")
            h0 = self._check_hidden(hx[0], h_shape, "h_0", batched, dtype)
            c0 = self._check_hidden(hx[1], c_shape, "c_0", batched, dtype)
        else:
            h0, c0 = self._check_hidden(hx, h_shape, "h_0", batched, dtype), None
        if steps == 0:
            raise ShapeError(f"{self!r}: the input sequence is empty (length 0)")

        layer_input_seq = x
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                idx = layer * directions + direction
                w_ih, w_hh, b_ih, b_hh, w_hr = self._params(idx)
                xp = F.linear(layer_input_seq, w_ih, b_ih)  # (L, N, gates * H): every step's input at once
                h, c = h0[idx], (c0[idx] if lstm else None)
                order = range(steps) if direction == 0 else range(steps - 1, -1, -1)
                hs: list = [None] * steps
                computed = []
                for t in order:
                    h, c = _step(self.mode, xp[t], h, c, w_hh, b_hh, w_hr)
                    hs[t] = h
                    computed.append(h)
                for hook in list(self._step_hooks.values()):
                    hook(self, layer, direction, computed)
                outputs.append(wg.stack(hs, axis=0))
                h_n.append(h)
                c_n.append(c)
            layer_input_seq = outputs[0] if directions == 1 else wg.concatenate(outputs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input_seq = F.dropout(layer_input_seq, self.dropout, True, self.rng)
        output = layer_input_seq
        h_n_t = wg.stack(h_n, axis=0)
        c_n_t = wg.stack(c_n, axis=0) if lstm else None
        if not batched:
            output = wg.reshape(output, (steps, output.shape[2]))
            h_n_t = wg.reshape(h_n_t, (h_shape[0], out_size))
            c_n_t = wg.reshape(c_n_t, (c_shape[0], self.hidden_size)) if lstm else None
        elif self.batch_first:
            output = wg.swapaxes(output, 0, 1)
        return (output, (h_n_t, c_n_t)) if lstm else (output, h_n_t)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (``nonlinearity='relu'``: relu).

    ``forward(input, h_0=None)`` returns ``(output, h_n)``: ``output`` holds
    the last layer's hidden state at every step, (L, N, D * H) (batch first:
    (N, L, D * H)), and ``h_n`` every layer's final state, (D * num_layers, N, H).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = np.float32, rng: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, 0, dtype, rng)
        self.nonlinearity = nonlinearity


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n in PyTorch's order); returns ``(output, h_n)`` as :class:`RNN`."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = np.float32, rng: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0,
                         dtype, rng)


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o in PyTorch's order); returns ``(output, (h_n, c_n))``.

    ``forward(input, (h_0, c_0))`` takes the initial states as a pair.  With
    ``proj_size > 0`` the hidden state is projected to ``proj_size`` by
    ``weight_hr_l{k}`` after each step (the cell state keeps ``hidden_size``).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 dtype: Any = np.float32, rng: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, dtype, rng)


# ------------------------------------------------------------------ cells


class RNNCellBase(Module):
    """What the cells share: ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` and one step."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = np.float32,
                 rng: Any = None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        g = init.get_rng(rng)
        bound = 1.0 / math.sqrt(hidden_size)
        gates = _GATES[mode]
        self.weight_ih = _uniform(g, bound, (gates * hidden_size, input_size), dtype)
        self.weight_hh = _uniform(g, bound, (gates * hidden_size, hidden_size), dtype)
        if bias:
            self.bias_ih = _uniform(g, bound, (gates * hidden_size,), dtype)
            self.bias_hh = _uniform(g, bound, (gates * hidden_size,), dtype)
        else:
            self.bias_ih = self.bias_hh = None

    def _input(self, x: Any) -> tuple:
        x = layer_input(self, x, self.weight_ih.dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(f"{self!r}: expected input of shape (N, {self.input_size}) or ({self.input_size},), "
                             f"got shape {x.shape}")
        return x, x.ndim == 2

    def _state(self, h: Any, x: Tensor, batched: bool, what: str) -> Tensor:
        want = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if h is None:
            return Tensor(np.zeros(want, dtype=self.weight_ih.dtype))
        h = layer_input(self, h, self.weight_ih.dtype)
        if h.shape != want:
            raise ShapeError(f"{self!r}: expected {what} of shape {want}, got {h.shape}")
        return h

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``; ``forward(input, hx=None)`` returns ``h'``.

    >>> import numpy as np
    >>> from wengert import nn
    >>> cell = nn.RNNCell(3, 5, rng=0)
    >>> h = None
    >>> for x_t in np.ones((4, 2, 3), dtype=np.float32):     # 4 steps, batch of 2
    ...     h = cell(x_t, h)
    >>> h.shape
    (2, 5)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype: Any = np.float32, rng: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, bias,
                         dtype, rng)
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x, batched = self._input(input)
        h = self._state(hx, x, batched, "hx")
        return _step(self.mode, F.linear(x, self.weight_ih, self.bias_ih), h, None, self.weight_hh, self.bias_hh)[0]


class GRUCell(RNNCellBase):
    """One GRU step; ``forward(input, hx=None)`` returns ``h'``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = np.float32,
                 rng: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, dtype, rng)

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x, batched = self._input(input)
        h = self._state(hx, x, batched, "hx")
        return _step("GRU", F.linear(x, self.weight_ih, self.bias_ih), h, None, self.weight_hh, self.bias_hh)[0]


class LSTMCell(RNNCellBase):
    """One LSTM step; ``forward(input, (h, c)=None)`` returns ``(h', c')``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = np.float32,
                 rng: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, dtype, rng)

    def forward(self, input: Any, hx: Any = None) -> tuple:
        x, batched = self._input(input)
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"{self!r}: the state of an LSTM cell is a pair (h, c), got {type(hx).__name__}")
        h = self._state(None if hx is None else hx[0], x, batched, "h")
        c = self._state(None if hx is None else hx[1], x, batched, "c")
        return _step("LSTM", F.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh, self.bias_hh)


__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]
