"""Function transforms: grad, value_and_grad, vjp, jvp, jacfwd, jacrev, jacobian, hessian, hvp, gradcheck.

Each transform is an interpreter level (:mod:`wengert.core.interpret`), and
everything here is a thin wrapper over two functions:

* :func:`make_vjp` runs ``f`` once inside a new reverse level, which records
  ``f``'s ops on its own Wengert list, and returns a *pullback* that maps
  output cotangents to input cotangents with one reverse walk of that list
  (:func:`wengert.core.walk.walk`);
* :func:`make_jvp` runs ``f`` once inside a new forward level: every op
  pushes its tangent through the JVP of its rule (true forward mode: no list
  is recorded and no intermediate is kept).

Because a level only sees its own values, transforms nest to any depth:
``grad(grad(f))``, ``jvp(jvp(f))``, ``jvp(grad(f))`` (the O(N)
Hessian-vector product), ``jacfwd(jacrev(f))``, and ``wg.jit`` of each.

Arguments are selected once (``argnums``), and may be trees (nested lists,
tuples, dicts; see :mod:`wengert.tree`) of Tensors, ndarrays or Python numbers.

**What comes back.**  Each gradient leaf has the type of its input leaf: a
Tensor gives a Tensor, an ndarray an ndarray, a Python float a float (the
JAX convention for arrays, the PyTorch one for Tensors).  Values of ``f``
(``value_and_grad``, ``vjp``, ``jvp``, Jacobians) come back as Tensors when
some differentiated input was a Tensor, else as ndarrays (Python floats for
float64 scalars).  A result that an enclosing transform is differentiating
(``f`` closes over its value, or its input was one of its values) comes
back as that transform's Tensor, as JAX returns tracers; so does one that
depends on an eager tensor which requires grad, so it can be differentiated
again with ``backward()`` (like ``create_graph=True``).

>>> import numpy as np, wengert as wg
>>> f = lambda x: wg.sum(wg.sin(x) * x)
>>> wg.grad(f)(np.array([0.0, 1.0]))          # sin(x) + x cos(x)
array([0.        , 1.38177329])
>>> wg.grad(wg.grad(lambda x: x ** 3))(2.0)   # d2/dx2 x^3 = 6x
12.0
>>> wg.jvp(lambda x: wg.jvp(wg.sin, (x,), (1.0,))[1], (0.0,), (1.0,))[1]   # d2/dx2 sin at 0
-0.0
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core.interpret import Forward, Reverse, ScaledBasis
from .core.rule import fit
from .core.state import is_grad_enabled, no_grad
from .core.tensor import Tensor, _new, dtype_of, in_graph, live_trace, normalize, shape_of, value_of
from .core.walk import walk
from .tree import LEAF, TreeDef, flatten_like, tree_flatten, tree_unflatten

__all__ = [
    "GradcheckError",
    "GradcheckReport",
    "grad",
    "gradcheck",
    "hessian",
    "hvp",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "make_jvp",
    "make_vjp",
    "value_and_grad",
    "vjp",
    "vmap",
]

_EMPTY: dict = {}


# ====================================================================== inputs
class _Kind:
    """How a leaf came in, so the result goes out the same way."""

    TENSOR, FLOAT, COMPLEX, SCALAR, ARRAY = "tensor", "float", "complex", "scalar", "array"


def _argnums(name: str, argnums: Any) -> tuple[tuple, bool]:
    """Normalise ``argnums`` to a tuple (and say whether a single int was given)."""
    if isinstance(argnums, (int, np.integer)) and not isinstance(argnums, bool):
        return (int(argnums),), True
    if isinstance(argnums, (tuple, list)) and argnums and all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in argnums):
        nums = tuple(int(a) for a in argnums)
        if len(set(nums)) != len(nums):
            raise ValueError(f"{name}: argnums={argnums!r} names an argument twice")
        return nums, False
    raise TypeError(f"{name}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}")


def _check_argnums(name: str, nums: tuple, nargs: int) -> tuple:
    out = []
    for a in nums:
        if not -nargs <= a < nargs:
            valid = f"0..{nargs - 1}" if nargs else "none: f was called without positional arguments"
            raise IndexError(
                f"{name}: argnums={a} is out of range: f was called with {nargs} positional "
                f"argument{'s' if nargs != 1 else ''} (valid argnums: {valid})")
        out.append(a % nargs)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: argnums {nums} name the same argument twice")
    return tuple(out)


def _leaf_path(treedef: TreeDef, index: int) -> str:
    """Where leaf ``index`` sits in a tree, as ``['w'][1]`` (empty for a bare leaf)."""
    paths: list = []

    def visit(td: TreeDef, path: str) -> None:
        if td.kind == "leaf":
            paths.append(path)
        elif td.kind == "dict":
            for k, c in zip(td.meta, td.children):
                visit(c, f"{path}[{k!r}]")
        else:
            for i, c in enumerate(td.children):
                visit(c, f"{path}[{i}]")

    visit(treedef, "")
    return paths[index]


def _where(argnum: int, treedef: TreeDef, index: int, noun: str = "argument") -> str:
    path = "" if treedef is LEAF else _leaf_path(treedef, index)
    return f"{noun} {argnum}{' at ' + path if path else ''}"


def _leaf_value(name: str, leaf: Any, argnum: int, treedef: TreeDef, index: int,
                noun: str = "argument") -> tuple[Any, str]:
    """The storage value of an input leaf and its kind; only floating-point leaves are accepted."""
    t = type(leaf)
    if t is np.ndarray:
        if leaf.dtype.char == "d" and leaf.ndim:
            return leaf, _Kind.ARRAY  # the common case, checked first
    elif t is float:
        return leaf, _Kind.FLOAT

    def where() -> str:
        return _where(argnum, treedef, index, noun)

    if isinstance(leaf, Tensor):
        value, kind = value_of(leaf), _Kind.TENSOR
    elif t is np.ndarray:
        value, kind = leaf, _Kind.ARRAY
    elif isinstance(leaf, np.generic):
        value, kind = np.asarray(leaf), _Kind.SCALAR
    elif t is int or t is bool or isinstance(leaf, (int, bool)):
        raise TypeError(
            f"{name}: {where()} is the Python {t.__name__} {leaf!r}; derivatives are defined for "
            f"floating-point inputs only: pass {float(leaf)!r} instead")
    elif isinstance(leaf, float):
        return float(leaf), _Kind.FLOAT
    elif isinstance(leaf, complex):  # a Python complex: a 0-d complex128 value, its gradient a complex
        value, kind = np.asarray(leaf, dtype=np.complex128), _Kind.COMPLEX
    else:
        raise TypeError(
            f"{name}: {where()} is a {t.__name__}; expected a Tensor, an ndarray, a float, a complex, "
            "or a list / tuple / dict of those")
    dt = value.dtype if type(value) is not float else np.dtype(np.float64)
    if dt.kind not in "fc" or dt == np.float16:
        raise TypeError(
            f"{name}: {where()} has dtype {dt}; derivatives are defined for float32, float64, complex64 and "
            f"complex128 inputs only: convert it first, e.g. x.astype(np.float64) (integer inputs have no gradient)")
    if type(value) is np.ndarray:
        value = normalize(value)
    return value, kind


def _traced(x: Any) -> bool:
    """Does ``x`` carry a derivative that must be kept: a live transform's value, or an eager tensor in a graph?"""
    if not isinstance(x, Tensor):
        return False
    if live_trace(x) is not None:
        return True
    return x.requires_grad and (in_graph(x) or is_grad_enabled())


class _Selected:
    """The differentiated arguments of one call: leaves, kinds, primals (argument selection, done once).

    A leaf's *primal* is what the transform's box wraps: the leaf itself if
    another interpreter is tracing it (so that derivatives compose), its plain
    value otherwise.
    """

    __slots__ = ("args", "kinds", "leaves", "nums", "primals", "tensor_mode", "treedefs", "values")

    def __init__(self, name: str, args: tuple, nums: tuple, noun: str = "argument") -> None:
        nargs = len(args)
        if not (len(nums) == 1 and 0 <= nums[0] < nargs):  # (the common case: one valid argument)
            nums = _check_argnums(name, nums, nargs)
        self.args = args
        self.nums = nums
        self.treedefs = treedefs = []
        self.leaves = all_leaves = []
        self.values = values = []
        self.kinds = kinds = []
        self.primals = primals = []
        for a in nums:
            arg = args[a]
            if isinstance(arg, (list, tuple, dict)) or arg is None:
                leaves, td = tree_flatten(arg)
            else:
                leaves, td = (arg,), LEAF
            treedefs.append(td)
            for j, leaf in enumerate(leaves):
                value, kind = _leaf_value(name, leaf, a, td, j, noun)
                all_leaves.append(leaf)
                values.append(value)
                kinds.append(kind)
                primals.append(leaf if kind == _Kind.TENSOR and _traced(leaf) else value)
        self.tensor_mode = _Kind.TENSOR in kinds

    def substitute(self, new_leaves: list) -> list:
        """The call's arguments with the selected ones rebuilt from ``new_leaves``."""
        if len(self.args) == 1 and self.treedefs[0] is LEAF:
            return new_leaves
        args = list(self.args)
        k = 0
        for a, td in zip(self.nums, self.treedefs):
            n = td.num_leaves
            args[a] = new_leaves[k] if td is LEAF else tree_unflatten(td, new_leaves[k:k + n])
            k += n
        return args

    def regroup(self, flat: list, single: bool) -> Any:
        """Per-leaf results back into the argument structure (a tuple of trees unless ``single``)."""
        out = []
        k = 0
        for td in self.treedefs:
            n = td.num_leaves
            out.append(flat[k] if td is LEAF else tree_unflatten(td, flat[k:k + n]))
            k += n
        return out[0] if single else tuple(out)


# ====================================================================== outputs
def _owned(v: Any) -> Any:
    """An ndarray the caller may modify: copy views and read-only arrays (e.g. broadcast cotangents)."""
    if type(v) is np.ndarray and (v.base is not None or not v.flags.writeable):
        return v.copy()
    return v


def _keep(v: Any, kind: str) -> bool:
    """Is ``v`` handed out as the Tensor it is: a live transform's value, or a Tensor in the caller's graph?"""
    if not isinstance(v, Tensor):
        return False
    if live_trace(v) is not None:
        return True
    return kind == _Kind.TENSOR and _traced(v)


def _export(v: Any, kind: str, owned: bool = False) -> Any:
    """Hand a result out in the caller's convention (see the module docstring).

    ``owned``: the array is new and nobody else holds it (a view of it is fine to hand out as it is).
    """
    if isinstance(v, Tensor):
        if _keep(v, kind):
            return v
        v = value_of(v)
    if not owned:
        v = _owned(v)
    if kind == _Kind.TENSOR:
        return _new(v)
    if kind == _Kind.ARRAY:
        return np.array(v) if type(v) is float else v
    if kind == _Kind.FLOAT:
        return float(v)
    if kind == _Kind.COMPLEX:
        return complex(np.asarray(v))
    return np.asarray(v)[()]  # a NumPy scalar


def _out_kind(tensor_mode: bool, v: Any) -> str:
    if tensor_mode:
        return _Kind.TENSOR
    v = value_of(v)
    return _Kind.FLOAT if type(v) is float else _Kind.ARRAY


def _export_tree(tree: Any, tensor_mode: bool) -> Any:
    if isinstance(tree, Tensor):
        return _export(tree, _out_kind(tensor_mode, tree))
    leaves, td = tree_flatten(tree)
    return tree_unflatten(td, [_export(o, _out_kind(tensor_mode, o)) if isinstance(o, Tensor) else o
                               for o in leaves])


def _zeros_like(value: Any) -> Any:
    """Zeros of ``value``'s shape and dtype (a tensor's own shape: one example's, inside wg.vmap)."""
    shape, dt = shape_of(value), dtype_of(value)
    return 0.0 if shape == () and dt == np.float64 else np.zeros(shape, dt)


def _split_aux(name: str, res: Any, has_aux: bool) -> tuple[Any, Any]:
    if not has_aux:
        return res, None
    if not (isinstance(res, (tuple, list)) and len(res) == 2):
        raise TypeError(f"{name}(has_aux=True): f must return a pair (output, aux), got {type(res).__name__}")
    return res[0], res[1]


def _unbox_tree(tree: Any, level: Any) -> Any:
    """``tree`` with this level's boxes replaced by their primals (aux outputs leave the level so)."""
    if isinstance(tree, Tensor):
        return level.primal(tree)
    if isinstance(tree, (list, tuple, dict)):
        leaves, td = tree_flatten(tree)
        return tree_unflatten(td, [_unbox_tree(o, level) for o in leaves])
    return tree


def _flat(out: Any) -> tuple[Any, Any]:
    if type(out) is Tensor or not (isinstance(out, (list, tuple, dict)) or out is None):
        return (out,), LEAF
    return tree_flatten(out)


# ====================================================================== reverse mode
class VJP:
    """``f`` run once inside a reverse level (what :func:`make_vjp` returns).

    ``out_leaves`` are ``f``'s outputs (boxes of the level where they depend
    on the inputs); ``pull(cts)`` maps cotangents of the output leaves to
    cotangents of the selected input leaves with one walk of the level's list.
    """

    __slots__ = ("aux", "inputs", "level", "name", "out", "out_leaves", "out_td", "sel")

    def __init__(self, name: str, f: Callable, args: tuple, kwargs: dict, nums: tuple, has_aux: bool) -> None:
        self.name = name
        sel = self.sel = _Selected(name, args, nums)
        level = self.level = Reverse(name)
        with level, _grad_mode_on():
            self.inputs = [level.box(p) for p in sel.primals]
            res = f(*sel.substitute(self.inputs), **kwargs)
        out, aux = _split_aux(name, res, has_aux)
        self.aux = _unbox_tree(aux, level)
        self.out = out
        self.out_leaves, self.out_td = _flat(out)

    def out_primal(self, i: int) -> Any:
        """Output leaf ``i`` one level down (a plain value, or a tensor another interpreter traces)."""
        o = self.out_leaves[i]
        if isinstance(o, Tensor):
            return self.level.primal(o)
        try:
            return normalize(np.asarray(o))
        except TypeError:
            raise TypeError(f"{self.name}: f returned a {type(o).__name__}; expected Tensors or arrays") from None

    def out_value(self, i: int) -> Any:
        """Output leaf ``i``'s plain value."""
        return value_of(self.out_primal(i))

    def pull(self, cts: Sequence[tuple[int, Any]]) -> list:
        """Cotangents of the input leaves for the cotangents ``cts`` = [(output leaf index, cotangent)]."""
        level = self.level
        inputs = self.inputs
        res: list = [None] * len(inputs)
        index = {id(z): k for k, z in enumerate(inputs)}
        roots = []
        for i, ct in cts:
            o = self.out_leaves[i]
            if not level.owns(o):
                continue  # an output that does not depend on the inputs
            ct = fit(ct, level.primal(o))
            place = level.entry(o)
            if place is None:  # an input handed back as it is
                k = index[id(o)]
                res[k] = ct if res[k] is None else res[k] + ct
            else:
                roots.append((*place, ct))
        if roots:
            def on_leaf(t: Tensor, g: Any) -> None:
                k = index[id(t)]
                res[k] = g if res[k] is None else res[k] + g

            walk(roots, retain=True, on_leaf=on_leaf)
        for k, g in enumerate(res):
            if g is None:
                res[k] = _zeros_like(self.sel.primals[k])
        return res

    def export_grads(self, res: list, single: bool, given: Sequence[Any] = ()) -> Any:
        """Input cotangents in the caller's convention; arrays never alias each other or ``given``."""
        if len(res) == 1 and single and not given and self.sel.treedefs[0] is LEAF:
            return _export(res[0], self.sel.kinds[0])
        seen = {id(c) for c in given}
        flat = []
        for g, kind in zip(res, self.sel.kinds):
            if type(g) is np.ndarray:
                if id(g) in seen:
                    g = g.copy()
                seen.add(id(g))
            flat.append(_export(g, kind))
        return self.sel.regroup(flat, single)

    def export_out(self) -> Any:
        mode = self.sel.tensor_mode
        outs = [_export(self.out_primal(i), _out_kind(mode, self.out_primal(i))) if isinstance(o, Tensor) else o
                for i, o in enumerate(self.out_leaves)]
        return outs[0] if self.out_td is LEAF else tree_unflatten(self.out_td, outs)

    def export_aux(self) -> Any:
        return _export_tree(self.aux, self.sel.tensor_mode)


class _grad_mode_on:
    """A transform records ``f`` even when called inside ``no_grad`` (as torch.func does)."""

    def __enter__(self) -> None:
        from .core.state import state

        st = state()
        self._prev = st.grad_enabled
        st.grad_enabled = True

    def __exit__(self, *exc: object) -> None:
        from .core.state import state

        state().grad_enabled = self._prev


def make_vjp(f: Callable, args: Sequence[Any], argnums: Any = 0, kwargs: dict | None = None,
             has_aux: bool = False, name: str = "make_vjp") -> VJP:
    """Run ``f(*args, **kwargs)`` in a new reverse level, differentiating the arguments ``argnums``.

    Returns a :class:`VJP`: the outputs and ``.pull(cts)``, the pullback.
    ``grad``, ``value_and_grad``, ``vjp`` and ``jacrev`` are thin wrappers over it.

    >>> import numpy as np, wengert as wg
    >>> tr = make_vjp(lambda x: x * x, (np.array([1.0, 2.0]),))
    >>> tr.pull([(0, np.array([1.0, 1.0]))])
    [array([2., 4.])]
    """
    nums, _ = _argnums(name, argnums)
    return VJP(name, f, tuple(args), kwargs or _EMPTY, nums, has_aux)


def _value_and_grad_call(name: str, f: Callable, args: tuple, kwargs: dict, nums: tuple, single: bool,
                         has_aux: bool) -> tuple:
    tr = VJP(name, f, args, kwargs, nums, has_aux)
    if tr.out_td is not LEAF:
        raise TypeError(
            f"{name}: f must return a scalar, got a {type(tr.out).__name__}; "
            "for several outputs use wg.jacrev(f) or wg.vjp(f, ...)" +
            ("" if has_aux else " (or has_aux=True to return extra values)"))
    out = tr.out_primal(0)
    if type(out) is float:  # a float64 scalar: the common case
        seed: Any = 1.0
    else:
        shape, dt = shape_of(out), dtype_of(out)
        if int(np.prod(shape)) != 1:  # (one element of any shape, e.g. (1, 1), as PyTorch and HIPS autograd)
            raise ValueError(
                f"{name}: f must return a scalar (one element), got shape {shape}; the derivative of a "
                "vector-valued function is a Jacobian: use wg.jacrev(f) / wg.jacfwd(f) for all of it, "
                "or wg.vjp(f, x) for cotangent products (or reduce the output, e.g. with wg.sum)")
        if dt.kind not in "fc":
            raise TypeError(f"{name}: f returned a scalar of dtype {dt}; a gradient needs a "
                            "floating-point (or complex) output")
        seed = 1.0 if dt == np.float64 and shape == () else np.ones(shape, dt)
    g = tr.export_grads(tr.pull([(0, seed)]), single)
    return tr, g


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """``f`` and its gradient in one call: returns ``(value, grad)`` (or ``((value, aux), grad)``).

    See :func:`grad` for the arguments.

    >>> import numpy as np, wengert as wg
    >>> value, g = wg.value_and_grad(lambda w: wg.sum(w ** 2))(np.array([1.0, -2.0]))
    >>> value, g
    (5.0, array([ 2., -4.]))
    """
    nums, single = _argnums("value_and_grad", argnums)

    @functools.wraps(f)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        tr, g = _value_and_grad_call("value_and_grad", f, args, kwargs, nums, single, has_aux)
        value = tr.export_out()
        if has_aux:
            return (value, tr.export_aux()), g
        return value, g

    return value_and_grad_f


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar function, as a function.

    ``grad(f)(x)`` is d f / d x, with the structure of ``x`` (a tree of
    Tensors, ndarrays or floats; each gradient leaf has its input leaf's type).
    ``argnums`` picks the differentiated positional arguments (an int, or a
    tuple: then a tuple of gradients comes back).  With ``has_aux=True``,
    ``f`` returns ``(output, aux)`` and ``grad`` returns ``(gradient, aux)``.
    One call costs one forward pass of ``f`` and one reverse walk.

    >>> import numpy as np, wengert as wg
    >>> wg.grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 4.0)
    (4.0, 3.0)
    >>> params = {"w": np.array([1.0, 2.0]), "b": 0.5}
    >>> wg.grad(lambda p: wg.sum(p["w"] * p["b"]))(params)
    {'w': array([0.5, 0.5]), 'b': 3.0}
    """
    nums, single = _argnums("grad", argnums)

    @functools.wraps(f)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        tr, g = _value_and_grad_call("grad", f, args, kwargs, nums, single, has_aux)
        if has_aux:
            return g, tr.export_aux()
        return g

    return grad_f


def _check_cotangent(name: str, ct: Any, value: Any, i: int) -> Any:
    """A cotangent must have its output's shape and a floating dtype; it is cast to the output's dtype.

    A cotangent that another transform is tracing stays a Tensor: the
    pullback is linear in it and differentiable through it.
    """
    if isinstance(ct, Tensor):
        cv = value_of(ct)
        traced = _traced(ct)
    else:
        cv = ct if type(ct) is float else np.asarray(ct)
        traced = False
    cshape, shape = shape_of(ct if isinstance(ct, Tensor) else cv), shape_of(value)  # (a vmap box: one example's)
    if cshape != shape:
        raise ValueError(f"{name}: cotangent for output {i} has shape {cshape} but the output has shape {shape}; "
                         "a cotangent must have exactly its output's shape")
    cdt = np.dtype(np.float64) if type(cv) is float else cv.dtype
    if cdt.kind not in "fiuc" or cdt == np.float16:
        raise TypeError(f"{name}: cotangent for output {i} has dtype {cdt}; expected a floating-point array")
    if cdt.kind == "c" and dtype_of(value).kind != "c":
        raise TypeError(f"{name}: cotangent for output {i} is complex ({cdt}) but the output is real "
                        f"({dtype_of(value)}); pass a real cotangent (the real part, np.real(ct))")
    if traced:
        return ct
    return fit(normalize(cv) if type(cv) is np.ndarray else cv, value)


def vjp(f: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """Reverse mode: ``(f(*primals), vjp_fn)`` where ``vjp_fn(ct)`` returns the tuple of cotangents
    ``ct^T df/dprimal_i``, one per primal (each with that primal's structure).

    ``f`` is evaluated once; every ``vjp_fn`` call is one reverse walk.
    ``ct`` has the structure and shapes of ``f``'s output.  ``vjp_fn`` is
    itself differentiable (it is linear in ``ct``), to any order.  With
    ``has_aux=True`` the result is ``(out, vjp_fn, aux)``.

    >>> import numpy as np, wengert as wg
    >>> out, vjp_fn = wg.vjp(lambda x: x ** 2, np.array([1.0, 3.0]))
    >>> out
    array([1., 9.])
    >>> vjp_fn(np.array([1.0, 10.0]))
    (array([ 2., 60.]),)
    """
    if not primals:
        raise TypeError("vjp: pass at least one primal: vjp(f, x, ...)")
    tr = VJP("vjp", f, primals, _EMPTY, tuple(range(len(primals))), has_aux)
    values = [tr.out_primal(i) for i in range(len(tr.out_leaves))]

    def vjp_fn(ct: Any) -> tuple:
        cts = [ct] if tr.out_td is LEAF else flatten_like(tr.out_td, ct, "the cotangent", "the outputs of f")
        cts = [(i, _check_cotangent("vjp", c, values[i], i)) for i, c in enumerate(cts)]
        return tr.export_grads(tr.pull(cts), False, given=[c for _, c in cts])

    out = tr.export_out()
    if has_aux:
        return out, vjp_fn, tr.export_aux()
    return out, vjp_fn


# ====================================================================== forward mode
def _tangent_value(name: str, t: Any, value: Any, where: str) -> Any:
    """Check a tangent against its primal (same shape, same floating dtype) and return its storage form."""
    pdt = dtype_of(value)
    if isinstance(t, Tensor):
        traced = _traced(t)
        src = t if traced else value_of(t)
        tv = None if traced else src  # a traced tangent stays a Tensor (derivatives through the tangent)
    elif type(t) is float or (isinstance(t, (int, float)) and not isinstance(t, (bool, np.generic))):
        src = np.asarray(t, dtype=pdt)  # a Python number takes its primal's dtype
        tv = normalize(src)
    elif isinstance(t, (list, tuple)):
        raise ValueError(f"{name}: the tangent for {where} is a {type(t).__name__} where its primal is an array")
    else:
        try:
            src = np.asarray(t)
        except Exception:
            raise TypeError(f"{name}: the tangent for {where} is a {type(t).__name__}; expected an array") from None
        tv = normalize(src)
    sshape, pshape = shape_of(src), shape_of(value)
    sdt = dtype_of(src)
    if sshape != pshape:
        raise ValueError(f"{name}: the tangent for {where} has shape {sshape} but its primal has shape {pshape}; "
                         "a tangent must have exactly its primal's shape and dtype")
    if sdt != pdt:
        raise TypeError(f"{name}: the tangent for {where} has dtype {sdt} but its primal has dtype {pdt}; "
                        f"a tangent must have exactly its primal's shape and dtype (convert with .astype({pdt}))")
    return t if tv is None else tv


class JVP:
    """``f`` run once inside a forward level (what :func:`make_jvp` returns)."""

    __slots__ = ("aux", "level", "out", "out_leaves", "out_td", "sel", "tangents")

    def __init__(self, name: str, f: Callable, args: tuple, kwargs: dict, nums: tuple, tangent_leaves: list | None,
                 has_aux: bool, tangent_tree: Any = None) -> None:
        sel = self.sel = _Selected(name, args, nums, "primal" if name in ("jvp", "hvp") else "argument")
        if tangent_leaves is None:
            tangent_leaves = []
            for a, td in zip(sel.nums, sel.treedefs):
                tt = tangent_tree[a]
                tangent_leaves.extend([tt] if td is LEAF else flatten_like(td, tt, f"the tangent for argument {a}",
                                                                           f"primal {a}"))
        level = self.level = Forward(name)
        k = 0
        tangents = []
        for a, td in zip(sel.nums, sel.treedefs):
            for j in range(td.num_leaves):
                where = _where(a, td, j, "primal")
                tangents.append(_tangent_value(name, tangent_leaves[k], sel.primals[k], where))
                k += 1
        with level:
            inputs = [level.box(p, t) for p, t in zip(sel.primals, tangents)]
            res = f(*sel.substitute(inputs), **kwargs)
        out, aux = _split_aux(name, res, has_aux)
        self.out = out
        self.aux = _unbox_tree(aux, level)
        self.out_leaves, self.out_td = _flat(out)
        outs, touts = [], []
        for o in self.out_leaves:
            if level.owns(o):
                t = level.tangent(o)
                outs.append(level.primal(o))
                touts.append(_zeros_like(o) if t is None else t)
            elif isinstance(o, Tensor):
                outs.append(o)
                touts.append(_zeros_like(o))
            else:
                v = np.asarray(o)
                v = normalize(v if v.dtype.kind == "c" else v.astype(float))
                outs.append(o)
                touts.append(_zeros_like(v))
        self.out_leaves = outs
        self.tangents = touts

    def export(self) -> tuple[Any, Any]:
        """``(out, tangent_out)`` in the caller's convention."""
        mode = self.sel.tensor_mode
        outs, touts = [], []
        for o, t in zip(self.out_leaves, self.tangents):
            if isinstance(o, Tensor) or type(o) in (float, np.ndarray):
                kind = _out_kind(mode, o)
                outs.append(_export(o, kind))
            else:
                kind = _out_kind(mode, normalize(np.asarray(o)))
                outs.append(o)
            touts.append(_export(t, kind))
        if self.out_td is LEAF:
            return outs[0], touts[0]
        return tree_unflatten(self.out_td, outs), tree_unflatten(self.out_td, touts)


def make_jvp(f: Callable, args: Sequence[Any], tangents: Sequence[Any], argnums: Any = None,
             kwargs: dict | None = None, has_aux: bool = False, name: str = "make_jvp") -> JVP:
    """Run ``f(*args)`` once in a new forward level, with ``tangents`` attached to the arguments ``argnums``.

    ``tangents`` is a tuple with one tangent tree per selected argument.
    Returns a :class:`JVP` (``.out_leaves``, ``.tangents``, ``.export()``);
    ``jvp``, ``jacfwd`` and ``hvp`` are thin wrappers over it.

    >>> import numpy as np
    >>> make_jvp(lambda x: x * x, (3.0,), (1.0,)).export()
    (9.0, 6.0)
    """
    args = tuple(args)
    if argnums is None:
        nums = tuple(range(len(args)))
    else:
        nums, _ = _argnums(name, argnums)
    if not isinstance(tangents, (tuple, list)) or len(tangents) != len(nums):
        got = len(tangents) if isinstance(tangents, (tuple, list)) else f"a {type(tangents).__name__}"
        raise ValueError(f"{name}: expected a tuple of {len(nums)} tangent{'s' if len(nums) != 1 else ''} "
                         f"(one per primal), got {got}")
    tree = dict(zip(_check_argnums(name, nums, len(args)), tangents))
    return JVP(name, f, args, kwargs or _EMPTY, nums, None, has_aux, tangent_tree=tree)


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False) -> tuple:
    """Forward mode: ``(f(*primals), df(primals)[tangents])``, the directional derivative.

    True forward mode: each op pushes the tangent through its rule's JVP as it
    computes its value, so the cost is a small constant times ``f`` and no
    graph is recorded.  ``primals`` and ``tangents`` are tuples of equal
    length; each tangent has exactly its primal's structure, shape and dtype.
    With ``has_aux=True`` the result is ``(out, tangent_out, aux)``.  The
    result is differentiable in the tangents and the primals, to any order
    (``jvp`` of ``jvp`` gives second directional derivatives).

    >>> import numpy as np, wengert as wg
    >>> wg.jvp(lambda x: wg.sin(x), (0.0,), (2.0,))   # cos(0) * 2
    (0.0, 2.0)
    >>> x = np.array([1.0, 2.0])
    >>> wg.jvp(lambda x, y: x * y, (x, 3.0), (np.ones(2), 0.0))
    (array([3., 6.]), array([3., 3.]))
    """
    if not isinstance(primals, (tuple, list)):
        raise TypeError(f"jvp: primals must be a tuple of arguments, e.g. jvp(f, (x,), (v,)); "
                        f"got a {type(primals).__name__}")
    tr = make_jvp(f, primals, tangents, has_aux=has_aux, name="jvp")
    out, tout = tr.export()
    if has_aux:
        return out, tout, _export_tree(tr.aux, tr.sel.tensor_mode)
    return out, tout


# ====================================================================== batching
def _axis_spec(name: str, spec: Any, tree: Any, where: str) -> list:
    """One batch axis (an int or None) per leaf of ``tree``: ``spec`` is an int/None or a tree with its structure."""
    if spec is None or (isinstance(spec, (int, np.integer)) and not isinstance(spec, bool)):
        leaves, _ = tree_flatten(tree) if isinstance(tree, (list, tuple, dict)) else ([tree], LEAF)
        return [spec] * len(leaves)
    if isinstance(spec, (list, tuple)) and isinstance(tree, (list, tuple)) and len(spec) == len(tree):
        return [a for s, t in zip(spec, tree) for a in _axis_spec(name, s, t, where)]
    if isinstance(spec, dict) and isinstance(tree, dict) and set(spec) == set(tree):
        return [a for k in sorted(tree) for a in _axis_spec(name, spec[k], tree[k], f"{where}[{k!r}]")]
    raise ValueError(f"{name}: the axes {spec!r} for {where} do not match its structure ({type(tree).__name__}); "
                     "give an int, None, or a tree of those with the argument's structure")


def _in_axes(name: str, in_axes: Any, args: tuple) -> list:
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if isinstance(in_axes, tuple):
        if len(in_axes) != len(args):
            raise ValueError(f"{name}: in_axes has {len(in_axes)} entries but the function was called with "
                             f"{len(args)} positional argument{'s' if len(args) != 1 else ''}; give one per argument")
        return [_axis_spec(name, a, x, f"argument {i}") for i, (a, x) in enumerate(zip(in_axes, args))]
    return [_axis_spec(name, in_axes, x, f"argument {i}") for i, x in enumerate(args)]


def vmap(fun: Callable, in_axes: Any = 0, out_axes: Any = 0) -> Callable:
    """Vectorize ``fun`` over a batch axis of its arguments: one call computes every example at once.

    As in JAX: ``in_axes`` is an int, ``None`` (not batched), or one entry per
    positional argument (entries may be trees of those matching the
    argument); ``out_axes`` likewise for the outputs.  Arguments and results
    may be trees (dicts, lists, tuples).  ``vmap`` is an interpreter level:
    every op runs once on the whole batch through its rule's batching rule,
    and it composes with ``grad``, ``jvp``, ``jit`` and itself.

    >>> import numpy as np, wengert as wg
    >>> w = np.array([1.0, 2.0])
    >>> xs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> wg.vmap(lambda x: wg.sum(w * x))(xs)                      # one result per row
    array([1., 2., 3.])
    >>> wg.vmap(wg.grad(lambda w, x: wg.sum(w * x) ** 2), in_axes=(None, 0))(w, xs)   # per-example gradients
    array([[2., 0.],
           [0., 4.],
           [6., 6.]])
    """
    if not callable(fun):
        raise TypeError(f"vmap: fun must be callable, got a {type(fun).__name__}")

    @functools.wraps(fun)
    def vmapped(*args: Any, **kwargs: Any) -> Any:
        from .core.interpret import Batch
        from .ops import table as R

        axes = _in_axes("vmap", in_axes, args)
        sizes = {}
        flat_args = []
        tensor_mode = False
        for i, (arg, arg_axes) in enumerate(zip(args, axes)):
            leaves, td = tree_flatten(arg) if isinstance(arg, (list, tuple, dict)) else ([arg], LEAF)
            moved = []
            for leaf, ax in zip(leaves, arg_axes):
                tensor_mode = tensor_mode or isinstance(leaf, Tensor)
                if ax is None:
                    moved.append(leaf)
                    continue
                shape = shape_of(leaf) if isinstance(leaf, Tensor) else np.shape(leaf)
                if not -len(shape) <= ax < len(shape):
                    raise ValueError(f"vmap: in_axes={ax} for argument {i} is out of range: it has shape {shape} "
                                     f"({len(shape)} axes)")
                ax %= len(shape)
                sizes.setdefault(shape[ax], []).append(i)
                if type(leaf) is ScaledBasis and ax == 0:  # (a Jacobian's basis: batched as it is)
                    moved.append(leaf)
                    continue
                v = leaf if _traced(leaf) else (value_of(leaf) if isinstance(leaf, Tensor) else np.asarray(leaf))
                moved.append(v if ax == 0 else R.transpose(v, axes=(ax, *(k for k in range(len(shape)) if k != ax))))
            flat_args.append((moved, td, arg_axes))
        if not sizes:
            raise ValueError("vmap: no argument is batched (every in_axes is None); batch at least one")
        if len(sizes) > 1:
            said = "; ".join(f"size {n} for argument{'s' if len(a) > 1 else ''} {', '.join(map(str, sorted(set(a))))}"
                             for n, a in sizes.items())
            raise ValueError(f"vmap: the batched arguments have different batch sizes: {said}")
        size = next(iter(sizes))
        level = Batch(size)
        with level:
            new_args = []
            for moved, td, arg_axes in flat_args:
                leaves = [level.box(v) if ax is not None else v for v, ax in zip(moved, arg_axes)]
                new_args.append(leaves[0] if td is LEAF else tree_unflatten(td, leaves))
            out = fun(*new_args, **kwargs)
        out_leaves, out_td = _flat(out)
        oaxes = _axis_spec("vmap", out_axes, out, "the output")
        results = []
        for o, ax in zip(out_leaves, oaxes):
            if level.owns(o):
                v = level.primal(o)
                if type(v) is ScaledBasis:
                    v = v.dense()
                if ax is None:
                    raise ValueError("vmap: out_axes=None for an output that depends on a batched argument; "
                                     "give the axis to stack its examples along")
            elif ax is None:
                results.append(o)
                continue
            else:  # the same for every example: repeated along the batch axis
                v = R.broadcast_to(o if isinstance(o, Tensor) else np.asarray(o), shape=(size, *np.shape(value_of(o))))
            n = len(shape_of(v))
            if not -n <= ax < n:
                raise ValueError(f"vmap: out_axes={ax} is out of range for an output with {n - 1} axes per example")
            ax %= n
            if ax:
                v = R.transpose(v, axes=tuple(range(1, ax + 1)) + (0,) + tuple(range(ax + 1, n)))
            results.append(_export(v, _out_kind(tensor_mode, v)))
        return results[0] if out_td is LEAF else tree_unflatten(out_td, results)

    return vmapped


# ====================================================================== Jacobians, Hessians
def _assemble(rows: list, shape: tuple, kind: str) -> Any:
    """Stack per-element results into one array of ``shape`` (with the library's ops when traced)."""
    if len(rows) == 1 and shape_of(rows[0]) == shape:  # e.g. the one row of a scalar function
        return _export(rows[0], kind)
    if any(_keep(r, kind) for r in rows):
        from .ops.api import reshape, stack

        return reshape(stack(rows), shape)
    data = np.stack([np.asarray(value_of(r)) for r in rows]).reshape(shape)
    return _export(normalize(data), kind)


def _jac_kind(sel: _Selected) -> str:
    return _Kind.TENSOR if sel.tensor_mode else _Kind.ARRAY


def _one_hot(value: Any, k: int) -> Any:
    shape, dt = shape_of(value), dtype_of(value)
    if shape == () and dt == np.float64:
        return 1.0
    e = np.zeros(shape, dt)
    e.flat[k] = 1
    return e


def _chunks(n: int, chunk_size: int | None) -> list:
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
    step = n if chunk_size is None else chunk_size
    return [(lo, min(lo + step, n)) for lo in range(0, max(n, 1), max(step, 1))]


def _basis(like: Any, lo: int, hi: int) -> Any:
    """Rows lo .. hi of the identity, each shaped like ``like`` (the unit vectors of its elements).

    The whole basis of a vector is a :class:`ScaledBasis` (kept as its diagonal, O(n) until an op needs it whole).
    """
    shape, dt = shape_of(like), dtype_of(like)
    n = int(np.prod(shape)) if shape else 1
    if len(shape) == 1 and lo == 0 and hi == n:
        return ScaledBasis(np.ones(n, dtype=dt))
    return np.eye(n, dtype=dt)[lo:hi].reshape((hi - lo, *shape))


def _rows(blocks: list, shape: tuple, kind: str) -> Any:
    """Stack the chunks of batched results (each with its rows first) into one value of ``shape``."""
    if any(_keep(b, kind) for b in blocks):
        from .ops.api import concatenate, reshape

        return reshape(blocks[0] if len(blocks) == 1 else concatenate(blocks), shape)
    # (vmap handed these out as the caller's own arrays: reshaped, not copied)
    data = np.concatenate([np.asarray(value_of(b)) for b in blocks]) if len(blocks) > 1 else value_of(blocks[0])
    return _export(normalize(data if np.shape(data) == shape else np.reshape(data, shape)), kind, owned=True)


def jacrev(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           chunk_size: int | None = None) -> Callable:
    """The Jacobian by reverse mode: one forward pass, then every row at once (``vmap`` of the pullback).

    The result has the structure of ``f``'s output; each output leaf becomes
    (the structure of) the differentiated argument(s), with leaves of shape
    ``out_shape + in_shape``, as in JAX.  Best when outputs are few.
    ``chunk_size`` pulls back that many rows at a time (less memory).

    >>> import numpy as np, wengert as wg
    >>> wg.jacrev(lambda x: x[:2] * x[1:])(np.array([1.0, 2.0, 3.0]))
    array([[2., 1., 0.],
           [0., 3., 2.]])
    """
    nums, single = _argnums("jacrev", argnums)

    @functools.wraps(f)
    def jacrev_f(*args: Any, **kwargs: Any) -> Any:
        tr = VJP("jacrev", f, args, kwargs, nums, has_aux)
        sel = tr.sel
        kind = _jac_kind(sel)
        per_out = []
        for i in range(len(tr.out_leaves)):
            out = tr.out_primal(i)
            oshape = shape_of(out)
            m = int(np.prod(oshape)) if oshape else 1
            if m == 1 and oshape == ():  # the gradient of a scalar: a plain pullback, handed out as it is
                grads = tr.pull([(i, _one_hot(out, 0))])
                leaves = [_export(g, kind) for g in grads]  # (a view or a read-only array is copied there)
                per_out.append(sel.regroup(leaves, single))
                continue
            if m == 1:  # one row: a plain pullback, no batch
                blocks = [tuple(_with_row_axis(g) for g in tr.pull([(i, _one_hot(out, 0))]))]
            else:
                pull = vmap(lambda ct, i=i: tuple(tr.pull([(i, ct)])))
                blocks = [pull(_basis(out, lo, hi)) for lo, hi in _chunks(m, chunk_size)]
            leaves = [_rows([b[j] for b in blocks], oshape + shape_of(p), kind) for j, p in enumerate(sel.primals)]
            per_out.append(sel.regroup(leaves, single))
        jac = per_out[0] if tr.out_td is LEAF else tree_unflatten(tr.out_td, per_out)
        if has_aux:
            return jac, tr.export_aux()
        return jac

    return jacrev_f


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           chunk_size: int | None = None) -> Callable:
    """The Jacobian by forward mode: every column at once (``vmap`` of the JVP over the input's unit vectors).

    Same layout as :func:`jacrev`.  Best when inputs are few; composes over
    reverse mode, e.g. ``jacfwd(jacrev(f))`` is the Hessian.  ``chunk_size``
    pushes that many columns at a time (less memory).

    >>> import numpy as np, wengert as wg
    >>> wg.jacfwd(lambda x: wg.stack([x[0] * x[1], wg.sin(x[0])]))(np.array([0.0, 2.0]))
    array([[2., 0.],
           [1., 0.]])
    """
    nums, single = _argnums("jacfwd", argnums)

    @functools.wraps(f)
    def jacfwd_f(*args: Any, **kwargs: Any) -> Any:
        sel = _Selected("jacfwd", args, nums)
        kind = _jac_kind(sel)
        columns = []  # per input leaf: per output leaf, a list of chunks (columns first)
        first = None
        for j, p in enumerate(sel.primals):
            def push(t: Any, j: int = j) -> Any:
                tangents = [t if jj == j else _zeros_like(q) for jj, q in enumerate(sel.primals)]
                tr = JVP("jacfwd", f, args, kwargs, sel.nums, tangents, has_aux)
                return tuple(tr.tangents), (tr.out_leaves, tr.out_td, tr.aux)

            n = int(np.prod(shape_of(p))) if shape_of(p) else 1
            chunks = []
            for lo, hi in _chunks(n, chunk_size):
                cols, info = vmap(push, out_axes=(0, None))(_basis(p, lo, hi))
                first = first or info
                chunks.append(cols)
            columns.append(chunks)
        if first is None:
            raise ValueError("jacfwd: the differentiated arguments have no elements")
        out_leaves, out_td, aux = first
        per_out = []
        for i, o in enumerate(out_leaves):
            oshape = shape_of(o if isinstance(o, Tensor) else np.asarray(o))
            leaves = []
            for j, p in enumerate(sel.primals):
                vshape = shape_of(p)
                n = int(np.prod(vshape)) if vshape else 1
                stacked = _rows([c[i] for c in columns[j]], (n, *oshape), kind)
                # columns first: move the input axis behind the output axes, then give it the input's shape
                moved = _transpose(stacked, tuple(range(1, 1 + len(oshape))) + (0,))
                leaves.append(_reshaped(moved, oshape + vshape, kind))
            per_out.append(sel.regroup(leaves, single))
        jac = per_out[0] if out_td is LEAF else tree_unflatten(out_td, per_out)
        if has_aux:
            return jac, _export_tree(aux, sel.tensor_mode)
        return jac

    return jacfwd_f


def _with_row_axis(g: Any) -> Any:
    """A pullback's result as a block of one row (a leading axis of size 1)."""
    if isinstance(g, Tensor):
        from .ops.api import reshape

        return reshape(g, (1, *shape_of(g)))
    return np.reshape(g, (1, *np.shape(g)))


def _reshaped(x: Any, shape: tuple, kind: str) -> Any:
    if shape_of(x) == shape:
        return x
    if isinstance(x, Tensor):
        from .ops.api import reshape

        return reshape(x, shape)
    return _export(normalize(np.reshape(x, shape)), kind, owned=True)


def _transpose(x: Any, perm: tuple) -> Any:
    if perm == tuple(range(len(perm))):
        return x
    if isinstance(x, Tensor):
        from .ops.api import transpose

        t = transpose(x, perm)
        return t if _keep(t, _Kind.TENSOR) else _new(value_of(t))
    if type(x) is float:
        return x
    return np.transpose(x, perm)  # (a view of a Jacobian nobody else holds)


def jacobian(f: Callable, argnums: int | Sequence[int] = 0, mode: str = "rev", has_aux: bool = False) -> Callable:
    """The full Jacobian of ``f``: ``mode="rev"`` (row by row, :func:`jacrev`) or ``"fwd"`` (:func:`jacfwd`).

    >>> import numpy as np, wengert as wg
    >>> wg.jacobian(lambda x: 2.0 * x, mode="fwd")(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 2.]])
    """
    if mode == "rev":
        return jacrev(f, argnums, has_aux)
    if mode == "fwd":
        return jacfwd(f, argnums, has_aux)
    raise ValueError(f"jacobian: mode must be 'rev' or 'fwd', got {mode!r}")


def hessian(f: Callable, argnums: int | Sequence[int] = 0, mode: str = "fwd") -> Callable:
    """The Hessian of a scalar function, in one batched pass of each mode.

    ``mode="fwd"`` (default) is ``jacfwd(jacrev(f))``, forward over reverse:
    every Hessian-vector product at once (``vmap`` of the JVP of the
    gradient); ``mode="rev"`` is ``jacrev(jacrev(f))``, reverse over reverse.
    Both give the same matrix.

    >>> import numpy as np, wengert as wg
    >>> wg.hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 3.0]))
    array([[6., 2.],
           [2., 0.]])
    """
    if mode == "rev":
        return jacrev(jacrev(f, argnums), argnums)
    if mode == "fwd":
        return jacfwd(jacrev(f, argnums), argnums)
    raise ValueError(f"hessian: mode must be 'rev' or 'fwd', got {mode!r}")


def hvp(f: Callable, x: Any, v: Any) -> Any:
    """The Hessian-vector product H(x) v of a scalar function ``f`` of one argument, in O(N).

    Forward-over-reverse: one JVP (tangent ``v``) through one gradient
    computation; the Hessian is never formed.  ``x`` may be a tree; ``v`` has
    its structure and the result too.

    >>> import numpy as np, wengert as wg
    >>> f = lambda x: wg.sum(x ** 3)                          # H = diag(6 x)
    >>> wg.hvp(f, np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    array([ 6., 12.])
    """
    return make_jvp(grad(f), (x,), (v,), name="hvp").export()[1]


# ====================================================================== gradcheck
class GradcheckError(AssertionError):
    """A derivative disagrees with central finite differences; ``.report`` holds the details."""

    def __init__(self, report: GradcheckReport) -> None:
        self.report = report
        super().__init__(f"gradcheck failed\n{report}")


@dataclass
class GradcheckEntry:
    """The comparison for one input leaf and one mode."""

    input: str  # "argument 0", "argument 1 at ['w']"
    mode: str  # "rev" or "fwd"
    max_abs_err: float
    max_rel_err: float
    worst: tuple  # (output element, input element), flat indices, of the worst element
    analytic: float  # the derivative there ...
    numeric: float  # ... and its finite-difference estimate
    ok: bool


@dataclass
class GradcheckReport:
    """What :func:`gradcheck` found: one entry per (input leaf, mode).  ``str()`` prints a table."""

    entries: list = field(default_factory=list)
    eps: float = 1e-6
    atol: float = 1e-5
    rtol: float = 1e-3

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entries)

    def __str__(self) -> str:
        lines = [(f"criterion |analytic - numeric| <= atol + rtol * |numeric| with atol={self.atol:g}, "
                  f"rtol={self.rtol:g}, eps={self.eps:g} (central differences, float64)"),
                 "| input | mode | max abs err | max rel err | worst (out, in) flat | analytic | numeric | ok |",
                 "|---|---|---|---|---|---|---|---|"]
        for e in self.entries:
            lines.append(f"| {e.input} | {e.mode} | {e.max_abs_err:.3g} | {e.max_rel_err:.3g} | {e.worst} | "
                         f"{e.analytic:.8g} | {e.numeric:.8g} | {'yes' if e.ok else 'NO'} |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return str(self)


def _flat_out(res: Any) -> np.ndarray:
    leaves, _ = tree_flatten(res) if isinstance(res, (list, tuple, dict)) else ([res], LEAF)
    parts = [_reals(value_of(o)) for o in leaves]
    return np.concatenate(parts) if parts else np.zeros(0)


def _reals(v: Any) -> np.ndarray:
    """A value as a flat float64 vector; a complex one as its (real, imaginary) pairs."""
    a = np.asarray(v)
    if a.dtype.kind == "c":
        return np.stack([a.real, a.imag], axis=-1).astype(np.float64).ravel()
    return a.astype(np.float64).ravel()


def _steps(x: np.ndarray) -> tuple:
    """The directions in which one element of x is perturbed: its real and imaginary parts if complex."""
    return (1.0, 1j) if x.dtype.kind == "c" else (1.0,)


def gradcheck(f: Callable, *inputs: Any, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              modes: Sequence[str] = ("rev",), raise_on_failure: bool = True) -> GradcheckReport:
    """Check the derivatives of ``f`` at ``inputs`` against central finite differences, in float64.

    Every floating-point input leaf is checked (integer inputs are passed
    through unchanged).  The full Jacobian is compared: by reverse mode (one
    VJP per output element) and, with ``modes=("rev", "fwd")``, by forward
    mode too (one JVP per input element); the numeric one costs two calls of
    ``f`` per input element, at ``x +- eps``.  A complex value counts as
    its (real, imaginary) pairs: the Jacobian compared is the real one, and
    the analytic one is read in autograd's convention (docs/complex.md).
    Returns a
    :class:`GradcheckReport` (max absolute and relative error per input,
    worst element); raises :class:`GradcheckError` quoting it if some
    element violates ``|analytic - numeric| <= atol + rtol * |numeric|``
    (unless ``raise_on_failure=False``).  Works on your own ``wg.Function``.

    >>> import numpy as np, wengert as wg
    >>> report = wg.gradcheck(lambda x: wg.tanh(x) * x, np.array([0.5, -1.0]), modes=("rev", "fwd"))
    >>> report.ok
    True
    >>> class BadSquare(wg.Function):             # a hand-written backward with a slip
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return g * x                      # should be 2 * x * g
    >>> wg.gradcheck(BadSquare.apply, np.array([1.0, 2.0]))     # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    wengert.transforms.GradcheckError: gradcheck failed
    ...
    | argument 0 | rev | 2 | 0.5 | (1, 1) | 2 | 4 | NO |
    """
    for m in modes:
        if m not in ("rev", "fwd"):
            raise ValueError(f"gradcheck: modes must be 'rev' and/or 'fwd', got {m!r}")
    if not inputs:
        raise TypeError("gradcheck: pass the inputs at which to check f: gradcheck(f, x, ...)")
    # float64 copies of the inputs; which positional arguments have floating leaves
    args = []
    nums = []
    for a, x in enumerate(inputs):
        leaves, td = tree_flatten(x) if isinstance(x, (list, tuple, dict)) else ([x], LEAF)
        new = []
        has_float = False
        for leaf in leaves:
            val = value_of(leaf)
            arr = np.asarray(val)
            if arr.dtype.kind in "fc":
                has_float = True
                c = np.array(arr, dtype=np.complex128 if arr.dtype.kind == "c" else np.float64)
                new.append(Tensor(c) if isinstance(leaf, Tensor) else (float(c) if type(leaf) is float else
                                                                       complex(c) if type(leaf) is complex else c))
            else:
                new.append(leaf)
        args.append(new[0] if td is LEAF else tree_unflatten(td, new))
        if has_float:
            nums.append(a)
    if not nums:
        raise TypeError("gradcheck: no floating-point input to check (integer inputs have no gradient)")
    sel = _Selected("gradcheck", tuple(args), tuple(nums))
    # only float leaves are checked: integer leaves inside a checked tree are rejected by _Selected, as in grad

    def call(leaf_values: list) -> np.ndarray:
        new_leaves = [Tensor(v) if k == _Kind.TENSOR else float(v) if k == _Kind.FLOAT else
                      complex(v) if k == _Kind.COMPLEX else np.asarray(v) for v, k in zip(leaf_values, sel.kinds)]

        with no_grad():
            return _flat_out(f(*sel.substitute(new_leaves)))

    base = [np.array(v, dtype=np.complex128 if np.iscomplexobj(v) else np.float64) for v in sel.values]
    f0 = call(base)
    n_out = f0.size
    numeric = []
    for j, b in enumerate(base):
        steps = _steps(b)
        J = np.empty((n_out, b.size * len(steps)))
        for k in range(b.size):
            for d, step in enumerate(steps):
                plus = [x.copy() for x in base]
                minus = [x.copy() for x in base]
                plus[j].flat[k] += eps * step
                minus[j].flat[k] -= eps * step
                J[:, k * len(steps) + d] = (call(plus) - call(minus)) / (2 * eps)
        numeric.append(J)

    analytic: dict = {}
    if "rev" in modes:
        tr = VJP("gradcheck", f, tuple(args), _EMPTY, tuple(nums), False)
        values = [tr.out_value(i) for i in range(len(tr.out_leaves))]
        rows: list = [[] for _ in base]
        for i, v in enumerate(values):
            for k in range(1 if type(v) is float else v.size):
                # the cotangent of Re(y_k) is 1, of Im(y_k) it is -1j; a complex cotangent c of x + iy holds
                # (dL/dx, dL/dy) as (Re c, -Im c)
                for step in ((1.0, -1j) if dtype_of(v).kind == "c" else (1.0,)):
                    r = tr.pull([(i, _one_hot(v, k) * step)])
                    for j, g in enumerate(r):
                        rows[j].append(_reals(np.conj(value_of(g))))
        analytic["rev"] = [np.stack(r) if r else np.zeros((0, b.size * len(_steps(b)))) for r, b in zip(rows, base)]
    if "fwd" in modes:
        cols: list = [[] for _ in base]
        for j, b in enumerate(base):
            for k in range(b.size):
                for step in _steps(b):
                    tangents = [normalize(_one_hot(normalize(x), k) * step) if jj == j else _zeros_like(normalize(x))
                                for jj, x in enumerate(base)]
                    tr = JVP("gradcheck", f, tuple(args), _EMPTY, tuple(nums), tangents, False)
                    cols[j].append(_flat_out(tr.tangents))
        analytic["fwd"] = [np.stack(c, axis=1) if c else np.zeros((n_out, 0)) for c in cols]

    report = GradcheckReport(eps=eps, atol=atol, rtol=rtol)
    k = 0
    for a, td in zip(sel.nums, sel.treedefs):
        for jj in range(td.num_leaves):
            where = _where(a, td, jj)
            for m in modes:
                A, N = analytic[m][k], numeric[k]
                diff = np.abs(A - N)
                rel = diff / np.maximum(np.abs(N), np.finfo(np.float64).tiny)
                ratio = diff / (atol + rtol * np.abs(N))  # > 1 fails
                if diff.size:
                    w = int(np.argmax(ratio))
                    o, i = np.unravel_index(w, diff.shape)
                    worst = (int(o), int(i))
                    entry = GradcheckEntry(where, m, float(diff.max()), float(rel.max()), worst,
                                           float(A.flat[w]), float(N.flat[w]), bool((ratio <= 1).all()))
                else:
                    entry = GradcheckEntry(where, m, 0.0, 0.0, (), math.nan, math.nan, True)
                report.entries.append(entry)
            k += 1
    if raise_on_failure and not report.ok:
        raise GradcheckError(report)
    return report
