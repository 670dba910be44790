"""runql: MLflow's run search language as a library.

Parse ``filter_string`` and ``order_by`` into a typed AST, check them against what a backend
accepts, and answer them over runs held in memory, as MLflow does.
"""

from __future__ import annotations

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
    QueryWarning,
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
from runql.language.unparser import and_all, unparse, unparse_query
from runql.model.comparison import compare_runs, plot_metric_history
from runql.model.entities import (
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
from runql.profiles.checker import check, validate
from runql.profiles.compiled import CompiledQuery, compile
from runql.stores.dispatch import connect
from runql.stores.workspace import Workspace, from_mlflow, from_mlflow_db, from_mlflow_dir

aliases.install()

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
    "and_all",
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
