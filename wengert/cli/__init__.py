"""The ``wengert`` command line: ``wengert demo``, ``wengert train``, ``wengert trace``.

Each subcommand lives in its own module with ``add_parser(subparsers)``
that registers it and sets ``func`` (called with the parsed arguments,
returning an exit status).  Bad arguments exit with status 2 and one line;
``--help`` shows every option's default; ``wengert --version`` says which
wengert this is.
"""
from __future__ import annotations

import argparse
import importlib
import re
import sys

SUBCOMMANDS = ["demo", "train", "trace"]


def version() -> str:
    """The installed wengert's version."""
    try:
        from importlib.metadata import version as dist_version

        return dist_version("wengert")
    except ImportError:  # pragma: no cover - a source tree that was never installed (PackageNotFoundError)
        from wengert import __version__

        return __version__


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help, with ``(default: ...)`` after every option that takes a value and does not say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.nargs == 0 or action.default is argparse.SUPPRESS or "default" in text.lower():
            return text
        if action.default is None or action.default == []:
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # one line, status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="wengert", description="Backpropagation you can see, at the speed of NumPy.")
    parser.add_argument("--version", action="version", version=f"wengert {version()}")
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


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


_LONG_OPTION = re.compile(r"--[A-Za-z][\w-]*(=.*)?")


def _formula_not_option(argv: list[str]) -> list[str]:
    """``wengert trace "-x * y" ...``: a formula that starts with a minus is not an option.

    argparse takes every argument that starts with ``-`` for an option.  For
    ``trace``, whose only short option is ``-h``, an argument such as ``-x``,
    ``-W * X`` or ``-(x + y)`` (anywhere on the line) gets a leading space,
    which the formula parser ignores; long options (``--at``) and ``-h``
    stay options, and so does everything after ``--``.
    """
    if not argv or argv[0] != "trace":
        return argv
    out = [argv[0]]
    for i, item in enumerate(argv[1:], start=1):
        if item == "--":
            return out + argv[i:]
        if item.startswith("-") and item != "-h" and not _LONG_OPTION.fullmatch(item):
            item = " " + item
        out.append(item)
    return out


def _negative_values(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``--seed -1``, ``--hidden -5,3``: a value that starts with ``-`` is the option's value, not an option.

    argparse says "expected one argument" for those; joined as ``--seed=-1``
    they reach the option's own check, whose message says what is wrong.
    """
    sub = _subparser(parser, argv[0]) if argv else None
    if sub is None:
        return argv
    takes_one = {s for a in sub._actions if a.nargs is None and a.option_strings for s in a.option_strings}
    known = set(sub._option_string_actions)
    out, i = [], 0
    while i < len(argv):
        item = argv[i]
        if item == "--":
            return out + argv[i:]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if item in takes_one and nxt is not None and nxt.startswith("-") and nxt != "-" and nxt.split("=")[0] not in known:
            out.append(f"{item}={nxt}")
            i += 2
            continue
        out.append(item)
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = _formula_not_option(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(_negative_values(parser, argv))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
