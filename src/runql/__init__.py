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
from .profiles import PROFILES, KeyKind, Profile, get_profile
from .records import Dataset, DatasetInput, Experiment, FileInfo, Metric, Run, RunData, RunInfo, ViewType
from .search import compile_predicate, search, search_experiments, sort_key
from .unparse import unparse, unparse_query
from .validate import QueryWarning, check, validate
from .workspace import Workspace, from_mlflow, from_mlflow_db, from_mlflow_dir

if TYPE_CHECKING:
    from .sql import Schema
    from .sql_store import SqlStore


def connect(
    url: str | os.PathLike[str], *, profile: str | Profile | None = None, schema: Schema | None = None
) -> SqlStore:
    """A read-only store over the MLflow tracking database at ``url`` that answers searches in SQL.

    See :func:`runql.sql_store.connect`; needs SQLAlchemy (``pip install 'runql[mlflow-db]'``).
    """
    from .optional import require

    require("sqlalchemy", "mlflow-db", "searching an MLflow tracking database in SQL")
    from .sql import MLFLOW_SCHEMA
    from .sql_store import SqlStore

    return SqlStore(url, profile=profile, schema=schema or MLFLOW_SCHEMA)


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
    "plot_metric_history",
    "search",
    "search_experiments",
    "sort_key",
    "unparse",
    "unparse_query",
    "validate",
]
