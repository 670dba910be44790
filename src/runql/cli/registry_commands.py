"""``runql models``, ``runql versions``, ``runql prompts`` and ``runql logged-models``: search a store's
model registry and its logged models as MLflow's searches do, and print a column per field and tag."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TextIO

from runql.cli.command import Command, CommandError
from runql.cli.render import Rows, add_format, print_rows, utc_times
from runql.cli.search_commands import add_experiment_choice, named_columns, select_columns
from runql.cli.source import add_source, open_store
from runql.engines.logged_models import LOGGED_MODEL_PAGE
from runql.engines.registry import MODEL_PAGE, VERSION_PAGE
from runql.model.logged_models import LoggedModel
from runql.model.registry import ModelVersion, PagedList, RegisteredModel
from runql.profiles.catalog import PROFILE_NAMES

__all__ = ["LOGGED_MODELS", "MODELS", "PROMPTS", "VERSIONS"]

_TIMES = frozenset({"creation_timestamp", "last_updated_timestamp"})


def _configure(
    what: str, page: int, profiles: tuple[str, ...] = PROFILE_NAMES
) -> Callable[[argparse.ArgumentParser], None]:
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
            choices=profiles,
            default="mlflow",
            metavar="PROFILE",
            help=f"the backend whose rules the query follows: {', '.join(profiles)}",
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
        return _print_page(found, table, list(table), noun, args, out, err)

    return run


def _print_page(
    found: PagedList,
    table: dict[str, list[Any]],
    known: list[str],
    noun: str,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
) -> int:
    """Print a page: its ``table`` of columns (``known`` are the fields, not keys) and a column per tag,
    as --columns and --format choose, and the next page's token on stderr."""
    for key in sorted({k for item in found for k in item.tags}):
        table[f"tags.{key}"] = [item.tags.get(key) for item in found]
    wanted = named_columns(args.columns, list(table), len(found), err) or list(table)
    rows = select_columns(table, wanted, known, len(found))
    print_rows(Rows(wanted, rows, _TIMES), args.format, out, err, noun, drop=args.columns is None)
    if found.token is not None:
        print(f"next page: --page-token {found.token}", file=err)
    return 0


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

# -- runql logged-models -----------------------------------------------------------------------------


def _configure_logged(parser: argparse.ArgumentParser) -> None:
    _configure("logged models", LOGGED_MODEL_PAGE, ("mlflow", "extended"))(parser)
    add_experiment_choice(parser)
    parser.add_argument(
        "--dataset",
        "-d",
        action="append",
        metavar="NAME[@DIGEST]",
        help="compare metrics on this dataset (repeat for several); with one, metrics order and print by "
        "their latest value on it",
    )


def _datasets(given: list[str] | None) -> list[dict[str, str]]:
    found = []
    for text in given or ():
        name, at, digest = text.partition("@")
        if not name:
            raise CommandError(f"--dataset {text!r} names no dataset: write NAME or NAME@DIGEST")
        found.append({"dataset_name": name, **({"dataset_digest": digest} if at else {})})
    return found


def _order_entries(given: list[str] | None, datasets: list[dict[str, str]]) -> list[dict[str, Any]]:
    """``--order-by`` texts (``metrics.accuracy DESC``) as MLflow's order_by dicts; with one dataset, a
    metric is read on it."""
    entries = []
    for text in given or ():
        field_name, _, direction = text.strip().rpartition(" ")
        if direction.upper() not in ("ASC", "DESC"):
            field_name, direction = text.strip(), "ASC"
        entry: dict[str, Any] = {"field_name": field_name.strip(), "ascending": direction.upper() == "ASC"}
        if field_name.startswith("metrics.") and len(datasets) == 1:
            entry.update(datasets[0])
        entries.append(entry)
    return entries


def _searched(store: Any, args: argparse.Namespace) -> list[str]:
    if args.experiment_name:
        found = {name: store.get_experiment_by_name(name) for name in args.experiment_name}
        missing = [repr(name) for name, experiment in found.items() if experiment is None]
        if missing:
            raise CommandError(f"no experiment named {', '.join(missing)}")
        return [e.experiment_id for e in found.values()]
    if args.experiment_id:
        return list(args.experiment_id)
    return [e.experiment_id for e in store.experiments if e.lifecycle_stage == "active"]


def _logged_columns(found: list[LoggedModel], datasets: list[dict[str, str]]) -> dict[str, list[Any]]:
    table: dict[str, list[Any]] = {
        "model_id": [m.model_id for m in found],
        "name": [m.name for m in found],
        "experiment_id": [m.experiment_id for m in found],
        "status": [m.status for m in found],
        "creation_timestamp": utc_times([m.creation_timestamp for m in found]),
        "last_updated_timestamp": utc_times([m.last_updated_timestamp for m in found]),
        "model_type": [m.model_type for m in found],
        "source_run_id": [m.source_run_id for m in found],
    }
    scope = datasets[0] if len(datasets) == 1 else {}
    name, digest = scope.get("dataset_name"), scope.get("dataset_digest")
    for key in sorted({p.key for m in found for p in m.metrics}):
        table[f"metrics.{key}"] = [m.latest_metric(key, name, digest) for m in found]
    for key in sorted({k for m in found for k in m.params}):
        table[f"params.{key}"] = [m.params.get(key) for m in found]
    return table


def _print_logged(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = open_store(args, err)
    datasets = _datasets(args.dataset)
    found: PagedList = store.search_logged_models(
        _searched(store, args),
        filter_string=args.filter,
        datasets=datasets,
        max_results=args.max_results,
        order_by=_order_entries(args.order_by, datasets),
        page_token=args.page_token,
        profile=args.profile,
    )
    table = _logged_columns(list(found), datasets)
    known = [k for k in table if "." not in k]
    return _print_page(found, table, known, "logged model", args, out, err)


LOGGED_MODELS = Command(
    name="logged-models",
    help="search logged models and print them",
    description="Search the logged models (MLflow 3) of a source's experiments with a filter_string and "
    "order_by, as MlflowClient.search_logged_models does, and print one page. A metric clause matches a "
    "model when any of its points does (on the --dataset given); a metric orders by its latest point.",
    configure=_configure_logged,
    run=_print_logged,
    examples="""\
examples:
  runql logged-models --filter "metrics.accuracy > 0.9 AND params.lr = '0.01'" --dataset eval
  runql logged-models --order-by "metrics.accuracy DESC" --dataset eval@5a6b7c8d --columns name metrics.*
  runql logged-models --profile extended --filter "model_type = 'sklearn' OR status = 'FAILED'"

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
