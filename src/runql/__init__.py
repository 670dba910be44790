"""runql: MLflow's run search language as a library.

Parse ``filter_string`` and ``order_by`` into a typed AST, check them against what a backend
accepts, and answer them over runs held in memory, as MLflow does.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .ast import (
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
from .compare import compare_runs, plot_metric_history
from .compiled import CompiledQuery, compile
from .errors import (
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
from .parse import parse, parse_filter, parse_order_by
from .plan import Plan, plan
from .profiles import PROFILES, KeyKind, Profile, get_profile
from .records import Dataset, DatasetInput, Experiment, FileInfo, Metric, Run, RunData, RunInfo, ViewType
from .search import compile_predicate, search, search_experiments, sort_key
from .unparse import unparse, unparse_query
from .validate import QueryWarning, check, validate
from .workspace import Workspace, from_mlflow, from_mlflow_db, from_mlflow_dir

if TYPE_CHECKING:
    from .server_store import ServerStore
    from .sql import Schema
    from .sql_store import SqlStore


def connect(
    url: str | os.PathLike[str],
    *,
    profile: str | Profile | None = None,
    schema: Schema | None = None,
    target: str | Profile | None = None,
) -> SqlStore | ServerStore:
    """A read-only store that answers searches where the runs live.

    A database URL or a SQLite file's path gives a :class:`~runql.sql_store.SqlStore`, which answers in
    SQL (see :func:`runql.sql_store.connect`; ``schema`` maps tables named otherwise; needs
    SQLAlchemy). A tracking server's URI (``http(s)://``, ``databricks``, ``azureml://``) gives a
    :class:`~runql.server_store.ServerStore`, which sends the server what its language (``target``:
    ``mlflow``, or ``azureml`` for Azure ML URIs) accepts and evaluates the rest (needs MLflow).
    ``profile`` is the language of the store's searches.
    """
    from .optional import require

    text = os.fspath(url)
    from .server_store import ServerStore, is_server_uri

    if is_server_uri(text):
        if schema is not None:
            raise TypeError("schema maps a database's tables: a tracking server has none")
        return ServerStore(text, target=target, profile=profile)
    if target is not None:
        raise TypeError("target is the language of a tracking server: a database is answered in SQL")
    require("sqlalchemy", "mlflow-db", "searching an MLflow tracking database in SQL")
    from .sql import MLFLOW_SCHEMA
    from .sql_store import SqlStore

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
