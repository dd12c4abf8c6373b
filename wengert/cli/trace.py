"""``wengert trace``: the Wengert list of a formula, with values, local partials and derivatives.

    wengert trace "(x + y) * z" --at x=-2 y=5 z=-4
    wengert trace "(x + y) * z" --at x=-2 y=5 z=-4 --mode forward --wrt x
    wengert trace "q = x + y; f = q * z" --at x=-2 y=5 z=-4 --format latex --svg circuit.svg
    wengert trace "(x + y) * z" --at x=-2 y=5 z=-4 --html circuit.html

The formula is parsed with :mod:`ast` against a whitelist (numbers, names,
``+ - * / **``, unary minus and the functions of
:data:`wengert.teach.formula.FUNCTIONS`); it is never given to ``eval``.
A rejected formula or a bad argument prints one line and exits with status 2.
"""
from __future__ import annotations

import argparse
import math
import sys

FORMATS = ("text", "md", "latex", "html")


def _assignment(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, got {text!r}")
    if not name.isidentifier() or name.startswith("_"):
        raise argparse.ArgumentTypeError(f"{name!r} is not a variable name")
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{name}: the value must be a finite number, got {value!r}")
    return name, v


def _precision(text: str) -> int:
    try:
        p = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"precision must be an integer, got {text!r}") from None
    if not 1 <= p <= 17:
        raise argparse.ArgumentTypeError(f"precision must be between 1 and 17, got {p}")
    return p


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "trace",
        help="print the trace table (Wengert list) of a formula",
        description="Print the evaluation trace of a formula: every elementary step with its value, local "
                    "partial derivatives, and reverse-mode adjoints (or forward-mode tangents).",
    )
    p.add_argument("formula", nargs="?", help="e.g. '(x + y) * z', '-W * X', or steps: 'q = x + y; f = q * z'")
    p.add_argument("--at", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                   help="the value of each variable, e.g. --at x=-2 y=5 z=-4 (default: none)")
    p.add_argument("--mode", choices=("reverse", "forward"), default="reverse",
                   help="reverse: adjoints d(out)/dv (default); forward: tangents dv/d(wrt)")
    p.add_argument("--wrt", metavar="NAME", help="forward mode: the input to differentiate by (default: the first)")
    p.add_argument("--format", choices=FORMATS, default="text", help="table format")
    p.add_argument("--precision", type=_precision, default=6, help="significant digits shown")
    p.add_argument("--svg", metavar="PATH", help="also draw the graph to PATH (needs Graphviz 'dot'; .png works too; "
                                                 "default: no drawing)")
    p.add_argument("--dot", metavar="PATH", help="also write the graph as Graphviz DOT text to PATH (default: none)")
    p.add_argument("--html", metavar="PATH", help="also write an interactive page to PATH (one self-contained file: "
                                                  "step through the forward and backward passes in a browser; "
                                                  "default: none)")
    p.set_defaults(func=run)


def _fail(message: str, status: int = 2) -> int:
    print(f"wengert trace: error: {message}", file=sys.stderr)
    return status


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..teach.draw import GraphvizNotFoundError
    from ..teach.formula import CONSTANTS, FormulaError, parse
    from ..teach.trace import trace

    text, assignments = args.formula, []
    for i, item in enumerate(args.at):
        if "=" in item:
            try:
                assignments.append(_assignment(item))
            except argparse.ArgumentTypeError as exc:
                return _fail(f"argument --at: {exc}")
        elif text is None and i == len(args.at) - 1:  # `--at x=1 y=2 "x*y"`: --at took the formula along
            text = item
        else:
            return _fail(f"argument --at: expected NAME=NUMBER, got {item!r}")
    if text is None:
        return _fail("no formula given; e.g. wengert trace '(x + y) * z' --at x=-2 y=5 z=-4")
    try:
        formula = parse(text)
    except FormulaError as exc:
        return _fail(str(exc))
    args.formula = text
    values: dict[str, float] = {}
    for name, v in assignments:
        if name in values:
            return _fail(f"--at gives {name} twice")
        values[name] = v
    variables = list(formula.variables) + [c for c in CONSTANTS if c in values]
    if not formula.variables:
        return _fail("the formula has no variables, so there is nothing to differentiate; e.g. 'x * x' --at x=3")
    missing = [v for v in formula.variables if v not in values]
    if missing:
        return _fail(f"no value for {', '.join(missing)}: give it with --at {missing[0]}=NUMBER")
    extra = [n for n in values if n not in variables]
    if extra:
        return _fail(f"--at gives {', '.join(extra)}, which the formula does not use; its variables are "
                     f"{', '.join(formula.variables)}")
    wrt = None
    if args.mode == "forward":
        wrt = args.wrt or variables[0]
        if wrt not in variables:
            return _fail(f"--wrt {wrt}: not a variable of the formula; its variables are {', '.join(variables)}")
    elif args.wrt:
        return _fail("--wrt is for --mode forward (reverse mode differentiates by every variable)")

    f = formula.function()
    try:
        with np.errstate(all="ignore"):
            tr = trace(f, *[values[v] for v in variables], mode=args.mode, wrt=wrt, names=variables,
                       precision=args.precision)
    except FormulaError as exc:
        return _fail(str(exc))
    except (ValueError, TypeError, ArithmeticError) as exc:
        return _fail(f"cannot trace this formula: {exc}", status=1)

    at = ", ".join(f"{k}={values[k]:g}" for k in variables)
    shown = args.formula.strip() if formula.output else f"{tr.output_name} = {args.formula.strip()}"
    if args.format == "text":
        print(f"{shown}   at {at}   ({args.mode} mode)")
        print(tr.to_text())
        if args.mode == "reverse":
            grads = ", ".join(f"d{tr.output_name}/d{k} = {_num(g, args.precision)}" for k, g in tr.gradient.items())
        else:
            grads = f"d{tr.output_name}/d{wrt} = {_num(tr.rows[-1].tangent, args.precision)}"
        print(f"gradient: {grads}")
    else:
        print({"md": tr.to_markdown, "latex": tr.to_latex, "html": tr.to_html}[args.format]())
    if any(not np.all(np.isfinite(r.value)) for r in tr.rows):
        print("note: some values are not finite (inf or nan): check the domain of log, sqrt, / ...", file=sys.stderr)

    status = 0
    if args.dot:
        try:
            tr.draw().render(args.dot, format="dot")
        except OSError as exc:
            status = _fail(f"cannot write {args.dot}: {exc}", status=1)
    if args.html:
        try:
            tr.save_html(args.html, title=f"{shown}   at {at}")
        except OSError as exc:
            status = _fail(f"cannot write {args.html}: {exc}", status=1)
    if args.svg:
        try:
            tr.draw().render(args.svg)
        except GraphvizNotFoundError as exc:
            status = _fail(str(exc), status=1)
        except ValueError as exc:
            status = _fail(str(exc))
        except (OSError, RuntimeError) as exc:
            status = _fail(f"cannot draw {args.svg}: {exc}", status=1)
    return status


def _num(v: object, precision: int) -> str:
    from ..teach._format import value

    return value(v, precision)
