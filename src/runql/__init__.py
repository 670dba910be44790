"""runql: MLflow's run search language as a library.

Parse ``filter_string`` and ``order_by`` into a typed AST, check them against what a backend
accepts, and answer them over runs held in memory, as MLflow does.
"""

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
    Diagnostic,
    EvaluationError,
    QueryError,
    QuerySyntaxError,
    QueryValueError,
    Severity,
    UnsupportedQueryError,
)
from .parse import parse, parse_filter, parse_order_by
from .profiles import PROFILES, KeyKind, Profile, get_profile
from .records import Dataset, DatasetInput, Experiment, FileInfo, Metric, Run, RunData, RunInfo, ViewType
from .search import compile_predicate, search, search_experiments, sort_key
from .sources import StoreError, from_mlflow, from_mlflow_db, from_mlflow_dir
from .unparse import unparse, unparse_query
from .validate import QueryWarning, check, validate
from .workspace import NotFoundError, Workspace

__all__ = [
    "PROFILES",
    "And",
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
