"""How users reach an op: the public function, the Tensor methods, the NumPy dispatch entries.

Each primitive's :class:`~wengert.core.rule.Rule` (``ops/table.py``) and each
composite (``ops/composite.py``, marked with :func:`composite`) carries a
:class:`Surface` record: its ``wg.NAME``, more names, Tensor method names, the
NumPy functions and ufunc that dispatch to it, and, where the public
signature differs from the rule's, a ``prepare`` function that maps the one
to the other.  ``wengert.ops.api``, ``wengert.ops.methods`` and
``wengert.ops.interop`` are generated from these records, so adding a public
op touches its record and its test spec, nothing else.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..core.rule import Rule
from ..core.tape import RULES
from ..core.tensor import Tensor


@dataclass(frozen=True)
class Surface:
    """Where a primitive or composite is reachable from (see the module docstring)."""

    name: str | None = None  # wg.NAME (default: the rule's or the function's own name)
    aliases: tuple = ()  # more wg names (abs / absolute, ...)
    methods: tuple = ()  # Tensor method names
    numpy: tuple = ()  # NumPy functions that dispatch here (__array_function__)
    ufunc: Any = None  # the NumPy ufunc that dispatches here (__array_ufunc__)
    prepare: Callable | None = None  # public (args, kwargs) -> the target's (args, kwargs)
    public: bool = True  # False: methods / NumPy only, no wg.NAME
    differentiable: bool = True  # False: a composite with no gradient (a rule says so in its own record)


#: The composites marked with :func:`composite`, in declaration order: (function, Surface).
COMPOSITES: list = []


def composite(**kw: Any) -> Callable:
    """Mark a composite function as public, with its :class:`Surface` (a decorator)."""

    def mark(fn: Callable) -> Callable:
        COMPOSITES.append((fn, Surface(**kw)))
        return fn

    return mark


def records() -> list[tuple[Any, Surface]]:
    """Every public op: (rule or composite function, its Surface), rules first, in declaration order."""
    out = [(r, r.surface) for r in RULES if isinstance(r, Rule) and r.surface is not None]
    return out + list(COMPOSITES)


def numpy_namespace(module: Any) -> dict:
    """NAME -> wengert's public function, for every record whose surface names ``module.NAME``.

    The namespaces ``wg.linalg`` and ``wg.fft`` are made so (``module`` is ``np.linalg``, ``np.fft``): a
    record that answers a NumPy function is reachable under NumPy's name, and the namespace cannot drift.
    """
    from .api import PUBLIC  # (every module with records is imported by now)

    out = {}
    for target, s in records():
        for f in s.numpy:
            name = getattr(f, "__name__", None)
            if name and getattr(module, name, None) is f:
                out[name] = PUBLIC[public_name(target, s)] if s.public else public_function(target, s)
    return out


def public_name(target: Any, s: Surface) -> str:
    return s.name or (target.name if isinstance(target, Rule) else target.__name__)


def public_function(target: Any, s: Surface) -> Callable:
    """``wg.NAME``: array arguments become Tensors (so a Tensor comes back), then the rule or composite runs."""
    name = public_name(target, s)
    prepare = _torch_names(s.prepare, target)
    if isinstance(target, Rule) and prepare is None and target.arity == 1 and not target.param_names:
        op1 = target.op1

        def fn(x: Any) -> Tensor:
            return op1(x if isinstance(x, Tensor) else Tensor(x))
    elif isinstance(target, Rule) and prepare is None and target.arity == 2 and not target.param_names:
        op2 = target.op2

        def fn(x: Any, y: Any) -> Tensor:
            # (a number next to a Tensor stays a number: wrapped, it would promote as a 0-d float64 tensor does)
            return op2(x if isinstance(x, Tensor) or isinstance(y, Tensor) else Tensor(x), y)
    else:
        sequence = _takes_sequence(s.prepare or (target.impl if isinstance(target, Rule) else target))

        def fn(*args: Any, **kwargs: Any) -> Tensor:
            if prepare is not None:
                args, kwargs = prepare(*args, **kwargs)
            # the first argument is an array (a list of tensors is stacked in the graph, as NumPy makes a list an
            # array), unless the function takes a sequence of arrays there (stack's, concatenate's)
            if args and not sequence and not isinstance(args[0], Tensor):
                args = (_as_tensor(args[0]), *args[1:])
            return target(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__module__ = "wengert"
    doc = target.doc if isinstance(target, Rule) else (target.__doc__ or "")
    kind = f"rule ``{target.name}``" if isinstance(target, Rule) else "a composite of primitives"
    fn.__doc__ = f"{doc.strip()}\n\nReturns a Tensor ({kind}; differentiable in reverse and forward mode)."
    try:
        fn.__signature__ = inspect.signature(s.prepare or (target.impl if isinstance(target, Rule) else target))
    except (TypeError, ValueError):
        pass
    return fn


#: first parameters that take a sequence of arrays (NumPy's names for them)
_SEQUENCE_PARAMS = frozenset({"tup", "xs", "arrays", "tensors", "operands", "condlist", "choicelist"})


def _takes_sequence(fn: Callable) -> bool:
    try:
        first = next(iter(inspect.signature(fn).parameters.values()), None)
    except (TypeError, ValueError):
        return False
    return first is not None and (first.name in _SEQUENCE_PARAMS or first.kind is first.VAR_POSITIONAL)


def _torch_names(prepare: Callable | None, target: Any) -> Callable | None:
    """Accept PyTorch's ``dim=`` / ``keepdim=`` wherever the op takes NumPy's ``axis=`` / ``keepdims=``."""
    try:
        params = inspect.signature(prepare or (target.impl if isinstance(target, Rule) else target)).parameters
    except (TypeError, ValueError):
        return prepare
    if "axis" not in params or "dim" in params:
        return prepare

    def translate(*args: Any, **kwargs: Any) -> tuple:
        for torch_name, numpy_name in (("dim", "axis"), ("keepdim", "keepdims")):
            if torch_name in kwargs:
                if numpy_name in kwargs:
                    raise TypeError(f"give {numpy_name}= or {torch_name}= (PyTorch's name), not both")
                kwargs[numpy_name] = kwargs.pop(torch_name)
        return prepare(*args, **kwargs) if prepare is not None else (args, kwargs)

    return translate


def method(fn: Callable, name: str) -> Callable:
    """A Tensor method from a public function: ``t.NAME(*args)`` is ``fn(t, *args)``."""

    def m(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        return fn(self, *args, **kwargs)

    m.__name__ = m.__qualname__ = name
    m.__doc__ = fn.__doc__
    return m


# ---------------------------------------------------------------- the supported surface, as Markdown
MARK_BEGIN = "<!-- BEGIN the generated table: `make docs` rewrites it (wengert.ops.surface.write_page) -->"
MARK_END = "<!-- END the generated table -->"


def markdown() -> str:
    """Every op of the records as a Markdown table: its ``wg`` names, Tensor methods, NumPy functions, whether it is
    a primitive (a rule of its own) or a composite of primitives, whether it has a gradient, and its doc's first line.

    ``docs/numpy.md`` holds this table, and a test fails when it is out of date, so the page cannot drift from the
    code.

    >>> from wengert.ops.surface import markdown
    >>> print(markdown().splitlines()[0])
    | function | Tensor methods | NumPy | kind | gradient | what it computes |
    """
    from . import api  # (every module with records is imported by now)

    rows = []
    for target, s in records():
        rule = isinstance(target, Rule)
        # (a name that wengert.ops.api defines by hand, e.g. the constructor linspace, is not this record's)
        names = [n for n in (public_name(target, s), *s.aliases) if getattr(api, n, None) is api.PUBLIC.get(n)]
        names = names if s.public else []
        numpy = ([f"np.{s.ufunc.__name__}"] if s.ufunc is not None else []) + [_numpy_name(f) for f in s.numpy]
        differentiable = target.differentiable if rule else s.differentiable
        doc = (target.doc if rule else target.__doc__ or "").strip()
        first = " ".join(doc.split("\n\n")[0].split())  # the first paragraph, on one line
        cells = [
            ", ".join(f"`wg.{n}`" for n in names) or ("(NumPy only)" if numpy else "(methods only)"),
            ", ".join(f"`.{m}()`" for m in s.methods),
            ", ".join(f"`{n}`" for n in numpy),
            f"primitive `{target.name}`" if rule else "composite",
            "yes" if differentiable else "none",
            _md_text(first),
        ]
        key = (names or [public_name(target, s)])[0].lower()
        rows.append((key, cells))
    lines = ["| function | Tensor methods | NumPy | kind | gradient | what it computes |",
             "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(cells) + " |" for _, cells in sorted(rows, key=lambda r: r[0])]
    return "\n".join(lines) + "\n"


def write_page(path: str) -> bool:
    """Rewrite the generated table of the Markdown page ``path`` (between its markers); True if it changed.

    The file is replaced atomically (written next to it, then renamed).
    """
    import os

    with open(path, encoding="utf-8") as f:
        text = f.read()
    new = page_with_table(text, path)
    if new == text:
        return False
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(new)
    os.replace(tmp, path)
    return True


def page_with_table(text: str, path: str = "the page") -> str:
    """``text`` with the part between the markers replaced by :func:`markdown`'s table."""
    start, end = text.find(MARK_BEGIN), text.find(MARK_END)
    if start < 0 or end < start:
        raise ValueError(f"{path}: the markers of the generated table are missing; put {MARK_BEGIN!r} and "
                         f"{MARK_END!r} on lines of their own where the table goes")
    return text[: start + len(MARK_BEGIN)] + "\n" + markdown() + text[end:]


def _numpy_name(f: Any) -> str:
    module = getattr(f, "__module__", None) or "numpy"
    prefix = "np" + module[len("numpy"):] if module.startswith("numpy") and "._" not in module else "np"
    return f"{prefix}.{getattr(f, '__name__', str(f))}"


def _md_text(text: str) -> str:
    """A doc line as Markdown table text: RST ``code`` as `code`, and the characters Markdown would read escaped."""
    parts = text.replace("``", "`").split("`")
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # inside a code span
            out.append("`" + part.replace("|", "\\|") + "`")
        else:
            for ch in "\\*_<>[]|":
                part = part.replace(ch, "\\" + ch)
            out.append(part)
    return "".join(out)


def _as_tensor(x: Any) -> Tensor:
    from ..core.tensor import as_tensor

    return as_tensor(x)


__all__ = ["COMPOSITES", "Surface", "composite", "markdown", "method", "numpy_namespace", "public_function", "public_name",
           "records", "write_page"]
