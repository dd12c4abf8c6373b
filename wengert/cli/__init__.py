"""The ``wengert`` command line: ``wengert demo``, ``wengert train``, ``wengert trace``.

Each subcommand lives in its own module with ``add_parser(subparsers)``
that registers it and sets ``func`` (called with the parsed arguments,
returning an exit status).  Bad arguments exit with status 2 and one line.
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys

SUBCOMMANDS = ["demo", "train", "trace"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="wengert", description="Backpropagation you can see, at the speed of NumPy.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    for name in SUBCOMMANDS:
        try:
            mod = importlib.import_module(f"wengert.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"wengert.cli.{name}":
                raise
            continue
        mod.add_parser(sub)
    return parser


_OPTION = re.compile(r"-[A-Za-z]|--[A-Za-z][\w-]*(=.*)?")


def _formula_not_option(argv: list[str]) -> list[str]:
    """``wengert trace "-x * y" ...``: a formula that starts with a minus is not an option.

    argparse takes every argument that starts with ``-`` for an option; a
    formula right after ``trace`` that does not look like one (``-W * X``,
    ``-(x + y)``) gets a leading space, which the formula parser ignores.
    """
    if len(argv) > 1 and argv[0] == "trace" and argv[1].startswith("-") and not _OPTION.fullmatch(argv[1]):
        argv = [argv[0], " " + argv[1], *argv[2:]]
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_formula_not_option(list(sys.argv[1:] if argv is None else argv)))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
