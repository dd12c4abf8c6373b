"""The Wengert list: every recorded op, scalar or array, as one entry of an ordered list.

A :class:`Tape` is a stretch of the Wengert list.  Each thread records its
eager ops (``backward()``'s graph) on its current tape; each running
transform (``grad``, ``vjp``, ``wg.jit``) records on a tape of its own.  A
Tensor is a value plus its place in a list (``_tape``, ``_idx``); the list
never refers back to its tensors, so a tensor dies as soon as user code
drops it, and an entry lives as long as its tape.

Entries are tuples of atoms (ints, floats, arrays), which Python's cyclic
garbage collector stops tracking at its first pass: a graph of a million
scalar ops costs the collector nothing.  Layouts, by length:

* ``(tensor,)``: an *import*: a tensor from outside this list (a leaf, a
  transform's input, or a value recorded on an earlier list), entered once,
  on its first use, so that the entries using it hold only atoms;
* ``(rule, r0, v0, ans)``: one input, no parameters;
* ``(rule, r0, r1, v0, v1, ans)``: two inputs, no parameters;
* ``(rule, r0, r1, r2, v0, v1, v2, ans)``: three inputs, no parameters
  (``linear(x, W, b)``, ``where``);
* ``(rule, refs, vals, ans, params)``: any number of inputs, parameters;
* ``None``: released by ``backward()`` (its saved values are gone).

The compact layouts (no parameters, per-input VJPs) let the reverse walk
call each input's VJP directly; :func:`parts` reads any layout as the last.

``rule`` is the rule's index in :data:`RULES`.  An input ``r`` is the index
of an earlier entry of this list (an int), ``None`` for a constant (its value
is in ``v``), or a Tensor that needs no gradient (a constant kept by
reference so that trace tables can name it).  ``v`` are the input values the
rule's VJP needs, ``ans`` the op's output value.

Within a list, entry order is creation order, and a list imports only from
lists made before it (:func:`check_import`), so visiting lists from the
newest and each one's entries from the last is a reverse topological order
(:mod:`wengert.core.walk`).
"""
from __future__ import annotations

import itertools
import weakref
from typing import Any

#: Every rule by index: entries name their rule by this integer (so that they hold only atoms).
RULES: list = []

#: Entries and bytes of array values per eager tape before a new one is started: a tape lives while
#: any of its tensors does, so these bound what one kept tensor can hold on to.
TAPE_MAX = 1 << 18
TAPE_BYTES = 64 << 20

_next_order = itertools.count().__next__


class Tape:
    """One stretch of the Wengert list (see the module docstring for the entry layouts)."""

    __slots__ = ("__weakref__", "entries", "hooks", "imports", "names", "nbytes", "order", "retained", "sites")

    def __init__(self) -> None:
        self.entries: list = []
        self.order = _next_order()  # lists are filled one after another: a later one only imports from earlier ones
        self.imports: dict = {}  # id(tensor) -> index of its import entry (the entry keeps the tensor alive)
        self.names: dict | None = None  # index -> name given to the entry's value (t.name = ...)
        self.sites: dict | None = None  # index -> the user's line that made it (detect_anomaly)
        self.retained: dict | None = None  # index -> weakref of a tensor whose .grad backward() fills (retain_grad)
        self.hooks: dict | None = None  # index -> functions called with the entry's gradient (register_hook)
        self.nbytes = 0  # bytes of array outputs recorded (see TAPE_BYTES)

    def __repr__(self) -> str:
        return f"<Wengert list {self.order}: {len(self.entries)} entries>"

    def __len__(self) -> int:
        return len(self.entries)

    def ref(self, x: Any) -> int:
        """The index that names the recorded tensor ``x`` in this list (importing it on first use)."""
        if x._tape is self:
            return x._idx
        i = self.imports.get(id(x))
        if i is None:
            i = self.imports[id(x)] = len(self.entries)
            self.entries.append((x,))
        return i

    def retain(self, idx: int, t: Any) -> None:
        if self.retained is None:
            self.retained = {}
        self.retained[idx] = weakref.ref(t)

    def name(self, idx: int, value: str | None) -> None:
        if self.names is None:
            self.names = {}
        self.names[idx] = value

    def release(self, indices: list) -> None:
        entries = self.entries
        for i in indices:
            e = entries[i]
            if e is not None and len(e) > 1:  # imports stay: they only point at a tensor
                entries[i] = None


def parts(e: tuple) -> tuple:
    """``(rule index, refs, values, ans, params)`` of a recorded entry in any layout (params None if it has none)."""
    n = len(e)
    if n == 6:
        return e[0], (e[1], e[2]), (e[3], e[4]), e[5], None
    if n == 4:
        return e[0], (e[1],), (e[2],), e[3], None
    if n == 8:
        return e[0], e[1:4], e[4:7], e[7], None
    return e


def check_import(tape: Tape, x: Any) -> bool:
    """May ``tape`` import ``x``?  Only a tensor of an older list (or a leaf): then the walk order holds."""
    t = x._tape
    return t is None or t is tape or t.order < tape.order


__all__ = ["RULES", "TAPE_BYTES", "TAPE_MAX", "Tape", "check_import", "parts"]
