"""The commands about the language itself, which read no store: ``runql check``, ``plan`` and ``profiles``."""

from __future__ import annotations

import argparse
import warnings
from typing import TextIO

from runql.cli.command import Command
from runql.errors import QueryWarning, Severity, UnsupportedQueryError
from runql.language.parser import parse
from runql.language.unparser import unparse_query
from runql.profiles.catalog import ALL_PROFILE_NAMES, ENTITIES, MODEL_ENTITIES, PROFILE_NAMES, matrix_markdown
from runql.profiles.checker import resolve_profile, validate

__all__ = ["CHECK", "PLAN", "PROFILES"]


def _add_query(parser: argparse.ArgumentParser, order_by_help: str) -> None:
    parser.add_argument(
        "filter", nargs="?", default="", help="the filter_string (empty or omitted: no filter)"
    )
    parser.add_argument("--order-by", "-o", action="append", metavar="CLAUSE", help=order_by_help)


def _add_entity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--entity",
        "-e",
        choices=ENTITIES + MODEL_ENTITIES,
        default="runs",
        help="what is searched (default: runs)",
    )


# -- runql check -----------------------------------------------------------------------------------


def _configure_check(parser: argparse.ArgumentParser) -> None:
    _add_query(parser, "an order_by clause such as 'metrics.auc DESC'; repeat for several")
    parser.add_argument(
        "--profile",
        "-p",
        choices=ALL_PROFILE_NAMES,
        default="mlflow",
        metavar="PROFILE",
        help=f"the backend: {', '.join(PROFILE_NAMES)}, or an earlier MLflow: mlflow-2.0 ... "
        "(runql profiles; default: mlflow)",
    )
    _add_entity(parser)


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
    for warning in caught:
        if isinstance(warning.message, QueryWarning):
            print(f"{warning.message.diagnostic}\n", file=out)
    print(f"accepted by the {profile.name} profile ({args.entity})", file=out)
    if lowered != parse(args.filter, args.order_by):
        text, order = unparse_query(lowered)
        print(f"evaluated as: filter_string={text!r} order_by={list(order)!r}", file=out)
    return 0


CHECK = Command(
    name="check",
    help="check a filter_string and order_by against a profile",
    description="Check a filter_string and order_by against a backend's profile and show every "
    "problem with a caret under it.",
    configure=_configure_check,
    run=_run_check,
    examples="""\
examples:
  runql check "metrics.auc > 0.8 AND params.model = 'lr'"
  runql check "tags.team != 'x'" --profile azureml          # refused: Azure ML has no != on tags
  runql check "attributes.duration > '360000'" --profile azureml
  runql check "" --order-by "metrics.auc DESC" --order-by start_time --profile azureml   # refused
  runql check "" --order-by "attributes.duration DESC" --profile azureml
  runql check "name LIKE 'prod%'" --entity experiments
  runql check "params.lr IS NULL" --profile mlflow-3.10    # refused: IS NULL on params came in 3.11

exit status: 0 when the profile accepts the query (warnings are printed), 1 when it refuses it or the
text does not parse.
""",
)
"""The ``check`` command."""


# -- runql plan ------------------------------------------------------------------------------------


def _configure_plan(parser: argparse.ArgumentParser) -> None:
    _add_query(parser, "an order_by clause; repeat for several")
    parser.add_argument(
        "--target",
        "-t",
        choices=("mlflow", "azureml"),
        default="mlflow",
        help="what the server accepts (default: mlflow)",
    )
    parser.add_argument(
        "--profile",
        "-p",
        choices=PROFILE_NAMES,
        default="extended",
        help="the language the query is written in (default: extended)",
    )
    _add_entity(parser)


def _run_plan(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from runql.engines.planner import plan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QueryWarning)
        found = plan(args.filter, args.order_by, target=args.target, profile=args.profile, entity=args.entity)
    print(found.describe(), file=out)
    return 0


PLAN = Command(
    name="plan",
    help="split a query between a tracking server and runql",
    description="Show what a tracking server of the target is sent (the part of the filter and the "
    "order_by it accepts, in its spelling) and what runql evaluates on the runs it returns.",
    configure=_configure_plan,
    run=_run_plan,
    examples="""\
examples:
  runql plan "params.model = 'xgb' AND (metrics.auc > 0.9 OR tags.stage = 'prod')" -o "metrics.auc DESC"
  runql plan "attributes.status = 'FINISHED' AND tags.team != 'a'" -o "metrics.auc DESC" --target azureml

The pushed filter and order_by are what a server of the target is sent (paste them into MLflow's
client); the residual filter is what runql evaluates on the runs the server returns.
exit status: 0, or 1 when the profile refuses the query or the text does not parse.
""",
)
"""The ``plan`` command."""


# -- runql profiles --------------------------------------------------------------------------------


def _configure_profiles(parser: argparse.ArgumentParser) -> None:
    del parser  # no options: the matrix covers every profile


def _run_profiles(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    out.write(matrix_markdown())
    return 0


PROFILES = Command(
    name="profiles",
    help="print the capability matrix of the profiles (Markdown)",
    description="Print what each profile accepts, as the Markdown of docs/profiles.md.",
    configure=_configure_profiles,
    run=_run_profiles,
    examples="example:\n  runql profiles > docs/profiles.md\n",
)
"""The ``profiles`` command."""
