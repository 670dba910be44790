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
from .unparse import unparse, unparse_query
from .validate import QueryWarning, check, validate
from .workspace import NotFoundError, Workspace

__all__ = [
    "PROFILES",
    "And",
    "Compare",
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
    "UnsupportedQueryError",
    "ViewType",
    "Workspace",
    "check",
    "get_profile",
    "parse",
    "parse_filter",
    "parse_order_by",
    "unparse",
    "unparse_query",
    "validate",
]
