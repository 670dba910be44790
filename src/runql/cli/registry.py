"""The ``runql`` command: its subcommands, the parser built from them, and ``main``.

Each subcommand is a :class:`~runql.cli.command.Command` defined next to the code that runs it; add one
to ``COMMANDS``, in the order ``runql --help`` lists them.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from runql.cli.command import Command, CommandError
from runql.cli.conform_command import CONFORM
from runql.cli.query_commands import CHECK, PLAN, PROFILES
from runql.cli.registry_commands import LOGGED_MODELS, MODELS, PROMPTS, VERSIONS
from runql.cli.run_commands import COMPARE, DESCRIBE, EXPORT, HISTORY
from runql.cli.search_commands import EXPERIMENTS, RUNS
from runql.common.redact import redact
from runql.errors import QueryWarning, RunqlError, UnsupportedQueryError

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: list[Command] = [
    RUNS,
    EXPERIMENTS,
    MODELS,
    VERSIONS,
    PROMPTS,
    LOGGED_MODELS,
    HISTORY,
    DESCRIBE,
    COMPARE,
    CHECK,
    PLAN,
    EXPORT,
    PROFILES,
    CONFORM,
]
"""The subcommands, in the order ``runql --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``runql`` and of each subcommand; the parsed arguments' ``run`` runs it."""
    parser = argparse.ArgumentParser(
        prog="runql",
        description="MLflow's run search language: check queries per backend, search runs in memory.",
        epilog="run 'runql COMMAND --help' for a command's options and examples",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            epilog=command.examples or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def _descending_shorthand(argv: Sequence[str]) -> None:
    """``-o -metrics.auc`` (a minus for descending, as some tools write it) gets a message of its own
    instead of argparse's "expected one argument"."""
    for option, value in itertools.pairwise(argv):
        if option in ("-o", "--order-by") and value.startswith("-") and "." in value and value[1:2].isalpha():
            raise CommandError(
                f"order_by has no '-' for descending: use {value[1:] + ' DESC'!r} "
                f'(--order-by "{value[1:]} DESC")'
            )


def _show_warning(err: TextIO) -> Callable[..., None]:
    """Print a warning as ``runql check`` does: the diagnostic and its caret, not Python's format."""

    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        if isinstance(message, QueryWarning):
            print(message.diagnostic, file=err)
        else:
            print(f"warning: {message}", file=err)

    return show


def _quiet_stdout() -> None:
    """After the reader of stdout went away (``runql runs | head -1``): point stdout at /dev/null so
    the interpreter's final flush has nowhere to fail."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    err = sys.stderr
    try:
        _descending_shorthand(argv)
        args = build_parser().parse_args(argv)
        with warnings.catch_warnings():
            warnings.simplefilter("always", QueryWarning)
            warnings.showwarning = _show_warning(err)
            code: int = args.run(args, sys.stdout, err)
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (runql runs | head): not an error, as for any Unix tool.
        _quiet_stdout()
        return 0
    except UnsupportedQueryError as refusal:
        for diagnostic in refusal.diagnostics:
            print(diagnostic, file=err)
        return 1
    # A file that is not a workspace or a path that cannot be written (ValueError, OSError) is the
    # user's to fix, as a refused query is.
    except (RunqlError, ValueError, OSError) as error:
        print(f"error: {redact(str(error))}", file=err)
        return 1
    return code
