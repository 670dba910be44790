"""The ``runql`` command.

Each subcommand is a :class:`Command`: a name, a function that adds its arguments to a sub-parser and
a function that runs it and returns the exit code. Add one by appending to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from .errors import QueryError, Severity, UnsupportedQueryError
from .parse import parse
from .profiles import ENTITIES, PROFILE_NAMES, matrix_markdown
from .unparse import unparse_query
from .validate import QueryWarning, resolve_profile, validate

__all__ = ["COMMANDS", "Command", "build_parser", "main"]


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    description: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, TextIO, TextIO], int]
    examples: str = ""


def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "filter", nargs="?", default="", help="the filter_string (empty or omitted: no filter)"
    )
    parser.add_argument(
        "--order-by",
        "-o",
        action="append",
        metavar="CLAUSE",
        help="an order_by clause such as 'metrics.auc DESC'; repeat for several",
    )
    parser.add_argument(
        "--profile", "-p", choices=PROFILE_NAMES, default="mlflow", help="the backend (default: mlflow)"
    )
    parser.add_argument(
        "--entity", "-e", choices=ENTITIES, default="runs", help="what is searched (default: runs)"
    )


def _run_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    profile = resolve_profile(args.profile, args.entity)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", QueryWarning)
        try:
            lowered = validate(args.filter, profile, args.entity, args.order_by)
        except UnsupportedQueryError as refusal:
            for diagnostic in refusal.diagnostics:
                print(f"{diagnostic}\n", file=err if diagnostic.severity is Severity.ERROR else out)
            errors = sum(d.severity is Severity.ERROR for d in refusal.diagnostics)
            count = f"{errors} problem{'s' if errors > 1 else ''}"
            print(f"refused by the {profile.name} profile ({args.entity}): {count}", file=err)
            return 1
        except QueryError as error:
            print(f"error: {error}", file=err)
            return 1
    for warning in caught:
        if isinstance(warning.message, QueryWarning):
            print(f"{warning.message.diagnostic}\n", file=out)
    print(f"accepted by the {profile.name} profile ({args.entity})", file=out)
    if lowered != parse(args.filter, args.order_by):
        text, order = unparse_query(lowered)
        print(f"evaluated as: filter_string={text!r} order_by={list(order)!r}", file=out)
    return 0


def _configure_profiles(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: the matrix covers every profile


def _run_profiles(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    out.write(matrix_markdown())
    return 0


_CHECK_EXAMPLES = """\
examples:
  runql check "metrics.auc > 0.8 AND params.model = 'lr'"
  runql check "tags.team != 'x'" --profile azureml          # refused: Azure ML has no != on tags
  runql check "attributes.duration > '360000'" --profile azureml
  runql check "" --order-by "metrics.auc DESC" --order-by start_time --profile azureml   # refused
  runql check "" --order-by "attributes.duration DESC" --profile azureml
  runql check "name LIKE 'prod%'" --entity experiments

exit status: 0 when the profile accepts the query (warnings are printed), 1 when it refuses it or the
text does not parse.
"""

COMMANDS: list[Command] = [
    Command(
        name="check",
        help="check a filter_string and order_by against a profile",
        description="Check a filter_string and order_by against a backend's profile and show every "
        "problem with a caret under it.",
        configure=_configure_check,
        run=_run_check,
        examples=_CHECK_EXAMPLES,
    ),
    Command(
        name="profiles",
        help="print the capability matrix of the profiles (Markdown)",
        description="Print what each profile accepts, as the Markdown of docs/profiles.md.",
        configure=_configure_profiles,
        run=_run_profiles,
        examples="example:\n  runql profiles > docs/profiles.md\n",
    ),
]


def build_parser() -> argparse.ArgumentParser:
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    code: int = args.run(args, sys.stdout, sys.stderr)
    return code
