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
  ``runql_like`` function a store registers on each connection (:func:`register_sqlite_functions`),
  on PostgreSQL as an anchored regular expression in which ``%`` and ``_`` do not cross a newline.
  RLIKE is RE2's (:mod:`runql.common.regex`), never the database's own regular expressions: on SQLite through
  ``runql_rlike``; on PostgreSQL the key's distinct values are read first (``distinct_values``), matched
  here, and the matching ones sent as one array parameter (``value = ANY(:values)``).
* Ordering is explicit: each order_by key sorts by its tier (value, NaN, missing) and then by its value,
  and the natural order follows (start_time DESC with missing times last, run_id ASC), so no
  database's NULL placement leaks into the answer.

Every value reaches the database as a bound parameter. Table and column names come from a
:class:`Schema`, MLflow's by default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runql.common.optional import require
from runql.common.regex import escape, regex_search
from runql.engines.semantics import TIER_MISSING, TIER_NAN, TIER_VALUE, as_float, pattern_matcher
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
from runql.model.records import DATASET_CONTEXT_TAG
from runql.profiles.compiled import CompiledQuery

# SQLAlchemy comes with an extra: without it, importing this module names the extra to install.
require("sqlalchemy", "mlflow-db", "runql.engines.sql")

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.dialects import postgresql  # noqa: E402
from sqlalchemy.sql.elements import ColumnElement  # noqa: E402

__all__ = ["MLFLOW_SCHEMA", "DistinctValues", "Schema", "Tables", "register_sqlite_functions", "runs_select"]

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


def _sqlite_rlike(pattern: str | None, value: str | None) -> int | None:
    if pattern is None or value is None:
        return None
    return int(regex_search(pattern)(value))


DistinctValues = Callable[["sa.Select[Any]"], Sequence[str]]
"""Runs a SELECT of one string column and returns its values: how RLIKE reads a key's values."""


def _postgres_regex(pattern: str) -> str:
    """MLflow's LIKE ``pattern`` as a PostgreSQL regular expression. ``(?p)`` keeps ``.`` from
    matching a newline, as in Python; Python's ``$`` also matches before a final newline."""
    body = "".join(".*" if c == "%" else "." if c == "_" else escape(c) for c in pattern)
    return f"(?p)^{body}" + ("" if pattern.endswith("%") else "\\n?$")


@dataclass
class _Compiler:
    tables: Tables
    dialect: str
    distinct_values: DistinctValues | None = None
    joins: list[Any] = field(default_factory=list)
    # Once one clause drives the search (its runs looked up by primary key), the others are probed
    # run by run: a correlated EXISTS costs one index probe where IN would read its whole key.
    probe: bool = False

    @property
    def runs(self) -> sa.Table:
        return self.tables["runs"]

    # Each node's (true set, false set), as conditions on the current row of ``runs``.

    def true(self, expr: Expr) -> Condition:
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
            holds = self.test(node, column, number=key.name in RUN_NUMERIC_ATTRIBUTES)
            return sa.and_(present, holds), sa.and_(present, sa.not_(holds))
        table = self.key_table(key)
        has_key = sa.and_(table.c.key == key.name, table.c.value.is_not(None))
        if isinstance(node, IsNull):
            exists = self.having(table, has_key)
            return (exists, sa.not_(exists)) if node.negated else (sa.not_(exists), exists)
        if key.entity is Entity.METRIC:
            holds = self.metric_test(node, table)
        else:
            holds = self.test(node, table.c.value, number=False, scope=has_key)
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
        condition that picks the key's rows from the column's table (for RLIKE's distinct values)."""
        if isinstance(node, Compare) and node.op in (Op.RLIKE, Op.NOT_RLIKE):
            matched = self.rlike(column, str(node.value.value), scope)
            return sa.not_(matched) if node.op.is_negated else matched
        if not number and self.dialect == "postgresql" and _has_nul(node):
            return self.nul_test(node, column)
        # Equality needs no collation (PostgreSQL's are deterministic: equal means the same bytes), and
        # without one a primary key serves `run_id IN (...)`; only an ordering compares by code point.
        if isinstance(node, In):
            values = [self.value(v, number) for v in node.values]
            found: Condition = column.in_(values)
            return sa.not_(found) if node.negated else found
        op, value = node.op, self.value(node.value, number)
        if op.is_pattern:
            matched = self.like(column, str(value), op is Op.ILIKE or op is Op.NOT_ILIKE)
            return sa.not_(matched) if op.is_negated else matched
        compared: Condition = _COMPARE[op](
            column if op in (Op.EQ, Op.NE) else self.ordered(column, number), value
        )
        return compared

    def nul_test(self, node: Compare | In, column: Any) -> Condition:
        """The comparison with a string holding NUL, which PostgreSQL text cannot hold: no stored value
        equals it or matches it as a pattern, and against ``A + NUL + B`` a value without NUL orders
        exactly as against ``A`` (``v < A + NUL + B`` exactly when ``v <= A``)."""
        if isinstance(node, In):
            kept = [v for v in node.values if "\x00" not in str(v.value)]
            found = column.in_([v.value for v in kept]) if kept else sa.false()
            return sa.not_(found) if node.negated else found
        op, prefix = node.op, str(node.value.value).split("\x00", 1)[0]
        column = self.ordered(column, False)
        if op in (Op.EQ, Op.LIKE, Op.ILIKE):
            return sa.false()
        if op is Op.NE or op.is_negated:
            return sa.true()
        compared: Condition = column <= prefix if op in (Op.LT, Op.LE) else column > prefix
        return compared

    def ordered(self, column: Any, number: bool) -> Any:
        """``column`` compared and sorted by code point when it holds strings."""
        if number or self.dialect != "postgresql":
            return column
        return column.collate("C")

    def like(self, column: Any, pattern: str, ignore_case: bool) -> Condition:
        matched: Condition
        if self.dialect == "sqlite":
            matched = sa.func.runql_like(pattern, column, int(ignore_case)) == 1
            return matched
        if self.dialect == "postgresql":
            regex = _postgres_regex(pattern)
            matched = column.regexp_match(regex, flags="i") if ignore_case else column.regexp_match(regex)
            return matched
        raise EvaluationError(
            f"LIKE is not compiled for {self.dialect}: runql answers it on SQLite and PostgreSQL",
            code="unsupported-database",
        )

    def rlike(self, column: Any, pattern: str, scope: Condition | None) -> Condition:
        matched: Condition
        if self.dialect == "sqlite":
            matched = sa.func.runql_rlike(pattern, column) == 1
            return matched
        if self.dialect == "postgresql" and self.distinct_values is not None:
            candidates = sa.select(column).distinct()
            if scope is not None:
                candidates = candidates.where(scope)
            search = regex_search(pattern)
            values = [v for v in self.distinct_values(candidates) if search(v)]
            matched = column == sa.any_(sa.bindparam(None, values, type_=postgresql.ARRAY(sa.String())))
            return matched
        raise EvaluationError(
            f"RLIKE is not compiled for {self.dialect} without a connection to read values from: runql "
            "answers it on SQLite and PostgreSQL",
            code="unsupported-database",
        )

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
        scope: Condition | None = None
        if node.key.name == "context":
            tags = self.tables["input_tags"]
            scope = tags.c.name == DATASET_CONTEXT_TAG
            rows = rows.join(tags, tags.c.input_uuid == inputs.c.input_uuid).where(scope)
            column = tags.c.value
        else:
            rows = rows.join(datasets, datasets.c.dataset_uuid == inputs.c.source_id)
            column = datasets.c[node.key.name]
        if isinstance(node, IsNull):
            having_any = self.runs.c.run_uuid.in_(rows)
            return having_any if node.negated else sa.not_(having_any)
        # NOT IN on a dataset means "some input is outside the list", as the reference evaluator reads it.
        return self.runs.c.run_uuid.in_(rows.where(self.test(node, column, number=False, scope=scope)))

    # -- ordering

    def order(self, sort_keys: Sequence[SortKey]) -> list[Any]:
        clauses: list[Any] = []
        for index, sort_key in enumerate(sort_keys):
            key = sort_key.key
            if key.entity is Entity.ATTRIBUTE:
                value = self.attribute(key)
                tier = sa.case((value.is_(None), TIER_MISSING), else_=TIER_VALUE)
                number = key.name in RUN_NUMERIC_ATTRIBUTES
            elif key.entity in _KEY_TABLES:
                table = self.key_table(key).alias(f"order_{index}")
                self.joins.append(
                    (table, sa.and_(table.c.run_uuid == self.runs.c.run_uuid, table.c.key == key.name))
                )
                value = table.c.value
                number = key.entity is Entity.METRIC
                if number:
                    tier = sa.case(
                        (table.c.run_uuid.is_(None), TIER_MISSING),
                        (table.c.is_nan == sa.true(), TIER_NAN),
                        else_=TIER_VALUE,
                    )
                else:
                    tier = sa.case((value.is_(None), TIER_MISSING), else_=TIER_VALUE)
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


def history_subquery(metrics: sa.Table, key: Key) -> sa.Subquery:
    """One row per run that logged metric ``key.name``, with the value of the function ``key`` of its
    history, in the columns of ``latest_metrics``: (key, value, is_nan, run_uuid). The rules are
    :mod:`runql.engines.aggregates`'s; a NaN point is stored as 0 with ``is_nan`` set."""
    aggregate = key.aggregate
    assert aggregate is not None and aggregate is not Aggregate.LAST
    name = sa.literal(key.name, sa.String()).label("key")
    is_nan = metrics.c.is_nan == sa.true()
    points = metrics.c.key == key.name
    if aggregate in (Aggregate.FIRST, Aggregate.AT_STEP):
        order: list[Any]
        if aggregate is Aggregate.FIRST:  # smallest step, timestamp; a number before NaN; smallest value
            order = [metrics.c.step, metrics.c.timestamp, metrics.c.is_nan, metrics.c.value]
        else:  # greatest timestamp; a number before NaN; greatest value
            points = sa.and_(points, metrics.c.step == key.step)
            order = [metrics.c.timestamp.desc(), metrics.c.is_nan, metrics.c.value.desc()]
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
    if aggregate is Aggregate.COUNT:  # every point, NaN ones included
        value: Any = sa.cast(sa.func.count(), sa.Float(precision=53))
        nan: Any = sa.false()
    else:  # NaN points are skipped; a history of NaN only is NaN
        number = sa.case((is_nan, None), else_=metrics.c.value)
        functions: dict[Aggregate, Callable[[Any], Any]] = {
            Aggregate.MIN: sa.func.min,
            Aggregate.MAX: sa.func.max,
            Aggregate.AVG: sa.func.avg,
        }
        value = sa.func.coalesce(functions[aggregate](number), 0.0)
        nan = sa.func.count(number) == 0
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


def _has_nul(node: Compare | In) -> bool:
    literals = node.values if isinstance(node, In) else (node.value,)
    return any(isinstance(v.value, str) and "\x00" in v.value for v in literals)


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
    reads the key's distinct values through ``distinct_values`` while the statement is built.
    """
    if compiled.entity != "runs":
        raise ValueError("runs_select compiles run queries; experiments are few and searched in memory")
    compiler = _Compiler(tables, dialect, distinct_values)
    runs = tables["runs"]
    conditions: list[Condition] = [
        runs.c.experiment_id.in_(list(experiment_ids)),
        runs.c.lifecycle_stage.in_(lifecycle_stages),
    ]
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
