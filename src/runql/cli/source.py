"""Which store a command reads: the one ``--source`` names or MLflow would find, opened or loaded, and the
runs it holds named by the start of their ids."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from runql.cli.command import CommandError
from runql.common.redact import redact
from runql.errors import NotFoundError, RunqlError
from runql.sources.discovery import find_source

if TYPE_CHECKING:
    from runql.stores.base import RunStore
    from runql.stores.workspace import Workspace

    # What the commands read: any store (the runs in memory, a database, a tracking server).
    Store = RunStore[Any, Any]

__all__ = ["add_source", "find_run_id", "load_workspace", "open_store"]


def add_source(parser: argparse.ArgumentParser, searched_in_place: bool = True) -> None:
    """Add ``--source``, and ``--load`` when the command searches a database in place unless told not to."""
    parser.add_argument(
        "--source",
        "-s",
        metavar="PATH_OR_URI",
        help="an mlruns folder, an MLflow database (mlflow.db, sqlite:///..., postgresql://...), a "
        "tracking URI or a runql workspace .jsonl file (default: MLFLOW_TRACKING_URI, then ./mlruns, "
        "then ./mlflow.db, then the bundled sample workspace)"
        + ("; a database is searched in place, in SQL" if searched_in_place else ""),
    )
    if searched_in_place:
        parser.add_argument(
            "--load",
            action="store_true",
            help="read a database whole into memory before searching, instead of searching it in SQL "
            "(for many questions of one store, runql in Python keeps what it loaded: runql.from_mlflow_db)",
        )


def _source(args: argparse.Namespace, err: TextIO) -> str | None:
    """The store to read (None: the bundled sample), found as MLflow finds it; says which on stderr
    when the user did not name it. A scheme no store reads is refused here, in one line."""
    from runql.sources.schemes import scheme_kind

    found = find_source(args.source)
    if found.notice:
        print(found.notice, file=err)
    if found.source is not None:
        scheme_kind(found.source)
    return found.source


def load_workspace(args: argparse.Namespace, err: TextIO) -> Workspace:
    """The source read whole into memory."""
    from runql.stores.workspace import Workspace

    source = _source(args, err)
    if source is None:
        return Workspace.sample()
    return _reading(source, lambda: Workspace.load(source))


def open_store(args: argparse.Namespace, err: TextIO) -> Store:
    """What a search reads: an MLflow database searched in SQL, a tracking server asked through the
    planner (either unless --load), or the source loaded whole."""
    from runql.sources.schemes import source_kind
    from runql.stores.dispatch import connect
    from runql.stores.workspace import Workspace

    source = _source(args, err)
    if source is None:
        return Workspace.sample()
    if not getattr(args, "load", False) and source_kind(source) in ("mlflow", "mlflow-db"):
        return _reading(source, lambda: connect(source))
    return _reading(source, lambda: Workspace.load(source))


_T = TypeVar("_T")


def _reading(source: str, read: Callable[[], _T]) -> _T:
    """``read()``, with a failure of a library underneath (MLflow's client) told in one line."""
    try:
        return read()
    except (RunqlError, OSError, KeyboardInterrupt):
        raise
    except Exception as error:  # MLflow's client raises its own exceptions, tracebacks and all
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CommandError(f"{redact(source)}: {first}") from None


def find_run_id(store: Store, text: str) -> str:
    """The run id ``text`` names: a whole id, or the start of exactly one (``c4ca69``)."""
    with contextlib.suppress(NotFoundError):
        return store.get_run(text).info.run_id
    matches = store.run_ids_starting(text)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CommandError(f"Run {text!r} not found, nor a run whose id starts with it")
    shown = ", ".join(sorted(matches)[:5]) + (", ..." if len(matches) > 5 else "")
    raise CommandError(f"{text!r} starts the ids of several runs ({shown}): give more of the id")
