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
from .unparse import unparse, unparse_query

__all__ = [
    "And",
    "Compare",
    "Diagnostic",
    "Entity",
    "EvaluationError",
    "In",
    "IsNull",
    "Key",
    "Literal",
    "Not",
    "Op",
    "Or",
    "Query",
    "QueryError",
    "QuerySyntaxError",
    "QueryValueError",
    "Severity",
    "SortKey",
    "Span",
    "UnsupportedQueryError",
    "parse",
    "parse_filter",
    "parse_order_by",
    "unparse",
    "unparse_query",
]
