"""runql: MLflow's run search language as a library.

Parse ``filter_string`` and ``order_by`` into a typed AST, check them against what a backend
accepts, and answer them over runs held in memory, as MLflow does.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from runql.common import aliases
from runql.engines.embedding import compile_predicate, search, search_experiments, sort_key
from runql.engines.planner import Plan, plan
from runql.errors import (
    ArgumentError,
    Diagnostic,
    EvaluationError,
    MissingDependencyError,
    NotFoundError,
    QueryError,
    QuerySyntaxError,
    QueryValueError,
    RunqlError,
    Severity,
    StoreError,
    UnsupportedQueryError,
)
from runql.language.ast import (
    And,
    Compare,
    Entity,
    In,
    IsNull,
    Key,
    Literal,
    Not,
    Op,
    Or,
    Query,
    SortKey,
    Span,
)
from runql.language.parser import parse, parse_filter, parse_order_by
from runql.language.unparser import unparse, unparse_query
from runql.model.comparison import compare_runs, plot_metric_history
from runql.model.records import (
    Dataset,
    DatasetInput,
    Experiment,
    FileInfo,
    Metric,
    Run,
    RunData,
    RunInfo,
    ViewType,
)
from runql.profiles.catalog import PROFILES, KeyKind, Profile, get_profile
from runql.profiles.checker import QueryWarning, check, validate
from runql.profiles.compiled import CompiledQuery, compile
from runql.stores.workspace import Workspace, from_mlflow, from_mlflow_db, from_mlflow_dir

aliases.install()

if TYPE_CHECKING:
    from runql.engines.sql import Schema
    from runql.stores.server import ServerStore
    from runql.stores.sql import SqlStore


def connect(
    url: str | os.PathLike[str],
    *,
    profile: str | Profile | None = None,
    schema: Schema | None = None,
    target: str | Profile | None = None,
) -> SqlStore | ServerStore:
    """A read-only store that answers searches where the runs live.

    A database URL or a SQLite file's path gives a :class:`~runql.stores.sql.SqlStore`, which answers in
    SQL (see :func:`runql.stores.sql.connect`; ``schema`` maps tables named otherwise; needs
    SQLAlchemy). A tracking server's URI (``http(s)://``, ``databricks``, ``azureml://``) gives a
    :class:`~runql.stores.server.ServerStore`, which sends the server what its language (``target``:
    ``mlflow``, or ``azureml`` for Azure ML URIs) accepts and evaluates the rest (needs MLflow).
    ``profile`` is the language of the store's searches.
    """
    from runql.common.optional import require

    text = os.fspath(url)
    from runql.stores.server import ServerStore, is_server_uri

    if is_server_uri(text):
        if schema is not None:
            raise TypeError("schema maps a database's tables: a tracking server has none")
        return ServerStore(text, target=target, profile=profile)
    if target is not None:
        raise TypeError("target is the language of a tracking server: a database is answered in SQL")
    require("sqlalchemy", "mlflow-db", "searching an MLflow tracking database in SQL")
    from runql.engines.sql import MLFLOW_SCHEMA
    from runql.stores.sql import SqlStore

    return SqlStore(text, profile=profile, schema=schema or MLFLOW_SCHEMA)


__all__ = [
    "PROFILES",
    "And",
    "ArgumentError",
    "Compare",
    "CompiledQuery",
    "Dataset",
    "DatasetInput",
    "Diagnostic",
    "Entity",
    "EvaluationError",
    "Experiment",
    "FileInfo",
    "In",
    "IsNull",
    "Key",
    "KeyKind",
    "Literal",
    "Metric",
    "MissingDependencyError",
    "Not",
    "NotFoundError",
    "Op",
    "Or",
    "Plan",
    "Profile",
    "Query",
    "QueryError",
    "QuerySyntaxError",
    "QueryValueError",
    "QueryWarning",
    "Run",
    "RunData",
    "RunInfo",
    "RunqlError",
    "Severity",
    "SortKey",
    "Span",
    "StoreError",
    "UnsupportedQueryError",
    "ViewType",
    "Workspace",
    "check",
    "compare_runs",
    "compile",
    "compile_predicate",
    "connect",
    "from_mlflow",
    "from_mlflow_db",
    "from_mlflow_dir",
    "get_profile",
    "parse",
    "parse_filter",
    "parse_order_by",
    "plan",
    "plot_metric_history",
    "search",
    "search_experiments",
    "sort_key",
    "unparse",
    "unparse_query",
    "validate",
]
