"""A compiled run query as SQL over MLflow's tracking schema: one SQLAlchemy Core ``Select`` of run ids.

The statement answers exactly what the reference evaluator answers, in every profile:

* Every clause becomes two sets of runs, those for which it is true and those for which it is false,
  each a semi-join on the table that holds the key (``run_uuid IN (SELECT run_uuid FROM params WHERE
  key = :k AND value = :v)``). A run in neither set lacks the key: the clause is unknown. NOT swaps
  the two sets, AND and OR combine them, and the statement keeps the runs in the root's true set:
  SQL's three-valued logic without relying on how a database treats NULL. The semi-joins read the
  primary keys MLflow's schema has (``(key, run_uuid)`` on ``latest_metrics``, ``params``, ``tags``):
  in a top-level AND one clause drives (``IN``, its key read once) and the others are probed per run
  (correlated ``EXISTS``, one primary-key lookup each).
* A NaN metric is stored as 0 with ``is_nan`` set: it satisfies only ``!=``. A metric compares its
  latest value (``latest_metrics``), as MLflow's SQL store does.
* A function of a metric's history (``min(metrics.loss)``, :mod:`runql.engines.aggregates`) reads every point
  from ``metrics``: a subquery grouped by run with the columns of ``latest_metrics`` (key, value,
  is_nan, run_uuid) takes that table's place in the same clauses. ``last()`` is ``latest_metrics``.
* Strings compare by code point (``COLLATE "C"`` on PostgreSQL; SQLite's default is already binary).
  LIKE and ILIKE keep MLflow's in-memory meaning (:mod:`runql.engines.semantics`): on SQLite through the
  ``runql_like`` function a store registers on each connection (:func:`register_sqlite_functions`);
  on PostgreSQL as the database's own LIKE line by line (:func:`_postgres_like`), since MLflow's ``%``
  and ``_`` do not cross a newline.
  RLIKE is RE2's (:mod:`runql.common.regex`), never the database's own regular expressions: on SQLite through
  ``runql_rlike``; on PostgreSQL the key's distinct values are read first (``distinct_values``, once per
  key and statement), matched here, and the matching ones, or the others when they are fewer, sent as one
  array parameter (``value = ANY(:values)``), within :data:`~runql.engines.semantics.MAX_SENT_VALUES`
  per statement. A LIKE too intricate for PostgreSQL's matcher is answered the same way.
* A string no stored string can hold (a lone surrogate, which UTF-8 cannot encode; NUL on PostgreSQL) is
  never sent: a value holding one is compared as what it means against the values stored, and a key
  named with one is a key no run has.
* Ordering is explicit: each order_by key sorts by its tier (value, NaN, missing) and then by its value,
  and the natural order follows (start_time DESC with missing times last, run_id ASC), so no
  database's NULL placement leaks into the answer. A key ordered by again is dropped (its first clause
  leaves no ties it could break); a few keys are joined, more are read by correlated scalar subqueries
  and nothing is joined (SQLite 3.40 crashes on a join whose ORDER BY has 64 terms).

Every value reaches the database as a bound parameter. Table and column names come from a
:class:`Schema`, MLflow's by default.
"""

from __future__ import annotations

import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runql.common.optional import require
from runql.common.regex import regex_search
from runql.engines.semantics import (
    TIER_MISSING,
    TIER_NAN,
    TIER_VALUE,
    SentValues,
    as_float,
    pattern_matcher,
)
from runql.errors import EvaluationError
from runql.language.ast import (
    Aggregate,
    And,
    Compare,
    Entity,
    Expr,
    In,
    IsNull,
    Key,
    Literal,
    Not,
    Op,
    Or,
    SortKey,
    assert_never,
)
from runql.language.attributes import RUN_NUMERIC_ATTRIBUTES
from runql.model.entities import DATASET_CONTEXT_TAG
from runql.profiles.compiled import CompiledQuery

# SQLAlchemy comes with an extra: without it, importing this module names the extra to install.
require("sqlalchemy", "mlflow-db", "runql.engines.sql")

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402
from sqlalchemy.sql.elements import ColumnElement  # noqa: E402

__all__ = [
    "MLFLOW_SCHEMA",
    "ColumnTruthSets",
    "DistinctValues",
    "Schema",
    "Tables",
    "TruthSets",
    "refused_pattern",
    "register_sqlite_functions",
    "runs_select",
]

Condition = ColumnElement[bool]

# The tables and columns runql reads, by the names MLflow's schema gives them.
_MLFLOW_TABLES: dict[str, tuple[str, ...]] = {
    "experiments": (
        "experiment_id",
        "name",
        "artifact_location",
        "lifecycle_stage",
        "creation_time",
        "last_update_time",
    ),
    "experiment_tags": ("key", "value", "experiment_id"),
    "runs": (
        "run_uuid",
        "name",
        "user_id",
        "status",
        "start_time",
        "end_time",
        "lifecycle_stage",
        "artifact_uri",
        "experiment_id",
    ),
    "latest_metrics": ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
    "metrics": ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
    "params": ("key", "value", "run_uuid"),
    "tags": ("key", "value", "run_uuid"),
    "datasets": (
        "dataset_uuid",
        "experiment_id",
        "name",
        "digest",
        "dataset_source_type",
        "dataset_source",
        "dataset_schema",
        "dataset_profile",
    ),
    "inputs": ("input_uuid", "source_type", "source_id", "destination_type", "destination_id"),
    "input_tags": ("input_uuid", "name", "value"),
}
_NUMBER_COLUMNS = {"creation_time", "last_update_time", "start_time", "end_time", "timestamp", "step"}
# Ids that MLflow keeps as integers; runql reads and compares them as strings.
_INTEGER_IDS = {
    ("experiments", "experiment_id"),
    ("runs", "experiment_id"),
    ("experiment_tags", "experiment_id"),
}


def _column_type(table: str, column: str) -> Any:
    if (table, column) in _INTEGER_IDS:
        return sa.Integer()
    if column == "value" and table in ("latest_metrics", "metrics"):
        return sa.Float(precision=53)
    if column == "is_nan":
        return sa.Boolean()
    if column in _NUMBER_COLUMNS:
        return sa.BigInteger()
    return sa.String()


@dataclass(frozen=True)
class Schema:
    """Where runs live: for each of MLflow's tables (by MLflow's name), the name it has in the
    database and the names of its columns. ``Schema()`` is MLflow's own.

    A backend that keeps runs in tables of its own maps them::

        Schema(tables={"runs": "my_runs"}, columns={("runs", "run_uuid"): "id"})
    """

    tables: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def table_name(self, table: str) -> str:
        """The name in the database of MLflow's table ``table``."""
        return self.tables.get(table, table)

    def column_name(self, table: str, column: str) -> str:
        """The name in the database of the column MLflow names ``column`` in its table ``table``."""
        return self.columns.get((table, column), column)

    def build(self, metadata: sa.MetaData | None = None) -> Tables:
        """SQLAlchemy tables for this schema, addressed by MLflow's table and column names."""
        metadata = metadata or sa.MetaData()
        built = {}
        for table, columns in _MLFLOW_TABLES.items():
            built[table] = sa.Table(
                self.table_name(table),
                metadata,
                *(sa.Column(self.column_name(table, c), _column_type(table, c), key=c) for c in columns),
            )
        return Tables(self, built)


MLFLOW_SCHEMA = Schema()


@dataclass(frozen=True)
class Tables:
    """The SQLAlchemy tables of a :class:`Schema`; ``tables["runs"].c.run_uuid`` whatever its real name."""

    schema: Schema
    tables: dict[str, sa.Table]

    def __getitem__(self, table: str) -> sa.Table:
        return self.tables[table]


# -- the filter --------------------------------------------------------------------------------


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Give a SQLite connection ``runql_like(pattern, value, ignore_case)``, which LIKE compiles to, and
    ``runql_rlike(pattern, value)``, which RLIKE compiles to.

    SQLite's own LIKE ignores ASCII case and lets ``%`` cross newlines; this is MLflow's meaning.
    """
    dbapi_connection.create_function("runql_like", 3, _sqlite_like, deterministic=True)
    dbapi_connection.create_function("runql_rlike", 2, _sqlite_rlike, deterministic=True)


def _sqlite_like(pattern: str | None, value: str | None, ignore_case: int) -> int | None:
    if pattern is None or value is None:
        return None
    return int(pattern_matcher(Op.ILIKE if ignore_case else Op.LIKE, pattern)(value))


def _sqlite_rlike(pattern: str | bytes | None, value: str | None) -> int | None:
    if pattern is None or value is None:
        return None
    if isinstance(pattern, bytes):  # a pattern UTF-8 cannot encode comes as its bytes (_Compiler.rlike)
        pattern = pattern.decode("utf-8", "surrogatepass")
    return int(regex_search(pattern)(value))


DistinctValues = Callable[["sa.Select[Any]"], Sequence[str]]
"""Runs a SELECT of one string column and returns its values: how RLIKE reads a key's values."""

# What a statement of distinct values is compiled with, to know it again (_Compiler.matching).
_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped


# -- strings the database cannot hold

# A lone surrogate has no UTF-8 form, so no database stores one; PostgreSQL text cannot hold NUL either.
_UNSTORABLE = {
    "postgresql": re.compile("[\x00\ud800-\udfff]"),
    "sqlite": re.compile("[\ud800-\udfff]"),
}


def storable(text: str, dialect: str) -> bool:
    """Whether a database of ``dialect`` can hold ``text`` (no lone surrogate; on PostgreSQL no NUL)."""
    return _first_unstorable(text, dialect) < 0


def _first_unstorable(text: str, dialect: str) -> int:
    """Where the first character of ``text`` that no stored string holds is, -1 when there is none."""
    found = _UNSTORABLE.get(dialect, _UNSTORABLE["sqlite"]).search(text)
    return -1 if found is None else found.start()


def _bound_above(text: str, at: int) -> str:
    """The least string that every stored string below ``text`` is below too, ``text`` having a character
    no stored string holds at ``at``: its prefix and the next character a database stores (U+0001 after
    NUL, U+E000 after the surrogates). Against values without that character, ``v < text`` exactly when
    ``v < bound``, and ``v > text`` exactly when ``v >= bound``."""
    return text[:at] + ("\x01" if text[at] == "\x00" else "\ue000")


# -- LIKE on PostgreSQL

# Past these, PostgreSQL's LIKE would recurse too deep (once per `%`; it gives up near 30,000) or a value
# would be split too often (once per line of the pattern): the distinct values are matched here instead.
_POSTGRES_LIKE_MAX_PERCENTS = 1000
_POSTGRES_LIKE_MAX_LINES = 16
_WILDCARD_RUN = re.compile("[%_]{2,}")


def _collapsed(line: str) -> str:
    """A LIKE pattern with every run of wildcards written as its ``_``s then at most one ``%``, which the
    same strings match (``%_%%_`` is ``__%``: two characters or more). The text escaped for PostgreSQL,
    whose LIKE reads a backslash as its escape character."""
    line = _WILDCARD_RUN.sub(lambda run: "_" * run[0].count("_") + ("%" if "%" in run[0] else ""), line)
    return line.replace("\\", "\\\\")


def _postgres_like(column: Any, pattern: str, ignore_case: bool) -> Condition | None:
    """MLflow's LIKE as PostgreSQL's, which answers it in time linear in the value; None for a pattern
    beyond the bounds PostgreSQL's matcher takes.

    MLflow's ``%`` and ``_`` match no newline and its ``$`` also matches before a final newline, while
    PostgreSQL's wildcards match any character. So the pattern is cut at its own newlines, which must
    meet the value's one for one: line ``i`` of the value matches line ``i`` of the pattern, the value has
    as many newlines as the pattern (or one more, at its very end, unless the pattern ends with ``%`` and
    so needs no end).
    """
    lines = [_collapsed(line) for line in pattern.split("\n")]
    if len(lines) > _POSTGRES_LIKE_MAX_LINES or sum(line.count("%") for line in lines) > (
        _POSTGRES_LIKE_MAX_PERCENTS
    ):
        return None
    # A case-sensitive LIKE compares code points under "C"; ILIKE folds case as the database's locale does.
    value = column if ignore_case else column.collate("C")
    tests: list[Condition] = []
    for index, line in enumerate(lines):
        part = sa.func.split_part(value, "\n", index + 1)
        tests.append(part.ilike(line, escape="\\") if ignore_case else part.like(line, escape="\\"))
    newlines = sa.func.length(column) - sa.func.length(sa.func.replace(column, "\n", ""))
    extra = len(lines) - 1
    if pattern.endswith("%"):
        if extra:
            tests.insert(0, newlines >= extra)
    else:
        tests.insert(
            0, sa.or_(newlines == extra, sa.and_(newlines == extra + 1, sa.func.right(column, 1) == "\n"))
        )
    return sa.and_(*tests)


# -- LIKE as the database's own

# SQLite's LIKE with case_sensitive_like set, which MLflow's connections set, is GLOB with `%` and `_` as
# `*` and `?`, and GLOB's own wildcards written as one-character classes.
_GLOB_SPELLING = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}


# PostgreSQL's SQLSTATE for a LIKE pattern that ends with its escape character, raised only when matching
# a value reaches that end, as MLflow's SQL store meets it too.
_INVALID_ESCAPE_SEQUENCE = "22025"


def refused_pattern(error: BaseException) -> EvaluationError | None:
    """The error to raise for a database's refusal of a LIKE or ILIKE pattern handed to it
    (``Profile.database_patterns``), None when ``error`` is another failure."""
    found = getattr(error, "orig", None)
    state = getattr(found, "pgcode", None) or getattr(found, "sqlstate", None)
    if state != _INVALID_ESCAPE_SEQUENCE:
        return None
    return EvaluationError(
        "a LIKE or ILIKE pattern ends with a lone backslash, which PostgreSQL reads as an escape with "
        "nothing to escape (the mlflow profile hands patterns to the database, as MLflow does): double it "
        "to match a backslash",
        code="bad-pattern",
    )


# -- ordering

# Up to this many order_by keys, each is read by a join; past it, each by correlated scalar subqueries
# (a primary-key lookup per run) and nothing is joined: SQLite 3.40 crashes on a join whose ORDER BY has
# 64 terms or more, and every key gives two (its tier, its value).
_JOINED_SORT_KEYS = 8


def _sort_identity(key: Key) -> Hashable:
    """What a sort key orders by: two clauses on it order runs alike, whatever their direction.
    ``last(metrics.m)`` is ``metrics.m``."""
    aggregate = None if key.aggregate is Aggregate.LAST else key.aggregate
    return (key.entity, key.name, aggregate, key.step)


class TruthSets(ABC):
    """A filter as two sets of rows per node, those for which it is true and those for which it is false
    (as conditions on the current row): NOT swaps them, AND and OR combine them, so a row in neither is
    unknown, SQL's three-valued logic without relying on how a database treats NULL. A subclass gives the
    sets of one clause."""

    @abstractmethod
    def clause(self, node: Compare | In | IsNull) -> tuple[Condition, Condition]:
        """The rows for which ``node`` is true, and those for which it is false."""

    def true(self, expr: Expr) -> Condition:
        """The rows for which ``expr`` is true."""
        match expr:
            case And(terms):
                return sa.and_(*(self.true(t) for t in terms))
            case Or(terms):
                return sa.or_(*(self.true(t) for t in terms))
            case Not(term):
                return self.false(term)
            case Compare() | In() | IsNull():
                return self.clause(expr)[0]
            case _:
                assert_never(expr)

    def false(self, expr: Expr) -> Condition:
        """The rows for which ``expr`` is false."""
        match expr:
            case And(terms):
                return sa.or_(*(self.false(t) for t in terms))
            case Or(terms):
                return sa.and_(*(self.false(t) for t in terms))
            case Not(term):
                return self.true(term)
            case Compare() | In() | IsNull():
                return self.clause(expr)[1]
            case _:
                assert_never(expr)


@dataclass
class _Compiler(TruthSets):
    tables: Tables
    dialect: str
    distinct_values: DistinctValues | None = None
    # The runs searched, as a condition on ``runs``: the distinct values a clause reads are theirs.
    searched: Condition = field(default_factory=sa.true)
    sent: SentValues = field(default_factory=SentValues)
    joins: list[Any] = field(default_factory=list)
    # Once one clause drives the search (its runs looked up by primary key), the others are probed
    # run by run: a correlated EXISTS costs one index probe where IN would read its whole key.
    probe: bool = False
    # LIKE and ILIKE as the database's own (Profile.database_patterns), MLflow's SQL store's meaning.
    database_patterns: bool = False
    # The distinct values read for each statement of them, read once however many clauses match them.
    values_read: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @property
    def runs(self) -> sa.Table:
        return self.tables["runs"]

    def storable(self, text: str) -> bool:
        return storable(text, self.dialect)

    # Each node's (true set, false set) is a condition on the current row of ``runs``.

    def clause(self, node: Compare | In | IsNull) -> tuple[Condition, Condition]:
        key = node.key
        if key.entity is Entity.DATASET:
            holds = self.dataset(node)
            return holds, sa.not_(holds)  # a dataset clause is never unknown
        if key.entity is Entity.ATTRIBUTE:
            column = self.attribute(key)
            present: Condition = column.is_not(None)
            if isinstance(node, IsNull):
                return (present, ~present) if node.negated else (~present, present)
            holds = self.test(node, column, number=key.name in RUN_NUMERIC_ATTRIBUTES, scope=self.searched)
            return sa.and_(present, holds), sa.and_(present, sa.not_(holds))
        if not self.storable(key.name):  # no run has the key: every clause on it is unknown
            if isinstance(node, IsNull):
                return (sa.false(), sa.true()) if node.negated else (sa.true(), sa.false())
            return sa.false(), sa.false()
        table = self.key_table(key)
        has_key = sa.and_(table.c.key == key.name, table.c.value.is_not(None))
        if isinstance(node, IsNull):
            exists = self.having(table, has_key)
            return (exists, sa.not_(exists)) if node.negated else (sa.not_(exists), exists)
        if key.entity is Entity.METRIC:
            holds = self.metric_test(node, table)
        else:
            searched = table.c.run_uuid.in_(sa.select(self.runs.c.run_uuid).where(self.searched))
            holds = self.test(node, table.c.value, number=False, scope=sa.and_(has_key, searched))
        return self.having(table, sa.and_(has_key, holds)), self.having(
            table, sa.and_(has_key, sa.not_(holds))
        )

    def key_table(self, key: Key) -> Any:
        """The table holding ``key``'s value per run: ``params``, ``tags``, ``latest_metrics``, or for a
        function of a metric's history a subquery over ``metrics`` with the same columns."""
        if key.aggregate is None or key.aggregate is Aggregate.LAST:
            return self.tables[_KEY_TABLES[key.entity]]
        return history_subquery(self.tables["metrics"], key)

    def having(self, table: Any, condition: Condition) -> Condition:
        """The runs with a row of ``table`` meeting ``condition``: a semi-join on its primary key."""
        if self.probe and isinstance(table, sa.Table):  # a grouped subquery is read once, never probed
            return sa.exists().where(table.c.run_uuid == self.runs.c.run_uuid, condition)
        return self.runs.c.run_uuid.in_(sa.select(table.c.run_uuid).where(condition))

    def metric_test(self, node: Compare | In, table: Any) -> Condition:
        # NaN is stored as 0 with is_nan set; it is unequal to every number and in no list.
        is_nan = table.c.is_nan == sa.true()
        holds = self.test(node, table.c.value, number=True)
        if (isinstance(node, Compare) and node.op is Op.NE) or (isinstance(node, In) and node.negated):
            return sa.or_(is_nan, holds)
        return sa.and_(sa.not_(is_nan), holds)

    def test(
        self, node: Compare | In, column: Any, number: bool, scope: Condition | None = None
    ) -> Condition:
        """Whether a present value of ``column`` satisfies the comparison of ``node``. ``scope`` is the
        condition that picks the searched runs' rows of the key from the column's table (for the distinct
        values a pattern is matched against)."""
        if isinstance(node, Compare) and node.op in (Op.RLIKE, Op.NOT_RLIKE):
            matched = self.rlike(node, column, str(node.value.value), scope)
            return sa.not_(matched) if node.op.is_negated else matched
        if not number and _holds_unstorable(node, self.dialect):
            return self.unstorable_test(node, column)
        # Equality needs no collation (PostgreSQL's are deterministic: equal means the same bytes), and
        # without one a primary key serves `run_id IN (...)`; only an ordering compares by code point.
        if isinstance(node, In):
            values = [self.value(v, number) for v in node.values]
            found: Condition = column.in_(values)
            return sa.not_(found) if node.negated else found
        op, value = node.op, self.value(node.value, number)
        if op.is_pattern:
            matched = self.like(node, column, str(value), scope)
            return sa.not_(matched) if op.is_negated else matched
        compared: Condition = _COMPARE[op](
            column if op in (Op.EQ, Op.NE) else self.ordered(column, number), value
        )
        return compared

    def unstorable_test(self, node: Compare | In, column: Any) -> Condition:
        """The comparison with a string holding a character no stored string holds (NUL on PostgreSQL,
        a lone surrogate anywhere): no stored value equals it or matches it as a pattern, and against
        it a stored value orders as against :func:`_bound_above`'s bound."""
        if isinstance(node, In):
            kept = [v.value for v in node.values if self.storable(str(v.value))]
            found = column.in_(kept) if kept else sa.false()
            return sa.not_(found) if node.negated else found
        op, text = node.op, str(node.value.value)
        bound = _bound_above(text, _first_unstorable(text, self.dialect))
        column = self.ordered(column, False)
        if op in (Op.EQ, Op.LIKE, Op.ILIKE):
            return sa.false()
        if op is Op.NE or op.is_negated:
            return sa.true()
        compared: Condition = column < bound if op in (Op.LT, Op.LE) else column >= bound
        return compared

    def ordered(self, column: Any, number: bool) -> Any:
        """``column`` compared and sorted by code point when it holds strings."""
        if number or self.dialect != "postgresql":
            return column
        return column.collate("C")

    def like(self, node: Compare, column: Any, pattern: str, scope: Condition | None) -> Condition:
        ignore_case = node.op in (Op.ILIKE, Op.NOT_ILIKE)
        if self.database_patterns:
            return self.database_like(column, pattern, ignore_case)
        matched: Condition | None
        if self.dialect == "sqlite":
            matched = sa.func.runql_like(pattern, column, int(ignore_case)) == 1
            return matched
        if self.dialect == "postgresql":
            matched = _postgres_like(column, pattern, ignore_case)
            if matched is None:
                matcher = pattern_matcher(Op.ILIKE if ignore_case else Op.LIKE, pattern)
                matched = self.matching(node, column, matcher, scope)
            return matched
        raise EvaluationError(
            f"LIKE is not compiled for {self.dialect}: runql answers it on SQLite and PostgreSQL",
            code="unsupported-database",
        )

    def database_like(self, column: Any, pattern: str, ignore_case: bool) -> Condition:
        """The pattern as MLflow's SQL store sends it: ``value LIKE pattern``, and for ILIKE SQLAlchemy's
        ``lower(value) LIKE lower(pattern)`` on SQLite and PostgreSQL's own ILIKE. MLflow makes SQLite's
        LIKE case-sensitive on its connections; the same match, without depending on how a connection
        was set up, is GLOB with the wildcards renamed."""
        matched: Condition
        if self.dialect == "sqlite":
            glob = "".join(_GLOB_SPELLING.get(c, c) for c in pattern)
            if ignore_case:
                matched = sa.func.lower(column).op("GLOB", is_comparison=True)(sa.func.lower(glob))
            else:
                matched = column.op("GLOB", is_comparison=True)(glob)
            return matched
        if self.dialect == "postgresql":  # a lone backslash at the end: refused_pattern
            matched = column.ilike(pattern) if ignore_case else column.like(pattern)
            return matched
        raise EvaluationError(
            f"LIKE is not compiled for {self.dialect}: runql answers it on SQLite and PostgreSQL",
            code="unsupported-database",
        )

    def rlike(self, node: Compare, column: Any, pattern: str, scope: Condition | None) -> Condition:
        matched: Condition
        if self.dialect == "sqlite":
            # Bound as text, or as its bytes when UTF-8 cannot encode it (runql_rlike decodes them).
            given: Any = pattern if self.storable(pattern) else pattern.encode("utf-8", "surrogatepass")
            matched = sa.func.runql_rlike(given, column) == 1
            return matched
        if self.dialect == "postgresql" and self.distinct_values is not None:
            return self.matching(node, column, regex_search(pattern), scope)
        raise EvaluationError(
            f"RLIKE is not compiled for {self.dialect} without a connection to read values from: runql "
            "answers it on SQLite and PostgreSQL",
            code="unsupported-database",
        )

    def matching(
        self, node: Compare, column: Any, matches: Callable[[str], bool], scope: Condition | None
    ) -> Condition:
        """Whether a value of ``column`` is one ``matches`` accepts, decided here on the distinct values
        of the key (the rows ``scope`` picks) and sent as one array: the values that match, or those that
        do not when they are fewer."""
        if self.distinct_values is None:
            raise EvaluationError(
                f"{node.op.value} with this pattern reads the key's values, and no connection was given "
                "to read them from",
                code="unsupported-database",
            )
        candidates = sa.select(column).distinct().where(column.is_not(None))
        if scope is not None:
            candidates = candidates.where(scope)
        statement = candidates.compile(dialect=_POSTGRESQL)
        read = (str(statement), repr(sorted(statement.params.items())))
        if read not in self.values_read:
            self.values_read[read] = list(self.distinct_values(candidates))
        sent, matching = self.sent.split(self.values_read[read], matches, node.span)
        found: Condition = column == sa.any_(sa.bindparam(None, sent, type_=postgresql.ARRAY(sa.String())))
        return found if matching else sa.not_(found)

    def value(self, literal: Literal, number: bool) -> Any:
        value = literal.value
        if number and isinstance(value, int) and not -(2**63) <= value < 2**63:
            # Beyond the databases' integers: a float as MLflow reads it (infinity past a float's range),
            # which orders every stored time and value as the exact integer would.
            return as_float(value)
        return value

    def attribute(self, key: Key) -> Any:
        runs = self.runs
        name = key.name
        if name == "duration":
            return runs.c.end_time - runs.c.start_time
        if name == "run_id":
            return runs.c.run_uuid
        if name == "run_name":
            return runs.c.name
        if name == "experiment_id":
            return sa.cast(runs.c.experiment_id, sa.String)
        if name in runs.c:
            return runs.c[name]
        raise EvaluationError(f"runs have no attribute {name!r}", code="unknown-attribute", span=key.span)

    def dataset(self, node: Compare | In | IsNull) -> Condition:
        """The runs having a dataset input that satisfies ``node`` (for IS NULL: having none)."""
        inputs, datasets = self.tables["inputs"], self.tables["datasets"]
        rows = sa.select(inputs.c.destination_id).where(
            inputs.c.source_type == "DATASET", inputs.c.destination_type == "RUN"
        )
        # The inputs of the searched runs: a pattern is matched against their values only.
        searched = inputs.c.destination_id.in_(sa.select(self.runs.c.run_uuid).where(self.searched))
        of_searched = sa.select(inputs.c.input_uuid, inputs.c.source_id).where(searched).subquery()
        scope: Condition
        if node.key.name == "context":
            tags = self.tables["input_tags"]
            rows = rows.join(tags, tags.c.input_uuid == inputs.c.input_uuid).where(
                tags.c.name == DATASET_CONTEXT_TAG
            )
            column = tags.c.value
            scope = sa.and_(
                tags.c.name == DATASET_CONTEXT_TAG, tags.c.input_uuid.in_(sa.select(of_searched.c.input_uuid))
            )
        else:
            rows = rows.join(datasets, datasets.c.dataset_uuid == inputs.c.source_id)
            column = datasets.c[node.key.name]
            scope = datasets.c.dataset_uuid.in_(sa.select(of_searched.c.source_id))
        if isinstance(node, IsNull):
            having_any = self.runs.c.run_uuid.in_(rows)
            return having_any if node.negated else sa.not_(having_any)
        # NOT IN on a dataset means "some input is outside the list", as the reference evaluator reads it.
        return self.runs.c.run_uuid.in_(rows.where(self.test(node, column, number=False, scope=scope)))

    # -- ordering

    def order(self, sort_keys: Sequence[SortKey]) -> list[Any]:
        clauses: list[Any] = []
        kept: dict[Hashable, SortKey] = {}
        for sort_key in sort_keys:
            # The first clause on a key leaves no ties a later one could break; and no run has a key a
            # database cannot store, so every run ties on it.
            if sort_key.key.entity not in _KEY_TABLES or self.storable(sort_key.key.name):
                kept.setdefault(_sort_identity(sort_key.key), sort_key)
        join = len(kept) <= _JOINED_SORT_KEYS
        for sort_key in kept.values():
            key = sort_key.key
            if key.entity is Entity.ATTRIBUTE:
                value = self.attribute(key)
                tier = sa.case((value.is_(None), TIER_MISSING), else_=TIER_VALUE)
                number = key.name in RUN_NUMERIC_ATTRIBUTES
            elif key.entity in _KEY_TABLES:
                number = key.entity is Entity.METRIC
                tier, value = self.joined(key) if join else self.looked_up(key)
            else:
                raise EvaluationError(
                    "runs cannot be ordered by datasets", code="unsupported-order-by", span=sort_key.span
                )
            value = self.ordered(value, number)
            clauses += [tier, value.desc() if sort_key.descending else value.asc()]
        start = self.runs.c.start_time
        # Rows the order_by leaves tied share their start_time when it sorts by start_time already.
        if not any(s.key.entity is Entity.ATTRIBUTE and s.key.name == "start_time" for s in sort_keys):
            clauses += [sa.case((start.is_(None), 1), else_=0), start.desc()]
        clauses.append(self.ordered(self.runs.c.run_uuid, number=False).asc())
        return clauses

    def joined(self, key: Key) -> tuple[Any, Any]:
        """The tier and the value of ``key`` for each run, from its table joined to ``runs``."""
        table = self.key_table(key).alias(f"order_{len(self.joins)}")
        self.joins.append((table, sa.and_(table.c.run_uuid == self.runs.c.run_uuid, table.c.key == key.name)))
        if key.entity is not Entity.METRIC:
            return sa.case((table.c.value.is_(None), TIER_MISSING), else_=TIER_VALUE), table.c.value
        tier = sa.case(
            (table.c.run_uuid.is_(None), TIER_MISSING),
            (table.c.is_nan == sa.true(), TIER_NAN),
            else_=TIER_VALUE,
        )
        return tier, table.c.value

    def looked_up(self, key: Key) -> tuple[Any, Any]:
        """The tier and the value of ``key`` for the current run, each a correlated scalar subquery."""
        metric = key.entity is Entity.METRIC

        def tier_of(_: Any, is_nan: Condition) -> Any:
            return sa.case((is_nan, TIER_NAN), else_=TIER_VALUE) if metric else sa.literal(TIER_VALUE)

        tier = sa.func.coalesce(self.run_value(key, tier_of), TIER_MISSING)
        return tier, self.run_value(key, lambda value, _: value)

    def run_value(self, key: Key, pick: Callable[[Any, Condition], Any]) -> Any:
        """``pick(value, is_nan)`` of ``key`` for the current run as a scalar subquery, null without one."""
        run = self.runs.c.run_uuid
        if key.aggregate is None or key.aggregate is Aggregate.LAST:
            table = self.tables[_KEY_TABLES[key.entity]].alias()
            is_nan = table.c.is_nan == sa.true() if key.entity is Entity.METRIC else sa.false()
            row = sa.select(pick(table.c.value, is_nan)).where(
                table.c.run_uuid == run, table.c.key == key.name
            )
            return row.scalar_subquery()
        metrics = self.tables["metrics"].alias()
        points, order, value, is_nan = _history(metrics, key)
        row = sa.select(pick(value, is_nan)).where(points, metrics.c.run_uuid == run)
        # One run's points: its chosen point, or the function over all of them.
        chosen = row.order_by(*order).limit(1) if order else row.group_by(metrics.c.run_uuid)
        return chosen.scalar_subquery()


@dataclass
class ColumnTruthSets(TruthSets):
    """:class:`TruthSets` whose clauses compare columns as a run search compares values: strings by code
    point, LIKE, ILIKE and RLIKE with runql's meaning (or the database's, ``database_patterns``)."""

    dialect: str
    database_patterns: bool
    distinct_values: DistinctValues | None

    def compare(
        self, node: Compare | In, column: Any, number: bool, scope: Condition | None = None
    ) -> Condition:
        """Whether a present value of ``column`` satisfies ``node``; ``scope`` picks the column's rows whose
        distinct values PostgreSQL's RLIKE reads."""
        tests = _Compiler(
            Tables(MLFLOW_SCHEMA, {}),
            self.dialect,
            self.distinct_values,
            database_patterns=self.database_patterns,
        )
        return tests.test(node, column, number, scope)


def _holds_unstorable(node: Compare | In, dialect: str) -> bool:
    literals = node.values if isinstance(node, In) else (node.value,)
    return any(isinstance(v.value, str) and _first_unstorable(v.value, dialect) >= 0 for v in literals)


# -- functions of a metric's history

# avg() sums its values scaled by 2**-64, so that no sum overflows (a history has fewer than 2**64
# points): MLflow stores an infinite metric as the largest float, and two of them would. Scaling by a power
# of two is exact down to _TINY; smaller values are summed unscaled, where they cannot overflow either.
_SCALE = 2.0**-64
_TINY = 2.0**-900
_LARGEST_SCALED = sys.float_info.max * _SCALE


def _mean(number: Any) -> Any:
    """The mean of the column ``number`` (NULL for NaN points), null when it has no value, as
    :func:`runql.engines.aggregates.mean` gives it up to the rounding of the sum."""
    count = sa.func.nullif(sa.func.count(number), 0)
    large = sa.func.sum(sa.case((sa.func.abs(number) >= _TINY, number * _SCALE), else_=0.0)) / count
    small = sa.func.sum(sa.case((sa.func.abs(number) < _TINY, number), else_=0.0)) / count
    # A mean lies within its values; the sum's rounding must not push it past the largest float.
    large = sa.case(
        (large > _LARGEST_SCALED, _LARGEST_SCALED), (large < -_LARGEST_SCALED, -_LARGEST_SCALED), else_=large
    )
    return large / _SCALE + small


def _history(metrics: Any, key: Key) -> tuple[Condition, list[Any], Any, Condition]:
    """How the function ``key`` reads a metric's points: the condition picking them, and either the order
    whose first point is the value (``first``, ``at_step``) or the value and its NaN-ness computed over
    all of them (an empty order). The rules are :mod:`runql.engines.aggregates`'s; a NaN point is stored as
    0 with ``is_nan`` set."""
    aggregate = key.aggregate
    assert aggregate is not None and aggregate is not Aggregate.LAST
    is_nan = metrics.c.is_nan == sa.true()
    points = metrics.c.key == key.name
    if aggregate is Aggregate.FIRST:  # smallest step, timestamp; a number before NaN; smallest value
        order = [metrics.c.step, metrics.c.timestamp, metrics.c.is_nan, metrics.c.value]
        return points, order, metrics.c.value, is_nan
    if aggregate is Aggregate.AT_STEP:  # greatest timestamp; a number before NaN; greatest value
        order = [metrics.c.timestamp.desc(), metrics.c.is_nan, metrics.c.value.desc()]
        return sa.and_(points, metrics.c.step == key.step), order, metrics.c.value, is_nan
    if aggregate is Aggregate.COUNT:  # every point, NaN ones included
        return points, [], sa.cast(sa.func.count(), sa.Float(precision=53)), sa.false()
    # NaN points are skipped; a history of NaN only is NaN
    number = sa.case((is_nan, None), else_=metrics.c.value)
    functions: dict[Aggregate, Callable[[Any], Any]] = {
        Aggregate.MIN: sa.func.min,
        Aggregate.MAX: sa.func.max,
        Aggregate.AVG: _mean,
    }
    value = sa.func.coalesce(functions[aggregate](number), 0.0)
    return points, [], value, sa.func.count(number) == 0


def history_subquery(metrics: sa.Table, key: Key) -> sa.Subquery:
    """One row per run that logged metric ``key.name``, with the value of the function ``key`` of its
    history, in the columns of ``latest_metrics``: (key, value, is_nan, run_uuid). The rules are
    :mod:`runql.engines.aggregates`'s; a NaN point is stored as 0 with ``is_nan`` set."""
    aggregate = key.aggregate
    assert aggregate is not None and aggregate is not Aggregate.LAST
    name = sa.literal(key.name, sa.String()).label("key")
    points, order, value, nan = _history(metrics, key)
    if order:
        ranked = (
            sa.select(
                metrics.c.run_uuid,
                metrics.c.value,
                metrics.c.is_nan,
                sa.func.row_number().over(partition_by=metrics.c.run_uuid, order_by=order).label("rank"),
            )
            .where(points)
            .subquery(f"ranked_{aggregate.value}")
        )
        chosen = sa.select(name, ranked.c.value, ranked.c.is_nan, ranked.c.run_uuid).where(ranked.c.rank == 1)
        return chosen.subquery(f"history_{aggregate.value}")
    grouped = sa.select(
        name,
        sa.type_coerce(value, sa.Float(precision=53)).label("value"),
        sa.type_coerce(nan, sa.Boolean()).label("is_nan"),
        metrics.c.run_uuid,
    ).where(points)
    return grouped.group_by(metrics.c.run_uuid).subquery(f"history_{aggregate.value}")


def _filter_conditions(compiler: _Compiler, expr: Expr) -> list[Condition]:
    """The filter as conditions on ``runs``: the most selective-looking clause of a top-level AND
    drives (its runs are read by key), the others are probed for each of those runs."""
    conjuncts = list(expr.terms) if isinstance(expr, And) else [expr]
    ranked = [(rank, i) for i, term in enumerate(conjuncts) if (rank := _driving_rank(term)) is not None]
    if not ranked:
        return [compiler.true(expr)]
    driver = conjuncts[min(ranked)[1]]
    conditions = [compiler.true(driver)]
    compiler.probe = True
    return conditions + [compiler.true(term) for term in conjuncts if term is not driver]


def _driving_rank(term: Expr) -> int | None:
    """How few runs a clause is likely to select, without statistics (lower: fewer); None for a clause
    that cannot drive: on an attribute or a dataset, negated, or IS NULL."""
    if not isinstance(term, (Compare, In)) or term.key.entity not in _KEY_TABLES:
        return None
    if term.key.aggregate not in (None, Aggregate.LAST):
        return None  # its subquery is read whole, once: it selects, it does not drive
    if isinstance(term, In):
        return None if term.negated else (0 if term.key.entity is not Entity.METRIC else 1)
    if term.op is Op.EQ:
        return 0 if term.key.entity is not Entity.METRIC else 1
    if term.op in (Op.LIKE, Op.ILIKE, Op.RLIKE):
        return 2
    if term.op.is_ordering:
        return 3
    return None  # != and the NOT patterns select nearly every run that has the key


_KEY_TABLES = {Entity.METRIC: "latest_metrics", Entity.PARAM: "params", Entity.TAG: "tags"}
_COMPARE: dict[Op, Callable[[Any, Any], Condition]] = {
    Op.EQ: lambda c, v: c == v,
    Op.NE: lambda c, v: c != v,
    Op.LT: lambda c, v: c < v,
    Op.LE: lambda c, v: c <= v,
    Op.GT: lambda c, v: c > v,
    Op.GE: lambda c, v: c >= v,
}


def runs_select(
    compiled: CompiledQuery,
    tables: Tables,
    dialect: str,
    *,
    experiment_ids: Sequence[int],
    lifecycle_stages: Sequence[str],
    limit: int | None = None,
    offset: int = 0,
    distinct_values: DistinctValues | None = None,
) -> sa.Select[Any]:
    """The ``run_uuid`` of every run ``compiled`` selects in ``experiment_ids`` and ``lifecycle_stages``,
    in MLflow's order, from ``offset`` on, at most ``limit`` of them.

    ``dialect`` is the SQLAlchemy dialect name (``sqlite``, ``postgresql``); on SQLite the connection
    needs :func:`register_sqlite_functions` when the query has LIKE or RLIKE. On PostgreSQL an RLIKE
    reads the key's distinct values through ``distinct_values`` while the statement is built; past
    :data:`~runql.engines.semantics.MAX_SENT_VALUES` sent values it raises ``EvaluationError``
    (``too-many-values``).
    """
    if compiled.entity != "runs":
        raise ValueError("runs_select compiles run queries; experiments are few and searched in memory")
    runs = tables["runs"]
    searched = sa.and_(
        runs.c.experiment_id.in_(list(experiment_ids)), runs.c.lifecycle_stage.in_(lifecycle_stages)
    )
    source_text = compiled.query.filter_string
    compiler = _Compiler(
        tables,
        dialect,
        distinct_values,
        searched,
        SentValues(source_text),
        database_patterns=compiled.profile.database_patterns,
    )
    conditions: list[Condition] = [searched]
    if compiled.query.filter is not None:
        conditions += _filter_conditions(compiler, compiled.query.filter)
    order = compiler.order(compiled.query.order_by)
    source: Any = runs
    for table, on in compiler.joins:
        source = source.outerjoin(table, on)
    statement = sa.select(runs.c.run_uuid).select_from(source).where(*conditions).order_by(*order)
    if limit is not None:
        statement = statement.limit(limit)
    if offset:
        statement = statement.offset(offset)
    return statement
