"""What a ``wengert train`` run records, and how ``--resume`` continues it.

A run's checkpoint holds every setting of the run (the network's shape, the
data, the optimiser and its hyperparameters, the batch size, the schedule).
On ``--resume``:

* a setting not given on the command line is taken from the checkpoint, so
  ``wengert train --out DIR --resume`` continues a run as it was started;
* a setting given with another value is refused with one line naming it,
  unless it is listed in ``--allow-change`` (for the training settings in
  :data:`CHANGEABLE`; the network's shape and the data can never change):
  a new ``--lr`` becomes the base of the schedule from the next epoch, a new
  ``--optimizer`` starts with fresh state (and its own default ``--lr`` and
  ``--weight-decay`` unless they are given), a new ``--batch-size`` changes
  the batches from the next epoch on;
* ``--epochs`` is the run's new total.  Below the completed count it is an
  error; equal to it there is nothing to do.  Without a schedule a larger
  value simply trains longer.  A scheduled run that is *extended* past the
  epochs it was planned for starts a new cycle of its schedule at the resume
  point, from the base learning rate, over the added epochs (a warm restart,
  as in SGDR); an interrupted run resumed with the same ``--epochs``
  continues its current cycle exactly.
"""
from __future__ import annotations

import argparse
from typing import Any

#: Settings that fix the network's shape or its data: a checkpoint can only resume a run with the same ones.
ARCH_KEYS = ("data", "model", "hidden", "activation", "dropout", "standardize", "dtype", "samples", "noise",
             "test_fraction", "seed")
#: Settings of the training that ``--allow-change`` may change on ``--resume``.
CHANGEABLE = ("optimizer", "lr", "momentum", "weight_decay", "scheduler", "batch_size", "clip")
#: Everything a run records (``epochs`` is handled on its own: it is the run's total, not a setting to compare).
RECORDED = ARCH_KEYS + CHANGEABLE + ("epochs",)
#: Optimisers that keep per-parameter state (moments, a momentum buffer) that a resume must restore.
STATEFUL = ("adam", "adamw", "rmsprop")


class UsageError(Exception):
    """A bad combination of arguments, found after parsing (exit status 2, one line)."""


class ResumeError(Exception):
    """A run that cannot be resumed as asked (exit status 1, one line)."""


def option(key: str) -> str:
    return "--" + key.replace("_", "-")


def jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def settings_of(args: argparse.Namespace) -> dict:
    """The recorded settings of a run (after defaults are resolved)."""
    return {k: jsonable(getattr(args, k)) for k in RECORDED}


def track_given(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` note, in ``args.given_options``, which options the command line gave."""

    def noting(cls: type) -> type:
        class Noting(cls):
            def __call__(self, parser: Any, namespace: Any, values: Any, option_string: Any = None) -> None:
                super().__call__(parser, namespace, values, option_string)
                namespace.__dict__.setdefault("given_options", set()).add(self.dest)

        return Noting

    parser.register("action", None, noting(argparse._StoreAction))
    parser.register("action", "store", noting(argparse._StoreAction))
    parser.register("action", "store_true", noting(argparse._StoreTrueAction))
    parser.register("action", "store_false", noting(argparse._StoreFalseAction))


def allowed_changes(text: str) -> frozenset:
    """The argparse type of ``--allow-change``: a comma-separated list of settings."""
    names = {t.strip().lstrip("-").replace("-", "_") for t in text.split(",") if t.strip()}
    bad = sorted(names - set(CHANGEABLE))
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"{', '.join(bad) or repr(text)}: not a setting that can change on --resume; these can: "
            + ", ".join(option(k)[2:] for k in CHANGEABLE))
    return frozenset(names)


def reconcile(args: argparse.Namespace, run: dict, completed: int) -> list[str]:
    """Fill ``args`` from the checkpoint's settings; refuse what changed without leave.  Returns notes to print."""
    recorded = run["settings"]
    given = getattr(args, "given_options", set())
    allowed = args.allow_change or frozenset()
    fixed, unasked, notes = [], [], []
    for key in ARCH_KEYS + CHANGEABLE:
        now, then = jsonable(getattr(args, key)), recorded.get(key)
        if key not in given:
            setattr(args, key, tuple(then) if isinstance(then, list) else then)
        elif now != then:
            shown = f"{option(key)} {then!r} in the checkpoint, {now!r} now"
            if key in ARCH_KEYS:
                fixed.append(shown)
            elif key not in allowed:
                unasked.append((key, shown))
            else:
                notes.append(f"changed {shown}")
    if fixed:
        raise ResumeError("cannot resume: the network or its data would differ: " + "; ".join(fixed)
                          + "; train into a new --out instead")
    if unasked:
        names = ",".join(option(k)[2:] for k, _ in unasked)
        raise ResumeError("cannot resume: the run's settings differ: " + "; ".join(s for _, s in unasked)
                          + f"; drop them to continue as recorded, or accept with --allow-change {names}")
    if args.optimizer != recorded.get("optimizer"):  # a new optimiser brings its own defaults, unless given
        for key in ("lr", "weight_decay"):
            if key not in given:
                setattr(args, key, None)
                notes.append(f"{option(key)} takes the {args.optimizer} default")
    planned = int(recorded.get("epochs", completed))
    if "epochs" not in given:
        args.epochs = max(planned, completed)
    if args.epochs < completed:
        raise UsageError(f"argument --epochs: the run in {args.out} has already completed {completed} epochs; "
                         f"give a larger --epochs to continue it")
    return notes


def schedule_cycle(args: argparse.Namespace, run: dict | None, completed: int) -> tuple[int, int]:
    """(first epoch, length) of the schedule cycle the coming epochs belong to (see the module's docstring)."""
    if run is None:
        return 0, args.epochs
    start, length = run.get("schedule_cycle", (0, run["settings"].get("epochs", args.epochs)))
    if args.epochs > start + length:  # extended past the plan: a new cycle over the added epochs
        return completed, args.epochs - completed
    return int(start), int(length)


__all__ = ["ARCH_KEYS", "CHANGEABLE", "RECORDED", "ResumeError", "UsageError", "reconcile", "settings_of",
           "track_given"]
