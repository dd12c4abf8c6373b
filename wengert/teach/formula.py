"""Formulas such as ``(x + y) * z``: parsed with :mod:`ast` into a whitelist, never evaluated by Python.

A formula is one expression, or several assignments ending in an
expression (or an assignment), separated by ``;`` or newlines::

    xi1 = -W * X; xi2 = exp(xi1); xi3 = 1 + xi2; xi4 = 1 / xi3; xi5 = log(xi4); L = -y * xi5

Allowed: numbers, variable names, ``+ - * / **``, unary ``-`` and ``+``,
parentheses, and calls of the functions in :data:`FUNCTIONS` with
positional arguments.  Everything else (attribute access, subscripts,
lambdas, comprehensions, strings, keywords, comparisons, ...) is rejected
with a :class:`FormulaError` that says what is wrong; so are formulas that
are too long, too deep, or use huge constants or exponents.  The formula is
run by a small interpreter over the checked tree: no ``eval``, no ``exec``.

>>> from wengert.teach.formula import parse
>>> f = parse("(x + y) * z")
>>> f.variables
('x', 'y', 'z')
>>> parse("__import__('os')")
Traceback (most recent call last):
...
wengert.teach.formula.FormulaError: unknown function '__import__'; allowed functions: abs, arctan, cos, cosh, erf, exp, expm1, log, log1p, relu, sigmoid, sin, sinh, softplus, sqrt, square, tan, tanh
>>> parse("__import__('os').system('ls')")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
wengert.teach.formula.FormulaError: not allowed in a formula: calling attribute access ('.'). Only these functions ...
"""
from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

#: The longest formula accepted, in characters.
MAX_LENGTH = 2000
#: The most syntax-tree nodes accepted.
MAX_NODES = 400
#: The deepest nesting accepted.
MAX_DEPTH = 40
#: The largest absolute value of a number written in a formula.
MAX_CONSTANT = 1e12
#: The largest absolute value of a constant exponent (``x ** 1000`` is refused).
MAX_EXPONENT = 100.0

#: name -> wengert function; all take one argument.
FUNCTIONS: dict[str, str] = {
    name: name
    for name in ("exp", "log", "log1p", "expm1", "sqrt", "square", "sin", "cos", "tan", "tanh", "sinh", "cosh",
                 "arctan", "sigmoid", "relu", "softplus", "abs", "erf")
}
#: Named constants (a variable given a value with ``--at`` takes precedence).
CONSTANTS = {"pi": math.pi}

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}

_WHAT = {
    ast.Attribute: "attribute access ('.')",
    ast.Subscript: "subscripts ('[...]')",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Compare: "comparisons",
    ast.BoolOp: "'and' / 'or'",
    ast.IfExp: "conditional expressions",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.Starred: "'*' unpacking",
    ast.JoinedStr: "strings",
    ast.NamedExpr: "':='",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}


class FormulaError(ValueError):
    """A formula that is not allowed or cannot be computed; the message says why."""


@dataclass(frozen=True)
class Formula:
    """A checked formula: its statements, variables (in order of first use) and output name."""

    text: str
    statements: tuple  # of (target name or None, ast expression)
    variables: tuple[str, ...]
    output: str | None

    def evaluate(self, values: dict[str, Any], ops: Any = None) -> Any:
        """Run the formula on ``values`` (name -> number or Tensor) with the functions of ``ops``.

        ``ops`` defaults to the ``wengert`` module; the result of each
        assignment is given its target's name (``t.name``) when it is a
        tensor without a name, so trace tables show it.
        """
        if ops is None:
            import wengert as ops
        missing = [v for v in self.variables if v not in values]
        if missing:
            raise FormulaError(f"no value for {', '.join(missing)}: give it with --at {missing[0]}=NUMBER")
        env = dict(values)
        result = None
        for target, node in self.statements:
            result = _run(node, env, ops)
            if target is not None:
                env[target] = result
                if hasattr(result, "name") and getattr(result, "requires_grad", False) and result.name is None:
                    result.name = target
        return result

    def function(self, ops: Any = None) -> Callable[..., Any]:
        """A Python function of the variables, in order: ``f(x, y, z)``."""
        names = self.variables

        def f(*args: Any) -> Any:
            return self.evaluate(dict(zip(names, args)), ops)

        f.__name__ = self.output if self.output else "f"
        return f


def parse(text: str) -> Formula:
    """Check a formula against the whitelist and return it (raises :class:`FormulaError`)."""
    if not isinstance(text, str):
        raise FormulaError(f"a formula is a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula too long ({len(text)} characters; at most {MAX_LENGTH})")
    text = text.strip()  # (the command line may hand a formula over with a leading space)
    if not text:
        raise FormulaError("empty formula; write e.g. '(x + y) * z'")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)  # e.g. "1if": our own message says what is wrong
            tree = ast.parse(text, mode="exec")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise FormulaError(f"not a valid formula{where}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        raise FormulaError(f"not a valid formula: {type(exc).__name__}: {exc}") from None
    _check_size(tree)
    statements = []
    assigned: set[str] = set()
    variables: list[str] = []
    output = None
    if not tree.body:
        raise FormulaError("empty formula; write e.g. '(x + y) * z'")
    for i, stmt in enumerate(tree.body):
        last = i == len(tree.body) - 1
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise FormulaError("an assignment must have one plain name on the left, e.g. 'q = x + y'")
            target = stmt.targets[0].id
            _check_name(target)
            if target in FUNCTIONS:
                raise FormulaError(f"'{target}' is a function name and cannot be assigned to")
            if target in assigned:
                raise FormulaError(f"'{target}' is assigned twice; give each step its own name")
            _check_expr(stmt.value, assigned, variables)
            assigned.add(target)
            statements.append((target, stmt.value))
            output = target if last else output
        elif isinstance(stmt, ast.Expr):
            if not last:
                raise FormulaError("only the last statement may be a bare expression; name the others, e.g. 'q = x + y'")
            _check_expr(stmt.value, assigned, variables)
            statements.append((None, stmt.value))
        else:
            raise FormulaError(f"only assignments 'name = expression' and expressions are allowed, "
                               f"not {_describe(stmt)}")
    return Formula(text, tuple(statements), tuple(variables), output)


def _describe(node: ast.AST) -> str:
    for cls, what in _WHAT.items():
        if isinstance(node, cls):
            return what
    if isinstance(node, ast.stmt):
        return f"a '{type(node).__name__.lower()}' statement"
    return f"'{type(node).__name__}'"


def _check_size(tree: ast.AST) -> None:
    count = 0
    stack = [(tree, 0)]
    while stack:  # iterative: a hostile formula cannot exhaust the Python stack here
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise FormulaError(f"formula too large (more than {MAX_NODES} syntax nodes)")
        if depth > MAX_DEPTH:
            raise FormulaError(f"formula nested too deeply (more than {MAX_DEPTH} levels)")
        for child in ast.iter_child_nodes(node):
            # a flat chain (a + b - c + ..., a * b / c ...) is one level, however long: only nesting counts
            chained = isinstance(node, ast.BinOp) and child is node.left and _same_level(node, child)
            stack.append((child, depth if chained else depth + 1))


def _same_level(parent: ast.BinOp, child: ast.AST) -> bool:
    groups = ((ast.Add, ast.Sub), (ast.Mult, ast.Div))
    return isinstance(child, ast.BinOp) and any(isinstance(parent.op, g) and isinstance(child.op, g) for g in groups)


def _check_name(name: str) -> None:
    if name.startswith("_"):
        raise FormulaError(f"names may not start with '_' (got '{name}')")


def _check_expr(node: ast.AST, assigned: set[str], variables: list[str]) -> None:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.BinOp):
            if type(n.op) not in _BINOPS:
                raise FormulaError(f"operator {_op_text(n.op)} is not allowed; use + - * / **")
            if isinstance(n.op, ast.Pow):
                e = _constant_value(n.right)
                if e is not None and abs(e) > MAX_EXPONENT:
                    raise FormulaError(f"exponent {e:g} is too large (at most {MAX_EXPONENT:g} in absolute value)")
            stack += [n.right, n.left]
        elif isinstance(n, ast.UnaryOp):
            if type(n.op) not in _UNARY:
                raise FormulaError(f"operator {_op_text(n.op)} is not allowed; use unary - or +")
            stack.append(n.operand)
        elif isinstance(n, ast.Call):
            if not isinstance(n.func, ast.Name):
                raise FormulaError(f"not allowed in a formula: calling {_describe(n.func)}. Only these functions "
                                   f"can be called: {', '.join(sorted(FUNCTIONS))}")
            fname = n.func.id
            if fname not in FUNCTIONS:
                raise FormulaError(f"unknown function '{fname}'; allowed functions: {', '.join(sorted(FUNCTIONS))}")
            if n.keywords:
                raise FormulaError(f"{fname}(): keyword arguments are not allowed")
            if len(n.args) != 1 or isinstance(n.args[0], ast.Starred):
                raise FormulaError(f"{fname}() takes exactly one argument, got {len(n.args)}")
            stack.append(n.args[0])
        elif isinstance(n, ast.Name):
            _check_name(n.id)
            if n.id in FUNCTIONS:
                raise FormulaError(f"'{n.id}' is a function: call it, e.g. {n.id}(x)")
            if n.id not in assigned and n.id not in variables and n.id not in CONSTANTS:
                variables.append(n.id)
        elif isinstance(n, ast.Constant):
            v = n.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                if isinstance(v, (str, bytes)):
                    raise FormulaError("strings are not allowed in a formula; use numbers")
                raise FormulaError(f"the constant {_short(v)} is not allowed in a formula; use numbers")
            if isinstance(v, float) and not math.isfinite(v):
                raise FormulaError(f"the number {_short(v)} is not finite")
            if abs(v) > MAX_CONSTANT:
                raise FormulaError(f"the number {_short(v)} is too large (at most {MAX_CONSTANT:g} in absolute value)")
        else:
            raise FormulaError(f"not allowed in a formula: {_describe(n)}. Allowed are numbers, names, "
                               f"+ - * / **, parentheses and the functions {', '.join(sorted(FUNCTIONS))}")


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 24 else s[:10] + "..." + s[-6:]


def _op_text(op: ast.AST) -> str:
    return {ast.FloorDiv: "'//'", ast.Mod: "'%'", ast.MatMult: "'@'", ast.BitAnd: "'&'", ast.BitOr: "'|'",
            ast.BitXor: "'^' (use ** for powers)", ast.LShift: "'<<'", ast.RShift: "'>>'", ast.Not: "'not'",
            ast.Invert: "'~'"}.get(type(op), f"'{type(op).__name__}'")


def _constant_value(node: ast.AST) -> float | None:
    """The value of a constant exponent such as ``3``, ``-2`` or ``+0.5``; None for expressions."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return sign * float(node.value) if abs(node.value) < 1e300 else math.inf
    return None


def _run(node: ast.AST, env: dict, ops: Any) -> Any:
    """Interpret a checked expression (depth is bounded by MAX_DEPTH, so recursion is safe here)."""
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        return CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _run(node.operand, env, ops)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        a, b = _run(node.left, env, ops), _run(node.right, env, ops)
        op = type(node.op)
        if op is ast.Add:
            return a + b
        if op is ast.Sub:
            return a - b
        if op is ast.Mult:
            return a * b
        if op is ast.Div:
            return a / b if not (_plain(a) and _plain(b)) else _fdiv(a, b)
        return a ** b if not (_plain(a) and _plain(b)) else _fpow(a, b)
    if isinstance(node, ast.Call):
        fn = getattr(ops, FUNCTIONS[node.func.id])
        return fn(_run(node.args[0], env, ops))
    raise FormulaError(f"not allowed in a formula: {_describe(node)}")  # unreachable after parse()


def _plain(v: Any) -> bool:
    return isinstance(v, float)


def _fdiv(a: float, b: float) -> float:
    # constant folding between plain numbers uses the arithmetic of evaluation (NumPy float64, IEEE 754):
    # 1/-0.0 is -inf, 0/0 is nan, never Python's ZeroDivisionError
    with np.errstate(all="ignore"):
        return float(np.float64(a) / np.float64(b))


def _fpow(a: float, b: float) -> float:
    # likewise: overflow gives inf, a negative base to a fractional power gives nan, 0 ** -1 gives inf
    with np.errstate(all="ignore"):
        return float(np.power(np.float64(a), np.float64(b)))


__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_CONSTANT",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "Formula",
    "FormulaError",
    "parse",
]
