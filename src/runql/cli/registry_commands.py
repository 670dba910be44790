"""``runql models``, ``runql versions`` and ``runql prompts``: search a store's model registry as
MLflow's registry searches do, and print a column per field and tag."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TextIO

from runql.cli.command import Command
from runql.cli.render import Rows, add_format, print_rows, utc_times
from runql.cli.search_commands import named_columns, select_columns
from runql.cli.source import add_source, open_store
from runql.engines.registry import MODEL_PAGE, VERSION_PAGE
from runql.model.registry import ModelVersion, PagedList, RegisteredModel
from runql.profiles.catalog import PROFILE_NAMES

__all__ = ["MODELS", "PROMPTS", "VERSIONS"]

_TIMES = frozenset({"creation_timestamp", "last_updated_timestamp"})


def _configure(what: str, page: int) -> Callable[[argparse.ArgumentParser], None]:
    def configure(parser: argparse.ArgumentParser) -> None:
        add_source(parser)
        parser.add_argument("--filter", "-F", default="", metavar="F", help=f"a filter_string over {what}")
        parser.add_argument(
            "--order-by", "-o", action="append", metavar="O", help="an order_by clause; repeat for several"
        )
        parser.add_argument(
            "--max-results",
            "-n",
            type=int,
            default=page,
            metavar="N",
            help=f"one page of N (default: {page})",
        )
        parser.add_argument("--page-token", metavar="TOKEN", help="the page a previous page's token names")
        parser.add_argument(
            "--profile",
            "-p",
            choices=PROFILE_NAMES,
            default="mlflow",
            metavar="PROFILE",
            help=f"the backend whose rules the query follows: {', '.join(PROFILE_NAMES)}",
        )
        parser.add_argument(
            "--columns",
            "-c",
            nargs="+",
            metavar="COLUMN",
            help="the columns to print (space or comma separated; globs such as 'tags.*' expand)",
        )
        add_format(parser)

    return configure


def _model_columns(found: list[RegisteredModel]) -> dict[str, list[Any]]:
    return {
        "name": [m.name for m in found],
        "creation_timestamp": utc_times([m.creation_timestamp for m in found]),
        "last_updated_timestamp": utc_times([m.last_updated_timestamp for m in found]),
        "latest_versions": [
            ", ".join(f"{v.version} ({v.current_stage})" for v in m.latest_versions) for m in found
        ],
        "aliases": [", ".join(f"{a}: {v}" for a, v in sorted(m.aliases.items())) for m in found],
        "description": [m.description for m in found],
    }


def _version_columns(found: list[ModelVersion]) -> dict[str, list[Any]]:
    return {
        "name": [v.name for v in found],
        "version": [v.version for v in found],
        "creation_timestamp": utc_times([v.creation_timestamp for v in found]),
        "last_updated_timestamp": utc_times([v.last_updated_timestamp for v in found]),
        "current_stage": [v.current_stage for v in found],
        "status": [v.status for v in found],
        "run_id": [v.run_id for v in found],
        "source": [v.source for v in found],
        "aliases": [", ".join(v.aliases) for v in found],
        "user_id": [v.user_id for v in found],
    }


def _printer(
    search: str, columns: Callable[[Any], dict[str, list[Any]]], noun: str
) -> Callable[[argparse.Namespace, TextIO, TextIO], int]:
    def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
        store = open_store(args, err)
        found: PagedList = getattr(store, search)(
            filter_string=args.filter,
            max_results=args.max_results,
            order_by=args.order_by,
            page_token=args.page_token,
            profile=args.profile,
        )
        table = columns(list(found))
        known = list(table)
        for key in sorted({k for item in found for k in item.tags}):
            table[f"tags.{key}"] = [item.tags.get(key) for item in found]
        wanted = named_columns(args.columns, list(table), len(found), err) or list(table)
        rows = select_columns(table, wanted, known, len(found))
        print_rows(Rows(wanted, rows, _TIMES), args.format, out, err, noun, drop=args.columns is None)
        if found.token is not None:
            print(f"next page: --page-token {found.token}", file=err)
        return 0

    return run


MODELS = Command(
    name="models",
    help="search registered models and print them",
    description="Search the registered models of a source with a filter_string and order_by, as "
    "MlflowClient.search_registered_models does (prompts left out unless the filter asks for them), and "
    "print one page.",
    configure=_configure("registered models", MODEL_PAGE[0]),
    run=_printer("search_registered_models", _model_columns, "registered model"),
    examples="""\
examples:
  runql models                                     # the bundled sample, or the store found here
  runql models --filter "name LIKE 'fraud%'" --order-by "last_updated_timestamp DESC"
  runql models --profile extended --filter "name LIKE 'fraud%' OR tags.team = 'risk'"

exit status: 0 on success, 1 when the query or the source is at fault.
""",
)

VERSIONS = Command(
    name="versions",
    help="search model versions and print them",
    description="Search the model versions of a source with a filter_string and order_by, as "
    "MlflowClient.search_model_versions does, and print one page.",
    configure=_configure("model versions", VERSION_PAGE[0]),
    run=_printer("search_model_versions", _version_columns, "model version"),
    examples="""\
examples:
  runql versions --filter "name = 'churn-classifier' AND version_number > 1"
  runql versions --filter "tags.validated = 'true'" --order-by "version_number" --format json

exit status: 0 on success, 1 when the query or the source is at fault.
""",
)

PROMPTS = Command(
    name="prompts",
    help="search prompts and print them",
    description="Search the prompts of a source (registered models tagged as prompts) with a filter_string "
    "and order_by, as MlflowClient.search_prompts does, and print one page.",
    configure=_configure("prompts", 1000),
    run=_printer("search_prompts", _model_columns, "prompt"),
    examples="""\
examples:
  runql prompts --filter "name LIKE 'summarize%'"

exit status: 0 on success, 1 when the query or the source is at fault.
""",
)
